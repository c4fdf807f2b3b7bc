//! Promotions waiting for a click: a stage's source stage has a live release it does not run.

use crate::adapters::git::commits_between;
use crate::domain::events::EngineEvent;
use crate::domain::project::{stage_id, Project};
use crate::domain::release::PendingPromotion;
use crate::services::bus::{Events, Flag, Wake};
use crate::services::notify::Notifier;
use crate::store::releases::live;
use crate::store::Store;
use crate::Result;

/// Promotions an operator could confirm now, over every project.
pub async fn pending(store: &Store, projects: &[Project], data_dir: &std::path::Path) -> Result<Vec<PendingPromotion>> {
    let mut out = Vec::new();
    for p in projects {
        for s in &p.stages {
            let Some(from) = &s.promote_from else { continue };
            let Some(src) = live(store, &stage_id(&p.id, from)).await? else { continue };
            let current = live(store, &stage_id(&p.id, &s.name)).await?;
            if current.as_ref().is_some_and(|c| c.image == src.image) {
                continue;
            }
            let commits = match (&src.commit_sha, current.as_ref().and_then(|c| c.commit_sha.clone())) {
                (Some(new), old) => commits_between(&crate::adapters::git::cache_dir(data_dir, &p.id), new, old.as_deref()),
                _ => vec![],
            };
            out.push(PendingPromotion {
                project_id: p.id.clone(),
                stage: s.name.clone(),
                from_stage: from.clone(),
                from_release: src,
                current,
                commits,
            });
        }
    }
    Ok(out)
}

/// Starting promotions, a cheap handle: the store, the events, the runner's wake-up, the
/// auto-deploy switch and the notifier (a promotion that waits for a click is announced).
#[derive(Clone)]
pub struct Promotions {
    pub store: Store,
    pub events: Events,
    pub wake: Wake,
    pub paused: Flag,
    pub notifier: Notifier,
}

impl Promotions {
    /// Run `run` was queued: tell the UI and wake the runner.
    pub(crate) fn queued(&self, run: i64) {
        self.events.emit(EngineEvent::RunChanged { run_id: run });
        self.wake.wake();
    }

    /// After `stage` got a live release: tell the UI, and start promotions that need no click.
    pub(crate) async fn release_went_live(&self, project: &str, stage: &str) {
        self.events.emit(EngineEvent::ReleaseChanged { project_id: project.to_string(), stage: stage.to_string() });
        let Ok(p) = crate::store::projects::get(&self.store, project).await else { return };
        for s in p.stages.iter().filter(|s| s.promote_from.as_deref() == Some(stage)) {
            if s.confirm || !s.auto_deploy || self.paused.get() {
                tracing::info!(project, from = stage, to = s.name, "promotion waits for a click");
                let source = live(&self.store, &stage_id(project, stage)).await.ok().flatten();
                let current = live(&self.store, &stage_id(project, &s.name)).await.ok().flatten();
                let from = current.map(|r| format!("{} #{}", s.name, r.number)).unwrap_or_else(|| format!("nothing on {}", s.name));
                let to = source.map(|r| format!("{stage} #{}", r.number)).unwrap_or_default();
                self.notifier.notify_promotion_pending(project, &s.name, from, to).await;
                continue;
            }
            match crate::store::releases::enqueue_promote(&self.store, &p, &s.name).await {
                Ok((id, _)) => self.queued(id),
                Err(e) => tracing::warn!("automatic promotion {project}/{stage} → {} failed: {e}", s.name),
            }
        }
    }
}
