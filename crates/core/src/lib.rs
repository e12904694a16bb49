//! The core of attrclust: the data that flows between pipeline steps, the plugin traits that
//! produce it, the parameter schema every plugin declares, and the `inventory`-based registry
//! that collects plugins from every linked crate.
//!
//! This crate depends on no plugin and no pipeline machinery; plugin crates depend only on it.

pub mod data;
pub mod disjoint;
pub mod distance;
pub mod error;
pub mod parallel;
pub mod params;
pub mod plugin;
pub mod rng;
pub mod suggest;

pub use data::{Artifact, ClassMap, Clustering, Dataset, Info, MetricValue, PortType};
pub use error::{Error, ErrorKind, Result};
pub use params::{ParamSpec, ParamType, ParamValue, Params};
pub use plugin::{
    Build, Clusterer, Context, EmbeddingMetric, Loader, Metric, MetricNeeds, Plugin, PluginKind,
    Reducer, Transform,
};

// Re-exported so plugin crates register with the same `inventory` version as the registry.
pub use inventory;
