//! Links the plugin crates into the binary so their `inventory::submit!` registrations are
//! collected. A new plugin crate needs one line here (and one in Cargo.toml).

use attrclust_agglomerative as _;
use attrclust_dbscan as _;
use attrclust_gmm as _;
use attrclust_hdbscan as _;
use attrclust_kmeans as _;
use attrclust_loaders as _;
use attrclust_metrics as _;
use attrclust_pca as _;
use attrclust_random_projection as _;
use attrclust_stability as _;
use attrclust_transforms as _;
use attrclust_tsne as _;
use attrclust_umap as _;
