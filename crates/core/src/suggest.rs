//! "Did you mean …?" suggestions for misspelt names.

/// Levenshtein edit distance between two strings (by chars).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if it is close enough to be a plausible typo.
/// A candidate contained in the name or containing it (`scaled` for `scaled_data`) also counts.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, c)| {
            d <= limit
                || (c.len() >= 3 && name.len() >= 3 && (name.contains(c) || c.contains(name)))
        })
        .min()
        .map(|(_, c)| c)
}

/// ", did you mean `x`?" or an empty string.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|c| format!(", did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kmean", "kmeans"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
    }

    #[test]
    fn suggests_only_near_names() {
        let ops = ["kmeans", "pca", "hdbscan", "standardize"];
        assert_eq!(closest("kmean", ops), Some("kmeans"));
        assert_eq!(closest("standardise", ops), Some("standardize"));
        assert_eq!(closest("umap", ops), None);
        assert_eq!(closest("scaled_data", ["scaled", "pca"]), Some("scaled"));
    }
}
