//! Deterministic parallelism: work is cut into chunks of a fixed size (never derived from the
//! thread count) and partial results are combined in chunk order, so floating-point sums come out
//! bit-identical whether one thread or many ran them.

use rayon::prelude::*;

/// Rows per chunk for row-parallel kernels. Fixed, so results do not depend on `--threads`.
pub const CHUNK_ROWS: usize = 256;

/// Maps each chunk `[start, end)` of `0..n` to a partial result in parallel and returns the
/// partials in chunk order.
pub fn map_chunks<T, F>(n: usize, chunk: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, usize) -> T + Sync + Send,
{
    let chunk = chunk.max(1);
    let n_chunks = n.div_ceil(chunk);
    (0..n_chunks)
        .into_par_iter()
        .map(|c| f(c * chunk, ((c + 1) * chunk).min(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_range_in_order() {
        let parts = map_chunks(10, 4, |a, b| (a, b));
        assert_eq!(parts, vec![(0, 4), (4, 8), (8, 10)]);
        assert!(map_chunks(0, 4, |a, b| (a, b)).is_empty());
    }

    #[test]
    fn sums_are_identical_across_thread_counts() {
        let xs: Vec<f64> = (0..10_000)
            .map(|i| (i as f64).sin() * 1e-3 + 1.0 / (i as f64 + 1.0))
            .collect();
        let sum_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                map_chunks(xs.len(), 97, |a, b| xs[a..b].iter().sum::<f64>())
                    .into_iter()
                    .sum::<f64>()
            })
        };
        assert_eq!(sum_with(1).to_bits(), sum_with(3).to_bits());
    }
}
