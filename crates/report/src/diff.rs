//! `attrclust diff`: two results.json documents compared run by run and metric by metric, so a
//! committed report can be checked against a new one (or against an older git revision).

use std::collections::BTreeSet;

use serde_json::Value;

/// One difference between two results.json documents.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A run (or embedding) present in one document only: `(section, run id, in_a)`.
    OnlyIn(&'static str, String, bool),
    /// A value that differs: `(section, run id, field, a, b)`; `null` where a side has none.
    Value(&'static str, String, String, Value, Value),
    /// The run `[report] select` features for a step: `(step, a, b)`.
    Selected(String, Value, Value),
}

/// The keys of `v` if it is an object (runs, metrics, steps).
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// What a results.json section holds, for the printout.
fn kind(section: &str) -> &'static str {
    if section == "results" {
        "run"
    } else {
        "embedding"
    }
}

/// The differences between `a` and `b`. Numbers within `tolerance` of each other are equal.
pub fn diff(a: &Value, b: &Value, tolerance: f64) -> Vec<Change> {
    let mut out = Vec::new();
    let numbers_equal = |x: &Value, y: &Value| match (x.as_f64(), y.as_f64()) {
        (Some(p), Some(q)) => (p - q).abs() <= tolerance,
        _ => x == y,
    };
    for (section, fields) in [
        ("results", &["n_clusters", "n_noise", "n_samples"][..]),
        ("embeddings", &[][..]),
    ] {
        for id in keys(&a[section]).union(&keys(&b[section])) {
            let (x, y) = (&a[section][id], &b[section][id]);
            if x.is_null() || y.is_null() {
                out.push(Change::OnlyIn(section, id.clone(), !x.is_null()));
                continue;
            }
            for field in fields {
                if !numbers_equal(&x[*field], &y[*field]) {
                    out.push(Change::Value(
                        section,
                        id.clone(),
                        field.to_string(),
                        x[*field].clone(),
                        y[*field].clone(),
                    ));
                }
            }
            for m in keys(&x["metrics"]).union(&keys(&y["metrics"])) {
                let (p, q) = (&x["metrics"][m], &y["metrics"][m]);
                if !numbers_equal(p, q) {
                    out.push(Change::Value(
                        section,
                        id.clone(),
                        m.clone(),
                        p.clone(),
                        q.clone(),
                    ));
                }
            }
        }
    }
    for step in keys(&a["selected"]).union(&keys(&b["selected"])) {
        let (x, y) = (&a["selected"][step], &b["selected"][step]);
        if x != y {
            out.push(Change::Selected(step.clone(), x.clone(), y.clone()));
        }
    }
    out
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.6}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The changes as text, one line each, grouped by run, in a stable order.
pub fn render(changes: &[Change], label_a: &str, label_b: &str) -> String {
    let mut text = format!("A: {label_a}\nB: {label_b}\n");
    if changes.is_empty() {
        text.push_str("no differences\n");
        return text;
    }
    let mut current: Option<(&str, &str)> = None;
    for c in changes {
        match c {
            Change::OnlyIn(section, id, in_a) => {
                let side = if *in_a { "A" } else { "B" };
                text.push_str(&format!("only in {side}: {} {id}\n", kind(section)));
                current = None;
            }
            Change::Value(section, id, field, x, y) => {
                if current != Some((section, id)) {
                    text.push_str(&format!("{} {id}\n", kind(section)));
                    current = Some((section, id));
                }
                let delta = match (x.as_f64(), y.as_f64()) {
                    (Some(p), Some(q)) => format!("  ({:+.6})", q - p),
                    _ => String::new(),
                };
                text.push_str(&format!("  {field:<24} {} → {}{delta}\n", show(x), show(y)));
            }
            Change::Selected(step, x, y) => {
                text.push_str(&format!("selected {step}: {} → {}\n", show(x), show(y)));
                current = None;
            }
        }
    }
    text.push_str(&format!(
        "{} difference{}\n",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_changed_missing_and_undefined_values_and_selection() {
        let a = json!({
            "results": {
                "k[n=2]": {"metrics": {"ari": 0.5, "nmi": 0.7}, "n_clusters": 2, "n_noise": 0},
                "k[n=3]": {"metrics": {"ari": 0.6}, "n_clusters": 3, "n_noise": 0},
            },
            "embeddings": {"umap": {"metrics": {"trustworthiness": 0.97}}},
            "selected": {"k": "k[n=2]"},
        });
        let b = json!({
            "results": {
                "k[n=2]": {"metrics": {"ari": 0.5 + 1e-13, "nmi": null}, "n_clusters": 2, "n_noise": 1},
                "k[n=4]": {"metrics": {"ari": 0.6}, "n_clusters": 4, "n_noise": 0},
            },
            "embeddings": {"umap": {"metrics": {"trustworthiness": 0.98}}},
            "selected": {"k": "k[n=4]"},
        });
        let changes = diff(&a, &b, 1e-12);
        assert_eq!(
            changes,
            vec![
                Change::Value(
                    "results",
                    "k[n=2]".into(),
                    "n_noise".into(),
                    json!(0),
                    json!(1)
                ),
                Change::Value(
                    "results",
                    "k[n=2]".into(),
                    "nmi".into(),
                    json!(0.7),
                    Value::Null
                ),
                Change::OnlyIn("results", "k[n=3]".into(), true),
                Change::OnlyIn("results", "k[n=4]".into(), false),
                Change::Value(
                    "embeddings",
                    "umap".into(),
                    "trustworthiness".into(),
                    json!(0.97),
                    json!(0.98)
                ),
                Change::Selected("k".into(), json!("k[n=2]"), json!("k[n=4]")),
            ]
        );
        // Without tolerance the 1e-13 change in ARI counts too.
        assert_eq!(diff(&a, &b, 0.0).len(), changes.len() + 1);
        assert!(diff(&a, &a, 0.0).is_empty());
        let text = render(&changes, "old", "new");
        assert!(text.contains("run k[n=2]\n  n_noise"), "{text}");
        assert!(
            text.contains("nmi                      0.700000 → —"),
            "{text}"
        );
        assert!(text.contains("only in A: run k[n=3]"), "{text}");
        assert!(text.ends_with("6 differences\n"), "{text}");
        assert!(render(&[], "a", "b").ends_with("no differences\n"));
    }
}
