//! The tray icon and its menu: Open, Pause auto-deploy, Quit.

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

use crate::AppState;

pub struct Tray {
    pub pause: CheckMenuItem<Wry>,
}

pub fn create(app: &AppHandle) -> tauri::Result<Tray> {
    let paused = app.state::<AppState>().engine().map(|e| e.auto_deploy_paused()).unwrap_or(false);
    let open = MenuItem::with_id(app, "open", "Open Slipway", true, None::<&str>)?;
    let pause = CheckMenuItem::with_id(app, "pause", "Pause auto-deploy", true, paused, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &pause, &PredefinedMenuItem::separator(app)?, &quit])?;
    TrayIconBuilder::with_id("main")
        .icon(Image::from_bytes(include_bytes!("../../icons/32x32.png"))?)
        .tooltip("Slipway")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => crate::show_main_window(app),
            "pause" => toggle_pause(app),
            "quit" => crate::quit(app),
            _ => {}
        })
        .build(app)?;
    Ok(Tray { pause })
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

/// Keeps the check mark in step with the engine, whoever changed it (tray, UI, API).
pub fn show_paused(app: &AppHandle, paused: bool) {
    if let Some(tray) = app.try_state::<Tray>() {
        let _ = tray.pause.set_checked(paused);
    }
}
