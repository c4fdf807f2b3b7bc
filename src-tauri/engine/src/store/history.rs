//! The `history` table: who changed what through the API (see [`HistoryEntry`]).

use sqlx::Row;

use crate::domain::run::HistoryEntry;
use crate::store::{now_ms, Store};
use crate::Result;

const COLUMNS: &str = "at, actor, action, target, project_id, run_id";

fn entry_of(r: &sqlx::sqlite::SqliteRow) -> HistoryEntry {
    HistoryEntry {
        at: r.get("at"),
        actor: r.get("actor"),
        action: r.get("action"),
        target: r.get("target"),
        project_id: r.get("project_id"),
        run_id: r.get("run_id"),
    }
}

/// Records one change, now.
pub async fn record(store: &Store, actor: &str, action: &str, target: &str, project_id: Option<&str>, run_id: Option<i64>) -> Result<()> {
    // A run's project comes from the run when the request named only the run (a cancel).
    sqlx::query(
        "INSERT INTO history (at, actor, action, target, project_id, run_id) \
         VALUES (?, ?, ?, ?, COALESCE(?, (SELECT project_id FROM runs WHERE id = ?)), ?)",
    )
    .bind(now_ms())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(project_id)
    .bind(run_id)
    .bind(run_id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A project's changes (or everyone's, with `None`), newest first.
pub async fn list(store: &Store, project_id: Option<&str>, limit: u32) -> Result<Vec<HistoryEntry>> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(&format!("SELECT {COLUMNS} FROM history WHERE project_id = ? ORDER BY id DESC LIMIT ?"))
                .bind(p)
                .bind(limit)
                .fetch_all(store.pool())
                .await?
        }
        None => sqlx::query(&format!("SELECT {COLUMNS} FROM history ORDER BY id DESC LIMIT ?")).bind(limit).fetch_all(store.pool()).await?,
    };
    Ok(rows.iter().map(entry_of).collect())
}

/// What was asked of one run, oldest first.
pub async fn of_run(store: &Store, run_id: i64) -> Result<Vec<HistoryEntry>> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM history WHERE run_id = ? ORDER BY id")).bind(run_id).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(entry_of).collect())
}
