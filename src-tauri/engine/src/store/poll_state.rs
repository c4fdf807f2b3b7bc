//! The `poll_state` and `registry_state` tables: what the last poll of a project's git remote
//! and of its image repository saw, so the next one hands only what moved to the intake.

use std::collections::HashMap;

use sqlx::Row;

use crate::store::{now_ms, Store};
use crate::Result;

/// Ref name → commit, as the last `ls-remote` of the project saw them.
pub async fn git_refs(store: &Store, project: &str) -> Result<HashMap<String, String>> {
    read(store, "SELECT ref_name, commit_sha FROM poll_state WHERE project_id = ?", project).await
}

pub async fn replace_git_refs(store: &Store, project: &str, refs: &HashMap<String, String>) -> Result<()> {
    replace(store, "poll_state", "ref_name, commit_sha", project, refs).await
}

/// Tag → digest, as the last look at the project's image repository saw them (with the marker
/// row, tag "", once it was looked at).
pub async fn registry_tags(store: &Store, project: &str) -> Result<HashMap<String, String>> {
    read(store, "SELECT tag, digest FROM registry_state WHERE project_id = ?", project).await
}

pub async fn replace_registry_tags(store: &Store, project: &str, tags: &HashMap<String, String>) -> Result<()> {
    replace(store, "registry_state", "tag, digest", project, tags).await
}

async fn read(store: &Store, sql: &str, project: &str) -> Result<HashMap<String, String>> {
    let rows = sqlx::query(sql).bind(project).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Replaces what the project's last look saw, in one transaction. `table` and `columns` are
/// this module's constants, never input.
async fn replace(store: &Store, table: &str, columns: &str, project: &str, seen: &HashMap<String, String>) -> Result<()> {
    let mut tx = store.write_tx().await?;
    sqlx::query(&format!("DELETE FROM {table} WHERE project_id = ?")).bind(project).execute(&mut *tx).await?;
    let insert = format!("INSERT INTO {table} (project_id, {columns}, seen_at) VALUES (?, ?, ?, ?)");
    for (key, value) in seen {
        sqlx::query(&insert).bind(project).bind(key).bind(value).bind(now_ms()).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
