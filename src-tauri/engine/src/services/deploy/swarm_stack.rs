//! A compose file on a Swarm target: every compose service becomes a Swarm service of the
//! stage's stack (`slipway-<instance>-<project>-<stage>-<service>`), rolled by Swarm one after
//! another in the file's `depends_on` order, each followed until Swarm says it is done (so a
//! `service_healthy` dependency is healthy before its dependents move). The services find each
//! other by their compose names on the stack's own overlay network; those with a port are also
//! on the shared overlay the edge routes from. If one service's update fails, the services
//! already moved are rolled back by Swarm (or removed, if this deploy created them), and the run
//! ends `rolled_back`.
//!
//! What Swarm cannot do as Compose does on one host is refused before anything moves, naming
//! the service and the key: host-published ports (Swarm's routing mesh needs iptables), volumes
//! and bind mounts (a named volume is per node), secret and config files, the `Runtime` options,
//! extra networks, and `service_completed_successfully`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::models::{HealthConfig, NetworkAttachmentConfig, ServiceSpec, ServiceUpdateStatusStateEnum};
use bollard::Docker;

use super::compose::{own_check, route_key, service_host, StackTarget};
use super::exec::DeployError;
use super::job::{Ending, Job};
use super::swarm::{limit_for, roll, Rolling, SpecInput};
use super::{edge, host_name, stack, Steps, Stop, DEPLOY_LABEL, STAGE_LABEL};
use crate::domain::compose::{ServiceSpec as ComposeService, StackSpec};
use crate::domain::project::stage_id;
use crate::domain::run::RunStatus;
use crate::services::INSTANCE_LABEL;
use crate::Result;

/// The Swarm service of compose service `service`.
pub fn service_name(instance: &str, project: &str, stage: &str, service: &str) -> String {
    format!("{}-{service}", super::swarm::service_name(instance, project, stage))
}

/// Why `stack` cannot run as a Swarm stack, naming the service and the key; None when it can.
pub(super) fn refusal(stack: &StackSpec) -> Option<String> {
    for s in &stack.services {
        let why = if !s.published.is_empty() {
            "ports publishes a host port (Swarm's routing mesh needs iptables): give the container port alone, the edge routes it"
        } else if !s.mounts.is_empty() {
            "volumes are per node on a Swarm: run this service where its data lives (target: containers)"
        } else if !s.files.is_empty() {
            "secrets and configs files are not placed in Swarm tasks yet"
        } else if s.runtime != Default::default() {
            "its runtime options (user, limits, capabilities, devices, …) are not passed to Swarm yet"
        } else if s.networks.keys().any(|n| n != "default") {
            "networks other than the default one are not created on the Swarm yet"
        } else if s.depends_on.iter().any(|d| d.condition == "service_completed_successfully") {
            "depends_on with service_completed_successfully has no Swarm equivalent (a task that ends is restarted)"
        } else {
            continue;
        };
        return Some(format!("compose service {} cannot run on the Swarm: {why}", s.name));
    }
    None
}

/// The compose service's healthcheck as Swarm's; none of its own and a port: the stage's.
fn health_of(s: &ComposeService) -> Option<HealthConfig> {
    let h = own_check(s)?;
    let ns = |ms: u64| (ms as i64).saturating_mul(1_000_000);
    Some(HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(ns(h.interval_ms.max(100))),
        timeout: Some(ns(h.timeout_ms.max(100))),
        retries: Some(h.retries.max(1) as i64),
        start_period: Some(ns(h.start_period_ms)),
        start_interval: None,
    })
}

/// A moved service, to put back if a later one fails.
struct Moved {
    name: String,
    created: bool,
}

pub(super) async fn run(
    ctx: &Job<'_>,
    t: &StackTarget<'_>,
    stack: &StackSpec,
    steps: &Steps<'_>,
    prep: i64,
    manager: &str,
) -> Result<Ending> {
    let fail = |why: String| async move { Ok(Ending::from(steps.fail(prep, RunStatus::Failed, &why).await)) };
    if let Some(why) = refusal(stack) {
        return fail(why).await;
    }
    let instance = ctx.kit.instance_id().to_string();
    let (docker, node) = match super::swarm::manager(ctx, manager).await {
        Ok(d) => d,
        Err(e) => return fail(e.to_string()).await,
    };
    let own_net = super::compose::network(&instance, &t.project.id, &t.stage.name);
    let shared = super::swarm::network_name(&instance);
    for net in [&own_net, &shared] {
        if let Err(e) = super::swarm::ensure_network(&docker, &instance, net).await {
            return fail(e.to_string()).await;
        }
    }
    let settings = edge::settings(ctx.kit.store()).await;
    let edge = ctx.kit.routes().edge(&docker, &instance, manager);
    if let Err(e) = super::swarm::join_edge(&docker, &edge, &settings, &shared).await {
        return fail(e.to_string()).await;
    }
    let mut specs = Vec::new();
    for s in &stack.services {
        match service_spec(ctx, t, steps, prep, (&docker, manager, &node), s, [&own_net, &shared]).await {
            Ok(spec) => specs.push((s, spec)),
            Err(e) => return fail(format!("service {}: {e}", s.name)).await,
        }
    }
    steps.log(prep, format!("{manager} manages a Swarm; {} services on overlay network {own_net}", specs.len())).await;
    steps.done(prep).await;
    let mut moved: Vec<Moved> = Vec::new();
    for (s, spec) in specs {
        let name = service_name(&instance, &t.project.id, &t.stage.name, &s.name);
        let limit = limit_for(&t.config.deploy.health, t.config.rollout.verify_secs, 1);
        let how = Rolling { replicas: 1, limit, label: format!(" {}", s.name) };
        match roll(ctx, steps, &docker, &name, spec, &how).await? {
            Ok(created) => moved.push(Moved { name, created }),
            Err(stop) => return Ok(back(&docker, &moved, stop, limit).await),
        }
    }
    let sid = stage_id(&t.project.id, &t.stage.name);
    let stage_host = host_name(&t.project.id, t.stage, &settings.domain);
    for s in stack.services.iter().filter(|s| s.port.is_some()) {
        let name = service_name(&instance, &t.project.id, &t.stage.name, &s.name);
        let route = route_of(stack, s, &name, &stage_host);
        if let Err(e) = ctx.kit.routes().set(&edge, &route_key(&sid, &s.name), Some(route)).await {
            return Ok(Ending {
                status: RunStatus::Failed,
                reason: format!("the services run the new release, but routing {} failed: {e}", s.name),
            });
        }
    }
    confirm(ctx, t, &instance).await
}

fn route_of(stack: &StackSpec, s: &ComposeService, swarm_name: &str, stage_host: &str) -> edge::Route {
    edge::Route {
        host: service_host(stack, &s.name, stage_host),
        upstreams: vec![],
        resolve: Some((format!("tasks.{swarm_name}"), s.port.unwrap_or(80))),
    }
}

/// The edge's routes for a live Swarm stack (at start, after a crash).
pub(super) fn restore_routes(
    instance: &str,
    r: &crate::domain::release::Release,
    stack: &StackSpec,
    stage_host: &str,
    routes: &mut BTreeMap<String, edge::Route>,
) {
    let sid = stage_id(&r.project_id, &r.stage);
    for s in stack.services.iter().filter(|s| s.port.is_some()) {
        let name = service_name(instance, &r.project_id, &r.stage, &s.name);
        routes.insert(route_key(&sid, &s.name), route_of(stack, s, &name, stage_host));
    }
}

#[allow(clippy::too_many_arguments)]
async fn service_spec(
    ctx: &Job<'_>,
    t: &StackTarget<'_>,
    steps: &Steps<'_>,
    prep: i64,
    (docker, manager, node): (&Docker, &str, &Option<String>),
    s: &ComposeService,
    networks: [&String; 2],
) -> std::result::Result<ServiceSpec, DeployError> {
    let Some(image) = t.images.get(&s.name) else { return Err(DeployError::from("no image was built or named for it")) };
    let id = super::target::send_image(ctx, steps, prep, docker, manager, t.project, image).await?;
    let reference = super::swarm::tag(docker, &id, &t.project.id, &format!("{}-{}", t.stage.name, s.name), ctx.run_id).await?;
    let secrets = stack::secret_values(t.project, s).await?;
    let env = stack::environment(s, &secrets)?;
    let instance = ctx.kit.instance_id();
    let labels = HashMap::from([
        (INSTANCE_LABEL.to_string(), instance.to_string()),
        ("dev.slipway.project".to_string(), t.project.id.clone()),
        (STAGE_LABEL.to_string(), stage_id(&t.project.id, &t.stage.name)),
        (DEPLOY_LABEL.to_string(), ctx.run_id.to_string()),
        (super::compose::SERVICE_LABEL.to_string(), s.name.clone()),
    ]);
    let name = service_name(instance, &t.project.id, &t.stage.name, &s.name);
    let r = &t.config.rollout;
    let mut spec = super::swarm::spec(&SpecInput {
        name: &name,
        network: networks[1],
        image: &reference,
        labels,
        env,
        command: s.command.clone(),
        replicas: 1,
        port: s.port,
        health: &t.config.deploy.health,
        strategy: t.config.strategy,
        batch_size: r.batch_size,
        monitor_secs: r.verify_secs,
        drain_secs: r.drain_secs,
        force: ctx.run_id.max(0) as u64,
        node: node.clone(),
    });
    if let Some(task) = spec.task_template.as_mut() {
        if let Some(c) = task.container_spec.as_mut() {
            if s.healthcheck.is_some() || s.port.is_none() {
                // Its own check (or NONE), or none at all for a service the edge does not route.
                c.health_check = health_of(s).or(Some(HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() }));
            }
        }
        // On the stack's network under its compose name, so the others reach it as they would
        // under Compose; with a port, on the edge's too.
        let own = NetworkAttachmentConfig { target: Some(networks[0].clone()), aliases: Some(vec![s.name.clone()]), ..Default::default() };
        let mut nets = vec![own];
        if s.port.is_some() {
            nets.push(NetworkAttachmentConfig { target: Some(networks[1].clone()), ..Default::default() });
        }
        task.networks = Some(nets);
    }
    Ok(spec)
}

/// A later service failed: the ones moved before it go back, newest first.
async fn back(docker: &Docker, moved: &[Moved], stop: Stop, limit: Duration) -> Ending {
    let mut undone = Vec::new();
    let mut failures = Vec::new();
    for m in moved.iter().rev() {
        match undo(docker, m, limit).await {
            Ok(()) => undone.push(m.name.clone()),
            Err(e) => failures.push(format!("{}: {e}", m.name)),
        }
    }
    let mut reason = stop.reason;
    if !undone.is_empty() {
        reason.push_str(&format!("; {} went back", undone.join(", ")));
    }
    let status = if !failures.is_empty() {
        reason.push_str(&format!("; going back failed on {}", failures.join("; ")));
        RunStatus::Failed
    } else {
        stop.status
    };
    Ending { status, reason }
}

/// Removes a service this deploy created, or has Swarm roll it back and waits for that.
async fn undo(docker: &Docker, m: &Moved, limit: Duration) -> std::result::Result<(), String> {
    if m.created {
        return docker.delete_service(&m.name).await.map_err(|e| e.to_string());
    }
    super::swarm::rollback(docker, &m.name).await.map_err(|e| e.to_string())?;
    let until = Instant::now() + limit;
    while Instant::now() < until {
        let service =
            docker.inspect_service(&m.name, None::<bollard::query_parameters::InspectServiceOptions>).await.map_err(|e| e.to_string())?;
        match service.update_status.and_then(|u| u.state) {
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED) => return Ok(()),
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED) => return Err("Swarm paused its rollback".into()),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    Err("its rollback did not finish in time".into())
}

async fn confirm(ctx: &Job<'_>, t: &StackTarget<'_>, instance: &str) -> Result<Ending> {
    let stack = t.config.compose.as_ref();
    let containers: BTreeMap<String, Vec<String>> = stack
        .map(|st| {
            st.services.iter().map(|s| (s.name.clone(), vec![service_name(instance, &t.project.id, &t.stage.name, &s.name)])).collect()
        })
        .unwrap_or_default();
    let primary = stack.and_then(|st| st.services.iter().find(|s| s.port.is_some()).or(st.services.first())).map(|s| s.name.clone());
    let image = primary.as_ref().and_then(|p| t.images.get(p)).map(String::as_str).unwrap_or("");
    let number = super::record_release(ctx, t.origin(), image, &t.images, &containers).await?;
    ctx.kit.release_went_live(&t.project.id, &t.stage.name).await;
    Ok(Ending {
        status: RunStatus::Succeeded,
        reason: format!("release {number} is live on {} (Swarm stack of {} services)", t.stage.name, containers.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(text: &str) -> StackSpec {
        let (env, under, none) = (BTreeMap::new(), |_: &str| Ok(vec![]), |_: &str| Ok(None));
        let input = crate::domain::compose::Input {
            file: "compose.yaml",
            text,
            read: &none,
            files_under: &under,
            overrides: &[],
            env: &env,
            secrets: &[],
            stage: "dev",
            project: "shop",
            network: "n",
        };
        crate::domain::compose::load(&input).unwrap().stack
    }

    #[test]
    fn what_swarm_cannot_do_as_compose_does_is_refused_by_service_and_key() {
        let ok = "services:\n  web:\n    image: a\n    ports: [\"80\"]\n    depends_on:\n      db: {condition: service_healthy}\n  db:\n    image: b\n    healthcheck: {test: [\"CMD\", \"true\"]}\n";
        assert_eq!(refusal(&stack(ok)), None);
        let cases = [
            ("services:\n  web:\n    image: a\n    ports: [\"8080:80\"]\n", "compose service web cannot run on the Swarm: ports publishes a host port"),
            ("services:\n  db:\n    image: b\n    volumes: [\"data:/var/lib\"]\nvolumes:\n  data: {}\n", "compose service db cannot run on the Swarm: volumes are per node"),
            ("services:\n  web:\n    image: a\n    user: \"1000\"\n", "compose service web cannot run on the Swarm: its runtime options"),
            (
                "services:\n  web:\n    image: a\n    depends_on:\n      m: {condition: service_completed_successfully}\n  m:\n    image: b\n",
                "compose service web cannot run on the Swarm: depends_on with service_completed_successfully",
            ),
        ];
        for (text, want) in cases {
            let got = refusal(&stack(text)).unwrap_or_default();
            assert!(got.starts_with(want), "{text}: {got}");
        }
    }
}
