//! The engine's state: its own (the listener, the API token, the windows connected) and one
//! handle per service, built once in [`Core::open`] from the narrow handles each service needs.
//! Services never see this struct; the operations reach them through it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::adapters::token;
use crate::domain::config::Config;
use crate::domain::events::EngineEvent;
use crate::domain::project::Project;
use crate::services::bus::{Events, Flag, Shutdown, Wake};
use crate::services::commit_status::Reporter;
use crate::services::deploy::promotions::Promotions;
use crate::services::deploy::watch::Watch;
use crate::services::deploy::{Kit, Routes};
use crate::services::hooks::Hooks;
use crate::services::hosts::Hosts;
use crate::services::intake::Intake;
use crate::services::notify::Notifier;
use crate::services::poll::Poller;
use crate::services::run::Runner;
use crate::store::lock::DataDirLock;
use crate::store::logs::Logs;
use crate::store::Store;
use crate::Result;

pub(crate) const PAUSED_KEY: &str = "auto_deploy_paused";
pub(crate) const HELD_KEY: &str = "runs_held";
/// Several Slipways (two workstations, or tests) may share one Docker host: every container
/// and volume a run creates carries this installation's id so none collide or get cleaned up
/// by the wrong engine.
const INSTANCE_KEY: &str = "instance_id";

/// The engine's state, cheap to clone (one `Arc`).
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
    /// This engine's hold on its data directory, released when it stops.
    pub(crate) lock: DataDirLock,
    pub(crate) store: Store,
    pub(crate) logs: Logs,
    pub(crate) token: String,
    pub(crate) instance_id: String,
    pub(crate) listener: Mutex<Option<SocketAddr>>,
    pub(crate) listener_error: Mutex<Option<String>>,
    pub(crate) paused: Flag,
    pub(crate) held: Flag,
    pub(crate) events: Events,
    pub(crate) wake: Wake,
    /// Set once the engine starts stopping; the server and background tasks watch it.
    pub(crate) shutdown: Shutdown,
    /// Set when someone (the API, the tray) asks the host process to quit.
    pub(crate) quit_requested: watch::Sender<bool>,
    /// Windows following the event stream now: the tray brings one forward or opens one.
    pub(crate) ui_clients: AtomicUsize,
    /// The listeners' accept loops (public, API).
    pub(crate) server: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) hosts: Hosts,
    pub(crate) notifier: Notifier,
    /// What desktop notifications' buttons ask for; taken by the task [`crate::Engine::open`] starts.
    pub(crate) notice_actions: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<crate::domain::notice_action::NoticeAction>>>,
    pub(crate) reporter: Reporter,
    pub(crate) poller: Poller,
    pub(crate) hooks: Hooks,
    pub(crate) runner: Runner,
    pub(crate) promotions: Promotions,
    pub(crate) watch: Watch,
}

impl Core {
    /// Opens the store and builds every service's handle; starts nothing in the background
    /// but the intake writer and the run log writer (see [`Core::start`]).
    pub(crate) async fn open(config: Config) -> Result<Core> {
        private_dir(&config.data_dir)?;
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let store = Store::open(&config.store_path()).await?;
        crate::services::secrets::open(&store, &config).await?;
        let token = token::load_or_create(&config.token_path())?;
        let paused = Flag::new(store.setting(PAUSED_KEY).await?.as_deref() == Some("true"));
        let held = Flag::new(store.setting(HELD_KEY).await?.as_deref() == Some("true"));
        let instance_id = match store.setting(INSTANCE_KEY).await? {
            Some(id) => id,
            None => {
                let id = token::random_hex(4);
                store.set_setting(INSTANCE_KEY, &id).await?;
                id
            }
        };
        let (events, wake, shutdown) = (Events::new(256), Wake::default(), Shutdown::default());
        let logs = Logs::start(store.clone());
        let reporter = Reporter { store: store.clone(), logs: logs.clone() };
        let hosts = Hosts::new(store.clone(), &config.docker_host, events.clone(), shutdown.clone());
        let routes = Arc::new(Routes::new(
            // The edge can mount the hook socket only where its Docker engine shares this
            // machine's files: a Unix socket (npipe and tcp:// engines may be elsewhere).
            (cfg!(unix) && config.docker_host.starts_with("unix://")).then(|| config.hooks_dir()),
        ));
        // Drains are in the store; every edge reload (the first one at reconcile) applies them.
        for (sid, d) in crate::store::drains::list(&store).await? {
            routes.mark_drained(&d.host_id, &sid, true);
        }
        let forget = routes.clone();
        hosts.on_forget(move |id| forget.forget_host(id));
        let (asks, asked) = tokio::sync::mpsc::unbounded_channel();
        let notifier = Notifier::new(store.clone(), logs.clone(), events.clone(), asks);
        let intake = Intake::start(store.clone(), events.clone(), wake.clone(), paused.clone(), reporter.clone());
        let poller = Poller { store: store.clone(), intake, shutdown: shutdown.clone() };
        let hooks = Hooks::new(store.clone(), poller.clone());
        let promotions = Promotions {
            store: store.clone(),
            events: events.clone(),
            wake: wake.clone(),
            paused: paused.clone(),
            notifier: notifier.clone(),
        };
        let kit = Kit {
            store: store.clone(),
            logs: logs.clone(),
            config: config.clone(),
            hosts: hosts.clone(),
            routes,
            promotions: promotions.clone(),
            instance: instance_id.clone(),
        };
        let watch = Watch::new(kit.clone(), notifier.clone(), events.clone(), wake.clone(), shutdown.clone());
        let runner = Runner::new(kit, events.clone(), reporter.clone(), wake.clone(), held.clone(), shutdown.clone());
        let inner = Inner {
            config,
            lock,
            store,
            logs,
            token,
            instance_id,
            listener: Mutex::new(None),
            listener_error: Mutex::new(None),
            paused,
            held,
            events,
            wake,
            shutdown,
            quit_requested: watch::channel(false).0,
            ui_clients: Default::default(),
            server: Mutex::new(Vec::new()),
            hosts,
            notifier,
            notice_actions: Mutex::new(Some(asked)),
            reporter,
            poller,
            hooks,
            runner,
            promotions,
            watch,
        };
        Ok(Core { inner: Arc::new(inner) })
    }

    /// Starts the background work: host health, polling, notifications, the runner.
    pub(crate) async fn start(&self) -> Result<()> {
        let inner = &self.inner;
        inner.hosts.start().await?;
        // Subscribed first: the notifications hear of the runs a crash interrupted.
        let events = self.subscribe();
        let interrupted = match inner.runner.interrupt_left_running().await {
            Ok(stages) => stages,
            Err(e) => {
                tracing::error!("could not mark the runs a crash left running: {e}");
                Vec::new()
            }
        };
        tokio::spawn(inner.poller.clone().run());
        tokio::spawn(inner.notifier.clone().run(events));

        tokio::spawn(inner.runner.clone().run(interrupted));
        tokio::spawn(inner.watch.clone().run());
        let promotions = inner.promotions.clone();
        tokio::spawn(async move { promotions.resume_soaking().await });
        Ok(())
    }

    pub async fn project(&self, id: &str) -> Result<Project> {
        crate::store::projects::get(self.store(), id).await
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn logs(&self) -> &Logs {
        &self.inner.logs
    }

    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    pub fn host_pool(&self) -> &Hosts {
        &self.inner.hosts
    }

    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// The commit status reporter.
    pub fn reporter(&self) -> &Reporter {
        &self.inner.reporter
    }

    pub fn hooks(&self) -> &Hooks {
        &self.inner.hooks
    }

    /// Where ref changes are handed in (the poller's intake: there is one).
    pub fn intake(&self) -> &Intake {
        &self.inner.poller.intake
    }

    pub fn poller(&self) -> &Poller {
        &self.inner.poller
    }

    pub(crate) fn runner(&self) -> &Runner {
        &self.inner.runner
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

    pub fn emit(&self, event: EngineEvent) {
        self.inner.events.emit(event)
    }

    pub fn auto_deploy_paused(&self) -> bool {
        self.inner.paused.get()
    }

    pub fn runs_held(&self) -> bool {
        self.inner.held.get()
    }

    pub(crate) fn wake_runner(&self) {
        self.inner.wake.wake();
    }

    /// Run `run` was queued: tell the UI and wake the runner.
    pub(crate) fn queued(&self, run: i64) {
        self.inner.promotions.queued(run);
    }

    pub(crate) fn projects_changed(&self) {
        self.inner.hooks.projects_changed();
        self.emit(EngineEvent::ProjectsChanged);
    }

    /// Asks the process hosting the engine to quit (it calls [`crate::Engine::stop`] on its way out).
    pub fn request_quit(&self) {
        self.inner.quit_requested.send_replace(true);
    }

    /// Whether the stop under way was asked for ([`Engine::request_quit`]) rather than signalled.
    pub fn quit_was_requested(&self) -> bool {
        *self.inner.quit_requested.borrow()
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

/// Creates the data directory readable by its owner only (0700) whatever the umask, and
/// narrows one an older version left wider: it holds the store, the API token and the secrets
/// file.
fn private_dir(dir: &std::path::Path) -> Result<()> {
    // Narrowed unless it is plainly not Slipway's own: a home directory or a top-level one
    // (`/`, `/srv`) someone passed as --data-dir.
    let full = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let shared = dirs::home_dir().is_some_and(|h| h == full) || full.components().count() <= 2;
    let ours = !shared || dir.join("slipway.db").exists();
    std::fs::create_dir_all(dir)?;
    #[cfg(not(unix))]
    let _ = ours;
    #[cfg(unix)]
    if ours {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}
