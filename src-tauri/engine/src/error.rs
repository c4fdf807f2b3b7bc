//! The engine's error: a code and a message for the person who reads it, and inside the engine
//! the error that caused it, so logs keep the whole chain. It becomes the wire's
//! `{code, message}` ([`ApiError`]) once, at the edge (the HTTP API, the CLI).
//!
//! Must not depend on any other module of the engine: every layer uses it.

pub use slipway_protocol::error::{ApiError, ErrorCode};

/// What caused an error, kept for the logs.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A failure that says what to fix, with the lower-level error behind it when there is one.
    #[error("{api}")]
    Coded {
        api: ApiError,
        #[source]
        cause: Option<Cause>,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("store error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Coded { api: ApiError { code, message: message.into() }, cause: None }
    }

    /// An error that says what to fix, caused by `cause` (kept for the logs, not sent).
    pub fn caused_by(code: ErrorCode, message: impl Into<String>, cause: impl Into<Cause>) -> Self {
        Error::Coded { api: ApiError { code, message: message.into() }, cause: Some(cause.into()) }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Coded { api, .. } => api.code,
            Error::Io(_) => ErrorCode::Io,
            Error::Sqlx(_) => ErrorCode::Store,
        }
    }

    pub fn to_api(&self) -> ApiError {
        match self {
            Error::Coded { api, .. } => api.clone(),
            other => ApiError { code: other.code(), message: other.to_string() },
        }
    }

    /// The message and every cause behind it, for logs: "a: b: c".
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            let text = e.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = e.source();
        }
        out
    }
}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        Error::Coded { api, cause: None }
    }
}

/// The edge: an engine error leaves as `{code, message}`. Internal and store failures are
/// logged here with their whole chain, since the wire carries only the message.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        if matches!(e.code(), ErrorCode::Internal | ErrorCode::Store | ErrorCode::Io | ErrorCode::Keychain) {
            tracing::warn!("{}", e.chain());
        } else {
            tracing::debug!("{}", e.chain());
        }
        e.to_api()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_stays_inside_and_the_wire_gets_code_and_message() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let e = Error::caused_by(ErrorCode::Io, "cannot write the token file /x", io);
        assert_eq!(e.chain(), "cannot write the token file /x: permission denied");
        assert_eq!(ApiError::from(e), ApiError { code: ErrorCode::Io, message: "cannot write the token file /x".into() });
    }
}
