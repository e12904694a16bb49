//! The low-dimensional similarity curve `1 / (1 + a·d^(2b))`, with `a` and `b` fitted to
//! `min_dist` and `spread` as umap-learn's `find_ab_params`: least squares against the target
//! "1 up to min_dist, then exp(−(d − min_dist) / spread)" on 300 points of [0, 3·spread], solved
//! by Levenberg–Marquardt from (1, 1), as scipy's `curve_fit` does.

const POINTS: usize = 300;

/// `(a, b)` for `min_dist` and `spread` (callers ensure `spread > 0`, `0 ≤ min_dist`).
pub fn find_ab_params(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..POINTS)
        .map(|i| 3.0 * spread * i as f64 / (POINTS - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let [a, b] = levenberg_marquardt(&xs, &ys, [1.0, 1.0]);
    (a, b)
}

/// Model value and its gradient in (a, b) at x.
fn model(x: f64, a: f64, b: f64) -> (f64, [f64; 2]) {
    if x <= 0.0 {
        return (1.0, [0.0, 0.0]); // x^(2b) = 0 for b > 0; its b-derivative 0 · ln 0 → 0
    }
    let u = x.powf(2.0 * b);
    let denom = 1.0 + a * u;
    let f = 1.0 / denom;
    let df = -1.0 / (denom * denom);
    (f, [df * u, df * a * u * 2.0 * x.ln()])
}

fn sum_of_squares(xs: &[f64], ys: &[f64], p: [f64; 2]) -> f64 {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| (model(x, p[0], p[1]).0 - y).powi(2))
        .sum()
}

/// Minimises the sum of squared residuals over (a, b); two parameters, so the damped normal
/// equations are solved in closed form.
fn levenberg_marquardt(xs: &[f64], ys: &[f64], start: [f64; 2]) -> [f64; 2] {
    let mut p = start;
    let mut cost = sum_of_squares(xs, ys, p);
    let mut lambda = 1e-3;
    for _ in 0..500 {
        // J^T J and J^T r.
        let (mut h, mut g) = ([[0.0; 2]; 2], [0.0; 2]);
        for (&x, &y) in xs.iter().zip(ys) {
            let (f, j) = model(x, p[0], p[1]);
            let r = f - y;
            for s in 0..2 {
                g[s] += j[s] * r;
                for t in 0..2 {
                    h[s][t] += j[s] * j[t];
                }
            }
        }
        let mut improved = false;
        while lambda < 1e16 {
            let (h00, h11) = (h[0][0] * (1.0 + lambda), h[1][1] * (1.0 + lambda));
            let det = h00 * h11 - h[0][1] * h[1][0];
            if det.abs() > 0.0 && det.is_finite() {
                let step = [
                    -(h11 * g[0] - h[0][1] * g[1]) / det,
                    -(h00 * g[1] - h[1][0] * g[0]) / det,
                ];
                let trial = [p[0] + step[0], p[1] + step[1]];
                let trial_cost = sum_of_squares(xs, ys, trial);
                if trial_cost.is_finite() && trial_cost <= cost {
                    let small = step[0].abs() <= 1e-15 * (1.0 + p[0].abs())
                        && step[1].abs() <= 1e-15 * (1.0 + p[1].abs());
                    p = trial;
                    let done = small || cost - trial_cost <= 1e-18 * cost;
                    cost = trial_cost;
                    lambda = (lambda * 0.1).max(1e-12);
                    improved = !done;
                    break;
                }
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_umap_learn() {
        // umap-learn 0.5.12 find_ab_params(1.0, 0.1) (also in tests/fixtures/umap_reference.json).
        let (a, b) = find_ab_params(1.0, 0.1);
        assert!((a - 1.576_943_460_269_765_2).abs() < 1e-6, "a = {a}");
        assert!((b - 0.895_060_877_851_573_3).abs() < 1e-6, "b = {b}");
    }
}
