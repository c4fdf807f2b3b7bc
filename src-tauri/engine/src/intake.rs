//! Where webhooks and polling meet: a ref change becomes a queued run, at most once.
//!
//! Both sources reduce what they saw to [`Change`]s and call [`accept`]. It decides per stage
//! (deploy, duplicate, ignore with a reason), supersedes queued runs a newer push replaces, and
//! records the delivery, all in one transaction under one lock, so a forge's retries, two hooks
//! for one push, or a poll that sees the push a webhook already delivered start one run.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use ts_rs::TS;

use crate::patterns::any_matches;
use crate::projects::{stage_id, Project, Stage};
use crate::store::{now_ms, Store};
use crate::webhook::{Event, EventKind, PrAction};
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Webhook,
    Poll,
    Manual,
    Rollback,
    Promote,
    Registry,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Webhook => "webhook",
            Trigger::Poll => "poll",
            Trigger::Manual => "manual",
            Trigger::Rollback => "rollback",
            Trigger::Promote => "promote",
            Trigger::Registry => "registry",
        }
    }
}

/// One ref change, whoever noticed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// Full ref: `refs/heads/main`, `refs/tags/v1`, `refs/pull/7/head`.
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    /// For pull requests: the branch the PR targets, which is what stage rules match.
    pub target_branch: Option<String>,
    /// For images pushed to a registry: the tag (matched against stage tag patterns) and the
    /// digest that pins exactly what runs.
    pub image: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Branch,
    Tag,
    BranchDeleted,
    TagDeleted,
    PullRequest(PrAction),
    /// A tag pushed to the project's image repository.
    Image,
    Ping,
    Other(String),
}

impl From<&Event> for Change {
    fn from(e: &Event) -> Change {
        let kind = match &e.kind {
            EventKind::Push => ChangeKind::Branch,
            EventKind::TagPush => ChangeKind::Tag,
            EventKind::BranchDeleted => ChangeKind::BranchDeleted,
            EventKind::TagDeleted => ChangeKind::TagDeleted,
            EventKind::PullRequest { action } => ChangeKind::PullRequest(*action),
            EventKind::Ping => ChangeKind::Ping,
            EventKind::Other { event } => ChangeKind::Other(event.clone()),
        };
        Change {
            kind,
            git_ref: e.git_ref.clone(),
            commit: e.commit.clone(),
            target_branch: e.pull_request.as_ref().map(|p| p.target_branch.clone()),
            image: None,
        }
    }
}

/// Who delivered the changes, for the inbox.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// `github`, `gitlab`, …, or `poll`.
    pub provider: String,
    pub event: String,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    pub started: Option<std::time::Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Queued,
    Ignored,
    Duplicate,
    Rejected,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Queued => "queued",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Outcome {
        match s {
            "queued" => Outcome::Queued,
            "ignored" => Outcome::Ignored,
            "duplicate" => Outcome::Duplicate,
            _ => Outcome::Rejected,
        }
    }
}

/// What a delivery came to: the listener's answer and the inbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The inbox row recording this delivery.
    #[ts(type = "number")]
    pub delivery: i64,
    /// Runs queued for it, or for duplicates the runs it duplicates.
    #[ts(type = "number[]")]
    pub run_ids: Vec<i64>,
    pub reason: String,
}

/// An inbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Delivery {
    #[ts(type = "number")]
    pub id: i64,
    pub project_id: Option<String>,
    pub provider: Option<String>,
    pub event: Option<String>,
    pub delivery_id: Option<String>,
    pub ref_name: Option<String>,
    pub commit_sha: Option<String>,
    pub outcome: Outcome,
    pub http_status: u16,
    pub reason: Option<String>,
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
    #[ts(type = "number")]
    pub received_at: i64,
    #[ts(type = "number | null")]
    pub duration_us: Option<i64>,
    /// Its body is still kept, so it can be redelivered locally.
    #[serde(default)]
    pub replayable: bool,
}

/// A run as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RunSummary {
    #[ts(type = "number")]
    pub id: i64,
    pub project_id: String,
    pub stage: String,
    pub trigger: String,
    pub status: String,
    pub commit_sha: Option<String>,
    pub ref_name: Option<String>,
    pub reason: Option<String>,
    #[ts(type = "number | null")]
    pub delivery_id: Option<i64>,
    #[ts(type = "number")]
    pub queued_at: i64,
}

enum Plan<'a> {
    /// `commit` is a git commit, or for registry images the image digest (`image` is true).
    Deploy { stage: &'a Stage, git_ref: String, commit: String, image: bool },
    Ignore(String),
}

/// Decides, per change, which stages it deploys to or why it deploys nowhere.
fn plan<'a>(project: &'a Project, changes: &[Change], paused: bool) -> Vec<Plan<'a>> {
    let mut out = Vec::new();
    for c in changes {
        let name = c.git_ref.as_deref().unwrap_or("");
        let short = name.strip_prefix("refs/heads/").or_else(|| name.strip_prefix("refs/tags/")).unwrap_or(name);
        let stages: Vec<&Stage> = match &c.kind {
            ChangeKind::Ping => {
                out.push(Plan::Ignore("ping: the hook reaches Slipway; nothing to deploy".into()));
                continue;
            }
            ChangeKind::BranchDeleted => {
                out.push(Plan::Ignore(format!("branch {short} was deleted")));
                continue;
            }
            ChangeKind::TagDeleted => {
                out.push(Plan::Ignore(format!("tag {short} was deleted")));
                continue;
            }
            ChangeKind::Other(event) if is_package_event(event) && project.image_repo.is_some() => {
                out.push(Plan::Ignore("registry package event: the image repository is being checked; new tags start runs from there".into()));
                continue;
            }
            ChangeKind::Other(event) => {
                out.push(Plan::Ignore(format!("event {event:?} is not a push, tag or pull request")));
                continue;
            }
            ChangeKind::Branch => project.stages.iter().filter(|s| any_matches(&s.branch_patterns, short)).collect(),
            ChangeKind::Tag => project.stages.iter().filter(|s| any_matches(&s.tag_patterns, short)).collect(),
            ChangeKind::Image => {
                let (tag, digest) = c.image.clone().unwrap_or_default();
                let matched: Vec<&Stage> = project.stages.iter().filter(|s| any_matches(&s.tag_patterns, &tag)).collect();
                if matched.is_empty() {
                    out.push(Plan::Ignore(format!("image tag {tag} matches no stage ({})", describe_rules(project))));
                }
                for stage in matched {
                    if paused {
                        out.push(Plan::Ignore(format!("auto-deploy is paused; image {tag} → {} not started", stage.name)));
                    } else if !stage.auto_deploy {
                        out.push(Plan::Ignore(format!("stage {} deploys manually (auto-deploy off); image {tag} waits for a click", stage.name)));
                    } else {
                        out.push(Plan::Deploy { stage, git_ref: name.to_string(), commit: digest.clone(), image: true });
                    }
                }
                continue;
            }
            ChangeKind::PullRequest(action) => {
                match action {
                    PrAction::Opened | PrAction::Synchronized | PrAction::Reopened => {}
                    PrAction::Merged => {
                        out.push(Plan::Ignore("pull request merged: the push to its target branch deploys it".into()));
                        continue;
                    }
                    PrAction::Closed => {
                        out.push(Plan::Ignore("pull request closed without merging".into()));
                        continue;
                    }
                    PrAction::Other => {
                        out.push(Plan::Ignore("pull request changed without new commits".into()));
                        continue;
                    }
                }
                let target = c.target_branch.as_deref().unwrap_or("");
                let matched: Vec<&Stage> = project.stages.iter().filter(|s| s.pr_events && any_matches(&s.branch_patterns, target)).collect();
                if matched.is_empty() {
                    out.push(Plan::Ignore(format!(
                        "pull request into {target}: no stage deploys pull requests into it (pull request events are opt-in per stage)"
                    )));
                    continue;
                }
                matched
            }
        };
        if stages.is_empty() {
            out.push(Plan::Ignore(format!("{name} matches no stage ({})", describe_rules(project))));
            continue;
        }
        let Some(commit) = c.commit.clone() else {
            out.push(Plan::Ignore(format!("{name}: the event names no commit to deploy")));
            continue;
        };
        for stage in stages {
            if paused {
                out.push(Plan::Ignore(format!("auto-deploy is paused; {short} → {} not started", stage.name)));
            } else if !stage.auto_deploy {
                out.push(Plan::Ignore(format!("stage {} deploys manually (auto-deploy off); {short} at {} waits for a click", stage.name, short_sha(&commit))));
            } else {
                out.push(Plan::Deploy { stage, git_ref: name.to_string(), commit: commit.clone(), image: false });
            }
        }
    }
    out
}

/// GitHub's `package`/`registry_package` and Gitea's `package` events: an image was pushed.
pub fn is_package_event(event: &str) -> bool {
    matches!(event, "package" | "registry_package")
}

fn describe_rules(project: &Project) -> String {
    project
        .stages
        .iter()
        .map(|s| {
            let mut parts = Vec::new();
            if !s.branch_patterns.is_empty() {
                parts.push(format!("branches {}", s.branch_patterns.join(", ")));
            }
            if !s.tag_patterns.is_empty() {
                parts.push(format!("tags {}", s.tag_patterns.join(", ")));
            }
            if parts.is_empty() {
                parts.push("manual only".into());
            }
            format!("{}: {}", s.name, parts.join("; "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

/// One delivery waiting for the intake writer.
pub struct Job {
    pub project: std::sync::Arc<Project>,
    pub changes: Vec<Change>,
    pub trigger: Trigger,
    pub source: Source,
    pub paused: bool,
    pub reply: tokio::sync::oneshot::Sender<Result<Verdict>>,
}

/// Most deliveries written in one transaction: bounds the wait of the first one in a burst.
const MAX_BATCH: usize = 128;

/// The intake writer: the only code that decides runs. Jobs are handled strictly one after the
/// other (that is what makes duplicates impossible), and whatever arrived together shares one
/// transaction, so a burst costs one commit instead of one each (group commit). Every job is
/// answered only after its transaction committed: a 202 is on disk.
pub async fn writer(store: Store, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = write_batch(&store, &batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

async fn write_batch(store: &Store, batch: &[Job]) -> Vec<Result<Verdict>> {
    let fail_all = |e: &crate::Error| -> Vec<Result<Verdict>> { batch.iter().map(|_| Err(crate::Error::from(e.to_api()))).collect() };
    let mut tx = match store.write_tx().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(&e.into()),
    };
    let mut verdicts = Vec::with_capacity(batch.len());
    for job in batch {
        match accept_in(&mut tx, &job.project, &job.changes, job.trigger, &job.source, job.paused).await {
            Ok(v) => verdicts.push(v),
            // A half-written job must not be committed with the others: none of them is.
            Err(e) => return fail_all(&e),
        }
    }
    match tx.commit().await {
        Ok(()) => verdicts.into_iter().map(Ok).collect(),
        Err(e) => fail_all(&e.into()),
    }
}

/// Turns one delivery's changes into runs, exactly once, inside the writer's transaction.
async fn accept_in(tx: &mut sqlx::SqliteConnection, project: &Project, changes: &[Change], trigger: Trigger, source: &Source, paused: bool) -> Result<Verdict> {

    // The same delivery again (a forge retry, a "redeliver" click): answer as before.
    if let Some(id) = &source.delivery_id {
        let prior = sqlx::query(
            "SELECT id, run_id FROM webhook_deliveries WHERE project_id = ? AND provider = ? AND delivery_id = ? \
             AND outcome IN ('queued', 'ignored', 'duplicate') ORDER BY id LIMIT 1",
        )
        .bind(&project.id)
        .bind(&source.provider)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(prior) = prior {
            let (prior, prior_run): (i64, Option<i64>) = (prior.get("id"), prior.get("run_id"));
            let mut run_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM runs WHERE delivery_id = ? ORDER BY id")
                .bind(prior)
                .fetch_all(&mut *tx)
                .await?;
            // The earlier delivery was itself a duplicate: it names the run it duplicated.
            if run_ids.is_empty() {
                run_ids.extend(prior_run);
            }
            let reason = format!("delivery {id} was received before (inbox #{prior})");
            let first = changes.first();
            let delivery = insert_delivery(tx, project, source, first, Outcome::Duplicate, 200, &reason, run_ids.first().copied()).await?;
            return Ok(Verdict { outcome: Outcome::Duplicate, delivery, run_ids, reason });
        }
    }

    let mut queued: Vec<(String, String, String, bool)> = Vec::new(); // (stage id, ref, commit or digest, is image)
    let mut duplicates = Vec::new();
    let mut reasons = Vec::new();
    for p in plan(project, changes, paused) {
        match p {
            Plan::Ignore(reason) => reasons.push(reason),
            Plan::Deploy { stage, git_ref, commit, image } => {
                let sid = stage_id(&project.id, &stage.name);
                let column = if image { "image_digest" } else { "commit_sha" };
                let existing: Option<(i64, String)> = sqlx::query_as(&format!(
                    "SELECT id, status FROM runs WHERE stage_id = ? AND {column} = ? AND status IN ('queued', 'running', 'succeeded') ORDER BY id DESC LIMIT 1",
                ))
                .bind(&sid)
                .bind(&commit)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((run, status)) = existing {
                    duplicates.push(run);
                    reasons.push(format!("{} at {} is already {status} as run {run}", stage.name, short_sha(&commit)));
                } else if !queued.iter().any(|(s, _, c, _)| s == &sid && c == &commit) {
                    queued.push((sid, git_ref, commit, image));
                }
            }
        }
    }

    let (outcome, status) = if !queued.is_empty() {
        (Outcome::Queued, 202)
    } else if !duplicates.is_empty() {
        (Outcome::Duplicate, 200)
    } else {
        (Outcome::Ignored, 200)
    };
    let reason = if outcome == Outcome::Queued && reasons.is_empty() {
        format!("queued {} run(s)", queued.len())
    } else {
        reasons.join("; ")
    };
    let first = changes.first();
    let delivery = insert_delivery(tx, project, source, first, outcome, status, &reason, duplicates.first().copied()).await?;

    let mut run_ids = Vec::new();
    let now = now_ms();
    for (sid, git_ref, commit, image) in &queued {
        let (commit_sha, digest) = if *image { (None, Some(commit)) } else { (Some(commit), None) };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (project_id, stage_id, trigger, status, commit_sha, image_digest, ref_name, delivery_id, queued_at) \
             VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&project.id)
        .bind(sid)
        .bind(trigger.as_str())
        .bind(commit_sha)
        .bind(digest)
        .bind(git_ref)
        .bind(delivery)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        // A newer push replaces what is still waiting for the same stage.
        sqlx::query("UPDATE runs SET status = 'superseded', finished_at = ?, reason = ? WHERE stage_id = ? AND status = 'queued' AND id <> ?")
            .bind(now)
            .bind(format!("superseded by run {id} ({})", short_sha(commit)))
            .bind(sid)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        run_ids.push(id);
    }
    // The delivery row's run_id stays NULL for queued runs: runs.delivery_id links them, and
    // the inbox query derives it, which saves a statement on the hot path.
    if outcome == Outcome::Duplicate {
        run_ids = duplicates;
    }
    Ok(Verdict { outcome, delivery, run_ids, reason })
}

#[allow(clippy::too_many_arguments)]
async fn insert_delivery(
    tx: &mut sqlx::SqliteConnection,
    project: &Project,
    source: &Source,
    change: Option<&Change>,
    outcome: Outcome,
    status: u16,
    reason: &str,
    run_id: Option<i64>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (project_id, provider, event, delivery_id, ref_name, commit_sha, outcome, http_status, reason, run_id, received_at, duration_us) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&project.id)
    .bind(&source.provider)
    .bind(&source.event)
    .bind(&source.delivery_id)
    .bind(change.and_then(|c| c.git_ref.clone()))
    .bind(change.and_then(|c| c.commit.clone()))
    .bind(outcome.as_str())
    .bind(status as i64)
    .bind(reason)
    .bind(run_id)
    .bind(source.received_at)
    .bind(source.started.map(|s| s.elapsed().as_micros() as i64))
    .fetch_one(&mut *tx)
    .await?)
}

/// Records a delivery that was refused before it reached a project's rules (4xx).
pub async fn record_rejection(store: &Store, project_id: Option<&str>, source: &Source, status: u16, reason: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (project_id, provider, event, delivery_id, outcome, http_status, reason, received_at, duration_us) \
         VALUES (?, ?, ?, ?, 'rejected', ?, ?, ?, ?) RETURNING id",
    )
    .bind(project_id)
    .bind((!source.provider.is_empty()).then_some(&source.provider))
    .bind((!source.event.is_empty()).then_some(&source.event))
    .bind(&source.delivery_id)
    .bind(status as i64)
    .bind(reason)
    .bind(source.received_at)
    .bind(source.started.map(|s| s.elapsed().as_micros() as i64))
    .fetch_one(store.pool())
    .await?)
}

/// The inbox, newest first.
pub async fn deliveries(store: &Store, project_id: Option<&str>, limit: u32) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT d.id, d.project_id, d.provider, d.event, d.delivery_id, d.ref_name, d.commit_sha, d.outcome, d.http_status, d.reason, \
         COALESCE(d.run_id, (SELECT MIN(r.id) FROM runs r WHERE r.delivery_id = d.id)) AS run_id, d.received_at, d.duration_us, \
         EXISTS (SELECT 1 FROM delivery_bodies b WHERE b.delivery = d.id) AS replayable \
         FROM webhook_deliveries d WHERE (?1 IS NULL OR d.project_id = ?1) ORDER BY d.id DESC LIMIT ?2",
    )
    .bind(project_id)
    .bind(limit as i64)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Delivery {
            id: r.get("id"),
            project_id: r.get("project_id"),
            provider: r.get("provider"),
            event: r.get("event"),
            delivery_id: r.get("delivery_id"),
            ref_name: r.get("ref_name"),
            commit_sha: r.get("commit_sha"),
            outcome: Outcome::parse(r.get::<&str, _>("outcome")),
            http_status: r.get::<i64, _>("http_status") as u16,
            reason: r.get("reason"),
            run_id: r.get("run_id"),
            received_at: r.get("received_at"),
            duration_us: r.get("duration_us"),
            replayable: r.get("replayable"),
        })
        .collect())
}

pub async fn runs(store: &Store, project_id: Option<&str>, limit: u32) -> Result<Vec<RunSummary>> {
    let rows = sqlx::query(
        "SELECT r.id, r.project_id, s.name AS stage, r.trigger, r.status, r.commit_sha, r.ref_name, r.reason, r.delivery_id, r.queued_at \
         FROM runs r JOIN stages s ON s.id = r.stage_id WHERE (?1 IS NULL OR r.project_id = ?1) ORDER BY r.id DESC LIMIT ?2",
    )
    .bind(project_id)
    .bind(limit as i64)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.iter().map(run_summary).collect())
}

/// A run row (with its stage's name as `stage`) as lists show it.
pub(crate) fn run_summary(r: &sqlx::sqlite::SqliteRow) -> RunSummary {
    RunSummary {
        id: r.get("id"),
        project_id: r.get("project_id"),
        stage: r.get("stage"),
        trigger: r.get("trigger"),
        status: r.get("status"),
        commit_sha: r.get("commit_sha"),
        ref_name: r.get("ref_name"),
        reason: r.get("reason"),
        delivery_id: r.get("delivery_id"),
        queued_at: r.get("queued_at"),
    }
}

/// Queues a run an operator asked for. No duplicate check: redeploying a commit on purpose is
/// allowed.
pub async fn enqueue_manual(store: &Store, project: &Project, stage: &str, git_ref: Option<&str>, commit: &str, trigger: Trigger) -> Result<i64> {
    let sid = stage_id(&project.id, stage);
    Ok(sqlx::query_scalar("INSERT INTO runs (project_id, stage_id, trigger, status, commit_sha, ref_name, queued_at) VALUES (?, ?, ?, 'queued', ?, ?, ?) RETURNING id")
        .bind(&project.id)
        .bind(&sid)
        .bind(trigger.as_str())
        .bind(commit)
        .bind(git_ref)
        .bind(now_ms())
        .fetch_one(store.pool())
        .await?)
}

/// One step of a run, as the run view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StepInfo {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub position: i64,
    pub name: String,
    pub kind: String,
    pub status: String,
    #[ts(type = "number | null")]
    pub exit_code: Option<i64>,
    pub message: Option<String>,
    #[ts(type = "number | null")]
    pub started_at: Option<i64>,
    #[ts(type = "number | null")]
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RunDetail {
    pub run: RunSummary,
    pub steps: Vec<StepInfo>,
    pub config_source: Option<String>,
    pub image: Option<String>,
    #[ts(type = "number | null")]
    pub started_at: Option<i64>,
    #[ts(type = "number | null")]
    pub finished_at: Option<i64>,
}

pub async fn run_detail(store: &Store, id: i64) -> Result<RunDetail> {
    let row = sqlx::query(
        "SELECT r.id, r.project_id, s.name AS stage, r.trigger, r.status, r.commit_sha, r.ref_name, r.reason, r.delivery_id, r.queued_at, \
         r.config_source, r.image_digest, r.started_at, r.finished_at FROM runs r JOIN stages s ON s.id = r.stage_id WHERE r.id = ?",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| crate::Error::new(crate::ErrorCode::NotFound, format!("no run {id}")))?;
    let steps = sqlx::query("SELECT id, position, name, kind, status, exit_code, message, started_at, finished_at FROM run_steps WHERE run_id = ? ORDER BY position")
        .bind(id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| StepInfo {
            id: r.get("id"),
            position: r.get("position"),
            name: r.get("name"),
            kind: r.get("kind"),
            status: r.get("status"),
            exit_code: r.get("exit_code"),
            message: r.get("message"),
            started_at: r.get("started_at"),
            finished_at: r.get("finished_at"),
        })
        .collect();
    Ok(RunDetail {
        run: run_summary(&row),
        steps,
        config_source: row.get("config_source"),
        image: row.get("image_digest"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
    })
}

/// Cancels a run that has not started yet; returns false when it is not queued.
pub async fn cancel_queued(store: &Store, id: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = ?, reason = 'cancelled before it started' WHERE id = ? AND status = 'queued'")
        .bind(now_ms())
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}
