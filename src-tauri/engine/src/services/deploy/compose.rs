//! Compose stacks without downtime. Services come up in dependency order (waiting for
//! `service_healthy` dependencies); a service with an HTTP port gets blue-green behind the
//! edge (the old container serves until the new one is healthy); other services are replaced
//! in place; services whose image and config did not change are left running as they are.
//! A failure names the service, puts every touched service back, and says which were touched.

use crate::services::deploy::exec::DeployError;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;

use super::job::{Ending, Job};
use super::{edge, exec, health, stack, Steps, Stop};
use crate::domain::compose::{ServiceSpec, StackSpec};
use crate::domain::deploy::{Health, HealthKind};
use crate::domain::project::{stage_id, Project, Stage};
use crate::domain::release::{Release, ReleaseConfig};
use crate::domain::run::RunStatus;
use crate::domain::target::DeployTarget;
use crate::services::INSTANCE_LABEL;
use crate::Result;

pub(super) const SERVICE_LABEL: &str = "dev.slipway.service";

pub(crate) struct StackTarget<'a> {
    pub project: &'a Project,
    pub stage: &'a Stage,
    pub commit: Option<String>,
    /// Image per service.
    pub images: BTreeMap<String, String>,
    /// `compose` is Some.
    pub config: ReleaseConfig,
    pub promoted_from: Option<i64>,
    pub rollback: bool,
}

impl StackTarget<'_> {
    pub(super) fn origin(&self) -> super::Origin<'_> {
        super::Origin {
            project: self.project,
            stage: self.stage,
            commit: self.commit.as_deref(),
            config: &self.config,
            promoted_from: self.promoted_from,
            rollback: self.rollback,
        }
    }
}

/// What a deploy did to one service, so it can be undone.
#[derive(Clone)]
enum Touched {
    /// Blue-green: the route moved from `old` to `new`.
    Switched { service: String, old: Vec<String>, new: Vec<String> },
    /// In place: `old` stopped (kept until the end), `new` started; `routed` names the service
    /// if the edge's route moved to `new` too.
    Replaced { service: String, old: Vec<String>, new: Vec<String>, routed: Option<String> },
}

/// The stack's default network on the host.
pub(crate) fn network(instance: &str, project: &str, stage: &str) -> String {
    format!("slipway-{instance}-{project}-{stage}")
}

pub(super) fn route_key(sid: &str, service: &str) -> String {
    format!("{sid}/{service}")
}

/// The host name of a service: the stack's first HTTP service gets the stage's host, the others
/// `<service>.<stage host>`.
pub(super) fn service_host(stack: &StackSpec, service: &str, stage_host: &str) -> String {
    let primary = stack.services.iter().find(|s| s.port.is_some()).map(|s| s.name.as_str());
    if primary == Some(service) {
        stage_host.to_string()
    } else {
        format!("{service}.{stage_host}")
    }
}

/// The edge's routes for a live compose release (at start, after a crash).
pub(super) fn restore_routes(r: &Release, stack: &StackSpec, stage: &Stage, domain: &str, routes: &mut BTreeMap<String, edge::Route>) {
    let sid = stage_id(&r.project_id, &r.stage);
    let stage_host = super::host_name(&r.project_id, stage, domain);
    for s in stack.services.iter().filter(|s| s.port.is_some()) {
        let Some(names) = r.containers.get(&s.name) else { continue };
        let port = s.port.unwrap_or(80);
        routes.insert(
            route_key(&sid, &s.name),
            edge::Route {
                host: service_host(stack, &s.name, &stage_host),
                upstreams: names.iter().map(|n| (format!("{n}:{port}"), 1)).collect(),
                resolve: None,
            },
        );
    }
}

/// What must match for a service to be left alone: its image and everything it runs with.
fn fingerprint(s: &ServiceSpec, image: &str) -> String {
    serde_json::json!({"image": image, "spec": s}).to_string()
}

/// Updated in place (stop first): it holds a writable volume, or host ports that two
/// containers cannot share, or has nothing the edge routes to.
fn in_place(s: &ServiceSpec) -> bool {
    s.port.is_none() || s.stateful || !s.published.is_empty()
}

/// The service's own healthcheck, unless it turns checks off (`disable: true`).
pub(super) fn own_check(s: &ServiceSpec) -> Option<&crate::domain::compose::Healthcheck> {
    s.healthcheck.as_ref().filter(|h| h.test.first().map(String::as_str) != Some("NONE"))
}

struct Run<'a> {
    steps: Steps<'a>,
    docker: Docker,
    edge: edge::Edge,
    sid: String,
    stage_host: String,
    /// The Docker host's id.
    on: String,
    t: &'a StackTarget<'a>,
    stack: &'a StackSpec,
}

pub(crate) async fn run(ctx: &Job<'_>, t: StackTarget<'_>, position: i64) -> Result<Ending> {
    let kit = ctx.kit;
    let store = kit.store();
    let Some(mut stack) = t.config.compose.clone() else {
        return Ok(Ending { status: RunStatus::Failed, reason: "no compose stack to deploy".into() });
    };
    let steps = Steps::new(ctx, position);
    let prep = steps.step("prepare host").await?;
    // A stack runs on one Docker host: spreading its services over several is a scheduler's
    // job (a Swarm stack), not one Slipway grows.
    let on = match DeployTarget::of(t.project, t.stage) {
        DeployTarget::Host(h) => h,
        DeployTarget::Swarm { manager } => return super::swarm_stack::run(ctx, &t, &stack, &steps, prep, &manager).await,
        DeployTarget::Hosts { ids, .. } => {
            let why = format!(
                "a compose stack deploys to one Docker host, and {} names {} ({}): give the stage one host",
                t.stage.name,
                ids.len(),
                ids.join(", ")
            );
            return Ok(Ending::from(steps.fail(prep, RunStatus::Failed, &why).await));
        }
    };
    let docker = match kit.docker_on(&on).await {
        Ok(d) => d,
        Err(msg) => return Ok(Ending::from(steps.fail(prep, RunStatus::Failed, &msg.to_string()).await)),
    };
    let instance = kit.instance_id().to_string();
    let settings = edge::settings(store).await;
    let net = network(&instance, &t.project.id, &t.stage.name);
    let edge = kit.routes().edge(&docker, &instance, &on);
    if let Err(msg) = stack::prepare(&steps, prep, &mut stack, &edge, &settings, &docker, &net, &t).await {
        return Ok(Ending::from(steps.fail(prep, RunStatus::Failed, &msg.to_string()).await));
    }
    let stage_host = super::host_name(&t.project.id, t.stage, &settings.domain);
    let order = stack.services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" → ");
    let what = format!("compose stack {}/{}: {} service(s) in order {order}", t.project.id, t.stage.name, stack.services.len());
    steps.log(prep, what).await;
    steps.done(prep).await;
    let r = Run { steps, docker, edge, sid: stage_id(&t.project.id, &t.stage.name), stage_host, on, t: &t, stack: &stack };
    let previous = crate::store::releases::live(store, &r.sid).await?.filter(|p| p.config.compose.is_some());

    // The switch window of the stage's host name (its first web service), for the request count.
    let mark = if stack.services.iter().any(|s| s.port.is_some()) { Some(super::requests::mark(&r.edge).await) } else { None };
    let (containers, touched) = match r.update_services(previous.as_ref()).await? {
        Ok(done) => done,
        Err(stop) => return Ok(Ending::from(stop)),
    };
    let stopped = r.verify_all(&touched, &containers).await?;
    if let Some(mark) = mark {
        if let Some(c) = super::requests::close(ctx, &r.edge, &r.stage_host, mark, "").await {
            super::requests::record(ctx, &[c]).await;
        }
    }
    if let Some(stop) = stopped {
        return Ok(Ending::from(stop));
    }

    let primary = stack.services.iter().find(|s| s.port.is_some()).or(stack.services.first()).map(|s| s.name.clone()).unwrap_or_default();
    let image = t.images.get(&primary).map(String::as_str).unwrap_or("");
    let number = super::record_release(ctx, t.origin(), image, &t.images, &containers).await?;
    let names: Vec<&str> = touched
        .iter()
        .map(|x| match x {
            Touched::Switched { service, .. } | Touched::Replaced { service, .. } => service.as_str(),
        })
        .collect();
    // A step of its own, after the store names the new release: a crash here leaves the old
    // containers beside the live ones, and reconcile removes them at the next start.
    let retire = r.steps.step("retire old release").await?;
    for x in &touched {
        match x {
            Touched::Switched { old, .. } | Touched::Replaced { old, .. } => r.remove(old).await,
        }
    }
    r.steps.done(retire).await;
    kit.release_went_live(&t.project.id, &t.stage.name).await;
    let reason = if names.is_empty() {
        format!("release {number} is live: nothing changed")
    } else {
        format!("release {number} is live; updated {}", names.join(", "))
    };
    Ok(Ending { status: RunStatus::Succeeded, reason })
}

/// Services updated so far, and what each deploy touched (for the verification and the undo).
type Updated = (BTreeMap<String, Vec<String>>, Vec<Touched>);

impl Run<'_> {
    /// Updates the services in dependency order, keeping those whose image and config did not
    /// change. A service that fails undoes what was touched before it.
    async fn update_services(&self, previous: Option<&crate::domain::release::Release>) -> Result<std::result::Result<Updated, Stop>> {
        let (r, t) = (self, self.t);
        let mut containers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut touched: Vec<Touched> = Vec::new();
        for s in &self.stack.services {
            let image = t.images.get(&s.name).cloned().unwrap_or_default();
            let old: Vec<String> = previous.and_then(|p| p.containers.get(&s.name).cloned()).unwrap_or_default();
            let unchanged = previous.is_some_and(|p| {
                let before = p.config.compose.as_ref().and_then(|st| st.services.iter().find(|x| x.name == s.name));
                before.is_some_and(|b| fingerprint(b, p.digests.get(&s.name).map(String::as_str).unwrap_or("")) == fingerprint(s, &image))
            });
            if unchanged && !old.is_empty() && r.all_running(&old).await {
                let step = r.steps.step(&format!("{}: unchanged", s.name)).await?;
                r.steps.log(step, format!("{} keeps running {} (same image and config)", s.name, old.join(", "))).await;
                r.steps.done(step).await;
                containers.insert(s.name.clone(), old);
                continue;
            }
            match r.deploy_service(s, &image, &old, &containers).await {
                Ok((new, t)) => {
                    containers.insert(s.name.clone(), new);
                    touched.push(t);
                }
                Err(stop) => return Ok(Err(r.undo(touched, &format!("service {} failed: {}", s.name, stop.reason), stop.status).await)),
            }
        }
        Ok(Ok((containers, touched)))
    }

    /// Watches every new web or health-checked service for the verification window; the first
    /// that fails undoes the whole stack (the stop says how).
    async fn verify_all(&self, touched: &[Touched], containers: &BTreeMap<String, Vec<String>>) -> Result<Option<Stop>> {
        let r = self;
        let window = self.t.config.rollout.verify_secs;
        let verify = r.steps.step(&format!("verify ({window} s)")).await?;
        let routed: Vec<(&ServiceSpec, Vec<String>)> = self
            .stack
            .services
            .iter()
            .filter(|s| s.port.is_some() || own_check(s).is_some())
            .filter_map(|s| touched_new(touched, containers, s).map(|n| (s, n)))
            .collect();
        let mut cancel = r.steps.cancel();
        let end = std::time::Instant::now() + Duration::from_secs(window as u64);
        for (s, names) in &routed {
            let left = end.saturating_duration_since(std::time::Instant::now());
            let Err(e) = health::verify(&r.edge, names, s.port, &r.health_for(s), left, &mut cancel).await else { continue };
            let svc = &s.name;
            let (status, why) = match e {
                health::Unhealthy::Cancelled => (RunStatus::Cancelled, "cancelled during verification".to_string()),
                health::Unhealthy::Exited(c) => (RunStatus::RolledBack, format!("a container of {svc} exited with code {c}")),
                health::Unhealthy::Failing(w) => (RunStatus::RolledBack, w),
                health::Unhealthy::HostGone(w) => {
                    (RunStatus::Failed, self.steps.ctx.kit.host_gone(&self.on, &format!("the verification of {svc}"), &w))
                }
            };
            r.steps.fail(verify, status, &format!("verification failed: {why}")).await;
            return Ok(Some(r.undo(touched.to_vec(), &format!("verification of {svc} failed: {why}"), status).await));
        }
        r.steps.done(verify).await;
        Ok(None)
    }
}

fn touched_new(touched: &[Touched], containers: &BTreeMap<String, Vec<String>>, s: &ServiceSpec) -> Option<Vec<String>> {
    let names = containers.get(&s.name)?;
    touched
        .iter()
        .any(|t| match t {
            Touched::Switched { new, .. } | Touched::Replaced { new, .. } => new == names,
        })
        .then(|| names.clone())
}

impl Run<'_> {
    /// The gate for a service: its compose healthcheck (Docker's), else the project's HTTP
    /// check on its port, else "still running".
    fn health_for(&self, s: &ServiceSpec) -> Health {
        let base = self.t.config.deploy.health.clone();
        if let Some(h) = own_check(s) {
            // Docker says "starting" until its own checks pass or fail `retries` times; wait
            // that long (and some, for slow hosts) before calling it a failure.
            let patience = h.start_period_ms + (h.interval_ms + h.timeout_ms) * (h.retries as u64 + 1) + 30_000;
            return Health {
                kind: HealthKind::Docker,
                interval_ms: h.interval_ms.clamp(100, 5000) as u32,
                start_period_ms: patience.min(600_000) as u32,
                retries: 1,
                ..base
            };
        }
        if s.port.is_some() {
            return base;
        }
        Health { kind: HealthKind::None, retries: 1, start_period_ms: 0, ..base }
    }

    async fn all_running(&self, names: &[String]) -> bool {
        for n in names {
            match self.docker.inspect_container(n, None::<bollard::query_parameters::InspectContainerOptions>).await {
                Ok(c) if c.state.as_ref().and_then(|s| s.running) == Some(true) => {}
                _ => return false,
            }
        }
        true
    }

    async fn deploy_service(
        &self,
        s: &ServiceSpec,
        image: &str,
        old: &[String],
        sofar: &BTreeMap<String, Vec<String>>,
    ) -> std::result::Result<(Vec<String>, Touched), Stop> {
        let stepf = |e: crate::Error| Stop { status: RunStatus::Failed, reason: e.to_string() };
        let step = self.steps.step(&format!("{}: {}", s.name, if in_place(s) { "replace" } else { "blue-green" })).await.map_err(stepf)?;
        if let Err(why) = self.wait_dependencies(step, s, sofar).await {
            return Err(self.steps.fail(step, RunStatus::Failed, &why.to_string()).await);
        }
        let new = self.names(s);
        if in_place(s) && !old.is_empty() {
            if s.stateful {
                self.steps
                    .log(step, format!("{} holds a writable volume: stopping the old container first, so two never run on it", s.name))
                    .await;
            }
            self.stop(old, s).await;
            self.steps.log(step, format!("stopped {}", old.join(", "))).await;
        }
        for name in &new {
            if let Err(why) = self.start(s, image, name).await {
                self.remove(&new).await;
                self.restart(old, s).await;
                return Err(self.steps.fail(step, RunStatus::Failed, &why.to_string()).await);
            }
            self.steps.log(step, format!("started {name} ({})", super::short(image))).await;
        }
        for name in &new {
            if let Err(why) = self.gate(step, s, name).await {
                self.remove(&new).await;
                self.restart(old, s).await;
                return Err(self.steps.fail(step, RunStatus::Failed, &why).await);
            }
        }
        if let Some(port) = s.port {
            let route = edge::Route {
                host: service_host(self.stack, &s.name, &self.stage_host),
                upstreams: new.iter().map(|n| (format!("{n}:{port}"), 1)).collect(),
                resolve: None,
            };
            if let Err(why) = self.steps.ctx.kit.routes().set(&self.edge, &route_key(&self.sid, &s.name), Some(route.clone())).await {
                self.remove(&new).await;
                return Err(self.steps.fail(step, RunStatus::Failed, &why.to_string()).await);
            }
            self.steps.log(step, format!("{} now serves {}", route.host, new.join(", "))).await;
            self.steps.done(step).await;
            let service = s.name.clone();
            if in_place(s) {
                return Ok((new.clone(), Touched::Replaced { service: service.clone(), old: old.to_vec(), new, routed: Some(service) }));
            }
            return Ok((new.clone(), Touched::Switched { service, old: old.to_vec(), new }));
        }
        self.steps.done(step).await;
        Ok((new.clone(), Touched::Replaced { service: s.name.clone(), old: old.to_vec(), new, routed: None }))
    }

    /// The containers of this deploy for `s`: one, or one per replica (`-1`, `-2`, …).
    fn names(&self, s: &ServiceSpec) -> Vec<String> {
        let base =
            format!("slipway-{}-{}-{}-{}-{}", self.edge.instance, self.t.project.id, self.t.stage.name, self.steps.ctx.run_id, s.name);
        match s.runtime.replicas {
            Some(n) if n > 1 => (1..=n).map(|i| format!("{base}-{i}")).collect(),
            _ => vec![base],
        }
    }

    /// Waits for `name` to pass the service's health gate; Err says why it did not.
    async fn gate(&self, step: i64, s: &ServiceSpec, name: &str) -> std::result::Result<(), String> {
        let mut cancel = self.steps.ctx.cancel.clone();
        let mut seen = Vec::new();
        let gate = health::wait_healthy(&self.edge, name, s.port, &self.health_for(s), &mut cancel, |w| seen.push(w.to_string())).await;
        for w in seen {
            self.steps.log(step, format!("{name}: not healthy yet: {w}")).await;
        }
        gate.map_err(|e| match e {
            health::Unhealthy::Cancelled => "cancelled while waiting for health".to_string(),
            health::Unhealthy::Exited(c) => format!("{name} exited with code {c}"),
            health::Unhealthy::Failing(w) => format!("{name} never became healthy: {w}"),
            health::Unhealthy::HostGone(w) => self.steps.ctx.kit.host_gone(&self.on, &format!("the health gate of {name}"), &w),
        })
    }

    async fn wait_dependencies(
        &self,
        step: i64,
        s: &ServiceSpec,
        sofar: &BTreeMap<String, Vec<String>>,
    ) -> std::result::Result<(), DeployError> {
        // Every container of the dependency (one per replica) must meet the condition.
        let pairs: Vec<(&crate::domain::compose::Dependency, &String)> =
            s.depends_on.iter().flat_map(|d| sofar.get(&d.service).into_iter().flatten().map(move |t| (d, t))).collect();
        for (d, target) in pairs {
            let dep = self.stack.services.iter().find(|x| x.name == d.service);
            match d.condition.as_str() {
                "service_healthy" => {
                    self.steps.log(step, format!("waiting for {} to be healthy", d.service)).await;
                    let h = dep.map(|x| self.health_for(x)).unwrap_or_default();
                    let h = Health { kind: HealthKind::Docker, ..h };
                    let mut cancel = self.steps.ctx.cancel.clone();
                    health::wait_healthy(&self.edge, target, None, &h, &mut cancel, |_| {})
                        .await
                        .map_err(|_| format!("dependency {} did not become healthy", d.service))?;
                }
                "service_completed_successfully" => {
                    let end = std::time::Instant::now() + Duration::from_secs(600);
                    loop {
                        let c = exec::bounded(
                            "inspecting a dependency",
                            self.docker.inspect_container(target, None::<bollard::query_parameters::InspectContainerOptions>),
                        )
                        .await?;
                        let st = c.state.unwrap_or_default();
                        if st.running != Some(true) {
                            if st.exit_code == Some(0) {
                                break;
                            }
                            return Err(DeployError::from(format!(
                                "dependency {} exited with code {}",
                                d.service,
                                st.exit_code.unwrap_or(-1)
                            )));
                        }
                        if std::time::Instant::now() > end {
                            return Err(DeployError::from(format!("dependency {} did not complete within 600 s", d.service)));
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn start(&self, s: &ServiceSpec, image: &str, name: &str) -> std::result::Result<(), DeployError> {
        let labels = HashMap::from([
            (INSTANCE_LABEL.to_string(), self.edge.instance.clone()),
            ("dev.slipway.project".to_string(), self.t.project.id.clone()),
            ("dev.slipway.stage".to_string(), self.sid.clone()),
            (edge::ROLE_LABEL.to_string(), "app".to_string()),
            ("dev.slipway.deploy".to_string(), self.steps.ctx.run_id.to_string()),
            (SERVICE_LABEL.to_string(), s.name.clone()),
            ("com.docker.compose.project".to_string(), format!("{}-{}", self.t.project.id, self.t.stage.name)),
            ("com.docker.compose.service".to_string(), s.name.clone()),
        ]);
        let secrets = self.secrets_of(s).await?;
        let env = stack::environment(s, &secrets)?;
        let body = stack::create_body(self.stack, s, image, env, labels);
        crate::adapters::docker::exec::remove_container(&self.docker, name).await;
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        exec::bounded(&format!("creating {name}"), self.docker.create_container(Some(options), body)).await?;
        stack::connect_rest(&self.docker, self.stack, s, name).await?;
        stack::upload_files(&self.docker, s, name, &secrets, &self.t.config.deploy.env).await?;
        exec::bounded(
            &format!("starting {name}"),
            self.docker.start_container(name, None::<bollard::query_parameters::StartContainerOptions>),
        )
        .await
    }

    async fn secrets_of(&self, s: &ServiceSpec) -> std::result::Result<BTreeMap<String, String>, DeployError> {
        stack::secret_values(self.t.project, s).await
    }

    /// Stops `names`, giving them the service's `stop_grace_period` (10 s by default).
    async fn stop(&self, names: &[String], s: &ServiceSpec) {
        super::stop_all(&self.docker, names, s.runtime.stop_grace_secs.unwrap_or(10).clamp(0, i32::MAX as i64) as i32).await
    }

    /// Starts a replaced service's old containers again (no-op for blue-green, whose old
    /// containers never stopped).
    async fn restart(&self, old: &[String], s: &ServiceSpec) {
        if !in_place(s) {
            return;
        }
        // Each one, whatever became of the others: this runs on the way out of a failure.
        for n in old {
            let _ = self.docker.start_container(n, None::<bollard::query_parameters::StartContainerOptions>).await;
        }
    }

    /// Points the edge's route for `service` back at `old` (or removes it if there was none).
    async fn route_back(&self, service: &str, old: &[String]) -> std::result::Result<(), DeployError> {
        let route = (!old.is_empty()).then(|| {
            let port = self.stack.services.iter().find(|s| s.name == service).and_then(|s| s.port).unwrap_or(80);
            edge::Route {
                host: service_host(self.stack, service, &self.stage_host),
                upstreams: old.iter().map(|n| (format!("{n}:{port}"), 1)).collect(),
                resolve: None,
            }
        });
        self.steps.ctx.kit.routes().set(&self.edge, &route_key(&self.sid, service), route).await
    }

    async fn remove(&self, names: &[String]) {
        super::remove_all(&self.docker, names).await
    }

    /// Undoes `touched` in reverse order and says what was touched.
    async fn undo(&self, touched: Vec<Touched>, why: &str, status: RunStatus) -> Stop {
        let step = self.steps.step("roll the stack back").await;
        let mut names = Vec::new();
        let mut problems = Vec::new();
        for t in touched.into_iter().rev() {
            match t {
                Touched::Switched { service, old, new } => {
                    if let Err(e) = self.route_back(&service, &old).await {
                        problems.push(format!("{service}: {e}"));
                    }
                    self.remove(&new).await;
                    names.push(service);
                }
                Touched::Replaced { service, old, new, routed } => {
                    self.remove(&new).await;
                    for n in &old {
                        if let Err(e) = exec::bounded(
                            &format!("starting {n} again"),
                            self.docker.start_container(n, None::<bollard::query_parameters::StartContainerOptions>),
                        )
                        .await
                        {
                            problems.push(e.to_string());
                        }
                    }
                    if let Some(routed) = routed {
                        if let Err(e) = self.route_back(&routed, &old).await {
                            problems.push(format!("{routed}: {e}"));
                        }
                    }
                    names.push(service);
                }
            }
        }
        names.reverse();
        let touched_words =
            if names.is_empty() { "no service had been changed".to_string() } else { format!("rolled back {}", names.join(", ")) };
        let status = if !problems.is_empty() {
            RunStatus::Failed
        } else if status == RunStatus::RolledBack || status == RunStatus::Cancelled {
            status
        } else {
            RunStatus::Failed
        };
        let mut reason = format!("{why}; {touched_words}");
        if !problems.is_empty() {
            reason.push_str(&format!("; undoing failed for: {}", problems.join("; ")));
        }
        match step {
            Ok(s) if problems.is_empty() => {
                self.steps.log(s, reason.clone()).await;
                self.steps.done(s).await;
                Stop { status, reason }
            }
            Ok(s) => self.steps.fail(s, status, &reason).await,
            Err(_) => Stop { status, reason },
        }
    }
}
