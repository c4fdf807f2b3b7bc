//! The edge: one Caddy container per Docker host, on a network of Slipway's, that routes each
//! stage's host name to the containers of its live release. It is configured only through the
//! Docker API (upload the Caddyfile, exec `caddy reload`), so a remote host over SSH works the
//! same, and a reload is graceful: in-flight requests finish on the old upstreams.
//!
//! Two Caddy processes run in the container. The front one owns the published TCP port and is
//! never reloaded: it passes every request to the router over a Unix socket. The router holds
//! the routes and is reloaded on every switch. Caddy reopens a TCP listener on reload (a new
//! SO_REUSEPORT socket; connections queued on the old one are lost) but hands a Unix socket on
//! by dup(), so the router's reloads lose nothing and the clients' connections to the front,
//! kept alive or new, never see a reload at all.

use crate::services::deploy::exec::DeployError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use bollard::Docker;
use tokio::sync::Mutex;

use super::{exec, shell};
use crate::store::Store;

pub const ROLE_LABEL: &str = "dev.slipway.role";
/// A digest of what the edge was created with (image, ports, mounts, front configuration): an
/// edge whose digest differs from the settings' is created again.
const CONFIG_LABEL: &str = "dev.slipway.edge-config";
const CADDYFILE_DIR: &str = "/etc/caddy";
use crate::domain::edge::{front_caddyfile, serves_https, EdgeConfig, ACME_ROOT, HOOKS_SOCKET, KEYS};
use crate::domain::router::caddyfile;
pub use crate::domain::router::Route;

/// Where the edge listens and what it runs (see [`EdgeConfig`]). Each can be set in the
/// environment (tests run many engines side by side; it wins) or in the store's settings.
pub type EdgeSettings = EdgeConfig;

pub async fn settings(store: &Store) -> EdgeSettings {
    let mut from_env = Vec::new();
    let mut values = HashMap::new();
    for key in KEYS {
        match std::env::var(crate::domain::edge::env_name(key)) {
            Ok(v) if !v.is_empty() => {
                from_env.push(key.to_string());
                values.insert(key, v);
            }
            _ => {
                if let Ok(Some(v)) = store.setting(&format!("edge.{key}")).await {
                    values.insert(key, v);
                }
            }
        }
    }
    let text = |k: &str| values.get(k).cloned().filter(|v| !v.is_empty());
    EdgeConfig {
        image: text("image").unwrap_or_else(|| "caddy:2-alpine".into()),
        http_port: text("http_port").and_then(|p| p.parse().ok()).unwrap_or(8080),
        https_port: text("https_port").and_then(|p| p.parse().ok()).unwrap_or(443),
        domain: text("domain").unwrap_or_else(|| "localhost".into()),
        hooks_host: text("hooks_host"),
        tls: if text("tls").as_deref() == Some("internal") { crate::domain::edge::EdgeTls::Internal } else { Default::default() },
        acme_ca: text("acme_ca"),
        email: text("email"),
        acme_ca_root: text("acme_ca_root"),
        from_env,
    }
}

/// Stores `next` (the settings the environment does not fix).
pub async fn store_settings(store: &Store, next: &EdgeSettings) -> crate::Result<()> {
    let values = [
        ("image", Some(next.image.clone())),
        ("http_port", Some(next.http_port.to_string())),
        ("https_port", Some(next.https_port.to_string())),
        ("domain", Some(next.domain.clone())),
        ("hooks_host", next.hooks_host.clone()),
        ("tls", Some(next.tls.as_str().to_string())),
        ("acme_ca", next.acme_ca.clone()),
        ("email", next.email.clone()),
        ("acme_ca_root", next.acme_ca_root.clone()),
    ];
    for (key, value) in values.iter().filter(|(k, _)| !next.from_env.iter().any(|e| e == k)) {
        store.set_setting(&format!("edge.{key}"), value.as_deref().unwrap_or("")).await?;
    }
    Ok(())
}

pub fn container_name(instance: &str) -> String {
    format!("slipway-edge-{instance}")
}

pub fn network_name(instance: &str) -> String {
    format!("slipway-{instance}")
}

/// One Docker host's edge as a deploy reaches it: the container, and the shells kept open in it
/// for probes and reloads (see [`shell`]).
#[derive(Clone)]
pub struct Edge {
    pub docker: Docker,
    pub instance: String,
    /// The Docker host's id: each host has its own edge.
    pub host: String,
    pub name: String,
    /// The directory of the engine's hook socket, mounted into this edge: only the edge of the
    /// engine's own Docker host has it (a remote host cannot reach the engine's files).
    pub hooks_dir: Option<std::path::PathBuf>,
    shells: Arc<shell::Pool>,
    /// Held while the edge is checked or created: two deploys (or a deploy and a change of
    /// settings) must not both create it.
    creating: Arc<Mutex<()>>,
}

impl Edge {
    /// Runs `argv` in the edge, at most `timeout`.
    pub async fn run(&self, argv: &[&str], timeout: Duration) -> Result<exec::Output, DeployError> {
        self.shells.run(&self.docker, &self.name, argv, timeout).await
    }
}

/// The routes the edge serves, stage id → route, and the lock that makes every change to them
/// (from runs of different stages at once) a whole, ordered reload.
#[derive(Default)]
pub struct Routes {
    /// Docker host id → stage → route: each host has its own edge.
    table: Mutex<BTreeMap<String, BTreeMap<String, Route>>>,
    /// Docker host id → the stages drained there (their readiness path answers 503).
    drained: std::sync::Mutex<BTreeMap<String, BTreeSet<String>>>,
    shells: shell::Pools,
    hooks_dir: Option<std::path::PathBuf>,
    creating: Arc<Mutex<()>>,
}

impl Routes {
    /// `hooks_dir`: where the engine's hook socket is (see [`Edge::hooks_dir`]).
    pub fn new(hooks_dir: Option<std::path::PathBuf>) -> Routes {
        Routes { hooks_dir, ..Default::default() }
    }

    /// The edge of Docker host `host` (id), reached through `docker`.
    pub fn edge(&self, docker: &Docker, instance: &str, host: &str) -> Edge {
        let name = container_name(instance);
        let shells = self.shells.get(host, &name);
        let hooks_dir = if host == crate::domain::host::LOCAL_ID { self.hooks_dir.clone() } else { None };
        let creating = self.creating.clone();
        Edge { docker: docker.clone(), instance: instance.to_string(), host: host.to_string(), name, hooks_dir, shells, creating }
    }

    /// Closes the shells kept in `host`'s edge: its connection is gone or changed.
    pub fn forget_host(&self, host: &str) {
        self.shells.forget(host);
    }

    /// Sets (or with None removes) a stage's route and reloads the edge with the whole table.
    /// On failure the table keeps its old entry, so it still says what the edge serves.
    pub async fn set(&self, edge: &Edge, stage_id: &str, route: Option<Route>) -> Result<(), DeployError> {
        let mut table = self.table.lock().await;
        let mut next = table.get(&edge.host).cloned().unwrap_or_default();
        match route {
            Some(r) => next.insert(stage_id.to_string(), r),
            None => next.remove(stage_id),
        };
        reload(edge, &next, &self.drained_on(&edge.host)).await?;
        table.insert(edge.host.clone(), next);
        Ok(())
    }

    /// Removes every route of `project`'s stages (the project is being removed) and reloads.
    pub async fn forget_project(&self, edge: &Edge, project: &str) -> Result<(), DeployError> {
        let prefix = crate::domain::project::stage_id(project, "");
        let mut table = self.table.lock().await;
        let mut next = table.get(&edge.host).cloned().unwrap_or_default();
        let before = next.len();
        next.retain(|stage, _| !stage.starts_with(&prefix));
        if next.len() != before {
            reload(edge, &next, &self.drained_on(&edge.host)).await?;
            table.insert(edge.host.clone(), next);
        }
        Ok(())
    }

    /// The stages drained on Docker host `host`.
    fn drained_on(&self, host: &str) -> BTreeSet<String> {
        self.drained.lock().unwrap().get(host).cloned().unwrap_or_default()
    }

    /// Marks stage `stage_id` drained (or not) on Docker host `host`, without reloading: at
    /// start, from the store, before the routes come back.
    pub fn mark_drained(&self, host: &str, stage_id: &str, drained: bool) {
        let mut all = self.drained.lock().unwrap();
        let set = all.entry(host.to_string()).or_default();
        if drained {
            set.insert(stage_id.to_string());
        } else {
            set.remove(stage_id);
        }
    }

    /// Drains stage `stage_id` on `edge`'s host (or puts it back), and reloads that edge. The
    /// mark stays when the reload fails: the store has the drain, and the next reload of that
    /// edge applies it.
    pub async fn drain(&self, edge: &Edge, stage_id: &str, drained: bool) -> Result<(), DeployError> {
        let table = self.table.lock().await;
        self.mark_drained(&edge.host, stage_id, drained);
        let routes = table.get(&edge.host).cloned().unwrap_or_default();
        reload(edge, &routes, &self.drained_on(&edge.host)).await
    }

    /// Replaces the whole table (at start, from the live releases) and reloads.
    pub async fn replace(&self, edge: &Edge, routes: BTreeMap<String, Route>) -> Result<(), DeployError> {
        let mut table = self.table.lock().await;
        reload(edge, &routes, &self.drained_on(&edge.host)).await?;
        table.insert(edge.host.clone(), routes);
        Ok(())
    }
}

/// Loads the table's Caddyfile into the router and stores it in the edge (what the router reads
/// when it restarts), both at once: the load is what a switch waits for. The router's admin
/// endpoint takes the text by a POST from the image's own `wget` (about 10 ms); `caddy reload`
/// starts a second 50 MB Caddy to do the same (about 60 ms), so it is only the fallback: for an
/// edge image without `wget`, and to get Caddy's own words when the POST was refused (busybox
/// `wget` does not print the error body).
async fn reload(edge: &Edge, routes: &BTreeMap<String, Route>, drained: &BTreeSet<String>) -> Result<(), DeployError> {
    let (docker, name) = (&edge.docker, &edge.name);
    let text = caddyfile(routes, drained);
    let load = [
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "--header",
        "Content-Type: text/caddyfile",
        "--header",
        "Cache-Control: must-revalidate",
        "--post-data",
        &text,
        "http://localhost:2019/load",
    ];
    let (stored, loaded) = tokio::join!(upload_caddyfile(docker, name, &text), edge.run(&load, Duration::from_secs(30)));
    stored?;
    if loaded.is_ok_and(|out| out.code == 0) {
        return Ok(());
    }
    let file = format!("{CADDYFILE_DIR}/Caddyfile");
    let out =
        exec::run(docker, name, &["caddy", "reload", "--config", &file, "--adapter", "caddyfile", "--force"], Duration::from_secs(30))
            .await?;
    if out.code != 0 {
        return Err(DeployError::from(format!("the edge {name} refused its new configuration (exit {}): {}", out.code, out.text.trim())));
    }
    Ok(())
}

async fn upload_caddyfile(docker: &Docker, container: &str, text: &str) -> Result<(), DeployError> {
    upload(docker, container, &[("Caddyfile", text)]).await
}

async fn upload(docker: &Docker, container: &str, files: &[(&str, &str)]) -> Result<(), DeployError> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, text.as_bytes()).map_err(|e| e.to_string())?;
    }
    let bytes = tar.into_inner().map_err(|e| e.to_string())?;
    let options = UploadToContainerOptionsBuilder::default().path(CADDYFILE_DIR).build();
    exec::bounded("uploading the edge's Caddyfile", docker.upload_to_container(container, Some(options), bollard::body_full(bytes.into())))
        .await
}

/// Creates the bridge network `network` unless it exists.
pub async fn ensure_network(docker: &Docker, instance: &str, network: &str) -> Result<(), DeployError> {
    if docker.inspect_network(network, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_ok() {
        return Ok(());
    }
    let labels = HashMap::from([(crate::services::INSTANCE_LABEL.to_string(), instance.to_string())]);
    create_network(
        docker,
        NetworkCreateRequest { name: network.to_string(), driver: Some("bridge".into()), labels: Some(labels), ..Default::default() },
    )
    .await
}

/// Creates a network; one that appeared meanwhile (another deploy made it) is as good.
pub(super) async fn create_network(docker: &Docker, req: NetworkCreateRequest) -> Result<(), DeployError> {
    let name = req.name.clone();
    match docker.create_network(req).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = crate::adapters::docker::exec::describe(&e);
            if text.contains("already exists") {
                Ok(())
            } else {
                Err(DeployError::from(format!("creating network {name}: {text}")))
            }
        }
    }
}

/// Attaches the edge to a compose stack's network, so it can route to and probe its services.
pub async fn join(edge: &Edge, network: &str) -> Result<(), DeployError> {
    let req = bollard::models::NetworkConnectRequest { container: edge.name.clone(), endpoint_config: None };
    match edge.docker.connect_network(network, req).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let text = crate::adapters::docker::exec::describe(&e);
            if text.contains("already exists") {
                Ok(())
            } else {
                Err(DeployError::from(format!("attaching the edge to {network}: {text}")))
            }
        }
    }
}

/// What an edge is created with, from the settings: compared by digest with a running edge.
struct Plan {
    front: String,
    root_pem: Option<String>,
    https: bool,
    digest: String,
}

fn plan(edge: &Edge, settings: &EdgeSettings) -> Result<Plan, DeployError> {
    let mounted = edge.hooks_dir.is_some();
    let https = serves_https(settings, mounted);
    let root_pem =
        match (&settings.acme_ca_root, https) {
            (Some(path), true) => Some(std::fs::read_to_string(path).map_err(|e| {
                DeployError::from(format!("edge acme_ca_root {path}: {e} (give a PEM file the engine can read, or clear it)"))
            })?),
            _ => None,
        };
    let front = front_caddyfile(settings, mounted, root_pem.is_some());
    let hooks = edge.hooks_dir.as_ref().filter(|_| https).map(|d| d.display().to_string()).unwrap_or_default();
    let alias = if https { settings.hooks_host.clone().unwrap_or_default() } else { String::new() };
    let ports = if https { format!("{} {}", settings.http_port, settings.https_port) } else { settings.http_port.to_string() };
    let material = [settings.image.as_str(), &ports, &hooks, &alias, &front, root_pem.as_deref().unwrap_or("")].join("\n--\n");
    let digest = crate::domain::ids::short_digest(&material);
    Ok(Plan { front, root_pem, https, digest })
}

/// Makes sure the network and a running edge exist. An edge created with the settings it has
/// now is reused as it is (a deploy never restarts it); a stopped one is started. One created
/// with other settings (ports, image, hooks' name, certificates) is created again, keeping the
/// routes it served and the networks it was on; its certificates stay in its data volume.
pub async fn ensure(edge: &Edge, settings: &EdgeSettings) -> Result<(), DeployError> {
    ensure_reporting(edge, settings).await.map(|_| ())
}

/// [`ensure`], saying whether the edge was created (again).
pub async fn ensure_reporting(edge: &Edge, settings: &EdgeSettings) -> Result<Option<String>, DeployError> {
    let _one_at_a_time = edge.creating.lock().await;
    let (docker, instance, name) = (&edge.docker, edge.instance.as_str(), edge.name.clone());
    let network = network_name(instance);
    ensure_network(docker, instance, &network).await?;
    let plan = plan(edge, settings)?;
    let mut keep = None;
    match docker.inspect_container(&name, None::<bollard::query_parameters::InspectContainerOptions>).await {
        Ok(c) => {
            let made_with = c.config.as_ref().and_then(|c| c.labels.as_ref()).and_then(|l| l.get(CONFIG_LABEL)).cloned();
            if made_with.as_deref() == Some(plan.digest.as_str()) {
                if c.state.and_then(|s| s.running) != Some(true) {
                    exec::bounded(
                        "starting the edge",
                        docker.start_container(&name, None::<bollard::query_parameters::StartContainerOptions>),
                    )
                    .await?;
                }
                return Ok(None);
            }
            keep = Some(kept(docker, &name, &c).await);
            crate::adapters::docker::exec::remove_container(docker, &name).await;
        }
        Err(e) if crate::adapters::docker::exec::status(&e) == Some(404) => {}
        Err(e) => return Err(DeployError::from(format!("looking up the edge {name}: {}", crate::adapters::docker::exec::describe(&e)))),
    }
    edge.shells.clear();
    create(edge, settings, &plan, keep.as_ref()).await?;
    Ok(Some(if keep.is_some() {
        format!("the edge {name} was created again with the new settings (requests in the second it took were refused)")
    } else {
        format!("the edge {name} was created")
    }))
}

/// What a replaced edge hands on: the router's routes and the networks it was on.
struct Kept {
    router: String,
    networks: Vec<String>,
}

async fn kept(docker: &Docker, name: &str, c: &bollard::models::ContainerInspectResponse) -> Kept {
    let networks = c.network_settings.as_ref().and_then(|n| n.networks.as_ref()).map(|n| n.keys().cloned().collect()).unwrap_or_default();
    // Read through the archive API, which works on a stopped container too (an exec would not).
    let router = read_file(docker, name, &format!("{CADDYFILE_DIR}/Caddyfile")).await;
    Kept { router: router.unwrap_or_else(|| caddyfile(&BTreeMap::new(), &BTreeSet::new())), networks }
}

/// One text file out of a container, running or not.
async fn read_file(docker: &Docker, container: &str, path: &str) -> Option<String> {
    use futures::TryStreamExt;
    let options = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default().path(path).build();
    let stream = docker.download_from_container(container, Some(options)).map_ok(|b| b.to_vec()).try_concat();
    let bytes = tokio::time::timeout(exec::CALL_TIMEOUT, stream).await.ok()?.ok()?;
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).ok()?;
    Some(text)
}

async fn create(edge: &Edge, settings: &EdgeSettings, plan: &Plan, keep: Option<&Kept>) -> Result<(), DeployError> {
    let (docker, instance, name) = (&edge.docker, edge.instance.as_str(), edge.name.clone());
    let network = network_name(instance);
    let labels = HashMap::from([
        (crate::services::INSTANCE_LABEL.to_string(), instance.to_string()),
        (ROLE_LABEL.to_string(), "edge".to_string()),
        (CONFIG_LABEL.to_string(), plan.digest.clone()),
    ]);
    let bind = |port: u16| Some(vec![PortBinding { host_ip: None, host_port: Some(port.to_string()) }]);
    let mut ports = HashMap::from([("80/tcp".to_string(), bind(settings.http_port))]);
    if plan.https {
        ports.insert("443/tcp".to_string(), bind(settings.https_port));
    }
    // Certificates, the ACME account and the access log live in a volume: they outlive a
    // restart and a re-creation (Let's Encrypt limits how often a name may be issued).
    let mut binds = vec![format!("{}:/data", data_volume(instance))];
    // Mounted only when it is used: a Docker engine in a VM (Docker Desktop) may refuse a
    // host path it does not share, and an edge without the hooks' name has no use for it.
    if let Some(dir) = edge.hooks_dir.as_ref().filter(|_| plan.https) {
        binds.push(format!("{}:{}:ro", dir.display(), HOOKS_SOCKET.rsplit_once('/').map(|(d, _)| d).unwrap_or("/run/slipway")));
    }
    // Containers on Slipway's network reach the hooks' public name through the edge directly.
    let aliases = plan.https.then(|| settings.hooks_host.iter().cloned().collect::<Vec<_>>());
    let body = ContainerCreateBody {
        image: Some(settings.image.clone()),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            "caddy run --config /etc/caddy/Front.caddyfile --adapter caddyfile & exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile".into(),
        ]),
        env: Some(vec!["XDG_CONFIG_HOME=/config".into(), "XDG_DATA_HOME=/data".into()]),
        labels: Some(labels),
        exposed_ports: Some(ports.keys().cloned().collect()),
        host_config: Some(HostConfig {
            port_bindings: Some(ports),
            binds: Some(binds),
            restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::UNLESS_STOPPED), maximum_retry_count: None }),
            network_mode: Some(network.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network.clone(), EndpointSettings { aliases, ..Default::default() })])),
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let volume = bollard::models::VolumeCreateRequest {
        name: Some(data_volume(instance)),
        labels: Some(HashMap::from([(crate::services::INSTANCE_LABEL.to_string(), instance.to_string())])),
        ..Default::default()
    };
    exec::bounded("creating the edge's data volume", docker.create_volume(volume)).await?;
    exec::bounded(&format!("creating the edge from image {}", settings.image), docker.create_container(Some(options), body)).await?;
    for n in keep.iter().flat_map(|k| &k.networks).filter(|n| **n != network) {
        join(edge, n).await?;
    }
    // The configuration goes in before the first start, so the edge never serves Caddy's default.
    let router = keep.map_or_else(|| caddyfile(&BTreeMap::new(), &BTreeSet::new()), |k| k.router.clone());
    let mut files = vec![("Caddyfile", router.as_str()), ("Front.caddyfile", plan.front.as_str())];
    if let Some(pem) = &plan.root_pem {
        files.push((ACME_ROOT.rsplit('/').next().unwrap_or("acme-ca-root.pem"), pem.as_str()));
    }
    upload(docker, &name, &files).await?;
    exec::bounded("starting the edge", docker.start_container(&name, None::<bollard::query_parameters::StartContainerOptions>)).await?;
    // Caddy takes a moment to open its admin endpoint; the first reload needs it. The router
    // started with the Caddyfile uploaded above: answering is having read it.
    for _ in 0..50 {
        let up = exec::run(docker, &name, &["caddy", "version"], Duration::from_secs(5)).await.map(|o| o.code == 0).unwrap_or(false);
        if up && admin_answers(edge).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(DeployError::from(format!("the edge {name} started but its admin endpoint never answered")))
}

/// The router's admin endpoint answers (it has read the Caddyfile it was given).
async fn admin_answers(edge: &Edge) -> bool {
    let out = edge.run(&["wget", "-q", "-O", "/dev/null", "http://localhost:2019/config/"], Duration::from_secs(5)).await;
    out.is_ok_and(|o| o.code == 0)
}

/// Brings the edge of the engine's own Docker host in line with `settings` now, rather than at
/// the next deploy: after a change in Settings, and at start when it serves the hooks' name.
/// Returns what happened, in words for the operator.
pub async fn apply_local(kit: &super::job::Kit, settings: &EdgeSettings) -> String {
    let local = crate::domain::host::LOCAL_ID;
    let docker = match kit.hosts.docker_for(Some(local)).await {
        Ok(d) => d,
        Err(e) => return format!("the local Docker host does not answer ({e}): its edge takes these settings when it does"),
    };
    let edge = kit.routes().edge(&docker, kit.instance_id(), local);
    if settings.hooks_host.is_some() && edge.hooks_dir.is_none() {
        return "the hooks' name cannot be served: the engine's Docker host is not a Unix socket on this machine, so its edge \
                cannot reach the engine's hook socket"
            .into();
    }
    let exists = docker.inspect_container(&edge.name, None::<bollard::query_parameters::InspectContainerOptions>).await.is_ok();
    if !exists && settings.hooks_host.is_none() {
        return "no edge runs on the local host yet: the next deploy starts it with these settings".into();
    }
    match ensure_reporting(&edge, settings).await {
        Ok(Some(words)) => words,
        Ok(None) => format!("the edge {} already runs with these settings", edge.name),
        Err(e) => format!("the edge {} could not take these settings: {e}", edge.name),
    }
}

/// The edge's data volume (certificates, the ACME account, the access log).
pub fn data_volume(instance: &str) -> String {
    format!("slipway-edge-{instance}-data")
}
