//! From a validated manifest to results: [`Plan::build`] expands sweeps into one node per run
//! and computes every node's cache key; [`execute`] runs the nodes in dependency order, in
//! parallel, reading and filling the cache.

mod execute;
mod plan;

pub use execute::{Event, NodeStatus, RunOptions, RunResult, execute};
pub use plan::{Node, NodeKind, Plan};
