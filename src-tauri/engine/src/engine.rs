//! The engine: one value that owns the store, the local listener and the background work. The
//! desktop app and the headless binary both hold one, and call the same operations on it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use ts_rs::TS;

use crate::docker::{self, DockerStatus};
use crate::store::{self, Store};
use crate::{api, token, Config, Result};

const PAUSED_KEY: &str = "auto_deploy_paused";

/// What the UI's status view and `slipwayd status` show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EngineStatus {
    pub version: String,
    pub pid: u32,
    pub data_dir: String,
    pub store_path: String,
    #[ts(type = "number")]
    pub schema_version: i64,
    /// Base URL of the local listener (API and webhooks), when it is listening.
    pub listener: Option<String>,
    /// Why the listener is not listening, when it is not.
    pub listener_error: Option<String>,
    pub docker: DockerStatus,
    pub auto_deploy_paused: bool,
}

/// State changes pushed to the UI (as Tauri events) and to API clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    AutoDeployChanged { paused: bool },
    ShuttingDown,
}

/// Written to `engine.json` while the engine runs, so the CLI can find it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineFile {
    pub url: String,
    pub pid: u32,
    pub version: String,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    token: String,
    listener: Mutex<Option<SocketAddr>>,
    listener_error: Mutex<Option<String>>,
    paused: AtomicBool,
    events: broadcast::Sender<EngineEvent>,
    /// Set once the engine starts stopping; the server and background tasks watch it.
    stopping: watch::Sender<bool>,
    /// Set when someone (the API, the tray) asks the host process to quit.
    quit_requested: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// Opens the store and starts the listener. A listener that cannot bind is reported in the
    /// status (and by `listener_error`) rather than failing the start: the desktop app stays
    /// useful without it, the headless binary decides for itself.
    pub async fn start(config: Config) -> Result<Engine> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Store::open(&config.store_path()).await?;
        let token = token::load_or_create(&config.token_path())?;
        let paused = store.setting(PAUSED_KEY).await?.as_deref() == Some("true");
        let (events, _) = broadcast::channel(256);
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                store,
                token,
                listener: Mutex::new(None),
                listener_error: Mutex::new(None),
                paused: AtomicBool::new(paused),
                events,
                stopping: watch::channel(false).0,
                quit_requested: watch::channel(false).0,
                server: Mutex::new(None),
            }),
        };
        engine.start_listener().await;
        tracing::info!(data_dir = %engine.config().data_dir.display(), "engine started");
        Ok(engine)
    }

    async fn start_listener(&self) {
        let addr = self.inner.config.listen;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let local = listener.local_addr().unwrap_or(addr);
                *self.inner.listener.lock().unwrap() = Some(local);
                let mut stopping = self.inner.stopping.subscribe();
                let app = api::router(self.clone());
                let task = tokio::spawn(async move {
                    let shutdown = async move {
                        let _ = stopping.wait_for(|s| *s).await;
                    };
                    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                        tracing::error!("listener failed: {e}");
                    }
                });
                *self.inner.server.lock().unwrap() = Some(task);
                let file = EngineFile {
                    url: format!("http://{local}"),
                    pid: std::process::id(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                };
                if let Err(e) = std::fs::write(self.config().engine_file(), serde_json::to_vec_pretty(&file).unwrap_or_default()) {
                    tracing::warn!("cannot write {}: {e}", self.config().engine_file().display());
                }
                tracing::info!("listening on http://{local}");
            }
            Err(e) => {
                let msg = if e.kind() == std::io::ErrorKind::AddrInUse {
                    format!("cannot listen on {addr}: the port is in use (is another Slipway running?). Set another port with --listen or SLIPWAY_LISTEN.")
                } else {
                    format!("cannot listen on {addr}: {e}")
                };
                tracing::error!("{msg}");
                *self.inner.listener_error.lock().unwrap() = Some(msg);
            }
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    pub fn listener_addr(&self) -> Option<SocketAddr> {
        *self.inner.listener.lock().unwrap()
    }

    pub fn listener_error(&self) -> Option<String> {
        self.inner.listener_error.lock().unwrap().clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, event: EngineEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.inner.events.send(event);
    }

    // ---- Operations: the one set exposed as Tauri commands and as the HTTP API. ----

    pub async fn status(&self) -> Result<EngineStatus> {
        let docker = docker::probe(&self.inner.config.docker_host).await;
        Ok(EngineStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            data_dir: self.inner.config.data_dir.display().to_string(),
            store_path: self.inner.store.path().display().to_string(),
            schema_version: self.inner.store.applied_version().await?.unwrap_or(0),
            listener: self.listener_addr().map(|a| format!("http://{a}")),
            listener_error: self.listener_error(),
            docker,
            auto_deploy_paused: self.auto_deploy_paused(),
        })
    }

    pub fn auto_deploy_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    /// Pausing stops webhooks and polls from starting runs; manual runs still go.
    pub async fn set_auto_deploy_paused(&self, paused: bool) -> Result<bool> {
        self.inner.store.set_setting(PAUSED_KEY, if paused { "true" } else { "false" }).await?;
        let was = self.inner.paused.swap(paused, Ordering::SeqCst);
        if was != paused {
            tracing::info!(paused, "auto-deploy {}", if paused { "paused" } else { "resumed" });
            self.emit(EngineEvent::AutoDeployChanged { paused });
        }
        Ok(paused)
    }

    /// Asks the process hosting the engine to quit (it calls [`Engine::stop`] on its way out).
    pub fn request_quit(&self) {
        self.inner.quit_requested.send_replace(true);
    }

    /// Resolves once a quit was requested.
    pub async fn quit_requested(&self) {
        let mut rx = self.inner.quit_requested.subscribe();
        let _ = rx.wait_for(|q| *q).await;
    }

    /// Stops the listener (letting in-flight requests finish), flushes and closes the store, and
    /// removes `engine.json`. Safe to call more than once.
    pub async fn stop(&self) {
        if self.inner.stopping.send_replace(true) {
            return;
        }
        self.emit(EngineEvent::ShuttingDown);
        let server = self.inner.server.lock().unwrap().take();
        if let Some(task) = server {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        let _ = std::fs::remove_file(self.config().engine_file());
        self.inner.store.close().await;
        tracing::info!("engine stopped cleanly");
    }
}

pub fn schema_version_known() -> i64 {
    store::latest_known_version()
}
