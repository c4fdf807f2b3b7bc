//! The `projects` and `stages` tables, and the `forge_accounts` one.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::domain::deploy::DeployConfig;
use crate::domain::environments::EnvRule;
use crate::domain::notice::NotifyChannel;
use crate::domain::project::{slug, stage_id, validate, Forge, NewProject, Project, Stage, StageTarget, Strategy};
use crate::store::{now_ms, Store};
use crate::{Error, ErrorCode, Result};

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, msg)
}

/// A project and its stages name hosts by id; an unknown one is refused by name, not by a
/// foreign key error or at the first deploy.
async fn check_hosts(store: &Store, p: &NewProject) -> Result<()> {
    if let Some(h) = &p.host_id {
        if crate::store::hosts::find(store, h).await?.is_none() {
            return Err(invalid(format!("host_id: there is no Docker host {h:?} (see Hosts)")));
        }
    }
    for s in &p.stages {
        for h in &s.hosts {
            if crate::store::hosts::find(store, h).await?.is_none() {
                return Err(invalid(format!(
                    "stages: {} names host {h:?}, which is not a Docker host Slipway knows (add it under Hosts)",
                    s.name
                )));
            }
        }
    }
    Ok(())
}

fn deploy_json(d: &Option<DeployConfig>) -> Option<String> {
    d.as_ref().map(|d| serde_json::to_string(d).unwrap_or_default())
}

pub async fn create(store: &Store, mut new: NewProject) -> Result<Project> {
    if new.stages.is_empty() {
        new.stages.push(Stage::default());
    }
    validate(&mut new)?;
    check_hosts(store, &new).await?;
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
    write_rules(&mut tx, &id, &new.rules).await?;
    tx.commit().await?;
    get(store, &id).await
}

/// Sets the `rules` key of `config_json`, leaving its other keys alone.
async fn write_rules(tx: &mut sqlx::SqliteConnection, project_id: &str, rules: &[EnvRule]) -> Result<()> {
    sqlx::query("UPDATE projects SET config_json = json_set(config_json, '$.rules', json(?)) WHERE id = ?")
        .bind(serde_json::to_string(rules).unwrap_or_else(|_| "[]".into()))
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A stage's environment settings, kept together in `stages.env_json`.
#[derive(Serialize, Deserialize, Default)]
struct StageEnv {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    soak_secs: u64,
    #[serde(default)]
    confirm_manual: bool,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default = "one")]
    parallel: u32,
    #[serde(default)]
    target: StageTarget,
}

fn one() -> u32 {
    1
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
        "INSERT INTO stages (id, project_id, name, branch_patterns, tag_patterns, pr_events, auto_deploy, productive, promote_from, confirm, strategy, config_json, env_json) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (project_id, name) DO UPDATE SET branch_patterns = excluded.branch_patterns, tag_patterns = excluded.tag_patterns, \
         pr_events = excluded.pr_events, auto_deploy = excluded.auto_deploy, productive = excluded.productive, \
         promote_from = excluded.promote_from, confirm = excluded.confirm, strategy = excluded.strategy, config_json = excluded.config_json, \
         env_json = excluded.env_json",
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
    .bind(
        serde_json::to_string(&StageEnv {
            group: s.group.clone(),
            requires: s.requires.clone(),
            soak_secs: s.soak_secs,
            confirm_manual: s.confirm_manual,
            hosts: s.hosts.clone(),
            parallel: s.parallel,
            target: s.target,
        })
        .unwrap_or_default(),
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
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
    check_hosts(store, &spec).await?;
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
    write_rules(&mut tx, &id, &spec.rules).await?;
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
    #[serde(default)]
    rules: Vec<EnvRule>,
}

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Project {
    let stored = serde_json::from_str::<StoredConfig>(r.get::<&str, _>("config_json")).unwrap_or_default();
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
        notifications: stored.notifications,
        rules: stored.rules,
        created_at: r.get("created_at"),
        last_poll_at: r.get("last_poll_at"),
        last_poll_error: r.get("last_poll_error"),
    }
}

async fn with_stages(store: &Store, mut p: Project) -> Result<Project> {
    let rows = sqlx::query(
        "SELECT name, branch_patterns, tag_patterns, pr_events, auto_deploy, productive, promote_from, confirm, strategy, config_json, env_json FROM stages WHERE project_id = ? ORDER BY rowid",
    )
    .bind(&p.id)
    .fetch_all(store.pool())
    .await?;
    p.stages = rows
        .iter()
        .map(|r| (r, serde_json::from_str::<StageEnv>(r.get("env_json")).unwrap_or_default()))
        .map(|(r, env)| Stage {
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
            group: env.group,
            requires: env.requires,
            soak_secs: env.soak_secs,
            confirm_manual: env.confirm_manual,
            hosts: env.hosts,
            parallel: env.parallel.max(1),
            target: env.target,
        })
        .collect();
    Ok(p)
}
