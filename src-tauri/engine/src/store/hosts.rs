//! The `hosts` table: the Docker hosts Slipway knows (`local` always exists).

use crate::domain::host::{invalid, validate, Host, HostInput, HostKind, LOCAL_ID};
use crate::store::{now_ms, Store};
use crate::{Error, ErrorCode, Result};

type Row = (String, String, String, String, Option<String>, Option<String>, Option<String>, i64, i64);

fn from_row(r: Row) -> Host {
    Host {
        id: r.0,
        name: r.1,
        kind: HostKind::parse(&r.2),
        endpoint: r.3,
        tls_ca: r.4,
        tls_cert: r.5,
        tls_key: r.6,
        created_at: r.7,
        updated_at: r.8,
    }
}

const COLUMNS: &str = "id, name, kind, endpoint, tls_ca, tls_cert, tls_key, created_at, updated_at";

pub async fn list(store: &Store) -> Result<Vec<Host>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM hosts ORDER BY id = 'local' DESC, name")).fetch_all(store.pool()).await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn find(store: &Store, id: &str) -> Result<Option<Host>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM hosts WHERE id = ?")).bind(id).fetch_optional(store.pool()).await?;
    Ok(row.map(from_row))
}

pub async fn get(store: &Store, id: &str) -> Result<Host> {
    find(store, id).await?.ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no host {id:?}")))
}

/// The local row always points at the engine's configured endpoint, whatever it was last time.
pub async fn ensure_local(store: &Store, endpoint: &str) -> Result<()> {
    let mut tx = store.write_tx().await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO hosts (id, name, kind, endpoint, created_at, updated_at) VALUES (?, 'local', 'local', ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, kind = 'local' WHERE hosts.endpoint <> excluded.endpoint",
    )
    .bind(LOCAL_ID)
    .bind(endpoint)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn create(store: &Store, input: HostInput) -> Result<Host> {
    let input = validate(input)?;
    let id = crate::domain::project::slug(&input.name);
    if id == LOCAL_ID {
        return Err(invalid("name: \"local\" is the engine's own host; pick another name"));
    }
    let mut tx = store.write_tx().await?;
    let taken: Option<(String,)> =
        sqlx::query_as("SELECT id FROM hosts WHERE id = ? OR name = ?").bind(&id).bind(&input.name).fetch_optional(&mut *tx).await?;
    if taken.is_some() {
        return Err(invalid(format!("name: a host named {:?} exists already", input.name)));
    }
    let now = now_ms();
    sqlx::query("INSERT INTO hosts (id, name, kind, endpoint, tls_ca, tls_cert, tls_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&id)
        .bind(&input.name)
        .bind(input.kind.as_str())
        .bind(&input.endpoint)
        .bind(&input.tls_ca)
        .bind(&input.tls_cert)
        .bind(&input.tls_key)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    get(store, &id).await
}

/// Edits keep the id (projects refer to it); the name may change.
pub async fn update(store: &Store, id: &str, input: HostInput) -> Result<Host> {
    if id == LOCAL_ID {
        return Err(invalid("endpoint: the local host follows DOCKER_HOST (or SLIPWAY_DOCKER_HOST); change that instead"));
    }
    let input = validate(input)?;
    let mut tx = store.write_tx().await?;
    let clash: Option<(String,)> =
        sqlx::query_as("SELECT id FROM hosts WHERE name = ? AND id <> ?").bind(&input.name).bind(id).fetch_optional(&mut *tx).await?;
    if clash.is_some() {
        return Err(invalid(format!("name: a host named {:?} exists already", input.name)));
    }
    let done = sqlx::query(
        "UPDATE hosts SET name = ?, kind = ?, endpoint = ?, tls_ca = ?, tls_cert = ?, tls_key = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&input.name)
    .bind(input.kind.as_str())
    .bind(&input.endpoint)
    .bind(&input.tls_ca)
    .bind(&input.tls_cert)
    .bind(&input.tls_key)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("no host {id:?}")));
    }
    tx.commit().await?;
    get(store, id).await
}

pub async fn delete(store: &Store, id: &str) -> Result<()> {
    if id == LOCAL_ID {
        return Err(invalid("the local host is the engine's own endpoint and cannot be removed"));
    }
    let mut tx = store.write_tx().await?;
    let done = sqlx::query("DELETE FROM hosts WHERE id = ?").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("no host {id:?}")));
    }
    Ok(())
}
