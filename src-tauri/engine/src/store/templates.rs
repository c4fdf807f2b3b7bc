//! The `templates` table (pipeline templates as imported) and what a run that extended one
//! executed (`runs.pipeline_json`).

use sqlx::Row;

use crate::domain::templates::{parse, ExecutedPipeline, TemplateFile, TemplateInfo};
use crate::store::{now_ms, Store};
use crate::{Error, ErrorCode, Result};

/// A stored template: its file, version and when it last changed.
pub struct Stored {
    pub file: TemplateFile,
    pub body: String,
    pub version: i64,
    pub updated_at: i64,
}

impl Stored {
    pub fn info(&self) -> TemplateInfo {
        self.file.info(self.version, self.updated_at)
    }
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Option<Stored> {
    let body: String = r.get("body");
    // Stored only after parsing; a row that no longer parses (a newer Slipway wrote it) is
    // left out of lists rather than failing them.
    let file = parse(&body).ok()?;
    Some(Stored { file, body, version: r.get("version"), updated_at: r.get("updated_at") })
}

pub async fn list(store: &Store) -> Result<Vec<Stored>> {
    let rows = sqlx::query("SELECT body, version, updated_at FROM templates ORDER BY name").fetch_all(store.pool()).await?;
    Ok(rows.iter().filter_map(from_row).collect())
}

pub async fn find(store: &Store, name: &str) -> Result<Option<Stored>> {
    let row = sqlx::query("SELECT body, version, updated_at FROM templates WHERE name = ?").bind(name).fetch_optional(store.pool()).await?;
    Ok(row.as_ref().and_then(from_row))
}

/// Adds the template, or replaces the one of its name: version 1, or one more than before
/// when the text changed (the same text again changes nothing).
pub async fn import(store: &Store, body: &str) -> Result<Stored> {
    let file = parse(body)?;
    let mut tx = store.write_tx().await?;
    let before: Option<(String, i64)> =
        sqlx::query_as("SELECT body, version FROM templates WHERE name = ?").bind(&file.name).fetch_optional(&mut *tx).await?;
    let version = match &before {
        Some((old, v)) if old == body => *v,
        Some((_, v)) => v + 1,
        None => 1,
    };
    if before.as_ref().is_none_or(|(old, _)| old != body) {
        sqlx::query(
            "INSERT INTO templates (name, version, body, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(&file.name)
        .bind(version)
        .bind(body)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    find(store, &file.name).await?.ok_or_else(|| Error::new(ErrorCode::Internal, "the template just stored is gone"))
}

pub async fn delete(store: &Store, name: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM templates WHERE name = ?").bind(name).execute(store.pool()).await?;
    if done.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("there is no template {name:?}")));
    }
    Ok(())
}

pub async fn set_executed(store: &Store, run: i64, executed: &ExecutedPipeline) -> Result<()> {
    sqlx::query("UPDATE runs SET pipeline_json = ? WHERE id = ?")
        .bind(serde_json::to_string(executed).unwrap_or_default())
        .bind(run)
        .execute(store.pool())
        .await?;
    Ok(())
}

pub async fn executed(store: &Store, run: i64) -> Result<Option<ExecutedPipeline>> {
    let json: Option<String> =
        sqlx::query_scalar("SELECT pipeline_json FROM runs WHERE id = ?").bind(run).fetch_optional(store.pool()).await?.flatten();
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}
