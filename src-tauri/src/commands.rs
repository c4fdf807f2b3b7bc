//! Tauri commands. Every operation of the engine's API goes through one command, [`call`], by
//! the name it is declared under in [`slipway_protocol::ops`]; the UI calls those names with
//! generated types. The few commands left here are the window's own (quit, what it was opened
//! for, first paint) and the run log's stream.

use serde_json::Value;
use slipway_protocol::ops;
use slipway_protocol::run::LogLine;
use slipway_protocol::ApiError;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::AppState;

pub(crate) type Answer<T> = Result<T, ApiError>;

/// Any declared operation: `op` is its name, `request` its fields as JSON.
#[tauri::command]
pub async fn call(state: State<'_, AppState>, op: String, request: Value) -> Answer<Value> {
    ops::call_by_name(&state.client()?, &op, request).await
}

/// The same action as the tray's Quit: the engine stops, and with it this window.
#[tauri::command]
pub async fn quit(app: AppHandle, state: State<'_, AppState>) -> Answer<()> {
    // A remote engine serves other consoles and its forges: quitting this window leaves it be.
    if let (Ok(client), false) = (state.client(), state.is_remote()) {
        client.call(ops::Quit {}).await?;
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

/// Streams a run's log through a channel (stored lines first, then live ones) until the run
/// ends or the view closes the channel.
#[tauri::command]
pub async fn follow_run_log(state: State<'_, AppState>, id: i64, after: i64, on_lines: Channel<Vec<LogLine>>) -> Answer<()> {
    state.client()?.stream(&ops::streams::run_log(id, after), |batch| on_lines.send(batch).is_ok()).await
}
