//! Tauri commands of the console views (dashboard, releases, metrics, settings): thin adapters
//! into the engine, like those in `commands.rs`.

use slipway_engine::deploy::releases::{PendingPromotion, Release};
use slipway_engine::engine::ForgeAccount;
use slipway_engine::intake::Delivery;
use slipway_engine::metrics::{StageMetrics, StageSummary};
use slipway_engine::ApiError;
use tauri::State;

use crate::commands::guard;
use crate::AppState;

#[tauri::command]
pub async fn dashboard(state: State<'_, AppState>) -> Result<Vec<StageSummary>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.dashboard().await }).await
}

#[tauri::command]
pub async fn metrics(state: State<'_, AppState>, project: Option<String>) -> Result<Vec<StageMetrics>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.metrics(project.as_deref()).await }).await
}

#[tauri::command]
pub async fn releases(state: State<'_, AppState>, project: String, stage: String) -> Result<Vec<Release>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.releases(&project, &stage).await }).await
}

#[tauri::command]
pub async fn rollback(state: State<'_, AppState>, project: String, stage: String, number: i64) -> Result<i64, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.rollback(&project, &stage, number).await }).await
}

/// `confirmed` is the operator's click in the confirm dialog that listed the commits.
#[tauri::command]
pub async fn promote(state: State<'_, AppState>, project: String, stage: String, confirmed: bool) -> Result<i64, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.promote(&project, &stage, confirmed).await }).await
}

#[tauri::command]
pub async fn pending_promotions(state: State<'_, AppState>) -> Result<Vec<PendingPromotion>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.pending_promotions().await }).await
}

#[tauri::command]
pub async fn rerun_run(state: State<'_, AppState>, id: i64) -> Result<i64, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.rerun(id).await }).await
}

#[tauri::command]
pub async fn redeliver(state: State<'_, AppState>, id: i64) -> Result<Delivery, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.redeliver(id).await }).await
}

#[tauri::command]
pub async fn forge_accounts(state: State<'_, AppState>) -> Result<Vec<ForgeAccount>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.forge_accounts().await }).await
}

/// The token goes to the keychain; nothing returns it.
#[tauri::command]
pub async fn save_forge_account(state: State<'_, AppState>, account: ForgeAccount, token: String) -> Result<ForgeAccount, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.save_forge_account(account, &token).await }).await
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
