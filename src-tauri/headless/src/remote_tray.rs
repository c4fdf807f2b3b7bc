//! `slipwayd tray --engine ssh://…`: the tray and the desktop notifications of an engine that
//! runs on another machine. Nothing of an engine runs here: the tray reads what it shows over
//! the API (through the SSH tunnel), shows the engine's notices (`notice` events, decided once
//! per outcome by the engine) on this desktop, and opens the window attached to the same
//! engine. When the link drops it attaches again with backoff, the icon showing the last state.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_engine::adapters::desktop;
use slipway_engine::domain::notice::{Notice, RateLimiter};
use slipway_engine::domain::notice_action::{action_for, buttons, NoticeAction};
use slipway_engine::http::client::{console_actor, Client};
use slipway_engine::{EngineEvent, Error, ErrorCode};
use slipway_protocol::ops;
use slipway_protocol::remote::{self, SshTarget};
use tokio::sync::{mpsc, Notify, RwLock};

use crate::tray::{self, TrayAction, TrayModel};

const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_CEILING: Duration = Duration::from_secs(15);

/// Runs the tray until its Quit is clicked (the remote engine keeps running).
pub async fn run(target: SshTarget) -> Result<(), Error> {
    let (tx, actions) = mpsc::unbounded_channel();
    let handle = tray::spawn(tx).await.map_err(|e| Error::new(ErrorCode::Unavailable, format!("{e}: `slipwayd tray` is only a tray")))?;
    let current: Arc<RwLock<Option<Client>>> = Arc::default();
    let quit = Arc::new(Notify::new());
    tokio::spawn(answer_clicks(actions, target.label(), current.clone(), handle.clone(), quit.clone()));
    let mut pause = RETRY_FIRST;
    loop {
        let session = async {
            let attached = remote::attach(&target).await?;
            let client = attached.client.with_actor(console_actor("tray"));
            tracing::info!("tray attached to {} (engine {})", target.label(), attached.info.version);
            *current.write().await = Some(client.clone());
            let result = follow(&client, &handle, &target.label()).await;
            *current.write().await = None;
            drop(attached.tunnel);
            result
        };
        tokio::select! {
            _ = quit.notified() => return Ok(()),
            result = session => match result {
                Ok(()) => pause = RETRY_FIRST,
                Err(e) => tracing::warn!("tray: {e}; attaching again in {:.1} s", pause.as_secs_f32()),
            },
        }
        tokio::select! {
            _ = quit.notified() => return Ok(()),
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(RETRY_CEILING);
    }
}

/// Keeps the icon and menu current and shows the engine's notices until the link drops. One
/// stream for the whole link: restarting it after each change could miss a notice in between.
/// The menu is first read once the stream is open (the engine subscribes before it answers):
/// read before, a run that ended in between would stay "running" in the menu, and its notice
/// would never reach this desktop.
async fn follow(client: &Client, handle: &tray::Handle, address: &str) -> Result<(), Error> {
    let desktop_on = client.call(ops::GetNotificationSettings {}).await.map(|s| s.desktop).unwrap_or(true);
    let mut limiter = RateLimiter::default();
    let dirty = Notify::new();
    let events = client.stream_opened::<EngineEvent>(
        "/events",
        || dirty.notify_one(),
        |batch| {
            for event in batch {
                match event {
                    EngineEvent::Notice { notice } if desktop_on && limiter.admit(Instant::now(), &notice) => show(notice, address, client),
                    EngineEvent::AutoDeployChanged { .. }
                    | EngineEvent::RunChanged { .. }
                    | EngineEvent::ReleaseChanged { .. }
                    | EngineEvent::ProjectsChanged => dirty.notify_one(),
                    _ => {}
                }
            }
            if let Some(summary) = limiter.summary(Instant::now()) {
                show(summary, address, client);
            }
            true
        },
    );
    let refresher = async {
        loop {
            dirty.notified().await;
            // A burst of events costs one refresh.
            tokio::time::sleep(Duration::from_millis(150)).await;
            if let Err(e) = refresh(client, handle).await {
                tracing::warn!("tray: cannot read the engine's state: {e}");
            }
        }
    };
    tokio::select! {
        result = events => result?,
        () = refresher => {}
    }
    Err(Error::new(ErrorCode::Unavailable, "the engine's event stream ended"))
}

async fn refresh(client: &Client, handle: &tray::Handle) -> Result<(), Error> {
    let summary = client.call(ops::GetTray {}).await?;
    let paused = client.call(ops::GetStatus {}).await?.auto_deploy_paused;
    handle.set(TrayModel { summary, paused }).await;
    Ok(())
}

/// A notice on this desktop, with the buttons the engine's own would have; they act on the
/// remote engine (a "Roll back" through its API) or open the window attached to it.
fn show(notice: Notice, address: &str, client: &Client) {
    let (address, client) = (address.to_string(), client.clone());
    tokio::spawn(async move {
        let clicked = notice.clone();
        let on_action = move |key: String| match action_for(&clicked, &key) {
            Some(NoticeAction::OpenRun(id)) => open_window(&address, vec!["--run".into(), id.to_string()]),
            Some(NoticeAction::ReviewPromote { project, stage }) => {
                open_window(&address, vec!["--promote".into(), format!("{project}/{stage}")])
            }
            Some(NoticeAction::Open { .. }) => open_window(&address, vec![]),
            Some(NoticeAction::RollBack { project, stage, run }) => drop(tokio::spawn(roll_back(client, address, project, stage, run))),
            None => tracing::warn!("desktop notification: an action it did not offer ({key:?})"),
        };
        if let Err(e) = desktop::show(&notice, &buttons(&notice), on_action).await {
            tracing::warn!("desktop notification not shown: {e}");
        }
    });
}

/// A notification's "Roll back", decided by the remote engine as it decides its own: a rollback
/// run, or the window where the stage asks for confirmations.
async fn roll_back(client: Client, address: String, project: String, stage: String, run: Option<i64>) {
    let client = client.with_actor(console_actor("notification"));
    match client.call(ops::RollbackFromNotice { project: project.clone(), stage: stage.clone() }).await {
        Ok(ops::NoticeRollback::Started { run_id }) => {
            tracing::info!(run = run_id, project, stage, "rollback asked from a desktop notification")
        }
        Ok(ops::NoticeRollback::NeedsConfirmation) => {
            open_window(&address, run.map(|id| vec!["--run".into(), id.to_string()]).unwrap_or_default())
        }
        Err(e) => tracing::error!(project, stage, "the notification's rollback on {address}: {e}"),
    }
}

async fn answer_clicks(
    mut actions: mpsc::UnboundedReceiver<TrayAction>,
    address: String,
    current: Arc<RwLock<Option<Client>>>,
    handle: tray::Handle,
    quit: Arc<Notify>,
) {
    while let Some(action) = actions.recv().await {
        match action {
            TrayAction::Open => open_window(&address, vec![]),
            TrayAction::OpenRun(id) => open_window(&address, vec!["--run".into(), id.to_string()]),
            TrayAction::Promote { project_id, stage } => open_window(&address, vec!["--promote".into(), format!("{project_id}/{stage}")]),
            TrayAction::TogglePause => {
                let Some(client) = current.read().await.clone() else {
                    tracing::warn!("tray: not attached to {address}; auto-deploy left as it was");
                    continue;
                };
                let toggled = async {
                    let paused = client.call(ops::GetStatus {}).await?.auto_deploy_paused;
                    client.call(ops::SetAutoDeploy { paused: !paused }).await?;
                    refresh(&client, &handle).await
                };
                if let Err(e) = toggled.await {
                    tracing::error!("cannot change auto-deploy on {address}: {e}");
                }
            }
            TrayAction::Quit => quit.notify_one(),
        }
    }
}

/// The window this tray opened, while it runs: what a later click asks of it goes to its
/// standard input (the window reads intents there when started so), instead of a second window.
static WINDOW: Mutex<Option<Child>> = Mutex::new(None);

/// Shows the window attached to `address` (opening one when none of this tray's runs), opened
/// for what `args` say (`--run 42`, `--promote web/prod`, or nothing).
fn open_window(address: &str, args: Vec<String>) {
    let mut window = WINDOW.lock().unwrap();
    if let Some(child) = window.as_mut() {
        let alive = matches!(child.try_wait(), Ok(None));
        let told = alive
            && child
                .stdin
                .as_mut()
                .is_some_and(|i| writeln!(i, "{}", if args.is_empty() { "--show".into() } else { args.join(" ") }).is_ok());
        if told {
            return;
        }
    }
    let exe = crate::desktop::window_path();
    let mut cmd = Command::new(&exe);
    cmd.arg("--engine").arg(address).args(&args).env(INTENTS_ON_STDIN, "1").stdin(Stdio::piped());
    match cmd.spawn() {
        Ok(child) => *window = Some(child),
        Err(e) => tracing::error!("cannot open the window {}: {e}", exe.display()),
    }
}

/// Set for a window started by a tray: it reads what to show from its standard input.
const INTENTS_ON_STDIN: &str = "SLIPWAY_INTENTS_ON_STDIN";
