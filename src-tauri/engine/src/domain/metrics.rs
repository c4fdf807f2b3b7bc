//! What the console reads at a glance: a row per project × stage for the dashboard, per-stage
//! metrics over the last 30 days, and the tray's state. All computed on demand from `runs`,
//! `run_steps` and `releases`; nothing is stored twice, so nothing can disagree with the lists.

use crate::domain::run::RunStatus;

pub use slipway_protocol::metrics::{DayCount, StageHealth, StageMetrics, StageSummary, TrayState, TraySummary};

pub const WINDOW_DAYS: i64 = 30;
pub const DAY_MS: i64 = 86_400_000;

/// A finished or unfinished run as the metrics need it.
#[derive(Debug, Clone)]
pub struct RunPoint {
    pub status: RunStatus,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// A stretch of time the health watch found the live release degraded or down.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    pub start: i64,
    /// None: still going on.
    pub end: Option<i64>,
    pub down: bool,
}

/// Share of `[from, now]` the stage was not down. Overlapping outages count once.
pub fn uptime(outages: &[Outage], from: i64, now: i64) -> Option<f64> {
    if now <= from {
        return None;
    }
    let mut spans: Vec<(i64, i64)> =
        outages.iter().filter(|o| o.down).map(|o| (o.start.max(from), o.end.unwrap_or(now).min(now))).filter(|(a, b)| b > a).collect();
    spans.sort_unstable();
    let (mut down, mut reach) = (0i64, from);
    for (a, b) in spans {
        let a = a.max(reach);
        if b > a {
            down += b - a;
            reach = b;
        }
    }
    Some(1.0 - down as f64 / (now - from) as f64)
}

/// Metrics of one stage from its runs (oldest first) and the health watch's outages over the
/// window ending at `now`.
pub fn compute(project_id: &str, stage: &str, runs: &[RunPoint], outages: &[Outage], now: i64) -> StageMetrics {
    let today = now - now.rem_euclid(DAY_MS);
    let first_day = today - (WINDOW_DAYS - 1) * DAY_MS;
    let mut days: Vec<DayCount> = (0..WINDOW_DAYS).map(|i| DayCount { day: first_day + i * DAY_MS, succeeded: 0, failed: 0 }).collect();
    let (mut deploys, mut succeeded) = (0u32, 0u32);
    let mut durations = Vec::new();
    let mut restore_times = Vec::new();
    // When the stage went bad: the first failure since its last success.
    let mut broken_since: Option<i64> = None;
    for r in runs {
        let Some(end) = r.finished_at else { continue };
        if !RunStatus::COUNTED.contains(&r.status) || end < first_day {
            continue;
        }
        deploys += 1;
        let slot = &mut days[((end - first_day) / DAY_MS).clamp(0, WINDOW_DAYS - 1) as usize];
        if let Some(start) = r.started_at {
            durations.push((end - start).max(0));
        }
        if r.status == RunStatus::Succeeded {
            succeeded += 1;
            slot.succeeded += 1;
            if let Some(since) = broken_since.take() {
                restore_times.push((end - since).max(0));
            }
        } else {
            slot.failed += 1;
            broken_since.get_or_insert(end);
        }
    }
    restore_times.extend(outages.iter().filter_map(|o| o.end.filter(|e| *e >= first_day).map(|e| (e - o.start).max(0))));
    durations.sort_unstable();
    restore_times.sort_unstable();
    let seen_from =
        runs.iter().filter_map(|r| r.started_at.or(r.finished_at)).chain(outages.iter().map(|o| o.start)).filter(|t| *t >= first_day).min();
    StageMetrics {
        project_id: project_id.to_string(),
        stage: stage.to_string(),
        days,
        deploys,
        succeeded,
        success_rate: (deploys > 0).then(|| succeeded as f64 / deploys as f64),
        median_ms: percentile(&durations, 0.5),
        p95_ms: percentile(&durations, 0.95),
        restores: restore_times.len() as u32,
        restore_median_ms: percentile(&restore_times, 0.5),
        incidents: outages.iter().filter(|o| o.end.is_none_or(|e| e >= first_day)).count() as u32,
        uptime: seen_from.and_then(|from| uptime(outages, from, now)),
        switches: Vec::new(),
    }
}

pub fn health(live: bool, last_finished: Option<RunStatus>) -> StageHealth {
    match (live, last_finished.map(RunStatus::is_failure)) {
        (true, Some(true)) => StageHealth::Degraded,
        (true, _) => StageHealth::Healthy,
        (false, Some(true)) => StageHealth::Failing,
        (false, _) => StageHealth::Unknown,
    }
}

/// Paused wins (nothing new starts), then running, then a stage whose last deploy failed or
/// whose live release the health watch finds degraded or down.
pub fn tray_state(paused: bool, stages: &[StageSummary]) -> TrayState {
    if paused {
        TrayState::Paused
    } else if stages.iter().any(|s| s.current.is_some()) {
        TrayState::Running
    } else if stages.iter().any(|s| {
        matches!(s.health, StageHealth::Degraded | StageHealth::Failing)
            || s.live_health.as_ref().is_some_and(|h| h.state != crate::domain::watch::LiveState::Healthy)
    }) {
        TrayState::Failed
    } else {
        TrayState::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::project::Strategy;
    use crate::domain::run::{RunSummary, Trigger};

    fn run(status: RunStatus, start: i64, end: i64) -> RunPoint {
        RunPoint { status, started_at: Some(start), finished_at: Some(end) }
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&v, 0.5), Some(10));
        assert_eq!(percentile(&v, 0.95), Some(19));
        assert_eq!(percentile(&[7], 0.95), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn counts_rates_durations_and_time_to_restore() {
        let h = 3_600_000;
        let runs = vec![
            run(RunStatus::Succeeded, NOW - 10 * h, NOW - 10 * h + 30_000),
            // Broken at -8 h, a second failure does not move the start; fixed at -5 h.
            run(RunStatus::Failed, NOW - 8 * h - 60_000, NOW - 8 * h),
            run(RunStatus::RolledBack, NOW - 7 * h - 90_000, NOW - 7 * h),
            run(RunStatus::Cancelled, NOW - 6 * h - 1000, NOW - 6 * h),
            run(RunStatus::Succeeded, NOW - 5 * h - 40_000, NOW - 5 * h),
            // Older than the window: not counted.
            run(RunStatus::Failed, NOW - 40 * 24 * h, NOW - 40 * 24 * h + 1),
        ];
        let m = compute("web", "dev", &runs, &[], NOW);
        assert_eq!((m.deploys, m.succeeded), (4, 2));
        assert_eq!(m.success_rate, Some(0.5));
        assert_eq!(m.median_ms, Some(40_000));
        assert_eq!(m.p95_ms, Some(90_000));
        assert_eq!(m.restores, 1);
        assert_eq!(m.restore_median_ms, Some(3 * h));
        assert_eq!(m.days.len(), WINDOW_DAYS as usize);
        let total: u32 = m.days.iter().map(|d| d.succeeded + d.failed).sum();
        assert_eq!(total, 4);
        assert!(m.days.windows(2).all(|w| w[1].day - w[0].day == DAY_MS));
        assert_eq!(m.days.last().unwrap().day, NOW - NOW % DAY_MS);
    }

    #[test]
    fn no_runs_no_rates() {
        let m = compute("web", "prod", &[], &[], NOW);
        assert_eq!((m.deploys, m.success_rate, m.median_ms, m.restore_median_ms), (0, None, None, None));
    }

    #[test]
    fn health_and_tray_state() {
        assert_eq!(health(true, Some(RunStatus::RolledBack)), StageHealth::Degraded);
        assert_eq!(health(true, Some(RunStatus::Succeeded)), StageHealth::Healthy);
        assert_eq!(health(false, Some(RunStatus::Failed)), StageHealth::Failing);
        assert_eq!(health(false, None), StageHealth::Unknown);
        let row = |health, current: Option<RunSummary>| StageSummary {
            project_id: "p".into(),
            project_name: "p".into(),
            stage: "dev".into(),
            strategy: Strategy::default(),
            promote_from: None,
            live: None,
            current,
            current_step: None,
            last_failure: None,
            health,
            pin: None,
            live_health: None,
        };
        let running = RunSummary {
            id: 1,
            project_id: "p".into(),
            stage: "dev".into(),
            trigger: Trigger::Manual,
            status: RunStatus::Running,
            commit_sha: None,
            ref_name: None,
            reason: None,
            delivery_id: None,
            queued_at: 0,
        };
        assert_eq!(tray_state(false, &[row(StageHealth::Healthy, None)]), TrayState::Idle);
        assert_eq!(tray_state(false, &[row(StageHealth::Degraded, None)]), TrayState::Failed);
        assert_eq!(tray_state(false, &[row(StageHealth::Degraded, None), row(StageHealth::Healthy, Some(running))]), TrayState::Running);
        assert_eq!(tray_state(true, &[row(StageHealth::Failing, None)]), TrayState::Paused);
        let mut down = row(StageHealth::Healthy, None);
        down.live_health = Some(crate::domain::watch::LiveHealth {
            state: crate::domain::watch::LiveState::Down,
            release: 1,
            since: 0,
            what: Some("503".into()),
        });
        assert_eq!(tray_state(false, &[down]), TrayState::Failed, "a live release the watch finds down");
    }

    #[test]
    fn uptime_counts_down_time_once_and_degraded_time_as_up() {
        let o = |start, end: Option<i64>, down| Outage { start, end, down };
        for (rule, outages, want) in [
            ("no outage: all up", vec![], 1.0),
            ("a quarter down", vec![o(0, Some(25), true)], 0.75),
            ("degraded is up", vec![o(0, Some(50), false)], 1.0),
            ("overlaps count once", vec![o(0, Some(30), true), o(20, Some(50), true)], 0.5),
            ("an open outage runs to now", vec![o(90, None, true)], 0.9),
            ("before the window is cut off", vec![o(-50, Some(10), true)], 0.9),
        ] {
            assert_eq!(uptime(&outages, 0, 100), Some(want), "{rule}");
        }
        assert_eq!(uptime(&[], 100, 100), None, "an empty window has no uptime");
    }

    #[test]
    fn time_to_restore_includes_ended_incidents() {
        let outages =
            [Outage { start: NOW - 60_000, end: Some(NOW - 30_000), down: true }, Outage { start: NOW - 1000, end: None, down: true }];
        let m = compute("web", "dev", &[], &outages, NOW);
        assert_eq!((m.restores, m.restore_median_ms, m.incidents), (1, Some(30_000), 2));
        let up = m.uptime.unwrap();
        assert!((up - (1.0 - 31_000.0 / 60_000.0)).abs() < 1e-9, "{up}");
    }
}
