//! One error type for the engine and one wire shape for every caller (Tauri commands, the HTTP
//! API, the CLI). The code is stable and machine-readable; the message is for a person.

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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Coded(ApiError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("store error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Coded(ApiError { code, message: message.into() })
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Coded(e) => e.code,
            Error::Io(_) => ErrorCode::Io,
            Error::Sqlx(_) => ErrorCode::Store,
        }
    }

    pub fn to_api(&self) -> ApiError {
        match self {
            Error::Coded(e) => e.clone(),
            other => ApiError { code: other.code(), message: other.to_string() },
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        e.to_api()
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Coded(e)
    }
}
