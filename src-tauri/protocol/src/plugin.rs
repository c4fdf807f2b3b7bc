//! Plugins: step images under a contract (see `docs/plugins.md`). What one published in a run:
//! structured data and numeric metrics, kept per run, plugin and project.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What plugin `plugin` published in run `run_id` (its `data.json` and `metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PluginRecord {
    pub plugin: String,
    pub project_id: String,
    #[ts(type = "number")]
    pub run_id: i64,
    pub stage: String,
    pub commit_sha: Option<String>,
    /// Any JSON the plugin wrote (a table is an array of objects; key/values an object).
    #[ts(type = "unknown")]
    pub data: serde_json::Value,
    pub metrics: BTreeMap<String, f64>,
    #[ts(type = "number")]
    pub created_at: i64,
}

/// A plugin that has published in a project: for choosing what to chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PluginSummary {
    pub plugin: String,
    /// How many runs it published in.
    #[ts(type = "number")]
    pub runs: i64,
    /// The metric names of its latest publication.
    pub metrics: Vec<String>,
    #[ts(type = "number")]
    pub last_at: i64,
}
