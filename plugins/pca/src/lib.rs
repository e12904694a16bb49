//! `pca`: exact principal component analysis through the eigendecomposition of the covariance
//! matrix (scikit-learn's `covariance_eigh` solver), with scikit-learn's conventions: centred
//! data, explained variance with n − 1 degrees of freedom, `n_components` as a count or as a
//! fraction of variance to keep, optional whitening, and deterministic signs (the largest
//! loading of each component is positive, as `svd_flip(u_based_decision=False)`).

use attrclust_core::params::Default as D;
use attrclust_core::plugin::require_samples;
use attrclust_core::{
    Build, Context, Dataset, Error, Info, ParamSpec, ParamType as T, ParamValue, Params, Plugin,
    Reducer, Result,
};
use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::Array2;

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "n_components",
        T::IntOrFraction,
        D::Absent,
        "Components to keep: an integer, or a fraction in (0, 1) of the variance to explain. Default: all.",
    ),
    ParamSpec::new(
        "whiten",
        T::Bool,
        D::Bool(false),
        "Scale components to unit variance.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "pca",
        version: "1",
        summary: "Principal component analysis (exact, scikit-learn conventions)",
        params: PARAMS,
        build: Build::Reducer(|p| Ok(Box::new(Pca::from_params(p)?))),
        uses_seed: false,
        uses_groups: false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Components {
    All,
    Count(usize),
    /// Keep the fewest components whose explained variance ratio sums above this.
    Fraction(f64),
}

pub struct Pca {
    pub n_components: Components,
    pub whiten: bool,
}

/// A fitted PCA.
pub struct PcaFit {
    pub mean: Vec<f64>,
    /// [n_components, n_features], rows are components.
    pub components: Array2<f64>,
    pub explained_variance: Vec<f64>,
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    fn from_params(p: &Params) -> Result<Self> {
        let n_components = match p.get("n_components") {
            None => Components::All,
            Some(ParamValue::Int(k)) => Components::Count(*k as usize),
            Some(ParamValue::Float(f)) => Components::Fraction(*f),
            Some(other) => {
                return Err(Error::input(format!(
                    "`n_components`: expected an integer or a fraction, found {}",
                    other.describe()
                )));
            }
        };
        Ok(Pca {
            n_components,
            whiten: p.bool("whiten")?,
        })
    }

    pub fn fit(&self, x: &Array2<f64>) -> Result<PcaFit> {
        let (n, d) = x.dim();
        let mean: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| c.sum() / n as f64)
            .collect();
        let centred = x - &ndarray::Array1::from(mean.clone());
        let cov = centred.t().dot(&centred) / (n as f64 - 1.0);
        let eig = SymmetricEigen::new(DMatrix::from_fn(d, d, |i, j| cov[[i, j]]));
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        // Round-off can make null eigenvalues slightly negative.
        let variance: Vec<f64> = order.iter().map(|&k| eig.eigenvalues[k].max(0.0)).collect();
        let total: f64 = variance.iter().sum();
        if total <= 0.0 {
            return Err(
                Error::input("all channels are constant: PCA has no variance to explain")
                    .hint("check the data, or drop the pca step"),
            );
        }
        let ratio: Vec<f64> = variance.iter().map(|v| v / total).collect();
        let max_k = n.min(d);
        let k = match self.n_components {
            Components::All => max_k,
            Components::Count(k) if k > max_k => {
                return Err(Error::input(format!(
                    "n_components = {k} exceeds min(n_samples, n_features) = min({n}, {d})"
                ))
                .hint(format!("use n_components ≤ {max_k}")));
            }
            Components::Count(k) => k,
            Components::Fraction(f) => {
                // As scikit-learn: searchsorted(cumsum(ratio), f, side="right") + 1.
                let mut cum = 0.0;
                let mut k = 0;
                for r in &ratio {
                    if cum > f {
                        break;
                    }
                    cum += r;
                    k += 1;
                }
                k.min(max_k)
            }
        };
        let mut components = Array2::<f64>::zeros((k, d));
        for (row, &src) in order.iter().take(k).enumerate() {
            let v = eig.eigenvectors.column(src);
            let largest = (0..d)
                .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
                .expect("d > 0");
            let sign = if v[largest] < 0.0 { -1.0 } else { 1.0 };
            for j in 0..d {
                components[[row, j]] = sign * v[j];
            }
        }
        Ok(PcaFit {
            mean,
            components,
            explained_variance: variance[..k].to_vec(),
            explained_variance_ratio: ratio[..k].to_vec(),
        })
    }
}

impl PcaFit {
    pub fn transform(&self, x: &Array2<f64>, whiten: bool) -> Array2<f64> {
        let centred = x - &ndarray::Array1::from(self.mean.clone());
        let mut t = centred.dot(&self.components.t());
        if whiten {
            for (mut col, var) in t.columns_mut().into_iter().zip(&self.explained_variance) {
                let s = var.sqrt().max(f64::MIN_POSITIVE);
                col.mapv_inplace(|v| v / s);
            }
        }
        t
    }
}

impl Reducer for Pca {
    fn fit_transform(&self, input: &Dataset, _ctx: &Context) -> Result<Dataset> {
        require_samples(input, 2, "pca")?;
        let fit = self.fit(&input.x)?;
        let t = fit.transform(&input.x, self.whiten);
        let columns = (1..=t.ncols()).map(|i| format!("PC{i}")).collect();
        let mut out = input.with_matrix(t, columns);
        out.info.insert(
            "explained_variance".into(),
            Info::Floats(fit.explained_variance),
        );
        out.info.insert(
            "explained_variance_ratio".into(),
            Info::Floats(fit.explained_variance_ratio),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrclust_testdata::{floats, matrix, sklearn_reference as reference};

    #[test]
    fn matches_scikit_learn_components_and_variance() {
        let r = reference();
        let x = matrix(&r["X"]);
        let fit = Pca {
            n_components: Components::All,
            whiten: false,
        }
        .fit(&x)
        .unwrap();
        let want = matrix(&r["pca"]["components"]);
        let var = floats(&r["pca"]["explained_variance"]);
        let ratio = floats(&r["pca"]["explained_variance_ratio"]);
        // The spectrum's leading components are well separated: compare them up to 1e-8 with
        // scikit-learn's sign convention applied on both sides.
        for k in 0..3 {
            for j in 0..x.ncols() {
                let (a, b) = (fit.components[[k, j]], want[[k, j]]);
                assert!((a - b).abs() < 1e-8, "component {k}[{j}]: {a} vs {b}");
            }
        }
        for k in 0..x.ncols() {
            assert!(
                (fit.explained_variance[k] - var[k]).abs() < 1e-10 * var[0],
                "variance {k}"
            );
            assert!(
                (fit.explained_variance_ratio[k] - ratio[k]).abs() < 1e-10,
                "ratio {k}"
            );
        }
    }

    #[test]
    fn fraction_and_whitening_match_scikit_learn() {
        let r = reference();
        let x = matrix(&r["X"]);
        let fit = Pca {
            n_components: Components::Fraction(0.99),
            whiten: false,
        }
        .fit(&x)
        .unwrap();
        assert_eq!(
            fit.components.nrows() as u64,
            r["pca"]["n_components_for_0.99"].as_u64().unwrap()
        );
        let pca = Pca {
            n_components: Components::Count(3),
            whiten: true,
        };
        let t = pca.fit(&x).unwrap().transform(&x, true);
        let want = matrix(&r["pca"]["whitened_3"]);
        for (a, b) in t.iter().zip(want.iter()) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
    }

    #[test]
    fn too_many_components_and_constant_data_are_clear_errors() {
        let x = Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as f64 * 0.5 + (i * j) as f64);
        let err = Pca {
            n_components: Components::Count(5),
            whiten: false,
        }
        .fit(&x)
        .err()
        .unwrap();
        assert!(
            err.message.contains("exceeds min(n_samples, n_features)"),
            "{err}"
        );
        let flat = Array2::from_elem((4, 3), 2.0);
        let err = Pca {
            n_components: Components::All,
            whiten: false,
        }
        .fit(&flat)
        .err()
        .unwrap();
        assert!(err.message.contains("constant"), "{err}");
    }
}
