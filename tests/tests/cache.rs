//! The content-hash cache seen from the command line (SPEC §6, issue #2 point 5).

mod common;

use common::Project;

const RUN: &[&str] = &["run", "experiments/tiny.toml"];
const ALL: [&str; 9] = [
    "data",
    "kmeans[n_clusters=2]",
    "kmeans[n_clusters=4]",
    "pca",
    "purity@kmeans[n_clusters=2]",
    "purity@kmeans[n_clusters=4]",
    "scaled",
    "silhouette@kmeans[n_clusters=2]",
    "silhouette@kmeans[n_clusters=4]",
];

fn sorted(mut v: Vec<&str>) -> Vec<String> {
    v.sort();
    v.into_iter().map(String::from).collect()
}

#[test]
fn unchanged_rerun_computes_nothing_and_rewrites_identical_bytes() {
    let p = Project::new();
    let first = p.run_ok(RUN);
    let mut all = ALL.to_vec();
    all.push("subset");
    assert_eq!(first.computed(), sorted(all.clone()));
    let report = p.report_files("reports/tiny");
    assert!(report.iter().any(|(f, _)| f == "index.html"));

    let second = p.run_ok(RUN);
    assert!(second.computed().is_empty(), "{}", second.stdout);
    assert_eq!(second.steps().len(), all.len());
    assert!(
        second.stdout.contains("0 computed, 10 cached"),
        "{}",
        second.stdout
    );
    common::assert_same_files(&p.report_files("reports/tiny"), &report);
}

#[test]
fn changing_one_parameter_recomputes_that_step_and_its_dependents_only() {
    let p = Project::new();
    p.run_ok(RUN);
    let edited = common::MANIFEST.replace("n_components = 3", "n_components = 2");
    p.write("experiments/tiny.toml", &edited);
    let out = p.run_ok(RUN);
    assert_eq!(
        out.computed(),
        sorted(vec![
            "kmeans[n_clusters=2]",
            "kmeans[n_clusters=4]",
            "pca",
            "purity@kmeans[n_clusters=2]",
            "purity@kmeans[n_clusters=4]",
            "silhouette@kmeans[n_clusters=2]",
            "silhouette@kmeans[n_clusters=4]",
        ])
    );
    // A sweep value added: only the new run and its metrics compute.
    let swept = edited.replace("sweep = [2, 4]", "sweep = [2, 3, 4]");
    p.write("experiments/tiny.toml", &swept);
    let out = p.run_ok(RUN);
    assert_eq!(
        out.computed(),
        sorted(vec![
            "kmeans[n_clusters=3]",
            "purity@kmeans[n_clusters=3]",
            "silhouette@kmeans[n_clusters=3]",
        ])
    );
}

#[test]
fn editing_the_data_file_recomputes_everything_downstream_of_the_loader() {
    let p = Project::new();
    p.run_ok(RUN);
    p.write_data(0.25);
    let out = p.run_ok(RUN);
    let mut all = ALL.to_vec();
    all.push("subset");
    assert_eq!(out.computed(), sorted(all));
}

#[test]
fn moving_the_data_file_keeps_results_since_keys_hash_content() {
    let p = Project::new();
    p.run_ok(RUN);
    std::fs::rename(
        p.path("experiments/data/tiny.npz"),
        p.path("experiments/data/moved.npz"),
    )
    .unwrap();
    let moved = common::MANIFEST.replace("data/tiny.npz", "data/moved.npz");
    p.write("experiments/tiny.toml", &moved);
    let out = p.run_ok(RUN);
    assert!(out.computed().is_empty(), "{}", out.stdout);
}

#[test]
fn corrupt_and_truncated_entries_are_recomputed_and_reported() {
    let p = Project::new();
    p.run_ok(RUN);
    let cache = attrclust_cache::Cache::existing(&p.path(".attrclust/cache"));
    let entries = cache.list();
    let pca = entries
        .iter()
        .find(|e| e.meta.as_ref().is_some_and(|m| m.run == "pca"))
        .expect("pca is cached");
    let path = cache.entry_path(&pca.key);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let out = p.run_ok(RUN);
    assert_eq!(out.computed(), vec!["pca".to_string()]);
    assert!(
        out.stdout.contains("cache entry was corrupt"),
        "{}",
        out.stdout
    );

    let mut flipped = std::fs::read(&path).unwrap();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    let out = p.run_ok(RUN);
    assert_eq!(out.computed(), vec!["pca".to_string()]);
    // And the repaired entry is trusted again.
    assert!(p.run_ok(RUN).computed().is_empty());
}

#[test]
fn cache_ls_gc_and_clear() {
    let p = Project::new();
    p.run_ok(RUN);
    let ls = p.run_ok(&["cache", "ls"]);
    assert!(ls.stdout.contains("10 entries"), "{}", ls.stdout);
    assert!(ls.stdout.contains("kmeans[n_clusters=4]"), "{}", ls.stdout);

    // An edit orphans the old pca results; gc drops exactly the entries no manifest reaches.
    p.write(
        "experiments/tiny.toml",
        &common::MANIFEST.replace("n_components = 3", "n_components = 2"),
    );
    p.run_ok(RUN);
    assert!(p.run_ok(&["cache", "ls"]).stdout.contains("17 entries"));
    let gc = p.run_ok(&["cache", "gc", "experiments"]);
    assert!(gc.stdout.contains("removed 7 entries"), "{}", gc.stdout);
    assert!(
        p.run_ok(RUN).computed().is_empty(),
        "gc kept what the manifest reaches"
    );

    let clear = p.run_ok(&["cache", "clear"]);
    assert!(
        clear.stdout.contains("removed 10 entries"),
        "{}",
        clear.stdout
    );
    assert_eq!(p.run_ok(RUN).computed().len(), 10);
}

#[test]
fn plan_shows_cache_status_and_dot() {
    let p = Project::new();
    let before = p.run_ok(&["plan", "experiments/tiny.toml"]);
    assert!(
        before.stdout.contains("10 runs, 10 to compute"),
        "{}",
        before.stdout
    );
    p.run_ok(RUN);
    let after = p.run_ok(&["plan", "experiments/tiny.toml"]);
    assert!(
        after.stdout.contains("10 runs, 0 to compute"),
        "{}",
        after.stdout
    );
    let dot = p.run_ok(&["plan", "--dot", "experiments/tiny.toml"]);
    assert!(dot.stdout.starts_with("digraph \"tiny\""), "{}", dot.stdout);
    // subset, scaled, pca and two kmeans runs read one input each; four metrics read two.
    assert_eq!(
        dot.stdout.matches(" -> ").count(),
        5 + 4 * 2,
        "{}",
        dot.stdout
    );
}
