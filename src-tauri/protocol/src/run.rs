//! Runs: what started them, where they are in their life, their steps and log lines, and
//! what a delivery came to.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What started a run. Stored as its snake_case name (`runs.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "TEXT", rename_all = "snake_case"))]
pub enum Trigger {
    Webhook,
    Poll,
    Manual,
    Rollback,
    Promote,
    Registry,
}

named!(Trigger { Webhook => "webhook", Poll => "poll", Manual => "manual", Rollback => "rollback", Promote => "promote", Registry => "registry" });

/// Where a run is in its life. Stored as its snake_case name (`runs.status`); the UI gets the
/// same names as a TypeScript union and switches on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "TEXT", rename_all = "snake_case"))]
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
    /// Ends that count for the metrics: cancelled and superseded runs were stopped by someone,
    /// not by the code, so they count neither way.
    pub const COUNTED: &'static [RunStatus] = &[RunStatus::Succeeded, RunStatus::Failed, RunStatus::RolledBack, RunStatus::Interrupted];
    /// Ends that mean the code did not reach a good release.
    pub const FAILURES: &'static [RunStatus] = &[RunStatus::Failed, RunStatus::RolledBack, RunStatus::Interrupted];

    /// Still queued or running: its log may grow.
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    pub fn is_failure(self) -> bool {
        RunStatus::FAILURES.contains(&self)
    }
}

named!(RunStatus {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    RolledBack => "rolled_back",
    Interrupted => "interrupted",
    Cancelled => "cancelled",
    Superseded => "superseded",
});

/// Where a step is. Stored as its snake_case name (`run_steps.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "TEXT", rename_all = "snake_case"))]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

named!(StepStatus {
    Pending => "pending",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Skipped => "skipped",
    Cancelled => "cancelled",
});

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunDetail {
    pub run: RunSummary,
    pub steps: Vec<StepInfo>,
    pub config_source: Option<String>,
    pub image: Option<String>,
    #[ts(type = "number | null")]
    pub started_at: Option<i64>,
    #[ts(type = "number | null")]
    pub finished_at: Option<i64>,
    /// The requests the edge served for the stage during the deploy's switch (none: not routed,
    /// or the edge keeps no access log).
    #[serde(default)]
    pub switch: Option<SwitchCount>,
    /// Who asked for this run and who acted on it (cancel), oldest first. Empty for runs a
    /// webhook, a poll or the engine itself started.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// How many lines the stored log spans (the last line's seq): the run view draws that many
    /// rows and fetches only the ones in sight.
    #[serde(default)]
    #[ts(type = "number")]
    pub log_lines: i64,
    /// For a `slipway.yml` that extends a template: the template, its version, where each
    /// step came from, and the merged pipeline.
    #[serde(default)]
    pub pipeline: Option<crate::template::ExecutedPipeline>,
    /// What the run's plugin steps published, in the order they ran.
    #[serde(default)]
    pub plugins: Vec<crate::plugin::PluginRecord>,
}

/// Where a search of a run's log matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LogMatches {
    /// The matching lines' seqs, in order.
    #[ts(type = "number[]")]
    pub seqs: Vec<i64>,
    /// More lines matched than the limit let through.
    pub more: bool,
}

/// One change someone made through the API: a run started, a rollback, a promote, a cancel, a
/// setting. Records what was asked (the operation and its path), never a request's body, so no
/// secret value can land here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HistoryEntry {
    #[ts(type = "number")]
    pub at: i64,
    /// The console that asked: `alice@laptop (window)`, `ops@build (cli)`, or `api` for a
    /// client that did not say.
    pub actor: String,
    /// The operation's name (`rollback`, `promote`, `cancel_run`, `set_edge`, …).
    pub action: String,
    /// The request's path under `/api/v1` (`/projects/web/stages/prod/promote`).
    pub target: String,
    pub project_id: Option<String>,
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
}

/// Requests the edge answered for a stage's host name during a deploy's switch window, from
/// the start of the new release to the end of the drain (its front Caddy's access log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SwitchCount {
    #[ts(type = "number")]
    pub requests: i64,
    /// Answered with a 5xx (the upstream failed, or no upstream answered).
    #[ts(type = "number")]
    pub failed: i64,
    /// The window, Unix ms.
    #[ts(type = "number")]
    pub from: i64,
    #[ts(type = "number")]
    pub to: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LogLine {
    #[ts(type = "number")]
    pub run_id: i64,
    /// Order within the run, from 1.
    #[ts(type = "number")]
    pub seq: i64,
    #[ts(type = "number | null")]
    pub step_id: Option<i64>,
    /// `stdout`, `stderr` or `system` (Slipway's own lines).
    pub stream: String,
    #[ts(type = "number")]
    pub ts: i64,
    pub line: String,
}
