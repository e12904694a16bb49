//! Plugin-level tests: agreement with umap-learn (a, b and trustworthiness on its fixture),
//! determinism across thread counts, the initialisation fallbacks and every input error.

use super::*;
use attrclust_core::ErrorKind;
use attrclust_testdata::{fixture, matrix};

fn blobs(n: usize, d: usize, centres: usize, seed: u64) -> Array2<f64> {
    blobs_in(20.0, n, d, centres, seed)
}

/// Unit-variance blobs with centres uniform in a cube of side `side`.
fn blobs_in(side: f64, n: usize, d: usize, centres: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let c = Array2::from_shape_fn((centres, d), |_| side * (rng.uniform() - 0.5));
    Array2::from_shape_fn((n, d), |(i, j)| c[[i % centres, j]] + rng.normal())
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("s{i}")).collect()
}

fn embed(u: &Umap, x: &Array2<f64>, seed: u64) -> Result<Embedding> {
    u.embed(x.view(), &ids(x.nrows()), seed)
}

/// scipy's `curve_fit` stops at its default tolerances (1.5e-8 on the relative change), a few
/// ulps of the cost short of the optimum where the valley is flat (min_dist 0.8: a differs by
/// 5e-6 relative; our fit has the lower cost, checked with scipy at tolerance 1e-15).
#[test]
fn a_and_b_equal_umap_learns() {
    let r = fixture("umap_reference.json");
    for case in r["ab"].as_array().unwrap() {
        let (spread, min_dist) = (
            case["spread"].as_f64().unwrap(),
            case["min_dist"].as_f64().unwrap(),
        );
        let (a, b) = curve::find_ab_params(spread, min_dist);
        let (wa, wb) = (case["a"].as_f64().unwrap(), case["b"].as_f64().unwrap());
        assert!(
            (a - wa).abs() < 1e-5 * wa,
            "spread {spread}, min_dist {min_dist}: a {a} vs {wa}"
        );
        assert!(
            (b - wb).abs() < 1e-5 * wb,
            "spread {spread}, min_dist {min_dist}: b {b} vs {wb}"
        );
    }
}

#[test]
fn trustworthiness_matches_umap_learn_on_digits() {
    let r = fixture("umap_reference.json");
    let x = matrix(&r["data"]);
    for run in r["runs"].as_array().unwrap() {
        let metric = run["params"]["metric"].as_str().unwrap();
        let want = run["mean_trustworthiness"].as_f64().unwrap();
        let u = Umap {
            metric: KnnMetric::from_name(metric).unwrap(),
            ..Umap::default()
        };
        let e = embed(&u, &x, 0).unwrap();
        assert_eq!(
            (e.knn, e.init.as_str(), e.n_epochs),
            ("exact", "spectral", 500)
        );
        let t = attrclust_metrics::trustworthiness(x.view(), e.coords.view(), 10);
        eprintln!("{metric}: trustworthiness {t:.4}, umap-learn {want:.4}");
        assert!(
            t >= want - 0.01,
            "{metric}: trustworthiness {t} vs umap-learn {want}"
        );
    }
}

#[test]
fn same_bits_with_one_and_two_threads() {
    // NN-descent and the Lanczos spectral solver (n > 200) both in play.
    let x = blobs(700, 10, 4, 5);
    let u = Umap {
        knn: KnnChoice::NnDescent,
        n_epochs: Some(60),
        ..Umap::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| embed(&u, &x, 3).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.knn, "nn-descent");
    let bits = |e: &Embedding| e.coords.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one), bits(&two));
    assert_ne!(bits(&one), bits(&run_seed(&u, &x, 4)));
}

fn run_seed(u: &Umap, x: &Array2<f64>, seed: u64) -> Embedding {
    embed(u, x, seed).unwrap()
}

#[test]
fn disconnected_graph_falls_back_to_random_and_still_separates() {
    // Three blobs far apart: no neighbour crosses between them.
    let mut x = blobs(300, 5, 3, 8);
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        row[0] += 1000.0 * (i % 3) as f64;
    }
    let u = Umap {
        n_epochs: Some(200),
        ..Umap::default()
    };
    let e = embed(&u, &x, 1).unwrap();
    assert_eq!(e.init, "random (graph has 3 components)");
    // Each point's nearest embedded neighbour belongs to its own blob.
    let t = attrclust_metrics::trustworthiness(x.view(), e.coords.view(), 10);
    assert!(t > 0.9, "{t}");
}

#[test]
fn every_init_runs_and_pca_init_is_used() {
    let x = blobs_in(3.0, 150, 6, 3, 2);
    for (init, name) in [
        (Init::Pca, "pca"),
        (Init::Random, "random"),
        (Init::Spectral, "spectral"),
    ] {
        let u = Umap {
            init,
            n_epochs: Some(50),
            n_components: 3,
            ..Umap::default()
        };
        let e = embed(&u, &x, 0).unwrap();
        assert_eq!(e.init, name);
        assert_eq!(e.coords.dim(), (150, 3));
        assert!(e.coords.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn plugin_output_has_columns_and_info() {
    let plugin = Plugin::op("umap").expect("registered");
    assert!(plugin.uses_seed);
    let x = blobs_in(2.0, 80, 4, 2, 3);
    let data = Dataset {
        x: x.clone(),
        labels: vec![0; 80],
        ids: ids(80),
        classes: Default::default(),
        columns: (0..4).map(|j| format!("c{j}")).collect(),
        info: Default::default(),
    };
    let mut values = std::collections::BTreeMap::new();
    for spec in plugin.params {
        if let Some(v) = spec.default.value() {
            values.insert(spec.name.to_string(), v);
        }
    }
    values.insert("n_epochs".into(), ParamValue::Int(30));
    let Build::Reducer(build) = plugin.build else {
        panic!("a reducer")
    };
    let reducer = build(&Params::new(values, ".")).unwrap();
    let out = Context::detached("umap", 9, |ctx| reducer.fit_transform(&data, ctx)).unwrap();
    assert_eq!(out.columns, vec!["UMAP1", "UMAP2"]);
    assert_eq!(out.info["n_epochs"], Info::Int(30));
    assert_eq!(out.info["knn"], Info::Text("exact".into()));
    assert_eq!(out.info["init"], Info::Text("spectral".into()));
    assert!(matches!(out.info["a"], Info::Float(a) if (a - 1.5769).abs() < 1e-3));
    assert!(matches!(out.info["b"], Info::Float(b) if (b - 0.8951).abs() < 1e-3));
}

fn input_error(u: &Umap, x: &Array2<f64>) -> Error {
    let err = embed(u, x, 0).err().expect("an error");
    assert_eq!(err.kind, ErrorKind::Input, "{err}");
    assert!(err.hint.is_some(), "{err} has a hint");
    err
}

#[test]
fn input_errors_are_clear() {
    let x = blobs(40, 3, 2, 1);
    let err = input_error(
        &Umap {
            n_neighbors: 40,
            ..Umap::default()
        },
        &x,
    );
    assert!(
        err.message
            .contains("n_neighbors = 40 must be smaller than the number of samples (40)"),
        "{err}"
    );
    assert!(
        err.hint.as_deref().unwrap().contains("n_neighbors ≤ 39"),
        "{err}"
    );

    let err = input_error(
        &Umap {
            n_components: 3,
            n_neighbors: 2,
            ..Umap::default()
        },
        &x.slice(ndarray::s![..4, ..]).to_owned(),
    );
    assert!(err.message.contains("at least 5 samples"), "{err}");

    let err = input_error(&Umap::default(), &Array2::from_elem((30, 3), 1.5));
    assert!(err.message.contains("identical"), "{err}");

    let mut bad = x.clone();
    bad.row_mut(7).fill(3.0);
    let err = input_error(
        &Umap {
            metric: KnnMetric::Correlation,
            n_neighbors: 5,
            ..Umap::default()
        },
        &bad,
    );
    assert!(
        err.message.contains("row 7 (sample `s7`) is constant"),
        "{err}"
    );

    bad.row_mut(7).fill(0.0);
    let err = input_error(
        &Umap {
            metric: KnnMetric::Cosine,
            n_neighbors: 5,
            ..Umap::default()
        },
        &bad,
    );
    assert!(
        err.message.contains("row 7 (sample `s7`) is all zeros"),
        "{err}"
    );

    bad[[3, 1]] = f64::NAN;
    let err = input_error(&Umap::default(), &bad);
    assert!(err.message.contains("row 3, column 1"), "{err}");

    let err = input_error(
        &Umap {
            min_dist: 2.0,
            ..Umap::default()
        },
        &x,
    );
    assert!(err.message.contains("min_dist"), "{err}");
}

#[test]
fn duplicates_do_not_produce_nan() {
    // Two distinct points, each repeated: every neighbour distance is 0.
    let x = Array2::from_shape_fn((60, 3), |(i, j)| if i % 2 == 0 { j as f64 } else { 5.0 });
    let u = Umap {
        n_neighbors: 10,
        n_epochs: Some(50),
        ..Umap::default()
    };
    let e = embed(&u, &x, 0).unwrap();
    assert!(e.coords.iter().all(|v| v.is_finite()));
}
