//! An error on its way out: the one place where an engine error becomes `{code, message}`
//! with an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::{ApiError, Error, ErrorCode};

/// An error on its way out of the API: `{code, message}` with a status that fits the code.
pub struct ApiFailure(pub ApiError);

impl From<Error> for ApiFailure {
    fn from(e: Error) -> Self {
        ApiFailure(e.into())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::ConfirmationRequired | ErrorCode::Refused => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::DockerUnreachable | ErrorCode::KeychainUnavailable | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            // The remote (forge, git server) failed, not the engine.
            ErrorCode::Git => StatusCode::BAD_GATEWAY,
            ErrorCode::HostUnreachable | ErrorCode::HostIncompatible => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.0)).into_response()
    }
}
