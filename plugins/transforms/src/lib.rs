//! Transforms: select_classes, standardize.
