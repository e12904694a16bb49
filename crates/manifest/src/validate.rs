//! Checks a parsed manifest against the plugin registry before anything runs: known ops and
//! parameters (with "did you mean"), parameter types and ranges, required parameters, existing
//! inputs, port types on every edge, and the absence of cycles.

use std::collections::BTreeMap;

use attrclust_core::suggest::did_you_mean;
use attrclust_core::{Error, ParamSpec, ParamValue, Plugin, PluginKind, PortType, Result};

use crate::{DATA_INPUT, Located, Manifest, ParamEntry, Pos, StepDef};

/// A manifest whose steps all resolve to registered plugins and form a well-typed DAG.
#[derive(Clone)]
pub struct ValidatedManifest {
    pub manifest: Manifest,
    pub loader: &'static Plugin,
    /// Step index → plugin, parallel to `manifest.steps`.
    pub plugins: Vec<&'static Plugin>,
    /// Step indices in a topological order (inputs first).
    pub order: Vec<usize>,
    /// Steps drawn as scatters in the report.
    pub report_embeddings: Vec<String>,
    /// Clustering steps featured in the report.
    pub report_clusterings: Vec<String>,
    /// Metric ops computed for every featured clustering.
    pub report_metrics: Vec<&'static Plugin>,
}

impl ValidatedManifest {
    pub fn plugin_of(&self, step: &str) -> Option<&'static Plugin> {
        let i = self.manifest.steps.iter().position(|s| s.name == step)?;
        Some(self.plugins[i])
    }

    /// The output type of a step, or of the loader for `data`.
    pub fn output_type(&self, step: &str) -> Option<PortType> {
        if step == DATA_INPUT {
            return Some(PortType::Matrix);
        }
        self.plugin_of(step).map(|p| p.kind().output_type())
    }
}

/// Checks a parameter list against a schema; returns the resolved values (defaults filled in)
/// of one variant. `at` turns a position into `file:line:col`.
pub fn check_params<'a>(
    schema: &'static [ParamSpec],
    given: impl IntoIterator<Item = (&'a Located<String>, Vec<(&'a ParamValue, Pos)>)>,
    owner: &str,
    at: &dyn Fn(Pos) -> String,
    owner_pos: Pos,
) -> Result<()> {
    let mut seen = Vec::new();
    for (key, values) in given {
        let Some(spec) = schema.iter().find(|s| s.name == key.value) else {
            let names: Vec<&str> = schema.iter().map(|s| s.name).collect();
            let hint = if names.is_empty() {
                "this op takes no parameters".to_string()
            } else {
                format!("its parameters are: {}", names.join(", "))
            };
            return Err(Error::input(format!(
                "unknown parameter `{}` for {owner}{}",
                key.value,
                did_you_mean(&key.value, names.iter().copied())
            ))
            .at(at(key.pos))
            .hint(hint));
        };
        for (value, pos) in values {
            spec.check(value).map_err(|why| {
                Error::input(format!("parameter `{}` of {owner}: {why}", spec.name))
                    .at(at(pos))
                    .hint(format!("{}: {}", spec.name, spec.doc))
            })?;
        }
        seen.push(spec.name);
    }
    for spec in schema {
        if spec.default == attrclust_core::params::Default::Required && !seen.contains(&spec.name) {
            return Err(
                Error::input(format!("{owner} needs parameter `{}`", spec.name))
                    .at(at(owner_pos))
                    .hint(format!("add `{} = …` ({})", spec.name, spec.doc)),
            );
        }
    }
    Ok(())
}

/// Validates a manifest against the registered plugins.
pub fn validate(manifest: Manifest) -> Result<ValidatedManifest> {
    let at = |pos: Pos| manifest.at(pos);
    let loader = resolve_loader(&manifest)?;
    check_params(
        loader.params,
        manifest
            .data
            .params
            .iter()
            .map(|(k, v)| (k, vec![(&v.value, v.pos)])),
        &format!("the `{}` loader in [data]", loader.name),
        &at,
        manifest.data.pos,
    )?;

    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, step) in manifest.steps.iter().enumerate() {
        names.insert(&step.name, i);
    }
    let mut plugins = Vec::new();
    for step in &manifest.steps {
        let plugin = resolve_op(&manifest, step)?;
        check_params(
            plugin.params,
            step.params.iter().map(|(k, v)| {
                let values = match &v.value {
                    ParamEntry::Fixed(x) => vec![(x, v.pos)],
                    ParamEntry::Sweep(xs) => xs.iter().map(|x| (x, v.pos)).collect(),
                };
                (k, values)
            }),
            &format!("step `{}` (op `{}`)", step.name, plugin.name),
            &at,
            step.pos,
        )?;
        plugins.push(plugin);
    }

    // Inputs exist and their types fit.
    for (step, plugin) in manifest.steps.iter().zip(&plugins) {
        if step.inputs.len() != 1 {
            let pos = step.inputs.first().map(|i| i.pos).unwrap_or(step.pos);
            return Err(Error::input(format!(
                "step `{}` has {} inputs; op `{}` takes exactly one",
                step.name,
                step.inputs.len(),
                plugin.name
            ))
            .at(at(pos)));
        }
        for input in &step.inputs {
            let output = if input.value == DATA_INPUT {
                PortType::Matrix
            } else if let Some(&j) = names.get(input.value.as_str()) {
                plugins[j].kind().output_type()
            } else {
                let candidates = names.keys().copied().chain([DATA_INPUT]);
                return Err(Error::input(format!(
                    "step `{}` reads `{}`, which is not a step{}",
                    step.name,
                    input.value,
                    did_you_mean(&input.value, candidates)
                ))
                .at(at(input.pos))
                .hint("`input` names another [step.NAME] or `data` (the loaded file)"));
            };
            let wanted = plugin.input_type().expect("ops have inputs");
            if !output.fits(wanted) {
                return Err(Error::input(format!(
                    "step `{}` (a {}) needs {} as input, but `{}` gives {}",
                    step.name,
                    plugin.kind().name(),
                    wanted.describe(),
                    input.value,
                    output.describe()
                ))
                .at(at(input.pos))
                .hint(match wanted {
                    PortType::Clustering => "feed it a clustering step (kmeans, hdbscan, …)",
                    PortType::Embedding => "feed it a reducer step (pca, tsne, umap, …)",
                    _ => "feed it `data`, a transform or a reducer step",
                }));
            }
        }
    }

    let order = topological_order(&manifest, &names)?;
    let (report_embeddings, report_clusterings, report_metrics) =
        resolve_report(&manifest, &names, &plugins)?;
    if let Some(select) = &manifest.report.select {
        // The metric must be scored on the featured clusterings: a report metric or a metric step.
        let mut scored: Vec<&str> = report_metrics
            .iter()
            .filter(|p| !p.scores_embeddings())
            .map(|p| p.name)
            .collect();
        scored.extend(
            manifest
                .steps
                .iter()
                .zip(&plugins)
                .filter(|(_, p)| p.kind() == PluginKind::Metric && !p.scores_embeddings())
                .map(|(s, _)| s.name.as_str()),
        );
        let embedding_metric = Plugin::op(&select.metric.value)
            .filter(|p| p.scores_embeddings())
            .map(|p| p.name)
            .or_else(|| {
                let i = names.get(select.metric.value.as_str())?;
                plugins[*i].scores_embeddings().then_some(plugins[*i].name)
            });
        if let Some(name) = embedding_metric {
            return Err(Error::input(format!(
                "`select` picks a clustering run, but `{}` scores embeddings (`{name}`)",
                select.metric.value
            ))
            .at(manifest.at(select.metric.pos))
            .hint(format!(
                "select by a clustering metric; computed: {}",
                scored.join(", ")
            )));
        }
        if !scored.contains(&select.metric.value.as_str()) {
            return Err(Error::input(format!(
                "`select` uses metric `{}`, which is not computed{}",
                select.metric.value,
                did_you_mean(&select.metric.value, scored.iter().copied())
            ))
            .at(manifest.at(select.metric.pos))
            .hint(format!(
                "list it in [report] metrics, or add it as a metric step; computed: {}",
                scored.join(", ")
            )));
        }
    }
    Ok(ValidatedManifest {
        loader,
        plugins,
        order,
        report_embeddings,
        report_clusterings,
        report_metrics,
        manifest,
    })
}

fn resolve_loader(manifest: &Manifest) -> Result<&'static Plugin> {
    let loaders: Vec<&'static Plugin> = Plugin::all()
        .into_iter()
        .filter(|p| p.kind() == PluginKind::Loader)
        .collect();
    let names: Vec<&str> = loaders.iter().map(|p| p.name).collect();
    if let Some(format) = &manifest.data.format {
        return Plugin::loader(&format.value).ok_or_else(|| {
            Error::input(format!(
                "unknown data format `{}`{}",
                format.value,
                did_you_mean(&format.value, names.iter().copied())
            ))
            .at(manifest.at(format.pos))
            .hint(format!("formats: {}", names.join(", ")))
        });
    }
    let path = manifest.data.params.iter().find(|(k, _)| k.value == "path");
    let Some((_, path)) = path else {
        return Err(Error::input("[data] has no `path`")
            .at(manifest.at(manifest.data.pos))
            .hint("add `path = \"data/your_file.npz\"` (relative to the manifest)"));
    };
    let ParamValue::Str(p) = &path.value else {
        return Err(Error::input("[data] `path` must be a string").at(manifest.at(path.pos)));
    };
    let ext = std::path::Path::new(p)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    Plugin::loader_for_extension(ext).ok_or_else(|| {
        Error::input(format!("no loader reads `.{ext}` files (`{p}`)"))
            .at(manifest.at(path.pos))
            .hint(format!(
                "use a supported file or set `format` to one of: {}",
                names.join(", ")
            ))
    })
}

fn resolve_op(manifest: &Manifest, step: &StepDef) -> Result<&'static Plugin> {
    if let Some(plugin) = Plugin::op(&step.op.value) {
        return Ok(plugin);
    }
    let hint = if Plugin::loader(&step.op.value).is_some() {
        "loaders are configured in [data], not as steps".to_string()
    } else {
        "`attrclust plugins` lists every op".to_string()
    };
    Err(Error::input(format!(
        "unknown op `{}` in step `{}`{}",
        step.op.value,
        step.name,
        did_you_mean(&step.op.value, Plugin::op_names())
    ))
    .at(manifest.at(step.op.pos))
    .hint(hint))
}

/// Kahn's algorithm in manifest order; on a cycle, names the steps on it.
fn topological_order(manifest: &Manifest, names: &BTreeMap<&str, usize>) -> Result<Vec<usize>> {
    let n = manifest.steps.len();
    let parent = |i: usize| -> Option<usize> {
        manifest.steps[i]
            .inputs
            .first()
            .and_then(|inp| names.get(inp.value.as_str()).copied())
    };
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let before = order.len();
        for i in 0..n {
            if !done[i] && parent(i).is_none_or(|p| done[p]) {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            // Every remaining step waits on another: follow inputs from one to find the cycle.
            let start = (0..n).find(|&i| !done[i]).expect("some step is left");
            let mut path = vec![start];
            let mut cur = start;
            loop {
                cur = parent(cur).expect("undone steps have step inputs");
                if let Some(k) = path.iter().position(|&p| p == cur) {
                    // `path` follows inputs upstream; show it in data-flow order.
                    let mut cycle: Vec<&str> = path[k..]
                        .iter()
                        .chain([&cur])
                        .map(|&i| manifest.steps[i].name.as_str())
                        .collect();
                    cycle.reverse();
                    let first = &manifest.steps[path[k]];
                    return Err(Error::input(format!(
                        "the steps form a cycle: {}",
                        cycle.join(" → ")
                    ))
                    .at(manifest.at(first.inputs[0].pos))
                    .hint("every chain of inputs must end at `data`"));
                }
                path.push(cur);
            }
        }
    }
    Ok(order)
}

type ReportLists = (Vec<String>, Vec<String>, Vec<&'static Plugin>);

fn resolve_report(
    manifest: &Manifest,
    names: &BTreeMap<&str, usize>,
    plugins: &[&'static Plugin],
) -> Result<ReportLists> {
    let report = &manifest.report;
    let step_of_kind = |item: &Located<String>, wanted: &[PluginKind], what: &str| match names
        .get(item.value.as_str())
    {
        Some(&i) if wanted.contains(&plugins[i].kind()) => Ok(item.value.clone()),
        Some(&i) => Err(Error::input(format!(
            "[report] lists `{}` as {what}, but it is a {} step",
            item.value,
            plugins[i].kind().name()
        ))
        .at(manifest.at(item.pos))),
        None => Err(Error::input(format!(
            "[report] lists `{}`, which is not a step{}",
            item.value,
            did_you_mean(&item.value, names.keys().copied())
        ))
        .at(manifest.at(item.pos))),
    };
    let embeddings = report
        .embeddings
        .iter()
        .map(|e| {
            step_of_kind(
                e,
                &[PluginKind::Reducer, PluginKind::Transform],
                "an embedding",
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut clusterings = report
        .clusterings
        .iter()
        .map(|c| step_of_kind(c, &[PluginKind::Clusterer], "a clustering"))
        .collect::<Result<Vec<_>>>()?;
    if report.clusterings.is_empty() {
        clusterings = manifest
            .steps
            .iter()
            .zip(plugins)
            .filter(|(_, p)| p.kind() == PluginKind::Clusterer)
            .map(|(s, _)| s.name.clone())
            .collect();
    }
    let metric_names: Vec<&str> = Plugin::all()
        .into_iter()
        .filter(|p| p.kind() == PluginKind::Metric)
        .map(|p| p.name)
        .collect();
    let metrics = report
        .metrics
        .iter()
        .map(|m| match Plugin::op(&m.value) {
            Some(p) if p.kind() == PluginKind::Metric => {
                let required = p
                    .params
                    .iter()
                    .find(|s| s.default == attrclust_core::params::Default::Required);
                match required {
                    Some(spec) => Err(Error::input(format!(
                        "metric `{}` needs parameter `{}` and cannot be listed in [report] metrics",
                        p.name, spec.name
                    ))
                    .at(manifest.at(m.pos))
                    .hint("add it as a [step.NAME] with the parameter instead")),
                    None => Ok(p),
                }
            }
            _ => Err(Error::input(format!(
                "unknown metric `{}` in [report]{}",
                m.value,
                did_you_mean(&m.value, metric_names.iter().copied())
            ))
            .at(manifest.at(m.pos))
            .hint(format!("metrics: {}", metric_names.join(", ")))),
        })
        .collect::<Result<Vec<_>>>()?;
    // A metric of embeddings needs a featured reducer to score.
    let has_reducer = embeddings
        .iter()
        .any(|e| plugins[names[e.as_str()]].kind() == PluginKind::Reducer);
    if let Some((m, p)) = report
        .metrics
        .iter()
        .zip(&metrics)
        .find(|(_, p)| p.scores_embeddings() && !has_reducer)
    {
        return Err(Error::input(format!(
            "[report] metric `{}` scores embeddings, but [report] embeddings lists no reducer step",
            p.name
        ))
        .at(manifest.at(m.pos))
        .hint("add a reducer step (pca, tsne, umap, …) to [report] embeddings"));
    }
    Ok((embeddings, clusterings, metrics))
}
