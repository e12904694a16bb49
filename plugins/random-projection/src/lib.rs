//! An example plugin to copy: a Gaussian random projection reducer.
//!
//! A plugin is three things: a parameter schema, a type that implements one of the traits in
//! `attrclust_core` (here [`Reducer`]), and an `inventory::submit!` that registers both.

use attrclust_core::params::Default as D;
use attrclust_core::rng::Rng;
use attrclust_core::{
    Build, Context, Dataset, Error, ParamSpec, ParamType as T, Plugin, Reducer, Result,
};
use ndarray::Array2;

// 1. The parameters: name, type, default, one line of documentation (and an optional range).
static PARAMS: &[ParamSpec] = &[ParamSpec::new(
    "n_components",
    T::Int,
    D::Int(2),
    "Dimension of the projection.",
)
.min(1.0)];

// 2. Registration: `op = "random_projection"` in a manifest now finds this plugin.
attrclust_core::inventory::submit! {
    Plugin {
        name: "random_projection",
        version: "1", // bump when results change: it invalidates cached results
        summary: "Gaussian random projection (example plugin)",
        params: PARAMS,
        build: Build::Reducer(|p| Ok(Box::new(RandomProjection { n_components: p.usize("n_components")? }))),
        uses_seed: true, // the seed enters the cache key
        uses_groups: false,
    }
}

// 3. The algorithm.
pub struct RandomProjection {
    pub n_components: usize,
}

impl Reducer for RandomProjection {
    fn fit_transform(&self, input: &Dataset, ctx: &Context) -> Result<Dataset> {
        let d = input.n_features();
        if self.n_components > d {
            return Err(Error::input(format!(
                "n_components = {} exceeds the {d} input features",
                self.n_components
            )));
        }
        // Entries ~ N(0, 1/k), as scikit-learn's GaussianRandomProjection; seeded by the step.
        let mut rng = Rng::new(ctx.seed);
        let scale = 1.0 / (self.n_components as f64).sqrt();
        let r = Array2::from_shape_simple_fn((d, self.n_components), || rng.normal() * scale);
        let columns = (1..=self.n_components).map(|i| format!("RP{i}")).collect();
        Ok(input.with_matrix(input.x.dot(&r), columns))
    }
}
