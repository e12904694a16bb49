//! Gradient descent with momentum and per-coordinate gains (delta-bar-delta), as scikit-learn
//! and the reference implementations: an early-exaggeration phase (P × exaggeration, momentum
//! 0.5), then the rest (momentum 0.8). Gains and the update restart with each phase, as
//! scikit-learn's two `_gradient_descent` calls.

/// Gains grow by this when the gradient keeps its sign against the last update…
const GAIN_INCREMENT: f64 = 0.2;
/// …and shrink by this factor when it flips.
const GAIN_DECAY: f64 = 0.8;
const MIN_GAIN: f64 = 0.01;
const MOMENTUM_EXAGGERATED: f64 = 0.5;
const MOMENTUM_FINAL: f64 = 0.8;
/// Stop a phase early when the gradient norm falls below this (scikit-learn's `min_grad_norm`),
/// checked every [`CHECK_EVERY`] iterations.
const MIN_GRAD_NORM: f64 = 1e-7;
const CHECK_EVERY: usize = 50;

pub struct Schedule {
    pub early_exaggeration: f64,
    pub early_exaggeration_iter: usize,
    pub max_iter: usize,
    pub learning_rate: f64,
}

/// Runs the descent on `y` (n × dim, row-major); `gradient(y, exaggeration, grad)` writes the KL
/// gradient. Returns the number of iterations run.
pub fn optimize(
    y: &mut [f64],
    schedule: &Schedule,
    mut gradient: impl FnMut(&[f64], f64, &mut [f64]),
    progress: &(dyn Fn(f64) + Sync),
) -> usize {
    let early = schedule.early_exaggeration_iter.min(schedule.max_iter);
    let phases = [
        (schedule.early_exaggeration, early, MOMENTUM_EXAGGERATED),
        (1.0, schedule.max_iter - early, MOMENTUM_FINAL),
    ];
    let mut grad = vec![0.0; y.len()];
    let mut update = vec![0.0; y.len()];
    let mut gains = vec![1.0; y.len()];
    let mut it = 0;
    for (exaggeration, iters, momentum) in phases {
        update.fill(0.0);
        gains.fill(1.0);
        for step in 0..iters {
            gradient(y, exaggeration, &mut grad);
            for k in 0..y.len() {
                let g = grad[k];
                gains[k] = if update[k] * g < 0.0 {
                    gains[k] + GAIN_INCREMENT
                } else {
                    gains[k] * GAIN_DECAY
                }
                .max(MIN_GAIN);
                update[k] = momentum * update[k] - schedule.learning_rate * gains[k] * g;
                y[k] += update[k];
            }
            it += 1;
            progress(it as f64 / schedule.max_iter as f64);
            if (step + 1) % CHECK_EVERY == 0 {
                let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
                if norm <= MIN_GRAD_NORM {
                    break;
                }
            }
        }
    }
    it
}
