//! The engine's JSON API on the local listener. Same operations as the Tauri commands, guarded
//! by the bearer token in the data directory. Webhook routes join this router later; they carry
//! their own authentication (signatures), not the token.

use crate::http::failure::ApiFailure;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{ApiError, Engine, EngineEvent, ErrorCode};

/// The public listener's routes: the webhooks and the API.
pub fn router(engine: Engine) -> Router {
    // Webhooks carry their own authentication (signatures), not the API token, and read their
    // body themselves so that an oversized one is answered and recorded, not just dropped.
    let hooks = Router::new().route("/hooks/{project}", post(crate::http::receive_hook)).layer(DefaultBodyLimit::disable());
    base(engine.clone()).merge(hooks).with_state(engine)
}

/// The hook socket's routes (the edge's way in): the webhooks only, nothing of the API.
pub fn hooks_router(engine: Engine) -> Router {
    Router::new()
        .route("/hooks/{project}", post(crate::http::receive_hook))
        .layer(DefaultBodyLimit::disable())
        .fallback(|| async { ApiFailure(ApiError { code: ErrorCode::NotFound, message: "only /hooks/<project> is served here".into() }) })
        .with_state(engine)
}

/// The loopback API listener's routes: the API only.
pub fn api_router(engine: Engine) -> Router {
    base(engine.clone()).with_state(engine)
}

fn base(engine: Engine) -> Router<Engine> {
    let api = crate::http::ops::routes()
        .route("/runs/{id}/logs/follow", get(follow_run_logs))
        .route("/events", get(events))
        .merge(crate::http::hosts::routes())
        .layer(middleware::from_fn_with_state(engine, require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .nest("/api/v1", api)
        .fallback(|| async { ApiFailure(ApiError { code: ErrorCode::NotFound, message: "no such endpoint".into() }) })
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    after: Option<i64>,
}

/// The run's log as NDJSON, one line per log line: the stored lines after `after`, then the live
/// ones until the run ends.
async fn follow_run_logs(State(engine): State<Engine>, Path(id): Path<i64>, Query(q): Query<LogQuery>) -> axum::response::Response {
    let after = q.after.unwrap_or(0);
    crate::http::hosts::ndjson(
        move |tx| async move { engine.follow_log(id, after, tx).await },
        |batch: Vec<crate::store::logs::LogLine>| batch,
    )
}

/// The engine's events as NDJSON, for the window. An empty line every second keeps the stream
/// honest: a window that went away is noticed by the failed write, and the tray stops counting
/// it as open.
async fn events(State(engine): State<Engine>) -> axum::response::Response {
    use tokio::sync::broadcast::error::RecvError;
    let client = engine.ui_client();
    let mut rx = engine.subscribe();
    let (body_tx, mut body_rx) = tokio::sync::mpsc::channel::<std::result::Result<axum::body::Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        let _client = client;
        let mut beat = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            let line = tokio::select! {
                _ = beat.tick() => b"\n".to_vec(),
                got = rx.recv() => match got {
                    Ok(event) => {
                        let last = matches!(event, EngineEvent::ShuttingDown { .. });
                        let mut line = serde_json::to_vec(&event).unwrap_or_default();
                        line.push(b'\n');
                        if last {
                            let _ = body_tx.send(Ok(line.into())).await;
                            return;
                        }
                        line
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!("a window missed {n} engine events");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                },
            };
            if body_tx.send(Ok(line.into())).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| body_rx.poll_recv(cx));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], axum::body::Body::from_stream(stream)).into_response()
}

async fn require_token(State(engine): State<Engine>, req: Request, next: Next) -> Response {
    let presented =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(engine.token().as_bytes())) {
        next.run(req).await
    } else {
        ApiFailure(ApiError {
            code: ErrorCode::Unauthorized,
            message: format!("missing or wrong bearer token: the token is in {}", engine.config().token_path().display()),
        })
        .into_response()
    }
}
