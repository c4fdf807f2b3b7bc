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
use std::collections::{BTreeMap, HashMap};
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
const CADDYFILE_DIR: &str = "/etc/caddy";
/// Where the router listens and the front forwards to.
const ROUTER_SOCKET: &str = "/etc/caddy/router.sock";
/// The front's whole configuration: written once, never reloaded. Retries cover the router's
/// start and the moment its idle connections close on a reload.
/// It writes the JSON access log the deploys count their requests from ([`super::requests`]).
fn front_caddyfile() -> String {
    let log = super::requests::ACCESS_LOG;
    format!(
        "{{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n}}\n\n:80 {{\n\tlog {{\n\t\toutput file {log} {{\n\t\t\troll_size 10MiB\n\t\t\troll_keep 1\n\t\t}}\n\t\tformat json\n\t}}\n\treverse_proxy unix/{ROUTER_SOCKET} {{\n\t\tlb_try_duration 10s\n\t\tlb_try_interval 50ms\n\t}}\n}}\n"
    )
}

/// Where the edge listens and what it runs. Each can be set in the environment (tests run many
/// engines side by side) or in the store's settings (the Settings view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeSettings {
    pub image: String,
    /// Host port published for HTTP; `stage-dev-web.localhost:<port>` works in a browser.
    pub http_port: u16,
    /// Host names are `<subdomain>.<domain>`.
    pub domain: String,
}

pub async fn settings(store: &Store) -> EdgeSettings {
    async fn get(store: &Store, env: &str, key: &str) -> Option<String> {
        match std::env::var(env) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => store.setting(key).await.ok().flatten(),
        }
    }
    EdgeSettings {
        image: get(store, "SLIPWAY_EDGE_IMAGE", "edge.image").await.unwrap_or_else(|| "caddy:2-alpine".into()),
        http_port: get(store, "SLIPWAY_EDGE_PORT", "edge.http_port").await.and_then(|p| p.parse().ok()).unwrap_or(8080),
        domain: get(store, "SLIPWAY_DOMAIN", "edge.domain").await.unwrap_or_else(|| "localhost".into()),
    }
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
    shells: Arc<shell::Pool>,
}

impl Edge {
    /// Runs `argv` in the edge, at most `timeout`.
    pub async fn run(&self, argv: &[&str], timeout: Duration) -> Result<exec::Output, DeployError> {
        self.shells.run(&self.docker, &self.name, argv, timeout).await
    }
}

/// Where one stage's traffic goes: `name:port` upstreams with their weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub host: String,
    pub upstreams: Vec<(String, u32)>,
}

/// The routes the edge serves, stage id → route, and the lock that makes every change to them
/// (from runs of different stages at once) a whole, ordered reload.
#[derive(Default)]
pub struct Routes {
    /// Docker host id → stage → route: each host has its own edge.
    table: Mutex<BTreeMap<String, BTreeMap<String, Route>>>,
    shells: shell::Pools,
}

impl Routes {
    /// The edge of Docker host `host` (id), reached through `docker`.
    pub fn edge(&self, docker: &Docker, instance: &str, host: &str) -> Edge {
        let name = container_name(instance);
        let shells = self.shells.get(host, &name);
        Edge { docker: docker.clone(), instance: instance.to_string(), host: host.to_string(), name, shells }
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
        reload(edge, &next).await?;
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
            reload(edge, &next).await?;
            table.insert(edge.host.clone(), next);
        }
        Ok(())
    }

    /// Replaces the whole table (at start, from the live releases) and reloads.
    pub async fn replace(&self, edge: &Edge, routes: BTreeMap<String, Route>) -> Result<(), DeployError> {
        let mut table = self.table.lock().await;
        reload(edge, &routes).await?;
        table.insert(edge.host.clone(), routes);
        Ok(())
    }
}

/// The Caddyfile for `routes`. Retries on a refused connection cover an upstream that has just
/// stopped; the 404 names the host so a typo in a URL is obvious.
pub fn caddyfile(routes: &BTreeMap<String, Route>) -> String {
    let mut out =
        format!("{{\n\tadmin localhost:2019\n\tauto_https off\n\tpersist_config off\n}}\n\nhttp:// {{\n\tbind unix/{ROUTER_SOCKET}\n");
    for (i, (stage, r)) in routes.iter().enumerate() {
        if r.upstreams.is_empty() {
            continue;
        }
        let names: Vec<&str> = r.upstreams.iter().map(|(u, _)| u.as_str()).collect();
        let weights = lowest_terms(&r.upstreams.iter().map(|(_, w)| *w).collect::<Vec<_>>());
        let policy = if weights.iter().all(|w| *w == weights[0]) {
            "round_robin".to_string()
        } else {
            format!("weighted_round_robin {}", weights.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
        };
        out.push_str(&format!("\t# {stage}\n\t@r{i} host {}\n\thandle @r{i} {{\n", r.host));
        out.push_str(&format!("\t\treverse_proxy {} {{\n\t\t\tlb_policy {policy}\n\t\t\tlb_retries 5\n\t\t\tlb_try_duration 10s\n\t\t\tlb_try_interval 100ms\n\t\t\tfail_duration 2s\n\t\t}}\n\t}}\n", names.join(" ")));
    }
    out.push_str("\thandle {\n\t\trespond \"Slipway: nothing is deployed at {host}\" 404\n\t}\n}\n");
    out
}

/// Weights divided by their greatest common divisor. Caddy's weighted round robin sends each
/// upstream its whole weight in a row: with 80/20 a canary would wait 80 requests for its first
/// one after every reload, with 4/1 it waits 4.
fn lowest_terms(weights: &[u32]) -> Vec<u32> {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = weights.iter().fold(0, |g, w| gcd(g, *w)).max(1);
    weights.iter().map(|w| w / g).collect()
}

/// Loads the table's Caddyfile into the router and stores it in the edge (what the router reads
/// when it restarts), both at once: the load is what a switch waits for. The router's admin
/// endpoint takes the text by a POST from the image's own `wget` (about 10 ms); `caddy reload`
/// starts a second 50 MB Caddy to do the same (about 60 ms), so it is only the fallback: for an
/// edge image without `wget`, and to get Caddy's own words when the POST was refused (busybox
/// `wget` does not print the error body).
async fn reload(edge: &Edge, routes: &BTreeMap<String, Route>) -> Result<(), DeployError> {
    let (docker, name) = (&edge.docker, &edge.name);
    let text = caddyfile(routes);
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

/// Makes sure the network and a running edge exist. An existing edge is reused as it is (a
/// deploy never restarts it); a stopped one is started.
pub async fn ensure(edge: &Edge, settings: &EdgeSettings) -> Result<(), DeployError> {
    let (docker, instance, name) = (&edge.docker, edge.instance.as_str(), edge.name.clone());
    let network = network_name(instance);
    ensure_network(docker, instance, &network).await?;
    match docker.inspect_container(&name, None::<bollard::query_parameters::InspectContainerOptions>).await {
        Ok(c) => {
            if c.state.and_then(|s| s.running) != Some(true) {
                exec::bounded("starting the edge", docker.start_container(&name, None::<bollard::query_parameters::StartContainerOptions>))
                    .await?;
            }
            return Ok(());
        }
        Err(e) if crate::adapters::docker::exec::status(&e) == Some(404) => {}
        Err(e) => return Err(DeployError::from(format!("looking up the edge {name}: {}", crate::adapters::docker::exec::describe(&e)))),
    }
    let labels =
        HashMap::from([(crate::services::INSTANCE_LABEL.to_string(), instance.to_string()), (ROLE_LABEL.to_string(), "edge".to_string())]);
    let ports =
        HashMap::from([("80/tcp".to_string(), Some(vec![PortBinding { host_ip: None, host_port: Some(settings.http_port.to_string()) }]))]);
    let body = ContainerCreateBody {
        image: Some(settings.image.clone()),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            "caddy run --config /etc/caddy/Front.caddyfile --adapter caddyfile & exec caddy run --config /etc/caddy/Caddyfile --adapter caddyfile".into(),
        ]),
        env: Some(vec!["XDG_CONFIG_HOME=/config".into(), "XDG_DATA_HOME=/data".into()]),
        labels: Some(labels),
        exposed_ports: Some(vec!["80/tcp".to_string()]),
        host_config: Some(HostConfig {
            port_bindings: Some(ports),
            restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::UNLESS_STOPPED), maximum_retry_count: None }),
            network_mode: Some(network.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig { endpoints_config: Some(HashMap::from([(network.clone(), EndpointSettings::default())])) }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    exec::bounded(&format!("creating the edge from image {}", settings.image), docker.create_container(Some(options), body)).await?;
    // The configuration goes in before the first start, so the edge never serves Caddy's default.
    upload(docker, &name, &[("Caddyfile", &caddyfile(&BTreeMap::new())), ("Front.caddyfile", &front_caddyfile())]).await?;
    exec::bounded("starting the edge", docker.start_container(&name, None::<bollard::query_parameters::StartContainerOptions>)).await?;
    // Caddy takes a moment to open its admin endpoint; the first reload needs it.
    for _ in 0..50 {
        if exec::run(docker, &name, &["caddy", "version"], Duration::from_secs(5)).await.map(|o| o.code == 0).unwrap_or(false)
            && reload(edge, &BTreeMap::new()).await.is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(DeployError::from(format!("the edge {name} started but its admin endpoint never answered")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddyfile_routes_by_host_with_weights() {
        let mut routes = BTreeMap::new();
        routes.insert(
            "web:dev".to_string(),
            Route { host: "stage-dev-web.localhost".into(), upstreams: vec![("a:80".into(), 90), ("b:80".into(), 10)] },
        );
        routes.insert("web:prod".to_string(), Route { host: "launcher.localhost".into(), upstreams: vec![("c:80".into(), 1)] });
        let text = caddyfile(&routes);
        assert!(text.contains("@r0 host stage-dev-web.localhost"), "{text}");
        assert!(text.contains("reverse_proxy a:80 b:80 {\n\t\t\tlb_policy weighted_round_robin 9 1"), "{text}");
        assert!(text.contains("@r1 host launcher.localhost"), "{text}");
        assert!(text.contains("reverse_proxy c:80 {\n\t\t\tlb_policy round_robin"), "{text}");
        assert_eq!(lowest_terms(&[80, 80, 40]), [2, 2, 1]);
        assert_eq!(lowest_terms(&[70, 30]), [7, 3]);
        assert_eq!(lowest_terms(&[0, 0]), [0, 0]);
        assert!(text.ends_with("respond \"Slipway: nothing is deployed at {host}\" 404\n\t}\n}\n"));
    }
}
