//! Metrics that score a clustering.
//!
//! - Internal (read the features the clustering was computed on): `silhouette`,
//!   `calinski_harabasz`, `davies_bouldin`.
//! - External (read the true labels; `level = "group"` scores against the manifest's
//!   `[groups]` instead of the classes): `purity`, `inverse_purity`, `ari`, `ami`, `nmi`,
//!   `homogeneity`, `completeness`, `v_measure`, `fowlkes_mallows`.
//!
//! Every metric but the purities is scikit-learn 1.9.1's, special cases included (tested to
//! 1e-9 against `tests/fixtures/metrics_reference.json`). Noise (-1) is one more cluster label,
//! exactly as scikit-learn treats DBSCAN/HDBSCAN labels: an all-noise clustering is a single
//! cluster. Where scikit-learn returns a special value (ARI/AMI/NMI = 1.0 when both labelings
//! are one cluster, CH = 1.0 with zero within-cluster dispersion, …) we return that value; where
//! it raises (CH/DB/silhouette with fewer than 2 or more than n − 1 clusters, V-measure dividing
//! by zero) the metric is undefined with a reason. Never NaN.
//!
//! Distances are exact differences; scikit-learn's Davies–Bouldin expands ‖x − c‖² as
//! ‖x‖² − 2x·c + ‖c‖², which leaves about √ε·‖x‖ (≈ 1e-8·‖x‖) where a sample sits on its centroid
//! (singleton clusters). There we give the exact value and may differ from scikit-learn by that.
//!
//! Metrics of embeddings (read a reducer's output and its input): `trustworthiness`.
//!
//! The math lives in plain functions ([`external`], [`internal`], [`silhouette_samples`],
//! [`purity`]); the plugins are thin wrappers.

use attrclust_core::data::contingency;
use attrclust_core::distance::Metric as Distance;
use attrclust_core::parallel::map_chunks;
use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, Clustering, Context, Dataset, EmbeddingMetric, Info, Metric, MetricNeeds, MetricValue,
    ParamSpec, ParamType as T, Params, Plugin, Result,
};
use ndarray::ArrayView2;

pub mod external;
pub mod internal;
pub mod trustworthiness;

pub use trustworthiness::trustworthiness;

/// Neumaier-compensated sum in iteration order: error O(ε) rather than O(n·ε), so long sums
/// (entropy over 100k singleton clusters, dispersions over n samples) stay far inside the 1e-9
/// agreement with scikit-learn's pairwise sums; sequential, so independent of the thread count.
pub(crate) fn accurate_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        compensation += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    sum + compensation
}

static SILHOUETTE_PARAMS: &[ParamSpec] = &[ParamSpec::new(
    "metric",
    T::Choice(&["euclidean", "cosine"]),
    D::Str("euclidean"),
    "Distance between samples.",
)];

attrclust_core::inventory::submit! {
    Plugin {
        name: "silhouette",
        version: "1",
        summary: "Mean silhouette coefficient (exact, streamed in blocks; scikit-learn silhouette_score)",
        params: SILHOUETTE_PARAMS,
        build: Build::Metric {
            build: |p| Ok(Box::new(Silhouette { cosine: p.str("metric")? == "cosine" })),
            needs: MetricNeeds { labels: false, features: true },
        },
        uses_seed: false,
        uses_groups: false,
    }
}

/// The `level` parameter of every external metric.
const LEVEL: ParamSpec = ParamSpec::new(
    "level",
    T::Choice(&["class", "group"]),
    D::Str("class"),
    "Score against classes, or against the manifest's [groups] (every class must be in one group).",
);

static PURITY_PARAMS: &[ParamSpec] = &[LEVEL];

attrclust_core::inventory::submit! {
    Plugin {
        name: "purity",
        version: "1",
        summary: "Purity: share of samples in their cluster's majority class (or group)",
        params: PURITY_PARAMS,
        build: Build::Metric {
            build: |p| Ok(Box::new(Purity { by_group: p.str("level")? == "group" })),
            needs: MetricNeeds { labels: true, features: false },
        },
        uses_seed: false,
        uses_groups: true,
    }
}

static TRUSTWORTHINESS_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "n_neighbors",
        T::Int,
        D::Int(10),
        "Neighbourhood size k; must be < n_samples / 2.",
    )
    .min(1.0),
    ParamSpec::new(
        "metric",
        T::Choice(&["euclidean", "cosine", "manhattan"]),
        D::Str("euclidean"),
        "Distance in the original space (the embedding is always euclidean).",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "trustworthiness",
        version: "1",
        summary: "How well an embedding keeps neighbourhoods (scikit-learn trustworthiness; exact, O(n) memory)",
        params: TRUSTWORTHINESS_PARAMS,
        build: Build::EmbeddingMetric(|p| {
            Ok(Box::new(Trustworthiness {
                k: p.int("n_neighbors")? as usize,
                metric: Distance::from_name(p.str("metric")?),
            }))
        }),
        uses_seed: false,
        uses_groups: false,
    }
}

struct Trustworthiness {
    k: usize,
    metric: Distance,
}

impl EmbeddingMetric for Trustworthiness {
    fn compute(&self, embedding: &Dataset, original: &Dataset, _: &Context) -> Result<MetricValue> {
        let n = embedding.n_samples();
        if original.n_samples() != n {
            return Err(attrclust_core::Error::run(format!(
                "the embedding has {n} rows for {} samples",
                original.n_samples()
            ))
            .hint("the reducer that made it dropped or added rows: a bug in that plugin"));
        }
        if let Some(reason) = trustworthiness::undefined_reason(n, self.k) {
            return Ok(MetricValue::undefined(reason));
        }
        Ok(MetricValue::defined(trustworthiness::trustworthiness_with(
            original.x.view(),
            embedding.x.view(),
            self.k,
            self.metric,
        )))
    }
}

pub struct Silhouette {
    pub cosine: bool,
}

/// Query rows per block: memory is O(block · k), never n × n.
const BLOCK: usize = 64;

/// Per-sample silhouette values (scikit-learn's `silhouette_samples`), or why it is undefined.
pub fn silhouette_samples(
    x: ArrayView2<f64>,
    assignments: &[i64],
    cosine: bool,
) -> std::result::Result<Vec<f64>, String> {
    let n = x.nrows();
    let mut ids: Vec<i64> = assignments.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let k = ids.len();
    if k < 2 || k > n.saturating_sub(1) {
        return Err(format!(
            "the silhouette needs 2 to n_samples − 1 clusters; there are {k} for {n} samples"
        ));
    }
    let cluster: Vec<usize> = assignments
        .iter()
        .map(|a| ids.binary_search(a).expect("listed"))
        .collect();
    let mut sizes = vec![0usize; k];
    for &c in &cluster {
        sizes[c] += 1;
    }
    // Cosine distance = 1 − cos: work on unit rows (zero rows stay zero, distance 1).
    let metric = if cosine {
        Distance::Cosine
    } else {
        Distance::Euclidean
    };
    let rows = metric.rows(x);
    let dist = |a: &[f64], b: &[f64]| metric.distance(a, b);
    let sums = cluster_distance_sums(&rows, &cluster, k, &dist);
    let values: Vec<f64> = (0..n)
        .map(|i| {
            let own = cluster[i];
            if sizes[own] == 1 {
                return 0.0; // scikit-learn: a sample alone in its cluster scores 0
            }
            let row = &sums[i * k..(i + 1) * k];
            let a = row[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own)
                .map(|c| row[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        })
        .collect();
    Ok(values)
}

/// Partial sums per group of row blocks; fixed, so results never depend on the thread count.
const GROUPS: usize = 16;
/// Above this many partial-sum entries (groups × n × k) the symmetric scheme would use too much
/// memory, and each distance is computed twice instead.
const MAX_PARTIAL_ENTRIES: usize = 1 << 27;

/// `sums[i * k + c]` = Σ distance from sample i to the samples of cluster c (i itself excluded).
///
/// Exact distances, each pair computed once: row blocks of BLOCK samples stay in L1 while the rows
/// after them stream past, and each distance is added to both ends. Blocks are dealt round-robin
/// to GROUPS fixed groups with their own n × k partial sums, added up in group order.
fn cluster_distance_sums<F: Fn(&[f64], &[f64]) -> f64 + Sync>(
    rows: &[Vec<f64>],
    cluster: &[usize],
    k: usize,
    dist: &F,
) -> Vec<f64> {
    let n = rows.len();
    if GROUPS * n * k > MAX_PARTIAL_ENTRIES {
        // Each query block sums over every row: twice the distances, O(BLOCK · k) memory.
        return map_chunks(n, BLOCK, |start, end| {
            let mut sums = vec![0.0; (end - start) * k];
            for (j, rj) in rows.iter().enumerate() {
                for i in start..end {
                    if i != j {
                        sums[(i - start) * k + cluster[j]] += dist(&rows[i], rj);
                    }
                }
            }
            sums
        })
        .concat();
    }
    let n_blocks = n.div_ceil(BLOCK);
    let partials = map_chunks(GROUPS, 1, |g, _| {
        let mut sums = vec![0.0; n * k];
        for block in (g..n_blocks).step_by(GROUPS) {
            let (start, end) = (block * BLOCK, ((block + 1) * BLOCK).min(n));
            for j in start + 1..n {
                let (rj, cj) = (&rows[j], cluster[j]);
                for i in start..end.min(j) {
                    let d = dist(&rows[i], rj);
                    sums[i * k + cj] += d;
                    sums[j * k + cluster[i]] += d;
                }
            }
        }
        sums
    });
    let mut total = vec![0.0; n * k];
    for partial in partials {
        for (t, p) in total.iter_mut().zip(partial) {
            *t += p;
        }
    }
    total
}

impl Metric for Silhouette {
    fn compute(&self, c: &Clustering, data: &Dataset, _ctx: &Context) -> Result<MetricValue> {
        let samples = match silhouette_samples(data.x.view(), &c.assignments, self.cosine) {
            Ok(s) => s,
            Err(why) => return Ok(MetricValue::undefined(why)),
        };
        let mut value = MetricValue::defined(samples.iter().sum::<f64>() / samples.len() as f64);
        // Mean per cluster (noise, -1, is a cluster here as in the mean), and every sample's
        // value for the report's silhouette plot.
        let mut per: std::collections::BTreeMap<i64, (f64, usize)> = Default::default();
        for (&k, &v) in c.assignments.iter().zip(&samples) {
            let e = per.entry(k).or_default();
            e.0 += v;
            e.1 += 1;
        }
        value.details.insert(
            "cluster_ids".into(),
            Info::Ints(per.keys().copied().collect()),
        );
        value.details.insert(
            "per_cluster".into(),
            Info::Floats(per.values().map(|(s, n)| s / *n as f64).collect()),
        );
        value
            .details
            .insert("per_sample".into(), Info::Floats(samples));
        Ok(value)
    }
}

pub struct Purity {
    pub by_group: bool,
}

/// Purity = Σ_clusters max_class |cluster ∩ class| / n.
pub fn purity(labels: &[i64], assignments: &[i64]) -> Option<f64> {
    if labels.is_empty() {
        return None;
    }
    let (_, _, counts) = contingency(labels, assignments);
    let n_clusters = counts.first().map_or(0, |row| row.len());
    let majority: usize = (0..n_clusters)
        .map(|j| counts.iter().map(|row| row[j]).max().unwrap_or(0))
        .sum();
    Some(majority as f64 / labels.len() as f64)
}

/// Each sample's group index (groups in name order), for group-level external metrics.
pub fn group_labels(data: &Dataset, ctx: &Context) -> Result<Vec<i64>> {
    let mut of_class = std::collections::BTreeMap::new();
    for (g, (name, members)) in ctx.groups.iter().enumerate() {
        for member in members {
            if let Some(previous) = of_class.insert(member.as_str(), (g, name)) {
                return Err(attrclust_core::Error::input(format!(
                    "class `{member}` is in groups `{}` and `{name}`: group-level scores need disjoint groups",
                    previous.1
                )));
            }
        }
    }
    data.labels
        .iter()
        .map(|&l| {
            let name = data.class_name(l);
            of_class
                .get(name.as_str())
                .map(|(g, _)| *g as i64)
                .ok_or_else(|| {
                    attrclust_core::Error::input(format!("class `{name}` is in no group"))
                        .hint("add it to a group in [groups], or select it away before clustering")
                })
        })
        .collect()
}

impl Metric for Purity {
    fn compute(&self, c: &Clustering, data: &Dataset, ctx: &Context) -> Result<MetricValue> {
        let labels = if self.by_group {
            group_labels(data, ctx)?
        } else {
            data.labels.clone()
        };
        let Some(p) = purity(&labels, &c.assignments) else {
            return Ok(MetricValue::undefined("no samples"));
        };
        let mut value = MetricValue::defined(p);
        let (_, clusters, counts) = contingency(&labels, &c.assignments);
        let per_cluster: Vec<f64> = (0..clusters.len())
            .map(|j| {
                let column = counts.iter().map(|row| row[j]);
                let size: usize = column.clone().sum();
                column.max().unwrap_or(0) as f64 / size.max(1) as f64
            })
            .collect();
        value
            .details
            .insert("cluster_ids".into(), Info::Ints(clusters));
        value
            .details
            .insert("per_cluster".into(), Info::Floats(per_cluster));
        Ok(value)
    }
}

/// An external score, computed by the functions in [`external`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExternalScore {
    InversePurity,
    AdjustedRand,
    AdjustedMutualInfo,
    NormalizedMutualInfo,
    Homogeneity,
    Completeness,
    VMeasure { beta: f64 },
    FowlkesMallows,
}

impl ExternalScore {
    /// The score of `pred` against `labels`, or why it is undefined.
    pub fn score(self, labels: &[i64], pred: &[i64]) -> std::result::Result<f64, String> {
        use external as e;
        match self {
            ExternalScore::InversePurity => e::inverse_purity(labels, pred),
            ExternalScore::AdjustedRand => e::adjusted_rand(labels, pred),
            ExternalScore::AdjustedMutualInfo => e::adjusted_mutual_info(labels, pred),
            ExternalScore::NormalizedMutualInfo => e::normalized_mutual_info(labels, pred),
            ExternalScore::Homogeneity => e::homogeneity(labels, pred),
            ExternalScore::Completeness => e::completeness(labels, pred),
            ExternalScore::VMeasure { beta } => e::v_measure(labels, pred, beta),
            ExternalScore::FowlkesMallows => e::fowlkes_mallows(labels, pred),
        }
    }
}

/// The plugin behind every external metric but purity: a score, at class or group level.
pub struct ExternalMetric {
    pub score: ExternalScore,
    pub by_group: bool,
}

impl Metric for ExternalMetric {
    fn compute(&self, c: &Clustering, data: &Dataset, ctx: &Context) -> Result<MetricValue> {
        if c.assignments.len() != data.labels.len() {
            // A pipeline bug, not a property of the clustering: fail the run loudly.
            return Err(attrclust_core::Error::run(format!(
                "the clustering has {} samples, its data {}",
                c.assignments.len(),
                data.labels.len()
            )));
        }
        let labels = if self.by_group {
            group_labels(data, ctx)?
        } else {
            data.labels.clone()
        };
        Ok(match self.score.score(&labels, &c.assignments) {
            Ok(v) => MetricValue::defined(v),
            Err(why) => MetricValue::undefined(why),
        })
    }
}

fn external_metric(p: &Params, score: ExternalScore) -> Result<Box<dyn Metric>> {
    Ok(Box::new(ExternalMetric {
        score,
        by_group: p.str("level")? == "group",
    }))
}

static LEVEL_PARAMS: &[ParamSpec] = &[LEVEL];

static V_MEASURE_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "beta",
        T::Float,
        D::Float(1.0),
        "Weight of completeness against homogeneity: > 1 favours completeness, < 1 homogeneity.",
    )
    .min(0.0),
    LEVEL,
];

/// Registers an external metric: reads the labels (and, with `level = "group"`, the groups).
macro_rules! external_plugin {
    ($name:literal, $summary:literal, $params:expr, $build:expr) => {
        attrclust_core::inventory::submit! {
            Plugin {
                name: $name,
                version: "1",
                summary: $summary,
                params: $params,
                build: Build::Metric {
                    build: $build,
                    needs: MetricNeeds { labels: true, features: false },
                },
                uses_seed: false,
                uses_groups: true,
            }
        }
    };
}

external_plugin!(
    "inverse_purity",
    "Inverse purity: share of samples in their class's majority cluster",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::InversePurity)
);
external_plugin!(
    "ari",
    "Adjusted Rand index (scikit-learn adjusted_rand_score)",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::AdjustedRand)
);
external_plugin!(
    "ami",
    "Adjusted mutual information, arithmetic mean (scikit-learn adjusted_mutual_info_score)",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::AdjustedMutualInfo)
);
external_plugin!(
    "nmi",
    "Normalized mutual information, arithmetic mean (scikit-learn normalized_mutual_info_score)",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::NormalizedMutualInfo)
);
external_plugin!(
    "homogeneity",
    "Homogeneity: each cluster holds one class (scikit-learn homogeneity_score)",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::Homogeneity)
);
external_plugin!(
    "completeness",
    "Completeness: each class lies in one cluster (scikit-learn completeness_score)",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::Completeness)
);
external_plugin!(
    "v_measure",
    "V-measure: weighted harmonic mean of homogeneity and completeness (scikit-learn v_measure_score)",
    V_MEASURE_PARAMS,
    |p| external_metric(
        p,
        ExternalScore::VMeasure {
            beta: p.float("beta")?
        }
    )
);
external_plugin!(
    "fowlkes_mallows",
    "Fowlkes-Mallows index (scikit-learn fowlkes_mallows_score)",
    LEVEL_PARAMS,
    |p| external_metric(p, ExternalScore::FowlkesMallows)
);

/// The plugin behind an internal metric on the features: one of the functions in [`internal`].
pub struct InternalMetric(pub fn(ArrayView2<f64>, &[i64]) -> std::result::Result<f64, String>);

impl Metric for InternalMetric {
    fn compute(&self, c: &Clustering, data: &Dataset, _ctx: &Context) -> Result<MetricValue> {
        Ok(match (self.0)(data.x.view(), &c.assignments) {
            Ok(v) => MetricValue::defined(v),
            Err(why) => MetricValue::undefined(why),
        })
    }
}

attrclust_core::inventory::submit! {
    Plugin {
        name: "calinski_harabasz",
        version: "1",
        summary: "Calinski-Harabasz index: between- over within-cluster dispersion (scikit-learn calinski_harabasz_score)",
        params: &[],
        build: Build::Metric {
            build: |_| Ok(Box::new(InternalMetric(internal::calinski_harabasz))),
            needs: MetricNeeds { labels: false, features: true },
        },
        uses_seed: false,
        uses_groups: false,
    }
}

attrclust_core::inventory::submit! {
    Plugin {
        name: "davies_bouldin",
        version: "1",
        summary: "Davies-Bouldin index: mean worst cluster similarity, lower is better (scikit-learn davies_bouldin_score)",
        params: &[],
        build: Build::Metric {
            build: |_| Ok(Box::new(InternalMetric(internal::davies_bouldin))),
            needs: MetricNeeds { labels: false, features: true },
        },
        uses_seed: false,
        uses_groups: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_testdata::{ints, matrix, sklearn_reference as reference};
    use ndarray::Array2;

    #[test]
    fn silhouette_matches_scikit_learn_on_every_label_set() {
        let r = reference();
        let x = matrix(&r["X"]);
        for (name, entry) in r["metrics"].as_object().unwrap() {
            let labels = ints(&entry["labels"]);
            for (key, cosine) in [("silhouette_euclidean", false), ("silhouette_cosine", true)] {
                let ours = silhouette_samples(x.view(), &labels, cosine);
                match entry[key].as_f64() {
                    Some(want) => {
                        let s = ours.unwrap_or_else(|e| panic!("{name}: {e}"));
                        let got = s.iter().sum::<f64>() / s.len() as f64;
                        assert!((got - want).abs() < 1e-9, "{name} {key}: {got} vs {want}");
                    }
                    None => assert!(ours.is_err(), "{name} {key} should be undefined"),
                }
            }
            if let Some(samples) = entry["silhouette_samples_euclidean"].as_array() {
                let s = silhouette_samples(x.view(), &labels, false).unwrap();
                for (i, want) in samples.iter().enumerate() {
                    assert!(
                        (s[i] - want.as_f64().unwrap()).abs() < 1e-9,
                        "{name} sample {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn purity_matches_scikit_learn_contingency() {
        let r = reference();
        let truth = ints(&r["true_labels"]);
        for (name, entry) in r["metrics"].as_object().unwrap() {
            let got = purity(&truth, &ints(&entry["labels"])).unwrap();
            let want = entry["purity"].as_f64().unwrap();
            assert!((got - want).abs() < 1e-12, "{name}: {got} vs {want}");
        }
        assert_eq!(purity(&[], &[]), None);
    }

    #[test]
    fn group_level_purity_scores_against_families() {
        let data = Dataset {
            x: Array2::zeros((4, 1)),
            labels: vec![0, 1, 2, 2],
            ids: (0..4).map(|i| i.to_string()).collect(),
            classes: [
                (0, "hue".to_string()),
                (1, "temp".to_string()),
                (2, "exo".to_string()),
            ]
            .into(),
            columns: vec!["a".into()],
            info: Default::default(),
        };
        // Clusters {hue, temp} and {exo, exo}: class purity 3/4, group purity 1.
        let c = Clustering::new(vec![0, 0, 1, 1]);
        let groups: std::collections::BTreeMap<String, Vec<String>> = [
            (
                "color".to_string(),
                vec!["hue".to_string(), "temp".to_string()],
            ),
            ("patch".to_string(), vec!["exo".to_string()]),
        ]
        .into();
        let ctx = Context::new("p", 0, &groups);
        let class = Purity { by_group: false }.compute(&c, &data, &ctx).unwrap();
        let group = Purity { by_group: true }.compute(&c, &data, &ctx).unwrap();
        assert_eq!(class.value, Some(0.75));
        assert_eq!(group.value, Some(1.0));
        let partial: std::collections::BTreeMap<String, Vec<String>> =
            [("color".to_string(), vec!["hue".to_string()])].into();
        let ctx = Context::new("p", 0, &partial);
        let err = Purity { by_group: true }
            .compute(&c, &data, &ctx)
            .unwrap_err();
        assert!(err.message.contains("class `temp` is in no group"), "{err}");
    }

    #[test]
    fn undefined_silhouette_is_null_with_a_reason() {
        let x = Array2::from_shape_fn((5, 2), |(i, j)| (i * 2 + j) as f64);
        let c = Clustering::new(vec![0; 5]);
        let data = Dataset {
            x,
            labels: vec![0; 5],
            ids: (0..5).map(|i| i.to_string()).collect(),
            classes: [(0, "a".to_string())].into(),
            columns: vec!["a".into(), "b".into()],
            info: Default::default(),
        };
        let v = Context::detached("t", 0, |ctx| {
            Silhouette { cosine: false }.compute(&c, &data, ctx)
        })
        .unwrap();
        assert_eq!(v.value, None);
        assert!(v.undefined_reason.unwrap().contains("2 to n_samples"));
    }
}
