//! Where the engine keeps its files and what it listens on: [`slipway_protocol::config`].

pub use slipway_protocol::config::*;
