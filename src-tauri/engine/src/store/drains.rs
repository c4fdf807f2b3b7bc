//! The `host_drains` table: hosts an operator took out of a stage's rotation (see [`Drain`]).

use sqlx::Row;

use crate::domain::host::Drain;
use crate::store::{now_ms, Store};
use crate::Result;

/// Every drain, by stage id and host.
pub async fn list(store: &Store) -> Result<Vec<(String, Drain)>> {
    let rows = sqlx::query("SELECT d.stage_id, s.project_id, s.name, d.host_id, d.drained_at FROM host_drains d JOIN stages s ON s.id = d.stage_id ORDER BY d.stage_id, d.host_id")
        .fetch_all(store.pool())
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let drain =
                Drain { project_id: r.get("project_id"), stage: r.get("name"), host_id: r.get("host_id"), drained_at: r.get("drained_at") };
            (r.get("stage_id"), drain)
        })
        .collect())
}

/// Records the host drained for the stage (keeping the first time it was), or removes it.
pub async fn set(store: &Store, stage_id: &str, host_id: &str, drained: bool) -> Result<()> {
    let mut tx = store.write_tx().await?;
    if drained {
        sqlx::query("INSERT INTO host_drains (stage_id, host_id, drained_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(stage_id)
            .bind(host_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM host_drains WHERE stage_id = ? AND host_id = ?").bind(stage_id).bind(host_id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
