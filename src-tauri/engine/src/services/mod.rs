//! What the engine does, as services over the lower layers: the intake, polling, hosts,
//! notifications, commit statuses, webhook handling, runs and deploys.
//!
//! Services share one [`Core`]: the store, the configuration, the event bus and the few pieces
//! of state they coordinate through (the intake queue, cancel switches, the edge's routes, the
//! host pool). The operations the API exposes live one layer up, in [`crate::engine`].
//!
//! Must not depend on: engine, http.

pub mod commit_status;
pub mod deploy;
pub mod hooks;
pub mod hosts;
pub mod intake;
pub mod notify;
pub mod poll;
pub mod run;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::adapters::git::Credentials;
use crate::adapters::keychain;
use crate::domain::config::Config;
use crate::domain::events::EngineEvent;
use crate::domain::project::{Forge, Project};
use crate::domain::run::{Change, Outcome, Source, Trigger, Verdict};
use crate::services::deploy::Routes;
use crate::services::hosts::HostPool;
use crate::services::notify::Notifier;
use crate::store::logs::Logs;
use crate::store::Store;
use crate::{Error, ErrorCode, Result};

/// The engine's shared state, cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

/// Counts a window as connected while it lives.
pub struct UiClient(Core);

impl Drop for UiClient {
    fn drop(&mut self) {
        self.0.inner.ui_clients.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) token: String,
    pub(crate) instance_id: String,
    pub(crate) listener: Mutex<Option<SocketAddr>>,
    pub(crate) listener_error: Mutex<Option<String>>,
    pub(crate) paused: AtomicBool,
    pub(crate) held: AtomicBool,
    pub(crate) events: broadcast::Sender<EngineEvent>,
    /// Set once the engine starts stopping; the server and background tasks watch it.
    pub(crate) stopping: watch::Sender<bool>,
    /// Set when someone (the API, the tray) asks the host process to quit.
    pub(crate) quit_requested: watch::Sender<bool>,
    /// Windows following the event stream now: the tray brings one forward or opens one.
    pub(crate) ui_clients: std::sync::atomic::AtomicUsize,
    /// The listeners' accept loops (public, API).
    pub(crate) server: Mutex<Vec<JoinHandle<()>>>,
    /// The intake writer's queue: one writer decides all runs, so one push starts one run.
    pub(crate) intake: tokio::sync::mpsc::Sender<crate::services::intake::Job>,
    /// Webhook secrets read from the keychain once, not on every delivery.
    pub(crate) hook_secrets: Mutex<std::collections::HashMap<String, String>>,
    pub(crate) logs: Logs,
    /// Cancel switches of the runs executing now.
    pub(crate) cancels: Mutex<std::collections::HashMap<i64, watch::Sender<bool>>>,
    pub(crate) runner_wake: tokio::sync::Notify,
    /// Projects as the webhook route needs them (rules, forge), dropped on every change.
    pub(crate) project_cache: Mutex<std::collections::HashMap<String, Arc<Project>>>,
    /// What the edge routes, per stage; every change is one ordered reload.
    pub(crate) routes: Routes,
    pub(crate) notifier: Notifier,
    pub(crate) hosts: HostPool,
}

impl Core {
    pub async fn project(&self, id: &str) -> Result<Project> {
        crate::store::projects::get(self.store(), id).await
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn logs(&self) -> &crate::store::logs::Logs {
        &self.inner.logs
    }

    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    pub(crate) fn routes(&self) -> &crate::services::deploy::Routes {
        &self.inner.routes
    }

    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    pub fn listener_addr(&self) -> Option<SocketAddr> {
        *self.inner.listener.lock().unwrap()
    }

    pub fn listener_error(&self) -> Option<String> {
        self.inner.listener_error.lock().unwrap().clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn host_pool(&self) -> &crate::services::hosts::HostPool {
        &self.inner.hosts
    }

    pub fn emit(&self, event: EngineEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.inner.events.send(event);
    }

    pub fn auto_deploy_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    /// The project for a webhook: from memory after the first delivery, since every delivery
    /// needs it and it changes only through this engine. Its poll fields may be stale.
    pub async fn project_for_hook(&self, id: &str) -> Result<Option<Arc<Project>>> {
        if let Some(p) = self.inner.project_cache.lock().unwrap().get(id) {
            return Ok(Some(p.clone()));
        }
        let Some(project) = crate::store::projects::find(&self.inner.store, id).await? else { return Ok(None) };
        let project = Arc::new(project);
        self.inner.project_cache.lock().unwrap().insert(id.to_string(), project.clone());
        Ok(Some(project))
    }

    pub(crate) fn projects_changed(&self) {
        self.inner.project_cache.lock().unwrap().clear();
        self.emit(EngineEvent::ProjectsChanged);
    }

    pub(crate) async fn new_webhook_secret(&self, id: &str) -> Result<()> {
        let secret = crate::adapters::token::random_hex(32);
        keychain::set(&webhook_key(id), &secret).await?;
        self.inner.hook_secrets.lock().unwrap().insert(id.to_string(), secret);
        Ok(())
    }

    pub async fn webhook_secret(&self, id: &str) -> Result<String> {
        if let Some(s) = self.inner.hook_secrets.lock().unwrap().get(id) {
            return Ok(s.clone());
        }
        let secret = keychain::get(&webhook_key(id)).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::Keychain,
                format!("the keychain has no webhook secret for project {id}: rotate the secret and update the forge's hook"),
            )
        })?;
        self.inner.hook_secrets.lock().unwrap().insert(id.to_string(), secret.clone());
        Ok(secret)
    }

    /// Hands ref changes (from a webhook, a poll, …) to the intake: runs start at most once.
    pub async fn accept_changes(&self, project: Arc<Project>, changes: Vec<Change>, trigger: Trigger, source: Source) -> Result<Verdict> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job =
            crate::services::intake::Job { project: project.clone(), changes, trigger, source, paused: self.auto_deploy_paused(), reply };
        let gone = || Error::new(ErrorCode::Internal, "the engine is stopping; nothing was queued");
        self.inner.intake.send(job).await.map_err(|_| gone())?;
        let verdict = answer.await.map_err(|_| gone())??;
        self.emit(EngineEvent::DeliveryRecorded { id: verdict.delivery, project_id: Some(project.id.clone()), outcome: verdict.outcome });
        for run_id in &verdict.run_ids {
            if verdict.outcome == Outcome::Queued {
                self.emit(EngineEvent::RunChanged { run_id: *run_id });
            }
        }
        if verdict.outcome == Outcome::Queued {
            self.wake_runner();
        }
        if verdict.outcome == Outcome::Queued && project.token_ref.is_some() {
            // The forge shows "pending" on the commit while the run waits; off the hot path.
            for run in verdict.run_ids.clone() {
                let engine = self.clone();
                tokio::spawn(async move {
                    crate::services::commit_status::report(&engine, run, crate::adapters::forge::status::RunState::Pending, "queued").await;
                });
            }
        }
        Ok(verdict)
    }

    /// Records a delivery refused before intake (4xx/5xx), so the inbox shows it with its reason.
    pub async fn record_rejected_delivery(&self, project_id: Option<&str>, source: &Source, status: u16, reason: &str) -> Result<i64> {
        let id = crate::store::runs::record_rejection(&self.inner.store, project_id, source, status, reason).await?;
        self.emit(EngineEvent::DeliveryRecorded { id, project_id: project_id.map(String::from), outcome: Outcome::Rejected });
        Ok(id)
    }

    /// The HTTPS credentials of a project's forge account, read from the keychain.
    pub async fn credentials_for(&self, project: &Project) -> Result<Option<Credentials>> {
        let Some(account) = &project.token_ref else { return Ok(None) };
        let username = crate::store::accounts::forge_username(self.store(), account).await?;
        let token = keychain::get(&forge_token_key(account)).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::Keychain,
                format!("project {} uses forge account {account:?}, whose token is not in the keychain", project.id),
            )
        })?;
        let username = username.flatten().unwrap_or_else(|| {
            match project.forge {
                Forge::Github => "x-access-token",
                Forge::Gitlab => "oauth2",
                Forge::Bitbucket => "x-token-auth",
                _ => "slipway",
            }
            .to_string()
        });
        Ok(Some(Credentials { username, token, account: account.clone() }))
    }

    pub(crate) fn register_cancel(&self, run: i64, switch: watch::Sender<bool>) {
        self.inner.cancels.lock().unwrap().insert(run, switch);
        self.emit(EngineEvent::RunChanged { run_id: run });
    }

    pub(crate) fn unregister_cancel(&self, run: i64) {
        self.inner.cancels.lock().unwrap().remove(&run);
    }

    pub(crate) fn run_finished(&self, run: i64) {
        self.emit(EngineEvent::RunChanged { run_id: run });
    }

    pub(crate) fn notifier(&self) -> &crate::services::notify::Notifier {
        &self.inner.notifier
    }

    pub(crate) fn wake_runner(&self) {
        self.inner.runner_wake.notify_one();
    }

    /// Waits for new work (or `d`); true when the engine is stopping.
    pub(crate) async fn wait_for_work(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = self.inner.runner_wake.notified() => false,
            stopping = self.sleep_or_stop(d) => stopping,
        }
    }

    /// Sleeps for `d`, or returns true as soon as the engine starts stopping.
    pub(crate) async fn sleep_or_stop(&self, d: std::time::Duration) -> bool {
        let mut stopping = self.inner.stopping.subscribe();
        if *stopping.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stopping.wait_for(|s| *s) => true,
        }
    }

    pub fn runs_held(&self) -> bool {
        self.inner.held.load(Ordering::SeqCst)
    }

    /// Asks the process hosting the engine to quit (it calls [`Engine::stop`] on its way out).
    pub fn request_quit(&self) {
        self.inner.quit_requested.send_replace(true);
    }

    /// How many windows follow the event stream now.
    pub fn ui_clients(&self) -> usize {
        self.inner.ui_clients.load(Ordering::SeqCst)
    }

    /// Counts a window as connected while the returned guard lives.
    pub(crate) fn ui_client(&self) -> UiClient {
        self.inner.ui_clients.fetch_add(1, Ordering::SeqCst);
        UiClient(self.clone())
    }

    /// Resolves once a quit was requested.
    pub async fn quit_requested(&self) {
        let mut rx = self.inner.quit_requested.subscribe();
        let _ = rx.wait_for(|q| *q).await;
    }
}

pub(crate) fn webhook_key(project: &str) -> String {
    format!("webhook-secret:{project}")
}

pub(crate) fn forge_token_key(account: &str) -> String {
    format!("forge-token:{account}")
}
