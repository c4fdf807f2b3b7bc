//! The host operations the UI and the API call: hosts, their containers, logs, stats, events.

use tokio::sync::mpsc;

use crate::adapters::docker::containers::{
    self, ContainerAction, ContainerGroup, ContainerInfo, ContainerLogLine, ContainerStats, HostEvent,
};
use crate::domain::events::EngineEvent;
use crate::domain::host::HostEntry;
use crate::domain::host::HostState;
use crate::domain::host::{ContextImport, Host, HostInput, HostTest};
use crate::engine::Engine;
use crate::services::hosts::unknown;
use crate::{ErrorCode, Result};
use bollard::Docker;

impl Engine {
    pub async fn hosts(&self) -> Result<Vec<HostEntry>> {
        let list = crate::store::hosts::list(self.store()).await?;
        let status = self.host_pool().statuses();
        Ok(list.into_iter().map(|h| HostEntry { status: status.get(&h.id).cloned().unwrap_or_else(|| unknown(&h.id)), host: h }).collect())
    }

    pub async fn host(&self, id: &str) -> Result<HostEntry> {
        let host = crate::store::hosts::get(self.store(), id).await?;
        let status = self.host_pool().statuses().get(id).cloned().unwrap_or_else(|| unknown(id));
        Ok(HostEntry { host, status })
    }

    pub async fn create_host(&self, input: HostInput) -> Result<Host> {
        let host = crate::store::hosts::create(self.store(), input).await?;
        tracing::info!(host = %host.id, endpoint = %host.endpoint, "host added");
        self.host_pool().watch(&host.id);
        self.emit(EngineEvent::HostsChanged);
        Ok(host)
    }

    pub async fn update_host(&self, id: &str, input: HostInput) -> Result<Host> {
        let host = crate::store::hosts::update(self.store(), id, input).await?;
        self.host_pool().forget_host(id);
        self.host_pool().watch(id);
        self.emit(EngineEvent::HostsChanged);
        Ok(host)
    }

    pub async fn delete_host(&self, id: &str) -> Result<()> {
        crate::store::hosts::delete(self.store(), id).await?;
        self.host_pool().forget_host(id);
        self.emit(EngineEvent::HostsChanged);
        Ok(())
    }

    /// Connects afresh (not through the cached client) and reports what the host runs.
    pub async fn test_host(&self, id: &str) -> Result<HostTest> {
        let host = crate::store::hosts::get(self.store(), id).await?;
        let result: Result<HostTest> = async {
            let docker = crate::adapters::docker::hosts::connect(&host, &self.config().docker_host).await?;
            let report = crate::adapters::docker::hosts::test(&host, &docker).await?;
            self.host_pool().keep_client(id, docker);
            Ok(report)
        }
        .await;
        match &result {
            Ok(t) => self.host_pool().set_host_status(id, HostState::Reachable, None, Some(t.latency_ms)),
            Err(e) if matches!(e.code(), ErrorCode::HostUnreachable | ErrorCode::HostIncompatible) => {
                self.host_pool().host_lost(id, &e.to_api().message)
            }
            Err(_) => {}
        }
        result
    }

    /// Adds every Docker context of this user (`~/.docker/contexts`) that is not a host yet.
    pub async fn import_docker_contexts(&self) -> Result<ContextImport> {
        let existing = crate::store::hosts::list(self.store()).await?;
        let mut report = ContextImport { imported: Vec::new(), skipped: Vec::new() };
        for found in crate::adapters::docker::hosts::read_contexts() {
            let input = match found {
                Ok(i) => i,
                Err(e) => {
                    report.skipped.push(e);
                    continue;
                }
            };
            if let Some(h) = existing
                .iter()
                .find(|h| h.endpoint == input.endpoint || h.name == input.name || h.id == crate::domain::project::slug(&input.name))
            {
                report.skipped.push(format!("{}: already a host ({})", input.name, h.name));
                continue;
            }
            let name = input.name.clone();
            match crate::store::hosts::create(self.store(), input).await {
                Ok(h) => {
                    self.host_pool().watch(&h.id);
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
        let name = crate::store::hosts::get(self.store(), id).await?.name;
        let docker = self.host_pool().docker_for(Some(id)).await;
        Ok((name, self.host_pool().host_failed(id, docker)?))
    }

    pub async fn containers(&self, host_id: &str) -> Result<Vec<ContainerGroup>> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let list = containers::list(&docker, &name).await;
        Ok(containers::group(self.host_pool().host_failed(host_id, list)?))
    }

    pub async fn container(&self, host_id: &str, container: &str) -> Result<ContainerInfo> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let found = containers::inspect(&docker, &name, container).await;
        self.host_pool().host_failed(host_id, found)
    }

    pub async fn container_action(
        &self,
        host_id: &str,
        container: &str,
        action: ContainerAction,
        grace_secs: Option<u32>,
        force: bool,
    ) -> Result<()> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        tracing::info!(host = host_id, container, ?action, "container action");
        let done = containers::act(&docker, &name, container, action, grace_secs, force).await;
        self.host_pool().host_failed(host_id, done)
    }

    /// See [`containers::logs`].
    pub async fn container_logs(
        &self,
        host_id: &str,
        container: &str,
        tail: Option<u32>,
        follow: bool,
        out: mpsc::Sender<Vec<ContainerLogLine>>,
    ) -> Result<()> {
        let host = crate::store::hosts::get(self.store(), host_id).await?;
        let done = containers::logs_on_own_thread(host, self.config().docker_host.clone(), container.to_string(), tail, follow, out).await;
        self.host_pool().host_failed(host_id, done)
    }

    /// See [`containers::stats`].
    pub async fn container_stats(
        &self,
        host_id: &str,
        container: &str,
        samples: Option<u32>,
        out: mpsc::Sender<ContainerStats>,
    ) -> Result<()> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let done = containers::stats(&docker, &name, container, samples, out).await;
        self.host_pool().host_failed(host_id, done)
    }

    /// See [`containers::events`].
    pub async fn host_events(&self, host_id: &str, out: mpsc::Sender<HostEvent>) -> Result<()> {
        let (name, docker) = self.host_and_docker(host_id).await?;
        let done = containers::events(&docker, host_id, &name, out).await;
        self.host_pool().host_failed(host_id, done)
    }
}
