//! Environments: a stage seen as where a commit may go. Whether it is productive, its group,
//! the stages a commit must have passed first (`requires`, `soak_secs` on the stage), and the
//! project's rules per git strategy ([`EnvRule`]); and the environments view the API serves.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::watch::LiveHealth;

/// Which refs a rule speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RuleRefs {
    /// Pushes to branches, and commits deployed by their id (which are on no ref a rule could
    /// name, so they count as a branch that no `matching` or `except` pattern names).
    Branches,
    /// Tags, in git or in the project's image repository.
    Tags,
    /// Pull and merge requests.
    MergeRequests,
}

/// One of a project's rules: for the refs it matches (`refs`, narrowed by `matching` and
/// `except` patterns), exactly one of
/// - `through` + `before`: they reach the stages of `before` only after being live (for the
///   target's `soak_secs`) on every stage of `through`;
/// - `only`: they reach these stages and no other;
/// - `never`: they never reach these stages.
///
/// Stages are named by name, or chosen as `productive`, `non-productive` or `group:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EnvRule {
    pub refs: RuleRefs,
    /// Patterns of the ref names the rule is about (`v*`, `release/*`); none: every one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matching: Vec<String>,
    /// Patterns of ref names the rule leaves out (`main`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub through: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub never: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum EnvironmentKind {
    Productive,
    NonProductive,
}

named!(EnvironmentKind { Productive => "productive", NonProductive => "non-productive" });

impl EnvironmentKind {
    /// The kind of environment a stage is.
    pub fn of(stage: &crate::project::Stage) -> EnvironmentKind {
        if stage.productive {
            EnvironmentKind::Productive
        } else {
            EnvironmentKind::NonProductive
        }
    }
}

/// Every environment of one project, with its rules (`GET /api/v1/environments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProjectEnvironments {
    pub project_id: String,
    pub project: String,
    pub environments: Vec<Environment>,
    /// The project's rules as sentences, in the file's order ("rule 1: tags v* pass through
    /// rel before prod").
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Environment {
    pub stage: String,
    pub kind: EnvironmentKind,
    pub group: Option<String>,
    /// Its predecessors: the stages a commit must have been live and healthy on first.
    pub requires: Vec<String>,
    /// The stage whose live release it promotes, if any.
    pub promote_from: Option<String>,
    #[ts(type = "number")]
    pub soak_secs: u64,
    /// The rules that speak of this stage, as sentences.
    pub rules: Vec<String>,
    /// What it serves now.
    pub live: Option<LiveRelease>,
    /// The health watch's latest word on it (none before its first check).
    pub health: Option<LiveHealth>,
    /// What is on its way here: queued and running runs, and the release its source stage
    /// offers (with what holds it back, if anything).
    pub waiting: Vec<Waiting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LiveRelease {
    #[ts(type = "number")]
    pub number: i64,
    pub commit_sha: Option<String>,
    /// Live since, Unix ms.
    #[ts(type = "number")]
    pub since: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Waiting {
    /// The tag, branch or short commit, as a refusal names it.
    pub what: String,
    pub commit_sha: Option<String>,
    /// The stage it comes from (a promotion), if any.
    pub from_stage: Option<String>,
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
    pub state: WaitState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WaitState {
    Queued,
    Running,
    /// Its predecessors' soak ends then (Unix ms); an automatic promotion starts by itself.
    Soaking {
        #[ts(type = "number")]
        ready_at: i64,
    },
    /// A rule or a missing predecessor holds it; the reason says which.
    Refused {
        reason: String,
    },
    /// It may go, on an operator's click (manual stage, `confirm`, or auto-deploy paused).
    Ready,
}
