//! Pins: a stage held at a release takes no automatic deploy; a person's deploy or promote to it
//! asks for a confirmation that says so (and unpins it); unpinning deploys nothing but offers the
//! newest commit of the stage's branch.

use crate::domain::events::EngineEvent;
use crate::domain::project::{stage_id, Project};
use crate::domain::watch::{Incident, Offer, Pin, Unpinned};
use crate::engine::Engine;
use crate::{Error, ErrorCode, Result};

impl Engine {
    /// Pins `stage` at its live release ("pinned by hand").
    pub async fn pin_stage(&self, project: &str, stage: &str) -> Result<Pin> {
        let p = self.project(project).await?;
        let sid = stage_of(&p, stage)?;
        let live = crate::store::releases::live(self.store(), &sid)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("stage {stage} has no live release to pin")))?;
        let pin = crate::store::pins::set(self.store(), &sid, live.number, "hand", false).await?;
        tracing::info!(project, stage, release = live.number, "stage pinned by hand");
        self.emit(EngineEvent::ProjectsChanged);
        Ok(pin)
    }

    /// Unpins `stage`, and says what the next deploy could be: the head of its branch when the
    /// stage follows one branch and the live release runs another commit.
    pub async fn unpin_stage(&self, project: &str, stage: &str) -> Result<Unpinned> {
        let p = self.project(project).await?;
        let sid = stage_of(&p, stage)?;
        let was = crate::store::pins::clear(self.store(), &sid).await?;
        tracing::info!(project, stage, was = ?was.map(|p| p.release), "stage unpinned");
        self.emit(EngineEvent::ProjectsChanged);
        let offer = self.newest_for(&p, stage).await;
        Ok(Unpinned { project_id: p.id, stage: stage.to_string(), offer })
    }

    async fn newest_for(&self, p: &Project, stage: &str) -> Option<Offer> {
        let s = p.stages.iter().find(|s| s.name == stage)?;
        let [branch] = s.branch_patterns.as_slice() else { return None };
        if branch.contains(['*', '?', '[']) {
            return None;
        }
        let refs = self.remote_refs(p).await.map_err(|e| tracing::warn!("unpinned {}/{stage}: could not list the refs: {e}", p.id)).ok()?;
        let (git_ref, commit) = crate::adapters::git::resolve(&refs, branch)?;
        let live = crate::store::releases::live(self.store(), &stage_id(&p.id, stage)).await.ok()?;
        (live.and_then(|l| l.commit_sha).as_deref() != Some(commit.as_str())).then_some(Offer { git_ref, commit })
    }

    /// A person's deploy or promote to `stage`: refused while it is pinned unless `confirmed`;
    /// confirmed, the pin goes (the person acted).
    pub(crate) async fn pass_pin(&self, project: &str, stage: &str, confirmed: bool, what: &str) -> Result<()> {
        let sid = stage_id(project, stage);
        let Some(pin) = crate::store::pins::get(self.store(), &sid).await? else { return Ok(()) };
        if !confirmed {
            return Err(Error::new(
                ErrorCode::ConfirmationRequired,
                format!(
                    "stage {stage} is pinned at release {} by {}: {what} there needs a confirmation, and unpins it",
                    pin.release, pin.reason
                ),
            ));
        }
        crate::store::pins::clear(self.store(), &sid).await?;
        tracing::info!(project, stage, "stage unpinned by a confirmed {what}");
        Ok(())
    }

    /// The health watch's latest word on stage `sid`.
    pub fn live_health(&self, sid: &str) -> Option<crate::domain::watch::LiveHealth> {
        self.inner.watch.health(sid)
    }

    pub async fn incidents(&self, project: &str) -> Result<Vec<Incident>> {
        let p = self.project(project).await?;
        let since = crate::store::now_ms() - crate::domain::metrics::WINDOW_DAYS * crate::domain::metrics::DAY_MS;
        let mut out = Vec::new();
        for s in &p.stages {
            out.extend(crate::store::incidents::since(self.store(), &stage_id(&p.id, &s.name), since).await?);
        }
        out.sort_by_key(|i| i.started_at);
        Ok(out)
    }
}

fn stage_of(p: &Project, stage: &str) -> Result<String> {
    if !p.stages.iter().any(|s| s.name == stage) {
        return Err(Error::new(ErrorCode::NotFound, format!("project {} has no stage {stage:?}", p.id)));
    }
    Ok(stage_id(&p.id, stage))
}
