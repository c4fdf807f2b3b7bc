//! Forges: what their webhooks say ([`webhook`]) and how to tell them a run's state on the
//! commit ([`status`]).

pub mod status;
pub mod webhook;
