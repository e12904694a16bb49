//! Clusterer: k-means with k-means++ initialisation.
