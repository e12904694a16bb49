//! results.json and the CSV files.

use crate::overview::{Overview, Profile};
use std::collections::BTreeMap;

use attrclust_core::{Artifact, Clustering, Dataset, Info, ParamValue};
use attrclust_pipeline::{Node, NodeKind, Plan, RunResult};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub(crate) fn param_json(v: &ParamValue) -> Value {
    match v {
        ParamValue::Int(i) => json!(i),
        ParamValue::Float(f) => json!(f),
        ParamValue::Bool(b) => json!(b),
        ParamValue::Str(s) => json!(s),
        ParamValue::List(items) => Value::Array(items.iter().map(param_json).collect()),
        ParamValue::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), param_json(v))).collect())
        }
    }
}

pub(crate) fn params_json(node: &Node) -> Value {
    Value::Object(
        node.params
            .values
            .iter()
            .map(|(k, v)| (k.clone(), param_json(v)))
            .collect(),
    )
}

/// Per-sample or per-merge arrays (a merge tree, …) are longer than this and stay out of
/// results.json; short arrays such as explained variance ratios go in.
const MAX_INFO_ARRAY: usize = 64;

pub(crate) fn info_json(info: &BTreeMap<String, Info>) -> Value {
    Value::Object(
        info.iter()
            .filter(|(_, v)| match v {
                Info::Floats(a) => a.len() <= MAX_INFO_ARRAY,
                Info::Ints(a) => a.len() <= MAX_INFO_ARRAY,
                _ => true,
            })
            .map(|(k, v)| {
                let v = match v {
                    Info::Int(i) => json!(i),
                    Info::Float(f) => json!(f),
                    Info::Floats(fs) => json!(fs),
                    Info::Ints(is) => json!(is),
                    Info::Text(t) => json!(t),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

pub(crate) fn dataset(run: &RunResult, i: usize) -> &Dataset {
    match &*run.artifacts[i] {
        Artifact::Dataset(d) => d,
        _ => panic!("node {i} is not a dataset"),
    }
}

pub(crate) fn clustering(run: &RunResult, i: usize) -> &Clustering {
    match &*run.artifacts[i] {
        Artifact::Clustering(c) => c,
        _ => panic!("node {i} is not a clustering"),
    }
}

/// Clustering runs featured in the report, in plan order.
pub(crate) fn featured_clusterings(plan: &Plan) -> Vec<usize> {
    plan.manifest
        .report_clusterings
        .iter()
        .flat_map(|s| plan.runs_of(s))
        .collect()
}

/// Embedding runs drawn in the report, in plan order.
pub(crate) fn featured_embeddings(plan: &Plan) -> Vec<usize> {
    plan.manifest
        .report_embeddings
        .iter()
        .flat_map(|s| plan.runs_of(s))
        .collect()
}

/// Class × cluster counts: `{"classes": [names], "clusters": [ids], "counts": [[…]]}` (noise is
/// cluster -1).
fn contingency_json(data: &Dataset, c: &Clustering) -> Value {
    let (classes, clusters, counts) =
        attrclust_core::data::contingency(&data.labels, &c.assignments);
    json!({
        "classes": classes.iter().map(|&l| data.class_name(l)).collect::<Vec<_>>(),
        "clusters": clusters,
        "counts": counts,
    })
}

/// For each featured clustering step, the run `[report] select` picks: the best value of the
/// selecting metric (first run on ties; runs where it is undefined never win).
pub(crate) fn selected_runs(plan: &Plan, run: &RunResult) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let Some(select) = &plan.manifest.manifest.report.select else {
        return out;
    };
    for step in &plan.manifest.report_clusterings {
        let runs = plan.runs_of(step);
        if runs.len() < 2 {
            continue; // nothing to choose between
        }
        let mut best: Option<(usize, f64)> = None;
        for r in runs {
            let value = plan.metrics_of(r).into_iter().find_map(|j| {
                match (&plan.nodes[j].step_name, &*run.artifacts[j]) {
                    (name, Artifact::Metric(v)) if *name == select.metric.value => v.value,
                    _ => None,
                }
            });
            if let Some(v) = value {
                let better = match best {
                    None => true,
                    Some((_, b)) => {
                        if select.maximize {
                            v > b
                        } else {
                            v < b
                        }
                    }
                };
                if better {
                    best = Some((r, v));
                }
            }
        }
        if let Some((r, _)) = best {
            out.insert(step.clone(), r);
        }
    }
    out
}

/// The metrics scored on run `i` (a clustering or an embedding): values (null where undefined),
/// reasons where undefined, and details.
fn scores_json(
    plan: &Plan,
    run: &RunResult,
    i: usize,
) -> (Map<String, Value>, Map<String, Value>, Map<String, Value>) {
    let (mut metrics, mut undefined, mut details) = (Map::new(), Map::new(), Map::new());
    for j in plan.metrics_of(i) {
        if let Artifact::Metric(v) = &*run.artifacts[j] {
            let name = plan.nodes[j].step_name.clone();
            metrics.insert(name.clone(), v.value.map_or(Value::Null, |x| json!(x)));
            if let Some(why) = &v.undefined_reason {
                undefined.insert(name.clone(), json!(why));
            }
            if !v.details.is_empty() {
                details.insert(name, info_json(&v.details));
            }
        }
    }
    (metrics, undefined, details)
}

/// The whole results.json document.
pub fn results_json(plan: &Plan, run: &RunResult) -> Value {
    let overview = Overview::new(dataset(run, 0), &plan.manifest.manifest.groups);
    results_json_with(plan, run, &overview)
}

/// [`results_json`] with the channel overview already computed.
pub(crate) fn results_json_with(plan: &Plan, run: &RunResult, ov: &Overview) -> Value {
    let m = &plan.manifest.manifest;
    let mut results = Map::new();
    for i in featured_clusterings(plan) {
        let node = &plan.nodes[i];
        let c = clustering(run, i);
        let (metrics, undefined, details) = scores_json(plan, run, i);
        results.insert(
            node.id.clone(),
            json!({
                "step": node.step_name,
                "op": node.plugin.name,
                "params": params_json(node),
                "sweep": Value::Object(node.sweep.iter().map(|(k, v)| (k.clone(), param_json(v))).collect()),
                "metrics": metrics,
                "undefined": undefined,
                "details": details,
                "n_clusters": c.n_clusters(),
                "n_noise": c.n_noise(),
                "n_samples": c.assignments.len(),
                "info": info_json(&c.info),
                "contingency": contingency_json(dataset(run, node.inputs[0]), c),
            }),
        );
    }
    let mut embeddings = Map::new();
    for i in featured_embeddings(plan) {
        let node = &plan.nodes[i];
        let d = dataset(run, i);
        let (metrics, undefined, details) = scores_json(plan, run, i);
        embeddings.insert(
            node.id.clone(),
            json!({"step": node.step_name, "op": node.plugin.name, "params": params_json(node),
                   "info": info_json(&d.info), "metrics": metrics, "undefined": undefined,
                   "details": details}),
        );
    }
    // Which channels carry each class's (and group's) attribution, on the loaded data.
    let data = dataset(run, 0);
    let top = |profiles: &[Profile]| -> Map<String, Value> {
        profiles
            .iter()
            .map(|p| {
                let names: Vec<&str> = p.top.iter().map(|&c| data.columns[c].as_str()).collect();
                (p.name.clone(), json!(names))
            })
            .collect()
    };
    let contrasts: Vec<Value> = ov
        .contrasts
        .iter()
        .map(|c| {
            let channels: Vec<Value> = c
                .channels
                .iter()
                .map(|&(ch, d)| json!({"channel": data.columns[ch], "d": d}))
                .collect();
            json!({"a": c.a, "b": c.b, "channels": channels})
        })
        .collect();
    let overview = json!({
        "top_channels": top(&ov.classes),
        "group_top_channels": top(&ov.groups),
        "group_contrasts": contrasts,
    });
    let selected: Map<String, Value> = selected_runs(plan, run)
        .into_iter()
        .map(|(step, r)| (step, json!(plan.nodes[r].id)))
        .collect();
    json!({
        "selected": selected,
        "experiment": {
            "name": m.experiment.name,
            "title": m.experiment.title,
            "description": m.experiment.description,
            "seed": m.experiment.seed,
        },
        "provenance": provenance(plan),
        "results": results,
        "embeddings": embeddings,
        "overview": overview,
    })
}

fn provenance(plan: &Plan) -> Value {
    let m = &plan.manifest.manifest;
    let mut steps = Map::new();
    let mut plugins = Map::new();
    for node in &plan.nodes {
        plugins.insert(node.plugin.name.to_string(), json!(node.plugin.version));
        if node.kind == NodeKind::ReportMetric {
            continue;
        }
        // Paths are shown as written in the manifest (relative), never absolute.
        steps.insert(
            node.id.clone(),
            json!({"op": node.plugin.name, "kind": node.plugin.kind().name(), "params": params_json(node), "seed": node.plugin.uses_seed.then_some(node.seed)}),
        );
    }
    let data: Map<String, Value> = plan
        .data_hashes
        .iter()
        .map(|(k, v)| (k.clone(), json!(attrclust_cache::hex(v))))
        .collect();
    json!({
        "manifest_sha256": attrclust_cache::hex(&Sha256::digest(m.source.as_bytes())),
        "manifest": m.path.file_name().map(|f| f.to_string_lossy().to_string()),
        "data_sha256": data,
        "attrclust_version": env!("CARGO_PKG_VERSION"),
        "plugins": plugins,
        "steps": steps,
        "seed": m.experiment.seed,
    })
}

/// A run id as a file name: ids are kept as they are except for characters that are unsafe in
/// paths (a swept string could hold `/`), which become `_`.
pub(crate) fn file_name(run_id: &str) -> String {
    run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.,=[]+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `clusters/<run id>.csv`: `sample_id,label,cluster`, one row per sample in input order.
pub(crate) fn cluster_csvs(plan: &Plan, run: &RunResult) -> Vec<(String, String)> {
    featured_clusterings(plan)
        .into_iter()
        .map(|i| {
            let node = &plan.nodes[i];
            let data = dataset(run, node.inputs[0]);
            let c = clustering(run, i);
            let mut out = String::from("sample_id,label,cluster\n");
            for ((id, label), cluster) in data.ids.iter().zip(&data.labels).zip(&c.assignments) {
                out.push_str(&format!("{},{label},{cluster}\n", csv_field(id)));
            }
            (format!("{}.csv", file_name(&node.id)), out)
        })
        .collect()
}

/// `embeddings/<run id>.csv`: `sample_id,label,x,y` (the first two columns).
pub(crate) fn embedding_csvs(plan: &Plan, run: &RunResult) -> Vec<(String, String)> {
    featured_embeddings(plan)
        .into_iter()
        .map(|i| {
            let d = dataset(run, i);
            let mut out = String::from("sample_id,label,x,y\n");
            for r in 0..d.n_samples() {
                let x = d.x[[r, 0]];
                let y = if d.n_features() > 1 { d.x[[r, 1]] } else { 0.0 };
                out.push_str(&format!(
                    "{},{},{x:?},{y:?}\n",
                    csv_field(&d.ids[r]),
                    d.labels[r]
                ));
            }
            (format!("{}.csv", file_name(&plan.nodes[i].id)), out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_keep_run_ids_but_not_path_separators() {
        assert_eq!(
            super::file_name("kmeans[n_clusters=4,init=k-means++]"),
            "kmeans[n_clusters=4,init=k-means++]"
        );
        assert_eq!(
            super::file_name("x[classes=../../etc]"),
            "x[classes=.._.._etc]"
        );
    }
}
