//! The engine's hosts at run time: one Docker client per host, reused, and a health ping per
//! host that flips its status to unreachable and back (with backoff while it is down). The host
//! operations the UI and the API call are here too, in [`crate::engine`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bollard::Docker;
use tokio::task::JoinHandle;

use crate::domain::events::EngineEvent;
use crate::domain::host::{HostState, HostStatus, LOCAL_ID};
use crate::services::Core;
use crate::store::now_ms;
use crate::{ErrorCode, Result};

/// A reachable host is pinged this often.
const HEALTHY_EVERY: Duration = Duration::from_secs(5);
/// An unreachable one first after a second, then twice as long each time, up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct HostPool {
    pub(crate) clients: Mutex<HashMap<String, Docker>>,
    pub(crate) status: Mutex<HashMap<String, HostStatus>>,
    pub(crate) pingers: Mutex<HashMap<String, JoinHandle<()>>>,
}

pub(crate) fn unknown(id: &str) -> HostStatus {
    HostStatus { host_id: id.to_string(), state: HostState::Unknown, error: None, latency_ms: None, checked_at: None }
}

/// Makes sure the local host exists and starts watching every host.
pub(crate) async fn start(engine: &Core) -> Result<()> {
    crate::store::hosts::ensure_local(engine.store(), &engine.config().docker_host).await?;
    for host in crate::store::hosts::list(engine.store()).await? {
        watch(engine, &host.id);
    }
    Ok(())
}

pub(crate) fn watch(engine: &Core, id: &str) {
    let task = tokio::spawn(pinger(engine.clone(), id.to_string()));
    if let Some(old) = engine.host_pool().pingers.lock().unwrap().insert(id.to_string(), task) {
        old.abort();
    }
}

async fn pinger(engine: Core, id: String) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = async {
            let docker = engine.docker_for(Some(&id)).await?;
            crate::adapters::docker::hosts::ping(&docker, &engine.host_name(&id).await, PING_TIMEOUT).await
        }
        .await;
        let wait = match result {
            Ok(ms) => {
                engine.set_host_status(&id, HostState::Reachable, None, Some(ms));
                backoff = Duration::from_secs(1);
                HEALTHY_EVERY
            }
            Err(e) if e.code() == ErrorCode::NotFound => return,
            Err(e) => {
                engine.host_lost(&id, &e.to_api().message);
                let wait = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                wait
            }
        };
        if engine.sleep_or_stop(wait).await {
            return;
        }
    }
}

impl Core {
    /// A Docker client for a host (None: the engine's default endpoint, the `local` host),
    /// connected and version-negotiated, reused across calls.
    pub async fn docker_for(&self, host_id: Option<&str>) -> Result<Docker> {
        let id = host_id.unwrap_or(LOCAL_ID);
        if let Some(d) = self.host_pool().clients.lock().unwrap().get(id) {
            return Ok(d.clone());
        }
        let host = crate::store::hosts::get(self.store(), id).await?;
        let docker = crate::adapters::docker::hosts::connect(&host, &self.config().docker_host).await?;
        self.host_pool().clients.lock().unwrap().insert(id.to_string(), docker.clone());
        Ok(docker)
    }

    pub(crate) async fn host_name(&self, id: &str) -> String {
        crate::store::hosts::find(self.store(), id).await.ok().flatten().map(|h| h.name).unwrap_or_else(|| id.to_string())
    }

    pub(crate) fn set_host_status(&self, id: &str, state: HostState, error: Option<String>, latency_ms: Option<f64>) {
        let status = HostStatus { host_id: id.to_string(), state, error, latency_ms, checked_at: Some(now_ms()) };
        let changed = {
            let mut all = self.host_pool().status.lock().unwrap();
            let before = all.insert(id.to_string(), status.clone());
            before.map(|b| (b.state, b.error)) != Some((status.state, status.error.clone()))
        };
        if changed {
            tracing::info!(host = id, state = ?status.state, error = ?status.error, "host status");
            self.emit(EngineEvent::HostStatusChanged { status });
        }
    }

    /// A host failed an operation or a ping: it shows as unreachable at once, and the next use
    /// connects afresh (an ssh:// host is checked again, host key included).
    pub(crate) fn host_lost(&self, id: &str, why: &str) {
        self.host_pool().clients.lock().unwrap().remove(id);
        self.routes().forget_host(id);
        self.set_host_status(id, HostState::Unreachable, Some(why.to_string()), None);
    }

    pub(crate) fn host_failed<T>(&self, id: &str, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            if e.code() == ErrorCode::HostUnreachable {
                self.host_lost(id, &e.to_api().message);
            }
        }
        result
    }

    pub(crate) fn forget_host(&self, id: &str) {
        let pool = self.host_pool();
        pool.clients.lock().unwrap().remove(id);
        pool.status.lock().unwrap().remove(id);
        self.routes().forget_host(id);
        if let Some(task) = pool.pingers.lock().unwrap().remove(id) {
            task.abort();
        }
    }
}
