//! The Student-t similarity of the embedding and the factors its gradient needs.
//!
//! With ν degrees of freedom, `w(d²) = (1 + d²/ν)^(−(ν+1)/2)` (scikit-learn's parametrisation;
//! ν = 1 is the Cauchy kernel of standard t-SNE). The KL gradient is
//! `∂C/∂yᵢ = c · Σⱼ (pᵢⱼ − wᵢⱼ/Z) · uᵢⱼ · (yᵢ − yⱼ)` with `u = 1/(1 + d²/ν)` and
//! `c = 2(ν+1)/ν`, so attraction needs `u` and repulsion needs `w·u` and `w` (for Z).

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kernel {
    pub dof: f64,
}

impl Kernel {
    pub fn new(dof: f64) -> Self {
        Kernel { dof }
    }

    fn cauchy(&self) -> bool {
        self.dof == 1.0
    }

    /// `u = 1/(1 + d²/ν)`.
    #[inline]
    pub fn u(&self, d2: f64) -> f64 {
        if self.cauchy() {
            1.0 / (1.0 + d2)
        } else {
            1.0 / (1.0 + d2 / self.dof)
        }
    }

    /// The unnormalised similarity `w`.
    #[inline]
    pub fn w(&self, d2: f64) -> f64 {
        let u = self.u(d2);
        if self.cauchy() {
            u
        } else {
            u.powf((self.dof + 1.0) / 2.0)
        }
    }

    /// `(w, w·u)`: the similarity and the repulsion weight, from one evaluation.
    #[inline]
    pub fn w_wu(&self, d2: f64) -> (f64, f64) {
        let u = self.u(d2);
        let w = if self.cauchy() {
            u
        } else {
            u.powf((self.dof + 1.0) / 2.0)
        };
        (w, w * u)
    }

    /// The gradient's constant factor `2(ν+1)/ν` (4 for ν = 1).
    pub fn factor(&self) -> f64 {
        2.0 * (self.dof + 1.0) / self.dof
    }
}

/// Squared euclidean distance between two points of the embedding.
#[inline]
pub fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
