use super::*;
use attrclust_testdata::{fixture, floats, ints, matrix};
use std::collections::BTreeMap;

fn gmm(k: usize, cov: CovarianceType, init: InitParams) -> Gmm {
    Gmm {
        n_components: k,
        covariance_type: cov,
        tol: 1e-3,
        reg_covar: 1e-6,
        max_iter: 100,
        n_init: 1,
        init_params: init,
    }
}

/// Three elongated blobs, more samples than one chunk, with some overlap between two of them.
fn blobs(n: usize) -> Array2<f64> {
    let mut rng = Rng::new(5);
    let centres = [[0.0, 0.0, 0.0], [4.0, 1.0, 0.0], [-6.0, 6.0, 2.0]];
    Array2::from_shape_fn((n, 3), |(i, j)| {
        let c = i % 3;
        centres[c][j] + (1.0 + j as f64) * 0.8 * rng.normal()
    })
}

fn same_partition(a: &[usize], b: &[i64]) {
    assert_eq!(a.len(), b.len());
    let mut ours_to_theirs = BTreeMap::new();
    let mut theirs_to_ours = BTreeMap::new();
    for (&o, &t) in a.iter().zip(b) {
        assert_eq!(
            *ours_to_theirs.entry(o).or_insert(t),
            t,
            "partitions differ"
        );
        assert_eq!(
            *theirs_to_ours.entry(t).or_insert(o),
            o,
            "partitions differ"
        );
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn matches_scikit_learn_on_separated_blobs() {
    let r = fixture("gmm_reference.json");
    let mut worst = [0.0f64; 5];
    let mut n_checked = 0;
    for case in r["cases"].as_array().unwrap() {
        let x = matrix(&r["data"][case["data"].as_str().unwrap()]);
        let k = case["n_components"].as_u64().unwrap() as usize;
        let cov = match case["covariance_type"].as_str().unwrap() {
            "diag" => CovarianceType::Diag,
            _ => CovarianceType::Full,
        };
        let labels = ints(&case["labels"]);
        let want_means = matrix(&case["means"]);
        let want_weights = floats(&case["weights"]);
        let want_proba = floats(&case["max_proba"]);
        for init in [InitParams::KMeans, InitParams::KMeansPlusPlus] {
            for seed in [0, 7, 42] {
                let what = format!("{} {:?} {init:?} seed {seed}", case["data"], cov);
                let fit = gmm(k, cov, init).fit(x.view(), seed, &|_| {}).unwrap();
                same_partition(&fit.labels, &labels);
                let e = [
                    rel(fit.bic, case["bic"].as_f64().unwrap()),
                    rel(fit.aic, case["aic"].as_f64().unwrap()),
                    rel(fit.lower_bound, case["lower_bound"].as_f64().unwrap()),
                    rel(fit.score, case["score"].as_f64().unwrap()),
                ];
                // Our component c holds the samples of their component labels[i] for fit.labels[i] = c.
                let mut theirs_of = vec![usize::MAX; k];
                for (&o, &t) in fit.labels.iter().zip(&labels) {
                    theirs_of[o] = t as usize;
                }
                let mut mean_err = 0.0f64;
                for c in 0..k {
                    let t = theirs_of[c];
                    for j in 0..x.ncols() {
                        mean_err = mean_err.max((fit.means[[c, j]] - want_means[[t, j]]).abs());
                    }
                    assert!((fit.weights[c] - want_weights[t]).abs() < 1e-9, "{what}");
                }
                for (p, q) in fit.max_responsibility.iter().zip(&want_proba) {
                    assert!((p - q).abs() < 1e-9, "{what}: probability {p} vs {q}");
                }
                for (w, v) in worst.iter_mut().zip(e.iter().chain([&mean_err])) {
                    *w = w.max(*v);
                }
                assert!(e.iter().all(|&v| v < 1e-6), "{what}: {e:?}");
                assert!(mean_err < 1e-6, "{what}: means off by {mean_err}");
                // k-means++ seeds need one more iteration (the first one finds the partition).
                let extra = u64::from(init == InitParams::KMeansPlusPlus);
                assert_eq!(
                    fit.n_iter as u64,
                    case["n_iter"].as_u64().unwrap() + extra,
                    "{what}"
                );
                assert_eq!(
                    fit.converged,
                    case["converged"].as_bool().unwrap(),
                    "{what}"
                );
                n_checked += 1;
            }
        }
    }
    assert_eq!(n_checked, 24);
    eprintln!(
        "worst relative error vs scikit-learn: bic {:.1e}, aic {:.1e}, lower bound {:.1e}, score {:.1e}; means (absolute) {:.1e}",
        worst[0], worst[1], worst[2], worst[3], worst[4]
    );
}

#[test]
fn same_bits_for_any_thread_count() {
    let x = blobs(900);
    for cov in [CovarianceType::Full, CovarianceType::Diag] {
        for init in [
            InitParams::KMeans,
            InitParams::KMeansPlusPlus,
            InitParams::Random,
        ] {
            let mut g = gmm(3, cov, init);
            g.n_init = 3;
            g.tol = 1e-8;
            let run = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| g.fit(x.view(), 11, &|_| {}).unwrap())
            };
            let (a, b) = (run(1), run(2));
            assert_eq!(a.labels, b.labels);
            assert_eq!(a.bic.to_bits(), b.bic.to_bits());
            assert_eq!(a.lower_bound.to_bits(), b.lower_bound.to_bits());
            assert_eq!(a.n_iter, b.n_iter);
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.max_responsibility), bits(&b.max_responsibility));
            assert_eq!(
                bits(a.means.as_slice().unwrap()),
                bits(b.means.as_slice().unwrap())
            );
            // And the same seed gives the same result again; another seed is a different start.
            let again = g.fit(x.view(), 11, &|_| {}).unwrap();
            assert_eq!(again.bic.to_bits(), a.bic.to_bits());
        }
    }
}

#[test]
fn overlapping_data_gives_finite_consistent_results() {
    let x = blobs(600);
    for cov in [CovarianceType::Full, CovarianceType::Diag] {
        for init in [
            InitParams::KMeans,
            InitParams::KMeansPlusPlus,
            InitParams::Random,
        ] {
            let fit = gmm(3, cov, init).fit(x.view(), 3, &|_| {}).unwrap();
            assert!(fit.bic.is_finite() && fit.aic.is_finite() && fit.lower_bound.is_finite());
            assert!((fit.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(
                fit.max_responsibility
                    .iter()
                    .all(|&p| (1.0 / 3.0 - 1e-12..=1.0).contains(&p))
            );
            // BIC − AIC = p (ln n − 2) by definition.
            let p = gmm(3, cov, init).n_parameters(3) as f64;
            assert!((fit.bic - fit.aic - p * ((600.0f64).ln() - 2.0)).abs() < 1e-8);
        }
    }
    // scikit-learn's parameter counts: full 3·(3·4/2) + 9 + 2, diag 9 + 9 + 2.
    assert_eq!(
        gmm(3, CovarianceType::Full, InitParams::KMeans).n_parameters(3),
        29
    );
    assert_eq!(
        gmm(3, CovarianceType::Diag, InitParams::KMeans).n_parameters(3),
        20
    );
}

#[test]
fn stops_at_max_iter_without_converging() {
    let x = blobs(300);
    let mut g = gmm(3, CovarianceType::Full, InitParams::Random);
    g.max_iter = 1;
    let fit = g.fit(x.view(), 0, &|_| {}).unwrap();
    assert_eq!(fit.n_iter, 1);
    assert!(!fit.converged);
}

#[test]
fn more_components_than_samples_is_an_input_error() {
    let x = blobs(5);
    let err = gmm(6, CovarianceType::Full, InitParams::KMeans)
        .fit(x.view(), 0, &|_| {})
        .unwrap_err();
    assert_eq!(err.kind, attrclust_core::ErrorKind::Input);
    assert!(err.message.contains("exceeds the 5 samples"), "{err}");
    assert!(err.hint.is_some());
}

#[test]
fn singular_covariance_without_regularisation_is_an_input_error() {
    // The third channel is constant: with reg_covar = 0 no covariance is positive definite.
    let mut x = blobs(60);
    x.column_mut(2).fill(1.5);
    for cov in [CovarianceType::Full, CovarianceType::Diag] {
        let mut g = gmm(2, cov, InitParams::KMeans);
        g.reg_covar = 0.0;
        let err = g.fit(x.view(), 0, &|_| {}).unwrap_err();
        assert_eq!(err.kind, attrclust_core::ErrorKind::Input);
        assert!(err.hint.as_deref().unwrap().contains("reg_covar"), "{err}");
        // The default regularisation makes the same data fit.
        g.reg_covar = 1e-6;
        let fit = g.fit(x.view(), 0, &|_| {}).unwrap();
        assert!(fit.bic.is_finite());
    }
}

#[test]
fn duplicate_points_and_non_finite_input() {
    // Two distinct points, three components: collapsed components, but reg_covar keeps it finite.
    let x = Array2::from_shape_fn((20, 2), |(i, _)| if i < 10 { 0.0 } else { 1.0 });
    for init in [
        InitParams::KMeans,
        InitParams::KMeansPlusPlus,
        InitParams::Random,
    ] {
        let fit = gmm(3, CovarianceType::Full, init)
            .fit(x.view(), 1, &|_| {})
            .unwrap();
        assert!(fit.bic.is_finite() && fit.max_responsibility.iter().all(|p| p.is_finite()));
    }
    let mut y = blobs(10);
    y[[4, 1]] = f64::NAN;
    let err = gmm(2, CovarianceType::Full, InitParams::KMeans)
        .fit(y.view(), 0, &|_| {})
        .unwrap_err();
    assert!(err.message.contains("row 4, column 1"), "{err}");
}

#[test]
fn registered_plugin_builds_from_defaults_and_reports_info() {
    let plugin = Plugin::op("gmm").expect("registered");
    assert!(plugin.uses_seed);
    let mut values: BTreeMap<String, attrclust_core::ParamValue> = plugin
        .params
        .iter()
        .filter_map(|p| Some((p.name.to_string(), p.default.value()?)))
        .collect();
    values.insert("n_components".into(), attrclust_core::ParamValue::Int(3));
    let Build::Clusterer(build) = plugin.build else {
        panic!("a clusterer")
    };
    let clusterer = build(&Params::new(values, ".")).unwrap();
    let x = blobs(90);
    let data = Dataset {
        labels: vec![0; 90],
        ids: (0..90).map(|i| i.to_string()).collect(),
        classes: Default::default(),
        columns: vec!["a".into(), "b".into(), "c".into()],
        info: BTreeMap::new(),
        x,
    };
    let c = Context::detached("gmm", 4, |ctx| clusterer.fit(&data, ctx)).unwrap();
    assert_eq!(c.assignments.len(), 90);
    for key in [
        "bic",
        "aic",
        "lower_bound",
        "n_iter",
        "converged",
        "probabilities",
    ] {
        assert!(c.info.contains_key(key), "{key}");
    }
    assert!(matches!(c.info["probabilities"], Info::Floats(ref p) if p.len() == 90));
}
