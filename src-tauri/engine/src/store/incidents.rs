//! The `incidents` table: the stretches of time a live release was degraded or down.

use sqlx::Row;

use crate::domain::watch::{Incident, LiveState};
use crate::store::Store;
use crate::Result;

/// Opens an incident (the stage left `healthy`, or went from degraded to down).
pub async fn open(store: &Store, stage_id: &str, release: i64, state: LiveState, at: i64, what: &str) -> Result<i64> {
    let mut tx = store.write_tx().await?;
    let id =
        sqlx::query_scalar("INSERT INTO incidents (stage_id, release_number, state, started_at, what) VALUES (?, ?, ?, ?, ?) RETURNING id")
            .bind(stage_id)
            .bind(release)
            .bind(state.as_str())
            .bind(at)
            .bind(what)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(id)
}

/// Ends the stage's open incidents at `at`.
pub async fn close(store: &Store, stage_id: &str, at: i64) -> Result<()> {
    let mut tx = store.write_tx().await?;
    sqlx::query("UPDATE incidents SET ended_at = ? WHERE stage_id = ? AND ended_at IS NULL")
        .bind(at)
        .bind(stage_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The incidents of `stage_id` that overlap `[since, now]`, oldest first.
pub async fn since(store: &Store, stage_id: &str, since: i64) -> Result<Vec<Incident>> {
    let rows = sqlx::query(
        "SELECT id, stage_id, release_number, state, started_at, ended_at, what FROM incidents \
         WHERE stage_id = ? AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at",
    )
    .bind(stage_id)
    .bind(since)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let sid: String = r.get("stage_id");
            let (project_id, stage) = sid.split_once(':').unwrap_or((&sid, ""));
            Incident {
                id: r.get("id"),
                project_id: project_id.to_string(),
                stage: stage.to_string(),
                release: r.get("release_number"),
                state: LiveState::parse(r.get::<&str, _>("state")).unwrap_or(LiveState::Down),
                started_at: r.get("started_at"),
                ended_at: r.get("ended_at"),
                what: r.get("what"),
            }
        })
        .collect())
}
