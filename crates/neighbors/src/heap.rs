//! A k-NN candidate ordered by (reduced distance, row index): the max-heap's top is the current
//! k-th neighbour, and equal distances keep the smaller row index.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub dist: f64,
    pub index: usize,
}

impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.index.cmp(&other.index))
    }
}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cand {}
