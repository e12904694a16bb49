//! The committed manifests: every one validates, and the main job runs on the demo data.

mod common;

use std::path::PathBuf;

fn experiments_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../experiments")
}

#[test]
fn every_committed_manifest_validates() {
    let p = common::Project::new();
    let mut n = 0;
    for entry in std::fs::read_dir(experiments_dir()).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = p.run(&["validate", path.to_str().unwrap()]);
            assert_eq!(out.code, 0, "{}: {}", path.display(), out.stderr);
            n += 1;
        }
    }
    assert!(n >= 1, "no manifests found");
}

#[test]
fn the_other_experiments_run_on_the_demo_data() {
    let p = common::Project::new();
    for (name, runs) in [("all_classes", 8), ("families", 5)] {
        let manifest = experiments_dir().join(format!("{name}.toml"));
        p.run_ok(&["run", manifest.to_str().unwrap()]);
        let r: serde_json::Value =
            serde_json::from_str(&p.read(&format!("reports/{name}/results.json"))).unwrap();
        assert_eq!(r["results"].as_object().unwrap().len(), runs, "{name}");
    }
    let index = p.read("reports/index.html");
    assert!(index.contains("all_classes/index.html") && index.contains("families/index.html"));
}

#[test]
fn the_main_job_runs_on_the_demo_data_and_reruns_from_cache() {
    let p = common::Project::new();
    let manifest = experiments_dir().join("color_vs_patch.toml");
    let manifest = manifest.to_str().unwrap();
    let first = p.run_ok(&["run", manifest]);
    assert!(
        first
            .stdout
            .contains("report: reports/color_vs_patch/index.html"),
        "{}",
        first.stdout
    );
    let r: serde_json::Value =
        serde_json::from_str(&p.read("reports/color_vs_patch/results.json")).unwrap();
    let runs = r["results"].as_object().unwrap();
    assert_eq!(runs.len(), 7, "one run per swept n_clusters, and hdbscan");
    for (id, run) in runs {
        assert_eq!(
            run["n_samples"], 1400,
            "{id}: 7 classes × 200 held-out samples"
        );
        assert!(run["metrics"]["purity"].as_f64().unwrap() > 0.0);
        // Family purity can only be higher than class purity.
        if let Some(family) = run["metrics"]["family_purity"].as_f64() {
            assert!(family >= run["metrics"]["purity"].as_f64().unwrap(), "{id}");
        }
        assert!(
            run["metrics"]["ari"].is_number() && run["metrics"]["nmi"].is_number(),
            "{id}"
        );
        // 1400 per-sample values stay out of results.json (they are in the cache and plots).
        assert!(
            run["details"]["silhouette"].get("per_sample").is_none(),
            "{id}"
        );
        assert!(
            run["details"]["silhouette"]["per_cluster"].is_array(),
            "{id}"
        );
        if id.starts_with("kmeans") {
            let stability = run["metrics"]["stability"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&stability), "{id}: {stability}");
            let per_cluster = run["details"]["stability"]["jaccard_per_cluster"]
                .as_array()
                .unwrap();
            assert_eq!(
                per_cluster.len() as u64,
                run["n_clusters"].as_u64().unwrap(),
                "{id}"
            );
        }
    }
    // The 2-D maps keep neighbourhoods on the real attributions (PCA on 20 components keeps
    // nearly all): trustworthiness of each, and t-SNE's final KL divergence.
    let embeddings = r["embeddings"].as_object().unwrap();
    assert_eq!(
        embeddings.keys().collect::<Vec<_>>(),
        ["pca", "tsne", "umap"]
    );
    for (id, e) in embeddings {
        let t = e["metrics"]["trustworthiness"].as_f64().unwrap();
        assert!(t > 0.95, "{id}: trustworthiness {t}");
    }
    let kl = embeddings["tsne"]["info"]["kl_divergence"]
        .as_f64()
        .unwrap();
    assert!(kl > 0.0 && kl < 2.0, "t-SNE KL {kl}");
    let second = p.run_ok(&["run", manifest]);
    assert!(second.computed().is_empty(), "{}", second.stdout);
}

/// k-means on the real attributions is as good as scikit-learn's best of n_init = 10: the median
/// inertia over five seeds (with both iteration algorithms) is within 1% of scikit-learn's median
/// over ten seeds (single runs of either land on different local optima).
#[test]
fn kmeans_on_real_attributions_is_within_one_percent_of_scikit_learn() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo_kmeans_reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let p = common::Project::new();
    let data = experiments_dir().join("data/manipulations.npz");
    let mut inertia: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for seed in 1..=5 {
        p.write(
            "experiments/real.toml",
            &format!(
                "[experiment]\nname = \"real\"\nseed = {seed}\n\n[data]\npath = \"{}\"\nattributions = \"ig\"\nlabels = \"y\"\n\n\
                 [step.scaled]\nop = \"standardize\"\ninput = \"data\"\n\n\
                 [step.km]\nop = \"kmeans\"\ninput = \"scaled\"\nn_init = 10\nn_clusters = {{ sweep = [4, 8, 12, 16] }}\nalgorithm = {{ sweep = [\"lloyd\", \"elkan\"] }}\n\n\
                 [report]\nmetrics = []\n",
                data.display()
            ),
        );
        p.run_ok(&["run", "experiments/real.toml"]);
        let r: serde_json::Value =
            serde_json::from_str(&p.read("reports/real/results.json")).unwrap();
        for (id, run) in r["results"].as_object().unwrap() {
            inertia
                .entry(id.clone())
                .or_default()
                .push(run["info"]["inertia"].as_f64().unwrap());
        }
    }
    assert_eq!(inertia.len(), 8);
    for (id, mut values) in inertia {
        values.sort_by(f64::total_cmp);
        let ours = values[values.len() / 2];
        let k = id
            .trim_start_matches("km[n_clusters=")
            .split(',')
            .next()
            .unwrap();
        let theirs = reference["inertia"][k].as_f64().unwrap();
        assert!(
            ours <= 1.01 * theirs,
            "{id}: median inertia {ours} vs scikit-learn's {theirs}"
        );
    }
}
