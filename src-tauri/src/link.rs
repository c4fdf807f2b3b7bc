//! The window's local engine: find the engine that owns the data directory or start one
//! (`slipwayd serve --tray`, which outlives this window); what the window was opened for; the
//! engine's events that concern the window itself.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use slipway_protocol::client::Client;
use slipway_protocol::events::EngineEvent;
use slipway_protocol::ops;
use slipway_protocol::{ApiError, Config, ErrorCode};
use tauri::{AppHandle, Emitter, Manager};

/// Name of the Tauri event that carries [`EngineEvent`]s to the UI.
const ENGINE_EVENT: &str = "engine-event";
/// Tells the UI to show a run (its id): a notification or the tray asked for it.
const OPEN_RUN_EVENT: &str = "open-run";
/// Asks the UI to open the promote confirm dialog: payload `{project_id, stage}`.
const PROMOTE_EVENT: &str = "promote-request";
/// How long a freshly started engine may take to answer (it migrates the store first).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What the window was opened for, from its command line (`--run 42`, `--promote web/prod`).
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Run(i64),
    Promote { project_id: String, stage: String },
}

impl Intent {
    pub fn from_args(mut args: impl Iterator<Item = String>) -> Option<Intent> {
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--run" => return args.next()?.parse().ok().map(Intent::Run),
                "--promote" => {
                    let v = args.next()?;
                    let (p, s) = v.split_once('/')?;
                    return Some(Intent::Promote { project_id: p.into(), stage: s.into() });
                }
                _ => {}
            }
        }
        None
    }
}

#[derive(Clone, Serialize)]
struct PromoteRequest {
    project_id: String,
    stage: String,
}

/// The engine for `config`'s data directory, started when none answers.
pub async fn connect_or_start(config: &Config) -> Result<Client, ApiError> {
    if let Ok(client) = running(config).await {
        return Ok(client);
    }
    let exe = daemon_path()?;
    std::fs::create_dir_all(config.log_dir())?;
    let err_path = config.log_dir().join("slipwayd-start.err");
    let err_file = std::fs::File::create(&err_path)?;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["serve", "--tray"])
        .env("SLIPWAY_DATA_DIR", &config.data_dir)
        .env("SLIPWAY_ERROR_FORMAT", "json")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(err_file);
    // Its own process group: a Ctrl-C meant for this window does not stop the engine.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot start the engine {}: {e}", exe.display())))?;
    tracing::info!("started the engine {} (pid {})", exe.display(), child.id());
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Another window may have started one at the same moment: that one is as good.
            return running(config).await.map_err(|_| start_failure(&err_path, status));
        }
        if let Ok(client) = running(config).await {
            // Reap it when it ends, so it never lingers as a zombie of this window.
            std::thread::spawn(move || child.wait());
            return Ok(client);
        }
        if Instant::now() > deadline {
            return Err(ApiError::new(
                ErrorCode::Internal,
                format!(
                    "the engine (pid {}) did not answer within {} s; see {}",
                    child.id(),
                    START_TIMEOUT.as_secs(),
                    config.log_dir().display()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The engine that owns `config`'s data directory, if it answers; else why not.
pub(crate) async fn running(config: &Config) -> Result<Client, ApiError> {
    let client = Client::for_config(config)?;
    client.call(ops::GetStatus {}).await?;
    Ok(client)
}

/// `slipwayd` beside this executable, or where `SLIPWAY_DAEMON` says.
fn daemon_path() -> Result<PathBuf, ApiError> {
    if let Some(p) = std::env::var_os("SLIPWAY_DAEMON") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(format!("slipwayd{}", std::env::consts::EXE_SUFFIX));
    if path.exists() {
        Ok(path)
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("the engine binary {} is missing (build it with `cargo build --workspace`)", path.display()),
        ))
    }
}

/// The engine's own `{code, message}` when it wrote one (SLIPWAY_ERROR_FORMAT=json), else its
/// last words.
fn start_failure(err_path: &std::path::Path, status: std::process::ExitStatus) -> ApiError {
    let text = std::fs::read_to_string(err_path).unwrap_or_default();
    if let Some(api) = text.lines().rev().find_map(|l| serde_json::from_str::<ApiError>(l).ok()) {
        return api;
    }
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
    ApiError::new(ErrorCode::Internal, format!("the engine exited ({status}): {last}"))
}

/// Acts on what concerns the window itself (show it, open a run) and passes every event to the
/// UI.
pub(crate) fn on_event(app: &AppHandle, event: EngineEvent) {
    match &event {
        EngineEvent::OpenRun { run_id } => show(app, Some(Intent::Run(*run_id))),
        EngineEvent::ShowWindow { run_id, promote } => {
            let intent =
                run_id.map(Intent::Run).or_else(|| promote.clone().map(|p| Intent::Promote { project_id: p.project_id, stage: p.stage }));
            show(app, intent);
        }
        _ => {}
    }
    let _ = app.emit(ENGINE_EVENT, &event);
}

/// Brings the window forward and hands it `intent`.
pub fn show(app: &AppHandle, intent: Option<Intent>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    if let Some(intent) = intent {
        deliver(app, intent);
    }
}

pub fn deliver(app: &AppHandle, intent: Intent) {
    let _ = match intent {
        Intent::Run(id) => app.emit(OPEN_RUN_EVENT, id),
        Intent::Promote { project_id, stage } => app.emit(PROMOTE_EVENT, PromoteRequest { project_id, stage }),
    };
}

/// Milliseconds since this process started (exec, not `main`: loading GTK and WebKit counts),
/// from the kernel's bookkeeping, to 10 ms.
pub fn since_launch() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name's closing parenthesis; starttime is field 22 of the line.
    let start_ticks: u64 = stat.rsplit(')').next()?.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    // USER_HZ, the unit of starttime, is 100 on every Linux build that matters.
    Some((uptime * 1000.0) as u64 - start_ticks * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_window_was_opened_for() {
        let args = |a: &[&str]| Intent::from_args(a.iter().map(|s| s.to_string()));
        assert_eq!(args(&["--run", "42"]), Some(Intent::Run(42)));
        assert_eq!(args(&["--promote", "web/prod"]), Some(Intent::Promote { project_id: "web".into(), stage: "prod".into() }));
        assert_eq!(args(&["--run", "x"]), None);
        assert_eq!(args(&[]), None);
    }
}
