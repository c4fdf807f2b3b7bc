//! The one shape every error takes on the wire: `{code, message}`. The code is stable and
//! machine-readable; the message is for a person.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What kind of failure this is. The UI switches on it; never rename a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    StoreCorrupt,
    StoreTooNew,
    Store,
    DockerUnreachable,
    KeychainUnavailable,
    Keychain,
    ListenerBind,
    Unauthorized,
    NotFound,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    Git,
    Io,
    Internal,
    /// The action needs the operator's explicit confirmation (promote to a `confirm` stage).
    ConfirmationRequired,
    /// A Docker host could not be reached or dropped; the message names the host and the cause.
    HostUnreachable,
    /// The host answers but cannot be used (engine too old).
    HostIncompatible,
    /// The engine is at a limit it keeps to stay answerable (connections, bodies in flight):
    /// retry after the `Retry-After` seconds.
    Unavailable,
    /// An environment rule holds the commit back (a predecessor it was never live on, a soak
    /// not yet over, a rule for its kind of ref); the message names which.
    Refused,
}

/// The one shape every error takes on the wire: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        ApiError::new(ErrorCode::Io, format!("I/O error: {e}"))
    }
}
