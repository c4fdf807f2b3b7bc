//! Runs: takes queued runs one per stage, fetches the exact commit, runs the pipeline's steps
//! in containers on the Docker host, builds the image, and records every step and log line.
//! A run always ends in a final state: succeeded, failed, cancelled, or (after a crash)
//! interrupted; never "running" forever.
//!
//! Must not depend on other services but deploy, commit_status and bus.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::adapters::docker::exec::{self, BuildSpec, ExecError, Line, StepSpec, Stream};
use crate::adapters::forge::status::RunState;
use crate::domain::events::EngineEvent;
use crate::domain::pipeline::{self, Pipeline};
use crate::domain::project::{Project, Stage};
use crate::domain::release::{Release, ReleaseStatus};
use crate::domain::run::{RunStatus, StepStatus, Trigger};
use crate::services::bus::{Events, Flag, Shutdown, Wake};
use crate::services::commit_status::Reporter;
use crate::services::deploy::job::{fail_step, Ending, Job, Kit};
use crate::services::{secret_key, INSTANCE_LABEL, RUN_LABEL};
use crate::store::{runs, steps};
use crate::{adapters::git, adapters::keychain, Result};

mod after_deploy;
mod execute;
mod plugins;
mod recovery;

use execute::run_pipeline;

/// Runs executing at once across all projects (one per stage at most).
const PARALLEL_RUNS: usize = 2;

/// The runner, a cheap handle: the [`Kit`] every run works with, the events (run changes), the
/// commit status reporter, the runs' cancel switches, the wake-up, the hold switch and the
/// shutdown.
#[derive(Clone)]
pub struct Runner {
    pub kit: Kit,
    pub events: Events,
    pub reporter: Reporter,
    pub wake: Wake,
    pub held: Flag,
    pub shutdown: Shutdown,
    /// Cancel switches of the runs executing now.
    cancels: Arc<Mutex<HashMap<i64, watch::Sender<bool>>>>,
    /// Hosts that answer again after an outage, to put back in order.
    returned: recovery::Returned,
}

impl Runner {
    pub fn new(kit: Kit, events: Events, reporter: Reporter, wake: Wake, held: Flag, shutdown: Shutdown) -> Runner {
        Runner { kit, events, reporter, wake, held, shutdown, cancels: Default::default(), returned: Default::default() }
    }

    /// Stops run `id`'s current step (its container is killed); false when it is not running.
    pub fn cancel(&self, id: i64) -> bool {
        match self.cancels.lock().unwrap().get(&id) {
            Some(switch) => {
                switch.send_replace(true);
                true
            }
            None => false,
        }
    }

    /// Marks what a crash left "running" as interrupted; returns the stages those runs were
    /// deploying to. The engine calls it before its API answers, so nobody reads such a run as
    /// running.
    pub async fn interrupt_left_running(&self) -> Result<Vec<String>> {
        let kit = &self.kit;
        let store = kit.store();
        let reason = "interrupted: the engine stopped while this run was running (crash, kill or power loss)";
        let ids = runs::interrupt_running(store, reason).await?;
        let mut stages = Vec::new();
        for id in &ids {
            kit.logs().push(*id, None, "system", reason.to_string()).await;
            tracing::warn!(run = id, "{reason}");
            // The window and the notifications hear of it like of any other ending.
            self.events.emit(EngineEvent::RunChanged { run_id: *id });
            if let Ok(d) = runs::run_detail(store, *id).await {
                stages.push(crate::domain::project::stage_id(&d.run.project_id, &d.run.stage));
            }
        }
        Ok(stages)
    }

    /// Removes what interrupted runs left on the Docker host (step containers, workspaces) and
    /// makes every host match the store again (`interrupted`: the stages whose deploy was cut).
    async fn recover_hosts(&self, interrupted: &[String]) {
        let kit = &self.kit;
        if let Ok(docker) = crate::adapters::docker::connect_negotiated(&kit.config().docker_host).await {
            remove_leftovers(&docker, kit.instance_id()).await;
        }
        if let Err(e) = crate::services::deploy::reconcile(kit, interrupted).await {
            tracing::warn!("could not reconcile deployed containers: {e}");
        }
    }

    /// Until the engine stops: puts the hosts right after a crash (`interrupted`, from
    /// [`Runner::interrupt_left_running`]), then claims queued runs and executes them.
    pub async fn run(self, interrupted: Vec<String>) {
        self.watch_hosts();
        self.recover_hosts(&interrupted).await;
        let slots = Arc::new(Semaphore::new(PARALLEL_RUNS));
        loop {
            // Every slot free: no run is executing (a claimed run holds its slot from the claim).
            if slots.available_permits() == PARALLEL_RUNS {
                self.recover_returned_hosts().await;
            }
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let claimed = if self.held.get() { Ok(None) } else { runs::claim_next(self.kit.store()).await };
            match claimed {
                Ok(Some(run_id)) => {
                    let runner = self.clone();
                    tokio::spawn(async move {
                        runner.execute(run_id).await;
                        drop(permit);
                        runner.wake.wake();
                    });
                    continue;
                }
                Ok(None) => drop(permit),
                Err(e) => {
                    drop(permit);
                    tracing::error!("cannot claim a run: {e}");
                }
            }
            if self.wake.wait(Duration::from_secs(2), &self.shutdown).await {
                return;
            }
        }
    }

    async fn execute(&self, run_id: i64) {
        // Space came back since a disk-full ending? The reserve goes back first; still full,
        // the run fails at once rather than deploy with a log nobody can keep.
        if self.kit.store().disk_full() && !self.kit.store().keep_reserve() {
            let store = self.kit.store();
            store.release_reserve();
            let _ = runs::finish(store, run_id, RunStatus::Failed, &store.disk_full_error().to_string()).await;
            self.events.emit(EngineEvent::RunChanged { run_id });
            return;
        }
        let (cancel_tx, cancel_rx) = watch::channel(false);
        self.cancels.lock().unwrap().insert(run_id, cancel_tx);
        self.events.emit(EngineEvent::RunChanged { run_id });
        let ctx = Job { kit: &self.kit, run_id, cancel: cancel_rx };
        self.reporter.report(run_id, RunState::Running, "building").await;
        let store = self.kit.store();
        let ending = match steps(&ctx).await {
            _ if store.disk_full() => Ending { status: RunStatus::Failed, reason: store.disk_full_error().to_string() },
            Ok(e) => e,
            Err(e) if crate::store::is_disk_full(&e) => {
                store.disk_is_full();
                Ending { status: RunStatus::Failed, reason: store.disk_full_error().to_string() }
            }
            Err(e) => Ending { status: RunStatus::Failed, reason: e.to_string() },
        };
        // Best effort: a store that fails here is reported by the recovery at the next start.
        let _ = steps::skip_pending(store, run_id).await;
        // Every line is stored before the run reads as ended: whoever sees the end (a log reader, a
        // follower that stops at the end) sees the whole log.
        ctx.log(None, format!("run {}: {}", ending.status, ending.reason)).await;
        self.kit.logs().flush().await;
        if store.disk_full() {
            // The reserve makes room for this one write.
            store.release_reserve();
        }
        if let Err(e) = runs::finish(store, run_id, ending.status, &ending.reason).await {
            let retried = match crate::store::is_disk_full(&e) {
                true => {
                    store.disk_is_full();
                    store.release_reserve();
                    runs::finish(store, run_id, ending.status, &ending.reason).await
                }
                false => Err(e),
            };
            if let Err(e) = retried {
                tracing::error!(run = run_id, "cannot record the end of the run: {e}");
            }
        }
        self.cancels.lock().unwrap().remove(&run_id);
        self.events.emit(EngineEvent::RunChanged { run_id });
        let state = match ending.status {
            RunStatus::Succeeded => RunState::Succeeded,
            RunStatus::Cancelled => RunState::Cancelled,
            _ => RunState::Failed,
        };
        self.reporter.report(run_id, state, &ending.reason).await;
    }
}

async fn remove_leftovers(docker: &Docker, instance: &str) {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder};
    // Step containers and workspaces only (they carry the run label); deployed containers and
    // the edge are the deploy engine's to reconcile.
    let mine = format!("{INSTANCE_LABEL}={instance}");
    let filters = HashMap::from([("label", vec![mine.as_str(), RUN_LABEL])]);
    let containers =
        docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build())).await.unwrap_or_default();
    for c in containers {
        if let Some(id) = c.id {
            let _ = docker.remove_container(&id, Some(RemoveContainerOptionsBuilder::new().force(true).v(true).build())).await;
        }
    }
    if let Ok(v) = docker.list_volumes(Some(ListVolumesOptionsBuilder::new().filters(&filters).build())).await {
        for vol in v.volumes.unwrap_or_default() {
            let _ = docker.remove_volume(&vol.name, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
        }
    }
    // After-deploy checks' networks (the release they checked is still on one).
    let options = bollard::query_parameters::ListNetworksOptionsBuilder::new().filters(&filters).build();
    for n in docker.list_networks(Some(options)).await.unwrap_or_default().iter().filter_map(|n| n.name.as_deref()) {
        exec::remove_network(docker, n).await;
    }
}

use crate::services::deploy::job::start_step;
use crate::store::steps::{add as add_step, end as end_step};

async fn steps(ctx: &Job<'_>) -> Result<Ending> {
    let kit = ctx.kit;
    let store = kit.store();
    let runs::Work { project_id, stage, commit, digest, git_ref, trigger, release_id } = runs::work(store, ctx.run_id).await?;
    let project = kit.project(&project_id).await?;
    // Admitted when it was queued; asked again now that it is due (the rules, a predecessor's
    // release or its health may have changed while it waited). Rollbacks put back what the
    // stage ran before and are not asked.
    if trigger != Trigger::Rollback {
        let what = commit.as_deref().or(digest.as_deref()).unwrap_or_default();
        if let Some(why) = refused_now(store, &project, &stage, git_ref.as_deref(), what).await? {
            ctx.log(None, &why).await;
            return Ok(Ending { status: RunStatus::Failed, reason: why });
        }
    }
    if let Some(release) = release_id {
        return redeploy(ctx, &project, &stage, release, trigger).await;
    }
    let Some(commit) = commit else {
        return match digest {
            Some(digest) => pull_image(ctx, &project, &digest).await,
            None => Ok(Ending { status: RunStatus::Failed, reason: "the run names no commit and no image".into() }),
        };
    };
    ctx.log(
        None,
        format!(
            "run {} of {} → {stage} at {commit} ({trigger}{})",
            ctx.run_id,
            project.id,
            git_ref.as_deref().map(|r| format!(", {r}")).unwrap_or_default()
        ),
    )
    .await;

    let work = kit.config().data_dir.join("work").join(format!("run-{}", ctx.run_id));
    let pipeline = match fetch_source(ctx, &project, &commit, git_ref.as_deref(), &work).await? {
        Ok(p) => p,
        Err(ending) => return Ok(ending),
    };
    let result = run_pipeline(ctx, &project, &stage, &commit, git_ref.as_deref(), &work, &pipeline).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Why the environment rules refuse the run's commit on its stage now, if they do.
async fn refused_now(
    store: &crate::store::Store,
    project: &Project,
    stage: &str,
    git_ref: Option<&str>,
    commit: &str,
) -> Result<Option<String>> {
    let Some(s) = project.stages.iter().find(|s| s.name == stage) else { return Ok(None) };
    let carrier = crate::domain::environments::Carrier::from_ref(git_ref);
    Ok(crate::services::environments::check(store, project, s, &carrier, commit)
        .await?
        .err()
        .map(|r| format!("refused when it was due to start: {}", r.reason)))
}

/// Step 1: the exact commit checked out into `work`, and the pipeline it declares (or the
/// ending of a run whose source could not be fetched or whose pipeline is invalid).
async fn fetch_source(
    ctx: &Job<'_>,
    project: &Project,
    commit: &str,
    git_ref: Option<&str>,
    work: &std::path::Path,
) -> Result<std::result::Result<Pipeline, Ending>> {
    let store = ctx.kit.store();
    let fetch = add_step(store, ctx.run_id, 1, "fetch source", "fetch").await?;
    start_step(store, fetch, "fetch source").await?;
    let cache = git::cache_dir(&ctx.kit.config().data_dir, &project.id);
    let creds = ctx.kit.credentials_for(project).await?;
    let (url, forge, c2, w2, r2) =
        (project.repo_url.clone(), project.forge, commit.to_string(), work.to_path_buf(), git_ref.map(str::to_string));
    let fetched =
        tokio::task::spawn_blocking(move || git::fetch_and_checkout(&cache, &url, forge, creds.as_ref(), &c2, r2.as_deref(), &w2))
            .await
            .map_err(|e| crate::Error::new(crate::ErrorCode::Internal, format!("fetch task failed: {e}")))?;
    let checkout = match fetched {
        Ok(c) => c,
        Err(e) => {
            let msg = e.to_string();
            ctx.log(Some(fetch), &msg).await;
            end_step(store, fetch, StepStatus::Failed, None, Some(&msg)).await?;
            return Ok(Err(Ending { status: RunStatus::Failed, reason: format!("fetch source: {msg}") }));
        }
    };
    ctx.log(
        Some(fetch),
        format!(
            "checked out {} \"{}\"{}",
            checkout.commit,
            checkout.subject,
            if checkout.submodules > 0 { format!(" with {} submodule(s)", checkout.submodules) } else { String::new() }
        ),
    )
    .await;
    let (pipeline, config_source) = match pipeline::load(work) {
        Ok(p) => p,
        Err(e) => {
            let msg = e.to_string();
            ctx.log(Some(fetch), &msg).await;
            end_step(store, fetch, StepStatus::Failed, None, Some(&msg)).await?;
            return Ok(Err(Ending { status: RunStatus::Failed, reason: msg }));
        }
    };
    runs::set_config_source(store, ctx.run_id, config_source.as_str()).await?;
    let pipeline = match extended(store, ctx.run_id, pipeline).await {
        Ok((p, said)) => {
            if let Some(said) = said {
                ctx.log(Some(fetch), said).await;
            }
            p
        }
        Err(e) => {
            let msg = e.to_string();
            ctx.log(Some(fetch), &msg).await;
            end_step(store, fetch, StepStatus::Failed, None, Some(&msg)).await?;
            return Ok(Err(Ending { status: RunStatus::Failed, reason: msg }));
        }
    };
    ctx.log(
        Some(fetch),
        format!(
            "pipeline from {}: {} step(s){}",
            config_source.as_str(),
            pipeline.steps.len(),
            if pipeline.build.is_some() { ", then build" } else { "" }
        ),
    )
    .await;
    end_step(store, fetch, StepStatus::Succeeded, None, None).await?;

    Ok(Ok(pipeline))
}

/// The pipeline to run: `own` itself, or, when it extends a template, the merge of the two,
/// recorded with the run and described in one line for its log.
async fn extended(store: &crate::store::Store, run: i64, own: Pipeline) -> Result<(Pipeline, Option<String>)> {
    let Some(name) = own.extends.clone() else { return Ok((own, None)) };
    let template = crate::store::templates::find(store, &name).await?.ok_or_else(|| {
        crate::Error::new(
            crate::ErrorCode::InvalidInput,
            format!("slipway.yml extends {name:?}, which is not a template here: import it (slipwayd templates import FILE, or Settings → Templates)"),
        )
    })?;
    let (merged, executed) = crate::domain::templates::extend(&template.file, template.version, &own)?;
    crate::store::templates::set_executed(store, run, &executed).await?;
    let steps: Vec<String> = executed.steps.iter().map(|s| format!("{} ({})", s.name, s.origin.as_str())).collect();
    let removed = if executed.removed.is_empty() { String::new() } else { format!("; removed: {}", executed.removed.join(", ")) };
    Ok((merged, Some(format!("extends template {name} v{}: {}{removed}", template.version, steps.join(", ")))))
}

/// A run of a prebuilt image: nothing to fetch or build; the image, pinned by digest, is
/// pulled onto the host. (Deploying it is the deploy engine's part.)
async fn pull_image(ctx: &Job<'_>, project: &Project, digest: &str) -> Result<Ending> {
    use futures::StreamExt;
    let store = ctx.kit.store();
    let step = add_step(store, ctx.run_id, 1, "pull image", "pull").await?;
    start_step(store, step, "pull image").await?;
    let Some(repo) = &project.image_repo else {
        end_step(store, step, StepStatus::Failed, None, Some("the project has no image repository")).await?;
        return Ok(Ending { status: RunStatus::Failed, reason: "the project has no image repository".into() });
    };
    let reference = format!("{}@{digest}", repo.split_once("://").map(|(_, r)| r).unwrap_or(repo));
    let docker = match ctx.kit.docker_for(project).await {
        Ok(d) => d,
        Err(msg) => return fail_step(ctx, step, "pull image", None, &msg.to_string(), &[]).await,
    };
    ctx.log(Some(step), format!("pulling {reference}")).await;
    let opts = bollard::query_parameters::CreateImageOptionsBuilder::new().from_image(&reference).build();
    let mut pull = docker.create_image(Some(opts), None, None);
    while let Some(item) = pull.next().await {
        match item {
            Ok(info) => {
                if let Some(status) = info.status {
                    ctx.kit
                        .logs()
                        .push(
                            ctx.run_id,
                            Some(step),
                            "stdout",
                            format!("{}{}", info.id.map(|i| format!("{i}: ")).unwrap_or_default(), status),
                        )
                        .await;
                }
            }
            Err(e) => return fail_step(ctx, step, "pull image", None, &format!("cannot pull {reference}: {e}"), &[]).await,
        }
    }
    end_step(store, step, StepStatus::Succeeded, None, Some(&reference)).await?;
    let stage = runs::work(store, ctx.run_id).await?.stage;
    match deploy_target(project, &stage, &reference, None) {
        Some(target) => crate::services::deploy::run(ctx, target, 2).await,
        None => Ok(Ending { status: RunStatus::Succeeded, reason: format!("pulled {reference}") }),
    }
}

/// What a run deploys after its build or pull: nothing for projects without `deploy`.
fn deploy_target<'a>(project: &'a Project, stage: &str, image: &str, commit: Option<&str>) -> Option<crate::services::deploy::Target<'a>> {
    let deploy = project.deploy.clone()?;
    let stage = project.stages.iter().find(|s| s.name == stage)?;
    Some(crate::services::deploy::Target {
        project,
        stage,
        image: image.to_string(),
        commit: commit.map(str::to_string),
        config: crate::domain::release::ReleaseConfig { deploy, strategy: stage.strategy, rollout: stage.rollout.clone(), compose: None },
        promoted_from: None,
        rollback: false,
        hold_promotions: false,
    })
}

/// A rollback (the release exactly as it was) or a promotion (the source stage's release,
/// rolled out with this stage's strategy): no fetch, no build.
async fn redeploy(ctx: &Job<'_>, project: &Project, stage: &str, release_id: i64, trigger: Trigger) -> Result<Ending> {
    let release = crate::store::releases::get(ctx.kit.store(), release_id).await?;
    let Some(stage) = project.stages.iter().find(|s| s.name == stage) else {
        return Ok(Ending { status: RunStatus::Failed, reason: format!("{} has no stage {stage}", project.id) });
    };
    if trigger != Trigger::Rollback {
        return redeploy_release(ctx, project, stage, release, trigger).await;
    }
    // Who asked and why (a person, or the health watch with what it saw) stays in the reason.
    let asked = crate::store::runs::run_detail(ctx.kit.store(), ctx.run_id).await?.run.reason.unwrap_or_default();
    let ending = redeploy_release(ctx, project, stage, release, trigger).await?;
    Ok(Ending { reason: if asked.is_empty() { ending.reason } else { format!("{asked}: {}", ending.reason) }, ..ending })
}

async fn redeploy_release(ctx: &Job<'_>, project: &Project, stage: &Stage, release: Release, trigger: Trigger) -> Result<Ending> {
    let rollback = trigger == Trigger::Rollback;
    ctx.log(
        None,
        format!(
            "run {}: {trigger} of {}/{} to release {} of {} ({})",
            ctx.run_id,
            project.id,
            stage.name,
            release.number,
            release.stage,
            release.commit_sha.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("image")
        ),
    )
    .await;
    if release.status == ReleaseStatus::Pruned {
        return Ok(Ending {
            status: RunStatus::Failed,
            reason: format!("release {} of {} was pruned: its image is gone", release.number, release.stage),
        });
    }
    let config = crate::domain::release::restored_config(&release, stage, trigger);
    if config.compose.is_some() {
        let target = crate::services::deploy::compose::StackTarget {
            project,
            stage,
            commit: release.commit_sha.clone(),
            images: release.digests.clone(),
            config,
            promoted_from: if rollback { None } else { Some(release.id) },
            rollback,
        };
        return crate::services::deploy::compose::run(ctx, target, 1).await;
    }
    let target = crate::services::deploy::Target {
        project,
        stage,
        image: release.image.clone(),
        commit: release.commit_sha.clone(),
        config,
        promoted_from: if rollback { None } else { Some(release.id) },
        rollback,
        hold_promotions: false,
    };
    crate::services::deploy::run(ctx, target, 1).await
}

/// Runs `f` with a line callback that masks secrets and feeds the run's log in order, and
/// returns its result with the step's last lines (for the failure message).
async fn stream_into_log<'a, T, F, Fut>(ctx: &Job<'a>, step: i64, secrets: Vec<String>, f: F) -> (T, Vec<String>)
where
    F: FnOnce(Box<dyn FnMut(Line) + Send + 'a>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Line>();
    let logs = ctx.kit.logs().clone();
    let run_id = ctx.run_id;
    let forward = async move {
        let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        while let Some(line) = rx.recv().await {
            let text = pipeline::mask(&line.text, &secrets);
            if tail.len() == 5 {
                tail.pop_front();
            }
            tail.push_back(text.clone());
            let stream = if line.stream == Stream::Stderr { "stderr" } else { "stdout" };
            logs.push(run_id, Some(step), stream, text).await;
        }
        tail.into_iter().collect::<Vec<_>>()
    };
    let work = async move {
        let out = f(Box::new(move |line| {
            let _ = tx.send(line);
        }))
        .await;
        out
    };
    let (out, tail) = tokio::join!(work, forward);
    (out, tail)
}

async fn step_error(ctx: &Job<'_>, step: i64, name: &str, e: ExecError, tail: &[String]) -> Result<Ending> {
    match e {
        ExecError::Cancelled => {
            end_step(ctx.kit.store(), step, StepStatus::Cancelled, None, Some("cancelled")).await?;
            Ok(Ending { status: RunStatus::Cancelled, reason: format!("cancelled during {name}") })
        }
        ExecError::TimedOut(d) => fail_step(ctx, step, name, None, &format!("timed out after {} s", d.as_secs()), tail).await,
        other => fail_step(ctx, step, name, None, &other.to_string(), tail).await,
    }
}

async fn cleanup(docker: &Docker, ws: Option<&exec::Workspace>) {
    if let Some(ws) = ws {
        if let Err(e) = exec::remove_workspace(docker, ws).await {
            tracing::warn!("could not remove workspace {}: {e}", ws.volume);
        }
    }
}
