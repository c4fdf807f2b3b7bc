//! End-to-end tests: Slipway as a black box. They start the real binaries (`slipwayd`, and the
//! app under WebDriver) against the real services `./scripts/test` starts, and talk to them only
//! through what a user or another program would use: the command line, the HTTP API, the window.

mod app;
mod app_environments;
mod app_hosts;
mod autostart;
mod cli;
mod compose;
mod compose_corpus;
mod compose_data;
mod console_ssh;
mod crashes;
pub mod deploys;
mod disk;
mod docker_restart;
mod environments;
mod headless;
mod hooks_https;
mod hosts;
mod kit;
mod listener;
mod load;
mod multi_host;
mod notify;
mod plugins;
mod polling;
mod registry;
mod runs;
mod second_dockerd;
mod secrets;
mod service;
mod swarm;
mod templates;
mod tokens;
mod watch;
mod webhooks;
