//! Times t-SNE on gaussian blobs (as scikit-learn's `make_blobs`: 12 centres uniform in
//! [−10, 10]^d, unit standard deviation) and prints the KL divergence.
//!
//!     cargo run --release -p attrclust-tsne --example tsne_bench -- [n] [d] [method] [max_iter]
//!
//! `method` is auto, exact, barnes_hut or fft; set RAYON_NUM_THREADS to fix the thread count.

use std::time::Instant;

use attrclust_core::rng::Rng;
use attrclust_tsne::{Method, Tsne};
use ndarray::Array2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let n: usize = arg(0, "20000").parse().expect("n");
    let d: usize = arg(1, "50").parse().expect("d");
    let method = match arg(2, "auto").as_str() {
        "exact" => Method::Exact,
        "barnes_hut" => Method::BarnesHut,
        "fft" => Method::Fft,
        _ => Method::Auto,
    };
    let max_iter: usize = arg(3, "1000").parse().expect("max_iter");
    let mut rng = Rng::new(0);
    let centres = Array2::from_shape_fn((12, d), |_| rng.uniform() * 20.0 - 10.0);
    let x = Array2::from_shape_fn((n, d), |(i, j)| centres[[i % 12, j]] + rng.normal());
    let tsne = Tsne {
        method,
        max_iter,
        ..Tsne::default()
    };
    let start = Instant::now();
    let p = attrclust_tsne::affinity::knn_affinities(
        x.view(),
        attrclust_tsne::Metric::Euclidean,
        tsne.perplexity,
        42,
    )
    .expect("affinities");
    println!(
        "k-NN and sparse P alone: {:.2}s ({} stored pairs)",
        start.elapsed().as_secs_f64(),
        p.values.len()
    );
    let start = Instant::now();
    let e = tsne.embed(x.view(), 42, &|_| {}).expect("t-SNE runs");
    println!(
        "n={n} d={d} method={} threads={} time={:.2}s kl={:.4} n_iter={}",
        e.method.name(),
        rayon::current_num_threads(),
        start.elapsed().as_secs_f64(),
        e.kl_divergence,
        e.n_iter
    );
}
