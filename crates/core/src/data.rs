//! The values that flow along the pipeline's edges.

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Class id → class name, ordered by id.
pub type ClassMap = BTreeMap<i64, String>;

/// Extra results a step attaches to its output (explained variance, inertia, KL divergence, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Info {
    Int(i64),
    Float(f64),
    Floats(Vec<f64>),
    Text(String),
    Ints(Vec<i64>),
}

/// A samples × features matrix with its labels: what loaders, transforms and reducers produce.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// [n_samples, n_features], row i is sample i.
    pub x: Array2<f64>,
    /// True class id of each sample.
    pub labels: Vec<i64>,
    /// Sample ids (the data's own ids, or the row index in the data file).
    pub ids: Vec<String>,
    /// Names of the classes that may appear in `labels`.
    pub classes: ClassMap,
    /// One name per column: channel names, or `PC1`, `PC2`, … for embeddings.
    pub columns: Vec<String>,
    /// Step-specific results, e.g. `explained_variance_ratio` for PCA.
    pub info: BTreeMap<String, Info>,
}

impl Dataset {
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// The class name of a label, or the id itself when the class map does not name it.
    pub fn class_name(&self, label: i64) -> String {
        class_name(&self.classes, label)
    }

    /// A copy with the same samples and a new matrix (e.g. after a transform or reduction).
    pub fn with_matrix(&self, x: Array2<f64>, columns: Vec<String>) -> Dataset {
        Dataset {
            x,
            labels: self.labels.clone(),
            ids: self.ids.clone(),
            classes: self.classes.clone(),
            columns,
            info: BTreeMap::new(),
        }
    }
}

pub fn class_name(classes: &ClassMap, label: i64) -> String {
    classes
        .get(&label)
        .cloned()
        .unwrap_or_else(|| label.to_string())
}

/// A cluster assignment of every sample of the clusterer's input. Noise is -1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    pub assignments: Vec<i64>,
    /// Extra results: `inertia`, `n_iter`, …
    pub info: BTreeMap<String, Info>,
}

impl Clustering {
    pub fn new(assignments: Vec<i64>) -> Self {
        Clustering {
            assignments,
            info: BTreeMap::new(),
        }
    }

    /// Number of clusters, not counting noise.
    pub fn n_clusters(&self) -> usize {
        let mut ids: Vec<i64> = self
            .assignments
            .iter()
            .copied()
            .filter(|&c| c >= 0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    pub fn n_noise(&self) -> usize {
        self.assignments.iter().filter(|&&c| c < 0).count()
    }
}

/// The class × cluster contingency table: `(classes, clusters, counts)` with `counts[i][j]` the
/// number of samples of class `classes[i]` in cluster `clusters[j]`. Noise (-1) is a column of
/// its own, as in scikit-learn's `contingency_matrix`.
pub fn contingency(labels: &[i64], assignments: &[i64]) -> (Vec<i64>, Vec<i64>, Vec<Vec<usize>>) {
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut clusters: Vec<i64> = assignments.to_vec();
    clusters.sort_unstable();
    clusters.dedup();
    let mut counts = vec![vec![0; clusters.len()]; classes.len()];
    for (l, a) in labels.iter().zip(assignments) {
        let i = classes.binary_search(l).expect("listed");
        let j = clusters.binary_search(a).expect("listed");
        counts[i][j] += 1;
    }
    (classes, clusters, counts)
}

/// A metric's value: a number, or `None` with the reason it is undefined (never NaN).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub value: Option<f64>,
    pub undefined_reason: Option<String>,
    /// Further results (per-cluster values, …), shown in the report and results.json.
    pub details: BTreeMap<String, Info>,
}

impl MetricValue {
    pub fn defined(value: f64) -> Self {
        if value.is_finite() {
            MetricValue {
                value: Some(value),
                undefined_reason: None,
                details: BTreeMap::new(),
            }
        } else {
            MetricValue::undefined(format!("the computation gave {value}"))
        }
    }

    pub fn undefined(reason: impl Into<String>) -> Self {
        MetricValue {
            value: None,
            undefined_reason: Some(reason.into()),
            details: BTreeMap::new(),
        }
    }
}

/// What a step produces. Cached as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Artifact {
    Dataset(Dataset),
    Clustering(Clustering),
    Metric(MetricValue),
}

/// The type of a step's output port, checked on every edge before anything runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortType {
    /// Samples × features (loader and transform output).
    Matrix,
    /// A low-dimensional samples × components matrix (reducer output); usable as a matrix.
    Embedding,
    Clustering,
    Metric,
}

impl PortType {
    /// Whether a value of this type can feed an input that expects `wanted`.
    pub fn fits(self, wanted: PortType) -> bool {
        self == wanted || (self == PortType::Embedding && wanted == PortType::Matrix)
    }

    pub fn describe(self) -> &'static str {
        match self {
            PortType::Matrix => "a matrix (samples × features)",
            PortType::Embedding => "an embedding",
            PortType::Clustering => "a clustering",
            PortType::Metric => "a metric value",
        }
    }
}
