//! The console's at-a-glance reads: the dashboard, per-stage metrics, the tray's summary.

use crate::domain::metrics::{compute, health, tray_state, Outage, StageMetrics, StageSummary, TraySummary, DAY_MS, WINDOW_DAYS};
use crate::domain::project::stage_id;
use crate::domain::run::RunStatus;
use crate::domain::watch::LiveState;
use crate::engine::Engine;
use crate::store::{now_ms, runs};
use crate::Result;
use slipway_protocol::metrics::{StageAttention, SwitchCost};

impl Engine {
    /// Every project × stage at a glance.
    pub async fn dashboard(&self) -> Result<Vec<StageSummary>> {
        let store = self.store();
        let mut out = Vec::new();
        for p in self.projects().await? {
            for s in &p.stages {
                let sid = stage_id(&p.id, &s.name);
                let live = crate::store::releases::live(store, &sid).await?;
                let current = runs::newest_of_stage(store, &sid, &[RunStatus::Queued, RunStatus::Running]).await?;
                let current_step = match current.as_ref().filter(|c| c.status == RunStatus::Running) {
                    Some(c) => runs::running_step_name(store, c.id).await?,
                    None => None,
                };
                let last_failure = runs::newest_of_stage(store, &sid, RunStatus::FAILURES).await?;
                let last_finished = runs::newest_of_stage(store, &sid, RunStatus::COUNTED).await?.map(|r| r.status);
                out.push(StageSummary {
                    project_id: p.id.clone(),
                    project_name: p.name.clone(),
                    stage: s.name.clone(),
                    strategy: s.strategy,
                    promote_from: s.promote_from.clone(),
                    health: health(live.is_some(), last_finished),
                    live,
                    current,
                    current_step,
                    last_failure,
                    pin: crate::store::pins::get(store, &sid).await?,
                    live_health: self.live_health(&sid),
                });
            }
        }
        Ok(out)
    }

    /// Per-stage metrics over the last [`WINDOW_DAYS`] days, of one project or all.
    pub async fn metrics(&self, project: Option<&str>) -> Result<Vec<StageMetrics>> {
        let now = now_ms();
        let since = now - WINDOW_DAYS * DAY_MS;
        let mut out = Vec::new();
        for p in self.projects().await?.into_iter().filter(|p| project.is_none_or(|id| id == p.id)) {
            for s in &p.stages {
                let sid = stage_id(&p.id, &s.name);
                let points = runs::finished_since(self.store(), &sid, since).await?;
                let outages: Vec<Outage> = crate::store::incidents::since(self.store(), &sid, since)
                    .await?
                    .iter()
                    .map(|i| Outage { start: i.started_at, end: i.ended_at, down: i.state == LiveState::Down })
                    .collect();
                let mut m = compute(&p.id, &s.name, &points, &outages, now);
                m.switches = runs::switch_costs(self.store(), &sid, since)
                    .await?
                    .into_iter()
                    .map(|(run_id, requests, failed)| SwitchCost { run_id, requests, failed })
                    .collect();
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The tray's icon state, its last five runs and the promotions waiting for a click.
    pub async fn tray_summary(&self) -> Result<TraySummary> {
        let stages = self.dashboard().await?;
        let recent = runs::recent(self.store(), 5).await?;
        let attention = stages
            .iter()
            .filter(|s| s.pin.is_some() || s.live_health.as_ref().is_some_and(|h| h.state != LiveState::Healthy))
            .map(|s| StageAttention {
                project_id: s.project_id.clone(),
                stage: s.stage.clone(),
                live: s.live_health.as_ref().map(|h| h.state),
                pinned_at: s.pin.as_ref().map(|p| p.release),
            })
            .collect();
        Ok(TraySummary {
            state: tray_state(self.auto_deploy_paused(), &stages),
            recent,
            promotions: self.pending_promotions().await?,
            attention,
        })
    }
}
