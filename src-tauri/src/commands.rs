//! Tauri commands: thin adapters from the UI to the engine's local API (the engine runs in
//! `slipwayd`). Each returns the engine's `{code, message}` on failure.

use serde_json::json;
use slipway_engine::http::api::{AutoDeploy, RunStarted, RunnerHold};
use slipway_engine::http::client::seg;
use slipway_engine::domain::events::{ImportResult, WebhookInfo};
use slipway_engine::domain::run::{Delivery, RunDetail, RunSummary};
use slipway_engine::domain::notice::{ChannelResult, NotificationSettings, NotifyChannel};
use slipway_engine::domain::project::{NewProject, Project};
use slipway_engine::store::logs::LogLine;
use slipway_engine::{ApiError, EngineStatus};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::AppState;

pub(crate) type Answer<T> = Result<T, ApiError>;

#[tauri::command]
pub async fn engine_status(state: State<'_, AppState>) -> Answer<EngineStatus> {
    Ok(state.client()?.status().await?)
}

#[tauri::command]
pub async fn set_auto_deploy_paused(state: State<'_, AppState>, paused: bool) -> Answer<bool> {
    let r: AutoDeploy = state.client()?.put("/auto-deploy", json!({ "paused": paused })).await?;
    Ok(r.paused)
}

/// The same action as the tray's Quit: the engine stops, and with it this window.
#[tauri::command]
pub async fn quit(app: AppHandle, state: State<'_, AppState>) -> Answer<()> {
    if let Ok(client) = state.client() {
        client.quit().await?;
    }
    app.exit(0);
    Ok(())
}

/// The UI listens now: hand it what the window was opened for.
#[tauri::command]
pub fn ui_ready(app: AppHandle, state: State<'_, AppState>) {
    if let Some(intent) = state.intent.lock().unwrap().take() {
        crate::link::deliver(&app, intent);
    }
}

/// The UI's first frame is on screen: logged with the time since this process started.
#[tauri::command]
pub fn first_paint() {
    match crate::link::since_launch() {
        Some(ms) => {
            tracing::info!("first paint {ms} ms after launch");
            if std::env::var_os("SLIPWAY_REPORT_PAINT").is_some() {
                println!("first paint {ms} ms after launch");
            }
        }
        None => tracing::info!("first paint"),
    }
}

#[tauri::command]
pub async fn list_projects(state: State<'_, AppState>) -> Answer<Vec<Project>> {
    Ok(state.client()?.get("/projects").await?)
}

#[tauri::command]
pub async fn create_project(state: State<'_, AppState>, project: NewProject) -> Answer<Project> {
    Ok(state.client()?.post("/projects", json!(project)).await?)
}

#[tauri::command]
pub async fn delete_project(state: State<'_, AppState>, id: String) -> Answer<()> {
    Ok(state.client()?.delete(&format!("/projects/{}", seg(&id))).await?)
}

#[tauri::command]
pub async fn webhook_info(state: State<'_, AppState>, id: String) -> Answer<WebhookInfo> {
    Ok(state.client()?.get(&format!("/projects/{}/webhook", seg(&id))).await?)
}

#[tauri::command]
pub async fn rotate_webhook_secret(state: State<'_, AppState>, id: String) -> Answer<WebhookInfo> {
    Ok(state.client()?.post(&format!("/projects/{}/webhook/rotate", seg(&id)), json!({})).await?)
}

#[tauri::command]
pub async fn poll_now(state: State<'_, AppState>, id: String) -> Answer<Project> {
    Ok(state.client()?.post(&format!("/projects/{}/poll", seg(&id)), json!({})).await?)
}

#[tauri::command]
pub async fn list_deliveries(state: State<'_, AppState>, project: Option<String>, limit: u32) -> Answer<Vec<Delivery>> {
    Ok(state.client()?.get(&format!("/deliveries?limit={limit}{}", project_query(project))).await?)
}

#[tauri::command]
pub async fn list_runs(state: State<'_, AppState>, project: Option<String>, limit: u32) -> Answer<Vec<RunSummary>> {
    Ok(state.client()?.get(&format!("/runs?limit={limit}{}", project_query(project))).await?)
}

pub(crate) fn project_query(project: Option<String>) -> String {
    project.map(|p| format!("&project={}", seg(&p))).unwrap_or_default()
}

#[tauri::command]
pub async fn start_manual_run(state: State<'_, AppState>, project: String, stage: String, wanted: String) -> Answer<i64> {
    let r: RunStarted = state.client()?.post(&format!("/projects/{}/stages/{}/runs", seg(&project), seg(&stage)), json!({ "ref": wanted })).await?;
    Ok(r.run_id)
}

#[tauri::command]
pub async fn run_detail(state: State<'_, AppState>, id: i64) -> Answer<RunDetail> {
    Ok(state.client()?.get(&format!("/runs/{id}")).await?)
}

#[tauri::command]
pub async fn cancel_run(state: State<'_, AppState>, id: i64) -> Answer<()> {
    Ok(state.client()?.post(&format!("/runs/{id}/cancel"), json!({})).await?)
}

/// Streams a run's log through a channel (stored lines first, then live ones) until the run
/// ends or the view closes the channel.
#[tauri::command]
pub async fn follow_run_log(state: State<'_, AppState>, id: i64, after: i64, on_lines: Channel<Vec<LogLine>>) -> Answer<()> {
    Ok(state.client()?.stream(&format!("/runs/{id}/logs/follow?after={after}"), |batch| on_lines.send(batch).is_ok()).await?)
}

#[tauri::command]
pub async fn set_runs_held(state: State<'_, AppState>, held: bool) -> Answer<bool> {
    let r: RunnerHold = state.client()?.put("/runner", json!({ "held": held })).await?;
    Ok(r.held)
}

#[tauri::command]
pub async fn export_project(state: State<'_, AppState>, id: String) -> Answer<String> {
    Ok(state.client()?.export_project(&id).await?)
}

#[tauri::command]
pub async fn import_project(state: State<'_, AppState>, yaml: String) -> Answer<ImportResult> {
    Ok(state.client()?.import_project(yaml).await?)
}

#[tauri::command]
pub async fn notification_settings(state: State<'_, AppState>) -> Answer<NotificationSettings> {
    Ok(state.client()?.get("/settings/notifications").await?)
}

#[tauri::command]
pub async fn set_notification_settings(state: State<'_, AppState>, settings: NotificationSettings) -> Answer<NotificationSettings> {
    Ok(state.client()?.put("/settings/notifications", json!(settings)).await?)
}

#[tauri::command]
pub async fn set_project_notifications(state: State<'_, AppState>, id: String, channels: Vec<NotifyChannel>) -> Answer<Project> {
    Ok(state.client()?.put(&format!("/projects/{}/notifications", seg(&id)), json!(channels)).await?)
}

#[tauri::command]
pub async fn test_project_notifications(state: State<'_, AppState>, id: String) -> Answer<Vec<ChannelResult>> {
    Ok(state.client()?.post(&format!("/projects/{}/notifications/test", seg(&id)), json!({})).await?)
}
