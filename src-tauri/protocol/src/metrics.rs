//! What the console reads at a glance: the dashboard rows, per-stage metrics, the tray.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::project::Strategy;
use crate::release::{PendingPromotion, Release};
use crate::run::RunSummary;

/// How a stage is doing, from its live release and its last finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StageHealth {
    /// A live release, and the last deploy succeeded.
    Healthy,
    /// The last deploy failed, but an older release still serves.
    Degraded,
    /// The last deploy failed and nothing serves.
    Failing,
    /// Nothing deployed yet.
    Unknown,
}

/// The dashboard's row for one project × stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StageSummary {
    pub project_id: String,
    pub project_name: String,
    pub stage: String,
    pub strategy: Strategy,
    pub promote_from: Option<String>,
    pub live: Option<Release>,
    /// The newest queued or running run of the stage.
    pub current: Option<RunSummary>,
    /// The step `current` is in, while it runs.
    pub current_step: Option<String>,
    pub last_failure: Option<RunSummary>,
    pub health: StageHealth,
    /// Set: the stage takes no automatic deploy until it is unpinned.
    pub pin: Option<crate::watch::Pin>,
    /// The health watch's latest word on the live release (none: not probed yet, or watch off).
    pub live_health: Option<crate::watch::LiveHealth>,
}

/// Deploys finished on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DayCount {
    /// Start of the day, Unix ms.
    #[ts(type = "number")]
    pub day: i64,
    pub succeeded: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StageMetrics {
    pub project_id: String,
    pub stage: String,
    /// One entry per day of the window, oldest first.
    pub days: Vec<DayCount>,
    pub deploys: u32,
    pub succeeded: u32,
    /// succeeded / deploys; None without deploys.
    pub success_rate: Option<f64>,
    #[ts(type = "number | null")]
    pub median_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub p95_ms: Option<i64>,
    /// Failures followed by a success within the window.
    pub restores: u32,
    /// Median time to restore: from a failed (or rolled back) run to the next succeeded one,
    /// and from the start of a health-watch incident to its end.
    #[ts(type = "number | null")]
    pub restore_median_ms: Option<i64>,
    /// Health-watch incidents (degraded or down) that overlap the window.
    #[serde(default)]
    pub incidents: u32,
    /// Share of the window, since the stage was first seen in it, that its live release was not
    /// down (degraded counts as up); None before anything ran or was watched.
    #[serde(default)]
    pub uptime: Option<f64>,
    /// The deploys in the window whose switch the edge counted, oldest first.
    #[serde(default)]
    pub switches: Vec<SwitchCost>,
}

/// One deploy's switch, in requests (the metrics chart of failed requests per deploy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SwitchCost {
    #[ts(type = "number")]
    pub run_id: i64,
    #[ts(type = "number")]
    pub requests: i64,
    #[ts(type = "number")]
    pub failed: i64,
}

/// What the tray icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    Idle,
    Running,
    Failed,
    Paused,
}

/// Everything the tray menu lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TraySummary {
    pub state: TrayState,
    pub recent: Vec<RunSummary>,
    pub promotions: Vec<PendingPromotion>,
    /// Stages whose live release the health watch finds degraded or down, or that are pinned.
    #[serde(default)]
    pub attention: Vec<StageAttention>,
}

/// A stage the tray names: its live release is not healthy, or it is pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StageAttention {
    pub project_id: String,
    pub stage: String,
    pub live: Option<crate::watch::LiveState>,
    #[ts(type = "number | null")]
    pub pinned_at: Option<i64>,
}

impl StageAttention {
    /// The tray menu's line: `web/dev is down · pinned at #4`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.live.filter(|l| *l != crate::watch::LiveState::Healthy) {
            parts.push(format!("is {}", l.as_str()));
        }
        if let Some(n) = self.pinned_at {
            parts.push(format!("pinned at #{n}"));
        }
        format!("{}/{} {}", self.project_id, self.stage, parts.join(" · "))
    }
}
