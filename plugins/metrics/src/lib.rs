//! Metrics: silhouette, purity.
