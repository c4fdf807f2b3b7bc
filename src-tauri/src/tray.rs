//! The tray icon and its menu. The icon shows the engine's state (idle, running, failed,
//! paused); the menu lists the last runs and the promotions waiting for a click, and offers
//! Open, Pause auto-deploy and Quit. Both are rebuilt from the engine's events.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use slipway_engine::metrics::{TrayState, TraySummary};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Wry};

use crate::AppState;

const TRAY_ID: &str = "main";
/// Asks the UI to open the promote confirm dialog: payload `{project_id, stage}`.
pub const PROMOTE_EVENT: &str = "promote-request";

pub struct Tray {
    /// Wakes the task that rebuilds the menu; a burst of events costs one rebuild.
    dirty: Arc<tokio::sync::Notify>,
}

#[derive(Clone, Serialize)]
struct PromoteRequest {
    project_id: String,
    stage: String,
}

fn icon(state: TrayState) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match state {
        TrayState::Idle => include_bytes!("../../icons/tray-idle.png").as_slice(),
        TrayState::Running => include_bytes!("../../icons/tray-running.png").as_slice(),
        TrayState::Failed => include_bytes!("../../icons/tray-failed.png").as_slice(),
        TrayState::Paused => include_bytes!("../../icons/tray-paused.png").as_slice(),
    })
}

pub fn create(app: &AppHandle) -> tauri::Result<Tray> {
    let paused = app.state::<AppState>().engine().map(|e| e.auto_deploy_paused()).unwrap_or(false);
    let empty = TraySummary { state: if paused { TrayState::Paused } else { TrayState::Idle }, recent: vec![], promotions: vec![] };
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(empty.state)?)
        .tooltip("Slipway")
        .menu(&menu(app, &empty, paused)?)
        .on_menu_event(|app, event| on_click(app, event.id().as_ref()))
        .build(app)?;
    let dirty = Arc::new(tokio::sync::Notify::new());
    let (handle, wake) = (app.clone(), dirty.clone());
    tauri::async_runtime::spawn(async move {
        loop {
            wake.notified().await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            rebuild(&handle).await;
        }
    });
    dirty.notify_one();
    Ok(Tray { dirty })
}

fn menu(app: &AppHandle, s: &TraySummary, paused: bool) -> tauri::Result<Menu<Wry>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, "open", "Open Slipway", true, None::<&str>)?)?;
    if !s.recent.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        menu.append(&MenuItem::with_id(app, "recent", "Last runs", false, None::<&str>)?)?;
        for r in &s.recent {
            let label = format!("#{} {}/{} · {}", r.id, r.project_id, r.stage, r.status.replace('_', " "));
            menu.append(&MenuItem::with_id(app, format!("run:{}", r.id), label, true, None::<&str>)?)?;
        }
    }
    if !s.promotions.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        for p in &s.promotions {
            let label = format!("Promote {} {} to {}…", p.project_id, p.from_release.number, p.stage);
            menu.append(&MenuItem::with_id(app, format!("promote:{}:{}", p.project_id, p.stage), label, true, None::<&str>)?)?;
        }
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&CheckMenuItem::with_id(app, "pause", "Pause auto-deploy", true, paused, None::<&str>)?)?;
    menu.append(&MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?)?;
    Ok(menu)
}

fn on_click(app: &AppHandle, id: &str) {
    match id {
        "open" => crate::show_main_window(app),
        "pause" => toggle_pause(app),
        "quit" => crate::quit(app),
        _ => {
            if let Some(run) = id.strip_prefix("run:").and_then(|r| r.parse::<i64>().ok()) {
                crate::show_main_window(app);
                let _ = app.emit(crate::OPEN_RUN_EVENT, run);
            } else if let Some((project, stage)) = id.strip_prefix("promote:").and_then(|r| r.split_once(':')) {
                crate::show_main_window(app);
                let _ = app.emit(PROMOTE_EVENT, PromoteRequest { project_id: project.into(), stage: stage.into() });
            }
        }
    }
}

async fn rebuild(app: &AppHandle) {
    let Ok(engine) = app.state::<AppState>().engine() else { return };
    let summary = match engine.tray_summary().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("tray: cannot read the engine's state: {e}");
            return;
        }
    };
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    match menu(app, &summary, engine.auto_deploy_paused()) {
        Ok(m) => {
            let _ = tray.set_menu(Some(m));
        }
        Err(e) => tracing::warn!("tray: cannot build the menu: {e}"),
    }
    if let Ok(i) = icon(summary.state) {
        let _ = tray.set_icon(Some(i));
    }
    let state = format!("{:?}", summary.state).to_lowercase();
    let _ = tray.set_tooltip(Some(format!("Slipway: {state}")));
}

fn toggle_pause(app: &AppHandle) {
    let Ok(engine) = app.state::<AppState>().engine() else { return };
    let paused = !engine.auto_deploy_paused();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = engine.set_auto_deploy_paused(paused).await {
            tracing::error!("cannot change auto-deploy: {e}");
        }
    });
}

/// Something the tray shows may have changed (a run, a release, the pause switch).
pub fn changed(app: &AppHandle) {
    if let Some(tray) = app.try_state::<Tray>() {
        tray.dirty.notify_one();
    }
}
