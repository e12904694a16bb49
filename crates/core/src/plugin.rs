//! Plugin traits and the registry.
//!
//! A plugin crate implements one of the traits below and registers a [`Plugin`] with
//! `attrclust_core::inventory::submit!`. The registry is whatever was linked into the binary.

use std::collections::BTreeMap;

use crate::data::{Clustering, Dataset, MetricValue, PortType};
use crate::error::{Error, Result};
use crate::params::{ParamSpec, Params};

/// Re-runs the clusterer of a clustering on other data with another seed (for resampling
/// evaluations such as stability).
pub type Refit<'a> = dyn Fn(&Dataset, u64) -> Result<Clustering> + Sync + 'a;

/// What a step may use while it runs.
pub struct Context<'a> {
    /// The step (run) being computed, for messages.
    pub step: &'a str,
    /// This step's seed, derived from the experiment seed and the step name.
    pub seed: u64,
    /// The manifest's `[groups]`: group name → class names.
    pub groups: &'a BTreeMap<String, Vec<String>>,
    /// Reports progress in [0, 1] for long steps (shown on a terminal only).
    pub progress: &'a (dyn Fn(f64) + Sync),
    /// For metrics: the clusterer that made the scored clustering, ready to run again.
    pub refit: Option<&'a Refit<'a>>,
}

impl<'a> Context<'a> {
    /// A context without progress display or refit.
    pub fn new(step: &'a str, seed: u64, groups: &'a BTreeMap<String, Vec<String>>) -> Self {
        Context {
            step,
            seed,
            groups,
            progress: &|_| {},
            refit: None,
        }
    }

    /// A context for tests and library use: no groups, no progress display.
    pub fn detached<R>(step: &str, seed: u64, f: impl FnOnce(&Context) -> R) -> R {
        let groups = BTreeMap::new();
        f(&Context::new(step, seed, &groups))
    }
}

/// Reads a data file into a [`Dataset`]. Configured by the manifest's `[data]` table.
pub trait Loader: Send + Sync {
    fn load(&self, ctx: &Context) -> Result<Dataset>;
}

/// Dataset → dataset with the same meaning of columns or a subset of rows (selection, scaling).
pub trait Transform: Send + Sync {
    fn apply(&self, input: &Dataset, ctx: &Context) -> Result<Dataset>;
}

/// Dataset → low-dimensional embedding of the same samples.
pub trait Reducer: Send + Sync {
    fn fit_transform(&self, input: &Dataset, ctx: &Context) -> Result<Dataset>;
}

/// Dataset → cluster assignment of its samples.
pub trait Clusterer: Send + Sync {
    fn fit(&self, input: &Dataset, ctx: &Context) -> Result<Clustering>;
}

/// Scores a clustering, given the dataset it was computed on (its features and true labels).
pub trait Metric: Send + Sync {
    fn compute(
        &self,
        clustering: &Clustering,
        data: &Dataset,
        ctx: &Context,
    ) -> Result<MetricValue>;
}

/// Scores an embedding (a reducer's output), given the data the reducer read: trustworthiness, ….
pub trait EmbeddingMetric: Send + Sync {
    fn compute(
        &self,
        embedding: &Dataset,
        original: &Dataset,
        ctx: &Context,
    ) -> Result<MetricValue>;
}

/// What a metric reads besides the clustering, shown by `attrclust plugins`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricNeeds {
    /// Needs the true class labels (external metrics: purity, ARI, …).
    pub labels: bool,
    /// Needs the feature matrix the clustering was computed on (internal metrics: silhouette, …).
    pub features: bool,
}

/// How to construct a plugin's implementation from resolved parameters.
#[derive(Clone, Copy)]
pub enum Build {
    Loader {
        build: fn(&Params) -> Result<Box<dyn Loader>>,
        /// File extensions (without dot) this loader reads, e.g. `["npz"]`.
        extensions: &'static [&'static str],
    },
    Transform(fn(&Params) -> Result<Box<dyn Transform>>),
    Reducer(fn(&Params) -> Result<Box<dyn Reducer>>),
    Clusterer(fn(&Params) -> Result<Box<dyn Clusterer>>),
    Metric {
        build: fn(&Params) -> Result<Box<dyn Metric>>,
        needs: MetricNeeds,
    },
    /// A metric of embeddings: reads a reducer's output and the reducer's input.
    EmbeddingMetric(fn(&Params) -> Result<Box<dyn EmbeddingMetric>>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PluginKind {
    Loader,
    Transform,
    Reducer,
    Clusterer,
    Metric,
}

impl PluginKind {
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Loader => "loader",
            PluginKind::Transform => "transform",
            PluginKind::Reducer => "reducer",
            PluginKind::Clusterer => "clusterer",
            PluginKind::Metric => "metric",
        }
    }

    /// The port type this kind of plugin reads.
    pub fn input_type(self) -> Option<PortType> {
        match self {
            PluginKind::Loader => None,
            PluginKind::Transform | PluginKind::Reducer | PluginKind::Clusterer => {
                Some(PortType::Matrix)
            }
            PluginKind::Metric => Some(PortType::Clustering),
        }
    }

    /// The port type this kind of plugin writes.
    pub fn output_type(self) -> PortType {
        match self {
            PluginKind::Loader | PluginKind::Transform => PortType::Matrix,
            PluginKind::Reducer => PortType::Embedding,
            PluginKind::Clusterer => PortType::Clustering,
            PluginKind::Metric => PortType::Metric,
        }
    }
}

/// A registered plugin: what `inventory::submit!` carries.
pub struct Plugin {
    /// The name used as `op` in manifests (`kmeans`) or as `format` for loaders (`npz`).
    pub name: &'static str,
    /// Part of every cache key of this plugin's results: bump it when results change.
    pub version: &'static str,
    /// One line for `attrclust plugins`.
    pub summary: &'static str,
    pub params: &'static [ParamSpec],
    pub build: Build,
    /// Whether results depend on the seed (the seed then enters the cache key).
    pub uses_seed: bool,
    /// Whether results depend on the manifest's `[groups]` (they then enter the cache key).
    pub uses_groups: bool,
}

inventory::collect!(Plugin);

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} `{}` v{}",
            self.kind().name(),
            self.name,
            self.version
        )
    }
}

impl Plugin {
    pub fn kind(&self) -> PluginKind {
        match self.build {
            Build::Loader { .. } => PluginKind::Loader,
            Build::Transform(_) => PluginKind::Transform,
            Build::Reducer(_) => PluginKind::Reducer,
            Build::Clusterer(_) => PluginKind::Clusterer,
            Build::Metric { .. } | Build::EmbeddingMetric(_) => PluginKind::Metric,
        }
    }

    /// The port type this plugin reads: its kind's, except that embedding metrics read
    /// embeddings.
    pub fn input_type(&self) -> Option<PortType> {
        match self.build {
            Build::EmbeddingMetric(_) => Some(PortType::Embedding),
            _ => self.kind().input_type(),
        }
    }

    /// Whether this is a metric of embeddings rather than of clusterings.
    pub fn scores_embeddings(&self) -> bool {
        matches!(self.build, Build::EmbeddingMetric(_))
    }

    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Every registered plugin, sorted by kind and name.
    pub fn all() -> Vec<&'static Plugin> {
        let mut all: Vec<&'static Plugin> = inventory::iter::<Plugin>.into_iter().collect();
        all.sort_by_key(|p| (p.kind(), p.name));
        all
    }

    /// The plugin used as a pipeline `op` (any kind but loader).
    pub fn op(name: &str) -> Option<&'static Plugin> {
        Plugin::all()
            .into_iter()
            .find(|p| p.name == name && p.kind() != PluginKind::Loader)
    }

    pub fn loader(name: &str) -> Option<&'static Plugin> {
        Plugin::all()
            .into_iter()
            .find(|p| p.name == name && p.kind() == PluginKind::Loader)
    }

    /// The loader registered for a file extension.
    pub fn loader_for_extension(ext: &str) -> Option<&'static Plugin> {
        let ext = ext.to_ascii_lowercase();
        Plugin::all().into_iter().find(|p| match p.build {
            Build::Loader { extensions, .. } => extensions.contains(&ext.as_str()),
            _ => false,
        })
    }

    pub fn op_names() -> Vec<&'static str> {
        Plugin::all()
            .into_iter()
            .filter(|p| p.kind() != PluginKind::Loader)
            .map(|p| p.name)
            .collect()
    }
}

/// Fails with an input error unless `input` has at least `min` samples.
pub fn require_samples(input: &Dataset, min: usize, what: &str) -> Result<()> {
    if input.n_samples() < min {
        return Err(Error::input(format!(
            "{what} needs at least {min} samples, the input has {}",
            input.n_samples()
        ))
        .hint("select more classes or check the data file"));
    }
    Ok(())
}

/// Fails with an input error naming the first non-finite value (row and column), so NaN never
/// reaches an optimiser. Loaders already reject or drop such rows; this guards library use.
pub fn require_finite(x: ndarray::ArrayView2<f64>) -> Result<()> {
    match x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((i, j), v)) => Err(Error::input(format!(
            "the input has a non-finite value ({v}) at row {i}, column {j}"
        ))
        .hint("set `nan_policy = \"drop_rows\"` in [data], or clean the data")),
        None => Ok(()),
    }
}
