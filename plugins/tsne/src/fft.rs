//! FFT-accelerated interpolation of the repulsion (FIt-SNE, Linderman et al. 2019), 2-D.
//!
//! The embedding's bounding square is cut into `n_boxes × n_boxes` intervals with
//! [`N_INTERP`] equispaced Lagrange nodes each, so that all nodes form one uniform grid. Each
//! point spreads its charges (1, y₁, y₂) onto the nodes of its box with the Lagrange weights; the
//! potentials of the kernels `w` and `w·u` on the grid are discrete convolutions, computed by
//! FFT over a zero-padded grid of twice the size; each point then interpolates its potentials
//! back from its box's nodes. O(n + N² log N) per iteration for N grid nodes per side.
//!
//! FFT economy: both kernels are real and even, so one complex FFT of `K₁ + i·K₂` yields both
//! (real) spectra; the charges 1 and y₁ share one complex FFT, and `conv(1, K₁)` rides in the
//! imaginary part of the y₂ inverse transform. Five 2-D FFTs per iteration in all.

use std::sync::Arc;

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::kernel::Kernel;

/// Lagrange interpolation nodes per interval (openTSNE's `n_interpolation_points`).
pub const N_INTERP: usize = 3;
/// Fewest intervals per side (openTSNE's `min_num_intervals`).
pub const MIN_INTERVALS: usize = 50;
/// Intervals per unit of embedding span (openTSNE's `ints_in_interval` = 1: intervals of width
/// about 1, where the kernels change on a scale of 1).
pub const INTERVALS_PER_UNIT: f64 = 1.0;
/// Most intervals per side: bounds the grid's memory (≈ 36 MB per complex grid) should the
/// embedding spread very wide; intervals then grow wider than 1.
pub const MAX_INTERVALS: usize = 250;

type C = Complex<f64>;

/// The smallest integer ≥ m whose only prime factors are 2, 3 and 5 (fast FFT sizes).
fn smooth_ceil(m: usize) -> usize {
    (m.max(1)..)
        .find(|&v| {
            let mut r = v;
            for p in [2, 3, 5] {
                while r % p == 0 {
                    r /= p;
                }
            }
            r == 1
        })
        .expect("unbounded")
}

/// Lagrange basis weights at local coordinate t ∈ [0, 1] for nodes at (k + ½)/p.
fn lagrange(t: f64) -> [f64; N_INTERP] {
    let node = |k: usize| (k as f64 + 0.5) / N_INTERP as f64;
    let mut w = [1.0; N_INTERP];
    for (k, wk) in w.iter_mut().enumerate() {
        for m in 0..N_INTERP {
            if m != k {
                *wk *= (t - node(m)) / (node(k) - node(m));
            }
        }
    }
    w
}

/// Where one point sits on the grid: its box's first node per axis and the weights.
#[derive(Clone, Copy)]
struct Stencil {
    g: [usize; 2],
    w: [[f64; N_INTERP]; 2],
}

/// Repulsion by FFT interpolation; keeps FFT plans across iterations.
/// Grids are kept across iterations: reallocating megabytes each time costs page faults.
pub struct FftRepulsion {
    planner: FftPlanner<f64>,
    grids: [Vec<C>; 4],
}

impl Default for FftRepulsion {
    fn default() -> Self {
        FftRepulsion {
            planner: FftPlanner::new(),
            grids: Default::default(),
        }
    }
}

/// 2-D FFT of an m × m row-major grid: rows, transpose, rows. The result is transposed, so a
/// forward transform followed by an inverse one returns to the original layout.
fn fft2(buf: &mut Vec<C>, tmp: &mut Vec<C>, m: usize, fft: &Arc<dyn Fft<f64>>) {
    let rows = |data: &mut [C]| {
        let per_task = (m / 8).max(1) * m;
        data.par_chunks_mut(per_task).for_each_init(
            || vec![C::default(); fft.get_inplace_scratch_len()],
            |scratch, chunk| fft.process_with_scratch(chunk, scratch),
        );
    };
    rows(buf);
    transpose(buf, tmp, m);
    rows(tmp);
    std::mem::swap(buf, tmp);
}

fn transpose(src: &[C], dst: &mut [C], m: usize) {
    const B: usize = 32;
    for ib in (0..m).step_by(B) {
        for jb in (0..m).step_by(B) {
            for i in ib..(ib + B).min(m) {
                for j in jb..(jb + B).min(m) {
                    dst[j * m + i] = src[i * m + j];
                }
            }
        }
    }
}

impl FftRepulsion {
    /// Unnormalised repulsive forces `Σⱼ wᵢⱼ·uᵢⱼ·(yᵢ − yⱼ)` (n × 2) and `Z = Σᵢ≠ⱼ wᵢⱼ`.
    pub fn repulsion(&mut self, y: &[f64], kernel: Kernel) -> (Vec<f64>, f64) {
        let n = y.len() / 2;
        let lo = y.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let span = (hi - lo).max(1e-12) * (1.0 + 1e-9);
        let n_boxes = smooth_ceil(MIN_INTERVALS.max((span / INTERVALS_PER_UNIT).ceil() as usize))
            .min(MAX_INTERVALS);
        let box_w = span / n_boxes as f64;
        let h = box_w / N_INTERP as f64;
        let grid = n_boxes * N_INTERP;
        let m = 2 * grid;

        // Stencils, in parallel.
        let stencils: Vec<Stencil> = map_chunks(n, CHUNK_ROWS, |a, b| {
            (a..b)
                .map(|i| {
                    let mut s = Stencil {
                        g: [0; 2],
                        w: [[0.0; N_INTERP]; 2],
                    };
                    for k in 0..2 {
                        let r = (y[2 * i + k] - lo) / box_w;
                        let bx = (r.floor() as usize).min(n_boxes - 1);
                        s.g[k] = bx * N_INTERP;
                        s.w[k] = lagrange(r - bx as f64);
                    }
                    s
                })
                .collect::<Vec<_>>()
        })
        .concat();

        // Charges: A = 1 + i·y₁, B = y₂, in point order (serial: fixed summation order).
        let [mut a_grid, mut b_grid, mut k_grid, mut tmp] = std::mem::take(&mut self.grids);
        for g in [&mut a_grid, &mut b_grid, &mut k_grid, &mut tmp] {
            g.clear();
            g.resize(m * m, C::default());
        }
        for (i, s) in stencils.iter().enumerate() {
            let (y1, y2) = (y[2 * i], y[2 * i + 1]);
            for p in 0..N_INTERP {
                let row = (s.g[0] + p) * m + s.g[1];
                for q in 0..N_INTERP {
                    let wt = s.w[0][p] * s.w[1][q];
                    a_grid[row + q] += C::new(wt, wt * y1);
                    b_grid[row + q].re += wt * y2;
                }
            }
        }

        // Kernels on the circulant grid: offset a for a ≤ grid, a − m above, so the grid is even
        // in both axes; evaluate one quadrant and mirror it.
        let quadrant: Vec<C> = (0..=grid)
            .flat_map(|a| (0..=grid).map(move |b| (a, b)))
            .map(|(a, b)| {
                let (oa, ob) = (a as f64 * h, b as f64 * h);
                let (w, wu) = kernel.w_wu(oa * oa + ob * ob);
                C::new(w, wu)
            })
            .collect();
        let fold = |a: usize| if a <= grid { a } else { m - a };
        k_grid.par_chunks_mut(m).enumerate().for_each(|(a, row)| {
            let q = &quadrant[fold(a) * (grid + 1)..(fold(a) + 1) * (grid + 1)];
            for (b, v) in row.iter_mut().enumerate() {
                *v = q[fold(b)];
            }
        });

        let forward = self.planner.plan_fft_forward(m);
        let inverse = self.planner.plan_fft_inverse(m);
        fft2(&mut k_grid, &mut tmp, m, &forward);
        fft2(&mut a_grid, &mut tmp, m, &forward);
        fft2(&mut b_grid, &mut tmp, m, &forward);

        // Spectral products. K̂₁ = Re, K̂₂ = Im of the packed kernel spectrum; the spectrum of
        // the real charge 1 is the Hermitian part of Â: (Â[k] + conj(Â[−k])) / 2.
        let scale = 1.0 / (m * m) as f64;
        let a_hat = &a_grid;
        b_grid
            .par_chunks_mut(m)
            .zip(tmp.par_chunks_mut(m))
            .enumerate()
            .for_each(|(r, (b_row, p1_row))| {
                let rn = (m - r) % m;
                for c in 0..m {
                    let cn = (m - c) % m;
                    let k = k_grid[r * m + c];
                    let a = a_hat[r * m + c];
                    let c1 = (a + a_hat[rn * m + cn].conj()) * 0.5;
                    p1_row[c] = a * (k.im * scale);
                    b_row[c] = b_row[c] * (k.im * scale) + C::new(0.0, 1.0) * c1 * (k.re * scale);
                }
            });
        let mut p1 = tmp;
        let mut p2 = b_grid;
        let mut scratch = k_grid;
        fft2(&mut p1, &mut scratch, m, &inverse);
        fft2(&mut p2, &mut scratch, m, &inverse);
        // p1: re = conv(1, K₂), im = conv(y₁, K₂); p2: re = conv(y₂, K₂), im = conv(1, K₁).

        let parts = map_chunks(n, CHUNK_ROWS, |a, b| {
            let mut out = Vec::with_capacity((b - a) * 2);
            let mut z = 0.0;
            for i in a..b {
                let s = &stencils[i];
                let (mut phi1, mut phi_y1, mut phi_y2, mut phi_w) = (0.0, 0.0, 0.0, 0.0);
                for p in 0..N_INTERP {
                    let row = (s.g[0] + p) * m + s.g[1];
                    for q in 0..N_INTERP {
                        let wt = s.w[0][p] * s.w[1][q];
                        let (u, v) = (p1[row + q], p2[row + q]);
                        phi1 += wt * u.re;
                        phi_y1 += wt * u.im;
                        phi_y2 += wt * v.re;
                        phi_w += wt * v.im;
                    }
                }
                out.push(y[2 * i] * phi1 - phi_y1);
                out.push(y[2 * i + 1] * phi1 - phi_y2);
                // Minus the point's own w(0) = 1.
                z += phi_w - 1.0;
            }
            (out, z)
        });
        self.grids = [a_grid, p2, scratch, p1];
        let z = parts.iter().map(|p| p.1).sum();
        let forces = parts.into_iter().flat_map(|p| p.0).collect();
        (forces, z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_core::rng::Rng;

    /// With openTSNE's settings the interpolation error depends on the interval width: below 1e-3
    /// while the embedding spans less than the 50 minimum intervals (early iterations, width
    /// < 0.3), a few percent once intervals reach width 1 (large spans), as in FIt-SNE.
    #[test]
    fn repulsion_is_close_to_exact() {
        let mut rng = Rng::new(9);
        for (n, spread, dof, tol, tol_z) in [
            (500, 5.0, 1.0, 1e-3, 1e-5),
            (500, 5.0, 0.8, 1e-3, 1e-5),
            (500, 20.0, 1.0, 1e-2, 1e-3),
            (800, 40.0, 1.0, 5e-2, 5e-3),
        ] {
            let kernel = Kernel::new(dof);
            let y: Vec<f64> = (0..2 * n)
                .map(|k| ((k / 2) % 5) as f64 * spread / 5.0 + rng.normal() * spread / 10.0)
                .collect();
            let (rep, z) = FftRepulsion::default().repulsion(&y, kernel);
            let (rep_x, z_x) = crate::exact::repulsion(&y, 2, kernel);
            let num: f64 = rep.iter().zip(&rep_x).map(|(a, b)| (a - b).powi(2)).sum();
            let den: f64 = rep_x.iter().map(|b| b * b).sum();
            let e = (num / den).sqrt();
            assert!(e < tol, "n {n}, spread {spread}: relative error {e}");
            assert!(((z - z_x) / z_x).abs() < tol_z, "Z {z} vs {z_x}");
        }
    }

    #[test]
    fn fft_sizes_are_smooth() {
        assert_eq!(smooth_ceil(50), 50);
        assert_eq!(smooth_ceil(77), 80);
        assert_eq!(smooth_ceil(121), 125);
    }
}
