//! The engine's hosts at run time: one Docker client per host, reused, and a health ping per
//! host that flips its status to unreachable and back (with backoff while it is down). The host
//! operations the UI and the API call are in [`crate::engine`].
//!
//! Must not depend on other services but [`crate::services::bus`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use tokio::task::JoinHandle;

use crate::domain::events::EngineEvent;
use crate::domain::host::{HostState, HostStatus, LOCAL_ID};
use crate::services::bus::{Events, Shutdown};
use crate::store::{now_ms, Store};
use crate::{ErrorCode, Result};

/// A reachable host is pinged this often.
const HEALTHY_EVERY: Duration = Duration::from_secs(5);
/// An unreachable one first after a second, then twice as long each time, up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Called with a host's id when its connection is dropped (lost, edited, deleted): whatever is
/// kept per host elsewhere (the edge's shells) goes with it. Registered at wiring, so this
/// module needs to know nothing of its users.
type OnForget = Box<dyn Fn(&str) + Send + Sync>;

/// The engine's hosts at run time, a cheap handle: the store (host rows), the default Docker
/// endpoint, the events (status changes) and the shutdown (pingers stop with the engine).
#[derive(Clone)]
pub struct Hosts {
    inner: Arc<Pool>,
}

struct Pool {
    store: Store,
    default_endpoint: String,
    events: Events,
    shutdown: Shutdown,
    clients: Mutex<HashMap<String, Docker>>,
    status: Mutex<HashMap<String, HostStatus>>,
    pingers: Mutex<HashMap<String, JoinHandle<()>>>,
    on_forget: Mutex<Vec<OnForget>>,
}

pub(crate) fn unknown(id: &str) -> HostStatus {
    HostStatus { host_id: id.to_string(), state: HostState::Unknown, error: None, latency_ms: None, checked_at: None }
}

impl Hosts {
    pub fn new(store: Store, default_endpoint: &str, events: Events, shutdown: Shutdown) -> Hosts {
        let pool = Pool {
            store,
            default_endpoint: default_endpoint.to_string(),
            events,
            shutdown,
            clients: Default::default(),
            status: Default::default(),
            pingers: Default::default(),
            on_forget: Default::default(),
        };
        Hosts { inner: Arc::new(pool) }
    }

    /// Runs `f` whenever a host's connection is dropped.
    pub fn on_forget(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.inner.on_forget.lock().unwrap().push(Box::new(f));
    }

    /// Makes sure the local host exists and starts watching every host.
    pub(crate) async fn start(&self) -> Result<()> {
        crate::store::hosts::ensure_local(&self.inner.store, &self.inner.default_endpoint).await?;
        for host in crate::store::hosts::list(&self.inner.store).await? {
            self.watch(&host.id);
        }
        Ok(())
    }

    pub(crate) fn watch(&self, id: &str) {
        let task = tokio::spawn(pinger(self.clone(), id.to_string()));
        if let Some(old) = self.inner.pingers.lock().unwrap().insert(id.to_string(), task) {
            old.abort();
        }
    }

    /// Every host's last known status, by id.
    pub(crate) fn statuses(&self) -> HashMap<String, HostStatus> {
        self.inner.status.lock().unwrap().clone()
    }

    /// Keeps `docker` as host `id`'s client (a test connected afresh).
    pub(crate) fn keep_client(&self, id: &str, docker: Docker) {
        self.inner.clients.lock().unwrap().insert(id.to_string(), docker);
    }
    /// A Docker client for a host (None: the engine's default endpoint, the `local` host),
    /// connected and version-negotiated, reused across calls.
    pub async fn docker_for(&self, host_id: Option<&str>) -> Result<Docker> {
        let id = host_id.unwrap_or(LOCAL_ID);
        if let Some(d) = self.inner.clients.lock().unwrap().get(id) {
            return Ok(d.clone());
        }
        let host = crate::store::hosts::get(&self.inner.store, id).await?;
        let docker = crate::adapters::docker::hosts::connect(&host, &self.inner.default_endpoint).await?;
        self.inner.clients.lock().unwrap().insert(id.to_string(), docker.clone());
        Ok(docker)
    }

    pub(crate) async fn host_name(&self, id: &str) -> String {
        crate::store::hosts::find(&self.inner.store, id).await.ok().flatten().map(|h| h.name).unwrap_or_else(|| id.to_string())
    }

    pub(crate) fn set_host_status(&self, id: &str, state: HostState, error: Option<String>, latency_ms: Option<f64>) {
        let status = HostStatus { host_id: id.to_string(), state, error, latency_ms, checked_at: Some(now_ms()) };
        let changed = {
            let mut all = self.inner.status.lock().unwrap();
            let before = all.insert(id.to_string(), status.clone());
            before.map(|b| (b.state, b.error)) != Some((status.state, status.error.clone()))
        };
        if changed {
            tracing::info!(host = id, state = ?status.state, error = ?status.error, "host status");
            self.inner.events.emit(EngineEvent::HostStatusChanged { status });
        }
    }

    /// A host failed an operation or a ping: it shows as unreachable at once, and the next use
    /// connects afresh (an ssh:// host is checked again, host key included).
    pub(crate) fn host_lost(&self, id: &str, why: &str) {
        self.inner.clients.lock().unwrap().remove(id);
        self.forgotten(id);
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
        let pool = &self.inner;
        pool.clients.lock().unwrap().remove(id);
        pool.status.lock().unwrap().remove(id);
        self.forgotten(id);
        if let Some(task) = pool.pingers.lock().unwrap().remove(id) {
            task.abort();
        }
    }

    fn forgotten(&self, id: &str) {
        for f in self.inner.on_forget.lock().unwrap().iter() {
            f(id);
        }
    }
}

async fn pinger(hosts: Hosts, id: String) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = async {
            let docker = hosts.docker_for(Some(&id)).await?;
            crate::adapters::docker::hosts::ping(&docker, &hosts.host_name(&id).await, PING_TIMEOUT).await
        }
        .await;
        let wait = match result {
            Ok(ms) => {
                hosts.set_host_status(&id, HostState::Reachable, None, Some(ms));
                backoff = Duration::from_secs(1);
                HEALTHY_EVERY
            }
            Err(e) if e.code() == ErrorCode::NotFound => return,
            Err(e) => {
                hosts.host_lost(&id, &e.to_api().message);
                let wait = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                wait
            }
        };
        if hosts.inner.shutdown.sleep_or_stop(wait).await {
            return;
        }
    }
}
