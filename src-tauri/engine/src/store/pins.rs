//! The `stage_pins` table: stages held at a release (see [`Pin`]).

use std::collections::BTreeMap;

use sqlx::Row;

use crate::domain::watch::Pin;
use crate::store::{now_ms, Store};
use crate::Result;

fn pin_of(r: &sqlx::sqlite::SqliteRow) -> Pin {
    Pin { release: r.get("release_number"), reason: r.get("reason"), auto: r.get("auto"), pinned_at: r.get("pinned_at") }
}

/// The pins of `project`'s stages, by stage name.
pub async fn of_project(tx: &mut sqlx::SqliteConnection, project: &str) -> Result<BTreeMap<String, Pin>> {
    let prefix = crate::domain::project::stage_id(project, "");
    let rows = sqlx::query("SELECT stage_id, release_number, reason, auto, pinned_at FROM stage_pins WHERE substr(stage_id, 1, ?) = ?")
        .bind(prefix.len() as i64)
        .bind(&prefix)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows.iter().map(|r| (r.get::<String, _>("stage_id")[prefix.len()..].to_string(), pin_of(r))).collect())
}

pub async fn get(store: &Store, stage_id: &str) -> Result<Option<Pin>> {
    let row = sqlx::query("SELECT release_number, reason, auto, pinned_at FROM stage_pins WHERE stage_id = ?")
        .bind(stage_id)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.as_ref().map(pin_of))
}

/// Pins the stage (replacing an earlier pin) at `release`.
pub async fn set_in(tx: &mut sqlx::SqliteConnection, stage_id: &str, release: i64, reason: &str, auto: bool) -> Result<Pin> {
    let pinned_at = now_ms();
    sqlx::query(
        "INSERT INTO stage_pins (stage_id, release_number, reason, auto, pinned_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (stage_id) DO UPDATE SET release_number = excluded.release_number, reason = excluded.reason, \
         auto = excluded.auto, pinned_at = excluded.pinned_at",
    )
    .bind(stage_id)
    .bind(release)
    .bind(reason)
    .bind(auto)
    .bind(pinned_at)
    .execute(&mut *tx)
    .await?;
    Ok(Pin { release, reason: reason.to_string(), auto, pinned_at })
}

pub async fn set(store: &Store, stage_id: &str, release: i64, reason: &str, auto: bool) -> Result<Pin> {
    let mut tx = store.write_tx().await?;
    let pin = set_in(&mut tx, stage_id, release, reason, auto).await?;
    tx.commit().await?;
    Ok(pin)
}

/// Removes the stage's pin; the pin that was there, if any.
pub async fn clear(store: &Store, stage_id: &str) -> Result<Option<Pin>> {
    let mut tx = store.write_tx().await?;
    let row = sqlx::query("DELETE FROM stage_pins WHERE stage_id = ? RETURNING release_number, reason, auto, pinned_at")
        .bind(stage_id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row.as_ref().map(pin_of))
}
