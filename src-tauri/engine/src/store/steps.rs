//! The `run_steps` table: a run's steps, each pending, running and ended once. Every change is
//! announced on the store's step channel, for the console's live step view.

use crate::domain::run::StepStatus;
use crate::store::{now_ms, Store};
use crate::Result;

/// Adds a pending step at `position` of run `run_id`; `kind` says what it does (fetch, step,
/// build, pull, deploy).
pub async fn add(store: &Store, run_id: i64, position: i64, name: &str, kind: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("INSERT INTO run_steps (run_id, position, name, kind, status) VALUES (?, ?, ?, ?, 'pending') RETURNING id")
        .bind(run_id)
        .bind(position)
        .bind(name)
        .bind(kind)
        .fetch_one(store.pool())
        .await?)
}

pub async fn start(store: &Store, step: i64) -> Result<()> {
    let sql = "UPDATE run_steps SET status = ?, started_at = ? WHERE id = ? RETURNING run_id";
    let run: Option<i64> = sqlx::query_scalar(sql).bind(StepStatus::Running).bind(now_ms()).bind(step).fetch_optional(store.pool()).await?;
    announce(store, run);
    Ok(())
}

pub async fn end(store: &Store, step: i64, status: StepStatus, exit_code: Option<i64>, message: Option<&str>) -> Result<()> {
    let sql = "UPDATE run_steps SET status = ?, exit_code = ?, message = ?, finished_at = ? WHERE id = ? RETURNING run_id";
    let run: Option<i64> =
        sqlx::query_scalar(sql).bind(status).bind(exit_code).bind(message).bind(now_ms()).bind(step).fetch_optional(store.pool()).await?;
    announce(store, run);
    Ok(())
}

/// Tells the console's live step view that a step of `run` changed.
fn announce(store: &Store, run: Option<i64>) {
    if let Some(run) = run {
        store.step_changed(run);
    }
}

/// The steps of run `run_id` that never started are skipped (the run ended before them).
pub async fn skip_pending(store: &Store, run_id: i64) -> Result<()> {
    sqlx::query("UPDATE run_steps SET status = 'skipped', finished_at = ? WHERE run_id = ? AND status = 'pending'")
        .bind(now_ms())
        .bind(run_id)
        .execute(store.pool())
        .await?;
    Ok(())
}
