//! Containers on a host as the Hosts view shows them, and their logs, stats and events.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// running, exited, created, paused, restarting, dead…
    pub state: String,
    /// Docker's own summary, with the uptime: "Up 5 minutes (healthy)", "Exited (0) 2 hours ago".
    pub status: String,
    /// healthy, unhealthy or starting, for containers with a health check.
    pub health: Option<String>,
    /// "0.0.0.0:8080->80/tcp", "80/tcp".
    pub ports: Vec<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    pub slipway_project: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    Slipway,
    Compose,
    Standalone,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContainerGroup {
    pub kind: GroupKind,
    /// The project's name; empty for standalone containers.
    pub name: String,
    pub containers: Vec<ContainerInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ContainerAction {
    Start,
    Stop,
    Restart,
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of a container's output, colours (ANSI escapes) kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContainerLogLine {
    pub stream: LogStream,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContainerStats {
    pub container_id: String,
    /// Of one CPU: 250 means two and a half cores busy, as `docker stats` shows it.
    pub cpu_percent: f64,
    /// In use, page cache excluded (as `docker stats` counts it).
    #[ts(type = "number")]
    pub mem_bytes: u64,
    #[ts(type = "number")]
    pub mem_limit: u64,
    #[ts(type = "number")]
    pub at: i64,
}

/// A Docker event on a host, for views to update without polling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostEvent {
    pub host_id: String,
    /// container, image, network, volume…
    pub kind: String,
    /// start, die, stop, destroy, health_status: healthy…
    pub action: String,
    pub id: Option<String>,
    pub name: Option<String>,
    #[ts(type = "number")]
    pub time: i64,
}
