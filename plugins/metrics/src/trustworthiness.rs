//! Trustworthiness of an embedding (Venna & Kaski 2001), as scikit-learn's
//! `sklearn.manifold.trustworthiness`:
//!
//! T(k) = 1 − 2 / (n·k·(2n − 3k − 1)) · Σᵢ Σ_{j ∈ Uᵢ(k)} (r(i, j) − k)
//!
//! where Uᵢ(k) are the k nearest neighbours of i in the embedding that are not among its k nearest
//! in the original space, and r(i, j) is the rank of j among i's neighbours in the original space
//! (1 = nearest). 1 means every embedded neighbourhood is a true neighbourhood.
//!
//! scikit-learn builds the n × n distance and rank matrices; we keep O(n) memory per row block:
//! for each sample the distances to all others in both spaces are computed, the k embedded
//! neighbours picked, and each one's original rank counted directly. Ties are broken by row
//! index in both spaces (scikit-learn's quicksort leaves them in an unspecified order; continuous
//! data has none). Time O(n²·(d + c)); the rank sums are integers, so any thread count gives the
//! same value.

use attrclust_core::distance::{Metric as Distance, sq_euclidean};
use attrclust_core::parallel::map_chunks;
use ndarray::ArrayView2;

/// Rows per parallel chunk (each keeps two rows of n distances).
const CHUNK: usize = 64;

/// Trustworthiness with euclidean distances in both spaces.
///
/// # Panics
/// If the row counts differ, or unless 1 ≤ k < n / 2 (see [`trustworthiness_with`]).
pub fn trustworthiness(x: ArrayView2<f64>, embedding: ArrayView2<f64>, k: usize) -> f64 {
    trustworthiness_with(x, embedding, k, Distance::Euclidean)
}

/// Why trustworthiness is undefined for `n` samples and `k` neighbours, if it is.
pub fn undefined_reason(n: usize, k: usize) -> Option<String> {
    if k == 0 {
        return Some("trustworthiness needs n_neighbors ≥ 1".into());
    }
    if 2 * k >= n {
        return Some(format!(
            "trustworthiness needs n_neighbors < n_samples / 2 (scikit-learn's rule); \
             n_neighbors = {k} with {n} samples"
        ));
    }
    None
}

/// Trustworthiness with `metric` in the original space and euclidean in the embedding.
///
/// # Panics
/// If the row counts differ or [`undefined_reason`] gives a reason.
pub fn trustworthiness_with(
    x: ArrayView2<f64>,
    embedding: ArrayView2<f64>,
    k: usize,
    metric: Distance,
) -> f64 {
    let n = x.nrows();
    assert_eq!(n, embedding.nrows(), "one embedded row per sample");
    if let Some(reason) = undefined_reason(n, k) {
        panic!("{reason}");
    }
    let original = metric.rows(x);
    let embedded = Distance::Euclidean.rows(embedding);
    // Squared euclidean ranks as euclidean does, without the square roots.
    let distance = |a: &[f64], b: &[f64]| match metric {
        Distance::Euclidean => sq_euclidean(a, b),
        other => other.distance(a, b),
    };
    let penalties = map_chunks(n, CHUNK, |start, end| {
        let mut far = vec![0.0; n];
        let mut near: Vec<(f64, usize)> = Vec::with_capacity(n);
        let mut penalty = 0u64;
        for i in start..end {
            near.clear();
            for j in 0..n {
                if j != i {
                    far[j] = distance(&original[i], &original[j]);
                    near.push((sq_euclidean(&embedded[i], &embedded[j]), j));
                }
            }
            let by_distance =
                |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            near.select_nth_unstable_by(k - 1, by_distance);
            for &(_, j) in &near[..k] {
                // Rank of j around i in the original space: 1 + the samples strictly before it.
                let dj = far[j];
                let before = (0..n)
                    .filter(|&l| l != i && (far[l] < dj || (far[l] == dj && l < j)))
                    .count();
                let rank = before + 1;
                if rank > k {
                    penalty += (rank - k) as u64;
                }
            }
        }
        penalty
    });
    let total: u64 = penalties.iter().sum();
    let (nf, kf) = (n as f64, k as f64);
    1.0 - total as f64 * (2.0 / (nf * kf * (2.0 * nf - 3.0 * kf - 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_testdata::{fixture, matrix};

    #[test]
    fn matches_scikit_learn_on_every_case() {
        let r = fixture("trustworthiness_reference.json");
        let x = matrix(&r["X"]);
        let cases = r["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 48);
        for case in cases {
            let y = matrix(&r["embeddings"][case["embedding"].as_str().unwrap()]);
            let k = case["n_neighbors"].as_u64().unwrap() as usize;
            let metric = Distance::from_name(case["metric"].as_str().unwrap());
            let want = case["value"].as_f64().unwrap();
            let got = trustworthiness_with(x.view(), y.view(), k, metric);
            assert!((got - want).abs() < 1e-12, "{case}: got {got}");
        }
    }

    #[test]
    fn the_identity_embedding_is_perfect_and_a_shuffle_is_not() {
        let r = fixture("trustworthiness_reference.json");
        let x = matrix(&r["X"]);
        assert_eq!(trustworthiness(x.view(), x.view(), 10), 1.0);
        let shuffled = matrix(&r["embeddings"]["shuffled"]);
        assert!(trustworthiness(x.view(), shuffled.view(), 10) < 0.7);
    }

    #[test]
    fn same_value_with_one_or_two_threads() {
        let r = fixture("trustworthiness_reference.json");
        let x = matrix(&r["X"]);
        let y = matrix(&r["embeddings"]["noisy_pca"]);
        let with = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| trustworthiness(x.view(), y.view(), 5))
        };
        assert_eq!(with(1).to_bits(), with(2).to_bits());
    }

    #[test]
    fn undefined_for_large_neighbourhoods() {
        assert!(undefined_reason(150, 74).is_none());
        let reason = undefined_reason(150, 75).unwrap();
        assert!(
            reason.contains("n_neighbors = 75 with 150 samples"),
            "{reason}"
        );
        assert!(undefined_reason(150, 0).is_some());
    }
}
