//! Attractive forces and the KL divergence over a sparse P: O(nnz) per call.

use attrclust_core::parallel::map_chunks;

use crate::affinity::SparseP;
use crate::kernel::{Kernel, dist2};

/// Rows per parallel chunk.
const ROWS: usize = 512;

/// `Σⱼ pᵢⱼ·uᵢⱼ·(yᵢ − yⱼ)` for every i, row-major n × dim.
pub fn attractive_forces(p: &SparseP, y: &[f64], dim: usize, kernel: Kernel) -> Vec<f64> {
    let parts = map_chunks(p.n, ROWS, |a, b| {
        let mut out = vec![0.0; (b - a) * dim];
        for i in a..b {
            let yi = &y[i * dim..(i + 1) * dim];
            let f = &mut out[(i - a) * dim..(i - a + 1) * dim];
            let (cols, vals) = p.row(i);
            if dim == 2 {
                // The common case, unrolled.
                let (mut f0, mut f1) = (0.0, 0.0);
                for (&j, &pij) in cols.iter().zip(vals) {
                    let j = j as usize;
                    let d0 = yi[0] - y[2 * j];
                    let d1 = yi[1] - y[2 * j + 1];
                    let pu = pij * kernel.u(d0 * d0 + d1 * d1);
                    f0 += pu * d0;
                    f1 += pu * d1;
                }
                f[0] = f0;
                f[1] = f1;
            } else {
                for (&j, &pij) in cols.iter().zip(vals) {
                    let yj = &y[j as usize * dim..(j as usize + 1) * dim];
                    let pu = pij * kernel.u(dist2(yi, yj));
                    for k in 0..dim {
                        f[k] += pu * (yi[k] - yj[k]);
                    }
                }
            }
        }
        out
    });
    parts.concat()
}

/// The KL gradient `c·(exaggeration·attraction − repulsion / Z)` from its two halves.
pub fn combine(
    att: &[f64],
    rep: &[f64],
    z: f64,
    kernel: Kernel,
    exaggeration: f64,
    grad: &mut [f64],
) {
    let c = kernel.factor();
    for ((g, a), r) in grad.iter_mut().zip(att).zip(rep) {
        *g = c * (exaggeration * a - r / z);
    }
}

/// KL(P ‖ Q) over the stored pairs, with Q = w / z for a given normalisation z.
pub fn kl_divergence(p: &SparseP, y: &[f64], dim: usize, kernel: Kernel, z: f64) -> f64 {
    let parts = map_chunks(p.n, ROWS, |a, b| {
        let mut s = 0.0;
        for i in a..b {
            let yi = &y[i * dim..(i + 1) * dim];
            let (cols, vals) = p.row(i);
            for (&j, &pij) in cols.iter().zip(vals) {
                if pij > 0.0 {
                    let w = kernel.w(dist2(yi, &y[j as usize * dim..(j as usize + 1) * dim]));
                    s += pij * (pij.ln() - w.ln());
                }
            }
        }
        s
    });
    let p_sum: f64 = p.values.iter().sum();
    parts.iter().sum::<f64>() + p_sum * z.ln()
}
