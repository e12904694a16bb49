//! The data overview: which channels carry each class's attribution. Computed on the loaded data
//! (every class, before any selection), in sample order, so the numbers are reproducible.

use std::collections::BTreeMap;

use attrclust_core::Dataset;

/// Channels listed per class and per group.
pub const TOP_CHANNELS: usize = 5;

/// Mean attribution per channel of each class present in `data`, in class-id order.
pub fn class_means(data: &Dataset) -> Vec<(i64, Vec<f64>)> {
    let mut sums: BTreeMap<i64, (Vec<f64>, usize)> = BTreeMap::new();
    for (row, &label) in data.x.rows().into_iter().zip(&data.labels) {
        let entry = sums
            .entry(label)
            .or_insert_with(|| (vec![0.0; data.n_features()], 0));
        for (s, v) in entry.0.iter_mut().zip(row) {
            *s += v;
        }
        entry.1 += 1;
    }
    sums.into_iter()
        .map(|(label, (s, n))| (label, s.into_iter().map(|v| v / n as f64).collect()))
        .collect()
}

/// The ids of the classes named in `members` (a group of the manifest).
fn class_ids(data: &Dataset, members: &[String]) -> Vec<i64> {
    data.classes
        .iter()
        .filter(|(_, n)| members.contains(n))
        .map(|(id, _)| *id)
        .collect()
}

/// Mean attribution per channel over the samples whose class is in `members`, or `None` when
/// the data has none of them.
pub fn group_mean(data: &Dataset, members: &[i64]) -> Option<Vec<f64>> {
    let mut sum = vec![0.0; data.n_features()];
    let mut n = 0usize;
    for (row, label) in data.x.rows().into_iter().zip(&data.labels) {
        if members.contains(label) {
            for (s, v) in sum.iter_mut().zip(row) {
                *s += v;
            }
            n += 1;
        }
    }
    (n > 0).then(|| sum.into_iter().map(|v| v / n as f64).collect())
}

/// The `k` channels with the largest mean attribution, largest first (ties: lower index first).
pub fn top_channels(mean: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..mean.len()).collect();
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Cosine similarity of two mean-attribution vectors (0 when either is all zeros).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na > 0.0 && nb > 0.0 {
        dot / (na * nb)
    } else {
        0.0
    }
}

/// One class's or group's row of the overview.
pub struct Profile {
    pub name: String,
    /// The class id (for its colour); `None` for a group.
    pub class: Option<i64>,
    pub mean: Vec<f64>,
    /// Channel indices, largest mean first.
    pub top: Vec<usize>,
}

/// Per class and per group of the manifest's `[groups]`: mean attribution and top channels.
pub fn profiles(
    data: &Dataset,
    groups: &BTreeMap<String, Vec<String>>,
) -> (Vec<Profile>, Vec<Profile>) {
    let classes = class_means(data)
        .into_iter()
        .map(|(label, mean)| Profile {
            name: data.class_name(label),
            class: Some(label),
            top: top_channels(&mean, TOP_CHANNELS),
            mean,
        })
        .collect();
    let groups = groups
        .iter()
        .filter_map(|(name, members)| {
            let mean = group_mean(data, &class_ids(data, members))?;
            Some(Profile {
                name: name.clone(),
                class: None,
                top: top_channels(&mean, TOP_CHANNELS),
                mean,
            })
        })
        .collect();
    (classes, groups)
}

/// Channels that tell two groups apart: the standardised mean difference (Cohen's d with the
/// pooled standard deviation) of each channel, largest |d| first.
pub struct Contrast {
    pub a: String,
    pub b: String,
    /// `(channel, d)`; d > 0 means higher attribution in `a`.
    pub channels: Vec<(usize, f64)>,
}

/// Cohen's d of every channel between the samples of classes `a` and of classes `b`, or `None`
/// when either side has fewer than 2 samples.
pub fn cohens_d(data: &Dataset, a: &[i64], b: &[i64]) -> Option<Vec<f64>> {
    let side = |members: &[i64]| -> (usize, Vec<f64>, Vec<f64>) {
        let d = data.n_features();
        let (mut n, mut sum, mut sq) = (0usize, vec![0.0; d], vec![0.0; d]);
        for (row, label) in data.x.rows().into_iter().zip(&data.labels) {
            if members.contains(label) {
                n += 1;
                for (c, v) in row.iter().enumerate() {
                    sum[c] += v;
                }
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1) as f64).collect();
        for (row, label) in data.x.rows().into_iter().zip(&data.labels) {
            if members.contains(label) {
                for (c, v) in row.iter().enumerate() {
                    sq[c] += (v - mean[c]).powi(2);
                }
            }
        }
        (n, mean, sq)
    };
    let (na, ma, sa) = side(a);
    let (nb, mb, sb) = side(b);
    if na < 2 || nb < 2 {
        return None;
    }
    Some(
        (0..data.n_features())
            .map(|c| {
                let pooled = ((sa[c] + sb[c]) / (na + nb - 2) as f64).sqrt();
                if pooled > 0.0 {
                    (ma[c] - mb[c]) / pooled
                } else {
                    0.0
                }
            })
            .collect(),
    )
}

/// For every pair of groups (in name order), the `k` channels that separate them most.
pub fn group_contrasts(
    data: &Dataset,
    groups: &BTreeMap<String, Vec<String>>,
    k: usize,
) -> Vec<Contrast> {
    let ids = |members: &[String]| class_ids(data, members);
    let names: Vec<&String> = groups.keys().collect();
    let mut out = Vec::new();
    for (x, a) in names.iter().enumerate() {
        for b in &names[x + 1..] {
            let Some(d) = cohens_d(data, &ids(&groups[*a]), &ids(&groups[*b])) else {
                continue;
            };
            let mut order: Vec<usize> = (0..d.len()).collect();
            order.sort_by(|&p, &q| d[q].abs().total_cmp(&d[p].abs()).then(p.cmp(&q)));
            order.truncate(k);
            out.push(Contrast {
                a: (*a).clone(),
                b: (*b).clone(),
                channels: order.into_iter().map(|c| (c, d[c])).collect(),
            });
        }
    }
    out
}

/// Everything the report shows about channels, computed once for results.json and the HTML.
pub struct Overview {
    pub classes: Vec<Profile>,
    pub groups: Vec<Profile>,
    pub contrasts: Vec<Contrast>,
}

impl Overview {
    pub fn new(data: &Dataset, groups: &BTreeMap<String, Vec<String>>) -> Overview {
        let (classes, group_profiles) = profiles(data, groups);
        Overview {
            classes,
            groups: group_profiles,
            contrasts: group_contrasts(data, groups, TOP_CHANNELS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Dataset {
        let x = ndarray::array![[1.0, 5.0, 0.0], [3.0, 7.0, 1.0], [9.0, 0.0, 2.0]];
        Dataset {
            x,
            labels: vec![0, 0, 1],
            ids: vec!["a".into(), "b".into(), "c".into()],
            classes: [(0, "x".to_string()), (1, "y".to_string())].into(),
            columns: vec!["c0".into(), "c1".into(), "c2".into()],
            info: Default::default(),
        }
    }

    #[test]
    fn means_tops_and_similarities() {
        let d = data();
        let means = class_means(&d);
        assert_eq!(
            means,
            vec![(0, vec![2.0, 6.0, 0.5]), (1, vec![9.0, 0.0, 2.0])]
        );
        assert_eq!(top_channels(&means[0].1, 2), vec![1, 0]);
        assert_eq!(top_channels(&[1.0, 3.0, 3.0], 3), vec![1, 2, 0]);
        assert_eq!(group_mean(&d, &[0, 1]).unwrap(), vec![13.0 / 3.0, 4.0, 1.0]);
        assert!(group_mean(&d, &[7]).is_none());
        assert!((cosine(&[1.0, 0.0], &[0.0, 2.0])).abs() < 1e-15);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-15);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn cohens_d_uses_the_pooled_standard_deviation() {
        // Class 0: channel 0 = 1, 3 (mean 2); class 1: 9, 11 (mean 10). Pooled SD: √((2 + 2)/2).
        let mut d = data();
        d.x = ndarray::array![
            [1.0, 5.0, 0.0],
            [3.0, 5.0, 1.0],
            [9.0, 5.0, 2.0],
            [11.0, 5.0, 4.0]
        ];
        d.labels = vec![0, 0, 1, 1];
        d.ids.push("d".into());
        let effect = cohens_d(&d, &[0], &[1]).unwrap();
        assert!((effect[0] - (2.0 - 10.0) / 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(effect[1], 0.0, "a constant channel separates nothing");
        assert!(
            cohens_d(&data(), &[0], &[1]).is_none(),
            "one sample in class 1"
        );
    }
}
