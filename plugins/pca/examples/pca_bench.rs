//! Times PCA (fit + transform) on gaussian blobs: `pca_bench [ROWS] [COLS] [COMPONENTS]`.
//! A benchmark, not a test; benchmarks/reducers.py compares the whole step with scikit-learn.

use attrclust_core::rng::Rng;
use attrclust_pca::{Components, Pca, Solver};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (n, d, k) = (
        *args.first().unwrap_or(&20_000),
        *args.get(1).unwrap_or(&50),
        *args.get(2).unwrap_or(&10),
    );
    let mut rng = Rng::new(0);
    let centres: Vec<f64> = (0..12 * d).map(|_| rng.normal() * 10.0).collect();
    let x =
        ndarray::Array2::from_shape_fn((n, d), |(i, j)| centres[(i % 12) * d + j] + rng.normal());
    let pca = Pca {
        n_components: Components::Count(k),
        whiten: false,
        solver: Solver::Auto,
        seed: 0,
    };
    let mut times = Vec::new();
    for _ in 0..7 {
        let t = std::time::Instant::now();
        let fit = pca.fit(&x).unwrap();
        let y = fit.transform(&x, false);
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(y.ncols(), k);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{n} × {d} → {k}: median {:.4} s (min {:.4} s)",
        times[3], times[0]
    );
}
