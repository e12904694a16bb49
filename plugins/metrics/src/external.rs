//! External metrics: a clustering scored against the true labels, as scikit-learn 1.9.1 scores
//! it (`labels_true` = the data's labels, `labels_pred` = the clustering). Every score reads the
//! class × cluster contingency table only, so each costs O(n log k + k1·k2); AMI adds the
//! expected mutual information (see [`expected_mutual_info`]).

use std::collections::BTreeMap;

use attrclust_core::data::contingency;

use crate::accurate_sum;

/// The contingency table reduced to what the scores read: its marginals and non-zero cells.
struct Table {
    n: u64,
    /// Class sizes, classes in ascending id order.
    rows: Vec<u64>,
    /// Cluster sizes, clusters in ascending id order (noise -1 is a cluster like any other).
    cols: Vec<u64>,
    /// Non-zero cells `(class, cluster, count)`.
    cells: Vec<(usize, usize, u64)>,
}

impl Table {
    fn new(labels: &[i64], pred: &[i64]) -> Result<Table, String> {
        if labels.len() != pred.len() {
            return Err(format!(
                "{} true labels but {} cluster labels",
                labels.len(),
                pred.len()
            ));
        }
        let (classes, clusters, counts) = contingency(labels, pred);
        let mut rows = vec![0u64; classes.len()];
        let mut cols = vec![0u64; clusters.len()];
        let mut cells = Vec::new();
        for (i, row) in counts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                if c > 0 {
                    let c = c as u64;
                    rows[i] += c;
                    cols[j] += c;
                    cells.push((i, j, c));
                }
            }
        }
        Ok(Table {
            n: labels.len() as u64,
            rows,
            cols,
            cells,
        })
    }

    /// Σ cells², Σ class sizes², Σ cluster sizes²: the pair counts behind ARI and FMI. i128 so
    /// that products of pair counts (≈ n⁴) stay exact, as Python's integers are in sklearn.
    fn sums_of_squares(&self) -> (i128, i128, i128) {
        let sq = |v: u64| (v as i128) * (v as i128);
        (
            self.cells.iter().map(|&(_, _, c)| sq(c)).sum(),
            self.rows.iter().map(|&a| sq(a)).sum(),
            self.cols.iter().map(|&b| sq(b)).sum(),
        )
    }
}

/// Entropy (nats) of a labeling given its cluster sizes, with sklearn's conventions: 1.0 for no
/// samples, 0.0 for a single cluster.
fn entropy(sizes: &[u64], n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if sizes.len() == 1 {
        return 0.0;
    }
    let total = n as f64;
    let log_total = total.ln();
    // log(p/n) as log p − log n, as sklearn does, for precision.
    -accurate_sum(
        sizes
            .iter()
            .map(|&p| (p as f64 / total) * ((p as f64).ln() - log_total)),
    )
}

/// Mutual information (nats) from the non-zero cells, term by term as sklearn's
/// `mutual_info_score`: terms below machine epsilon count as 0 and the sum is clipped at 0.
fn mutual_info_of(t: &Table) -> f64 {
    if t.rows.len() == 1 || t.cols.len() == 1 {
        return 0.0; // MI ≤ min(H(U), H(V)) = 0
    }
    let total = t.n as f64;
    let log_total = total.ln();
    let terms = t.cells.iter().map(|&(i, j, c)| {
        let c = c as f64;
        let share = c / total;
        let outer = (t.rows[i] * t.cols[j]) as f64;
        let log_outer = -outer.ln() + log_total + log_total;
        let term = share * (c.ln() - log_total) + share * log_outer;
        if term.abs() < f64::EPSILON { 0.0 } else { term }
    });
    accurate_sum(terms).max(0.0)
}

/// Mutual information (nats) between two labelings (scikit-learn `mutual_info_score`).
pub fn mutual_info(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    Ok(mutual_info_of(&Table::new(labels, pred)?))
}

/// ln(m!) for m = 0..=n, for the expected mutual information's hypergeometric terms.
pub struct LogFactorials(Vec<f64>);

/// ln(m!) = lnΓ(m + 1). Exact products below 32 (the product is exact to 18! and then rounds
/// once per factor); above, Stirling's series, whose truncation error at x ≥ 33 is < 1e-16, so
/// the result is as accurate as the f64 evaluation of its leading terms (like scipy's gammaln).
pub fn log_factorial(m: u64) -> f64 {
    if m < 32 {
        return (2..=m).map(|k| k as f64).product::<f64>().ln();
    }
    let x = (m + 1) as f64;
    let (x2, half_ln_2pi) = (x * x, 0.5 * (2.0 * std::f64::consts::PI).ln());
    // Bernoulli terms B2k / (2k(2k−1) x^(2k−1)), k = 1..4, in Horner form.
    let series = (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0) / x2) / x2) / x2) / x;
    (x - 0.5) * x.ln() - x + half_ln_2pi + series
}

impl LogFactorials {
    pub fn up_to(n: u64) -> LogFactorials {
        LogFactorials((0..=n).map(log_factorial).collect())
    }

    fn get(&self, m: u64) -> f64 {
        self.0[m as usize]
    }
}

/// Expected mutual information of two random labelings with the given cluster sizes (the
/// permutation model of Vinh, Epps & Bailey, as in sklearn's `expected_mutual_information`).
///
/// The term of a (class, cluster) pair depends only on their sizes (a, b), so pairs are grouped
/// by distinct sizes: at most O(√n) distinct values per side, which keeps AMI fast when both
/// labelings have many clusters. The sum over n_ij runs over the hypergeometric support
/// max(1, a + b − n) ..= min(a, b), in log space (factorials of up to n overflow f64).
/// `rows` and `cols` are the two labelings' cluster sizes; each must sum to `n`.
pub fn expected_mutual_info(rows: &[u64], cols: &[u64], n: u64) -> Result<f64, String> {
    let (sum_rows, sum_cols) = (rows.iter().sum::<u64>(), cols.iter().sum::<u64>());
    if sum_rows != n || sum_cols != n {
        return Err(format!(
            "cluster sizes sum to {sum_rows} and {sum_cols}, not to n = {n}"
        ));
    }
    if rows.len() == 1 || cols.len() == 1 {
        return Ok(0.0); // a labeling with zero entropy shares no information
    }
    let distinct = |sizes: &[u64]| {
        let mut counts = BTreeMap::new();
        for &s in sizes {
            *counts.entry(s).or_insert(0u64) += 1;
        }
        counts
    };
    let (by_a, by_b) = (distinct(rows), distinct(cols));
    let lf = LogFactorials::up_to(n);
    let total = n as f64;
    let log_total = total.ln();
    let log_n_fact = lf.get(n);
    let mut pairs = Vec::with_capacity(by_a.len() * by_b.len());
    for (&a, &count_a) in &by_a {
        let log_a = (a as f64).ln();
        for (&b, &count_b) in &by_b {
            let log_b = (b as f64).ln();
            let fixed = lf.get(a) + lf.get(b) + lf.get(n - a) + lf.get(n - b);
            let start = (a + b).saturating_sub(n).max(1);
            let terms = (start..=a.min(b)).map(|nij| {
                let term1 = nij as f64 / total;
                let term2 = (log_total + (nij as f64).ln()) - log_a - log_b;
                let gln = fixed
                    - (lf.get(nij) + log_n_fact)
                    - lf.get(a - nij)
                    - lf.get(b - nij)
                    - lf.get(n + nij - a - b); // ≥ 0 as nij ≥ a + b − n; added first to stay unsigned
                term1 * term2 * gln.exp()
            });
            pairs.push((count_a * count_b) as f64 * accurate_sum(terms));
        }
    }
    Ok(accurate_sum(pairs))
}

/// Inverse purity: Σ_classes max_cluster |class ∩ cluster| / n — how much of each class its
/// best cluster holds (purity with the roles swapped). Undefined for no samples.
pub fn inverse_purity(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    if labels.is_empty() {
        return Err("no samples".into());
    }
    let t = Table::new(labels, pred)?;
    let mut best = vec![0u64; t.rows.len()];
    for &(i, _, c) in &t.cells {
        best[i] = best[i].max(c);
    }
    Ok(best.iter().sum::<u64>() as f64 / t.n as f64)
}

/// Adjusted Rand index (scikit-learn `adjusted_rand_score`): 1.0 when the pair confusion has no
/// disagreement (identical partitions, a single sample, no samples).
pub fn adjusted_rand(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    let t = Table::new(labels, pred)?;
    let n = t.n as i128;
    let (cells, rows, cols) = t.sums_of_squares();
    // sklearn's pair confusion matrix over ordered pairs.
    let tp = cells - n;
    let fp = cols - cells;
    let fn_ = rows - cells;
    let tn = n * n - fp - fn_ - cells;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let denominator = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    if denominator == 0 {
        return Err("the adjusted Rand index divides by zero".into()); // unreachable: fn or fp > 0
    }
    Ok(2.0 * (tp * tn - fn_ * fp) as f64 / denominator as f64)
}

/// Adjusted mutual information (scikit-learn `adjusted_mutual_info_score`, arithmetic mean):
/// 1.0 when both labelings have one cluster (or no samples), 0.0 when exactly one does.
pub fn adjusted_mutual_info(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    let t = Table::new(labels, pred)?;
    let (k1, k2) = (t.rows.len(), t.cols.len());
    if k1 == k2 && k1 <= 1 {
        return Ok(1.0);
    }
    if k1 == 1 || k2 == 1 {
        return Ok(0.0);
    }
    let mi = mutual_info_of(&t);
    let emi = expected_mutual_info(&t.rows, &t.cols, t.n)?;
    let normalizer = (entropy(&t.rows, t.n) + entropy(&t.cols, t.n)) / 2.0;
    // sklearn keeps both differences at least ±eps (sign preserved) to avoid 0/0 on perfect
    // matches where EMI equals the maximum up to rounding.
    let away_from_zero = |v: f64| {
        if v < 0.0 {
            v.min(-f64::EPSILON)
        } else {
            v.max(f64::EPSILON)
        }
    };
    Ok(away_from_zero(mi - emi) / away_from_zero(normalizer - emi))
}

/// Normalized mutual information (scikit-learn `normalized_mutual_info_score`, arithmetic mean):
/// 1.0 when both labelings have one cluster (or no samples), 0.0 when MI is 0.
pub fn normalized_mutual_info(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    let t = Table::new(labels, pred)?;
    let (k1, k2) = (t.rows.len(), t.cols.len());
    if k1 == k2 && k1 <= 1 {
        return Ok(1.0);
    }
    let mi = mutual_info_of(&t);
    if mi == 0.0 {
        return Ok(0.0);
    }
    Ok(mi / ((entropy(&t.rows, t.n) + entropy(&t.cols, t.n)) / 2.0))
}

/// Homogeneity and completeness as sklearn's `homogeneity_completeness_v_measure`: MI / H(classes)
/// and MI / H(clusters), each 1.0 when its entropy is 0; both 1.0 for no samples.
fn homogeneity_completeness(t: &Table) -> (f64, f64) {
    if t.n == 0 {
        return (1.0, 1.0);
    }
    let mi = mutual_info_of(t);
    let (h_classes, h_clusters) = (entropy(&t.rows, t.n), entropy(&t.cols, t.n));
    let ratio = |h: f64| if h != 0.0 { mi / h } else { 1.0 };
    (ratio(h_classes), ratio(h_clusters))
}

/// Homogeneity (scikit-learn `homogeneity_score`): each cluster holds one class only.
pub fn homogeneity(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    Ok(homogeneity_completeness(&Table::new(labels, pred)?).0)
}

/// Completeness (scikit-learn `completeness_score`): each class lies in one cluster only.
pub fn completeness(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    Ok(homogeneity_completeness(&Table::new(labels, pred)?).1)
}

/// V-measure (scikit-learn `v_measure_score`): (1 + β)·h·c / (β·h + c), 0.0 when h + c = 0.
/// Undefined where sklearn divides by zero (β = 0 with completeness 0 and homogeneity > 0) or
/// rejects β (negative or not finite).
pub fn v_measure(labels: &[i64], pred: &[i64], beta: f64) -> Result<f64, String> {
    if !(beta >= 0.0 && beta.is_finite()) {
        return Err(format!("beta must be a finite number ≥ 0, found {beta}"));
    }
    let (h, c) = homogeneity_completeness(&Table::new(labels, pred)?);
    if h + c == 0.0 {
        return Ok(0.0);
    }
    let denominator = beta * h + c;
    if denominator == 0.0 {
        return Err(format!(
            "with beta = {beta} and completeness 0 the V-measure divides by zero"
        ));
    }
    Ok((1.0 + beta) * h * c / denominator)
}

/// Fowlkes–Mallows index (scikit-learn `fowlkes_mallows_score`): TP / √((TP + FP)(TP + FN)) over
/// pairs; 0.0 when no pair is together in both labelings (including n ≤ 1).
pub fn fowlkes_mallows(labels: &[i64], pred: &[i64]) -> Result<f64, String> {
    let t = Table::new(labels, pred)?;
    let n = t.n as i128;
    let (cells, rows, cols) = t.sums_of_squares();
    let (tk, pk, qk) = (cells - n, cols - n, rows - n);
    if tk == 0 {
        return Ok(0.0);
    }
    // tk > 0 implies pk ≥ tk and qk ≥ tk: no division by zero.
    let (tk, pk, qk) = (tk as f64, pk as f64, qk as f64);
    Ok((tk / pk).sqrt() * (tk / qk).sqrt())
}
