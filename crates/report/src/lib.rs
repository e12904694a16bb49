//! The experiment report (SPEC §7): `index.html` (self-contained, inline SVG and CSS),
//! `results.json` (sorted keys), `clusters/<run>.csv` and `embeddings/<run>.csv`.
//!
//! Everything written is a pure function of the plan and its results — no timestamps, no
//! timings, no absolute paths — so an unchanged rerun rewrites byte-identical files. The whole
//! folder is built next to its destination and swapped in by rename: a failed run leaves the
//! previous report intact.

pub mod diff;
mod html;
mod overview;
mod plots;
mod results;

use std::fs;
use std::path::{Path, PathBuf};

use attrclust_core::{Error, Result};
use attrclust_pipeline::{Plan, RunResult};

pub use plots::class_color;
pub use results::results_json;

/// Writes the report of one run to `reports_dir/<experiment>/` and refreshes
/// `reports_dir/index.html`. Returns the path of the experiment's `index.html`.
pub fn write_report(plan: &Plan, run: &RunResult, reports_dir: &Path) -> Result<PathBuf> {
    let name = &plan.manifest.manifest.experiment.name;
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Error::run(format!("cannot {what}: {e}"))
            .at(path.display().to_string())
            .hint("check permissions and free space, or choose another --reports-dir")
    };
    fs::create_dir_all(reports_dir).map_err(|e| io("create the reports folder", reports_dir, e))?;
    let final_dir = reports_dir.join(name);
    let tmp = reports_dir.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let build = || -> Result<()> {
        fs::create_dir_all(tmp.join("clusters")).map_err(|e| io("create", &tmp, e))?;
        fs::create_dir_all(tmp.join("embeddings")).map_err(|e| io("create", &tmp, e))?;
        let write = |rel: &str, text: &str| {
            let path = tmp.join(rel);
            fs::write(&path, text).map_err(|e| io("write", &path, e))
        };
        let overview =
            overview::Overview::new(results::dataset(run, 0), &plan.manifest.manifest.groups);
        let json = results::results_json_with(plan, run, &overview);
        write(
            "results.json",
            &(serde_json::to_string_pretty(&json).expect("json") + "\n"),
        )?;
        for (file, text) in results::cluster_csvs(plan, run) {
            write(&format!("clusters/{file}"), &text)?;
        }
        for (file, text) in results::embedding_csvs(plan, run) {
            write(&format!("embeddings/{file}"), &text)?;
        }
        write("index.html", &html::render(plan, run, &json, &overview)?)?;
        Ok(())
    };
    if let Err(e) = build() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    swap_into_place(&tmp, &final_dir, reports_dir, name).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp);
        io("move the new report into place", &final_dir, e)
    })?;
    write_index(reports_dir)?;
    Ok(final_dir.join("index.html"))
}

/// Replaces `final_dir` by `tmp`: old → backup, new → final, drop backup. Between the two
/// renames the old report still exists under the backup name. Another run of the same
/// experiment may swap at the same time (one cache, two terminals): then the rename finds the
/// folder taken or gone, and we try again; the last writer wins with a whole report.
fn swap_into_place(
    tmp: &Path,
    final_dir: &Path,
    reports_dir: &Path,
    name: &str,
) -> std::io::Result<()> {
    let mut last_error = None;
    for attempt in 0..20 {
        let backup = reports_dir.join(format!(".old-{name}-{}-{attempt}", std::process::id()));
        let had_old = match fs::rename(final_dir, &backup) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        match fs::rename(tmp, final_dir) {
            Ok(()) => {
                if had_old {
                    let _ = fs::remove_dir_all(&backup);
                }
                return Ok(());
            }
            Err(e) => {
                if had_old && !final_dir.exists() {
                    let _ = fs::rename(&backup, final_dir);
                } else if had_old {
                    let _ = fs::remove_dir_all(&backup);
                }
                last_error = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(10 * (attempt + 1)));
            }
        }
    }
    Err(last_error.expect("at least one attempt"))
}

/// `reports_dir/index.html`: one line per experiment report found in the folder.
pub fn write_index(reports_dir: &Path) -> Result<()> {
    let mut entries = Vec::new();
    if let Ok(dirs) = fs::read_dir(reports_dir) {
        for d in dirs.flatten() {
            let results = d.path().join("results.json");
            let name = d.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || !results.is_file() {
                continue;
            }
            let title = fs::read_to_string(&results)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["experiment"]["title"].as_str().map(str::to_string))
                .unwrap_or_else(|| name.clone());
            entries.push((name, title));
        }
    }
    entries.sort();
    let html = html::render_index(&entries)?;
    let path = reports_dir.join("index.html");
    let tmp = reports_dir.join(format!(".index.html.{}.tmp", std::process::id()));
    fs::write(&tmp, html)
        .and_then(|_| fs::rename(&tmp, &path))
        .map_err(|e| {
            Error::run(format!("cannot write the report index: {e}")).at(path.display().to_string())
        })
}
