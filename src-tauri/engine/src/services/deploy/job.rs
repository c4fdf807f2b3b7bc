//! What one run works with, shared by its steps and its deploy: the run's id and cancel switch,
//! and the [`Kit`] of narrow handles every run uses. It lives with the deploys so that runs
//! depend on deploys and never the other way round.

use std::sync::Arc;

use bollard::Docker;
use tokio::sync::watch;

use super::exec::DeployError;
use super::promotions::Promotions;
use super::Routes;
use crate::adapters::git::Credentials;
use crate::domain::config::Config;
use crate::domain::project::Project;
use crate::domain::run::{RunStatus, StepStatus};
use crate::services::hosts::Hosts;
use crate::store::logs::Logs;
use crate::store::Store;
use crate::Result;

/// The handles a run's steps and deploys need, cloned once per engine.
#[derive(Clone)]
pub struct Kit {
    pub store: Store,
    pub logs: Logs,
    pub config: Config,
    pub hosts: Hosts,
    pub routes: Arc<Routes>,
    pub promotions: Promotions,
    /// This installation's id: on every container and volume a run creates.
    pub instance: String,
}

impl Kit {
    /// The words for a deploy whose host stopped answering `during` something, and the host
    /// shown unreachable at once: the runner puts it back in order when it answers again,
    /// however short the outage was.
    pub(crate) fn host_gone(&self, host: &str, during: &str, why: &str) -> String {
        let words = super::health::host_gone_words(during, why);
        self.hosts.host_lost(host, &words);
        words
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    pub async fn project(&self, id: &str) -> Result<Project> {
        crate::store::projects::get(&self.store, id).await
    }

    /// The Docker host a project builds on (and deploys to, unless its stage names hosts).
    pub async fn docker_for(&self, project: &Project) -> std::result::Result<Docker, DeployError> {
        Ok(self.hosts.docker_for(project.host_id.as_deref()).await?)
    }

    /// Docker host `id`.
    pub async fn docker_on(&self, id: &str) -> std::result::Result<Docker, DeployError> {
        Ok(self.hosts.docker_for(Some(id)).await?)
    }

    pub async fn credentials_for(&self, project: &Project) -> Result<Option<Credentials>> {
        crate::services::git_credentials(&self.store, project).await
    }

    /// After `stage` got a live release: tell the UI, and start promotions that need no click.
    pub async fn release_went_live(&self, project: &str, stage: &str) {
        self.promotions.release_went_live(project, stage).await
    }

    /// A release went live whose run still checks it: tell the UI, start no promotion yet.
    pub fn release_changed(&self, project: &str, stage: &str) {
        self.promotions
            .events
            .emit(crate::domain::events::EngineEvent::ReleaseChanged { project_id: project.to_string(), stage: stage.to_string() });
    }
}

/// Marks step `id` (named `name`) running. The crash tests set `SLIPWAY_TEST_HOLD_STEP` to a
/// step's name to hold every run for 60 s at the start of that step, so they can kill the
/// engine at exactly that step boundary; outside them it is never set and this only marks the
/// step.
pub(crate) async fn start_step(store: &Store, id: i64, name: &str) -> Result<()> {
    crate::store::steps::start(store, id).await?;
    static HOLD: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let hold = HOLD.get_or_init(|| std::env::var("SLIPWAY_TEST_HOLD_STEP").ok().filter(|s| !s.is_empty()));
    if hold.as_deref() == Some(name) {
        tracing::warn!(step = name, "SLIPWAY_TEST_HOLD_STEP: holding this run for 60 s at the start of the step");
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    Ok(())
}

/// One run in progress.
pub struct Job<'a> {
    pub kit: &'a Kit,
    pub run_id: i64,
    pub cancel: watch::Receiver<bool>,
}

impl Job<'_> {
    pub(crate) async fn log(&self, step: Option<i64>, text: impl Into<String>) {
        self.kit.logs.push(self.run_id, step, "system", text.into()).await;
    }
}

/// The end of a run: its status and the reason shown everywhere.
pub(crate) struct Ending {
    pub status: RunStatus,
    pub reason: String,
}

/// Ends `step` as failed, says why in the log, and ends the run with the step's last lines.
pub(crate) async fn fail_step(ctx: &Job<'_>, step: i64, name: &str, exit: Option<i64>, why: &str, tail: &[String]) -> Result<Ending> {
    crate::store::steps::end(&ctx.kit.store, step, StepStatus::Failed, exit, Some(why)).await?;
    ctx.log(Some(step), format!("step {name} failed: {why}")).await;
    let mut reason = format!("step {name} failed: {why}");
    if !tail.is_empty() {
        reason.push_str("; last lines: ");
        reason.push_str(&tail.join(" ⏎ "));
    }
    Ok(Ending { status: RunStatus::Failed, reason })
}
