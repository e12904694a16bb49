//! The `attrclust` command line. Thin: parsing arguments, printing, exit codes; the work is in
//! the manifest, pipeline, cache and report crates.

mod commands;
mod plugins;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  attrclust experiments/color_vs_patch.toml           run an experiment (same as `run`)
  attrclust run --threads 1 experiments/all_classes.toml
  attrclust validate experiments/*.toml                check manifests without running
  attrclust plan --dot experiments/families.toml | dot -Tsvg > plan.svg
  attrclust plugins                                    list ops and their parameters
  attrclust cache gc experiments                       drop results no manifest there reaches
  attrclust diff HEAD:reports/all_classes reports/all_classes
                                                       what changed since the committed report

Exit codes: 0 ok, 1 the run failed, 2 bad manifest, data or command line.";

#[derive(Parser, Debug)]
#[command(
    name = "attrclust",
    version,
    about = "Cluster per-channel attribution vectors of image-manipulation classifiers and write reproducible reports",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Where reports go: DIR/<experiment>/ [default: reports]
    #[arg(long, global = true, value_name = "DIR")]
    pub reports_dir: Option<PathBuf>,
    /// Where results are cached [default: .attrclust/cache]
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Worker threads [default: all cores]. Results do not depend on it.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an experiment manifest and write its report
    Run { manifest: PathBuf },
    /// Check manifests (ops, parameters, types, inputs, cycles) without running anything
    Validate {
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
    },
    /// Show the runs a manifest expands to and whether each is cached
    Plan {
        manifest: PathBuf,
        /// Print the DAG in Graphviz dot format
        #[arg(long)]
        dot: bool,
    },
    /// List the registered plugins and their parameters
    Plugins {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Inspect or clean the result cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Compare two results.json metric by metric: each a file, a report folder, or REV:PATH (a
    /// git revision of one)
    Diff {
        a: String,
        b: String,
        /// Numbers closer than this count as equal
        #[arg(long, default_value_t = 0.0)]
        tolerance: f64,
    },
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// List cache entries
    Ls,
    /// Remove entries that no manifest under DIR reaches
    Gc {
        /// Folder searched (recursively) for *.toml manifests
        #[arg(default_value = "experiments")]
        dir: PathBuf,
    },
    /// Remove every entry
    Clear,
}

const SUBCOMMANDS: &[&str] = &[
    "run", "validate", "plan", "plugins", "cache", "diff", "help",
];
const VALUE_FLAGS: &[&str] = &["--reports-dir", "--cache-dir", "--threads"];

/// `attrclust FILE` means `attrclust run FILE`: insert `run` before the first positional
/// argument when it is not a subcommand.
fn with_implicit_run(args: Vec<OsString>) -> Vec<OsString> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if VALUE_FLAGS.contains(&a.as_ref()) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        if SUBCOMMANDS.contains(&a.as_ref()) {
            return args;
        }
        let mut out = args;
        out.insert(i, "run".into());
        return out;
    }
    args
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Runs the CLI and returns the process exit code. Never panics: a bug becomes an
/// "internal error" message and exit code 1, without a backtrace.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        *PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{msg}{at}"));
    }));
    let args = with_implicit_run(args.into_iter().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match std::panic::catch_unwind(|| commands::dispatch(&cli)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
        Err(_) => {
            let msg = PANIC_MESSAGE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_default();
            eprintln!(
                "error: internal error: {msg}\n  help: this is a bug in attrclust; please report it with the manifest"
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        with_implicit_run(list.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().to_string())
            .collect()
    }

    #[test]
    fn bare_manifest_means_run() {
        assert_eq!(args(&["a", "x.toml"]), ["a", "run", "x.toml"]);
        assert_eq!(
            args(&["a", "--threads", "2", "x.toml"]),
            ["a", "--threads", "2", "run", "x.toml"]
        );
        assert_eq!(args(&["a", "plan", "x.toml"]), ["a", "plan", "x.toml"]);
        assert_eq!(args(&["a", "--help"]), ["a", "--help"]);
    }
}
