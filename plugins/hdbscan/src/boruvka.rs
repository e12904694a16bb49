//! The mutual-reachability minimum spanning tree for low dimensions: core distances by k-NN in a
//! KD-tree, then Borůvka's algorithm with one KD-tree search per sample and round.
//!
//! Each round, every sample looks for its lightest edge to another component; the tree prunes
//! nodes whose samples all belong to the sample's own component and nodes whose lower bound
//! max(core_i, min core in node, box distance / alpha) exceeds the best edge found. Components
//! keep their lightest edge and merge, so there are at most log₂ n rounds of n near-logarithmic
//! searches: O(n log² n) in low dimensions instead of Prim's O(n²).
//!
//! The KD-tree is this module's own rather than `attrclust_neighbors::KdTree`: the search needs
//! per-node state that changes every round (the component all of a node's samples share, the
//! smallest core distance inside), which a general k-NN/radius index has no place for.
//!
//! Edges are compared by (weight, lower index, higher index), a total order, so the MST is the
//! unique one for that order whatever the pruning and the thread count. With tied weights it may
//! pick other edges than Prim does; the single-linkage hierarchy (which samples are connected
//! below each distance) is the same, only the order of merges at one equal distance can differ.

use attrclust_core::disjoint::find;
use attrclust_core::distance::{Metric, dot, manhattan, sq_euclidean};
use attrclust_core::parallel::map_chunks;

use crate::Edge;

/// Samples per leaf.
const LEAF_SIZE: usize = 32;

/// Samples per parallel chunk of searches.
const CHUNK: usize = 512;

struct Node {
    /// Samples `start..end` in tree order.
    start: usize,
    end: usize,
    /// Bounding box, `dim` values each.
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// Children (indices into `nodes`), or none for a leaf.
    children: Option<(usize, usize)>,
}

/// A KD-tree with the samples stored contiguously in tree order.
struct Tree {
    dim: usize,
    nodes: Vec<Node>,
    /// Tree position → sample index.
    order: Vec<usize>,
    /// Rows in tree order, `dim` values each.
    points: Vec<f64>,
    metric: Metric,
}

impl Tree {
    fn new(rows: &[Vec<f64>], metric: Metric) -> Tree {
        let dim = rows.first().map_or(0, Vec::len);
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut nodes = Vec::new();
        build(rows, &mut order, 0, rows.len(), dim, &mut nodes);
        let points = order
            .iter()
            .flat_map(|&i| rows[i].iter().copied())
            .collect();
        Tree {
            dim,
            nodes,
            order,
            points,
            metric,
        }
    }

    fn point(&self, p: usize) -> &[f64] {
        &self.points[p * self.dim..(p + 1) * self.dim]
    }

    /// The metric's distance, in a monotone form cheap to compute (squared for euclidean).
    fn reduced(&self, a: &[f64], b: &[f64]) -> f64 {
        match self.metric {
            Metric::Euclidean => sq_euclidean(a, b),
            Metric::Manhattan => manhattan(a, b),
            Metric::Cosine => (1.0 - dot(a, b)).max(0.0),
        }
    }

    fn unreduce(&self, r: f64) -> f64 {
        match self.metric {
            Metric::Euclidean => r.sqrt(),
            _ => r,
        }
    }

    /// A lower bound of the distance from `q` to any sample in `node`.
    fn box_bound(&self, q: &[f64], node: &Node) -> f64 {
        let mut sq = 0.0;
        let mut sum = 0.0;
        for d in 0..self.dim {
            let gap = (node.lo[d] - q[d]).max(q[d] - node.hi[d]).max(0.0);
            sq += gap * gap;
            sum += gap;
        }
        match self.metric {
            Metric::Euclidean => sq.sqrt(),
            Metric::Manhattan => sum,
            // Unit rows: 1 − cos(a, b) = ‖a − b‖² / 2.
            Metric::Cosine => sq / 2.0,
        }
    }
}

fn build(
    rows: &[Vec<f64>],
    order: &mut [usize],
    start: usize,
    end: usize,
    dim: usize,
    nodes: &mut Vec<Node>,
) -> usize {
    let mut lo = vec![f64::INFINITY; dim];
    let mut hi = vec![f64::NEG_INFINITY; dim];
    for &i in &order[start..end] {
        for d in 0..dim {
            lo[d] = lo[d].min(rows[i][d]);
            hi[d] = hi[d].max(rows[i][d]);
        }
    }
    let at = nodes.len();
    nodes.push(Node {
        start,
        end,
        lo,
        hi,
        children: None,
    });
    if end - start > LEAF_SIZE {
        let node = &nodes[at];
        let split = (0..dim)
            .max_by(|&a, &b| {
                (node.hi[a] - node.lo[a])
                    .total_cmp(&(node.hi[b] - node.lo[b]))
                    .then(b.cmp(&a))
            })
            .unwrap_or(0);
        if node.hi[split] > node.lo[split] {
            let mid = (start + end) / 2;
            // Median split; ties by sample index keep the tree deterministic.
            order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                rows[a][split].total_cmp(&rows[b][split]).then(a.cmp(&b))
            });
            let left = build(rows, order, start, mid, dim, nodes);
            let right = build(rows, order, mid, end, dim, nodes);
            nodes[at].children = Some((left, right));
        }
    }
    at
}

/// Distance from each sample to its `k`-th nearest sample, the sample itself counted first (by
/// sample index), and each tree position's `k` nearest as (distance, tree position).
fn core_distances(tree: &Tree, k: usize) -> (Vec<f64>, Vec<Vec<(f64, usize)>>) {
    let n = tree.order.len();
    let neighbors: Vec<Vec<(f64, usize)>> = map_chunks(n, CHUNK, |s, e| {
        (s..e)
            .map(|p| {
                let mut best = Vec::with_capacity(k + 1);
                knn_search(tree, 0, tree.point(p), k, &mut best);
                best.iter_mut().for_each(|b| b.0 = tree.unreduce(b.0));
                best
            })
            .collect::<Vec<_>>()
    })
    .concat();
    let mut core = vec![0.0; n];
    for (p, &i) in tree.order.iter().enumerate() {
        core[i] = neighbors[p][k - 1].0;
    }
    (core, neighbors)
}

/// Keeps in `best` the `k` nearest (reduced distance, tree position) to `q`, sorted ascending.
fn knn_search(tree: &Tree, node: usize, q: &[f64], k: usize, best: &mut Vec<(f64, usize)>) {
    let nd = &tree.nodes[node];
    match nd.children {
        None => {
            for p in nd.start..nd.end {
                let d = tree.reduced(q, tree.point(p));
                if best.len() < k || d < best[k - 1].0 {
                    let at = best.partition_point(|x| x.0 <= d);
                    best.insert(at, (d, p));
                    best.truncate(k);
                }
            }
        }
        Some((a, b)) => {
            let bound = |c: usize| reduce_bound(tree, tree.box_bound(q, &tree.nodes[c]));
            for (c, lb) in nearer_first(a, b, bound) {
                if best.len() < k || lb <= best[k - 1].0 {
                    knn_search(tree, c, q, k, best);
                }
            }
        }
    }
}

/// Two child nodes with their lower bounds, the lower first (visiting it first tightens the
/// bound sooner).
fn nearer_first(a: usize, b: usize, bound: impl Fn(usize) -> f64) -> [(usize, f64); 2] {
    let (ba, bb) = (bound(a), bound(b));
    if ba <= bb {
        [(a, ba), (b, bb)]
    } else {
        [(b, bb), (a, ba)]
    }
}

/// A box bound in the form `Tree::reduced` compares.
fn reduce_bound(tree: &Tree, bound: f64) -> f64 {
    match tree.metric {
        Metric::Euclidean => bound * bound,
        _ => bound,
    }
}

/// A candidate edge: (weight, lower sample index, higher sample index). Compared as a tuple.
#[derive(Clone, Copy, PartialEq)]
struct Candidate(f64, usize, usize);

impl Candidate {
    const NONE: Candidate = Candidate(f64::INFINITY, usize::MAX, usize::MAX);

    fn new(w: f64, i: usize, j: usize) -> Candidate {
        Candidate(w, i.min(j), i.max(j))
    }

    fn less(self, other: Candidate) -> bool {
        self.0
            .total_cmp(&other.0)
            .then(self.1.cmp(&other.1))
            .then(self.2.cmp(&other.2))
            .is_lt()
    }
}

/// The minimum spanning tree of the mutual-reachability graph, edge weights
/// max(core_i, core_j, d(i, j) / alpha), as (lower index, higher index, weight).
pub(crate) fn mst(rows: &[Vec<f64>], min_samples: usize, alpha: f64, metric: Metric) -> Vec<Edge> {
    let n = rows.len();
    let tree = Tree::new(rows, metric);
    let (core, neighbors) = core_distances(&tree, min_samples);
    // Per tree position: core distance; per node: the smallest core distance inside.
    let core_at: Vec<f64> = tree.order.iter().map(|&i| core[i]).collect();
    let mut node_core = vec![f64::INFINITY; tree.nodes.len()];
    for (k, nd) in tree.nodes.iter().enumerate().rev() {
        node_core[k] = match nd.children {
            None => core_at[nd.start..nd.end]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min),
            Some((a, b)) => node_core[a].min(node_core[b]),
        };
    }
    // The smallest sample index per node, for the tie-break bound.
    let mut node_min_index = vec![usize::MAX; tree.nodes.len()];
    for (k, nd) in tree.nodes.iter().enumerate().rev() {
        node_min_index[k] = match nd.children {
            None => tree.order[nd.start..nd.end]
                .iter()
                .copied()
                .min()
                .unwrap_or(usize::MAX),
            Some((a, b)) => node_min_index[a].min(node_min_index[b]),
        };
    }

    let mut parent: Vec<usize> = (0..n).collect();
    let mut edges: Vec<Edge> = Vec::with_capacity(n.saturating_sub(1));
    // Edges found in the previous round; those still between two components bound both.
    let mut known: Vec<Candidate> = Vec::new();
    while edges.len() + 1 < n {
        let component: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
        let mut seed = std::collections::HashMap::<usize, Candidate>::new();
        for &cand in &known {
            let (ca, cb) = (component[cand.1], component[cand.2]);
            if ca != cb {
                for c in [ca, cb] {
                    let e = seed.entry(c).or_insert(Candidate::NONE);
                    if cand.less(*e) {
                        *e = cand;
                    }
                }
            }
        }
        // Component per tree position, and per node when all its samples share one.
        let comp_at: Vec<usize> = tree.order.iter().map(|&i| component[i]).collect();
        let mut node_comp = vec![usize::MAX; tree.nodes.len()];
        for (k, nd) in tree.nodes.iter().enumerate().rev() {
            node_comp[k] = match nd.children {
                None => {
                    let c = comp_at[nd.start];
                    if comp_at[nd.start..nd.end].iter().all(|&x| x == c) {
                        c
                    } else {
                        usize::MAX
                    }
                }
                Some((a, b)) if node_comp[a] == node_comp[b] => node_comp[a],
                Some(_) => usize::MAX,
            };
        }
        let search = Search {
            tree: &tree,
            core_at: &core_at,
            node_core: &node_core,
            node_min_index: &node_min_index,
            comp_at: &comp_at,
            node_comp: &node_comp,
            alpha,
        };
        // Each chunk finds the lightest edge of each component it meets; a component's best so
        // far bounds the searches of its later samples (only the component's minimum matters,
        // and the total order makes that minimum unique, so the bounds change speed only).
        let per_chunk = map_chunks(n, CHUNK, |s, e| {
            let mut best: std::collections::HashMap<usize, Candidate> = Default::default();
            for p in s..e {
                let c = comp_at[p];
                let bound = best
                    .get(&c)
                    .or_else(|| seed.get(&c))
                    .copied()
                    .unwrap_or(Candidate::NONE);
                let bound = search.neighbor_bound(p, &neighbors[p], bound);
                best.insert(c, search.lightest_edge(p, bound));
            }
            best.into_iter().collect::<Vec<_>>()
        });
        // Each component keeps its lightest edge.
        let mut lightest = vec![Candidate::NONE; n];
        known = per_chunk.iter().flatten().map(|&(_, cand)| cand).collect();
        for (c, cand) in per_chunk.into_iter().flatten() {
            if cand.less(lightest[c]) {
                lightest[c] = cand;
            }
        }
        let mut chosen: Vec<Candidate> =
            lightest.into_iter().filter(|c| c.1 != usize::MAX).collect();
        chosen.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let before = edges.len();
        for Candidate(w, a, b) in chosen {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
                edges.push((a, b, w));
            }
        }
        if edges.len() == before {
            break; // cannot happen on a complete graph; guards against an endless loop
        }
    }
    edges
}

struct Search<'a> {
    tree: &'a Tree,
    core_at: &'a [f64],
    node_core: &'a [f64],
    node_min_index: &'a [usize],
    comp_at: &'a [usize],
    node_comp: &'a [usize],
    alpha: f64,
}

impl Search<'_> {
    /// The lightest edge from the sample at tree position `p` to another component, or `bound`
    /// if none is lighter.
    fn lightest_edge(&self, p: usize, bound: Candidate) -> Candidate {
        let mut best = bound;
        self.visit(0, p, &mut best);
        best
    }

    /// `bound`, or the lightest edge to a k-nearest neighbour in another component if lighter:
    /// a cheap first bound that lets the tree search prune from the start.
    fn neighbor_bound(&self, p: usize, neighbors: &[(f64, usize)], bound: Candidate) -> Candidate {
        let own = self.comp_at[p];
        let i = self.tree.order[p];
        let mut best = bound;
        for &(d, r) in neighbors {
            if self.comp_at[r] != own {
                let w = (d / self.alpha).max(self.core_at[p]).max(self.core_at[r]);
                let cand = Candidate::new(w, i, self.tree.order[r]);
                if cand.less(best) {
                    best = cand;
                }
            }
        }
        best
    }

    fn visit(&self, node: usize, p: usize, best: &mut Candidate) {
        let t = self.tree;
        let nd = &t.nodes[node];
        let own = self.comp_at[p];
        if self.node_comp[node] == own {
            return;
        }
        let q = t.point(p);
        let i = t.order[p];
        let core_i = self.core_at[p];
        match nd.children {
            None => {
                for r in nd.start..nd.end {
                    if self.comp_at[r] == own {
                        continue;
                    }
                    let floor = core_i.max(self.core_at[r]);
                    if floor > best.0 {
                        continue;
                    }
                    let d = t.unreduce(t.reduced(q, t.point(r))) / self.alpha;
                    let cand = Candidate::new(d.max(floor), i, t.order[r]);
                    if cand.less(*best) {
                        *best = cand;
                    }
                }
            }
            Some((a, b)) => {
                let bound = |c: usize| {
                    (t.box_bound(q, &t.nodes[c]) / self.alpha)
                        .max(core_i)
                        .max(self.node_core[c])
                };
                for (c, lb) in nearer_first(a, b, bound) {
                    // Skip when no edge into c can beat the best: heavier, or as heavy with a
                    // larger lower index.
                    let skip =
                        lb > best.0 || (lb == best.0 && i.min(self.node_min_index[c]) > best.1);
                    if !skip {
                        self.visit(c, p, best);
                    }
                }
            }
        }
    }
}
