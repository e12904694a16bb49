//! Example plugin: Gaussian random projection reducer.
