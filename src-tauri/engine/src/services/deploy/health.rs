//! Health probes, run from inside the Docker host: the edge container execs `wget`/`nc` against
//! a container by its name on Slipway's network. The workstation never connects to the
//! containers itself, so a host reached over SSH is checked exactly like the local one.

use crate::services::deploy::exec::DeployError;
use std::time::{Duration, Instant};

use bollard::Docker;
use tokio::sync::watch;

use super::edge::Edge;
use super::exec;
use crate::domain::deploy::{gate_pause, Health, HealthKind};

/// Docker's own verdict after its retries: final, whatever our start period says.
const UNHEALTHY: &str = "unhealthy";

/// One probe of `container`. Err carries what was seen, for the run log.
pub async fn probe(edge: &Edge, container: &str, port: Option<u16>, h: &Health) -> Result<(), DeployError> {
    let secs = h.timeout_ms.div_ceil(1000).max(1).to_string();
    let limit = Duration::from_millis(h.timeout_ms as u64) + Duration::from_secs(5);
    let docker = &edge.docker;
    match h.kind {
        HealthKind::None => running(docker, container).await,
        HealthKind::Docker => {
            let c = exec::bounded(
                "inspecting the container",
                docker.inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>),
            )
            .await?;
            let state = c.state.unwrap_or_default();
            if state.running != Some(true) {
                return Err(DeployError::from(format!("{container} is not running")));
            }
            match state.health.and_then(|h| h.status) {
                Some(bollard::models::HealthStatusEnum::HEALTHY) => Ok(()),
                Some(bollard::models::HealthStatusEnum::UNHEALTHY) => {
                    Err(DeployError::from(format!("Docker reports {container} {UNHEALTHY}")))
                }
                Some(s) => Err(DeployError::from(format!("Docker reports {container} {s}"))),
                None => Err(DeployError::from(format!("the image of {container} has no HEALTHCHECK (choose kind http or tcp)"))),
            }
        }
        HealthKind::Http => {
            let url = format!("http://{container}:{}{}", port.unwrap_or(80), h.path);
            // busybox wget prints the status line with -S and fails on 4xx/5xx; the status is
            // read from its output, so the accepted range is ours, not wget's.
            let out = edge.run(&["timeout", &secs, "wget", "-q", "-S", "-O", "/dev/null", &url], limit).await?;
            let (lo, hi) = h.range().map_err(|e| e.to_string())?;
            match http_status(&out.text) {
                Some(code) if (lo..=hi).contains(&code) => Ok(()),
                Some(code) => Err(DeployError::from(format!("GET {url} answered {code} (expected {})", h.expect))),
                None if out.code == 124 || out.code == 143 => {
                    Err(DeployError::from(format!("GET {url}: no answer within {} ms", h.timeout_ms)))
                }
                None => Err(DeployError::from(format!("GET {url}: {}", first_line(&out.text)))),
            }
        }
        HealthKind::Tcp => {
            let port = port.unwrap_or(80).to_string();
            let out = edge.run(&["timeout", &secs, "nc", "-w", &secs, container, &port], limit).await?;
            // nc exits 0 once connected and the peer closes; a kill by timeout after a connect
            // leaves no error text. Refusals and unknown names print one.
            let text = out.text.to_lowercase();
            if out.code == 0 || ((out.code == 124 || out.code == 143) && text.trim().is_empty()) {
                Ok(())
            } else {
                Err(DeployError::from(format!("TCP connect to {container}:{port}: {}", first_line(&out.text))))
            }
        }
    }
}

async fn running(docker: &Docker, container: &str) -> Result<(), DeployError> {
    let c = exec::bounded(
        "inspecting the container",
        docker.inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>),
    )
    .await?;
    if c.state.and_then(|s| s.running) == Some(true) {
        Ok(())
    } else {
        Err(DeployError::from(format!("{container} is not running")))
    }
}

fn http_status(text: &str) -> Option<u16> {
    text.lines().rev().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("HTTP/").or_else(|| l.split_once("HTTP/").map(|(_, r)| r))?;
        rest.split_whitespace().nth(1)?.parse().ok()
    })
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output");
    line.trim_start_matches("wget: ").to_string()
}

/// Why waiting for health ended without success.
pub enum Unhealthy {
    /// The container stopped: its exit code.
    Exited(i64),
    Failing(String),
    Cancelled,
    /// The Docker host stopped answering: probes say nothing about the container then.
    HostGone(String),
}

/// Probes in a row that find the host not answering before the wait ends: one lost
/// connection is retried, a host that is gone is not waited for to the end of the start period.
const HOST_GONE_AFTER: u32 = 3;

/// The run's words for a deploy that stopped because its host did: `during` is what it was
/// doing.
pub fn host_gone_words(during: &str, why: &str) -> String {
    format!(
        "the Docker host stopped answering during {during} ({why}): the deploy stopped there. The last release stays live, \
         and what this deploy started is removed once the host answers again"
    )
}

/// Probes until `container` is healthy. Failures in the start period don't count; after it,
/// `retries` failures in a row do. A container that exits ends the wait at once.
///
/// Until the start period ends, probes come quickly (see [`gate_pause`]: at most 100 ms apart,
/// counted from each probe's start, so a probe's own time through `docker exec` is not added
/// to the pause): a new container usually answers within its start period, and waiting a whole
/// interval after a probe that came just too early would add that interval to every deploy.
/// Failures that count are probed at the interval's pace, and once the release is healthy the
/// gate ends: the verification window and the live watch probe at the interval.
pub async fn wait_healthy(
    edge: &Edge,
    container: &str,
    port: Option<u16>,
    h: &Health,
    cancel: &mut watch::Receiver<bool>,
    mut on_fail: impl FnMut(&str),
) -> Result<(), Unhealthy> {
    let started = Instant::now();
    let interval = Duration::from_millis(h.interval_ms as u64);
    let start_period = Duration::from_millis(h.start_period_ms as u64);
    let mut ramp = None;
    let (mut failures, mut host_gone) = (0, 0);
    loop {
        let probed_at = Instant::now();
        let (gone, result) = tokio::join!(exited(&edge.docker, container), probe(edge, container, port, h));
        if let Some(code) = gone {
            return Err(Unhealthy::Exited(code));
        }
        match result {
            Ok(()) => return Ok(()),
            Err(why) if why.host_gone() => {
                host_gone += 1;
                if host_gone >= HOST_GONE_AFTER {
                    return Err(Unhealthy::HostGone(why.to_string()));
                }
            }
            Err(why) => {
                host_gone = 0;
                if h.kind == HealthKind::Docker && why.to_string().ends_with(UNHEALTHY) {
                    on_fail(&why.to_string());
                    return Err(Unhealthy::Failing(why.to_string()));
                }
                if started.elapsed() >= start_period {
                    failures += 1;
                    on_fail(&why.to_string());
                    if failures >= h.retries.max(1) {
                        return Err(Unhealthy::Failing(why.to_string()));
                    }
                }
            }
        }
        let (pause, next) = gate_pause(started.elapsed(), start_period, interval, ramp);
        ramp = next;
        let wait = if started.elapsed() < start_period { pause.saturating_sub(probed_at.elapsed()) } else { pause };
        if sleep_or_cancel(wait, cancel).await {
            return Err(Unhealthy::Cancelled);
        }
    }
}

/// Keeps probing `containers` for `window`; Err once one fails `retries` times in a row.
pub async fn verify(
    edge: &Edge,
    containers: &[String],
    port: Option<u16>,
    h: &Health,
    window: Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Result<(), Unhealthy> {
    let end = Instant::now() + window;
    let (mut failures, mut host_gone) = (vec![0u32; containers.len()], 0);
    while Instant::now() < end {
        for (i, c) in containers.iter().enumerate() {
            if let Some(code) = exited(&edge.docker, c).await {
                return Err(Unhealthy::Exited(code));
            }
            match probe(edge, c, port, h).await {
                Ok(()) => (failures[i], host_gone) = (0, 0),
                Err(why) if why.host_gone() => {
                    host_gone += 1;
                    if host_gone >= HOST_GONE_AFTER {
                        return Err(Unhealthy::HostGone(why.to_string()));
                    }
                }
                Err(why) => {
                    host_gone = 0;
                    failures[i] += 1;
                    if failures[i] >= h.retries.max(1) {
                        return Err(Unhealthy::Failing(format!("{c}: {why}")));
                    }
                }
            }
        }
        let left = end.saturating_duration_since(Instant::now());
        if sleep_or_cancel(left.min(Duration::from_millis(h.interval_ms as u64)), cancel).await {
            return Err(Unhealthy::Cancelled);
        }
    }
    Ok(())
}

async fn exited(docker: &Docker, container: &str) -> Option<i64> {
    let c = docker.inspect_container(container, None::<bollard::query_parameters::InspectContainerOptions>).await.ok()?;
    let s = c.state?;
    if s.running == Some(true) || s.restarting == Some(true) {
        None
    } else {
        Some(s.exit_code.unwrap_or(-1))
    }
}

/// True when cancelled before `d` passed.
pub async fn sleep_or_cancel(d: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        if *cancel.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            r = cancel.changed() => if r.is_err() {
                // Nobody can cancel any more: just wait.
                tokio::time::sleep_until(deadline).await;
                return false;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_busybox_wget_prints() {
        assert_eq!(http_status("  HTTP/1.1 200 OK\n  Content-Type: text/html\n"), Some(200));
        assert_eq!(
            http_status("  HTTP/1.1 500 Internal Server Error\nwget: server returned error: HTTP/1.1 500 Internal Server Error\n"),
            Some(500)
        );
        assert_eq!(http_status("wget: can't connect to remote host (172.18.0.3): Connection refused\n"), None);
        assert_eq!(first_line("wget: bad address 'x:80'\n"), "bad address 'x:80'");
    }
}
