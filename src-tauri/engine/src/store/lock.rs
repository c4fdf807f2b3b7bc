//! One engine per data directory. Two engines on one store would each take the other's runs
//! for ones a crash left running (and mark them interrupted), race for the same containers and
//! write the same `engine.json`. SQLite's own locking only serialises writes, so the engine
//! holds an OS lock on `slipway.lock` for as long as it runs: flock on Unix, LockFileEx on
//! Windows (std's `File::try_lock`). The OS drops it when the process dies, however it dies,
//! so a crash never leaves a stale lock to clean up.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, ErrorCode, Result};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "slipway.lock";

/// Held while the engine runs; [`DataDirLock::release`] (or dropping it) lets the next one in.
#[derive(Debug)]
pub struct DataDirLock {
    file: Mutex<Option<File>>,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock without waiting, and writes this process's id into the file for the
    /// message the next engine shows. Refuses with the holder's pid when another process has it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(held_by_another(data_dir, &mut file)),
            Err(TryLockError::Error(e)) => {
                return Err(Error::new(ErrorCode::Store, format!("cannot lock {}: {e}", path.display())));
            }
        }
        // Best effort: the pid is only for the message; the lock is what counts.
        let _ = file.set_len(0).and_then(|_| file.write_all(format!("{}\n", std::process::id()).as_bytes()));
        let _ = file.flush();
        Ok(DataDirLock { file: Mutex::new(Some(file)), path })
    }

    /// Lets another engine open the directory (an engine stopped in a process that goes on,
    /// as tests and the desktop app's restart do).
    pub fn release(&self) {
        if let Some(file) = self.file.lock().unwrap().take() {
            let _ = file.set_len(0);
            let _ = file.unlock();
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn held_by_another(data_dir: &Path, file: &mut File) -> Error {
    // On Windows the locked bytes cannot be read by others: the pid is then simply not named.
    let mut text = String::new();
    let pid = file.rewind().and_then(|_| file.read_to_string(&mut text)).ok().and_then(|_| text.trim().parse::<u32>().ok());
    let who = pid.map(|p| format!(" (process {p})")).unwrap_or_default();
    Error::new(
        ErrorCode::Store,
        format!(
            "another Slipway engine{who} is running on the data directory {}: stop it (`slipwayd quit`), \
             or start this one with another --data-dir / SLIPWAY_DATA_DIR",
            data_dir.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_naming_the_holder_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("process {}", std::process::id())), "{err}");
        assert!(err.contains(&dir.path().display().to_string()) && err.contains("--data-dir"), "{err}");
        first.release();
        let again = DataDirLock::acquire(dir.path()).unwrap();
        assert_eq!(again.path(), dir.path().join(LOCK_FILE));
    }

    #[test]
    fn a_dropped_lock_lets_the_next_engine_in() {
        let dir = tempfile::tempdir().unwrap();
        drop(DataDirLock::acquire(dir.path()).unwrap());
        assert!(DataDirLock::acquire(dir.path()).is_ok());
    }
}
