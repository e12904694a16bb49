//! Brute-force search: every query against every row.
//!
//! Batched euclidean queries screen pairs with a matrix product (‖a‖² + ‖b‖² − 2a·b on centred
//! rows, which runs at BLAS-like speed) and recompute the exact [`Metric::reduced`] distance only
//! for the pairs the screen cannot decide. The screen's error is bounded (see `SCREEN_ULPS`), so
//! results are exactly those of the plain scan, never "almost".

use std::collections::BinaryHeap;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};

use crate::Metric;
use crate::heap::Cand;

/// Data rows per matrix-product tile (keeps the tile of products in L2-sized blocks).
const TILE: usize = 1024;

#[derive(Clone, Debug)]
pub struct BruteForce {
    metric: Metric,
    dim: usize,
    n: usize,
    /// The rows, row-major, as given.
    data: Vec<f64>,
    /// Euclidean only: the rows minus their mean (smaller norms, tighter screen) and the squared
    /// norms of those centred rows.
    centered: Array2<f64>,
    sq_norms: Vec<f64>,
    /// |screened − exact| ≤ `margin` · (‖a‖² + ‖b‖²) for centred rows a, b.
    margin: f64,
}

impl BruteForce {
    pub fn new(x: ArrayView2<f64>, metric: Metric) -> Self {
        let (n, dim) = x.dim();
        let data: Vec<f64> = x.rows().into_iter().flat_map(|r| r.to_vec()).collect();
        let (centered, sq_norms) = if metric == Metric::Euclidean && n > 0 {
            let mean: Array1<f64> = x.mean_axis(Axis(0)).expect("n > 0");
            let c = &x - &mean;
            let norms = c.rows().into_iter().map(|r| r.dot(&r)).collect();
            (c, norms)
        } else {
            (Array2::zeros((0, dim)), Vec::new())
        };
        // Rounding of the centring, the norms, the dot products (d terms each) and the exact
        // recomputation all stay below a few (d + c) ulps of ‖a‖² + ‖b‖²; this is a generous
        // multiple of that bound.
        let margin = (8.0 * dim as f64 + 64.0) * f64::EPSILON;
        BruteForce {
            metric,
            dim,
            n,
            data,
            centered,
            sq_norms,
            margin,
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// As [`crate::KdTree::knn`].
    pub fn knn(&self, query: &[f64], k: usize, exclude: Option<usize>) -> Vec<(usize, f64)> {
        assert_eq!(query.len(), self.dim, "query dimension");
        let mut heap = BinaryHeap::with_capacity(k + 1);
        if k > 0 {
            for j in 0..self.n {
                if exclude == Some(j) {
                    continue;
                }
                let c = Cand {
                    dist: self.metric.reduced(query, self.row(j)),
                    index: j,
                };
                if heap.len() < k {
                    heap.push(c);
                } else if c < *heap.peek().expect("k > 0") {
                    heap.pop();
                    heap.push(c);
                }
            }
        }
        self.finish(heap.into_sorted_vec())
    }

    fn finish(&self, sorted: Vec<Cand>) -> Vec<(usize, f64)> {
        sorted
            .into_iter()
            .map(|c| (c.index, self.metric.unreduce(c.dist)))
            .collect()
    }

    /// As [`crate::KdTree::radius`].
    pub fn radius(&self, query: &[f64], r: f64) -> Vec<usize> {
        assert_eq!(query.len(), self.dim, "query dimension");
        let rr = self.metric.reduce_radius(r);
        (0..self.n)
            .filter(|&j| self.metric.reduced(query, self.row(j)) <= rr)
            .collect()
    }

    /// As [`crate::KdTree::radius_count`].
    pub fn radius_count(&self, query: &[f64], r: f64, limit: usize) -> usize {
        assert_eq!(query.len(), self.dim, "query dimension");
        let rr = self.metric.reduce_radius(r);
        let mut count = 0;
        for j in 0..self.n {
            if count >= limit {
                break;
            }
            if self.metric.reduced(query, self.row(j)) <= rr {
                count += 1;
            }
        }
        count
    }

    /// Calls `hit(a, j)` for every data row `j` within `r` of row `rows[a]`; `j` ascends for each `a`.
    pub(crate) fn radius_block(&self, rows: &[usize], r: f64, mut hit: impl FnMut(usize, usize)) {
        let rr = self.metric.reduce_radius(r);
        if rr < 0.0 || self.n == 0 {
            return;
        }
        if self.metric != Metric::Euclidean {
            for (a, &i) in rows.iter().enumerate() {
                let q = self.row(i);
                for j in 0..self.n {
                    if self.metric.reduced(q, self.row(j)) <= rr {
                        hit(a, j);
                    }
                }
            }
            return;
        }
        let q = self.centered.select(Axis(0), rows);
        let mut g = Array2::<f64>::zeros((rows.len(), TILE.min(self.n)));
        for t0 in (0..self.n).step_by(TILE) {
            let t1 = (t0 + TILE).min(self.n);
            let tile = self.centered.slice(s![t0..t1, ..]);
            let mut gv = g.slice_mut(s![.., ..t1 - t0]);
            general_mat_mul(1.0, &q, &tile.t(), 0.0, &mut gv);
            let tile_norms = &self.sq_norms[t0..t1];
            for (a, &i) in rows.iter().enumerate() {
                let qn = self.sq_norms[i];
                for (jj, (&dot, &tn)) in gv.row(a).iter().zip(tile_norms).enumerate() {
                    let sum = qn + tn;
                    let gap = sum - 2.0 * dot - rr;
                    let m = self.margin * sum;
                    // Most pairs are clearly outside: one predictable branch.
                    if gap > m {
                        continue;
                    }
                    let j = t0 + jj;
                    if gap <= -m || self.metric.reduced(self.row(i), self.row(j)) <= rr {
                        hit(a, j);
                    }
                }
            }
        }
    }

    /// The `k` nearest rows of each of `rows` (optionally without the row itself).
    pub(crate) fn knn_block(
        &self,
        rows: &[usize],
        k: usize,
        exclude_self: bool,
    ) -> Vec<Vec<(usize, f64)>> {
        if self.metric != Metric::Euclidean || k == 0 || self.n == 0 {
            return rows
                .iter()
                .map(|&i| self.knn(self.row(i), k, exclude_self.then_some(i)))
                .collect();
        }
        let q = self.centered.select(Axis(0), rows);
        let mut g = Array2::<f64>::zeros((rows.len(), self.n));
        general_mat_mul(1.0, &q, &self.centered.t(), 0.0, &mut g);
        let mut out = Vec::with_capacity(rows.len());
        let mut upper = BinaryHeap::with_capacity(k + 1);
        for (a, &i) in rows.iter().enumerate() {
            let ex = exclude_self.then_some(i);
            let qn = self.sq_norms[i];
            let approx = |j: usize| qn + self.sq_norms[j] - 2.0 * g[[a, j]];
            let margin = |j: usize| self.margin * (qn + self.sq_norms[j]);
            // U = the k-th smallest upper bound: at least k rows are exactly within U, so no row
            // whose lower bound exceeds U can be among the k nearest.
            upper.clear();
            for j in 0..self.n {
                if ex == Some(j) {
                    continue;
                }
                let ub = approx(j) + margin(j);
                if upper.len() < k {
                    upper.push(Cand { dist: ub, index: j });
                } else if ub < upper.peek().expect("k > 0").dist {
                    upper.pop();
                    upper.push(Cand { dist: ub, index: j });
                }
            }
            let bound = if upper.len() == k {
                upper.peek().expect("k > 0").dist
            } else {
                f64::INFINITY
            };
            let mut cands: Vec<Cand> = (0..self.n)
                .filter(|&j| ex != Some(j) && approx(j) - margin(j) <= bound)
                .map(|j| Cand {
                    dist: self.metric.reduced(self.row(i), self.row(j)),
                    index: j,
                })
                .collect();
            cands.sort_unstable();
            cands.truncate(k);
            out.push(self.finish(cands));
        }
        out
    }
}
