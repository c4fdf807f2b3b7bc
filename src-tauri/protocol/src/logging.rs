//! Logging for Slipway's processes (the engine and the window): tracing to stderr and to a daily-rotated file in the data directory; `RUST_LOG` filters both.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// How many daily log files are kept before the oldest is deleted.
const KEEP_LOG_FILES: usize = 7;

/// Installs the global subscriber. Keep the guard alive for the life of the process: dropping it
/// flushes and stops the file writer. Calling this twice keeps the first subscriber.
pub fn init(log_dir: &Path) -> crate::Result<WorkerGuard> {
    init_named(log_dir, "slipway")
}

/// Like [`init`], into files named `<prefix>.<date>.log`: the window process keeps its own.
pub fn init_named(log_dir: &Path, prefix: &str) -> crate::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| crate::ApiError::new(crate::ErrorCode::Io, format!("cannot create {}: {e}", log_dir.display())))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix("log")
        .max_log_files(KEEP_LOG_FILES)
        .build(log_dir)
        .map_err(|e| crate::ApiError::new(crate::ErrorCode::Io, format!("cannot open log files in {}: {e}", log_dir.display())))?;
    let (file, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(fmt::layer().with_ansi(false).with_writer(file))
        .try_init();
    Ok(guard)
}
