//! A full disk under the data directory. SQLite answers SQLITE_FULL and nothing more can be
//! written, not even the line that says why a run stopped. So the store keeps a small reserve
//! file beside the database: when a write finds the disk full, the reserve goes, which leaves
//! room to record the ending of the run in progress with a reason that says so; the next run
//! puts the reserve back once there is space again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Error, ErrorCode};

/// What the reserve frees: enough for a run's ending and some WAL pages.
const RESERVE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug)]
pub(super) struct Space {
    full: AtomicBool,
    /// The reserve file, beside the database.
    reserve: PathBuf,
    data_dir: PathBuf,
}

/// True for "the disk is full": SQLite's SQLITE_FULL (13), or ENOSPC from a file write.
pub fn is_disk_full(e: &Error) -> bool {
    match e {
        Error::Sqlx(sqlx::Error::Database(d)) => d.code().and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| c & 0xff == 13),
        Error::Sqlx(sqlx::Error::Io(io)) | Error::Io(io) => io.raw_os_error() == Some(28),
        _ => e.to_string().contains("database or disk is full"),
    }
}

impl Space {
    pub(super) fn new(db: &Path) -> Space {
        let data_dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
        Space { full: AtomicBool::new(false), reserve: db.with_file_name(".slipway-reserve"), data_dir }
    }

    /// Writes the reserve if it is missing; true when it is in place. Clears the "disk full"
    /// state when it could be written (there is space again).
    pub(super) fn keep_reserve(&self) -> bool {
        let path = &self.reserve;
        if path.metadata().is_ok_and(|m| m.len() as usize == RESERVE_BYTES) {
            return true;
        }
        // Random bytes: a compressing file system (ZFS, btrfs) would store zeros in next to nothing.
        let bytes: Vec<u8> = (0..RESERVE_BYTES).map(|_| rand::random::<u8>()).collect();
        match std::fs::write(path, bytes).and_then(|()| std::fs::File::open(path)?.sync_all()) {
            Ok(()) => {
                if self.full.swap(false, Ordering::SeqCst) {
                    tracing::info!("the data directory's disk has space again");
                }
                true
            }
            Err(e) => {
                let _ = std::fs::remove_file(path);
                tracing::warn!("cannot keep the {} KiB reserve at {}: {e}", RESERVE_BYTES / 1024, path.display());
                false
            }
        }
    }

    /// A write found the disk full. The reserve stays until the ending that needs it is written
    /// ([`Space::release`]): freed earlier, anything else could take the room first.
    pub(super) fn disk_is_full(&self) {
        if !self.full.swap(true, Ordering::SeqCst) {
            tracing::error!("the disk of the data directory {} is full", self.data_dir_text());
        }
    }

    /// Frees the reserve, right before writing what must be written on a full disk.
    pub(super) fn release(&self) {
        let _ = std::fs::remove_file(&self.reserve);
    }

    /// Whether a write found the disk full since the reserve was last put back.
    pub(super) fn disk_full(&self) -> bool {
        self.full.load(Ordering::SeqCst)
    }

    /// The message a run ends with when the disk is full.
    pub(super) fn disk_full_error(&self) -> Error {
        Error::new(
            ErrorCode::Store,
            format!(
                "the disk of the data directory {} is full: the run's log could not be kept, so the run was stopped. \
                 Free space there, then run it again",
                self.data_dir_text()
            ),
        )
    }

    fn data_dir_text(&self) -> String {
        self.data_dir.display().to_string()
    }
}
