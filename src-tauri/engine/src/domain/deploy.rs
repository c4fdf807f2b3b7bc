//! What a project deploys and how a stage rolls it out. Kept apart from the pipeline
//! (`slipway.yml`): a prebuilt image has no repository to read it from.

use crate::{Error, ErrorCode, Result};

pub use slipway_protocol::deploy::{DeployConfig, Health, HealthKind, Rollout};

pub fn validate(d: &DeployConfig) -> Result<()> {
    let invalid = |m: String| Err(Error::new(ErrorCode::InvalidInput, m));
    d.health.range()?;
    if d.replicas == 0 {
        return invalid("deploy.replicas: at least 1".into());
    }
    if d.health.interval_ms == 0 || d.health.timeout_ms == 0 {
        return invalid("deploy.health: interval_ms and timeout_ms must be above 0".into());
    }
    if matches!(d.health.kind, crate::domain::deploy::HealthKind::Http | crate::domain::deploy::HealthKind::Tcp) && d.port.is_none() {
        return invalid("deploy.health: an http or tcp check needs deploy.port".into());
    }
    if !d.health.path.starts_with('/') {
        return invalid(format!("deploy.health.path: {:?} must start with /", d.health.path));
    }
    Ok(())
}

pub fn validate_rollout(stage: &str, r: &Rollout) -> Result<()> {
    let invalid = |m: String| Err(Error::new(ErrorCode::InvalidInput, m));
    if r.batch_size == 0 {
        return invalid(format!("stages: {stage}: rollout.batch_size must be at least 1"));
    }
    if r.canary_percent == 0 || r.canary_percent >= 100 {
        return invalid(format!("stages: {stage}: rollout.canary_percent must be between 1 and 99"));
    }
    if let Some(s) = &r.subdomain {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return invalid(format!("stages: {stage}: rollout.subdomain {s:?} must be letters, digits, dots and dashes"));
        }
    }
    Ok(())
}

/// One round of a rolling deploy: the new replicas it starts (by index) and the old containers
/// it retires once they take traffic (by index into the old ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub new: std::ops::Range<usize>,
    pub retire: std::ops::Range<usize>,
}

/// What a rolling deploy does next, round by round: `batch_size` new replicas at a time (at
/// least one), and as many old containers retired as new ones came; the last round retires
/// whatever old is left, so scaling down loses the surplus at the end, never before.
pub fn rolling_rounds(replicas: usize, batch_size: u32, old: usize) -> Vec<Round> {
    let batch = (batch_size.max(1) as usize).min(replicas.max(1));
    let mut rounds = Vec::new();
    let mut start = 0;
    while start < replicas {
        let end = (start + batch).min(replicas);
        let retire_end = if end == replicas { old } else { end.min(old) };
        rounds.push(Round { new: start..end, retire: start.min(old)..retire_end });
        start = end;
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replicas, batch size, old containers.
    type Shape = (usize, u32, usize);

    #[test]
    fn rolling_rules() {
        let r = |new: std::ops::Range<usize>, retire: std::ops::Range<usize>| Round { new, retire };
        #[rustfmt::skip]
        let cases: Vec<(&str, Shape, Vec<Round>)> = vec![
            ("one at a time replaces one old per round", (3, 1, 3), vec![r(0..1, 0..1), r(1..2, 1..2), r(2..3, 2..3)]),
            ("batches of two, the last one smaller", (3, 2, 3), vec![r(0..2, 0..2), r(2..3, 2..3)]),
            ("a batch size of 0 counts as 1", (2, 0, 2), vec![r(0..1, 0..1), r(1..2, 1..2)]),
            ("a batch larger than the replicas is one round", (2, 5, 2), vec![r(0..2, 0..2)]),
            ("scaling up retires what old there is, early", (3, 1, 1), vec![r(0..1, 0..1), r(1..2, 1..1), r(2..3, 1..1)]),
            ("scaling down retires the surplus in the last round", (2, 1, 4), vec![r(0..1, 0..1), r(1..2, 1..4)]),
            ("a first deploy retires nothing", (2, 1, 0), vec![r(0..1, 0..0), r(1..2, 0..0)]),
        ];
        for (rule, (replicas, batch, old), want) in cases {
            assert_eq!(rolling_rounds(replicas, batch, old), want, "{rule}");
        }
    }

    /// The properties every rolling plan has, over every shape up to 12 replicas, batch sizes
    /// 0..=13 and 0..=14 old containers (2,520 plans): each new replica starts exactly once, in
    /// order; each old container is retired exactly once; never more old retired than new
    /// started so far (capacity never drops below the old count while old remains), except the
    /// surplus of a scale-down, which goes only in the last round; no round starts more than
    /// the batch allows.
    #[test]
    fn every_rolling_plan_starts_each_new_once_retires_each_old_once_and_never_shrinks_early() {
        for replicas in 1..=12usize {
            for batch in 0..=13u32 {
                for old in 0..=14usize {
                    let rounds = rolling_rounds(replicas, batch, old);
                    let shape = format!("replicas {replicas}, batch {batch}, old {old}: {rounds:?}");
                    let (mut started, mut retired) = (0, 0);
                    for (i, r) in rounds.iter().enumerate() {
                        assert_eq!(r.new.start, started, "new replicas in order, none twice: {shape}");
                        assert_eq!(r.retire.start, retired, "old containers in order, none twice: {shape}");
                        assert!(r.new.len() <= (batch.max(1) as usize), "within the batch: {shape}");
                        started = r.new.end;
                        retired = r.retire.end;
                        let last = i + 1 == rounds.len();
                        assert!(last || retired <= started, "no old retired before a new one took its place: {shape}");
                    }
                    assert_eq!((started, retired), (replicas, old), "everything started and retired: {shape}");
                }
            }
        }
    }

    #[test]
    fn expect_ranges() {
        let mut h = Health::default();
        assert_eq!(h.range().unwrap(), (200, 399));
        h.expect = "204".into();
        assert_eq!(h.range().unwrap(), (204, 204));
        h.expect = "300-200".into();
        assert!(h.range().unwrap_err().to_string().contains("health.expect"));
        h.expect = "ok".into();
        assert!(h.range().is_err());
    }

    #[test]
    fn yaml_defaults_fill_in() {
        let d: DeployConfig = serde_norway::from_str("port: 8080\nhealth: {path: /healthz}\n").unwrap();
        assert_eq!(d.port, Some(8080));
        assert_eq!(d.health.path, "/healthz");
        assert_eq!(d.health.retries, 3);
        assert_eq!(d.replicas, 1);
        assert!(serde_norway::from_str::<DeployConfig>("prot: 1\n").unwrap_err().to_string().contains("unknown field"));
    }
}

/// The fastest pace of the health gate's probes before a release first answers: what a
/// hand-written blue/green script polls at. A release is usually ready somewhere inside its
/// start period, and every ms between "ready" and the next probe is added to the deploy.
pub const EARLY_PROBE_CEILING: std::time::Duration = std::time::Duration::from_millis(100);

/// How long the health gate waits before its next probe, from the start of the one that just
/// failed. Inside the start period probes ramp up from 25 ms (`ramp` is the last early pause;
/// `None` before the first) to [`EARLY_PROBE_CEILING`] and stay there: a probe that comes just
/// too early costs at most 100 ms. After it, failures count and come at the interval's pace,
/// as Docker's own checks do. Never faster than the interval. Returns (wait, the next `ramp`).
pub fn gate_pause(
    since_start: std::time::Duration,
    start_period: std::time::Duration,
    interval: std::time::Duration,
    ramp: Option<std::time::Duration>,
) -> (std::time::Duration, Option<std::time::Duration>) {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(25);
    if since_start >= start_period {
        return (interval, ramp);
    }
    let ceiling = EARLY_PROBE_CEILING.min(interval);
    let pause = ramp.map_or(FIRST, |p| p * 2).min(ceiling);
    (pause, Some(pause))
}

#[cfg(test)]
mod gate_pause_tests {
    use super::*;
    use std::time::Duration;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn early_probes_ramp_from_25_ms_to_100_ms_and_stay_there() {
        let (mut ramp, mut seen) = (None, vec![]);
        for _ in 0..6 {
            let (wait, next) = gate_pause(MS(500), MS(30_000), MS(1000), ramp);
            seen.push(wait.as_millis());
            ramp = next;
        }
        assert_eq!(seen, [25, 50, 100, 100, 100, 100]);
    }

    #[test]
    fn early_probes_are_never_faster_than_the_interval_allows_nor_slower_than_it() {
        for (interval, ramp, want) in [(20, None, 20), (60, Some(50), 60), (1000, Some(100), 100), (5000, Some(100), 100)] {
            assert_eq!(gate_pause(MS(10), MS(30_000), MS(interval), ramp.map(MS)).0, MS(want), "interval {interval}, ramp {ramp:?}");
        }
    }

    #[test]
    fn after_the_start_period_failures_come_at_the_interval() {
        for (since, period) in [(30_000, 30_000), (31_000, 30_000), (0, 0)] {
            assert_eq!(gate_pause(MS(since), MS(period), MS(1000), Some(MS(100))).0, MS(1000), "{since} ms into a {period} ms period");
        }
    }
}
