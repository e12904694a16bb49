//! The exact O(n²) gradient and KL divergence against a dense P, for small n.

use attrclust_core::parallel::map_chunks;

use crate::kernel::{Kernel, dist2};

/// Rows per parallel chunk: each row costs n kernel evaluations.
const ROWS: usize = 64;

/// The KL gradient with P multiplied by `exaggeration`, written to `grad` (n × dim, row-major).
pub fn gradient(
    p: &[f64],
    y: &[f64],
    dim: usize,
    kernel: Kernel,
    exaggeration: f64,
    grad: &mut [f64],
) {
    let n = y.len() / dim;
    // Per row: attraction Σ p·u·(yᵢ − yⱼ), unnormalised repulsion Σ w·u·(yᵢ − yⱼ), and Σ w.
    let parts = map_chunks(n, ROWS, |a, b| {
        let mut att = vec![0.0; (b - a) * dim];
        let mut rep = vec![0.0; (b - a) * dim];
        let mut z = 0.0;
        for i in a..b {
            let yi = &y[i * dim..(i + 1) * dim];
            let o = (i - a) * dim;
            for j in 0..n {
                if j == i {
                    continue;
                }
                let yj = &y[j * dim..(j + 1) * dim];
                let d2 = dist2(yi, yj);
                let (w, wu) = kernel.w_wu(d2);
                let pu = p[i * n + j] * kernel.u(d2);
                z += w;
                for k in 0..dim {
                    let diff = yi[k] - yj[k];
                    att[o + k] += pu * diff;
                    rep[o + k] += wu * diff;
                }
            }
        }
        (att, rep, z)
    });
    let z: f64 = parts.iter().map(|t| t.2).sum();
    let c = kernel.factor();
    let mut o = 0;
    for (att, rep, _) in &parts {
        for (a, r) in att.iter().zip(rep) {
            grad[o] = c * (exaggeration * a - r / z);
            o += 1;
        }
    }
}

/// KL(P ‖ Q) with Q = w / Z over all pairs.
pub fn kl_divergence(p: &[f64], y: &[f64], dim: usize, kernel: Kernel) -> f64 {
    let n = y.len() / dim;
    // Σ p log p − Σ p log w + log Z, since Σ p = 1.
    let parts = map_chunks(n, ROWS, |a, b| {
        let (mut z, mut plogp_w) = (0.0, 0.0);
        for i in a..b {
            let yi = &y[i * dim..(i + 1) * dim];
            for j in 0..n {
                if j == i {
                    continue;
                }
                let w = kernel.w(dist2(yi, &y[j * dim..(j + 1) * dim]));
                z += w;
                let pij = p[i * n + j];
                if pij > 0.0 {
                    plogp_w += pij * (pij.ln() - w.ln());
                }
            }
        }
        (z, plogp_w)
    });
    let z: f64 = parts.iter().map(|t| t.0).sum();
    let s: f64 = parts.iter().map(|t| t.1).sum();
    let p_sum: f64 = p.iter().sum();
    s + p_sum * z.ln()
}
