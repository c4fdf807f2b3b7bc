//! Which engine the window is attached to, and keeping it attached: this machine's engine or
//! one reached over SSH ([`slipway_protocol::remote`]). When the link drops (the tunnel died,
//! the engine restarted on another port, the network went away) the window says so and attaches
//! again with backoff; the UI then reloads what it shows and the run view resumes its log after
//! the last line it has. Switching engines (Settings) needs no restart.

use std::time::Duration;

use slipway_protocol::client::{console_actor, Client};
use slipway_protocol::events::EngineEvent;
use slipway_protocol::ops;
use slipway_protocol::remote::{self, ConsoleLink, EngineAddress, Tunnel};
use slipway_protocol::{ApiError, Config, ErrorCode};
use tauri::{AppHandle, Emitter, Manager, State};

use crate::AppState;

/// Name of the Tauri event that carries the [`ConsoleLink`] whenever it changes.
const LINK_EVENT: &str = "console-link";
/// Backoff between attempts to attach again: from the first to the ceiling, doubling.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_CEILING: Duration = Duration::from_secs(5);

/// What the window is attached to now.
pub struct Link {
    pub address: EngineAddress,
    pub client: Result<Client, ApiError>,
    /// The SSH tunnel of a remote engine: dropping it ends the ssh process.
    pub tunnel: Option<Tunnel>,
    /// Counts switches, so a reconnect that finishes after the operator chose another engine
    /// does not undo the choice.
    pub generation: u64,
    pub message: Option<String>,
}

impl Link {
    pub fn new(address: EngineAddress, attached: Result<(Client, Option<Tunnel>), ApiError>) -> Link {
        let (client, tunnel) = match attached {
            Ok((c, t)) => (Ok(c), t),
            Err(e) => (Err(e), None),
        };
        Link { address, client, tunnel, generation: 0, message: None }
    }

    fn view(&self) -> ConsoleLink {
        let remote = matches!(self.address, EngineAddress::Ssh(_));
        let message = self.message.clone().or_else(|| self.client.as_ref().err().map(|e| e.message.clone()));
        ConsoleLink { address: self.address.label(), remote, connected: self.client.is_ok() && self.message.is_none(), message }
    }
}

/// The engine the window starts attached to: `--engine ADDRESS`, `SLIPWAY_ENGINE`, or the one
/// chosen in Settings last time (`console.json` in the data directory); this machine's else.
pub fn initial_address(config: &Config) -> Result<EngineAddress, ApiError> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--engine" {
            return EngineAddress::parse(&args.next().unwrap_or_default());
        }
        if let Some(v) = a.strip_prefix("--engine=") {
            return EngineAddress::parse(v);
        }
    }
    if let Some(v) = std::env::var("SLIPWAY_ENGINE").ok().filter(|v| !v.is_empty()) {
        return EngineAddress::parse(&v);
    }
    let saved = std::fs::read_to_string(saved_path(config)).ok().and_then(|t| serde_json::from_str::<Saved>(&t).ok());
    EngineAddress::parse(saved.map(|s| s.engine).as_deref().unwrap_or(""))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    engine: String,
}

fn saved_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("console.json")
}

/// Attaches to `address`: this machine's engine (started when none runs) or a remote one.
pub async fn open(config: &Config, address: &EngineAddress) -> Result<(Client, Option<Tunnel>), ApiError> {
    let actor = console_actor("window");
    match address {
        EngineAddress::Local => Ok((crate::link::connect_or_start(config).await?.with_actor(actor), None)),
        EngineAddress::Ssh(target) => {
            let a = remote::attach(target).await?;
            tracing::info!(
                "attached to {} (engine {} in {}) through 127.0.0.1:{}",
                target.label(),
                a.info.version,
                a.info.data_dir,
                a.tunnel.local.port()
            );
            Ok((a.client.with_actor(actor), Some(a.tunnel)))
        }
    }
}

/// Attaching again after the link dropped: a local engine is looked for (not started: a Quit
/// from the tray meant it), a remote one is attached through a new tunnel.
async fn reopen(config: &Config, address: &EngineAddress) -> Result<(Client, Option<Tunnel>), ApiError> {
    match address {
        EngineAddress::Local => Ok((crate::link::running(config).await?.with_actor(console_actor("window")), None)),
        ssh => open(config, ssh).await,
    }
}

/// Shows `link` in the title bar and tells the UI.
fn publish(app: &AppHandle, link: &ConsoleLink) {
    if let Some(w) = app.get_webview_window("main") {
        let title = if link.remote { format!("Slipway — {}", link.address) } else { "Slipway".to_string() };
        let _ = w.set_title(&title);
    }
    let _ = app.emit(LINK_EVENT, link);
}

fn update(app: &AppHandle, generation: u64, change: impl FnOnce(&mut Link)) -> bool {
    let state = app.state::<AppState>();
    let view = {
        let mut link = state.link.lock().unwrap();
        if link.generation != generation {
            return false;
        }
        change(&mut link);
        link.view()
    };
    publish(app, &view);
    true
}

/// Passes the engine's events to the UI for as long as the window lives, attaching again when
/// the link drops. A local engine that was asked to quit (the tray's Quit) closes the window; one
/// that was restarted is waited for.
pub fn forward_events(app: &AppHandle) {
    let task_app = app.clone();
    let task = tauri::async_runtime::spawn(async move {
        let app = task_app;
        loop {
            let (client, generation, remote) = {
                let state = app.state::<AppState>();
                let link = state.link.lock().unwrap();
                (link.client.clone(), link.generation, matches!(link.address, EngineAddress::Ssh(_)))
            };
            let mut quitting = false;
            if let Ok(client) = &client {
                let result = client.stream::<EngineEvent>("/events", |batch| {
                    for event in batch {
                        quitting |= matches!(event, EngineEvent::ShuttingDown { quit: true });
                        crate::link::on_event(&app, event);
                    }
                    true
                });
                if let Err(e) = result.await {
                    tracing::warn!("engine events: {e}");
                }
                if !quitting && client.call(ops::GetStatus {}).await.is_ok() {
                    // Only the stream dropped: open it again.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
            if quitting && !remote {
                tracing::info!("the engine shut down; closing the window");
                app.exit(0);
                return;
            }
            relink(&app, generation).await;
        }
    });
    if let Some(old) = app.state::<AppState>().events.lock().unwrap().replace(task) {
        old.abort();
    }
}

/// Attaches again to the same address, with backoff, until it answers or the operator switched.
async fn relink(app: &AppHandle, generation: u64) {
    let (config, address) = {
        let state = app.state::<AppState>();
        let link = state.link.lock().unwrap();
        (state.config.clone(), link.address.clone())
    };
    let mut pause = RETRY_FIRST;
    loop {
        let lost = format!("lost the engine at {}; attaching again", address.label());
        if !update(app, generation, |l| l.message = Some(lost.clone())) {
            return;
        }
        match reopen(&config, &address).await {
            Ok((client, tunnel)) => {
                let back = update(app, generation, |l| {
                    l.client = Ok(client);
                    l.tunnel = tunnel;
                    l.message = None;
                });
                if back {
                    tracing::info!("attached again to {}", address.label());
                }
                return;
            }
            Err(e) => {
                let msg = format!("the engine at {} does not answer ({e}); retrying in {:.1} s", address.label(), pause.as_secs_f32());
                tracing::warn!("{msg}");
                if !update(app, generation, |l| l.message = Some(msg)) {
                    return;
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_CEILING);
    }
}

/// Where the window is attached, and whether the link is up.
#[tauri::command]
pub fn console_link(state: State<'_, AppState>) -> ConsoleLink {
    state.link.lock().unwrap().view()
}

/// Attaches the window to another engine (`local` or `ssh://…`) and remembers the choice. On
/// failure the window stays attached where it was, and the answer says why.
#[tauri::command]
pub async fn attach_engine(app: AppHandle, state: State<'_, AppState>, address: String) -> Result<ConsoleLink, ApiError> {
    let address = EngineAddress::parse(&address)?;
    let attached = open(&state.config, &address).await?;
    let saved = serde_json::to_string(&Saved { engine: address.label() }).expect("serializable");
    std::fs::write(saved_path(&state.config), saved).map_err(|e| {
        ApiError::new(ErrorCode::Io, format!("attached, but cannot remember the choice in {}: {e}", saved_path(&state.config).display()))
    })?;
    let view = {
        let mut link = state.link.lock().unwrap();
        let generation = link.generation + 1;
        *link = Link::new(address, Ok(attached));
        link.generation = generation;
        link.view()
    };
    publish(&app, &view);
    forward_events(&app);
    Ok(view)
}
