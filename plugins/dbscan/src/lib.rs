//! DBSCAN. Work in progress.
