//! The local listener: the JSON API under `/api/v1` (bearer token), the webhook route
//! `/hooks/<project>` (signatures) and the NDJSON streams. The operations it routes are
//! declared in [`slipway_protocol::ops`], whose client ([`client::Client`]) calls them.
//!
//! Must not be depended on by any other layer: it is the top.

pub mod api;
pub mod failure;
pub mod hosts;
mod ops;
pub mod serve;

pub use slipway_protocol::{bindings, client};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::domain::config::Config;
use crate::domain::events::EngineFile;
use crate::engine::Engine;
use crate::Result;

impl Engine {
    /// Opens the engine ([`Engine::open`]) and starts its listener. A listener that cannot bind
    /// is reported in the status (and by `listener_error`) rather than failing the start: the
    /// desktop app stays useful without it, the headless binary decides for itself.
    pub async fn start(config: Config) -> Result<Engine> {
        let engine = Engine::open(config).await?;
        listen(&engine).await;
        Ok(engine)
    }
}

async fn listen(engine: &Engine) {
    let addr = engine.config().listen;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            let msg = if e.kind() == std::io::ErrorKind::AddrInUse {
                format!("cannot listen on {addr}: the port is in use (is another Slipway running?). Set another port with --listen or SLIPWAY_LISTEN.")
            } else {
                format!("cannot listen on {addr}: {e}")
            };
            tracing::error!("{msg}");
            *engine.inner.listener_error.lock().unwrap() = Some(msg);
            return;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    *engine.inner.listener.lock().unwrap() = Some(local);
    spawn_server(engine, listener, api::router(engine.clone()), serve::public());
    // The window's and the CLI's own way in, on loopback with its own connection budget: a
    // flood of the public listener (which forges must reach) cannot starve them.
    let api_url = match tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await {
        Ok(l) => {
            let a = l.local_addr().ok();
            spawn_server(engine, l, api::api_router(engine.clone()), serve::API);
            a.map(|a| format!("http://{a}"))
        }
        Err(e) => {
            tracing::warn!("no separate API listener ({e}): the window and the CLI share the public one");
            None
        }
    };
    #[cfg(unix)]
    hooks_socket(engine);
    let file =
        EngineFile { url: format!("http://{local}"), api_url, pid: std::process::id(), version: env!("CARGO_PKG_VERSION").to_string() };
    if let Err(e) = std::fs::write(engine.config().engine_file(), serde_json::to_vec_pretty(&file).unwrap_or_default()) {
        tracing::warn!("cannot write {}: {e}", engine.config().engine_file().display());
    }
    tracing::info!("listening on http://{local}");
}

/// The hooks' Unix socket, which the local edge forwards a public host name's `/hooks/*` to
/// (see `edge.hooks_host`): the webhook route only, with the public listener's limits. The
/// directory is the engine's alone (0700); the edge mounts it.
#[cfg(unix)]
fn hooks_socket(engine: &Engine) {
    use std::os::unix::fs::PermissionsExt;
    let dir = engine.config().hooks_dir();
    let path = dir.join("hooks.sock");
    let bound = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)))
        .and_then(|()| match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .and_then(|()| tokio::net::UnixListener::bind(&path));
    match bound {
        Ok(l) => spawn_server(engine, l, api::hooks_router(engine.clone()), serve::public()),
        Err(e) => tracing::warn!("no hook socket at {} ({e}): the edge cannot serve the hooks' public name", path.display()),
    }
}

fn spawn_server(engine: &Engine, listener: impl serve::Accept, app: axum::Router, limits: serve::Limits) {
    let stopping = engine.inner.shutdown.subscribe();
    let task = tokio::spawn(serve::serve(listener, app, limits, stopping));
    engine.inner.server.lock().unwrap().push(task);
}

/// `POST /hooks/<project-id>`: the webhook listener's one route (see [`crate::services::hooks`]).
pub async fn receive_hook(State(engine): State<Engine>, Path(project_id): Path<String>, headers: HeaderMap, body: Body) -> Response {
    engine.hooks().handle(project_id, headers, body, None).await.0
}
