//! A compose stack as Slipway deploys it (the subset it honours).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StackSpec {
    /// In dependency order: every service comes after what it depends on.
    pub services: Vec<ServiceSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ServiceSpec {
    pub name: String,
    pub image: Option<String>,
    /// Build context and Dockerfile, relative to the repository.
    pub build: Option<(String, String)>,
    /// The container port of the first `ports` entry: the service serves HTTP behind the edge.
    pub port: Option<u16>,
    pub env: BTreeMap<String, String>,
    pub command: Option<Vec<String>>,
    pub depends_on: Vec<Dependency>,
    /// The compose healthcheck, as Docker's own HEALTHCHECK of the container.
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Dependency {
    pub service: String,
    /// `service_started` (default), `service_healthy` or `service_completed_successfully`.
    pub condition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Healthcheck {
    pub test: Vec<String>,
    #[ts(type = "number")]
    pub interval_ms: u64,
    #[ts(type = "number")]
    pub timeout_ms: u64,
    pub retries: u32,
    #[ts(type = "number")]
    pub start_period_ms: u64,
}
