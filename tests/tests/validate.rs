//! Manifest errors: each names file:line:column, says what is wrong and how to fix it, and
//! exits with code 2 — before anything runs.

mod common;

use common::{MANIFEST, Project};

/// Writes a variant of the tiny manifest, validates it, and returns stderr.
fn invalid(edit: impl Fn(&str) -> String) -> String {
    let p = Project::new();
    p.write("experiments/bad.toml", &edit(MANIFEST));
    let out = p.run(&["validate", "experiments/bad.toml"]);
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    // Nothing ran: no cache, no report.
    assert!(!p.path(".attrclust").exists() && !p.path("reports").exists());
    out.stderr
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in manifest")
        + 1
}

#[test]
fn unknown_op_suggests_the_right_one_with_position() {
    let err = invalid(|m| m.replace("op = \"kmeans\"", "op = \"kmean\""));
    let line = line_of(MANIFEST, "op = \"kmeans\"");
    assert!(
        err.contains(&format!("experiments/bad.toml:{line}:6")),
        "{err}"
    );
    assert!(err.contains("unknown op `kmean`"), "{err}");
    assert!(err.contains("did you mean `kmeans`?"), "{err}");
}

#[test]
fn unknown_parameter_lists_the_real_ones() {
    let err = invalid(|m| m.replace("n_components = 3", "n_component = 3"));
    let line = line_of(MANIFEST, "n_components = 3");
    assert!(err.contains(&format!("bad.toml:{line}:1")), "{err}");
    assert!(err.contains("did you mean `n_components`?"), "{err}");
    assert!(
        err.contains("whiten"),
        "the hint lists the parameters: {err}"
    );
}

#[test]
fn wrong_type_and_out_of_range_values() {
    let err = invalid(|m| m.replace("n_components = 3", "n_components = \"three\""));
    assert!(
        err.contains("expected integer ≥ 1 or fraction in (0, 1)"),
        "{err}"
    );
    let err = invalid(|m| m.replace("sweep = [2, 4]", "sweep = [2, 0]"));
    assert!(err.contains("must be ≥ 1"), "{err}");
    let err = invalid(|m| m.replace("seed = 7", "seed = \"7\""));
    assert!(err.contains("`seed` must be an integer"), "{err}");
}

#[test]
fn missing_input_and_cycles() {
    let err = invalid(|m| m.replace("input = \"scaled\"", "input = \"scaled_data\""));
    assert!(
        err.contains("reads `scaled_data`, which is not a step, did you mean `scaled`?"),
        "{err}"
    );
    let err = invalid(|m| m.replace("input = \"data\"", "input = \"pca\""));
    assert!(err.contains("cycle"), "{err}");
    assert!(
        err.contains("the steps form a cycle: subset → scaled → pca → subset"),
        "{err}"
    );
}

#[test]
fn port_type_mismatch() {
    let err = invalid(|m| format!("{m}\n[step.sil]\nop = \"silhouette\"\ninput = \"pca\"\n"));
    assert!(
        err.contains(
            "step `sil` (a metric) needs a clustering as input, but `pca` gives an embedding"
        ),
        "{err}"
    );
    let err = invalid(|m| m.replace("embeddings = [\"pca\"]", "embeddings = [\"kmeans\"]"));
    assert!(
        err.contains("lists `kmeans` as an embedding, but it is a clusterer step"),
        "{err}"
    );
}

#[test]
fn metrics_of_embeddings_score_reducers_only() {
    let err =
        invalid(|m| format!("{m}\n[step.tw]\nop = \"trustworthiness\"\ninput = \"kmeans\"\n"));
    assert!(
        err.contains(
            "step `tw` (a metric) needs an embedding as input, but `kmeans` gives a clustering"
        ),
        "{err}"
    );
    assert!(err.contains("feed it a reducer step"), "{err}");
    // `select` picks a clustering run, so it cannot use a metric of embeddings.
    let err = invalid(|m| {
        m.replace(
            "metrics = [\"silhouette\", \"purity\"]",
            "metrics = [\"silhouette\", \"purity\", \"trustworthiness\"]\nselect = { metric = \"trustworthiness\" }",
        )
    });
    let line = line_of(MANIFEST, "metrics = [") + 1;
    assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
    assert!(
        err.contains("`select` picks a clustering run, but `trustworthiness` scores embeddings"),
        "{err}"
    );
    // In [report] metrics it needs a featured reducer.
    let err = invalid(|m| {
        m.replace("embeddings = [\"pca\"]", "embeddings = []")
            .replace(
                "metrics = [\"silhouette\", \"purity\"]",
                "metrics = [\"silhouette\", \"trustworthiness\"]",
            )
    });
    assert!(
        err.contains("[report] metric `trustworthiness` scores embeddings, but [report] embeddings lists no reducer step"),
        "{err}"
    );
}

#[test]
fn structural_errors() {
    let err = invalid(|m| m.replace("[report]", "[reprot]"));
    assert!(
        err.contains("unknown section `[reprot]`, did you mean `report`?"),
        "{err}"
    );
    let err = invalid(|m| {
        m.replace(
            "metrics = [\"silhouette\", \"purity\"]",
            "metrics = [\"silhoutte\"]",
        )
    });
    assert!(err.contains("unknown metric `silhoutte`"), "{err}");
    let err = invalid(|m| m.replace("path = \"data/tiny.npz\"", "path = \"data/tiny.parquet\""));
    assert!(err.contains("no loader reads `.parquet` files"), "{err}");
    let err = invalid(|m| m.replace("title = \"Tiny", "title = Tiny"));
    assert!(err.contains("invalid TOML"), "{err}");
    let err = invalid(|m| m.replace("path = \"data/tiny.npz\"", "path = \"data/missing.npz\""));
    assert!(
        err.contains("cannot read") && err.contains("missing.npz"),
        "{err}"
    );
}

#[test]
fn a_valid_manifest_validates() {
    let p = Project::new();
    let out = p.run_ok(&["validate", "experiments/tiny.toml"]);
    assert!(
        out.stdout.contains("ok (4 steps, 10 runs)"),
        "{}",
        out.stdout
    );
}

#[test]
fn command_line_errors_exit_2() {
    let p = Project::new();
    let out = p.run(&["run", "experiments/nope.toml"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("nope.toml: cannot read manifest"),
        "{}",
        out.stderr
    );
    let out = p.run(&["--threads", "0", "experiments/tiny.toml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = p.run(&["frobnicate"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}
