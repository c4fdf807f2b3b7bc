//! Polling fallback: `git ls-remote` (through libgit2) on a timer and at start, so pushes made
//! while the laptop slept, or to forges that cannot reach this machine, still deploy. What it
//! finds goes through the same intake as webhooks, so seeing a push twice deploys it once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::intake::{Change, ChangeKind, Source, Trigger};
use crate::projects::{self, Forge, Project};
use crate::store::now_ms;
use crate::{Engine, Error, ErrorCode, Result};

/// Credentials for a remote: the keychain token of the project's forge account.
pub struct Credentials {
    pub username: String,
    pub token: String,
    /// Names the account in error messages; never the token.
    pub account: String,
}

/// The branches and tags a remote has, with tags peeled to the commit they name.
pub fn ls_remote(url: &str, forge: Forge, creds: Option<&Credentials>) -> Result<HashMap<String, String>> {
    let git_error = |e| crate::source::git_error("list the refs of", url, forge, creds, e);
    let mut remote = git2::Remote::create_detached(url).map_err(git_error)?;
    let connection = remote
        .connect_auth(git2::Direction::Fetch, Some(crate::source::callbacks(creds)), None)
        .map_err(git_error)?;
    let heads = connection.list().map_err(git_error)?;
    let mut refs = HashMap::new();
    let mut peeled = Vec::new();
    for head in heads {
        let name = head.name();
        if let Some(base) = name.strip_suffix("^{}") {
            peeled.push((base.to_string(), head.oid().to_string()));
        } else if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") {
            refs.insert(name.to_string(), head.oid().to_string());
        }
    }
    // An annotated tag's own id is the tag object; deploy the commit it points at.
    for (name, commit) in peeled {
        refs.insert(name, commit);
    }
    Ok(refs)
}

/// Polls one project: compares the remote's refs with what the last poll saw, and hands any
/// moved ref to the intake. The first poll of a project only records where things stand.
pub async fn poll_project(engine: &Engine, project: &Project) -> Result<()> {
    let creds = engine.credentials_for(project).await?;
    let (url, forge) = (project.repo_url.clone(), project.forge);
    let remote = tokio::task::spawn_blocking(move || ls_remote(&url, forge, creds.as_ref()))
        .await
        .map_err(|e| Error::new(ErrorCode::Internal, format!("poll task failed: {e}")))?;
    let remote = match remote {
        Ok(r) => r,
        Err(e) => {
            projects::set_poll_result(engine.store(), &project.id, Some(&e.to_string())).await?;
            return Err(e);
        }
    };
    let store = engine.store();
    let rows = sqlx::query("SELECT ref_name, commit_sha FROM poll_state WHERE project_id = ?")
        .bind(&project.id)
        .fetch_all(store.pool())
        .await?;
    let known: HashMap<String, String> = rows.iter().map(|r| (r.get("ref_name"), r.get("commit_sha"))).collect();
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
        let source = Source { provider: "poll".into(), event: "ls-remote".into(), delivery_id: None, received_at: now_ms(), started: Some(Instant::now()) };
        let verdict = engine.accept_changes(std::sync::Arc::new(project.clone()), changes, Trigger::Poll, source).await?;
        tracing::info!(project = %project.id, outcome = ?verdict.outcome, runs = ?verdict.run_ids, "poll: {}", verdict.reason);
    }
    let mut tx = store.write_tx().await?;
    sqlx::query("DELETE FROM poll_state WHERE project_id = ?").bind(&project.id).execute(&mut *tx).await?;
    for (name, commit) in &remote {
        sqlx::query("INSERT INTO poll_state (project_id, ref_name, commit_sha, seen_at) VALUES (?, ?, ?, ?)")
            .bind(&project.id)
            .bind(name)
            .bind(commit)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    projects::set_poll_result(store, &project.id, None).await?;
    Ok(())
}

/// Runs until the engine stops: every second, polls the projects whose interval has passed.
/// Every project is due at start, which is how pushes made while Slipway was off are found.
pub async fn run(engine: Engine) {
    let mut last: HashMap<String, Instant> = HashMap::new();
    loop {
        if engine.sleep_or_stop(Duration::from_secs(1)).await {
            return;
        }
        let Ok(list) = projects::list(engine.store()).await else { continue };
        for project in list {
            let Some(every) = project.poll_interval_secs else { continue };
            let due = last.get(&project.id).is_none_or(|t| t.elapsed() >= Duration::from_secs(every.into()));
            if !due {
                continue;
            }
            last.insert(project.id.clone(), Instant::now());
            // A project that deploys prebuilt images watches its registry, not its git remote.
            if project.image_repo.is_none() {
                if let Err(e) = poll_project(&engine, &project).await {
                    tracing::warn!(project = %project.id, "poll failed: {e}");
                }
            }
            if project.image_repo.is_some() {
                if let Err(e) = crate::registry::poll_project(&engine, &project).await {
                    tracing::warn!(project = %project.id, "registry poll failed: {e}");
                    let _ = projects::set_poll_result(engine.store(), &project.id, Some(&e.to_string())).await;
                }
            }
        }
    }
}
