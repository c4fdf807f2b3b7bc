//! `slipwayd serve --tray`: the desktop half of the engine process. It shows the tray icon (a
//! StatusNotifierItem over D-Bus, no GTK) and opens the window process (`slipway`) when asked,
//! so nothing of GTK or WebKit stays in memory while the window is closed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use slipway_engine::{Engine, EngineEvent, PromoteTarget};
use tokio::sync::mpsc;

use crate::tray::{self, TrayAction, TrayModel};

/// Starts the tray (when the session has a bus) and the task that answers its clicks and the
/// desktop notifications' clicks. Without a bus the engine runs on, only without an icon.
pub async fn start(engine: &Engine) {
    let (tx, mut actions) = mpsc::unbounded_channel();
    let handle = match tray::spawn(tx).await {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!("{e}; the engine runs without a tray icon");
            None
        }
    };
    let dirty = Arc::new(tokio::sync::Notify::new());
    if let Some(handle) = handle {
        let (engine, dirty) = (engine.clone(), dirty.clone());
        tokio::spawn(async move {
            loop {
                // A burst of events costs one refresh.
                tokio::time::sleep(Duration::from_millis(150)).await;
                match engine.tray_summary().await {
                    Ok(summary) => handle.set(TrayModel { summary, paused: engine.auto_deploy_paused() }).await,
                    Err(e) => tracing::warn!("tray: cannot read the engine's state: {e}"),
                }
                dirty.notified().await;
            }
        });
    }
    let events_engine = engine.clone();
    let mut events = engine.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(EngineEvent::OpenRun { run_id }) if events_engine.ui_clients() == 0 => open_window(&events_engine, Some(run_id), None),
                // A notification's "Review & promote" or "Open", with no window to show itself.
                Ok(EngineEvent::ShowWindow { run_id, promote }) if events_engine.ui_clients() == 0 => {
                    open_window(&events_engine, run_id, promote)
                }
                Ok(EngineEvent::ShuttingDown { .. }) | Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                Ok(
                    EngineEvent::AutoDeployChanged { .. }
                    | EngineEvent::RunChanged { .. }
                    | EngineEvent::ReleaseChanged { .. }
                    | EngineEvent::ProjectsChanged,
                ) => dirty.notify_one(),
                _ => {}
            }
        }
    });
    let engine = engine.clone();
    tokio::spawn(async move {
        while let Some(action) = actions.recv().await {
            match action {
                TrayAction::Open => open_window(&engine, None, None),
                TrayAction::OpenRun(id) => open_window(&engine, Some(id), None),
                TrayAction::Promote { project_id, stage } => open_window(&engine, None, Some(PromoteTarget { project_id, stage })),
                TrayAction::TogglePause => {
                    if let Err(e) = engine.set_auto_deploy_paused(!engine.auto_deploy_paused()).await {
                        tracing::error!("cannot change auto-deploy: {e}");
                    }
                }
                TrayAction::Quit => engine.request_quit(),
            }
        }
    });
}

/// Brings the open window forward (it follows the engine's events), or starts one.
fn open_window(engine: &Engine, run_id: Option<i64>, promote: Option<PromoteTarget>) {
    if engine.ui_clients() > 0 {
        engine.emit(EngineEvent::ShowWindow { run_id, promote });
        return;
    }
    let exe = window_path();
    let mut cmd = std::process::Command::new(&exe);
    cmd.env("SLIPWAY_DATA_DIR", &engine.config().data_dir);
    if let Some(id) = run_id {
        cmd.args(["--run", &id.to_string()]);
    }
    if let Some(p) = promote {
        cmd.args(["--promote", &format!("{}/{}", p.project_id, p.stage)]);
    }
    match cmd.spawn() {
        // Reaped when it exits, so closed windows leave no zombies behind.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(e) => tracing::error!("cannot open the window {}: {e}", exe.display()),
    }
}

/// The window's binary: `slipway` beside this one, or where `SLIPWAY_WINDOW` says.
pub(crate) fn window_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SLIPWAY_WINDOW") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("slipwayd"));
    exe.with_file_name(format!("slipway{}", std::env::consts::EXE_SUFFIX))
}
