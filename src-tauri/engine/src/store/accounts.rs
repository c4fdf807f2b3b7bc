//! The `forge_accounts` table: forge accounts by name. Their tokens are in the keychain.

use sqlx::Row;

use crate::domain::events::ForgeAccount;
use crate::domain::project::Forge;
use crate::store::{now_ms, Store};
use crate::Result;

pub async fn forge_accounts(store: &Store) -> Result<Vec<ForgeAccount>> {
    let rows = sqlx::query("SELECT name, forge, api_base, username FROM forge_accounts ORDER BY name").fetch_all(store.pool()).await?;
    Ok(rows
        .iter()
        .map(|r| ForgeAccount {
            name: r.get("name"),
            forge: serde_json::from_value(serde_json::Value::String(r.get("forge"))).unwrap_or(Forge::Git),
            api_base: r.get("api_base"),
            username: r.get("username"),
        })
        .collect())
}

pub async fn save_forge_account(store: &Store, account: &ForgeAccount) -> Result<()> {
    sqlx::query(
        "INSERT INTO forge_accounts (name, forge, api_base, username, created_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET forge = excluded.forge, api_base = excluded.api_base, username = excluded.username",
    )
    .bind(&account.name)
    .bind(account.forge.as_str())
    .bind(&account.api_base)
    .bind(&account.username)
    .bind(now_ms())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The clone user name of a forge account: `None` when the account is unknown, `Some(None)`
/// when it names none (the forge's convention applies).
pub async fn forge_username(store: &Store, account: &str) -> Result<Option<Option<String>>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT username FROM forge_accounts WHERE name = ?").bind(account).fetch_optional(store.pool()).await?;
    Ok(row.map(|r| r.0))
}

/// The API root of a forge account (None: the forge's default), or None when the account is
/// unknown.
pub async fn forge_api_base(store: &Store, account: &str) -> Result<Option<Option<String>>> {
    Ok(sqlx::query_scalar("SELECT api_base FROM forge_accounts WHERE name = ?").bind(account).fetch_optional(store.pool()).await?)
}
