//! Reference fixtures for plugin tests. The JSON files live in `tests/fixtures/` with the Python
//! scripts that made them; this crate reads them into ndarray values.

use ndarray::Array2;
use serde_json::Value;

/// `tests/fixtures/sklearn_reference.json`, made by `tests/fixtures/make_reference.py`.
pub fn sklearn_reference() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/sklearn_reference.json"
    ))
    .expect("valid fixture")
}

/// Any fixture in `tests/fixtures/` by file name, read at run time.
pub fn fixture(file_name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(file_name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid fixture")
}

/// A JSON list of rows as a matrix.
pub fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("a list of rows");
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_fn((rows.len(), cols), |(i, j)| rows[i][j])
}

pub fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).expect("a list of numbers")
}

pub fn ints(v: &Value) -> Vec<i64> {
    serde_json::from_value(v.clone()).expect("a list of integers")
}
