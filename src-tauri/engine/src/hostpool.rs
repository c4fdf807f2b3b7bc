//! The engine's hosts at run time: one Docker client per host, reused, and a health ping per
//! host that flips its status to unreachable and back (with backoff while it is down). The host
//! operations the UI and the API call are here too, as more of [`Engine`]'s methods.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bollard::Docker;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::containers::{self, ContainerAction, ContainerGroup, ContainerInfo, ContainerLogLine, ContainerStats, HostEvent};
use crate::hosts::{self, ContextImport, Host, HostInput, HostState, HostStatus, HostTest, LOCAL_ID};
use crate::store::now_ms;
use crate::{Engine, EngineEvent, ErrorCode, Result};

/// A reachable host is pinged this often.
const HEALTHY_EVERY: Duration = Duration::from_secs(5);
/// An unreachable one first after a second, then twice as long each time, up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct HostPool {
    clients: Mutex<HashMap<String, Docker>>,
    status: Mutex<HashMap<String, HostStatus>>,
    pingers: Mutex<HashMap<String, JoinHandle<()>>>,
}

/// A host with its last known status, as the host list shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct HostEntry {
    pub host: Host,
    pub status: HostStatus,
}

fn unknown(id: &str) -> HostStatus {
    HostStatus { host_id: id.to_string(), state: HostState::Unknown, error: None, latency_ms: None, checked_at: None }
}

/// Makes sure the local host exists and starts watching every host.
pub(crate) async fn start(engine: &Engine) -> Result<()> {
    hosts::ensure_local(engine.store(), &engine.config().docker_host).await?;
    for host in hosts::list(engine.store()).await? {
        watch(engine, &host.id);
    }
    Ok(())
}

fn watch(engine: &Engine, id: &str) {
    let task = tokio::spawn(pinger(engine.clone(), id.to_string()));
    if let Some(old) = engine.host_pool().pingers.lock().unwrap().insert(id.to_string(), task) {
        old.abort();
    }
}

async fn pinger(engine: Engine, id: String) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = async {
            let docker = engine.docker_for(Some(&id)).await?;
            hosts::ping(&docker, &engine.host_name(&id).await, PING_TIMEOUT).await
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

impl Engine {
    /// A Docker client for a host (None: the engine's default endpoint, the `local` host),
    /// connected and version-negotiated, reused across calls.
    pub async fn docker_for(&self, host_id: Option<&str>) -> Result<Docker> {
        let id = host_id.unwrap_or(LOCAL_ID);
        if let Some(d) = self.host_pool().clients.lock().unwrap().get(id) {
            return Ok(d.clone());
        }
        let host = hosts::get(self.store(), id).await?;
        let docker = hosts::connect(&host, &self.config().docker_host).await?;
        self.host_pool().clients.lock().unwrap().insert(id.to_string(), docker.clone());
        Ok(docker)
    }

    async fn host_name(&self, id: &str) -> String {
        hosts::find(self.store(), id).await.ok().flatten().map(|h| h.name).unwrap_or_else(|| id.to_string())
    }

    fn set_host_status(&self, id: &str, state: HostState, error: Option<String>, latency_ms: Option<f64>) {
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

    fn host_failed<T>(&self, id: &str, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            if e.code() == ErrorCode::HostUnreachable {
                self.host_lost(id, &e.to_api().message);
            }
        }
        result
    }

    fn forget_host(&self, id: &str) {
        let pool = self.host_pool();
        pool.clients.lock().unwrap().remove(id);
        pool.status.lock().unwrap().remove(id);
        self.routes().forget_host(id);
        if let Some(task) = pool.pingers.lock().unwrap().remove(id) {
            task.abort();
        }
    }

    pub async fn hosts(&self) -> Result<Vec<HostEntry>> {
        let list = hosts::list(self.store()).await?;
        let status = self.host_pool().status.lock().unwrap().clone();
        Ok(list.into_iter().map(|h| HostEntry { status: status.get(&h.id).cloned().unwrap_or_else(|| unknown(&h.id)), host: h }).collect())
    }

    pub async fn host(&self, id: &str) -> Result<HostEntry> {
        let host = hosts::get(self.store(), id).await?;
        let status = self.host_pool().status.lock().unwrap().get(id).cloned().unwrap_or_else(|| unknown(id));
        Ok(HostEntry { host, status })
    }

    pub async fn create_host(&self, input: HostInput) -> Result<Host> {
        let host = hosts::create(self.store(), input).await?;
        tracing::info!(host = %host.id, endpoint = %host.endpoint, "host added");
        watch(self, &host.id);
        self.emit(EngineEvent::HostsChanged);
        Ok(host)
    }

    pub async fn update_host(&self, id: &str, input: HostInput) -> Result<Host> {
        let host = hosts::update(self.store(), id, input).await?;
        self.forget_host(id);
        watch(self, id);
        self.emit(EngineEvent::HostsChanged);
        Ok(host)
    }

    pub async fn delete_host(&self, id: &str) -> Result<()> {
        hosts::delete(self.store(), id).await?;
        self.forget_host(id);
        self.emit(EngineEvent::HostsChanged);
        Ok(())
    }

    /// Connects afresh (not through the cached client) and reports what the host runs.
    pub async fn test_host(&self, id: &str) -> Result<HostTest> {
        let host = hosts::get(self.store(), id).await?;
        let result: Result<HostTest> = async {
            let docker = hosts::connect(&host, &self.config().docker_host).await?;
            let report = hosts::test(&host, &docker).await?;
            self.host_pool().clients.lock().unwrap().insert(id.to_string(), docker);
            Ok(report)
        }
        .await;
        match &result {
            Ok(t) => self.set_host_status(id, HostState::Reachable, None, Some(t.latency_ms)),
            Err(e) if matches!(e.code(), ErrorCode::HostUnreachable | ErrorCode::HostIncompatible) => self.host_lost(id, &e.to_api().message),
            Err(_) => {}
        }
        result
    }

    /// Adds every Docker context of this user (`~/.docker/contexts`) that is not a host yet.
    pub async fn import_docker_contexts(&self) -> Result<ContextImport> {
        let existing = hosts::list(self.store()).await?;
        let mut report = ContextImport { imported: Vec::new(), skipped: Vec::new() };
        for found in hosts::read_contexts() {
            let input = match found {
                Ok(i) => i,
                Err(e) => {
                    report.skipped.push(e);
                    continue;
                }
            };
            if let Some(h) = existing.iter().find(|h| h.endpoint == input.endpoint || h.name == input.name || h.id == crate::projects::slug(&input.name)) {
                report.skipped.push(format!("{}: already a host ({})", input.name, h.name));
                continue;
            }
            let name = input.name.clone();
            match hosts::create(self.store(), input).await {
                Ok(h) => {
                    watch(self, &h.id);
                    report.imported.push(h);
                }
                Err(e) => report.skipped.push(format!("{name}: {}", e.to_api().message)),
            }
        }
        if !report.imported.is_empty() {
            self.emit(EngineEvent::HostsChanged);
        }
        Ok(report)
    }

    async fn host_and_docker(&self, id: &str) -> Result<(String, Docker)> {
        let name = hosts::get(self.store(), id).await?.name;
        let docker = self.docker_for(Some(id)).await;
        Ok((name, self.host_failed(id, docker)?))
    }

    pub async fn containers(&self, host_id: &str) -> Result<Vec<ContainerGroup>> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let list = containers::list(&docker, &name).await;
        Ok(containers::group(self.host_failed(host_id, list)?))
    }

    pub async fn container(&self, host_id: &str, container: &str) -> Result<ContainerInfo> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let found = containers::inspect(&docker, &name, container).await;
        self.host_failed(host_id, found)
    }

    pub async fn container_action(&self, host_id: &str, container: &str, action: ContainerAction, grace_secs: Option<u32>, force: bool) -> Result<()> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        tracing::info!(host = host_id, container, ?action, "container action");
        let done = containers::act(&docker, &name, container, action, grace_secs, force).await;
        self.host_failed(host_id, done)
    }

    /// See [`containers::logs`].
    pub async fn container_logs(&self, host_id: &str, container: &str, tail: Option<u32>, follow: bool, out: mpsc::Sender<Vec<ContainerLogLine>>) -> Result<()> {
        let host = hosts::get(self.store(), host_id).await?;
        let done = containers::logs_on_own_thread(host, self.config().docker_host.clone(), container.to_string(), tail, follow, out).await;
        self.host_failed(host_id, done)
    }

    /// See [`containers::stats`].
    pub async fn container_stats(&self, host_id: &str, container: &str, samples: Option<u32>, out: mpsc::Sender<ContainerStats>) -> Result<()> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let done = containers::stats(&docker, &name, container, samples, out).await;
        self.host_failed(host_id, done)
    }

    /// See [`containers::events`].
    pub async fn host_events(&self, host_id: &str, out: mpsc::Sender<HostEvent>) -> Result<()> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let done = containers::events(&docker, host_id, &name, out).await;
        self.host_failed(host_id, done)
    }
}
