//! Slipway's wire: everything the engine, the desktop window and the command line exchange.
//!
//! - the types of requests, answers and events ([`project`], [`run`], [`release`], …), each
//!   deriving `ts_rs::TS` so the UI's TypeScript is generated from them ([`bindings`]);
//! - every operation of the engine's API, declared once with its method, path, request and
//!   answer ([`ops`]): the engine routes them, the [`client::Client`] calls them, the window's
//!   one Tauri command forwards them by name, and the UI calls them by their generated names;
//! - the client, where to find a running engine ([`config`]), and attaching to one on another
//!   machine over SSH ([`remote`]).
//!
//! Must not depend on the engine: the window and the CLI link this crate alone for talking to
//! an engine, and stay small for it.

#[macro_use]
mod names;

pub mod bindings;
pub mod client;
pub mod compose;
pub mod config;
pub mod container;
pub mod deploy;
pub mod edge;
pub mod environment;
pub mod error;
pub mod events;
pub mod host;
#[cfg(feature = "logging")]
pub mod logging;
pub mod metrics;
pub mod notice;
pub mod ops;
pub mod plugin;
pub mod project;
pub mod release;
pub mod remote;
pub mod run;
pub mod template;
pub mod watch;

pub use config::Config;
pub use error::{ApiError, ErrorCode};

/// Results of this crate's calls: the engine's `{code, message}` on failure.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;
