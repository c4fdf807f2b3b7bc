//! The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager) through the
//! `keyring` crate, every entry filed under the service [`SERVICE`].

use crate::{Error, ErrorCode, Result};

/// The keychain "service" every Slipway entry is filed under.
pub const SERVICE: &str = "dev.slipway";

/// True when a keychain answers (an entry that is not there is an answer; a locked keychain
/// is one too: the desktop asks the user to unlock it).
pub async fn answers() -> bool {
    match get("slipway-probe").await {
        Ok(_) => true,
        Err(e) => e.code() != ErrorCode::KeychainUnavailable || e.to_string().contains("locked"),
    }
}

/// Stores `value` under `name`, replacing what was there.
pub async fn set(name: &str, value: &str) -> Result<()> {
    let (name, value) = (name.to_string(), value.to_string());
    blocking(move || entry(&name)?.set_password(&value).map_err(|e| map_err(&name, e))).await
}

/// The secret stored under `name`, or None if there is none.
pub async fn get(name: &str) -> Result<Option<String>> {
    let name = name.to_string();
    blocking(move || match entry(&name)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map_err(&name, e)),
    })
    .await
}

/// Removes `name`; removing what isn't there is not an error.
pub async fn delete(name: &str) -> Result<()> {
    let name = name.to_string();
    blocking(move || match entry(&name)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(map_err(&name, e)),
    })
    .await
}

fn entry(name: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, name).map_err(|e| map_err(name, e))
}

// The Secret Service client talks D-Bus synchronously from the caller's point of view; keep it
// off the async worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::new(ErrorCode::Internal, format!("keychain task failed: {e}")))?
}

fn map_err(name: &str, e: keyring::Error) -> Error {
    match e {
        keyring::Error::NoStorageAccess(inner) => Error::new(
            ErrorCode::KeychainUnavailable,
            format!("the OS keychain is locked or refused access to {SERVICE}/{name}: {inner}. Unlock it and try again."),
        ),
        keyring::Error::PlatformFailure(inner) => {
            let text = inner.to_string();
            let no_service = ["dbus", "D-Bus", "secret service", "org.freedesktop.secrets", "autolaunch"]
                .iter()
                .any(|w| text.to_lowercase().contains(&w.to_lowercase()));
            if no_service {
                Error::new(
                    ErrorCode::KeychainUnavailable,
                    format!(
                        "no OS keychain is available: no Secret Service answered on the D-Bus session bus ({text}). \
                         Start one (gnome-keyring, KeePassXC) in your desktop session, or keep the secrets in \
                         Slipway's encrypted file instead: `slipwayd secrets migrate --to file`."
                    ),
                )
            } else {
                Error::new(ErrorCode::Keychain, format!("the OS keychain failed for {SERVICE}/{name}: {text}"))
            }
        }
        other => Error::caused_by(ErrorCode::Keychain, format!("the OS keychain failed for {SERVICE}/{name}: {other}"), other),
    }
}
