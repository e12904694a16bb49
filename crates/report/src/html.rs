//! index.html through Tera. The template lives in `templates/report.html`; this module only
//! prepares what it shows.

use attrclust_core::data::{class_name, contingency};
use attrclust_core::{Artifact, Info, ParamValue};
use attrclust_pipeline::{Plan, RunResult};
use serde_json::{Value, json};

use crate::plots;
use crate::results::{
    clustering, dataset, featured_clusterings, featured_embeddings, selected_runs,
};

const REPORT_TEMPLATE: &str = include_str!("../templates/report.html");
const INDEX_TEMPLATE: &str = include_str!("../templates/index.html");

fn tera_error(e: tera::Error) -> attrclust_core::Error {
    attrclust_core::Error::run(format!("cannot render the report: {e}"))
}

fn render_template(
    name: &str,
    template: &str,
    ctx: &tera::Context,
) -> attrclust_core::Result<String> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template(name, template).map_err(tera_error)?;
    tera.render(name, ctx).map_err(tera_error)
}

/// `key: v1, v2, …` lines for a metric's details (per-cluster values, …).
fn details_text(details: &Value) -> String {
    let Some(obj) = details.as_object() else {
        return String::new();
    };
    obj.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|x| match x.as_i64() {
                        Some(i) if x.is_i64() => i.to_string(),
                        _ => fmt_num(x.as_f64()),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => match other.as_i64() {
                    Some(i) if other.is_i64() => i.to_string(),
                    _ => fmt_num(other.as_f64()),
                },
            };
            format!("{k}: {text}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A number for people: 4 significant decimals, or "—" for undefined.
fn fmt_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.abs() >= 1e5 || (x != 0.0 && x.abs() < 1e-3) => format!("{x:.3e}"),
        Some(x) => format!("{x:.4}"),
        None => "—".into(),
    }
}

fn params_text(params: &std::collections::BTreeMap<String, ParamValue>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn render(
    plan: &Plan,
    run: &RunResult,
    results: &Value,
    overview: &crate::overview::Overview,
) -> attrclust_core::Result<String> {
    let m = &plan.manifest.manifest;
    let data = dataset(run, 0);

    // Data overview: samples per class in the loaded data.
    let mut classes = Vec::new();
    for (id, name) in &data.classes {
        let count = data.labels.iter().filter(|&&l| l == *id).count();
        classes.push(
            json!({"id": id, "name": name, "color": plots::class_color(*id), "count": count}),
        );
    }

    // Which channels carry each class's attribution: heatmap, top channels, class similarity.
    let (class_profiles, group_profiles) = (&overview.classes, &overview.groups);
    let heatmap = if class_profiles.is_empty() || data.n_features() == 0 {
        String::new()
    } else {
        let rows: Vec<(String, Vec<f64>)> = class_profiles
            .iter()
            .map(|p| (p.name.clone(), p.mean.clone()))
            .collect();
        plots::heatmap(
            &rows,
            &data.columns,
            "channel",
            "Mean attribution per class and channel (red positive, blue negative)",
        )?
    };
    let top_rows = |profiles: &[crate::overview::Profile]| -> Vec<Value> {
        profiles
            .iter()
            .map(|p| {
                let channels: Vec<String> = p
                    .top
                    .iter()
                    .map(|&c| format!("{} ({})", data.columns[c], fmt_num(Some(p.mean[c]))))
                    .collect();
                json!({"name": p.name, "color": p.class.map(plots::class_color).unwrap_or_default(),
                       "channels": channels.join(", ")})
            })
            .collect()
    };
    let contrasts: Vec<Value> = overview
        .contrasts
        .iter()
        .map(|c| {
            let channels: Vec<String> = c
                .channels
                .iter()
                .map(|&(ch, d)| format!("{} (d = {d:+.2})", data.columns[ch]))
                .collect();
            json!({"pair": format!("{} vs {}", c.a, c.b), "channels": channels.join(", ")})
        })
        .collect();
    let top_classes = top_rows(class_profiles);
    let top_groups = top_rows(group_profiles);
    let similarity: Vec<Value> = class_profiles
        .iter()
        .map(|a| {
            let cells: Vec<Value> = class_profiles
                .iter()
                .map(|b| {
                    let s = crate::overview::cosine(&a.mean, &b.mean);
                    json!({"value": fmt_num(Some(s)), "color": plots::diverging_hex(s)})
                })
                .collect();
            json!({"name": a.name, "cells": cells})
        })
        .collect();

    let mut embeddings = Vec::new();
    for i in featured_embeddings(plan) {
        let d = dataset(run, i);
        let legend: Vec<(i64, String)> = d.classes.iter().map(|(k, v)| (*k, v.clone())).collect();
        let svg = plots::scatter(
            d,
            &d.labels,
            &legend,
            &format!("{} — coloured by class", plan.nodes[i].id),
        )?;
        let ratio = match d.info.get("explained_variance_ratio") {
            Some(Info::Floats(r)) => r
                .iter()
                .take(10)
                .map(|v| fmt_num(Some(*v)))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        let scree = match d.info.get("explained_variance_ratio") {
            Some(Info::Floats(r)) if r.len() > 1 => plots::scree(
                &r[..r.len().min(50)],
                &format!("{} — scree plot", plan.nodes[i].id),
            )?,
            _ => String::new(),
        };
        let entry = &results["embeddings"][&plan.nodes[i].id];
        embeddings.push(
            json!({"id": plan.nodes[i].id, "svg": svg, "explained_variance_ratio": ratio,
                               "metrics": metric_rows(entry), "info": info_rows(&d.info), "scree": scree}),
        );
    }

    let selected = selected_runs(plan, run);
    let select_text = m.report.select.as_ref().map(|s| {
        format!(
            "{} {}",
            if s.maximize { "highest" } else { "lowest" },
            s.metric.value
        )
    });
    let mut clusterings = Vec::new();
    for i in featured_clusterings(plan) {
        let node = &plan.nodes[i];
        let input = dataset(run, node.inputs[0]);
        let c = clustering(run, i);
        let (class_ids, cluster_ids, counts) = contingency(&input.labels, &c.assignments);
        let rows: Vec<Value> = class_ids
            .iter()
            .zip(&counts)
            .map(|(id, row)| {
                json!({"name": class_name(&input.classes, *id), "color": plots::class_color(*id),
                       "counts": row, "total": row.iter().sum::<usize>()})
            })
            .collect();
        // The same table by group (family), when the manifest has groups.
        let group_rows: Vec<Value> = m
            .groups
            .iter()
            .map(|(name, members)| {
                let counts: Vec<usize> = (0..cluster_ids.len())
                    .map(|j| {
                        class_ids
                            .iter()
                            .zip(&counts)
                            .filter(|(id, _)| members.contains(&class_name(&input.classes, **id)))
                            .map(|(_, row)| row[j])
                            .sum()
                    })
                    .collect();
                json!({"name": name, "total": counts.iter().sum::<usize>(), "counts": counts})
            })
            .collect();
        let cluster_sizes: Vec<usize> = (0..cluster_ids.len())
            .map(|j| counts.iter().map(|r| r[j]).sum())
            .collect();
        let cluster_purity: Vec<String> = (0..cluster_ids.len())
            .map(|j| {
                let max = counts.iter().map(|r| r[j]).max().unwrap_or(0);
                fmt_num(Some(max as f64 / cluster_sizes[j].max(1) as f64))
            })
            .collect();
        let entry = &results["results"][&node.id];
        let metrics = metric_rows(entry);
        let info = info_rows(&c.info);
        // A scatter of the clustering's input (first two columns), coloured by cluster, and the
        // top of the merge tree for hierarchical clusterings.
        let mut cluster_legend: Vec<(i64, String)> = cluster_ids
            .iter()
            .map(|&k| {
                (
                    k,
                    if k < 0 {
                        "noise".to_string()
                    } else {
                        format!("cluster {k}")
                    },
                )
            })
            .collect();
        cluster_legend.sort_by_key(|(k, _)| if *k < 0 { i64::MAX } else { *k });
        let is_selected = selected.get(&node.step_name) == Some(&i);
        let folded = selected.contains_key(&node.step_name) && !is_selected;
        let scatter = if input.n_features() >= 2 && !folded {
            plots::scatter(
                input,
                &c.assignments,
                &cluster_legend,
                &format!("{} — coloured by cluster", node.id),
            )?
        } else {
            String::new()
        };
        let dendrogram = match (
            c.info.get("merge_a"),
            c.info.get("merge_b"),
            c.info.get("merge_distance"),
            c.info.get("merge_size"),
        ) {
            (
                Some(Info::Ints(a)),
                Some(Info::Ints(b)),
                Some(Info::Floats(d)),
                Some(Info::Ints(z)),
            ) => {
                let merges: Vec<(usize, usize, f64, usize)> = (0..a.len())
                    .map(|i| (a[i] as usize, b[i] as usize, d[i], z[i] as usize))
                    .collect();
                plots::dendrogram(
                    input.n_samples(),
                    &merges,
                    40,
                    &format!("{} — top of the merge tree", node.id),
                )?
            }
            _ => String::new(),
        };
        let silhouette = if folded {
            String::new()
        } else {
            silhouette_plot(plan, run, i, &c.assignments)?
        };
        // With a selection, the other runs of a swept step are folded away.
        clusterings.push(json!({
            "id": node.id, "n_clusters": c.n_clusters(), "n_noise": c.n_noise(),
            "selected": is_selected, "folded": folded, "select_text": select_text,
            "scatter": scatter, "dendrogram": dendrogram, "silhouette": silhouette,
            "clusters": cluster_ids.iter().map(|c| if *c < 0 { "noise".to_string() } else { c.to_string() }).collect::<Vec<_>>(),
            "cluster_sizes": cluster_sizes, "cluster_purity": cluster_purity,
            "rows": rows, "group_rows": group_rows, "metrics": metrics, "info": info,
        }));
    }

    let sweeps = sweep_plots(plan, run)?;
    let steps: Vec<Value> = plan
        .nodes
        .iter()
        .filter(|n| n.kind != attrclust_pipeline::NodeKind::ReportMetric)
        .map(|n| json!({"id": n.id, "op": n.plugin.name, "version": n.plugin.version, "params": params_text(&n.params.values)}))
        .collect();

    let mut ctx = tera::Context::new();
    ctx.insert("experiment", &results["experiment"]);
    ctx.insert("provenance", &results["provenance"]);
    ctx.insert("n_samples", &data.n_samples());
    ctx.insert("n_channels", &data.n_features());
    ctx.insert("classes", &classes);
    ctx.insert("embeddings", &embeddings);
    ctx.insert("clusterings", &clusterings);
    ctx.insert("sweeps", &sweeps);
    ctx.insert("steps", &steps);
    // Tera maps are unordered: everything the template iterates is a list.
    let groups: Vec<Value> = m
        .groups
        .iter()
        .map(|(g, members)| json!({"name": g, "members": members.join(", ")}))
        .collect();
    ctx.insert("groups", &groups);
    ctx.insert("heatmap", &heatmap);
    ctx.insert("top_classes", &top_classes);
    ctx.insert("top_groups", &top_groups);
    ctx.insert("contrasts", &contrasts);
    ctx.insert("similarity", &similarity);
    ctx.insert(
        "similarity_names",
        &class_profiles
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>(),
    );
    let data_hashes: Vec<Value> = plan
        .data_hashes
        .iter()
        .map(|(k, v)| json!({"name": k, "sha256": attrclust_cache::hex(v)}))
        .collect();
    ctx.insert("data_hashes", &data_hashes);
    render_template("report.html", REPORT_TEMPLATE, &ctx)
}

/// Table rows for the metrics of a results.json entry (a clustering or an embedding).
fn metric_rows(entry: &Value) -> Vec<Value> {
    entry["metrics"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    json!({"name": k, "value": fmt_num(v.as_f64()),
                    "why": entry["undefined"][k].as_str().unwrap_or(""),
                    "details": details_text(&entry["details"][k])})
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Table rows for a step's scalar results (inertia, KL divergence, …).
fn info_rows(info: &std::collections::BTreeMap<String, Info>) -> Vec<Value> {
    info.iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Info::Int(i) => i.to_string(),
                Info::Float(f) => fmt_num(Some(*f)),
                // Per-sample and per-merge arrays are drawn or kept in the cache, not listed.
                Info::Floats(_) | Info::Ints(_) => return None,
                Info::Text(t) => t.clone(),
            };
            Some(json!({"name": k, "value": text}))
        })
        .collect()
}

/// The silhouette plot of a clustering run, when a `silhouette` metric scored it.
fn silhouette_plot(
    plan: &Plan,
    run: &RunResult,
    i: usize,
    assignments: &[i64],
) -> attrclust_core::Result<String> {
    for j in plan.metrics_of(i) {
        if plan.nodes[j].plugin.name != "silhouette" {
            continue;
        }
        if let Artifact::Metric(v) = &*run.artifacts[j]
            && let (Some(mean), Some(Info::Floats(values))) = (v.value, v.details.get("per_sample"))
            && values.len() == assignments.len()
        {
            let title = format!(
                "{} — silhouette of each sample (dashed: mean)",
                plan.nodes[i].id
            );
            return plots::silhouette(assignments, values, mean, &title);
        }
    }
    Ok(String::new())
}

/// One curve plot per clustering step swept over a single numeric parameter.
fn sweep_plots(plan: &Plan, run: &RunResult) -> attrclust_core::Result<Vec<Value>> {
    let mut out = Vec::new();
    for step in &plan.manifest.report_clusterings {
        let runs = plan.runs_of(step);
        if runs.len() < 2 {
            continue;
        }
        let keys: Vec<&String> = plan.nodes[runs[0]].sweep.iter().map(|(k, _)| k).collect();
        if keys.len() != 1 {
            continue; // grids and chained sweeps are listed in the tables only
        }
        // Every metric scored on these runs (report metrics and explicit metric steps), in the
        // order first met.
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for &r in &runs {
            let x = match &plan.nodes[r].sweep[0].1 {
                ParamValue::Int(i) => *i as f64,
                ParamValue::Float(f) => *f,
                _ => continue,
            };
            for j in plan.metrics_of(r) {
                let Artifact::Metric(v) = &*run.artifacts[j] else {
                    continue;
                };
                let Some(y) = v.value else { continue };
                let name = &plan.nodes[j].step_name;
                match series.iter_mut().find(|(n, _)| n == name) {
                    Some((_, pts)) => pts.push((x, y)),
                    None => series.push((name.clone(), vec![(x, y)])),
                }
            }
        }
        if series.is_empty() {
            continue;
        }
        let svg = plots::sweep_curve(keys[0], &series)?;
        out.push(json!({"step": step, "param": keys[0], "svg": svg}));
    }
    Ok(out)
}

pub(crate) fn render_index(entries: &[(String, String)]) -> attrclust_core::Result<String> {
    let mut ctx = tera::Context::new();
    let list: Vec<Value> = entries
        .iter()
        .map(|(n, t)| json!({"name": n, "title": t}))
        .collect();
    ctx.insert("reports", &list);
    render_template("index.html", INDEX_TEMPLATE, &ctx)
}
