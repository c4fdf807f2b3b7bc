//! Slipway's desktop window. The engine and the tray live in `slipwayd`, a process of their own:
//! this process is only the window, a client of the engine's local API, and it exits when the
//! window closes, so no GTK or WebKit memory stays behind while Slipway sits in the tray. It
//! starts the engine (`slipwayd serve --tray`) when none runs for its data directory.
//!
//! Depends on `slipway-protocol` (wire types, the client), never on the engine crate.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod attach;
mod commands;
mod console;
mod host_commands;
mod link;

use std::sync::Mutex;

use slipway_protocol::client::Client;
use slipway_protocol::remote::EngineAddress;
use slipway_protocol::{ApiError, Config};

pub struct AppState {
    config: Config,
    /// The engine's client, or why no engine could be reached or started: a corrupt store
    /// should be shown in the window, not end the process before a window exists.
    link: Mutex<attach::Link>,
    /// The task passing the engine's events on; replaced when the window attaches elsewhere.
    events: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// What the window was opened for (a run, a promote dialog): handed to the UI once it listens.
    intent: Mutex<Option<link::Intent>>,
}

impl AppState {
    pub fn client(&self) -> Result<Client, ApiError> {
        self.link.lock().unwrap().client.clone()
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.link.lock().unwrap().address, EngineAddress::Ssh(_))
    }
}

/// What `slipway --help` prints; the window reads its arguments by hand (they are few, and
/// clap would be a second parser beside the engine's).
const USAGE: &str = "Slipway: a desktop deploy console

Usage: slipway [--engine ssh://[user@]host[:port][/data-dir]] [--run ID | --promote PROJECT/STAGE]

  --engine ADDRESS   attach to the engine on another machine over SSH (also SLIPWAY_ENGINE)
  --run ID           open this run
  --promote P/S      open the promotion dialog for project P's stage S
  -V, --version      print the version
  -h, --help         print this help

The engine, its tray and the command line are slipwayd (slipwayd --help).";

fn main() {
    // Before anything touches a display: a package's smoke test and a user's `--version` run
    // where there may be none.
    match std::env::args().nth(1).as_deref() {
        Some("-V" | "--version") => return println!("slipway {}", env!("CARGO_PKG_VERSION")),
        Some("-h" | "--help") => return println!("{USAGE}"),
        _ => {}
    }
    // The console is text and tables: WebKit's GPU compositing buys it nothing, and on Linux it
    // costs the web process about 65 MB (Mesa and LLVM mapped in). Set before any thread starts,
    // and only when unset: the operator's own value wins.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let _log = slipway_protocol::logging::init_named(&config.log_dir(), "slipway-window").map_err(|e| eprintln!("logging: {e}")).ok();
    let intent = link::Intent::from_args(std::env::args().skip(1));
    let link = match attach::initial_address(&config) {
        Ok(address) => {
            let attached = tauri::async_runtime::block_on(attach::open(&config, &address)).map_err(|e| {
                tracing::error!("no engine: {e}");
                e
            });
            attach::Link::new(address, attached)
        }
        Err(e) => attach::Link::new(EngineAddress::Local, Err(e)),
    };

    tauri::Builder::default()
        .manage(AppState { config, link: Mutex::new(link), events: Mutex::new(None), intent: Mutex::new(intent) })
        .invoke_handler(tauri::generate_handler![
            commands::call,
            attach::console_link,
            attach::attach_engine,
            commands::quit,
            commands::ui_ready,
            commands::first_paint,
            commands::follow_run_log,
            console::open_external,
            host_commands::follow_container_logs,
            host_commands::follow_container_stats,
            host_commands::follow_host_events,
            host_commands::stop_stream
        ])
        .setup(|app| {
            attach::forward_events(app.handle());
            // Started by a tray attached to a remote engine: its later clicks arrive here, one
            // intent per line (`--run 42`, `--promote web/prod`, `--show`).
            if std::env::var_os("SLIPWAY_INTENTS_ON_STDIN").is_some() {
                let handle = app.handle().clone();
                std::thread::spawn(move || {
                    for line in std::io::stdin().lines().map_while(Result::ok) {
                        link::show(&handle, link::Intent::from_args(line.split_whitespace().map(String::from)));
                    }
                });
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the Tauri app could not be built");
}
