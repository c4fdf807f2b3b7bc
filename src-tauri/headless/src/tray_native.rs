//! The tray on macOS and Windows: the `tray-icon` crate (Tauri's own tray, without Tauri or a
//! WebView) on a `tao` event loop. Both systems want their tray on a thread that runs the
//! platform's event loop, and macOS wants that thread to be the main one, so `slipwayd` gives
//! the main thread to [`run_event_loop`] and runs the engine on the threads of its tokio runtime.
//! The menu and what its clicks mean come from `tray_menu`, the same as the Linux tray's.
//!
//! Why not a tray-only Tauri process: it would be a second program to start, find and keep in
//! step with the engine, for what is an icon and a menu; here the engine owns its tray directly,
//! as on Linux, and no WebView process lives while the window is closed.

use std::sync::{Mutex, OnceLock};

use tao::event::Event;
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tokio::sync::mpsc::UnboundedSender;
use tray_icon::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

use crate::tray_menu::{self, Entry};
pub use crate::tray_menu::{TrayAction, TrayModel};

/// What the engine's threads ask of the event loop's thread, and what the tray reports back.
enum Ui {
    Create(UnboundedSender<TrayAction>),
    Set(TrayModel),
    Menu(MenuEvent),
    Icon(TrayIconEvent),
    /// The engine's work is done: leave with this exit code.
    Exit(u8),
}

/// Set by [`run_event_loop`]; a command that runs without it has no tray to show.
static PROXY: OnceLock<Mutex<EventLoopProxy<Ui>>> = OnceLock::new();

fn send(ui: Ui) -> bool {
    PROXY.get().is_some_and(|p| p.lock().map(|p| p.send_event(ui).is_ok()).unwrap_or(false))
}

#[derive(Clone)]
pub struct Handle(());

impl Handle {
    pub async fn set(&self, model: TrayModel) {
        send(Ui::Set(model));
    }
}

/// Shows the tray. Fails when this process runs no event loop (a command other than
/// `serve --tray` or `tray`), which the caller logs as "no tray".
pub async fn spawn(actions: UnboundedSender<TrayAction>) -> Result<Handle, String> {
    if send(Ui::Create(actions)) {
        Ok(Handle(()))
    } else {
        Err("no tray: this command runs no desktop event loop".into())
    }
}

/// Runs `work` (the engine and its commands) on another thread and the platform's event loop
/// on this one, the main thread, until `work` returns; then exits with its code.
pub fn run_event_loop(work: impl FnOnce() -> u8 + Send + 'static) -> ! {
    let event_loop = EventLoopBuilder::<Ui>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let _ = PROXY.set(Mutex::new(proxy.clone()));
    slipway_engine::adapters::desktop::main_loop_runs();
    // Through the same proxy as the engine's requests: PROXY is set above.
    MenuEvent::set_event_handler(Some(|e| {
        send(Ui::Menu(e));
    }));
    TrayIconEvent::set_event_handler(Some(|e| {
        send(Ui::Icon(e));
    }));
    std::thread::spawn(move || {
        let code = work();
        // The loop may already be gone if the process is ending some other way.
        if proxy.send_event(Ui::Exit(code)).is_err() {
            std::process::exit(code.into());
        }
    });
    let mut tray: Option<(TrayIcon, UnboundedSender<TrayAction>)> = None;
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let Event::UserEvent(ui) = event else { return };
        match ui {
            // Built here, inside the running loop: macOS wants the loop running first.
            Ui::Create(actions) => match build(&TrayModel::idle()) {
                Ok(icon) => tray = Some((icon, actions)),
                Err(e) => tracing::warn!("no tray: {e}"),
            },
            Ui::Set(model) => {
                if let Some((icon, _)) = &tray {
                    update(icon, &model);
                }
            }
            Ui::Menu(e) => {
                if let (Some((_, actions)), Some(action)) = (&tray, TrayAction::from_menu_id(&e.id.0)) {
                    let _ = actions.send(action);
                }
            }
            // On Windows a left click opens the window (macOS shows the menu on any click).
            Ui::Icon(TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. }) => {
                if let Some((_, actions)) = &tray {
                    let _ = actions.send(TrayAction::Open);
                }
            }
            Ui::Icon(_) => {}
            Ui::Exit(code) => {
                // Drop the icon first, or Windows leaves a dead one in the tray until hovered.
                drop(tray.take());
                std::process::exit(code.into());
            }
        }
    })
}

fn build(model: &TrayModel) -> Result<TrayIcon, String> {
    TrayIconBuilder::new()
        .with_id("slipway")
        .with_tooltip(tray_menu::tooltip(model))
        .with_icon(icon(model)?)
        .with_menu(Box::new(menu(model)?))
        .with_menu_on_left_click(cfg!(target_os = "macos"))
        .build()
        .map_err(|e| e.to_string())
}

fn update(tray: &TrayIcon, model: &TrayModel) {
    let result = icon(model).and_then(|i| tray.set_icon(Some(i)).map_err(|e| e.to_string()));
    let result = result.and_then(|()| tray.set_tooltip(Some(tray_menu::tooltip(model))).map_err(|e| e.to_string()));
    match result.and_then(|()| menu(model)) {
        Ok(menu) => tray.set_menu(Some(Box::new(menu))),
        Err(e) => tracing::warn!("tray: cannot update: {e}"),
    }
}

fn icon(model: &TrayModel) -> Result<tray_icon::Icon, String> {
    let i = tray_menu::icon(model.summary.state);
    tray_icon::Icon::from_rgba(i.data, i.width, i.height).map_err(|e| e.to_string())
}

fn menu(model: &TrayModel) -> Result<Menu, String> {
    let items: Vec<Box<dyn IsMenuItem>> = tray_menu::entries(model)
        .into_iter()
        .map(|entry| -> Box<dyn IsMenuItem> {
            match entry {
                Entry::Separator => Box::new(PredefinedMenuItem::separator()),
                Entry::Item { label, action: None } => Box::new(MenuItem::new(escape(&label), false, None)),
                Entry::Item { label, action: Some(a) } => Box::new(MenuItem::with_id(a.menu_id(), escape(&label), true, None)),
                Entry::Check { label, checked, action } => {
                    Box::new(CheckMenuItem::with_id(action.menu_id(), escape(&label), true, checked, None))
                }
            }
        })
        .collect();
    let refs: Vec<&dyn IsMenuItem> = items.iter().map(|i| i.as_ref()).collect();
    Menu::with_items(&refs).map_err(|e| e.to_string())
}

/// Windows menus read `&` as the mnemonic marker; macOS shows the text as it is.
fn escape(label: &str) -> String {
    if cfg!(windows) {
        label.replace('&', "&&")
    } else {
        label.to_string()
    }
}
