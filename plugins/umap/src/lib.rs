//! `umap`: uniform manifold approximation and projection (McInnes, Healy & Melville 2018) with
//! umap-learn's algorithm and defaults:
//!
//! 1. k-nearest neighbours: exact below 4,096 samples, NN-descent above (as umap-learn);
//! 2. the fuzzy simplicial set ([`fuzzy`]): `smooth_knn_dist` with `local_connectivity`,
//!    membership strengths, fuzzy union with `set_op_mix_ratio`, weak edges pruned;
//! 3. `a`, `b` fitted to `min_dist` and `spread` ([`curve`]);
//! 4. the initial layout ([`spectral`]): spectral (random when the graph is disconnected, as the
//!    result says), random or PCA, scaled as umap-learn;
//! 5. the SGD layout with negative sampling ([`layout`]), parallel and bit-identical for any
//!    thread count (the scheme is described there).
//!
//! The result's `info`: `n_epochs`, `a`, `b`, `init` (the initialisation actually used) and `knn`
//! (`exact` or `nn-descent`).

pub mod curve;
pub mod fuzzy;
pub mod layout;
pub mod spectral;

use std::time::Instant;

use attrclust_core::params::Default as D;
use attrclust_core::rng::Rng;
use attrclust_core::{
    Build, Context, Dataset, Error, Info, ParamSpec, ParamType as T, ParamValue, Params, Plugin,
    Reducer, Result,
};
use attrclust_neighbors::nndescent::{KnnError, KnnMetric, exact_knn_graph, knn_graph};
use ndarray::{Array2, ArrayView2};

/// Below this many samples the neighbours are exact (umap-learn's threshold).
pub const EXACT_KNN_BELOW: usize = attrclust_neighbors::nndescent::EXACT_BELOW;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "n_neighbors",
        T::Int,
        D::Int(15),
        "Size of the local neighbourhood, counting the sample itself (umap-learn's convention). Larger values give a more global view.",
    )
    .min(2.0),
    ParamSpec::new(
        "n_components",
        T::Int,
        D::Int(2),
        "Dimensions of the embedding.",
    )
    .min(1.0),
    ParamSpec::new(
        "metric",
        T::Choice(&["euclidean", "cosine", "manhattan", "correlation"]),
        D::Str("euclidean"),
        "Distance in the input space; correlation is 1 − Pearson r between samples.",
    ),
    ParamSpec::new(
        "min_dist",
        T::Float,
        D::Float(0.1),
        "Smallest distance between embedded points, relative to `spread`: smaller packs clusters tighter.",
    )
    .min(0.0),
    ParamSpec::new(
        "spread",
        T::Float,
        D::Float(1.0),
        "Scale of the embedded points; with `min_dist` it sets the curve parameters a and b.",
    ),
    ParamSpec::new(
        "set_op_mix_ratio",
        T::Float,
        D::Float(1.0),
        "1 takes the fuzzy union of the directed neighbour graphs, 0 their intersection.",
    )
    .min(0.0)
    .max(1.0),
    ParamSpec::new(
        "local_connectivity",
        T::Float,
        D::Float(1.0),
        "Nearest neighbours assumed connected at full strength (may be fractional).",
    )
    .min(0.0),
    ParamSpec::new(
        "repulsion_strength",
        T::Float,
        D::Float(1.0),
        "Weight of the negative samples' repulsion.",
    )
    .min(0.0),
    ParamSpec::new(
        "negative_sample_rate",
        T::Int,
        D::Int(5),
        "Negative samples per positive edge sample.",
    )
    .min(0.0),
    ParamSpec::new(
        "learning_rate",
        T::Float,
        D::Float(1.0),
        "Initial SGD step size; decays linearly to 0.",
    ),
    ParamSpec::new(
        "n_epochs",
        T::IntOr(&["auto"]),
        D::Str("auto"),
        "SGD epochs; auto: 500 up to 10,000 samples, else 200 (as umap-learn).",
    )
    .min(0.0),
    ParamSpec::new(
        "init",
        T::Choice(&["spectral", "random", "pca"]),
        D::Str("spectral"),
        "Initial layout; spectral falls back to random when the neighbour graph is disconnected.",
    ),
    ParamSpec::new(
        "knn",
        T::Choice(&["auto", "exact", "nn-descent"]),
        D::Str("auto"),
        "Nearest-neighbour search: auto is exact below 4,096 samples, NN-descent above.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "umap",
        version: "1",
        summary: "UMAP embedding (umap-learn's algorithm; deterministic and parallel)",
        params: PARAMS,
        build: Build::Reducer(|p| Ok(Box::new(Umap::from_params(p)?))),
        uses_seed: true,
        uses_groups: false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    Spectral,
    Random,
    Pca,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnnChoice {
    Auto,
    Exact,
    NnDescent,
}

#[derive(Clone, Debug)]
pub struct Umap {
    pub n_neighbors: usize,
    pub n_components: usize,
    pub metric: KnnMetric,
    pub min_dist: f64,
    pub spread: f64,
    pub set_op_mix_ratio: f64,
    pub local_connectivity: f64,
    pub repulsion_strength: f64,
    pub negative_sample_rate: usize,
    pub learning_rate: f64,
    /// `None`: umap-learn's default for the data size.
    pub n_epochs: Option<usize>,
    pub init: Init,
    pub knn: KnnChoice,
}

impl Default for Umap {
    fn default() -> Self {
        Umap {
            n_neighbors: 15,
            n_components: 2,
            metric: KnnMetric::Euclidean,
            min_dist: 0.1,
            spread: 1.0,
            set_op_mix_ratio: 1.0,
            local_connectivity: 1.0,
            repulsion_strength: 1.0,
            negative_sample_rate: 5,
            learning_rate: 1.0,
            n_epochs: None,
            init: Init::Spectral,
            knn: KnnChoice::Auto,
        }
    }
}

/// A computed embedding with what was used to make it.
pub struct Embedding {
    pub coords: Array2<f64>,
    pub a: f64,
    pub b: f64,
    pub n_epochs: usize,
    /// The initialisation used, e.g. `spectral` or `random (graph has 3 components)`.
    pub init: String,
    /// `exact` or `nn-descent`.
    pub knn: &'static str,
    /// Seconds per stage (never part of results: timings vary between runs).
    pub timings: Timings,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    pub knn: f64,
    pub graph: f64,
    pub init: f64,
    pub layout: f64,
}

impl Umap {
    fn from_params(p: &Params) -> Result<Self> {
        let n_epochs = match p.get("n_epochs") {
            Some(ParamValue::Int(i)) => Some(
                usize::try_from(*i)
                    .map_err(|_| Error::input(format!("`n_epochs` must be ≥ 0, found {i}")))?,
            ),
            _ => None,
        };
        let metric_name = p.str("metric")?;
        let metric = KnnMetric::from_name(metric_name).ok_or_else(|| {
            Error::input(format!("unknown metric `{metric_name}`"))
                .hint("use euclidean, cosine, manhattan or correlation")
        })?;
        let umap = Umap {
            n_neighbors: p.usize("n_neighbors")?,
            n_components: p.usize("n_components")?,
            metric,
            min_dist: p.float("min_dist")?,
            spread: p.float("spread")?,
            set_op_mix_ratio: p.float("set_op_mix_ratio")?,
            local_connectivity: p.float("local_connectivity")?,
            repulsion_strength: p.float("repulsion_strength")?,
            negative_sample_rate: p.usize("negative_sample_rate")?,
            learning_rate: p.float("learning_rate")?,
            n_epochs,
            init: match p.str("init")? {
                "random" => Init::Random,
                "pca" => Init::Pca,
                _ => Init::Spectral,
            },
            knn: match p.str("knn")? {
                "exact" => KnnChoice::Exact,
                "nn-descent" => KnnChoice::NnDescent,
                _ => KnnChoice::Auto,
            },
        };
        umap.check_params()?;
        Ok(umap)
    }

    /// Parameter checks the schema's ranges cannot express.
    fn check_params(&self) -> Result<()> {
        if !(self.spread > 0.0 && self.spread.is_finite()) {
            return Err(
                Error::input(format!("`spread` must be > 0, found {}", self.spread))
                    .hint("the default is 1.0"),
            );
        }
        if !(self.min_dist >= 0.0 && self.min_dist <= self.spread) {
            return Err(Error::input(format!(
                "`min_dist` = {} must lie in [0, spread = {}]",
                self.min_dist, self.spread
            ))
            .hint("lower min_dist or raise spread (umap-learn requires min_dist ≤ spread)"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::input(format!(
                "`learning_rate` must be > 0, found {}",
                self.learning_rate
            ))
            .hint("the default is 1.0"));
        }
        if self.n_neighbors < 2 || self.n_components < 1 {
            return Err(Error::input(
                "`n_neighbors` must be ≥ 2 and `n_components` ≥ 1",
            ));
        }
        Ok(())
    }

    /// Input checks: enough samples for the neighbourhood and the layout, finite values, some
    /// structure.
    fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        let n = x.nrows();
        let needed = self.n_components + 2;
        if n < needed.max(3) {
            return Err(Error::input(format!(
                "umap needs at least {} samples for n_components = {}, the input has {n}",
                needed.max(3),
                self.n_components
            ))
            .hint("select more samples, or lower n_components"));
        }
        if self.n_neighbors >= n {
            return Err(Error::input(format!(
                "n_neighbors = {} must be smaller than the number of samples ({n})",
                self.n_neighbors
            ))
            .hint(format!("use n_neighbors ≤ {}", n - 1)));
        }
        if x.ncols() == 0 {
            return Err(Error::input("the input has no columns"));
        }
        attrclust_core::plugin::require_finite(x)?;
        let first = x.row(0);
        if x.rows().into_iter().all(|r| r == first) {
            return Err(Error::input(format!(
                "all {n} samples are identical: UMAP has no structure to embed"
            ))
            .hint("check the data and the steps before umap"));
        }
        Ok(())
    }

    fn knn_error(&self, err: KnnError, ids: &[String]) -> Error {
        let id = |row: usize| {
            ids.get(row).map_or_else(
                || format!("row {row}"),
                |s| format!("row {row} (sample `{s}`)"),
            )
        };
        match err {
            KnnError::ConstantRow(row) => Error::input(format!(
                "metric = \"correlation\": {} is constant, its correlation with any sample is undefined",
                id(row)
            ))
            .hint("drop constant samples, or use metric = \"euclidean\" or \"cosine\""),
            KnnError::ZeroRow(row) => Error::input(format!(
                "metric = \"cosine\": {} is all zeros, its cosine distance is undefined",
                id(row)
            ))
            .hint("drop all-zero samples, or use metric = \"euclidean\""),
            KnnError::NonFinite { row, col } => {
                Error::input(format!("{} has a non-finite value in column {col}", id(row)))
                    .hint("set nan_policy = \"drop_rows\" in [data], or fix the data")
            }
            KnnError::TooFewRows { n, k } => Error::input(format!(
                "n_neighbors = {} needs more than {n} samples",
                k + 1
            ))
            .hint(format!("use n_neighbors ≤ {}", n.saturating_sub(1))),
        }
    }

    /// The embedding of the rows of `x` for a seed. `ids` name rows in error messages.
    pub fn embed(&self, x: ArrayView2<f64>, ids: &[String], seed: u64) -> Result<Embedding> {
        self.check_params()?;
        self.check_input(x)?;
        let n = x.nrows();
        let root = Rng::new(seed);
        let mut timings = Timings::default();

        // 1. Neighbours (the sample itself first, as umap-learn counts it).
        let clock = Instant::now();
        let exact = match self.knn {
            KnnChoice::Exact => true,
            KnnChoice::NnDescent => false,
            KnnChoice::Auto => n < EXACT_KNN_BELOW,
        };
        let others = self.n_neighbors - 1;
        let graph = if exact {
            exact_knn_graph(x, others, self.metric)
        } else {
            knn_graph(x, others, self.metric, root.fork(0).next_u64())
        }
        .map_err(|e| self.knn_error(e, ids))?;
        let knn: Vec<Vec<(usize, f64)>> = graph
            .into_iter()
            .enumerate()
            .map(|(i, row)| std::iter::once((i, 0.0)).chain(row).collect())
            .collect();
        timings.knn = clock.elapsed().as_secs_f64();

        // 2. Fuzzy graph, pruned for the epochs to run.
        let clock = Instant::now();
        let mut graph =
            fuzzy::fuzzy_simplicial_set(&knn, self.local_connectivity, self.set_op_mix_ratio);
        drop(knn);
        let n_epochs = self.n_epochs.unwrap_or_else(|| fuzzy::default_epochs(n));
        fuzzy::prune(&mut graph, n_epochs);
        let (a, b) = curve::find_ab_params(self.spread, self.min_dist);
        timings.graph = clock.elapsed().as_secs_f64();

        // 3. Initial layout.
        let clock = Instant::now();
        let mut init_rng = root.fork(1);
        let (mut coords, init) = self.initial_layout(x, &graph, &mut init_rng)?;
        spectral::rescale_to_box(&mut coords);
        timings.init = clock.elapsed().as_secs_f64();

        // 4. SGD.
        let clock = Instant::now();
        let params = layout::LayoutParams {
            a,
            b,
            gamma: self.repulsion_strength,
            learning_rate: self.learning_rate,
            negative_sample_rate: self.negative_sample_rate as f64,
            n_epochs,
        };
        let schedule = fuzzy::epochs_per_sample(&graph.weights, n_epochs);
        layout::optimize(
            &mut coords,
            &graph,
            &schedule,
            &params,
            root.fork(2).next_u64(),
        );
        timings.layout = clock.elapsed().as_secs_f64();
        if let Some(((i, j), _)) = coords.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::run(format!(
                "the layout diverged (row {i}, column {j} is not finite)"
            ))
            .hint("lower learning_rate or repulsion_strength"));
        }
        Ok(Embedding {
            coords,
            a,
            b,
            n_epochs,
            init,
            knn: if exact { "exact" } else { "nn-descent" },
            timings,
        })
    }

    fn initial_layout(
        &self,
        x: ArrayView2<f64>,
        graph: &fuzzy::Graph,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, String)> {
        let (n, dim) = (x.nrows(), self.n_components);
        match self.init {
            Init::Random => Ok((spectral::random_layout(n, dim, rng), "random".into())),
            Init::Pca => {
                let pca = attrclust_pca::Pca {
                    n_components: attrclust_pca::Components::Count(dim.min(x.ncols())),
                    whiten: false,
                    solver: attrclust_pca::Solver::Auto,
                    seed: rng.next_u64(),
                };
                let owned = x.to_owned();
                let fit = pca.fit(&owned)?;
                let t = fit.transform(&owned, false);
                // Fewer features than components: pad with noise-only columns.
                let mut coords = Array2::zeros((n, dim));
                coords.slice_mut(ndarray::s![.., ..t.ncols()]).assign(&t);
                spectral::noisy_scale(&mut coords, rng, 10.0, 1e-4);
                Ok((coords, "pca".into()))
            }
            Init::Spectral => {
                let (count, _) = spectral::components(graph);
                if count > 1 {
                    let coords = spectral::random_layout(n, dim, rng);
                    return Ok((coords, format!("random (graph has {count} components)")));
                }
                let mut coords = spectral::spectral_layout(graph, dim, rng);
                spectral::noisy_scale(&mut coords, rng, 10.0, 1e-4);
                Ok((coords, "spectral".into()))
            }
        }
    }
}

impl Reducer for Umap {
    fn fit_transform(&self, input: &Dataset, ctx: &Context) -> Result<Dataset> {
        let e = self.embed(input.x.view(), &input.ids, ctx.seed)?;
        let columns = (1..=e.coords.ncols()).map(|i| format!("UMAP{i}")).collect();
        let mut out = input.with_matrix(e.coords, columns);
        out.info
            .insert("n_epochs".into(), Info::Int(e.n_epochs as i64));
        out.info.insert("a".into(), Info::Float(e.a));
        out.info.insert("b".into(), Info::Float(e.b));
        out.info.insert("init".into(), Info::Text(e.init));
        out.info.insert("knn".into(), Info::Text(e.knn.into()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
