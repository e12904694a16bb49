//! Agglomerative clustering. Work in progress.
