//! Turns a manifest into a DAG of runs, computes cache keys, and executes it in parallel.
