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
            let ids: Vec<i64> = data
                .classes
                .iter()
                .filter(|(_, n)| members.contains(n))
                .map(|(id, _)| *id)
                .collect();
            let mean = group_mean(data, &ids)?;
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
}
