//! Secrets (forge tokens, webhook secrets, registry passwords, project secrets) live in the
//! OS keychain, or where none answers (a server), in Slipway's encrypted secrets file. The
//! store keeps an entry's name, never its value.
//!
//! One backend per process: the engine picks it at start ([`install`]) and every `set`, `get`
//! and `delete` goes to it. A process that installs none (a test, a tool) uses the OS keychain.
//!
//! Must not depend on other adapters.

mod file;
pub mod key;
mod os;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

pub use file::FileStore;
pub use key::{Key, KeySource};
pub use os::{answers as os_answers, SERVICE};

use crate::{Error, ErrorCode, Result};

/// Where secrets are kept.
pub enum Backend {
    /// The OS keychain; `index` is a file listing the names Slipway keeps there (names only),
    /// so they can be moved to another backend (a keychain cannot be listed portably).
    Os {
        index: Option<PathBuf>,
    },
    File(FileStore),
}

impl Backend {
    /// The word the settings and `secrets migrate --to` use.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Os { .. } => "keychain",
            Backend::File(_) => "file",
        }
    }

    /// What the status views show.
    pub fn describe(&self) -> String {
        match self {
            Backend::Os { .. } => "OS keychain".into(),
            Backend::File(f) => format!("encrypted file {} ({})", f.path().display(), f.key_from()),
        }
    }

    pub async fn set(self: &Arc<Self>, name: &str, value: &str) -> Result<()> {
        match &**self {
            Backend::Os { index } => {
                os::set(name, value).await?;
                remember(index.as_ref(), name, true);
                Ok(())
            }
            Backend::File(_) => {
                let (me, name, value) = (self.clone(), name.to_string(), value.to_string());
                blocking(move || me.file().set(&name, &value)).await
            }
        }
    }

    pub async fn get(self: &Arc<Self>, name: &str) -> Result<Option<String>> {
        match &**self {
            Backend::Os { .. } => os::get(name).await,
            Backend::File(_) => {
                let (me, name) = (self.clone(), name.to_string());
                blocking(move || me.file().get(&name)).await
            }
        }
    }

    pub async fn delete(self: &Arc<Self>, name: &str) -> Result<()> {
        match &**self {
            Backend::Os { index } => {
                os::delete(name).await?;
                remember(index.as_ref(), name, false);
                Ok(())
            }
            Backend::File(_) => {
                let (me, name) = (self.clone(), name.to_string());
                blocking(move || me.file().delete(&name)).await
            }
        }
    }

    /// The names this backend is known to hold (for the keychain: those Slipway put there
    /// since it started keeping the index).
    pub fn names(&self) -> Result<BTreeSet<String>> {
        match self {
            Backend::Os { index } => Ok(read_index(index.as_ref())),
            Backend::File(f) => Ok(f.names()?.into_iter().collect()),
        }
    }

    fn file(&self) -> &FileStore {
        match self {
            Backend::File(f) => f,
            Backend::Os { .. } => unreachable!("called for the file backend only"),
        }
    }
}

static BACKEND: RwLock<Option<Arc<Backend>>> = RwLock::new(None);
/// The keychain index is rewritten whole; one writer at a time.
static INDEX: Mutex<()> = Mutex::new(());

/// Makes `backend` the process's secrets backend.
pub fn install(backend: Arc<Backend>) {
    *BACKEND.write().unwrap() = Some(backend);
}

/// The process's secrets backend.
pub fn current() -> Arc<Backend> {
    BACKEND.read().unwrap().clone().unwrap_or_else(|| Arc::new(Backend::Os { index: None }))
}

/// Stores `value` under `name`, replacing what was there.
/// Held shared by every write and exclusively by a migration ([`exclusive`]): a secret written
/// while the secrets move would land in the backend being left, after its names were read.
static WRITES: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Stops every write until the guard drops (for moving the secrets between backends).
pub async fn exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    WRITES.write().await
}

/// Taken by every write: waits while a migration holds [`exclusive`].
async fn writing() -> tokio::sync::RwLockReadGuard<'static, ()> {
    WRITES.read().await
}

pub async fn set(name: &str, value: &str) -> Result<()> {
    let _writing = writing().await;
    current().set(name, value).await
}

/// The secret stored under `name`, or None if there is none.
pub async fn get(name: &str) -> Result<Option<String>> {
    current().get(name).await
}

/// Removes `name`; removing what isn't there is not an error.
pub async fn delete(name: &str) -> Result<()> {
    let _writing = writing().await;
    current().delete(name).await
}

fn read_index(index: Option<&PathBuf>) -> BTreeSet<String> {
    index.and_then(|p| std::fs::read_to_string(p).ok()).map(|t| t.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// Adds or removes `name` in the keychain's index; an index that cannot be written is logged
/// (the secret itself is in the keychain, which is what counts).
fn remember(index: Option<&PathBuf>, name: &str, present: bool) {
    let Some(path) = index else { return };
    let _guard = INDEX.lock().unwrap();
    let mut names = read_index(Some(path));
    let changed = if present { names.insert(name.to_string()) } else { names.remove(name) };
    if changed {
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        if let Err(e) = file::write_private(path, text.as_bytes()) {
            tracing::warn!("cannot update the keychain's name index {}: {e}", path.display());
        }
    }
}

// Both backends block (D-Bus round trips, file writes with fsync): keep them off the async
// worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::new(ErrorCode::Internal, format!("secrets task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_waits_while_the_secrets_move_and_goes_on_after() {
        let moving = exclusive().await;
        let write = tokio::spawn(async { drop(writing().await) });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!write.is_finished(), "a write went on during the migration");
        drop(moving);
        tokio::time::timeout(std::time::Duration::from_secs(5), write).await.unwrap().unwrap();
    }
}
