//! Every metric against scikit-learn 1.9.1 on `tests/fixtures/metrics_reference.json` (made by
//! `tests/fixtures/make_metrics_reference.py`): equal to 1e-9, and undefined exactly where
//! scikit-learn raises. Both the plain functions and the registered plugins are checked.

use std::collections::BTreeMap;

use attrclust_core::{Clustering, Context, Dataset, MetricValue, ParamValue, Params, Plugin};
use attrclust_metrics::external::{self, log_factorial};
use attrclust_metrics::internal;
use attrclust_testdata::{fixture, floats, ints, matrix};
use ndarray::Array2;

const TOL: f64 = 1e-9;

struct Case {
    name: String,
    truth: Vec<i64>,
    pred: Vec<i64>,
    x: Array2<f64>,
    /// Metric → scikit-learn's value, `None` where scikit-learn raises.
    values: BTreeMap<String, Option<f64>>,
}

impl Case {
    fn want(&self, metric: &str) -> Option<f64> {
        *self
            .values
            .get(metric)
            .unwrap_or_else(|| panic!("{}: no `{metric}` in the fixture", self.name))
    }
}

/// The fixture's cases, the β values of `v_measure_beta_*`, and (m, gammaln(m + 1)) pairs.
struct Reference {
    cases: Vec<Case>,
    betas: Vec<f64>,
    log_factorial: Vec<(u64, f64)>,
}

fn reference() -> Reference {
    let r = fixture("metrics_reference.json");
    assert_eq!(r["sklearn_version"], "1.9.1");
    let shared = matrix(&r["X"]);
    let cases = r["cases"]
        .as_object()
        .expect("cases")
        .iter()
        .map(|(name, c)| Case {
            name: name.clone(),
            truth: ints(&c["labels_true"]),
            pred: ints(&c["labels_pred"]),
            x: if c["x"] == "X" {
                shared.clone()
            } else {
                matrix(&c["x"])
            },
            values: c["values"]
                .as_object()
                .expect("values")
                .iter()
                .map(|(k, v)| {
                    assert!(v.is_f64() || v.is_null(), "{name} {k}: {v}");
                    (k.clone(), v.as_f64())
                })
                .collect(),
        })
        .collect();
    Reference {
        cases,
        betas: floats(&r["v_measure_betas"]),
        log_factorial: r["log_factorial"]
            .as_array()
            .expect("pairs")
            .iter()
            .map(|p| (p[0].as_u64().unwrap(), p[1].as_f64().unwrap()))
            .collect(),
    }
}

/// `got` equals sklearn's value, or is undefined where sklearn's is null.
fn check(case: &str, metric: &str, got: Result<f64, String>, want: Option<f64>) {
    match want {
        Some(want) => {
            let got = got.unwrap_or_else(|why| panic!("{case} {metric}: undefined ({why})"));
            assert!(got.is_finite(), "{case} {metric}: {got}");
            assert!(
                (got - want).abs() <= TOL,
                "{case} {metric}: {got} vs scikit-learn {want}"
            );
        }
        None => {
            let why = got.expect_err(&format!("{case} {metric} should be undefined"));
            assert!(!why.is_empty(), "{case} {metric}: empty reason");
        }
    }
}

type LabelScore = fn(&[i64], &[i64]) -> Result<f64, String>;

const EXTERNAL: &[(&str, LabelScore)] = &[
    ("inverse_purity", external::inverse_purity),
    ("ari", external::adjusted_rand),
    ("ami", external::adjusted_mutual_info),
    ("nmi", external::normalized_mutual_info),
    ("homogeneity", external::homogeneity),
    ("completeness", external::completeness),
    ("v_measure", |t, p| external::v_measure(t, p, 1.0)),
    ("fowlkes_mallows", external::fowlkes_mallows),
];

type FeatureScore = fn(ndarray::ArrayView2<f64>, &[i64]) -> Result<f64, String>;

const INTERNAL: &[(&str, FeatureScore)] = &[
    ("calinski_harabasz", internal::calinski_harabasz),
    ("davies_bouldin", internal::davies_bouldin),
];

#[test]
fn external_functions_match_scikit_learn() {
    let r = reference();
    assert!(r.cases.len() >= 15);
    for case in &r.cases {
        for (metric, score) in EXTERNAL {
            check(
                &case.name,
                metric,
                score(&case.truth, &case.pred),
                case.want(metric),
            );
        }
        for &beta in &r.betas {
            let key = format!("v_measure_beta_{beta:?}");
            let want = case.want(&key);
            assert!(want.is_some() || beta == 0.0, "{}: {key}", case.name);
            check(
                &case.name,
                &key,
                external::v_measure(&case.truth, &case.pred, beta),
                want,
            );
        }
    }
}

#[test]
fn internal_functions_match_scikit_learn() {
    for case in &reference().cases {
        for (metric, score) in INTERNAL {
            check(
                &case.name,
                metric,
                score(case.x.view(), &case.pred),
                case.want(metric),
            );
        }
    }
}

#[test]
fn mutual_info_is_symmetric_and_matches_nmi_parts() {
    // MI itself is not in the fixture; NMI, homogeneity and completeness are its ratios, and
    // swapping the labelings swaps homogeneity and completeness.
    for case in &reference().cases {
        let a = external::mutual_info(&case.truth, &case.pred).unwrap();
        let b = external::mutual_info(&case.pred, &case.truth).unwrap();
        assert!((a - b).abs() <= 1e-12, "{}: {a} vs {b}", case.name);
        check(
            &case.name,
            "homogeneity (swapped)",
            external::homogeneity(&case.pred, &case.truth),
            case.want("completeness"),
        );
    }
}

#[test]
fn log_factorial_matches_scipy_gammaln() {
    let r = reference();
    assert!(r.log_factorial.len() >= 10);
    for &(m, want) in &r.log_factorial {
        let got = log_factorial(m);
        assert!(
            (got - want).abs() <= 4.0 * f64::EPSILON * want.abs().max(1.0),
            "ln({m}!): {got} vs gammaln {want}"
        );
    }
}

#[test]
fn expected_mutual_info_rejects_sizes_that_do_not_sum_to_n() {
    assert!(external::expected_mutual_info(&[3, 4], &[7], 7).is_ok());
    assert!(external::expected_mutual_info(&[3, 4], &[2, 2], 7).is_err());
    assert!(external::expected_mutual_info(&[30, 4], &[20, 14], 7).is_err());
}

#[test]
fn length_mismatch_is_an_error_not_a_panic() {
    for (metric, score) in EXTERNAL {
        assert!(score(&[0, 1], &[0]).is_err(), "{metric}");
    }
    for (metric, score) in INTERNAL {
        assert!(
            score(Array2::zeros((3, 2)).view(), &[0, 1]).is_err(),
            "{metric}"
        );
    }
}

/// The registered plugin's resolved parameters: defaults, overridden by `set`.
fn params(plugin: &Plugin, set: &[(&str, ParamValue)]) -> Params {
    let mut values: BTreeMap<String, ParamValue> = plugin
        .params
        .iter()
        .filter_map(|p| p.default.value().map(|v| (p.name.to_string(), v)))
        .collect();
    for (k, v) in set {
        assert!(plugin.param(k).is_some(), "{} has no `{k}`", plugin.name);
        values.insert(k.to_string(), v.clone());
    }
    Params::new(values, ".")
}

fn dataset(x: Array2<f64>, labels: Vec<i64>, classes: BTreeMap<i64, String>) -> Dataset {
    let n = labels.len();
    Dataset {
        columns: (0..x.ncols()).map(|j| format!("c{j}")).collect(),
        x,
        labels,
        ids: (0..n).map(|i| i.to_string()).collect(),
        classes,
        info: Default::default(),
    }
}

fn run(
    name: &str,
    set: &[(&str, ParamValue)],
    c: &Clustering,
    data: &Dataset,
    ctx: &Context,
) -> MetricValue {
    let plugin = Plugin::op(name).unwrap_or_else(|| panic!("`{name}` is not registered"));
    let attrclust_core::Build::Metric { build, needs } = plugin.build else {
        panic!("`{name}` is not a metric");
    };
    assert_eq!(needs.features, INTERNAL.iter().any(|(m, _)| *m == name));
    assert_eq!(needs.labels, !needs.features, "{name}");
    assert_eq!(plugin.uses_groups, needs.labels, "{name}");
    assert!(!plugin.uses_seed, "{name}");
    build(&params(plugin, set))
        .unwrap()
        .compute(c, data, ctx)
        .unwrap()
}

fn check_value(case: &str, metric: &str, got: MetricValue, want: Option<f64>) {
    let as_result = match (got.value, got.undefined_reason) {
        (Some(v), None) => Ok(v),
        (None, Some(why)) => Err(why),
        other => panic!("{case} {metric}: inconsistent {other:?}"),
    };
    check(case, metric, as_result, want);
}

#[test]
fn registered_plugins_match_scikit_learn() {
    let r = reference();
    for case in &r.cases {
        let data = dataset(case.x.clone(), case.truth.clone(), BTreeMap::new());
        let c = Clustering::new(case.pred.clone());
        Context::detached("m", 0, |ctx| {
            for metric in EXTERNAL
                .iter()
                .map(|m| m.0)
                .chain(INTERNAL.iter().map(|m| m.0))
            {
                let got = run(metric, &[], &c, &data, ctx);
                check_value(&case.name, metric, got, case.want(metric));
            }
            for &beta in &r.betas {
                let got = run(
                    "v_measure",
                    &[("beta", ParamValue::Float(beta))],
                    &c,
                    &data,
                    ctx,
                );
                let key = format!("v_measure_beta_{beta:?}");
                check_value(&case.name, &key, got, case.want(&key));
            }
        });
    }
}

#[test]
fn group_level_scores_the_families() {
    // Split each class of a fixture case in two classes of one family: scored by family, every
    // external metric must give sklearn's value for the original labels.
    let r = reference();
    let case = r
        .cases
        .iter()
        .find(|c| c.name == "structured_vs_kmeans6_with_noise")
        .unwrap();
    let labels: Vec<i64> = (case.truth.iter().enumerate())
        .map(|(i, &t)| 2 * t + (i % 2) as i64)
        .collect();
    let classes: BTreeMap<i64, String> = labels.iter().map(|&l| (l, format!("c{l}"))).collect();
    let groups: BTreeMap<String, Vec<String>> = {
        let mut truths = case.truth.clone();
        truths.sort_unstable();
        truths.dedup();
        truths
            .iter()
            .map(|t| {
                (
                    format!("g{t}"),
                    vec![format!("c{}", 2 * t), format!("c{}", 2 * t + 1)],
                )
            })
            .collect()
    };
    let data = dataset(case.x.clone(), labels, classes);
    let c = Clustering::new(case.pred.clone());
    let ctx = Context::new("m", 0, &groups);
    let group = ParamValue::Str("group".into());
    for (metric, _) in EXTERNAL {
        let got = run(metric, &[("level", group.clone())], &c, &data, &ctx);
        check_value(&case.name, metric, got, case.want(metric));
        // By class (twice as many classes) the partition differs, and so does the score.
        let by_class = run(metric, &[], &c, &data, &ctx).value.unwrap();
        let want = case.want(metric).unwrap();
        assert!((by_class - want).abs() > TOL, "{metric}: level ignored");
    }
}

#[test]
fn davies_bouldin_is_identical_for_any_thread_count() {
    let r = reference();
    let defined = r
        .cases
        .iter()
        .filter(|c| c.want("davies_bouldin").is_some());
    // n_minus_1_clusters has 119 clusters: two chunks of centroid rows.
    for case in defined {
        let with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| internal::davies_bouldin(case.x.view(), &case.pred).unwrap())
        };
        assert_eq!(with(1).to_bits(), with(3).to_bits(), "{}", case.name);
    }
}
