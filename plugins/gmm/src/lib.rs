//! `gmm`: Gaussian mixture fitted by expectation–maximisation, with scikit-learn's
//! `GaussianMixture` semantics — the same parameters and defaults, initial responsibilities from
//! one k-means run (or k-means++ seeds, or random), the mean log-likelihood as the lower bound
//! (computed in the E-step, before the M-step, as scikit-learn does), convergence when it changes
//! by less than `tol`, the best of `n_init` starts by lower bound, a final E-step for the labels,
//! and scikit-learn's BIC and AIC.
//!
//! Covariances are kept as Cholesky factors of the precision matrices (nalgebra's Cholesky), so
//! the log-density needs one triangular product per sample and component and no inverse.
//! Responsibilities stay in log space (log-sum-exp), so far-apart components do not underflow.

use attrclust_core::parallel::{CHUNK_ROWS, map_chunks};
use attrclust_core::params::Default as D;
use attrclust_core::rng::Rng;
use attrclust_core::{
    Build, Clusterer, Clustering, Context, Dataset, Error, Info, ParamSpec, ParamType as T, Params,
    Plugin, Result,
};
use ndarray::{Array2, ArrayView2};

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "n_components",
        T::Int,
        D::Int(1),
        "Number of mixture components.",
    )
    .min(1.0),
    ParamSpec::new(
        "covariance_type",
        T::Choice(&["full", "diag"]),
        D::Str("full"),
        "`full`: each component has its own general covariance matrix; `diag`: its own diagonal one.",
    ),
    ParamSpec::new(
        "tol",
        T::Float,
        D::Float(1e-3),
        "Convergence threshold on the change of the mean log-likelihood (lower bound).",
    )
    .min(0.0),
    ParamSpec::new(
        "reg_covar",
        T::Float,
        D::Float(1e-6),
        "Added to the diagonal of every covariance so that it stays positive definite.",
    )
    .min(0.0),
    ParamSpec::new(
        "max_iter",
        T::Int,
        D::Int(100),
        "Maximum EM iterations per start.",
    )
    .min(1.0),
    ParamSpec::new(
        "n_init",
        T::Int,
        D::Int(1),
        "Starts; the highest lower bound wins.",
    )
    .min(1.0),
    ParamSpec::new(
        "init_params",
        T::Choice(&["kmeans", "k-means++", "random"]),
        D::Str("kmeans"),
        "Initial responsibilities: one k-means run, k-means++ seeds (one sample per component), or random.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "gmm",
        version: "1",
        summary: "Gaussian mixture by EM (full or diagonal covariances; scikit-learn's GaussianMixture semantics, BIC/AIC)",
        params: PARAMS,
        build: Build::Clusterer(|p| Ok(Box::new(Gmm::from_params(p)?))),
        uses_seed: true,
        uses_groups: false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CovarianceType {
    Full,
    Diag,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitParams {
    KMeans,
    KMeansPlusPlus,
    Random,
}

#[derive(Clone, Debug)]
pub struct Gmm {
    pub n_components: usize,
    pub covariance_type: CovarianceType,
    pub tol: f64,
    pub reg_covar: f64,
    pub max_iter: usize,
    pub n_init: usize,
    pub init_params: InitParams,
}

/// Covariances (or their precision Cholesky factors) of all components.
#[derive(Clone, Debug, PartialEq)]
pub enum Covariances {
    /// One d × d matrix per component.
    Full(Vec<Array2<f64>>),
    /// k × d: the diagonal of each component's matrix.
    Diag(Array2<f64>),
}

/// A fitted mixture and what scikit-learn reports about it.
#[derive(Clone, Debug)]
pub struct GmmFit {
    /// Argmax of the responsibilities of the final E-step.
    pub labels: Vec<usize>,
    /// Each sample's largest responsibility (`predict_proba(X).max(axis=1)`).
    pub max_responsibility: Vec<f64>,
    pub weights: Vec<f64>,
    /// k × d.
    pub means: Array2<f64>,
    pub covariances: Covariances,
    /// The best start's last lower bound (`lower_bound_`).
    pub lower_bound: f64,
    /// Mean log-likelihood of the data under the final parameters (`score(X)`).
    pub score: f64,
    pub bic: f64,
    pub aic: f64,
    pub n_iter: usize,
    pub converged: bool,
}

/// The parameters EM iterates on.
struct Model {
    weights: Vec<f64>,
    means: Array2<f64>,
    covariances: Covariances,
    /// Cholesky factors of the precisions: upper triangular (full) or 1/σ (diag).
    prec_chol: Covariances,
    /// Σ ln diag(prec_chol) per component: the log-determinant term of the density.
    log_det: Vec<f64>,
}

impl Gmm {
    fn from_params(p: &Params) -> Result<Self> {
        Ok(Gmm {
            n_components: p.usize("n_components")?,
            covariance_type: match p.str("covariance_type")? {
                "diag" => CovarianceType::Diag,
                _ => CovarianceType::Full,
            },
            tol: p.float("tol")?,
            reg_covar: p.float("reg_covar")?,
            max_iter: p.usize("max_iter")?.max(1),
            n_init: p.usize("n_init")?.max(1),
            init_params: match p.str("init_params")? {
                "k-means++" => InitParams::KMeansPlusPlus,
                "random" => InitParams::Random,
                _ => InitParams::KMeans,
            },
        })
    }

    /// Fits `n_init` starts from independent streams of `seed`; the first highest lower bound
    /// wins.
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        seed: u64,
        progress: &(dyn Fn(f64) + Sync),
    ) -> Result<GmmFit> {
        let (n, d) = x.dim();
        let k = self.n_components;
        if k == 0 {
            return Err(
                Error::input("n_components must be ≥ 1").hint("set n_components = 1 or more")
            );
        }
        if k > n {
            return Err(
                Error::input(format!("n_components = {k} exceeds the {n} samples"))
                    .hint(format!("use n_components ≤ {n}, or select more data")),
            );
        }
        if d == 0 {
            return Err(Error::input("gmm needs at least one feature column")
                .hint("check the columns selected by the previous steps"));
        }
        if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(format!(
                "the input holds a non-finite value (row {}, column {})",
                pos / d,
                pos % d
            ))
            .hint("use nan_policy = \"drop_rows\" in [data], or clean the data"));
        }
        let root = Rng::new(seed);
        let done = std::sync::atomic::AtomicUsize::new(0);
        // Starts run in parallel; each has its own stream, and results come back in start order.
        let runs = map_chunks(self.n_init, 1, |run, _| {
            let mut rng = root.fork(run as u64);
            let result = self.fit_one(x, &mut rng);
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(finished as f64 / self.n_init as f64);
            result
        });
        let mut best: Option<(Model, f64, usize, bool)> = None;
        for run in runs {
            let run = run?;
            // Strictly greater, as scikit-learn: ties keep the earlier start.
            if best.as_ref().is_none_or(|b| run.1 > b.1) {
                best = Some(run);
            }
        }
        let (model, lower_bound, n_iter, converged) = best.expect("n_init ≥ 1");
        // Final E-step, so that the labels belong to the returned parameters.
        let (score, log_resp) = e_step(x, &model)?;
        let mut labels = Vec::with_capacity(n);
        let mut max_responsibility = Vec::with_capacity(n);
        for row in log_resp.rows() {
            // First maximum, as numpy's argmax.
            let (arg, max) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (j, &v)| if v > b.1 { (j, v) } else { b },
                );
            labels.push(arg);
            max_responsibility.push(max.exp().min(1.0));
        }
        let n_parameters = self.n_parameters(d) as f64;
        let nf = n as f64;
        let fit = GmmFit {
            labels,
            max_responsibility,
            weights: model.weights,
            means: model.means,
            covariances: model.covariances,
            lower_bound,
            score,
            bic: -2.0 * score * nf + n_parameters * nf.ln(),
            aic: -2.0 * score * nf + 2.0 * n_parameters,
            n_iter,
            converged,
        };
        if !(fit.bic.is_finite() && fit.lower_bound.is_finite()) {
            return Err(not_finite());
        }
        Ok(fit)
    }

    /// Free parameters of the model, as scikit-learn's `_n_parameters`.
    pub fn n_parameters(&self, d: usize) -> usize {
        let k = self.n_components;
        let cov = match self.covariance_type {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
        };
        cov + k * d + k - 1
    }

    /// One start: initial responsibilities, then EM until the lower bound settles.
    fn fit_one(&self, x: ArrayView2<f64>, rng: &mut Rng) -> Result<(Model, f64, usize, bool)> {
        let n = x.nrows();
        let resp = self.initial_responsibilities(x, rng)?;
        let (nk, means, covariances) =
            estimate_parameters(x, &resp, self.reg_covar, self.covariance_type);
        // At initialisation scikit-learn divides by n, in the M-step by Σ nk.
        let weights = nk.iter().map(|w| w / n as f64).collect();
        let mut model = Model::new(weights, means, covariances)?;
        let mut lower_bound = f64::NEG_INFINITY;
        let mut converged = false;
        let mut n_iter = 0;
        for it in 1..=self.max_iter {
            n_iter = it;
            let previous = lower_bound;
            let (mean_log_prob, log_resp) = e_step(x, &model)?;
            let resp = log_resp.mapv(f64::exp);
            let (nk, means, covariances) =
                estimate_parameters(x, &resp, self.reg_covar, self.covariance_type);
            let total: f64 = nk.iter().sum();
            let weights = nk.iter().map(|w| w / total).collect();
            model = Model::new(weights, means, covariances)?;
            lower_bound = mean_log_prob;
            if (lower_bound - previous).abs() < self.tol {
                converged = true;
                break;
            }
        }
        Ok((model, lower_bound, n_iter, converged))
    }

    fn initial_responsibilities(&self, x: ArrayView2<f64>, rng: &mut Rng) -> Result<Array2<f64>> {
        let n = x.nrows();
        let k = self.n_components;
        let mut resp = Array2::<f64>::zeros((n, k));
        match self.init_params {
            InitParams::KMeans => {
                // scikit-learn: KMeans(n_clusters=k, n_init=1, random_state) with its defaults.
                let km = attrclust_kmeans::KMeans {
                    n_clusters: k,
                    init: attrclust_kmeans::Init::KMeansPlusPlus,
                    n_init: 1,
                    max_iter: 300,
                    tol: 1e-4,
                };
                let fit = km.fit(x, rng.next_u64(), &|_| {})?;
                for (i, &l) in fit.labels.iter().enumerate() {
                    resp[[i, l]] = 1.0;
                }
            }
            InitParams::KMeansPlusPlus => {
                let centres = attrclust_kmeans::kmeans_plus_plus(x, k, rng);
                for (c, centre) in centres.rows().into_iter().enumerate() {
                    // The seeds are samples; an equal row carries the same values.
                    let i = (0..n).find(|&i| x.row(i) == centre).unwrap_or(0);
                    resp[[i, c]] = 1.0;
                }
            }
            InitParams::Random => {
                for mut row in resp.rows_mut() {
                    row.mapv_inplace(|_| rng.uniform());
                    let s = row.sum();
                    if s > 0.0 {
                        row /= s;
                    } else {
                        row.fill(1.0 / k as f64);
                    }
                }
            }
        }
        Ok(resp)
    }
}

impl Model {
    fn new(weights: Vec<f64>, means: Array2<f64>, covariances: Covariances) -> Result<Model> {
        let prec_chol = precision_cholesky(&covariances)?;
        let log_det = match &prec_chol {
            Covariances::Full(p) => p
                .iter()
                .map(|m| m.diag().iter().map(|v| v.ln()).sum())
                .collect(),
            Covariances::Diag(p) => p
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|v| v.ln()).sum())
                .collect(),
        };
        Ok(Model {
            weights,
            means,
            covariances,
            prec_chol,
            log_det,
        })
    }
}

fn singular(component: usize) -> Error {
    Error::input(format!(
        "component {component} has a covariance that is not positive definite even after adding \
         reg_covar: it has collapsed onto too few (or identical) samples"
    ))
    .hint("raise reg_covar (e.g. 1e-4), use fewer components, or standardize the data")
}

fn not_finite() -> Error {
    Error::input("the mixture's log-likelihood over- or underflowed")
        .hint("standardize the data, raise reg_covar, or use fewer components")
}

/// Cholesky factors of the precision matrices: for Σ = L Lᵀ, the upper triangular L⁻ᵀ, so that
/// ‖(x − μ) L⁻ᵀ‖² is the squared Mahalanobis distance.
fn precision_cholesky(covariances: &Covariances) -> Result<Covariances> {
    match covariances {
        Covariances::Full(covs) => {
            let mut out = Vec::with_capacity(covs.len());
            for (c, cov) in covs.iter().enumerate() {
                let d = cov.nrows();
                let m = nalgebra::DMatrix::from_fn(d, d, |i, j| cov[[i, j]]);
                let chol = nalgebra::linalg::Cholesky::new(m).ok_or_else(|| singular(c))?;
                let l_inv = chol
                    .l()
                    .solve_lower_triangular(&nalgebra::DMatrix::identity(d, d))
                    .ok_or_else(|| singular(c))?;
                let p = Array2::from_shape_fn((d, d), |(i, j)| l_inv[(j, i)]);
                if p.iter().any(|v| !v.is_finite()) || p.diag().iter().any(|&v| v <= 0.0) {
                    return Err(singular(c));
                }
                out.push(p);
            }
            Ok(Covariances::Full(out))
        }
        Covariances::Diag(vars) => {
            if let Some(pos) = vars.iter().position(|&v| v.is_nan() || v <= 0.0) {
                return Err(singular(pos / vars.ncols()));
            }
            let p = vars.mapv(|v| 1.0 / v.sqrt());
            if let Some(pos) = p.iter().position(|v| !v.is_finite()) {
                return Err(singular(pos / vars.ncols()));
            }
            Ok(Covariances::Diag(p))
        }
    }
}

/// Mean of the per-sample log-likelihoods, and the log-responsibilities (n × k).
fn e_step(x: ArrayView2<f64>, model: &Model) -> Result<(f64, Array2<f64>)> {
    let (n, d) = x.dim();
    let k = model.weights.len();
    let constant = d as f64 * (2.0 * std::f64::consts::PI).ln();
    let log_weights: Vec<f64> = model.weights.iter().map(|w| w.ln()).collect();
    let parts = map_chunks(n, CHUNK_ROWS, |a, b| {
        let mut log_resp = Array2::<f64>::zeros((b - a, k));
        let mut norms = Vec::with_capacity(b - a);
        let mut diff = vec![0.0; d];
        let mut y = vec![0.0; d];
        for i in a..b {
            let row = x.row(i);
            let mut lr = log_resp.row_mut(i - a);
            for c in 0..k {
                let mu = model.means.row(c);
                for j in 0..d {
                    diff[j] = row[j] - mu[j];
                }
                let q: f64 = match &model.prec_chol {
                    Covariances::Full(p) => {
                        let p = &p[c];
                        y.fill(0.0);
                        // y = diff · P with P upper triangular: row i of P touches y[i..].
                        for r in 0..d {
                            let dr = diff[r];
                            let pr = p.row(r);
                            for j in r..d {
                                y[j] += dr * pr[j];
                            }
                        }
                        y.iter().map(|v| v * v).sum()
                    }
                    Covariances::Diag(p) => {
                        let p = p.row(c);
                        (0..d).map(|j| (diff[j] * p[j]) * (diff[j] * p[j])).sum()
                    }
                };
                lr[c] = -0.5 * (constant + q) + model.log_det[c] + log_weights[c];
            }
            let max = lr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let norm = if max.is_finite() {
                max + lr.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
            } else {
                max
            };
            lr.mapv_inplace(|v| v - norm);
            norms.push(norm);
        }
        (log_resp, norms)
    });
    let mut log_resp = Array2::<f64>::zeros((n, k));
    let mut total = 0.0;
    let mut start = 0;
    for (block, norms) in parts {
        let rows = block.nrows();
        log_resp
            .slice_mut(ndarray::s![start..start + rows, ..])
            .assign(&block);
        start += rows;
        for v in norms {
            total += v;
        }
    }
    let mean = total / n as f64;
    if !mean.is_finite() || log_resp.iter().any(|v| v.is_nan()) {
        return Err(not_finite());
    }
    Ok((mean, log_resp))
}

/// Component sizes (nk, with scikit-learn's 10·ε guard against empty components), means and
/// covariances (+ reg_covar on the diagonal) from responsibilities.
fn estimate_parameters(
    x: ArrayView2<f64>,
    resp: &Array2<f64>,
    reg_covar: f64,
    covariance_type: CovarianceType,
) -> (Vec<f64>, Array2<f64>, Covariances) {
    let (n, d) = x.dim();
    let k = resp.ncols();
    // Few large chunks (a function of n only): each holds a k × d × d partial sum.
    let chunk = CHUNK_ROWS.max(n.div_ceil(32));
    let partials = map_chunks(n, chunk, |a, b| {
        let mut nk = vec![0.0; k];
        let mut sums = Array2::<f64>::zeros((k, d));
        for i in a..b {
            let row = x.row(i);
            for c in 0..k {
                let r = resp[[i, c]];
                nk[c] += r;
                let mut s = sums.row_mut(c);
                for j in 0..d {
                    s[j] += r * row[j];
                }
            }
        }
        (nk, sums)
    });
    let mut nk = vec![0.0; k];
    let mut means = Array2::<f64>::zeros((k, d));
    for (pn, ps) in partials {
        for c in 0..k {
            nk[c] += pn[c];
        }
        means += &ps;
    }
    for c in 0..k {
        nk[c] += 10.0 * f64::EPSILON;
        let mut m = means.row_mut(c);
        m /= nk[c];
    }
    let covariances = match covariance_type {
        CovarianceType::Full => {
            let partials = map_chunks(n, chunk, |a, b| {
                let mut covs = vec![Array2::<f64>::zeros((d, d)); k];
                let mut diff = vec![0.0; d];
                for i in a..b {
                    let row = x.row(i);
                    for (c, cov) in covs.iter_mut().enumerate() {
                        let r = resp[[i, c]];
                        if r == 0.0 {
                            continue;
                        }
                        let mu = means.row(c);
                        for j in 0..d {
                            diff[j] = row[j] - mu[j];
                        }
                        // Upper triangle only; mirrored below.
                        for p in 0..d {
                            let w = r * diff[p];
                            let mut out = cov.row_mut(p);
                            for q in p..d {
                                out[q] += w * diff[q];
                            }
                        }
                    }
                }
                covs
            });
            let mut covs = vec![Array2::<f64>::zeros((d, d)); k];
            for part in partials {
                for (t, p) in covs.iter_mut().zip(part) {
                    *t += &p;
                }
            }
            for (c, cov) in covs.iter_mut().enumerate() {
                for p in 0..d {
                    for q in p..d {
                        let v = cov[[p, q]] / nk[c];
                        cov[[p, q]] = v;
                        cov[[q, p]] = v;
                    }
                    cov[[p, p]] += reg_covar;
                }
            }
            Covariances::Full(covs)
        }
        CovarianceType::Diag => {
            // Σ r (x − μ)², the centred form of scikit-learn's E[x²] − μ² (same value, no
            // cancellation).
            let partials = map_chunks(n, chunk, |a, b| {
                let mut vars = Array2::<f64>::zeros((k, d));
                for i in a..b {
                    let row = x.row(i);
                    for c in 0..k {
                        let r = resp[[i, c]];
                        let mu = means.row(c);
                        let mut v = vars.row_mut(c);
                        for j in 0..d {
                            let t = row[j] - mu[j];
                            v[j] += r * t * t;
                        }
                    }
                }
                vars
            });
            let mut vars = Array2::<f64>::zeros((k, d));
            for p in partials {
                vars += &p;
            }
            for c in 0..k {
                let mut v = vars.row_mut(c);
                v.mapv_inplace(|s| s / nk[c] + reg_covar);
            }
            Covariances::Diag(vars)
        }
    };
    (nk, means, covariances)
}

impl Clusterer for Gmm {
    fn fit(&self, input: &Dataset, ctx: &Context) -> Result<Clustering> {
        let fit = Gmm::fit(self, input.x.view(), ctx.seed, ctx.progress)?;
        let mut c = Clustering::new(fit.labels.iter().map(|&l| l as i64).collect());
        c.info.insert("bic".into(), Info::Float(fit.bic));
        c.info.insert("aic".into(), Info::Float(fit.aic));
        c.info
            .insert("lower_bound".into(), Info::Float(fit.lower_bound));
        c.info.insert("n_iter".into(), Info::Int(fit.n_iter as i64));
        c.info
            .insert("converged".into(), Info::Int(i64::from(fit.converged)));
        c.info
            .insert("probabilities".into(), Info::Floats(fit.max_responsibility));
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
