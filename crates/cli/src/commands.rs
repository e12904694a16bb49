//! The subcommands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use attrclust_cache::Cache;
use attrclust_core::{Build, Error, Plugin, Result};
use attrclust_manifest::{Manifest, validate};
use attrclust_pipeline::{NodeStatus, Plan, RunOptions, execute};
use serde_json::json;

use crate::{CacheCommand, Cli, Command};

pub fn dispatch(cli: &Cli) -> Result<()> {
    let threads = cli
        .threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Kernels share one pool sized by --threads; their results do not depend on its size.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    let cache_dir = cli
        .cache_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".attrclust/cache"));
    let reports_dir = cli
        .reports_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports"));
    match &cli.command {
        Command::Run { manifest } => run(manifest, &cache_dir, &reports_dir, threads),
        Command::Validate { manifests } => {
            for path in manifests {
                let plan = load_plan(path)?;
                println!(
                    "{}: ok ({} steps, {} runs)",
                    path.display(),
                    plan.manifest.manifest.steps.len(),
                    plan.nodes.len()
                );
            }
            Ok(())
        }
        Command::Plan { manifest, dot } => show_plan(manifest, &cache_dir, *dot),
        Command::Plugins { json } => {
            list_plugins(*json);
            Ok(())
        }
        Command::Cache(cmd) => cache_command(cmd, &cache_dir),
        Command::Diff { a, b, tolerance } => {
            let (ra, rb) = (read_results(a)?, read_results(b)?);
            let changes = attrclust_report::diff::diff(&ra, &rb, *tolerance);
            print!("{}", attrclust_report::diff::render(&changes, a, b));
            Ok(())
        }
    }
}

/// A results.json given as a file, a report folder, or `REV:PATH` (read with `git show`).
fn read_results(spec: &str) -> Result<serde_json::Value> {
    let local = Path::new(spec);
    let text = if local.exists() {
        let file = if local.is_dir() {
            local.join("results.json")
        } else {
            local.to_path_buf()
        };
        std::fs::read_to_string(&file).map_err(|e| {
            Error::input(format!("cannot read {}: {e}", file.display()))
                .hint("give a results.json, a report folder, or REV:PATH")
        })?
    } else if let Some((rev, path)) = spec.split_once(':') {
        git_show(rev, path)?
    } else {
        return Err(Error::input(format!("`{spec}` does not exist"))
            .hint("give a results.json, a report folder, or REV:PATH (e.g. HEAD:reports/x)"));
    };
    serde_json::from_str(&text).map_err(|e| {
        Error::input(format!("`{spec}` is not a results.json: {e}"))
            .hint("point at reports/<experiment>/results.json or its folder")
    })
}

/// `git show REV:PATH`, PATH relative to the working directory; a folder means its results.json.
fn git_show(rev: &str, path: &str) -> Result<String> {
    let show = |p: &str| {
        std::process::Command::new("git")
            .args(["show", &format!("{rev}:./{p}")])
            .output()
    };
    let trimmed = path.trim_end_matches('/');
    for candidate in [format!("{trimmed}/results.json"), trimmed.to_string()] {
        match show(&candidate) {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                // `git show` of a folder lists it ("tree …"); that is not the file.
                if !text.starts_with("tree ") {
                    return Ok(text);
                }
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Error::input(format!("cannot run git: {e}"))
                    .hint("install git, or give the results.json file itself"));
            }
        }
    }
    Err(Error::input(format!(
        "git has no `{path}` (or `{trimmed}/results.json`) at `{rev}`"
    ))
    .hint("check the revision and the path (relative to this folder)"))
}

fn load_plan(path: &Path) -> Result<Plan> {
    Plan::build(validate(Manifest::load(path)?)?)
}

fn run(manifest: &Path, cache_dir: &Path, reports_dir: &Path, threads: usize) -> Result<()> {
    let start = Instant::now();
    let plan = load_plan(manifest)?;
    let cache = Cache::open(cache_dir)?;
    let name = &plan.manifest.manifest.experiment.name;
    println!(
        "attrclust {} · {name} · {} runs · {threads} thread{}",
        env!("CARGO_PKG_VERSION"),
        plan.nodes.len(),
        if threads == 1 { "" } else { "s" }
    );
    let width = plan
        .nodes
        .iter()
        .map(|n| n.id.len())
        .max()
        .unwrap_or(0)
        .min(60);
    let mut log = String::new();
    let opts = RunOptions {
        threads,
        progress: std::io::stderr().is_terminal(),
    };
    let result = execute(&plan, &cache, &opts, &mut |ev| {
        let status = match ev.status {
            NodeStatus::Cached => "cached  ",
            NodeStatus::Computed => "computed",
            NodeStatus::Recomputed { .. } => "computed",
        };
        let line = format!(
            "  {status}  {:width$}  {:>8.3} s",
            ev.node.id,
            ev.elapsed.as_secs_f64()
        );
        println!("{line}");
        if let NodeStatus::Recomputed { why } = ev.status {
            println!("            (its cache entry was corrupt and was recomputed: {why})");
        }
        log.push_str(&line);
        log.push('\n');
    })?;
    let report = attrclust_report::write_report(&plan, &result, reports_dir)?;
    let cached = result
        .statuses
        .iter()
        .filter(|s| **s == NodeStatus::Cached)
        .count();
    let summary = format!(
        "{} runs: {} computed, {cached} cached, in {:.2} s",
        plan.nodes.len(),
        plan.nodes.len() - cached,
        start.elapsed().as_secs_f64()
    );
    println!("{summary}");
    println!("report: {}", report.display());
    log.push_str(&summary);
    write_run_log(cache_dir, name, &log);
    Ok(())
}

/// Timings go to a log beside the cache, never into the versioned report.
fn write_run_log(cache_dir: &Path, experiment: &str, text: &str) {
    let dir = cache_dir.join("runs");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{experiment}.log")), text);
    }
}

fn show_plan(manifest: &Path, cache_dir: &Path, dot: bool) -> Result<()> {
    let plan = load_plan(manifest)?;
    let cache = Cache::existing(cache_dir);
    if dot {
        println!("digraph \"{}\" {{", plan.manifest.manifest.experiment.name);
        println!(
            "  rankdir=LR; node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\"];"
        );
        for (i, n) in plan.nodes.iter().enumerate() {
            let fill = if cache.contains(&n.key) {
                "#c8e6c9"
            } else {
                "#ffffff"
            };
            println!(
                "  n{i} [label=\"{}\\n{}\", fillcolor=\"{fill}\"];",
                n.id.replace('"', "\\\""),
                n.plugin.name
            );
            for j in &n.inputs {
                println!("  n{j} -> n{i};");
            }
        }
        println!("}}");
        return Ok(());
    }
    let width = plan
        .nodes
        .iter()
        .map(|n| n.id.len())
        .max()
        .unwrap_or(0)
        .min(60);
    let mut missing = 0;
    for n in &plan.nodes {
        let cached = cache.contains(&n.key);
        missing += usize::from(!cached);
        let inputs: Vec<&str> = n
            .inputs
            .iter()
            .map(|&j| plan.nodes[j].id.as_str())
            .collect();
        println!(
            "{:width$}  {:16}  {:7}  ← {}",
            n.id,
            n.plugin.name,
            if cached { "cached" } else { "missing" },
            if inputs.is_empty() {
                "(file)".to_string()
            } else {
                inputs.join(", ")
            }
        );
    }
    println!("{} runs, {missing} to compute", plan.nodes.len());
    Ok(())
}

fn list_plugins(as_json: bool) {
    let all = Plugin::all();
    if as_json {
        let list: Vec<_> = all
            .iter()
            .map(|p| {
                let needs = match p.build {
                    Build::Metric { needs, .. } => json!({"labels": needs.labels, "features": needs.features}),
                    Build::EmbeddingMetric(_) => json!({"labels": false, "features": true}),
                    _ => json!(null),
                };
                json!({
                    "name": p.name, "kind": p.kind().name(), "version": p.version, "summary": p.summary,
                    "input": p.input_type().map(|t| t.describe()),
                    "output": p.kind().output_type().describe(),
                    "metric_needs": needs,
                    "params": p.params.iter().map(|s| json!({
                        "name": s.name, "type": s.ty.describe(), "default": s.default.describe(),
                        "doc": s.doc, "min": s.min, "max": s.max,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).expect("json"));
        return;
    }
    for p in all {
        let io = match p.input_type() {
            Some(t) => format!("{} → {}", t.describe(), p.kind().output_type().describe()),
            None => format!("a data file → {}", p.kind().output_type().describe()),
        };
        println!(
            "{} {} (v{}) — {}",
            p.kind().name(),
            p.name,
            p.version,
            p.summary
        );
        println!("    reads {io}");
        for s in p.params {
            let mut range = String::new();
            if let Some(min) = s.min {
                range.push_str(&format!(", ≥ {min}"));
            }
            if let Some(max) = s.max {
                range.push_str(&format!(", ≤ {max}"));
            }
            println!(
                "    {}: {}, default {}{range}\n        {}",
                s.name,
                s.ty.describe(),
                s.default.describe(),
                s.doc
            );
        }
        println!();
    }
}

fn cache_command(cmd: &CacheCommand, cache_dir: &Path) -> Result<()> {
    let cache = Cache::existing(cache_dir);
    let io =
        |e: std::io::Error| Error::run(format!("cache: {e}")).at(cache_dir.display().to_string());
    match cmd {
        CacheCommand::Ls => {
            let entries = cache.list();
            let mut total = 0;
            for e in &entries {
                total += e.size;
                let (exp, run, op) = e
                    .meta
                    .as_ref()
                    .map(|m| (m.experiment.as_str(), m.run.as_str(), m.op.as_str()))
                    .unwrap_or(("?", "(unreadable entry)", "?"));
                println!(
                    "{}  {:>10}  {exp:20} {run} ({op})",
                    &e.key.hex()[..16],
                    e.size
                );
            }
            println!(
                "{} entries, {:.1} MB in {}",
                entries.len(),
                total as f64 / 1e6,
                cache_dir.display()
            );
        }
        CacheCommand::Gc { dir } => {
            let mut live = std::collections::BTreeSet::new();
            let mut manifests = Vec::new();
            find_manifests(dir, &mut manifests);
            if manifests.is_empty() {
                return Err(
                    Error::input(format!("no *.toml manifests under {}", dir.display()))
                        .hint("pass the folder that holds your manifests: attrclust cache gc DIR"),
                );
            }
            for m in &manifests {
                match load_plan(m) {
                    Ok(plan) => live.extend(plan.nodes.iter().map(|n| n.key)),
                    Err(e) => eprintln!("warning: skipping {}: {e}", m.display()),
                }
            }
            let mut removed = 0;
            let mut freed = 0;
            for e in cache.list() {
                if !live.contains(&e.key) {
                    cache.remove(&e.key).map_err(io)?;
                    removed += 1;
                    freed += e.size;
                }
            }
            println!(
                "{} manifests; removed {removed} entries ({:.1} MB), kept {}",
                manifests.len(),
                freed as f64 / 1e6,
                live.len()
            );
        }
        CacheCommand::Clear => {
            let n = cache.clear().map_err(io)?;
            println!("removed {n} entries from {}", cache_dir.display());
        }
    }
    Ok(())
}

fn find_manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            find_manifests(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}
