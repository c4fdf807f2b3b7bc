//! Where the engine keeps secrets: the OS keychain where one answers, else the encrypted
//! secrets file. The choice is made once, recorded in the store, and kept: a keychain that
//! starts answering later must not hide the secrets already in the file. `slipwayd secrets
//! migrate --to keychain|file` moves every secret and changes the record.
//!
//! Must not depend on other services.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::adapters::keychain::{self, Backend, FileStore, KeySource};
use crate::domain::config::Config;
use crate::store::Store;
use crate::{Error, ErrorCode, Result};

/// The setting that records the backend in use.
pub const BACKEND_SETTING: &str = "secrets_backend";
/// The secrets file, in the data directory (its key never is).
pub const FILE_NAME: &str = "secrets.enc";
/// Names of the secrets Slipway put in the keychain (names only), for moving them.
pub const KEYCHAIN_INDEX: &str = "keychain-names";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Keychain,
    File,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind> {
        match s.trim() {
            "keychain" => Ok(Kind::Keychain),
            "file" => Ok(Kind::File),
            other => Err(Error::new(ErrorCode::InvalidInput, format!("secrets backend {other:?}: expected keychain or file"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Keychain => "keychain",
            Kind::File => "file",
        }
    }
}

/// Which backend the engine uses, from what is known at start:
/// - `recorded`: what the store says secrets were kept in (kept; a different `requested` is
///   refused, because it would hide them);
/// - `requested`: `SLIPWAY_SECRETS` / `--secrets`;
/// - `key_given`: the operator or systemd gave a key for the file;
/// - `keychain_answers`: an OS keychain answered a probe.
pub fn choose(recorded: Option<Kind>, requested: Option<Kind>, key_given: bool, keychain_answers: bool) -> Result<Kind> {
    match (recorded, requested) {
        (Some(r), Some(q)) if r != q => Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the secrets are kept in the {} (recorded in the store), not the {}: move them with `slipwayd secrets migrate --to {}`",
                label(r),
                label(q),
                q.as_str()
            ),
        )),
        (Some(r), _) => Ok(r),
        (None, Some(q)) => Ok(q),
        (None, None) if key_given => Ok(Kind::File),
        (None, None) if keychain_answers => Ok(Kind::Keychain),
        (None, None) => Ok(Kind::File),
    }
}

fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Keychain => "OS keychain",
        Kind::File => "encrypted secrets file",
    }
}

/// Picks, records and installs the engine's secrets backend.
pub async fn open(store: &Store, config: &Config) -> Result<Arc<Backend>> {
    let recorded = store.setting(BACKEND_SETTING).await?.as_deref().map(Kind::parse).transpose()?;
    let requested = config.secrets_backend.as_deref().map(Kind::parse).transpose()?;
    let key_file = config.secrets_key_file.as_deref();
    let key_given = KeySource::given(key_file);
    let probe = recorded.is_none() && requested.is_none() && !key_given;
    // A store an earlier version filled kept its secrets in the keychain, whether or not one
    // answers at this moment (a login where the keychain comes up after the engine).
    let earlier = probe
        && (!crate::store::projects::list(store).await?.is_empty() || !crate::store::accounts::forge_accounts(store).await?.is_empty());
    let answers = probe && (earlier || keychain::os_answers().await);
    let kind = choose(recorded, requested, key_given, answers)?;
    let backend = Arc::new(build(kind, &config.data_dir, key_file)?);
    if recorded.is_none() {
        store.set_setting(BACKEND_SETTING, kind.as_str()).await?;
    }
    tracing::info!(backend = %backend.describe(), "secrets");
    keychain::install(backend.clone());
    Ok(backend)
}

fn build(kind: Kind, data_dir: &Path, key_file: Option<&Path>) -> Result<Backend> {
    Ok(match kind {
        Kind::Keychain => Backend::Os { index: Some(data_dir.join(KEYCHAIN_INDEX)) },
        Kind::File => {
            let source = KeySource::find(key_file)?;
            let key = source.load(data_dir, true)?;
            Backend::File(FileStore::open(data_dir.join(FILE_NAME), key, source.describe())?)
        }
    })
}

/// What a migration did.
pub struct Migrated {
    pub moved: Vec<String>,
    /// Names that were looked for and had no value (nothing to move).
    pub absent: usize,
    pub backend: Arc<Backend>,
}

/// Moves every secret to the `to` backend: each is copied and read back before the store's
/// record changes; only then are the old copies removed (a crash before that leaves the old
/// backend in use with everything in it, and running it again finishes the move). `known`:
/// names the store implies (webhook secrets, forge tokens, …) besides those the backend lists.
pub async fn migrate(store: &Store, config: &Config, known: BTreeSet<String>, to: Kind) -> Result<Migrated> {
    // No secret is written anywhere until every one has moved and the new backend is in place.
    let _no_writes = keychain::exclusive().await;
    let from = keychain::current();
    if from.kind() == to.as_str() {
        return Ok(Migrated { moved: vec![], absent: 0, backend: from });
    }
    let target = Arc::new(build(to, &config.data_dir, config.secrets_key_file.as_deref())?);
    let mut names = from.names()?;
    names.extend(known);
    let (mut moved, mut absent) = (Vec::new(), 0);
    for name in names {
        let Some(value) = from.get(&name).await? else {
            absent += 1;
            continue;
        };
        target.set(&name, &value).await?;
        if target.get(&name).await?.as_deref() != Some(value.as_str()) {
            return Err(Error::new(
                ErrorCode::Keychain,
                format!("the secret {name} did not read back from the {}; nothing was switched", target.describe()),
            ));
        }
        moved.push(name);
    }
    store.set_setting(BACKEND_SETTING, to.as_str()).await?;
    keychain::install(target.clone());
    for name in &moved {
        if let Err(e) = from.delete(name).await {
            tracing::warn!("secret {name} moved, but its old copy in the {} stays: {e}", from.describe());
        }
    }
    if let Backend::File(file) = &*from {
        file.remove_if_empty()?;
    }
    tracing::info!(moved = moved.len(), to = %target.describe(), "secrets migrated");
    Ok(Migrated { moved, absent, backend: target })
}

#[cfg(test)]
mod tests {
    use super::Kind::{File, Keychain};
    use super::*;

    #[test]
    fn a_recorded_backend_is_kept_whatever_answers_now() {
        assert_eq!(choose(Some(File), None, false, true).unwrap(), File);
        assert_eq!(choose(Some(Keychain), None, true, false).unwrap(), Keychain);
    }

    #[test]
    fn asking_for_another_backend_than_the_recorded_one_is_refused_with_the_way_to_move() {
        let err = choose(Some(Keychain), Some(File), false, true).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.to_string().contains("slipwayd secrets migrate --to file"), "{err}");
        assert_eq!(choose(Some(File), Some(File), false, false).unwrap(), File);
    }

    #[test]
    fn a_first_start_takes_the_requested_backend() {
        assert_eq!(choose(None, Some(Keychain), true, false).unwrap(), Keychain);
        assert_eq!(choose(None, Some(File), false, true).unwrap(), File);
    }

    #[test]
    fn a_first_start_with_a_given_key_uses_the_file() {
        assert_eq!(choose(None, None, true, true).unwrap(), File);
    }

    #[test]
    fn a_first_start_uses_the_keychain_where_one_answers() {
        assert_eq!(choose(None, None, false, true).unwrap(), Keychain);
    }

    #[test]
    fn a_first_start_without_a_keychain_uses_the_file() {
        assert_eq!(choose(None, None, false, false).unwrap(), File);
    }
}
