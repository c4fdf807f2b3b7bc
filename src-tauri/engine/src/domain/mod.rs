//! Values and decisions. Everything here is plain data and pure functions over it: what a
//! project, a stage, a run, a release or a host is, and which stage a push deploys to, which
//! notice a finished run deserves, what a stage's metrics are.
//!
//! Must not depend on: store, adapters, services, engine, http. No SQL, no network, no Docker.

pub mod compose;
pub mod config;
pub mod deploy;
pub mod edge;
pub mod env_check;
pub mod environments;
pub mod events;
pub mod forge;
pub mod host;
pub mod ids;
pub mod metrics;
pub mod notice;
pub mod notice_action;
pub mod patterns;
pub mod pipeline;
pub mod plugins;
pub mod project;
pub mod release;
pub mod router;
pub mod run;
pub mod target;
pub mod templates;
pub mod watch;
pub mod yaml;

/// Now as Unix milliseconds, the store's time unit.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
