//! Promotions waiting for a click: a stage's source stage has a live release it does not run.

use crate::adapters::git::commits_between;
use crate::domain::environments::Refusal;
use crate::domain::events::EngineEvent;
use crate::domain::project::{stage_id, Project, Stage};
use crate::domain::release::PendingPromotion;
use crate::services::bus::{Events, Flag, Wake};
use crate::services::environments;
use crate::services::notify::Notifier;
use crate::store::releases::live;
use crate::store::{now_ms, Store};
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

    /// After `stage` got a live release: tell the UI, and start promotions that need no click:
    /// from this stage, and to stages that require it (their source's release may have been
    /// waiting for this one).
    pub(crate) async fn release_went_live(&self, project: &str, stage: &str) {
        self.events.emit(EngineEvent::ReleaseChanged { project_id: project.to_string(), stage: stage.to_string() });
        let Ok(p) = crate::store::projects::get(&self.store, project).await else { return };
        for s in p.stages.iter().filter(|s| s.promote_from.as_deref() == Some(stage)) {
            if !self.automatic(s) {
                tracing::info!(project, from = stage, to = s.name, "promotion waits for a click");
                let source = live(&self.store, &stage_id(project, stage)).await.ok().flatten();
                let current = live(&self.store, &stage_id(project, &s.name)).await.ok().flatten();
                let from = current.map(|r| format!("{} #{}", s.name, r.number)).unwrap_or_else(|| format!("nothing on {}", s.name));
                let to = source.map(|r| format!("{stage} #{}", r.number)).unwrap_or_default();
                self.notifier.notify_promotion_pending(project, &s.name, from, to).await;
                continue;
            }
            self.promote_when_admitted(&p, s, None).await;
        }
        let waiting = |s: &&Stage| s.promote_from.as_deref().is_some_and(|f| f != stage) && s.requires.iter().any(|r| r == stage);
        for s in p.stages.iter().filter(waiting).filter(|s| self.automatic(s)) {
            self.promote_when_admitted(&p, s, None).await;
        }
    }

    /// Whether promotions to `to` go without a click now.
    fn automatic(&self, to: &Stage) -> bool {
        !to.confirm && to.auto_deploy && !self.paused.get()
    }

    /// Starts the automatic promotion to `to` of its source stage's live release, when the
    /// environment rules let it. When only a soak holds it, it tries again once the soak is
    /// over. Nothing goes when the stage is pinned, when the source no longer serves the
    /// release a retry was for (`expected`), or when that release was sent to the stage before
    /// (it runs there, or a run for it is queued, ran or failed: it is tried once).
    async fn promote_when_admitted(&self, p: &Project, to: &Stage, expected: Option<i64>) {
        let Some(from) = to.promote_from.as_deref() else { return };
        let Ok(Some(source)) = live(&self.store, &stage_id(&p.id, from)).await else { return };
        let sid = stage_id(&p.id, &to.name);
        if expected.is_some_and(|id| id != source.id) || !self.automatic(to) {
            return;
        }
        match (
            crate::store::pins::get(&self.store, &sid).await,
            crate::store::environments::release_sent(&self.store, &sid, source.id).await,
        ) {
            (Ok(None), Ok(false)) => {}
            (Ok(Some(pin)), _) => return tracing::info!(project = p.id, to = to.name, "no automatic promotion: {}", pin.refusal(&to.name)),
            _ => return,
        }
        let admitted = match environments::release_carrier(&self.store, &source).await {
            Ok((carrier, commit)) => environments::check(&self.store, p, to, &carrier, &commit).await,
            Err(e) => Err(e),
        };
        match admitted {
            Ok(Ok(())) => match crate::store::releases::enqueue_promote(&self.store, p, &to.name).await {
                Ok((id, _)) => self.queued(id),
                Err(e) => tracing::warn!("automatic promotion {}/{from} → {} failed: {e}", p.id, to.name),
            },
            Ok(Err(Refusal { reason, ready_at: Some(at) })) => {
                tracing::info!(project = p.id, from, to = to.name, "automatic promotion waits: {reason}");
                let (me, project, stage, release) = (self.clone(), p.id.clone(), to.name.clone(), source.id);
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis((at - now_ms()).max(0) as u64 + 50)).await;
                    me.retry(&project, &stage, release).await;
                });
            }
            Ok(Err(r)) => tracing::warn!(project = p.id, from, to = to.name, "automatic promotion refused: {}", r.reason),
            Err(e) => tracing::warn!("automatic promotion {}/{from} → {}: {e}", p.id, to.name),
        }
    }

    /// A soak is over: promote `release` on, as [`Self::promote_when_admitted`] decides with
    /// the project as it is now. (Boxed: the two call each other through a spawned task.)
    fn retry<'a>(
        &'a self,
        project: &'a str,
        stage: &'a str,
        release: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let Ok(p) = crate::store::projects::get(&self.store, project).await else { return };
            let Some(to) = p.stages.iter().find(|s| s.name == stage) else { return };
            self.promote_when_admitted(&p, to, Some(release)).await;
        })
    }

    /// At start: automatic promotions held by a soak, whose timers did not outlive the process,
    /// wait again, or go now if the soak ended while the engine was down.
    pub async fn resume_soaking(&self) {
        let Ok(projects) = crate::store::projects::list(&self.store).await else { return };
        for p in projects.iter().filter(|p| crate::domain::environments::gated(p)) {
            for to in p.stages.iter().filter(|s| s.promote_from.is_some() && s.soak_secs > 0) {
                let from = to.promote_from.as_deref().unwrap_or_default();
                let Ok(Some(source)) = live(&self.store, &stage_id(&p.id, from)).await else { continue };
                self.retry(&p.id, &to.name, source.id).await;
            }
        }
    }
}
