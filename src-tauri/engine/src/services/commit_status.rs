//! Reporting a run's state on its commit, back to the forge. The HTTP shapes are in
//! [`crate::adapters::forge::status`]; this decides when to send, to where, and what to do when it fails
//! (log it on the run, never fail the deploy).

use crate::adapters::forge::status::{self, RunState, StatusReport, StatusTarget};
use crate::adapters::forge::webhook::Provider;
use crate::domain::project::{Forge, Project};
use crate::store::logs::Logs;
use crate::store::Store;
use crate::{adapters::keychain, Result};

/// Settings key of the link a status points at; `{project}`, `{stage}` and `{run}` are filled in.
pub const LINK_SETTING: &str = "status_link_template";

fn provider(forge: Forge) -> Option<Provider> {
    Some(match forge {
        Forge::Github => Provider::Github,
        Forge::Gitlab => Provider::Gitlab,
        Forge::Gitea => Provider::Gitea,
        Forge::Forgejo => Provider::Forgejo,
        Forge::Bitbucket => Provider::Bitbucket,
        Forge::Git => return None,
    })
}

/// `https://host/owner/name(.git)` or `git@host:owner/name(.git)` → (host, "owner/name").
pub fn repo_path(url: &str) -> Option<(String, String)> {
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit('@').next()?;
        (host.split(':').next()?, path)
    } else {
        let rest = url.rsplit_once('@').map(|(_, r)| r).unwrap_or(url);
        rest.split_once(':')?
    };
    let path = path.trim_matches('/').trim_end_matches(".git");
    (!host.is_empty() && path.contains('/')).then(|| (host.to_string(), path.to_string()))
}

fn default_api_base(forge: Forge, host: &str) -> String {
    match forge {
        Forge::Github if host == "github.com" => "https://api.github.com".into(),
        Forge::Github => format!("https://{host}/api/v3"),
        Forge::Gitlab => format!("https://{host}/api/v4"),
        Forge::Bitbucket => "https://api.bitbucket.org/2.0".into(),
        Forge::Gitea | Forge::Forgejo | Forge::Git => format!("https://{host}/api/v1"),
    }
}

/// Where statuses of `project` go, or None when it has no forge account (statuses are opt-in
/// through the account's token) or is a plain git server.
async fn target(store: &Store, project: &Project) -> Result<Option<StatusTarget>> {
    let (Some(provider), Some(account)) = (provider(project.forge), &project.token_ref) else { return Ok(None) };
    let Some((host, repo)) = repo_path(&project.repo_url) else { return Ok(None) };
    let api_base = crate::store::accounts::forge_api_base(store, account).await?;
    let Some(token) = keychain::get(&super::forge_token_key(account)).await? else { return Ok(None) };
    let api_base = api_base.flatten().unwrap_or_else(|| default_api_base(project.forge, &host));
    Ok(Some(StatusTarget { provider, api_base, repo, token }))
}

/// What reporting a status needs: the store (run, project, account, link) and the run logs
/// (where a failed report is told).
#[derive(Clone)]
pub struct Reporter {
    pub store: Store,
    pub logs: Logs,
}

impl Reporter {
    /// Reports `state` for run `run_id` on its commit. Failures end up in the run's log and the
    /// engine's log; they never reach the caller, because a status is a courtesy, not the deploy.
    pub async fn report(&self, run_id: i64, state: RunState, description: &str) {
        if let Err(e) = self.try_report(run_id, state, description).await {
            tracing::warn!(run = run_id, "commit status not sent: {e}");
            self.logs.push(run_id, None, "system", format!("commit status not sent: {e}")).await;
        }
    }

    async fn try_report(&self, run_id: i64, state: RunState, description: &str) -> std::result::Result<(), String> {
        let store = &self.store;
        let work = crate::store::runs::work(store, run_id).await.map_err(|e| e.to_string())?;
        let (project_id, commit, stage) = (work.project_id, work.commit, work.stage);
        let Some(commit) = commit else { return Ok(()) };
        let project = crate::store::projects::get(store, &project_id).await.map_err(|e| e.to_string())?;
        let Some(target) = target(store, &project).await.map_err(|e| e.to_string())? else { return Ok(()) };
        let link = store
            .setting(LINK_SETTING)
            .await
            .map_err(|e| e.to_string())?
            .map(|t| t.replace("{project}", &project.id).replace("{stage}", &stage).replace("{run}", &run_id.to_string()));
        let context = format!("slipway/{stage}");
        let report = StatusReport { state, context: &context, description, target_url: link.as_deref() };
        status::report(&reqwest::Client::new(), &target, &commit, &report).await.map_err(|e| e.to_string())?;
        self.logs.push(run_id, None, "system", format!("commit status {state:?} sent to {}", project.forge.as_str())).await;
        Ok(())
    }
}
