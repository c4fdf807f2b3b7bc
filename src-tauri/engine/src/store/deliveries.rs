//! The `delivery_bodies` table: the bodies (and replay headers) of recent deliveries, kept for
//! "redeliver locally". The inbox rows themselves are in [`crate::store::runs`].

use sqlx::Row;

use crate::store::Store;
use crate::Result;

/// A kept delivery: its project, the headers a replay needs (JSON object) and its body.
pub struct Kept {
    pub project_id: Option<String>,
    pub headers_json: String,
    pub body: Vec<u8>,
}

pub async fn kept(store: &Store, delivery: i64) -> Result<Option<Kept>> {
    let row = sqlx::query("SELECT d.project_id, b.headers_json, b.body FROM delivery_bodies b JOIN webhook_deliveries d ON d.id = b.delivery WHERE b.delivery = ?")
        .bind(delivery)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.map(|r| Kept { project_id: r.get("project_id"), headers_json: r.get("headers_json"), body: r.get("body") }))
}

/// What the kept bodies may take: the newest `count` of them, and no more than `bytes` in all
/// (the newest first), so deliveries cannot fill the disk.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub count: i64,
    pub bytes: i64,
}

/// Keeps a delivery's body, drops the oldest beyond `budget`, and gives their space back.
pub async fn keep(store: &Store, delivery: i64, headers_json: &str, body: &[u8], budget: Budget) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO delivery_bodies (delivery, headers_json, body) VALUES (?, ?, ?)")
        .bind(delivery)
        .bind(headers_json)
        .bind(body)
        .execute(store.pool())
        .await?;
    let dropped = sqlx::query(
        "DELETE FROM delivery_bodies WHERE delivery IN (SELECT delivery FROM ( \
           SELECT delivery, ROW_NUMBER() OVER (ORDER BY delivery DESC) AS n, \
                  SUM(length(body) + length(headers_json)) OVER (ORDER BY delivery DESC) AS total \
           FROM delivery_bodies) WHERE n > ? OR total > ?)",
    )
    .bind(budget.count)
    .bind(budget.bytes)
    .execute(store.pool())
    .await?;
    if dropped.rows_affected() > 0 {
        store.give_back_space().await?;
    }
    Ok(())
}

/// Bytes the kept bodies take now.
pub async fn kept_bytes(store: &Store) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COALESCE(SUM(length(body) + length(headers_json)), 0) FROM delivery_bodies")
        .fetch_one(store.pool())
        .await?)
}
