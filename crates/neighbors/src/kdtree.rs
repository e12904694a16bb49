//! A KD-tree over the rows of a matrix, with tight bounding boxes per node.

use std::collections::BinaryHeap;

use ndarray::ArrayView2;

use crate::Metric;
use crate::heap::Cand;

/// Rows per leaf: small enough to prune well, large enough that leaf scans dominate the
/// traversal overhead.
pub const DEFAULT_LEAF_SIZE: usize = 24;

#[derive(Clone, Debug)]
struct Node {
    start: usize,
    end: usize,
    /// Child node ids; `None` for a leaf.
    children: Option<(usize, usize)>,
}

/// A KD-tree. The build is deterministic: each node splits the dimension of largest spread at the
/// median, with ties between equal coordinates broken by row index.
#[derive(Clone, Debug)]
pub struct KdTree {
    metric: Metric,
    dim: usize,
    /// The rows in tree order (contiguous per leaf, for cache-friendly scans).
    data: Vec<f64>,
    /// Tree position → original row index.
    index: Vec<usize>,
    /// Original row index → tree position.
    position: Vec<usize>,
    nodes: Vec<Node>,
    /// Per node: `dim` lower bounds, then `dim` upper bounds.
    bounds: Vec<f64>,
}

impl KdTree {
    pub fn new(x: ArrayView2<f64>, metric: Metric) -> Self {
        KdTree::with_leaf_size(x, metric, DEFAULT_LEAF_SIZE)
    }

    pub fn with_leaf_size(x: ArrayView2<f64>, metric: Metric, leaf_size: usize) -> Self {
        let (n, dim) = x.dim();
        let mut perm: Vec<usize> = (0..n).collect();
        let mut tree = KdTree {
            metric,
            dim,
            data: Vec::new(),
            index: Vec::new(),
            position: Vec::new(),
            nodes: Vec::new(),
            bounds: Vec::new(),
        };
        if n > 0 {
            tree.build(x, &mut perm, 0, n, leaf_size.max(1));
        }
        tree.data = Vec::with_capacity(n * dim);
        for &i in &perm {
            tree.data.extend(x.row(i).iter());
        }
        tree.position = vec![0; n];
        for (pos, &i) in perm.iter().enumerate() {
            tree.position[i] = pos;
        }
        tree.index = perm;
        tree
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    fn build(
        &mut self,
        x: ArrayView2<f64>,
        perm: &mut [usize],
        start: usize,
        end: usize,
        leaf: usize,
    ) -> usize {
        let d = self.dim;
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for &i in &perm[start..end] {
            for (j, &v) in x.row(i).iter().enumerate() {
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            }
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            start,
            end,
            children: None,
        });
        self.bounds.extend(&lo);
        self.bounds.extend(&hi);
        let (mut split_dim, mut spread) = (0, 0.0);
        for j in 0..d {
            if hi[j] - lo[j] > spread {
                (split_dim, spread) = (j, hi[j] - lo[j]);
            }
        }
        // All points equal (or a small node): nothing to gain from splitting.
        if end - start <= leaf || spread <= 0.0 {
            return id;
        }
        let mid = start + (end - start) / 2;
        perm[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
            x[[a, split_dim]]
                .total_cmp(&x[[b, split_dim]])
                .then(a.cmp(&b))
        });
        let left = self.build(x, perm, start, mid, leaf);
        let right = self.build(x, perm, mid, end, leaf);
        self.nodes[id].children = Some((left, right));
        id
    }

    fn row(&self, pos: usize) -> &[f64] {
        &self.data[pos * self.dim..(pos + 1) * self.dim]
    }

    /// Row `i` of the matrix the tree was built from.
    pub fn original_row(&self, i: usize) -> &[f64] {
        self.row(self.position[i])
    }

    fn node_min(&self, node: usize, q: &[f64]) -> f64 {
        let b = &self.bounds[2 * node * self.dim..2 * (node + 1) * self.dim];
        let (lo, hi) = b.split_at(self.dim);
        self.metric.box_min(q, lo, hi)
    }

    fn node_max(&self, node: usize, q: &[f64]) -> f64 {
        let b = &self.bounds[2 * node * self.dim..2 * (node + 1) * self.dim];
        let (lo, hi) = b.split_at(self.dim);
        self.metric.box_max(q, lo, hi)
    }

    /// The `k` nearest rows to `query` as `(row, distance)`, nearest first; equal distances in
    /// row order. `exclude` leaves one row out (the query's own row). Fewer than `k` when the tree
    /// holds fewer rows.
    ///
    /// # Panics
    /// If `query.len()` differs from the tree's dimension.
    pub fn knn(&self, query: &[f64], k: usize, exclude: Option<usize>) -> Vec<(usize, f64)> {
        self.knn_cost(query, k, exclude).0
    }

    /// [`KdTree::knn`] and the number of distances it computed (how well the tree prunes).
    pub(crate) fn knn_cost(
        &self,
        query: &[f64],
        k: usize,
        exclude: Option<usize>,
    ) -> (Vec<(usize, f64)>, usize) {
        assert_eq!(query.len(), self.dim, "query dimension");
        let mut heap = BinaryHeap::with_capacity(k + 1);
        let mut cost = 0;
        if k > 0 && !self.is_empty() {
            self.knn_node(0, query, k, exclude, &mut heap, &mut cost);
        }
        let metric = self.metric;
        let found = heap
            .into_sorted_vec()
            .into_iter()
            .map(|c| (c.index, metric.unreduce(c.dist)))
            .collect();
        (found, cost)
    }

    fn knn_node(
        &self,
        node: usize,
        q: &[f64],
        k: usize,
        exclude: Option<usize>,
        heap: &mut BinaryHeap<Cand>,
        cost: &mut usize,
    ) {
        let n = &self.nodes[node];
        match n.children {
            None => {
                *cost += n.end - n.start;
                for pos in n.start..n.end {
                    let index = self.index[pos];
                    if exclude == Some(index) {
                        continue;
                    }
                    let c = Cand {
                        dist: self.metric.reduced(q, self.row(pos)),
                        index,
                    };
                    if heap.len() < k {
                        heap.push(c);
                    } else if c < *heap.peek().expect("k > 0") {
                        heap.pop();
                        heap.push(c);
                    }
                }
            }
            Some((l, r)) => {
                *cost += 2;
                let (dl, dr) = (self.node_min(l, q), self.node_min(r, q));
                let order = if dr < dl {
                    [(r, dr), (l, dl)]
                } else {
                    [(l, dl), (r, dr)]
                };
                for (child, bound) in order {
                    // `>`, not `>=`: a point at the current k-th distance with a smaller index
                    // would still displace the k-th candidate.
                    if heap.len() == k && bound > heap.peek().expect("k > 0").dist {
                        continue;
                    }
                    self.knn_node(child, q, k, exclude, heap, cost);
                }
            }
        }
    }

    /// Every row within distance `r` of `query` (inclusive), in row order.
    ///
    /// # Panics
    /// If `query.len()` differs from the tree's dimension.
    pub fn radius(&self, query: &[f64], r: f64) -> Vec<usize> {
        let mut out = Vec::new();
        self.radius_visit(query, r, &mut |pos_range| {
            out.extend(pos_range.map(|p| self.index[p]));
            false
        });
        out.sort_unstable();
        out
    }

    /// How many rows lie within `r` of `query`, counting stops once it reaches `limit`.
    pub fn radius_count(&self, query: &[f64], r: f64, limit: usize) -> usize {
        let mut count = 0;
        self.radius_visit(query, r, &mut |pos_range| {
            count += pos_range.len();
            count >= limit
        });
        count.min(limit)
    }

    /// The number of distances and box bounds [`KdTree::radius_count`] computes.
    pub(crate) fn radius_cost(&self, query: &[f64], r: f64, limit: usize) -> usize {
        let mut count = 0;
        self.radius_visit(query, r, &mut |pos_range| {
            count += pos_range.len();
            count >= limit
        })
    }

    /// Calls `found` with tree-position ranges of rows within `r`; stops when it returns true.
    /// Returns the number of distances and box bounds computed.
    fn radius_visit(
        &self,
        q: &[f64],
        r: f64,
        found: &mut dyn FnMut(std::ops::Range<usize>) -> bool,
    ) -> usize {
        assert_eq!(q.len(), self.dim, "query dimension");
        let rr = self.metric.reduce_radius(r);
        let mut cost = 0;
        if self.is_empty() || rr < 0.0 {
            return cost;
        }
        let mut stack = vec![0usize];
        while let Some(node) = stack.pop() {
            cost += 2;
            if self.node_min(node, q) > rr {
                continue;
            }
            let n = &self.nodes[node];
            // A box entirely inside the ball: take every row without computing distances.
            if self.node_max(node, q) <= rr {
                if found(n.start..n.end) {
                    return cost;
                }
                continue;
            }
            match n.children {
                Some((l, r)) => {
                    stack.push(r);
                    stack.push(l);
                }
                None => {
                    for pos in n.start..n.end {
                        cost += 1;
                        if self.metric.reduced(q, self.row(pos)) <= rr && found(pos..pos + 1) {
                            return cost;
                        }
                    }
                }
            }
        }
        cost
    }
}
