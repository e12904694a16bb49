//! Nearest-neighbour search (KD-tree k-NN and radius queries). Work in progress.
