//! Disjoint sets as a parent array (`parent[i] == i` for a root): what single linkage, Borůvka
//! and tree cuts use to follow merges.

/// The root of `i`'s set, halving the path on the way (later finds get cheaper).
pub fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_roots_and_shortens_paths() {
        // A chain 4 → 3 → 2 → 1 → 0, and 5 alone.
        let mut parent = vec![0, 0, 1, 2, 3, 5];
        assert_eq!(find(&mut parent, 4), 0);
        assert_eq!(find(&mut parent, 5), 5);
        assert!(parent[4] < 3, "the path was shortened: {parent:?}");
        assert_eq!(find(&mut parent, 4), 0);
    }
}
