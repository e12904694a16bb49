//! Cache keys at the library level: a plugin's version is part of every key of its results.

mod common;

use attrclust as _; // links every plugin into this test binary
use attrclust_core::Plugin;
use attrclust_manifest::{Manifest, validate};
use attrclust_pipeline::Plan;

fn keys(plan: &Plan) -> Vec<(String, String)> {
    plan.nodes
        .iter()
        .map(|n| (n.id.clone(), n.key.hex()))
        .collect()
}

#[test]
fn bumping_a_plugin_version_invalidates_exactly_its_results_and_dependents() {
    let p = common::Project::new();
    let manifest = Manifest::load(&p.path("experiments/tiny.toml")).unwrap();
    let validated = validate(manifest).unwrap();
    let before = keys(&Plan::build(validated.clone()).unwrap());

    let mut bumped = validated;
    let i = bumped
        .manifest
        .steps
        .iter()
        .position(|s| s.name == "pca")
        .unwrap();
    let pca = bumped.plugins[i];
    let next: &'static Plugin = Box::leak(Box::new(Plugin {
        version: "999",
        name: pca.name,
        summary: pca.summary,
        params: pca.params,
        build: pca.build,
        uses_seed: pca.uses_seed,
        uses_groups: pca.uses_groups,
    }));
    bumped.plugins[i] = next;
    let after = keys(&Plan::build(bumped).unwrap());

    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "pca",
            "kmeans[n_clusters=2]",
            "kmeans[n_clusters=4]",
            "silhouette@kmeans[n_clusters=2]",
            "purity@kmeans[n_clusters=2]",
            "silhouette@kmeans[n_clusters=4]",
            "purity@kmeans[n_clusters=4]",
        ]
    );
}

#[test]
fn seeds_and_groups_enter_keys_only_of_plugins_that_use_them() {
    let p = common::Project::new();
    let plan = |text: &str| {
        p.write("experiments/tiny.toml", text);
        keys(
            &Plan::build(
                validate(Manifest::load(&p.path("experiments/tiny.toml")).unwrap()).unwrap(),
            )
            .unwrap(),
        )
    };
    let base = plan(common::MANIFEST);
    let reseeded = plan(&common::MANIFEST.replace("seed = 7", "seed = 8"));
    let changed: Vec<&str> = base
        .iter()
        .zip(&reseeded)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.as_str())
        .collect();
    // k-means and PCA (its randomized solver) are seeded; everything they feed changes with
    // them. Loader, selection and scaling are deterministic and keep their results.
    assert_eq!(
        changed,
        [
            "pca",
            "kmeans[n_clusters=2]",
            "kmeans[n_clusters=4]",
            "silhouette@kmeans[n_clusters=2]",
            "purity@kmeans[n_clusters=2]",
            "silhouette@kmeans[n_clusters=4]",
            "purity@kmeans[n_clusters=4]",
        ]
    );

    let regrouped = plan(&common::MANIFEST.replace(
        "color = [\"color_rotation\", \"color_temperature\"]",
        "color = [\"color_rotation\"]",
    ));
    assert_eq!(base[0], regrouped[0], "the loader does not read groups");
    assert_ne!(base[1], regrouped[1], "select_classes does");
}
