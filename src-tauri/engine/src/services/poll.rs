//! Polling fallback: `git ls-remote` (through libgit2) on a timer and at start, so pushes made
//! while the laptop slept, or to forges that cannot reach this machine, still deploy. What it
//! finds goes through the same intake as webhooks, so seeing a push twice deploys it once.
//!
//! Must not depend on other services but bus and intake.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::adapters::git::ls_remote;
use crate::adapters::keychain;
use crate::adapters::registry::{split_repo, Registry};
use crate::domain::project::Project;
use crate::domain::run::{Change, ChangeKind, Source, Trigger};
use crate::services::bus::Shutdown;
use crate::services::intake::Intake;
use crate::store::Store;
use crate::store::{now_ms, poll_state};
use crate::{Error, ErrorCode, Result};

/// The poller, a cheap handle: the store (projects, what the last poll saw), the intake and
/// the shutdown.
#[derive(Clone)]
pub struct Poller {
    pub store: Store,
    pub intake: Intake,
    pub shutdown: Shutdown,
}

impl Poller {
    /// Polls one project: compares the remote's refs with what the last poll saw, and hands any
    /// moved ref to the intake. The first poll of a project only records where things stand.
    pub async fn poll_project(&self, project: &Project) -> Result<()> {
        let creds = crate::services::git_credentials(&self.store, project).await?;
        let (url, forge) = (project.repo_url.clone(), project.forge);
        let remote = tokio::task::spawn_blocking(move || ls_remote(&url, forge, creds.as_ref()))
            .await
            .map_err(|e| Error::new(ErrorCode::Internal, format!("poll task failed: {e}")))?;
        let remote = match remote {
            Ok(r) => r,
            Err(e) => {
                crate::store::projects::set_poll_result(&self.store, &project.id, Some(&e.to_string())).await?;
                return Err(e);
            }
        };
        let store = &self.store;
        let known = poll_state::git_refs(store, &project.id).await?;
        let first_poll = known.is_empty();
        let mut changes: Vec<Change> = remote
            .iter()
            .filter(|(name, commit)| known.get(*name) != Some(*commit))
            .map(|(name, commit)| Change {
                kind: if name.starts_with("refs/tags/") { ChangeKind::Tag } else { ChangeKind::Branch },
                git_ref: Some(name.clone()),
                commit: Some(commit.clone()),
                target_branch: None,
                image: None,
            })
            .collect();
        changes.sort_by(|a, b| a.git_ref.cmp(&b.git_ref));
        if !first_poll && !changes.is_empty() {
            let source = Source {
                provider: "poll".into(),
                event: "ls-remote".into(),
                delivery_id: None,
                received_at: now_ms(),
                started: Some(Instant::now()),
            };
            let verdict = self.intake.accept_changes(std::sync::Arc::new(project.clone()), changes, Trigger::Poll, source).await?;
            tracing::info!(project = %project.id, outcome = ?verdict.outcome, runs = ?verdict.run_ids, "poll: {}", verdict.reason);
        }
        poll_state::replace_git_refs(store, &project.id, &remote).await?;
        crate::store::projects::set_poll_result(store, &project.id, None).await?;
        Ok(())
    }

    /// Runs until the engine stops: every second, polls the projects whose interval has passed.
    /// Every project is due at start, which is how pushes made while Slipway was off are found.
    pub async fn run(self) {
        let mut last: HashMap<String, Instant> = HashMap::new();
        loop {
            if self.shutdown.sleep_or_stop(Duration::from_secs(1)).await {
                return;
            }
            let Ok(list) = crate::store::projects::list(&self.store).await else { continue };
            for project in list {
                let Some(every) = project.poll_interval_secs else { continue };
                let due = last.get(&project.id).is_none_or(|t| t.elapsed() >= Duration::from_secs(every.into()));
                if !due {
                    continue;
                }
                last.insert(project.id.clone(), Instant::now());
                // A project that deploys prebuilt images watches its registry, not its git remote.
                if project.image_repo.is_none() {
                    if let Err(e) = self.poll_project(&project).await {
                        tracing::warn!(project = %project.id, "poll failed: {e}");
                    }
                }
                if project.image_repo.is_some() {
                    if let Err(e) = self.poll_registry(&project).await {
                        tracing::warn!(project = %project.id, "registry poll failed: {e}");
                        let _ = crate::store::projects::set_poll_result(&self.store, &project.id, Some(&e.to_string())).await;
                    }
                }
            }
        }
    }

    /// Looks at the project's image repository: tags that appeared or moved since the last look go
    /// to the intake (matched against each stage's tag patterns). The first look only records.
    pub async fn poll_registry(&self, project: &Project) -> Result<()> {
        let Some(repo) = &project.image_repo else { return Ok(()) };
        let (base, name) =
            split_repo(repo).ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("image_repo {repo:?} is not host/name")))?;
        let basic = match &project.registry_account {
            Some(a) => {
                keychain::get(&format!("registry:{a}")).await?.and_then(|v| v.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
            }
            None => None,
        };
        let mut reg = Registry::new(base, name, basic);
        let store = &self.store;
        let known = poll_state::registry_tags(store, &project.id).await?;
        // A marker row (empty tag) says the repository was looked at before: an empty repository's
        // first pushed tag must deploy, not become the baseline.
        let first_look = !known.contains_key("");
        let mut seen = HashMap::new();
        for tag in reg.tags().await? {
            let digest = reg.digest(&tag).await?;
            seen.insert(tag, digest);
        }
        let mut changes: Vec<Change> = seen
            .iter()
            .filter(|(t, d)| !t.is_empty() && known.get(*t) != Some(*d))
            .map(|(tag, digest)| Change {
                kind: ChangeKind::Image,
                git_ref: Some(format!("{repo}:{tag}")),
                commit: None,
                target_branch: None,
                image: Some((tag.clone(), digest.clone())),
            })
            .collect();
        changes.sort_by(|a, b| a.git_ref.cmp(&b.git_ref));
        if !first_look {
            for change in changes {
                // One inbox row per tag, so each says what became of that tag.
                let source = Source {
                    provider: "registry".into(),
                    event: "tag".into(),
                    delivery_id: None,
                    received_at: now_ms(),
                    started: Some(Instant::now()),
                };
                let verdict =
                    self.intake.accept_changes(std::sync::Arc::new(project.clone()), vec![change], Trigger::Registry, source).await?;
                tracing::info!(project = %project.id, outcome = ?verdict.outcome, "registry: {}", verdict.reason);
            }
        }
        seen.insert(String::new(), String::new());
        poll_state::replace_registry_tags(store, &project.id, &seen).await?;
        crate::store::projects::set_poll_result(store, &project.id, None).await?;
        Ok(())
    }
}
