//! `minibatch_kmeans`: scikit-learn's `MiniBatchKMeans` (1.9.1) — the best of `n_init`
//! initialisations on random `init_size` subsets (judged on one validation subset), then steps on
//! batches drawn with replacement: each centre moves to the running mean of the points it has
//! been given (per-centre learning rate 1 / count), centres with few points are re-seeded on
//! random batch points, and the run stops after `max_iter` passes, when the smoothed batch
//! inertia has not improved for `max_no_improvement` steps, or when the centres stop moving.
//! Labels and inertia are computed on the full data at the end.

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use attrclust_core::params::Default as D;
use attrclust_core::rng::Rng;
use attrclust_core::{
    Build, Clusterer, Clustering, Context, Dataset, Error, Info, ParamSpec, ParamType as T,
    ParamValue, Params, Plugin, Result,
};
use ndarray::{Array2, ArrayView2, Axis};

use crate::{Init, assign, kmeans_plus_plus, random_init, sq_dist};

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new("n_clusters", T::Int, D::Int(8), "Number of clusters.").min(1.0),
    ParamSpec::new(
        "init",
        T::Choice(&["k-means++", "random"]),
        D::Str("k-means++"),
        "Initialisation on an `init_size` subset: greedy k-means++, or k distinct random samples.",
    ),
    ParamSpec::new(
        "n_init",
        T::IntOr(&["auto"]),
        D::Str("auto"),
        "Initialisations; the lowest inertia on a validation subset wins. `auto`: 1 for k-means++, 3 for random (as scikit-learn).",
    )
    .min(1.0),
    ParamSpec::new(
        "max_iter",
        T::Int,
        D::Int(100),
        "Maximum passes over the data (steps = max_iter × n_samples / batch_size).",
    )
    .min(1.0),
    ParamSpec::new(
        "batch_size",
        T::Int,
        D::Int(1024),
        "Samples per step (at most the number of samples).",
    )
    .min(1.0),
    ParamSpec::new(
        "tol",
        T::Float,
        D::Float(0.0),
        "Stop when the squared centre movement of a step is ≤ tol × the mean channel variance (0: off).",
    )
    .min(0.0),
    ParamSpec::new(
        "max_no_improvement",
        T::IntOr(&["none"]),
        D::Int(10),
        "Stop after this many steps without improvement of the smoothed batch inertia (`none`: never).",
    )
    .min(0.0),
    ParamSpec::new(
        "reassignment_ratio",
        T::Float,
        D::Float(0.01),
        "Centres with fewer points than this fraction of the largest count are moved to random batch points.",
    )
    .min(0.0),
    ParamSpec::new(
        "init_size",
        T::IntOr(&["auto"]),
        D::Str("auto"),
        "Samples used per initialisation. `auto`: 3 × batch_size (at least 3 × n_clusters).",
    )
    .min(1.0),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "minibatch_kmeans",
        version: "1",
        summary: "mini-batch k-means (scikit-learn's MiniBatchKMeans semantics)",
        params: PARAMS,
        build: Build::Clusterer(|p| Ok(Box::new(MiniBatchKMeans::from_params(p)?))),
        uses_seed: true,
        uses_groups: false,
    }
}

#[derive(Clone, Debug)]
pub struct MiniBatchKMeans {
    pub n_clusters: usize,
    pub init: Init,
    /// `None`: scikit-learn's `auto`.
    pub n_init: Option<usize>,
    pub max_iter: usize,
    pub batch_size: usize,
    pub tol: f64,
    /// `None`: no early stopping on the smoothed inertia.
    pub max_no_improvement: Option<usize>,
    pub reassignment_ratio: f64,
    /// `None`: 3 × batch_size.
    pub init_size: Option<usize>,
}

/// The result of one fit.
#[derive(Clone, Debug)]
pub struct MiniBatchFit {
    pub labels: Vec<usize>,
    pub centers: Array2<f64>,
    /// On the full data, to the final centres.
    pub inertia: f64,
    /// Mini-batch steps taken.
    pub n_steps: usize,
    /// Passes over the data: ⌈n_steps × batch_size / n_samples⌉.
    pub n_iter: usize,
}

impl MiniBatchKMeans {
    fn from_params(p: &Params) -> Result<Self> {
        let init = match p.str("init")? {
            "random" => Init::Random,
            _ => Init::KMeansPlusPlus,
        };
        let int_or_none = |name: &str| match p.get(name) {
            Some(ParamValue::Int(v)) => Some(*v as usize),
            _ => None,
        };
        Ok(MiniBatchKMeans {
            n_clusters: p.usize("n_clusters")?,
            init,
            n_init: int_or_none("n_init"),
            max_iter: p.usize("max_iter")?,
            batch_size: p.usize("batch_size")?,
            tol: p.float("tol")?,
            max_no_improvement: int_or_none("max_no_improvement"),
            reassignment_ratio: p.float("reassignment_ratio")?,
            init_size: int_or_none("init_size"),
        })
    }

    /// A fit from one seeded stream; everything random (subsets, batches, reassignments) is
    /// drawn from it in a fixed order, so the thread count does not matter.
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        seed: u64,
        progress: &(dyn Fn(f64) + Sync),
    ) -> Result<MiniBatchFit> {
        let (n, d) = x.dim();
        let k = self.n_clusters;
        if k > n {
            return Err(
                Error::input(format!("n_clusters = {k} exceeds the {n} samples"))
                    .hint(format!("use n_clusters ≤ {n}, or select more data")),
            );
        }
        let batch = self.batch_size.clamp(1, n);
        let init_size = match self.init_size {
            None if 3 * batch < k => 3 * k,
            None => 3 * batch,
            Some(s) if s < k => 3 * k,
            Some(s) => s,
        }
        .min(n);
        let n_init = self.n_init.unwrap_or(match self.init {
            Init::KMeansPlusPlus => 1,
            Init::Random => 3,
        });
        let tol = if self.tol > 0.0 {
            let var: f64 = x
                .columns()
                .into_iter()
                .map(|c| {
                    let m = c.sum() / n as f64;
                    c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
                })
                .sum();
            self.tol * var / d as f64
        } else {
            0.0
        };
        let mut rng = Rng::new(seed);

        // Initialisations on subsets, judged on one validation subset.
        let validation: Vec<usize> = (0..init_size).map(|_| rng.below(n)).collect();
        let x_valid = x.select(Axis(0), &validation);
        let mut best: Option<(f64, Array2<f64>)> = None;
        for _ in 0..n_init {
            let subset = if init_size < n {
                let idx: Vec<usize> = (0..init_size).map(|_| rng.below(n)).collect();
                x.select(Axis(0), &idx)
            } else {
                x.to_owned()
            };
            let centers = match self.init {
                Init::KMeansPlusPlus => kmeans_plus_plus(subset.view(), k, &mut rng),
                Init::Random => random_init(subset.view(), k, &mut rng),
            };
            let inertia: f64 = assign(x_valid.view(), &centers).iter().map(|a| a.1).sum();
            if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
                best = Some((inertia, centers));
            }
        }
        let (_, mut centers) = best.expect("n_init ≥ 1");

        let mut counts = vec![0.0f64; k];
        let mut since_reassign = 0usize;
        let mut ewa: Option<f64> = None;
        let mut ewa_min: Option<f64> = None;
        let mut no_improvement = 0usize;
        let n_steps = self.max_iter * n / batch;
        let mut steps_done = 0;
        for step in 0..n_steps {
            steps_done = step + 1;
            let idx: Vec<usize> = (0..batch).map(|_| rng.below(n)).collect();
            let xb = x.select(Axis(0), &idx);
            // Decided before the step, on the counts so far (as scikit-learn).
            since_reassign += batch;
            let reassign = if counts.contains(&0.0) || since_reassign >= 10 * k {
                since_reassign = 0;
                true
            } else {
                false
            };
            let (new_centers, batch_inertia) =
                self.step(xb.view(), &centers, &mut counts, reassign, &mut rng);
            let moved: f64 = if tol > 0.0 {
                (0..k)
                    .map(|c| sq_dist(centers.row(c), new_centers.row(c)))
                    .sum()
            } else {
                0.0
            };
            centers = new_centers;
            progress(steps_done as f64 / n_steps as f64);

            // Early stopping (scikit-learn's `_mini_batch_convergence`); the first step's
            // inertia reflects the initialisation and is ignored.
            if step == 0 {
                continue;
            }
            let batch_inertia = batch_inertia / batch as f64;
            let alpha = (batch as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);
            let smoothed = match ewa {
                None => batch_inertia,
                Some(e) => e * (1.0 - alpha) + batch_inertia * alpha,
            };
            ewa = Some(smoothed);
            if tol > 0.0 && moved <= tol {
                break;
            }
            if ewa_min.is_none_or(|m| smoothed < m) {
                no_improvement = 0;
                ewa_min = Some(smoothed);
            } else {
                no_improvement += 1;
            }
            if self
                .max_no_improvement
                .is_some_and(|limit| no_improvement >= limit)
            {
                break;
            }
        }

        let assigned = assign(x, &centers);
        let inertia = assigned.iter().map(|a| a.1).sum();
        Ok(MiniBatchFit {
            labels: assigned.iter().map(|a| a.0).collect(),
            centers,
            inertia,
            n_steps: steps_done,
            n_iter: (steps_done * batch).div_ceil(n),
        })
    }

    /// One step on a batch: assign to the old centres, move each centre to the running mean of
    /// its points, maybe re-seed small centres. Returns the new centres and the batch inertia
    /// (to the old centres).
    fn step(
        &self,
        xb: ArrayView2<f64>,
        centers: &Array2<f64>,
        counts: &mut [f64],
        reassign: bool,
        rng: &mut Rng,
    ) -> (Array2<f64>, f64) {
        let (b, d) = xb.dim();
        let k = centers.nrows();
        let assigned = assign(xb, centers);
        let inertia: f64 = assigned.iter().map(|a| a.1).sum();

        // Per-chunk sums combined in chunk order: the same bits for any thread count.
        let partials = map_chunks(b, CHUNK_ROWS, |s, e| {
            let mut sums = Array2::<f64>::zeros((k, d));
            let mut n_in = vec![0usize; k];
            for i in s..e {
                let c = assigned[i].0;
                n_in[c] += 1;
                let mut row = sums.row_mut(c);
                row += &xb.row(i);
            }
            (sums, n_in)
        });
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut n_in = vec![0usize; k];
        for (s, c) in partials {
            sums += &s;
            for (t, v) in n_in.iter_mut().zip(c) {
                *t += v;
            }
        }
        let mut new = centers.clone();
        for c in 0..k {
            if n_in[c] == 0 {
                continue;
            }
            // Learning rate 1 / count: the new centre is the mean of every point it was given.
            let total = counts[c] + n_in[c] as f64;
            for j in 0..d {
                new[[c, j]] = (centers[[c, j]] * counts[c] + sums[[c, j]]) / total;
            }
            counts[c] = total;
        }

        if reassign && self.reassignment_ratio > 0.0 {
            let max = counts.iter().copied().fold(0.0, f64::max);
            let mut to_reassign: Vec<bool> = counts
                .iter()
                .map(|&c| c < self.reassignment_ratio * max)
                .collect();
            // At most half a batch of new centres: keep the largest of the small ones.
            let half = b / 2;
            if to_reassign.iter().filter(|&&t| t).count() as f64 > 0.5 * b as f64 {
                let mut order: Vec<usize> = (0..k).collect();
                order.sort_by(|&p, &q| counts[p].total_cmp(&counts[q]).then(p.cmp(&q)));
                for &c in &order[half..] {
                    to_reassign[c] = false;
                }
            }
            let chosen: Vec<usize> = (0..k).filter(|&c| to_reassign[c]).collect();
            if !chosen.is_empty() {
                // Distinct batch points, uniformly (partial Fisher–Yates).
                let mut pool: Vec<usize> = (0..b).collect();
                for (t, &c) in chosen.iter().enumerate() {
                    let j = t + rng.below(b - t);
                    pool.swap(t, j);
                    new.row_mut(c).assign(&xb.row(pool[t]));
                }
                // Not reset to zero, so they are not re-seeded again at once (as scikit-learn).
                let floor = (0..k)
                    .filter(|&c| !to_reassign[c])
                    .map(|c| counts[c])
                    .fold(f64::INFINITY, f64::min);
                for &c in &chosen {
                    counts[c] = floor;
                }
            }
        }
        (new, inertia)
    }
}

impl Clusterer for MiniBatchKMeans {
    fn fit(&self, input: &Dataset, ctx: &Context) -> Result<Clustering> {
        let fit = MiniBatchKMeans::fit(self, input.x.view(), ctx.seed, ctx.progress)?;
        let mut c = Clustering::new(fit.labels.iter().map(|&l| l as i64).collect());
        c.info.insert("inertia".into(), Info::Float(fit.inertia));
        c.info
            .insert("n_steps".into(), Info::Int(fit.n_steps as i64));
        c.info.insert("n_iter".into(), Info::Int(fit.n_iter as i64));
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_testdata::{fixture, ints, matrix};

    fn model(k: usize) -> MiniBatchKMeans {
        MiniBatchKMeans {
            n_clusters: k,
            init: Init::KMeansPlusPlus,
            n_init: None,
            max_iter: 100,
            batch_size: 1024,
            tol: 0.0,
            max_no_improvement: Some(10),
            reassignment_ratio: 0.01,
            init_size: None,
        }
    }

    fn same_partition(a: &[i64], b: &[usize]) -> bool {
        // A bijection between the label sets: each pair (a, b) maps one-to-one.
        let mut fwd = std::collections::BTreeMap::new();
        let mut back = std::collections::BTreeMap::new();
        a.iter()
            .zip(b)
            .all(|(&p, &q)| *fwd.entry(p).or_insert(q) == q && *back.entry(q).or_insert(p) == p)
    }

    #[test]
    fn matches_scikit_learn_on_separated_blobs() {
        let r = fixture("minibatch_reference.json");
        let x = matrix(&r["X"]);
        for (name, case) in r["cases"].as_object().unwrap() {
            let p = &case["params"];
            let mut m = model(p["n_clusters"].as_u64().unwrap() as usize);
            if let Some(b) = p.get("batch_size") {
                m.batch_size = b.as_u64().unwrap() as usize;
            }
            if p.get("init").and_then(|v| v.as_str()) == Some("random") {
                m.init = Init::Random;
            }
            let want = case["inertia"].as_f64().unwrap();
            let theirs = ints(&case["labels"]);
            for seed in [0, 1, 42] {
                let fit = m.fit(x.view(), seed, &|_| {}).unwrap();
                assert!(
                    (fit.inertia - want).abs() <= 0.01 * want,
                    "{name}, seed {seed}: inertia {} vs scikit-learn's {want}",
                    fit.inertia
                );
                assert!(same_partition(&theirs, &fit.labels), "{name}, seed {seed}");
                assert!(fit.n_steps >= 2 && fit.n_steps <= 100 * 5000 / m.batch_size);
            }
        }
    }

    /// Random initialisation often merges two blobs here (scikit-learn too): compare how often
    /// the true partition is found over 40 seeds, and the median inertia.
    #[test]
    fn random_init_behaves_like_scikit_learn_over_seeds() {
        let r = fixture("minibatch_reference.json");
        let x = matrix(&r["X"]);
        let truth = ints(&r["truth"]);
        let stats = &r["random_init"];
        let seeds = stats["n_seeds"].as_u64().unwrap();
        let mut m = model(6);
        m.init = Init::Random;
        let mut found = 0;
        let mut inertias = Vec::new();
        for seed in 0..seeds {
            let fit = m.fit(x.view(), seed, &|_| {}).unwrap();
            found += usize::from(same_partition(&truth, &fit.labels));
            inertias.push(fit.inertia);
        }
        inertias.sort_by(f64::total_cmp);
        let median = 0.5 * (inertias[inertias.len() / 2 - 1] + inertias[inertias.len() / 2]);
        let theirs = stats["n_true_partition"].as_u64().unwrap() as usize;
        // Binomial spread over 40 seeds is about ±3 at their rate (10 of 40).
        assert!(
            found.abs_diff(theirs) <= 7,
            "{found} vs {theirs} of {seeds}"
        );
        let want = stats["inertia_median"].as_f64().unwrap();
        assert!(
            (median - want).abs() <= 0.05 * want,
            "median {median} vs {want}"
        );
    }

    #[test]
    fn deterministic_and_thread_count_independent() {
        let r = fixture("minibatch_reference.json");
        let x = matrix(&r["X"]);
        let mut m = model(6);
        m.batch_size = 300;
        m.tol = 1e-6;
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| m.fit(x.view(), 5, &|_| {}).unwrap())
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
        assert_eq!(a.n_steps, b.n_steps);
        assert_eq!(a.centers, b.centers);
    }

    #[test]
    fn small_data_reassignment_and_no_early_stop() {
        // More centres than natural clusters and a tiny batch: reassignment runs often.
        let x = Array2::from_shape_fn((200, 2), |(i, j)| {
            ((i % 3) * 10 + j) as f64 + (i as f64 * 0.37).sin()
        });
        let mut m = model(8);
        m.batch_size = 16;
        m.max_no_improvement = None;
        m.max_iter = 5;
        let fit = m.fit(x.view(), 3, &|_| {}).unwrap();
        assert_eq!(fit.n_steps, 5 * 200 / 16);
        assert_eq!(fit.n_iter, 5);
        assert!(fit.inertia.is_finite());
        let check: f64 = (0..200)
            .map(|i| sq_dist(x.row(i), fit.centers.row(fit.labels[i])))
            .sum();
        assert!((check - fit.inertia).abs() <= 1e-9 * check);
        // k > n is a clear error.
        let err = model(500).fit(x.view(), 0, &|_| {}).unwrap_err();
        assert!(err.message.contains("exceeds the 200 samples"), "{err}");
    }
}
