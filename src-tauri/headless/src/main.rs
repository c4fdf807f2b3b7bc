//! `slipwayd`: Slipway's engine without a window (servers, CI, machines with no display), and
//! the command line over a running engine's local API.
//!
//! Depends on the engine and the protocol; must not depend on Tauri or the window.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod desktop;
mod environments;
mod link;
mod manage;
mod remote_tray;
mod service;
mod templates;
// One menu (tray_menu), two drawings: StatusNotifierItem over D-Bus, the Linux and BSD
// desktops' protocol, and the tray-icon crate on macOS and Windows.
#[cfg(all(unix, not(target_os = "macos")))]
mod tray;
#[cfg(not(all(unix, not(target_os = "macos"))))]
#[path = "tray_native.rs"]
mod tray;
mod tray_menu;

use clap::{Parser, Subcommand};
use slipway_engine::{Config, Engine, Error, ErrorCode};
use slipway_protocol::ops;
use slipway_protocol::remote::{self, EngineAddress};

#[derive(Parser)]
#[command(name = "slipwayd", version, about = "Slipway's deploy engine, headless, and its command line")]
struct Cli {
    /// Data directory (store, API token, logs). Default: the OS's per-user data directory.
    #[arg(long, global = true, env = "SLIPWAY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Key of the encrypted secrets file, used where no OS keychain is (created 0600 if
    /// missing; never inside the data directory). Default: a per-user key file, or the
    /// systemd credential `slipway-secrets-key`.
    #[arg(long, global = true, env = "SLIPWAY_SECRETS_KEY_FILE", value_name = "PATH")]
    secrets_key_file: Option<PathBuf>,
    /// Where secrets go on the first start: `keychain` or `file` (later starts keep what was
    /// chosen; `secrets migrate` moves them).
    #[arg(long, global = true, env = "SLIPWAY_SECRETS", value_name = "BACKEND")]
    secrets: Option<String>,
    /// The engine the commands talk to: `local` (this machine's, found through the data
    /// directory) or `ssh://[user@]host[:port][/data-dir]`, reached through the system's
    /// OpenSSH client (known_hosts strict, the agent, ~/.ssh/config).
    #[arg(long, global = true, env = "SLIPWAY_ENGINE", value_name = "ADDRESS")]
    engine: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine and its listener until SIGINT or SIGTERM (the default).
    Serve {
        /// Address of the local listener, IP:PORT. Port 0 picks a free port.
        #[arg(long, env = "SLIPWAY_LISTEN")]
        listen: Option<String>,
        /// Show the tray icon on the desktop and open the window (`slipway`) from it. The window
        /// starts the engine this way when none runs.
        #[arg(long)]
        tray: bool,
    },
    /// Show the tray and the desktop notifications of the engine named by --engine (an
    /// `ssh://` one), without running an engine here. Quit ends the tray, not the engine.
    Tray,
    /// Print where this machine's engine answers and its API token, as one JSON line: what a
    /// console attaching with `--engine ssh://…` runs over SSH. (Tries /var/lib/slipway, the
    /// system service's, when the default data directory has no running engine.)
    AttachInfo,
    /// Show the running engine's status.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop webhooks and polls from starting runs (manual runs still go).
    Pause {
        #[arg(long)]
        json: bool,
    },
    /// Let webhooks and polls start runs again.
    Resume {
        #[arg(long)]
        json: bool,
    },
    /// Ask the running engine (headless or the desktop app) to quit cleanly.
    Quit,
    /// Start a run of a project's stage for a tag, a branch or a full commit id.
    Deploy {
        project: String,
        stage: String,
        /// Tag, branch or 40-hex commit id.
        #[arg(long = "ref")]
        wanted: String,
        /// Deploy to a pinned stage anyway (it unpins the stage).
        #[arg(long)]
        confirm: bool,
        /// Wait for the run to end; exit 1 if it did not succeed.
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// List recent runs, newest first.
    Runs {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one run with its steps.
    Run {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Print a run's log; --follow keeps printing until the run ends.
    Logs {
        id: i64,
        #[arg(long)]
        follow: bool,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running run.
    Cancel { id: i64 },
    /// Print a project's configuration as YAML (for version control).
    Export { project: String },
    /// List the Docker hosts with their status; --test ID reports what a host runs;
    /// --import-contexts adds the Docker CLI's contexts.
    Hosts {
        #[arg(long, value_name = "ID")]
        test: Option<String>,
        #[arg(long)]
        import_contexts: bool,
        #[arg(long)]
        json: bool,
    },
    /// Where the secrets are kept, and moving them: `secrets migrate --to keychain|file`.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Create or update a project from a YAML file ("-" reads standard input).
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write a systemd unit that runs `slipwayd serve` (restart on failure; for --system the
    /// data in /var/lib/slipway and the secrets key sealed by systemd-creds) and say what to
    /// run next.
    InstallService {
        /// A user service (starts at login; `loginctl enable-linger` keeps it running).
        #[arg(long, conflicts_with = "system")]
        user: bool,
        /// A system service (the default).
        #[arg(long)]
        system: bool,
        /// Write under this directory instead of / (packaging).
        #[arg(long, hide = true)]
        root: Option<PathBuf>,
        /// The unit a package ships (/usr/lib/systemd/system, the key in a file): with --root.
        #[arg(long, hide = true, requires = "root")]
        package: bool,
    },
    #[command(flatten)]
    Manage(manage::Manage),
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Moves every secret to the OS keychain or to the encrypted secrets file (the running
    /// engine does it: each secret is copied and read back before the old copy goes).
    Migrate {
        #[arg(long, value_parser = ["keychain", "file"])]
        to: String,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    // macOS and Windows draw a tray only from a thread that runs their event loop, the main one
    // on macOS: it goes to the loop and the engine runs beside it.
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    if matches!(cli.command, Some(Command::Serve { tray: true, .. } | Command::Tray)) {
        tray::run_event_loop(move || finish(runtime.block_on(run(cli))));
    }
    ExitCode::from(finish(runtime.block_on(run(cli))))
}

/// The exit code, after saying what went wrong.
fn finish(result: Result<u8, Error>) -> u8 {
    result.unwrap_or_else(|e| {
        // The window that started this engine reads the code and shows it where the user is.
        if std::env::var("SLIPWAY_ERROR_FORMAT").as_deref() == Ok("json") {
            eprintln!("{}", serde_json::to_string(&e.to_api()).unwrap_or_default());
        } else {
            eprintln!("error: {e}");
        }
        exit_code(&e)
    })
}

/// 2 for what the user typed (a bad value, an unknown project, a confirmation not given), 1 for
/// everything else (the engine unreachable, a run that failed).
fn exit_code(e: &Error) -> u8 {
    match e.code() {
        ErrorCode::InvalidInput | ErrorCode::NotFound | ErrorCode::ConfirmationRequired => 2,
        _ => 1,
    }
}

async fn run(cli: Cli) -> Result<u8, Error> {
    let mut config = Config::from_env()?;
    let data_dir_given = cli.data_dir.is_some() || std::env::var_os("SLIPWAY_DATA_DIR").is_some_and(|d| !d.is_empty());
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    let address = EngineAddress::parse(cli.engine.as_deref().unwrap_or(""))?;
    // Held until the command is done: dropping it ends the SSH tunnel.
    let _tunnel = match (&address, &cli.command) {
        (EngineAddress::Ssh(_), None | Some(Command::Serve { .. } | Command::AttachInfo | Command::InstallService { .. })) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "--engine names the engine a command talks to; serve, attach-info and install-service act on this machine",
            ));
        }
        (EngineAddress::Ssh(target), Some(Command::Tray)) => return link::remote_tray(target.clone()).await.map(|()| 0),
        (EngineAddress::Local, Some(Command::Tray)) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "`tray` shows a remote engine's tray: give --engine ssh://…; this machine's engine shows its own with `serve --tray`",
            ));
        }
        (EngineAddress::Local, _) => None,
        (EngineAddress::Ssh(target), Some(_)) => {
            let attached = remote::attach(target).await?;
            link::attached(attached.client);
            Some(attached.tunnel)
        }
    };
    config.secrets_key_file = cli.secrets_key_file.or(config.secrets_key_file);
    config.secrets_backend = cli.secrets.or(config.secrets_backend);
    let command = match cli.command.unwrap_or(Command::Serve { listen: None, tray: false }) {
        Command::AttachInfo => {
            println!("{}", serde_json::to_string(&link::attach_info(&config, data_dir_given)?).expect("serializable"));
            return Ok(0);
        }
        Command::Manage(m) => return manage::run(&config, m).await,
        Command::InstallService { user, system: _, root, package } => {
            println!("{}", service::install(&service::Install { user, root, package })?);
            return Ok(0);
        }
        Command::Deploy { project, stage, wanted, confirm, wait, json } => {
            let started = link::connect(&config)?
                .call(ops::StartRun { project: project.clone(), stage: stage.clone(), wanted: wanted.clone(), confirm: Some(confirm) })
                .await?;
            let what = format!("{project} → {stage} at {wanted}");
            return manage::queued(&link::connect(&config)?, started.run_id, &what, wait, json).await;
        }
        other => other,
    };
    run_basic(config, command).await.map(|()| 0)
}

async fn run_basic(mut config: Config, command: Command) -> Result<(), Error> {
    match command {
        Command::Manage(_) | Command::Deploy { .. } | Command::InstallService { .. } | Command::AttachInfo | Command::Tray => {
            unreachable!("answered by run, which returns their exit code")
        }
        Command::Serve { listen, tray } => {
            if let Some(l) = listen {
                config.listen = slipway_engine::domain::config::parse_listen(&l)?;
            }
            serve(config, tray).await
        }
        Command::Status { json } => {
            let status = link::connect(&config)?.call(ops::GetStatus {}).await?;
            if json {
                print_json(&status);
            } else {
                print_status(&status);
            }
            Ok(())
        }
        Command::Pause { json } => set_paused(&config, true, json).await,
        Command::Resume { json } => set_paused(&config, false, json).await,
        Command::Quit => link::connect(&config)?.call(ops::Quit {}).await.map_err(Error::from),
        Command::Runs { project, json } => {
            let runs = link::connect(&config)?.call(ops::ListRuns { project: project.clone(), limit: None }).await?;
            if json {
                print_json(&runs);
            } else {
                print_runs(runs);
            }
            Ok(())
        }
        Command::Run { id, json } => {
            let run = link::connect(&config)?.call(ops::GetRun { id }).await?;
            if json {
                print_json(&run);
            } else {
                print_run(run);
            }
            Ok(())
        }
        Command::Logs { id, follow, json } => logs(&config, id, follow, json).await,
        Command::Export { project } => {
            print!("{}", link::connect(&config)?.call(ops::ExportProject { id: project.clone() }).await?);
            Ok(())
        }
        Command::Import { file, json } => {
            let yaml = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                // A file that is not there is the caller's to fix (exit 2), not the engine's.
                std::fs::read_to_string(&file)
                    .map_err(|e| Error::new(ErrorCode::InvalidInput, format!("cannot read the project file {}: {e}", file.display())))?
            };
            let r = link::connect(&config)?.call(ops::ImportProject { yaml }).await?;
            if json {
                print_json(&r);
            } else {
                println!("{} project {}", if r.created { "created" } else { "updated" }, r.project.id);
                for n in r.notes {
                    println!("  note: {n}");
                }
            }
            Ok(())
        }
        Command::Hosts { test, import_contexts, json } => hosts(&config, test, import_contexts, json).await,
        Command::Secrets { command: SecretsCommand::Migrate { to, json } } => {
            let done = link::connect(&config)?.call(ops::MigrateSecrets { to }).await?;
            if json {
                print_json(&done);
            } else {
                println!("{} secret(s) moved; secrets are now kept in the {}", done.moved.len(), done.backend);
            }
            Ok(())
        }
        Command::Cancel { id } => {
            link::connect(&config)?.call(ops::CancelRun { id }).await?;
            println!("run {id}: cancel requested");
            Ok(())
        }
    }
}

fn print_status(status: &slipway_protocol::events::EngineStatus) {
    println!("Slipway {} (pid {})", status.version, status.pid);
    println!("  data dir:    {}", status.data_dir);
    println!("  store:       {} (schema {})", status.store_path, status.schema_version);
    println!("  listener:    {}", status.listener.as_deref().unwrap_or("not listening"));
    println!("  secrets:     {}", status.secrets);
    match (&status.docker.reachable, &status.docker.error) {
        (true, _) => {
            println!("  docker:      reachable at {} (engine {})", status.docker.endpoint, status.docker.version.as_deref().unwrap_or("?"))
        }
        (false, err) => println!("  docker:      UNREACHABLE: {}", err.as_deref().unwrap_or("")),
    }
    println!("  auto-deploy: {}", if status.auto_deploy_paused { "paused" } else { "on" });
}

fn print_runs(runs: Vec<slipway_protocol::run::RunSummary>) {
    for r in runs {
        let sha = r.commit_sha.as_deref().map(|c| &c[..c.len().min(10)]).unwrap_or("-");
        println!(
            "{:>6}  {:<12} {:<14} {:<8} {sha}  {}",
            r.id,
            r.status,
            format!("{}/{}", r.project_id, r.stage),
            r.trigger,
            r.reason.unwrap_or_default()
        );
    }
}

fn print_run(run: slipway_protocol::run::RunDetail) {
    println!("run {} {} ({}/{}, {})", run.run.id, run.run.status, run.run.project_id, run.run.stage, run.run.trigger);
    for s in &run.steps {
        println!("  {:>2}. {:<24} {}{}", s.position, s.name, s.status, s.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default());
    }
    if let Some(reason) = run.run.reason {
        println!("  {reason}");
    }
}

async fn set_paused(config: &Config, paused: bool, json: bool) -> Result<(), Error> {
    let r = link::connect(config)?.call(ops::SetAutoDeploy { paused }).await?;
    if json {
        print_json(&r);
    } else {
        println!("auto-deploy {}", if r.paused { "paused" } else { "on" });
    }
    Ok(())
}

async fn logs(config: &Config, id: i64, follow: bool, json: bool) -> Result<(), Error> {
    let client = link::connect(config)?;
    let mut after = 0;
    loop {
        let lines = client.call(ops::RunLogs { id, after: Some(after), limit: None }).await?;
        for l in &lines {
            if json {
                println!("{}", serde_json::to_string(l).expect("serializable"));
            } else if l.stream == "stderr" {
                eprintln!("{}", l.line);
            } else {
                println!("{}", l.line);
            }
            after = l.seq;
        }
        if !follow {
            return Ok(());
        }
        if lines.is_empty() {
            let status = client.call(ops::GetRun { id }).await?.run.status;
            if !matches!(status.as_str(), "queued" | "running") {
                // One more read: lines written just before the end.
                for l in client.call(ops::RunLogs { id, after: Some(after), limit: None }).await? {
                    println!("{}", l.line);
                }
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

async fn serve(config: Config, tray: bool) -> Result<(), Error> {
    let _log = slipway_engine::engine::logging::init(&config.log_dir())?;
    raise_open_file_limit();
    let engine = Engine::start(config).await?;
    let Some(addr) = engine.listener_addr() else {
        let msg = engine.listener_error().unwrap_or_else(|| "the listener did not start".into());
        engine.stop().await;
        return Err(Error::new(slipway_engine::ErrorCode::ListenerBind, msg));
    };
    print_banner(&engine, addr);
    if tray {
        // The desktop's engine starts at login unless the operator turned that off.
        engine.autostart_by_default().await;
    }
    if tray {
        desktop::start(&engine).await;
    }
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("signal received, stopping"),
        _ = engine.quit_requested() => tracing::info!("quit requested over the API, stopping"),
    }
    engine.stop().await;
    Ok(())
}

fn print_banner(engine: &Engine, addr: SocketAddr) {
    println!("Slipway engine running headless (no window).");
    println!("  Webhook URL: http://{addr}/hooks/<project-id>");
    println!("  API:         http://{addr}/api/v1 (bearer token in {})", engine.config().token_path().display());
    println!("  Data dir:    {}", engine.config().data_dir.display());
    println!("Forges can only reach this address through a tunnel or reverse proxy. Ctrl-C stops.");
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn hosts(config: &Config, test: Option<String>, import_contexts: bool, json: bool) -> Result<(), Error> {
    let client = link::connect(config)?;
    if import_contexts {
        let r = client.call(ops::ImportDockerContexts {}).await?;
        if json {
            print_json(&r);
        } else {
            for h in &r.imported {
                println!("imported {} ({})", h.name, h.endpoint);
            }
            for s in &r.skipped {
                println!("skipped {s}");
            }
        }
        return Ok(());
    }
    if let Some(id) = test {
        let t = client.call(ops::TestHost { id: id.clone() }).await?;
        if json {
            print_json(&t);
        } else {
            println!(
                "{id}: Docker {} (API {}), {} {}, {}/{} containers running, {:.1} ms",
                t.engine_version.as_deref().unwrap_or("?"),
                t.api_version.as_deref().unwrap_or("?"),
                t.os.as_deref().unwrap_or("?"),
                t.arch.as_deref().unwrap_or("?"),
                t.containers_running,
                t.containers,
                t.latency_ms
            );
        }
        return Ok(());
    }
    let hosts = client.call(ops::ListHosts {}).await?;
    if json {
        print_json(&hosts);
    } else {
        for h in hosts {
            let state = serde_json::to_value(h.status.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            println!(
                "{:<16} {:<12} {}{}",
                h.host.id,
                state,
                h.host.endpoint,
                h.status.error.map(|e| format!("\n  {e}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Every connection is a file descriptor: with the common soft limit of 1,024, idle connections
/// to the hook listener can exhaust them and take the local API down with it. The soft limit
/// goes up to the hard one, which the operator (or systemd's `LimitNOFILE=`) controls.
#[cfg(unix)]
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct passed, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= limit.rlim_max {
            return;
        }
        let from = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            tracing::info!("open files: soft limit raised from {from} to {}", limit.rlim_max);
        } else {
            tracing::warn!("open files: could not raise the soft limit of {from}: {}", std::io::Error::last_os_error());
        }
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() {}
