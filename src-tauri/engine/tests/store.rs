//! The store against real SQLite files.

use slipway_engine::store::{latest_known_version, Store};
use slipway_engine::ErrorCode;

#[tokio::test]
async fn migrations_apply_to_an_empty_file_and_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/slipway.db");
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.applied_version().await.unwrap(), Some(latest_known_version()));
    let tables: Vec<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    for want in ["hosts", "projects", "stages", "runs", "run_steps", "log_lines", "releases", "webhook_deliveries", "settings"] {
        assert!(names.contains(&want), "table {want} missing from {names:?}");
    }
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
    assert_eq!(mode, "wal");
    store.set_setting("k", "v1").await.unwrap();
    store.close().await;

    // Opening again applies nothing new and keeps the data.
    let again = Store::open(&path).await.unwrap();
    assert_eq!(again.applied_version().await.unwrap(), Some(latest_known_version()));
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(again.pool()).await.unwrap();
    assert_eq!(count as usize, sqlx::migrate!("./migrations").iter().count());
    assert_eq!(again.setting("k").await.unwrap().as_deref(), Some("v1"));
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slipway.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = Store::open(&path).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreCorrupt, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("corrupt"), "{msg}");
    // The file is left as it was for the operator to inspect.
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192]);
}

#[tokio::test]
async fn a_store_from_a_newer_slipway_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slipway.db");
    let store = Store::open(&path).await.unwrap();
    let newer = latest_known_version() + 1000;
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (?, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)")
        .bind(newer)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let err = Store::open(&path).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::StoreTooNew, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("schema version {newer}")), "{msg}");
    assert!(msg.contains("newer Slipway"), "{msg}");
}
