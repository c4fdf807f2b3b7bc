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

/// Keeps a delivery's body, and drops the oldest so that at most `keep` are kept.
pub async fn keep(store: &Store, delivery: i64, headers_json: &str, body: &[u8], keep: i64) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO delivery_bodies (delivery, headers_json, body) VALUES (?, ?, ?)")
        .bind(delivery)
        .bind(headers_json)
        .bind(body)
        .execute(store.pool())
        .await?;
    sqlx::query(
        "DELETE FROM delivery_bodies WHERE delivery <= (SELECT delivery FROM delivery_bodies ORDER BY delivery DESC LIMIT 1 OFFSET ?)",
    )
    .bind(keep)
    .execute(store.pool())
    .await?;
    Ok(())
}
