//! The store against real SQLite files.

use slipway_engine::store::{latest_known_version, Store};
use slipway_engine::ErrorCode;

#[tokio::test]
async fn migrations_apply_to_an_empty_file_and_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/slipway.db");
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.applied_version().await.unwrap(), Some(latest_known_version()));
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetch_all(store.pool()).await.unwrap();
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

/// A store from before deploys (migrations 1–3) keeps every run, step and log line when `runs`
/// is rebuilt to allow the `rolled_back` status.
#[tokio::test]
async fn upgrading_a_pre_deploy_store_keeps_runs_steps_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slipway.db");
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).foreign_keys(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        let mut old = sqlx::migrate!("./migrations");
        old.migrations = std::borrow::Cow::Owned(old.migrations.iter().filter(|m| m.version <= 3).cloned().collect());
        old.run(&pool).await.unwrap();
        for sql in [
            "INSERT INTO projects (id, name, repo_url, forge, created_at, updated_at) VALUES ('p', 'p', 'x', 'git', 0, 0)",
            "INSERT INTO stages (id, project_id, name) VALUES ('p:dev', 'p', 'dev')",
            "INSERT INTO runs (id, project_id, stage_id, trigger, status, queued_at) VALUES (7, 'p', 'p:dev', 'manual', 'failed', 1)",
            "INSERT INTO run_steps (run_id, position, name, kind, status) VALUES (7, 1, 'fetch', 'fetch', 'failed')",
            "INSERT INTO log_lines (run_id, seq, stream, ts, line) VALUES (7, 1, 'system', 1, 'kept')",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = Store::open(&path).await.unwrap();
    let counts: (i64, i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM run_steps), (SELECT COUNT(*) FROM log_lines)")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(counts, (1, 1, 1));
    sqlx::query("UPDATE runs SET status = 'rolled_back' WHERE id = 7").execute(store.pool()).await.unwrap();
    // Foreign keys still hold and still cascade.
    sqlx::query("DELETE FROM runs WHERE id = 7").execute(store.pool()).await.unwrap();
    let (steps,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM run_steps").fetch_one(store.pool()).await.unwrap();
    assert_eq!(steps, 0);
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys").fetch_one(store.pool()).await.unwrap();
    assert_eq!(fk, 1);
}

#[tokio::test]
async fn kept_delivery_bodies_stay_within_their_budget_and_give_the_space_back() {
    use slipway_engine::domain::run::Source;
    use slipway_engine::store::{deliveries, runs};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slipway.db");
    let store = Store::open(&path).await.unwrap();
    let (mode,): (i64,) = sqlx::query_as("PRAGMA auto_vacuum").fetch_one(store.pool()).await.unwrap();
    assert_eq!(mode, 2, "incremental");
    let budget = deliveries::Budget { count: 10, bytes: 3 << 20 };
    let body = vec![b'x'; 1 << 20];
    let mut ids = vec![];
    for _ in 0..6 {
        let id = runs::record_rejection(&store, None, &Source::default(), 400, "test").await.unwrap();
        deliveries::keep(&store, id, "{}", &body, budget).await.unwrap();
        ids.push(id);
    }
    // The newest that fit 3 MiB (two whole ones: each is 1 MiB and its headers) are kept.
    let kept = deliveries::kept_bytes(&store).await.unwrap();
    assert!(kept <= budget.bytes && kept >= 2 << 20, "{kept}");
    assert!(deliveries::kept(&store, ids[5]).await.unwrap().is_some());
    assert!(deliveries::kept(&store, ids[0]).await.unwrap().is_none());
    // The freed pages went back: the file holds what is kept, not all six.
    let (pages, size): (i64, i64) =
        sqlx::query_as("SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size)")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(pages * size < 4 << 20, "{} bytes in pages", pages * size);

    // The count budget holds too.
    let small = deliveries::Budget { count: 2, bytes: 64 << 20 };
    for _ in 0..4 {
        let id = runs::record_rejection(&store, None, &Source::default(), 400, "test").await.unwrap();
        deliveries::keep(&store, id, "{}", b"{}", small).await.unwrap();
    }
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM delivery_bodies").fetch_one(store.pool()).await.unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn a_store_made_before_incremental_vacuum_is_converted_once_and_keeps_its_data() {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slipway.db");
    // A file as an earlier Slipway left it: no auto_vacuum, some data.
    let mut conn =
        sqlx::sqlite::SqliteConnectOptions::from_str("sqlite://").unwrap().filename(&path).create_if_missing(true).connect().await.unwrap();
    sqlx::query("CREATE TABLE earlier (x TEXT)").execute(&mut conn).await.unwrap();
    sqlx::query("INSERT INTO earlier VALUES ('kept')").execute(&mut conn).await.unwrap();
    let (mode,): (i64,) = sqlx::query_as("PRAGMA auto_vacuum").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, 0);
    drop(conn);
    let store = Store::open(&path).await.unwrap();
    let (mode,): (i64,) = sqlx::query_as("PRAGMA auto_vacuum").fetch_one(store.pool()).await.unwrap();
    assert_eq!(mode, 2);
    let (x,): (String,) = sqlx::query_as("SELECT x FROM earlier").fetch_one(store.pool()).await.unwrap();
    assert_eq!(x, "kept");
}

#[tokio::test]
async fn a_database_locked_by_another_process_is_refused_clearly_and_promptly() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slipway.db");
    Store::open(&path).await.unwrap().close().await;
    // Another holder of the file (a second engine, a sqlite3 shell) with a write lock.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.unwrap();
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(std::time::Duration::from_secs(30), Store::open(&path)).await.expect("opening must not hang");
    let Err(e) = result else { panic!("a locked store must be refused") };
    let e = e.to_api();
    assert_eq!(e.code, ErrorCode::Store);
    assert!(e.message.contains("is locked by another process") && e.message.contains("SLIPWAY_DATA_DIR"), "{}", e.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
}
