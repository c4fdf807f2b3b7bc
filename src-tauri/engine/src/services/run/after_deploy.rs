//! Steps that run once the new release is live (`after_deploy: true`): smoke checks against
//! the release itself, on its network, with `SLIPWAY_RELEASE_URL`. If one fails, the stage
//! goes back to its previous release on its own (and is pinned there, as after the health
//! watch's rollback), and the run says so.

use super::execute::run_steps;
use super::*;
use crate::domain::project::stage_id;

/// Marks the after-deploy steps skipped, saying why.
pub(super) async fn skip(ctx: &Job<'_>, ids: &[i64], why: &str) -> Result<()> {
    for id in ids {
        end_step(ctx.kit.store(), *id, StepStatus::Skipped, None, Some(why)).await?;
    }
    Ok(())
}

/// Runs `steps` against the release that just went live; `deployed` is how the deploy ended.
#[allow(clippy::too_many_arguments)] // The run's facts, each used once.
pub(super) async fn run(
    ctx: &Job<'_>,
    project: &Project,
    docker: &Docker,
    mut scope: plugins::Scope<'_>,
    work: &std::path::Path,
    steps: &[&pipeline::StepConfig],
    ids: &[i64],
    deployed: Ending,
) -> Result<Ending> {
    let store = ctx.kit.store();
    let stage = scope.facts.stage.name.clone();
    let Some(live) = crate::store::releases::live(store, &stage_id(&project.id, &stage)).await? else {
        skip(ctx, ids, "no release is live").await?;
        return Ok(deployed);
    };
    let container = live.containers.values().flatten().next().cloned();
    let port = live.config.deploy.port;
    let (Some(container), Some(port)) = (container, port) else {
        skip(ctx, ids, "the release has no container with a port to call").await?;
        return Ok(Ending { status: RunStatus::Failed, reason: format!("{}; its after-deploy steps had no URL to call", deployed.reason) });
    };
    scope.facts.release_url = Some(format!("http://{container}:{port}"));
    // A network of the run's own with the release on it, not the edge's (every project's).
    let network = format!("slipway-{}-run-{}-check", ctx.kit.instance_id(), ctx.run_id);
    if let Err(e) = exec::private_network(docker, &network, scope.labels, &container).await {
        let why = format!("after-deploy steps: {e}");
        skip(ctx, ids, &why).await?;
        return Ok(Ending { status: RunStatus::Failed, reason: format!("{}; {why}", deployed.reason) });
    }
    scope.network = Some(network.clone());
    let result = run_steps(ctx, project, docker, &scope, work, steps, ids).await;
    exec::remove_network(docker, &network).await;
    let Some(failed) = result? else {
        // Only now does the release count as good: promotions from it may start.
        ctx.kit.release_went_live(&project.id, &stage).await;
        return Ok(deployed);
    };
    let releases = crate::store::releases::list(store, &project.id, &stage).await?;
    let Some(previous) = crate::domain::notice_action::previous_of(&releases) else {
        let reason = format!("release {} went live, then {} (there is no earlier release to go back to)", live.number, failed.reason);
        return Ok(Ending { status: RunStatus::Failed, reason });
    };
    let what = format!("after-deploy check of release {} failed", live.number);
    let by = crate::store::releases::RollbackBy::Check(&what);
    let reason = match crate::store::releases::enqueue_rollback(store, project, &stage, previous, by).await {
        Ok(run) => {
            ctx.kit.promotions.queued(run);
            format!("release {} went live, then {}; rolling back to release {previous} (run {run})", live.number, failed.reason)
        }
        Err(e) => format!(
            "release {} went live, then {}; the rollback to release {previous} could not be queued: {e}",
            live.number, failed.reason
        ),
    };
    Ok(Ending { status: RunStatus::Failed, reason })
}
