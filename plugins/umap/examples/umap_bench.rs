//! UMAP on 20,000 × 50 gaussian blobs (12 centres): time per stage and trustworthiness.
//! Run: `cargo run --release -p attrclust-umap --example umap_bench [n] [threads] [side]`
//! (`side`: centres uniform in [−side/2, side/2]^50, default 20; e.g. 3 makes the blobs touch, so
//! the neighbour graph is connected and the spectral initialisation runs).

use std::time::Instant;

use attrclust_core::rng::Rng;
use attrclust_umap::Umap;
use ndarray::Array2;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    if let Some(&threads) = args.get(1) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .expect("one global pool");
    }
    let d = 50;
    let side = args.get(2).copied().unwrap_or(20) as f64;
    let mut rng = Rng::new(7);
    let centres = Array2::from_shape_fn((12, d), |_| side * (rng.uniform() - 0.5));
    let x = Array2::from_shape_fn((n, d), |(i, j)| centres[[i % 12, j]] + rng.normal());
    let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let clock = Instant::now();
    let e = Umap::default().embed(x.view(), &ids, 42).expect("embeds");
    let total = clock.elapsed().as_secs_f64();
    let t = e.timings;
    println!(
        "n = {n}, d = {d}: knn ({}) {:.2} s, graph {:.2} s, init ({}) {:.2} s, sgd ({} epochs) {:.2} s, total {total:.2} s",
        e.knn, t.knn, t.graph, e.init, t.init, e.n_epochs, t.layout
    );
    let clock = Instant::now();
    let tw = attrclust_metrics::trustworthiness(x.view(), e.coords.view(), 10);
    println!(
        "trustworthiness (k = 10): {tw:.4} ({:.1} s)",
        clock.elapsed().as_secs_f64()
    );
}
