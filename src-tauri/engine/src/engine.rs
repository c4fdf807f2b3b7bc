//! The engine: one value that owns the store, the local listener and the background work. The
//! desktop app and the headless binary both hold one, and call the same operations on it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use ts_rs::TS;

use crate::docker::{self, DockerStatus};
use crate::intake::{self, Change, Delivery, Outcome, RunSummary, Source, Trigger, Verdict};
use crate::poll::Credentials;
use crate::projects::{self, Forge, NewProject, Project};
use crate::store::{self, now_ms, Store};
use crate::{api, secrets, token, Config, Error, ErrorCode, Result};

const PAUSED_KEY: &str = "auto_deploy_paused";
const HELD_KEY: &str = "runs_held";
/// Several Slipways (two workstations, or tests) may share one Docker host: every container
/// and volume a run creates carries this installation's id so none collide or get cleaned up
/// by the wrong engine.
const INSTANCE_KEY: &str = "instance_id";

/// What the UI's status view and `slipwayd status` show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EngineStatus {
    pub version: String,
    /// Names this installation's containers and volumes on shared Docker hosts.
    pub instance_id: String,
    pub pid: u32,
    pub data_dir: String,
    pub store_path: String,
    #[ts(type = "number")]
    pub schema_version: i64,
    /// Base URL of the local listener (API and webhooks), when it is listening.
    pub listener: Option<String>,
    /// Why the listener is not listening, when it is not.
    pub listener_error: Option<String>,
    pub docker: DockerStatus,
    pub auto_deploy_paused: bool,
    /// Queued runs wait (host maintenance, say) until the hold is released.
    pub runs_held: bool,
    /// Windows following the engine's events now (the tray opens one when there is none).
    pub ui_clients: u32,
}

/// State changes pushed to the UI (as Tauri events) and to API clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    AutoDeployChanged { paused: bool },
    ProjectsChanged,
    /// A run was queued, started, or ended.
    RunChanged {
        #[ts(type = "number")]
        run_id: i64,
    },
    /// A step of a running run started or ended.
    StepChanged {
        #[ts(type = "number")]
        run_id: i64,
    },
    /// A delivery (webhook or poll) reached the inbox.
    DeliveryRecorded {
        #[ts(type = "number")]
        id: i64,
        project_id: Option<String>,
        outcome: Outcome,
    },
    /// A stage got a new live release (deploy, rollback or promotion).
    ReleaseChanged { project_id: String, stage: String },
    /// Something the operator should hear of (a run failed, recovered, …); the desktop
    /// notification and the chat channels are sent by the engine itself.
    Notice { notice: crate::notify::Notice },
    /// The operator clicked a desktop notification: show that run.
    OpenRun {
        #[ts(type = "number")]
        run_id: i64,
    },
    /// A host was added, edited, removed or imported.
    HostsChanged,
    /// A host became reachable or unreachable (or failed differently).
    HostStatusChanged { status: crate::hosts::HostStatus },
    /// The tray asked for the window: the open one comes forward (showing a run or the promote
    /// dialog when one is named).
    ShowWindow {
        #[ts(type = "number | null")]
        run_id: Option<i64>,
        promote: Option<PromoteTarget>,
    },
    ShuttingDown,
}

/// A stage to promote, as the tray names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PromoteTarget {
    pub project_id: String,
    pub stage: String,
}

pub(crate) struct UiClient(Engine);

impl Drop for UiClient {
    fn drop(&mut self) {
        self.0.inner.ui_clients.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What an operator pastes into the forge's webhook form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WebhookInfo {
    pub project_id: String,
    /// None while the listener is not listening.
    pub url: Option<String>,
    pub secret: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportResult {
    pub project: Project,
    pub created: bool,
    /// Things the operator should know (stages kept that the file no longer has).
    pub notes: Vec<String>,
}

/// A forge account: its token lives in the keychain under `forge-token:<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ForgeAccount {
    pub name: String,
    pub forge: Forge,
    /// API root for commit statuses (e.g. https://api.github.com); None for the forge's default.
    pub api_base: Option<String>,
    /// User for HTTPS clones; None for the forge's convention (x-access-token, oauth2, …).
    pub username: Option<String>,
}

/// Written to `engine.json` while the engine runs, so the CLI can find it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineFile {
    pub url: String,
    pub pid: u32,
    pub version: String,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    token: String,
    instance_id: String,
    listener: Mutex<Option<SocketAddr>>,
    listener_error: Mutex<Option<String>>,
    paused: AtomicBool,
    held: AtomicBool,
    events: broadcast::Sender<EngineEvent>,
    /// Set once the engine starts stopping; the server and background tasks watch it.
    stopping: watch::Sender<bool>,
    /// Set when someone (the API, the tray) asks the host process to quit.
    quit_requested: watch::Sender<bool>,
    /// Windows following the event stream now: the tray brings one forward or opens one.
    ui_clients: std::sync::atomic::AtomicUsize,
    server: Mutex<Option<JoinHandle<()>>>,
    /// The intake writer's queue: one writer decides all runs, so one push starts one run.
    intake: tokio::sync::mpsc::Sender<intake::Job>,
    /// Webhook secrets read from the keychain once, not on every delivery.
    hook_secrets: Mutex<std::collections::HashMap<String, String>>,
    logs: crate::runlog::Logs,
    /// Cancel switches of the runs executing now.
    cancels: Mutex<std::collections::HashMap<i64, watch::Sender<bool>>>,
    runner_wake: tokio::sync::Notify,
    /// Projects as the webhook route needs them (rules, forge), dropped on every change.
    project_cache: Mutex<std::collections::HashMap<String, Arc<Project>>>,
    /// What the edge routes, per stage; every change is one ordered reload.
    routes: crate::deploy::Routes,
    notifier: crate::notify::Notifier,
    hosts: crate::hostpool::HostPool,
}

impl Engine {
    /// Opens the store and starts the listener. A listener that cannot bind is reported in the
    /// status (and by `listener_error`) rather than failing the start: the desktop app stays
    /// useful without it, the headless binary decides for itself.
    pub async fn start(config: Config) -> Result<Engine> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Store::open(&config.store_path()).await?;
        let token = token::load_or_create(&config.token_path())?;
        let paused = store.setting(PAUSED_KEY).await?.as_deref() == Some("true");
        let held = store.setting(HELD_KEY).await?.as_deref() == Some("true");
        set_git_timeouts();
        let instance_id = match store.setting(INSTANCE_KEY).await? {
            Some(id) => id,
            None => {
                let id = token::random_hex(4);
                store.set_setting(INSTANCE_KEY, &id).await?;
                id
            }
        };
        let (events, _) = broadcast::channel(256);
        let (intake_tx, intake_rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(intake::writer(store.clone(), intake_rx));
        let logs = crate::runlog::Logs::start(store.clone());
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                store,
                token,
                instance_id,
                listener: Mutex::new(None),
                listener_error: Mutex::new(None),
                paused: AtomicBool::new(paused),
                held: AtomicBool::new(held),
                events,
                stopping: watch::channel(false).0,
                quit_requested: watch::channel(false).0,
                ui_clients: Default::default(),
                server: Mutex::new(None),
                intake: intake_tx,
                hook_secrets: Mutex::new(Default::default()),
                project_cache: Mutex::new(Default::default()),
                routes: crate::deploy::Routes::default(),
                logs,
                cancels: Mutex::new(Default::default()),
                runner_wake: tokio::sync::Notify::new(),
                notifier: crate::notify::Notifier::new(),
                hosts: Default::default(),
            }),
        };
        crate::hostpool::start(&engine).await?;
        engine.start_listener().await;
        tokio::spawn(crate::poll::run(engine.clone()));
        tokio::spawn(crate::notify::run(engine.clone(), engine.subscribe()));
        tokio::spawn(crate::runner::run(engine.clone()));
        tokio::spawn(crate::console::forward_step_changes(engine.clone()));
        tracing::info!(data_dir = %engine.config().data_dir.display(), "engine started");
        Ok(engine)
    }

    async fn start_listener(&self) {
        let addr = self.inner.config.listen;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let local = listener.local_addr().unwrap_or(addr);
                *self.inner.listener.lock().unwrap() = Some(local);
                let mut stopping = self.inner.stopping.subscribe();
                let app = api::router(self.clone());
                let task = tokio::spawn(async move {
                    let shutdown = async move {
                        let _ = stopping.wait_for(|s| *s).await;
                    };
                    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                        tracing::error!("listener failed: {e}");
                    }
                });
                *self.inner.server.lock().unwrap() = Some(task);
                let file = EngineFile {
                    url: format!("http://{local}"),
                    pid: std::process::id(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                };
                if let Err(e) = std::fs::write(self.config().engine_file(), serde_json::to_vec_pretty(&file).unwrap_or_default()) {
                    tracing::warn!("cannot write {}: {e}", self.config().engine_file().display());
                }
                tracing::info!("listening on http://{local}");
            }
            Err(e) => {
                let msg = if e.kind() == std::io::ErrorKind::AddrInUse {
                    format!("cannot listen on {addr}: the port is in use (is another Slipway running?). Set another port with --listen or SLIPWAY_LISTEN.")
                } else {
                    format!("cannot listen on {addr}: {e}")
                };
                tracing::error!("{msg}");
                *self.inner.listener_error.lock().unwrap() = Some(msg);
            }
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn logs(&self) -> &crate::runlog::Logs {
        &self.inner.logs
    }

    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    pub(crate) fn routes(&self) -> &crate::deploy::Routes {
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

    pub(crate) fn host_pool(&self) -> &crate::hostpool::HostPool {
        &self.inner.hosts
    }

    pub fn emit(&self, event: EngineEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.inner.events.send(event);
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
        })
    }

    pub fn auto_deploy_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    /// Pausing stops webhooks and polls from starting runs; manual runs still go.
    pub async fn set_auto_deploy_paused(&self, paused: bool) -> Result<bool> {
        self.inner.store.set_setting(PAUSED_KEY, if paused { "true" } else { "false" }).await?;
        let was = self.inner.paused.swap(paused, Ordering::SeqCst);
        if was != paused {
            tracing::info!(paused, "auto-deploy {}", if paused { "paused" } else { "resumed" });
            self.emit(EngineEvent::AutoDeployChanged { paused });
        }
        Ok(paused)
    }

    pub async fn projects(&self) -> Result<Vec<Project>> {
        projects::list(&self.inner.store).await
    }

    pub async fn project(&self, id: &str) -> Result<Project> {
        projects::get(&self.inner.store, id).await
    }

    /// The project for a webhook: from memory after the first delivery, since every delivery
    /// needs it and it changes only through this engine. Its poll fields may be stale.
    pub async fn project_for_hook(&self, id: &str) -> Result<Option<Arc<Project>>> {
        if let Some(p) = self.inner.project_cache.lock().unwrap().get(id) {
            return Ok(Some(p.clone()));
        }
        let Some(project) = projects::find(&self.inner.store, id).await? else { return Ok(None) };
        let project = Arc::new(project);
        self.inner.project_cache.lock().unwrap().insert(id.to_string(), project.clone());
        Ok(Some(project))
    }

    fn projects_changed(&self) {
        self.inner.project_cache.lock().unwrap().clear();
        self.emit(EngineEvent::ProjectsChanged);
    }

    /// Creates the project and its webhook secret (in the keychain). No keychain, no project:
    /// a project whose hooks could never verify would only collect 401s.
    pub async fn create_project(&self, new: NewProject) -> Result<Project> {
        let mut channels = new.notifications.clone();
        let mut project = projects::create(&self.inner.store, new).await?;
        if let Err(e) = self.new_webhook_secret(&project.id).await {
            let _ = projects::delete(&self.inner.store, &project.id).await;
            return Err(e);
        }
        if !channels.is_empty() {
            match self.store_channels(&project.id, &mut channels, &[]).await {
                Ok(p) => project = p,
                Err(e) => {
                    let _ = projects::delete(&self.inner.store, &project.id).await;
                    return Err(e);
                }
            }
        }
        tracing::info!(project = %project.id, "project created");
        self.projects_changed();
        Ok(project)
    }

    pub async fn export_project(&self, id: &str) -> Result<String> {
        Ok(projects::to_yaml(&projects::get(&self.inner.store, id).await?))
    }

    /// Creates or updates a project from its YAML (see [`projects::apply`]).
    pub async fn import_project(&self, yaml: &str) -> Result<ImportResult> {
        let spec = projects::from_yaml(yaml)?;
        let previous = projects::find(&self.inner.store, &projects::slug(&spec.name)).await?.map(|p| p.notifications).unwrap_or_default();
        let mut channels = spec.notifications.clone();
        let (mut project, created, mut notes) = projects::apply(&self.inner.store, spec).await?;
        if created {
            if let Err(e) = self.new_webhook_secret(&project.id).await {
                let _ = projects::delete(&self.inner.store, &project.id).await;
                return Err(e);
            }
        }
        if !channels.is_empty() || !previous.is_empty() {
            for old in previous.iter().filter(|o| !channels.iter().any(|c| c.name == o.name || (c.name.is_empty() && c.kind == o.kind))) {
                notes.push(format!("notification channel {} is not in the file and was removed", old.name));
            }
            project = self.store_channels(&project.id, &mut channels, &previous).await?;
            for c in &project.notifications {
                if secrets::get(&crate::notify::url_key(&project.id, &c.name)).await?.is_none() {
                    notes.push(format!("notification channel {} has no URL in the keychain: set it with PUT /api/v1/projects/{}/notifications", c.name, project.id));
                }
            }
        }
        self.projects_changed();
        Ok(ImportResult { project, created, notes })
    }

    pub async fn delete_project(&self, id: &str) -> Result<()> {
        let channels = projects::find(&self.inner.store, id).await?.map(|p| p.notifications).unwrap_or_default();
        projects::delete(&self.inner.store, id).await?;
        for c in &channels {
            crate::notify::forget_channel(id, &c.name).await;
        }
        self.inner.hook_secrets.lock().unwrap().remove(id);
        if let Err(e) = secrets::delete(&webhook_key(id)).await {
            tracing::warn!("project {id} deleted but its webhook secret stays in the keychain: {e}");
        }
        self.projects_changed();
        Ok(())
    }

    pub async fn webhook_info(&self, id: &str) -> Result<WebhookInfo> {
        let project = projects::get(&self.inner.store, id).await?;
        Ok(WebhookInfo {
            url: self.listener_addr().map(|a| format!("http://{a}/hooks/{}", project.id)),
            secret: self.webhook_secret(&project.id).await?,
            project_id: project.id,
        })
    }

    /// A new secret: deliveries signed with the old one get 401 from now on.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<WebhookInfo> {
        let project = projects::get(&self.inner.store, id).await?;
        self.new_webhook_secret(&project.id).await?;
        self.webhook_info(id).await
    }

    async fn new_webhook_secret(&self, id: &str) -> Result<()> {
        let secret = token::random_hex(32);
        secrets::set(&webhook_key(id), &secret).await?;
        self.inner.hook_secrets.lock().unwrap().insert(id.to_string(), secret);
        Ok(())
    }

    pub async fn webhook_secret(&self, id: &str) -> Result<String> {
        if let Some(s) = self.inner.hook_secrets.lock().unwrap().get(id) {
            return Ok(s.clone());
        }
        let secret = secrets::get(&webhook_key(id)).await?.ok_or_else(|| {
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
        let job = intake::Job { project: project.clone(), changes, trigger, source, paused: self.auto_deploy_paused(), reply };
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
                    crate::commit_status::report(&engine, run, crate::forge_status::RunState::Pending, "queued").await;
                });
            }
        }
        Ok(verdict)
    }

    /// Records a delivery refused before intake (4xx/5xx), so the inbox shows it with its reason.
    pub async fn record_rejected_delivery(&self, project_id: Option<&str>, source: &Source, status: u16, reason: &str) -> Result<i64> {
        let id = intake::record_rejection(&self.inner.store, project_id, source, status, reason).await?;
        self.emit(EngineEvent::DeliveryRecorded { id, project_id: project_id.map(String::from), outcome: Outcome::Rejected });
        Ok(id)
    }

    pub async fn deliveries(&self, project: Option<&str>, limit: u32) -> Result<Vec<Delivery>> {
        intake::deliveries(&self.inner.store, project, limit.clamp(1, 1000)).await
    }

    pub async fn runs(&self, project: Option<&str>, limit: u32) -> Result<Vec<RunSummary>> {
        intake::runs(&self.inner.store, project, limit.clamp(1, 1000)).await
    }

    /// Saves a forge account and puts its token in the keychain (never in the store).
    pub async fn save_forge_account(&self, account: ForgeAccount, token: &str) -> Result<ForgeAccount> {
        if projects::slug(&account.name) != account.name {
            return Err(Error::new(ErrorCode::InvalidInput, "name: lowercase letters, digits and dashes"));
        }
        if token.trim().is_empty() {
            return Err(Error::new(ErrorCode::InvalidInput, "token: paste the forge's access token"));
        }
        secrets::set(&forge_token_key(&account.name), token.trim()).await?;
        sqlx::query(
            "INSERT INTO forge_accounts (name, forge, api_base, username, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET forge = excluded.forge, api_base = excluded.api_base, username = excluded.username",
        )
        .bind(&account.name)
        .bind(account.forge.as_str())
        .bind(&account.api_base)
        .bind(&account.username)
        .bind(now_ms())
        .execute(self.inner.store.pool())
        .await?;
        Ok(account)
    }

    /// Saves a registry's `user:password` in the keychain under `registry:<name>`, for projects
    /// whose `registry_account` is `name`.
    pub async fn save_registry_account(&self, name: &str, username: &str, password: &str) -> Result<()> {
        if projects::slug(name) != name || username.is_empty() || username.contains(':') {
            return Err(Error::new(ErrorCode::InvalidInput, "name: lowercase letters, digits and dashes; username: not empty, no ':'"));
        }
        secrets::set(&format!("registry:{name}"), &format!("{username}:{password}")).await
    }

    /// The HTTPS credentials of a project's forge account, read from the keychain.
    pub async fn credentials_for(&self, project: &Project) -> Result<Option<Credentials>> {
        let Some(account) = &project.token_ref else { return Ok(None) };
        let username: Option<(Option<String>,)> = sqlx::query_as("SELECT username FROM forge_accounts WHERE name = ?")
            .bind(account)
            .fetch_optional(self.inner.store.pool())
            .await?;
        let token = secrets::get(&forge_token_key(account)).await?.ok_or_else(|| {
            Error::new(ErrorCode::Keychain, format!("project {} uses forge account {account:?}, whose token is not in the keychain", project.id))
        })?;
        let username = username.and_then(|u| u.0).unwrap_or_else(|| {
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

    /// Polls a project now, whatever its interval, and returns it with the poll's result.
    pub async fn poll_now(&self, id: &str) -> Result<Project> {
        let project = projects::get(&self.inner.store, id).await?;
        crate::poll::poll_project(self, &project).await?;
        projects::get(&self.inner.store, id).await
    }

    /// Queues a run of `stage` for what the operator typed: a tag, a branch, or a full commit id.
    /// A tag or branch is looked up on the remote now, so the run builds exactly that commit.
    pub async fn start_manual_run(&self, project_id: &str, stage: &str, wanted: &str) -> Result<i64> {
        let project = projects::get(&self.inner.store, project_id).await?;
        if !project.stages.iter().any(|s| s.name == stage) {
            return Err(Error::new(ErrorCode::NotFound, format!("project {project_id} has no stage {stage:?}")));
        }
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Err(Error::new(ErrorCode::InvalidInput, "ref: give a tag, a branch or a full commit id"));
        }
        let (git_ref, commit) = if wanted.len() == 40 && wanted.chars().all(|c| c.is_ascii_hexdigit()) {
            (None, wanted.to_ascii_lowercase())
        } else {
            let creds = self.credentials_for(&project).await?;
            let (url, forge) = (project.repo_url.clone(), project.forge);
            let refs = tokio::task::spawn_blocking(move || crate::poll::ls_remote(&url, forge, creds.as_ref()))
                .await
                .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))??;
            let (r, c) = crate::source::resolve(&refs, wanted).ok_or_else(|| {
                Error::new(ErrorCode::NotFound, format!("ref: {} has no tag or branch {wanted:?}", project.repo_url))
            })?;
            (Some(r), c)
        };
        let id = intake::enqueue_manual(&self.inner.store, &project, stage, git_ref.as_deref(), &commit, Trigger::Manual).await?;
        tracing::info!(run = id, project = project_id, stage, commit, "manual run queued");
        self.emit(EngineEvent::RunChanged { run_id: id });
        self.wake_runner();
        Ok(id)
    }

    pub async fn run_detail(&self, id: i64) -> Result<intake::RunDetail> {
        intake::run_detail(&self.inner.store, id).await
    }

    pub async fn run_logs(&self, id: i64, after_seq: i64, limit: u32) -> Result<Vec<crate::runlog::LogLine>> {
        crate::runlog::read(&self.inner.store, id, after_seq, limit.clamp(1, 100_000)).await
    }

    /// Sends a run's log to `sink` in batches: what is stored after `after_seq`, then new lines
    /// as they come, until the run has ended or `sink` closes (the viewer went away). A slow
    /// viewer slows the reading down; nothing piles up in memory.
    pub async fn follow_log(&self, run_id: i64, after_seq: i64, sink: tokio::sync::mpsc::Sender<Vec<crate::runlog::LogLine>>) -> Result<()> {
        use tokio::sync::broadcast::error::RecvError;
        let mut live = self.inner.logs.follow();
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
            let status = intake::run_detail(&self.inner.store, run_id).await?.run.status;
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
        if intake::cancel_queued(&self.inner.store, id).await? {
            self.emit(EngineEvent::RunChanged { run_id: id });
            return Ok(());
        }
        match self.inner.cancels.lock().unwrap().get(&id) {
            Some(switch) => {
                switch.send_replace(true);
                Ok(())
            }
            None => Err(Error::new(ErrorCode::InvalidInput, format!("run {id} is neither queued nor running"))),
        }
    }

    /// Replaces the project's outbound notification channels. A channel given with a `url`
    /// (and, for webhooks, a `secret`) has them put in the keychain; one given without keeps
    /// what the keychain holds under its name. Channels left out are forgotten.
    pub async fn set_project_notifications(&self, project_id: &str, mut channels: Vec<crate::notify::NotifyChannel>) -> Result<Project> {
        let previous = projects::get(&self.inner.store, project_id).await?.notifications;
        let project = self.store_channels(project_id, &mut channels, &previous).await?;
        self.projects_changed();
        Ok(project)
    }

    async fn store_channels(&self, project_id: &str, channels: &mut [crate::notify::NotifyChannel], previous: &[crate::notify::NotifyChannel]) -> Result<Project> {
        crate::notify::store_channel_secrets(project_id, channels, previous).await?;
        projects::set_notifications(&self.inner.store, project_id, channels).await
    }

    /// Sends a test notification to each of the project's channels, and says how each went.
    pub async fn test_project_notifications(&self, project_id: &str) -> Result<Vec<crate::notify::ChannelResult>> {
        crate::notify::test_channels(self, project_id).await
    }

    pub async fn notification_settings(&self) -> Result<crate::notify::NotificationSettings> {
        crate::notify::settings(self).await
    }

    /// Turns desktop notifications on or off (`desktop`; the read-only fields are ignored).
    pub async fn set_notification_settings(&self, settings: crate::notify::NotificationSettings) -> Result<crate::notify::NotificationSettings> {
        crate::notify::set_settings(self, &settings).await
    }

    /// Stores a project secret in the keychain; steps that list it get it as an env variable.
    pub async fn set_project_secret(&self, project_id: &str, name: &str, value: &str) -> Result<()> {
        projects::get(&self.inner.store, project_id).await?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::new(ErrorCode::InvalidInput, "name: letters, digits and underscores, as an environment variable"));
        }
        secrets::set(&crate::runner::secret_key(project_id, name), value).await
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

    pub(crate) fn notifier(&self) -> &crate::notify::Notifier {
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

    /// Holding keeps queued runs waiting (running ones finish); releasing lets them start.
    pub async fn set_runs_held(&self, held: bool) -> Result<bool> {
        self.inner.store.set_setting(HELD_KEY, if held { "true" } else { "false" }).await?;
        self.inner.held.store(held, Ordering::SeqCst);
        tracing::info!(held, "runs {}", if held { "held" } else { "released" });
        if !held {
            self.wake_runner();
        }
        Ok(held)
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

    /// Stops the listener (letting in-flight requests finish), flushes and closes the store, and
    /// removes `engine.json`. Safe to call more than once.
    pub async fn stop(&self) {
        if self.inner.stopping.send_replace(true) {
            return;
        }
        self.emit(EngineEvent::ShuttingDown);
        let server = self.inner.server.lock().unwrap().take();
        if let Some(task) = server {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        let _ = std::fs::remove_file(self.config().engine_file());
        self.inner.store.close().await;
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

fn webhook_key(project: &str) -> String {
    format!("webhook-secret:{project}")
}

fn forge_token_key(account: &str) -> String {
    format!("forge-token:{account}")
}

pub fn schema_version_known() -> i64 {
    store::latest_known_version()
}
