//! Writes the HTML report, results.json and CSV files of an experiment.
