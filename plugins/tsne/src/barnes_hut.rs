//! Barnes-Hut repulsion: a space-partitioning tree (binary, quad- or octree for 1, 2 or 3
//! dimensions) whose cells stand in for all their points when they look small from the query
//! point (cell width / distance to its centre of mass < θ). O(n log n) per iteration.

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};

use crate::kernel::Kernel;

/// The tree handles up to this many embedding dimensions (as scikit-learn).
pub const MAX_DIM: usize = 3;

/// Cells are not split further below this depth: their points are (nearly) identical, and the
/// cell is summarised by its centre of mass even at θ = 0.
const MAX_DEPTH: usize = 40;

#[derive(Clone, Debug)]
struct Node {
    center: [f64; MAX_DIM],
    /// Side length of the (cubic) cell.
    width: f64,
    com: [f64; MAX_DIM],
    count: u32,
    /// Index of the first of 2^dim contiguous children; 0 for a leaf (the root is never a child).
    first_child: u32,
    /// The leaf's points: `perm[start..end]`.
    start: u32,
    end: u32,
    /// A leaf at the depth limit, summarised rather than scanned.
    coincident: bool,
}

pub struct Tree<'a> {
    dim: usize,
    y: &'a [f64],
    nodes: Vec<Node>,
    perm: Vec<u32>,
    /// The leaf each point sits in.
    leaf_of: Vec<u32>,
}

impl<'a> Tree<'a> {
    /// Builds the tree over the rows of `y` (n × dim, row-major), `dim` ≤ [`MAX_DIM`].
    pub fn new(y: &'a [f64], dim: usize) -> Self {
        assert!(
            (1..=MAX_DIM).contains(&dim),
            "Barnes-Hut supports 1 to 3 dimensions"
        );
        let n = y.len() / dim;
        let mut lo = [0.0; MAX_DIM];
        let mut hi = [0.0; MAX_DIM];
        for k in 0..dim {
            lo[k] = f64::INFINITY;
            hi[k] = f64::NEG_INFINITY;
            for i in 0..n {
                lo[k] = lo[k].min(y[i * dim + k]);
                hi[k] = hi[k].max(y[i * dim + k]);
            }
        }
        let mut width: f64 = (0..dim).map(|k| hi[k] - lo[k]).fold(0.0, f64::max);
        // Pad so that boundary points fall strictly inside.
        width = width * (1.0 + 1e-9) + f64::MIN_POSITIVE;
        let mut center = [0.0; MAX_DIM];
        for k in 0..dim {
            center[k] = (lo[k] + hi[k]) / 2.0;
        }
        let mut tree = Tree {
            dim,
            y,
            nodes: vec![Node {
                center,
                width,
                com: [0.0; MAX_DIM],
                count: 0,
                first_child: 0,
                start: 0,
                end: 0,
                coincident: false,
            }],
            perm: (0..n as u32).collect(),
            leaf_of: vec![0; n],
        };
        let mut scratch = vec![0u32; n];
        tree.build(0, 0, n, 0, &mut scratch);
        tree
    }

    fn point(&self, i: usize) -> &[f64] {
        &self.y[i * self.dim..(i + 1) * self.dim]
    }

    fn build(&mut self, node: usize, start: usize, end: usize, depth: usize, scratch: &mut [u32]) {
        let dim = self.dim;
        let mut com = [0.0; MAX_DIM];
        for &i in &self.perm[start..end] {
            for k in 0..dim {
                com[k] += self.y[i as usize * dim + k];
            }
        }
        let count = end - start;
        for c in com.iter_mut().take(dim) {
            *c /= count.max(1) as f64;
        }
        {
            let nd = &mut self.nodes[node];
            nd.com = com;
            nd.count = count as u32;
            nd.start = start as u32;
            nd.end = end as u32;
        }
        if count <= 1 || depth >= MAX_DEPTH {
            self.nodes[node].coincident = count > 1;
            for &i in &self.perm[start..end] {
                self.leaf_of[i as usize] = node as u32;
            }
            return;
        }
        // Stable counting sort of the points into the 2^dim orthants.
        let n_children = 1usize << dim;
        let center = self.nodes[node].center;
        let width = self.nodes[node].width;
        let orthant = |p: &[f64]| -> usize {
            (0..dim)
                .map(|k| usize::from(p[k] > center[k]) << k)
                .sum::<usize>()
        };
        let mut counts = [0usize; 1 << MAX_DIM];
        for &i in &self.perm[start..end] {
            counts[orthant(self.point(i as usize))] += 1;
        }
        let mut offsets = [0usize; 1 << MAX_DIM];
        for c in 1..n_children {
            offsets[c] = offsets[c - 1] + counts[c - 1];
        }
        let mut fill = offsets;
        for idx in start..end {
            let i = self.perm[idx];
            let c = orthant(self.point(i as usize));
            scratch[start + fill[c]] = i;
            fill[c] += 1;
        }
        self.perm[start..end].copy_from_slice(&scratch[start..end]);
        let first = self.nodes.len();
        self.nodes[node].first_child = first as u32;
        for c in 0..n_children {
            let mut cc = center;
            for k in 0..dim {
                let sign = if c >> k & 1 == 1 { 1.0 } else { -1.0 };
                cc[k] += sign * width / 4.0;
            }
            self.nodes.push(Node {
                center: cc,
                width: width / 2.0,
                com: [0.0; MAX_DIM],
                count: 0,
                first_child: 0,
                start: 0,
                end: 0,
                coincident: false,
            });
        }
        for c in 0..n_children {
            let a = start + offsets[c];
            self.build(first + c, a, a + counts[c], depth + 1, scratch);
        }
    }

    /// For point i: `(Σⱼ wᵢⱼ, Σⱼ wᵢⱼ·uᵢⱼ·(yᵢ − yⱼ))` over j ≠ i, approximated with opening angle θ.
    /// `D` is the embedding dimension as a constant, so the per-coordinate loops unroll (the
    /// tree walk is t-SNE's hot loop for small n).
    fn repulsion_of<const D: usize>(
        &self,
        i: usize,
        theta2: f64,
        kernel: Kernel,
        stack: &mut Vec<u32>,
    ) -> (f64, [f64; MAX_DIM]) {
        debug_assert_eq!(D, self.dim);
        let dim = D;
        let yi = self.point(i);
        let mut sum_w = 0.0;
        let mut f = [0.0; MAX_DIM];
        let mut add = |count: f64, other: &[f64]| {
            let mut d2 = 0.0;
            let mut diff = [0.0; MAX_DIM];
            for k in 0..dim {
                diff[k] = yi[k] - other[k];
                d2 += diff[k] * diff[k];
            }
            let (w, wu) = kernel.w_wu(d2);
            sum_w += count * w;
            for k in 0..dim {
                f[k] += count * wu * diff[k];
            }
        };
        stack.clear();
        stack.push(0);
        while let Some(ni) = stack.pop() {
            let node = &self.nodes[ni as usize];
            if node.count == 0 {
                continue;
            }
            if node.first_child == 0 {
                if node.coincident {
                    let own = usize::from(self.leaf_of[i] == ni);
                    let others = node.count as usize - own;
                    if others > 0 {
                        add(others as f64, &node.com[..dim]);
                    }
                } else {
                    for &j in &self.perm[node.start as usize..node.end as usize] {
                        if j as usize != i {
                            add(1.0, self.point(j as usize));
                        }
                    }
                }
                continue;
            }
            let d2: f64 = (0..dim).map(|k| (yi[k] - node.com[k]).powi(2)).sum();
            if node.width * node.width < theta2 * d2 {
                add(node.count as f64, &node.com[..dim]);
            } else {
                let first = node.first_child;
                stack.extend(first..first + (1u32 << dim));
            }
        }
        (sum_w, f)
    }
}

/// Unnormalised repulsive forces `Σⱼ wᵢⱼ·uᵢⱼ·(yᵢ − yⱼ)` (n × dim) and `Z = Σᵢ≠ⱼ wᵢⱼ`.
pub fn repulsion(y: &[f64], dim: usize, kernel: Kernel, theta: f64) -> (Vec<f64>, f64) {
    let n = y.len() / dim;
    let tree = Tree::new(y, dim);
    let theta2 = theta * theta;
    let parts = map_chunks(n, CHUNK_ROWS, |a, b| {
        let mut stack = Vec::with_capacity(64);
        let mut out = Vec::with_capacity((b - a) * dim);
        let mut z = 0.0;
        for i in a..b {
            let (s, f) = match dim {
                1 => tree.repulsion_of::<1>(i, theta2, kernel, &mut stack),
                2 => tree.repulsion_of::<2>(i, theta2, kernel, &mut stack),
                _ => tree.repulsion_of::<3>(i, theta2, kernel, &mut stack),
            };
            z += s;
            out.extend_from_slice(&f[..dim]);
        }
        (out, z)
    });
    let z = parts.iter().map(|p| p.1).sum();
    let forces = parts.into_iter().flat_map(|p| p.0).collect();
    (forces, z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::affinity::SparseP;
    use crate::attraction::{attractive_forces, combine};
    use attrclust_core::rng::Rng;

    fn rel_err(a: &[f64], b: &[f64]) -> f64 {
        let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
        let den: f64 = b.iter().map(|y| y * y).sum();
        (num / den).sqrt()
    }

    /// A sparse P linking each point to a few others.
    fn ring_p(n: usize) -> SparseP {
        let conditional: Vec<Vec<(u32, f64)>> = (0..n)
            .map(|i| {
                (1..=4)
                    .map(|s| (((i + s * 7) % n) as u32, 0.25))
                    .filter(|e| e.0 as usize != i)
                    .collect()
            })
            .collect();
        crate::affinity::symmetrize(&conditional)
    }

    #[test]
    fn gradient_equals_exact_at_angle_zero_and_is_close_at_0_2() {
        let mut rng = Rng::new(5);
        let n = 400;
        for dim in 1..=3 {
            for dof in [1.0, 0.7] {
                let kernel = Kernel::new(dof);
                // Clustered points with some duplicates.
                let mut y: Vec<f64> = (0..n * dim)
                    .map(|k| ((k / dim) % 4) as f64 * 3.0 + rng.normal())
                    .collect();
                let dup: Vec<f64> = y[..dim].to_vec();
                y[dim..2 * dim].copy_from_slice(&dup);
                let p = ring_p(n);
                let att = attractive_forces(&p, &y, dim, kernel);
                let (rep_x, z_x) = crate::exact::repulsion(&y, dim, kernel);
                let mut g_exact = vec![0.0; n * dim];
                combine(&att, &rep_x, z_x, kernel, 1.0, &mut g_exact);
                let mut g_dense = vec![0.0; n * dim];
                crate::exact::gradient(&p.to_dense(), &y, dim, kernel, 1.0, &mut g_dense);
                assert!(rel_err(&g_dense, &g_exact) < 1e-12);
                for (angle, tol) in [(0.0, 1e-12), (0.2, 5e-3)] {
                    let (rep, z) = repulsion(&y, dim, kernel, angle);
                    let mut g = vec![0.0; n * dim];
                    combine(&att, &rep, z, kernel, 1.0, &mut g);
                    let e = rel_err(&g, &g_exact);
                    assert!(e < tol, "dim {dim}, dof {dof}, angle {angle}: error {e}");
                    assert!(((z - z_x) / z_x).abs() < tol, "Z {z} vs {z_x}");
                }
            }
        }
    }

    #[test]
    fn coincident_points_are_summarised_without_nan() {
        let mut y = vec![1.0; 200];
        y[0] = 5.0;
        let (rep, z) = repulsion(&y, 2, Kernel::new(1.0), 0.5);
        assert!(rep.iter().all(|v| v.is_finite()) && z.is_finite());
        // 99 coincident points see each other at distance 0 (w = 1) and the far point.
        let (rep_x, z_x) = crate::exact::repulsion(&y, 2, Kernel::new(1.0));
        assert!(((z - z_x) / z_x).abs() < 1e-12);
        assert!(rel_err(&rep, &rep_x) < 1e-12);
    }
}
