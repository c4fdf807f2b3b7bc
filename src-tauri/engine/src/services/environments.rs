//! The environment rules applied where a commit is about to go somewhere by hand or by
//! promotion (the intake applies them inside its own transaction), and the environments view.

use crate::domain::environments::{
    describe, rules_of, Carrier, Environment, EnvironmentKind, LiveRelease, ProjectEnvironments, Refusal, WaitState, Waiting,
};
use crate::domain::project::{stage_id, Project, Stage};
use crate::domain::release::{PendingPromotion, Release};
use crate::domain::run::RunStatus;
use crate::domain::watch::LiveHealth;
use crate::store::Store;
use crate::{Error, ErrorCode, Result};

/// Whether `commit`, carried by `carrier`, may reach `stage` now: Ok(Err(refusal)) when the
/// rules hold it back.
pub async fn check(store: &Store, project: &Project, stage: &Stage, carrier: &Carrier, commit: &str) -> Result<Result<(), Refusal>> {
    crate::store::environments::admit_now(store.pool(), project, stage, carrier, commit).await
}

/// What a release stands for when it moves on: its commit (or, for a registry image, the
/// image), and the ref its run was started for.
pub async fn release_carrier(store: &Store, release: &Release) -> Result<(Carrier, String)> {
    let git_ref = crate::store::environments::run_ref(store, release.run_id).await?;
    let commit = release.commit_sha.clone().unwrap_or_else(|| release.image.clone());
    Ok((Carrier::from_ref(git_ref.as_deref()), commit))
}

/// [`check`] as the API answers it: a `refused` error with the reason.
pub async fn require(store: &Store, project: &Project, stage: &Stage, carrier: &Carrier, commit: &str) -> Result<()> {
    check(store, project, stage, carrier, commit).await?.map_err(|r| {
        let when =
            r.ready_at.map(|t| format!("; it may go in {} s", ((t - crate::store::now_ms()).max(0) + 999) / 1000)).unwrap_or_default();
        Error::new(ErrorCode::Refused, format!("{}{when}", r.reason))
    })
}

/// Every project's environments: kind, group, predecessors, the rules that speak of each, what
/// it serves and how that answers (`health`, by stage id), and what is on its way there.
pub async fn view(
    store: &Store,
    projects: &[Project],
    pending: &[PendingPromotion],
    health: impl Fn(&str) -> Option<LiveHealth>,
) -> Result<Vec<ProjectEnvironments>> {
    let runs = crate::store::runs::unfinished(store).await?;
    let mut out = Vec::with_capacity(projects.len());
    for p in projects {
        let mut environments = Vec::with_capacity(p.stages.len());
        for s in &p.stages {
            let sid = stage_id(&p.id, &s.name);
            let live = crate::store::releases::live(store, &sid).await?;
            let mut waiting: Vec<Waiting> = runs
                .iter()
                .filter(|r| r.project_id == p.id && r.stage == s.name)
                .map(|r| {
                    let commit = r.commit_sha.clone().unwrap_or_default();
                    Waiting {
                        what: Carrier::from_ref(r.ref_name.as_deref()).label(&commit),
                        commit_sha: r.commit_sha.clone(),
                        from_stage: None,
                        run_id: Some(r.id),
                        state: if r.status == RunStatus::Running { WaitState::Running } else { WaitState::Queued },
                    }
                })
                .collect();
            if let Some(offer) = pending.iter().find(|o| o.project_id == p.id && o.stage == s.name) {
                waiting.push(offered(store, p, s, offer).await?);
            }
            environments.push(Environment {
                stage: s.name.clone(),
                kind: EnvironmentKind::of(s),
                group: s.group.clone(),
                requires: s.requires.clone(),
                promote_from: s.promote_from.clone(),
                soak_secs: s.soak_secs,
                rules: rules_of(p, s),
                live: live.map(|r| LiveRelease { number: r.number, commit_sha: r.commit_sha, since: r.created_at }),
                health: health(&sid),
                waiting,
            });
        }
        let rules = p.rules.iter().enumerate().map(|(i, r)| format!("rule {}: {}", i + 1, describe(r))).collect();
        out.push(ProjectEnvironments { project_id: p.id.clone(), project: p.name.clone(), environments, rules });
    }
    Ok(out)
}

/// The release a source stage offers `stage`, with what holds it back.
async fn offered(store: &Store, p: &Project, s: &Stage, offer: &PendingPromotion) -> Result<Waiting> {
    let (carrier, commit) = release_carrier(store, &offer.from_release).await?;
    let state = match check(store, p, s, &carrier, &commit).await? {
        Ok(()) => WaitState::Ready,
        Err(Refusal { ready_at: Some(ready_at), .. }) => WaitState::Soaking { ready_at },
        Err(Refusal { reason, .. }) => WaitState::Refused { reason },
    };
    Ok(Waiting {
        what: carrier.label(&commit),
        commit_sha: offer.from_release.commit_sha.clone(),
        from_stage: Some(offer.from_stage.clone()),
        run_id: None,
        state,
    })
}
