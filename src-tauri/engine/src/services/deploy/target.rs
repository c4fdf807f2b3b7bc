//! One release across its deploy target's hosts (see [`DeployTarget`]). Each host, `parallel`
//! at a time in the stage's order, gets the image, then runs the stage's strategy behind its
//! own edge and health gate; the old containers stay (running or stopped) until the release is
//! confirmed. The first host that fails halts the deploy, and every host already switched goes
//! back to the previous release, so a split release never serves. The store names the new
//! release once, after the last host switched; a crash before that leaves every host to
//! [`super::reconcile`], which puts the previous release back everywhere.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::exec::DeployError;
use super::job::{Ending, Job};
use super::{container_env, edge, host_name, requests, short, strategy, strategy_words, Deploy, Steps, Stop, Target};
use crate::domain::project::{stage_id, Strategy};
use crate::domain::run::{RunStatus, SwitchCount};
use crate::domain::target::{project_host, DeployTarget};
use crate::Result;

/// A host whose traffic is on the new release, with what it served before.
struct Switched<'a> {
    d: Deploy<'a>,
    blue: Vec<String>,
    green: Vec<String>,
}

pub(super) async fn run(ctx: &Job<'_>, target: &Target<'_>, position: i64) -> Result<Ending> {
    let place = DeployTarget::of(target.project, target.stage);
    if let DeployTarget::Swarm { manager } = place {
        return super::swarm::run(ctx, target, position, manager).await;
    }
    let settings = edge::settings(ctx.kit.store()).await;
    let steps = Steps::new(ctx, position);
    if let DeployTarget::Hosts { ids, parallel } = &place {
        let at_once = if *parallel == 1 { "one at a time".to_string() } else { format!("{parallel} at a time") };
        ctx.log(None, format!("one release on {} hosts ({}), {at_once}", ids.len(), ids.join(", "))).await;
    }
    let mut switched: Vec<Switched> = Vec::new();
    let mut counts: Vec<SwitchCount> = Vec::new();
    for batch in place.batches() {
        let results = futures::future::join_all(batch.into_iter().map(|on| {
            let prefix = if place.several() { format!("{on}: ") } else { String::new() };
            let first = place.hosts().first() == Some(&on);
            switch(ctx, target, &settings, (on, first), steps.prefixed(prefix))
        }))
        .await;
        let mut stop = None;
        for r in results {
            match r {
                Ok((Ok(s), count)) => {
                    switched.push(s);
                    counts.extend(count);
                }
                Ok((Err(st), count)) => {
                    counts.extend(count);
                    stop = stop.or(Some(st));
                }
                Err(e) => stop = stop.or(Some(Stop::failed(e.to_string()))),
            }
        }
        if let Some(stop) = stop {
            requests::record(ctx, &counts).await;
            return Ok(back(&switched, stop).await);
        }
    }
    requests::record(ctx, &counts).await;
    confirm(ctx, target, &place, &switched).await
}

type Switch<'a> = (std::result::Result<Switched<'a>, Stop>, Option<SwitchCount>);

/// One host: prepared (its Docker engine, the image, the edge), then switched with the stage's
/// strategy. The outcome comes with the switch's request count on this host's edge.
async fn switch<'a>(
    ctx: &'a Job<'a>,
    target: &'a Target<'a>,
    settings: &edge::EdgeSettings,
    (on, first_host): (String, bool),
    steps: Steps<'a>,
) -> Result<Switch<'a>> {
    let kit = ctx.kit;
    let first = steps.step("prepare host").await?;
    let docker = match kit.docker_on(&on).await {
        Ok(d) => d,
        Err(e) => return Ok((Err(refused(&steps, first, &e.to_string()).await), None)),
    };
    let env = match container_env(target).await? {
        Ok(env) => env,
        Err(e) => return Ok((Err(refused(&steps, first, &e.to_string()).await), None)),
    };
    let image = match send_image(ctx, &steps, first, &docker, &on, target.project, &target.image).await {
        Ok(image) => image,
        Err(e) => return Ok((Err(refused(&steps, first, &e.to_string()).await), None)),
    };
    let edge = kit.routes().edge(&docker, kit.instance_id(), &on);
    if let Err(e) = edge::ensure(&edge, settings).await {
        return Ok((Err(refused(&steps, first, &e.to_string()).await), None));
    }
    let host = host_name(&target.project.id, target.stage, &settings.domain);
    let strategy = target.config.strategy;
    let sid = stage_id(&target.project.id, &target.stage.name);
    let d = Deploy { ctx, docker, edge, sid, host: host.clone(), on, target, image, post_deploy_here: first_host, env, steps };
    d.log(
        first,
        format!("{} → {} with {} (image {})", target.project.id, target.stage.name, strategy_words(strategy), short(&target.image)),
    )
    .await;
    if target.config.deploy.port.is_some() {
        d.log(first, format!("served at http://{host}:{} through the edge", settings.http_port)).await;
    }
    d.done(first).await;

    let blue = d.live_containers().await?;
    // The switch window, for its request count: from the new release's start to the drain's end.
    let mark = if target.config.deploy.port.is_some() { Some(requests::mark(&d.edge).await) } else { None };
    let outcome = match strategy {
        Strategy::Recreate => strategy::recreate(&d, &blue).await,
        Strategy::BlueGreen => strategy::blue_green(&d, &blue).await,
        Strategy::Rolling => strategy::rolling(&d, &blue).await,
        Strategy::Canary => strategy::canary(&d, &blue).await,
    };
    let count = match mark {
        Some(mark) => requests::close(ctx, &d.edge, &host, mark, &d.steps.prefix).await,
        None => None,
    };
    Ok(match outcome {
        Ok(green) => (Ok(Switched { d, blue, green }), count),
        Err(stop) => {
            let reason = format!("{}{}", d.steps.prefix, stop.reason);
            (Err(Stop { status: stop.status, reason }), count)
        }
    })
}

/// The prepare step failed: the run's reason names the step, as a failed step's does.
async fn refused(steps: &Steps<'_>, step: i64, why: &str) -> Stop {
    steps.fail(step, RunStatus::Failed, &format!("step {}prepare host failed: {why}", steps.prefix)).await
}

/// How long sending an image to a host may take before the deploy gives up on it.
const SEND_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The image as host `on` knows it. A host that lacks it gets it from the host it was built
/// (or pulled) on, streamed through the Docker API (`docker save | docker load` over the same
/// connections); it is then named by its id, which a load keeps, as a pulled `repo@digest`
/// is not kept.
pub(super) async fn send_image(
    ctx: &Job<'_>,
    steps: &Steps<'_>,
    step: i64,
    docker: &bollard::Docker,
    on: &str,
    project: &crate::domain::project::Project,
    image: &str,
) -> std::result::Result<String, DeployError> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(image.to_string()),
        Err(e) if crate::adapters::docker::exec::status(&e) == Some(404) => {}
        Err(e) => {
            return Err(DeployError::from(format!("looking up image {}: {}", short(image), crate::adapters::docker::exec::describe(&e))))
        }
    }
    let home = project_host(project);
    let missing = || DeployError::from(format!("image {} is not on the host (was it pruned?)", short(image)));
    if home == on {
        return Err(missing());
    }
    let from = ctx.kit.docker_for(project).await?;
    let Ok(found) = from.inspect_image(image).await else { return Err(missing()) };
    let id = found.id.unwrap_or_else(|| image.to_string());
    let size = found.size.unwrap_or(0);
    steps.log(step, format!("{on} lacks image {}: sending it from {home} ({} MB)", short(image), size / 1_000_000)).await;
    let started = Instant::now();
    let send = async {
        let tar = from.export_image(&id);
        let options = bollard::query_parameters::ImportImageOptionsBuilder::default().quiet(true).build();
        let mut load = docker.import_image_stream(options, tar, None);
        while let Some(r) = load.next().await {
            let info = r.map_err(|e| DeployError::docker(format!("sending image {} to {on}", short(image)), e))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(DeployError::from(format!("sending image {} to {on}: {err}", short(image))));
            }
        }
        Ok(())
    };
    match tokio::time::timeout(SEND_TIMEOUT, send).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(DeployError::from(format!("sending image {} to {on} took over {} min", short(image), SEND_TIMEOUT.as_secs() / 60)))
        }
    }
    if docker.inspect_image(&id).await.is_err() {
        return Err(DeployError::from(format!("image {} was sent to {on} but is not there", short(image))));
    }
    steps.log(step, format!("image {} is on {on} ({:.1} s)", short(&id), started.elapsed().as_secs_f64())).await;
    Ok(id)
}

/// The first failure ends the deploy: every host already switched goes back to the previous
/// release (the host that failed went back on its own, as a single host does).
async fn back(switched: &[Switched<'_>], stop: Stop) -> Ending {
    if switched.is_empty() {
        return stop.into();
    }
    let mut undone = Vec::new();
    let mut failures = Vec::new();
    for s in switched.iter().rev() {
        match s.d.revert(&s.blue, &s.green).await {
            Ok(()) => undone.push(s.d.on.clone()),
            Err(why) => failures.push(format!("{}: {why}", s.d.on)),
        }
    }
    let was_live = switched.iter().all(|s| !s.blue.is_empty());
    let status = match stop.status {
        RunStatus::Cancelled => RunStatus::Cancelled,
        _ if failures.is_empty() && was_live => RunStatus::RolledBack,
        _ => RunStatus::Failed,
    };
    let mut reason = stop.reason;
    if !undone.is_empty() {
        let what = if was_live { "went back to the previous release" } else { "serve nothing again (nothing was live before)" };
        reason.push_str(&format!("; {} {what}", undone.join(", ")));
    }
    if !failures.is_empty() {
        reason.push_str(&format!("; going back failed on {}", failures.join("; ")));
    }
    Ending { status, reason }
}

impl Deploy<'_> {
    /// A host that switched goes back: its old containers started again where a strategy had
    /// stopped them (and health-gated), traffic on them, the requests on the new ones drained,
    /// and the new ones removed.
    async fn revert(&self, old: &[String], new: &[String]) -> std::result::Result<(), String> {
        let step = self.step("back to the previous release").await.map_err(|e| e.to_string())?;
        if !old.is_empty() {
            let stopped = self.stopped(old).await;
            if !stopped.is_empty() {
                if let Err(e) = self.restart(&stopped).await {
                    return Err(self.fail(step, RunStatus::Failed, &e.to_string()).await.reason);
                }
                match self.gate(step, &stopped).await {
                    // A cancelled run still goes back; the gate only stopped waiting.
                    Ok(()) | Err((RunStatus::Cancelled, _)) => {}
                    Err((_, why)) => return Err(self.fail(step, RunStatus::Failed, &why).await.reason),
                }
            }
        }
        let routed = if old.is_empty() { self.route(&[]).await } else { self.route_all(old).await };
        if let Err(e) = routed {
            return Err(self.fail(step, RunStatus::Failed, &format!("routing back: {e}")).await.reason);
        }
        self.drain(step).await;
        self.remove(new).await;
        self.log(
            step,
            if old.is_empty() {
                "the stage serves nothing here again".to_string()
            } else {
                format!("{} serves {} again", self.host, old.join(", "))
            },
        )
        .await;
        self.done(step).await;
        Ok(())
    }

    /// Those of `names` that are not running.
    async fn stopped(&self, names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for n in names {
            let running = self
                .docker
                .inspect_container(n, None::<bollard::query_parameters::InspectContainerOptions>)
                .await
                .ok()
                .and_then(|i| i.state.and_then(|s| s.running))
                .unwrap_or(false);
            if !running {
                out.push(n.clone());
            }
        }
        out
    }
}

/// Every host switched: the store names the release (once, for all of them), then each host's
/// old containers and the images past the stage's retention go.
async fn confirm(ctx: &Job<'_>, target: &Target<'_>, place: &DeployTarget, switched: &[Switched<'_>]) -> Result<Ending> {
    let sid = stage_id(&target.project.id, &target.stage.name);
    let digests = BTreeMap::from([("app".to_string(), target.image.clone())]);
    // Container names do not depend on the host: each host runs the same ones.
    let mut green: Vec<String> = switched.iter().flat_map(|s| s.green.iter().cloned()).collect();
    green.sort();
    green.dedup();
    let containers = BTreeMap::from([("app".to_string(), green)]);
    let number = super::record_release(ctx, target.origin(), &target.image, &digests, &containers).await?;
    // The old containers go only after the store names the new release, in a step of their
    // own: a crash in between leaves both, and reconcile removes the old at the next start.
    for s in switched {
        let retire = s.d.step("retire old release").await?;
        s.d.remove(&s.blue).await;
        s.d.done(retire).await;
    }
    let keep = target.config.rollout.keep_releases.max(1);
    match crate::store::releases::prune(ctx.kit.store(), &sid, keep).await {
        Ok(images) => {
            for s in switched {
                s.d.remove_images(&images).await;
            }
        }
        Err(e) => tracing::warn!("could not prune releases of {sid}: {e}"),
    }
    if target.hold_promotions {
        ctx.kit.release_changed(&target.project.id, &target.stage.name);
    } else {
        ctx.kit.release_went_live(&target.project.id, &target.stage.name).await;
    }
    let hosts = if place.several() { format!(" on {} hosts", switched.len()) } else { String::new() };
    Ok(Ending {
        status: RunStatus::Succeeded,
        reason: format!("release {number} is live on {}{hosts} ({})", target.stage.name, short(&target.image)),
    })
}
