//! A compose service on the Docker host: its volumes and networks (created once, kept across
//! deploys), its container's settings as Compose would give them, its secret values filled in
//! from the keychain and its files placed before it starts; and the host made ready for a stack
//! (the edge on the networks it routes to, the networks and volumes in place).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig, Mount, MountTmpfsOptions, MountType,
    NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use bollard::Docker;

use super::exec::{self, DeployError};
use super::{edge, Edge, EdgeSettings, Steps};
use crate::domain::compose::interpolate::{interpolate, Interpolated, Lookup};
use crate::domain::compose::{FileSource, MountKind, ServiceSpec, StackSpec};
use crate::domain::project::stage_id;
use crate::services::INSTANCE_LABEL;

/// Labels on what a stack owns on the host (volumes, networks), so an operator can find them;
/// nothing Slipway prunes looks at them.
pub(super) fn owner_labels(instance: &str, project: &str, stage: &str, user: &BTreeMap<String, String>) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = user.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(INSTANCE_LABEL.to_string(), instance.to_string());
    labels.insert("dev.slipway.project".to_string(), project.to_string());
    labels.insert("dev.slipway.stage".to_string(), stage.to_string());
    labels
}

/// Creates the stack's volumes that do not exist yet (never touching those that do), and
/// checks that `external` ones exist. Returns what was created, for the run log.
pub(super) async fn ensure_volumes(
    docker: &Docker,
    stack: &StackSpec,
    labels: &HashMap<String, String>,
) -> Result<Vec<String>, DeployError> {
    let mut created = Vec::new();
    for (key, v) in &stack.volumes {
        if exec::bounded(&format!("inspecting volume {}", v.name), async {
            match docker.inspect_volume(&v.name).await {
                Ok(_) => Ok(true),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await?
        {
            continue;
        }
        if v.external {
            return Err(DeployError::from(format!(
                "volume {key} is `external: true`, but {} does not exist on the host: create it first",
                v.name
            )));
        }
        let mut labels = labels.clone();
        labels.extend(v.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        labels.insert("dev.slipway.volume".to_string(), key.clone());
        let req = VolumeCreateRequest {
            name: Some(v.name.clone()),
            driver: v.driver.clone(),
            driver_opts: Some(v.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            labels: Some(labels),
            ..Default::default()
        };
        exec::bounded(&format!("creating volume {}", v.name), docker.create_volume(req)).await?;
        created.push(v.name.clone());
    }
    Ok(created)
}

/// Creates the stack's networks that do not exist (the default one included) and checks that
/// `external` ones do.
pub(super) async fn ensure_networks(docker: &Docker, stack: &StackSpec, labels: &HashMap<String, String>) -> Result<(), DeployError> {
    for (key, n) in &stack.networks {
        if docker.inspect_network(&n.name, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_ok() {
            continue;
        }
        if n.external {
            return Err(DeployError::from(format!(
                "network {key} is `external: true`, but {} does not exist on the host: create it first",
                n.name
            )));
        }
        let mut labels = labels.clone();
        labels.extend(n.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let req = NetworkCreateRequest {
            name: n.name.clone(),
            driver: Some(n.driver.clone().unwrap_or_else(|| "bridge".into())),
            internal: Some(n.internal),
            attachable: Some(n.attachable),
            options: Some(n.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            labels: Some(labels),
            ..Default::default()
        };
        edge::create_network(docker, req).await?;
    }
    Ok(())
}

/// The host names of the networks a service joins, with its aliases (its own name first).
pub(super) fn joined(stack: &StackSpec, s: &ServiceSpec) -> Vec<(String, Vec<String>)> {
    let names: Vec<(String, Vec<String>)> = if s.networks.is_empty() {
        vec![("default".into(), vec![])]
    } else {
        s.networks.iter().map(|(k, a)| (k.clone(), a.clone())).collect()
    };
    names
        .into_iter()
        .map(|(key, extra)| {
            let host = stack.networks.get(&key).map(|n| n.name.clone()).unwrap_or(key);
            let mut aliases = vec![s.name.clone()];
            aliases.extend(extra);
            (host, aliases)
        })
        .collect()
}

/// The service's environment with its secret templates filled in from `secrets` (names to
/// values, read from the keychain just before): the only place a secret value is put together.
pub(super) fn environment(s: &ServiceSpec, secrets: &BTreeMap<String, String>) -> Result<Vec<String>, DeployError> {
    let mut env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let lookup = |n: &str| secrets.get(n).map(|v| Lookup::Value(v.clone())).unwrap_or(Lookup::Unset);
    for (k, template) in &s.secret_env {
        match interpolate(template, &lookup) {
            Ok(Interpolated::Done(v)) => env.push(format!("{k}={v}")),
            Ok(Interpolated::Template(_)) => unreachable!("no name is kept in the second pass"),
            Err(e) => return Err(DeployError::from(format!("service {}: environment {k}: {e}", s.name))),
        }
    }
    Ok(env)
}

/// The secrets a service names (in its environment templates and its files).
pub(super) fn secret_names(s: &ServiceSpec) -> Vec<String> {
    let named = std::cell::RefCell::new(Vec::new());
    for t in s.secret_env.values() {
        let _ = interpolate(t, &|n| {
            named.borrow_mut().push(n.to_string());
            Lookup::Unset
        });
    }
    let mut names = named.into_inner();
    names.extend(s.files.iter().filter_map(|f| match &f.source {
        FileSource::Secret(n) | FileSource::Keychain(n) => Some(n.clone()),
        _ => None,
    }));
    names.sort();
    names.dedup();
    names
}

/// Everything Docker needs to create the service's container, as Compose would set it.
pub(super) fn create_body(
    stack: &StackSpec,
    s: &ServiceSpec,
    image: &str,
    env: Vec<String>,
    labels: HashMap<String, String>,
) -> ContainerCreateBody {
    let r = &s.runtime;
    let mut labels = labels;
    labels.extend(r.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let healthcheck = s.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: Some((h.interval_ms * 1_000_000) as i64),
        timeout: Some((h.timeout_ms * 1_000_000) as i64),
        retries: Some(h.retries as i64),
        start_period: Some((h.start_period_ms * 1_000_000) as i64),
        ..Default::default()
    });
    let networks = joined(stack, s);
    let (first, aliases) = networks.first().cloned().unwrap_or_default();
    let mut exposed: Vec<String> = r.expose.iter().map(|e| if e.contains('/') { e.clone() } else { format!("{e}/tcp") }).collect();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &s.published {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.push(key.clone());
        let binding = PortBinding { host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()), host_port: Some(p.host_port.clone()) };
        bindings.entry(key).or_insert_with(|| Some(vec![])).get_or_insert_with(Vec::new).push(binding);
    }
    exposed.sort();
    exposed.dedup();
    ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: s.command.clone(),
        entrypoint: r.entrypoint.clone(),
        env: Some(env),
        labels: Some(labels),
        healthcheck,
        hostname: r.hostname.clone(),
        domainname: r.domainname.clone(),
        user: r.user.clone(),
        working_dir: r.working_dir.clone(),
        stop_signal: r.stop_signal.clone(),
        stop_timeout: r.stop_grace_secs,
        tty: Some(r.tty),
        open_stdin: Some(r.stdin_open),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(host_config(stack, s, first.clone(), bindings)),
        // The service's name (and its aliases) resolve on the network, as under Compose.
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(first, EndpointSettings { aliases: Some(aliases), ..Default::default() })])),
        }),
        ..Default::default()
    }
}

fn host_config(stack: &StackSpec, s: &ServiceSpec, network: String, bindings: HashMap<String, Option<Vec<PortBinding>>>) -> HostConfig {
    let r = &s.runtime;
    let vec_or_none = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    HostConfig {
        network_mode: Some(network),
        restart_policy: Some(restart_policy(r.restart.as_deref())),
        mounts: Some(s.mounts.iter().filter(|m| m.kind != MountKind::Repo).map(|m| mount(stack, m)).collect()),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        cap_add: vec_or_none(&r.cap_add),
        cap_drop: vec_or_none(&r.cap_drop),
        ulimits: (!r.ulimits.is_empty()).then(|| {
            r.ulimits
                .iter()
                .map(|(n, (soft, hard))| ResourcesUlimits { name: Some(n.clone()), soft: Some(*soft), hard: Some(*hard) })
                .collect()
        }),
        init: r.init,
        memory: r.memory,
        memory_reservation: r.memory_reservation,
        memory_swap: r.memory_swap,
        nano_cpus: r.nano_cpus,
        cpu_shares: r.cpu_shares,
        pids_limit: r.pids_limit,
        shm_size: r.shm_size,
        readonly_rootfs: Some(r.read_only),
        privileged: Some(r.privileged),
        sysctls: (!r.sysctls.is_empty()).then(|| r.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        security_opt: vec_or_none(&r.security_opt),
        dns: vec_or_none(&r.dns),
        dns_search: vec_or_none(&r.dns_search),
        dns_options: vec_or_none(&r.dns_opt),
        group_add: vec_or_none(&r.group_add),
        extra_hosts: vec_or_none(&r.extra_hosts),
        log_config: r.log_driver.as_ref().map(|d| HostConfigLogConfig {
            typ: Some(d.clone()),
            config: Some(r.log_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }),
        ..Default::default()
    }
}

/// Compose's `restart:`; none given is `unless-stopped` (a stack comes back after a reboot).
fn restart_policy(restart: Option<&str>) -> RestartPolicy {
    let (name, retries) = match restart {
        Some("no") => (RestartPolicyNameEnum::NO, None),
        Some("always") => (RestartPolicyNameEnum::ALWAYS, None),
        Some(r) if r.starts_with("on-failure") => {
            (RestartPolicyNameEnum::ON_FAILURE, r.strip_prefix("on-failure:").and_then(|n| n.parse().ok()))
        }
        _ => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
    };
    RestartPolicy { name: Some(name), maximum_retry_count: retries }
}

/// A mount as Docker takes it: a named volume by its name on the host (`<project>-<stage>-<name>`).
fn mount(stack: &StackSpec, m: &crate::domain::compose::MountSpec) -> Mount {
    let typ = match m.kind {
        MountKind::Volume => MountType::VOLUME,
        // A repository path's files are placed in the container ([`upload_files`]), not mounted.
        MountKind::Bind | MountKind::Repo => MountType::BIND,
        MountKind::Tmpfs => MountType::TMPFS,
    };
    Mount {
        target: Some(m.target.clone()),
        source: match m.kind {
            MountKind::Volume => Some(stack.volumes.get(&m.source).map(|v| v.name.clone()).unwrap_or_else(|| m.source.clone())),
            MountKind::Bind | MountKind::Repo => Some(m.source.clone()),
            MountKind::Tmpfs => None,
        },
        typ: Some(typ),
        read_only: Some(m.read_only),
        tmpfs_options: (m.kind == MountKind::Tmpfs && m.size > 0)
            .then(|| MountTmpfsOptions { size_bytes: Some(m.size as i64), ..Default::default() }),
        ..Default::default()
    }
}

/// Joins the created container to the service's other networks (Docker creates it on one).
pub(super) async fn connect_rest(docker: &Docker, stack: &StackSpec, s: &ServiceSpec, container: &str) -> Result<(), DeployError> {
    for (net, aliases) in joined(stack, s).into_iter().skip(1) {
        let req = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(EndpointSettings { aliases: Some(aliases), ..Default::default() }),
        };
        exec::bounded(&format!("connecting {container} to {net}"), docker.connect_network(&net, req)).await?;
    }
    Ok(())
}

/// Places the service's `secrets:` and `configs:` files in the created container.
pub(super) async fn upload_files(
    docker: &Docker,
    s: &ServiceSpec,
    container: &str,
    secrets: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> Result<(), DeployError> {
    if s.files.is_empty() {
        return Ok(());
    }
    let mut tar = tar::Builder::new(Vec::new());
    for f in &s.files {
        let content = match &f.source {
            FileSource::Content(c) => c.clone(),
            FileSource::Secret(n) | FileSource::Keychain(n) => {
                secrets.get(n).cloned().ok_or_else(|| DeployError::from(format!("secret {n} is not set")))?
            }
            FileSource::Env(n) => {
                env.get(n).cloned().ok_or_else(|| DeployError::from(format!("config {}: the project has no variable {n}", f.target)))?
            }
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(f.mode);
        header.set_uid(f.uid.parse().unwrap_or(0));
        header.set_gid(f.gid.parse().unwrap_or(0));
        header.set_cksum();
        tar.append_data(&mut header, f.target.trim_start_matches('/'), content.as_bytes()).map_err(|e| DeployError::from(e.to_string()))?;
    }
    let bytes = tar.into_inner().map_err(|e| DeployError::from(e.to_string()))?;
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    exec::bounded(
        &format!("placing the files of {container}"),
        docker.upload_to_container(container, Some(options), bollard::body_full(bytes.into())),
    )
    .await
}

/// The host is ready for the stack: the edge runs and is on the networks of the services it
/// routes to, the stack's networks and volumes exist (volumes are created once, never removed
/// here), and what reading the file decided is in the run log.
#[allow(clippy::too_many_arguments)]
pub(super) async fn prepare(
    steps: &Steps<'_>,
    prep: i64,
    stack: &mut StackSpec,
    edge: &Edge,
    settings: &EdgeSettings,
    docker: &Docker,
    net: &str,
    t: &super::compose::StackTarget<'_>,
) -> std::result::Result<(), DeployError> {
    // A release from before networks were read has none: its services are on the default one.
    stack
        .networks
        .entry("default".into())
        .or_insert_with(|| crate::domain::compose::NetworkSpec { name: net.to_string(), ..Default::default() });
    let owner = owner_labels(&edge.instance, &t.project.id, &stage_id(&t.project.id, &t.stage.name), &BTreeMap::new());
    edge_ready(edge, settings, docker, &edge.instance, net).await?;
    ensure_networks(docker, stack, &owner).await?;
    for s in stack.services.iter().filter(|s| s.port.is_some()) {
        for (n, _) in joined(stack, s) {
            edge::join(edge, &n).await?;
        }
    }
    for v in ensure_volumes(docker, stack, &owner).await? {
        steps.log(prep, format!("created volume {v} (kept across deploys, rollbacks and restarts)")).await;
    }
    for note in &stack.notes {
        steps.log(prep, note.clone()).await;
    }
    Ok(())
}

/// The edge runs, the stack's network exists, and the edge is on it.
async fn edge_ready(
    edge: &Edge,
    settings: &EdgeSettings,
    docker: &Docker,
    instance: &str,
    net: &str,
) -> std::result::Result<(), DeployError> {
    edge::ensure(edge, settings).await?;
    edge::ensure_network(docker, instance, net).await?;
    edge::join(edge, net).await
}

/// The values of the secrets `s` uses, from the keychain; a missing one fails the service
/// before its container (or Swarm service) exists.
pub(super) async fn secret_values(
    project: &crate::domain::project::Project,
    s: &ServiceSpec,
) -> std::result::Result<BTreeMap<String, String>, DeployError> {
    let mut out = BTreeMap::new();
    for name in secret_names(s) {
        // A repository's secret file is in the keychain under its own key; a project secret
        // under the project's.
        let key = if name.starts_with("compose-secret:") { name.clone() } else { crate::services::secret_key(&project.id, &name) };
        match crate::adapters::keychain::get(&key).await {
            Ok(Some(v)) => {
                out.insert(name, v);
            }
            Ok(None) => return Err(DeployError::from(format!("service {}: secret {name} is not set for project {}", s.name, project.id))),
            Err(e) => return Err(DeployError::from(format!("service {}: reading secret {name}: {e}", s.name))),
        }
    }
    Ok(out)
}
