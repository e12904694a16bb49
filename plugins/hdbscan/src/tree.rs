//! From the single-linkage tree to flat labels: condensing, cluster stability, excess-of-mass
//! and leaf selection, epsilon merging, labelling, membership probabilities (as scikit-learn's
//! HDBSCAN) and GLOSH outlier scores (as the `hdbscan` package).

use std::collections::{BTreeMap, BTreeSet};

use crate::LinkageRow;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    Eom,
    Leaf,
}

/// One row of the condensed tree: `child` (a sample < n, or a cluster label ≥ n) leaves
/// `parent` at `lambda` = 1 / distance, carrying `size` samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub parent: usize,
    pub child: usize,
    pub lambda: f64,
    pub size: usize,
}

pub struct TreeResult {
    pub labels: Vec<i64>,
    pub probabilities: Vec<f64>,
    pub outlier_scores: Vec<f64>,
    pub condensed: Vec<Row>,
}

/// Nodes of the single-linkage tree below `start`, breadth first, left before right.
fn bfs_hierarchy(linkage: &[LinkageRow], n: usize, start: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut queue = vec![start];
    while !queue.is_empty() {
        out.extend_from_slice(&queue);
        queue = queue
            .iter()
            .filter(|&&x| x >= n)
            .flat_map(|&x| {
                let (l, r, _, _) = linkage[x - n];
                [l, r]
            })
            .collect();
    }
    out
}

/// Runt pruning: walk the tree from the root; a split into two parts of at least
/// `min_cluster_size` makes two new clusters, otherwise the small part's samples fall out.
pub fn condense(n: usize, linkage: &[LinkageRow], min_cluster_size: usize) -> Vec<Row> {
    let root = 2 * (n - 1);
    let mut relabel = vec![0usize; root + 1];
    relabel[root] = n;
    let mut next_label = n + 1;
    let mut ignore = vec![false; root + 1];
    let mut rows = Vec::new();
    let size_of = |node: usize| if node >= n { linkage[node - n].3 } else { 1 };
    for node in bfs_hierarchy(linkage, n, root) {
        if ignore[node] || node < n {
            continue;
        }
        let (left, right, distance, _) = linkage[node - n];
        let lambda = if distance > 0.0 {
            1.0 / distance
        } else {
            f64::INFINITY
        };
        let (lc, rc) = (size_of(left), size_of(right));
        let parent = relabel[node];
        let fall_out = |sub: usize, rows: &mut Vec<Row>, ignore: &mut Vec<bool>| {
            for s in bfs_hierarchy(linkage, n, sub) {
                if s < n {
                    rows.push(Row {
                        parent,
                        child: s,
                        lambda,
                        size: 1,
                    });
                }
                ignore[s] = true;
            }
        };
        if lc >= min_cluster_size && rc >= min_cluster_size {
            for (child, count) in [(left, lc), (right, rc)] {
                relabel[child] = next_label;
                next_label += 1;
                rows.push(Row {
                    parent,
                    child: relabel[child],
                    lambda,
                    size: count,
                });
            }
        } else if lc < min_cluster_size && rc < min_cluster_size {
            fall_out(left, &mut rows, &mut ignore);
            fall_out(right, &mut rows, &mut ignore);
        } else if lc < min_cluster_size {
            relabel[right] = parent;
            fall_out(left, &mut rows, &mut ignore);
        } else {
            relabel[left] = parent;
            fall_out(right, &mut rows, &mut ignore);
        }
    }
    rows
}

/// Stability of every cluster label: Σ over rows under it of (λ_child − λ_birth) · size.
fn stability(rows: &[Row], root: usize) -> BTreeMap<usize, f64> {
    let max_parent = rows.iter().map(|r| r.parent).max().unwrap_or(root);
    let largest = rows.iter().map(|r| r.child).max().unwrap_or(root).max(root);
    let mut births = vec![f64::NAN; largest + 1];
    for r in rows {
        births[r.child] = r.lambda;
    }
    births[root] = 0.0;
    let mut result: BTreeMap<usize, f64> = (root..=max_parent).map(|c| (c, 0.0)).collect();
    for r in rows {
        *result.get_mut(&r.parent).expect("parent in range") +=
            (r.lambda - births[r.parent]) * r.size as f64;
    }
    result
}

/// Cluster labels below `start` in the cluster tree (rows with size > 1), breadth first.
fn bfs_clusters(cluster_rows: &[Row], start: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut queue = vec![start];
    while !queue.is_empty() {
        out.extend_from_slice(&queue);
        queue = cluster_rows
            .iter()
            .filter(|r| queue.contains(&r.parent))
            .map(|r| r.child)
            .collect();
    }
    out
}

fn leaves(cluster_rows: &[Row], node: usize, out: &mut Vec<usize>) {
    let children: Vec<usize> = cluster_rows
        .iter()
        .filter(|r| r.parent == node)
        .map(|r| r.child)
        .collect();
    if children.is_empty() {
        out.push(node);
    }
    for c in children {
        leaves(cluster_rows, c, out);
    }
}

/// For a cluster whose birth distance is below epsilon: its lowest ancestor born above
/// epsilon (the root's child if none, or the root when a single cluster is allowed).
fn traverse_upwards(
    cluster_rows: &[Row],
    root: usize,
    epsilon: f64,
    leaf: usize,
    allow_single: bool,
) -> usize {
    let parent = cluster_rows
        .iter()
        .find(|r| r.child == leaf)
        .map(|r| r.parent)
        .unwrap_or(root);
    if parent == root {
        return if allow_single { parent } else { leaf };
    }
    let parent_lambda = cluster_rows
        .iter()
        .find(|r| r.child == parent)
        .map(|r| r.lambda)
        .unwrap_or(0.0);
    if 1.0 / parent_lambda > epsilon {
        parent
    } else {
        traverse_upwards(cluster_rows, root, epsilon, parent, allow_single)
    }
}

fn epsilon_search(
    candidates: &BTreeSet<usize>,
    cluster_rows: &[Row],
    root: usize,
    epsilon: f64,
    allow_single: bool,
) -> BTreeSet<usize> {
    let mut selected = BTreeSet::new();
    let mut processed = BTreeSet::new();
    for &leaf in candidates {
        let lambda = cluster_rows
            .iter()
            .find(|r| r.child == leaf)
            .map(|r| r.lambda)
            .unwrap_or(0.0);
        if 1.0 / lambda < epsilon {
            if !processed.contains(&leaf) {
                let up = traverse_upwards(cluster_rows, root, epsilon, leaf, allow_single);
                selected.insert(up);
                for sub in bfs_clusters(cluster_rows, up) {
                    if sub != up {
                        processed.insert(sub);
                    }
                }
            }
        } else {
            selected.insert(leaf);
        }
    }
    selected
}

/// Largest λ among each cluster's direct children.
fn deaths(rows: &[Row], len: usize) -> Vec<f64> {
    let mut d = vec![0.0f64; len];
    for r in rows {
        d[r.parent] = d[r.parent].max(r.lambda);
    }
    d
}

/// Condenses the single-linkage tree and extracts labels, probabilities and outlier scores.
pub fn condensed_labels(
    n: usize,
    linkage: &[LinkageRow],
    min_cluster_size: usize,
    selection: Selection,
    allow_single: bool,
    epsilon: f64,
    max_cluster_size: Option<usize>,
) -> TreeResult {
    let root = n;
    let rows = condense(n, linkage, min_cluster_size);
    let mut stab = stability(&rows, root);
    let cluster_rows: Vec<Row> = rows.iter().copied().filter(|r| r.size > 1).collect();
    let mut node_list: Vec<usize> = stab.keys().rev().copied().collect();
    if !allow_single {
        node_list.pop(); // the root
    }
    let mut is_cluster: BTreeMap<usize, bool> = node_list.iter().map(|&c| (c, true)).collect();
    let max_size = max_cluster_size.unwrap_or(n + 1);
    let mut sizes: BTreeMap<usize, usize> =
        cluster_rows.iter().map(|r| (r.child, r.size)).collect();
    if allow_single {
        let total = cluster_rows
            .iter()
            .filter(|r| r.parent == root)
            .map(|r| r.size)
            .sum();
        sizes.insert(root, total);
    }
    match selection {
        Selection::Eom => {
            for &node in &node_list {
                let subtree: f64 = cluster_rows
                    .iter()
                    .filter(|r| r.parent == node)
                    .map(|r| stab[&r.child])
                    .sum();
                if subtree > stab[&node] || sizes.get(&node).copied().unwrap_or(0) > max_size {
                    is_cluster.insert(node, false);
                    stab.insert(node, subtree);
                } else {
                    for sub in bfs_clusters(&cluster_rows, node) {
                        if sub != node {
                            is_cluster.insert(sub, false);
                        }
                    }
                }
            }
            if epsilon != 0.0 && !cluster_rows.is_empty() {
                let eom: BTreeSet<usize> = is_cluster
                    .iter()
                    .filter(|(_, v)| **v)
                    .map(|(c, _)| *c)
                    .collect();
                let tree_root = cluster_rows.iter().map(|r| r.parent).min().unwrap_or(root);
                let selected = if eom.len() == 1 && eom.contains(&tree_root) {
                    if allow_single { eom } else { BTreeSet::new() }
                } else {
                    epsilon_search(&eom, &cluster_rows, root, epsilon, allow_single)
                };
                for (c, v) in is_cluster.iter_mut() {
                    *v = selected.contains(c);
                }
            }
        }
        Selection::Leaf => {
            let mut found = Vec::new();
            if !cluster_rows.is_empty() {
                let tree_root = cluster_rows.iter().map(|r| r.parent).min().unwrap_or(root);
                leaves(&cluster_rows, tree_root, &mut found);
            }
            let found: BTreeSet<usize> = found.into_iter().collect();
            let selected = if epsilon != 0.0 {
                epsilon_search(&found, &cluster_rows, root, epsilon, allow_single)
            } else {
                found
            };
            for (c, v) in is_cluster.iter_mut() {
                *v = selected.contains(c);
            }
        }
    }
    let clusters: Vec<usize> = is_cluster
        .iter()
        .filter(|(_, v)| **v)
        .map(|(c, _)| *c)
        .collect();
    let label_of = |c: usize| clusters.binary_search(&c).ok().map(|i| i as i64);

    // Labelling: climb from each sample while the edge above is not a selected cluster's.
    let max_label = rows
        .iter()
        .map(|r| r.parent.max(r.child))
        .max()
        .unwrap_or(root);
    let mut parent_of = vec![usize::MAX; max_label + 1];
    let mut lambda_of = vec![0.0; max_label + 1];
    for r in &rows {
        parent_of[r.child] = r.parent;
        lambda_of[r.child] = r.lambda;
    }
    let death = deaths(&rows, max_label + 1);
    let mut labels = vec![-1i64; n];
    for (p, label) in labels.iter_mut().enumerate() {
        let mut node = p;
        let rep = loop {
            if label_of(node).is_some() && node >= n {
                break node;
            }
            if node == root || parent_of[node] == usize::MAX {
                break root;
            }
            node = parent_of[node];
        };
        if rep != root {
            *label = label_of(rep).expect("selected");
        } else if clusters.len() == 1 && allow_single {
            let threshold = if epsilon != 0.0 {
                1.0 / epsilon
            } else {
                death[root]
            };
            if lambda_of[p] >= threshold {
                *label = label_of(root).unwrap_or(-1);
            }
        }
    }

    // Membership probabilities (scikit-learn's get_probabilities).
    let mut probabilities = vec![0.0; n];
    for r in rows.iter().filter(|r| r.child < n) {
        let l = labels[r.child];
        if l < 0 {
            continue;
        }
        let max_lambda = death[clusters[l as usize]];
        probabilities[r.child] = if max_lambda == 0.0 || r.lambda.is_infinite() {
            1.0
        } else {
            r.lambda.min(max_lambda) / max_lambda
        };
    }

    // GLOSH (the hdbscan package's outlier_scores): deaths propagated up the tree.
    let mut subtree_death = death.clone();
    for r in rows.iter().rev() {
        if subtree_death[r.child] > subtree_death[r.parent] {
            subtree_death[r.parent] = subtree_death[r.child];
        }
    }
    let mut outlier_scores = vec![0.0; n];
    for r in rows.iter().filter(|r| r.child < n) {
        let lambda_max = subtree_death[r.parent];
        outlier_scores[r.child] = if lambda_max == 0.0 || !r.lambda.is_finite() {
            0.0
        } else {
            (lambda_max - r.lambda) / lambda_max
        };
    }
    TreeResult {
        labels,
        probabilities,
        outlier_scores,
        condensed: rows,
    }
}
