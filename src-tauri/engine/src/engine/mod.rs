//! The engine: wiring and operations. [`Engine::open`] opens the store, builds the services'
//! shared [`Core`] and starts the background work (intake, polling, runner, notifications,
//! host health); the methods on [`Engine`] are the operations the API exposes, each declared
//! once here and routed in [`crate::http`].
//!
//! Must not depend on: http.

mod autostart;
mod console;
mod core;
mod drains;
mod edge;
mod hosts;
mod metrics;
mod ops;
mod pins;
mod secrets;

pub use slipway_protocol::logging;

pub use self::core::{Core, UiClient};
use self::core::{HELD_KEY, PAUSED_KEY};

use crate::adapters::docker;
use crate::adapters::keychain;
use crate::domain::config::Config;
use crate::domain::events::{EngineEvent, EngineStatus, ForgeAccount, ImportResult, WebhookInfo};
use crate::domain::project::{NewProject, Project, VolumeChoice};
use crate::domain::run::{Delivery, RunDetail, RunStatus, RunSummary, Trigger};
use crate::services::forge_token_key;
use crate::store;
use crate::store::logs::LogLine;
use crate::{Error, ErrorCode, Result};

/// The engine: the services' [`Core`] plus the operations. Derefs to the core, so an operation
/// reads `self.store()` like a service does.
#[derive(Clone)]
pub struct Engine {
    core: Core,
}

impl std::ops::Deref for Engine {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Engine {
    /// The services' shared state, for handing to a service.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Opens the store, builds the core and starts the background work, without a listener
    /// ([`crate::http`] adds it: `Engine::start`).
    pub async fn open(config: Config) -> Result<Engine> {
        set_git_timeouts();
        let core = Core::open(config).await?;
        core.start().await?;
        tokio::spawn(console::forward_step_changes(core.clone()));
        tracing::info!(data_dir = %core.config().data_dir.display(), "engine started");
        let engine = Engine { core };
        if let Some(asked) = engine.inner.notice_actions.lock().unwrap().take() {
            tokio::spawn(engine.clone().answer_notice_actions(asked));
        }
        let at_start = engine.clone();
        tokio::spawn(async move { at_start.edge_at_start().await });
        Ok(engine)
    }

    // ---- Operations: the one set exposed as Tauri commands and as the HTTP API. ----

    pub async fn status(&self) -> Result<EngineStatus> {
        let docker = docker::probe(&self.inner.config.docker_host).await;
        Ok(EngineStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            instance_id: self.inner.instance_id.clone(),
            pid: std::process::id(),
            data_dir: self.inner.config.data_dir.display().to_string(),
            store_path: self.inner.store.path().display().to_string(),
            schema_version: self.inner.store.applied_version().await?.unwrap_or(0),
            listener: self.listener_addr().map(|a| format!("http://{a}")),
            listener_error: self.listener_error(),
            docker,
            auto_deploy_paused: self.auto_deploy_paused(),
            runs_held: self.runs_held(),
            ui_clients: self.ui_clients() as u32,
            secrets: keychain::current().describe(),
        })
    }

    /// Pausing stops webhooks and polls from starting runs; manual runs still go.
    pub async fn set_auto_deploy_paused(&self, paused: bool) -> Result<bool> {
        self.inner.store.set_setting(PAUSED_KEY, if paused { "true" } else { "false" }).await?;
        let was = self.inner.paused.set(paused);
        if was != paused {
            tracing::info!(paused, "auto-deploy {}", if paused { "paused" } else { "resumed" });
            self.emit(EngineEvent::AutoDeployChanged { paused });
        }
        Ok(paused)
    }

    pub async fn projects(&self) -> Result<Vec<Project>> {
        crate::store::projects::list(&self.inner.store).await
    }

    /// Creates the project and its webhook secret (in the keychain). No keychain, no project:
    /// a project whose hooks could never verify would only collect 401s.
    pub async fn create_project(&self, new: NewProject) -> Result<Project> {
        let mut channels = new.notifications.clone();
        let mut project = crate::store::projects::create(&self.inner.store, new).await?;
        if let Err(e) = self.hooks().new_webhook_secret(&project.id).await {
            let _ = crate::store::projects::delete(&self.inner.store, &project.id).await;
            return Err(e);
        }
        if !channels.is_empty() {
            match self.store_channels(&project.id, &mut channels, &[]).await {
                Ok(p) => project = p,
                Err(e) => {
                    let _ = crate::store::projects::delete(&self.inner.store, &project.id).await;
                    return Err(e);
                }
            }
        }
        tracing::info!(project = %project.id, "project created");
        self.projects_changed();
        Ok(project)
    }

    pub async fn export_project(&self, id: &str) -> Result<String> {
        Ok(crate::domain::project::to_yaml(&crate::store::projects::get(&self.inner.store, id).await?))
    }

    /// Creates or updates a project from its YAML (see [`projects::apply`]).
    pub async fn import_project(&self, yaml: &str) -> Result<ImportResult> {
        let spec = crate::domain::project::from_yaml(yaml)?;
        let previous = crate::store::projects::find(&self.inner.store, &crate::domain::project::slug(&spec.name))
            .await?
            .map(|p| p.notifications)
            .unwrap_or_default();
        let mut channels = spec.notifications.clone();
        let (mut project, created, mut notes) = crate::store::projects::apply(&self.inner.store, spec).await?;
        if created {
            if let Err(e) = self.hooks().new_webhook_secret(&project.id).await {
                let _ = crate::store::projects::delete(&self.inner.store, &project.id).await;
                return Err(e);
            }
        }
        if !channels.is_empty() || !previous.is_empty() {
            for old in previous.iter().filter(|o| !channels.iter().any(|c| c.name == o.name || (c.name.is_empty() && c.kind == o.kind))) {
                notes.push(format!("notification channel {} is not in the file and was removed", old.name));
            }
            project = self.store_channels(&project.id, &mut channels, &previous).await?;
            for c in &project.notifications {
                if keychain::get(&crate::domain::notice::url_key(&project.id, &c.name)).await?.is_none() {
                    notes.push(format!(
                        "notification channel {} has no URL in the keychain: set it with PUT /api/v1/projects/{}/notifications",
                        c.name, project.id
                    ));
                }
            }
        }
        self.projects_changed();
        Ok(ImportResult { project, created, notes })
    }

    /// Removes project `id`. Its named volumes hold data: with some on its host, `volumes` must
    /// say whether they stay or go (see [`VolumeChoice`]); nothing is removed silently.
    pub async fn delete_project(&self, id: &str, volumes: Option<VolumeChoice>) -> Result<()> {
        let project = crate::store::projects::get(&self.inner.store, id).await?;
        let kit = &self.inner.runner.kit;
        let host_error = |e: crate::services::deploy::exec::DeployError| {
            Error::new(
                ErrorCode::HostUnreachable,
                format!("removing project {id}: {e}; or give volumes=keep to remove it and leave its host as it is"),
            )
        };
        match volumes {
            Some(VolumeChoice::Keep) => {}
            None => {
                let found = crate::services::deploy::teardown::volumes(kit, &project).await.map_err(host_error)?;
                if !found.is_empty() {
                    return Err(Error::new(
                        ErrorCode::ConfirmationRequired,
                        format!(
                            "project {id} has named volumes on its host, with their data: {}. Say what becomes of them: volumes=keep leaves them (and the containers) on the host, volumes=remove removes its containers and the volumes with their data",
                            found.join(", ")
                        ),
                    ));
                }
            }
            Some(VolumeChoice::Remove) => {
                let busy = crate::store::runs::runs(&self.inner.store, Some(id), 50).await?;
                if let Some(r) = busy.iter().find(|r| matches!(r.status, RunStatus::Queued | RunStatus::Running)) {
                    return Err(Error::new(
                        ErrorCode::InvalidInput,
                        format!(
                            "run {} of project {id} is {}: wait for it or cancel it before removing the project's volumes",
                            r.id,
                            r.status.as_str()
                        ),
                    ));
                }
                let removed = crate::services::deploy::teardown::remove_all(kit, &project).await.map_err(host_error)?;
                tracing::info!(project = id, volumes = ?removed, "removed the project's containers and volumes from its host");
            }
        }
        let channels = project.notifications;
        crate::store::projects::delete(&self.inner.store, id).await?;
        for c in &channels {
            crate::services::notify::forget_channel(id, &c.name).await;
        }
        if let Err(e) = self.hooks().forget_webhook_secret(id).await {
            tracing::warn!("project {id} deleted but its webhook secret stays in the keychain: {e}");
        }
        self.projects_changed();
        Ok(())
    }

    pub async fn webhook_info(&self, id: &str) -> Result<WebhookInfo> {
        let project = crate::store::projects::get(&self.inner.store, id).await?;
        let hooks_host = crate::services::deploy::edge::settings(self.store()).await.hooks_host;
        Ok(WebhookInfo {
            url: self.listener_addr().map(|a| format!("http://{a}/hooks/{}", project.id)),
            public_url: hooks_host.map(|h| format!("https://{h}/hooks/{}", project.id)),
            secret: self.hooks().webhook_secret(&project.id).await?,
            project_id: project.id,
        })
    }

    /// A new secret: deliveries signed with the old one get 401 from now on.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<WebhookInfo> {
        let project = crate::store::projects::get(&self.inner.store, id).await?;
        self.hooks().new_webhook_secret(&project.id).await?;
        self.webhook_info(id).await
    }

    pub async fn deliveries(&self, project: Option<&str>, limit: u32) -> Result<Vec<Delivery>> {
        crate::store::runs::deliveries(&self.inner.store, project, limit.clamp(1, 1000)).await
    }

    pub async fn runs(&self, project: Option<&str>, limit: u32) -> Result<Vec<RunSummary>> {
        crate::store::runs::runs(&self.inner.store, project, limit.clamp(1, 1000)).await
    }

    /// Saves a forge account and puts its token in the keychain (never in the store).
    pub async fn save_forge_account(&self, account: ForgeAccount, token: &str) -> Result<ForgeAccount> {
        if crate::domain::project::slug(&account.name) != account.name {
            return Err(Error::new(ErrorCode::InvalidInput, "name: lowercase letters, digits and dashes"));
        }
        if token.trim().is_empty() {
            return Err(Error::new(ErrorCode::InvalidInput, "token: paste the forge's access token"));
        }
        keychain::set(&forge_token_key(&account.name), token.trim()).await?;
        crate::store::accounts::save_forge_account(self.store(), &account).await?;
        Ok(account)
    }

    /// Saves a registry's `user:password` in the keychain under `registry:<name>`, for projects
    /// whose `registry_account` is `name`.
    pub async fn save_registry_account(&self, name: &str, username: &str, password: &str) -> Result<()> {
        if crate::domain::project::slug(name) != name || username.is_empty() || username.contains(':') {
            return Err(Error::new(ErrorCode::InvalidInput, "name: lowercase letters, digits and dashes; username: not empty, no ':'"));
        }
        keychain::set(&format!("registry:{name}"), &format!("{username}:{password}")).await
    }

    /// Polls a project now, whatever its interval, and returns it with the poll's result.
    pub async fn poll_now(&self, id: &str) -> Result<Project> {
        let project = crate::store::projects::get(&self.inner.store, id).await?;
        self.poller().poll_project(&project).await?;
        crate::store::projects::get(&self.inner.store, id).await
    }

    /// Queues a run of `stage` for what the operator typed: a tag, a branch, or a full commit id.
    /// A tag or branch is looked up on the remote now, so the run builds exactly that commit.
    /// Queues a person's run of `stage` at `wanted`; a pinned stage needs `confirmed`.
    pub async fn start_manual_run(&self, project_id: &str, stage: &str, wanted: &str, confirmed: bool) -> Result<i64> {
        let project = crate::store::projects::get(&self.inner.store, project_id).await?;
        let Some(target) = project.stages.iter().find(|s| s.name == stage) else {
            return Err(Error::new(ErrorCode::NotFound, format!("project {project_id} has no stage {stage:?}")));
        };
        if target.confirm_manual && !confirmed {
            // The one confirmation also unpins: the operator is told before giving it.
            let pin = crate::store::pins::get(&self.inner.store, &crate::domain::project::stage_id(project_id, stage)).await?;
            let unpins = pin.map(|p| format!("; the stage is pinned at release {} by {}, and deploying unpins it", p.release, p.reason));
            return Err(Error::new(
                ErrorCode::ConfirmationRequired,
                format!(
                    "deploying to {stage} by hand needs a confirmation (the stage has confirm_manual: true){}",
                    unpins.unwrap_or_default()
                ),
            ));
        }
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Err(Error::new(ErrorCode::InvalidInput, "ref: give a tag, a branch or a full commit id"));
        }
        let (git_ref, commit) = if wanted.len() == 40 && wanted.chars().all(|c| c.is_ascii_hexdigit()) {
            (None, wanted.to_ascii_lowercase())
        } else {
            let refs = self.remote_refs(&project).await?;
            let (r, c) = crate::adapters::git::resolve(&refs, wanted)
                .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("ref: {} has no tag or branch {wanted:?}", project.repo_url)))?;
            (Some(r), c)
        };
        let carrier = crate::domain::environments::Carrier::from_ref(git_ref.as_deref());
        crate::services::environments::require(&self.inner.store, &project, target, &carrier, &commit).await?;
        self.pass_pin(project_id, stage, confirmed, &format!("deploying {wanted}")).await?;
        let id =
            crate::store::runs::enqueue_manual(&self.inner.store, &project, stage, git_ref.as_deref(), &commit, Trigger::Manual).await?;
        tracing::info!(run = id, project = project_id, stage, commit, "manual run queued");
        self.emit(EngineEvent::RunChanged { run_id: id });
        self.wake_runner();
        Ok(id)
    }

    /// The project's remote refs (name → commit), with its credentials, off the async threads.
    async fn remote_refs(&self, project: &Project) -> Result<std::collections::HashMap<String, String>> {
        let creds = crate::services::git_credentials(self.store(), project).await?;
        let (url, forge) = (project.repo_url.clone(), project.forge);
        tokio::task::spawn_blocking(move || crate::adapters::git::ls_remote(&url, forge, creds.as_ref()))
            .await
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?
    }

    pub async fn run_detail(&self, id: i64) -> Result<RunDetail> {
        crate::store::runs::run_detail(&self.inner.store, id).await
    }

    pub async fn run_logs(&self, id: i64, after_seq: i64, limit: u32) -> Result<Vec<LogLine>> {
        crate::store::logs::read(&self.inner.store, id, after_seq, limit.clamp(1, 100_000)).await
    }

    /// Sends a run's log to `sink` in batches: what is stored after `after_seq`, then new lines
    /// as they come, until the run has ended or `sink` closes (the viewer went away). A slow
    /// viewer slows the reading down; nothing piles up in memory.
    pub async fn follow_log(&self, run_id: i64, after_seq: i64, sink: tokio::sync::mpsc::Sender<Vec<LogLine>>) -> Result<()> {
        use tokio::sync::broadcast::error::RecvError;
        let mut live = self.inner.logs.follow();
        // Lines go out live at once and reach the store up to 100 ms later: one sent before the
        // subscription above and not yet stored would be in neither (the first line of a run
        // just started, the lines a console missed while its link was down). After the flush,
        // every line sent before the subscription is in the store.
        self.inner.logs.flush().await;
        let mut last = after_seq;
        loop {
            let stored = self.run_logs(run_id, last, 10_000).await?;
            let Some(tail) = stored.last() else { break };
            last = tail.seq;
            if sink.send(stored).await.is_err() {
                return Ok(());
            }
        }
        loop {
            let status = crate::store::runs::run_detail(&self.inner.store, run_id).await?.run.status;
            let ended = !matches!(status.as_str(), "queued" | "running");
            let mut batch = Vec::new();
            let deadline = tokio::time::sleep(std::time::Duration::from_millis(if ended { 150 } else { 500 }));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    got = live.recv() => match got {
                        Ok(l) if l.run_id == run_id && l.seq > last => {
                            last = l.seq;
                            batch.push(l);
                            if batch.len() >= 1000 { break }
                        }
                        Ok(_) => {}
                        // Fell behind the live stream: catch up from the store.
                        Err(RecvError::Lagged(_)) => {
                            let stored = self.run_logs(run_id, last, 10_000).await?;
                            if let Some(t) = stored.last() { last = t.seq; }
                            batch.extend(stored);
                        }
                        Err(RecvError::Closed) => return Ok(()),
                    },
                }
            }
            if !batch.is_empty() && sink.send(batch).await.is_err() {
                return Ok(());
            }
            if ended {
                // Lines written between the last read and the end are in the store by now.
                let rest = self.run_logs(run_id, last, 100_000).await?;
                if !rest.is_empty() {
                    let _ = sink.send(rest).await;
                }
                return Ok(());
            }
        }
    }

    /// Cancels a queued run at once, or stops a running one's current step (its container is
    /// killed); the run then ends as cancelled.
    pub async fn cancel_run(&self, id: i64) -> Result<()> {
        if crate::store::runs::cancel_queued(&self.inner.store, id).await? {
            self.emit(EngineEvent::RunChanged { run_id: id });
            return Ok(());
        }
        if self.runner().cancel(id) {
            return Ok(());
        }
        Err(Error::new(ErrorCode::InvalidInput, format!("run {id} is neither queued nor running")))
    }

    /// Replaces the project's outbound notification channels. A channel given with a `url`
    /// (and, for webhooks, a `secret`) has them put in the keychain; one given without keeps
    /// what the keychain holds under its name. Channels left out are forgotten.
    pub async fn set_project_notifications(
        &self,
        project_id: &str,
        mut channels: Vec<crate::domain::notice::NotifyChannel>,
    ) -> Result<Project> {
        let previous = crate::store::projects::get(&self.inner.store, project_id).await?.notifications;
        let project = self.store_channels(project_id, &mut channels, &previous).await?;
        self.projects_changed();
        Ok(project)
    }

    async fn store_channels(
        &self,
        project_id: &str,
        channels: &mut [crate::domain::notice::NotifyChannel],
        previous: &[crate::domain::notice::NotifyChannel],
    ) -> Result<Project> {
        crate::services::notify::store_channel_secrets(project_id, channels, previous).await?;
        crate::store::projects::set_notifications(&self.inner.store, project_id, channels).await
    }

    /// Sends a test notification to each of the project's channels, and says how each went.
    pub async fn test_project_notifications(&self, project_id: &str) -> Result<Vec<crate::domain::notice::ChannelResult>> {
        self.notifier().test_channels(project_id).await
    }

    pub async fn notification_settings(&self) -> Result<crate::domain::notice::NotificationSettings> {
        self.notifier().settings().await
    }

    /// Turns desktop notifications on or off (`desktop`; the read-only fields are ignored).
    pub async fn set_notification_settings(
        &self,
        settings: crate::domain::notice::NotificationSettings,
    ) -> Result<crate::domain::notice::NotificationSettings> {
        self.notifier().set_settings(&settings).await
    }

    /// Stores a project secret in the keychain; steps that list it get it as an env variable.
    pub async fn set_project_secret(&self, project_id: &str, name: &str, value: &str) -> Result<()> {
        crate::store::projects::get(&self.inner.store, project_id).await?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::new(ErrorCode::InvalidInput, "name: letters, digits and underscores, as an environment variable"));
        }
        keychain::set(&crate::services::secret_key(project_id, name), value).await
    }

    /// Holding keeps queued runs waiting (running ones finish); releasing lets them start.
    pub async fn set_runs_held(&self, held: bool) -> Result<bool> {
        self.inner.store.set_setting(HELD_KEY, if held { "true" } else { "false" }).await?;
        self.inner.held.set(held);
        tracing::info!(held, "runs {}", if held { "held" } else { "released" });
        if !held {
            self.wake_runner();
        }
        Ok(held)
    }

    /// Stops the listener (letting in-flight requests finish), flushes and closes the store, and
    /// removes `engine.json`. Safe to call more than once.
    pub async fn stop(&self) {
        if self.inner.shutdown.begin() {
            return;
        }
        self.emit(EngineEvent::ShuttingDown { quit: self.quit_was_requested() });
        let servers = std::mem::take(&mut *self.inner.server.lock().unwrap());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), futures::future::join_all(servers)).await;
        let _ = std::fs::remove_file(self.config().engine_file());
        self.inner.store.close().await;
        self.inner.lock.release();
        tracing::info!("engine stopped cleanly");
    }
}

/// libgit2 waits forever on a remote that accepts and then says nothing; a fetch or a poll
/// must fail instead, or a run would stay "running".
fn set_git_timeouts() {
    // SAFETY: process-wide libgit2 options, set before any fetch; nothing else sets them.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(15_000);
        let _ = git2::opts::set_server_timeout_in_milliseconds(60_000);
    }
}

/// The newest schema this build knows.
pub fn schema_version_known() -> i64 {
    store::latest_known_version()
}
