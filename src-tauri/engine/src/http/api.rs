//! The engine's JSON API on the local listener. Same operations as the Tauri commands, guarded
//! by the bearer token in the data directory. Webhook routes join this router later; they carry
//! their own authentication (signatures), not the token.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::extract::DefaultBodyLimit;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use ts_rs::TS;

use crate::domain::events::{ForgeAccount, WebhookInfo};
use crate::domain::run::{Delivery, RunSummary};
use crate::domain::notice::{ChannelResult, NotificationSettings, NotifyChannel};
use crate::domain::project::{NewProject, Project};
use crate::{ApiError, Engine, EngineEvent, EngineStatus, Error, ErrorCode};

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AutoDeploy {
    pub paused: bool,
}

pub fn router(engine: Engine) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/auto-deploy", put(set_auto_deploy))
        .route("/quit", post(quit))
        .route("/runner", put(set_runner))
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{id}", get(get_project).delete(delete_project))
        .route("/projects/{id}/webhook", get(webhook_info))
        .route("/projects/{id}/export", get(export_project))
        .route("/projects/import", post(import_project))
        .route("/projects/{id}/webhook/rotate", post(rotate_secret))
        .route("/projects/{id}/poll", post(poll_now))
        .route("/projects/{id}/stages/{stage}/runs", post(start_run))
        .route("/projects/{id}/secrets/{name}", put(set_secret))
        .route("/projects/{id}/stages/{stage}/releases", get(releases))
        .route("/projects/{id}/stages/{stage}/releases/{number}/rollback", post(rollback))
        .route("/projects/{id}/stages/{stage}/promote", post(promote))
        .route("/promotions", get(promotions))
        .route("/projects/{id}/notifications", put(set_project_notifications))
        .route("/projects/{id}/notifications/test", post(test_project_notifications))
        .route("/settings/notifications", get(notification_settings).put(set_notification_settings))
        .route("/deliveries", get(deliveries))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run_detail))
        .route("/runs/{id}/logs", get(run_logs))
        .route("/runs/{id}/logs/follow", get(follow_run_logs))
        .route("/events", get(events))
        .route("/runs/{id}/cancel", post(cancel_run))
        .route("/forge-accounts/{name}", put(save_forge_account))
        .route("/registry-accounts/{name}", put(save_registry_account))
        .route("/forge-accounts", get(forge_accounts))
        .route("/dashboard", get(dashboard))
        .route("/metrics", get(metrics))
        .route("/runs/{id}/rerun", post(rerun))
        .route("/deliveries/{id}/redeliver", post(redeliver))
        .merge(crate::http::hosts::routes())
        .layer(middleware::from_fn_with_state(engine.clone(), require_token));
    // Webhooks carry their own authentication (signatures), not the API token, and read their
    // body themselves so that an oversized one is answered and recorded, not just dropped.
    let hooks = Router::new()
        .route("/hooks/{project}", post(crate::http::receive_hook))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(hooks)
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

#[derive(Debug, Deserialize)]
struct ListQuery {
    project: Option<String>,
    limit: Option<u32>,
}

async fn list_projects(State(engine): State<Engine>) -> Result<Json<Vec<Project>>, ApiFailure> {
    Ok(Json(engine.projects().await?))
}

async fn create_project(State(engine): State<Engine>, Json(new): Json<NewProject>) -> Result<(StatusCode, Json<Project>), ApiFailure> {
    Ok((StatusCode::CREATED, Json(engine.create_project(new).await?)))
}

async fn get_project(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Json<Project>, ApiFailure> {
    Ok(Json(engine.project(&id).await?))
}

async fn delete_project(State(engine): State<Engine>, Path(id): Path<String>) -> Result<StatusCode, ApiFailure> {
    engine.delete_project(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn export_project(State(engine): State<Engine>, Path(id): Path<String>) -> Result<([(header::HeaderName, &'static str); 1], String), ApiFailure> {
    Ok(([(header::CONTENT_TYPE, "application/yaml")], engine.export_project(&id).await?))
}

async fn import_project(State(engine): State<Engine>, body: String) -> Result<Json<crate::domain::events::ImportResult>, ApiFailure> {
    Ok(Json(engine.import_project(&body).await?))
}

async fn webhook_info(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Json<WebhookInfo>, ApiFailure> {
    Ok(Json(engine.webhook_info(&id).await?))
}

async fn rotate_secret(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Json<WebhookInfo>, ApiFailure> {
    Ok(Json(engine.rotate_webhook_secret(&id).await?))
}

async fn poll_now(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Json<Project>, ApiFailure> {
    Ok(Json(engine.poll_now(&id).await?))
}

async fn deliveries(State(engine): State<Engine>, Query(q): Query<ListQuery>) -> Result<Json<Vec<Delivery>>, ApiFailure> {
    Ok(Json(engine.deliveries(q.project.as_deref(), q.limit.unwrap_or(100)).await?))
}

async fn runs(State(engine): State<Engine>, Query(q): Query<ListQuery>) -> Result<Json<Vec<RunSummary>>, ApiFailure> {
    Ok(Json(engine.runs(q.project.as_deref(), q.limit.unwrap_or(100)).await?))
}

#[derive(Debug, Deserialize)]
struct StartRun {
    /// A tag, a branch or a full commit id.
    #[serde(rename = "ref")]
    wanted: String,
}

#[derive(Debug, Serialize, Deserialize, TS)]
pub struct RunStarted {
    #[ts(type = "number")]
    pub run_id: i64,
}

async fn start_run(State(engine): State<Engine>, Path((id, stage)): Path<(String, String)>, Json(b): Json<StartRun>) -> Result<(StatusCode, Json<RunStarted>), ApiFailure> {
    let run_id = engine.start_manual_run(&id, &stage, &b.wanted).await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id })))
}

async fn releases(State(engine): State<Engine>, Path((id, stage)): Path<(String, String)>) -> Result<Json<Vec<crate::domain::release::Release>>, ApiFailure> {
    Ok(Json(engine.releases(&id, &stage).await?))
}

async fn rollback(State(engine): State<Engine>, Path((id, stage, number)): Path<(String, String, i64)>) -> Result<(StatusCode, Json<RunStarted>), ApiFailure> {
    let run_id = engine.rollback(&id, &stage, number).await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id })))
}

#[derive(Debug, Deserialize, Default)]
struct PromoteBody {
    #[serde(default)]
    confirm: bool,
}

async fn promote(State(engine): State<Engine>, Path((id, stage)): Path<(String, String)>, body: Option<Json<PromoteBody>>) -> Result<(StatusCode, Json<RunStarted>), ApiFailure> {
    let run_id = engine.promote(&id, &stage, body.map(|b| b.0).unwrap_or_default().confirm).await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id })))
}

async fn promotions(State(engine): State<Engine>) -> Result<Json<Vec<crate::domain::release::PendingPromotion>>, ApiFailure> {
    Ok(Json(engine.pending_promotions().await?))
}

#[derive(Debug, Deserialize)]
struct SecretBody {
    value: String,
}

async fn set_secret(State(engine): State<Engine>, Path((id, name)): Path<(String, String)>, Json(b): Json<SecretBody>) -> Result<StatusCode, ApiFailure> {
    engine.set_project_secret(&id, &name, &b.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn run_detail(State(engine): State<Engine>, Path(id): Path<i64>) -> Result<Json<crate::domain::run::RunDetail>, ApiFailure> {
    Ok(Json(engine.run_detail(id).await?))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

async fn run_logs(State(engine): State<Engine>, Path(id): Path<i64>, Query(q): Query<LogQuery>) -> Result<Json<Vec<crate::store::logs::LogLine>>, ApiFailure> {
    Ok(Json(engine.run_logs(id, q.after.unwrap_or(0), q.limit.unwrap_or(10_000)).await?))
}

/// The run's log as NDJSON, one line per log line: the stored lines after `after`, then the live
/// ones until the run ends.
async fn follow_run_logs(State(engine): State<Engine>, Path(id): Path<i64>, Query(q): Query<LogQuery>) -> axum::response::Response {
    let after = q.after.unwrap_or(0);
    crate::http::hosts::ndjson(move |tx| async move { engine.follow_log(id, after, tx).await }, |batch: Vec<crate::store::logs::LogLine>| batch)
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
                        let last = matches!(event, EngineEvent::ShuttingDown);
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

async fn cancel_run(State(engine): State<Engine>, Path(id): Path<i64>) -> Result<StatusCode, ApiFailure> {
    engine.cancel_run(id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The body of `PUT /forge-accounts/<name>`: the account plus its token, which goes to the
/// keychain and is never returned.
#[derive(Debug, Deserialize)]
struct ForgeAccountBody {
    forge: crate::domain::project::Forge,
    api_base: Option<String>,
    username: Option<String>,
    token: String,
}

async fn save_forge_account(State(engine): State<Engine>, Path(name): Path<String>, Json(b): Json<ForgeAccountBody>) -> Result<Json<ForgeAccount>, ApiFailure> {
    let account = ForgeAccount { name, forge: b.forge, api_base: b.api_base, username: b.username };
    Ok(Json(engine.save_forge_account(account, &b.token).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RunnerHold {
    pub held: bool,
}

async fn set_runner(State(engine): State<Engine>, Json(body): Json<RunnerHold>) -> Result<Json<RunnerHold>, ApiFailure> {
    Ok(Json(RunnerHold { held: engine.set_runs_held(body.held).await? }))
}

#[derive(Debug, Deserialize)]
struct RegistryAccountBody {
    username: String,
    password: String,
}

async fn save_registry_account(State(engine): State<Engine>, Path(name): Path<String>, Json(b): Json<RegistryAccountBody>) -> Result<StatusCode, ApiFailure> {
    engine.save_registry_account(&name, &b.username, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_project_notifications(State(engine): State<Engine>, Path(id): Path<String>, Json(channels): Json<Vec<NotifyChannel>>) -> Result<Json<Project>, ApiFailure> {
    Ok(Json(engine.set_project_notifications(&id, channels).await?))
}

async fn test_project_notifications(State(engine): State<Engine>, Path(id): Path<String>) -> Result<Json<Vec<ChannelResult>>, ApiFailure> {
    Ok(Json(engine.test_project_notifications(&id).await?))
}

async fn notification_settings(State(engine): State<Engine>) -> Result<Json<NotificationSettings>, ApiFailure> {
    Ok(Json(engine.notification_settings().await?))
}

async fn set_notification_settings(State(engine): State<Engine>, Json(body): Json<NotificationSettings>) -> Result<Json<NotificationSettings>, ApiFailure> {
    Ok(Json(engine.set_notification_settings(body).await?))
}

async fn forge_accounts(State(engine): State<Engine>) -> Result<Json<Vec<ForgeAccount>>, ApiFailure> {
    Ok(Json(engine.forge_accounts().await?))
}

async fn dashboard(State(engine): State<Engine>) -> Result<Json<Vec<crate::domain::metrics::StageSummary>>, ApiFailure> {
    Ok(Json(engine.dashboard().await?))
}

async fn metrics(State(engine): State<Engine>, Query(q): Query<ListQuery>) -> Result<Json<Vec<crate::domain::metrics::StageMetrics>>, ApiFailure> {
    Ok(Json(engine.metrics(q.project.as_deref()).await?))
}

async fn rerun(State(engine): State<Engine>, Path(id): Path<i64>) -> Result<(StatusCode, Json<RunStarted>), ApiFailure> {
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id: engine.rerun(id).await? })))
}

async fn redeliver(State(engine): State<Engine>, Path(id): Path<i64>) -> Result<Json<Delivery>, ApiFailure> {
    Ok(Json(engine.redeliver(id).await?))
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
            ErrorCode::ConfirmationRequired => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::DockerUnreachable | ErrorCode::KeychainUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            // The remote (forge, git server) failed, not the engine.
            ErrorCode::Git => StatusCode::BAD_GATEWAY,
            ErrorCode::HostUnreachable | ErrorCode::HostIncompatible => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.0)).into_response()
    }
}
