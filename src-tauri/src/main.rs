//! Slipway's desktop app: a window over the engine, and a tray icon that keeps the engine
//! running when the window is closed.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod console;
mod host_commands;
mod tray;

use slipway_engine::{ApiError, Config, Engine, EngineEvent};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewWindowBuilder};

/// The engine, or why it could not start: a corrupt store should be shown in the window, not
/// end the process before a window exists.
pub struct AppState {
    engine: Result<Engine, ApiError>,
}

impl AppState {
    pub fn engine(&self) -> Result<Engine, ApiError> {
        self.engine.clone()
    }
}

/// Name of the Tauri event that carries [`EngineEvent`]s to the UI.
const ENGINE_EVENT: &str = "engine-event";
/// Tells the UI to show a run (its id): a desktop notification was clicked.
pub const OPEN_RUN_EVENT: &str = "open-run";

fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let _log = slipway_engine::logging::init(&config.log_dir()).map_err(|e| eprintln!("logging: {e}")).ok();
    let engine = tauri::async_runtime::block_on(Engine::start(config)).map_err(|e| {
        tracing::error!("engine did not start: {e}");
        e.to_api()
    });

    let app = tauri::Builder::default()
        .manage(AppState { engine })
        .invoke_handler(tauri::generate_handler![
            commands::engine_status,
            commands::set_auto_deploy_paused,
            commands::quit,
            commands::list_projects,
            commands::create_project,
            commands::delete_project,
            commands::webhook_info,
            commands::rotate_webhook_secret,
            commands::poll_now,
            commands::list_deliveries,
            commands::list_runs,
            commands::start_manual_run,
            commands::run_detail,
            commands::cancel_run,
            commands::follow_run_log,
            commands::set_runs_held,
            commands::export_project,
            commands::import_project,
            commands::notification_settings,
            commands::set_notification_settings,
            commands::set_project_notifications,
            commands::test_project_notifications,
            console::dashboard,
            console::metrics,
            console::releases,
            console::rollback,
            console::promote,
            console::pending_promotions,
            console::rerun_run,
            console::redeliver,
            console::forge_accounts,
            console::save_forge_account,
            console::open_external,
            host_commands::list_hosts,
            host_commands::create_host,
            host_commands::update_host,
            host_commands::delete_host,
            host_commands::test_host,
            host_commands::import_docker_contexts,
            host_commands::list_containers,
            host_commands::inspect_container,
            host_commands::container_action,
            host_commands::follow_container_logs,
            host_commands::follow_container_stats,
            host_commands::follow_host_events,
            host_commands::stop_stream
        ])
        .setup(|app| {
            let tray = tray::create(app.handle())?;
            app.manage(tray);
            if let Ok(engine) = app.state::<AppState>().engine() {
                forward_events(app.handle().clone(), engine.clone());
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    engine.quit_requested().await;
                    quit(&handle);
                });
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the Tauri app could not be built");

    app.run(|_app, event| {
        // The last window closing asks to exit with no code; Quit asks with code 0. Only the
        // first is refused, so closing the window leaves Slipway in the tray.
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            api.prevent_exit();
        }
    });
}

fn forward_events(app: AppHandle, engine: Engine) {
    let mut rx = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    if matches!(
                        event,
                        EngineEvent::AutoDeployChanged { .. } | EngineEvent::RunChanged { .. } | EngineEvent::ReleaseChanged { .. } | EngineEvent::ProjectsChanged
                    ) {
                        tray::changed(&app);
                    }
                    if let EngineEvent::OpenRun { run_id } = &event {
                        show_main_window(&app);
                        let _ = app.emit(OPEN_RUN_EVENT, *run_id);
                    }
                    let _ = app.emit(ENGINE_EVENT, &event);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("UI missed {n} engine events");
                }
                Err(_) => break,
            }
        }
    });
}

/// Shows the main window, creating it again if it was closed (closing destroys it, so no
/// WebKit process lingers while Slipway sits in the tray).
pub fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == "main").cloned() else { return };
    match WebviewWindowBuilder::from_config(app, &config).and_then(|b| b.build()) {
        Ok(window) => {
            let _ = window.set_focus();
        }
        Err(e) => tracing::error!("cannot open the window: {e}"),
    }
}

/// Quit: stop the engine cleanly, then end the process. The tray, the UI and the API all end here.
pub fn quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Ok(engine) = app.state::<AppState>().engine() {
            engine.stop().await;
        }
        app.exit(0);
    });
}

