//! The fuzzy simplicial set: per-point bandwidths from the k-NN distances (umap-learn's
//! `smooth_knn_dist`), directed membership strengths, and their fuzzy union into a symmetric
//! weighted graph (`fuzzy_simplicial_set`), then the pruning and sampling schedule of
//! `simplicial_set_embedding`.
//!
//! Neighbour lists here include the point itself first (distance 0), as umap-learn's do:
//! `n_neighbors = 15` means the point and 14 others.

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};

const SMOOTH_K_TOLERANCE: f64 = 1e-5;
const MIN_K_DIST_SCALE: f64 = 1e-3;
const BINARY_SEARCH_STEPS: usize = 64;

/// A symmetric sparse graph in CSR form, columns sorted within each row.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub offsets: Vec<usize>,
    pub cols: Vec<u32>,
    pub weights: Vec<f64>,
}

impl Graph {
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        (&self.cols[a..b], &self.weights[a..b])
    }

    /// Weight of edge (i, j), 0 if absent.
    pub fn weight(&self, i: usize, j: usize) -> f64 {
        let (cols, w) = self.row(i);
        cols.binary_search(&(j as u32)).map_or(0.0, |p| w[p])
    }

    /// Keeps the edges for which `keep(weight)` holds.
    pub fn retain(&mut self, keep: impl Fn(f64) -> bool) {
        let mut offsets = vec![0];
        let (mut cols, mut weights) = (Vec::new(), Vec::new());
        for i in 0..self.n() {
            let (c, w) = self.row(i);
            for (&j, &v) in c.iter().zip(w) {
                if keep(v) {
                    cols.push(j);
                    weights.push(v);
                }
            }
            offsets.push(cols.len());
        }
        *self = Graph {
            offsets,
            cols,
            weights,
        };
    }
}

/// Per point: `sigma` (the bandwidth) and `rho` (the distance to the `local_connectivity`-th
/// nearest other point), such that Σ_j exp(−max(0, d_j − rho) / sigma) over the neighbours other
/// than the point itself is log2(k). `dists[i]` lists the k distances of point i, itself first.
pub fn smooth_knn_dist(dists: &[Vec<f64>], local_connectivity: f64) -> (Vec<f64>, Vec<f64>) {
    let total: f64 = dists.iter().flatten().sum();
    let count = dists.iter().map(Vec::len).sum::<usize>().max(1);
    let mean_distances = total / count as f64;
    let parts = map_chunks(dists.len(), CHUNK_ROWS, |a, b| {
        dists[a..b]
            .iter()
            .map(|row| smooth_row(row, local_connectivity, mean_distances))
            .collect::<Vec<_>>()
    });
    parts.into_iter().flatten().unzip()
}

fn smooth_row(row: &[f64], local_connectivity: f64, mean_distances: f64) -> (f64, f64) {
    let k = row.len();
    let target = (k as f64).log2();
    let non_zero: Vec<f64> = row.iter().copied().filter(|&d| d > 0.0).collect();
    let mut rho = 0.0;
    if non_zero.len() as f64 >= local_connectivity {
        let index = local_connectivity.floor() as usize;
        let interpolation = local_connectivity - index as f64;
        if index > 0 {
            rho = non_zero[index - 1];
            if interpolation > SMOOTH_K_TOLERANCE {
                rho += interpolation * (non_zero[index] - non_zero[index - 1]);
            }
        } else {
            rho = interpolation * non_zero[0];
        }
    } else if !non_zero.is_empty() {
        rho = non_zero.iter().copied().fold(f64::MIN, f64::max);
    }
    let (mut lo, mut hi, mut mid) = (0.0, f64::INFINITY, 1.0);
    for _ in 0..BINARY_SEARCH_STEPS {
        let psum: f64 = row[1..]
            .iter()
            .map(|&d| {
                let t = d - rho;
                if t > 0.0 { (-(t / mid)).exp() } else { 1.0 }
            })
            .sum();
        if (psum - target).abs() < SMOOTH_K_TOLERANCE {
            break;
        }
        if psum > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            if hi == f64::INFINITY {
                mid *= 2.0;
            } else {
                mid = (lo + hi) / 2.0;
            }
        }
    }
    let mut sigma = mid;
    // Guard against a vanishing bandwidth (many equal distances).
    let floor = if rho > 0.0 {
        MIN_K_DIST_SCALE * row.iter().sum::<f64>() / k as f64
    } else {
        MIN_K_DIST_SCALE * mean_distances
    };
    if sigma < floor {
        sigma = floor;
    }
    (sigma, rho)
}

/// The fuzzy union of the directed memberships `P`:
/// `mix · (P + Pᵀ − P∘Pᵀ) + (1 − mix) · P∘Pᵀ`, zeros dropped. `knn[i]` lists point i's
/// neighbours `(j, distance)` with i itself first.
pub fn fuzzy_simplicial_set(
    knn: &[Vec<(usize, f64)>],
    local_connectivity: f64,
    set_op_mix_ratio: f64,
) -> Graph {
    let n = knn.len();
    let dists: Vec<Vec<f64>> = knn
        .iter()
        .map(|r| r.iter().map(|p| p.1).collect())
        .collect();
    let (sigmas, rhos) = smooth_knn_dist(&dists, local_connectivity);
    // Directed memberships as (row, col, value), rows ascending, then sorted per row by column.
    let mut directed: Vec<Vec<(u32, f64)>> = knn
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut out: Vec<(u32, f64)> = row
                .iter()
                .filter(|&&(j, _)| j != i)
                .map(|&(j, d)| {
                    let v = if d - rhos[i] <= 0.0 || sigmas[i] == 0.0 {
                        1.0
                    } else {
                        (-((d - rhos[i]) / sigmas[i])).exp()
                    };
                    (j as u32, v)
                })
                .filter(|&(_, v)| v != 0.0)
                .collect();
            out.sort_by_key(|e| e.0);
            out
        })
        .collect();
    // Transpose: for each j, the (i, P[i][j]) in ascending i.
    let mut transposed: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for (i, row) in directed.iter().enumerate() {
        for &(j, v) in row {
            transposed[j as usize].push((i as u32, v));
        }
    }
    let mut offsets = vec![0];
    let (mut cols, mut weights) = (Vec::new(), Vec::new());
    for (row, rev) in directed.iter_mut().zip(&transposed) {
        let (mut x, mut y) = (0, 0);
        while x < row.len() || y < rev.len() {
            let (j, a, b) = match (row.get(x), rev.get(y)) {
                (Some(&(ja, va)), Some(&(jb, vb))) if ja == jb => {
                    x += 1;
                    y += 1;
                    (ja, va, vb)
                }
                (Some(&(ja, va)), Some(&(jb, _))) if ja < jb => {
                    x += 1;
                    (ja, va, 0.0)
                }
                (Some(&(ja, va)), None) => {
                    x += 1;
                    (ja, va, 0.0)
                }
                (_, Some(&(jb, vb))) => {
                    y += 1;
                    (jb, 0.0, vb)
                }
                (None, None) => unreachable!("loop condition"),
            };
            let prod = a * b;
            let w = set_op_mix_ratio * (a + b - prod) + (1.0 - set_op_mix_ratio) * prod;
            if w != 0.0 {
                cols.push(j);
                weights.push(w);
            }
        }
        offsets.push(cols.len());
    }
    Graph {
        offsets,
        cols,
        weights,
    }
}

/// umap-learn's default epochs: 500 up to 10,000 points, else 200.
pub fn default_epochs(n: usize) -> usize {
    if n <= 10_000 { 500 } else { 200 }
}

/// Drops edges too weak to be sampled even once: weight < max / n_epochs (max / default epochs
/// when n_epochs ≤ 10), as umap-learn.
pub fn prune(graph: &mut Graph, n_epochs: usize) {
    let max = graph.weights.iter().copied().fold(0.0, f64::max);
    let epochs = if n_epochs > 10 {
        n_epochs
    } else {
        default_epochs(graph.n())
    };
    let threshold = max / epochs as f64;
    graph.retain(|w| w >= threshold);
}

/// How many epochs pass between two samples of each edge: `max / weight`.
pub fn epochs_per_sample(weights: &[f64], n_epochs: usize) -> Vec<f64> {
    let max = weights.iter().copied().fold(0.0, f64::max);
    let total = n_epochs as f64;
    weights
        .iter()
        .map(|&w| {
            let samples = total * (w / max);
            if samples > 0.0 { total / samples } else { -1.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_core::rng::Rng;

    fn random_knn(n: usize, k: usize, seed: u64) -> Vec<Vec<(usize, f64)>> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|i| {
                let mut row = vec![(i, 0.0)];
                let mut d = 0.0;
                while row.len() < k {
                    let j = rng.below(n);
                    if row.iter().all(|p| p.0 != j) {
                        d += rng.uniform();
                        row.push((j, d));
                    }
                }
                row
            })
            .collect()
    }

    #[test]
    fn memberships_sum_to_log2_k() {
        let knn = random_knn(200, 15, 1);
        let dists: Vec<Vec<f64>> = knn
            .iter()
            .map(|r| r.iter().map(|p| p.1).collect())
            .collect();
        let (sigmas, rhos) = smooth_knn_dist(&dists, 1.0);
        for (i, row) in dists.iter().enumerate() {
            assert_eq!(rhos[i], row[1], "rho is the nearest other point");
            let sum: f64 = row[1..]
                .iter()
                .map(|&d| (-((d - rhos[i]).max(0.0) / sigmas[i])).exp())
                .sum();
            assert!((sum - 15f64.log2()).abs() < 1e-4, "row {i}: {sum}");
        }
    }

    #[test]
    fn local_connectivity_interpolates_rho() {
        let row = vec![0.0, 1.0, 2.0, 4.0, 8.0];
        let (_, rho) = smooth_knn_dist(std::slice::from_ref(&row), 1.5);
        assert!((rho[0] - 1.5).abs() < 1e-12);
        let (_, rho) = smooth_knn_dist(std::slice::from_ref(&row), 0.5);
        assert!((rho[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn union_is_symmetric_and_mixes() {
        let knn = random_knn(150, 10, 2);
        for mix in [1.0, 0.0, 0.3] {
            let g = fuzzy_simplicial_set(&knn, 1.0, mix);
            for i in 0..g.n() {
                let (cols, w) = g.row(i);
                assert!(cols.windows(2).all(|c| c[0] < c[1]));
                assert!(cols.iter().all(|&j| j as usize != i));
                for (&j, &v) in cols.iter().zip(w) {
                    assert_eq!(v.to_bits(), g.weight(j as usize, i).to_bits());
                    assert!(v > 0.0 && v <= 1.0);
                }
            }
            if mix == 0.0 {
                // Pure intersection: only mutual neighbours remain.
                for i in 0..g.n() {
                    for &j in g.row(i).0 {
                        let j = j as usize;
                        assert!(knn[i].iter().any(|p| p.0 == j) && knn[j].iter().any(|p| p.0 == i));
                    }
                }
            }
        }
    }

    #[test]
    fn pruning_and_sampling_schedule() {
        let mut g = Graph {
            offsets: vec![0, 2, 3, 5],
            cols: vec![1, 2, 0, 0, 1],
            weights: vec![1.0, 0.001, 1.0, 0.001, 0.5],
        };
        prune(&mut g, 200);
        assert_eq!(g.cols, vec![1, 0, 1]);
        assert_eq!(
            epochs_per_sample(&[1.0, 0.5, 0.25], 200),
            vec![1.0, 2.0, 4.0]
        );
        assert_eq!(default_epochs(10_000), 500);
        assert_eq!(default_epochs(10_001), 200);
    }
}
