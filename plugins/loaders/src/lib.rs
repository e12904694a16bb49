//! Loaders for the `[data]` section: numpy `.npz`/`.npy`, CSV/TSV and safetensors.
//!
//! Every loader hands its arrays to [`assemble`], which owns the rules they share: the
//! `[N, C, ...]` reduction, label/sample count checks, class names, sample ids and NaN policy.

mod csv;
pub mod npy;
mod numpy;
mod safetensors_file;

use std::collections::BTreeMap;
use std::path::Path;

use attrclust_core::params::Default as D;
use attrclust_core::{
    ClassMap, Dataset, Error, Info, ParamSpec, ParamType as T, ParamValue, Params, Result,
};
use ndarray::Array2;

use npy::{Array, Values};

const REDUCTIONS: &[&str] = &["sum", "mean", "abs_sum", "l2"];

// Parameters every loader shares.
const REDUCE: ParamSpec = ParamSpec::new(
    "reduce",
    T::Choice(REDUCTIONS),
    D::Absent,
    "Reduction over the trailing axes of [N, C, ...] attributions: sum, mean, abs_sum or l2.",
);
const CLASSES: ParamSpec = ParamSpec::new(
    "classes",
    T::ClassMap,
    D::Absent,
    "Class names: inline table { 0 = \"name\" } or a TOML/JSON file (overrides names in the data file).",
);
const NAN_POLICY: ParamSpec = ParamSpec::new(
    "nan_policy",
    T::Choice(&["error", "drop_rows"]),
    D::Str("error"),
    "Rows holding NaN/Inf: `error` names them, `drop_rows` drops them.",
);
const LABELS_PATH: ParamSpec = ParamSpec::new(
    "labels_path",
    T::Path,
    D::Absent,
    "Read labels from another file: a .npy, or a .npz with the array named by `labels`.",
);

fn file_error(path: &Path, message: impl Into<String>) -> Error {
    Error::input(message).at(path.display().to_string())
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))
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

/// Labels from `labels_path` when it is given: a `.npy` file, or an `.npz` archive holding the
/// array named by `labels` (default `y`).
fn labels_from_file(p: &Params) -> Result<Option<Vec<i64>>> {
    if p.get("labels_path").is_none() {
        return Ok(None);
    }
    let path = p.path("labels_path")?;
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let (name, array) = if is_npz {
        let name = p.opt_str("labels")?.unwrap_or("y").to_string();
        let mut arrays = numpy::read_npz(&path)?;
        let a = numpy::take(&path, &mut arrays, &name, "labels")?;
        (name, a)
    } else {
        ("labels".to_string(), numpy::read_npy(&path)?)
    };
    int_values(&path, &name, array).map(Some)
}

/// The class map: the manifest's `classes` if given, else names found in the data file.
fn resolve_classes(p: &Params, from_file: Option<ClassMap>) -> Result<ClassMap> {
    match p.get("classes") {
        Some(spec) => class_map_param(p, spec),
        None => Ok(from_file.unwrap_or_default()),
    }
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
    match serde_json::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())? {
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(|s| (i as i64, s.to_string()))
                    .ok_or_else(|| format!("item {i} is not a string"))
            })
            .collect(),
        serde_json::Value::Object(map) => map
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
        _ => Err("expected an object {\"0\": \"name\"} or a list of names".into()),
    }
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

#[cfg(test)]
mod tests;
