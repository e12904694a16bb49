//! Times `dbscan` on a raw matrix (little-endian f64, row-major) — a benchmark, not a test.
//!
//! ```text
//! /root/refenv/bin/python -c "from sklearn.datasets import make_blobs; import numpy as np; \
//!   X, y = make_blobs(n_samples=20000, n_features=64, centers=12, random_state=0); \
//!   np.savez('/tmp/dbscan_blobs.npz', X=X, y=y); X.astype('<f8').tofile('/tmp/dbscan_blobs.f64')"
//! cargo run --release -p attrclust-dbscan --example bench_dbscan -- /tmp/dbscan_blobs.f64 64 10 5
//! /root/refenv/bin/python /work/shared/reference/peers.py run /tmp/dbscan_blobs.npz dbscan -p eps=10
//! ```
//!
//! Arguments: file, columns, eps, min_samples, and optionally a path for the labels (raw i64) to
//! compare with scikit-learn's.

use std::time::Instant;

use attrclust_dbscan::{Dbscan, DbscanMetric};
use ndarray::Array2;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: bench_dbscan FILE COLUMNS EPS MIN_SAMPLES [LABELS_OUT]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).expect("readable data file");
    let d: usize = args[2].parse().expect("COLUMNS");
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let x = Array2::from_shape_vec((values.len() / d, d), values).expect("whole rows");
    let model = Dbscan {
        eps: args[3].parse().expect("EPS"),
        min_samples: args[4].parse().expect("MIN_SAMPLES"),
        metric: DbscanMetric::Euclidean,
    };
    let mut times = Vec::new();
    let mut fit = None;
    for _ in 0..3 {
        let start = Instant::now();
        fit = Some(model.fit(x.view(), &|_| {}).expect("fit"));
        times.push(start.elapsed().as_secs_f64());
    }
    let fit = fit.expect("ran");
    times.sort_by(f64::total_cmp);
    let clusters = fit.labels.iter().max().map_or(0, |&m| m + 1);
    let noise = fit.labels.iter().filter(|&&l| l < 0).count();
    println!(
        "{} × {d}: median {:.3} s (runs {:.3?}), {clusters} clusters, {noise} noise, {} core",
        x.nrows(),
        times[1],
        times,
        fit.is_core.iter().filter(|&&c| c).count()
    );
    if let Some(out) = args.get(5) {
        let raw: Vec<u8> = fit.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
        std::fs::write(out, raw).expect("writable labels file");
    }
}
