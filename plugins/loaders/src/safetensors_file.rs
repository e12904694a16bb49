//! safetensors loader, on the `safetensors` crate (Hugging Face's reference implementation).
//! Class names may come from the file's `__metadata__` as `class_names`: a JSON list.

use std::path::Path;

use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, ClassMap, Context, Dataset, Loader, ParamSpec, ParamType as T, Params, Plugin, Result,
};
use safetensors::{Dtype, SafeTensors};

use crate::npy::{Array, Values};
use crate::{
    CLASSES, LABELS_PATH, NAN_POLICY, REDUCE, assemble, file_error, int_values, labels_from_file,
    read_file, resolve_classes,
};

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "path",
        T::Path,
        D::Required,
        "The .safetensors file, relative to the manifest.",
    ),
    ParamSpec::new(
        "attributions",
        T::Str,
        D::Absent,
        "Tensor of attributions, [N, C] or [N, C, ...]. Default: the only float tensor of rank ≥ 2.",
    ),
    ParamSpec::new(
        "labels",
        T::Str,
        D::Absent,
        "Integer tensor of class ids [N]. Default: `y` or `labels`.",
    ),
    LABELS_PATH,
    REDUCE,
    CLASSES,
    NAN_POLICY,
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "safetensors",
        version: "1",
        summary: "safetensors file: attribution and label tensors by name, class names from metadata",
        params: PARAMS,
        build: Build::Loader { build: |p| Ok(Box::new(SafetensorsLoader(p.clone()))), extensions: &["safetensors"] },
        uses_seed: false,
        uses_groups: false,
    }
}

struct SafetensorsLoader(Params);

fn decode(path: &Path, name: &str, view: &safetensors::tensor::TensorView) -> Result<Array> {
    let data = view.data();
    let values = match view.dtype() {
        Dtype::F64 => Values::Float(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        Dtype::F32 => Values::Float(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
        ),
        Dtype::F16 => Values::Float(
            data.chunks_exact(2)
                .map(|c| crate::npy::f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        Dtype::BF16 => Values::Float(
            data.chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64)
                .collect(),
        ),
        Dtype::I64 => Values::Int(
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        Dtype::I32 => Values::Int(
            data.chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
        ),
        Dtype::I16 => Values::Int(
            data.chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
        ),
        Dtype::U8 => Values::Int(data.iter().map(|&b| b as i64).collect()),
        Dtype::I8 => Values::Int(data.iter().map(|&b| b as i8 as i64).collect()),
        other => {
            return Err(file_error(
                path,
                format!(
                    "tensor `{name}` has dtype {other:?}; use F16/F32/F64/BF16 for attributions and integers for labels"
                ),
            ));
        }
    };
    Ok(Array {
        shape: view.shape().to_vec(),
        values,
        dtype: format!("{:?}", view.dtype()),
    })
}

impl Loader for SafetensorsLoader {
    fn load(&self, _ctx: &Context) -> Result<Dataset> {
        let p = &self.0;
        let path = p.path("path")?;
        let bytes = read_file(&path)?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| {
            file_error(&path, format!("not a readable safetensors file: {e}"))
                .hint("write it with safetensors.numpy.save_file or safetensors.torch.save_file")
        })?;
        let names = file.names();
        let listing = || {
            let mut all: Vec<String> = file
                .tensors()
                .iter()
                .map(|(n, v)| format!("{n} {:?} {:?}", v.shape(), v.dtype()))
                .collect();
            all.sort();
            all.join(", ")
        };
        let get = |name: &str, what: &str| -> Result<Array> {
            let view = file.tensor(name).map_err(|_| {
                file_error(&path, format!("no tensor `{name}` ({what})"))
                    .hint(format!("available tensors: {}", listing()))
            })?;
            decode(&path, name, &view)
        };
        let x_name = match p.opt_str("attributions")? {
            Some(n) => n.to_string(),
            None => {
                let floats: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| {
                        file.tensor(n).is_ok_and(|v| {
                            v.shape().len() >= 2
                                && matches!(
                                    v.dtype(),
                                    Dtype::F32 | Dtype::F64 | Dtype::BF16 | Dtype::F16
                                )
                        })
                    })
                    .collect();
                match floats.as_slice() {
                    [only] => only.to_string(),
                    _ => {
                        return Err(file_error(
                            &path,
                            "cannot tell which tensor holds the attributions",
                        )
                        .hint(format!(
                            "set `attributions = \"…\"` in [data]; tensors: {}",
                            listing()
                        )));
                    }
                }
            }
        };
        let x = get(&x_name, "attributions")?;
        let labels = match labels_from_file(p)? {
            Some(l) => l,
            None => {
                let y = match p.opt_str("labels")? {
                    Some(n) => n.to_string(),
                    None => ["y", "labels"]
                        .into_iter()
                        .find(|n| names.contains(n))
                        .unwrap_or("y")
                        .to_string(),
                };
                int_values(&path, &y, get(&y, "labels")?)?
            }
        };
        let (_, meta) =
            SafeTensors::read_metadata(&bytes).map_err(|e| file_error(&path, e.to_string()))?;
        let from_meta: Option<ClassMap> = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("class_names"))
            .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
            .map(|names| {
                names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (i as i64, n))
                    .collect()
            });
        let classes = resolve_classes(p, from_meta)?;
        assemble(&path, x, labels, None, classes, p)
    }
}
