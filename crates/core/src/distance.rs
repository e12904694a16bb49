//! Distance kernels shared by the algorithms. Each sums in eight independent lanes, combined
//! in a fixed order: the compiler can vectorise them (a plain `.sum()` is one long dependency
//! chain), and the result is still the same bits on every machine and thread count.

const LANES: usize = 8;

#[inline]
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

/// ‖a − b‖².
#[inline]
pub fn sq_euclidean(a: &[f64], b: &[f64]) -> f64 {
    lanes(a, b, |x, y| (x - y) * (x - y))
}

/// ‖a − b‖.
#[inline]
pub fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    sq_euclidean(a, b).sqrt()
}

/// Σ |a − b|.
#[inline]
pub fn manhattan(a: &[f64], b: &[f64]) -> f64 {
    lanes(a, b, |x, y| (x - y).abs())
}

/// a · b.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    lanes(a, b, |x, y| x * y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_plain_sums() {
        for len in [0, 1, 7, 8, 9, 64, 67] {
            let a: Vec<f64> = (0..len).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..len).map(|i| (i as f64 * 0.11).cos()).collect();
            let plain =
                |f: &dyn Fn(f64, f64) -> f64| a.iter().zip(&b).map(|(x, y)| f(*x, *y)).sum::<f64>();
            assert!((sq_euclidean(&a, &b) - plain(&|x, y| (x - y) * (x - y))).abs() < 1e-12);
            assert!((manhattan(&a, &b) - plain(&|x, y| (x - y).abs())).abs() < 1e-12);
            assert!((dot(&a, &b) - plain(&|x, y| x * y)).abs() < 1e-12);
        }
    }
}
