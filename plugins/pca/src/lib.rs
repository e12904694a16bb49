//! `pca`: exact principal component analysis through the eigendecomposition of the covariance
//! matrix (scikit-learn's `covariance_eigh` solver), with scikit-learn's conventions: centred
//! data, explained variance with n − 1 degrees of freedom, `n_components` as a count or as a
//! fraction of variance to keep, optional whitening, and deterministic signs (the largest
//! loading of each component is positive, as `svd_flip(u_based_decision=False)`).

use attrclust_core::parallel::map_chunks;
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
    ParamSpec::new(
        "svd_solver",
        T::Choice(&["auto", "full", "covariance_eigh", "randomized"]),
        D::Str("auto"),
        "As scikit-learn: auto picks covariance_eigh for n ≥ 10·d (d ≤ 1000), full for small data, randomized for few components of large data.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "pca",
        version: "1",
        summary: "Principal component analysis (exact, scikit-learn conventions)",
        params: PARAMS,
        build: Build::Reducer(|p| Ok(Box::new(Pca::from_params(p)?))),
        uses_seed: true, // the randomized solver
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

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Solver {
    Auto,
    /// Eigendecomposition of the d × d covariance: fastest for n ≫ d.
    CovarianceEigh,
    /// SVD of the centred data.
    Full,
    /// Halko et al.'s randomized SVD with power iterations, for the leading components only.
    Randomized,
}

pub struct Pca {
    pub n_components: Components,
    pub whiten: bool,
    pub solver: Solver,
    /// Seeds the randomized solver.
    pub seed: u64,
}

/// A fitted PCA.
pub struct PcaFit {
    pub mean: Vec<f64>,
    /// [n_components, n_features], rows are components.
    pub components: Array2<f64>,
    pub explained_variance: Vec<f64>,
    pub explained_variance_ratio: Vec<f64>,
    /// The solver that ran (after `auto`).
    pub solver: Solver,
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
        let solver = match p.str("svd_solver")? {
            "full" => Solver::Full,
            "covariance_eigh" => Solver::CovarianceEigh,
            "randomized" => Solver::Randomized,
            _ => Solver::Auto,
        };
        Ok(Pca {
            n_components,
            whiten: p.bool("whiten")?,
            solver,
            seed: 0,
        })
    }

    pub fn fit(&self, x: &Array2<f64>) -> Result<PcaFit> {
        let (n, d) = x.dim();
        let max_k = n.min(d);
        if let Components::Count(k) = self.n_components
            && k > max_k
        {
            return Err(Error::input(format!(
                "n_components = {k} exceeds min(n_samples, n_features) = min({n}, {d})"
            ))
            .hint(format!("use n_components ≤ {max_k}")));
        }
        let mean: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| c.sum() / n as f64)
            .collect();
        let mean_row = ndarray::Array1::from(mean.clone());
        let centred = || x - &mean_row;
        let solver = self.resolved_solver(n, d);
        // Each solver gives components (rows, largest variance first), their variances and the
        // total variance of the data.
        let (vectors, variance, total) = match solver {
            Solver::CovarianceEigh => covariance_eigh(x, &mean_row),
            Solver::Full => full_svd(&centred()),
            Solver::Randomized => {
                let Components::Count(k) = self.n_components else {
                    unreachable!("resolved_solver picks randomized for counts only")
                };
                randomized_svd(&centred(), k, self.seed)
            }
            Solver::Auto => unreachable!("resolved"),
        };
        if total <= 0.0 {
            return Err(
                Error::input("all channels are constant: PCA has no variance to explain")
                    .hint("check the data, or drop the pca step"),
            );
        }
        let ratio: Vec<f64> = variance.iter().map(|v| v / total).collect();
        let available = vectors.nrows();
        let k = match self.n_components {
            Components::All => available,
            Components::Count(k) => k.min(available),
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
                k.min(available)
            }
        };
        let mut components = vectors.slice(ndarray::s![..k, ..]).to_owned();
        // scikit-learn's svd_flip(u_based_decision=False): the largest loading is positive.
        for mut row in components.rows_mut() {
            let largest = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map_or(0, |(j, _)| j);
            if row[largest] < 0.0 {
                row.mapv_inplace(|v| -v);
            }
        }
        Ok(PcaFit {
            mean,
            components,
            explained_variance: variance[..k].to_vec(),
            explained_variance_ratio: ratio[..k].to_vec(),
            solver,
        })
    }

    /// scikit-learn's `svd_solver="auto"` policy (1.5+).
    pub fn resolved_solver(&self, n: usize, d: usize) -> Solver {
        if self.solver != Solver::Auto {
            if self.solver == Solver::Randomized
                && !matches!(self.n_components, Components::Count(_))
            {
                return Solver::Full; // randomized needs a component count, as scikit-learn
            }
            return self.solver;
        }
        if d <= 1000 && n >= 10 * d {
            Solver::CovarianceEigh
        } else if n.max(d) <= 500 {
            Solver::Full
        } else {
            match self.n_components {
                Components::Count(k) if (k as f64) < 0.8 * n.min(d) as f64 => Solver::Randomized,
                _ => Solver::Full,
            }
        }
    }
}

type Spectrum = (Array2<f64>, Vec<f64>, f64);

fn to_dmatrix(a: &Array2<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

/// Rows per parallel block of the Gram matrix and of the projection. Fixed, so the sums (added in
/// block order) are the same for any thread count.
const BLOCK_ROWS: usize = 4096;

/// (X − mean)ᵀ·(X − mean), summed over fixed row blocks centred on the fly, in parallel.
fn centred_gram(x: &Array2<f64>, mean: &ndarray::Array1<f64>) -> Array2<f64> {
    let d = x.ncols();
    map_chunks(x.nrows(), BLOCK_ROWS, |a, b| {
        let block = &x.slice(ndarray::s![a..b, ..]) - mean;
        block.t().dot(&block)
    })
    .into_iter()
    .fold(Array2::zeros((d, d)), |acc, part| acc + part)
}

/// Components from the eigendecomposition of the covariance matrix.
fn covariance_eigh(x: &Array2<f64>, mean: &ndarray::Array1<f64>) -> Spectrum {
    let (n, d) = x.dim();
    let cov = centred_gram(x, mean) / (n as f64 - 1.0);
    let eig = SymmetricEigen::new(to_dmatrix(&cov));
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let k = n.min(d);
    // Round-off can make null eigenvalues slightly negative.
    let variance: Vec<f64> = order
        .iter()
        .take(k)
        .map(|&i| eig.eigenvalues[i].max(0.0))
        .collect();
    let total = (0..d).map(|i| cov[[i, i]]).sum();
    let vectors = Array2::from_shape_fn((k, d), |(r, j)| eig.eigenvectors[(j, order[r])]);
    (vectors, variance, total)
}

/// Components from the SVD of the centred data.
fn full_svd(centred: &Array2<f64>) -> Spectrum {
    let (n, d) = centred.dim();
    let svd = to_dmatrix(centred).svd(false, true);
    let vt = svd.v_t.expect("requested");
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let variance: Vec<f64> = order
        .iter()
        .map(|&i| svd.singular_values[i].powi(2) / (n as f64 - 1.0))
        .collect();
    let total = variance.iter().sum();
    let vectors = Array2::from_shape_fn((order.len(), d), |(r, j)| vt[(order[r], j)]);
    (vectors, variance, total)
}

/// Randomized SVD (Halko, Martinsson & Tropp 2011) as scikit-learn's PCA runs it: 10 extra
/// dimensions, 7 power iterations for few components (< 10% of min(n, d)) else 4, each
/// re-orthonormalised (QR). The total variance, for the ratios, is computed exactly.
fn randomized_svd(centred: &Array2<f64>, k: usize, seed: u64) -> Spectrum {
    let (n, d) = centred.dim();
    let l = (k + 10).min(n.min(d));
    let n_iter = if (k as f64) < 0.1 * n.min(d) as f64 {
        7
    } else {
        4
    };
    let mut rng = attrclust_core::rng::Rng::new(seed);
    let omega = Array2::from_shape_simple_fn((d, l), || rng.normal());
    let orthonormal = |y: Array2<f64>| -> Array2<f64> {
        let q = to_dmatrix(&y).qr().q();
        Array2::from_shape_fn((q.nrows(), q.ncols()), |(i, j)| q[(i, j)])
    };
    let mut q = orthonormal(centred.dot(&omega));
    for _ in 0..n_iter {
        let z = orthonormal(centred.t().dot(&q));
        q = orthonormal(centred.dot(&z));
    }
    let b = q.t().dot(centred); // l × d
    let svd = to_dmatrix(&b).svd(false, true);
    let vt = svd.v_t.expect("requested");
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    order.truncate(k);
    let variance: Vec<f64> = order
        .iter()
        .map(|&i| svd.singular_values[i].powi(2) / (n as f64 - 1.0))
        .collect();
    let total = centred
        .columns()
        .into_iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>() / (n as f64 - 1.0))
        .sum();
    let vectors = Array2::from_shape_fn((order.len(), d), |(r, j)| vt[(order[r], j)]);
    (vectors, variance, total)
}

impl PcaFit {
    pub fn transform(&self, x: &Array2<f64>, whiten: bool) -> Array2<f64> {
        let mean = ndarray::Array1::from(self.mean.clone());
        let parts = map_chunks(x.nrows(), BLOCK_ROWS, |a, b| {
            (&x.slice(ndarray::s![a..b, ..]) - &mean).dot(&self.components.t())
        });
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let mut t = if views.is_empty() {
            Array2::zeros((0, self.components.nrows()))
        } else {
            ndarray::concatenate(ndarray::Axis(0), &views).expect("blocks of equal width")
        };
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
    fn fit_transform(&self, input: &Dataset, ctx: &Context) -> Result<Dataset> {
        require_samples(input, 2, "pca")?;
        let seeded = Pca {
            seed: ctx.seed,
            ..*self
        };
        let fit = seeded.fit(&input.x)?;
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
        let solver = match fit.solver {
            Solver::CovarianceEigh => "covariance_eigh",
            Solver::Full => "full",
            Solver::Randomized => "randomized",
            Solver::Auto => "auto",
        };
        out.info
            .insert("svd_solver".into(), Info::Text(solver.into()));
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
            solver: Solver::Full,
            seed: 0,
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
            solver: Solver::Full,
            seed: 0,
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
            solver: Solver::Full,
            seed: 0,
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
            solver: Solver::Full,
            seed: 0,
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
            solver: Solver::Full,
            seed: 0,
        }
        .fit(&flat)
        .err()
        .unwrap();
        assert!(err.message.contains("constant"), "{err}");
    }
}

#[cfg(test)]
mod solver_tests {
    use super::*;
    use attrclust_testdata::{floats, matrix, sklearn_reference};

    #[test]
    fn every_solver_matches_scikit_learn_full() {
        let r = sklearn_reference();
        let x = matrix(&r["X"]);
        let want = matrix(&r["pca"]["components"]);
        let var = floats(&r["pca"]["explained_variance"]);
        for solver in [Solver::Full, Solver::CovarianceEigh, Solver::Randomized] {
            let pca = Pca {
                n_components: Components::Count(3),
                whiten: false,
                solver,
                seed: 5,
            };
            let fit = pca.fit(&x).unwrap();
            assert_eq!(fit.solver, solver);
            for k in 0..3 {
                assert!(
                    (fit.explained_variance[k] - var[k]).abs() < 1e-9 * var[0],
                    "{solver:?} variance {k}"
                );
                for j in 0..x.ncols() {
                    let (a, b) = (fit.components[[k, j]], want[[k, j]]);
                    assert!(
                        (a - b).abs() < 1e-8,
                        "{solver:?} component {k}[{j}]: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn auto_follows_scikit_learns_policy() {
        let pca = |k: Components| Pca {
            n_components: k,
            whiten: false,
            solver: Solver::Auto,
            seed: 0,
        };
        assert_eq!(
            pca(Components::Count(5)).resolved_solver(2400, 64),
            Solver::CovarianceEigh
        );
        assert_eq!(
            pca(Components::Count(5)).resolved_solver(300, 100),
            Solver::Full
        );
        assert_eq!(
            pca(Components::Count(5)).resolved_solver(2000, 1500),
            Solver::Randomized
        );
        assert_eq!(
            pca(Components::Fraction(0.9)).resolved_solver(2000, 1500),
            Solver::Full
        );
        assert_eq!(
            pca(Components::Count(1300)).resolved_solver(2000, 1500),
            Solver::Full
        );
    }
}
