//! `POST /hooks/<project-id>`: the webhook listener's one route.
//!
//! Every delivery gets a real status and a short JSON body, and a row in the inbox, whatever
//! happens to it. Checks run cheapest-first, and nothing is queued for any 4xx.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::intake::{Change, Source, Trigger};
use crate::store::now_ms;
use crate::webhook::{self, Provider};
use crate::{ApiError, Engine, ErrorCode};

/// GitHub's own cap on a payload; forges don't send more, so anything bigger is not a forge.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Broken(String),
}

/// Reads at most [`MAX_BODY`] bytes. Past that it keeps reading (and dropping) up to twice the
/// limit, so the sender is still listening when the 413 comes, instead of seeing a reset.
async fn read_limited(body: Body) -> Result<Vec<u8>, BodyError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
        seen += chunk.len();
        if seen <= MAX_BODY {
            buf.extend_from_slice(&chunk);
        } else if seen > 2 * MAX_BODY {
            break;
        }
    }
    if seen > MAX_BODY {
        Err(BodyError::TooLarge)
    } else {
        Ok(buf)
    }
}

pub fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Github => "github",
        Provider::Gitlab => "gitlab",
        Provider::Gitea => "gitea",
        Provider::Forgejo => "forgejo",
        Provider::Bitbucket => "bitbucket",
    }
}

pub async fn receive(State(engine): State<Engine>, Path(project_id): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let mut source = Source { received_at: now_ms(), started: Some(Instant::now()), ..Default::default() };
    let provider = webhook::detect(&headers);
    if let Some(p) = provider {
        source.provider = provider_name(p).to_string();
        source.event = webhook::event_name(p, &headers).unwrap_or_default();
        source.delivery_id = webhook::delivery_id(p, &headers);
    }
    let reject = |status: StatusCode, code: ErrorCode, message: String, project: Option<String>| {
        let engine = engine.clone();
        let source = source.clone();
        async move {
            if let Err(e) = engine.record_rejected_delivery(project.as_deref(), &source, status.as_u16(), &message).await {
                tracing::error!("cannot record a rejected delivery: {e}");
            }
            tracing::info!(status = status.as_u16(), project = project.as_deref().unwrap_or("-"), "webhook refused: {message}");
            (status, Json(ApiError { code, message })).into_response()
        }
    };

    let project = match engine.project_for_hook(&project_id).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            let msg = format!("no project with id {project_id:?}: check the hook URL (it ends in /hooks/<project-id>)");
            return reject(StatusCode::NOT_FOUND, ErrorCode::NotFound, msg, None).await;
        }
        Err(e) => return reject(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string(), None).await,
    };
    let pid = Some(project.id.clone());

    let body = match read_limited(body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            let msg = format!("body over the {} MiB limit", MAX_BODY / (1024 * 1024));
            return reject(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, msg, pid).await;
        }
        Err(BodyError::Broken(e)) => {
            return reject(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, format!("the body could not be read: {e}"), pid).await;
        }
    };

    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && mime != "application/x-www-form-urlencoded" {
        let msg = format!("content type {content_type:?} is not a webhook's: send application/json (or form-encoded `payload=`)");
        return reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, msg, pid).await;
    }

    let Some(provider) = provider else {
        let msg = "no forge headers: expected X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Forgejo-Event or X-Event-Key".to_string();
        return reject(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg, pid).await;
    };
    if source.event.is_empty() {
        let msg = format!("{} delivery without an event header", source.provider);
        return reject(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg, pid).await;
    }

    let secret = match engine.webhook_secret(&project.id).await {
        Ok(s) => s,
        Err(e) => return reject(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string(), pid).await,
    };
    if let Err(e) = webhook::verify(provider, &headers, &body, secret.as_bytes()) {
        let msg = format!("{} signature check failed: {e}. The hook's secret must be the one Slipway shows for project {}", source.provider, project.id);
        return reject(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, msg, pid).await;
    }

    let events = match webhook::payload_json(&headers, &body)
        .and_then(|json| webhook::normalize(provider, &source.event, source.delivery_id.as_deref(), &json))
    {
        Ok(events) => events,
        Err(e) => return reject(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, format!("{} {}: {e}", source.provider, source.event), pid).await,
    };
    let changes: Vec<Change> = events.iter().map(Change::from).collect();
    // An image was pushed: look at the registry now instead of at the next poll. What is found
    // goes through the intake like any poll (and shows in the inbox as such).
    if project.image_repo.is_some() && changes.iter().any(|c| matches!(&c.kind, crate::intake::ChangeKind::Other(e) if crate::intake::is_package_event(e))) {
        let (engine, project) = (engine.clone(), project.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::registry::poll_project(&engine, &project).await {
                tracing::warn!(project = %project.id, "registry check after a package event failed: {e}");
            }
        });
    }
    let id = project.id.clone();
    match engine.accept_changes(project, changes, Trigger::Webhook, source.clone()).await {
        Ok(verdict) => {
            let status = if verdict.outcome == crate::intake::Outcome::Queued { StatusCode::ACCEPTED } else { StatusCode::OK };
            tracing::info!(project = %id, outcome = ?verdict.outcome, runs = ?verdict.run_ids, "webhook: {}", verdict.reason);
            (status, Json(verdict)).into_response()
        }
        Err(e) => reject(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string(), pid).await,
    }
}
