//! What the engine tells its consoles (status, events, small answers): the wire types of
//! [`slipway_protocol::events`].

pub use slipway_protocol::events::*;
