//! The SQLite store: one file in the data directory, WAL mode, migrations embedded in the binary
//! and applied at open. A file from a newer Slipway, or one that isn't a database, is refused
//! with a message that says which, rather than being "repaired" into something older.
//!
//! This layer is the only place with SQL: one module per table (or group of tables), typed
//! reads and writes over domain values. Statuses are bound and read as their enums.
//!
//! Must not depend on: adapters, services, engine, http.

pub mod accounts;
pub mod deliveries;
pub mod drains;
pub mod environments;
pub mod history;
pub mod hosts;
pub mod incidents;
pub mod lock;
pub mod logs;
pub mod pins;
pub mod plugins;
pub mod poll_state;
pub mod projects;
pub mod releases;
pub mod runs;
mod space;
pub mod steps;
pub mod templates;

pub use space::is_disk_full;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use crate::domain::now_ms;
use crate::{Error, ErrorCode, Result};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    path: PathBuf,
    /// Runs whose steps just started or ended (their ids), for the console's live step view.
    steps: tokio::sync::broadcast::Sender<i64>,
    space: std::sync::Arc<space::Space>,
}

impl Store {
    /// Gives the pages that deletions freed back to the file system.
    pub async fn give_back_space(&self) -> Result<()> {
        sqlx::query("PRAGMA incremental_vacuum").execute(&self.pool).await?;
        Ok(())
    }

    /// Puts the reserve for a full disk back if it is missing (see [`space`]); true when it is
    /// in place, which also ends the "disk full" state.
    pub fn keep_reserve(&self) -> bool {
        self.space.keep_reserve()
    }

    /// A write found the disk full (the reserve stays until [`Store::release_reserve`]).
    pub fn disk_is_full(&self) {
        self.space.disk_is_full()
    }

    /// Frees the reserve, right before a write that must fit on a full disk.
    pub fn release_reserve(&self) {
        self.space.release()
    }

    /// Whether a write found the disk full since the reserve was last put back.
    pub fn disk_full(&self) -> bool {
        self.space.disk_full()
    }

    /// The reason a run ends with when the disk is full.
    pub fn disk_full_error(&self) -> Error {
        self.space.disk_full_error()
    }

    /// Says that a step of run `run_id` started or ended; nobody listening is fine.
    pub fn step_changed(&self, run_id: i64) {
        let _ = self.steps.send(run_id);
    }

    pub fn step_changes(&self) -> tokio::sync::broadcast::Receiver<i64> {
        self.steps.subscribe()
    }

    pub async fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        private_files(path)?;
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| corrupt_or_store(path, e))?
            .filename(path)
            .create_if_missing(true)
            // Space freed by deleting (kept delivery bodies above all) goes back to the file system
            // on `PRAGMA incremental_vacuum`, instead of the file only ever growing.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        incremental_vacuum_on(&opts, path).await?;
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(|e| corrupt_or_store(path, e))?;
        let store = Store {
            pool,
            path: path.to_path_buf(),
            steps: tokio::sync::broadcast::channel(256).0,
            space: std::sync::Arc::new(space::Space::new(path)),
        };
        store.migrate().await?;
        store.keep_reserve();
        // The WAL and shared-memory files exist now; SQLite gives them the database's mode, but
        // files left by an older version may be wider.
        private_files(path)?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let known = latest_known_version();
        if let Some(found) = self.applied_version().await? {
            if found > known {
                return Err(too_new(&self.path, found, known));
            }
        }
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            MigrateError::VersionMissing(v) => too_new(&self.path, v, known),
            MigrateError::Execute(e) => corrupt_or_store(&self.path, e),
            other => Error::new(ErrorCode::Store, format!("could not migrate the store at {}: {other}", self.path.display())),
        })?;
        self.allow_rolled_back().await
    }

    /// Rebuilds `runs` so its status CHECK allows `rolled_back` (SQLite cannot alter a CHECK).
    /// The documented 12-step rebuild drops the old table, which with foreign keys on would
    /// cascade into run_steps and log_lines; sqlx runs every migration inside a transaction,
    /// where the foreign_keys pragma is a no-op, so this runs here, once, on its own connection.
    async fn allow_rolled_back(&self) -> Result<()> {
        let sql: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetch_one(&self.pool).await?;
        if sql.contains("'rolled_back'") {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
        let rebuilt = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let new_sql = sql.replacen("CREATE TABLE runs", "CREATE TABLE runs_new", 1).replacen(
                "'interrupted')",
                "'interrupted', 'rolled_back')",
                1,
            );
            sqlx::query(&new_sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO runs_new SELECT * FROM runs").execute(&mut *tx).await?;
            sqlx::query("DROP TABLE runs").execute(&mut *tx).await?;
            sqlx::query("ALTER TABLE runs_new RENAME TO runs").execute(&mut *tx).await?;
            for index in [
                "CREATE INDEX runs_stage_status ON runs (stage_id, status)",
                "CREATE INDEX runs_queued ON runs (queued_at DESC)",
                "CREATE INDEX runs_stage_commit ON runs (stage_id, commit_sha)",
                "CREATE INDEX runs_delivery ON runs (delivery_id)",
            ] {
                sqlx::query(index).execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await;
        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
        rebuilt?;
        Ok(())
    }

    /// The newest migration applied to this file, or None for a fresh file.
    pub async fn applied_version(&self) -> Result<Option<i64>> {
        let has_table: Option<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| corrupt_or_store(&self.path, e))?;
        if has_table.is_none() {
            return Ok(None);
        }
        let (v,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| corrupt_or_store(&self.path, e))?;
        Ok(v)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that will write. `BEGIN IMMEDIATE` takes the write lock up front: a
    /// deferred one that reads first and writes later fails at once with SQLITE_BUSY when
    /// another connection wrote in between (the busy timeout can't help it), which concurrent
    /// webhooks, runs and log batches make likely.
    pub async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Checkpoints the WAL and closes every connection, so the file is whole on disk.
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }
}

pub fn latest_known_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

fn too_new(path: &Path, found: i64, known: i64) -> Error {
    Error::new(
        ErrorCode::StoreTooNew,
        format!(
            "the store at {} was written by a newer Slipway (schema version {found}; this build knows up to {known}). \
             Upgrade Slipway, or point it at another data directory.",
            path.display()
        ),
    )
}

/// SQLite reports a non-database file as SQLITE_NOTADB (26) and a damaged one as SQLITE_CORRUPT (11).
fn corrupt_or_store(path: &Path, e: sqlx::Error) -> Error {
    let code = e.as_database_error().and_then(|d| d.code().map(|c| c.into_owned()));
    let primary = code.as_deref().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
    if matches!(primary, Some(11) | Some(26)) {
        return Error::new(
            ErrorCode::StoreCorrupt,
            format!(
                "the store at {} is not a Slipway database or is corrupt ({e}). \
                 Move it aside to start fresh, or restore it from a backup.",
                path.display()
            ),
        );
    }
    // SQLITE_BUSY (5) after the busy timeout: another process holds the database.
    if primary == Some(5) {
        return Error::new(
            ErrorCode::Store,
            format!(
                "the store at {} is locked by another process (a Slipway already running on this data directory, \
                 or a tool holding it open): stop that process, or start with another SLIPWAY_DATA_DIR",
                path.display()
            ),
        );
    }
    Error::new(ErrorCode::Store, format!("could not open the store at {}: {e}", path.display()))
}

/// A store made before incremental vacuum was set converts once: `VACUUM` applies the setting,
/// but not in WAL mode, so on one connection of its own, before the pool opens, the file leaves
/// WAL for the rewrite and returns to it. New files are made incremental from the start.
async fn incremental_vacuum_on(opts: &SqliteConnectOptions, path: &Path) -> Result<()> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = opts.clone().connect().await.map_err(|e| corrupt_or_store(path, e))?;
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(&mut conn).await.map_err(|e| corrupt_or_store(path, e))?;
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master").fetch_one(&mut conn).await.map_err(|e| corrupt_or_store(path, e))?;
    if mode != 2 && tables > 0 {
        tracing::info!("converting {} to incremental vacuum (once)", path.display());
        for step in ["PRAGMA journal_mode = DELETE", "PRAGMA auto_vacuum = INCREMENTAL", "VACUUM", "PRAGMA journal_mode = WAL"] {
            sqlx::query(step).execute(&mut conn).await?;
        }
    }
    conn.close().await?;
    Ok(())
}

/// The database and its WAL files are readable by their owner only (0600) whatever the umask:
/// they hold the project configuration, the run logs and the kept webhook bodies. The file is
/// created that way before SQLite opens it; existing ones are narrowed.
fn private_files(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(std::fs::File::open(path)?),
                _ => Err(e),
            })?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
