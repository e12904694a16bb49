//! Running manifests end to end: the report's files, determinism, data errors and plugins.

mod common;

use common::{MANIFEST, Project};
use serde_json::Value;

const RUN: &[&str] = &["run", "experiments/tiny.toml"];

fn results(p: &Project) -> Value {
    serde_json::from_str(&p.read("reports/tiny/results.json")).unwrap()
}

#[test]
fn report_files_follow_the_spec() {
    let p = Project::new();
    let out = p.run_ok(RUN);
    assert!(
        out.stdout.contains("report: reports/tiny/index.html"),
        "{}",
        out.stdout
    );
    let r = results(&p);
    let runs = r["results"].as_object().unwrap();
    assert_eq!(
        runs.keys().collect::<Vec<_>>(),
        ["kmeans[n_clusters=2]", "kmeans[n_clusters=4]"]
    );
    let k4 = &runs["kmeans[n_clusters=4]"];
    assert_eq!(k4["step"], "kmeans");
    assert_eq!(k4["params"]["n_clusters"], 4);
    assert_eq!(k4["params"]["max_iter"], 300, "defaults are resolved");
    assert_eq!(k4["params"]["n_init"], "auto");
    assert_eq!(k4["n_clusters"], 4);
    assert_eq!(k4["n_noise"], 0);
    assert!(k4["metrics"]["silhouette"].is_number());

    // Purity recomputed here from the CSV must equal the reported one.
    let csv = p.read("reports/tiny/clusters/kmeans[n_clusters=4].csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("sample_id,label,cluster"));
    let rows: Vec<(String, i64, i64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 60);
    let (_, y) = common::synthetic(15, 6, 0.0);
    for (id, label, cluster) in &rows {
        let i: usize = id.parse().unwrap();
        assert_eq!(*label, y[i], "label of sample {id}");
        assert!((0..4).contains(cluster));
    }
    let mut majority = 0;
    for c in 0..4 {
        let mut counts = [0usize; 4];
        for (_, l, k) in &rows {
            if *k == c {
                counts[*l as usize] += 1;
            }
        }
        majority += counts.iter().max().unwrap();
    }
    let purity = majority as f64 / 60.0;
    assert!((k4["metrics"]["purity"].as_f64().unwrap() - purity).abs() < 1e-12);

    // The contingency table in results.json agrees with the CSV.
    let table = &k4["contingency"];
    let classes: Vec<String> = serde_json::from_value(table["classes"].clone()).unwrap();
    let counts: Vec<Vec<usize>> = serde_json::from_value(table["counts"].clone()).unwrap();
    let clusters: Vec<i64> = serde_json::from_value(table["clusters"].clone()).unwrap();
    assert_eq!(classes, common::CLASS_NAMES);
    for (i, row) in counts.iter().enumerate() {
        for (j, &count) in row.iter().enumerate() {
            let in_csv = rows
                .iter()
                .filter(|(_, l, k)| *l == i as i64 && *k == clusters[j])
                .count();
            assert_eq!(count, in_csv, "class {i}, cluster {}", clusters[j]);
        }
    }
    // Per-cluster purity and silhouette come with the metrics.
    let per_cluster = k4["details"]["purity"]["per_cluster"].as_array().unwrap();
    assert_eq!(per_cluster.len(), 4);
    let sil = &k4["details"]["silhouette"];
    assert_eq!(sil["per_cluster"].as_array().unwrap().len(), 4);
    // Arrays of at most 64 values are listed (60 samples here); longer ones stay in the cache.
    assert_eq!(sil["per_sample"].as_array().map(Vec::len), Some(60));

    let emb = p.read("reports/tiny/embeddings/pca.csv");
    assert!(emb.starts_with("sample_id,label,x,y\n"));
    assert_eq!(emb.lines().count(), 61);
    let ratio = &r["embeddings"]["pca"]["info"]["explained_variance_ratio"];
    assert_eq!(ratio.as_array().unwrap().len(), 3);

    let prov = &r["provenance"];
    assert_eq!(prov["seed"], 7);
    assert_eq!(prov["plugins"]["kmeans"], "1");
    assert_eq!(prov["data_sha256"]["path"].as_str().unwrap().len(), 64);
}

#[test]
fn embeddings_are_scored_and_clusterings_get_silhouette_plots() {
    // PCA straight on the data, so the test can recompute trustworthiness from the data and the
    // embedding CSV: the metric must read the reducer's input and output.
    let p = Project::new();
    let manifest = MANIFEST
        .replace(
            "input = \"scaled\"\nn_components = 3",
            "input = \"data\"\nn_components = 2",
        )
        .replace(
            "metrics = [\"silhouette\", \"purity\"]",
            "metrics = [\"silhouette\", \"purity\", \"trustworthiness\"]",
        );
    p.write("experiments/tiny.toml", &manifest);
    p.run_ok(RUN);
    let r = results(&p);
    let reported = r["embeddings"]["pca"]["metrics"]["trustworthiness"]
        .as_f64()
        .expect("trustworthiness of the pca embedding");
    // Clustering metrics stay with clusterings, metrics of embeddings with embeddings.
    assert!(r["results"]["kmeans[n_clusters=2]"]["metrics"]["trustworthiness"].is_null());
    assert!(r["embeddings"]["pca"]["metrics"]["silhouette"].is_null());

    let (x, _) = common::synthetic(15, 6, 0.0);
    let emb = p.read("reports/tiny/embeddings/pca.csv");
    let rows: Vec<Vec<f64>> = emb
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(2).map(|v| v.parse().unwrap()).collect())
        .collect();
    let ids: Vec<usize> = emb
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    let y = ndarray::Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
    let xs = ndarray::Array2::from_shape_fn((ids.len(), 6), |(i, j)| x[ids[i] * 6 + j]);
    let expected = attrclust_metrics::trustworthiness(xs.view(), y.view(), 10);
    assert!(
        (reported - expected).abs() < 1e-12,
        "{reported} vs {expected}"
    );
    assert!(
        reported < 1.0,
        "2 of 6 dimensions cannot keep every neighbourhood"
    );

    let html = p.read("reports/tiny/index.html");
    assert!(
        html.contains("<td class=\"name\">trustworthiness</td>"),
        "embedding table"
    );
    // PCA's explained variance as a scree plot.
    assert_eq!(html.matches("pca — scree plot").count(), 1);
    // One silhouette plot per clustering run (both shown: no select rule here).
    assert_eq!(html.matches("silhouette of each sample").count(), 2);
}

#[test]
fn html_is_self_contained_and_escapes_names() {
    let p = Project::new();
    p.run_ok(RUN);
    let html = p.read("reports/tiny/index.html");
    assert!(
        html.contains("Tiny &lt;test&gt; &amp; co"),
        "the title is escaped"
    );
    assert!(!html.contains("Tiny <test>"));
    assert!(
        html.matches("<svg").count() >= 2,
        "scatter and sweep curve are inline"
    );
    for name in common::CLASS_NAMES {
        assert!(html.contains(name), "{name} is in the legend/tables");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://")
            || html.matches("http").count() == html.matches("http://www.w3.org/2000/svg").count()
    );
    assert!(!html.contains("<script src") && !html.contains("<link"));
    let index = p.read("reports/index.html");
    assert!(index.contains("tiny/index.html"), "{index}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // With the random reducers in the pipeline too: t-SNE (Barnes-Hut; exact is the default below
    // 400 samples) and UMAP. 60 samples fit in one parallel chunk of each, so this checks the
    // pipeline around them (seeds per step, scheduling); their kernels are checked with 1 and 2
    // threads on thousands of samples in plugins/tsne and plugins/umap.
    let manifest = MANIFEST.replace(
        "[report]\nembeddings = [\"pca\"]",
        "[step.tsne]\nop = \"tsne\"\ninput = \"scaled\"\nperplexity = 10\nmethod = \"barnes_hut\"\n\n\
         [step.umap]\nop = \"umap\"\ninput = \"scaled\"\nn_neighbors = 10\n\n\
         [report]\nembeddings = [\"pca\", \"tsne\", \"umap\"]",
    );
    assert_ne!(manifest, MANIFEST);
    let a = Project::new();
    let b = Project::new();
    a.write("experiments/tiny.toml", &manifest);
    b.write("experiments/tiny.toml", &manifest);
    a.run_ok(&["--threads", "1", "run", "experiments/tiny.toml"]);
    b.run_ok(&["run", "--threads", "2", "experiments/tiny.toml"]);
    assert!(a.read("reports/tiny/embeddings/umap.csv").lines().count() == 61);
    common::assert_same_files(
        &a.report_files("reports/tiny"),
        &b.report_files("reports/tiny"),
    );
}

#[test]
fn bare_manifest_argument_runs_and_dirs_are_configurable() {
    let p = Project::new();
    let out = p.run_ok(&[
        "experiments/tiny.toml",
        "--reports-dir",
        "out",
        "--cache-dir",
        "c",
    ]);
    assert!(
        out.stdout.contains("report: out/tiny/index.html"),
        "{}",
        out.stdout
    );
    assert!(p.path("out/tiny/results.json").is_file());
    assert!(p.path("c").is_dir() && !p.path(".attrclust").exists());
}

#[test]
fn a_failed_run_leaves_the_previous_report_intact() {
    let p = Project::new();
    p.run_ok(RUN);
    let before = p.report_files("reports/tiny");
    // Break the data: one label too few.
    let (x, mut y) = common::synthetic(15, 6, 0.0);
    y.pop();
    common::write_npz(
        &p.path("experiments/data/tiny.npz"),
        &[
            ("attr", attrclust_loaders::npy::write_f64(&[60, 6], &x)),
            ("y", common::i64_npy(&y)),
            ("class_names", common::str_npy(&common::CLASS_NAMES)),
        ],
    );
    let out = p.run(RUN);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("tiny.npz: 59 labels for 60 samples"),
        "{}",
        out.stderr
    );
    common::assert_same_files(&p.report_files("reports/tiny"), &before);
}

#[test]
fn data_errors_name_rows_and_offer_a_policy() {
    let p = Project::new();
    let (mut x, y) = common::synthetic(15, 6, 0.0);
    x[3 * 6 + 2] = f64::NAN;
    x[10 * 6] = f64::INFINITY;
    let write = |x: &[f64]| {
        common::write_npz(
            &p.path("experiments/data/tiny.npz"),
            &[
                ("attr", attrclust_loaders::npy::write_f64(&[60, 6], x)),
                ("y", common::i64_npy(&y)),
                ("class_names", common::str_npy(&common::CLASS_NAMES)),
            ],
        )
    };
    write(&x);
    let out = p.run(RUN);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("2 rows hold NaN or Inf: row 3 (columns 2); row 10 (columns 0)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nan_policy = \"drop_rows\""),
        "{}",
        out.stderr
    );

    p.write(
        "experiments/tiny.toml",
        &MANIFEST.replace(
            "labels = \"y\"",
            "labels = \"y\"\nnan_policy = \"drop_rows\"",
        ),
    );
    p.run_ok(RUN);
    let csv = p.read("reports/tiny/clusters/kmeans[n_clusters=2].csv");
    assert_eq!(csv.lines().count(), 1 + 58);
    assert!(
        !csv.lines()
            .any(|l| l.starts_with("3,") || l.starts_with("10,"))
    );

    p.write(
        "experiments/tiny.toml",
        &MANIFEST.replace("attributions = \"attr\"", "attributions = \"atr\""),
    );
    let out = p.run(RUN);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no array `atr`") && out.stderr.contains("available arrays: attr"),
        "{}",
        out.stderr
    );
}

#[test]
fn k_larger_than_n_is_an_input_error_naming_the_step() {
    let p = Project::new();
    p.write(
        "experiments/tiny.toml",
        &MANIFEST.replace("sweep = [2, 4]", "sweep = [2, 400]"),
    );
    let out = p.run(RUN);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("step `kmeans[n_clusters=400]`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("n_clusters = 400 exceeds the 60 samples"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_example_plugin_runs_and_is_seeded() {
    let p = Project::new();
    let with_rp = MANIFEST
        .replace("embeddings = [\"pca\"]", "embeddings = [\"pca\", \"rp\"]")
        .replace("[report]", "[step.rp]\nop = \"random_projection\"\ninput = \"scaled\"\nn_components = 2\n\n[report]");
    p.write("experiments/tiny.toml", &with_rp);
    p.run_ok(RUN);
    let a = p.read("reports/tiny/embeddings/rp.csv");
    assert_eq!(a.lines().count(), 61);
    p.write(
        "experiments/tiny.toml",
        &with_rp.replace("seed = 7", "seed = 8"),
    );
    let out = p.run_ok(RUN);
    assert!(out.computed().contains(&"rp".to_string()));
    assert_ne!(
        a,
        p.read("reports/tiny/embeddings/rp.csv"),
        "a new seed, a new projection"
    );
}

#[test]
fn plugins_lists_every_kind_with_parameters() {
    let p = Project::new();
    let out = p.run_ok(&["plugins", "--json"]);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    let find = |name: &str| {
        list.iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    for (name, kind) in [
        ("npz", "loader"),
        ("select_classes", "transform"),
        ("standardize", "transform"),
        ("pca", "reducer"),
        ("random_projection", "reducer"),
        ("kmeans", "clusterer"),
        ("silhouette", "metric"),
        ("purity", "metric"),
    ] {
        assert_eq!(find(name)["kind"], kind);
    }
    let k = find("kmeans");
    let n_clusters = k["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "n_clusters")
        .unwrap();
    assert_eq!(n_clusters["default"], "8");
    assert_eq!(n_clusters["type"], "integer");
    assert_eq!(find("purity")["metric_needs"]["labels"], true);
    let table = p.run_ok(&["plugins"]);
    assert!(table.stdout.contains("kmeans") && table.stdout.contains("n_clusters"));
}

#[test]
fn concurrent_runs_share_one_cache_and_report_folder() {
    let p = Project::new();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_attrclust-e2e"))
            .args(RUN)
            .current_dir(p.dir.path())
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    for o in [&a, &b] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let together = p.report_files("reports/tiny");
    let q = Project::new();
    q.run_ok(RUN);
    common::assert_same_files(&together, &q.report_files("reports/tiny"));
    assert!(
        p.run_ok(RUN).computed().is_empty(),
        "both runs left whole entries"
    );
}

#[test]
fn leftovers_of_an_interrupted_run_are_harmless() {
    let p = Project::new();
    p.run_ok(RUN);
    // What a killed run can leave: a temporary cache file and a half-built report folder.
    let cache = attrclust_cache::Cache::existing(&p.path(".attrclust/cache"));
    let entry = cache.list()[0].key;
    let tmp = cache.entry_path(&entry).with_extension("999.tmp");
    std::fs::write(&tmp, b"half").unwrap();
    std::fs::create_dir_all(p.path("reports/.tmp-tiny-999/clusters")).unwrap();
    let out = p.run_ok(RUN);
    assert!(out.computed().is_empty());
    assert!(p.run_ok(&["cache", "ls"]).stdout.contains("10 entries"));
    let index = p.read("reports/index.html");
    assert_eq!(
        index.matches("<li>").count(),
        1,
        "half-built folders are not listed: {index}"
    );
}

#[test]
fn grids_and_upstream_sweeps_expand_into_named_runs() {
    let p = Project::new();
    let grid = MANIFEST
        .replace("n_components = 3", "n_components = { sweep = [2, 3] }")
        .replace(
            "n_clusters = { sweep = [2, 4] }",
            "n_clusters = { sweep = [2, 4] }\ninit = { sweep = [\"k-means++\", \"random\"] }",
        );
    p.write("experiments/tiny.toml", &grid);
    p.run_ok(RUN);
    let r = results(&p);
    let mut ids: Vec<&String> = r["results"].as_object().unwrap().keys().collect();
    ids.sort();
    assert_eq!(ids.len(), 8, "2 pca runs × 2 × 2 k-means runs: {ids:?}");
    assert!(
        ids.contains(&&"kmeans[n_clusters=4,init=random,pca.n_components=2]".to_string()),
        "{ids:?}"
    );
    let run = &r["results"]["kmeans[n_clusters=2,init=k-means++,pca.n_components=3]"];
    assert_eq!(run["params"]["init"], "k-means++");
    assert_eq!(run["sweep"]["pca.n_components"], 3);
    assert!(
        p.path("reports/tiny/embeddings/pca[n_components=2].csv")
            .is_file()
    );
    assert!(
        p.path("reports/tiny/clusters/kmeans[n_clusters=4,init=random,pca.n_components=2].csv")
            .is_file()
    );
}

#[test]
fn select_features_the_best_run_of_a_sweep() {
    let p = Project::new();
    for (goal, better) in [
        ("max", std::cmp::Ordering::Greater),
        ("min", std::cmp::Ordering::Less),
    ] {
        let with_select = MANIFEST.replace(
            "metrics = [\"silhouette\", \"purity\"]",
            &format!("metrics = [\"silhouette\", \"purity\"]\nselect = {{ metric = \"silhouette\", goal = \"{goal}\" }}"),
        );
        p.write("experiments/tiny.toml", &with_select);
        p.run_ok(RUN);
        let r = results(&p);
        let runs = r["results"].as_object().unwrap();
        let best = runs
            .iter()
            .max_by(|a, b| {
                let (x, y) = (
                    a.1["metrics"]["silhouette"].as_f64().unwrap(),
                    b.1["metrics"]["silhouette"].as_f64().unwrap(),
                );
                let o = x.partial_cmp(&y).unwrap();
                if better == std::cmp::Ordering::Greater {
                    o
                } else {
                    o.reverse()
                }
            })
            .unwrap()
            .0;
        assert_eq!(r["selected"]["kmeans"], best.as_str(), "goal {goal}");
        let html = p.read("reports/tiny/index.html");
        assert!(html.contains(&format!(
            "Selected: the run with the {} silhouette",
            if goal == "max" { "highest" } else { "lowest" }
        )));
        assert_eq!(
            html.matches("<details><summary>Clustering kmeans").count(),
            1,
            "the other run is folded"
        );
    }
    p.write(
        "experiments/tiny.toml",
        &MANIFEST.replace(
            "metrics = [\"silhouette\", \"purity\"]",
            "metrics = [\"purity\"]\nselect = { metric = \"silhouette\" }",
        ),
    );
    let out = p.run(&["validate", "experiments/tiny.toml"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`select` uses metric `silhouette`, which is not computed"),
        "{}",
        out.stderr
    );
}

#[test]
fn reducer_limits_are_input_errors_naming_the_step_and_the_largest_value() {
    // 60 samples: t-SNE's default perplexity 30 needs 3 · 30 < n; UMAP's n_neighbors must be < n.
    for (step, expected) in [
        (
            "[step.tsne]\nop = \"tsne\"\ninput = \"pca\"\n",
            ["step `tsne`", "(the largest allowed here)"],
        ),
        (
            "[step.umap]\nop = \"umap\"\ninput = \"pca\"\nn_neighbors = 60\n",
            ["step `umap`", "n_neighbors ≤ 59"],
        ),
    ] {
        let p = Project::new();
        p.write(
            "experiments/tiny.toml",
            &MANIFEST.replace("[report]", &format!("{step}\n[report]")),
        );
        let out = p.run(RUN);
        assert_eq!(out.code, 2, "{}", out.stderr);
        for text in expected {
            assert!(out.stderr.contains(text), "{text}: {}", out.stderr);
        }
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn the_overview_lists_each_class_top_channels() {
    let p = Project::new();
    p.run_ok(RUN);
    let r = results(&p);
    // Recompute from the data: mean attribution per class and channel, largest first.
    let (x, y) = common::synthetic(15, 6, 0.0);
    let mut expected = serde_json::Map::new();
    for (class, name) in common::CLASS_NAMES.iter().enumerate() {
        let rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class as i64).collect();
        let mean: Vec<f64> = (0..6)
            .map(|c| rows.iter().map(|&i| x[i * 6 + c]).sum::<f64>() / rows.len() as f64)
            .collect();
        let mut order: Vec<usize> = (0..6).collect();
        order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
        let names: Vec<String> = order[..5].iter().map(|c| format!("ch_{c}")).collect();
        expected.insert(name.to_string(), serde_json::json!(names));
    }
    assert_eq!(r["overview"]["top_channels"], Value::Object(expected));
    // Groups: the manifest's color and patch families.
    let groups = r["overview"]["group_top_channels"].as_object().unwrap();
    assert_eq!(groups.keys().collect::<Vec<_>>(), ["color", "patch"]);
    // The channels that tell color from patch: Cohen's d with the pooled SD, largest |d| first.
    let members = |names: &[&str]| -> Vec<usize> {
        (0..y.len())
            .filter(|&i| names.contains(&common::CLASS_NAMES[y[i] as usize]))
            .collect()
    };
    let color = members(&["color_rotation", "color_temperature"]);
    let patch = members(&["patch_exo", "patch_endo_clone_naive"]);
    let stats = |rows: &[usize], c: usize| {
        let mean = rows.iter().map(|&i| x[i * 6 + c]).sum::<f64>() / rows.len() as f64;
        let ss = rows
            .iter()
            .map(|&i| (x[i * 6 + c] - mean).powi(2))
            .sum::<f64>();
        (mean, ss)
    };
    let d: Vec<f64> = (0..6)
        .map(|c| {
            let ((ma, sa), (mb, sb)) = (stats(&color, c), stats(&patch, c));
            (ma - mb) / ((sa + sb) / (color.len() + patch.len() - 2) as f64).sqrt()
        })
        .collect();
    let best = (0..6)
        .max_by(|&a, &b| d[a].abs().total_cmp(&d[b].abs()).then(b.cmp(&a)))
        .unwrap();
    let contrast = &r["overview"]["group_contrasts"][0];
    assert_eq!(
        (contrast["a"].as_str(), contrast["b"].as_str()),
        (Some("color"), Some("patch"))
    );
    assert_eq!(contrast["channels"][0]["channel"], format!("ch_{best}"));
    let reported = contrast["channels"][0]["d"].as_f64().unwrap();
    assert!(
        (reported - d[best]).abs() < 1e-9,
        "{reported} vs {}",
        d[best]
    );

    let html = p.read("reports/tiny/index.html");
    assert!(html.contains("Mean attribution per class and channel"));
    assert!(html.contains("channels that tell them apart"));
    // Every clustering run also gets its group × cluster table: 30 samples per group.
    assert_eq!(html.matches("group \\ cluster").count(), 2);
    assert_eq!(html.matches("<td>30</td></tr>").count(), 4);
    assert!(html.contains("cosine similarity of class means"));
}

#[test]
fn diff_compares_reports_and_git_revisions_metric_by_metric() {
    let p = Project::new();
    p.run_ok(RUN);
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(p.path(""))
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "reports"]);
    git(&["commit", "-q", "-m", "report"]);
    p.write("old/results.json", &p.read("reports/tiny/results.json"));

    // Unchanged: no differences, against the file and against the committed revision.
    let same = p.run_ok(&["diff", "old/results.json", "reports/tiny"]);
    assert!(same.stdout.ends_with("no differences\n"), "{}", same.stdout);

    // One swept value replaced: one run gone, one new.
    p.write(
        "experiments/tiny.toml",
        &MANIFEST.replace("sweep = [2, 4]", "sweep = [2, 3]"),
    );
    p.run_ok(RUN);
    let new = results(&p);
    let out = p.run_ok(&["diff", "HEAD:reports/tiny", "reports/tiny"]);
    assert!(
        out.stdout
            .starts_with("A: HEAD:reports/tiny\nB: reports/tiny\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("only in A: run kmeans[n_clusters=4]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("only in B: run kmeans[n_clusters=3]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with("2 differences\n"), "{}", out.stdout);

    // A metric that changed shows both values: edit the old file's silhouette of k = 2.
    let mut old: Value = serde_json::from_str(&p.read("old/results.json")).unwrap();
    let sil = new["results"]["kmeans[n_clusters=2]"]["metrics"]["silhouette"]
        .as_f64()
        .unwrap();
    old["results"]["kmeans[n_clusters=2]"]["metrics"]["silhouette"] = serde_json::json!(sil - 0.25);
    p.write("old/results.json", &old.to_string());
    let out = p.run_ok(&["diff", "old/results.json", "reports/tiny/results.json"]);
    assert!(
        out.stdout
            .contains("run kmeans[n_clusters=2]\n  silhouette"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(+0.250000)"), "{}", out.stdout);

    // Bad arguments are input errors.
    let missing = p.run(&["diff", "nowhere.json", "reports/tiny"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("`nowhere.json` does not exist"),
        "{}",
        missing.stderr
    );
    let bad_rev = p.run(&["diff", "nosuchrev:reports/tiny", "reports/tiny"]);
    assert_eq!(bad_rev.code, 2);
    assert!(
        bad_rev.stderr.contains("git has no `reports/tiny`"),
        "{}",
        bad_rev.stderr
    );
}
