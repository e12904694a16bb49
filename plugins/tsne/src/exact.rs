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

/// Exact unnormalised repulsion `Σⱼ wᵢⱼ·uᵢⱼ·(yᵢ − yⱼ)` and Z, the reference for the
/// approximations' tests.
#[cfg(test)]
pub(crate) fn repulsion(y: &[f64], dim: usize, kernel: Kernel) -> (Vec<f64>, f64) {
    let n = y.len() / dim;
    let mut out = vec![0.0; n * dim];
    let mut z = 0.0;
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let (yi, yj) = (&y[i * dim..(i + 1) * dim], &y[j * dim..(j + 1) * dim]);
                let (w, wu) = kernel.w_wu(dist2(yi, yj));
                z += w;
                for k in 0..dim {
                    out[i * dim + k] += wu * (yi[k] - yj[k]);
                }
            }
        }
    }
    (out, z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_core::rng::Rng;

    /// A random symmetric P with zero diagonal summing to 1.
    pub fn random_p(n: usize, rng: &mut Rng) -> Vec<f64> {
        let mut p = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..i {
                let v = rng.uniform();
                p[i * n + j] = v;
                p[j * n + i] = v;
            }
        }
        let s: f64 = p.iter().sum();
        p.iter().map(|v| v / s).collect()
    }

    #[test]
    fn gradient_matches_finite_differences_of_kl() {
        let mut rng = Rng::new(11);
        let (n, dim) = (9, 2);
        let p = random_p(n, &mut rng);
        for (dof, dim) in [(1.0, dim), (0.6, dim), (2.5, 3)] {
            let kernel = Kernel::new(dof);
            let y: Vec<f64> = (0..n * dim).map(|_| rng.normal()).collect();
            let mut g = vec![0.0; n * dim];
            gradient(&p, &y, dim, kernel, 1.0, &mut g);
            let h = 1e-6;
            for k in 0..n * dim {
                let mut yp = y.clone();
                yp[k] += h;
                let mut ym = y.clone();
                ym[k] -= h;
                let numeric = (kl_divergence(&p, &yp, dim, kernel)
                    - kl_divergence(&p, &ym, dim, kernel))
                    / (2.0 * h);
                assert!(
                    (numeric - g[k]).abs() < 1e-7 + 1e-5 * g[k].abs(),
                    "dof {dof}, coordinate {k}: analytic {} vs numeric {numeric}",
                    g[k]
                );
            }
        }
    }
}
