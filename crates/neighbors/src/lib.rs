//! Nearest-neighbour search over the rows of a matrix: k-NN and radius queries through a KD-tree,
//! or through a brute-force scan where that is faster (high dimensions), behind one
//! [`NeighborIndex`].
//!
//! Results are exact and deterministic: k-NN ties are broken by row index, radius results come in
//! row order, a radius includes points at exactly distance `r`, and the batched queries
//! (`*_all`, `*_rows`) give identical results for any thread count. Both backends compare the same
//! [`Metric::reduced`] distances (squared for euclidean), so they agree bit for bit.
//!
//! Cosine distance: normalise the rows with [`normalize_rows`] and search with
//! [`Metric::Euclidean`]; for unit vectors `1 − cos(a, b) = ‖a − b‖² / 2`, so the cosine radius
//! `eps` is the euclidean radius [`cosine_to_euclidean_radius`]`(eps) = √(2·eps)`.

mod brute;
mod heap;
mod kdtree;
mod metric;
pub mod nndescent;

pub use brute::BruteForce;
pub use kdtree::{DEFAULT_LEAF_SIZE, KdTree};
pub use metric::Metric;

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// Which search structure a [`NeighborIndex`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// KD-tree up to [`MAX_TREE_DIM`] dimensions. Above, both structures are kept and each batched
    /// query first runs on a probe of 32 rows through the tree: if the tree computes more than
    /// n / [`BRUTE_RATIO`] distances per query (it hardly prunes), the batch scans by brute force.
    Auto,
    KdTree,
    Brute,
}

/// Up to this many dimensions `Algorithm::Auto` always uses the KD-tree.
///
/// Measured with `cargo run --release -p attrclust-neighbors --example tree_vs_brute` (20,000 rows,
/// radius queries reaching ~20 neighbours and 10-NN over all rows, 2 cores, busy machine): on
/// gaussian blobs the tree wins at every dimension up to 64 (d = 16: 0.36 s vs 1.1 s brute), on
/// uniform data it wins at d = 8 (0.36 s vs 0.55 s) and loses from d = 16 (3.7 s vs 1.2 s; d = 64:
/// 10.3 s vs 1.0 s). Whether the tree pays off above ~16 dimensions depends on the data's
/// structure and the radius, hence the probe.
pub const MAX_TREE_DIM: usize = 16;

/// The probe's threshold: one tree distance (leaf scan or box bound, with its traversal) costs
/// about as much as this many pairs of the brute-force scan's matrix-product screen (uniform
/// d = 64: the tree computed nearly every distance in 10.3 s, the scan took 1.0 s).
pub const BRUTE_RATIO: usize = 8;

/// Query rows sampled by the probe.
const PROBE_ROWS: usize = 32;

/// Query rows per batch of the brute-force k-NN (each needs one row of n products in memory).
const KNN_BLOCK: usize = 32;

#[derive(Clone, Debug)]
enum Backend {
    Tree(KdTree),
    Brute(BruteForce),
    /// Above `MAX_TREE_DIM`: the probe picks per batch; single queries use the tree.
    Adaptive(KdTree, BruteForce),
}

/// What a batched query runs on.
enum Pick<'a> {
    Tree(&'a KdTree),
    Brute(&'a BruteForce),
}

/// A search index over the rows of a matrix (a copy is kept).
#[derive(Clone, Debug)]
pub struct NeighborIndex {
    backend: Backend,
}

impl NeighborIndex {
    /// An index with the structure [`Algorithm::Auto`] picks.
    pub fn new(x: ArrayView2<f64>, metric: Metric) -> Self {
        NeighborIndex::with_algorithm(x, metric, Algorithm::Auto)
    }

    pub fn with_algorithm(x: ArrayView2<f64>, metric: Metric, algorithm: Algorithm) -> Self {
        let backend = match algorithm {
            Algorithm::Auto if x.ncols() <= MAX_TREE_DIM => Backend::Tree(KdTree::new(x, metric)),
            Algorithm::Auto => {
                Backend::Adaptive(KdTree::new(x, metric), BruteForce::new(x, metric))
            }
            Algorithm::KdTree => Backend::Tree(KdTree::new(x, metric)),
            Algorithm::Brute => Backend::Brute(BruteForce::new(x, metric)),
        };
        NeighborIndex { backend }
    }

    /// The structure in use: `KdTree`, `Brute`, or `Auto` when each batch is probed.
    pub fn algorithm(&self) -> Algorithm {
        match self.backend {
            Backend::Tree(_) => Algorithm::KdTree,
            Backend::Brute(_) => Algorithm::Brute,
            Backend::Adaptive(..) => Algorithm::Auto,
        }
    }

    /// The structure for a batch over `rows`; `cost(tree, row)` is the tree's work for one row.
    fn pick(&self, rows: &[usize], cost: impl Fn(&KdTree, usize) -> usize) -> Pick<'_> {
        match &self.backend {
            Backend::Tree(t) => Pick::Tree(t),
            Backend::Brute(b) => Pick::Brute(b),
            Backend::Adaptive(t, b) => {
                if rows.is_empty() {
                    return Pick::Tree(t);
                }
                let m = rows.len().min(PROBE_ROWS);
                let total: usize = (0..m).map(|p| cost(t, rows[p * rows.len() / m])).sum();
                if total / m > t.len() / BRUTE_RATIO {
                    Pick::Brute(b)
                } else {
                    Pick::Tree(t)
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.backend {
            Backend::Tree(t) | Backend::Adaptive(t, _) => t.len(),
            Backend::Brute(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dim(&self) -> usize {
        match &self.backend {
            Backend::Tree(t) | Backend::Adaptive(t, _) => t.dim(),
            Backend::Brute(b) => b.dim(),
        }
    }

    pub fn metric(&self) -> Metric {
        match &self.backend {
            Backend::Tree(t) | Backend::Adaptive(t, _) => t.metric(),
            Backend::Brute(b) => b.metric(),
        }
    }

    /// The `k` nearest rows to `query` as `(row, distance)`, nearest first, equal distances in
    /// row order; `exclude` leaves one row out (e.g. the query's own row). Fewer than `k` if the
    /// index holds fewer rows.
    ///
    /// # Panics
    /// If `query.len()` differs from [`NeighborIndex::dim`].
    pub fn knn(
        &self,
        query: ArrayView1<f64>,
        k: usize,
        exclude: Option<usize>,
    ) -> Vec<(usize, f64)> {
        let q = query.to_vec();
        match &self.backend {
            Backend::Tree(t) | Backend::Adaptive(t, _) => t.knn(&q, k, exclude),
            Backend::Brute(b) => b.knn(&q, k, exclude),
        }
    }

    /// Every row within distance `r` of `query` (inclusive), in row order.
    ///
    /// # Panics
    /// If `query.len()` differs from [`NeighborIndex::dim`].
    pub fn radius(&self, query: ArrayView1<f64>, r: f64) -> Vec<usize> {
        let q = query.to_vec();
        match &self.backend {
            Backend::Tree(t) | Backend::Adaptive(t, _) => t.radius(&q, r),
            Backend::Brute(b) => b.radius(&q, r),
        }
    }

    /// How many rows lie within `r` of `query`, capped at `limit` (the search stops there).
    pub fn radius_count(&self, query: ArrayView1<f64>, r: f64, limit: usize) -> usize {
        let q = query.to_vec();
        match &self.backend {
            Backend::Tree(t) | Backend::Adaptive(t, _) => t.radius_count(&q, r, limit),
            Backend::Brute(b) => b.radius_count(&q, r, limit),
        }
    }

    /// [`NeighborIndex::knn`] of every indexed row, in parallel; `exclude_self` leaves each
    /// row's own index out (duplicates of it stay in).
    pub fn knn_all(&self, k: usize, exclude_self: bool) -> Vec<Vec<(usize, f64)>> {
        let rows: Vec<usize> = (0..self.len()).collect();
        self.knn_rows(&rows, k, exclude_self)
    }

    /// [`NeighborIndex::knn`] of the indexed rows `rows`, in parallel.
    pub fn knn_rows(&self, rows: &[usize], k: usize, exclude_self: bool) -> Vec<Vec<(usize, f64)>> {
        let pick = self.pick(rows, |t, i| t.knn_cost(t.original_row(i), k, Some(i)).1);
        let parts = match pick {
            Pick::Tree(t) => map_chunks(rows.len(), CHUNK_ROWS, |a, b| {
                rows[a..b]
                    .iter()
                    .map(|&i| t.knn(t.original_row(i), k, exclude_self.then_some(i)))
                    .collect::<Vec<_>>()
            }),
            Pick::Brute(bf) => map_chunks(rows.len(), KNN_BLOCK, |a, b| {
                bf.knn_block(&rows[a..b], k, exclude_self)
            }),
        };
        parts.into_iter().flatten().collect()
    }

    /// [`NeighborIndex::radius`] of every indexed row (each row finds itself), in parallel.
    pub fn radius_all(&self, r: f64) -> Vec<Vec<usize>> {
        let rows: Vec<usize> = (0..self.len()).collect();
        self.radius_rows(&rows, r)
    }

    /// [`NeighborIndex::radius`] of the indexed rows `rows`, in parallel.
    pub fn radius_rows(&self, rows: &[usize], r: f64) -> Vec<Vec<usize>> {
        let pick = self.pick(rows, |t, i| t.radius_cost(t.original_row(i), r, usize::MAX));
        let parts = match pick {
            Pick::Tree(t) => map_chunks(rows.len(), CHUNK_ROWS, |a, b| {
                rows[a..b]
                    .iter()
                    .map(|&i| t.radius(t.original_row(i), r))
                    .collect::<Vec<_>>()
            }),
            Pick::Brute(bf) => map_chunks(rows.len(), CHUNK_ROWS, |a, b| {
                let mut out = vec![Vec::new(); b - a];
                bf.radius_block(&rows[a..b], r, |q, j| out[q].push(j));
                out
            }),
        };
        parts.into_iter().flatten().collect()
    }

    /// [`NeighborIndex::radius_count`] of every indexed row, in parallel.
    pub fn radius_count_all(&self, r: f64, limit: usize) -> Vec<usize> {
        let n = self.len();
        let rows: Vec<usize> = (0..n).collect();
        let pick = self.pick(&rows, |t, i| t.radius_cost(t.original_row(i), r, limit));
        let parts = match pick {
            Pick::Tree(t) => map_chunks(n, CHUNK_ROWS, |a, b| {
                (a..b)
                    .map(|i| t.radius_count(t.original_row(i), r, limit))
                    .collect::<Vec<_>>()
            }),
            Pick::Brute(bf) => map_chunks(n, CHUNK_ROWS, |a, b| {
                let mut out = vec![0usize; b - a];
                bf.radius_block(&rows[a..b], r, |q, _| out[q] += 1);
                out.into_iter().map(|c| c.min(limit)).collect()
            }),
        };
        parts.into_iter().flatten().collect()
    }
}

/// The rows scaled to unit euclidean length, for cosine search (see the crate docs). Fails with
/// the index of the first row of zero (or non-finite) length, for which cosine is undefined.
pub fn normalize_rows(x: ArrayView2<f64>) -> Result<Array2<f64>, usize> {
    let mut out = x.to_owned();
    for (i, mut row) in out.rows_mut().into_iter().enumerate() {
        let norm = row.dot(&row).sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(i);
        }
        row.mapv_inplace(|v| v / norm);
    }
    Ok(out)
}

/// The euclidean radius between unit vectors that corresponds to cosine distance `eps`.
pub fn cosine_to_euclidean_radius(eps: f64) -> f64 {
    (2.0 * eps).sqrt()
}
