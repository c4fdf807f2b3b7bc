//! The outside world: the Docker API (hosts, containers, steps, builds), git, forges (webhook
//! payloads and signatures, commit statuses), the OS keychain, SSH, image registries, chat
//! and desktop notifications, start at login, proxies an operator keeps. Each adapter speaks one protocol and
//! returns domain values or errors that say what to fix.
//!
//! Must not depend on: store, services, engine, http.

pub mod autostart;
pub mod desktop;
pub mod docker;
pub mod forge;
pub mod git;
pub mod keychain;
pub mod proxy;
pub mod registry;
pub mod ssh;
pub mod token;
