//! Tauri commands: thin adapters from the UI into the engine. Each returns `{code, message}` on
//! failure, and a panic inside the engine becomes an `internal` error instead of a hung promise.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use slipway_engine::engine::{ImportResult, WebhookInfo};
use slipway_engine::intake::{Delivery, RunDetail, RunSummary};
use slipway_engine::runlog::LogLine;
use slipway_engine::projects::{NewProject, Project};
use slipway_engine::{ApiError, EngineStatus, ErrorCode};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::AppState;

#[tauri::command]
pub async fn engine_status(state: State<'_, AppState>) -> Result<EngineStatus, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.status().await }).await
}

#[tauri::command]
pub async fn set_auto_deploy_paused(state: State<'_, AppState>, paused: bool) -> Result<bool, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.set_auto_deploy_paused(paused).await }).await
}

/// The same action as the tray's Quit.
#[tauri::command]
pub fn quit(app: AppHandle) {
    crate::quit(&app);
}

pub(crate) async fn guard<T>(fut: impl Future<Output = slipway_engine::Result<T>>) -> Result<T, ApiError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result.map_err(ApiError::from),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            tracing::error!("engine panicked: {what}");
            Err(ApiError { code: ErrorCode::Internal, message: format!("internal error in the engine: {what}") })
        }
    }
}

#[tauri::command]
pub async fn list_projects(state: State<'_, AppState>) -> Result<Vec<Project>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.projects().await }).await
}

#[tauri::command]
pub async fn create_project(state: State<'_, AppState>, project: NewProject) -> Result<Project, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.create_project(project).await }).await
}

#[tauri::command]
pub async fn delete_project(state: State<'_, AppState>, id: String) -> Result<(), ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.delete_project(&id).await }).await
}

#[tauri::command]
pub async fn webhook_info(state: State<'_, AppState>, id: String) -> Result<WebhookInfo, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.webhook_info(&id).await }).await
}

#[tauri::command]
pub async fn rotate_webhook_secret(state: State<'_, AppState>, id: String) -> Result<WebhookInfo, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.rotate_webhook_secret(&id).await }).await
}

#[tauri::command]
pub async fn poll_now(state: State<'_, AppState>, id: String) -> Result<Project, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.poll_now(&id).await }).await
}

#[tauri::command]
pub async fn list_deliveries(state: State<'_, AppState>, project: Option<String>, limit: u32) -> Result<Vec<Delivery>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.deliveries(project.as_deref(), limit).await }).await
}

#[tauri::command]
pub async fn list_runs(state: State<'_, AppState>, project: Option<String>, limit: u32) -> Result<Vec<RunSummary>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.runs(project.as_deref(), limit).await }).await
}

#[tauri::command]
pub async fn start_manual_run(state: State<'_, AppState>, project: String, stage: String, wanted: String) -> Result<i64, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.start_manual_run(&project, &stage, &wanted).await }).await
}

#[tauri::command]
pub async fn run_detail(state: State<'_, AppState>, id: i64) -> Result<RunDetail, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.run_detail(id).await }).await
}

#[tauri::command]
pub async fn cancel_run(state: State<'_, AppState>, id: i64) -> Result<(), ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.cancel_run(id).await }).await
}

/// Streams a run's log through a channel (stored lines first, then live ones) until the run
/// ends or the view closes the channel.
#[tauri::command]
pub async fn follow_run_log(state: State<'_, AppState>, id: i64, after: i64, on_lines: Channel<Vec<LogLine>>) -> Result<(), ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.follow_log(id, after, |batch| on_lines.send(batch).is_ok()).await }).await
}

#[tauri::command]
pub async fn set_runs_held(state: State<'_, AppState>, held: bool) -> Result<bool, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.set_runs_held(held).await }).await
}

#[tauri::command]
pub async fn export_project(state: State<'_, AppState>, id: String) -> Result<String, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.export_project(&id).await }).await
}

#[tauri::command]
pub async fn import_project(state: State<'_, AppState>, yaml: String) -> Result<ImportResult, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.import_project(&yaml).await }).await
}
