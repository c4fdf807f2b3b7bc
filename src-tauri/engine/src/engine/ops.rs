//! The engine's deploy operations, as the API, the window and the tray call them.

use crate::domain::release::{PendingPromotion, Release};
use crate::engine::Engine;
use crate::{Error, ErrorCode, Result};

impl Engine {
    /// A stage's releases, newest first.
    pub async fn releases(&self, project: &str, stage: &str) -> Result<Vec<Release>> {
        let p = self.project(project).await?;
        if !p.stages.iter().any(|s| s.name == stage) {
            return Err(Error::new(ErrorCode::NotFound, format!("project {project} has no stage {stage:?}")));
        }
        crate::store::releases::list(self.store(), project, stage).await
    }

    /// Queues a run that puts release `number` of the stage back, exactly as it was.
    pub async fn rollback(&self, project: &str, stage: &str, number: i64) -> Result<i64> {
        let p = self.project(project).await?;
        let by = crate::store::releases::RollbackBy::Person;
        let id = crate::store::releases::enqueue_rollback(self.store(), &p, stage, number, by).await?;
        tracing::info!(run = id, project, stage, number, "rollback queued");
        self.queued(id);
        Ok(id)
    }

    /// Queues the promotion of the source stage's live release to `stage`. A stage with
    /// `confirm: true` needs `confirmed` (the operator's click in the confirm dialog).
    pub async fn promote(&self, project: &str, stage: &str, confirmed: bool) -> Result<i64> {
        let p = self.project(project).await?;
        let s = p
            .stages
            .iter()
            .find(|s| s.name == stage)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("project {project} has no stage {stage:?}")))?;
        if s.confirm && !confirmed {
            return Err(Error::new(
                ErrorCode::ConfirmationRequired,
                format!("promoting to {stage} needs a confirmation (the stage has confirm: true)"),
            ));
        }
        self.pass_pin(project, stage, confirmed, "promoting").await?;
        let (id, from) = crate::store::releases::enqueue_promote(self.store(), &p, stage).await?;
        tracing::info!(run = id, project, stage, from = from.number, "promotion queued");
        self.queued(id);
        Ok(id)
    }

    /// Promotions waiting for an operator, across all projects.
    pub async fn pending_promotions(&self) -> Result<Vec<PendingPromotion>> {
        let projects = self.projects().await?;
        crate::services::deploy::promotions::pending(self.store(), &projects, &self.config().data_dir).await
    }
}
