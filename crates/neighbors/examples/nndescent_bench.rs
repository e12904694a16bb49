//! NN-descent against exact k-NN: time and recall at 20,000 × 50 (gaussian blobs and uniform).
//! Run: `cargo run --release -p attrclust-neighbors --example nndescent_bench`.

use std::time::Instant;

use attrclust_core::rng::Rng;
use attrclust_neighbors::nndescent::{KnnGraph, KnnMetric, exact_knn_graph, knn_graph};
use ndarray::Array2;

fn blobs(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let centres = Array2::from_shape_fn((12, d), |_| 20.0 * rng.uniform() - 10.0);
    Array2::from_shape_fn((n, d), |(i, j)| centres[[i % 12, j]] + rng.normal())
}

fn recall(approx: &KnnGraph, exact: &KnnGraph) -> f64 {
    let (mut hit, mut total) = (0, 0);
    for (a, e) in approx.iter().zip(exact) {
        let kth = e.last().map_or(0.0, |p| p.1);
        hit += a.iter().filter(|p| p.1 <= kth).count().min(e.len());
        total += e.len();
    }
    hit as f64 / total as f64
}

fn main() {
    let (n, d, k) = (20_000, 50, 15);
    let mut rng = Rng::new(9);
    let uniform = Array2::from_shape_simple_fn((n, d), || rng.uniform());
    for (name, x) in [("blobs", blobs(n, d, 1)), ("uniform", uniform)] {
        for metric in [KnnMetric::Euclidean, KnnMetric::Cosine] {
            let t = Instant::now();
            let approx = knn_graph(x.view(), k, metric, 42).unwrap();
            let t_approx = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let exact = exact_knn_graph(x.view(), k, metric).unwrap();
            let t_exact = t.elapsed().as_secs_f64();
            println!(
                "{name:8} {:10} nn-descent {t_approx:6.2} s  exact {t_exact:6.2} s  recall {:.4}",
                metric.name(),
                recall(&approx, &exact)
            );
        }
    }
}
