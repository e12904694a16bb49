//! TOML → [`Manifest`], keeping positions. Structural errors (unknown sections and keys, wrong
//! value shapes) are reported here; plugin-specific checks live in `validate`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use attrclust_core::suggest::did_you_mean;
use attrclust_core::{Error, ParamValue, Result};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::{DataSection, Experiment, Located, Manifest, ParamEntry, Pos, ReportSection, StepDef};

const SECTIONS: &[&str] = &["experiment", "data", "groups", "step", "report"];
const EXPERIMENT_KEYS: &[&str] = &["name", "title", "description", "seed"];
const REPORT_KEYS: &[&str] = &["embeddings", "clusterings", "metrics", "select"];

struct Ctx<'a> {
    source: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    fn pos(&self, offset: usize) -> Pos {
        let before = &self.source[..offset.min(self.source.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        Pos {
            line,
            col: before[line_start..].chars().count() + 1,
        }
    }

    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T> {
        let pos = self.pos(offset);
        Err(Error::input(message).at(format!("{}:{}:{}", self.path.display(), pos.line, pos.col)))
    }

    fn err_hint<T>(&self, offset: usize, message: impl Into<String>, hint: &str) -> Result<T> {
        self.err(offset, message).map_err(|e: Error| e.hint(hint))
    }
}

type Entry<'a, 'i> = (&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>);

/// Parses manifest text; `path` is used for messages and relative paths.
pub fn parse_str(source: &str, path: &Path) -> Result<Manifest> {
    let ctx = Ctx { source, path };
    let doc = DeTable::parse(source).map_err(|e| {
        let pos = ctx.pos(e.span().map(|s| s.start).unwrap_or(0));
        Error::input(format!("invalid TOML: {}", e.message().trim_end())).at(format!(
            "{}:{}:{}",
            path.display(),
            pos.line,
            pos.col
        ))
    })?;
    let doc = doc.get_ref();

    let mut experiment = None;
    let mut data = None;
    let mut groups = BTreeMap::new();
    let mut steps = Vec::new();
    let mut report = ReportSection::default();
    for (key, value) in doc.iter() {
        let name: &str = key.get_ref();
        match name {
            "experiment" => experiment = Some(parse_experiment(&ctx, table(&ctx, key, value)?)?),
            "data" => {
                data = Some(parse_data(
                    &ctx,
                    table(&ctx, key, value)?,
                    value.span().start,
                )?)
            }
            "groups" => groups = parse_groups(&ctx, table(&ctx, key, value)?)?,
            "step" => {
                for (step_key, step_value) in table(&ctx, key, value)?.iter() {
                    steps.push(parse_step(&ctx, step_key, step_value)?);
                }
            }
            "report" => report = parse_report(&ctx, table(&ctx, key, value)?)?,
            other => {
                return ctx.err_hint(
                    key.span().start,
                    format!(
                        "unknown section `[{other}]`{}",
                        did_you_mean(other, SECTIONS.iter().copied())
                    ),
                    "a manifest has [experiment], [data], [groups], [step.NAME] and [report]",
                );
            }
        }
    }
    let Some(experiment) = experiment else {
        return ctx.err_hint(
            0,
            "missing section [experiment]",
            "add [experiment] with `name = \"…\"` and `seed = 42`",
        );
    };
    let Some(data) = data else {
        return ctx.err_hint(
            0,
            "missing section [data]",
            "add [data] with `path = \"data/your_file.npz\"`",
        );
    };
    Ok(Manifest {
        path: path.to_path_buf(),
        source: source.to_string(),
        experiment,
        data,
        groups,
        steps,
        report,
    })
}

fn table<'a, 'i>(
    ctx: &Ctx,
    key: &Spanned<Cow<'i, str>>,
    value: &'a Spanned<DeValue<'i>>,
) -> Result<&'a DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(t) => Ok(t),
        other => ctx.err(
            value.span().start,
            format!(
                "`{}` must be a table, found {}",
                key.get_ref(),
                other.type_str()
            ),
        ),
    }
}

fn string(ctx: &Ctx, (key, value): Entry) -> Result<Located<String>> {
    match value.get_ref() {
        DeValue::String(s) => Ok(Located {
            value: s.to_string(),
            pos: ctx.pos(value.span().start),
        }),
        other => ctx.err(
            value.span().start,
            format!(
                "`{}` must be a string, found {}",
                key.get_ref(),
                other.type_str()
            ),
        ),
    }
}

/// A string or a list of strings (`input = "pca"` / `inputs = ["a", "b"]`).
fn strings(ctx: &Ctx, (key, value): Entry) -> Result<Vec<Located<String>>> {
    match value.get_ref() {
        DeValue::String(_) => Ok(vec![string(ctx, (key, value))?]),
        DeValue::Array(items) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => Ok(Located {
                    value: s.to_string(),
                    pos: ctx.pos(item.span().start),
                }),
                other => ctx.err(
                    item.span().start,
                    format!(
                        "`{}` must list strings, found {}",
                        key.get_ref(),
                        other.type_str()
                    ),
                ),
            })
            .collect(),
        other => ctx.err(
            value.span().start,
            format!(
                "`{}` must be a string or a list of strings, found {}",
                key.get_ref(),
                other.type_str()
            ),
        ),
    }
}

/// Converts a TOML value into a parameter value.
fn param_value(ctx: &Ctx, value: &Spanned<DeValue>) -> Result<ParamValue> {
    Ok(match value.get_ref() {
        DeValue::String(s) => ParamValue::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(v) => ParamValue::Int(v),
            Err(_) => return ctx.err(value.span().start, "integer out of range"),
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(v) if v.is_finite() => ParamValue::Float(v),
            _ => return ctx.err(value.span().start, "parameters must be finite numbers"),
        },
        DeValue::Boolean(b) => ParamValue::Bool(*b),
        DeValue::Datetime(_) => {
            return ctx.err(value.span().start, "dates are not valid parameter values");
        }
        DeValue::Array(items) => ParamValue::List(
            items
                .iter()
                .map(|item| param_value(ctx, item))
                .collect::<Result<_>>()?,
        ),
        DeValue::Table(t) => ParamValue::Table(
            t.iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), param_value(ctx, v)?)))
                .collect::<Result<_>>()?,
        ),
    })
}

fn parse_experiment(ctx: &Ctx, t: &DeTable) -> Result<Experiment> {
    let mut name = None;
    let mut title = None;
    let mut description = String::new();
    let mut seed = None;
    for entry in t.iter() {
        let (key, value) = entry;
        match key.get_ref().as_ref() {
            "name" => {
                let n = string(ctx, entry)?;
                let valid = !n.value.is_empty()
                    && n.value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return ctx.err_hint(
                        value.span().start,
                        format!("experiment name `{}` is not a valid folder name", n.value),
                        "use letters, digits, `_` and `-` only (it names the report folder)",
                    );
                }
                name = Some(n.value);
            }
            "title" => title = Some(string(ctx, entry)?.value),
            "description" => description = string(ctx, entry)?.value,
            "seed" => match value.get_ref() {
                DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(s) => seed = Some(s),
                    Err(_) => {
                        return ctx
                            .err(value.span().start, "`seed` must be a non-negative integer");
                    }
                },
                other => {
                    return ctx.err(
                        value.span().start,
                        format!("`seed` must be an integer, found {}", other.type_str()),
                    );
                }
            },
            other => {
                return ctx.err(
                    key.span().start,
                    format!(
                        "unknown key `{other}` in [experiment]{}",
                        did_you_mean(other, EXPERIMENT_KEYS.iter().copied())
                    ),
                );
            }
        }
    }
    let Some(name) = name else {
        return ctx.err_hint(
            0,
            "[experiment] has no `name`",
            "add `name = \"my_experiment\"` (it names the report folder)",
        );
    };
    let Some(seed) = seed else {
        return ctx.err_hint(
            0,
            "[experiment] has no `seed`",
            "add `seed = 42`: every random choice of the run flows from it",
        );
    };
    Ok(Experiment {
        title: title.unwrap_or_else(|| name.clone()),
        name,
        description,
        seed,
    })
}

fn parse_data(ctx: &Ctx, t: &DeTable, offset: usize) -> Result<DataSection> {
    let mut format = None;
    let mut params = Vec::new();
    for entry in t.iter() {
        let (key, value) = entry;
        let k = key.get_ref().to_string();
        if k == "format" {
            format = Some(string(ctx, entry)?);
            continue;
        }
        if is_sweep(value) {
            return ctx.err(value.span().start, "sweeps are not allowed in [data]");
        }
        params.push((
            Located {
                value: k,
                pos: ctx.pos(key.span().start),
            },
            Located {
                value: param_value(ctx, value)?,
                pos: ctx.pos(value.span().start),
            },
        ));
    }
    Ok(DataSection {
        format,
        params,
        pos: ctx.pos(offset),
    })
}

fn parse_groups(ctx: &Ctx, t: &DeTable) -> Result<BTreeMap<String, Vec<String>>> {
    let mut groups = BTreeMap::new();
    for entry in t.iter() {
        let names = strings(ctx, entry)?;
        groups.insert(
            entry.0.get_ref().to_string(),
            names.into_iter().map(|n| n.value).collect(),
        );
    }
    Ok(groups)
}

fn is_sweep(value: &Spanned<DeValue>) -> bool {
    matches!(value.get_ref(), DeValue::Table(t) if t.len() == 1 && t.iter().any(|(k, _)| k.get_ref() == "sweep"))
}

fn parse_step(ctx: &Ctx, key: &Spanned<Cow<str>>, value: &Spanned<DeValue>) -> Result<StepDef> {
    let name = key.get_ref().to_string();
    let t = table(ctx, key, value)?;
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return ctx.err_hint(
            key.span().start,
            format!("step name `{name}` is not valid"),
            "use letters, digits, `_` and `-` only (names appear in file names and run ids)",
        );
    }
    if name == crate::DATA_INPUT {
        return ctx.err_hint(
            key.span().start,
            "a step cannot be called `data`",
            "`data` names the loader's output; choose another name",
        );
    }
    let mut op = None;
    let mut inputs: Option<Vec<Located<String>>> = None;
    let mut params = Vec::new();
    for entry in t.iter() {
        let (k, v) = entry;
        match k.get_ref().as_ref() {
            "op" => op = Some(string(ctx, entry)?),
            "input" | "inputs" => {
                if inputs.is_some() {
                    return ctx.err(k.span().start, "give either `input` or `inputs`, not both");
                }
                inputs = Some(strings(ctx, entry)?);
            }
            param => {
                let entry_value = if is_sweep(v) {
                    let DeValue::Table(sweep) = v.get_ref() else {
                        unreachable!("is_sweep checked the shape")
                    };
                    let (_, values) = sweep.iter().next().expect("one key");
                    let DeValue::Array(items) = values.get_ref() else {
                        return ctx.err_hint(
                            values.span().start,
                            format!("`{param}`: `sweep` must be a list of values"),
                            "write e.g. `n_clusters = { sweep = [2, 4, 8] }`",
                        );
                    };
                    if items.is_empty() {
                        return ctx.err(values.span().start, format!("`{param}`: empty sweep"));
                    }
                    ParamEntry::Sweep(
                        items
                            .iter()
                            .map(|item| param_value(ctx, item))
                            .collect::<Result<_>>()?,
                    )
                } else {
                    ParamEntry::Fixed(param_value(ctx, v)?)
                };
                params.push((
                    Located {
                        value: param.to_string(),
                        pos: ctx.pos(k.span().start),
                    },
                    Located {
                        value: entry_value,
                        pos: ctx.pos(v.span().start),
                    },
                ));
            }
        }
    }
    let Some(op) = op else {
        return ctx.err_hint(
            key.span().start,
            format!("step `{name}` has no `op`"),
            "add e.g. `op = \"kmeans\"`; `attrclust plugins` lists the ops",
        );
    };
    let Some(inputs) = inputs else {
        return ctx.err_hint(
            key.span().start,
            format!("step `{name}` has no `input`"),
            "add `input = \"data\"` or the name of the step it reads",
        );
    };
    Ok(StepDef {
        name,
        pos: ctx.pos(key.span().start),
        op,
        inputs,
        params,
    })
}

fn parse_select(ctx: &Ctx, value: &Spanned<DeValue>) -> Result<crate::Select> {
    const HINT: &str = "write e.g. `select = { metric = \"silhouette\", goal = \"max\" }`";
    let DeValue::Table(t) = value.get_ref() else {
        return ctx.err_hint(value.span().start, "`select` must be a table", HINT);
    };
    let mut metric = None;
    let mut maximize = true;
    for entry in t.iter() {
        let (k, v) = entry;
        match k.get_ref().as_ref() {
            "metric" => metric = Some(string(ctx, entry)?),
            "goal" => match string(ctx, entry)?.value.as_str() {
                "max" => maximize = true,
                "min" => maximize = false,
                other => {
                    return ctx.err_hint(
                        v.span().start,
                        format!("`goal` must be \"max\" or \"min\", found \"{other}\""),
                        "davies_bouldin is better low (min); most scores are better high (max)",
                    );
                }
            },
            other => {
                return ctx.err_hint(
                    k.span().start,
                    format!("unknown key `{other}` in `select`"),
                    HINT,
                );
            }
        }
    }
    let Some(metric) = metric else {
        return ctx.err_hint(value.span().start, "`select` needs `metric`", HINT);
    };
    Ok(crate::Select { metric, maximize })
}

fn parse_report(ctx: &Ctx, t: &DeTable) -> Result<ReportSection> {
    let mut report = ReportSection::default();
    for entry in t.iter() {
        let key = entry.0;
        if key.get_ref() == "select" {
            report.select = Some(parse_select(ctx, entry.1)?);
            continue;
        }
        let list = strings(ctx, entry)?;
        match key.get_ref().as_ref() {
            "embeddings" => report.embeddings = list,
            "clusterings" => report.clusterings = list,
            "metrics" => report.metrics = list,
            other => {
                return ctx.err(
                    key.span().start,
                    format!(
                        "unknown key `{other}` in [report]{}",
                        did_you_mean(other, REPORT_KEYS.iter().copied())
                    ),
                );
            }
        }
    }
    Ok(report)
}
