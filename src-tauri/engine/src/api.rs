//! The engine's JSON API on the local listener. Same operations as the Tauri commands, guarded
//! by the bearer token in the data directory. Webhook routes join this router later; they carry
//! their own authentication (signatures), not the token.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use ts_rs::TS;

use crate::{ApiError, Engine, EngineStatus, Error, ErrorCode};

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AutoDeploy {
    pub paused: bool,
}

pub fn router(engine: Engine) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/auto-deploy", put(set_auto_deploy))
        .route("/quit", post(quit))
        .layer(middleware::from_fn_with_state(engine.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .nest("/api/v1", api)
        .fallback(|| async { ApiFailure(ApiError { code: ErrorCode::NotFound, message: "no such endpoint".into() }) })
        .with_state(engine)
}

async fn status(State(engine): State<Engine>) -> Result<Json<EngineStatus>, ApiFailure> {
    Ok(Json(engine.status().await?))
}

async fn set_auto_deploy(State(engine): State<Engine>, Json(body): Json<AutoDeploy>) -> Result<Json<AutoDeploy>, ApiFailure> {
    Ok(Json(AutoDeploy { paused: engine.set_auto_deploy_paused(body.paused).await? }))
}

async fn quit(State(engine): State<Engine>) -> StatusCode {
    engine.request_quit();
    StatusCode::ACCEPTED
}

async fn require_token(State(engine): State<Engine>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(engine.token().as_bytes())) {
        next.run(req).await
    } else {
        ApiFailure(ApiError {
            code: ErrorCode::Unauthorized,
            message: format!(
                "missing or wrong bearer token: the token is in {}",
                engine.config().token_path().display()
            ),
        })
        .into_response()
    }
}

/// An error on its way out of the API: `{code, message}` with a status that fits the code.
pub struct ApiFailure(pub ApiError);

impl From<Error> for ApiFailure {
    fn from(e: Error) -> Self {
        ApiFailure(e.to_api())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::DockerUnreachable | ErrorCode::KeychainUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.0)).into_response()
    }
}
