//! Docker Swarm as a deploy target ([`DeployTarget::Swarm`]): a stage's release is a Swarm
//! service, and Swarm's own rolling update moves it from one release to the next. Slipway
//! grows no scheduler: it writes the service's spec (the image, `update_config` with
//! `start-first` and `failure_action: rollback`, a healthcheck from the stage's health
//! settings, replicas), submits it, and follows Swarm's `UpdateStatus` and the tasks into the
//! run's log. A Swarm rollback ends the run `rolled_back` with Swarm's reason.
//!
//! Routing: the service uses `endpoint_mode: dnsrr` (the VIP needs iptables) on an attachable
//! overlay network that the host's edge joins; the edge resolves `tasks.<service>` every second,
//! and a task only appears there once its healthcheck passed.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, ServiceSpec, ServiceUpdateStatusStateEnum, Task, TaskState};
use bollard::Docker;

use super::exec::DeployError;
use super::job::{Ending, Job};
pub(super) use super::swarm_spec::{spec, SpecInput};
use super::{container_env, edge, host_name, short, Steps, Stop, Target, DEPLOY_LABEL, STAGE_LABEL};
use crate::domain::deploy::Health;
use crate::domain::project::stage_id;
use crate::domain::release::Release;
use crate::domain::run::RunStatus;
use crate::services::INSTANCE_LABEL;
use crate::Result;

/// The service that runs a stage's releases: one per stage, updated in place.
pub fn service_name(instance: &str, project: &str, stage: &str) -> String {
    format!("slipway-{instance}-{project}-{stage}")
}

/// The attachable overlay network every Swarm stage's service and the host's edge share.
pub fn network_name(instance: &str) -> String {
    format!("slipway-{instance}-swarm")
}

/// How a release's image is named on the manager: a tag under `.invalid` (RFC 2606), so the
/// pull a Swarm node tries first fails at once and it uses the image it has.
fn image_ref(project: &str, stage: &str, run_id: i64) -> String {
    format!("slipway.invalid/{project}-{stage}:run-{run_id}")
}

/// Deploys `target` as the service's next release on the Swarm that `manager` manages.
pub(super) async fn run(ctx: &Job<'_>, target: &Target<'_>, position: i64, manager: String) -> Result<Ending> {
    let steps = Steps::new(ctx, position);
    let prep = steps.step("prepare swarm").await?;
    let instance = ctx.kit.instance_id().to_string();
    let name = service_name(&instance, &target.project.id, &target.stage.name);
    let prepared = match prepare(ctx, &steps, prep, target, &manager, &name).await {
        Ok(p) => p,
        Err(e) => return Ok(steps.fail(prep, RunStatus::Failed, &format!("step prepare swarm failed: {e}")).await.into()),
    };
    steps.done(prep).await;
    let Prepared { docker, edge, spec } = prepared;
    // The route names the service, not a release: set before the roll (a first deploy's
    // route serves nothing until its tasks are healthy), so nothing moves if it cannot be set.
    let settings = edge::settings(ctx.kit.store()).await;
    if let Some(route) = route_to(&name, target.config.deploy.port, host_name(&target.project.id, target.stage, &settings.domain)) {
        let sid = stage_id(&target.project.id, &target.stage.name);
        if let Err(e) = ctx.kit.routes().set(&edge, &sid, Some(route)).await {
            return Ok(Ending { status: RunStatus::Failed, reason: format!("routing {name} through the edge failed: {e}") });
        }
    }
    let how = Rolling { replicas: target.config.deploy.replicas.max(1) as usize, limit: update_limit(target), label: String::new() };
    if let Err(stop) = roll(ctx, &steps, &docker, &name, spec, &how).await? {
        return Ok(stop.into());
    }
    confirm(ctx, target, &name).await
}

struct Prepared {
    docker: Docker,
    edge: edge::Edge,
    spec: ServiceSpec,
}

/// The manager answers as one, the image is there under the release's tag, the overlay network
/// exists and the edge is on it; returns the spec to submit.
async fn prepare(
    ctx: &Job<'_>,
    steps: &Steps<'_>,
    step: i64,
    target: &Target<'_>,
    manager: &str,
    name: &str,
) -> std::result::Result<Prepared, DeployError> {
    let kit = ctx.kit;
    let (docker, node) = self::manager(ctx, manager).await?;
    let env = container_env(target).await.map_err(|e| DeployError::from(e.to_string()))??;
    let id = super::target::send_image(ctx, steps, step, &docker, manager, target.project, &target.image).await?;
    let reference = tag(&docker, &id, &target.project.id, &target.stage.name, ctx.run_id).await?;
    let instance = kit.instance_id();
    let network = network_name(instance);
    ensure_network(&docker, instance, &network).await?;
    let settings = edge::settings(kit.store()).await;
    let edge = kit.routes().edge(&docker, instance, manager);
    join_edge(&docker, &edge, &settings, &network).await?;
    let labels = HashMap::from([
        (INSTANCE_LABEL.to_string(), instance.to_string()),
        ("dev.slipway.project".to_string(), target.project.id.clone()),
        (STAGE_LABEL.to_string(), stage_id(&target.project.id, &target.stage.name)),
        (DEPLOY_LABEL.to_string(), ctx.run_id.to_string()),
    ]);
    let (c, r) = (&target.config.deploy, &target.config.rollout);
    let spec = spec(&SpecInput {
        name,
        network: &network,
        image: &reference,
        labels,
        env,
        command: c.command.clone(),
        replicas: c.replicas,
        port: c.port,
        health: &c.health,
        strategy: target.config.strategy,
        batch_size: r.batch_size,
        monitor_secs: r.verify_secs,
        drain_secs: r.drain_secs,
        force: ctx.run_id.max(0) as u64,
        node,
    });
    steps.log(step, format!("{manager} manages a Swarm; service {name} on overlay network {network}")).await;
    Ok(Prepared { docker, edge, spec })
}

/// Docker host `manager`, which must manage a Swarm, and its node id.
pub(super) async fn manager(ctx: &Job<'_>, manager: &str) -> std::result::Result<(Docker, Option<String>), DeployError> {
    let docker = ctx.kit.docker_on(manager).await?;
    if let Err(e) = docker.inspect_swarm().await {
        let why = crate::adapters::docker::exec::describe(&e);
        return Err(DeployError::from(format!(
            "host {manager} is not a Swarm manager ({why}): run `docker swarm init` there, or name a manager in the stage's hosts"
        )));
    }
    let node = docker.info().await.ok().and_then(|i| i.swarm).and_then(|s| s.node_id).filter(|n| !n.is_empty());
    Ok((docker, node))
}

/// Tags image `id` on the manager with the release's name; returns that name.
pub(super) async fn tag(docker: &Docker, id: &str, project: &str, stage: &str, run_id: i64) -> std::result::Result<String, DeployError> {
    let reference = image_ref(project, stage, run_id);
    let (repo, tag) = reference.rsplit_once(':').unwrap_or((&reference, "latest"));
    let options = bollard::query_parameters::TagImageOptions { repo: Some(repo.to_string()), tag: Some(tag.to_string()) };
    docker.tag_image(id, Some(options)).await.map_err(|e| DeployError::docker(format!("tagging image {}", short(id)), e))?;
    Ok(reference)
}

/// The edge runs with the settings and is on `network` (where it resolves the tasks).
pub(super) async fn join_edge(
    docker: &Docker,
    edge: &edge::Edge,
    settings: &edge::EdgeSettings,
    network: &str,
) -> std::result::Result<(), DeployError> {
    edge::ensure(edge, settings).await?;
    let join = NetworkConnectRequest { container: edge.name.clone(), ..Default::default() };
    if let Err(e) = docker.connect_network(network, join).await {
        let text = crate::adapters::docker::exec::describe(&e);
        if !text.contains("already") {
            return Err(DeployError::from(format!("connecting the edge to {network}: {text}")));
        }
    }
    Ok(())
}

pub(super) async fn ensure_network(docker: &Docker, instance: &str, network: &str) -> std::result::Result<(), DeployError> {
    if docker.inspect_network(network, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_ok() {
        return Ok(());
    }
    let request = NetworkCreateRequest {
        name: network.to_string(),
        driver: Some("overlay".into()),
        attachable: Some(true),
        labels: Some(HashMap::from([(INSTANCE_LABEL.to_string(), instance.to_string())])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        Err(e) if crate::adapters::docker::exec::status(&e) == Some(409) => Ok(()),
        Err(e) => Err(DeployError::docker(format!("creating overlay network {network}"), e)),
    }
}

/// How long an update may take before Slipway asks Swarm to roll it back.
fn update_limit(target: &Target<'_>) -> Duration {
    limit_for(&target.config.deploy.health, target.config.rollout.verify_secs, target.config.deploy.replicas)
}

pub(super) fn limit_for(health: &Health, verify_secs: u32, replicas: u32) -> Duration {
    let per_task = Duration::from_millis(health.start_period_ms as u64)
        + Duration::from_millis(health.interval_ms as u64 * (health.retries as u64 + 1))
        + Duration::from_secs(verify_secs as u64);
    Duration::from_secs(120) + per_task * replicas.max(1)
}

/// How one service is rolled: its replicas, how long the update may take, and the service's
/// name in front of the steps when a stack has several.
pub(super) struct Rolling {
    pub replicas: usize,
    pub limit: Duration,
    pub label: String,
}

/// Submits `spec` (creating the service, or updating it) and follows Swarm until the update
/// ended. A service this call created and that never ran is removed again. Ok(Ok(created)).
pub(super) async fn roll(
    ctx: &Job<'_>,
    steps: &Steps<'_>,
    docker: &Docker,
    name: &str,
    spec: ServiceSpec,
    how: &Rolling,
) -> Result<std::result::Result<bool, Stop>> {
    let started = Instant::now();
    let existing = docker.inspect_service(name, None::<bollard::query_parameters::InspectServiceOptions>).await.ok();
    let verb = if existing.is_some() { "update" } else { "create" };
    let step = steps.step(&format!("swarm: {verb} service{}", how.label)).await?;
    let before = existing.as_ref().and_then(|s| s.update_status.as_ref()).map(|u| format!("{u:?}"));
    let image = spec.task_template.as_ref().and_then(|t| t.container_spec.as_ref()).and_then(|c| c.image.clone()).unwrap_or_default();
    let submitted = match &existing {
        Some(s) => {
            let version = s.version.as_ref().and_then(|v| v.index).unwrap_or(0) as i32;
            let options = bollard::query_parameters::UpdateServiceOptions { version, ..Default::default() };
            docker.update_service(name, spec, options, None).await.map(|_| ())
        }
        None => docker.create_service(spec, None).await.map(|_| ()),
    };
    if let Err(e) = submitted {
        return Ok(Err(steps
            .fail(step, RunStatus::Failed, &DeployError::docker(format!("submitting service {name}"), e).to_string())
            .await));
    }
    steps.log(step, format!("Swarm rolls {name} to {image} with the stage's update settings")).await;
    steps.done(step).await;
    let follow = steps.step(&format!("swarm: rolling update{}", how.label)).await?;
    if let Err(stop) = follow_update(ctx, steps, follow, docker, name, before, existing.is_none(), how).await {
        if existing.is_none() {
            // A first deploy that never got healthy leaves nothing behind.
            let _ = docker.delete_service(name).await;
        }
        return Ok(Err(stop));
    }
    steps.log(follow, format!("the update finished in {:.1} s", started.elapsed().as_secs_f64())).await;
    steps.done(follow).await;
    Ok(Ok(existing.is_none()))
}

/// Follows the update until Swarm says it ended: the tasks' states go to the log as they
/// change. A first deploy has no update status: it is done when every replica of the new spec
/// runs. Cancelling, or an update that outlasts its limit, asks Swarm to roll back.
#[allow(clippy::too_many_arguments)]
async fn follow_update(
    ctx: &Job<'_>,
    steps: &Steps<'_>,
    step: i64,
    docker: &Docker,
    name: &str,
    before: Option<String>,
    created: bool,
    how: &Rolling,
) -> std::result::Result<(), Stop> {
    let deadline = Instant::now() + how.limit;
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut asked_back = false;
    let replicas = how.replicas;
    let run = ctx.run_id.to_string();
    loop {
        let tasks = tasks_of(docker, name).await;
        for t in &tasks {
            let (id, line) = task_line(t, &run);
            if seen.get(&id) != Some(&line) {
                steps.log(step, line.clone()).await;
                seen.insert(id, line);
            }
        }
        let service = docker
            .inspect_service(name, None::<bollard::query_parameters::InspectServiceOptions>)
            .await
            .map_err(|e| Stop::failed(DeployError::docker(format!("following service {name}"), e).to_string()))?;
        let status = service.update_status.clone();
        let ours = status.as_ref().map(|u| format!("{u:?}")) != before;
        let state = status.as_ref().and_then(|u| u.state).filter(|_| ours);
        let message = status.and_then(|u| u.message).unwrap_or_default();
        match state {
            Some(ServiceUpdateStatusStateEnum::COMPLETED) => return Ok(()),
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED) => {
                let status = if *ctx.cancel.borrow() { RunStatus::Cancelled } else { RunStatus::RolledBack };
                return Err(steps.fail(step, status, &format!("Swarm rolled the update back: {message}")).await);
            }
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED) => {
                let why = format!("Swarm paused its rollback: {message}; the service may run old and new tasks until someone acts");
                return Err(steps.fail(step, RunStatus::Failed, &why).await);
            }
            // Paused by someone (or by a failure_action changed by hand): back to the old spec.
            Some(ServiceUpdateStatusStateEnum::PAUSED) if !asked_back => {
                steps.log(step, format!("Swarm paused the update ({message}): asking it to roll back")).await;
                rollback(docker, name).await.map_err(|e| Stop::failed(e.to_string()))?;
                asked_back = true;
            }
            _ => {}
        }
        if created && state.is_none() {
            let running = tasks.iter().filter(|t| is_ours(t, &run) && state_of(t) == Some(TaskState::RUNNING)).count();
            let failed =
                tasks.iter().filter(|t| is_ours(t, &run) && matches!(state_of(t), Some(TaskState::FAILED | TaskState::REJECTED))).count();
            if running >= replicas {
                return Ok(());
            }
            if failed >= replicas * 3 {
                return Err(steps
                    .fail(step, RunStatus::Failed, &format!("{failed} tasks of the new service failed; it was removed"))
                    .await);
            }
        }
        let cancelled = *ctx.cancel.borrow();
        if asked_back && Instant::now() > deadline + how.limit {
            let why = "Swarm's rollback did not finish in time: the service may run old and new tasks until someone acts";
            return Err(steps.fail(step, RunStatus::Failed, why).await);
        }
        if (cancelled || Instant::now() > deadline) && !asked_back {
            if created {
                let why = if cancelled { "cancelled" } else { "the service's tasks did not all run in time" };
                let status = if cancelled { RunStatus::Cancelled } else { RunStatus::Failed };
                return Err(steps.fail(step, status, why).await);
            }
            let why = if cancelled {
                "cancelled: asking Swarm to roll back"
            } else {
                "the update outlasted its limit: asking Swarm to roll back"
            };
            steps.log(step, why).await;
            rollback(docker, name).await.map_err(|e| Stop::failed(e.to_string()))?;
            asked_back = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub(super) async fn rollback(docker: &Docker, name: &str) -> std::result::Result<(), DeployError> {
    let service = docker
        .inspect_service(name, None::<bollard::query_parameters::InspectServiceOptions>)
        .await
        .map_err(|e| DeployError::docker(format!("inspecting service {name}"), e))?;
    let version = service.version.and_then(|v| v.index).unwrap_or(0) as i32;
    let spec = service.spec.unwrap_or_default();
    let options = bollard::query_parameters::UpdateServiceOptions { version, rollback: Some("previous".into()), ..Default::default() };
    docker.update_service(name, spec, options, None).await.map(|_| ()).map_err(|e| DeployError::docker(format!("rolling {name} back"), e))
}

async fn tasks_of(docker: &Docker, name: &str) -> Vec<Task> {
    let filters = HashMap::from([("service".to_string(), vec![name.to_string()])]);
    let options = bollard::query_parameters::ListTasksOptions { filters: Some(filters) };
    let mut tasks = docker.list_tasks(Some(options)).await.unwrap_or_default();
    tasks.sort_by_key(|t| (t.slot, t.created_at.clone()));
    tasks
}

fn state_of(t: &Task) -> Option<TaskState> {
    t.status.as_ref().and_then(|s| s.state)
}

/// Whether task `t` runs this deploy's spec (its container carries the run's id).
fn is_ours(t: &Task, run: &str) -> bool {
    let labels = t.spec.as_ref().and_then(|s| s.container_spec.as_ref()).and_then(|c| c.labels.as_ref());
    labels.and_then(|l| l.get(DEPLOY_LABEL)).map(String::as_str) == Some(run)
}

/// A task's id and its line for the log: slot, short id, new or old release, state, error.
fn task_line(t: &Task, run: &str) -> (String, String) {
    let id = t.id.clone().unwrap_or_default();
    let which = if is_ours(t, run) { "new release" } else { "old release" };
    let state = state_of(t).map(|s| format!("{s:?}").to_lowercase()).unwrap_or_else(|| "unknown".into());
    // A task Swarm is stopping still runs for its grace period: say it is on its way out.
    let leaving = match (state_of(t), t.desired_state) {
        (Some(TaskState::RUNNING), Some(TaskState::SHUTDOWN)) => ", shutting down",
        _ => "",
    };
    let state = format!("{state}{leaving}");
    let err = t.status.as_ref().and_then(|s| s.err.clone()).map(|e| format!(": {e}")).unwrap_or_default();
    let slot = t.slot.map(|s| format!("slot {s}, ")).unwrap_or_default();
    (id.clone(), format!("task {}{} ({which}): {state}{err}", slot, &id[..id.len().min(10)]))
}

/// Swarm moved the service: the store names the release.
async fn confirm(ctx: &Job<'_>, target: &Target<'_>, name: &str) -> Result<Ending> {
    let digests = BTreeMap::from([("app".to_string(), target.image.clone())]);
    let containers = BTreeMap::from([("app".to_string(), vec![name.to_string()])]);
    let number = super::record_release(ctx, target.origin(), &target.image, &digests, &containers).await?;
    if target.hold_promotions {
        ctx.kit.release_changed(&target.project.id, &target.stage.name);
    } else {
        ctx.kit.release_went_live(&target.project.id, &target.stage.name).await;
    }
    Ok(Ending {
        status: RunStatus::Succeeded,
        reason: format!("release {number} is live on {} (Swarm service {name}, {})", target.stage.name, short(&target.image)),
    })
}

/// After a crash, on one host: a service whose spec is a deploy the store never confirmed (the
/// engine died while Swarm was updating it) is rolled back to the spec before, the live
/// release's; a service of a stage with no live release (its first deploy was cut short) goes.
/// A host that is no Swarm manager lists no services.
pub(super) async fn reconcile(docker: &Docker, instance: &str, live: &[&Release]) {
    let filters = HashMap::from([("label".to_string(), vec![format!("{INSTANCE_LABEL}={instance}")])]);
    let options = bollard::query_parameters::ListServicesOptions { filters: Some(filters), status: None };
    for service in docker.list_services(Some(options)).await.unwrap_or_default() {
        let Some(spec) = service.spec else { continue };
        let name = spec.name.clone().unwrap_or_default();
        let label = |k: &str| spec.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let sid = label(STAGE_LABEL).unwrap_or_default();
        let Some(release) = live.iter().find(|r| stage_id(&r.project_id, &r.stage) == sid) else {
            tracing::info!("removing service {name}: no release of its stage is live (a first deploy that did not finish)");
            let _ = docker.delete_service(&name).await;
            continue;
        };
        if label(DEPLOY_LABEL) != release.run_id.map(|r| r.to_string()) {
            tracing::info!("rolling service {name} back to release {}: its update never became a release", release.number);
            if let Err(e) = rollback(docker, &name).await {
                tracing::warn!("{e}");
            }
        }
    }
}

/// The edge's route to a live Swarm release: its service's tasks, by DNS.
pub(super) fn route(live: &Release, instance: &str, host: String) -> Option<edge::Route> {
    route_to(&service_name(instance, &live.project_id, &live.stage), live.config.deploy.port, host)
}

/// The edge's route to service `name`'s tasks on `port`, by DNS (none without a port).
pub(super) fn route_to(name: &str, port: Option<u16>, host: String) -> Option<edge::Route> {
    Some(edge::Route { host, upstreams: vec![], resolve: Some((format!("tasks.{name}"), port?)) })
}
