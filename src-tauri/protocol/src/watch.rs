//! After the switch: the health watch of live releases, its incidents, and pins (a stage that
//! takes no automatic deploy until a person unpins it).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the health watch does when a stage's live release goes down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OnUnhealthy {
    /// Notify, and leave the decision to a person.
    #[default]
    Alert,
    /// Within `watch_secs` of going live, roll back to the previous retained release.
    Rollback,
}

/// How a stage's live release answers the health watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    Healthy,
    /// Some of its containers (replicas, services) fail, not all.
    Degraded,
    /// Every container fails, or none runs.
    Down,
}

named!(LiveState { Healthy => "healthy", Degraded => "degraded", Down => "down" });

impl LiveState {
    pub fn parse(s: &str) -> Option<LiveState> {
        LiveState::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

/// The health watch's latest word on a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LiveHealth {
    pub state: LiveState,
    /// The release that was probed.
    #[ts(type = "number")]
    pub release: i64,
    /// When the stage entered this state, Unix ms.
    #[ts(type = "number")]
    pub since: i64,
    /// The failing check's last output (none when healthy).
    pub what: Option<String>,
}

/// A stage that takes no automatic deploy: pushes and polls are recorded and wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Pin {
    /// The release the stage is held at.
    #[ts(type = "number")]
    pub release: i64,
    /// Why, e.g. `rollback of release 5`.
    pub reason: String,
    /// The health watch pinned it (by rolling it back); it does not roll back again until a
    /// person acts.
    pub auto: bool,
    #[ts(type = "number")]
    pub pinned_at: i64,
}

impl Pin {
    /// What a push to the pinned stage is told.
    pub fn refusal(&self, stage: &str) -> String {
        format!("stage {stage} pinned at release {} by {}; unpin to deploy", self.release, self.reason)
    }
}

/// One stretch of time a live release was degraded or down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Incident {
    #[ts(type = "number")]
    pub id: i64,
    pub project_id: String,
    pub stage: String,
    #[ts(type = "number")]
    pub release: i64,
    pub state: LiveState,
    #[ts(type = "number")]
    pub started_at: i64,
    /// None: still going on.
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    pub what: String,
}

/// What unpinning a stage offers to deploy (it deploys nothing by itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Unpinned {
    pub project_id: String,
    pub stage: String,
    /// The newest commit of the stage's branch, when it names one branch and differs from the
    /// live release's commit.
    pub offer: Option<Offer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Offer {
    pub git_ref: String,
    pub commit: String,
}
