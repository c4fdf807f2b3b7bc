//! One error type for the engine and one wire shape for every caller (Tauri commands, the HTTP
//! API, the CLI). The code is stable and machine-readable; the message is for a person.

pub use slipway_protocol::error::{ApiError, ErrorCode};

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

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Coded(e)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        e.to_api()
    }
}
