//! `agglomerative`: hierarchical clustering with ward, complete, average or single linkage,
//! cut at `n_clusters` or at `distance_threshold`, keeping the whole merge tree (for the
//! report's dendrogram) in the result.
//!
//! The merge tree follows SciPy's `linkage` conventions, which scikit-learn uses: merges sorted
//! by distance, leaves numbered 0..n, the cluster made by merge i numbered n + i, Ward distances
//! as `sqrt(2|A||B|/(|A|+|B|)) · ‖c_A − c_B‖`. Algorithms, chosen for memory:
//! - ward: nearest-neighbour chain on centroids — O(n·d) memory, O(n²·d) time (no n × n matrix;
//!   kodama needs 1.5 GB for 20,000 points);
//! - single: Prim's minimum spanning tree — O(n) memory, O(n²·d) time;
//! - complete, average: nearest-neighbour chain on a condensed distance matrix updated by
//!   Lance–Williams — O(n²) memory (these linkages need every pairwise distance; the step
//!   refuses inputs whose matrix would exceed 8 GB).
//!
//! Clusters are numbered by their first sample, so labels read in data order.

use attrclust_core::disjoint::find;
use attrclust_core::parallel::map_chunks;
use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, Clusterer, Clustering, Context, Dataset, Error, Info, ParamSpec, ParamType as T,
    ParamValue, Params, Plugin, Result,
};
use ndarray::ArrayView2;

pub use attrclust_core::distance::Metric;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "n_clusters",
        T::Int,
        D::Absent,
        "Number of clusters. Default: 2, unless `distance_threshold` is given.",
    )
    .min(1.0),
    ParamSpec::new(
        "distance_threshold",
        T::Float,
        D::Absent,
        "Cut the tree where merges reach this distance instead (as scikit-learn: n_clusters = #merges ≥ threshold + 1).",
    )
    .min(0.0),
    ParamSpec::new(
        "linkage",
        T::Choice(&["ward", "complete", "average", "single"]),
        D::Str("ward"),
        "Distance between clusters.",
    ),
    ParamSpec::new(
        "metric",
        T::Choice(&["euclidean", "manhattan", "cosine"]),
        D::Str("euclidean"),
        "Distance between samples (ward needs euclidean).",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "agglomerative",
        version: "1",
        summary: "Agglomerative clustering (ward, complete, average, single) with the merge tree kept",
        params: PARAMS,
        build: Build::Clusterer(|p| Ok(Box::new(Agglomerative::from_params(p)?))),
        uses_seed: false,
        uses_groups: false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Linkage {
    Ward,
    Complete,
    Average,
    Single,
}

/// One merge, SciPy style: clusters `a` < `b` joined at `distance` into a cluster of `size`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Merge {
    pub a: usize,
    pub b: usize,
    pub distance: f64,
    pub size: usize,
}

#[derive(Clone, Debug)]
pub enum Cut {
    Clusters(usize),
    Threshold(f64),
}

pub struct Agglomerative {
    pub cut: Cut,
    pub linkage: Linkage,
    pub metric: Metric,
}

/// Largest condensed matrix complete/average linkage may allocate.
const MAX_MATRIX_BYTES: usize = 8 << 30;

impl Agglomerative {
    fn from_params(p: &Params) -> Result<Self> {
        let linkage = match p.str("linkage")? {
            "complete" => Linkage::Complete,
            "average" => Linkage::Average,
            "single" => Linkage::Single,
            _ => Linkage::Ward,
        };
        let metric = Metric::from_name(p.str("metric")?);
        if linkage == Linkage::Ward && metric != Metric::Euclidean {
            return Err(Error::input("ward linkage needs metric = \"euclidean\"")
                .hint("use linkage = \"average\" or \"complete\" with other metrics"));
        }
        let cut = match (p.get("n_clusters"), p.get("distance_threshold")) {
            (Some(_), Some(_)) => {
                return Err(Error::input(
                    "give either `n_clusters` or `distance_threshold`, not both",
                ));
            }
            (_, Some(ParamValue::Float(t))) => Cut::Threshold(*t),
            (_, Some(ParamValue::Int(t))) => Cut::Threshold(*t as f64),
            (Some(_), None) => Cut::Clusters(p.usize("n_clusters")?),
            (None, _) => Cut::Clusters(2),
        };
        Ok(Agglomerative {
            cut,
            linkage,
            metric,
        })
    }
}

/// Index (and value) of the smallest entry of `key(j)` over `candidates`, ties to the lowest
/// index; parallel in fixed chunks so the answer never depends on the thread count.
fn argmin(candidates: &[usize], key: impl Fn(usize) -> f64 + Sync) -> Option<(usize, f64)> {
    let best = |a: Option<(usize, f64)>, b: Option<(usize, f64)>| match (a, b) {
        (Some(x), Some(y)) => Some(if y.1 < x.1 || (y.1 == x.1 && y.0 < x.0) {
            y
        } else {
            x
        }),
        (x, None) => x,
        (None, y) => y,
    };
    map_chunks(candidates.len(), 1024, |s, e| {
        candidates[s..e]
            .iter()
            .map(|&j| Some((j, key(j))))
            .fold(None, best)
    })
    .into_iter()
    .fold(None, best)
}

/// The merge tree of `x`, SciPy style (sorted by distance).
pub fn linkage_tree(x: ArrayView2<f64>, linkage: Linkage, metric: Metric) -> Result<Vec<Merge>> {
    let n = x.nrows();
    let data = metric.rows(x);
    let raw = match linkage {
        Linkage::Single => single_linkage(&data, metric),
        Linkage::Ward => ward_chain(&data),
        Linkage::Complete | Linkage::Average => {
            let bytes = n * n.saturating_sub(1) / 2 * 8;
            if bytes > MAX_MATRIX_BYTES {
                return Err(Error::input(format!(
                    "{linkage:?} linkage on {n} samples needs a {:.1} GB distance matrix",
                    bytes as f64 / 1e9
                ))
                .hint(
                    "use linkage = \"ward\" or \"single\" (no matrix), or select fewer samples",
                ));
            }
            matrix_chain(&data, linkage, metric)
        }
    };
    Ok(relabel(n, raw))
}

/// Merges between sample-slot ids in any order → SciPy's numbering, sorted by distance
/// (stable, as SciPy), with union–find to name the merged clusters.
fn relabel(n: usize, mut raw: Vec<(usize, usize, f64)>) -> Vec<Merge> {
    raw.sort_by(|a, b| a.2.total_cmp(&b.2));
    let mut parent: Vec<usize> = (0..n).collect();
    let mut cluster_id: Vec<usize> = (0..n).collect();
    let mut size = vec![1usize; n];
    raw.into_iter()
        .enumerate()
        .map(|(k, (p, q, distance))| {
            let (rp, rq) = (find(&mut parent, p), find(&mut parent, q));
            let (a, b) = (
                cluster_id[rp].min(cluster_id[rq]),
                cluster_id[rp].max(cluster_id[rq]),
            );
            parent[rq] = rp;
            size[rp] += size[rq];
            cluster_id[rp] = n + k;
            Merge {
                a,
                b,
                distance,
                size: size[rp],
            }
        })
        .collect()
}

/// Prim's algorithm; the sorted MST edges are the single-linkage merges.
fn single_linkage(data: &[Vec<f64>], metric: Metric) -> Vec<(usize, usize, f64)> {
    let n = data.len();
    let mut best = vec![f64::INFINITY; n];
    let mut from = vec![0usize; n];
    let mut outside: Vec<usize> = (1..n).collect();
    let mut current = 0;
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    while !outside.is_empty() {
        let updated: Vec<(f64, usize)> = map_chunks(outside.len(), 1024, |s, e| {
            outside[s..e]
                .iter()
                .map(|&j| {
                    let d = metric.distance(&data[current], &data[j]);
                    if d < best[j] {
                        (d, current)
                    } else {
                        (best[j], from[j])
                    }
                })
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect();
        for (&j, &(d, f)) in outside.iter().zip(&updated) {
            best[j] = d;
            from[j] = f;
        }
        let (pos, _) = (0..outside.len()).map(|k| (k, best[outside[k]])).fold(
            (0, f64::INFINITY),
            |acc, (k, d)| if d < acc.1 { (k, d) } else { acc },
        );
        let next = outside.remove(pos);
        edges.push((from[next], next, best[next]));
        current = next;
    }
    edges
}

/// Nearest-neighbour chain for Ward on centroids and sizes: no pairwise matrix.
fn ward_chain(data: &[Vec<f64>]) -> Vec<(usize, usize, f64)> {
    let n = data.len();
    let mut centroid: Vec<Vec<f64>> = data.to_vec();
    let mut size = vec![1usize; n];
    let mut active: Vec<usize> = (0..n).collect();
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let ward2 = |centroid: &[Vec<f64>], size: &[usize], a: usize, b: usize| {
        let (na, nb) = (size[a] as f64, size[b] as f64);
        let d2 = attrclust_core::distance::sq_euclidean(&centroid[a], &centroid[b]);
        2.0 * na * nb / (na + nb) * d2
    };
    let mut chain: Vec<usize> = Vec::new();
    while active.len() > 1 {
        if chain.is_empty() {
            chain.push(active[0]);
        }
        let a = *chain.last().expect("non-empty");
        let others: Vec<usize> = active.iter().copied().filter(|&c| c != a).collect();
        let (mut b, mut d) =
            argmin(&others, |c| ward2(&centroid, &size, a, c)).expect("two active");
        // Prefer the previous chain element on ties, or the chain can cycle.
        if chain.len() >= 2 {
            let prev = chain[chain.len() - 2];
            let dp = ward2(&centroid, &size, a, prev);
            if dp <= d {
                b = prev;
                d = dp;
            }
        }
        if chain.len() >= 2 && b == chain[chain.len() - 2] {
            chain.pop();
            chain.pop();
            let (na, nb) = (size[a] as f64, size[b] as f64);
            let merged: Vec<f64> = centroid[a]
                .iter()
                .zip(&centroid[b])
                .map(|(p, q)| (na * p + nb * q) / (na + nb))
                .collect();
            let (keep, gone) = (a.min(b), a.max(b));
            centroid[keep] = merged;
            size[keep] += size[gone];
            active.retain(|&c| c != gone);
            merges.push((keep, gone, d.sqrt()));
        } else {
            chain.push(b);
        }
    }
    merges
}

/// Nearest-neighbour chain on a condensed matrix with Lance–Williams updates.
fn matrix_chain(data: &[Vec<f64>], linkage: Linkage, metric: Metric) -> Vec<(usize, usize, f64)> {
    let n = data.len();
    let idx = |i: usize, j: usize| {
        let (i, j) = (i.min(j), i.max(j));
        i * n - i * (i + 1) / 2 + (j - i - 1)
    };
    let mut dist: Vec<f64> = map_chunks(n, 64, |s, e| {
        let mut out = Vec::new();
        for i in s..e {
            for j in i + 1..n {
                out.push(metric.distance(&data[i], &data[j]));
            }
        }
        out
    })
    .into_iter()
    .flatten()
    .collect();
    let mut size = vec![1usize; n];
    let mut active: Vec<usize> = (0..n).collect();
    let mut chain: Vec<usize> = Vec::new();
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    while active.len() > 1 {
        if chain.is_empty() {
            chain.push(active[0]);
        }
        let a = *chain.last().expect("non-empty");
        let others: Vec<usize> = active.iter().copied().filter(|&c| c != a).collect();
        let (mut b, mut d) = argmin(&others, |c| dist[idx(a, c)]).expect("two active");
        if chain.len() >= 2 {
            let prev = chain[chain.len() - 2];
            if dist[idx(a, prev)] <= d {
                b = prev;
                d = dist[idx(a, prev)];
            }
        }
        if chain.len() >= 2 && b == chain[chain.len() - 2] {
            chain.pop();
            chain.pop();
            let (keep, gone) = (a.min(b), a.max(b));
            let (sk, sg) = (size[keep] as f64, size[gone] as f64);
            for &c in &active {
                if c == keep || c == gone {
                    continue;
                }
                let (dk, dg) = (dist[idx(c, keep)], dist[idx(c, gone)]);
                dist[idx(c, keep)] = match linkage {
                    Linkage::Complete => dk.max(dg),
                    _ => (sk * dk + sg * dg) / (sk + sg),
                };
            }
            size[keep] += size[gone];
            active.retain(|&c| c != gone);
            merges.push((keep, gone, d));
        } else {
            chain.push(b);
        }
    }
    merges
}

/// Labels after cutting the tree into `k` clusters, numbered by first sample.
pub fn cut_tree(n: usize, merges: &[Merge], k: usize) -> Vec<i64> {
    let mut parent: Vec<usize> = (0..2 * n).collect();
    for (i, m) in merges.iter().take(n.saturating_sub(k)).enumerate() {
        let node = n + i;
        let (ra, rb) = (find(&mut parent, m.a), find(&mut parent, m.b));
        parent[ra] = node;
        parent[rb] = node;
    }
    let mut label_of_root = std::collections::HashMap::new();
    (0..n)
        .map(|i| {
            let root = find(&mut parent, i);
            let next = label_of_root.len() as i64;
            *label_of_root.entry(root).or_insert(next)
        })
        .collect()
}

impl Clusterer for Agglomerative {
    fn fit(&self, input: &Dataset, _ctx: &Context) -> Result<Clustering> {
        let n = input.n_samples();
        if n < 2 {
            return Err(Error::input(format!(
                "agglomerative clustering needs at least 2 samples, the input has {n}"
            )));
        }
        let k = match self.cut {
            Cut::Clusters(k) if k > n => {
                return Err(
                    Error::input(format!("n_clusters = {k} exceeds the {n} samples"))
                        .hint(format!("use n_clusters ≤ {n}")),
                );
            }
            Cut::Clusters(k) => Some(k),
            Cut::Threshold(_) => None,
        };
        let merges = linkage_tree(input.x.view(), self.linkage, self.metric)?;
        let k = k.unwrap_or_else(|| match self.cut {
            Cut::Threshold(t) => merges.iter().filter(|m| m.distance >= t).count() + 1,
            Cut::Clusters(k) => k,
        });
        let mut c = Clustering::new(cut_tree(n, &merges, k));
        c.info.insert(
            "merge_a".into(),
            Info::Ints(merges.iter().map(|m| m.a as i64).collect()),
        );
        c.info.insert(
            "merge_b".into(),
            Info::Ints(merges.iter().map(|m| m.b as i64).collect()),
        );
        c.info.insert(
            "merge_distance".into(),
            Info::Floats(merges.iter().map(|m| m.distance).collect()),
        );
        c.info.insert(
            "merge_size".into(),
            Info::Ints(merges.iter().map(|m| m.size as i64).collect()),
        );
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_testdata::{fixture, floats, ints, matrix};

    /// The same partition up to renaming (what ARI = 1 means).
    fn same_partition(a: &[i64], b: &[i64]) -> bool {
        let mut map = std::collections::HashMap::new();
        let mut back = std::collections::HashMap::new();
        a.iter()
            .zip(b)
            .all(|(x, y)| *map.entry(x).or_insert(y) == y && *back.entry(y).or_insert(x) == x)
    }

    fn parse(linkage: &str, metric: &str) -> (Linkage, Metric) {
        let l = match linkage {
            "ward" => Linkage::Ward,
            "complete" => Linkage::Complete,
            "average" => Linkage::Average,
            _ => Linkage::Single,
        };
        let m = Metric::from_name(metric);
        (l, m)
    }

    #[test]
    fn merge_distances_and_labels_match_scikit_learn() {
        let r = fixture("agglomerative_reference.json");
        for case in r["cases"].as_array().unwrap() {
            let name = format!("{} {} {}", case["data"], case["linkage"], case["metric"]);
            let x = matrix(&r["data"][case["data"].as_str().unwrap()]);
            let (l, m) = parse(
                case["linkage"].as_str().unwrap(),
                case["metric"].as_str().unwrap(),
            );
            let merges = linkage_tree(x.view(), l, m).unwrap();
            let want = floats(&case["distances"]);
            assert_eq!(merges.len(), want.len(), "{name}");
            for (k, (got, w)) in merges.iter().zip(&want).enumerate() {
                assert!(
                    (got.distance - w).abs() <= 1e-9 * (1.0 + w.abs()),
                    "{name} merge {k}: {} vs {w}",
                    got.distance
                );
            }
            assert_eq!(merges.last().unwrap().size, x.nrows());
            for cut in case["cuts"].as_array().unwrap() {
                let theirs = ints(&cut["labels"]);
                let k = match cut["n_clusters"].as_u64() {
                    Some(k) => k as usize,
                    None => {
                        let t = cut["distance_threshold"].as_f64().unwrap();
                        let k = merges.iter().filter(|m| m.distance >= t).count() + 1;
                        assert_eq!(
                            k as u64,
                            cut["n_clusters_"].as_u64().unwrap(),
                            "{name} threshold"
                        );
                        k
                    }
                };
                let ours = cut_tree(x.nrows(), &merges, k);
                assert!(same_partition(&ours, &theirs), "{name} cut {cut:?}");
            }
        }
    }

    #[test]
    fn thread_count_does_not_change_the_tree() {
        let r = fixture("agglomerative_reference.json");
        let x = matrix(&r["data"]["blobs"]);
        for l in [Linkage::Ward, Linkage::Average, Linkage::Single] {
            let run = |t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
                    .install(|| linkage_tree(x.view(), l, Metric::Euclidean).unwrap())
            };
            assert_eq!(run(1), run(2));
        }
    }

    #[test]
    fn parameters_are_checked() {
        let p = |pairs: &[(&str, ParamValue)]| {
            let mut values: std::collections::BTreeMap<String, ParamValue> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            values
                .entry("linkage".into())
                .or_insert(ParamValue::Str("ward".into()));
            values
                .entry("metric".into())
                .or_insert(ParamValue::Str("euclidean".into()));
            Agglomerative::from_params(&Params::new(values, ""))
        };
        let err = p(&[("metric", ParamValue::Str("cosine".into()))])
            .err()
            .unwrap();
        assert!(err.message.contains("ward linkage needs metric"), "{err}");
        let err = p(&[
            ("n_clusters", ParamValue::Int(3)),
            ("distance_threshold", ParamValue::Float(1.0)),
        ])
        .err()
        .unwrap();
        assert!(err.message.contains("not both"), "{err}");
        let a = p(&[]).unwrap();
        assert!(matches!(a.cut, Cut::Clusters(2)));
        let x = ndarray::Array2::from_shape_fn((3, 2), |(i, j)| (i + j) as f64);
        let data = Dataset {
            x,
            labels: vec![0; 3],
            ids: vec!["a".into(), "b".into(), "c".into()],
            classes: [(0, "x".to_string())].into(),
            columns: vec!["c0".into(), "c1".into()],
            info: Default::default(),
        };
        let big = Agglomerative {
            cut: Cut::Clusters(5),
            linkage: Linkage::Ward,
            metric: Metric::Euclidean,
        };
        let err = Context::detached("a", 0, |ctx| big.fit(&data, ctx)).unwrap_err();
        assert!(err.message.contains("exceeds the 3 samples"), "{err}");
    }
}
