//! Slipway's engine: everything that deploys, with no window and no Tauri.
//!
//! The folders are the layers, and imports go one way (a test, `tests/layers.rs`, fails on an
//! upward import or a cycle between them):
//!
//! ```text
//! error      the one error type, with codes; used by every layer
//! domain     values and decisions: projects, stages, runs, releases, hosts, notices (no I/O)
//! store      the only place with SQL: typed reads and writes per table        (domain)
//! adapters   the outside world: Docker, git, forges, keychain, ssh, registry  (domain)
//! services   what the engine does: intake, polling, hosts, notify, runs, deploys
//!                                                                 (domain, store, adapters)
//! engine     wiring, shared state, background tasks, the operations the API exposes
//!                                                                 (everything below)
//! http       the local listener: API routes, webhook route, NDJSON streams, the client
//!                                                                 (everything below)
//! ```
//!
//! The desktop window (`src-tauri/src`) and the CLI (`src-tauri/headless`) talk to a running
//! engine through [`http::client::Client`]. Errors cross every boundary as one shape,
//! [`ApiError`] `{code, message}`. Types the UI needs derive `ts_rs::TS`;
//! [`http::bindings::typescript`] renders them into `ui/src/lib/bindings.ts`, and a test fails
//! when that file is stale.
//!
//! The crate must not depend on Tauri or anything of the window; the window depends on
//! `slipway-protocol` only.

pub mod adapters;
pub mod domain;
pub mod engine;
pub mod error;
pub mod http;
pub mod services;
pub mod store;

pub use domain::config::Config;
pub use domain::events::{EngineEvent, EngineStatus, PromoteTarget};
pub use engine::Engine;
pub use error::{ApiError, Error, ErrorCode, Result};
