//! Experiment manifests: TOML files that describe a pipeline (SPEC §4).
//!
//! [`Manifest::load`] parses a file, keeping the position of every key and value so that errors
//! say `file:line:column`; [`validate`] checks it against the plugin registry (ops, parameters,
//! types, edges, cycles) before anything runs.

mod parse;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attrclust_core::ParamValue;

pub use parse::parse_str;
pub use validate::{ValidatedManifest, validate};

/// A position in the manifest file, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A value with the position it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub pos: Pos,
}

/// A parameter as written: one value, or a sweep over several.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamEntry {
    Fixed(ParamValue),
    Sweep(Vec<ParamValue>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    pub name: String,
    pub title: String,
    pub description: String,
    pub seed: u64,
}

/// `[data]`: which loader reads which file; every key but `format` is a loader parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSection {
    /// Explicit loader name; otherwise chosen by the extension of `path`.
    pub format: Option<Located<String>>,
    pub params: Vec<(Located<String>, Located<ParamValue>)>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepDef {
    pub name: String,
    /// Position of the `[step.NAME]` header.
    pub pos: Pos,
    pub op: Located<String>,
    pub inputs: Vec<Located<String>>,
    /// Parameters in the order they were written.
    pub params: Vec<(Located<String>, Located<ParamEntry>)>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReportSection {
    /// Steps whose output is drawn as a scatter (first two columns).
    pub embeddings: Vec<Located<String>>,
    /// Clustering steps featured in the report; all clusterers when empty.
    pub clusterings: Vec<Located<String>>,
    /// Metric ops computed for every featured clustering.
    pub metrics: Vec<Located<String>>,
    /// Which run of a swept clustering step the report features.
    pub select: Option<Select>,
}

/// `select = { metric = "silhouette", goal = "max" }`: the run with the best value of a metric
/// (a report metric, or a metric step) is featured; ties go to the first run.
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub metric: Located<String>,
    pub maximize: bool,
}

/// A parsed (not yet validated) manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub path: PathBuf,
    /// The file's text, hashed into the report's provenance.
    pub source: String,
    pub experiment: Experiment,
    pub data: DataSection,
    pub groups: BTreeMap<String, Vec<String>>,
    pub steps: Vec<StepDef>,
    pub report: ReportSection,
}

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> attrclust_core::Result<Manifest> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            attrclust_core::Error::input(format!("cannot read manifest: {e}"))
                .at(path.display().to_string())
                .hint("check the path; manifests are TOML files such as experiments/color_vs_patch.toml")
        })?;
        parse_str(&source, path)
    }

    /// The folder relative paths in the manifest are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `file:line:col` for messages.
    pub fn at(&self, pos: Pos) -> String {
        format!("{}:{}:{}", self.path.display(), pos.line, pos.col)
    }

    pub fn step(&self, name: &str) -> Option<&StepDef> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// The name under which steps refer to the loader's output.
pub const DATA_INPUT: &str = "data";
