//! Times HDBSCAN on a raw little-endian f64 matrix: `bench_hdbscan FILE ROWS COLS MIN_CLUSTER_SIZE [ALGORITHM]`.
//! `ALGORITHM` (optional 5th argument): auto, prims or boruvka_kdtree.
//! Used by benchmarks/compare.py for the side-by-side table; a benchmark, not a test.

use attrclust_hdbscan::{Hdbscan, Metric, MstAlgorithm, Selection};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (path, n, d, mcs) = (
        &args[1],
        args[2].parse().unwrap(),
        args[3].parse().unwrap(),
        args[4].parse().unwrap(),
    );
    let bytes = std::fs::read(path).unwrap();
    let v: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let x = ndarray::Array2::from_shape_vec((n, d), v).unwrap();
    let model = Hdbscan {
        min_cluster_size: mcs,
        min_samples: None,
        selection: Selection::Eom,
        epsilon: 0.0,
        allow_single_cluster: false,
        max_cluster_size: None,
        alpha: 1.0,
        metric: Metric::Euclidean,
        algorithm: match args.get(5).map(String::as_str) {
            Some("prims") => MstAlgorithm::Prims,
            Some("boruvka_kdtree") => MstAlgorithm::BoruvkaKdTree,
            _ => MstAlgorithm::Auto,
        },
    };
    let t = std::time::Instant::now();
    let r = model.fit_rows(x.view()).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let k = r.labels.iter().copied().max().unwrap_or(-1) + 1;
    let noise = r.labels.iter().filter(|&&l| l < 0).count();
    println!("{{\"seconds\": {secs}, \"n_clusters\": {k}, \"n_noise\": {noise}}}");
    let out: Vec<u8> = r.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
    std::fs::write(format!("{path}.labels"), out).unwrap();
}
