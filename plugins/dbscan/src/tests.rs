use super::*;
use attrclust_core::rng::Rng;
use attrclust_testdata::{fixture, ints, matrix};
use ndarray::Array2;

fn dbscan(eps: f64, min_samples: usize, metric: &str) -> Dbscan {
    let metric = match metric {
        "cosine" => DbscanMetric::Cosine,
        "manhattan" => DbscanMetric::Manhattan,
        _ => DbscanMetric::Euclidean,
    };
    Dbscan {
        eps,
        min_samples,
        metric,
    }
}

#[test]
fn labels_equal_scikit_learn_including_numbering() {
    let r = fixture("dbscan_reference.json");
    let cases = r["cases"].as_array().unwrap();
    assert!(cases.len() >= 50);
    // Border samples that two clusters reach: where sklearn's growth order decides the label.
    let mut contested = 0;
    for case in cases {
        let name = case["data"].as_str().unwrap();
        let x = matrix(&r["datasets"][name]);
        let metric = case["metric"].as_str().unwrap();
        let eps = case["eps"].as_f64().unwrap();
        let ms = case["min_samples"].as_u64().unwrap() as usize;
        let fit = dbscan(eps, ms, metric).fit(x.view(), &|_| {}).unwrap();
        let want = ints(&case["labels"]);
        assert_eq!(
            fit.labels, want,
            "{name} {metric} eps={eps} min_samples={ms}"
        );
        let n_core = fit.is_core.iter().filter(|&&c| c).count();
        assert_eq!(n_core as u64, case["n_core"].as_u64().unwrap(), "{name}");
        if metric == "euclidean" {
            let index = NeighborIndex::new(x.view(), Metric::Euclidean);
            for (i, hood) in index.radius_all(eps).iter().enumerate() {
                let mut clusters: Vec<i64> = hood
                    .iter()
                    .filter(|&&j| fit.is_core[j])
                    .map(|&j| fit.labels[j])
                    .collect();
                clusters.sort_unstable();
                clusters.dedup();
                contested += usize::from(!fit.is_core[i] && clusters.len() > 1);
            }
        }
    }
    assert!(contested > 0, "the fixture should exercise the border rule");
}

#[test]
fn both_backends_give_the_same_labels_in_high_dimensions() {
    // 40-D: the index scans by brute force; compare with the tree on the same data.
    let mut rng = Rng::new(5);
    let x = Array2::from_shape_fn((600, 40), |(i, _)| {
        (i % 4) as f64 * 3.0 + rng.normal() * 0.5
    });
    let ours = dbscan(3.9, 5, "euclidean").fit(x.view(), &|_| {}).unwrap();
    let index = NeighborIndex::with_algorithm(
        x.view(),
        Metric::Euclidean,
        attrclust_neighbors::Algorithm::KdTree,
    );
    let hoods = index.radius_all(3.9);
    for (i, h) in hoods.iter().enumerate() {
        assert_eq!(ours.is_core[i], h.len() >= 5, "row {i}");
    }
    assert!(ours.labels.iter().any(|&l| l >= 0));
}

#[test]
fn same_labels_for_any_thread_count() {
    let mut rng = Rng::new(7);
    let x = Array2::from_shape_fn((3000, 3), |(i, _)| {
        (i % 5) as f64 * 2.0 + rng.normal() * 0.6
    });
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| dbscan(0.3, 6, "euclidean").fit(x.view(), &|_| {}).unwrap())
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a, b);
    assert!(a.labels.iter().any(|&l| l < 0) && a.labels.iter().any(|&l| l > 0));
}

#[test]
fn bad_input_is_a_clear_error() {
    let empty = Array2::<f64>::zeros((0, 4));
    let err = dbscan(0.5, 5, "euclidean")
        .fit(empty.view(), &|_| {})
        .unwrap_err();
    assert!(err.message.contains("at least one sample"), "{err}");
    assert!(err.hint.is_some());

    let x = Array2::from_shape_fn((10, 2), |(i, j)| (i + j) as f64);
    let err = dbscan(0.0, 5, "euclidean")
        .fit(x.view(), &|_| {})
        .unwrap_err();
    assert!(err.message.contains("eps"), "{err}");

    let mut z = x.clone();
    z.row_mut(3).fill(0.0);
    let err = dbscan(0.1, 2, "cosine").fit(z.view(), &|_| {}).unwrap_err();
    assert!(err.message.contains("row 3"), "{err}");

    z[[4, 1]] = f64::NAN;
    let err = dbscan(0.1, 2, "euclidean")
        .fit(z.view(), &|_| {})
        .unwrap_err();
    assert!(err.message.contains("row 4, column 1"), "{err}");
}

#[test]
fn plugin_reports_core_count_and_uses_defaults() {
    let plugin = Plugin::op("dbscan").expect("registered");
    assert!(!plugin.uses_seed);
    let x = Array2::from_shape_fn(
        (12, 2),
        |(i, j)| if i < 6 { 0.1 * (i + j) as f64 } else { 50.0 },
    );
    let data = Dataset {
        x,
        labels: vec![0; 12],
        ids: (0..12).map(|i| i.to_string()).collect(),
        classes: Default::default(),
        columns: vec!["a".into(), "b".into()],
        info: Default::default(),
    };
    let defaults = plugin
        .params
        .iter()
        .filter_map(|s| Some((s.name.to_string(), s.default.value()?)))
        .collect();
    let p = Params::new(defaults, ".");
    let Build::Clusterer(build) = plugin.build else {
        panic!("a clusterer")
    };
    let c = Context::detached("dbscan", 0, |ctx| build(&p).unwrap().fit(&data, ctx)).unwrap();
    // eps = 0.5, min_samples = 5: the first six points (0.14 apart) are one cluster whose two
    // ends are border points, the six equal points another.
    assert_eq!(c.assignments, [vec![0; 6], vec![1; 6]].concat());
    assert_eq!(c.info["n_core"], Info::Int(10));
}
