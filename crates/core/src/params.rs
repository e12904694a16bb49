//! Parameter schemas and values. Every plugin declares its parameters as a static list of
//! [`ParamSpec`]s; the manifest validator, `attrclust plugins` and the plugins themselves all
//! read that one list.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamType {
    Int,
    /// A float; integers are accepted too.
    Float,
    Bool,
    Str,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A list of strings.
    StrList,
    /// A list of strings or integers (e.g. class names or ids).
    NameList,
    /// An integer or one of the given keywords (e.g. `n_init = "auto"`).
    IntOr(&'static [&'static str]),
    /// A number or one of the given keywords (e.g. t-SNE's `learning_rate = "auto"`).
    FloatOr(&'static [&'static str]),
    /// A float or an integer ≥ 1 with different meanings (e.g. PCA's `n_components`: 0.95 keeps
    /// 95% of the variance, 5 keeps five components).
    IntOrFraction,
    /// A file path, relative to the manifest. Its content (not its name) enters cache keys.
    Path,
    /// Class ids → names, as an inline table `{ 0 = "a" }` or the path of a TOML/JSON file.
    ClassMap,
}

impl ParamType {
    pub fn describe(&self) -> String {
        match self {
            ParamType::Int => "integer".into(),
            ParamType::Float => "float".into(),
            ParamType::Bool => "boolean".into(),
            ParamType::Str => "string".into(),
            ParamType::Choice(options) => format!("one of {}", quoted_list(options)),
            ParamType::StrList => "list of strings".into(),
            ParamType::NameList => "list of names or ids".into(),
            ParamType::IntOr(words) => format!("integer or {}", quoted_list(words)),
            ParamType::FloatOr(words) => format!("number or {}", quoted_list(words)),
            ParamType::IntOrFraction => "integer ≥ 1 or fraction in (0, 1)".into(),
            ParamType::Path => "path".into(),
            ParamType::ClassMap => "table of id = name, or a path".into(),
        }
    }

    /// Checks a value against this type, returning what is wrong.
    pub fn check(&self, value: &ParamValue) -> std::result::Result<(), String> {
        let ok = match (self, value) {
            (ParamType::Int, ParamValue::Int(_)) => true,
            (ParamType::Float, ParamValue::Int(_) | ParamValue::Float(_)) => true,
            (ParamType::Bool, ParamValue::Bool(_)) => true,
            (ParamType::Str | ParamType::Path, ParamValue::Str(_)) => true,
            (ParamType::Choice(options), ParamValue::Str(s)) => {
                if !options.contains(&s.as_str()) {
                    return Err(format!(
                        "`{s}` is not one of {}{}",
                        quoted_list(options),
                        crate::suggest::did_you_mean(s, options.iter().copied())
                    ));
                }
                true
            }
            (ParamType::StrList, ParamValue::List(items)) => {
                items.iter().all(|v| matches!(v, ParamValue::Str(_)))
            }
            (ParamType::NameList, ParamValue::List(items)) => items
                .iter()
                .all(|v| matches!(v, ParamValue::Str(_) | ParamValue::Int(_))),
            (ParamType::IntOr(_), ParamValue::Int(_)) => true,
            (ParamType::IntOr(words), ParamValue::Str(s)) => {
                if !words.contains(&s.as_str()) {
                    return Err(format!(
                        "`{s}` is neither an integer nor {}",
                        quoted_list(words)
                    ));
                }
                true
            }
            (ParamType::FloatOr(_), ParamValue::Int(_) | ParamValue::Float(_)) => true,
            (ParamType::FloatOr(words), ParamValue::Str(s)) => {
                if !words.contains(&s.as_str()) {
                    return Err(format!(
                        "`{s}` is neither a number nor {}",
                        quoted_list(words)
                    ));
                }
                true
            }
            (ParamType::IntOrFraction, ParamValue::Int(i)) => *i >= 1,
            (ParamType::IntOrFraction, ParamValue::Float(f)) => *f > 0.0 && *f < 1.0,
            (ParamType::ClassMap, ParamValue::Str(_)) => true,
            (ParamType::ClassMap, ParamValue::Table(t)) => t
                .iter()
                .all(|(k, v)| k.parse::<i64>().is_ok() && matches!(v, ParamValue::Str(_))),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {}, found {}",
                self.describe(),
                value.describe()
            ))
        }
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parameter value as written in a manifest (after sweep expansion).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<ParamValue>),
    Table(BTreeMap<String, ParamValue>),
}

impl ParamValue {
    pub fn describe(&self) -> String {
        match self {
            ParamValue::Int(i) => format!("integer {i}"),
            ParamValue::Float(f) => format!("float {f}"),
            ParamValue::Bool(b) => format!("boolean {b}"),
            ParamValue::Str(s) => format!("string \"{s}\""),
            ParamValue::List(_) => "a list".into(),
            ParamValue::Table(_) => "a table".into(),
        }
    }

    /// An unambiguous, stable byte encoding for cache keys (floats by their bits).
    pub fn encode_canonical(&self, out: &mut Vec<u8>) {
        match self {
            ParamValue::Int(i) => out.extend_from_slice(format!("i{i};").as_bytes()),
            ParamValue::Float(f) => {
                out.extend_from_slice(format!("f{:016x};", f.to_bits()).as_bytes())
            }
            ParamValue::Bool(b) => out.extend_from_slice(if *b { b"b1;" } else { b"b0;" }),
            ParamValue::Str(s) => {
                out.extend_from_slice(format!("s{}:", s.len()).as_bytes());
                out.extend_from_slice(s.as_bytes());
                out.push(b';');
            }
            ParamValue::List(items) => {
                out.extend_from_slice(format!("l{}[", items.len()).as_bytes());
                for item in items {
                    item.encode_canonical(out);
                }
                out.push(b']');
            }
            ParamValue::Table(t) => {
                out.extend_from_slice(format!("t{}{{", t.len()).as_bytes());
                for (k, v) in t {
                    ParamValue::Str(k.clone()).encode_canonical(out);
                    v.encode_canonical(out);
                }
                out.push(b'}');
            }
        }
    }
}

impl fmt::Display for ParamValue {
    /// TOML-like rendering, used in run ids (`kmeans[n_clusters=4]`) and reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Str(s) => write!(f, "\"{s}\""),
            ParamValue::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            ParamValue::Table(t) => {
                write!(f, "{{")?;
                for (i, (k, v)) in t.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// The default of a parameter, in a form that can live in a `static`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    /// The parameter must be given.
    Required,
    /// The parameter may be left out; the plugin then does without it.
    Absent,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(&'static str),
    /// An empty list.
    EmptyList,
}

impl Default {
    pub fn value(&self) -> Option<ParamValue> {
        match *self {
            Default::Required | Default::Absent => None,
            Default::Int(i) => Some(ParamValue::Int(i)),
            Default::Float(f) => Some(ParamValue::Float(f)),
            Default::Bool(b) => Some(ParamValue::Bool(b)),
            Default::Str(s) => Some(ParamValue::Str(s.to_string())),
            Default::EmptyList => Some(ParamValue::List(Vec::new())),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Default::Required => "required".into(),
            Default::Absent => "none".into(),
            other => other.value().map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

/// One parameter of a plugin: name, type, default, documentation and an optional range.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    pub default: Default,
    pub doc: &'static str,
    /// Inclusive lower bound for numeric parameters.
    pub min: Option<f64>,
    /// Inclusive upper bound for numeric parameters.
    pub max: Option<f64>,
}

impl ParamSpec {
    pub const fn new(
        name: &'static str,
        ty: ParamType,
        default: Default,
        doc: &'static str,
    ) -> Self {
        ParamSpec {
            name,
            ty,
            default,
            doc,
            min: None,
            max: None,
        }
    }

    pub const fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    pub const fn max(mut self, max: f64) -> Self {
        self.max = Some(max);
        self
    }

    /// Checks type and range of a value for this parameter.
    pub fn check(&self, value: &ParamValue) -> std::result::Result<(), String> {
        self.ty.check(value)?;
        let number = match value {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        };
        if let Some(x) = number {
            if let Some(min) = self.min
                && x < min
            {
                return Err(format!("must be ≥ {min}, found {x}"));
            }
            if let Some(max) = self.max
                && x > max
            {
                return Err(format!("must be ≤ {max}, found {x}"));
            }
            if !x.is_finite() {
                return Err(format!("must be finite, found {x}"));
            }
        }
        Ok(())
    }
}

/// The resolved parameters of one step: every declared parameter with its value or default.
#[derive(Clone, Debug, PartialEq, std::default::Default)]
pub struct Params {
    pub values: BTreeMap<String, ParamValue>,
    /// Directory that relative paths are resolved against (the manifest's folder).
    pub base_dir: PathBuf,
}

impl Params {
    pub fn new(values: BTreeMap<String, ParamValue>, base_dir: impl Into<PathBuf>) -> Self {
        Params {
            values,
            base_dir: base_dir.into(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    fn missing(name: &str) -> Error {
        Error::input(format!("parameter `{name}` is required"))
            .hint(format!("add `{name} = …` to the step"))
    }

    fn wrong(name: &str, expected: &str, v: &ParamValue) -> Error {
        Error::input(format!(
            "parameter `{name}`: expected {expected}, found {}",
            v.describe()
        ))
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        match self.get(name) {
            Some(ParamValue::Int(i)) => Ok(*i),
            Some(v) => Err(Self::wrong(name, "an integer", v)),
            None => Err(Self::missing(name)),
        }
    }

    /// A non-negative integer as `usize`.
    pub fn usize(&self, name: &str) -> Result<usize> {
        let i = self.int(name)?;
        usize::try_from(i)
            .map_err(|_| Error::input(format!("parameter `{name}` must be ≥ 0, found {i}")))
    }

    pub fn float(&self, name: &str) -> Result<f64> {
        match self.get(name) {
            Some(ParamValue::Float(f)) => Ok(*f),
            Some(ParamValue::Int(i)) => Ok(*i as f64),
            Some(v) => Err(Self::wrong(name, "a number", v)),
            None => Err(Self::missing(name)),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            Some(ParamValue::Bool(b)) => Ok(*b),
            Some(v) => Err(Self::wrong(name, "a boolean", v)),
            None => Err(Self::missing(name)),
        }
    }

    pub fn str(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            Some(ParamValue::Str(s)) => Ok(s),
            Some(v) => Err(Self::wrong(name, "a string", v)),
            None => Err(Self::missing(name)),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.str(name).map(Some),
        }
    }

    /// A path parameter resolved against the manifest's folder.
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.base_dir.join(self.str(name)?))
    }

    pub fn list(&self, name: &str) -> Result<&[ParamValue]> {
        match self.get(name) {
            Some(ParamValue::List(items)) => Ok(items),
            Some(v) => Err(Self::wrong(name, "a list", v)),
            None => Ok(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_checks_report_what_is_wrong() {
        assert!(ParamType::Float.check(&ParamValue::Int(3)).is_ok());
        let err = ParamType::Int
            .check(&ParamValue::Str("3".into()))
            .unwrap_err();
        assert_eq!(err, "expected integer, found string \"3\"");
        let err = ParamType::Choice(&["lloyd", "elkan"])
            .check(&ParamValue::Str("elkn".into()))
            .unwrap_err();
        assert!(err.contains("did you mean `elkan`"), "{err}");
        assert!(
            ParamType::IntOrFraction
                .check(&ParamValue::Float(1.5))
                .is_err()
        );
        assert!(
            ParamType::IntOrFraction
                .check(&ParamValue::Float(0.9))
                .is_ok()
        );
    }

    #[test]
    fn ranges_are_checked() {
        let spec = ParamSpec::new("k", ParamType::Int, Default::Int(8), "").min(1.0);
        assert!(spec.check(&ParamValue::Int(1)).is_ok());
        assert_eq!(
            spec.check(&ParamValue::Int(0)).unwrap_err(),
            "must be ≥ 1, found 0"
        );
    }

    #[test]
    fn canonical_encoding_distinguishes_types_and_structure() {
        let enc = |v: &ParamValue| {
            let mut out = Vec::new();
            v.encode_canonical(&mut out);
            out
        };
        assert_ne!(enc(&ParamValue::Int(1)), enc(&ParamValue::Float(1.0)));
        assert_ne!(enc(&ParamValue::Str("1".into())), enc(&ParamValue::Int(1)));
        let ab = ParamValue::List(vec![ParamValue::Str("a,b".into())]);
        let a_b = ParamValue::List(vec![
            ParamValue::Str("a".into()),
            ParamValue::Str("b".into()),
        ]);
        assert_ne!(enc(&ab), enc(&a_b));
    }
}
