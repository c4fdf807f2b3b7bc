//! A run's pipeline: its steps in containers over one workspace volume, then the image build
//! (or the compose stack's builds), then the deploy.

use super::*;

pub(super) async fn run_pipeline(
    ctx: &Job<'_>,
    project: &Project,
    stage: &str,
    commit: &str,
    git_ref: Option<&str>,
    work: &std::path::Path,
    pipeline: &Pipeline,
) -> Result<Ending> {
    let store = ctx.kit.store();
    let Some(stage_config) = project.stages.iter().find(|s| s.name == stage) else {
        return Ok(Ending { status: RunStatus::Failed, reason: format!("project {} has no stage {stage} any more", project.id) });
    };
    let plan = pipeline::plan(pipeline, project.deploy.is_some());
    if plan.is_empty() {
        return Ok(Ending {
            status: RunStatus::Succeeded,
            reason: "nothing to build: the repository has no slipway.yml, Dockerfile or compose file".into(),
        });
    }
    let port = project.deploy.as_ref().is_some_and(|d| d.port.is_some());
    if let Some(why) = pipeline::after_deploy_refusal(
        &plan,
        project.deploy.is_some(),
        port,
        &stage_config.hosts,
        &crate::domain::target::project_host(project),
    ) {
        return Ok(Ending { status: RunStatus::Failed, reason: why });
    }
    let mut ids = Vec::new();
    for (i, name) in plan.steps.iter().enumerate() {
        ids.push(add_step(store, ctx.run_id, i as i64 + 2, name, "step").await?);
    }
    // After the deploy's own steps, whose number is known only as it goes: the positions
    // only order the list.
    let mut after_ids = Vec::new();
    for (i, name) in plan.after.iter().enumerate() {
        after_ids.push(add_step(store, ctx.run_id, 1000 + i as i64, name, "step").await?);
    }
    let build_step = match plan.build {
        true => Some(add_step(store, ctx.run_id, ids.len() as i64 + 2, "build image", "build").await?),
        false => None,
    };
    let compose = plan.compose;
    let docker = match ctx.kit.docker_for(project).await {
        Ok(d) => d,
        Err(msg) => return Ok(Ending { status: RunStatus::Failed, reason: msg.to_string() }),
    };
    let instance = ctx.kit.instance_id();
    let labels = HashMap::from([
        (RUN_LABEL.to_string(), format!("{instance}-{}", ctx.run_id)),
        (INSTANCE_LABEL.to_string(), instance.to_string()),
        ("dev.slipway.project".to_string(), project.id.clone()),
        ("dev.slipway.stage".to_string(), stage.to_string()),
        ("dev.slipway.commit".to_string(), commit.to_string()),
    ]);

    let facts =
        crate::domain::plugins::Facts { project: &project.id, stage: stage_config, commit, git_ref, run_id: ctx.run_id, release_url: None };
    let scope = plugins::Scope { labels: &labels, facts, network: None };
    let (before, after): (Vec<&pipeline::StepConfig>, Vec<&pipeline::StepConfig>) = pipeline.steps.iter().partition(|s| !s.after_deploy);
    if let Some(ending) = run_steps(ctx, project, &docker, &scope, work, &before, &ids).await? {
        after_deploy::skip(ctx, &after_ids, "an earlier step failed").await?;
        return Ok(ending);
    }
    if let Some(files) = compose {
        return compose_stack(ctx, &docker, project, stage, commit, work, &files, &labels, ids.len() as i64 + 2).await;
    }
    let (Some(build), Some(id)) = (&pipeline.build, build_step) else {
        return Ok(Ending { status: RunStatus::Succeeded, reason: format!("{} step(s) passed; nothing to build", ids.len()) });
    };
    let held = !after.is_empty();
    let ending = build_and_deploy(ctx, project, stage, commit, work, (ids.len(), held), &docker, labels.clone(), build, id).await?;
    if after.is_empty() {
        return Ok(ending);
    }
    if ending.status != RunStatus::Succeeded {
        after_deploy::skip(ctx, &after_ids, "the deploy did not succeed").await?;
        return Ok(ending);
    }
    let scope = plugins::Scope { labels: &labels, ..scope };
    after_deploy::run(ctx, project, &docker, scope, work, &after, &after_ids, ending).await
}

/// Runs the pipeline's steps in one workspace volume; the first that fails ends the run (the
/// ending says how), and the workspace is removed either way.
pub(super) async fn run_steps(
    ctx: &Job<'_>,
    project: &Project,
    docker: &Docker,
    scope: &plugins::Scope<'_>,
    work: &std::path::Path,
    steps: &[&pipeline::StepConfig],
    ids: &[i64],
) -> Result<Option<Ending>> {
    let store = ctx.kit.store();
    let instance = ctx.kit.instance_id();
    let mut workspace = None;
    for (step, id) in steps.iter().zip(ids) {
        if skipped_here(ctx, step, *id, scope).await? {
            continue;
        }
        start_step(store, *id, &step.name).await?;
        if workspace.is_none() {
            let name = format!("slipway-{instance}-run-{}", ctx.run_id);
            match exec::create_workspace(docker, &name, work, &step.image, scope.labels).await {
                Ok(ws) => workspace = Some(ws),
                Err(e) => return fail_step(ctx, *id, &step.name, None, &e.to_string(), &[]).await.map(Some),
            }
        }
        let (mut env, masked) = match step_env(project, step).await? {
            Ok(env) => env,
            Err(msg) => return fail_step(ctx, *id, &step.name, None, &msg, &[]).await.map(Some),
        };
        // The contract's variables go first: a step's own `env` cannot pose as the engine.
        env.retain(|(k, _)| !k.starts_with("SLIPWAY_"));
        env.splice(0..0, crate::domain::plugins::env(&scope.facts, step.plugin.as_deref()));
        let (files_in, collect) = match &step.plugin {
            Some(plugin) => plugins::prepare(ctx, project, plugin).await?,
            None => (None, None),
        };
        let spec = StepSpec {
            container_name: format!("slipway-{instance}-run-{}-step-{}", ctx.run_id, id),
            image: step.image.clone(),
            commands: step.commands.clone(),
            files_in,
            collect,
            env,
            workdir: crate::domain::plugins::SOURCE_DIR.into(),
            timeout: Duration::from_secs(step.timeout_secs.unwrap_or(pipeline::DEFAULT_STEP_TIMEOUT_SECS)),
            labels: scope.labels.clone(),
            network: scope.network.clone(),
        };
        let what = if step.commands.is_empty() { "its image's entrypoint".to_string() } else { step.commands.join(" && ") };
        ctx.log(Some(*id), format!("step {}: {what} in {}", step.name, step.image)).await;
        let secrets = masked.clone();
        let (result, tail) =
            stream_into_log(ctx, *id, masked, |on_line| exec::run_step(docker, workspace.as_ref(), &spec, ctx.cancel.clone(), on_line))
                .await;
        let failed = match result {
            Ok(o) if o.exit_code == 0 => match &step.plugin {
                Some(plugin) => match plugins::publish(ctx, *id, scope, plugin, o.collected, &secrets).await? {
                    Ok(()) => {
                        end_step(store, *id, StepStatus::Succeeded, Some(0), None).await?;
                        None
                    }
                    Err(why) => Some(fail_step(ctx, *id, &step.name, Some(0), &why, &tail).await),
                },
                None => {
                    end_step(store, *id, StepStatus::Succeeded, Some(0), None).await?;
                    None
                }
            },
            Ok(o) => Some(fail_step(ctx, *id, &step.name, Some(o.exit_code), &format!("exit code {}", o.exit_code), &tail).await),
            Err(e) => Some(step_error(ctx, *id, &step.name, e, &tail).await),
        };
        if let Some(ending) = failed {
            cleanup(docker, workspace.as_ref()).await;
            return ending.map(Some);
        }
    }
    cleanup(docker, workspace.as_ref()).await;
    Ok(None)
}

/// A step limited (`only`) to the other kind of environment is skipped, saying why.
async fn skipped_here(ctx: &Job<'_>, step: &pipeline::StepConfig, id: i64, scope: &plugins::Scope<'_>) -> Result<bool> {
    if crate::domain::plugins::runs_on(step.only, scope.facts.stage) {
        return Ok(false);
    }
    let kind = step.only.map(|k| k.as_str()).unwrap_or_default();
    let why = format!("runs only in {kind} environments; {} is not one", scope.facts.stage.name);
    ctx.log(Some(id), format!("step {} skipped: it {why}", step.name)).await;
    end_step(ctx.kit.store(), id, StepStatus::Skipped, None, Some(&format!("it {why}"))).await?;
    Ok(true)
}

/// A step's environment: its own variables and the secrets it names, read from the keychain
/// (their values are masked in the log). A secret that is not set is the step's failure.
async fn step_env(
    project: &Project,
    step: &pipeline::StepConfig,
) -> Result<std::result::Result<(Vec<(String, String)>, Vec<String>), String>> {
    let mut env: Vec<(String, String)> = step.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut masked = Vec::new();
    for name in &step.secrets {
        match keychain::get(&secret_key(&project.id, name)).await? {
            Some(v) => {
                masked.push(v.clone());
                env.push((name.clone(), v));
            }
            None => return Ok(Err(format!("secret {name} is not set for project {} (set it in the project's secrets)", project.id))),
        }
    }
    Ok(Ok((env, masked)))
}

/// Builds the image (step `id`) and deploys it where the stage deploys.
#[allow(clippy::too_many_arguments)] // The run's facts, each used once; a struct for them would only move the list.
async fn build_and_deploy(
    ctx: &Job<'_>,
    project: &Project,
    stage: &str,
    commit: &str,
    work: &std::path::Path,
    (steps, hold_promotions): (usize, bool),
    docker: &Docker,
    labels: HashMap<String, String>,
    build: &pipeline::BuildConfig,
    id: i64,
) -> Result<Ending> {
    let store = ctx.kit.store();
    start_step(store, id, "build image").await?;
    let tag = format!("slipway/{}:{}-{}", project.id, stage, &commit[..commit.len().min(12)]);
    let spec = BuildSpec {
        context_dir: work.join(&build.context),
        dockerfile: build.dockerfile.clone(),
        target: build.target.clone(),
        build_args: build.args.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        tag: tag.clone(),
        labels: labels.into_iter().filter(|(k, _)| k != RUN_LABEL && k != INSTANCE_LABEL).collect(),
    };
    ctx.log(Some(id), format!("building {tag} from {}/{}", build.context, build.dockerfile)).await;
    let (result, tail) = stream_into_log(ctx, id, vec![], |on_line| exec::build_image(docker, &spec, ctx.cancel.clone(), on_line)).await;
    match result {
        Ok(image) => {
            end_step(store, id, StepStatus::Succeeded, None, Some(&image)).await?;
            runs::set_image(store, ctx.run_id, &image).await?;
            match deploy_target(project, stage, &image, Some(commit)) {
                Some(target) => {
                    let target = crate::services::deploy::Target { hold_promotions, ..target };
                    crate::services::deploy::run(ctx, target, steps as i64 + 3).await
                }
                None => Ok(Ending { status: RunStatus::Succeeded, reason: format!("built {tag} ({image})") }),
            }
        }
        Err(e) => step_error(ctx, id, "build image", e, &tail).await,
    }
}

/// A compose stack: its services' images built (those with `build:`), then deployed.
#[allow(clippy::too_many_arguments)]
async fn compose_stack(
    ctx: &Job<'_>,
    docker: &Docker,
    project: &Project,
    stage: &str,
    commit: &str,
    work: &std::path::Path,
    files: &[String],
    labels: &HashMap<String, String>,
    mut position: i64,
) -> Result<Ending> {
    let store = ctx.kit.store();
    let mut texts = Vec::new();
    for file in files {
        match std::fs::read_to_string(work.join(file)) {
            Ok(t) => texts.push((file.clone(), t)),
            Err(e) => return Ok(Ending { status: RunStatus::Failed, reason: format!("reading {file}: {e}") }),
        }
    }
    let Some(st) = project.stages.iter().find(|s| s.name == stage) else {
        return Ok(Ending { status: RunStatus::Failed, reason: format!("{} has no stage {stage}", project.id) });
    };
    let deploy = project.deploy.clone().unwrap_or_default();
    let loaded = read_stack(ctx, project, stage, work, &texts, &deploy);
    let stack = match loaded {
        Ok(l) => {
            // Secret files of the repository live in the keychain, so the release (and a
            // rollback to it) never needs their content.
            for (key, content) in &l.keychain {
                crate::adapters::keychain::set(key, content).await?;
            }
            l.stack
        }
        Err(e) => return Ok(Ending { status: RunStatus::Failed, reason: e.to_string() }),
    };
    let mut images = std::collections::BTreeMap::new();
    for svc in &stack.services {
        let Some((context, dockerfile)) = &svc.build else {
            images.insert(svc.name.clone(), svc.image.clone().unwrap_or_default());
            continue;
        };
        let name = format!("build {}", svc.name);
        let id = add_step(store, ctx.run_id, position, &name, "build").await?;
        position += 1;
        start_step(store, id, &name).await?;
        let tag = format!("slipway/{}:{}-{}-{}", project.id, stage, &commit[..commit.len().min(12)], svc.name);
        let spec = BuildSpec {
            context_dir: work.join(context),
            dockerfile: dockerfile.clone(),
            target: svc.build_target.clone(),
            build_args: svc.build_args.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            tag: tag.clone(),
            labels: labels
                .iter()
                .filter(|(k, _)| k.as_str() != RUN_LABEL && k.as_str() != INSTANCE_LABEL)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let (result, tail) =
            stream_into_log(ctx, id, vec![], |on_line| exec::build_image(docker, &spec, ctx.cancel.clone(), on_line)).await;
        match result {
            Ok(image) => {
                end_step(store, id, StepStatus::Succeeded, None, Some(&image)).await?;
                images.insert(svc.name.clone(), image);
            }
            Err(e) => return step_error(ctx, id, &format!("build {}", svc.name), e, &tail).await,
        }
    }
    let target = crate::services::deploy::compose::StackTarget {
        project,
        stage: st,
        commit: Some(commit.to_string()),
        images,
        config: crate::domain::release::ReleaseConfig { deploy, strategy: st.strategy, rollout: st.rollout.clone(), compose: Some(stack) },
        promoted_from: None,
        rollback: false,
    };
    crate::services::deploy::compose::run(ctx, target, position).await
}

/// A file of the checkout by its path from the repository's root, for the compose reader:
/// `None` if it does not exist; a path that leaves the checkout is refused.
fn read_in_checkout(work: &std::path::Path, rel: &str) -> std::result::Result<Option<String>, String> {
    inside_checkout(rel)?;
    match std::fs::read_to_string(work.join(rel)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The compose file read into the stack this stage deploys (refusals name file, line, service
/// and key).
fn read_stack(
    ctx: &Job<'_>,
    project: &Project,
    stage: &str,
    work: &std::path::Path,
    texts: &[(String, String)],
    deploy: &crate::domain::deploy::DeployConfig,
) -> Result<crate::domain::compose::Loaded> {
    let (file, text) = (&texts[0].0, &texts[0].1);
    let network = crate::services::deploy::compose::network(ctx.kit.instance_id(), &project.id, stage);
    let read = |rel: &str| read_in_checkout(work, rel);
    let under = |rel: &str| files_in_checkout(work, rel);
    let input = crate::domain::compose::Input {
        file,
        text,
        read: &read,
        files_under: &under,
        overrides: &texts[1..],
        env: &deploy.env,
        secrets: &deploy.secrets,
        stage,
        project: &project.id,
        network: &network,
    };
    crate::domain::compose::load(&input)
}

/// A path a compose file names must stay inside the checkout.
fn inside_checkout(rel: &str) -> std::result::Result<(), String> {
    if rel.starts_with('/') || rel.split('/').any(|part| part == "..") {
        return Err(format!("{rel} is outside the repository"));
    }
    Ok(())
}

/// What a read-only bind mount of the repository may copy in: text files only, 1 MiB and 500
/// files in all (more is data, which belongs in a volume or the image).
const REPO_MOUNT_BYTES: u64 = 1 << 20;
const REPO_MOUNT_FILES: usize = 500;

/// The text files under `rel` in the checkout, with their paths relative to it (a file: itself,
/// with an empty path).
fn files_in_checkout(work: &std::path::Path, rel: &str) -> std::result::Result<Vec<(String, String)>, String> {
    inside_checkout(rel)?;
    let root = work.join(rel);
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut stack = vec![root.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{rel} is not in the repository ({e})"))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|e| e.to_string())? {
                let entry = entry.map_err(|e| e.to_string())?;
                if entry.file_name() != ".git" {
                    stack.push(entry.path());
                }
            }
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        total += meta.len();
        if total > REPO_MOUNT_BYTES || out.len() >= REPO_MOUNT_FILES {
            return Err(format!(
                "over {} KiB or {REPO_MOUNT_FILES} files: put data in a named volume, or files in the image",
                REPO_MOUNT_BYTES / 1024
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|_| format!("{} is not a text file", path.display()))?;
        let inside = path.strip_prefix(&root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        out.push((inside, text));
    }
    out.sort();
    Ok(out)
}
