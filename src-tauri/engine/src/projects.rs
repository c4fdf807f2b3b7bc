//! Projects and their stages: which repository, which forge, and which refs deploy where.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;

use crate::deploy::config::{DeployConfig, Rollout};
use crate::notify::NotifyChannel;
use crate::store::{now_ms, Store};
use crate::{Error, ErrorCode, Result};

/// Where a project's code lives. `Git` is any plain git server: polling works, webhooks don't.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Forge {
    Github,
    Gitlab,
    Gitea,
    Forgejo,
    Bitbucket,
    Git,
}

impl Forge {
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Forgejo => "forgejo",
            Forge::Bitbucket => "bitbucket",
            Forge::Git => "git",
        }
    }

    fn parse(s: &str) -> Forge {
        match s {
            "github" => Forge::Github,
            "gitlab" => Forge::Gitlab,
            "gitea" => Forge::Gitea,
            "forgejo" => Forge::Forgejo,
            "bitbucket" => Forge::Bitbucket,
            _ => Forge::Git,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Recreate,
    #[default]
    BlueGreen,
    Rolling,
    Canary,
}

impl Strategy {
    fn as_str(self) -> &'static str {
        match self {
            Strategy::Recreate => "recreate",
            Strategy::BlueGreen => "blue-green",
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
        }
    }

    fn parse(s: &str) -> Strategy {
        match s {
            "recreate" => Strategy::Recreate,
            "rolling" => Strategy::Rolling,
            "canary" => Strategy::Canary,
            _ => Strategy::BlueGreen,
        }
    }
}

/// A deploy target of a project (`dev`, `rel`, `prod`) and the refs that feed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Stage {
    pub name: String,
    /// Branches whose pushes deploy here; default `["main"]`.
    pub branch_patterns: Vec<String>,
    /// Tags whose pushes deploy here, e.g. `["v*"]`.
    pub tag_patterns: Vec<String>,
    /// Whether pull/merge request events deploy here (opt-in: PRs can come from forks).
    pub pr_events: bool,
    /// Off: matching pushes are recorded and wait for a manual deploy.
    pub auto_deploy: bool,
    pub productive: bool,
    pub promote_from: Option<String>,
    pub confirm: bool,
    pub strategy: Strategy,
    /// Drain and verification windows, rolling batches, canary share, host name, retention.
    pub rollout: Rollout,
}

impl Default for Stage {
    fn default() -> Self {
        Stage {
            name: "dev".into(),
            branch_patterns: vec!["main".into()],
            tag_patterns: vec![],
            pr_events: false,
            auto_deploy: true,
            productive: false,
            promote_from: None,
            confirm: false,
            strategy: Strategy::default(),
            rollout: Rollout::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Project {
    /// URL-safe id derived from the name; the webhook URL is `/hooks/<id>`.
    pub id: String,
    pub name: String,
    pub repo_url: String,
    pub forge: Forge,
    /// Name of the forge account whose token (in the keychain) clones and polls this repository.
    pub token_ref: Option<String>,
    pub host_id: Option<String>,
    /// Poll the repository every this many seconds (and at start); None turns polling off.
    pub poll_interval_secs: Option<u32>,
    pub stages: Vec<Stage>,
    /// An image repository (`registry.example.com/team/web`) whose tags deploy prebuilt images.
    pub image_repo: Option<String>,
    /// Name of the keychain entry (`registry:<name>`) with the registry's `user:password`.
    pub registry_account: Option<String>,
    /// What runs after a successful build: None for projects that only build.
    pub deploy: Option<DeployConfig>,
    /// Where run notifications go besides the desktop. Kept in `config_json`; the URLs are in
    /// the keychain.
    #[serde(default)]
    pub notifications: Vec<NotifyChannel>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub last_poll_at: Option<i64>,
    pub last_poll_error: Option<String>,
}

/// What the operator fills in to create a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NewProject {
    pub name: String,
    pub repo_url: String,
    pub forge: Forge,
    #[serde(default)]
    pub token_ref: Option<String>,
    #[serde(default)]
    pub poll_interval_secs: Option<u32>,
    /// Default: one `dev` stage fed by `main`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployConfig>,
    /// The Docker host (`hosts` id) this project deploys to; None is the local engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Outbound notification channels; a `url`/`secret` given here goes to the keychain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotifyChannel>,
}

pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, msg)
}

fn validate(p: &mut NewProject) -> Result<()> {
    crate::notify::normalise_channels(&mut p.notifications)?;
    if slug(&p.name).is_empty() {
        return Err(invalid("name: give the project a name with at least one letter or digit"));
    }
    if p.repo_url.trim().is_empty() {
        return Err(invalid("repo_url: the repository's clone URL is required"));
    }
    if p.poll_interval_secs == Some(0) {
        return Err(invalid("poll_interval_secs: must be at least 1 second (leave it empty to turn polling off)"));
    }
    let mut seen = std::collections::HashSet::new();
    for s in &p.stages {
        if slug(&s.name) != s.name {
            return Err(invalid(format!("stages: stage name {:?} must be lowercase letters, digits and dashes", s.name)));
        }
        if !seen.insert(&s.name) {
            return Err(invalid(format!("stages: stage {:?} appears twice", s.name)));
        }
    }
    if let Some(d) = &p.deploy {
        crate::deploy::config::validate(d)?;
    }
    for s in &p.stages {
        crate::deploy::config::validate_rollout(&s.name, &s.rollout)?;
    }
    for s in &p.stages {
        if let Some(from) = &s.promote_from {
            if !p.stages.iter().any(|o| &o.name == from) || from == &s.name {
                return Err(invalid(format!("stages: {} promotes from {from:?}, which is not another stage of this project", s.name)));
            }
        }
    }
    Ok(())
}

/// A project names its host by id; an unknown one is refused by name, not by a foreign key error.
async fn check_host(store: &Store, host: &Option<String>) -> Result<()> {
    if let Some(h) = host {
        if crate::hosts::find(store, h).await?.is_none() {
            return Err(invalid(format!("host_id: there is no Docker host {h:?} (see Hosts)")));
        }
    }
    Ok(())
}

fn deploy_json(d: &Option<DeployConfig>) -> Option<String> {
    d.as_ref().map(|d| serde_json::to_string(d).unwrap_or_default())
}

pub fn stage_id(project_id: &str, stage: &str) -> String {
    format!("{project_id}:{stage}")
}

pub async fn create(store: &Store, mut new: NewProject) -> Result<Project> {
    if new.stages.is_empty() {
        new.stages.push(Stage::default());
    }
    validate(&mut new)?;
    check_host(store, &new.host_id).await?;
    let id = slug(&new.name);
    let now = now_ms();
    let mut tx = store.write_tx().await?;
    let inserted = sqlx::query(
        "INSERT INTO projects (id, name, repo_url, forge, token_ref, poll_interval_secs, image_repo, registry_account, deploy_json, host_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(new.name.trim())
    .bind(new.repo_url.trim())
    .bind(new.forge.as_str())
    .bind(&new.token_ref)
    .bind(new.poll_interval_secs.map(i64::from))
    .bind(&new.image_repo)
    .bind(&new.registry_account)
    .bind(deploy_json(&new.deploy))
    .bind(&new.host_id)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        if e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
            return Err(invalid(format!("name: a project with id {id:?} exists already")));
        }
        return Err(e.into());
    }
    for s in &new.stages {
        upsert_stage(&mut tx, &id, s).await?;
    }
    write_notifications(&mut tx, &id, &new.notifications).await?;
    tx.commit().await?;
    get(store, &id).await
}

/// Sets the `notifications` key of `config_json`, leaving its other keys alone. URLs and
/// secrets are dropped here whatever the caller did: they belong in the keychain.
async fn write_notifications(tx: &mut sqlx::SqliteConnection, project_id: &str, channels: &[NotifyChannel]) -> Result<()> {
    let stored: Vec<NotifyChannel> = channels.iter().cloned().map(|c| NotifyChannel { url: None, secret: None, ..c }).collect();
    sqlx::query("UPDATE projects SET config_json = json_set(config_json, '$.notifications', json(?)) WHERE id = ?")
        .bind(serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into()))
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Replaces a project's notification channels (already moved into the keychain).
pub async fn set_notifications(store: &Store, id: &str, channels: &[NotifyChannel]) -> Result<Project> {
    let mut tx = store.write_tx().await?;
    let found = sqlx::query("UPDATE projects SET updated_at = ? WHERE id = ?").bind(now_ms()).bind(id).execute(&mut *tx).await?;
    if found.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("no project with id {id:?}")));
    }
    write_notifications(&mut tx, id, channels).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Inserts a stage, or updates the one of that name in place (its runs and releases stay).
async fn upsert_stage(tx: &mut sqlx::SqliteConnection, project_id: &str, s: &Stage) -> Result<()> {
    sqlx::query(
        "INSERT INTO stages (id, project_id, name, branch_patterns, tag_patterns, pr_events, auto_deploy, productive, promote_from, confirm, strategy, config_json) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (project_id, name) DO UPDATE SET branch_patterns = excluded.branch_patterns, tag_patterns = excluded.tag_patterns, \
         pr_events = excluded.pr_events, auto_deploy = excluded.auto_deploy, productive = excluded.productive, \
         promote_from = excluded.promote_from, confirm = excluded.confirm, strategy = excluded.strategy, config_json = excluded.config_json",
    )
    .bind(stage_id(project_id, &s.name))
    .bind(project_id)
    .bind(&s.name)
    .bind(serde_json::to_string(&s.branch_patterns).unwrap_or_default())
    .bind(serde_json::to_string(&s.tag_patterns).unwrap_or_default())
    .bind(s.pr_events)
    .bind(s.auto_deploy)
    .bind(s.productive)
    .bind(&s.promote_from)
    .bind(s.confirm)
    .bind(s.strategy.as_str())
    .bind(serde_json::to_string(&s.rollout).unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A project as YAML, for keeping its configuration in version control. No ids, times or
/// secrets: what an operator would write by hand.
pub fn to_yaml(p: &Project) -> String {
    let spec = NewProject {
        name: p.name.clone(),
        repo_url: p.repo_url.clone(),
        forge: p.forge,
        token_ref: p.token_ref.clone(),
        poll_interval_secs: p.poll_interval_secs,
        stages: p.stages.clone(),
        image_repo: p.image_repo.clone(),
        registry_account: p.registry_account.clone(),
        deploy: p.deploy.clone(),
        host_id: p.host_id.clone(),
        notifications: p.notifications.clone(),
    };
    serde_yaml::to_string(&spec).unwrap_or_default()
}

pub fn from_yaml(text: &str) -> Result<NewProject> {
    serde_yaml::from_str(text).map_err(|e| invalid(format!("project file: {e}")))
}

/// Creates the project, or brings an existing one (same id) in line with `spec`. Stages are
/// matched by name and updated in place; a stage the file leaves out is kept (removing it
/// would delete its history) and named in the returned notes.
pub async fn apply(store: &Store, mut spec: NewProject) -> Result<(Project, bool, Vec<String>)> {
    let id = slug(&spec.name);
    let Some(existing) = find(store, &id).await? else {
        return Ok((create(store, spec).await?, true, vec![]));
    };
    validate(&mut spec)?;
    check_host(store, &spec.host_id).await?;
    let mut tx = store.write_tx().await?;
    sqlx::query("UPDATE projects SET name = ?, repo_url = ?, forge = ?, token_ref = ?, poll_interval_secs = ?, image_repo = ?, registry_account = ?, deploy_json = ?, host_id = ?, updated_at = ? WHERE id = ?")
        .bind(spec.name.trim())
        .bind(spec.repo_url.trim())
        .bind(spec.forge.as_str())
        .bind(&spec.token_ref)
        .bind(spec.poll_interval_secs.map(i64::from))
        .bind(&spec.image_repo)
        .bind(&spec.registry_account)
        .bind(deploy_json(&spec.deploy))
        .bind(&spec.host_id)
        .bind(now_ms())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    for s in &spec.stages {
        upsert_stage(&mut tx, &id, s).await?;
    }
    write_notifications(&mut tx, &id, &spec.notifications).await?;
    tx.commit().await?;
    let notes = existing
        .stages
        .iter()
        .filter(|old| !spec.stages.iter().any(|s| s.name == old.name))
        .map(|old| format!("stage {} is not in the file and was kept (delete it explicitly to drop its history)", old.name))
        .collect();
    Ok((get(store, &id).await?, false, notes))
}

pub async fn get(store: &Store, id: &str) -> Result<Project> {
    find(store, id).await?.ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no project with id {id:?}")))
}

pub async fn find(store: &Store, id: &str) -> Result<Option<Project>> {
    let row = sqlx::query(&format!("{SELECT} WHERE id = ?")).bind(id).fetch_optional(store.pool()).await?;
    match row {
        Some(r) => Ok(Some(with_stages(store, from_row(&r)).await?)),
        None => Ok(None),
    }
}

pub async fn list(store: &Store) -> Result<Vec<Project>> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY name")).fetch_all(store.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(with_stages(store, from_row(&r)).await?);
    }
    Ok(out)
}

pub async fn delete(store: &Store, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM projects WHERE id = ?").bind(id).execute(store.pool()).await?;
    if done.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("no project with id {id:?}")));
    }
    Ok(())
}

pub async fn set_poll_result(store: &Store, id: &str, error: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE projects SET last_poll_at = ?, last_poll_error = ? WHERE id = ?")
        .bind(now_ms())
        .bind(error)
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

const SELECT: &str = "SELECT id, name, repo_url, forge, token_ref, host_id, poll_interval_secs, image_repo, registry_account, deploy_json, created_at, last_poll_at, last_poll_error, config_json FROM projects";

/// The part of `config_json` this module reads; other keys belong to others.
#[derive(Deserialize, Default)]
struct StoredConfig {
    #[serde(default)]
    notifications: Vec<NotifyChannel>,
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Project {
    Project {
        id: r.get("id"),
        name: r.get("name"),
        repo_url: r.get("repo_url"),
        forge: Forge::parse(r.get::<&str, _>("forge")),
        token_ref: r.get("token_ref"),
        host_id: r.get("host_id"),
        poll_interval_secs: r.get::<Option<i64>, _>("poll_interval_secs").map(|v| v.clamp(1, u32::MAX as i64) as u32),
        stages: vec![],
        image_repo: r.get("image_repo"),
        registry_account: r.get("registry_account"),
        deploy: r.get::<Option<&str>, _>("deploy_json").and_then(|j| serde_json::from_str(j).ok()),
        notifications: serde_json::from_str::<StoredConfig>(r.get::<&str, _>("config_json")).unwrap_or_default().notifications,
        created_at: r.get("created_at"),
        last_poll_at: r.get("last_poll_at"),
        last_poll_error: r.get("last_poll_error"),
    }
}

async fn with_stages(store: &Store, mut p: Project) -> Result<Project> {
    let rows = sqlx::query(
        "SELECT name, branch_patterns, tag_patterns, pr_events, auto_deploy, productive, promote_from, confirm, strategy, config_json FROM stages WHERE project_id = ? ORDER BY rowid",
    )
    .bind(&p.id)
    .fetch_all(store.pool())
    .await?;
    p.stages = rows
        .iter()
        .map(|r| Stage {
            name: r.get("name"),
            branch_patterns: serde_json::from_str(r.get("branch_patterns")).unwrap_or_default(),
            tag_patterns: serde_json::from_str(r.get("tag_patterns")).unwrap_or_default(),
            pr_events: r.get("pr_events"),
            auto_deploy: r.get("auto_deploy"),
            productive: r.get("productive"),
            promote_from: r.get("promote_from"),
            confirm: r.get("confirm"),
            strategy: Strategy::parse(r.get::<&str, _>("strategy")),
            rollout: serde_json::from_str(r.get("config_json")).unwrap_or_default(),
        })
        .collect();
    Ok(p)
}
