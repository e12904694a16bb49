//! Transforms: `select_classes` (keep the samples of some classes or groups), `group_labels`
//! (relabel samples by their group, to ask questions at family level) and `standardize` (zero
//! mean, unit variance per channel, like scikit-learn's StandardScaler).

use std::collections::BTreeMap;

use attrclust_core::params::Default as D;
use attrclust_core::suggest::did_you_mean;
use attrclust_core::{
    Build, Context, Dataset, Error, Info, ParamSpec, ParamType as T, ParamValue, Params, Plugin,
    Result, Transform,
};

static SELECT_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "classes",
        T::NameList,
        D::EmptyList,
        "Classes to keep, by name or id.",
    ),
    ParamSpec::new(
        "groups",
        T::StrList,
        D::EmptyList,
        "Groups from [groups] whose classes to keep.",
    ),
];

static GROUP_LABELS_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "groups",
        T::StrList,
        D::EmptyList,
        "Groups from [groups] that become the labels, in this order. Default: every group.",
    ),
    ParamSpec::new(
        "unassigned",
        T::Choice(&["error", "drop"]),
        D::Str("error"),
        "Samples whose class is in none of the groups: `error` names the classes, `drop` drops them.",
    ),
];

static STANDARDIZE_PARAMS: &[ParamSpec] = &[
    ParamSpec::new(
        "with_mean",
        T::Bool,
        D::Bool(true),
        "Subtract each channel's mean.",
    ),
    ParamSpec::new(
        "with_std",
        T::Bool,
        D::Bool(true),
        "Divide by each channel's standard deviation (population, ddof = 0); constant channels are left unscaled.",
    ),
];

attrclust_core::inventory::submit! {
    Plugin {
        name: "select_classes",
        version: "1",
        summary: "Keep the samples of the given classes and/or groups, in data order",
        params: SELECT_PARAMS,
        build: Build::Transform(|p| Ok(Box::new(SelectClasses(p.clone())))),
        uses_seed: false,
        uses_groups: true,
    }
}

attrclust_core::inventory::submit! {
    Plugin {
        name: "group_labels",
        version: "1",
        summary: "Relabel samples by group (family), so metrics and plots work at group level",
        params: GROUP_LABELS_PARAMS,
        build: Build::Transform(|p| Ok(Box::new(GroupLabels(p.clone())))),
        uses_seed: false,
        uses_groups: true,
    }
}

attrclust_core::inventory::submit! {
    Plugin {
        name: "standardize",
        version: "1",
        summary: "Scale each channel to zero mean and unit variance (scikit-learn StandardScaler)",
        params: STANDARDIZE_PARAMS,
        build: Build::Transform(|p| Ok(Box::new(Standardize {
            with_mean: p.bool("with_mean")?,
            with_std: p.bool("with_std")?,
        }))),
        uses_seed: false,
        uses_groups: false,
    }
}

struct SelectClasses(Params);

impl SelectClasses {
    /// The class ids to keep, resolving names, ids and groups against the data's class map.
    fn wanted(&self, data: &Dataset, ctx: &Context) -> Result<Vec<i64>> {
        let by_name: BTreeMap<&str, i64> = data
            .classes
            .iter()
            .map(|(id, name)| (name.as_str(), *id))
            .collect();
        let resolve_name = |name: &str, from: &str| -> Result<i64> {
            by_name.get(name).copied().ok_or_else(|| {
                Error::input(format!(
                    "unknown class `{name}`{from}{}",
                    did_you_mean(name, by_name.keys().copied())
                ))
                .hint(format!(
                    "the data's classes are: {}",
                    by_name.keys().copied().collect::<Vec<_>>().join(", ")
                ))
            })
        };
        let mut ids = Vec::new();
        for item in self.0.list("classes")? {
            ids.push(match item {
                ParamValue::Str(name) => resolve_name(name, "")?,
                ParamValue::Int(id) if data.classes.contains_key(id) => *id,
                ParamValue::Int(id) => {
                    return Err(Error::input(format!("unknown class id {id}")).hint(format!(
                        "the data's class ids are {:?}",
                        data.classes.keys().collect::<Vec<_>>()
                    )));
                }
                other => return Err(Error::input(format!("bad class {}", other.describe()))),
            });
        }
        for item in self.0.list("groups")? {
            let ParamValue::Str(group) = item else {
                return Err(Error::input(format!("bad group {}", item.describe())));
            };
            let Some(members) = ctx.groups.get(group) else {
                return Err(Error::input(format!(
                    "unknown group `{group}`{}",
                    did_you_mean(group, ctx.groups.keys().map(String::as_str))
                ))
                .hint("groups are declared in the manifest's [groups] table"));
            };
            for name in members {
                ids.push(resolve_name(name, &format!(" in group `{group}`"))?);
            }
        }
        if ids.is_empty() {
            return Err(Error::input("select_classes selects nothing")
                .hint("give `classes = [\"…\"]` and/or `groups = [\"…\"]`"));
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

impl Transform for SelectClasses {
    fn apply(&self, data: &Dataset, ctx: &Context) -> Result<Dataset> {
        let wanted = self.wanted(data, ctx)?;
        let rows: Vec<usize> = (0..data.n_samples())
            .filter(|&i| wanted.binary_search(&data.labels[i]).is_ok())
            .collect();
        if rows.is_empty() {
            return Err(Error::input(format!(
                "no sample belongs to the selected classes {:?}",
                wanted
                    .iter()
                    .map(|&id| data.class_name(id))
                    .collect::<Vec<_>>()
            )));
        }
        let mut out =
            data.with_matrix(data.x.select(ndarray::Axis(0), &rows), data.columns.clone());
        out.labels = rows.iter().map(|&i| data.labels[i]).collect();
        out.ids = rows.iter().map(|&i| data.ids[i].clone()).collect();
        out.classes = wanted.iter().map(|&id| (id, data.class_name(id))).collect();
        Ok(out)
    }
}

struct GroupLabels(Params);

impl Transform for GroupLabels {
    fn apply(&self, data: &Dataset, ctx: &Context) -> Result<Dataset> {
        let mut names: Vec<&str> = Vec::new();
        for item in self.0.list("groups")? {
            match item {
                ParamValue::Str(g) => names.push(g),
                other => return Err(Error::input(format!("bad group {}", other.describe()))),
            }
        }
        if names.is_empty() {
            names = ctx.groups.keys().map(String::as_str).collect();
        }
        if names.is_empty() {
            return Err(Error::input("group_labels needs groups, and the manifest declares none")
                .hint("add a [groups] table, e.g. color = [\"color_rotation\", \"color_temperature\"]"));
        }
        // class id → group index; a class in two listed groups is ambiguous.
        let mut group_of: BTreeMap<i64, i64> = BTreeMap::new();
        for (g, name) in names.iter().enumerate() {
            let Some(members) = ctx.groups.get(*name) else {
                return Err(Error::input(format!(
                    "unknown group `{name}`{}",
                    did_you_mean(name, ctx.groups.keys().map(String::as_str))
                )));
            };
            for member in members {
                let Some((&id, _)) = data.classes.iter().find(|(_, n)| *n == member) else {
                    return Err(Error::input(format!(
                        "group `{name}` names unknown class `{member}`{}",
                        did_you_mean(member, data.classes.values().map(String::as_str))
                    )));
                };
                if let Some(&other) = group_of.get(&id)
                    && other != g as i64
                {
                    return Err(Error::input(format!(
                        "class `{member}` is in both `{}` and `{name}`",
                        names[other as usize]
                    ))
                    .hint("list groups that do not overlap in `groups = [..]`"));
                }
                group_of.insert(id, g as i64);
            }
        }
        let keep: Vec<usize> = (0..data.n_samples())
            .filter(|&i| group_of.contains_key(&data.labels[i]))
            .collect();
        if keep.len() < data.n_samples() && self.0.str("unassigned")? == "error" {
            let mut missing: Vec<String> = data
                .labels
                .iter()
                .filter(|l| !group_of.contains_key(l))
                .map(|&l| data.class_name(l))
                .collect();
            missing.sort();
            missing.dedup();
            return Err(
                Error::input(format!("classes in no group: {}", missing.join(", "))).hint(
                    "add them to a group, select them away first, or set `unassigned = \"drop\"`",
                ),
            );
        }
        let mut out =
            data.with_matrix(data.x.select(ndarray::Axis(0), &keep), data.columns.clone());
        out.labels = keep.iter().map(|&i| group_of[&data.labels[i]]).collect();
        out.ids = keep.iter().map(|&i| data.ids[i].clone()).collect();
        out.classes = names
            .iter()
            .enumerate()
            .map(|(g, n)| (g as i64, n.to_string()))
            .collect();
        Ok(out)
    }
}

struct Standardize {
    with_mean: bool,
    with_std: bool,
}

impl Transform for Standardize {
    fn apply(&self, data: &Dataset, _ctx: &Context) -> Result<Dataset> {
        let n = data.n_samples() as f64;
        let mut x = data.x.clone();
        let mut constant = 0;
        for mut col in x.columns_mut() {
            let mean = col.sum() / n;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            // scikit-learn leaves (near-)constant features unscaled rather than dividing by ~0.
            let is_constant = var <= f64::EPSILON * mean.abs().max(1.0).powi(2);
            constant += i64::from(is_constant);
            let scale = if self.with_std && !is_constant {
                var.sqrt()
            } else {
                1.0
            };
            let shift = if self.with_mean { mean } else { 0.0 };
            col.mapv_inplace(|v| (v - shift) / scale);
        }
        let mut out = data.with_matrix(x, data.columns.clone());
        out.info
            .insert("constant_channels".into(), Info::Int(constant));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn data() -> Dataset {
        Dataset {
            x: array![[1.0, 5.0], [3.0, 5.0], [5.0, 5.0], [7.0, 5.0]],
            labels: vec![0, 1, 2, 1],
            ids: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            classes: [(0, "red".into()), (1, "green".into()), (2, "blue".into())].into(),
            columns: vec!["ch_0".into(), "ch_1".into()],
            info: BTreeMap::new(),
        }
    }

    #[test]
    fn standardize_matches_population_std_and_keeps_constant_channels() {
        let t = Standardize {
            with_mean: true,
            with_std: true,
        };
        let out = Context::detached("s", 0, |ctx| t.apply(&data(), ctx)).unwrap();
        // Column 0: mean 4, population std sqrt(5).
        let s5 = 5f64.sqrt();
        let expected = [-3.0 / s5, -1.0 / s5, 1.0 / s5, 3.0 / s5];
        for (got, want) in out.x.column(0).iter().zip(expected) {
            assert!((got - want).abs() < 1e-15);
        }
        assert!(out.x.column(1).iter().all(|&v| v == 0.0));
        assert_eq!(out.info["constant_channels"], Info::Int(1));
    }

    #[test]
    fn select_by_name_id_and_group() {
        let groups: BTreeMap<String, Vec<String>> =
            [("warm".to_string(), vec!["red".to_string()])].into();
        let ctx = Context::new("s", 0, &groups);
        let mut values = BTreeMap::new();
        values.insert("classes".into(), ParamValue::List(vec![ParamValue::Int(2)]));
        values.insert(
            "groups".into(),
            ParamValue::List(vec![ParamValue::Str("warm".into())]),
        );
        let out = SelectClasses(Params::new(values, ""))
            .apply(&data(), &ctx)
            .unwrap();
        assert_eq!(out.labels, vec![0, 2]);
        assert_eq!(out.ids, vec!["a", "c"]);
        assert_eq!(out.classes.len(), 2);
    }

    #[test]
    fn group_labels_relabel_by_family_and_check_coverage() {
        let groups: BTreeMap<String, Vec<String>> = [
            ("warm".to_string(), vec!["red".to_string()]),
            (
                "cool".to_string(),
                vec!["green".to_string(), "blue".to_string()],
            ),
        ]
        .into();
        let ctx = Context::new("g", 0, &groups);
        let mut values = BTreeMap::new();
        values.insert(
            "groups".into(),
            ParamValue::List(vec![
                ParamValue::Str("warm".into()),
                ParamValue::Str("cool".into()),
            ]),
        );
        values.insert("unassigned".into(), ParamValue::Str("error".into()));
        let out = GroupLabels(Params::new(values.clone(), ""))
            .apply(&data(), &ctx)
            .unwrap();
        assert_eq!(out.labels, vec![0, 1, 1, 1]);
        assert_eq!(out.classes[&0], "warm");
        assert_eq!(out.classes[&1], "cool");

        values.insert(
            "groups".into(),
            ParamValue::List(vec![ParamValue::Str("warm".into())]),
        );
        let err = GroupLabels(Params::new(values.clone(), ""))
            .apply(&data(), &ctx)
            .unwrap_err();
        assert!(
            err.message.contains("classes in no group: blue, green"),
            "{err}"
        );
        values.insert("unassigned".into(), ParamValue::Str("drop".into()));
        let out = GroupLabels(Params::new(values, ""))
            .apply(&data(), &ctx)
            .unwrap();
        assert_eq!(out.ids, vec!["a"]);
    }

    #[test]
    fn select_errors_name_the_problem() {
        let ctx_groups = BTreeMap::new();
        let ctx = Context::new("s", 0, &ctx_groups);
        let mut values = BTreeMap::new();
        values.insert(
            "classes".into(),
            ParamValue::List(vec![ParamValue::Str("gren".into())]),
        );
        let err = SelectClasses(Params::new(values, ""))
            .apply(&data(), &ctx)
            .unwrap_err();
        assert!(err.message.contains("did you mean `green`"), "{err}");
        let mut values = BTreeMap::new();
        values.insert(
            "groups".into(),
            ParamValue::List(vec![ParamValue::Str("cold".into())]),
        );
        let err = SelectClasses(Params::new(values, ""))
            .apply(&data(), &ctx)
            .unwrap_err();
        assert!(err.message.contains("unknown group `cold`"), "{err}");
        let err = SelectClasses(Params::default())
            .apply(&data(), &ctx)
            .unwrap_err();
        assert!(err.message.contains("selects nothing"), "{err}");
    }
}

#[cfg(test)]
mod reference_tests {
    use super::*;
    use attrclust_testdata::{matrix, sklearn_reference};

    #[test]
    fn standardize_matches_scikit_learn_standard_scaler() {
        let r = sklearn_reference();
        let x = matrix(&r["X"]);
        let want = matrix(&r["standard_scaler"]);
        let n = x.nrows();
        let data = Dataset {
            columns: (0..x.ncols()).map(|j| format!("ch_{j}")).collect(),
            x,
            labels: vec![0; n],
            ids: (0..n).map(|i| i.to_string()).collect(),
            classes: [(0, "a".to_string())].into(),
            info: BTreeMap::new(),
        };
        let t = Standardize {
            with_mean: true,
            with_std: true,
        };
        let out = Context::detached("s", 0, |ctx| t.apply(&data, ctx)).unwrap();
        for ((i, j), w) in want.indexed_iter() {
            assert!((out.x[[i, j]] - w).abs() < 1e-12, "[{i},{j}]");
        }
    }
}
