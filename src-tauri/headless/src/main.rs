//! `slipwayd`: Slipway's engine without a window (servers, CI, machines with no display), and
//! the command line over a running engine's local API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slipway_engine::{client::Client, Config, Engine, Error};

#[derive(Parser)]
#[command(name = "slipwayd", version, about = "Slipway's deploy engine, headless, and its command line")]
struct Cli {
    /// Data directory (store, API token, logs). Default: the OS's per-user data directory.
    #[arg(long, global = true, env = "SLIPWAY_DATA_DIR")]
    data_dir: Option<PathBuf>,
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
    },
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let mut config = Config::from_env()?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                config.listen = slipway_engine::config::parse_listen(&l)?;
            }
            serve(config).await
        }
        Command::Status { json } => {
            let status = Client::for_config(&config)?.status().await?;
            if json {
                print_json(&status);
            } else {
                println!("Slipway {} (pid {})", status.version, status.pid);
                println!("  data dir:    {}", status.data_dir);
                println!("  store:       {} (schema {})", status.store_path, status.schema_version);
                println!("  listener:    {}", status.listener.as_deref().unwrap_or("not listening"));
                match (&status.docker.reachable, &status.docker.error) {
                    (true, _) => println!(
                        "  docker:      reachable at {} (engine {})",
                        status.docker.endpoint,
                        status.docker.version.as_deref().unwrap_or("?")
                    ),
                    (false, err) => println!("  docker:      UNREACHABLE: {}", err.as_deref().unwrap_or("")),
                }
                println!("  auto-deploy: {}", if status.auto_deploy_paused { "paused" } else { "on" });
            }
            Ok(())
        }
        Command::Pause { json } => set_paused(&config, true, json).await,
        Command::Resume { json } => set_paused(&config, false, json).await,
        Command::Quit => Client::for_config(&config)?.quit().await,
    }
}

async fn set_paused(config: &Config, paused: bool, json: bool) -> Result<(), Error> {
    let r = Client::for_config(config)?.set_auto_deploy_paused(paused).await?;
    if json {
        print_json(&r);
    } else {
        println!("auto-deploy {}", if r.paused { "paused" } else { "on" });
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

async fn serve(config: Config) -> Result<(), Error> {
    let _log = slipway_engine::logging::init(&config.log_dir())?;
    let engine = Engine::start(config).await?;
    let Some(addr) = engine.listener_addr() else {
        let msg = engine.listener_error().unwrap_or_else(|| "the listener did not start".into());
        engine.stop().await;
        return Err(Error::new(slipway_engine::ErrorCode::ListenerBind, msg));
    };
    print_banner(&engine, addr);
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
