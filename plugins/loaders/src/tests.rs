//! Every format and every error path, on small files written here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use attrclust_core::{Build, Context, Dataset, Error, ParamValue, Params, Plugin};

use crate::npy::write_raw;

fn load(format: &str, dir: &Path, params: &[(&str, ParamValue)]) -> Result<Dataset, Error> {
    let plugin = Plugin::loader(format).expect("registered");
    let values: BTreeMap<String, ParamValue> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    // Defaults as the pipeline would fill them in.
    let mut all = values.clone();
    for spec in plugin.params {
        if let Some(d) = spec.default.value() {
            all.entry(spec.name.to_string()).or_insert(d);
        }
    }
    let p = Params::new(all, dir);
    let Build::Loader { build, .. } = plugin.build else {
        unreachable!()
    };
    Context::detached("data", 0, |ctx| build(&p)?.load(ctx))
}

fn s(v: &str) -> ParamValue {
    ParamValue::Str(v.into())
}

fn i64_npy(v: &[i64]) -> Vec<u8> {
    write_raw(
        "<i8",
        &[v.len()],
        false,
        &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
    )
}

fn f32_npy(shape: &[usize], v: &[f32]) -> Vec<u8> {
    write_raw(
        "<f4",
        shape,
        false,
        &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>(),
    )
}

fn names_npy(names: &[&str]) -> Vec<u8> {
    let w = names.iter().map(|n| n.len()).max().unwrap();
    let mut bytes = Vec::new();
    for n in names {
        let mut cs: Vec<u32> = n.chars().map(|c| c as u32).collect();
        cs.resize(w, 0);
        bytes.extend(cs.iter().flat_map(|c| c.to_le_bytes()));
    }
    write_raw(&format!("<U{w}"), &[names.len()], false, &bytes)
}

fn npz(path: &Path, arrays: &[(&str, Vec<u8>)], deflate: bool) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// 4 samples × 3 channels, labels 0 1 1 2.
fn basic_npz(dir: &Path, deflate: bool) {
    let x: Vec<f32> = (0..12).map(|v| v as f32 * 0.5).collect();
    npz(
        &dir.join("a.npz"),
        &[
            ("ig", f32_npy(&[4, 3], &x)),
            ("y", i64_npy(&[0, 1, 1, 2])),
            ("class_names", names_npy(&["red", "green", "blue"])),
            ("sample_id", i64_npy(&[10, 11, 12, 13])),
        ],
        deflate,
    );
}

fn msg(e: Error) -> String {
    e.to_string()
}

#[test]
fn npz_stored_and_deflated_with_names_and_ids() {
    for deflate in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        basic_npz(dir.path(), deflate);
        let d = load("npz", dir.path(), &[("path", s("a.npz"))]).unwrap();
        assert_eq!(d.x.dim(), (4, 3));
        assert_eq!(d.x[[3, 2]], 5.5);
        assert_eq!(d.labels, vec![0, 1, 1, 2]);
        assert_eq!(d.ids, vec!["10", "11", "12", "13"]);
        assert_eq!(d.classes[&2], "blue");
        assert_eq!(d.columns[0], "ch_0");
    }
}

#[test]
fn trailing_axes_need_and_apply_a_reduction() {
    let dir = tempfile::tempdir().unwrap();
    // 2 samples × 2 channels × 2 × 2; sample 0 channel 1 holds [1, -2, 3, -4].
    let mut x = vec![0f32; 16];
    x[4..8].copy_from_slice(&[1.0, -2.0, 3.0, -4.0]);
    npz(
        &dir.path().join("s.npz"),
        &[
            ("attr", f32_npy(&[2, 2, 2, 2], &x)),
            ("y", i64_npy(&[0, 1])),
        ],
        false,
    );
    let err = msg(load("npz", dir.path(), &[("path", s("s.npz"))]).unwrap_err());
    assert!(
        err.contains("[2, 2, 2, 2]") && err.contains("reduce = \"sum\""),
        "{err}"
    );
    let expect = [
        ("sum", -2.0),
        ("mean", -0.5),
        ("abs_sum", 10.0),
        ("l2", 30f64.sqrt()),
    ];
    for (reduce, want) in expect {
        let d = load(
            "npz",
            dir.path(),
            &[("path", s("s.npz")), ("reduce", s(reduce))],
        )
        .unwrap();
        assert!(
            (d.x[[0, 1]] - want).abs() < 1e-12,
            "{reduce}: {}",
            d.x[[0, 1]]
        );
    }
}

#[test]
fn unknown_array_lists_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    basic_npz(dir.path(), false);
    let err = msg(load(
        "npz",
        dir.path(),
        &[("path", s("a.npz")), ("attributions", s("gradcam"))],
    )
    .unwrap_err());
    assert!(
        err.contains("a.npz: no array `gradcam` (attributions)"),
        "{err}"
    );
    assert!(
        err.contains("available arrays:") && err.contains("ig [4, 3] <f4"),
        "{err}"
    );
}

#[test]
fn wrong_dtype_rank_and_label_count() {
    let dir = tempfile::tempdir().unwrap();
    npz(
        &dir.path().join("d.npz"),
        &[("ig", i64_npy(&[1, 2, 3])), ("y", i64_npy(&[0, 1, 2]))],
        false,
    );
    let err = msg(load(
        "npz",
        dir.path(),
        &[("path", s("d.npz")), ("attributions", s("ig"))],
    )
    .unwrap_err());
    assert!(
        err.contains("must be float32 or float64, found dtype <i8"),
        "{err}"
    );
    npz(
        &dir.path().join("r.npz"),
        &[
            ("ig", f32_npy(&[3], &[1.0, 2.0, 3.0])),
            ("y", i64_npy(&[0, 1, 2])),
        ],
        false,
    );
    let err = msg(load(
        "npz",
        dir.path(),
        &[("path", s("r.npz")), ("attributions", s("ig"))],
    )
    .unwrap_err());
    assert!(
        err.contains("must be [N, C] or [N, C, ...], found shape [3]"),
        "{err}"
    );
    npz(
        &dir.path().join("c.npz"),
        &[
            ("ig", f32_npy(&[2, 2], &[1.0; 4])),
            ("y", i64_npy(&[0, 1, 2])),
        ],
        false,
    );
    let err = msg(load("npz", dir.path(), &[("path", s("c.npz"))]).unwrap_err());
    assert!(err.contains("c.npz: 3 labels for 2 samples"), "{err}");
}

#[test]
fn nan_rows_are_named_or_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let x = [1.0, f32::NAN, 2.0, 3.0, 4.0, f32::INFINITY];
    npz(
        &dir.path().join("n.npz"),
        &[("ig", f32_npy(&[3, 2], &x)), ("y", i64_npy(&[0, 1, 0]))],
        false,
    );
    let err = msg(load("npz", dir.path(), &[("path", s("n.npz"))]).unwrap_err());
    assert!(
        err.contains("2 rows hold NaN or Inf: row 0 (columns 1); row 2 (columns 1)"),
        "{err}"
    );
    let d = load(
        "npz",
        dir.path(),
        &[("path", s("n.npz")), ("nan_policy", s("drop_rows"))],
    )
    .unwrap();
    assert_eq!(d.labels, vec![1]);
    assert_eq!(d.ids, vec!["1"]);
    assert_eq!(d.info["dropped_rows"], attrclust_core::Info::Int(2));
}

#[test]
fn labels_missing_from_the_class_map() {
    let dir = tempfile::tempdir().unwrap();
    basic_npz(dir.path(), false);
    let classes =
        ParamValue::Table([("0".to_string(), s("red")), ("1".to_string(), s("green"))].into());
    let err = msg(load(
        "npz",
        dir.path(),
        &[("path", s("a.npz")), ("classes", classes)],
    )
    .unwrap_err());
    assert!(err.contains("labels [2] have no class name"), "{err}");
}

#[test]
fn truncated_and_foreign_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    basic_npz(dir.path(), false);
    let bytes = std::fs::read(dir.path().join("a.npz")).unwrap();
    for cut in [10, bytes.len() / 2, bytes.len() - 30] {
        std::fs::write(dir.path().join("t.npz"), &bytes[..cut]).unwrap();
        let err = msg(load("npz", dir.path(), &[("path", s("t.npz"))]).unwrap_err());
        assert!(
            err.starts_with(&dir.path().join("t.npz").display().to_string()),
            "{err}"
        );
    }
    std::fs::write(dir.path().join("x.npy"), b"hello").unwrap();
    std::fs::write(dir.path().join("y.npy"), i64_npy(&[0])).unwrap();
    let err = msg(load(
        "npy",
        dir.path(),
        &[("path", s("x.npy")), ("labels_path", s("y.npy"))],
    )
    .unwrap_err());
    assert!(err.contains("not a .npy file"), "{err}");
    let err = msg(load("npz", dir.path(), &[("path", s("missing.npz"))]).unwrap_err());
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn npy_with_labels_in_another_file_and_class_files() {
    let dir = tempfile::tempdir().unwrap();
    // Big-endian float64, Fortran order: logical [[1, 2], [3, 4]] stored as 1 3 2 4.
    let data: Vec<u8> = [1f64, 3., 2., 4.]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    std::fs::write(
        dir.path().join("x.npy"),
        write_raw(">f8", &[2, 2], true, &data),
    )
    .unwrap();
    std::fs::write(dir.path().join("y.npy"), i64_npy(&[1, 0])).unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[classes]\n0 = \"zero\"\n1 = \"one\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("c.json"), "[\"nil\", \"uno\"]").unwrap();
    std::fs::write(dir.path().join("o.json"), "{\"0\": \"a\", \"1\": \"b\"}").unwrap();
    let base = [("path", s("x.npy")), ("labels_path", s("y.npy"))];
    let d = load("npy", dir.path(), &base).unwrap();
    assert_eq!(d.x.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.labels, vec![1, 0]);
    for (file, name0) in [("c.toml", "zero"), ("c.json", "nil"), ("o.json", "a")] {
        let mut p = base.to_vec();
        p.push(("classes", s(file)));
        assert_eq!(load("npy", dir.path(), &p).unwrap().classes[&0], name0);
    }
    std::fs::write(dir.path().join("bad.json"), "{\"zero\": \"a\"}").unwrap();
    let mut p = base.to_vec();
    p.push(("classes", s("bad.json")));
    let err = msg(load("npy", dir.path(), &p).unwrap_err());
    assert!(
        err.contains("bad.json: bad class-name file: key `zero` is not an integer"),
        "{err}"
    );
    // npz attributions with labels from a separate .npy.
    basic_npz(dir.path(), false);
    let d = load(
        "npz",
        dir.path(),
        &[
            ("path", s("a.npz")),
            ("attributions", s("ig")),
            ("labels_path", s("y.npy")),
        ],
    );
    assert!(msg(d.unwrap_err()).contains("2 labels for 4 samples"));
}

#[test]
fn csv_and_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "sample_id,note,label,ch_0,ch_1\na,\"x, y\",1,0.5,1.5\nb,z,0,2,3\n";
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let base = vec![
        ("path", s("t.csv")),
        ("labels", s("label")),
        ("ids", s("sample_id")),
    ];
    let err = msg(load("csv", dir.path(), &base).unwrap_err());
    assert!(
        err.contains("line 2, column `note`: `x, y` is not a number"),
        "{err}"
    );
    assert!(err.contains("ignore = [..]"), "{err}");
    let mut p = base.clone();
    p.push(("ignore", ParamValue::List(vec![s("note")])));
    let d = load("csv", dir.path(), &p).unwrap();
    assert_eq!(d.x.as_slice().unwrap(), &[0.5, 1.5, 2.0, 3.0]);
    assert_eq!(d.ids, vec!["a", "b"]);
    assert_eq!(d.columns, vec!["ch_0", "ch_1"]);
    let mut p = base.clone();
    p.push(("columns", s("ch_*")));
    assert_eq!(load("csv", dir.path(), &p).unwrap().x.ncols(), 2);

    std::fs::write(
        dir.path().join("t.tsv"),
        "label\tc1\nred\t1\nblue\t2\nred\t\n",
    )
    .unwrap();
    let p = [
        ("path", s("t.tsv")),
        ("labels", s("label")),
        ("nan_policy", s("drop_rows")),
    ];
    let d = load("tsv", dir.path(), &p).unwrap();
    assert_eq!(
        d.labels,
        vec![1, 0],
        "names map to ids in name order: blue = 0, red = 1"
    );
    assert_eq!(d.classes[&1], "red");
    assert_eq!(d.n_samples(), 2, "the empty cell is a missing value");

    std::fs::write(dir.path().join("w.csv"), "label,c\n1,2\n1\n").unwrap();
    let err = msg(load(
        "csv",
        dir.path(),
        &[("path", s("w.csv")), ("labels", s("label"))],
    )
    .unwrap_err());
    assert!(err.contains("line 3: 1 fields, the header has 2"), "{err}");
    let err = msg(load(
        "csv",
        dir.path(),
        &[("path", s("w.csv")), ("labels", s("y"))],
    )
    .unwrap_err());
    assert!(
        err.contains("no column `y` (labels)") && err.contains("the columns are: label, c"),
        "{err}"
    );
}

#[test]
fn safetensors_with_metadata_class_names() {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<u8> = [1f32, 2., 3., 4., 5., 6.]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let y: Vec<u8> = [0i64, 1, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let tensors = vec![
        ("attr", TensorView::new(Dtype::F32, vec![3, 2], &x).unwrap()),
        ("y", TensorView::new(Dtype::I64, vec![3], &y).unwrap()),
    ];
    let meta: std::collections::HashMap<String, String> =
        [("class_names".to_string(), "[\"cat\", \"dog\"]".to_string())].into();
    let bytes = safetensors::serialize(tensors, Some(meta)).unwrap();
    std::fs::write(dir.path().join("a.safetensors"), &bytes).unwrap();
    let d = load("safetensors", dir.path(), &[("path", s("a.safetensors"))]).unwrap();
    assert_eq!(d.x.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(d.labels, vec![0, 1, 1]);
    assert_eq!(d.classes[&1], "dog");
    let err = msg(load(
        "safetensors",
        dir.path(),
        &[("path", s("a.safetensors")), ("attributions", s("ig"))],
    )
    .unwrap_err());
    assert!(
        err.contains("no tensor `ig`") && err.contains("attr [3, 2] F32"),
        "{err}"
    );
    std::fs::write(dir.path().join("t.safetensors"), &bytes[..bytes.len() - 5]).unwrap();
    let err = msg(load("safetensors", dir.path(), &[("path", s("t.safetensors"))]).unwrap_err());
    assert!(err.contains("not a readable safetensors file"), "{err}");
}

/// The demo data set is written in several formats; they must agree.
#[test]
fn demo_data_formats_agree() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/data");
    let npz = load(
        "npz",
        &data,
        &[("path", s("manipulations.npz")), ("attributions", s("ig"))],
    )
    .unwrap();
    let st = load(
        "safetensors",
        &data,
        &[
            ("path", s("manipulations.safetensors")),
            ("attributions", s("ig")),
        ],
    )
    .unwrap();
    let csv = load(
        "csv",
        &data,
        &[
            ("path", s("manipulations_ig.csv")),
            ("labels", s("label")),
            ("ids", s("sample_id")),
        ],
    )
    .unwrap();
    assert_eq!(npz.x, st.x);
    // The CSV holds float32 values as decimal text: equal once rounded back to float32.
    assert_eq!(npz.x.mapv(|v| v as f32), csv.x.mapv(|v| v as f32));
    assert_eq!(npz.labels, st.labels);
    assert_eq!(npz.labels, csv.labels);
    assert_eq!(npz.ids, csv.ids);
    assert_eq!(npz.classes.len(), 12);
    assert_eq!(st.classes, npz.classes);
    // The spatial subset, summed over H × W, gives the per-channel values of its samples.
    let spatial = load(
        "npy",
        &data,
        &[
            ("path", s("ig_spatial.npy")),
            ("labels_path", s("ig_spatial_labels.npy")),
            ("reduce", s("sum")),
        ],
    )
    .unwrap();
    let m = spatial.n_samples();
    assert!(m >= 100);
    assert_eq!(spatial.labels[..], npz.labels[..m]);
    for i in 0..m {
        for j in 0..npz.n_features() {
            let (a, b) = (spatial.x[[i, j]], npz.x[[i, j]]);
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "[{i},{j}] {a} vs {b}"
            );
        }
    }
}
