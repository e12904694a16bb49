//! Every backend and every batched query against a plain scan, on random data with duplicates and
//! ties (coordinates on a coarse grid), in several dimensions.

use attrclust_core::rng::Rng;
use attrclust_neighbors::{Algorithm, Metric, NeighborIndex};
use ndarray::Array2;

/// `n` rows of `d` gaussian coordinates; `grid` > 0 rounds them (many equal distances), and every
/// seventh row repeats an earlier one.
fn data(n: usize, d: usize, grid: f64, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let mut x = Array2::from_shape_fn((n, d), |_| {
        let v = 3.0 * rng.normal();
        if grid > 0.0 {
            (v / grid).round() * grid
        } else {
            v
        }
    });
    for i in (7..n).step_by(7) {
        let src = rng.below(i);
        let row = x.row(src).to_owned();
        x.row_mut(i).assign(&row);
    }
    x
}

fn naive_knn(x: &Array2<f64>, m: Metric, q: usize, k: usize, ex: bool) -> Vec<(usize, f64)> {
    let qr = x.row(q).to_vec();
    let mut all: Vec<(f64, usize)> = (0..x.nrows())
        .filter(|&j| !(ex && j == q))
        .map(|j| (m.reduced(&qr, &x.row(j).to_vec()), j))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all.into_iter().map(|(d, j)| (j, m.unreduce(d))).collect()
}

fn naive_radius(x: &Array2<f64>, m: Metric, q: usize, r: f64) -> Vec<usize> {
    let qr = x.row(q).to_vec();
    let rr = m.reduce_radius(r);
    (0..x.nrows())
        .filter(|&j| m.reduced(&qr, &x.row(j).to_vec()) <= rr)
        .collect()
}

/// Radii that hit exact pairwise distances (boundary ties) and typical neighbourhood sizes.
fn radii(x: &Array2<f64>, m: Metric) -> Vec<f64> {
    let q = x.row(0).to_vec();
    let mut d: Vec<f64> = (1..x.nrows())
        .map(|j| m.unreduce(m.reduced(&q, &x.row(j).to_vec())))
        .collect();
    d.sort_by(f64::total_cmp);
    vec![0.0, d[d.len() / 50], d[d.len() / 10], d[d.len() / 3], -1.0]
}

fn check(n: usize, d: usize, grid: f64, seed: u64) {
    let x = data(n, d, grid, seed);
    for metric in [Metric::Euclidean, Metric::Manhattan] {
        let indexes = [
            NeighborIndex::with_algorithm(x.view(), metric, Algorithm::KdTree),
            NeighborIndex::with_algorithm(x.view(), metric, Algorithm::Brute),
            NeighborIndex::with_algorithm(x.view(), metric, Algorithm::Auto),
        ];
        for ix in &indexes {
            let what = format!("{:?} {metric:?} n={n} d={d} grid={grid}", ix.algorithm());
            for k in [1, 17, n + 3] {
                for ex in [false, true] {
                    let all = ix.knn_all(k, ex);
                    for q in 0..n {
                        let want = naive_knn(&x, metric, q, k, ex);
                        assert_eq!(all[q], want, "{what} knn_all k={k} ex={ex} q={q}");
                        if q % 13 == 0 {
                            let one = ix.knn(x.row(q), k, ex.then_some(q));
                            assert_eq!(one, want, "{what} knn k={k} q={q}");
                        }
                    }
                }
            }
            for r in radii(&x, metric) {
                let all = ix.radius_all(r);
                let counts = ix.radius_count_all(r, 6);
                for q in 0..n {
                    let want = naive_radius(&x, metric, q, r);
                    assert_eq!(all[q], want, "{what} radius_all r={r} q={q}");
                    assert_eq!(counts[q], want.len().min(6), "{what} count r={r} q={q}");
                    if q % 11 == 0 {
                        assert_eq!(ix.radius(x.row(q), r), want, "{what} radius r={r} q={q}");
                        assert_eq!(ix.radius_count(x.row(q), r, usize::MAX), want.len());
                    }
                }
                let some: Vec<usize> = (0..n).rev().step_by(3).collect();
                let sub = ix.radius_rows(&some, r);
                for (a, &q) in some.iter().enumerate() {
                    assert_eq!(sub[a], all[q], "{what} radius_rows");
                }
            }
        }
    }
}

#[test]
fn low_dimensions_with_ties_and_duplicates() {
    check(300, 1, 0.5, 1);
    check(400, 2, 0.5, 2);
    check(400, 3, 0.0, 3);
}

#[test]
fn medium_and_high_dimensions() {
    check(500, 10, 0.0, 4);
    check(300, 10, 1.0, 5);
    check(700, 33, 0.0, 6);
    check(300, 64, 2.0, 7);
}

#[test]
fn more_rows_than_a_brute_force_tile() {
    // Crosses the 1024-row product tile and the 256-row parallel chunk.
    check(1500, 20, 0.0, 8);
}

#[test]
fn degenerate_inputs() {
    let empty = Array2::<f64>::zeros((0, 3));
    for algo in [Algorithm::KdTree, Algorithm::Brute] {
        let ix = NeighborIndex::with_algorithm(empty.view(), Metric::Euclidean, algo);
        assert!(ix.knn_all(3, true).is_empty());
        assert!(ix.radius_all(1.0).is_empty());
        assert!(
            ix.knn(ndarray::arr1(&[0.0, 0.0, 0.0]).view(), 2, None)
                .is_empty()
        );
    }
    // All rows identical: the tree cannot split; everything is at distance 0.
    let same = Array2::<f64>::ones((100, 4));
    for algo in [Algorithm::KdTree, Algorithm::Brute] {
        let ix = NeighborIndex::with_algorithm(same.view(), Metric::Euclidean, algo);
        assert_eq!(ix.radius_all(0.0)[5].len(), 100);
        let nn = ix.knn(same.row(0), 3, Some(0));
        assert_eq!(nn, vec![(1, 0.0), (2, 0.0), (3, 0.0)]);
    }
}

#[test]
fn batched_results_do_not_depend_on_thread_count() {
    let x = data(2000, 8, 0.0, 9);
    let y = data(800, 40, 0.0, 10);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let a = NeighborIndex::new(x.view(), Metric::Euclidean);
                let b = NeighborIndex::new(y.view(), Metric::Euclidean);
                (
                    a.knn_all(7, true),
                    a.radius_all(2.0),
                    b.knn_all(7, true),
                    b.radius_all(20.0),
                )
            })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn cosine_through_normalised_rows() {
    let x = data(200, 5, 0.0, 11);
    let u = attrclust_neighbors::normalize_rows(x.view()).unwrap();
    let eps = 0.1;
    let ix = NeighborIndex::new(u.view(), Metric::Euclidean);
    let found = ix.radius_all(attrclust_neighbors::cosine_to_euclidean_radius(eps));
    for i in 0..200 {
        let want: Vec<usize> = (0..200)
            .filter(|&j| {
                let (a, b) = (x.row(i), x.row(j));
                1.0 - a.dot(&b) / (a.dot(&a).sqrt() * b.dot(&b).sqrt()) <= eps
            })
            .collect();
        assert_eq!(found[i], want);
    }
    let zero = Array2::<f64>::zeros((3, 2));
    assert_eq!(attrclust_neighbors::normalize_rows(zero.view()), Err(0));
}
