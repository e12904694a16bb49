//! CSV and TSV loaders: a header row, one sample per line, a label column named in the
//! manifest, an optional id column, and channel columns chosen by a pattern (or every other
//! numeric column). Quoted fields follow RFC 4180.

use std::collections::BTreeMap;
use std::path::Path;

use attrclust_core::params::Default as D;
use attrclust_core::{
    Build, ClassMap, Context, Dataset, Error, Loader, ParamSpec, ParamType as T, Params, Plugin,
    Result,
};

use crate::npy::{Array, Values};
use crate::{CLASSES, NAN_POLICY, assemble, file_error, read_file, resolve_classes};

static PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "path",
        T::Path,
        D::Required,
        "The CSV/TSV file, relative to the manifest.",
    ),
    ParamSpec::new(
        "labels",
        T::Str,
        D::Required,
        "The label column: integer class ids, or class names (ids then follow `classes`, else name order).",
    ),
    ParamSpec::new(
        "ids",
        T::Str,
        D::Absent,
        "A column of sample ids. Default: row numbers.",
    ),
    ParamSpec::new(
        "columns",
        T::Str,
        D::Absent,
        "Channel columns, a pattern with `*` such as \"ch_*\". Default: every other numeric column.",
    ),
    ParamSpec::new(
        "ignore",
        T::StrList,
        D::EmptyList,
        "Columns to leave out (other non-numeric columns are an error).",
    ),
    CLASSES,
    NAN_POLICY,
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "csv",
        version: "1",
        summary: "Comma-separated table with a header: a label column and channel columns",
        params: PARAMS,
        build: Build::Loader { build: |p| Ok(Box::new(CsvLoader { params: p.clone(), sep: b',' })), extensions: &["csv"] },
        uses_seed: false,
        uses_groups: false,
    }
}

attrclust_core::inventory::submit! {
    Plugin {
        name: "tsv",
        version: "1",
        summary: "Tab-separated table with a header: a label column and channel columns",
        params: PARAMS,
        build: Build::Loader { build: |p| Ok(Box::new(CsvLoader { params: p.clone(), sep: b'\t' })), extensions: &["tsv", "tab"] },
        uses_seed: false,
        uses_groups: false,
    }
}

struct CsvLoader {
    params: Params,
    sep: u8,
}

/// Splits a table into records of fields, with the 1-based line each record starts on.
pub fn parse_records(
    text: &str,
    sep: u8,
) -> std::result::Result<Vec<(usize, Vec<String>)>, String> {
    let bytes = text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes();
    let mut records = Vec::new();
    let mut field = Vec::new();
    let mut fields = Vec::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut i = 0;
    let mut in_quotes = false;
    let mut any = false;
    let finish_field =
        |field: &mut Vec<u8>, fields: &mut Vec<String>| -> std::result::Result<(), String> {
            let s = String::from_utf8(std::mem::take(field))
                .map_err(|_| "not UTF-8 text".to_string())?;
            fields.push(s);
            Ok(())
        };
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    in_quotes = false;
                }
            } else {
                if b == b'\n' {
                    line += 1;
                }
                field.push(b);
            }
        } else if b == b'"' && field.is_empty() {
            in_quotes = true;
            any = true;
        } else if b == sep {
            finish_field(&mut field, &mut fields)?;
            any = true;
        } else if b == b'\n' || b == b'\r' {
            if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            if any || !field.is_empty() {
                finish_field(&mut field, &mut fields)?;
                records.push((start_line, std::mem::take(&mut fields)));
            }
            any = false;
            line += 1;
            start_line = line;
        } else {
            field.push(b);
            any = true;
        }
        i += 1;
    }
    if in_quotes {
        return Err(format!("line {start_line}: a quoted field is never closed"));
    }
    if any || !field.is_empty() {
        finish_field(&mut field, &mut fields)?;
        records.push((start_line, fields));
    }
    Ok(records)
}

/// `*` matches any run of characters.
fn matches_pattern(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (k, part) in parts.iter().enumerate() {
        if k == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if k == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return Some(f64::NAN); // an empty cell is a missing value, handled by nan_policy
    }
    t.parse::<f64>().ok()
}

impl Loader for CsvLoader {
    fn load(&self, _ctx: &Context) -> Result<Dataset> {
        let p = &self.params;
        let path = p.path("path")?;
        let bytes = read_file(&path)?;
        let text = String::from_utf8(bytes).map_err(|_| file_error(&path, "not UTF-8 text"))?;
        let records = parse_records(&text, self.sep).map_err(|e| file_error(&path, e))?;
        let Some(((_, header), rows)) = records.split_first() else {
            return Err(
                file_error(&path, "the file is empty").hint("the first line must name the columns")
            );
        };
        if rows.is_empty() {
            return Err(file_error(&path, "the file has a header but no rows"));
        }
        let col = |name: &str, what: &str| -> Result<usize> {
            header.iter().position(|h| h == name).ok_or_else(|| {
                file_error(&path, format!("no column `{name}` ({what})")).hint(format!(
                    "the columns are: {}{}",
                    header
                        .iter()
                        .take(12)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if header.len() > 12 { ", …" } else { "" }
                ))
            })
        };
        let label_col = col(p.str("labels")?, "labels")?;
        let id_col = p
            .opt_str("ids")?
            .map(|n| col(n, "sample ids"))
            .transpose()?;
        let ignore: Vec<&str> = p
            .list("ignore")?
            .iter()
            .filter_map(|v| match v {
                attrclust_core::ParamValue::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        for (line, fields) in rows {
            if fields.len() != header.len() {
                return Err(file_error(
                    &path,
                    format!(
                        "line {line}: {} fields, the header has {}",
                        fields.len(),
                        header.len()
                    ),
                ));
            }
        }
        let pattern = p.opt_str("columns")?;
        let mut channels = Vec::new();
        for (j, name) in header.iter().enumerate() {
            if j == label_col || Some(j) == id_col || ignore.contains(&name.as_str()) {
                continue;
            }
            if let Some(pattern) = pattern
                && !matches_pattern(pattern, name)
            {
                continue;
            }
            if let Some((line, fields)) = rows.iter().find(|(_, f)| parse_float(&f[j]).is_none()) {
                return Err(file_error(
                    &path,
                    format!(
                        "line {line}, column `{name}`: `{}` is not a number",
                        fields[j]
                    ),
                )
                .hint(format!(
                    "if `{name}` is not a channel, add it to `ignore = [..]` or set `columns`"
                )));
            }
            channels.push(j);
        }
        if channels.is_empty() {
            return Err(file_error(&path, "no channel columns").hint(match pattern {
                Some(pat) => format!("no column matches `columns = \"{pat}\"`"),
                None => "the file needs numeric columns besides labels and ids".to_string(),
            }));
        }
        let n = rows.len();
        let mut values = Vec::with_capacity(n * channels.len());
        for (_, fields) in rows {
            values.extend(
                channels
                    .iter()
                    .map(|&j| parse_float(&fields[j]).expect("checked")),
            );
        }
        let raw_labels: Vec<&str> = rows.iter().map(|(_, f)| f[label_col].trim()).collect();
        let (labels, names_from_file) = labels_from_column(&path, p, &raw_labels, rows)?;
        let classes = resolve_classes(p, names_from_file)?;
        let ids = id_col.map(|j| rows.iter().map(|(_, f)| f[j].clone()).collect());
        let x = Array {
            shape: vec![n, channels.len()],
            values: Values::Float(values),
            dtype: "text".into(),
        };
        let mut data = assemble(&path, x, labels, ids, classes, p)?;
        data.columns = channels.iter().map(|&j| header[j].clone()).collect();
        Ok(data)
    }
}

/// Integer ids, or class names turned into ids (by the manifest's `classes`, else name order).
fn labels_from_column(
    path: &Path,
    p: &Params,
    raw: &[&str],
    rows: &[(usize, Vec<String>)],
) -> Result<(Vec<i64>, Option<ClassMap>)> {
    if let Ok(ids) = raw
        .iter()
        .map(|s| s.parse::<i64>())
        .collect::<std::result::Result<Vec<_>, _>>()
    {
        return Ok((ids, None));
    }
    let by_name: BTreeMap<String, i64> = match p.get("classes") {
        Some(_) => resolve_classes(p, None)?
            .into_iter()
            .map(|(id, name)| (name, id))
            .collect(),
        None => {
            let mut names: Vec<&str> = raw.to_vec();
            names.sort_unstable();
            names.dedup();
            names
                .into_iter()
                .enumerate()
                .map(|(i, n)| (n.to_string(), i as i64))
                .collect()
        }
    };
    let mut labels = Vec::with_capacity(raw.len());
    for (k, name) in raw.iter().enumerate() {
        match by_name.get(*name) {
            Some(&id) => labels.push(id),
            None => {
                return Err(Error::input(format!(
                    "line {}: label `{name}` is neither an integer nor a class in `classes`",
                    rows[k].0
                ))
                .at(path.display().to_string()));
            }
        }
    }
    let names = by_name.into_iter().map(|(name, id)| (id, name)).collect();
    Ok((labels, Some(names)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_with_quotes_crlf_and_bom() {
        let r =
            parse_records("\u{feff}a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\r\n3,4\n\n", b',').unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], (2, vec!["x,1".to_string(), "say \"hi\"".to_string()]));
        assert_eq!(r[2], (3, vec!["3".to_string(), "4".to_string()]));
        assert!(
            parse_records("a,\"b\n", b',')
                .unwrap_err()
                .contains("never closed")
        );
        let t = parse_records("a\tb\n1\t2", b'\t').unwrap();
        assert_eq!(t[1].1, vec!["1", "2"]);
    }

    #[test]
    fn patterns() {
        assert!(matches_pattern("ch_*", "ch_12"));
        assert!(!matches_pattern("ch_*", "label"));
        assert!(matches_pattern("*_ig", "c3_ig"));
        assert!(matches_pattern("a*b*c", "axxbyyc"));
        assert!(matches_pattern("exact", "exact"));
    }
}
