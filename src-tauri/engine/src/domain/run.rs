//! Runs as values: what triggered them, the ref changes they come from, what a delivery came to,
//! and the decision of which stages a change deploys to ([`plan`]).
//!
//! Webhooks, polls and registry checks all reduce what they saw to [`Change`]s; the intake
//! ([`crate::services::intake`]) records them and queues what [`plan`] says, at most once.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::domain::patterns::any_matches;
use crate::domain::forge::{Event, EventKind, PrAction};
use crate::domain::project::{Project, Stage};

/// What started a run. Stored as its snake_case name (`runs.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
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

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run is in its life. Stored as its snake_case name (`runs.status`); the UI gets the
/// same names as a TypeScript union and switches on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Deployed, then went back to the previous release (health gate, verification window).
    RolledBack,
    /// The engine stopped (crash, kill) while it ran; recovery marks it so at start.
    Interrupted,
    Cancelled,
    /// A newer push to the same stage replaced it while it was queued.
    Superseded,
}

impl RunStatus {
    pub const ALL: &'static [RunStatus] = &[
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::RolledBack,
        RunStatus::Interrupted,
        RunStatus::Cancelled,
        RunStatus::Superseded,
    ];
    /// Ends that count for the metrics: cancelled and superseded runs were stopped by someone,
    /// not by the code, so they count neither way.
    pub const COUNTED: &'static [RunStatus] = &[RunStatus::Succeeded, RunStatus::Failed, RunStatus::RolledBack, RunStatus::Interrupted];
    /// Ends that mean the code did not reach a good release.
    pub const FAILURES: &'static [RunStatus] = &[RunStatus::Failed, RunStatus::RolledBack, RunStatus::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::RolledBack => "rolled_back",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Superseded => "superseded",
        }
    }

    /// Still queued or running: its log may grow.
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    pub fn is_failure(self) -> bool {
        RunStatus::FAILURES.contains(&self)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a step is. Stored as its snake_case name (`run_steps.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StepStatus {
    pub const ALL: &'static [StepStatus] =
        &[StepStatus::Pending, StepStatus::Running, StepStatus::Succeeded, StepStatus::Failed, StepStatus::Skipped, StepStatus::Cancelled];
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
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
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Queued => "queued",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Outcome {
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
    pub trigger: Trigger,
    pub status: RunStatus,
    pub commit_sha: Option<String>,
    pub ref_name: Option<String>,
    pub reason: Option<String>,
    #[ts(type = "number | null")]
    pub delivery_id: Option<i64>,
    #[ts(type = "number")]
    pub queued_at: i64,
}

pub enum Plan<'a> {
    /// `commit` is a git commit, or for registry images the image digest (`image` is true).
    Deploy { stage: &'a Stage, git_ref: String, commit: String, image: bool },
    Ignore(String),
}

/// Decides, per change, which stages it deploys to or why it deploys nowhere.
pub fn plan<'a>(project: &'a Project, changes: &[Change], paused: bool) -> Vec<Plan<'a>> {
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

pub fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
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
    pub status: StepStatus,
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
