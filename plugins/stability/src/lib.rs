//! `stability`: is a cluster a real attribution pattern or an artefact of one sample and one
//! seed? The clusterer that made the scored clustering runs again on `n_resamples` resamples of
//! its input (bootstrap, or subsamples without replacement), each with its own seed, and we report
//! - per cluster, Hennig's clusterwise stability: the mean over resamples of the best Jaccard
//!   similarity between the cluster (restricted to the resampled samples) and any cluster of the
//!   resample's clustering (Hennig 2007, "Cluster-wise assessment of cluster stability");
//! - per run, the mean adjusted Rand index between every pair of resample clusterings, on the
//!   samples both contain.
//!
//! The value is the mean clusterwise stability over clusters. Hennig's reading: below 0.6 a
//! cluster is not stable, 0.6–0.75 it shows a pattern, above 0.85 it is highly stable. Noise
//! (-1) belongs to no cluster. A sample drawn twice by the bootstrap keeps its first copy's label.

use std::collections::BTreeMap;

use attrclust_core::params::Default as D;
use attrclust_core::rng::Rng;
use attrclust_core::{
    Build, Clustering, Context, Dataset, Error, Info, Metric, MetricNeeds, MetricValue, ParamSpec,
    ParamType as T, Plugin, Result,
};
use rayon::prelude::*;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "n_resamples",
        T::Int,
        D::Int(20),
        "Resamples to cluster again.",
    )
    .min(2.0),
    ParamSpec::new(
        "scheme",
        T::Choice(&["bootstrap", "subsample"]),
        D::Str("bootstrap"),
        "Draw n samples with replacement, or `fraction` of them without.",
    ),
    ParamSpec::new(
        "fraction",
        T::Float,
        D::Float(0.8),
        "Share of samples a subsample keeps.",
    )
    .min(0.05)
    .max(1.0),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "stability",
        version: "1",
        summary: "Clusterwise bootstrap stability (mean best Jaccard per cluster) and mean ARI between resamples",
        params: PARAMS,
        build: Build::Metric {
            build: |p| Ok(Box::new(Stability {
                n_resamples: p.usize("n_resamples")?,
                subsample: p.str("scheme")? == "subsample",
                fraction: p.float("fraction")?,
            })),
            needs: MetricNeeds { labels: false, features: true },
        },
        uses_seed: true,
        uses_groups: false,
    }
}

pub struct Stability {
    pub n_resamples: usize,
    pub subsample: bool,
    pub fraction: f64,
}

/// One resample: the drawn rows (original indices, with repeats for the bootstrap) and, for
/// every original sample, its label in the resample's clustering (None if not drawn).
struct Resample {
    label_of: Vec<Option<i64>>,
}

fn draw(n: usize, subsample: bool, fraction: f64, rng: &mut Rng) -> Vec<usize> {
    if subsample {
        let m = ((n as f64 * fraction).round() as usize).clamp(2, n);
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..m {
            let j = i + rng.below(n - i);
            idx.swap(i, j);
        }
        let mut picked = idx[..m].to_vec();
        picked.sort_unstable();
        picked
    } else {
        (0..n).map(|_| rng.below(n)).collect()
    }
}

fn jaccard(a: &[usize], b: &[usize]) -> f64 {
    // Both sorted, deduplicated.
    let (mut i, mut j, mut inter) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// Members (sorted original indices) of every non-noise cluster of a labelling.
fn members(labels: impl Iterator<Item = (usize, i64)>) -> BTreeMap<i64, Vec<usize>> {
    let mut m: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels {
        if l >= 0 {
            m.entry(l).or_default().push(i);
        }
    }
    m
}

impl Metric for Stability {
    fn compute(&self, c: &Clustering, data: &Dataset, ctx: &Context) -> Result<MetricValue> {
        let Some(refit) = ctx.refit else {
            return Err(Error::run(
                "stability needs the clusterer of the scored clustering",
            ));
        };
        let n = data.n_samples();
        let original = members(c.assignments.iter().copied().enumerate());
        if original.is_empty() {
            return Ok(MetricValue::undefined(
                "the clustering has no clusters (all noise)",
            ));
        }
        let root = Rng::new(ctx.seed);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let resamples: Vec<Resample> = (0..self.n_resamples)
            .into_par_iter()
            .map(|b| -> Result<Resample> {
                let mut rng = root.fork(b as u64);
                let rows = draw(n, self.subsample, self.fraction, &mut rng);
                let mut sub =
                    data.with_matrix(data.x.select(ndarray::Axis(0), &rows), data.columns.clone());
                sub.labels = rows.iter().map(|&i| data.labels[i]).collect();
                sub.ids = rows.iter().map(|&i| data.ids[i].clone()).collect();
                let fitted = refit(&sub, rng.next_u64())
                    .map_err(|e| e.within(format!("re-clustering resample {b}")))?;
                let mut label_of = vec![None; n];
                for (&i, &l) in rows.iter().zip(&fitted.assignments) {
                    if label_of[i].is_none() {
                        label_of[i] = Some(l);
                    }
                }
                let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                (ctx.progress)(finished as f64 / self.n_resamples as f64);
                Ok(Resample { label_of })
            })
            .collect::<Result<_>>()?;

        // Clusterwise stability: best Jaccard per resample, averaged over the resamples in which
        // the cluster still has members.
        let mut per_cluster = Vec::new();
        for cluster in original.values() {
            let mut total = 0.0;
            let mut counted = 0;
            for r in &resamples {
                let restricted: Vec<usize> = cluster
                    .iter()
                    .copied()
                    .filter(|&i| r.label_of[i].is_some())
                    .collect();
                if restricted.is_empty() {
                    continue;
                }
                let theirs = members(
                    r.label_of
                        .iter()
                        .enumerate()
                        .filter_map(|(i, l)| l.map(|l| (i, l))),
                );
                let best = theirs
                    .values()
                    .map(|d| jaccard(&restricted, d))
                    .fold(0.0, f64::max);
                total += best;
                counted += 1;
            }
            per_cluster.push(if counted == 0 {
                0.0
            } else {
                total / counted as f64
            });
        }

        // Agreement between resamples on their common samples.
        let pairs: Vec<(usize, usize)> = (0..resamples.len())
            .flat_map(|a| (a + 1..resamples.len()).map(move |b| (a, b)))
            .collect();
        let aris: Vec<f64> = pairs
            .par_iter()
            .filter_map(|&(a, b)| {
                let (ra, rb) = (&resamples[a], &resamples[b]);
                let (la, lb): (Vec<i64>, Vec<i64>) = (0..n)
                    .filter_map(|i| Some((ra.label_of[i]?, rb.label_of[i]?)))
                    .unzip();
                attrclust_metrics::external::adjusted_rand(&la, &lb).ok()
            })
            .collect();
        let mean = per_cluster.iter().sum::<f64>() / per_cluster.len() as f64;
        let mut value = MetricValue::defined(mean);
        value.details.insert(
            "cluster_ids".into(),
            Info::Ints(original.keys().copied().collect()),
        );
        value
            .details
            .insert("jaccard_per_cluster".into(), Info::Floats(per_cluster));
        if !aris.is_empty() {
            value.details.insert(
                "mean_ari".into(),
                Info::Float(aris.iter().sum::<f64>() / aris.len() as f64),
            );
        }
        value
            .details
            .insert("n_resamples".into(), Info::Int(self.n_resamples as i64));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(x: ndarray::Array2<f64>) -> Dataset {
        let n = x.nrows();
        Dataset {
            columns: (0..x.ncols()).map(|j| format!("c{j}")).collect(),
            x,
            labels: vec![0; n],
            ids: (0..n).map(|i| i.to_string()).collect(),
            classes: [(0, "a".to_string())].into(),
            info: Default::default(),
        }
    }

    /// A toy clusterer: the sign of the first coordinate (stable by construction), or a
    /// seed-dependent random split (unstable by construction).
    fn run(data: &Dataset, random_split: bool, c: &Clustering) -> MetricValue {
        let refit = move |d: &Dataset, seed: u64| -> Result<Clustering> {
            let mut rng = Rng::new(seed);
            Ok(Clustering::new(
                (0..d.n_samples())
                    .map(|i| {
                        if random_split {
                            rng.below(2) as i64
                        } else {
                            i64::from(d.x[[i, 0]] > 0.0)
                        }
                    })
                    .collect(),
            ))
        };
        let groups = BTreeMap::new();
        let mut ctx = Context::new("s", 3, &groups);
        ctx.refit = Some(&refit);
        Stability {
            n_resamples: 10,
            subsample: false,
            fraction: 0.8,
        }
        .compute(c, data, &ctx)
        .unwrap()
    }

    #[test]
    fn separated_clusters_are_stable_and_random_splits_are_not() {
        let x = ndarray::Array2::from_shape_fn((60, 2), |(i, j)| {
            if j == 0 {
                if i < 30 { -5.0 } else { 5.0 }
            } else {
                i as f64
            }
        });
        let data = dataset(x);
        let truth = Clustering::new((0..60).map(|i| i64::from(i >= 30)).collect());
        let stable = run(&data, false, &truth);
        assert_eq!(stable.value, Some(1.0));
        assert_eq!(stable.details["mean_ari"], Info::Float(1.0));
        let unstable = run(&data, true, &truth);
        assert!(unstable.value.unwrap() < 0.6, "{:?}", unstable.value);
        let Info::Float(ari) = unstable.details["mean_ari"] else {
            panic!()
        };
        assert!(ari.abs() < 0.2, "{ari}");
    }

    #[test]
    fn all_noise_is_undefined_and_jaccard_is_exact() {
        let data = dataset(ndarray::Array2::zeros((5, 1)));
        let noise = Clustering::new(vec![-1; 5]);
        assert!(run(&data, false, &noise).value.is_none());
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }
}
