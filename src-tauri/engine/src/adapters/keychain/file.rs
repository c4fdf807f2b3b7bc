//! The secrets file, for machines where no OS keychain answers (servers, containers): every
//! value sealed on its own with XChaCha20-Poly1305 under a key kept outside the data
//! directory ([`super::key`]), the entry's name bound in as associated data (a value cannot be
//! moved to another name), written whole to a temporary file and renamed (a crash leaves the
//! old file or the new one, never half of one), mode 0600.
//!
//! Names are not secret (the store holds them too); values never appear in plain text here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::key::Key;
use crate::{Error, ErrorCode, Result};

const VERSION: u32 = 1;

/// The file's content: which key sealed it, and every sealed value by name.
#[derive(Serialize, Deserialize)]
struct Sealed {
    version: u32,
    key_id: String,
    /// name → base64(24-byte nonce ‖ ciphertext and tag).
    entries: BTreeMap<String, String>,
}

pub struct FileStore {
    path: PathBuf,
    key: Key,
    /// Where the key came from, for messages.
    key_from: String,
    /// One writer at a time (read, change, write the whole file).
    lock: Mutex<()>,
}

impl FileStore {
    /// Opens the secrets file at `path` (created on the first write). Refused when it was sealed
    /// with another key: every secret would read as damaged.
    pub fn open(path: PathBuf, key: Key, key_from: String) -> Result<FileStore> {
        let store = FileStore { path, key, key_from, lock: Mutex::new(()) };
        store.load()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn key_from(&self) -> &str {
        &self.key_from
    }

    pub fn get(&self, name: &str) -> Result<Option<String>> {
        let _guard = self.lock.lock().unwrap();
        let sealed = self.load()?;
        let Some(entry) = sealed.entries.get(name) else { return Ok(None) };
        self.open_value(name, entry).map(Some)
    }

    pub fn set(&self, name: &str, value: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap();
        let mut sealed = self.load()?;
        sealed.entries.insert(name.to_string(), self.seal(name, value)?);
        self.save(&sealed)
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap();
        let mut sealed = self.load()?;
        if sealed.entries.remove(name).is_some() {
            self.save(&sealed)?;
        }
        Ok(())
    }

    /// Removes the file when it holds nothing (after the secrets moved to the keychain), so a
    /// later move back may seal a new one under another key. True when it was removed.
    pub fn remove_if_empty(&self) -> Result<bool> {
        let _guard = self.lock.lock().unwrap();
        if !self.path.exists() || !self.load()?.entries.is_empty() {
            return Ok(false);
        }
        std::fs::remove_file(&self.path)
            .map_err(|e| Error::new(ErrorCode::Keychain, format!("cannot remove the empty secrets file {}: {e}", self.path.display())))?;
        Ok(true)
    }

    /// Every name with a value.
    pub fn names(&self) -> Result<Vec<String>> {
        let _guard = self.lock.lock().unwrap();
        Ok(self.load()?.entries.into_keys().collect())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.key.0).into())
    }

    fn seal(&self, name: &str, value: &str) -> Result<String> {
        let nonce: [u8; 24] = rand::random();
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: name.as_bytes() })
            .map_err(|_| Error::new(ErrorCode::Internal, format!("cannot seal the secret {name}")))?;
        Ok(B64.encode([&nonce[..], &sealed].concat()))
    }

    fn open_value(&self, name: &str, entry: &str) -> Result<String> {
        let damaged = || {
            Error::new(
                ErrorCode::Keychain,
                format!("the secret {name} in {} is damaged (it does not open with its key): set it again", self.path.display()),
            )
        };
        let bytes = B64.decode(entry).map_err(|_| damaged())?;
        if bytes.len() < 24 {
            return Err(damaged());
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain =
            self.cipher().decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: name.as_bytes() }).map_err(|_| damaged())?;
        String::from_utf8(plain).map_err(|_| damaged())
    }

    fn load(&self) -> Result<Sealed> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Sealed { version: VERSION, key_id: self.key.id(), entries: BTreeMap::new() })
            }
            Err(e) => return Err(Error::new(ErrorCode::Keychain, format!("cannot read the secrets file {}: {e}", self.path.display()))),
        };
        let sealed: Sealed = serde_json::from_str(&text).map_err(|e| {
            Error::new(ErrorCode::Keychain, format!("the secrets file {} is damaged ({e}); it was not changed", self.path.display()))
        })?;
        if sealed.key_id != self.key.id() {
            return Err(Error::new(
                ErrorCode::KeychainUnavailable,
                format!(
                    "the secrets file {} was sealed with another key (key id {}; the {} has id {}): start Slipway with the key \
                     it was written with",
                    self.path.display(),
                    sealed.key_id,
                    self.key_from,
                    self.key.id()
                ),
            ));
        }
        Ok(sealed)
    }

    fn save(&self, sealed: &Sealed) -> Result<()> {
        let text = serde_json::to_vec_pretty(sealed).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        let tmp = self.path.with_extension("tmp");
        let written = write_private(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Some(dir) = self.path.parent() {
            // The rename is durable once the directory is.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        written.map_err(|e| Error::new(ErrorCode::Keychain, format!("cannot write the secrets file {}: {e}", self.path.display())))
    }
}

/// Writes `bytes` to a new file at `path` readable by its owner only, whatever the umask, and
/// flushes it to disk.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // `mode` applies only to a file this call created.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, key: [u8; 32]) -> Result<FileStore> {
        FileStore::open(dir.join("secrets.enc"), Key(key), "test key".into())
    }

    #[test]
    fn values_round_trip_and_never_appear_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), [1; 32]).unwrap();
        s.set("forge-token:acme", "ghp_very-secret-token").unwrap();
        s.set("webhook-secret:web", "hook-secret-value").unwrap();
        assert_eq!(s.get("forge-token:acme").unwrap().as_deref(), Some("ghp_very-secret-token"));
        assert_eq!(s.get("missing").unwrap(), None);
        let raw = std::fs::read_to_string(dir.path().join("secrets.enc")).unwrap();
        assert!(!raw.contains("very-secret") && !raw.contains("hook-secret-value"), "{raw}");
        s.delete("forge-token:acme").unwrap();
        assert_eq!(s.get("forge-token:acme").unwrap(), None);
        assert_eq!(s.names().unwrap(), vec!["webhook-secret:web".to_string()]);
    }

    #[test]
    fn another_key_is_refused_with_both_key_ids() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), [1; 32]).unwrap().set("a", "b").unwrap();
        let err = store(dir.path(), [2; 32]).err().unwrap();
        assert!(err.to_string().contains("sealed with another key"), "{err}");
    }

    #[test]
    fn a_value_moved_to_another_name_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), [1; 32]).unwrap();
        s.set("a", "secret").unwrap();
        let path = dir.path().join("secrets.enc");
        let mut sealed: Sealed = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let moved = sealed.entries["a"].clone();
        sealed.entries.insert("b".into(), moved);
        std::fs::write(&path, serde_json::to_vec(&sealed).unwrap()).unwrap();
        let err = s.get("b").err().unwrap();
        assert!(err.to_string().contains("damaged"), "{err}");
        assert_eq!(s.get("a").unwrap().as_deref(), Some("secret"));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), [1; 32]).unwrap().set("a", "b").unwrap();
        let mode = std::fs::metadata(dir.path().join("secrets.enc")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
