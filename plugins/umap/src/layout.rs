//! The SGD layout: umap-learn's `optimize_layout_euclidean` (edge sampling by
//! `epochs_per_sample`, attraction `−2ab·d^(2(b−1)) / (1 + a·d^(2b))`, negative sampling with
//! repulsion `2γb / ((0.001 + d²)(1 + a·d^(2b)))`, gradients clipped to ±4, learning rate decaying
//! linearly), made parallel *and* bit-identical for any thread count.
//!
//! # Determinism scheme
//!
//! umap-learn's parallel SGD is Hogwild: threads update shared positions with races, so results
//! change from run to run; seeded runs are single-threaded. Here every epoch reads the positions
//! as they were at the start of the epoch (`prev`) and writes new ones (`next`):
//!
//! - The graph is symmetric and in CSR order, so the edges of each point (its "head" edges) are
//!   contiguous. A point's updates in an epoch are computed by one task, sequentially over its own
//!   edges: its own position moves step by step (as in umap-learn), every other point is read from
//!   `prev`. Points are independent within an epoch, so they run in parallel over fixed chunks and
//!   no update ever races.
//! - umap-learn's `move_other` moves the tail of an edge too. Edge (j, k) and its reverse (k, j)
//!   have equal weights, hence the same sampling schedule: when one is due, so is the other. The
//!   tail's move from (k, j) is therefore applied by j's own task as a second attraction step
//!   towards k, so each point moves exactly as often as in umap-learn.
//! - Negative samples come from an RNG forked per (epoch, point) from the seed, so they do not
//!   depend on which thread ran which point.
//!
//! Reading other points one epoch late is the staleness Hogwild has anyway (at most one epoch
//! here, unbounded there); the quality (trustworthiness) matches umap-learn's (see the tests).

use attrclust_core::rng::Rng;
use ndarray::Array2;
use rayon::prelude::*;

use crate::fuzzy::Graph;

/// Points per parallel task (results do not depend on it: points are independent in an epoch).
const CHUNK_POINTS: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct LayoutParams {
    pub a: f64,
    pub b: f64,
    /// `repulsion_strength`.
    pub gamma: f64,
    pub learning_rate: f64,
    pub negative_sample_rate: f64,
    pub n_epochs: usize,
}

#[inline]
fn clip(v: f64) -> f64 {
    v.clamp(-4.0, 4.0)
}

/// `x^b` in single precision, as umap-learn computes it (float32): the power is the layout's hot
/// spot, and glibc's `powf` takes well under half the time of `pow`.
#[inline]
fn pow(x: f64, b: f64) -> f64 {
    f64::from((x as f32).powf(b as f32))
}

#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// One attraction step of `current` towards `other`.
#[inline]
fn attract(current: &mut [f64], other: &[f64], p: &LayoutParams, alpha: f64) {
    let d2 = sq_dist(current, other);
    if d2 > 0.0 {
        let pb = pow(d2, p.b);
        let coeff = -2.0 * p.a * p.b * pb / (d2 * (p.a * pb + 1.0));
        for (c, o) in current.iter_mut().zip(other) {
            *c += clip(coeff * (*c - o)) * alpha;
        }
    }
}

/// One repulsion step of `current` away from a negative sample.
#[inline]
fn repel(current: &mut [f64], other: &[f64], p: &LayoutParams, alpha: f64) {
    let d2 = sq_dist(current, other);
    if d2 > 0.0 {
        let coeff = 2.0 * p.gamma * p.b / ((0.001 + d2) * (p.a * pow(d2, p.b) + 1.0));
        if coeff > 0.0 {
            for (c, o) in current.iter_mut().zip(other) {
                *c += clip(coeff * (*c - o)) * alpha;
            }
        }
    }
}

/// Per-edge sampling state, in CSR edge order.
struct Schedule {
    epochs_per_sample: Vec<f64>,
    epochs_per_negative: Vec<f64>,
    next_sample: Vec<f64>,
    next_negative: Vec<f64>,
}

/// Optimises `embedding` (n × dim) in place over the edges of `graph`.
pub fn optimize(
    embedding: &mut Array2<f64>,
    graph: &Graph,
    epochs_per_sample: &[f64],
    params: &LayoutParams,
    seed: u64,
) {
    let (n, dim) = embedding.dim();
    if n == 0 || dim == 0 {
        return;
    }
    let mut schedule = Schedule {
        epochs_per_sample: epochs_per_sample.to_vec(),
        epochs_per_negative: epochs_per_sample
            .iter()
            .map(|e| e / params.negative_sample_rate)
            .collect(),
        next_sample: epochs_per_sample.to_vec(),
        next_negative: epochs_per_sample
            .iter()
            .map(|e| e / params.negative_sample_rate)
            .collect(),
    };
    let mut prev: Vec<f64> = embedding.iter().copied().collect();
    let mut next = prev.clone();
    let base = Rng::new(seed);
    let mut alpha = params.learning_rate;
    for epoch in 0..params.n_epochs {
        run_epoch(
            &prev,
            &mut next,
            graph,
            &mut schedule,
            params,
            alpha,
            epoch,
            &base,
            dim,
        );
        std::mem::swap(&mut prev, &mut next);
        alpha = params.learning_rate * (1.0 - epoch as f64 / params.n_epochs as f64);
    }
    for (e, v) in embedding.iter_mut().zip(prev) {
        *e = v;
    }
}

#[allow(clippy::too_many_arguments)]
fn run_epoch(
    prev: &[f64],
    next: &mut [f64],
    graph: &Graph,
    schedule: &mut Schedule,
    params: &LayoutParams,
    alpha: f64,
    epoch: usize,
    base: &Rng,
    dim: usize,
) {
    let n = graph.n();
    let epoch_rng = base.fork(epoch as u64);
    let now = epoch as f64;
    // Split positions and per-edge state into disjoint per-chunk slices.
    let mut tasks = Vec::with_capacity(n.div_ceil(CHUNK_POINTS));
    let (mut pos, mut ns, mut nn) = (
        next,
        &mut schedule.next_sample[..],
        &mut schedule.next_negative[..],
    );
    for start in (0..n).step_by(CHUNK_POINTS) {
        let end = (start + CHUNK_POINTS).min(n);
        let edges = graph.offsets[end] - graph.offsets[start];
        let (p, rest_p) = pos.split_at_mut((end - start) * dim);
        let (s, rest_s) = ns.split_at_mut(edges);
        let (g, rest_g) = nn.split_at_mut(edges);
        tasks.push((start, end, p, s, g));
        pos = rest_p;
        ns = rest_s;
        nn = rest_g;
    }
    let eps = &schedule.epochs_per_sample;
    let epn = &schedule.epochs_per_negative;
    tasks
        .into_par_iter()
        .for_each(|(start, end, positions, next_sample, next_negative)| {
            let edge0 = graph.offsets[start];
            for j in start..end {
                let current = &mut positions[(j - start) * dim..(j - start + 1) * dim];
                current.copy_from_slice(&prev[j * dim..(j + 1) * dim]);
                let mut rng: Option<Rng> = None;
                for e in graph.offsets[j]..graph.offsets[j + 1] {
                    let local = e - edge0;
                    if next_sample[local] > now {
                        continue;
                    }
                    let k = graph.cols[e] as usize;
                    let other = &prev[k * dim..(k + 1) * dim];
                    attract(current, other, params, alpha); // edge (j, k)
                    attract(current, other, params, alpha); // move_other of edge (k, j)
                    next_sample[local] += eps[e];
                    let n_neg = ((now - next_negative[local]) / epn[e]) as i64;
                    let rng = rng.get_or_insert_with(|| epoch_rng.fork(j as u64));
                    for _ in 0..n_neg.max(0) {
                        // Multiply-shift instead of `below`'s division: bias n / 2⁶⁴.
                        let s = ((rng.next_u64() as u128 * n as u128) >> 64) as usize;
                        if s != j {
                            repel(current, &prev[s * dim..(s + 1) * dim], params, alpha);
                        }
                    }
                    next_negative[local] += n_neg as f64 * epn[e];
                }
            }
        });
}
