//! `dbscan`: DBSCAN with scikit-learn's semantics and numbering.
//!
//! A core sample has at least `min_samples` samples (itself included) within distance `eps`
//! (inclusive). scikit-learn grows clusters depth-first from the core samples in index order, so
//! its labels are fixed by two facts that this implementation computes directly, without storing
//! every neighbourhood at once:
//! - core samples connected through core neighbourhoods form one cluster, numbered by the order of
//!   its smallest-index core sample (union–find whose root is always the smallest index);
//! - a border sample takes the lowest-numbered cluster among its core neighbours (the first
//!   cluster that reaches it, since clusters are grown one after the other).
//!
//! Neighbour queries go through `attrclust-neighbors` (KD-tree or brute-force scan), never an
//! n × n matrix; memory stays linear in n apart from one batch of core neighbourhoods.

use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, Clusterer, Clustering, Context, Dataset, Error, Info, ParamSpec, ParamType as T, Params,
    Plugin, Result,
};
use attrclust_neighbors::{Metric, NeighborIndex, cosine_to_euclidean_radius, normalize_rows};
use ndarray::ArrayView2;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "eps",
        T::Float,
        D::Float(0.5),
        "Neighbourhood radius (inclusive); must be > 0.",
    )
    .min(0.0),
    ParamSpec::new(
        "min_samples",
        T::Int,
        D::Int(5),
        "Samples within eps (the sample itself included) that make a core sample.",
    )
    .min(1.0),
    ParamSpec::new(
        "metric",
        T::Choice(&["euclidean", "cosine", "manhattan"]),
        D::Str("euclidean"),
        "Distance: euclidean, cosine (1 − cosine similarity) or manhattan (L1).",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "dbscan",
        version: "1",
        summary: "DBSCAN (eps, min_samples; euclidean, cosine or manhattan; scikit-learn labels, noise = -1)",
        params: PARAMS,
        build: Build::Clusterer(|p| Ok(Box::new(Dbscan::from_params(p)?))),
        uses_seed: false,
        uses_groups: false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbscanMetric {
    Euclidean,
    Cosine,
    Manhattan,
}

#[derive(Clone, Debug)]
pub struct Dbscan {
    pub eps: f64,
    pub min_samples: usize,
    pub metric: DbscanMetric,
}

/// The result of one fit.
#[derive(Clone, Debug, PartialEq)]
pub struct DbscanFit {
    /// Cluster per sample, numbered as scikit-learn does; noise is -1.
    pub labels: Vec<i64>,
    pub is_core: Vec<bool>,
}

/// Core samples whose neighbourhoods are held in memory at once.
const CORE_BATCH: usize = 4096;

impl Dbscan {
    fn from_params(p: &Params) -> Result<Self> {
        let metric = match p.str("metric")? {
            "cosine" => DbscanMetric::Cosine,
            "manhattan" => DbscanMetric::Manhattan,
            _ => DbscanMetric::Euclidean,
        };
        Ok(Dbscan {
            eps: p.float("eps")?,
            min_samples: p.usize("min_samples")?,
            metric,
        })
    }

    pub fn fit(&self, x: ArrayView2<f64>, progress: &(dyn Fn(f64) + Sync)) -> Result<DbscanFit> {
        let (n, d) = x.dim();
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(
                Error::input(format!("dbscan: eps = {} must be > 0", self.eps))
                    .hint("eps is a distance; try the distance to each sample's 5th neighbour"),
            );
        }
        if self.min_samples < 1 {
            return Err(Error::input("dbscan: min_samples must be at least 1")
                .hint("min_samples counts the sample itself; 1 makes every sample a core sample"));
        }
        if n == 0 || d == 0 {
            return Err(Error::input(format!(
                "dbscan needs at least one sample with at least one feature, the input is {n} × {d}"
            ))
            .hint("select more classes or check the data file"));
        }
        if let Some(((i, j), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(
                Error::input(format!("dbscan: the input has {v} at row {i}, column {j}"))
                    .hint("set `nan_policy = \"drop_rows\"` in [data] or clean the data"),
            );
        }
        let (index, radius) = match self.metric {
            DbscanMetric::Euclidean => (NeighborIndex::new(x, Metric::Euclidean), self.eps),
            DbscanMetric::Manhattan => (NeighborIndex::new(x, Metric::Manhattan), self.eps),
            DbscanMetric::Cosine => {
                let unit = normalize_rows(x).map_err(|i| {
                    Error::input(format!(
                        "dbscan: row {i} is all zeros, and cosine distance to a zero vector is undefined"
                    ))
                    .hint("drop all-zero rows, or use metric = \"euclidean\"")
                })?;
                // Cosine distance never exceeds 2: eps ≥ 2 reaches everything, whatever rounding.
                let r = if self.eps >= 2.0 {
                    f64::INFINITY
                } else {
                    cosine_to_euclidean_radius(self.eps)
                };
                (NeighborIndex::new(unit.view(), Metric::Euclidean), r)
            }
        };
        let counts = index.radius_count_all(radius, self.min_samples);
        let is_core: Vec<bool> = counts.iter().map(|&c| c >= self.min_samples).collect();
        progress(0.3);

        let core: Vec<usize> = (0..n).filter(|&i| is_core[i]).collect();
        let mut parent: Vec<usize> = (0..n).collect();
        // (border sample, core neighbour): fewer than min_samples per border sample.
        let mut border_links: Vec<(usize, usize)> = Vec::new();
        for (b, batch) in core.chunks(CORE_BATCH).enumerate() {
            let hoods = index.radius_rows(batch, radius);
            for (&p, hood) in batch.iter().zip(&hoods) {
                for &q in hood {
                    if !is_core[q] {
                        border_links.push((q, p));
                    } else if q > p {
                        union(&mut parent, p, q);
                    }
                }
            }
            progress(0.3 + 0.7 * ((b + 1) * CORE_BATCH).min(core.len()) as f64 / core.len() as f64);
        }

        // Clusters are numbered in the order of their smallest core sample (the union–find root).
        let mut labels = vec![-1i64; n];
        let mut next = 0;
        for &p in &core {
            let root = find(&mut parent, p);
            if root == p {
                labels[p] = next;
                next += 1;
            } else {
                labels[p] = labels[root];
            }
        }
        for (q, p) in border_links {
            let c = labels[p];
            if labels[q] < 0 || c < labels[q] {
                labels[q] = c;
            }
        }
        progress(1.0);
        Ok(DbscanFit { labels, is_core })
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Links the two sets under the smaller root, so a root is always its set's smallest index.
fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}

impl Clusterer for Dbscan {
    fn fit(&self, input: &Dataset, ctx: &Context) -> Result<Clustering> {
        let fit = Dbscan::fit(self, input.x.view(), ctx.progress)?;
        let n_core = fit.is_core.iter().filter(|&&c| c).count();
        let mut c = Clustering::new(fit.labels);
        c.info.insert("n_core".into(), Info::Int(n_core as i64));
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
