//! Sweep expansion, seeds and cache keys.

use std::collections::BTreeMap;
use std::path::Path;

use attrclust_cache::{Key, KeyBuilder, hash_file};
use attrclust_core::{Error, ParamType, ParamValue, Params, Plugin, PluginKind, Result};
use attrclust_manifest::{DATA_INPUT, Located, ParamEntry, Pos, ValidatedManifest};

/// Bump when the meaning of cache keys or of cached values changes for every plugin.
const KEY_SCHEMA: &str = "attrclust-key-v2";

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// The `[data]` loader.
    Load,
    /// A `[step.NAME]` run (one per sweep value).
    Step { step: usize },
    /// A metric from `[report] metrics`, computed for one clustering run.
    ReportMetric,
}

/// One run of one plugin.
#[derive(Clone, Debug)]
pub struct Node {
    /// Run id: `data`, `pca`, `kmeans[n_clusters=4]`, `silhouette@kmeans[n_clusters=4]`.
    pub id: String,
    /// The step name (without sweep values).
    pub step_name: String,
    pub kind: NodeKind,
    pub plugin: &'static Plugin,
    /// Resolved parameters: every declared parameter with its value or default.
    pub params: Params,
    /// Sweep values that made this run: own parameters by name, upstream ones as `step.param`.
    pub sweep: Vec<(String, ParamValue)>,
    /// Input nodes. Metrics read `[clustering, features]`.
    pub inputs: Vec<usize>,
    pub seed: u64,
    pub key: Key,
}

pub struct Plan {
    pub manifest: ValidatedManifest,
    pub nodes: Vec<Node>,
    /// sha256 of each file the loader reads, by parameter name.
    pub data_hashes: BTreeMap<String, [u8; 32]>,
}

impl Plan {
    pub fn build(manifest: ValidatedManifest) -> Result<Plan> {
        let m = &manifest.manifest;
        let base_dir = m.base_dir();
        let mut nodes: Vec<Node> = Vec::new();
        let mut data_hashes = BTreeMap::new();

        // The loader.
        let given: Vec<(&Located<String>, ParamValue, Pos)> = m
            .data
            .params
            .iter()
            .map(|(k, v)| (k, v.value.clone(), v.pos))
            .collect();
        let params = resolve(manifest.loader, &given, &base_dir);
        let mut kb = KeyBuilder::new(KEY_SCHEMA);
        kb.field("node", b"load");
        plugin_fields(&mut kb, manifest.loader);
        let files = hash_paths(manifest.loader, &params, &given, |pos| m.at(pos), &mut kb)?;
        data_hashes.extend(files);
        nodes.push(Node {
            id: DATA_INPUT.into(),
            step_name: DATA_INPUT.into(),
            kind: NodeKind::Load,
            plugin: manifest.loader,
            seed: derive_seed(m.experiment.seed, DATA_INPUT),
            key: kb.finish(),
            params,
            sweep: Vec::new(),
            inputs: Vec::new(),
        });

        // Steps, in topological order; each expands to (upstream variants) × (own sweep grid).
        let mut runs_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        runs_of.insert(DATA_INPUT, vec![0]);
        for &si in &manifest.order {
            let step = &m.steps[si];
            let plugin = manifest.plugins[si];
            let upstream = runs_of[step.inputs[0].value.as_str()].clone();
            let mut mine = Vec::new();
            for up in upstream {
                for combo in grid(&step.params) {
                    let given: Vec<(&Located<String>, ParamValue, Pos)> = combo
                        .iter()
                        .map(|(k, v, pos, _)| (*k, v.clone(), *pos))
                        .collect();
                    let params = resolve(plugin, &given, &base_dir);
                    let mut sweep: Vec<(String, ParamValue)> = combo
                        .iter()
                        .filter(|(_, _, _, swept)| *swept)
                        .map(|(k, v, _, _)| (k.value.clone(), v.clone()))
                        .collect();
                    let up_node = &nodes[up];
                    sweep.extend(up_node.sweep.iter().map(|(k, v)| {
                        let qualified = if k.contains('.') {
                            k.clone()
                        } else {
                            format!("{}.{k}", up_node.step_name)
                        };
                        (qualified, v.clone())
                    }));
                    let id = run_id(&step.name, &sweep);
                    let seed = derive_seed(m.experiment.seed, &step.name);
                    let mut kb = KeyBuilder::new(KEY_SCHEMA);
                    kb.field("node", b"step");
                    plugin_fields(&mut kb, plugin);
                    hash_paths(plugin, &params, &given, |pos| m.at(pos), &mut kb)?;
                    common_fields(&mut kb, plugin, seed, &m.groups);
                    let mut inputs = vec![up];
                    if plugin.kind() == PluginKind::Metric {
                        // Metrics also read what the clustering (or embedding) was computed on.
                        inputs.push(up_node.inputs[0]);
                    }
                    for &i in &inputs {
                        kb.field("input", &nodes[i].key.0);
                    }
                    mine.push(nodes.len());
                    nodes.push(Node {
                        id,
                        step_name: step.name.clone(),
                        kind: NodeKind::Step { step: si },
                        plugin,
                        params,
                        sweep,
                        inputs,
                        seed,
                        key: kb.finish(),
                    });
                }
            }
            runs_of.insert(step.name.as_str(), mine);
        }

        // Report metrics for every run of every featured clustering, and metrics of embeddings
        // for every run of every featured reducer.
        let featured_reducers = manifest.report_embeddings.iter().filter(|s| {
            manifest
                .plugin_of(s)
                .is_some_and(|p| p.kind() == PluginKind::Reducer)
        });
        let scored = manifest
            .report_clusterings
            .iter()
            .map(|s| (s, false))
            .chain(featured_reducers.map(|s| (s, true)));
        for (scored_step, is_embedding) in scored {
            for &run in &runs_of[scored_step.as_str()] {
                for &metric in &manifest.report_metrics {
                    if metric.scores_embeddings() != is_embedding {
                        continue;
                    }
                    let params = resolve(metric, &[], &base_dir);
                    let seed = derive_seed(m.experiment.seed, &format!("metric:{}", metric.name));
                    let features = nodes[run].inputs[0];
                    let mut kb = KeyBuilder::new(KEY_SCHEMA);
                    kb.field("node", b"metric");
                    plugin_fields(&mut kb, metric);
                    hash_paths(metric, &params, &[], |pos| m.at(pos), &mut kb)?;
                    common_fields(&mut kb, metric, seed, &m.groups);
                    kb.field("input", &nodes[run].key.0);
                    kb.field("input", &nodes[features].key.0);
                    nodes.push(Node {
                        id: format!("{}@{}", metric.name, nodes[run].id),
                        step_name: metric.name.to_string(),
                        kind: NodeKind::ReportMetric,
                        plugin: metric,
                        params,
                        sweep: nodes[run].sweep.clone(),
                        inputs: vec![run, features],
                        seed,
                        key: kb.finish(),
                    });
                }
            }
        }
        Ok(Plan {
            manifest,
            nodes,
            data_hashes,
        })
    }

    /// The runs (node indices) of a step, in plan order.
    pub fn runs_of(&self, step: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i].step_name == step && self.nodes[i].kind != NodeKind::ReportMetric
            })
            .collect()
    }

    /// Metric nodes that score clustering node `run`, by metric name.
    pub fn metrics_of(&self, run: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let n = &self.nodes[i];
                n.plugin.kind() == PluginKind::Metric && n.inputs.first() == Some(&run)
            })
            .collect()
    }
}

/// `kmeans[n_clusters=4]`, or the bare step name without sweep values.
pub fn run_id(step: &str, sweep: &[(String, ParamValue)]) -> String {
    if sweep.is_empty() {
        return step.to_string();
    }
    // Strings go in bare (`init=random`): run ids are also file names.
    let parts: Vec<String> = sweep
        .iter()
        .map(|(k, v)| match v {
            ParamValue::Str(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{step}[{}]", parts.join(","))
}

/// A step's seed: the experiment seed mixed with the step name, so steps get independent
/// streams, and sweep runs of one step share a seed (a sweep changes only the swept value).
pub fn derive_seed(experiment_seed: u64, step: &str) -> u64 {
    let mut kb = KeyBuilder::new("attrclust-seed-v1");
    kb.field("seed", &experiment_seed.to_le_bytes());
    kb.field("step", step.as_bytes());
    let key = kb.finish();
    u64::from_le_bytes(key.0[..8].try_into().unwrap())
}

type Combo<'a> = Vec<(&'a Located<String>, ParamValue, Pos, bool)>;

/// The Cartesian product of a step's sweeps, in the order the parameters were written.
fn grid(params: &[(Located<String>, Located<ParamEntry>)]) -> Vec<Combo<'_>> {
    let mut combos: Vec<Combo> = vec![Vec::new()];
    for (key, entry) in params {
        let values: Vec<(ParamValue, bool)> = match &entry.value {
            ParamEntry::Fixed(v) => vec![(v.clone(), false)],
            ParamEntry::Sweep(vs) => vs.iter().map(|v| (v.clone(), true)).collect(),
        };
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |(v, swept)| {
                    let mut c = combo.clone();
                    c.push((key, v.clone(), entry.pos, *swept));
                    c
                })
            })
            .collect();
    }
    combos
}

/// Every declared parameter with its given value or default.
fn resolve(plugin: &Plugin, given: &[(&Located<String>, ParamValue, Pos)], base: &Path) -> Params {
    let mut values = BTreeMap::new();
    for spec in plugin.params {
        let value = given
            .iter()
            .find(|(k, _, _)| k.value == spec.name)
            .map(|(_, v, _)| v.clone())
            .or_else(|| spec.default.value());
        if let Some(v) = value {
            values.insert(spec.name.to_string(), v);
        }
    }
    Params::new(values, base)
}

fn plugin_fields(kb: &mut KeyBuilder, plugin: &Plugin) {
    kb.field("kind", plugin.kind().name().as_bytes());
    kb.field("plugin", plugin.name.as_bytes());
    kb.field("version", plugin.version.as_bytes());
}

fn common_fields(
    kb: &mut KeyBuilder,
    plugin: &Plugin,
    seed: u64,
    groups: &BTreeMap<String, Vec<String>>,
) {
    if plugin.uses_seed {
        kb.field("seed", &seed.to_le_bytes());
    }
    if plugin.uses_groups {
        let table = ParamValue::Table(
            groups
                .iter()
                .map(|(g, names)| {
                    let list = names.iter().map(|n| ParamValue::Str(n.clone())).collect();
                    (g.clone(), ParamValue::List(list))
                })
                .collect(),
        );
        let mut out = Vec::new();
        table.encode_canonical(&mut out);
        kb.field("groups", &out);
    }
}

/// Adds the resolved parameters to the key, replacing every file path by its content hash
/// (renaming or moving a data file does not invalidate results; editing it does).
fn hash_paths(
    plugin: &Plugin,
    params: &Params,
    given: &[(&Located<String>, ParamValue, Pos)],
    at: impl Fn(Pos) -> String,
    kb: &mut KeyBuilder,
) -> Result<BTreeMap<String, [u8; 32]>> {
    let mut hashed = params.values.clone();
    let mut files = BTreeMap::new();
    for spec in plugin.params {
        let is_file = matches!(
            (spec.ty, params.get(spec.name)),
            (
                ParamType::Path | ParamType::ClassMap,
                Some(ParamValue::Str(_))
            )
        );
        if !is_file {
            continue;
        }
        let path = params.path(spec.name)?;
        let digest = hash_file(&path).map_err(|e| {
            let pos = given
                .iter()
                .find(|(k, _, _)| k.value == spec.name)
                .map(|(_, _, pos)| *pos);
            let err = Error::input(format!("cannot read `{}`: {e}", path.display())).hint(format!(
                "`{}` is relative to the manifest's folder",
                spec.name
            ));
            match pos {
                Some(pos) => err.at(at(pos)),
                None => err,
            }
        })?;
        hashed.insert(
            spec.name.to_string(),
            ParamValue::Str(format!("sha256:{}", attrclust_cache::hex(&digest))),
        );
        files.insert(spec.name.to_string(), digest);
    }
    let mut out = Vec::new();
    ParamValue::Table(hashed).encode_canonical(&mut out);
    kb.field("params", &out);
    Ok(files)
}
