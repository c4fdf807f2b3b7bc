//! The key of the secrets file. It never lives in the data directory (a copied or backed-up
//! data directory must not carry what opens it): it comes from a systemd credential, or from a
//! key file the operator names, or from a per-user key file in the OS's config directory.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, ErrorCode, Result};

/// The credential name `slipwayd install-service` and the README use with systemd's
/// `LoadCredentialEncrypted=`; systemd puts it in `$CREDENTIALS_DIRECTORY`.
pub const CREDENTIAL: &str = "slipway-secrets-key";

/// 32 random bytes, written as 64 hex characters.
pub struct Key(pub(super) [u8; 32]);

impl Key {
    pub fn random() -> Key {
        Key(rand::random())
    }

    /// The key as its file holds it: 64 hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short fingerprint, kept in the secrets file to tell "wrong key" from "damaged file".
    pub fn id(&self) -> String {
        let digest = Sha256::new().chain_update(b"slipway secrets key id\0").chain_update(self.0).finalize();
        hex::encode(&digest[..6])
    }

    fn parse(text: &str, from: &Path) -> Result<Key> {
        let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
            invalid(format!(
                "{} is not a Slipway secrets key: it must hold 64 hex characters (make one with `openssl rand -hex 32`)",
                from.display()
            ))
        })?;
        Ok(Key(bytes))
    }
}

/// Where the key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file: the operator's (`--secrets-key-file`), or the per-user default. Created with
    /// mode 0600 when missing.
    File(PathBuf),
    /// A systemd credential (`$CREDENTIALS_DIRECTORY/slipway-secrets-key`), decrypted by systemd
    /// from the host key or the TPM; read-only here.
    Credential(PathBuf),
}

impl KeySource {
    /// The key the operator named, else the service's systemd credential, else the per-user
    /// default key file. `named`: `--secrets-key-file` / `SLIPWAY_SECRETS_KEY_FILE`.
    pub fn find(named: Option<&Path>) -> Result<KeySource> {
        if let Some(path) = named {
            return Ok(KeySource::File(path.to_path_buf()));
        }
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
            let path = Path::new(&dir).join(CREDENTIAL);
            if path.exists() {
                return Ok(KeySource::Credential(path));
            }
        }
        let dir = dirs::config_dir().ok_or_else(|| {
            invalid("no per-user config directory is known here: name a key file with --secrets-key-file or SLIPWAY_SECRETS_KEY_FILE")
        })?;
        // Its own directory: on macOS and Windows the config and data directories are one, and
        // the data directory is `<it>/slipway`.
        Ok(KeySource::File(dir.join("slipway-key").join("secrets.key")))
    }

    /// True when the operator or systemd gave the key (not the per-user default).
    pub fn given(named: Option<&Path>) -> bool {
        named.is_some() || std::env::var_os("CREDENTIALS_DIRECTORY").is_some_and(|d| Path::new(&d).join(CREDENTIAL).exists())
    }

    pub fn describe(&self) -> String {
        match self {
            KeySource::File(p) => format!("key file {}", p.display()),
            KeySource::Credential(p) => format!("systemd credential {}", p.display()),
        }
    }

    /// Reads the key; a missing key file is created (0600, in a 0700 directory) when `create`.
    /// Refused: a key inside `data_dir`, and a key file that group or others can read.
    pub fn load(&self, data_dir: &Path, create: bool) -> Result<Key> {
        let path = match self {
            KeySource::File(p) | KeySource::Credential(p) => p,
        };
        if inside(path, data_dir) {
            return Err(invalid(format!(
                "the secrets key {} is inside the data directory {}: keep it elsewhere (a copy of the data directory must not \
                 carry its key)",
                path.display(),
                data_dir.display()
            )));
        }
        if let KeySource::File(p) = self {
            if create && !p.exists() {
                return write_new(p);
            }
            check_private(p)?;
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorCode::KeychainUnavailable, format!("cannot read the secrets key {}: {e}", path.display())))?;
        Key::parse(&text, path)
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, msg)
}

/// True when `path` is `dir` or below it (both resolved as far as they exist).
fn inside(path: &Path, dir: &Path) -> bool {
    let resolve = |p: &Path| {
        let parent = p.parent().and_then(|d| d.canonicalize().ok());
        match (p.canonicalize(), parent, p.file_name()) {
            (Ok(full), _, _) => full,
            (Err(_), Some(parent), Some(name)) => parent.join(name),
            _ => p.to_path_buf(),
        }
    };
    resolve(path).starts_with(resolve(dir))
}

fn write_new(path: &Path) -> Result<Key> {
    let key = Key::random();
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        // Only a directory made here is narrowed (never /etc or a home directory).
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    // Written aside and linked into place: two engines creating the same default key at once
    // must not each keep a different one (the loser's secrets would never open again).
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let created = super::file::write_private(&tmp, format!("{}\n", key.to_hex()).as_bytes()).and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match created {
        Ok(()) => {
            tracing::info!(key = %path.display(), "created a new secrets key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)?;
            Key::parse(&text, path)
        }
        Err(e) => Err(Error::new(ErrorCode::KeychainUnavailable, format!("cannot create the secrets key {}: {e}", path.display()))),
    }
}

/// A key file that group or others can read is refused: anyone who reads it reads every secret.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::new(ErrorCode::KeychainUnavailable, format!("cannot read the secrets key {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(invalid(format!(
                "the secrets key {} can be read by group or others (mode {:o}): make it private with `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource::File(dir.path().join("keys/secrets.key"));
        let data = dir.path().join("data");
        let first = source.load(&data, true).unwrap();
        let again = source.load(&data, true).unwrap();
        assert_eq!(first.id(), again.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys/secrets.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_with_its_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        std::fs::write(&path, hex::encode([7u8; 32])).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = KeySource::File(path.clone()).load(&dir.path().join("data"), true).err().unwrap();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(err.to_string().contains(&path.display().to_string()) && err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_key_inside_the_data_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = KeySource::File(dir.path().join("secrets.key")).load(dir.path(), true).err().unwrap();
        assert!(err.to_string().contains("inside the data directory"), "{err}");
        assert!(!dir.path().join("secrets.key").exists(), "nothing is created there");
    }

    #[test]
    fn a_file_that_is_not_a_key_says_what_a_key_looks_like() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        super::super::file::write_private(&path, b"not hex").unwrap();
        let err = KeySource::File(path).load(&dir.path().join("data"), true).err().unwrap();
        assert!(err.to_string().contains("64 hex characters"), "{err}");
    }
}
