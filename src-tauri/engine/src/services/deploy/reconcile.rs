//! After a crash: the host is made to match the store again. Containers of deploys that never
//! became a release go, and the live release's routes come back.

use super::*;
use crate::domain::target::{project_hosts, release_hosts};

/// Whether live release `r` owns container `c`: by the release's container list, or (releases
/// recorded before lists existed) by the deploy label.
pub(super) fn owns(r: &crate::domain::release::Release, c: &AppContainer) -> bool {
    if !r.containers.is_empty() {
        return r.containers.values().any(|names| names.contains(&c.name));
    }
    stage_id(&r.project_id, &r.stage) == c.stage && r.run_id.is_some() && r.run_id == c.deploy
}

pub(super) struct AppContainer {
    pub(super) name: String,
    pub(super) deploy: Option<i64>,
    pub(super) running: bool,
    pub(super) stage: String,
    /// The compose service it runs (compose stacks only).
    pub(super) service: Option<String>,
}

pub(super) async fn app_containers(docker: &Docker, instance: &str, sid: &str) -> Vec<AppContainer> {
    let mine = format!("{INSTANCE_LABEL}={instance}");
    let role = format!("{}=app", edge::ROLE_LABEL);
    let stage = format!("{STAGE_LABEL}={sid}");
    let mut labels = vec![mine.as_str(), role.as_str()];
    if !sid.is_empty() {
        labels.push(stage.as_str());
    }
    let filters = HashMap::from([("label", labels)]);
    let list =
        docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build())).await.unwrap_or_default();
    list.into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            AppContainer {
                name: c.names.and_then(|n| n.first().cloned()).unwrap_or_default().trim_start_matches('/').to_string(),
                deploy: labels.get(DEPLOY_LABEL).and_then(|v| v.parse().ok()),
                running: c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
                stage: labels.get(STAGE_LABEL).cloned().unwrap_or_default(),
                service: labels.get(compose::SERVICE_LABEL).cloned(),
            }
        })
        .collect()
}

/// After a crash (or at any start): every stage's containers are those of its live release,
/// started; anything an unfinished deploy left is removed; the edge routes what the store
/// says is live. Nothing happens on a host Slipway never deployed to.
///
/// `interrupted` are the stages whose deploy the crash cut short: there the live release's
/// stateful services may have been being stopped (a stop Docker finishes after the engine is
/// gone), so they are watched for their stop grace period and started again if they stop.
pub async fn reconcile(kit: &Kit, interrupted: &[String]) -> Result<()> {
    reconcile_hosts(kit, interrupted, None).await
}

/// [`reconcile`] for one host that came back (its Docker engine restarted, the network
/// returned): what a deploy cut short by the outage left there goes, and the live release's
/// containers and routes are put back. The caller makes sure no run is deploying meanwhile.
pub async fn reconcile_host_again(kit: &Kit, host_id: &str) -> Result<()> {
    reconcile_hosts(kit, &[], Some(host_id)).await
}

async fn reconcile_hosts(kit: &Kit, interrupted: &[String], only: Option<&str>) -> Result<()> {
    let store = kit.store();
    let live = crate::store::releases::all_live(store).await?;
    // Every host a project or a stage names, not only those with a live release: a stage's
    // first deploy cut short on its second host left containers there too.
    let mut hosts: Vec<String> = vec![crate::domain::host::LOCAL_ID.to_string()];
    let mut by_project = HashMap::new();
    for p in crate::store::projects::list(store).await? {
        // A host taken out of a stage still runs what its last release left there.
        let of_releases = live.iter().filter(|r| r.project_id == p.id).flat_map(|r| release_hosts(r, &p));
        for h in project_hosts(&p).into_iter().chain(of_releases) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        by_project.insert(p.id.clone(), p);
    }
    let all: Vec<&crate::domain::release::Release> = live.iter().collect();
    for host in hosts.into_iter().filter(|h| only.is_none_or(|o| o == h)) {
        let Ok(docker) = kit.hosts.docker_for(Some(&host)).await else { continue };
        let mine: Vec<&crate::domain::release::Release> =
            live.iter().filter(|r| by_project.get(&r.project_id).is_some_and(|p| release_hosts(r, p).contains(&host))).collect();
        // Swarm services are the Swarm's, whichever host entry reaches it: judged against
        // every live release, not this host's.
        super::swarm::reconcile(&docker, kit.instance_id(), &all).await;
        reconcile_host(kit, &docker, &host, &mine, &by_project).await;
        watch_stateful(&docker, kit.instance_id(), &mine, interrupted).await;
    }
    Ok(())
}

async fn reconcile_host(
    kit: &Kit,
    docker: &Docker,
    host: &str,
    live: &[&crate::domain::release::Release],
    projects: &HashMap<String, Project>,
) {
    let instance = kit.instance_id();
    let containers = app_containers(docker, instance, "").await;
    if live.is_empty() && containers.is_empty() {
        return;
    }
    let settings = edge::settings(kit.store()).await;
    let owned = |c: &AppContainer| live.iter().any(|r| owns(r, c));
    // A stateful service's leftover goes before its live container starts: two containers
    // must never run on one volume, not even for a moment.
    for c in containers.iter().filter(|c| !owned(c) && stateful(live, c).is_some()) {
        tracing::info!("removing {} first: a deploy that did not finish, of a stateful service", c.name);
        crate::adapters::docker::exec::remove_container(docker, &c.name).await;
    }
    // Live containers first (started if a crash stopped them), then the routes, and only then
    // the leftovers go: traffic never points at a container that is about to disappear.
    for c in containers.iter().filter(|c| owned(c) && !c.running) {
        tracing::info!("starting {} again: it belongs to the live release", c.name);
        let _ = docker.start_container(&c.name, None::<bollard::query_parameters::StartContainerOptions>).await;
    }
    let mut routes = BTreeMap::new();
    for r in live {
        let Some(project) = projects.get(&r.project_id) else { continue };
        let Some(stage) = project.stages.iter().find(|s| s.name == r.stage) else { continue };
        let swarm = stage.target == crate::domain::project::StageTarget::Swarm;
        if let Some(stack) = &r.config.compose {
            if swarm {
                super::swarm_stack::restore_routes(instance, r, stack, &host_name(&r.project_id, stage, &settings.domain), &mut routes);
            } else {
                compose::restore_routes(r, stack, stage, &settings.domain, &mut routes);
            }
            continue;
        }
        if swarm {
            let sid = stage_id(&r.project_id, &r.stage);
            if let Some(route) = super::swarm::route(r, instance, host_name(&r.project_id, stage, &settings.domain)) {
                routes.insert(sid, route);
            }
            continue;
        }
        let Some(port) = r.config.deploy.port else { continue };
        let sid = stage_id(&r.project_id, &r.stage);
        let upstreams: Vec<(String, u32)> =
            containers.iter().filter(|c| c.stage == sid && owns(r, c)).map(|c| (format!("{}:{port}", c.name), 1)).collect();
        if !upstreams.is_empty() {
            routes.insert(sid, edge::Route { host: host_name(&r.project_id, stage, &settings.domain), upstreams, resolve: None });
        }
    }
    let edge = kit.routes().edge(docker, instance, host);
    match edge::ensure(&edge, &settings).await {
        Ok(()) => {
            if let Err(e) = kit.routes().replace(&edge, routes).await {
                tracing::warn!("could not restore the edge's routes on {host}: {e}");
            }
        }
        Err(e) => tracing::warn!("edge not ready on {host} at start: {e}"),
    }
    // A deploy cut short during its verification left the edge routing to its new containers:
    // the requests they are answering finish before they go (the stage's drain time).
    if containers.iter().any(|c| !owned(c) && c.running) {
        let drain = live.iter().map(|r| r.config.rollout.drain_secs).max().unwrap_or(0).clamp(1, 30);
        tokio::time::sleep(Duration::from_secs(drain as u64)).await;
    }
    for c in containers.iter().filter(|c| !owned(c)) {
        tracing::info!("removing {}: no live release owns it (a deploy that did not finish)", c.name);
        crate::adapters::docker::exec::remove_container(docker, &c.name).await;
    }
}

/// The stop grace (seconds) of `c`'s service if it is a stateful service of a live compose
/// release.
fn stateful(live: &[&crate::domain::release::Release], c: &AppContainer) -> Option<i64> {
    let r = live.iter().find(|r| stage_id(&r.project_id, &r.stage) == c.stage)?;
    let s = r.config.compose.as_ref()?.services.iter().find(|s| s.stateful && Some(&s.name) == c.service.as_ref())?;
    Some(s.runtime.stop_grace_secs.unwrap_or(10))
}

/// Watches the live stateful containers of the `interrupted` stages for their stop grace period
/// and 20 s more (a loaded Docker daemon can act on the dead engine's stop request late): one
/// that stops was being stopped by the deploy the crash cut short, and is started again. This
/// runs before the runner takes any run, so no new deploy's own stop is undone.
async fn watch_stateful(docker: &Docker, instance: &str, live: &[&crate::domain::release::Release], interrupted: &[String]) {
    let containers = app_containers(docker, instance, "").await;
    let watched: Vec<(&AppContainer, i64)> = containers
        .iter()
        .filter(|c| interrupted.contains(&c.stage) && live.iter().any(|r| owns(r, c)))
        .filter_map(|c| stateful(live, c).map(|g| (c, g)))
        .collect();
    let Some(grace) = watched.iter().map(|(_, g)| *g).max() else { return };
    let until = std::time::Instant::now() + Duration::from_secs(grace.clamp(0, 120) as u64 + 20);
    while std::time::Instant::now() < until {
        for (c, _) in &watched {
            let running = docker
                .inspect_container(&c.name, None::<bollard::query_parameters::InspectContainerOptions>)
                .await
                .ok()
                .and_then(|i| i.state.and_then(|s| s.running))
                .unwrap_or(false);
            if !running {
                tracing::info!("starting {} again: the interrupted deploy was stopping it", c.name);
                let _ = docker.start_container(&c.name, None::<bollard::query_parameters::StartContainerOptions>).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
