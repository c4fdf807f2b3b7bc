//! Deploys: a run that produced (or names) an image puts it live on the stage's Docker host
//! with the stage's strategy, behind a health gate, and records a release. A failed gate or
//! verification puts the previous release back without a failed request.
//!
//! What is live is decided by the store: a release row is written only once the new containers
//! took over and passed verification. After a crash, [`reconcile`] makes the host match the
//! store again (containers of unconfirmed deploys removed, the live release's routes restored).
//!
//! Must not depend on other services but hosts, notify and bus: runs depend on deploys, never
//! the other way round (the run's context, [`job`], lives here for that reason).

pub(crate) mod compose;
pub mod edge;
pub mod exec;
mod health;
pub mod job;
pub mod promotions;
mod reconcile;
mod requests;
pub mod shell;
mod stack;
mod strategy;
mod swarm;
mod swarm_spec;
mod swarm_stack;
mod target;
pub(crate) mod teardown;
pub mod watch;

use crate::services::deploy::exec::DeployError;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveImageOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;

use crate::domain::release::ReleaseConfig;
pub use edge::{Edge, EdgeSettings, Routes};
use reconcile::{app_containers, owns};
pub use reconcile::{reconcile, reconcile_host_again};

use crate::domain::project::{stage_id, Project, Stage};
use crate::domain::run::{RunStatus, StepStatus};
use crate::services::INSTANCE_LABEL;
use crate::Result;
use job::Ending;
pub use job::{Job, Kit};

const STAGE_LABEL: &str = "dev.slipway.stage";
const DEPLOY_LABEL: &str = "dev.slipway.deploy";

/// What a deploy puts live.
pub struct Target<'a> {
    pub project: &'a Project,
    pub stage: &'a Stage,
    pub image: String,
    pub commit: Option<String>,
    pub config: ReleaseConfig,
    pub promoted_from: Option<i64>,
    /// Rollbacks mark the release they replace `rolled_back`.
    pub rollback: bool,
    /// The run has checks after the deploy: promotions wait for them (the run starts them).
    pub hold_promotions: bool,
}

/// Where a release comes from, as its row records it: what both kinds of target (one image,
/// a compose stack) know about the deploy.
pub(crate) struct Origin<'a> {
    pub project: &'a Project,
    pub stage: &'a Stage,
    pub commit: Option<&'a str>,
    pub config: &'a ReleaseConfig,
    pub promoted_from: Option<i64>,
    pub rollback: bool,
}

impl Target<'_> {
    fn origin(&self) -> Origin<'_> {
        Origin {
            project: self.project,
            stage: self.stage,
            commit: self.commit.as_deref(),
            config: &self.config,
            promoted_from: self.promoted_from,
            rollback: self.rollback,
        }
    }
}

/// The store names the release a deploy put live (`image`, per-service `digests` and
/// `containers`) and retires or rolls back the one it replaces; returns its number. The one
/// place a deploy writes a release: only after every host (or Swarm) runs it.
pub(crate) async fn record_release(
    ctx: &Job<'_>,
    o: Origin<'_>,
    image: &str,
    digests: &BTreeMap<String, String>,
    containers: &BTreeMap<String, Vec<String>>,
) -> Result<i64> {
    let store = ctx.kit.store();
    let sid = stage_id(&o.project.id, &o.stage.name);
    let number = crate::store::releases::next_number(store, &sid).await?;
    let replaces_as =
        if o.rollback { crate::domain::release::ReleaseStatus::RolledBack } else { crate::domain::release::ReleaseStatus::Retired };
    let new = crate::store::releases::NewRelease {
        stage_id: &sid,
        number,
        run_id: ctx.run_id,
        commit_sha: o.commit,
        image,
        digests,
        containers,
        hosts: &o.stage.hosts,
        config: o.config,
        promoted_from: o.promoted_from,
        replaces_as,
    };
    crate::store::releases::confirm(store, new).await?;
    Ok(number)
}

/// The host name of a stage: `stage-{stage}-{project}.{domain}` unless the stage overrides it.
pub fn host_name(project: &str, stage: &Stage, domain: &str) -> String {
    match &stage.rollout.subdomain {
        Some(s) => format!("{s}.{domain}"),
        None => format!("stage-{}-{project}.{domain}", stage.name),
    }
}

/// One deploy in progress: the handles every strategy needs.
pub(crate) struct Deploy<'a> {
    ctx: &'a Job<'a>,
    docker: Docker,
    edge: edge::Edge,
    sid: String,
    /// The stage's host name, which the edge routes.
    host: String,
    /// The Docker host's id.
    on: String,
    target: &'a Target<'a>,
    /// The image as this Docker host knows it: the target's, or its id once it was sent here.
    image: String,
    /// Post-deploy commands (migrations, typically) run once per release: on the first host.
    post_deploy_here: bool,
    env: Vec<String>,
    steps: Steps<'a>,
}

/// Why a deploy ended early, with what to report.
pub(crate) struct Stop {
    status: RunStatus,
    reason: String,
}

impl Stop {
    fn failed(reason: impl Into<String>) -> Stop {
        Stop { status: RunStatus::Failed, reason: reason.into() }
    }
}

impl From<Stop> for Ending {
    fn from(stop: Stop) -> Ending {
        Ending { status: stop.status, reason: stop.reason }
    }
}

/// Deploys `target` as the next release of its stage, on every host of its deploy target.
/// `position` is the first free step slot.
pub(crate) async fn run(ctx: &Job<'_>, target: Target<'_>, position: i64) -> Result<Ending> {
    target::run(ctx, &target, position).await
}

/// The new containers' environment: the stage's variables and the secrets it names, from the
/// keychain. A secret that is not set fails the deploy before anything starts.
async fn container_env(target: &Target<'_>) -> Result<std::result::Result<Vec<String>, DeployError>> {
    let mut env: Vec<String> = target.config.deploy.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for name in &target.config.deploy.secrets {
        match crate::adapters::keychain::get(&crate::services::secret_key(&target.project.id, name)).await? {
            Some(v) => env.push(format!("{name}={v}")),
            None => return Ok(Err(DeployError::from(format!("secret {name} is not set for project {}", target.project.id)))),
        }
    }
    Ok(Ok(env))
}

fn strategy_words(s: crate::domain::project::Strategy) -> &'static str {
    match s {
        crate::domain::project::Strategy::Recreate => "recreate (stop, then start: has downtime)",
        crate::domain::project::Strategy::BlueGreen => "blue-green",
        crate::domain::project::Strategy::Rolling => "rolling",
        crate::domain::project::Strategy::Canary => "canary",
    }
}

pub fn short(image: &str) -> &str {
    match image.strip_prefix("sha256:") {
        Some(rest) => &rest[..rest.len().min(12)],
        None => image,
    }
}

/// A run's steps as a deploy adds them, one after another.
pub(crate) struct Steps<'a> {
    pub ctx: &'a Job<'a>,
    position: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// In front of every step's name: the Docker host's, on a stage with several.
    prefix: String,
}

impl<'a> Steps<'a> {
    pub fn new(ctx: &'a Job<'a>, first_position: i64) -> Self {
        Steps { ctx, position: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(first_position)), prefix: String::new() }
    }

    /// The same run's steps, numbered on from these, each named with `prefix` in front.
    pub fn prefixed(&self, prefix: String) -> Steps<'a> {
        Steps { ctx: self.ctx, position: self.position.clone(), prefix }
    }

    pub async fn step(&self, name: &str) -> Result<i64> {
        let pos = self.position.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = &format!("{}{name}", self.prefix);
        let store = self.ctx.kit.store();
        let id = crate::store::steps::add(store, self.ctx.run_id, pos, name, "deploy").await?;
        job::start_step(store, id, name).await?;
        Ok(id)
    }

    pub async fn done(&self, step: i64) {
        let _ = crate::store::steps::end(self.ctx.kit.store(), step, StepStatus::Succeeded, None, None).await;
    }

    pub async fn fail(&self, step: i64, status: RunStatus, why: &str) -> Stop {
        let step_status = if status == RunStatus::Cancelled { StepStatus::Cancelled } else { StepStatus::Failed };
        let _ = crate::store::steps::end(self.ctx.kit.store(), step, step_status, None, Some(why)).await;
        self.ctx.log(Some(step), why.to_string()).await;
        Stop { status, reason: why.to_string() }
    }

    pub async fn log(&self, step: i64, text: impl Into<String>) {
        self.ctx.log(Some(step), text).await;
    }

    /// The run's cancel switch, for waits that must end when the operator cancels.
    pub fn cancel(&self) -> tokio::sync::watch::Receiver<bool> {
        self.ctx.cancel.clone()
    }
}

impl Deploy<'_> {
    async fn step(&self, name: &str) -> Result<i64> {
        self.steps.step(name).await
    }

    async fn done(&self, step: i64) {
        self.steps.done(step).await
    }

    async fn fail(&self, step: i64, status: RunStatus, why: &str) -> Stop {
        self.steps.fail(step, status, why).await
    }

    async fn log(&self, step: i64, text: impl Into<String>) {
        self.steps.log(step, text).await
    }

    fn name(&self, i: usize) -> String {
        format!("slipway-{}-{}-{}-{}-{}", self.edge.instance, self.target.project.id, self.target.stage.name, self.ctx.run_id, i)
    }

    fn names(&self, range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| self.name(i)).collect()
    }

    fn replicas(&self) -> usize {
        self.target.config.deploy.replicas.max(1) as usize
    }

    fn port(&self) -> Option<u16> {
        self.target.config.deploy.port
    }

    /// Running containers of the stage's live release.
    async fn live_containers(&self) -> Result<Vec<String>> {
        let Some(live) = crate::store::releases::live(self.ctx.kit.store(), &self.sid).await? else { return Ok(vec![]) };
        Ok(app_containers(&self.docker, &self.edge.instance, &self.sid)
            .await
            .into_iter()
            .filter(|c| c.running && owns(&live, c))
            .map(|c| c.name)
            .collect())
    }

    /// Creates and starts `names`, all at once: a batch is up when its slowest container is.
    async fn start(&self, names: &[String]) -> std::result::Result<(), DeployError> {
        futures::future::try_join_all(names.iter().map(|name| async move {
            self.create(name).await?;
            exec::bounded(
                &format!("starting {name}"),
                self.docker.start_container(name, None::<bollard::query_parameters::StartContainerOptions>),
            )
            .await
        }))
        .await
        .map(|_| ())
    }

    async fn create(&self, name: &str) -> std::result::Result<(), DeployError> {
        let t = self.target;
        let labels = HashMap::from([
            (INSTANCE_LABEL.to_string(), self.edge.instance.clone()),
            ("dev.slipway.project".to_string(), t.project.id.clone()),
            (STAGE_LABEL.to_string(), self.sid.clone()),
            (edge::ROLE_LABEL.to_string(), "app".to_string()),
            (DEPLOY_LABEL.to_string(), self.ctx.run_id.to_string()),
            ("dev.slipway.commit".to_string(), t.commit.clone().unwrap_or_default()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: t.config.deploy.command.clone(),
            env: Some(self.env.clone()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(edge::network_name(&self.edge.instance)),
                restart_policy: Some(RestartPolicy { name: Some(RestartPolicyNameEnum::UNLESS_STOPPED), maximum_retry_count: None }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let what = format!("creating {name}");
        match tokio::time::timeout(exec::CALL_TIMEOUT, self.docker.create_container(Some(options.clone()), body.clone())).await {
            Ok(Ok(_)) => return Ok(()),
            // A name of this run is taken only by what an earlier attempt of it left.
            Ok(Err(e)) if crate::adapters::docker::exec::status(&e) == Some(409) => {
                crate::adapters::docker::exec::remove_container(&self.docker, name).await
            }
            Ok(Err(e)) => return Err(DeployError::from(format!("{what}: {}", crate::adapters::docker::exec::describe(&e)))),
            Err(_) => return Err(DeployError::from(exec::no_answer(&what))),
        }
        exec::bounded(&what, self.docker.create_container(Some(options), body)).await.map(|_| ())
    }

    /// Waits until each of `names` is healthy (all probed at once). On failure the message
    /// carries the container's last log lines.
    async fn gate(&self, step: i64, names: &[String]) -> std::result::Result<(), (RunStatus, String)> {
        futures::future::try_join_all(names.iter().map(|name| self.gate_one(step, name))).await.map(|_| ())
    }

    async fn gate_one(&self, step: i64, name: &str) -> std::result::Result<(), (RunStatus, String)> {
        let h = &self.target.config.deploy.health;
        let mut cancel = self.ctx.cancel.clone();
        let mut seen = Vec::new();
        let r = health::wait_healthy(&self.edge, name, self.port(), h, &mut cancel, |why| seen.push(why.to_string())).await;
        for why in seen {
            self.log(step, format!("{name}: not healthy yet: {why}")).await;
        }
        match r {
            Ok(()) => {
                self.log(step, format!("{name} is healthy")).await;
                Ok(())
            }
            Err(health::Unhealthy::Cancelled) => Err((RunStatus::Cancelled, "cancelled while waiting for health".into())),
            Err(health::Unhealthy::Exited(code)) => {
                Err((RunStatus::Failed, format!("{name} exited with code {code} before becoming healthy{}", self.tail(name).await)))
            }
            Err(health::Unhealthy::Failing(why)) => {
                Err((RunStatus::Failed, format!("{name} never became healthy: {why}{}", self.tail(name).await)))
            }
            Err(health::Unhealthy::HostGone(why)) => Err((RunStatus::Failed, self.host_gone(&format!("the health gate of {name}"), &why))),
        }
    }

    fn host_gone(&self, during: &str, why: &str) -> String {
        self.ctx.kit.host_gone(&self.on, during, why)
    }

    /// Probes `names` for `window`; Err says why (or that it was cancelled).
    async fn verify(&self, names: &[String], window: Duration) -> std::result::Result<(), (RunStatus, String)> {
        let mut cancel = self.ctx.cancel.clone();
        match health::verify(&self.edge, names, self.port(), &self.target.config.deploy.health, window, &mut cancel).await {
            Ok(()) => Ok(()),
            Err(health::Unhealthy::Cancelled) => Err((RunStatus::Cancelled, "cancelled during verification".into())),
            Err(health::Unhealthy::Exited(code)) => {
                Err((RunStatus::Failed, format!("a container of the new release exited with code {code}")))
            }
            Err(health::Unhealthy::Failing(why)) => Err((RunStatus::Failed, why)),
            Err(health::Unhealthy::HostGone(why)) => Err((RunStatus::Failed, self.host_gone("the verification", &why))),
        }
    }

    /// Points the stage's host name at `upstreams` (name, weight). Nothing to do without a port.
    async fn route(&self, upstreams: &[(String, u32)]) -> std::result::Result<(), DeployError> {
        let Some(port) = self.port() else { return Ok(()) };
        let route = if upstreams.is_empty() {
            None
        } else {
            Some(edge::Route {
                host: self.host.clone(),
                upstreams: upstreams.iter().map(|(n, w)| (format!("{n}:{port}"), *w)).collect(),
                resolve: None,
            })
        };
        self.ctx.kit.routes().set(&self.edge, &self.sid, route).await
    }

    async fn route_all(&self, names: &[String]) -> std::result::Result<(), DeployError> {
        self.route(&names.iter().map(|n| (n.clone(), 1)).collect::<Vec<_>>()).await
    }

    /// Lets in-flight requests on containers just taken out of the route finish.
    async fn drain(&self, step: i64) {
        let secs = self.target.config.rollout.drain_secs;
        if secs > 0 {
            self.log(step, format!("draining the old containers for {secs} s")).await;
            let mut cancel = self.ctx.cancel.clone();
            health::sleep_or_cancel(Duration::from_secs(secs as u64), &mut cancel).await;
        }
    }

    async fn post_deploy(&self, container: &str) -> std::result::Result<(), DeployError> {
        if !self.post_deploy_here {
            return Ok(());
        }
        for cmd in &self.target.config.deploy.post_deploy {
            let step = self.step(&format!("post-deploy: {cmd}")).await.map_err(|e| e.to_string())?;
            let out = exec::run(&self.docker, container, &["sh", "-c", cmd], Duration::from_secs(600)).await;
            match out {
                Ok(o) => {
                    for line in o.text.lines() {
                        self.ctx.kit.logs().push(self.ctx.run_id, Some(step), "stdout", line.to_string()).await;
                    }
                    if o.code != 0 {
                        let why = format!("post-deploy command `{cmd}` exited with code {}", o.code);
                        self.fail(step, RunStatus::Failed, &why).await;
                        return Err(DeployError::from(why));
                    }
                    self.done(step).await;
                }
                Err(e) => {
                    self.fail(step, RunStatus::Failed, &e.to_string()).await;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn stop(&self, names: &[String]) {
        stop_all(&self.docker, names, 10).await
    }

    async fn restart(&self, names: &[String]) -> std::result::Result<(), DeployError> {
        start_all(&self.docker, names).await
    }

    async fn remove(&self, names: &[String]) {
        remove_all(&self.docker, names).await
    }

    /// ", last lines: …" from a container's log, for failure messages.
    async fn tail(&self, name: &str) -> String {
        let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).tail("5").build();
        let mut logs = self.docker.logs(name, Some(opts));
        let mut lines = Vec::new();
        let read = async {
            while let Some(Ok(chunk)) = logs.next().await {
                for l in String::from_utf8_lossy(&chunk.into_bytes()).lines() {
                    if !l.trim().is_empty() {
                        lines.push(l.trim().to_string());
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last lines: {}", lines.join(" ⏎ "))
        }
    }

    /// Removes `images` (of releases past the stage's retention) from this host.
    async fn remove_images(&self, images: &[String]) {
        let keep = self.target.config.rollout.keep_releases.max(1);
        for image in images {
            // Neither forced nor pruning parents: the same image (by id) may be another
            // stage's release, and its untagged parent layers are the cache a build may be
            // running on right now (removing them failed such a build: "failed to get
            // digest … no such file or directory"). Docker refuses while the image is
            // used; it then stays (logged), and its layers stay as build cache.
            let opts = RemoveImageOptionsBuilder::default().force(false).noprune(true).build();
            match self.docker.remove_image(image, Some(opts), None).await {
                Ok(_) => {
                    self.ctx
                        .log(None, format!("{}pruned image {} (older than the last {keep} releases)", self.steps.prefix, short(image)))
                        .await
                }
                Err(e) => tracing::info!("image {image} kept for now on {}: {}", self.on, crate::adapters::docker::exec::describe(&e)),
            }
        }
    }
}

/// Stops `names`, giving each `grace` seconds before Docker kills it; a failure is only logged,
/// as the caller moves on anyway. The wait for Docker's answer covers the grace too.
pub(crate) async fn stop_all(docker: &Docker, names: &[String], grace: i32) {
    let wait = exec::CALL_TIMEOUT.max(Duration::from_secs(grace.max(0) as u64 + 30));
    for n in names {
        let opts = bollard::query_parameters::StopContainerOptionsBuilder::default().t(grace).build();
        match tokio::time::timeout(wait, docker.stop_container(n, Some(opts))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("{}", DeployError::docker(format!("stopping {n}"), e)),
            Err(_) => tracing::warn!("stopping {n}: the Docker host did not answer within {} s", wait.as_secs()),
        }
    }
}

/// Starts stopped containers again; the first failure is the answer.
pub(crate) async fn start_all(docker: &Docker, names: &[String]) -> std::result::Result<(), DeployError> {
    for n in names {
        exec::bounded(&format!("starting {n} again"), docker.start_container(n, None::<bollard::query_parameters::StartContainerOptions>))
            .await?;
    }
    Ok(())
}

pub(crate) async fn remove_all(docker: &Docker, names: &[String]) {
    for n in names {
        crate::adapters::docker::exec::remove_container(docker, n).await;
    }
}
