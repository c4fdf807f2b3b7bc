//! Image builds through the Docker API: the context goes up as a tar, the builder's output comes
//! back as log lines, and a build that fails says why.

use super::*;

/// Builds with the classic builder, which every Docker engine has and which needs no session
/// back to us (BuildKit would, and that does not cross an SSH tunnel gracefully). Returns the
/// image id.
pub async fn build_image(
    docker: &Docker,
    spec: &BuildSpec,
    mut cancel: watch::Receiver<bool>,
    mut on_line: impl FnMut(Line) + Send,
) -> Result<String, ExecError> {
    if *cancel.borrow_and_update() {
        return Err(ExecError::Cancelled);
    }
    let dockerfile = if spec.dockerfile.is_empty() { "Dockerfile" } else { spec.dockerfile.as_str() };
    let filter = Filter::context(&spec.context_dir, dockerfile)?;
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(&spec.tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&spec.build_args)
        .labels(&spec.labels)
        .version(BuilderVersion::BuilderV1);
    if let Some(target) = &spec.target {
        options = options.target(target);
    }
    let (tar, walker) = tar_stream(spec.context_dir.clone(), filter);
    let body = bollard::body_try_stream(tar);
    let long = docker.clone().with_timeout(LONG_REQUEST);
    let mut lines = Splitter::default();
    let built = tokio::select! {
        r = with_heartbeat(docker, follow_build(long.build_image(options.build(), None, Some(body)), &mut lines, &mut on_line)) => r,
        _ = cancelled(&mut cancel) => {
            lines.finish(&mut on_line);
            // Dropping the request closes the connection, which stops the daemon's build.
            return Err(ExecError::Cancelled);
        }
    };
    lines.finish(&mut on_line);
    match walker.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ExecError::Docker(format!("reading the build context: {e}"))),
        Err(e) => return Err(ExecError::Docker(format!("reading the build context: {e}"))),
    }
    let short_id = match built {
        Err(lost) => return Err(ExecError::Docker(format!("building {}: {lost}", spec.tag))),
        Ok(Err(Failure::Builder(message))) => {
            for text in message.lines() {
                on_line(Line { stream: Stream::Stderr, text: text.to_string() });
            }
            return Err(ExecError::Build(message));
        }
        Ok(Err(Failure::Docker(e))) => return Err(docker_error(&format!("building {}", spec.tag), &e)),
        Ok(Ok(short_id)) => short_id,
    };
    // The short id from "Successfully built" names exactly this build's image; the tag is the
    // fallback for builders that do not print it.
    let reference = short_id.as_deref().unwrap_or(&spec.tag);
    let image = call(&format!("inspecting the built image {}", spec.tag), docker.inspect_image(reference)).await?;
    image.id.ok_or_else(|| ExecError::Docker(format!("the built image {} has no id", spec.tag)))
}

enum Failure {
    Builder(String),
    Docker(BollardError),
}

/// Feeds the builder's output to `on_line` and returns the short image id it reports, if any.
async fn follow_build(
    build: impl futures::Stream<Item = Result<bollard::models::BuildInfo, BollardError>>,
    lines: &mut Splitter,
    on_line: &mut (impl FnMut(Line) + Send),
) -> Result<Option<String>, Failure> {
    tokio::pin!(build);
    let mut short_id = None;
    while let Some(item) = build.next().await {
        let info = match item {
            Ok(info) => info,
            Err(BollardError::DockerStreamError { error }) => return Err(Failure::Builder(error)),
            Err(e) => return Err(Failure::Docker(e)),
        };
        if let Some(text) = &info.stream {
            lines.push(Stream::Stdout, text.as_bytes(), on_line);
            for line in text.lines() {
                if let Some(id) = line.trim().strip_prefix("Successfully built ") {
                    short_id = Some(id.trim().to_string());
                }
            }
        }
        // Pull progress: the status lines say what happens, the per-layer byte counts are noise.
        let progress = info.progress_detail.as_ref().is_some_and(|p| p.current.is_some() || p.total.is_some());
        if let (Some(status), false) = (&info.status, progress) {
            let text = match &info.id {
                Some(id) => format!("{id}: {status}\n"),
                None => format!("{status}\n"),
            };
            lines.push(Stream::Stdout, text.as_bytes(), on_line);
        }
    }
    Ok(short_id)
}
