//! How a stage deploys: port, health check, strategy windows, retention.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{ApiError, ErrorCode, Result};

/// The service a project runs. None on a project means it only builds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct DeployConfig {
    /// The container port that serves HTTP; the edge routes the stage's host name to it.
    /// None: a worker with no traffic (deployed, health-gated, never routed).
    pub port: Option<u16>,
    pub env: BTreeMap<String, String>,
    /// Names of project secrets (keychain) passed as env; a release records only the names.
    pub secrets: Vec<String>,
    /// Overrides the image's command.
    pub command: Option<Vec<String>>,
    pub health: Health,
    /// Containers per release (the rolling strategy replaces them in batches).
    pub replicas: u32,
    /// Shell commands run in a new container after traffic reached it; one failing fails the
    /// deploy and switches traffic back.
    pub post_deploy: Vec<String>,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            port: Some(80),
            env: BTreeMap::new(),
            secrets: vec![],
            command: None,
            health: Health::default(),
            replicas: 1,
            post_deploy: vec![],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
pub enum HealthKind {
    /// GET `path` on the container's port; the status must fall in `expect`.
    #[default]
    Http,
    /// A TCP connect to the container's port.
    Tcp,
    /// The image's own Docker `HEALTHCHECK` must report healthy.
    Docker,
    /// Running counts as healthy (the UI says so: no gate).
    None,
}

/// Probes run from inside the Docker host (the edge container execs them), so they behave the
/// same on a remote host whose container network the workstation cannot reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Health {
    pub kind: HealthKind,
    pub path: String,
    /// Accepted status codes, e.g. `200-399` or `200`.
    pub expect: String,
    pub timeout_ms: u32,
    pub interval_ms: u32,
    /// Consecutive failures that count as unhealthy (after the start period).
    pub retries: u32,
    /// Failures during this time after start don't count.
    pub start_period_ms: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            kind: HealthKind::Http,
            path: "/".into(),
            expect: "200-399".into(),
            timeout_ms: 2000,
            interval_ms: 1000,
            retries: 3,
            start_period_ms: 30_000,
        }
    }
}

impl Health {
    /// The accepted status range, from `expect`.
    pub fn range(&self) -> Result<(u16, u16)> {
        let bad =
            || ApiError::new(ErrorCode::InvalidInput, format!("health.expect: {:?} is not a status or a range like 200-399", self.expect));
        let (a, b) = match self.expect.split_once('-') {
            Some((a, b)) => (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?),
            None => {
                let v: u16 = self.expect.trim().parse().map_err(|_| bad())?;
                (v, v)
            }
        };
        if !(100..=599).contains(&a) || !(100..=599).contains(&b) || a > b {
            return Err(bad());
        }
        Ok((a, b))
    }
}

/// How a stage moves from one release to the next (the strategy itself is `Stage::strategy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Rollout {
    /// Host name label under the domain; default `stage-{stage}-{project}`.
    pub subdomain: Option<String>,
    /// How long the old release keeps finishing in-flight requests after the switch.
    pub drain_secs: u32,
    /// How long health keeps being checked after the switch; failing inside it switches back.
    pub verify_secs: u32,
    /// Rolling: replicas replaced per batch.
    pub batch_size: u32,
    /// Canary: share of requests the new release gets while on trial.
    pub canary_percent: u8,
    /// Canary: how long the trial lasts before promotion to 100 %.
    pub canary_secs: u32,
    /// Releases whose images are kept for rollback.
    pub keep_releases: u32,
    /// How often the live release is probed after its deploy ended (the health watch); 0: never.
    pub watch_interval_secs: u32,
    /// What the health watch does when the live release goes down.
    pub on_unhealthy: crate::watch::OnUnhealthy,
    /// With `on_unhealthy: rollback`: how long after going live a release that goes down is
    /// rolled back on its own; later, the watch alerts and a person decides.
    pub watch_secs: u32,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            subdomain: None,
            drain_secs: 30,
            verify_secs: 60,
            batch_size: 1,
            canary_percent: 10,
            canary_secs: 60,
            keep_releases: 5,
            watch_interval_secs: 10,
            on_unhealthy: crate::watch::OnUnhealthy::Alert,
            watch_secs: 600,
        }
    }
}
