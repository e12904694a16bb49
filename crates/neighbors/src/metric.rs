//! Distances in "reduced" form (squared for euclidean) and their bounds against boxes.
//!
//! Every distance the crate compares goes through [`Metric::reduced`], so the tree, the brute-force
//! scan and the tests agree bit for bit. The box bounds below use the same summation order as the
//! point distances; floating-point subtraction, squaring and addition are monotone, so a box's
//! lower bound never exceeds the computed distance of any point inside it (and the upper bound is
//! never below it). Pruning is therefore exact, not merely approximately right.

/// The metric of a [`crate::NeighborIndex`].
///
/// Cosine distance is not a tree metric; callers normalise rows to unit length
/// ([`crate::normalize_rows`]) and search with `Euclidean`: for unit vectors
/// `1 − a·b = ‖a − b‖² / 2`, so a cosine radius `eps` is the euclidean radius `√(2·eps)`
/// ([`crate::cosine_to_euclidean_radius`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Euclidean,
    /// L1, city block.
    Manhattan,
}

impl Metric {
    /// The distance as compared internally: squared for euclidean, plain for manhattan.
    #[inline]
    pub fn reduced(self, a: &[f64], b: &[f64]) -> f64 {
        match self {
            Metric::Euclidean => sum4(a, b, |x, y| {
                let t = x - y;
                t * t
            }),
            Metric::Manhattan => sum4(a, b, |x, y| (x - y).abs()),
        }
    }

    /// Reduced form of a radius. Negative or NaN radii reach nothing.
    pub fn reduce_radius(self, r: f64) -> f64 {
        if r.is_nan() || r < 0.0 {
            return -1.0;
        }
        match self {
            Metric::Euclidean => r * r,
            Metric::Manhattan => r,
        }
    }

    /// The distance from its reduced form.
    #[inline]
    pub fn unreduce(self, d: f64) -> f64 {
        match self {
            Metric::Euclidean => d.sqrt(),
            Metric::Manhattan => d,
        }
    }

    /// Lower bound of the reduced distance from `q` to any point of the box `[lo, hi]`.
    #[inline]
    pub(crate) fn box_min(self, q: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
        let gap = |x: f64, l: f64, h: f64| (l - x).max(x - h).max(0.0);
        match self {
            Metric::Euclidean => sum4_box(q, lo, hi, |x, l, h| {
                let t = gap(x, l, h);
                t * t
            }),
            Metric::Manhattan => sum4_box(q, lo, hi, gap),
        }
    }

    /// Upper bound of the reduced distance from `q` to any point of the box `[lo, hi]`.
    #[inline]
    pub(crate) fn box_max(self, q: &[f64], lo: &[f64], hi: &[f64]) -> f64 {
        let far = |x: f64, l: f64, h: f64| (x - l).abs().max((x - h).abs());
        match self {
            Metric::Euclidean => sum4_box(q, lo, hi, |x, l, h| {
                let t = far(x, l, h);
                t * t
            }),
            Metric::Manhattan => sum4_box(q, lo, hi, far),
        }
    }
}

/// Σ f(a_i, b_i) with four running sums (lets the compiler vectorise), in a fixed order.
#[inline(always)]
fn sum4(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut s = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        s[0] += f(x[0], y[0]);
        s[1] += f(x[1], y[1]);
        s[2] += f(x[2], y[2]);
        s[3] += f(x[3], y[3]);
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for (x, y) in ra.iter().zip(rb) {
        t += f(*x, *y);
    }
    t
}

/// [`sum4`] with the same summation order, for box bounds.
#[inline(always)]
fn sum4_box(q: &[f64], lo: &[f64], hi: &[f64], f: impl Fn(f64, f64, f64) -> f64) -> f64 {
    let n = q.len().min(lo.len()).min(hi.len());
    let (q, lo, hi) = (&q[..n], &lo[..n], &hi[..n]);
    let mut s = [0.0f64; 4];
    let m = n / 4 * 4;
    for i in (0..m).step_by(4) {
        s[0] += f(q[i], lo[i], hi[i]);
        s[1] += f(q[i + 1], lo[i + 1], hi[i + 1]);
        s[2] += f(q[i + 2], lo[i + 2], hi[i + 2]);
        s[3] += f(q[i + 3], lo[i + 3], hi[i + 3]);
    }
    let mut t = (s[0] + s[1]) + (s[2] + s[3]);
    for i in m..n {
        t += f(q[i], lo[i], hi[i]);
    }
    t
}
