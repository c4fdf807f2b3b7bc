//! Tauri commands: thin adapters from the UI into the engine. Each returns `{code, message}` on
//! failure, and a panic inside the engine becomes an `internal` error instead of a hung promise.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use slipway_engine::{ApiError, EngineStatus, ErrorCode};
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

async fn guard<T>(fut: impl Future<Output = slipway_engine::Result<T>>) -> Result<T, ApiError> {
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
