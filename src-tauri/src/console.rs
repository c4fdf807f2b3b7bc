//! Tauri commands of the console views (dashboard, releases, metrics, settings): thin adapters
//! to the engine's API, like those in `commands.rs`.

use serde_json::json;
use slipway_engine::http::api::RunStarted;
use slipway_engine::http::client::seg;
use slipway_engine::domain::release::{PendingPromotion, Release};
use slipway_engine::domain::events::ForgeAccount;
use slipway_engine::domain::run::Delivery;
use slipway_engine::domain::metrics::{StageMetrics, StageSummary};
use slipway_engine::ApiError;
use tauri::State;

use crate::commands::{project_query, Answer};
use crate::AppState;

#[tauri::command]
pub async fn dashboard(state: State<'_, AppState>) -> Answer<Vec<StageSummary>> {
    Ok(state.client()?.get("/dashboard").await?)
}

#[tauri::command]
pub async fn metrics(state: State<'_, AppState>, project: Option<String>) -> Answer<Vec<StageMetrics>> {
    Ok(state.client()?.get(&format!("/metrics?{}", project_query(project))).await?)
}

#[tauri::command]
pub async fn releases(state: State<'_, AppState>, project: String, stage: String) -> Answer<Vec<Release>> {
    Ok(state.client()?.get(&format!("/projects/{}/stages/{}/releases", seg(&project), seg(&stage))).await?)
}

#[tauri::command]
pub async fn rollback(state: State<'_, AppState>, project: String, stage: String, number: i64) -> Answer<i64> {
    let r: RunStarted = state.client()?.post(&format!("/projects/{}/stages/{}/releases/{number}/rollback", seg(&project), seg(&stage)), json!({})).await?;
    Ok(r.run_id)
}

/// `confirmed` is the operator's click in the confirm dialog that listed the commits.
#[tauri::command]
pub async fn promote(state: State<'_, AppState>, project: String, stage: String, confirmed: bool) -> Answer<i64> {
    let r: RunStarted = state.client()?.post(&format!("/projects/{}/stages/{}/promote", seg(&project), seg(&stage)), json!({ "confirm": confirmed })).await?;
    Ok(r.run_id)
}

#[tauri::command]
pub async fn pending_promotions(state: State<'_, AppState>) -> Answer<Vec<PendingPromotion>> {
    Ok(state.client()?.get("/promotions").await?)
}

#[tauri::command]
pub async fn rerun_run(state: State<'_, AppState>, id: i64) -> Answer<i64> {
    let r: RunStarted = state.client()?.post(&format!("/runs/{id}/rerun"), json!({})).await?;
    Ok(r.run_id)
}

#[tauri::command]
pub async fn redeliver(state: State<'_, AppState>, id: i64) -> Answer<Delivery> {
    Ok(state.client()?.post(&format!("/deliveries/{id}/redeliver"), json!({})).await?)
}

#[tauri::command]
pub async fn forge_accounts(state: State<'_, AppState>) -> Answer<Vec<ForgeAccount>> {
    Ok(state.client()?.get("/forge-accounts").await?)
}

/// The token goes to the keychain; nothing returns it.
#[tauri::command]
pub async fn save_forge_account(state: State<'_, AppState>, account: ForgeAccount, token: String) -> Answer<ForgeAccount> {
    let body = json!({ "forge": account.forge, "api_base": account.api_base, "username": account.username, "token": token });
    Ok(state.client()?.put(&format!("/forge-accounts/{}", seg(&account.name)), body).await?)
}

/// Opens an http(s) URL (a commit on the forge) in the desktop's browser: the window itself
/// never navigates away from the console.
#[tauri::command]
pub fn open_external(url: String) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError { code: slipway_engine::ErrorCode::InvalidInput, message: m };
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.chars().any(char::is_whitespace) {
        return Err(invalid(format!("url: only http(s) links open in the browser, not {url:?}")));
    }
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut cmd = std::process::Command::new("xdg-open");
    cmd.arg(&url).spawn().map(drop).map_err(|e| ApiError { code: slipway_engine::ErrorCode::Io, message: format!("cannot open a browser for {url}: {e}") })
}
