//! Measures the KD-tree against the brute-force scan over dimensions, to set
//! `MAX_TREE_DIM`. Run: `cargo run --release -p attrclust-neighbors --example tree_vs_brute`.

use std::time::Instant;

use attrclust_core::rng::Rng;
use attrclust_neighbors::{Algorithm, Metric, NeighborIndex};
use ndarray::Array2;

/// Gaussian blobs: 12 centres in [-10, 10]^d, unit spread.
fn blobs(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let centres = Array2::from_shape_fn((12, d), |_| 20.0 * rng.uniform() - 10.0);
    Array2::from_shape_fn((n, d), |(i, j)| centres[[i % 12, j]] + rng.normal())
}

/// Uniform in [0, 1]^d: no structure for the tree to exploit (its worst case).
fn uniform(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((n, d), |_| rng.uniform())
}

fn median3(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut t = Vec::new();
    let mut out = 0;
    for _ in 0..3 {
        let start = Instant::now();
        out = f();
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    (t[1], out)
}

fn main() {
    let n = 20_000;
    println!("n = {n}; seconds, median of 3 (tree / brute)");
    for (kind, d) in [2, 8, 16, 24, 32, 64]
        .into_iter()
        .flat_map(|d| [("blobs", d), ("uniform", d)])
    {
        let x = if kind == "blobs" {
            blobs(n, d, d as u64)
        } else {
            uniform(n, d, d as u64)
        };
        // A radius reaching ~1% of a blob: the typical DBSCAN regime.
        let probe = NeighborIndex::with_algorithm(x.view(), Metric::Euclidean, Algorithm::KdTree);
        let mut dist: Vec<f64> = probe
            .knn(x.row(0), 20, Some(0))
            .iter()
            .map(|p| p.1)
            .collect();
        dist.sort_by(f64::total_cmp);
        let r = dist[dist.len() - 1];
        let mut line = format!("{kind:7} d={d:3} r={r:7.3}");
        for algo in [Algorithm::KdTree, Algorithm::Brute] {
            let ix = NeighborIndex::with_algorithm(x.view(), Metric::Euclidean, algo);
            let (tr, hits) = median3(|| ix.radius_all(r).iter().map(Vec::len).sum());
            let (tk, _) = median3(|| ix.knn_all(10, true).len());
            line += &format!("  {algo:?}: radius {tr:.3} ({hits} hits) knn10 {tk:.3}");
        }
        println!("{line}");
    }
}
