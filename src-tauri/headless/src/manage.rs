//! The command line's project, release, webhook, secret, host and delivery commands: what the
//! window does, over the same API operations. Every command takes `--json`.

use std::io::Read;
use std::time::Duration;

use clap::Subcommand;
use slipway_engine::http::client::Client;
use slipway_engine::{Config, Error, ErrorCode};
use slipway_protocol::host::{HostInput, HostKind};
use slipway_protocol::ops;
use slipway_protocol::run::RunStatus;

#[derive(Subcommand)]
pub enum Manage {
    /// List projects, show one, or remove one (its containers and volumes stay).
    Projects {
        #[command(subcommand)]
        action: Option<ProjectAction>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Every project's environments: kind, group, predecessors, rules, live release, health,
    /// and what is waiting to reach each.
    Environments {
        #[arg(long)]
        json: bool,
    },
    /// The pipeline templates a slipway.yml can extend: list, import FILE, export NAME, rm NAME.
    Templates {
        #[command(subcommand)]
        action: Option<crate::templates::TemplateAction>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// A stage's releases, newest first.
    Releases {
        project: String,
        stage: String,
        #[arg(long)]
        json: bool,
    },
    /// Put release NUMBER of a stage back, exactly as it was.
    Rollback {
        project: String,
        stage: String,
        number: i64,
        /// Wait for the run to end; exit 1 if it did not succeed.
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Promote the source stage's live release to STAGE. A stage with `confirm: true`, or a
    /// pinned one, needs --confirm (the window's confirmation dialog; it unpins the stage).
    Promote {
        project: String,
        stage: String,
        #[arg(long)]
        confirm: bool,
        /// Wait for the run to end; exit 1 if it did not succeed.
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pin STAGE at its live release: pushes and polls for it are recorded and wait.
    Pin {
        project: String,
        stage: String,
        #[arg(long)]
        json: bool,
    },
    /// Unpin STAGE. Deploys nothing; prints the deploy command for its branch's newest commit.
    Unpin {
        project: String,
        stage: String,
        #[arg(long)]
        json: bool,
    },
    /// Take HOST out of STAGE's rotation for maintenance (its edge's /.slipway/ready answers
    /// 503, so a load balancer stops sending it traffic), or put it back with --off. Without
    /// arguments: list the drained hosts.
    Drain {
        project: Option<String>,
        stage: Option<String>,
        host: Option<String>,
        #[arg(long)]
        off: bool,
        #[arg(long)]
        json: bool,
    },
    /// A project's webhook URL and secret, or a new secret (`--rotate`: the forge's hook must
    /// get it, deliveries signed with the old one are refused from now on).
    Webhook {
        project: String,
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a project secret (the value is read from standard input, never from an argument:
    /// arguments are visible to every user of the machine) or remove one.
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Add a Docker host, remove one, or test one.
    Host {
        #[command(subcommand)]
        action: HostAction,
    },
    /// The webhook inbox: recent deliveries and what became of each.
    Deliveries {
        #[arg(long)]
        project: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Whether the engine and its tray start at login; `on` or `off` changes it.
    Autostart {
        #[arg(value_parser = ["on", "off"])]
        set: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The edge's ports, host names and certificates; `set` changes them and applies them to
    /// the local edge at once (an empty value clears an optional setting).
    Edge {
        #[command(subcommand)]
        action: Option<EdgeAction>,
        #[arg(long)]
        json: bool,
    },
    /// Send a kept delivery through the webhook path again.
    Redeliver {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ProjectAction {
    /// Every project (the default).
    List,
    Show {
        id: String,
    },
    /// Removes the project, its webhook secret and its channels' secrets. If it has named
    /// volumes on its host, say what becomes of them with one of the two flags.
    Rm {
        id: String,
        /// Leave the project's volumes (with their data) and containers on its host.
        #[arg(long, conflicts_with = "remove_volumes")]
        keep_volumes: bool,
        /// Remove the project's containers, routes, networks and volumes, with their data.
        #[arg(long)]
        remove_volumes: bool,
    },
}

#[derive(Subcommand)]
pub enum SecretAction {
    /// `echo -n "$VALUE" | slipwayd secret set PROJECT NAME`
    Set {
        project: String,
        name: String,
    },
    Rm {
        project: String,
        name: String,
    },
}

#[derive(Subcommand)]
pub enum HostAction {
    /// `slipwayd host add NAME ssh://user@server` (or tcp://host:2376 with --tls-ca/--tls-cert/--tls-key)
    Add {
        name: String,
        endpoint: String,
        #[arg(long)]
        tls_ca: Option<String>,
        #[arg(long)]
        tls_cert: Option<String>,
        #[arg(long)]
        tls_key: Option<String>,
        #[arg(long)]
        json: bool,
    },
    Rm {
        id: String,
    },
    /// Connects afresh and reports what the host runs.
    Test {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// The exit code of a command whose run did not succeed.
pub const RUN_FAILED: u8 = 1;

/// Runs a management command; `Ok(code)` is the exit code of a command that ran.
pub async fn run(config: &Config, command: Manage) -> Result<u8, Error> {
    let client = crate::link::connect(config)?;
    match command {
        Manage::Projects { action, json } => projects(&client, action.unwrap_or(ProjectAction::List), json).await,
        Manage::Environments { json } => crate::environments::print(&client, json).await,
        Manage::Templates { action, json } => {
            crate::templates::run(&client, action.unwrap_or(crate::templates::TemplateAction::List), json).await
        }
        Manage::Releases { project, stage, json } => {
            let list = client.call(ops::ListReleases { project, stage }).await?;
            if json {
                crate::print_json(&list);
            }
            for r in list.iter().filter(|_| !json) {
                let commit = r.commit_sha.as_deref().map(|c| &c[..c.len().min(10)]).unwrap_or("-");
                println!("#{:<4} {:<12} {commit:<10} {}", r.number, r.status, r.image);
            }
            Ok(0)
        }
        Manage::Rollback { project, stage, number, wait, json } => {
            let started = client.call(ops::Rollback { project: project.clone(), stage: stage.clone(), number }).await?;
            queued(&client, started.run_id, &format!("rollback of {project}/{stage} to #{number}"), wait, json).await
        }
        Manage::Promote { project, stage, confirm, wait, json } => {
            let started = client.call(ops::Promote { project: project.clone(), stage: stage.clone(), confirm: Some(confirm) }).await?;
            queued(&client, started.run_id, &format!("promotion to {project}/{stage}"), wait, json).await
        }
        Manage::Pin { project, stage, json } => {
            let pin = client.call(ops::PinStage { project: project.clone(), stage: stage.clone() }).await?;
            if json {
                crate::print_json(&pin);
            } else {
                println!("{project}/{stage} pinned at release {}: pushes wait until `slipwayd unpin {project} {stage}`", pin.release);
            }
            Ok(0)
        }
        Manage::Drain { project, stage, host, off, json } => {
            let drains = match (project, stage, host) {
                (Some(project), Some(stage), Some(host)) => client.call(ops::SetDrain { project, stage, host, drained: !off }).await?,
                (None, None, None) => client.call(ops::ListDrains {}).await?,
                _ => {
                    eprintln!("slipwayd drain: give PROJECT STAGE HOST (or nothing, to list the drained hosts)");
                    return Ok(2);
                }
            };
            if json {
                crate::print_json(&drains);
            } else if drains.is_empty() {
                println!("no host is drained");
            } else {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                for d in &drains {
                    let mins = (now - d.drained_at).max(0) / 60_000;
                    println!("{} is drained out of {}/{} ({mins} min ago)", d.host_id, d.project_id, d.stage);
                }
            }
            Ok(0)
        }
        Manage::Unpin { project, stage, json } => {
            let u = client.call(ops::UnpinStage { project: project.clone(), stage: stage.clone() }).await?;
            if json {
                crate::print_json(&u);
            } else {
                println!("{project}/{stage} unpinned; nothing was deployed");
                if let Some(o) = &u.offer {
                    println!(
                        "newest commit of {}: {}; deploy it: slipwayd deploy {project} {stage} --ref {}",
                        o.git_ref, o.commit, o.commit
                    );
                }
            }
            Ok(0)
        }
        Manage::Webhook { project, rotate, json } => {
            let info = if rotate {
                client.call(ops::RotateWebhookSecret { id: project }).await?
            } else {
                client.call(ops::WebhookInfoOf { id: project }).await?
            };
            if json {
                crate::print_json(&info);
            } else {
                println!("url:    {}", info.url.as_deref().unwrap_or("(the listener is not listening)"));
                if let Some(public) = &info.public_url {
                    println!("public: {public}");
                }
                println!("secret: {}", info.secret);
            }
            Ok(0)
        }
        Manage::Secret { action } => secret(&client, action).await,
        Manage::Host { action } => host(&client, action).await,
        Manage::Deliveries { project, limit, json } => {
            let list = client.call(ops::ListDeliveries { project, limit: Some(limit) }).await?;
            if json {
                crate::print_json(&list);
            }
            for d in list.iter().filter(|_| !json) {
                let outcome = serde_json::to_value(d.outcome).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                println!(
                    "{:>6}  {} {:<9} {:<14} {}{}",
                    d.id,
                    d.http_status,
                    outcome,
                    d.project_id.as_deref().unwrap_or("-"),
                    d.reason.as_deref().unwrap_or(""),
                    if d.replayable { "  (replayable)" } else { "" }
                );
            }
            Ok(0)
        }
        Manage::Autostart { set, json } => {
            let state = match set.as_deref() {
                Some(v) => client.call(ops::SetAutostart { enabled: v == "on" }).await?,
                None => client.call(ops::GetAutostart {}).await?,
            };
            if json {
                crate::print_json(&state);
            } else {
                println!("start at login: {} ({})", if state.enabled { "on" } else { "off" }, state.location);
            }
            Ok(0)
        }
        Manage::Edge { action, json } => {
            let config = match action {
                Some(EdgeAction::Set(change)) => {
                    let applied = client.call(ops::SetEdge { change: change.into_change() }).await?;
                    if json {
                        crate::print_json(&applied);
                        return Ok(0);
                    }
                    println!("{}", applied.edge);
                    applied.config
                }
                None => client.call(ops::GetEdge {}).await?,
            };
            if json {
                crate::print_json(&config);
            } else {
                print_edge(&config);
            }
            Ok(0)
        }
        Manage::Redeliver { id, json } => {
            let d = client.call(ops::Redeliver { id }).await?;
            if json {
                crate::print_json(&d);
            } else {
                println!("delivery {id} replayed as {}: {} {}", d.id, d.http_status, d.reason.as_deref().unwrap_or(""));
            }
            Ok(0)
        }
    }
}

async fn projects(client: &Client, action: ProjectAction, json: bool) -> Result<u8, Error> {
    match action {
        ProjectAction::List => {
            let list = client.call(ops::ListProjects {}).await?;
            if json {
                crate::print_json(&list);
            }
            for p in list.iter().filter(|_| !json) {
                let stages: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
                println!("{:<20} {:<9} {}  [{}]", p.id, p.forge.as_str(), p.repo_url, stages.join(", "));
            }
        }
        ProjectAction::Show { id } => {
            if json {
                crate::print_json(&client.call(ops::GetProject { id }).await?);
            } else {
                print!("{}", client.call(ops::ExportProject { id }).await?);
            }
        }
        ProjectAction::Rm { id, keep_volumes, remove_volumes } => {
            use slipway_protocol::project::VolumeChoice;
            let volumes = match (keep_volumes, remove_volumes) {
                (true, _) => Some(VolumeChoice::Keep),
                (_, true) => Some(VolumeChoice::Remove),
                _ => None,
            };
            let asked = client.call(ops::DeleteProject { id: id.clone(), volumes }).await;
            if let Err(e) = &asked {
                if e.code == slipway_protocol::error::ErrorCode::ConfirmationRequired {
                    eprintln!("{}\nRun again with --keep-volumes or --remove-volumes.", e.message);
                    return Ok(2);
                }
            }
            asked?;
            if json {
                crate::print_json(&serde_json::json!({ "removed": id, "volumes": volumes }));
            } else if volumes == Some(VolumeChoice::Remove) {
                println!("project {id} removed, with its containers, networks and volumes");
            } else {
                println!("project {id} removed (its deployed containers and volumes stay on their host)");
            }
        }
    }
    Ok(0)
}

async fn secret(client: &Client, action: SecretAction) -> Result<u8, Error> {
    match action {
        SecretAction::Set { project, name } => {
            let mut value = String::new();
            std::io::stdin().read_to_string(&mut value)?;
            // `echo` adds a newline the value never meant to have.
            let value = value.strip_suffix('\n').map(|v| v.strip_suffix('\r').unwrap_or(v)).unwrap_or(&value).to_string();
            if value.is_empty() {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    "no value on standard input: pipe it in (echo -n \"$VALUE\" | slipwayd …)",
                ));
            }
            client.call(ops::SetSecret { project: project.clone(), name: name.clone(), value }).await?;
            println!("secret {name} of {project} set");
        }
        SecretAction::Rm { project, name } => {
            client.call(ops::DeleteSecret { project: project.clone(), name: name.clone() }).await?;
            println!("secret {name} of {project} removed");
        }
    }
    Ok(0)
}

async fn host(client: &Client, action: HostAction) -> Result<u8, Error> {
    match action {
        HostAction::Add { name, endpoint, tls_ca, tls_cert, tls_key, json } => {
            let kind = match endpoint.split_once("://").map(|(s, _)| s) {
                Some("ssh") => HostKind::Ssh,
                Some("tcp") | Some("http") | Some("https") => HostKind::Tcp,
                Some("unix") | Some("npipe") => HostKind::Local,
                _ => {
                    return Err(Error::new(
                        ErrorCode::InvalidInput,
                        format!("endpoint {endpoint:?}: give ssh://user@host[:port], tcp://host:port or unix:///path/docker.sock"),
                    ))
                }
            };
            let host = client.call(ops::CreateHost { host: HostInput { name, kind, endpoint, tls_ca, tls_cert, tls_key } }).await?;
            if json {
                crate::print_json(&host);
            } else {
                println!("host {} added ({}); `slipwayd host test {}` checks it", host.id, host.endpoint, host.id);
            }
        }
        HostAction::Rm { id } => {
            client.call(ops::DeleteHost { id: id.clone() }).await?;
            println!("host {id} removed");
        }
        HostAction::Test { id, json } => {
            let t = client.call(ops::TestHost { id: id.clone() }).await?;
            if json {
                crate::print_json(&t);
            } else {
                println!(
                    "{id}: Docker {} (API {}), {}/{} containers running, {:.1} ms",
                    t.engine_version.as_deref().unwrap_or("?"),
                    t.api_version.as_deref().unwrap_or("?"),
                    t.containers_running,
                    t.containers,
                    t.latency_ms
                );
            }
        }
    }
    Ok(0)
}

/// Says a run was queued, and with `wait` follows it to its end: exit 1 unless it succeeded.
pub(crate) async fn queued(client: &Client, run_id: i64, what: &str, wait: bool, json: bool) -> Result<u8, Error> {
    if !wait {
        if json {
            crate::print_json(&serde_json::json!({ "run_id": run_id }));
        } else {
            println!("run {run_id} queued: {what}");
        }
        return Ok(0);
    }
    let detail = loop {
        let d = client.call(ops::GetRun { id: run_id }).await?;
        if !matches!(d.run.status, RunStatus::Queued | RunStatus::Running) {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    if json {
        crate::print_json(&detail);
    } else {
        println!(
            "run {run_id} ({what}): {}{}",
            detail.run.status,
            detail.run.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    Ok(if detail.run.status == RunStatus::Succeeded { 0 } else { RUN_FAILED })
}

#[derive(clap::Subcommand)]
pub enum EdgeAction {
    /// Changes the settings named; the others stay.
    Set(EdgeSet),
}

#[derive(clap::Args)]
pub struct EdgeSet {
    /// A public host name whose `/hooks/*` the edge serves over HTTPS to this engine.
    #[arg(long)]
    hooks_host: Option<String>,
    /// Where certificates come from: an ACME CA, or Caddy's own (`internal`, for a LAN).
    #[arg(long, value_parser = ["acme", "internal"])]
    tls: Option<String>,
    /// The ACME directory URL (default: Let's Encrypt).
    #[arg(long)]
    acme_ca: Option<String>,
    /// The e-mail address given to the ACME CA.
    #[arg(long)]
    email: Option<String>,
    /// A PEM file with the root of a private ACME CA's own HTTPS.
    #[arg(long)]
    acme_ca_root: Option<String>,
    #[arg(long)]
    http_port: Option<u16>,
    #[arg(long)]
    https_port: Option<u16>,
    /// Stages are served at `<subdomain>.<domain>`.
    #[arg(long)]
    domain: Option<String>,
    #[arg(long)]
    image: Option<String>,
}

impl EdgeSet {
    fn into_change(self) -> slipway_protocol::edge::EdgeChange {
        use slipway_protocol::edge::EdgeTls;
        slipway_protocol::edge::EdgeChange {
            image: self.image,
            http_port: self.http_port,
            https_port: self.https_port,
            domain: self.domain,
            hooks_host: self.hooks_host,
            tls: self.tls.map(|t| if t == "internal" { EdgeTls::Internal } else { EdgeTls::Acme }),
            acme_ca: self.acme_ca,
            email: self.email,
            // The engine reads the file: a relative path is made whole here, where it was meant.
            acme_ca_root: self.acme_ca_root.map(|p| {
                if p.is_empty() {
                    p
                } else {
                    std::path::absolute(&p).map(|a| a.display().to_string()).unwrap_or(p)
                }
            }),
        }
    }
}

fn print_edge(c: &slipway_protocol::edge::EdgeConfig) {
    let none = || "-".to_string();
    println!("image         {}", c.image);
    println!("ports         http {} · https {}", c.http_port, c.https_port);
    println!("domain        {}", c.domain);
    println!("hooks host    {}", c.hooks_host.clone().map(|h| format!("https://{h}/hooks/<project>")).unwrap_or_else(none));
    println!("tls           {}", c.tls);
    println!("acme ca       {}", c.acme_ca.clone().unwrap_or_else(|| "Let's Encrypt".into()));
    println!("email         {}", c.email.clone().unwrap_or_else(none));
    println!("acme ca root  {}", c.acme_ca_root.clone().unwrap_or_else(none));
    if !c.from_env.is_empty() {
        println!("set by the environment: {}", c.from_env.join(", "));
    }
}
