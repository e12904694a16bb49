//! Internal metrics on the features: Calinski–Harabasz and Davies–Bouldin, as scikit-learn
//! 1.9.1 computes them. Both are O(n·d) for the centroids and dispersions; Davies–Bouldin adds
//! O(k²·d) for the centroid pairs, computed row-parallel in fixed chunks with O(k) memory.

use attrclust_core::parallel::map_chunks;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::accurate_sum;

/// Samples grouped by cluster: dense cluster index per sample, sizes and centroids.
struct Clusters {
    index: Vec<usize>,
    sizes: Vec<usize>,
    centroids: Array2<f64>,
}

impl Clusters {
    /// Groups the rows of `x` by label; fails as sklearn's `check_number_of_labels` does unless
    /// 2 ≤ n_labels ≤ n_samples − 1 (noise -1 counts as a label).
    fn new(x: ArrayView2<f64>, labels: &[i64]) -> Result<Clusters, String> {
        let n = x.nrows();
        if labels.len() != n {
            return Err(format!("{} cluster labels for {n} samples", labels.len()));
        }
        let mut ids = labels.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let k = ids.len();
        if k < 2 || k >= n {
            return Err(format!(
                "{k} clusters for {n} samples: valid are 2 to n_samples − 1 (noise counts as one)"
            ));
        }
        let index: Vec<usize> = labels
            .iter()
            .map(|l| ids.binary_search(l).expect("listed"))
            .collect();
        let mut sizes = vec![0usize; k];
        let mut centroids = Array2::<f64>::zeros((k, x.ncols()));
        // Sequential sums in sample order: O(n·d), independent of the thread count.
        for (row, &c) in x.rows().into_iter().zip(&index) {
            sizes[c] += 1;
            let mut centroid = centroids.row_mut(c);
            centroid += &row;
        }
        for (mut centroid, &size) in centroids.rows_mut().into_iter().zip(&sizes) {
            centroid /= size as f64;
        }
        Ok(Clusters {
            index,
            sizes,
            centroids,
        })
    }
}

fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// Calinski–Harabasz index (scikit-learn `calinski_harabasz_score`): between-cluster over
/// within-cluster dispersion, each per degree of freedom; 1.0 when the within-cluster dispersion
/// is exactly 0.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[i64]) -> Result<f64, String> {
    let clusters = Clusters::new(x, labels)?;
    let (n, k) = (x.nrows(), clusters.sizes.len());
    let mean: Array1<f64> = x.sum_axis(ndarray::Axis(0)) / n as f64;
    let extra = accurate_sum(
        clusters
            .centroids
            .rows()
            .into_iter()
            .zip(&clusters.sizes)
            .map(|(centroid, &size)| size as f64 * squared_distance(centroid, mean.view())),
    );
    let intra = accurate_sum(
        x.rows()
            .into_iter()
            .zip(&clusters.index)
            .map(|(row, &c)| squared_distance(row, clusters.centroids.row(c))),
    );
    if intra == 0.0 {
        return Ok(1.0);
    }
    Ok(extra * (n - k) as f64 / (intra * (k as f64 - 1.0)))
}

/// sklearn tests "≈ 0" with `isclose(v, 0)`: |v| ≤ atol = 1e-8.
const CLOSE_TO_ZERO: f64 = 1e-8;

/// Centroid rows per parallel chunk in Davies–Bouldin (fixed: results never depend on threads).
const DB_CHUNK: usize = 64;

/// Davies–Bouldin index (scikit-learn `davies_bouldin_score`): the mean over clusters of the
/// worst (s_i + s_j) / d(c_i, c_j), with s the mean distance of a cluster's samples to its
/// centroid. 0.0 when every s is ≈ 0 or every centroid distance is ≈ 0; coinciding centroids
/// (distance exactly 0) are skipped, as sklearn sets their distance to infinity.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[i64]) -> Result<f64, String> {
    let clusters = Clusters::new(x, labels)?;
    let k = clusters.sizes.len();
    let mut spread = vec![0.0; k];
    for (row, &c) in x.rows().into_iter().zip(&clusters.index) {
        spread[c] += squared_distance(row, clusters.centroids.row(c)).sqrt();
    }
    for (s, &size) in spread.iter_mut().zip(&clusters.sizes) {
        *s /= size as f64;
    }
    if spread.iter().all(|s| s.abs() <= CLOSE_TO_ZERO) {
        return Ok(0.0);
    }
    let centroids = &clusters.centroids;
    let spread = &spread;
    // Per chunk of centroid rows: each row's worst ratio, and whether any centroid distance is
    // not ≈ 0.
    let parts = map_chunks(k, DB_CHUNK, |start, end| {
        let mut any_apart = false;
        let worst: Vec<f64> = (start..end)
            .map(|i| {
                let mut worst = 0.0f64;
                for j in 0..k {
                    let d = squared_distance(centroids.row(i), centroids.row(j)).sqrt();
                    any_apart |= d > CLOSE_TO_ZERO;
                    if d > 0.0 {
                        worst = worst.max((spread[i] + spread[j]) / d);
                    }
                }
                worst
            })
            .collect();
        (worst, any_apart)
    });
    if !parts.iter().any(|(_, apart)| *apart) {
        return Ok(0.0);
    }
    let total = accurate_sum(parts.iter().flat_map(|(w, _)| w.iter().copied()));
    Ok(total / k as f64)
}
