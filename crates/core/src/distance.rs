//! Distance kernels shared by the algorithms. Each sums in eight independent lanes, combined
//! in a fixed order: the compiler can vectorise them (a plain `.sum()` is one long dependency
//! chain), and the result is the same bits on every machine and thread count. On x86-64 CPUs
//! with AVX2 the same code runs compiled for AVX2 (chosen at run time): wider registers, the
//! same operations in the same order (no fused multiply-add), so the same bits.

const LANES: usize = 8;

#[inline(always)]
fn lanes(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; LANES];
    // Fixed-size chunks: no bounds checks in the loop, so it vectorises.
    let (ac, ar) = a.as_chunks::<LANES>();
    let (bc, br) = b.as_chunks::<LANES>();
    for (x, y) in ac.iter().zip(bc) {
        for l in 0..LANES {
            acc[l] += f(x[l], y[l]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ar.iter().zip(br) {
        tail += f(*x, *y);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

fn sq_diff(x: f64, y: f64) -> f64 {
    (x - y) * (x - y)
}

fn abs_diff(x: f64, y: f64) -> f64 {
    (x - y).abs()
}

fn product(x: f64, y: f64) -> f64 {
    x * y
}

/// Defines a kernel with a portable body and an AVX2 body of the same code, picked at run time.
macro_rules! kernel {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        #[inline]
        pub fn $name(a: &[f64], b: &[f64]) -> f64 {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn wide(a: &[f64], b: &[f64]) -> f64 {
                    lanes(a, b, $f)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { wide(a, b) };
                }
            }
            lanes(a, b, $f)
        }
    };
}

kernel!(
    /// ‖a − b‖².
    sq_euclidean,
    sq_diff
);
kernel!(
    /// Σ |a − b|.
    manhattan,
    abs_diff
);
kernel!(
    /// a · b.
    dot,
    product
);

/// ‖a − b‖.
#[inline]
pub fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    sq_euclidean(a, b).sqrt()
}

/// The sample distances the clusterers offer (`metric = "euclidean" | "manhattan" | "cosine"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Euclidean,
    Manhattan,
    /// 1 − cos; computed on unit-normalised rows (see [`Metric::rows`]).
    Cosine,
}

impl Metric {
    /// The metric named in a manifest (anything else is euclidean; the schema checks names).
    pub fn from_name(name: &str) -> Metric {
        match name {
            "manhattan" => Metric::Manhattan,
            "cosine" => Metric::Cosine,
            _ => Metric::Euclidean,
        }
    }

    /// Rows as contiguous vectors, unit-normalised for cosine (zero rows stay zero).
    pub fn rows(self, x: ndarray::ArrayView2<f64>) -> Vec<Vec<f64>> {
        x.rows()
            .into_iter()
            .map(|r| {
                let mut v = r.to_vec();
                if self == Metric::Cosine {
                    let norm = dot(&v, &v).sqrt();
                    if norm > 0.0 {
                        v.iter_mut().for_each(|a| *a /= norm);
                    }
                }
                v
            })
            .collect()
    }

    /// The distance between two rows prepared by [`Metric::rows`].
    #[inline]
    pub fn distance(self, a: &[f64], b: &[f64]) -> f64 {
        match self {
            Metric::Euclidean => euclidean(a, b),
            Metric::Manhattan => manhattan(a, b),
            Metric::Cosine => (1.0 - dot(a, b)).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_plain_sums_and_with_the_portable_body() {
        for len in [0, 1, 7, 8, 9, 64, 67] {
            let a: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..len).map(|i| (i as f64 * 0.11).cos()).collect();
            let plain =
                |f: fn(f64, f64) -> f64| a.iter().zip(&b).map(|(x, y)| f(*x, *y)).sum::<f64>();
            assert!((sq_euclidean(&a, &b) - plain(sq_diff)).abs() < 1e-12);
            assert!((manhattan(&a, &b) - plain(abs_diff)).abs() < 1e-12);
            assert!((dot(&a, &b) - plain(product)).abs() < 1e-12);
            // The dispatched (maybe AVX2) kernel gives the portable kernel's exact bits.
            assert_eq!(
                sq_euclidean(&a, &b).to_bits(),
                lanes(&a, &b, sq_diff).to_bits()
            );
            assert_eq!(dot(&a, &b).to_bits(), lanes(&a, &b, product).to_bits());
        }
    }
}
