//! Exact k-NN (attrclust-neighbors' index) against NN-descent for t-SNE's k = 91 (perplexity 30)
//! on 12 gaussian blobs, d = 50: time and recall. Sets `affinity::NN_DESCENT_FROM`.
//!
//!     cargo run --release -p attrclust-tsne --example knn_profile -- 10000 20000 50000

use std::time::Instant;

use attrclust_core::rng::Rng;
use attrclust_neighbors::nndescent::{KnnMetric, knn_graph};
use attrclust_neighbors::{Metric, NeighborIndex};
use ndarray::Array2;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a row count"))
        .collect();
    let (d, k) = (50, 91);
    for n in if sizes.is_empty() {
        vec![20_000]
    } else {
        sizes
    } {
        let mut rng = Rng::new(0);
        let centres = Array2::from_shape_fn((12, d), |_| rng.uniform() * 20.0 - 10.0);
        let x = Array2::from_shape_fn((n, d), |(i, j)| centres[[i % 12, j]] + rng.normal());
        let t = Instant::now();
        let exact = NeighborIndex::new(x.view(), Metric::Euclidean).knn_all(k, true);
        let t_exact = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let approx = knn_graph(x.view(), k, KnnMetric::Euclidean, 1).expect("valid input");
        let t_approx = t.elapsed().as_secs_f64();
        let hits: usize = exact
            .iter()
            .zip(&approx)
            .map(|(e, a)| e.iter().filter(|p| a.iter().any(|q| q.0 == p.0)).count())
            .sum();
        println!(
            "n={n}: exact {t_exact:.2}s, NN-descent {t_approx:.2}s, recall {:.4}",
            hits as f64 / (n * k) as f64
        );
    }
}
