//! `tsne`: t-distributed stochastic neighbour embedding (van der Maaten & Hinton 2008) with
//! scikit-learn's parameters and defaults, and three ways to compute the gradient:
//!
//! - `exact`: dense P over all pairs and the O(n²) gradient (scikit-learn's `method="exact"`);
//! - `barnes_hut`: sparse P over ⌊3·perplexity⌋ + 1 nearest neighbours, repulsion through a
//!   space-partitioning tree with opening angle `angle` (1 to 3 dimensions);
//! - `fft`: the same sparse P, repulsion by FFT-accelerated interpolation on a grid (FIt-SNE /
//!   openTSNE; 2 dimensions), O(n) per iteration.
//!
//! Everything is deterministic for a seed and bit-identical for any thread count: parallel work
//! is cut into fixed chunks and partial sums are added in chunk order.

pub mod affinity;
pub mod attraction;
pub mod barnes_hut;
pub mod exact;
pub mod fft;
pub mod kernel;
pub mod optimize;

use attrclust_core::params::Default as D;
use attrclust_core::rng::Rng;
use attrclust_core::{
    Build, Context, Dataset, Error, Info, ParamSpec, ParamType as T, ParamValue, Params, Plugin,
    Reducer, Result,
};
use attrclust_pca::{Components, Pca, Solver};
use ndarray::{Array2, ArrayView2};

use crate::kernel::Kernel;
use crate::optimize::Schedule;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new("n_components", T::Int, D::Int(2), "Dimension of the embedding.").min(1.0),
    ParamSpec::new(
        "perplexity",
        T::Float,
        D::Float(30.0),
        "Effective number of neighbours of each sample; must be below n_samples / 3.",
    ),
    ParamSpec::new(
        "early_exaggeration",
        T::Float,
        D::Float(12.0),
        "Factor on P during the first `early_exaggeration_iter` iterations (clusters form apart).",
    )
    .min(1.0),
    ParamSpec::new(
        "early_exaggeration_iter",
        T::Int,
        D::Int(250),
        "Iterations with exaggerated P and momentum 0.5, counted within max_iter (scikit-learn's fixed 250).",
    )
    .min(0.0),
    ParamSpec::new(
        "learning_rate",
        T::FloatOr(&["auto"]),
        D::Str("auto"),
        "Step size (scikit-learn's scale); \"auto\" = max(n_samples / early_exaggeration / 4, 50).",
    ),
    ParamSpec::new(
        "max_iter",
        T::Int,
        D::Int(1000),
        "Iterations in all, the exaggeration phase included.",
    )
    .min(1.0),
    ParamSpec::new(
        "init",
        T::Choice(&["pca", "random"]),
        D::Str("pca"),
        "Start from PCA scaled to std 1e-4 in the first coordinate (scikit-learn), or from N(0, 1e-4²).",
    ),
    ParamSpec::new(
        "metric",
        T::Choice(&["euclidean", "cosine"]),
        D::Str("euclidean"),
        "Input distance: squared euclidean, or cosine distance 1 − cos.",
    ),
    ParamSpec::new(
        "angle",
        T::Float,
        D::Float(0.5),
        "Barnes-Hut opening angle θ: a cell narrower than θ × its distance stands for its points.",
    )
    .min(0.0)
    .max(1.0),
    ParamSpec::new(
        "dof",
        T::Float,
        D::Float(1.0),
        "Degrees of freedom ν of the Student-t kernel (1 + d²/ν)^−(ν+1)/2; 1 is standard t-SNE.",
    ),
    ParamSpec::new(
        "method",
        T::Choice(&["auto", "exact", "barnes_hut", "fft"]),
        D::Str("auto"),
        "Gradient: auto picks exact below 400 samples, fft from 5,000 (2-D), else barnes_hut.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "tsne",
        version: "1",
        summary: "t-SNE (exact, Barnes-Hut or FFT-interpolated gradients; scikit-learn parameters)",
        params: PARAMS,
        build: Build::Reducer(|p| Ok(Box::new(Tsne::from_params(p)?))),
        uses_seed: true,
        uses_groups: false,
    }
}

/// `method = "auto"` uses the exact gradient below this many samples. Measured with
/// `examples/tsne_bench.rs` (blobs, d = 50, 1000 iterations, 2 busy cores): at n = 400 exact takes
/// 1.0 s and Barnes-Hut 0.6 s, both about a second, and exact reaches the lower KL (0.051 vs
/// 0.060: dense P, no approximation); at n = 2,000 exact takes 22.7 s against 3.7 s.
pub const EXACT_BELOW: usize = 400;
/// `method = "auto"` uses FFT interpolation from this many samples on (2-D embeddings). Measured
/// as above: Barnes-Hut 3.7 s vs FFT 4.1 s at n = 2,000, 9.0 s vs 9.9 s at n = 3,000; the FFT's
/// grid (≥ 300 × 300 after padding) costs the same at any n while the tree walk grows as
/// n log n, so FFT wins from about 4,000 on (20,000: 11.3 s).
pub const FFT_FROM: usize = 5_000;
/// The exact method keeps an n × n P: refuse it above this size (n² · 8 bytes = 200 MB).
pub const EXACT_MAX_SAMPLES: usize = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Euclidean,
    Cosine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    Pca,
    Random,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Auto,
    Exact,
    BarnesHut,
    Fft,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Exact => "exact",
            Method::BarnesHut => "barnes_hut",
            Method::Fft => "fft",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearningRate {
    Auto,
    Fixed(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tsne {
    pub n_components: usize,
    pub perplexity: f64,
    pub early_exaggeration: f64,
    pub early_exaggeration_iter: usize,
    pub learning_rate: LearningRate,
    pub max_iter: usize,
    pub init: Init,
    pub metric: Metric,
    pub angle: f64,
    pub dof: f64,
    pub method: Method,
}

impl Default for Tsne {
    fn default() -> Self {
        Tsne {
            n_components: 2,
            perplexity: 30.0,
            early_exaggeration: 12.0,
            early_exaggeration_iter: 250,
            learning_rate: LearningRate::Auto,
            max_iter: 1000,
            init: Init::Pca,
            metric: Metric::Euclidean,
            angle: 0.5,
            dof: 1.0,
            method: Method::Auto,
        }
    }
}

/// A fitted embedding and what the optimisation reached.
#[derive(Clone, Debug)]
pub struct Embedding {
    pub y: Array2<f64>,
    /// KL(P ‖ Q) at the end, against the P the method used (dense for exact, sparse otherwise),
    /// with Q normalised by the method's own Z (exact, or the Barnes-Hut / FFT approximation
    /// evaluated once more at the final positions, as openTSNE reports it).
    pub kl_divergence: f64,
    pub n_iter: usize,
    pub method: Method,
    pub learning_rate: f64,
}

impl Tsne {
    pub fn from_params(p: &Params) -> Result<Self> {
        let learning_rate = match p.get("learning_rate") {
            Some(ParamValue::Str(s)) if s == "auto" => LearningRate::Auto,
            Some(ParamValue::Float(_) | ParamValue::Int(_)) => {
                LearningRate::Fixed(p.float("learning_rate")?)
            }
            Some(other) => {
                return Err(Error::input(format!(
                    "`learning_rate`: expected a number or \"auto\", found {}",
                    other.describe()
                )));
            }
            None => LearningRate::Auto,
        };
        let tsne = Tsne {
            n_components: p.usize("n_components")?,
            perplexity: p.float("perplexity")?,
            early_exaggeration: p.float("early_exaggeration")?,
            early_exaggeration_iter: p.usize("early_exaggeration_iter")?,
            learning_rate,
            max_iter: p.usize("max_iter")?,
            init: match p.str("init")? {
                "random" => Init::Random,
                _ => Init::Pca,
            },
            metric: match p.str("metric")? {
                "cosine" => Metric::Cosine,
                _ => Metric::Euclidean,
            },
            angle: p.float("angle")?,
            dof: p.float("dof")?,
            method: match p.str("method")? {
                "exact" => Method::Exact,
                "barnes_hut" => Method::BarnesHut,
                "fft" => Method::Fft,
                _ => Method::Auto,
            },
        };
        tsne.check_params()?;
        Ok(tsne)
    }

    /// Checks that need no data.
    fn check_params(&self) -> Result<()> {
        if !(self.perplexity > 0.0 && self.perplexity.is_finite()) {
            return Err(Error::input(format!(
                "perplexity must be positive, found {}",
                self.perplexity
            ))
            .hint("typical values are 5 to 50 (default 30)"));
        }
        if !(self.dof > 0.0 && self.dof.is_finite()) {
            return Err(
                Error::input(format!("dof must be positive, found {}", self.dof))
                    .hint("dof = 1 is standard t-SNE; smaller values give heavier tails"),
            );
        }
        if let LearningRate::Fixed(lr) = self.learning_rate
            && !(lr > 0.0 && lr.is_finite())
        {
            return Err(
                Error::input(format!("learning_rate must be positive, found {lr}"))
                    .hint("use learning_rate = \"auto\""),
            );
        }
        if self.n_components == 0 {
            return Err(Error::input("n_components must be at least 1").hint("use 2 for plots"));
        }
        Ok(())
    }

    /// The method `auto` resolves to for `n` samples, or why the requested one cannot run.
    pub fn resolved_method(&self, n: usize) -> Result<Method> {
        let dim = self.n_components;
        let method = match self.method {
            Method::Auto if n < EXACT_BELOW => Method::Exact,
            Method::Auto if dim == 2 && n >= FFT_FROM => Method::Fft,
            Method::Auto if dim <= barnes_hut::MAX_DIM => Method::BarnesHut,
            Method::Auto => Method::Exact,
            m => m,
        };
        match method {
            Method::Fft if dim != 2 => Err(Error::input(format!(
                "method = \"fft\" embeds in 2 dimensions only, n_components = {dim}"
            ))
            .hint("use n_components = 2, or method = \"barnes_hut\" (up to 3) or \"exact\"")),
            Method::BarnesHut if dim > barnes_hut::MAX_DIM => Err(Error::input(format!(
                "method = \"barnes_hut\" embeds in at most 3 dimensions, n_components = {dim}"
            ))
            .hint("use n_components ≤ 3, or method = \"exact\" (small data)")),
            Method::Exact if n > EXACT_MAX_SAMPLES => Err(Error::input(format!(
                "method = \"exact\" keeps an n × n matrix: {n} samples are more than the {EXACT_MAX_SAMPLES} it allows{}",
                if self.method == Method::Auto {
                    format!(" (n_components = {dim} has no faster method)")
                } else {
                    String::new()
                }
            ))
            .hint(if dim <= barnes_hut::MAX_DIM {
                "use method = \"barnes_hut\" or \"fft\" (2-D)"
            } else {
                "use n_components ≤ 3 with method = \"barnes_hut\""
            })),
            m => Ok(m),
        }
    }

    pub fn resolved_learning_rate(&self, n: usize) -> f64 {
        match self.learning_rate {
            LearningRate::Fixed(lr) => lr,
            LearningRate::Auto => (n as f64 / self.early_exaggeration / 4.0).max(50.0),
        }
    }

    /// Checks the data against the parameters: every failure here is the user's to fix.
    fn check_data(&self, x: ArrayView2<f64>) -> Result<()> {
        let (n, d) = x.dim();
        attrclust_core::plugin::require_finite(x)?;
        let min = (self.n_components + 1).max(4);
        if n < min {
            return Err(Error::input(format!(
                "t-SNE needs at least {min} samples for n_components = {}, the input has {n}",
                self.n_components
            ))
            .hint("select more classes or check the data file"));
        }
        if 3.0 * self.perplexity >= n as f64 {
            let largest = (n - 1) as f64 / 3.0;
            return Err(Error::input(format!(
                "perplexity = {} is too large for {n} samples: t-SNE uses 3 × perplexity nearest \
                 neighbours, so perplexity must be below n_samples / 3 = {:.2}",
                self.perplexity,
                n as f64 / 3.0
            ))
            .hint(format!(
                "use perplexity ≤ {:.2} (the largest allowed here), or more samples",
                (largest * 100.0).floor() / 100.0
            )));
        }
        if self.init == Init::Pca && d < self.n_components {
            return Err(Error::input(format!(
                "init = \"pca\" needs at least n_components = {} features, the input has {d}",
                self.n_components
            ))
            .hint("use init = \"random\""));
        }
        Ok(())
    }

    /// Embeds the rows of `x`. `progress` receives the fraction of iterations done.
    pub fn embed(
        &self,
        x: ArrayView2<f64>,
        seed: u64,
        progress: &(dyn Fn(f64) + Sync),
    ) -> Result<Embedding> {
        self.check_params()?;
        self.check_data(x)?;
        let n = x.nrows();
        let dim = self.n_components;
        let method = self.resolved_method(n)?;
        let rows = affinity::search_rows(x, self.metric)?;
        check_spread(rows.view(), self.metric)?;
        let learning_rate = self.resolved_learning_rate(n);
        let kernel = Kernel::new(self.dof);
        let schedule = Schedule {
            early_exaggeration: self.early_exaggeration,
            early_exaggeration_iter: self.early_exaggeration_iter,
            max_iter: self.max_iter,
            learning_rate,
        };
        let mut y = self.initial(x, seed)?;
        let (n_iter, kl_divergence) = match method {
            Method::Exact => {
                let p = affinity::dense_affinities(rows.view(), self.metric, self.perplexity)?;
                let n_iter = optimize::optimize(
                    &mut y,
                    &schedule,
                    |y, ex, g| exact::gradient(&p, y, dim, kernel, ex, g),
                    progress,
                );
                (n_iter, exact::kl_divergence(&p, &y, dim, kernel))
            }
            Method::BarnesHut | Method::Fft => {
                let p = affinity::knn_affinities(rows.view(), self.metric, self.perplexity, seed)?;
                let mut fft = fft::FftRepulsion::default();
                let angle = self.angle;
                let mut repulsion = |y: &[f64]| match method {
                    Method::Fft => fft.repulsion(y, kernel),
                    _ => barnes_hut::repulsion(y, dim, kernel, angle),
                };
                let n_iter = optimize::optimize(
                    &mut y,
                    &schedule,
                    |y, ex, g| {
                        let (rep, z) = repulsion(y);
                        let att = attraction::attractive_forces(&p, y, dim, kernel);
                        attraction::combine(&att, &rep, z, kernel, ex, g);
                    },
                    progress,
                );
                let (_, z) = repulsion(&y);
                (n_iter, attraction::kl_divergence(&p, &y, dim, kernel, z))
            }
            Method::Auto => unreachable!("resolved"),
        };
        if y.iter().any(|v| !v.is_finite()) || !kl_divergence.is_finite() {
            return Err(
                Error::run("t-SNE diverged: the embedding has non-finite values")
                    .hint("lower learning_rate, or use learning_rate = \"auto\""),
            );
        }
        Ok(Embedding {
            y: Array2::from_shape_vec((n, dim), y).expect("n × dim values"),
            kl_divergence,
            n_iter,
            method,
            learning_rate,
        })
    }

    /// Initial positions, row-major n × dim.
    fn initial(&self, x: ArrayView2<f64>, seed: u64) -> Result<Vec<f64>> {
        let (n, dim) = (x.nrows(), self.n_components);
        match self.init {
            Init::Random => {
                let mut rng = Rng::new(seed);
                Ok((0..n * dim).map(|_| 1e-4 * rng.normal()).collect())
            }
            Init::Pca => {
                // scikit-learn: PCA coordinates / std of the first one × 1e-4.
                let pca = Pca {
                    n_components: Components::Count(dim),
                    whiten: false,
                    solver: Solver::Auto,
                    seed,
                };
                let x = x.to_owned();
                let t = pca.fit(&x)?.transform(&x, false);
                let first = t.column(0);
                let mean = first.sum() / n as f64;
                let std = (first.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
                if std.is_nan() || std <= 0.0 {
                    return Err(Error::input(
                        "init = \"pca\": the data has no variance along its first principal component",
                    )
                    .hint("use init = \"random\""));
                }
                Ok(t.iter().map(|v| v / std * 1e-4).collect())
            }
        }
    }
}

/// Fails when all samples coincide (all pairwise distances zero, up to rounding for cosine).
fn check_spread(rows: ArrayView2<f64>, metric: Metric) -> Result<()> {
    let first = rows.row(0);
    let scale = rows
        .rows()
        .into_iter()
        .map(|r| r.dot(&r))
        .fold(0.0, f64::max);
    let spread = rows
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .zip(first)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .fold(0.0, f64::max);
    if !(spread.is_finite() && scale.is_finite()) {
        return Err(affinity::overflow_error());
    }
    if spread <= 1e-24 * scale {
        let what = match metric {
            Metric::Euclidean => "all samples are identical",
            Metric::Cosine => "all samples point in the same direction",
        };
        return Err(Error::input(format!(
            "{what}: every pairwise distance is zero and t-SNE has nothing to embed"
        ))
        .hint("check the data and the preceding steps (e.g. a selection that kept one class)"));
    }
    Ok(())
}

impl Reducer for Tsne {
    fn fit_transform(&self, input: &Dataset, ctx: &Context) -> Result<Dataset> {
        let e = self.embed(input.x.view(), ctx.seed, ctx.progress)?;
        let columns = (1..=self.n_components)
            .map(|i| format!("tSNE{i}"))
            .collect();
        let mut out = input.with_matrix(e.y, columns);
        out.info
            .insert("kl_divergence".into(), Info::Float(e.kl_divergence));
        out.info.insert("n_iter".into(), Info::Int(e.n_iter as i64));
        out.info
            .insert("method".into(), Info::Text(e.method.name().into()));
        out.info
            .insert("learning_rate".into(), Info::Float(e.learning_rate));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn blobs(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = Rng::new(seed);
        let centres = Array2::from_shape_fn((4, d), |_| rng.uniform() * 20.0 - 10.0);
        Array2::from_shape_fn((n, d), |(i, j)| centres[[i % 4, j]] + rng.normal())
    }

    fn err(t: &Tsne, x: &Array2<f64>) -> Error {
        t.embed(x.view(), 0, &|_| {}).unwrap_err()
    }

    #[test]
    fn identical_embeddings_with_one_and_two_threads() {
        let x = blobs(240, 6, 1);
        for method in [Method::Exact, Method::BarnesHut, Method::Fft] {
            let tsne = Tsne {
                method,
                perplexity: 15.0,
                max_iter: 300,
                early_exaggeration_iter: 100,
                ..Tsne::default()
            };
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| tsne.embed(x.view(), 7, &|_| {}).unwrap())
            };
            let (a, b) = (run(1), run(2));
            let bits = |e: &Embedding| e.y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{method:?}");
            assert_eq!(a.kl_divergence.to_bits(), b.kl_divergence.to_bits());
            assert!(
                a.kl_divergence > 0.0 && a.kl_divergence < 2.0,
                "{}",
                a.kl_divergence
            );
        }
    }

    #[test]
    fn reducer_output_names_columns_and_reports_results() {
        let x = blobs(120, 5, 2);
        let input = Dataset {
            x: x.clone(),
            labels: vec![0; 120],
            ids: (0..120).map(|i| i.to_string()).collect(),
            classes: BTreeMap::new(),
            columns: (0..5).map(|j| format!("c{j}")).collect(),
            info: BTreeMap::new(),
        };
        let mut values = BTreeMap::new();
        values.insert("perplexity".into(), ParamValue::Float(10.0));
        values.insert("max_iter".into(), ParamValue::Int(300));
        values.insert("learning_rate".into(), ParamValue::Str("auto".into()));
        for spec in PARAMS {
            if let (false, Some(v)) = (values.contains_key(spec.name), spec.default.value()) {
                values.insert(spec.name.into(), v);
            }
        }
        let tsne = Tsne::from_params(&Params::new(values, ".")).unwrap();
        let out = Context::detached("tsne", 3, |ctx| tsne.fit_transform(&input, ctx)).unwrap();
        assert_eq!(out.columns, ["tSNE1", "tSNE2"]);
        assert_eq!(out.x.dim(), (120, 2));
        assert_eq!(out.info["method"], Info::Text("exact".into()));
        assert_eq!(out.info["learning_rate"], Info::Float(50.0));
        assert_eq!(out.info["n_iter"], Info::Int(300));
        assert!(matches!(out.info["kl_divergence"], Info::Float(kl) if kl > 0.0));
    }

    #[test]
    fn auto_method_and_learning_rate() {
        let t = Tsne::default();
        assert_eq!(t.resolved_method(100).unwrap(), Method::Exact);
        assert_eq!(t.resolved_method(2_000).unwrap(), Method::BarnesHut);
        assert_eq!(t.resolved_method(50_000).unwrap(), Method::Fft);
        let t3 = Tsne {
            n_components: 3,
            ..Tsne::default()
        };
        assert_eq!(t3.resolved_method(50_000).unwrap(), Method::BarnesHut);
        assert_eq!(t.resolved_learning_rate(1_000), 50.0);
        assert_eq!(t.resolved_learning_rate(48_000), 1_000.0);
    }

    #[test]
    fn parameter_errors() {
        let x = blobs(50, 3, 3);
        let t = Tsne::default();
        let e = err(&t, &x);
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.message
                .contains("perplexity = 30 is too large for 50 samples"),
            "{e}"
        );
        assert!(e.message.contains("below n_samples / 3 = 16.67"), "{e}");
        assert!(e.hint.unwrap().contains("perplexity ≤ 16.33"));
        let e = err(
            &Tsne {
                n_components: 3,
                method: Method::Fft,
                perplexity: 5.0,
                ..Tsne::default()
            },
            &x,
        );
        assert!(
            e.message.contains("fft\" embeds in 2 dimensions only"),
            "{e}"
        );
        let e = err(
            &Tsne {
                n_components: 4,
                method: Method::BarnesHut,
                init: Init::Random,
                perplexity: 5.0,
                ..Tsne::default()
            },
            &x,
        );
        assert!(e.message.contains("at most 3 dimensions"), "{e}");
        let big = Array2::from_shape_fn((EXACT_MAX_SAMPLES + 1, 2), |(i, j)| (i * 2 + j) as f64);
        let e = err(
            &Tsne {
                method: Method::Exact,
                ..Tsne::default()
            },
            &big,
        );
        assert!(e.message.contains("keeps an n × n matrix"), "{e}");
        let e = err(
            &Tsne {
                n_components: 5,
                perplexity: 5.0,
                ..Tsne::default()
            },
            &x,
        );
        assert!(
            e.message
                .contains("needs at least n_components = 5 features"),
            "{e}"
        );
        for (t, what) in [
            (
                Tsne {
                    perplexity: 0.0,
                    ..Tsne::default()
                },
                "perplexity must be positive",
            ),
            (
                Tsne {
                    dof: -1.0,
                    ..Tsne::default()
                },
                "dof must be positive",
            ),
            (
                Tsne {
                    learning_rate: LearningRate::Fixed(0.0),
                    ..Tsne::default()
                },
                "learning_rate must be positive",
            ),
        ] {
            let e = err(&t, &x);
            assert!(e.message.contains(what), "{e}");
            assert_eq!(e.exit_code(), 2);
        }
    }

    #[test]
    fn data_errors() {
        let t = Tsne {
            perplexity: 2.0,
            ..Tsne::default()
        };
        let mut x = blobs(30, 3, 4);
        x[[7, 2]] = f64::NAN;
        let e = err(&t, &x);
        assert!(
            e.message
                .contains("non-finite value (NaN) at row 7, column 2"),
            "{e}"
        );
        let e = err(&t, &blobs(3, 3, 4));
        assert!(e.message.contains("needs at least 4 samples"), "{e}");
        let e = err(&t, &Array2::from_elem((30, 3), 1.5));
        assert!(e.message.contains("all samples are identical"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let cosine = Tsne {
            metric: Metric::Cosine,
            init: Init::Random,
            ..t.clone()
        };
        let parallel = Array2::from_shape_fn((30, 3), |(i, j)| (i + 1) as f64 * (j + 1) as f64);
        let e = err(&cosine, &parallel);
        assert!(
            e.message
                .contains("all samples point in the same direction"),
            "{e}"
        );
        let mut zero = blobs(30, 3, 5);
        zero.row_mut(4).fill(0.0);
        let e = err(&cosine, &zero);
        assert!(e.message.contains("row 4 is all zeros"), "{e}");
        let mut huge = blobs(30, 3, 6);
        huge.mapv_inplace(|v| v * 1e160);
        let e = err(&t, &huge);
        assert!(e.message.contains("overflow"), "{e}");
    }

    #[test]
    fn learning_rate_takes_auto_or_a_number() {
        let spec = PARAMS.iter().find(|p| p.name == "learning_rate").unwrap();
        assert!(spec.check(&ParamValue::Str("auto".into())).is_ok());
        assert!(spec.check(&ParamValue::Float(200.0)).is_ok());
        assert!(spec.check(&ParamValue::Int(200)).is_ok());
        assert!(spec.check(&ParamValue::Str("fast".into())).is_err());
    }
}
