//! Forges: what their webhooks say ([`webhook`]) and how to tell them a run's state on the
//! commit ([`status`]).
//!
//! Must not depend on other adapters.

pub mod status;
pub mod webhook;
