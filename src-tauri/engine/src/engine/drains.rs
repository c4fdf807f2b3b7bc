//! Draining a host out of a stage's rotation for maintenance (see [`Drain`]).

use crate::domain::events::EngineEvent;
use crate::domain::host::Drain;
use crate::domain::project::stage_id;
use crate::domain::target::DeployTarget;
use crate::engine::Engine;
use crate::{Error, ErrorCode, Result};

impl Engine {
    /// Drains `host` out of `stage`'s rotation, or puts it back. The store keeps the operator's
    /// word even when the host does not answer now: its edge gets it when it does (every reload
    /// applies the drains).
    pub async fn set_drain(&self, project: &str, stage: &str, host: &str, drained: bool) -> Result<Vec<Drain>> {
        let p = self.project(project).await?;
        let Some(s) = p.stages.iter().find(|s| s.name == stage) else {
            return Err(Error::new(ErrorCode::NotFound, format!("project {project} has no stage {stage:?}")));
        };
        let hosts = DeployTarget::of(&p, s).hosts();
        // Putting a host back is allowed whatever the stage names now (it may have been
        // taken out of the stage while drained).
        if drained && !hosts.iter().any(|h| h == host) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("host: {stage} runs on {}; {host:?} is not one of its hosts", hosts.join(", ")),
            ));
        }
        let sid = stage_id(&p.id, stage);
        crate::store::drains::set(self.store(), &sid, host, drained).await?;
        tracing::info!(project, stage, host, drained, "drain");
        self.emit(EngineEvent::ProjectsChanged);
        let kit = &self.inner.runner.kit;
        // Marked first: whenever this host's edge is reloaded next, it says so.
        kit.routes().mark_drained(host, &sid, drained);
        let applied = match kit.docker_on(host).await {
            Ok(docker) => kit.routes().drain(&kit.routes().edge(&docker, kit.instance_id(), host), &sid, drained).await,
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            return Err(Error::new(
                ErrorCode::HostUnreachable,
                format!("recorded, but the edge on {host} could not take it now ({e}); it will when the host answers"),
            ));
        }
        self.drains().await
    }

    pub async fn drains(&self) -> Result<Vec<Drain>> {
        Ok(crate::store::drains::list(self.store()).await?.into_iter().map(|(_, d)| d).collect())
    }
}
