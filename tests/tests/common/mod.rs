//! Helpers shared by the end-to-end tests: a scratch project with a small synthetic data set,
//! and a runner for the attrclust binary.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use attrclust_loaders::npy;

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Lines of the per-step log: (status, run id).
    pub fn steps(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let status = parts.next()?;
                if status == "computed" || status == "cached" {
                    Some((status.to_string(), parts.next()?.to_string()))
                } else {
                    None
                }
            })
            .collect()
    }

    pub fn computed(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .steps()
            .into_iter()
            .filter(|(s, _)| s == "computed")
            .map(|(_, id)| id)
            .collect();
        v.sort();
        v
    }
}

/// Writes an `.npz` (stored, uncompressed) with the given `.npy` payloads.
pub fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts: zip::write::SimpleFileOptions =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

pub fn i64_npy(values: &[i64]) -> Vec<u8> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy::write_raw("<i8", &[values.len()], false, &bytes)
}

pub fn str_npy(values: &[&str]) -> Vec<u8> {
    let width = values.iter().map(|s| s.chars().count()).max().unwrap_or(1);
    let mut bytes = Vec::new();
    for s in values {
        let mut chars: Vec<u32> = s.chars().map(|c| c as u32).collect();
        chars.resize(width, 0);
        bytes.extend(chars.iter().flat_map(|c| c.to_le_bytes()));
    }
    npy::write_raw(&format!("<U{width}"), &[values.len()], false, &bytes)
}

/// A deterministic synthetic data set: `per_class` samples of each of 4 classes, `channels`
/// channels; classes 0/1 and 2/3 share a pattern, with some noise. `shift` perturbs the data.
pub fn synthetic(per_class: usize, channels: usize, shift: f64) -> (Vec<f64>, Vec<i64>) {
    let mut state: u64 = 0x1234_5678;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..4 * per_class {
        let class = (i % 4) as i64;
        for c in 0..channels {
            let pattern = if (class < 2) == (c % 2 == 0) {
                3.0
            } else {
                0.0
            };
            x.push(pattern + class as f64 * 0.3 * (c as f64 / channels as f64) + noise() + shift);
        }
        y.push(class);
    }
    (x, y)
}

pub const CLASS_NAMES: [&str; 4] = [
    "color_rotation",
    "color_temperature",
    "patch_exo",
    "patch_endo_clone_naive",
];

pub const MANIFEST: &str = r#"
[experiment]
name = "tiny"
title = "Tiny <test> & co"
seed = 7

[data]
path = "data/tiny.npz"
attributions = "attr"
labels = "y"

[groups]
color = ["color_rotation", "color_temperature"]
patch = ["patch_exo", "patch_endo_clone_naive"]

[step.subset]
op = "select_classes"
input = "data"
groups = ["color", "patch"]

[step.scaled]
op = "standardize"
input = "subset"

[step.pca]
op = "pca"
input = "scaled"
n_components = 3

[step.kmeans]
op = "kmeans"
input = "pca"
n_clusters = { sweep = [2, 4] }

[report]
embeddings = ["pca"]
clusterings = ["kmeans"]
metrics = ["silhouette", "purity"]
"#;

impl Project {
    /// A project folder with `experiments/tiny.toml` and its data.
    pub fn new() -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(p.path("experiments/data")).unwrap();
        p.write_data(0.0);
        p.write("experiments/tiny.toml", MANIFEST);
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn write_data(&self, shift: f64) {
        let (x, y) = synthetic(15, 6, shift);
        write_npz(
            &self.path("experiments/data/tiny.npz"),
            &[
                ("attr", npy::write_f64(&[y.len(), 6], &x)),
                ("y", i64_npy(&y)),
                ("class_names", str_npy(&CLASS_NAMES)),
            ],
        );
    }

    /// Runs the binary in the project folder.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_attrclust-e2e"))
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("the binary runs");
        let o = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !o.stderr.contains("panicked") && !o.stderr.contains("stack backtrace"),
            "no panic may reach the user:\n{}",
            o.stderr
        );
        o
    }

    pub fn run_ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
        o
    }

    /// Every file of a report folder, as (relative path, content), sorted.
    pub fn report_files(&self, rel: &str) -> Vec<(String, Vec<u8>)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.path(rel), &self.path(rel), &mut out);
        out.sort();
        out
    }
}

/// Asserts two report listings are byte-identical, naming the first file and line that differ.
pub fn assert_same_files(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) {
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "different files");
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x != y {
            let (x, y) = (String::from_utf8_lossy(x), String::from_utf8_lossy(y));
            let line = x
                .lines()
                .zip(y.lines())
                .position(|(p, q)| p != q)
                .unwrap_or(0);
            panic!(
                "{name} differs at line {}:\n  {}\n  {}",
                line + 1,
                x.lines().nth(line).unwrap_or(""),
                y.lines().nth(line).unwrap_or("")
            );
        }
    }
}
