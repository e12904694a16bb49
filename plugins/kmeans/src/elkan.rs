//! Elkan's k-means: the same iterations as Lloyd, but a point's distance to a centre is only
//! computed when the triangle inequality cannot rule that centre out. Each point keeps an upper
//! bound on the distance to its own centre and a lower bound per centre; half the distance
//! between two centres bounds which of them can be closer.
//!
//! Elkan rather than Hamerly: attribution vectors have tens of dimensions (64 channels, 10–20
//! PCA components), where one lower bound per point (Hamerly) loosens quickly and the k bounds
//! of Elkan skip far more distances; with k ≤ ~20 the n × k bounds are cheap to keep.
//!
//! Exactness: the bounds hold for exact distances and are kept with a relative safety margin
//! `eta` (far above the rounding error of `sq_euclidean`), and a centre is only skipped when it
//! is farther than the current one by more than that margin. Every distance that can decide the
//! assignment is computed with the same kernel on the same rows as Lloyd, ties go to the lowest
//! index as in Lloyd, so labels, centres, inertia and iteration counts come out bit-identical.

use std::sync::Mutex;

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use ndarray::{Array2, ArrayView2};

use crate::{KMeansFit, center_shifts, sq_dist, update_centers};

/// One chunk of rows' bounds. Chunks are fixed (`CHUNK_ROWS`), so results do not depend on the
/// thread count; each chunk is locked by exactly one task at a time.
struct Chunk {
    labels: Vec<usize>,
    upper: Vec<f64>,
    /// rows × k, row-major.
    lower: Vec<f64>,
}

/// Centre–centre half distances (lower bounds) and, per centre, the smallest of them.
struct Halves {
    half: Vec<f64>,
    nearest: Vec<f64>,
}

fn halves(centers: &Array2<f64>, eta: f64) -> Halves {
    let k = centers.nrows();
    let mut half = vec![0.0; k * k];
    for a in 0..k {
        for b in a + 1..k {
            let h = 0.5 * sq_dist(centers.row(a), centers.row(b)).sqrt() * (1.0 - eta);
            half[a * k + b] = h;
            half[b * k + a] = h;
        }
    }
    let nearest = (0..k)
        .map(|a| {
            (0..k)
                .filter(|&b| b != a)
                .map(|b| half[a * k + b])
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    Halves { half, nearest }
}

/// Relative margin on every bound: far above the relative error of a computed squared distance
/// (about (d + 3) ulps) and of its square root.
fn margin(d: usize) -> f64 {
    (d as f64 + 16.0) * 8.0 * f64::EPSILON
}

/// Elkan iterations from `centers`; the same contract as `lloyd`, including the distance count.
pub(crate) fn elkan(
    x: ArrayView2<f64>,
    mut centers: Array2<f64>,
    max_iter: usize,
    tol: f64,
) -> (KMeansFit, usize) {
    let (n, d) = x.dim();
    let k = centers.nrows();
    let eta = margin(d);
    let up = |v: f64| v * (1.0 + eta);
    let down = |v: f64| (v * (1.0 - eta)).max(0.0);
    let mut n_distances = k * (k - 1) / 2;
    let mut hv = halves(&centers, eta);

    // First assignment: centre 0, then every centre the half distances do not rule out.
    let first = map_chunks(n, CHUNK_ROWS, |s, e| {
        let mut count = 0;
        let mut chunk = Chunk {
            labels: Vec::with_capacity(e - s),
            upper: Vec::with_capacity(e - s),
            lower: vec![0.0; (e - s) * k],
        };
        for i in s..e {
            let row = x.row(i);
            let lower = &mut chunk.lower[(i - s) * k..(i - s + 1) * k];
            let mut a = 0;
            let mut da = sq_dist(row, centers.row(0));
            count += 1;
            lower[0] = down(da.sqrt());
            for (j, lj) in lower.iter_mut().enumerate().skip(1) {
                let u = up(da.sqrt());
                let h = hv.half[a * k + j];
                if h > up(u) {
                    // d(x, j) ≥ 2h − d(x, a).
                    *lj = down(2.0 * h - u);
                    continue;
                }
                let dj = sq_dist(row, centers.row(j));
                count += 1;
                *lj = down(dj.sqrt());
                if dj < da {
                    a = j;
                    da = dj;
                }
            }
            chunk.labels.push(a);
            chunk.upper.push(up(da.sqrt()));
        }
        (Mutex::new(chunk), count)
    });
    let mut chunks = Vec::with_capacity(first.len());
    for (chunk, count) in first {
        chunks.push(chunk);
        n_distances += count;
    }
    let collect_labels = |chunks: &[Mutex<Chunk>]| -> Vec<usize> {
        chunks
            .iter()
            .flat_map(|c| c.lock().expect("not poisoned").labels.clone())
            .collect()
    };
    // Exact squared distances to the assigned centres, bit-identical to Lloyd's.
    let exact = |labels: &[usize], centers: &Array2<f64>| -> Vec<f64> {
        map_chunks(n, CHUNK_ROWS, |s, e| {
            (s..e)
                .map(|i| sq_dist(x.row(i), centers.row(labels[i])))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };

    let mut labels = collect_labels(&chunks);
    let mut n_iter = 0;
    for _ in 0..max_iter {
        n_iter += 1;
        let mut used_exact = false;
        let new_centers = update_centers(x, &labels, &centers, || {
            used_exact = true;
            exact(&labels, &centers)
        });
        if used_exact {
            n_distances += n;
        }
        let shifts = center_shifts(&centers, &new_centers);
        let shift: f64 = shifts.iter().sum();
        let drift: Vec<f64> = shifts.iter().map(|s| up(s.sqrt())).collect();
        centers = new_centers;
        hv = halves(&centers, eta);
        n_distances += k + k * (k - 1) / 2;

        let counts = map_chunks(n, CHUNK_ROWS, |s, e| {
            let mut guard = chunks[s / CHUNK_ROWS].lock().expect("not poisoned");
            let chunk = &mut *guard;
            let mut count = 0;
            for i in s..e {
                let r = i - s;
                let row = x.row(i);
                let lower = &mut chunk.lower[r * k..(r + 1) * k];
                for (l, dj) in lower.iter_mut().zip(&drift) {
                    *l = down(*l - dj);
                }
                let mut a = chunk.labels[r];
                let mut u = up(chunk.upper[r] + drift[a]);
                let mut lim = up(u);
                if hv.nearest[a] > lim {
                    chunk.upper[r] = u;
                    continue;
                }
                // Exact squared distance to the current candidate, once computed.
                let mut da: Option<f64> = None;
                for j in 0..k {
                    if j == a || lower[j] > lim || hv.half[a * k + j] > lim {
                        continue;
                    }
                    let dav = match da {
                        Some(v) => v,
                        None => {
                            let v = sq_dist(row, centers.row(a));
                            count += 1;
                            u = up(v.sqrt());
                            lim = up(u);
                            lower[a] = down(v.sqrt());
                            da = Some(v);
                            if lower[j] > lim || hv.half[a * k + j] > lim {
                                continue;
                            }
                            v
                        }
                    };
                    let dj = sq_dist(row, centers.row(j));
                    count += 1;
                    lower[j] = down(dj.sqrt());
                    // Lloyd keeps the lowest index among equal distances.
                    if dj < dav || (dj == dav && j < a) {
                        a = j;
                        da = Some(dj);
                        u = up(dj.sqrt());
                        lim = up(u);
                    }
                }
                chunk.labels[r] = a;
                chunk.upper[r] = u;
            }
            count
        });
        n_distances += counts.iter().sum::<usize>();
        let new_labels = collect_labels(&chunks);
        let unchanged = new_labels == labels;
        labels = new_labels;
        if unchanged || shift <= tol {
            break;
        }
    }
    // The inertia as Lloyd computes it: exact distances to the final centres, summed in order.
    let closest = exact(&labels, &centers);
    n_distances += n;
    let inertia = closest.iter().sum();
    let fit = KMeansFit {
        labels,
        centers,
        inertia,
        n_iter,
    };
    (fit, n_distances)
}
