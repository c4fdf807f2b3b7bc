//! Docker hosts: local, TCP (TLS) or SSH, their status and test results.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use std::time::Duration;

/// The host every installation has: the engine's own endpoint (`DOCKER_HOST` or the default
/// socket). It cannot be removed.
pub const LOCAL_ID: &str = "local";
/// Docker Engine 20.10 speaks API 1.41; older engines lack what deploys use (and are untested).
pub const MIN_API: (u32, u32) = (1, 41);
/// How long reaching a host (connect, ssh handshake, version negotiation) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    Local,
    Tcp,
    Ssh,
}

impl HostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Local => "local",
            HostKind::Tcp => "tcp",
            HostKind::Ssh => "ssh",
        }
    }

    pub fn parse(s: &str) -> HostKind {
        match s {
            "tcp" => HostKind::Tcp,
            "ssh" => HostKind::Ssh,
            _ => HostKind::Local,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Host {
    pub id: String,
    pub name: String,
    pub kind: HostKind,
    /// `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`, `ssh://deploy@box:22`.
    pub endpoint: String,
    /// Paths to PEM files, as `docker --tlscacert/--tlscert/--tlskey` take them.
    pub tls_ca: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// What the add and edit forms send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostInput {
    pub name: String,
    pub kind: HostKind,
    pub endpoint: String,
    #[serde(default)]
    pub tls_ca: Option<String>,
    #[serde(default)]
    pub tls_cert: Option<String>,
    #[serde(default)]
    pub tls_key: Option<String>,
}

/// What "Test" shows about a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostTest {
    pub host_id: String,
    pub engine_version: Option<String>,
    pub api_version: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub containers: u32,
    pub containers_running: u32,
    /// Round trip of one `/_ping` on the established connection.
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Not checked yet.
    Unknown,
    Reachable,
    Unreachable,
}

/// A host taken out of one stage's rotation for maintenance: its edge answers the stage's
/// readiness path (`/.slipway/ready`) with 503 while still serving what reaches it, so a load
/// balancer in front stops sending it traffic. Deploys still reach the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Drain {
    pub project_id: String,
    pub stage: String,
    pub host_id: String,
    #[ts(type = "number")]
    pub drained_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostStatus {
    pub host_id: String,
    pub state: HostState,
    /// Why it is unreachable, naming the host.
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
    #[ts(type = "number | null")]
    pub checked_at: Option<i64>,
}

/// What an import of Docker contexts did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContextImport {
    pub imported: Vec<Host>,
    /// "name: why" for each context left out.
    pub skipped: Vec<String>,
}

/// A host with its last known status, as the host list shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct HostEntry {
    pub host: Host,
    pub status: HostStatus,
}
