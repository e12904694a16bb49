//! Input similarities P: per-point Gaussian conditionals calibrated to the perplexity by binary
//! search, symmetrised to a joint distribution. Sparse over the k nearest neighbours for
//! Barnes-Hut and FFT (k = min(n − 1, ⌊3·perplexity⌋ + 1), as scikit-learn), dense over all
//! pairs for the exact method (as scikit-learn's `method="exact"`).
//!
//! "Distances" here are what scikit-learn feeds its binary search: squared euclidean distances,
//! or cosine distances `1 − cos`, which for unit rows equal half the squared euclidean distance.

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use attrclust_core::{Error, Result};
use attrclust_neighbors::nndescent::{KnnMetric, knn_graph};
use attrclust_neighbors::{Metric as NnMetric, NeighborIndex, normalize_rows};
use ndarray::{Array2, ArrayView2};

use crate::Metric;

/// Stop the binary search when the row entropy is this close to log(perplexity) (scikit-learn).
pub const PERPLEXITY_TOLERANCE: f64 = 1e-5;
/// Steps of the binary search per row (scikit-learn).
pub const BINARY_SEARCH_STEPS: usize = 100;

/// Nearest neighbours used for a perplexity, as scikit-learn: `min(n − 1, ⌊3·perplexity⌋ + 1)`.
pub fn n_neighbors(n: usize, perplexity: f64) -> usize {
    ((3.0 * perplexity) as usize + 1).min(n.saturating_sub(1))
}

/// The conditional distribution `p_{j|i} ∝ exp(−β·dⱼ)` over one row of distances, with β found by
/// binary search so that its entropy (nats) is log(perplexity). Writes it to `out` and returns
/// the entropy reached.
///
/// The distances are shifted by their minimum before exponentiating: the normalised
/// distribution and its entropy are unchanged, and no row underflows to all zeros however far
/// its neighbours are.
pub fn conditional_row(d: &[f64], perplexity: f64, out: &mut [f64]) -> f64 {
    let desired = perplexity.ln();
    let d_min = d.iter().copied().fold(f64::INFINITY, f64::min);
    let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    let mut entropy = 0.0;
    for _ in 0..BINARY_SEARCH_STEPS {
        let mut sum = 0.0;
        let mut weighted = 0.0;
        for (o, &dj) in out.iter_mut().zip(d) {
            let shifted = dj - d_min;
            *o = (-shifted * beta).exp();
            if *o > 0.0 {
                sum += *o;
                weighted += shifted * *o;
            }
        }
        // sum ≥ 1: the nearest neighbour contributes exp(0).
        entropy = sum.ln() + beta * weighted / sum;
        for o in out.iter_mut() {
            *o /= sum;
        }
        let diff = entropy - desired;
        if diff.abs() <= PERPLEXITY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            lo = beta;
            beta = if hi == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + hi) / 2.0
            };
        } else {
            hi = beta;
            beta = if lo == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + lo) / 2.0
            };
        }
    }
    entropy
}

/// A symmetric sparse P in compressed rows: row i holds `indices[indptr[i]..indptr[i + 1]]`
/// (ascending) with `values` summing to 1 over the whole matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseP {
    pub n: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f64>,
}

impl SparseP {
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// Dense copy (tests and small problems).
    pub fn to_dense(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n * self.n];
        for i in 0..self.n {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                out[i * self.n + j as usize] = v;
            }
        }
        out
    }
}

/// Rows prepared for euclidean search: unit rows for cosine. Fails on a zero row.
pub fn search_rows(x: ArrayView2<f64>, metric: Metric) -> Result<Array2<f64>> {
    match metric {
        Metric::Euclidean => Ok(x.to_owned()),
        Metric::Cosine => normalize_rows(x).map_err(|i| {
            Error::input(format!(
                "row {i} is all zeros: its cosine distance to other samples is undefined"
            ))
            .hint("use metric = \"euclidean\", or drop the zero rows")
        }),
    }
}

/// The distance the binary search sees, from a squared euclidean distance between search rows.
fn search_distance(squared: f64, metric: Metric) -> f64 {
    match metric {
        Metric::Euclidean => squared,
        Metric::Cosine => squared / 2.0,
    }
}

pub(crate) fn overflow_error() -> Error {
    Error::input("squared distances between samples overflow (the data has huge values)")
        .hint("standardize the data first (op = \"standardize\")")
}

/// From this many rows on, the k nearest neighbours are found approximately by NN-descent
/// (attrclust-neighbors, recall ≈ 0.99); below, exactly (KD-tree or brute force).
///
/// Measured on 12 gaussian blobs, d = 50, k = 91, 2 threads (`examples/knn_profile.rs`): exact
/// 0.23 s / 0.72 s / 10.7 s at n = 10,000 / 20,000 / 50,000, NN-descent 2.0 s / 4.5 s / 17.2 s
/// (recall 0.9995 at 50,000). Exact search still wins at 50,000 but grows about as n² once the
/// tree stops pruning, NN-descent about linearly: they cross near 100,000.
pub const NN_DESCENT_FROM: usize = 100_000;

/// Each row's k nearest other rows as `(row, euclidean distance)`, exactly below
/// [`NN_DESCENT_FROM`] rows, by NN-descent (seeded) from there on.
pub fn knn(rows: ArrayView2<f64>, k: usize, seed: u64) -> Vec<Vec<(usize, f64)>> {
    if rows.nrows() >= NN_DESCENT_FROM
        && let Ok(graph) = knn_graph(rows, k, KnnMetric::Euclidean, seed)
    {
        return graph;
    }
    NeighborIndex::new(rows, NnMetric::Euclidean).knn_all(k, true)
}

/// Sparse joint P from the k nearest neighbours of every row ([`knn`]); `rows` from
/// [`search_rows`].
pub fn knn_affinities(
    rows: ArrayView2<f64>,
    metric: Metric,
    perplexity: f64,
    seed: u64,
) -> Result<SparseP> {
    let n = rows.nrows();
    let k = n_neighbors(n, perplexity);
    let knn = knn(rows, k, seed);
    // Conditional rows, in parallel; each row is independent.
    let parts = map_chunks(n, CHUNK_ROWS, |a, b| {
        let mut out = Vec::with_capacity((b - a) * k);
        let mut d = vec![0.0; k];
        let mut p = vec![0.0; k];
        for nbrs in &knn[a..b] {
            let m = nbrs.len();
            for (dj, &(_, e)) in d.iter_mut().zip(nbrs) {
                *dj = search_distance(e * e, metric);
            }
            if d[..m].iter().any(|v| !v.is_finite()) {
                return Err(overflow_error());
            }
            conditional_row(&d[..m], perplexity, &mut p[..m]);
            out.extend(nbrs.iter().zip(&p[..m]).map(|(&(j, _), &v)| (j as u32, v)));
        }
        Ok(out)
    });
    let mut conditional: Vec<Vec<(u32, f64)>> = Vec::with_capacity(n);
    let mut flat = Vec::with_capacity(n * k);
    for part in parts {
        flat.extend(part?);
    }
    let mut it = flat.into_iter();
    for nbrs in &knn {
        conditional.push(it.by_ref().take(nbrs.len()).collect());
    }
    Ok(symmetrize(&conditional))
}

/// `P = (P_cond + P_condᵀ) / sum`, merged per row in column order.
pub fn symmetrize(conditional: &[Vec<(u32, f64)>]) -> SparseP {
    let n = conditional.len();
    let mut rows: Vec<Vec<(u32, f64)>> = conditional.to_vec();
    for (i, row) in conditional.iter().enumerate() {
        for &(j, v) in row {
            rows[j as usize].push((i as u32, v));
        }
    }
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::new();
    let mut values = Vec::new();
    indptr.push(0);
    for row in &mut rows {
        // Two entries per column at most (own and mirrored); a + b is exact in either order.
        row.sort_unstable_by_key(|e| e.0);
        let mut last = u32::MAX;
        for &(j, v) in row.iter() {
            if j == last {
                *values.last_mut().expect("pushed") += v;
            } else {
                indices.push(j);
                values.push(v);
                last = j;
            }
        }
        indptr.push(indices.len());
    }
    let total: f64 = values.iter().sum();
    let total = total.max(f64::MIN_POSITIVE);
    for v in &mut values {
        *v /= total;
    }
    SparseP {
        n,
        indptr,
        indices,
        values,
    }
}

/// Dense joint P over all pairs, row-major n × n with a zero diagonal; `rows` from
/// [`search_rows`].
pub fn dense_affinities(
    rows: ArrayView2<f64>,
    metric: Metric,
    perplexity: f64,
) -> Result<Vec<f64>> {
    let n = rows.nrows();
    let parts = map_chunks(n, CHUNK_ROWS / 4, |a, b| {
        let mut out = vec![0.0; (b - a) * n];
        let mut d = vec![0.0; n - 1];
        let mut p = vec![0.0; n - 1];
        for i in a..b {
            let ri = rows.row(i);
            for (slot, j) in (0..n).filter(|&j| j != i).enumerate() {
                let e: f64 = ri
                    .iter()
                    .zip(rows.row(j))
                    .map(|(u, v)| (u - v) * (u - v))
                    .sum();
                d[slot] = search_distance(e, metric);
            }
            if d.iter().any(|v| !v.is_finite()) {
                return Err(overflow_error());
            }
            conditional_row(&d, perplexity, &mut p);
            let row = &mut out[(i - a) * n..(i - a + 1) * n];
            for (slot, j) in (0..n).filter(|&j| j != i).enumerate() {
                row[j] = p[slot];
            }
        }
        Ok(out)
    });
    let mut cond = Vec::with_capacity(n * n);
    for part in parts {
        cond.extend(part?);
    }
    let mut p = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = cond[i * n + j] + cond[j * n + i];
        }
    }
    let total: f64 = p.iter().sum();
    let total = total.max(f64::MIN_POSITIVE);
    for v in &mut p {
        *v /= total;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_core::rng::Rng;

    fn blobs(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = Rng::new(seed);
        Array2::from_shape_fn((n, d), |(i, _)| (i % 3) as f64 * 4.0 + rng.normal())
    }

    #[test]
    fn binary_search_reaches_the_perplexity() {
        let mut rng = Rng::new(3);
        for (k, perplexity, scale) in [(91, 30.0, 1.0), (16, 5.0, 1e4), (40, 12.5, 1e-3)] {
            let d: Vec<f64> = (0..k).map(|_| rng.uniform() * 50.0 * scale).collect();
            let mut p = vec![0.0; k];
            conditional_row(&d, perplexity, &mut p);
            let entropy: f64 = p.iter().filter(|&&v| v > 0.0).map(|v| -v * v.ln()).sum();
            assert!(
                (entropy - f64::ln(perplexity)).abs() < 1e-5,
                "k = {k}: entropy {entropy} vs log({perplexity})"
            );
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn neighbour_count_follows_scikit_learn() {
        assert_eq!(n_neighbors(1000, 30.0), 91);
        assert_eq!(n_neighbors(50, 30.0), 49);
        assert_eq!(n_neighbors(100, 5.5), 17);
    }

    #[test]
    fn symmetrised_p_sums_to_one_and_is_symmetric() {
        let x = blobs(120, 5, 1);
        let sparse = knn_affinities(x.view(), Metric::Euclidean, 10.0, 0).unwrap();
        let dense_of_sparse = sparse.to_dense();
        let dense = dense_affinities(x.view(), Metric::Euclidean, 10.0).unwrap();
        for p in [&dense_of_sparse, &dense] {
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            for i in 0..120 {
                assert_eq!(p[i * 120 + i], 0.0);
                for j in 0..120 {
                    assert_eq!(p[i * 120 + j], p[j * 120 + i]);
                    assert!(p[i * 120 + j] >= 0.0);
                }
            }
        }
        // Rows hold between k and 2k distinct columns, ascending.
        for i in 0..120 {
            let (cols, _) = sparse.row(i);
            assert!((31..=62).contains(&cols.len()), "{}", cols.len());
            assert!(cols.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn cosine_uses_half_squared_distances_of_unit_rows() {
        let x = blobs(60, 4, 2).mapv(|v| v + 10.0);
        let rows = search_rows(x.view(), Metric::Cosine).unwrap();
        let scaled = x.mapv(|v| v * 3.0);
        let rows2 = search_rows(scaled.view(), Metric::Cosine).unwrap();
        let a = dense_affinities(rows.view(), Metric::Cosine, 5.0).unwrap();
        let b = dense_affinities(rows2.view(), Metric::Cosine, 5.0).unwrap();
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-12, "cosine P is scale-invariant");
        }
        let zero =
            Array2::from_shape_fn((5, 2), |(i, j)| if i == 2 { 0.0 } else { (i + j) as f64 });
        let err = search_rows(zero.view(), Metric::Cosine).unwrap_err();
        assert!(err.message.contains("row 2 is all zeros"), "{err}");
    }
}
