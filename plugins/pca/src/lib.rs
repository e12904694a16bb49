//! Reducer: principal component analysis.
