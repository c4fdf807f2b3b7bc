//! The engine's deploy operations, as the API, the window and the tray call them.

use crate::deploy::releases::{self, PendingPromotion, Release};
use crate::engine::EngineEvent;
use crate::{Engine, Error, ErrorCode, Result};

impl Engine {
    /// A stage's releases, newest first.
    pub async fn releases(&self, project: &str, stage: &str) -> Result<Vec<Release>> {
        let p = self.project(project).await?;
        if !p.stages.iter().any(|s| s.name == stage) {
            return Err(Error::new(ErrorCode::NotFound, format!("project {project} has no stage {stage:?}")));
        }
        releases::list(self.store(), project, stage).await
    }

    /// Queues a run that puts release `number` of the stage back, exactly as it was.
    pub async fn rollback(&self, project: &str, stage: &str, number: i64) -> Result<i64> {
        let p = self.project(project).await?;
        let id = releases::enqueue_rollback(self.store(), &p, stage, number).await?;
        tracing::info!(run = id, project, stage, number, "rollback queued");
        self.queued(id);
        Ok(id)
    }

    /// Queues the promotion of the source stage's live release to `stage`. A stage with
    /// `confirm: true` needs `confirmed` (the operator's click in the confirm dialog).
    pub async fn promote(&self, project: &str, stage: &str, confirmed: bool) -> Result<i64> {
        let p = self.project(project).await?;
        let s = p.stages.iter().find(|s| s.name == stage).ok_or_else(|| Error::new(ErrorCode::NotFound, format!("project {project} has no stage {stage:?}")))?;
        if s.confirm && !confirmed {
            return Err(Error::new(ErrorCode::ConfirmationRequired, format!("promoting to {stage} needs a confirmation (the stage has confirm: true)")));
        }
        let (id, from) = releases::enqueue_promote(self.store(), &p, stage).await?;
        tracing::info!(run = id, project, stage, from = from.number, "promotion queued");
        self.queued(id);
        Ok(id)
    }

    /// Promotions waiting for an operator, across all projects.
    pub async fn pending_promotions(&self) -> Result<Vec<PendingPromotion>> {
        let projects = self.projects().await?;
        releases::pending(self.store(), &projects, &self.config().data_dir).await
    }

    fn queued(&self, run: i64) {
        self.emit(EngineEvent::RunChanged { run_id: run });
        self.wake_runner();
    }

    /// After `stage` got a live release: tell the UI, and start promotions that need no click.
    pub(crate) async fn release_went_live(&self, project: &str, stage: &str) {
        self.emit(EngineEvent::ReleaseChanged { project_id: project.to_string(), stage: stage.to_string() });
        let Ok(p) = self.project(project).await else { return };
        for s in p.stages.iter().filter(|s| s.promote_from.as_deref() == Some(stage)) {
            if s.confirm || !s.auto_deploy || self.auto_deploy_paused() {
                tracing::info!(project, from = stage, to = s.name, "promotion waits for a click");
                let source = releases::live(self.store(), &crate::projects::stage_id(project, stage)).await.ok().flatten();
                let current = releases::live(self.store(), &crate::projects::stage_id(project, &s.name)).await.ok().flatten();
                let from = current.map(|r| format!("{} #{}", s.name, r.number)).unwrap_or_else(|| format!("nothing on {}", s.name));
                let to = source.map(|r| format!("{stage} #{}", r.number)).unwrap_or_default();
                crate::notify::notify_promotion_pending(self, project, &s.name, from, to).await;
                continue;
            }
            match releases::enqueue_promote(self.store(), &p, &s.name).await {
                Ok((id, _)) => self.queued(id),
                Err(e) => tracing::warn!("automatic promotion {project}/{stage} → {} failed: {e}", s.name),
            }
        }
    }
}
