//! The health watch's decisions: a stage's state from one round of probes, when a state counts
//! (two rounds in a row agree, so one lost probe is not an incident), what a change is
//! announced as, and when a stage that went down is rolled back on its own.

pub use slipway_protocol::watch::{Incident, LiveHealth, LiveState, Offer, OnUnhealthy, Pin, Unpinned};

/// Rounds in a row that must agree before the stage's state changes.
pub const ROUNDS_TO_CHANGE: u32 = 2;

/// One round: each container's probe, `Err` with what failed.
pub fn state_of(results: &[Result<(), String>]) -> LiveState {
    let failing = results.iter().filter(|r| r.is_err()).count();
    if results.is_empty() || failing == results.len() {
        LiveState::Down
    } else if failing > 0 {
        LiveState::Degraded
    } else {
        LiveState::Healthy
    }
}

/// What the watch holds between rounds for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    /// The state announced (None: not known yet; the first rounds set it without a word).
    pub shown: Option<LiveState>,
    /// A different state seen in the last rounds, and how many in a row.
    pub pending: Option<(LiveState, u32)>,
}

/// A change the watch announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first state known after the engine started or a release went live: recorded, not
    /// notified (a deploy that just ended said what there was to say).
    Settled(LiveState),
    /// Healthy → degraded or down, degraded → down: an incident opens (or gets worse).
    Worse(LiveState),
    /// Back to healthy: the incident ends.
    Recovered,
    /// Down → degraded: still an incident, better.
    Better(LiveState),
}

/// Feeds one round's state in; `Some` when the announced state changes.
pub fn observe(t: &mut Tracker, now: LiveState) -> Option<Change> {
    if t.shown == Some(now) {
        t.pending = None;
        return None;
    }
    let count = match t.pending {
        Some((s, n)) if s == now => n + 1,
        _ => 1,
    };
    if count < ROUNDS_TO_CHANGE {
        t.pending = Some((now, count));
        return None;
    }
    let before = t.shown.replace(now);
    t.pending = None;
    Some(match (before, now) {
        (None, s) => Change::Settled(s),
        (_, LiveState::Healthy) => Change::Recovered,
        (Some(LiveState::Down), LiveState::Degraded) => Change::Better(LiveState::Degraded),
        (_, s) => Change::Worse(s),
    })
}

/// Why the watch does not roll a down stage back on its own, or None when it does.
pub fn no_auto_rollback(
    rule: OnUnhealthy,
    state: LiveState,
    live_for_ms: i64,
    watch_secs: u32,
    pin: Option<&Pin>,
    previous: Option<i64>,
) -> Option<String> {
    if rule == OnUnhealthy::Alert {
        return Some("the stage's on_unhealthy is alert: a person decides".into());
    }
    if state != LiveState::Down {
        return Some("only a release that is down is rolled back on its own".into());
    }
    if let Some(p) = pin {
        return Some(if p.auto {
            format!("the stage was rolled back on its own already (pinned at release {}): a person decides now", p.release)
        } else {
            format!("the stage is pinned at release {} by {}", p.release, p.reason)
        });
    }
    if live_for_ms > i64::from(watch_secs) * 1000 {
        return Some(format!("the release has been live for more than watch_secs ({watch_secs} s): a person decides"));
    }
    if previous.is_none() {
        return Some("there is no earlier retained release to go back to".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use LiveState::*;

    #[test]
    fn a_round_is_healthy_when_all_pass_degraded_when_some_fail_and_down_when_all_fail_or_none_run() {
        let (ok, bad) = (Ok(()), Err("503".to_string()));
        for (results, want) in [
            (vec![ok.clone(), ok.clone()], Healthy),
            (vec![ok.clone(), bad.clone()], Degraded),
            (vec![bad.clone(), bad.clone()], Down),
            (vec![], Down),
        ] {
            assert_eq!(state_of(&results), want, "{results:?}");
        }
    }

    #[test]
    fn a_state_counts_after_two_rounds_in_a_row_and_each_change_is_announced_once() {
        let mut t = Tracker { shown: None, pending: None };
        let seen: Vec<Option<Change>> = [Healthy, Healthy, Down, Healthy, Down, Down, Down, Degraded, Degraded, Healthy, Healthy, Healthy]
            .into_iter()
            .map(|s| observe(&mut t, s))
            .collect();
        assert_eq!(
            seen,
            [
                None,
                Some(Change::Settled(Healthy)),
                None,
                None, // one lost probe is not an incident
                None,
                Some(Change::Worse(Down)),
                None, // still down: said once
                None,
                Some(Change::Better(Degraded)),
                None,
                Some(Change::Recovered),
                None,
            ]
        );
    }

    #[test]
    fn the_watch_rolls_back_only_a_down_unpinned_release_inside_its_window_with_somewhere_to_go() {
        let auto = Pin { release: 4, reason: "rollback of release 5".into(), auto: true, pinned_at: 0 };
        // (rule, on_unhealthy, state, live for ms, pin, previous release, rolls back)
        type Case<'a> = (&'a str, OnUnhealthy, LiveState, i64, Option<&'a Pin>, Option<i64>, bool);
        let cases: [Case; 7] = [
            ("rolls back", OnUnhealthy::Rollback, Down, 5_000, None, Some(4), true),
            ("alert leaves it to a person", OnUnhealthy::Alert, Down, 5_000, None, Some(4), false),
            ("degraded is not down", OnUnhealthy::Rollback, Degraded, 5_000, None, Some(4), false),
            ("never loops: auto-pinned", OnUnhealthy::Rollback, Down, 5_000, Some(&auto), Some(3), false),
            ("after watch_secs a person decides", OnUnhealthy::Rollback, Down, 601_000, None, Some(4), false),
            ("at watch_secs exactly it still does", OnUnhealthy::Rollback, Down, 600_000, None, Some(4), true),
            ("nowhere to go", OnUnhealthy::Rollback, Down, 5_000, None, None, false),
        ];
        for (rule, on, state, live_for, pin, previous, rolls) in cases {
            let why = no_auto_rollback(on, state, live_for, 600, pin, previous);
            assert_eq!(why.is_none(), rolls, "{rule}: {why:?}");
        }
    }
}
