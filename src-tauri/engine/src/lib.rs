//! Slipway's engine: everything that deploys, with no window and no Tauri.
//!
//! The desktop app (`src-tauri/src`) and the headless binary (`src-tauri/headless`) both start an
//! [`Engine`] and call its operations; the app through Tauri commands, everything else through the
//! JSON API the engine serves on its local listener ([`api`]), for which [`client`] is the client.
//!
//! Errors cross every boundary as one shape, [`ApiError`] `{code, message}`. Types the UI needs
//! derive `ts_rs::TS`; [`bindings::typescript`] renders them into `ui/src/lib/bindings.ts`, and a
//! test fails when that file is stale.

pub mod api;
pub mod api_hosts;
pub mod bindings;
pub mod client;
pub mod commit_status;
pub mod config;
pub mod console;
pub mod deploy;
pub mod containers;
pub mod docker;
pub mod docker_exec;
pub mod engine;
pub mod error;
pub mod forge_status;
pub mod hooks;
pub mod hostpool;
pub mod hosts;
pub mod intake;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod patterns;
pub mod pipeline;
pub mod poll;
pub mod projects;
pub mod registry;
pub mod runlog;
pub mod runner;
pub mod secrets;
pub mod source;
pub mod ssh;
pub mod store;
mod token;
pub mod webhook;

pub use config::Config;
pub use engine::{Engine, EngineEvent, EngineStatus, PromoteTarget};
pub use error::{ApiError, Error, ErrorCode, Result};
