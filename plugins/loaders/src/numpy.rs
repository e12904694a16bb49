//! numpy loaders: `.npz` archives (arrays by name) and `.npy` arrays.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, Context, Dataset, Loader, ParamSpec, ParamType as T, Params, Plugin, Result,
};

use crate::npy::{self, Array, Values};
use crate::{
    CLASSES, LABELS_PATH, NAN_POLICY, REDUCE, assemble, file_error, int_values, labels_from_file,
    names_to_map, read_file, resolve_classes, string_values,
};

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
        "Array of integer class ids [N] (in `labels_path` if given). Default: `y` or `labels`.",
    ),
    LABELS_PATH,
    REDUCE,
    CLASSES,
    ParamSpec::new(
        "class_names",
        T::Str,
        D::Absent,
        "String array of class names, indexed by class id. Default: `class_names` if present.",
    ),
    ParamSpec::new(
        "ids",
        T::Str,
        D::Absent,
        "Array of sample ids [N]. Default: `sample_id` if present, else row numbers.",
    ),
    NAN_POLICY,
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
        "Integer class ids [N]: a .npy file, or a .npz with the array named by `labels`.",
    ),
    ParamSpec::new(
        "labels",
        T::Str,
        D::Absent,
        "Array name when `labels_path` is a .npz.",
    ),
    REDUCE,
    CLASSES,
    NAN_POLICY,
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

pub(crate) fn read_npy(path: &Path) -> Result<Array> {
    npy::parse(&read_file(path)?).map_err(|e| file_error(path, e.0))
}

/// Reads every array of an `.npz` archive (stored or deflated).
pub(crate) fn read_npz(path: &Path) -> Result<BTreeMap<String, Array>> {
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
        let labels = match labels_from_file(p)? {
            Some(labels) => labels,
            None => {
                let y_name = match p.opt_str("labels")? {
                    Some(n) => n.to_string(),
                    None => ["y", "labels", "label"]
                        .into_iter()
                        .find(|n| arrays.contains_key(*n))
                        .unwrap_or("y")
                        .to_string(),
                };
                int_values(&path, &y_name, take(&path, &mut arrays, &y_name, "labels")?)?
            }
        };
        let ids = match p.opt_str("ids")? {
            Some(n) => Some(string_values(take(&path, &mut arrays, n, "sample ids")?)),
            None => arrays.remove("sample_id").map(string_values),
        };
        let file_classes = match p.opt_str("class_names")? {
            Some(n) => Some(take(&path, &mut arrays, n, "class names")?),
            None => arrays.remove("class_names"),
        };
        let classes = resolve_classes(p, file_classes.map(|a| names_to_map(string_values(a))))?;
        assemble(&path, x, labels, ids, classes, p)
    }
}

impl Loader for NpyLoader {
    fn load(&self, _ctx: &Context) -> Result<Dataset> {
        let p = &self.0;
        let path = p.path("path")?;
        let x = read_npy(&path)?;
        let labels = labels_from_file(p)?.expect("labels_path is required");
        let classes = resolve_classes(p, None)?;
        assemble(&path, x, labels, None, classes, p)
    }
}

/// Removes a named array from the archive, or says which arrays there are.
pub(crate) fn take(
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
