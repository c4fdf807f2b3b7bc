//! The four ways a stage moves to a new release. Each returns the new release's containers
//! once they serve and passed verification; on any failure it first puts traffic back on the
//! old containers (which stay running until then), then removes the new ones.

use crate::domain::deploy::rolling_rounds;
use crate::domain::run::RunStatus;
use std::time::Duration;

use super::{Deploy, Stop};

type Outcome = std::result::Result<Vec<String>, Stop>;

impl Deploy<'_> {
    async fn step_or_stop(&self, name: &str) -> std::result::Result<i64, Stop> {
        self.step(name).await.map_err(|e| Stop::failed(e.to_string()))
    }

    /// Starts `names` and waits for their health; on failure removes them.
    async fn bring_up(&self, names: &[String], label: &str) -> std::result::Result<(), Stop> {
        let step = self.step_or_stop(&format!("start {label}")).await?;
        if let Err(why) = self.start(names).await {
            self.remove(names).await;
            return Err(self.fail(step, RunStatus::Failed, &why.to_string()).await);
        }
        self.log(step, format!("started {}", names.join(", "))).await;
        self.done(step).await;
        let step = self.step_or_stop(&format!("health gate: {label}")).await?;
        if let Err((status, why)) = self.gate(step, names).await {
            self.remove(names).await;
            return Err(self.fail(step, status, &why).await);
        }
        self.done(step).await;
        Ok(())
    }

    /// Traffic back to `old` and the new containers gone: the end of every failed switch.
    async fn switch_back(&self, step: i64, old: &[String], new: &[String], status: RunStatus, why: &str) -> Stop {
        let (status, reason) = if old.is_empty() {
            let _ = self.route(&[]).await;
            (
                if status == RunStatus::Cancelled { status } else { RunStatus::Failed },
                format!("{why}; nothing was live before, so the stage now serves nothing"),
            )
        } else {
            match self.route_all(old).await {
                Ok(()) => (
                    if status == RunStatus::Cancelled { status } else { RunStatus::RolledBack },
                    format!("{why}; traffic switched back to the previous release"),
                ),
                Err(e) => (RunStatus::Failed, format!("{why}; switching back also failed: {e}")),
            }
        };
        self.remove(new).await;
        self.fail(step, status, &reason).await
    }

    /// Post-deploy commands, then the verification window; a failure switches back.
    async fn settle(&self, old: &[String], new: &[String]) -> std::result::Result<(), Stop> {
        if let Some(first) = new.first() {
            if let Err(why) = self.post_deploy(first).await {
                let step = self.step_or_stop("switch back").await?;
                let stop = self.switch_back(step, old, new, RunStatus::Failed, &why.to_string()).await;
                return Err(Stop { status: RunStatus::Failed, reason: stop.reason });
            }
        }
        let r = &self.target.config.rollout;
        let window = r.verify_secs.max(if old.is_empty() { 0 } else { r.drain_secs });
        let step = self.step_or_stop(&format!("verify ({window} s)")).await?;
        if window > 0 {
            self.log(step, format!("checking health for {window} s with traffic on the new release")).await;
        }
        if let Err((status, why)) = self.verify(new, Duration::from_secs(window as u64)).await {
            return Err(self.switch_back(step, old, new, status, &format!("verification failed: {why}")).await);
        }
        self.done(step).await;
        Ok(())
    }
}

/// Start beside the old release, wait for health, switch, verify, then the old one goes.
pub(super) async fn blue_green(d: &Deploy<'_>, blue: &[String]) -> Outcome {
    let green = d.names(0..d.replicas());
    d.bring_up(&green, "new release").await?;
    let step = d.step_or_stop("switch traffic").await?;
    if let Err(why) = d.route_all(&green).await {
        return Err(d.switch_back(step, blue, &green, RunStatus::Failed, &why.to_string()).await);
    }
    d.log(step, format!("{} now serves {}", d.host, green.join(", "))).await;
    d.done(step).await;
    d.settle(blue, &green).await?;
    Ok(green)
}

/// Stop, then start: the stage serves nothing in between (the UI says so).
pub(super) async fn recreate(d: &Deploy<'_>, old: &[String]) -> Outcome {
    let step = d.step_or_stop("stop old release").await?;
    d.stop(old).await;
    d.done(step).await;
    let new = d.names(0..d.replicas());
    if let Err(stop) = d.bring_up(&new, "new release").await {
        return Err(restore(d, old, stop).await);
    }
    let step = d.step_or_stop("switch traffic").await?;
    if let Err(why) = d.route_all(&new).await {
        d.remove(&new).await;
        let stop = d.fail(step, RunStatus::Failed, &why.to_string()).await;
        return Err(restore(d, old, stop).await);
    }
    d.done(step).await;
    if let Err(stop) = d.settle(&[], &new).await {
        return Err(restore(d, old, stop).await);
    }
    Ok(new)
}

/// Recreate's way back: the old containers were stopped, so they are started and routed again.
async fn restore(d: &Deploy<'_>, old: &[String], stop: Stop) -> Stop {
    if old.is_empty() {
        return stop;
    }
    match d.restart(old).await {
        Ok(()) => {
            let _ = d.route_all(old).await;
            Stop {
                status: if stop.status == RunStatus::Cancelled { RunStatus::Cancelled } else { RunStatus::RolledBack },
                reason: format!("{}; the previous release was started again", stop.reason),
            }
        }
        Err(e) => Stop { status: RunStatus::Failed, reason: format!("{}; restarting the previous release failed: {e}", stop.reason) },
    }
}

/// Replace the old containers a batch at a time, each batch health-gated before it takes
/// traffic and each old batch drained before it stops.
pub(super) async fn rolling(d: &Deploy<'_>, old: &[String]) -> Outcome {
    let total = d.replicas();
    let mut new_all: Vec<String> = Vec::new();
    let mut stopped_old: Vec<String> = Vec::new();
    for round in rolling_rounds(total, d.target.config.rollout.batch_size, old.len()) {
        let names = d.names(round.new.clone());
        if let Err(stop) = d.bring_up(&names, &format!("replicas {}-{} of {total}", round.new.start + 1, round.new.end)).await {
            return Err(unroll(d, old, &stopped_old, &new_all, stop).await);
        }
        new_all.extend(names);
        let leaving = old[round.retire.clone()].to_vec();
        let serving_old = &old[round.retire.end..];
        let step = d.step_or_stop(&format!("shift traffic ({} new, {} old)", new_all.len(), serving_old.len())).await?;
        let upstreams: Vec<String> = serving_old.iter().chain(new_all.iter()).cloned().collect();
        if let Err(why) = d.route_all(&upstreams).await {
            let stop = d.fail(step, RunStatus::Failed, &why.to_string()).await;
            return Err(unroll(d, old, &stopped_old, &new_all, stop).await);
        }
        if !leaving.is_empty() {
            d.drain(step).await;
            d.stop(&leaving).await;
            d.log(step, format!("stopped {}", leaving.join(", "))).await;
            stopped_old.extend(leaving);
        }
        d.done(step).await;
    }
    d.settle_after_stop(old, &stopped_old, &new_all).await?;
    Ok(new_all)
}

impl Deploy<'_> {
    /// `settle` for strategies whose old containers are already stopped: they are started
    /// (and health-gated) again before traffic goes back to them.
    async fn settle_after_stop(&self, old: &[String], stopped: &[String], new: &[String]) -> std::result::Result<(), Stop> {
        let r = &self.target.config.rollout;
        if let Some(first) = new.first() {
            if let Err(why) = self.post_deploy(first).await {
                return Err(unroll(self, old, stopped, new, Stop::failed(why.to_string())).await);
            }
        }
        let step = self.step_or_stop(&format!("verify ({} s)", r.verify_secs)).await?;
        if let Err((status, why)) = self.verify(new, Duration::from_secs(r.verify_secs as u64)).await {
            let stop = self.fail(step, status, &format!("verification failed: {why}")).await;
            let mut back = unroll(self, old, stopped, new, stop).await;
            if back.status == RunStatus::Failed && !old.is_empty() && !back.reason.contains("also failed") {
                back.status = RunStatus::RolledBack;
            }
            return Err(back);
        }
        self.done(step).await;
        Ok(())
    }
}

/// Rolling's way back: old containers started again and healthy, traffic on them, new removed.
async fn unroll(d: &Deploy<'_>, old: &[String], stopped: &[String], new: &[String], stop: Stop) -> Stop {
    if old.is_empty() {
        let _ = d.route(&[]).await;
        d.remove(new).await;
        return stop;
    }
    if let Err(e) = d.restart(stopped).await {
        return Stop { status: RunStatus::Failed, reason: format!("{}; restarting the previous release failed: {e}", stop.reason) };
    }
    if let Ok(step) = d.step("restore previous release").await {
        if let Err((_, why)) = d.gate(step, stopped).await {
            d.fail(step, RunStatus::Failed, &why).await;
        } else {
            d.done(step).await;
        }
    }
    let routed = d.route_all(old).await;
    d.remove(new).await;
    match routed {
        Ok(()) => Stop { status: stop.status, reason: format!("{}; traffic is back on the previous release", stop.reason) },
        Err(e) => Stop { status: RunStatus::Failed, reason: format!("{}; switching back also failed: {e}", stop.reason) },
    }
}

/// A share of traffic to one new container for a trial period, then all of it.
pub(super) async fn canary(d: &Deploy<'_>, old: &[String]) -> Outcome {
    if old.is_empty() {
        return blue_green(d, old).await;
    }
    let r = &d.target.config.rollout;
    let pct = r.canary_percent.clamp(1, 99) as u32;
    let canary = d.names(0..1);
    d.bring_up(&canary, "canary").await?;
    let step = d.step_or_stop(&format!("canary: {pct} % for {} s", r.canary_secs)).await?;
    let mut upstreams: Vec<(String, u32)> = old.iter().map(|n| (n.clone(), 100 - pct)).collect();
    upstreams.push((canary[0].clone(), pct * old.len() as u32));
    if let Err(why) = d.route(&upstreams).await {
        return Err(d.switch_back(step, old, &canary, RunStatus::Failed, &why.to_string()).await);
    }
    d.log(step, format!("{} sends {pct} % of requests to {}", d.host, canary[0])).await;
    if let Err((status, why)) = d.verify(&canary, Duration::from_secs(r.canary_secs as u64)).await {
        return Err(d.switch_back(step, old, &canary, status, &format!("canary failed: {why}")).await);
    }
    d.done(step).await;
    let mut new = canary.clone();
    if d.replicas() > 1 {
        let rest = d.names(1..d.replicas());
        if let Err(stop) = d.bring_up(&rest, "remaining replicas").await {
            let _ = d.route_all(old).await;
            d.remove(&canary).await;
            return Err(Stop { status: stop.status, reason: format!("{}; traffic is back on the previous release", stop.reason) });
        }
        new.extend(rest);
    }
    let step = d.step_or_stop("promote canary to 100 %").await?;
    if let Err(why) = d.route_all(&new).await {
        return Err(d.switch_back(step, old, &new, RunStatus::Failed, &why.to_string()).await);
    }
    d.done(step).await;
    d.settle(old, &new).await?;
    Ok(new)
}
