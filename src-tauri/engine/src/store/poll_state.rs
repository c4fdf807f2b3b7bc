//! The `poll_state` and `registry_state` tables: what the last poll of a project's git remote
//! and of its image repository saw, so the next one hands only what moved to the intake.

use std::collections::HashMap;

use sqlx::Row;

use crate::store::{now_ms, Store};
use crate::Result;

/// Ref name → commit, as the last `ls-remote` of the project saw them.
pub async fn git_refs(store: &Store, project: &str) -> Result<HashMap<String, String>> {
    let rows =
        sqlx::query("SELECT ref_name, commit_sha FROM poll_state WHERE project_id = ?").bind(project).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(|r| (r.get("ref_name"), r.get("commit_sha"))).collect())
}

pub async fn replace_git_refs(store: &Store, project: &str, refs: &HashMap<String, String>) -> Result<()> {
    let mut tx = store.write_tx().await?;
    sqlx::query("DELETE FROM poll_state WHERE project_id = ?").bind(project).execute(&mut *tx).await?;
    for (name, commit) in refs {
        sqlx::query("INSERT INTO poll_state (project_id, ref_name, commit_sha, seen_at) VALUES (?, ?, ?, ?)")
            .bind(project)
            .bind(name)
            .bind(commit)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Tag → digest, as the last look at the project's image repository saw them (with the marker
/// row, tag "", once it was looked at).
pub async fn registry_tags(store: &Store, project: &str) -> Result<HashMap<String, String>> {
    let rows = sqlx::query("SELECT tag, digest FROM registry_state WHERE project_id = ?").bind(project).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(|r| (r.get("tag"), r.get("digest"))).collect())
}

pub async fn replace_registry_tags(store: &Store, project: &str, tags: &HashMap<String, String>) -> Result<()> {
    let mut tx = store.write_tx().await?;
    sqlx::query("DELETE FROM registry_state WHERE project_id = ?").bind(project).execute(&mut *tx).await?;
    for (tag, digest) in tags {
        sqlx::query("INSERT INTO registry_state (project_id, tag, digest, seen_at) VALUES (?, ?, ?, ?)")
            .bind(project)
            .bind(tag)
            .bind(digest)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
