//! Loaders for the `[data]` section: numpy `.npz` archives and `.npy` arrays.
//!
//! Both hand their arrays to [`assemble`], which owns the rules every loader shares: the
//! `[N, C, ...]` reduction, label/sample count checks, class names, sample ids and NaN policy.

pub mod npy;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, ClassMap, Context, Dataset, Error, Info, Loader, ParamSpec, ParamType as T, ParamValue,
    Params, Plugin, Result,
};
use ndarray::Array2;

use npy::{Array, Values};

const REDUCTIONS: &[&str] = &["sum", "mean", "abs_sum", "l2"];
const NAN_POLICIES: &[&str] = &["error", "drop_rows"];

static NPZ_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "path",
        T::Path,
        D::Required,
        "The .npz file, relative to the manifest.",
    ),
    ParamSpec::new(
        "attributions",
        T::Str,
        D::Absent,
        "Array of attributions, [N, C] or [N, C, ...]. Default: the only float array of rank ≥ 2.",
    ),
    ParamSpec::new(
        "labels",
        T::Str,
        D::Absent,
        "Array of integer class ids [N]. Default: `y` or `labels`.",
    ),
    ParamSpec::new(
        "reduce",
        T::Choice(REDUCTIONS),
        D::Absent,
        "Reduction over trailing axes of [N, C, ...] arrays: sum, mean, abs_sum or l2.",
    ),
    ParamSpec::new(
        "classes",
        T::ClassMap,
        D::Absent,
        "Class names: inline table { 0 = \"name\" } or a TOML/JSON file. Default: `class_names` array.",
    ),
    ParamSpec::new(
        "class_names",
        T::Str,
        D::Absent,
        "String array of class names, indexed by class id.",
    ),
    ParamSpec::new(
        "ids",
        T::Str,
        D::Absent,
        "Array of sample ids [N]. Default: `sample_id` if present, else row numbers.",
    ),
    ParamSpec::new(
        "nan_policy",
        T::Choice(NAN_POLICIES),
        D::Str("error"),
        "What to do with rows holding NaN/Inf: `error` names them, `drop_rows` drops them.",
    ),
];

static NPY_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "path",
        T::Path,
        D::Required,
        "The .npy attribution array, [N, C] or [N, C, ...].",
    ),
    ParamSpec::new(
        "labels_path",
        T::Path,
        D::Required,
        "A .npy array of integer class ids [N].",
    ),
    ParamSpec::new(
        "reduce",
        T::Choice(REDUCTIONS),
        D::Absent,
        "Reduction over trailing axes of [N, C, ...] arrays: sum, mean, abs_sum or l2.",
    ),
    ParamSpec::new(
        "classes",
        T::ClassMap,
        D::Absent,
        "Class names: inline table { 0 = \"name\" } or a TOML/JSON file.",
    ),
    ParamSpec::new(
        "nan_policy",
        T::Choice(NAN_POLICIES),
        D::Str("error"),
        "What to do with rows holding NaN/Inf: `error` names them, `drop_rows` drops them.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "npz",
        version: "1",
        summary: "numpy .npz archive: attributions, labels, class names and ids by array name",
        params: NPZ_PARAMS,
        build: Build::Loader { build: |p| Ok(Box::new(NpzLoader(p.clone()))), extensions: &["npz"] },
        uses_seed: false,
        uses_groups: false,
    }
}

attrclust_core::inventory::submit! {
    Plugin {
        name: "npy",
        version: "1",
        summary: "numpy .npy attribution array with labels in a second .npy file",
        params: NPY_PARAMS,
        build: Build::Loader { build: |p| Ok(Box::new(NpyLoader(p.clone()))), extensions: &["npy"] },
        uses_seed: false,
        uses_groups: false,
    }
}

struct NpzLoader(Params);
struct NpyLoader(Params);

fn file_error(path: &Path, message: impl Into<String>) -> Error {
    Error::input(message).at(path.display().to_string())
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))
}

fn read_npy(path: &Path) -> Result<Array> {
    npy::parse(&read_file(path)?).map_err(|e| file_error(path, e.0))
}

/// Reads every array of an `.npz` archive (stored or deflated).
fn read_npz(path: &Path) -> Result<BTreeMap<String, Array>> {
    let bytes = read_file(path)?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
        file_error(path, format!("not a readable .npz (zip) archive: {e}"))
            .hint("write it with numpy.savez or numpy.savez_compressed")
    })?;
    let mut arrays = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| file_error(path, format!("corrupt archive entry {i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| file_error(path, format!("corrupt archive entry {i}: {e}")))?
            .trim_end_matches(".npy")
            .to_string();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| file_error(path, format!("cannot read array `{name}`: {e}")))?;
        let array =
            npy::parse(&data).map_err(|e| file_error(path, format!("array `{name}`: {}", e.0)))?;
        arrays.insert(name, array);
    }
    Ok(arrays)
}

impl Loader for NpzLoader {
    fn load(&self, _ctx: &Context) -> Result<Dataset> {
        let p = &self.0;
        let path = p.path("path")?;
        let mut arrays = read_npz(&path)?;
        let x_name = match p.opt_str("attributions")? {
            Some(n) => n.to_string(),
            None => pick_attributions(&path, &arrays)?,
        };
        let x = take(&path, &mut arrays, &x_name, "attributions")?;
        let y_name = match p.opt_str("labels")? {
            Some(n) => n.to_string(),
            None => ["y", "labels", "label"]
                .into_iter()
                .find(|n| arrays.contains_key(*n))
                .unwrap_or("y")
                .to_string(),
        };
        let labels = int_values(&path, &y_name, take(&path, &mut arrays, &y_name, "labels")?)?;
        let ids = match p.opt_str("ids")? {
            Some(n) => Some(string_values(take(&path, &mut arrays, n, "sample ids")?)),
            None => arrays.remove("sample_id").map(string_values),
        };
        let file_classes = match p.opt_str("class_names")? {
            Some(n) => Some(take(&path, &mut arrays, n, "class names")?),
            None => arrays.remove("class_names"),
        };
        let classes = match (p.get("classes"), file_classes) {
            (Some(spec), _) => class_map_param(p, spec)?,
            (None, Some(names)) => names_to_map(string_values(names)),
            (None, None) => ClassMap::new(),
        };
        assemble(&path, x, labels, ids, classes, p)
    }
}

impl Loader for NpyLoader {
    fn load(&self, _ctx: &Context) -> Result<Dataset> {
        let p = &self.0;
        let path = p.path("path")?;
        let x = read_npy(&path)?;
        let labels_path = p.path("labels_path")?;
        let labels = int_values(&labels_path, "labels", read_npy(&labels_path)?)?;
        let classes = match p.get("classes") {
            Some(spec) => class_map_param(p, spec)?,
            None => ClassMap::new(),
        };
        assemble(&path, x, labels, None, classes, p)
    }
}

/// Removes a named array from the archive, or says which arrays there are.
fn take(
    path: &Path,
    arrays: &mut BTreeMap<String, Array>,
    name: &str,
    what: &str,
) -> Result<Array> {
    arrays.remove(name).ok_or_else(|| {
        let listing: Vec<String> = arrays
            .iter()
            .map(|(k, a)| format!("{k} {:?} {}", a.shape, a.dtype))
            .collect();
        file_error(path, format!("no array `{name}` ({what})"))
            .hint(format!("available arrays: {}", listing.join(", ")))
    })
}

fn pick_attributions(path: &Path, arrays: &BTreeMap<String, Array>) -> Result<String> {
    let candidates: Vec<&String> = arrays
        .iter()
        .filter(|(_, a)| a.shape.len() >= 2 && matches!(a.values, Values::Float(_)))
        .map(|(k, _)| k)
        .collect();
    match candidates.as_slice() {
        [only] => Ok((*only).clone()),
        _ => Err(file_error(
            path,
            format!(
                "cannot tell which array holds the attributions ({} float arrays of rank ≥ 2)",
                candidates.len()
            ),
        )
        .hint(format!(
            "set `attributions = \"…\"` in [data]; candidates: {}",
            candidates
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn int_values(path: &Path, name: &str, a: Array) -> Result<Vec<i64>> {
    if a.shape.len() != 1 {
        return Err(file_error(
            path,
            format!("labels `{name}` must be 1-D, found shape {:?}", a.shape),
        ));
    }
    match a.values {
        Values::Int(v) => Ok(v),
        Values::Float(v) if v.iter().all(|x| x.fract() == 0.0 && x.abs() < 1e15) => {
            Ok(v.into_iter().map(|x| x as i64).collect())
        }
        _ => Err(file_error(
            path,
            format!(
                "labels `{name}` must be integer class ids, found dtype {}",
                a.dtype
            ),
        )),
    }
}

fn string_values(a: Array) -> Vec<String> {
    match a.values {
        Values::Str(v) => v,
        Values::Int(v) => v.into_iter().map(|x| x.to_string()).collect(),
        Values::Float(v) => v.into_iter().map(|x| x.to_string()).collect(),
    }
}

fn names_to_map(names: Vec<String>) -> ClassMap {
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (i as i64, n))
        .collect()
}

/// Reads the `classes` parameter: an inline table or a TOML/JSON file.
fn class_map_param(p: &Params, spec: &ParamValue) -> Result<ClassMap> {
    match spec {
        ParamValue::Table(t) => {
            table_to_map(t).map_err(|e| Error::input(format!("[data] classes: {e}")))
        }
        ParamValue::Str(_) => {
            let path = p.path("classes")?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| file_error(&path, format!("cannot read class names: {e}")))?;
            parse_class_file(&path, &text)
        }
        other => Err(Error::input(format!(
            "[data] classes: expected a table or a path, found {}",
            other.describe()
        ))),
    }
}

fn table_to_map(t: &BTreeMap<String, ParamValue>) -> std::result::Result<ClassMap, String> {
    t.iter()
        .map(|(k, v)| {
            let id = k
                .parse::<i64>()
                .map_err(|_| format!("key `{k}` is not an integer class id"))?;
            match v {
                ParamValue::Str(name) => Ok((id, name.clone())),
                other => Err(format!(
                    "class {id}: expected a name, found {}",
                    other.describe()
                )),
            }
        })
        .collect()
}

/// A class-name file: TOML (`[classes]` table or top-level `0 = "name"`) or JSON (an object
/// `{"0": "name"}` or a list of names indexed by id).
fn parse_class_file(path: &Path, text: &str) -> Result<ClassMap> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let bad = |why: String| file_error(path, format!("bad class-name file: {why}"));
    if is_json {
        let names = parse_json_class_names(text).map_err(bad)?;
        return Ok(names);
    }
    let table: toml::Table = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
    let inner = match table.get("classes") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => table,
    };
    inner
        .iter()
        .map(|(k, v)| {
            let id = k
                .parse::<i64>()
                .map_err(|_| bad(format!("key `{k}` is not an integer class id")))?;
            let name = v
                .as_str()
                .ok_or_else(|| bad(format!("class {id}: expected a string name")))?;
            Ok((id, name.to_string()))
        })
        .collect()
}

fn parse_json_class_names(text: &str) -> std::result::Result<ClassMap, String> {
    // A tiny JSON subset is enough here: an object of "id": "name" or an array of names.
    let value: toml::Value = json_to_toml(text)?;
    match value {
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(|s| (i as i64, s.to_string()))
                    .ok_or_else(|| format!("item {i} is not a string"))
            })
            .collect(),
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| {
                let id = k
                    .parse::<i64>()
                    .map_err(|_| format!("key `{k}` is not an integer"))?;
                v.as_str()
                    .map(|s| (id, s.to_string()))
                    .ok_or_else(|| format!("class {id} is not a string"))
            })
            .collect(),
        _ => Err("expected an object or an array".into()),
    }
}

/// Parses JSON by reading it as a TOML inline value (JSON objects and arrays of strings are
/// valid TOML inline tables/arrays once `:` becomes `=`). Keeps the loader free of a JSON crate.
fn json_to_toml(text: &str) -> std::result::Result<toml::Value, String> {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else {
            match c {
                '"' => {
                    in_string = true;
                    out.push(c);
                }
                ':' => out.push('='),
                '\n' | '\r' => out.push(' '),
                _ => out.push(c),
            }
        }
    }
    let doc: toml::Table =
        toml::from_str(&format!("v = {out}")).map_err(|e| e.message().to_string())?;
    doc.get("v").cloned().ok_or_else(|| "empty".into())
}

/// Turns decoded arrays into a [`Dataset`], enforcing the rules all loaders share.
pub fn assemble(
    path: &Path,
    x: Array,
    labels: Vec<i64>,
    ids: Option<Vec<String>>,
    mut classes: ClassMap,
    p: &Params,
) -> Result<Dataset> {
    let Values::Float(values) = x.values else {
        return Err(file_error(
            path,
            format!(
                "attributions must be float32 or float64, found dtype {}",
                x.dtype
            ),
        ));
    };
    let (n, c) = match x.shape.as_slice() {
        [n, c] => (*n, *c),
        [n, c, ..] => (*n, *c),
        shape => {
            return Err(file_error(
                path,
                format!("attributions must be [N, C] or [N, C, ...], found shape {shape:?}"),
            ));
        }
    };
    let trailing: usize = x.shape.iter().skip(2).product();
    let reduce = p.opt_str("reduce")?;
    if x.shape.len() > 2 && reduce.is_none() {
        return Err(file_error(
            path,
            format!("attributions have shape {:?}: per-channel values need a reduction over the trailing axes", x.shape),
        )
        .hint("set `reduce = \"sum\"` (or mean, abs_sum, l2) in [data]"));
    }
    if n == 0 || c == 0 {
        return Err(file_error(
            path,
            format!("attributions are empty (shape {:?})", x.shape),
        ));
    }
    if labels.len() != n {
        return Err(
            file_error(path, format!("{} labels for {n} samples", labels.len()))
                .hint("labels must have one entry per row of the attributions"),
        );
    }
    let mut matrix = Array2::<f64>::zeros((n, c));
    for (k, out) in matrix.iter_mut().enumerate() {
        let cell = &values[k * trailing..(k + 1) * trailing];
        *out = match reduce.unwrap_or("sum") {
            "sum" => cell.iter().sum(),
            "mean" => cell.iter().sum::<f64>() / trailing as f64,
            "abs_sum" => cell.iter().map(|v| v.abs()).sum(),
            _ => cell.iter().map(|v| v * v).sum::<f64>().sqrt(),
        };
    }
    let ids = match ids {
        Some(ids) if ids.len() != n => {
            return Err(file_error(
                path,
                format!("{} sample ids for {n} samples", ids.len()),
            ));
        }
        Some(ids) => ids,
        None => (0..n).map(|i| i.to_string()).collect(),
    };

    if classes.is_empty() {
        let mut seen: Vec<i64> = labels.clone();
        seen.sort_unstable();
        seen.dedup();
        classes = seen.into_iter().map(|l| (l, l.to_string())).collect();
    }
    let mut unknown: Vec<i64> = labels
        .iter()
        .copied()
        .filter(|l| !classes.contains_key(l))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        return Err(
            file_error(path, format!("labels {unknown:?} have no class name")).hint(format!(
                "the class map names ids {:?}; add the missing ids to `classes`",
                classes.keys().collect::<Vec<_>>()
            )),
        );
    }

    let bad_rows: Vec<usize> = (0..n)
        .filter(|&i| matrix.row(i).iter().any(|v| !v.is_finite()))
        .collect();
    let mut info = BTreeMap::new();
    let (matrix, labels, ids) = if bad_rows.is_empty() {
        (matrix, labels, ids)
    } else if p.str("nan_policy")? == "drop_rows" {
        let keep: Vec<usize> = (0..n)
            .filter(|i| bad_rows.binary_search(i).is_err())
            .collect();
        if keep.is_empty() {
            return Err(file_error(path, "every row holds NaN or Inf"));
        }
        info.insert("dropped_rows".into(), Info::Int(bad_rows.len() as i64));
        let m = matrix.select(ndarray::Axis(0), &keep);
        (
            m,
            keep.iter().map(|&i| labels[i]).collect(),
            keep.iter().map(|&i| ids[i].clone()).collect(),
        )
    } else {
        let shown: Vec<String> = bad_rows
            .iter()
            .take(5)
            .map(|&i| {
                let cols: Vec<String> = (0..c)
                    .filter(|&j| !matrix[[i, j]].is_finite())
                    .take(5)
                    .map(|j| j.to_string())
                    .collect();
                format!("row {i} (columns {})", cols.join(", "))
            })
            .collect();
        return Err(file_error(
            path,
            format!(
                "{} rows hold NaN or Inf: {}{}",
                bad_rows.len(),
                shown.join("; "),
                if bad_rows.len() > 5 { "; …" } else { "" }
            ),
        )
        .hint("fix the export, or set `nan_policy = \"drop_rows\"` in [data] to drop them"));
    };
    Ok(Dataset {
        x: matrix,
        labels,
        ids,
        classes,
        columns: (0..c).map(|j| format!("ch_{j}")).collect(),
        info,
    })
}

/// Where tests write scratch files.
pub fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("attrclust-loaders-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
