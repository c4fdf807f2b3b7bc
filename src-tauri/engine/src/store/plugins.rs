//! The `plugin_data` table: what plugin steps published, per run, plugin and project.

use sqlx::Row;

use crate::domain::plugins::{Output, PluginRecord, PluginSummary};
use crate::store::{now_ms, Store};
use crate::Result;

const SELECT: &str = "SELECT plugin, project_id, run_id, stage, commit_sha, data_json, metrics_json, created_at FROM plugin_data";

fn from_row(r: &sqlx::sqlite::SqliteRow) -> PluginRecord {
    PluginRecord {
        plugin: r.get("plugin"),
        project_id: r.get("project_id"),
        run_id: r.get("run_id"),
        stage: r.get("stage"),
        commit_sha: r.get("commit_sha"),
        data: serde_json::from_str(r.get("data_json")).unwrap_or_default(),
        metrics: serde_json::from_str(r.get("metrics_json")).unwrap_or_default(),
        created_at: r.get("created_at"),
    }
}

/// Where a publication comes from.
pub struct Origin<'a> {
    pub project: &'a str,
    pub run: i64,
    pub stage: &'a str,
    pub plugin: &'a str,
    pub commit: &'a str,
}

pub async fn insert(store: &Store, at: &Origin<'_>, out: &Output) -> Result<PluginRecord> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO plugin_data (project_id, run_id, stage, plugin, commit_sha, data_json, metrics_json, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(at.project)
    .bind(at.run)
    .bind(at.stage)
    .bind(at.plugin)
    .bind(at.commit)
    .bind(out.data.to_string())
    .bind(serde_json::to_string(&out.metrics).unwrap_or_else(|_| "{}".into()))
    .bind(now_ms())
    .fetch_one(store.pool())
    .await?;
    let row = sqlx::query(&format!("{SELECT} WHERE id = ?")).bind(id).fetch_one(store.pool()).await?;
    Ok(from_row(&row))
}

/// The latest publication of each plugin of `project` other than `except`: a plugin step's
/// input. Only this project's rows are read, which is the whole of the scoping.
pub async fn latest_of_others(store: &Store, project: &str, except: &str) -> Result<Vec<PluginRecord>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE id IN (SELECT MAX(id) FROM plugin_data WHERE project_id = ?1 AND plugin != ?2 GROUP BY plugin) ORDER BY plugin"
    ))
    .bind(project)
    .bind(except)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn of_run(store: &Store, run: i64) -> Result<Vec<PluginRecord>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE run_id = ? ORDER BY id")).bind(run).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Newest first.
pub async fn of_plugin(store: &Store, project: &str, plugin: &str, limit: u32) -> Result<Vec<PluginRecord>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE project_id = ? AND plugin = ? ORDER BY id DESC LIMIT ?"))
        .bind(project)
        .bind(plugin)
        .bind(limit as i64)
        .fetch_all(store.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn summaries(store: &Store, project: &str) -> Result<Vec<PluginSummary>> {
    let rows = sqlx::query(
        "SELECT plugin, COUNT(*) AS runs, MAX(created_at) AS last_at, \
         (SELECT metrics_json FROM plugin_data l WHERE l.project_id = d.project_id AND l.plugin = d.plugin ORDER BY id DESC LIMIT 1) AS metrics \
         FROM plugin_data d WHERE project_id = ? GROUP BY plugin ORDER BY plugin",
    )
    .bind(project)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PluginSummary {
            plugin: r.get("plugin"),
            runs: r.get("runs"),
            metrics: serde_json::from_str::<std::collections::BTreeMap<String, f64>>(r.get("metrics"))
                .map(|m| m.into_keys().collect())
                .unwrap_or_default(),
            last_at: r.get("last_at"),
        })
        .collect())
}
