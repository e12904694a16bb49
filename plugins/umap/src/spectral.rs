//! Initial layouts: spectral (the leading non-trivial eigenvectors of the normalised graph
//! Laplacian, as umap-learn's `spectral_layout`), random, and the scaling umap-learn applies.
//!
//! The eigenvectors of `L = I − D^{-1/2} W D^{-1/2}` with the smallest eigenvalues are those of
//! `A = I + D^{-1/2} W D^{-1/2}` with the largest (spectrum in [0, 2]). The first, `√deg`, is known
//! and projected out; the next `dim` come from a thick-restarted Lanczos iteration (Rayleigh–Ritz
//! on an orthonormal Krylov basis with full reorthogonalisation, restarted on the best Ritz
//! vectors), written for sparse graphs of 10⁵ points. Small graphs use a dense eigensolver.
//! Everything is sequential or fixed-chunk parallel: the same bits for any thread count.

use attrclust_core::distance::dot;
use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use attrclust_core::rng::Rng;
use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::Array2;

use crate::fuzzy::Graph;

/// Up to this many points the eigenproblem is solved densely.
const DENSE_MAX: usize = 200;
/// Residual norm at which a Ritz pair counts as converged (umap-learn asks eigsh for 1e-4).
const TOL: f64 = 1e-4;
const MAX_RESTARTS: usize = 30;

/// Connected components: the number and each point's component.
pub fn components(graph: &Graph) -> (usize, Vec<usize>) {
    let n = graph.n();
    let mut label = vec![usize::MAX; n];
    let mut count = 0;
    let mut stack = Vec::new();
    for s in 0..n {
        if label[s] != usize::MAX {
            continue;
        }
        label[s] = count;
        stack.push(s);
        while let Some(i) = stack.pop() {
            for &j in graph.row(i).0 {
                if label[j as usize] == usize::MAX {
                    label[j as usize] = count;
                    stack.push(j as usize);
                }
            }
        }
        count += 1;
    }
    (count, label)
}

/// The spectral layout of a connected graph with at least `dim + 2` points: `n × dim`, columns
/// unit-norm eigenvectors, eigenvalue of `L` ascending.
pub fn spectral_layout(graph: &Graph, dim: usize, rng: &mut Rng) -> Array2<f64> {
    spectral_layout_tol(graph, dim, rng, TOL)
}

/// [`spectral_layout`] with a given residual tolerance for the iterative solver.
fn spectral_layout_tol(graph: &Graph, dim: usize, rng: &mut Rng, tol: f64) -> Array2<f64> {
    let n = graph.n();
    let sqrt_deg: Vec<f64> = (0..n)
        .map(|i| graph.row(i).1.iter().sum::<f64>().sqrt())
        .collect();
    let op = Operator {
        graph,
        sqrt_deg: &sqrt_deg,
    };
    let vectors = if n <= DENSE_MAX {
        dense_top(&op, dim)
    } else {
        lanczos_top(&op, dim, rng, tol)
    };
    Array2::from_shape_fn((n, dim), |(i, c)| vectors[c][i])
}

/// `A = I + D^{-1/2} W D^{-1/2}`, with the known top eigenvector `√deg / ‖√deg‖`.
struct Operator<'a> {
    graph: &'a Graph,
    sqrt_deg: &'a [f64],
}

impl Operator<'_> {
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        let n = x.len();
        map_chunks(n, CHUNK_ROWS, |a, b| {
            (a..b)
                .map(|i| {
                    let (cols, w) = self.graph.row(i);
                    let mut s = 0.0;
                    for (&j, &v) in cols.iter().zip(w) {
                        s += v * x[j as usize] / self.sqrt_deg[j as usize];
                    }
                    x[i] + s / self.sqrt_deg[i]
                })
                .collect::<Vec<f64>>()
        })
        .into_iter()
        .flatten()
        .collect()
    }

    fn trivial(&self) -> Vec<f64> {
        let norm = dot(self.sqrt_deg, self.sqrt_deg).sqrt();
        self.sqrt_deg.iter().map(|v| v / norm).collect()
    }
}

fn dense_top(op: &Operator, dim: usize) -> Vec<Vec<f64>> {
    let n = op.sqrt_deg.len();
    let mut m = DMatrix::zeros(n, n);
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        for (i, v) in op.apply(&e).into_iter().enumerate() {
            m[(i, j)] = v;
        }
    }
    let m = (&m + m.transpose()) * 0.5;
    let eig = SymmetricEigen::new(m);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    order[1..=dim]
        .iter()
        .map(|&c| eig.eigenvectors.column(c).iter().copied().collect())
        .collect()
}

/// `v -= (v·u) u` for each `u` of `fixed` and `basis`, twice (classical Gram–Schmidt,
/// reorthogonalised). Both sets in each pass: when `v` shrinks a lot, round-off from one set
/// would otherwise come back amplified in the direction of the other (the trivial eigenvector
/// creeping back in).
fn orthogonalise(v: &mut [f64], fixed: &[Vec<f64>], basis: &[Vec<f64>]) {
    for _ in 0..2 {
        for u in fixed.iter().chain(basis) {
            let c = dot(v, u);
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= c * b);
        }
    }
}

fn combine(vectors: &[Vec<f64>], coef: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut out = vec![0.0; vectors[0].len()];
    for (r, v) in vectors.iter().enumerate() {
        let c = coef(r);
        out.iter_mut().zip(v).for_each(|(a, b)| *a += c * b);
    }
    out
}

/// The `dim` leading eigenvectors of `A` after the trivial one.
fn lanczos_top(op: &Operator, dim: usize, rng: &mut Rng, tol: f64) -> Vec<Vec<f64>> {
    let n = op.sqrt_deg.len();
    let trivial = vec![op.trivial()];
    // Krylov dimension as umap-learn gives eigsh (max(2k + 1, √n)), capped for memory and time;
    // restarts keep the best `keep` Ritz vectors.
    let m = (2 * (dim + 1) + 1)
        .max((n as f64).sqrt() as usize)
        .min(96)
        .max(dim + 8)
        .min(n - 1);
    let keep = (dim + 6).min(m - 1);
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(m);
    let mut images: Vec<Vec<f64>> = Vec::with_capacity(m);
    let mut next: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let mut best = Vec::new();
    for restart in 0..=MAX_RESTARTS {
        while basis.len() < m {
            orthogonalise(&mut next, &trivial, &basis);
            let mut norm = dot(&next, &next).sqrt();
            if norm.is_nan() || norm <= 1e-10 {
                // The Krylov space is exhausted: continue from a fresh random direction.
                next = (0..n).map(|_| rng.normal()).collect();
                orthogonalise(&mut next, &trivial, &basis);
                norm = dot(&next, &next).sqrt();
            }
            next.iter_mut().for_each(|v| *v /= norm);
            let image = op.apply(&next);
            basis.push(std::mem::take(&mut next));
            next = image.clone();
            images.push(image);
        }
        // Rayleigh–Ritz: H = Vᵀ A V.
        let h = DMatrix::from_fn(m, m, |i, j| {
            0.5 * (dot(&basis[i], &images[j]) + dot(&basis[j], &images[i]))
        });
        let eig = SymmetricEigen::new(h);
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let ritz = |c: usize, of: &[Vec<f64>]| combine(of, |r| eig.eigenvectors[(r, c)]);
        let mut converged = true;
        let mut kept_vectors = Vec::with_capacity(keep);
        let mut kept_images = Vec::with_capacity(keep);
        for (rank, &c) in order.iter().take(keep).enumerate() {
            let y = ritz(c, &basis);
            let ay = ritz(c, &images);
            if rank < dim {
                let theta = eig.eigenvalues[c];
                let residual: f64 = y
                    .iter()
                    .zip(&ay)
                    .map(|(a, b)| (b - theta * a).powi(2))
                    .sum::<f64>()
                    .sqrt();
                converged &= residual < tol;
            }
            kept_vectors.push(y);
            kept_images.push(ay);
        }
        best = kept_vectors[..dim].to_vec();
        if converged || restart == MAX_RESTARTS {
            break;
        }
        // Thick restart: the kept Ritz vectors, then Krylov expansion from the last one's image.
        next = kept_images[keep - 1].clone();
        basis = kept_vectors;
        images = kept_images;
    }
    best
}

/// umap-learn's `noisy_scale_coords`: scale so the largest |coordinate| is `max_coord`, then add
/// N(0, noise²) to every coordinate.
pub fn noisy_scale(coords: &mut Array2<f64>, rng: &mut Rng, max_coord: f64, noise: f64) {
    let largest = coords.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let expansion = if largest > 0.0 {
        max_coord / largest
    } else {
        1.0
    };
    coords.mapv_inplace(|v| v * expansion + noise * rng.normal());
}

/// Uniform in [−10, 10] (umap-learn's random initialisation).
pub fn random_layout(n: usize, dim: usize, rng: &mut Rng) -> Array2<f64> {
    Array2::from_shape_simple_fn((n, dim), || 20.0 * rng.uniform() - 10.0)
}

/// Each column mapped linearly onto [0, 10], as umap-learn does before optimising.
pub fn rescale_to_box(coords: &mut Array2<f64>) {
    for mut col in coords.columns_mut() {
        let lo = col.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let range = hi - lo;
        if range > 0.0 {
            col.mapv_inplace(|v| 10.0 * (v - lo) / range);
        } else {
            col.fill(5.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric 6-NN graph of random points in a 3 × 1 rectangle: distinct eigenvalues.
    fn rectangle_knn(n: usize, seed: u64) -> Graph {
        let mut rng = Rng::new(seed);
        let pts: Vec<(f64, f64)> = (0..n)
            .map(|_| (3.0 * rng.uniform(), rng.uniform()))
            .collect();
        let mut adj = vec![Vec::new(); n];
        for i in 0..n {
            let mut by: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        (pts[i].0 - pts[j].0).powi(2) + (pts[i].1 - pts[j].1).powi(2),
                        j,
                    )
                })
                .collect();
            by.sort_by(|a, b| a.0.total_cmp(&b.0));
            for &(_, j) in &by[..6] {
                adj[i].push(j as u32);
                adj[j].push(i as u32);
            }
        }
        unit_graph(adj)
    }

    /// A graph with unit weights from adjacency lists (sorted and deduplicated here).
    fn unit_graph(mut adj: Vec<Vec<u32>>) -> Graph {
        let mut offsets = vec![0];
        let (mut cols, mut weights) = (Vec::new(), Vec::new());
        for row in &mut adj {
            row.sort_unstable();
            row.dedup();
            cols.extend(row.iter());
            weights.extend(row.iter().map(|_| 1.0));
            offsets.push(cols.len());
        }
        Graph {
            offsets,
            cols,
            weights,
        }
    }

    #[test]
    fn lanczos_finds_the_dense_solvers_eigenvectors() {
        let g = rectangle_knn(400, 2);
        assert_eq!(components(&g).0, 1);
        let sqrt_deg: Vec<f64> = (0..g.n())
            .map(|i| g.row(i).1.iter().sum::<f64>().sqrt())
            .collect();
        let op = Operator {
            graph: &g,
            sqrt_deg: &sqrt_deg,
        };
        let dense = dense_top(&op, 3);
        let iterative = lanczos_top(&op, 3, &mut Rng::new(1), 1e-9);
        for (d, l) in dense.iter().zip(&iterative) {
            let cos = dot(d, l).abs();
            assert!(cos > 1.0 - 1e-8, "{cos}");
        }
    }

    #[test]
    fn two_communities_split_on_the_first_axis() {
        // Two dense groups of 300 joined by a few edges: the Fiedler vector's sign is the group.
        let n = 600;
        let mut rng = Rng::new(5);
        let mut adj = vec![Vec::new(); n];
        for i in 0..n {
            for _ in 0..8 {
                let j = (i / 300) * 300 + rng.below(300);
                if j != i {
                    adj[i].push(j as u32);
                    adj[j].push(i as u32);
                }
            }
        }
        for b in 0..5 {
            adj[b].push((300 + b) as u32);
            adj[300 + b].push(b as u32);
        }
        let g = unit_graph(adj);
        let layout = spectral_layout(&g, 2, &mut Rng::new(1));
        let side = |i: usize| layout[[i, 0]] > 0.0;
        assert!((0..300).all(|i| side(i) == side(0)));
        assert!((300..600).all(|i| side(i) != side(0)));
    }

    #[test]
    fn components_are_found() {
        // Edges 0–1, 1–2 and 3–4; 5 alone.
        let g = Graph {
            offsets: vec![0, 1, 3, 4, 5, 6, 6],
            cols: vec![1, 0, 2, 1, 4, 3],
            weights: vec![1.0; 6],
        };
        let (count, labels) = components(&g);
        assert_eq!(count, 3);
        assert_eq!(labels, vec![0, 0, 0, 1, 1, 2]);
        assert_eq!(components(&rectangle_knn(100, 1)).0, 1);
    }

    #[test]
    fn scaling_follows_umap_learn() {
        let mut c = Array2::from_shape_vec((2, 2), vec![1.0, -4.0, 2.0, 0.5]).unwrap();
        noisy_scale(&mut c, &mut Rng::new(1), 10.0, 0.0);
        assert_eq!(c.as_slice().unwrap(), &[2.5, -10.0, 5.0, 1.25]);
        rescale_to_box(&mut c);
        assert_eq!(c.as_slice().unwrap(), &[0.0, 0.0, 10.0, 10.0]);
    }
}
