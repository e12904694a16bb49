//! Runs a plan: nodes whose inputs are ready run in parallel on `threads` workers; each node
//! is read from the cache when a verified entry exists and computed (then stored) otherwise.
//! Results never depend on scheduling: every node sees only its inputs and its own seed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attrclust_cache::{Cache, EntryMeta, Lookup};
use attrclust_core::{Artifact, Build, Context, Dataset, Error, Result};

use crate::plan::{Node, Plan};

pub struct RunOptions {
    /// Node-level parallelism (kernels use the global rayon pool, sized by the caller).
    pub threads: usize,
    /// Show progress bars (only on a terminal).
    pub progress: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeStatus {
    Cached,
    Computed,
    /// The cache entry was corrupt; the node was recomputed.
    Recomputed {
        why: String,
    },
}

/// Reported as each node finishes.
pub struct Event<'a> {
    pub node: &'a Node,
    pub status: &'a NodeStatus,
    pub elapsed: Duration,
}

pub struct RunResult {
    /// One artifact per plan node.
    pub artifacts: Vec<Arc<Artifact>>,
    pub statuses: Vec<NodeStatus>,
    pub elapsed: Vec<Duration>,
}

type Outcome = (usize, Result<(Artifact, NodeStatus)>, Duration);

/// Executes every node of the plan. `on_event` is called on the calling thread, in completion
/// order. On the first failure no new node starts; running ones finish and the error returns.
pub fn execute(
    plan: &Plan,
    cache: &Cache,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<RunResult> {
    let n = plan.nodes.len();
    let mut waiting: Vec<usize> = plan.nodes.iter().map(|node| node.inputs.len()).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, node) in plan.nodes.iter().enumerate() {
        for &j in &node.inputs {
            dependents[j].push(i);
        }
    }
    let mut artifacts: Vec<Option<Arc<Artifact>>> = vec![None; n];
    let mut statuses = vec![NodeStatus::Computed; n];
    let mut elapsed = vec![Duration::ZERO; n];
    let bars = opts.progress.then(indicatif::MultiProgress::new);

    let (job_tx, job_rx) = mpsc::channel::<(usize, Vec<Arc<Artifact>>)>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Outcome>();
    let mut failure: Option<Error> = None;

    std::thread::scope(|scope| {
        for _ in 0..opts.threads.max(1) {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            let bars = bars.as_ref();
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().expect("job queue").recv();
                    let Ok((i, inputs)) = job else { break };
                    let start = Instant::now();
                    let result = run_node(plan, cache, i, &inputs, bars);
                    if done_tx.send((i, result, start.elapsed())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);

        let mut in_flight = 0;
        for (i, &w) in waiting.iter().enumerate() {
            if w == 0 {
                job_tx.send((i, Vec::new())).expect("workers alive");
                in_flight += 1;
            }
        }
        let mut finished = 0;
        while in_flight > 0 {
            let (i, result, took) = done_rx.recv().expect("a worker reports");
            in_flight -= 1;
            match result {
                Ok((artifact, status)) => {
                    finished += 1;
                    on_event(Event {
                        node: &plan.nodes[i],
                        status: &status,
                        elapsed: took,
                    });
                    artifacts[i] = Some(Arc::new(artifact));
                    statuses[i] = status;
                    elapsed[i] = took;
                    if failure.is_some() {
                        continue;
                    }
                    for &d in &dependents[i] {
                        waiting[d] -= 1;
                        if waiting[d] == 0 {
                            let inputs = plan.nodes[d]
                                .inputs
                                .iter()
                                .map(|&j| artifacts[j].clone().expect("input finished"))
                                .collect();
                            job_tx.send((d, inputs)).expect("workers alive");
                            in_flight += 1;
                        }
                    }
                }
                Err(e) => {
                    if failure.is_none() {
                        failure = Some(e);
                    }
                }
            }
        }
        drop(job_tx);
        debug_assert!(failure.is_some() || finished == n);
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(RunResult {
        artifacts: artifacts
            .into_iter()
            .map(|a| a.expect("every node ran"))
            .collect(),
        statuses,
        elapsed,
    })
}

fn run_node(
    plan: &Plan,
    cache: &Cache,
    i: usize,
    inputs: &[Arc<Artifact>],
    bars: Option<&indicatif::MultiProgress>,
) -> Result<(Artifact, NodeStatus)> {
    let node = &plan.nodes[i];
    let mut status = NodeStatus::Computed;
    match cache.get(&node.key) {
        Lookup::Hit(artifact) => return Ok((*artifact, NodeStatus::Cached)),
        Lookup::Miss => {}
        Lookup::Corrupt(why) => status = NodeStatus::Recomputed { why },
    }
    let bar = bars.map(|b| {
        let bar = b.add(indicatif::ProgressBar::new(1000));
        bar.set_style(
            indicatif::ProgressStyle::with_template("  {msg:30} [{bar:30}] {percent:>3}%")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(node.id.clone());
        bar
    });
    let progress = |f: f64| {
        if let Some(bar) = &bar {
            bar.set_position((f.clamp(0.0, 1.0) * 1000.0) as u64);
        }
    };
    let groups = &plan.manifest.manifest.groups;
    let refit = |data: &Dataset, seed: u64| -> Result<attrclust_core::Clustering> {
        let scored = &plan.nodes[node.inputs[0]];
        let Build::Clusterer(build) = scored.plugin.build else {
            return Err(Error::run("refit is only for clusterings"));
        };
        let ctx = Context::new(&scored.id, seed, groups);
        build(&scored.params)?.fit(data, &ctx)
    };
    let is_metric = matches!(node.plugin.build, Build::Metric { .. });
    let ctx = Context {
        step: &node.id,
        seed: node.seed,
        groups,
        progress: &progress,
        refit: if is_metric { Some(&refit) } else { None },
    };
    let computed =
        catch_unwind(AssertUnwindSafe(|| compute(node, inputs, &ctx))).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::run(format!("internal error: {what}"))
                .hint("this is a bug in attrclust or a plugin; please report it with the manifest"))
        });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let artifact = computed.map_err(|e| e.within(step_location(plan, node)))?;
    check_output(node, inputs, &artifact).map_err(|e| e.within(step_location(plan, node)))?;
    let meta = EntryMeta {
        experiment: plan.manifest.manifest.experiment.name.clone(),
        run: node.id.clone(),
        op: node.plugin.name.to_string(),
        plugin_version: node.plugin.version.to_string(),
    };
    cache.put(&node.key, &meta, &artifact)?;
    Ok((artifact, status))
}

/// `manifest.toml:12:1: step `kmeans[n_clusters=4]``, for errors raised while a node runs.
fn step_location(plan: &Plan, node: &Node) -> String {
    let m = &plan.manifest.manifest;
    match node.kind {
        crate::NodeKind::Step { step } => {
            format!("{}: step `{}`", m.at(m.steps[step].pos), node.id)
        }
        crate::NodeKind::Load => format!("{}: [data]", m.at(m.data.pos)),
        crate::NodeKind::ReportMetric => format!("{}: metric `{}`", m.path.display(), node.id),
    }
}

fn dataset(a: &Artifact) -> &Dataset {
    match a {
        Artifact::Dataset(d) => d,
        _ => unreachable!("the validator type-checked this edge"),
    }
}

fn compute(node: &Node, inputs: &[Arc<Artifact>], ctx: &Context) -> Result<Artifact> {
    let p = &node.params;
    Ok(match node.plugin.build {
        Build::Loader { build, .. } => Artifact::Dataset(build(p)?.load(ctx)?),
        Build::Transform(build) => Artifact::Dataset(build(p)?.apply(dataset(&inputs[0]), ctx)?),
        Build::Reducer(build) => {
            Artifact::Dataset(build(p)?.fit_transform(dataset(&inputs[0]), ctx)?)
        }
        Build::Clusterer(build) => Artifact::Clustering(build(p)?.fit(dataset(&inputs[0]), ctx)?),
        Build::Metric { build, .. } => {
            let Artifact::Clustering(c) = &*inputs[0] else {
                unreachable!("the validator type-checked this edge")
            };
            Artifact::Metric(build(p)?.compute(c, dataset(&inputs[1]), ctx)?)
        }
        Build::EmbeddingMetric(build) => {
            Artifact::Metric(build(p)?.compute(dataset(&inputs[0]), dataset(&inputs[1]), ctx)?)
        }
    })
}

/// Guards the invariants downstream steps and the report rely on, whatever a plugin returns.
fn check_output(node: &Node, inputs: &[Arc<Artifact>], out: &Artifact) -> Result<()> {
    let bug = |what: String| {
        Err(Error::run(format!("plugin `{}` {what}", node.plugin.name))
            .hint("this is a bug in the plugin; please report it"))
    };
    match out {
        Artifact::Dataset(d) => {
            let n = d.n_samples();
            if d.labels.len() != n || d.ids.len() != n || d.columns.len() != d.n_features() {
                return bug(format!(
                    "returned {n} rows with {} labels, {} ids and {} column names for {} columns",
                    d.labels.len(),
                    d.ids.len(),
                    d.columns.len(),
                    d.n_features()
                ));
            }
            if let Some((row, col)) =
                d.x.indexed_iter()
                    .find(|(_, v)| !v.is_finite())
                    .map(|(ix, _)| ix)
            {
                return Err(Error::run(format!(
                    "the result has a non-finite value at row {row}, column {col}"
                ))
                .hint("check the input for extreme values or constant columns"));
            }
        }
        Artifact::Clustering(c) => {
            let n = dataset(&inputs[0]).n_samples();
            if c.assignments.len() != n {
                return bug(format!("assigned {} samples of {n}", c.assignments.len()));
            }
        }
        Artifact::Metric(m) => {
            if m.value.is_some_and(|v| !v.is_finite()) {
                return bug("returned a non-finite metric value".into());
            }
        }
    }
    Ok(())
}
