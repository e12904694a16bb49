//! Times `kmeans` with Lloyd and Elkan iterations on a raw little-endian f64 matrix.
//!
//!     /root/refenv/bin/python -c "import numpy as np; from sklearn.datasets import make_blobs; \
//!       X,_=make_blobs(20000,64,centers=12,random_state=0); X.astype('<f8').tofile('/tmp/blobs20k.f64')"
//!     cargo run --release -p attrclust-kmeans --example bench_kmeans -- /tmp/blobs20k.f64 64 12 [runs] [n_init] [k-means++|random]

use std::time::Instant;

use attrclust_kmeans::{Algorithm, Init, KMeans};
use ndarray::Array2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map_or("/tmp/blobs20k.f64", String::as_str);
    let d: usize = args.get(2).map_or(64, |s| s.parse().expect("d"));
    let k: usize = args.get(3).map_or(12, |s| s.parse().expect("k"));
    let runs: usize = args.get(4).map_or(3, |s| s.parse().expect("runs"));
    let n_init: usize = args.get(5).map_or(1, |s| s.parse().expect("n_init"));
    let init = match args.get(6).map(String::as_str) {
        Some("random") => Init::Random,
        _ => Init::KMeansPlusPlus,
    };
    let bytes = std::fs::read(path).expect("read the data file");
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let n = values.len() / d;
    let x = Array2::from_shape_vec((n, d), values).expect("n × d");
    let model = KMeans {
        n_clusters: k,
        init,
        n_init,
        max_iter: 300,
        tol: 1e-4,
    };
    println!(
        "{n} × {d}, k = {k}, n_init = {n_init}, init {init:?}, {} threads",
        rayon::current_num_threads()
    );
    let mut results = Vec::new();
    for algorithm in [Algorithm::Lloyd, Algorithm::Elkan] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let start = Instant::now();
            let out = model
                .fit_counted(x.view(), 0, algorithm, &|_| {})
                .expect("fit");
            times.push(start.elapsed().as_secs_f64());
            last = Some(out);
        }
        times.sort_by(f64::total_cmp);
        let (fit, n_dist) = last.expect("runs ≥ 1");
        println!(
            "{algorithm:?}: median {:.3} s (runs {:?}), n_iter {}, inertia {}, distances {n_dist}",
            times[times.len() / 2],
            times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
            fit.n_iter,
            fit.inertia
        );
        results.push(fit);
    }
    assert_eq!(results[0].labels, results[1].labels, "labels differ");
    println!(
        "labels identical; inertia bits equal: {}",
        results[0].inertia.to_bits() == results[1].inertia.to_bits()
    );
}
