//! The engine's deploy operations, as the API, the window and the tray call them.

use crate::domain::events::{EngineEvent, PromoteTarget};
use crate::domain::notice_action::{previous_of, NoticeAction};
use crate::domain::release::{PendingPromotion, Release};
use crate::engine::Engine;
use crate::{Error, ErrorCode, Result};
use slipway_protocol::ops::NoticeRollback;

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
        if let Some(source) = match &s.promote_from {
            Some(from) => crate::store::releases::live(self.store(), &crate::domain::project::stage_id(project, from)).await?,
            None => None,
        } {
            let (carrier, commit) = crate::services::environments::release_carrier(self.store(), &source).await?;
            crate::services::environments::require(self.store(), &p, s, &carrier, &commit).await?;
        }
        self.pass_pin(project, stage, confirmed, "promoting").await?;
        let (id, from) = crate::store::releases::enqueue_promote(self.store(), &p, stage).await?;
        tracing::info!(run = id, project, stage, from = from.number, "promotion queued");
        self.queued(id);
        Ok(id)
    }

    /// Every project's environments, with what each serves and what is on its way there.
    pub async fn environments(&self) -> Result<Vec<crate::domain::environments::ProjectEnvironments>> {
        let projects = self.projects().await?;
        let pending = crate::services::deploy::promotions::pending(self.store(), &projects, &self.config().data_dir).await?;
        crate::services::environments::view(self.store(), &projects, &pending, |sid| self.live_health(sid)).await
    }

    pub async fn project_plugins(&self, project: &str) -> Result<Vec<crate::domain::plugins::PluginSummary>> {
        self.project(project).await?;
        crate::store::plugins::summaries(self.store(), project).await
    }

    pub async fn plugin_data(&self, project: &str, plugin: &str, limit: u32) -> Result<Vec<crate::domain::plugins::PluginRecord>> {
        self.project(project).await?;
        crate::store::plugins::of_plugin(self.store(), project, plugin, limit.clamp(1, 1000)).await
    }

    pub async fn templates(&self) -> Result<Vec<crate::domain::templates::TemplateInfo>> {
        Ok(crate::store::templates::list(self.store()).await?.iter().map(|t| t.info()).collect())
    }

    pub async fn import_template(&self, yaml: &str) -> Result<crate::domain::templates::TemplateInfo> {
        let t = crate::store::templates::import(self.store(), yaml).await?;
        tracing::info!(template = t.file.name, version = t.version, "template imported");
        Ok(t.info())
    }

    pub async fn export_template(&self, name: &str) -> Result<String> {
        let t = crate::store::templates::find(self.store(), name).await?;
        t.map(|t| t.body).ok_or_else(|| Error::new(ErrorCode::NotFound, format!("there is no template {name:?}")))
    }

    pub async fn delete_template(&self, name: &str) -> Result<()> {
        crate::store::templates::delete(self.store(), name).await
    }

    /// Promotions waiting for an operator, across all projects.
    pub async fn pending_promotions(&self) -> Result<Vec<PendingPromotion>> {
        let projects = self.projects().await?;
        crate::services::deploy::promotions::pending(self.store(), &projects, &self.config().data_dir).await
    }

    /// A notification's "Roll back", for the local notifications and a remote tray's alike: to
    /// the previous release, or nothing on a stage that asks for confirmations (`confirm: true`),
    /// where the console opens the run in the window instead, so a protected stage is never
    /// changed from a notification alone.
    pub async fn rollback_from_notice(&self, project: &str, stage: &str) -> Result<NoticeRollback> {
        let p = self.project(project).await?;
        if p.stages.iter().any(|s| s.name == stage && s.confirm) {
            return Ok(NoticeRollback::NeedsConfirmation);
        }
        let releases = self.releases(project, stage).await?;
        let number = previous_of(&releases)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("{project}/{stage} has no earlier release kept to roll back to")))?;
        Ok(NoticeRollback::Started { run_id: self.rollback(project, stage, number).await? })
    }

    /// Carries out what desktop notifications' buttons ask for, until the engine stops.
    pub(crate) async fn answer_notice_actions(self, mut asked: tokio::sync::mpsc::UnboundedReceiver<NoticeAction>) {
        while let Some(action) = asked.recv().await {
            match action {
                NoticeAction::RollBack { project, stage, run } => match self.rollback_from_notice(&project, &stage).await {
                    Ok(NoticeRollback::NeedsConfirmation) => {
                        tracing::info!(
                            project,
                            stage,
                            "rollback from a notification on a stage that asks for confirmation: opening the window"
                        );
                        self.emit(EngineEvent::ShowWindow { run_id: run, promote: None });
                    }
                    Ok(NoticeRollback::Started { run_id: id }) => {
                        let actor = slipway_protocol::client::console_actor("notification");
                        let target = format!("/projects/{project}/stages/{stage}/rollback");
                        if let Err(e) =
                            crate::store::history::record(self.store(), &actor, "rollback", &target, Some(&project), Some(id)).await
                        {
                            tracing::warn!("cannot record the rollback in the history: {e}");
                        }
                        tracing::info!(run = id, project, stage, "rollback asked from a desktop notification");
                    }
                    Err(e) => tracing::error!(project, stage, "the notification's rollback: {e}"),
                },
                NoticeAction::ReviewPromote { project, stage } => {
                    self.emit(EngineEvent::ShowWindow { run_id: None, promote: Some(PromoteTarget { project_id: project, stage }) })
                }
                NoticeAction::Open { .. } => self.emit(EngineEvent::ShowWindow { run_id: None, promote: None }),
                NoticeAction::OpenRun(run_id) => self.emit(EngineEvent::OpenRun { run_id }),
            }
        }
    }
}
