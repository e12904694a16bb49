//! Loaders: numpy .npz/.npy, CSV/TSV.
