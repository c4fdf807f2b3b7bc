//! Running a pipeline's steps in containers and building images, through the Docker API only.
//!
//! The Docker host may be remote (ssh://, tcp://), so nothing here touches the host's filesystem:
//! no bind mounts, no docker CLI. A run's source goes into a named volume through the archive
//! API, every step mounts that volume, and image builds get their context as a tar upload.
//!
//! Every request is bounded. Plain calls get [`CALL_TIMEOUT`]; the long ones (a step's output,
//! an upload, a build) run beside a heartbeat that pings the host and gives up when it stops
//! answering, since a quiet step and a dead host look the same from a silent stream.

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, VolumeCreateRequest};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, BuilderVersion,
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

/// How long one ordinary API call may take before the host counts as not answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a long-running operation checks that the host still answers.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How long a heartbeat ping may take.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// Removing a container after a kill, cancel or lost host: short, since the caller is waiting.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);
/// bollard's own request timeout covers everything up to the response headers, which for an
/// upload or a build only come after the whole tar is sent; the heartbeat bounds those instead.
const LONG_REQUEST: Duration = Duration::from_secs(24 * 3600);
/// A line longer than this is delivered in pieces, so output without newlines cannot grow
/// memory without bound.
const MAX_LINE: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("image {0} is not on the host (Slipway does not pull step images implicitly: {1})")]
    ImageMissing(String, String),
    #[error("step timed out after {0:?}")]
    TimedOut(Duration),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Docker(String),
    #[error("build failed: {0}")]
    Build(String),
}

/// A Docker volume holding a run's source tree (and whatever steps leave in it).
pub struct Workspace {
    pub volume: String,
}

pub struct StepSpec {
    /// Deterministic per run and step, so that a container left by a crash is found (and
    /// removed) by the next attempt instead of piling up.
    pub container_name: String,
    /// Must already be on the host; see [`ExecError::ImageMissing`].
    pub image: String,
    /// One shell script, run by `sh -e -c` (the image's entrypoint is replaced): the first
    /// failing command fails the step.
    pub commands: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where the workspace is mounted, and where the commands run.
    pub workdir: String,
    /// Counts from the call, so creating the container is included.
    pub timeout: Duration,
    pub labels: HashMap<String, String>,
}

pub struct StepOutcome {
    pub exit_code: i64,
}

pub struct BuildSpec {
    /// Sent as a tar without `.git` and what `.dockerignore` excludes.
    pub context_dir: PathBuf,
    /// Relative to the context; empty means `Dockerfile`.
    pub dockerfile: String,
    pub target: Option<String>,
    pub build_args: HashMap<String, String>,
    pub tag: String,
    pub labels: HashMap<String, String>,
}

/// Creates volume `name` and fills it with the files under `source_dir`. The tar goes through
/// a created-but-never-started container of `image`, because the archive API is the only way
/// to write into a volume on a host whose filesystem we cannot see. An existing volume of that
/// name is reused and written over. On failure nothing is left behind.
pub async fn create_workspace(
    docker: &Docker,
    name: &str,
    source_dir: &Path,
    image: &str,
    labels: &HashMap<String, String>,
) -> Result<Workspace, ExecError> {
    require_image(docker, image).await?;
    let volume = VolumeCreateRequest {
        name: Some(name.to_string()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    call(
        &format!("creating workspace volume {name}"),
        docker.create_volume(volume),
    )
    .await?;
    let ws = Workspace {
        volume: name.to_string(),
    };
    let filler = format!("{name}-fill");
    let filled = fill(docker, &ws, &filler, source_dir, image, labels).await;
    remove_container(docker, &filler).await;
    if let Err(e) = filled {
        if let Err(cleanup) = remove_workspace(docker, &ws).await {
            tracing::warn!(
                "could not remove workspace volume {name} after a failed fill: {cleanup}"
            );
        }
        return Err(e);
    }
    Ok(ws)
}

async fn fill(
    docker: &Docker,
    ws: &Workspace,
    filler: &str,
    source_dir: &Path,
    image: &str,
    labels: &HashMap<String, String>,
) -> Result<(), ExecError> {
    remove_container(docker, filler).await;
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        // Never started; Docker only insists that there is a command.
        cmd: Some(vec!["true".to_string()]),
        labels: Some(labels.clone()),
        host_config: Some(HostConfig {
            mounts: Some(vec![volume_mount(&ws.volume, "/src")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(filler)
        .build();
    call(
        "creating the container that fills the workspace",
        docker.create_container(Some(options), body),
    )
    .await
    .map_err(|e| missing_image(e, image))?;

    let (tar, walker) = tar_stream(source_dir.to_path_buf(), Filter::source());
    let upload = UploadToContainerOptionsBuilder::default()
        .path("/src")
        .build();
    let long = docker.clone().with_timeout(LONG_REQUEST);
    let body = bollard::body_try_stream(tar);
    let sent = with_heartbeat(docker, long.upload_to_container(filler, Some(upload), body)).await;
    let walked = walker.await;
    // A failure reading the tree is the real cause of a failed upload, so it is reported first.
    match walked {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ExecError::Docker(format!("reading the source tree: {e}"))),
        Err(e) => return Err(ExecError::Docker(format!("reading the source tree: {e}"))),
    }
    match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(docker_error("uploading the source into the workspace", &e)),
        Err(lost) => Err(ExecError::Docker(format!(
            "uploading the source into the workspace: {lost}"
        ))),
    }
}

/// Removes the volume; one already gone counts as removed.
pub async fn remove_workspace(docker: &Docker, ws: &Workspace) -> Result<(), ExecError> {
    let options = RemoveVolumeOptionsBuilder::default().force(true).build();
    match bounded(docker.remove_volume(&ws.volume, Some(options))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if status(&e) == Some(404) => Ok(()),
        Ok(Err(e)) => Err(docker_error(
            &format!("removing workspace volume {}", ws.volume),
            &e,
        )),
        Err(()) => Err(no_answer(&format!(
            "removing workspace volume {}",
            ws.volume
        ))),
    }
}

/// Runs one step in a fresh container and returns its exit code; a non-zero code is an outcome,
/// not an error. The timeout covers the whole step, setup included. Whatever happens, the
/// container is removed before this returns.
pub async fn run_step(
    docker: &Docker,
    ws: Option<&Workspace>,
    spec: &StepSpec,
    mut cancel: watch::Receiver<bool>,
    mut on_line: impl FnMut(Line) + Send,
) -> Result<StepOutcome, ExecError> {
    if *cancel.borrow_and_update() {
        return Err(ExecError::Cancelled);
    }
    let mut lines = Splitter::default();
    let result = tokio::select! {
        r = step(docker, ws, spec, &mut lines, &mut on_line) => r,
        _ = cancelled(&mut cancel) => Err(ExecError::Cancelled),
        _ = tokio::time::sleep(spec.timeout) => Err(ExecError::TimedOut(spec.timeout)),
    };
    lines.finish(&mut on_line);
    // Force-removal kills a step that is still running; busybox-style PID 1s ignore SIGTERM,
    // so there is no point in a polite stop first.
    remove_container(docker, &spec.container_name).await;
    result.map(|exit_code| StepOutcome { exit_code })
}

async fn step(
    docker: &Docker,
    ws: Option<&Workspace>,
    spec: &StepSpec,
    lines: &mut Splitter,
    on_line: &mut (impl FnMut(Line) + Send),
) -> Result<i64, ExecError> {
    let name = spec.container_name.as_str();
    // Left behind by a crash, most likely; the name is ours.
    remove_container(docker, name).await;
    require_image(docker, &spec.image).await?;

    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        // The entrypoint is replaced so that images built around a program (an ENTRYPOINT of
        // `node`, say) still run the step's shell script.
        entrypoint: Some(vec!["sh".into(), "-e".into(), "-c".into()]),
        cmd: Some(vec![spec.commands.join("\n")]),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: Some(spec.workdir.clone()),
        labels: Some(spec.labels.clone()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        host_config: Some(HostConfig {
            mounts: ws.map(|ws| vec![volume_mount(&ws.volume, &spec.workdir)]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    call(
        "creating the step container",
        docker.create_container(Some(options), body),
    )
    .await
    .map_err(|e| missing_image(e, &spec.image))?;

    // Attached before the start so that not a byte is missed, and independent of the host's
    // log driver, which may keep nothing readable.
    let attach = AttachContainerOptionsBuilder::default()
        .stream(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut output = call(
        "attaching to the step container",
        docker.attach_container(name, Some(attach)),
    )
    .await?
    .output;
    call(
        "starting the step container",
        docker.start_container(name, None),
    )
    .await?;

    let wait = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut wait = Box::pin(docker.wait_container(name, Some(wait)));
    let heartbeat = heartbeat(docker);
    tokio::pin!(heartbeat);

    let mut output_done = false;
    let mut exit_code = None;
    loop {
        // The exit code alone is not the end: output still in flight would be lost.
        if let (true, Some(code)) = (output_done, exit_code) {
            return Ok(code);
        }
        tokio::select! {
            item = output.next(), if !output_done => match item {
                Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => {
                    lines.push(Stream::Stdout, &message, on_line)
                }
                Some(Ok(LogOutput::StdErr { message })) => lines.push(Stream::Stderr, &message, on_line),
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => return Err(docker_error("reading the step's output", &e)),
                None => output_done = true,
            },
            waited = wait.next(), if exit_code.is_none() => {
                exit_code = Some(match waited {
                    Some(Ok(r)) => r.status_code,
                    // bollard reports a non-zero exit as an error; here it is just the outcome.
                    Some(Err(BollardError::DockerContainerWaitError { code, error })) => {
                        if !error.is_empty() {
                            tracing::debug!("waiting for {name}: {error}");
                        }
                        code
                    }
                    Some(Err(e)) => return Err(docker_error("waiting for the step to finish", &e)),
                    None => return Err(ExecError::Docker(
                        "waiting for the step to finish: Docker closed the wait without an exit code".into(),
                    )),
                });
            },
            lost = &mut heartbeat => return Err(ExecError::Docker(format!("running the step: {lost}"))),
        }
    }
}

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
    let dockerfile = if spec.dockerfile.is_empty() {
        "Dockerfile"
    } else {
        spec.dockerfile.as_str()
    };
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
                on_line(Line {
                    stream: Stream::Stderr,
                    text: text.to_string(),
                });
            }
            return Err(ExecError::Build(message));
        }
        Ok(Err(Failure::Docker(e))) => {
            return Err(docker_error(&format!("building {}", spec.tag), &e))
        }
        Ok(Ok(short_id)) => short_id,
    };
    // The short id from "Successfully built" names exactly this build's image; the tag is the
    // fallback for builders that do not print it.
    let reference = short_id.as_deref().unwrap_or(&spec.tag);
    let image = call(
        &format!("inspecting the built image {}", spec.tag),
        docker.inspect_image(reference),
    )
    .await?;
    image
        .id
        .ok_or_else(|| ExecError::Docker(format!("the built image {} has no id", spec.tag)))
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
        let progress = info
            .progress_detail
            .as_ref()
            .is_some_and(|p| p.current.is_some() || p.total.is_some());
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

/// Resolves once `cancel` holds true; never, once its sender is gone.
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    loop {
        if *cancel.borrow_and_update() {
            return;
        }
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Runs `work` while pinging the host; gives up with the reason once the host stops answering.
async fn with_heartbeat<T>(docker: &Docker, work: impl Future<Output = T>) -> Result<T, String> {
    tokio::select! {
        r = work => Ok(r),
        lost = heartbeat(docker) => Err(lost),
    }
}

/// Resolves only when the host fails a ping, with the reason.
async fn heartbeat(docker: &Docker) -> String {
    loop {
        tokio::time::sleep(HEARTBEAT_EVERY).await;
        match tokio::time::timeout(HEARTBEAT_TIMEOUT, docker.ping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return format!("the Docker host stopped answering ({})", describe(&e)),
            Err(_) => {
                return format!(
                    "the Docker host stopped answering (no reply to a ping within {} s)",
                    HEARTBEAT_TIMEOUT.as_secs()
                )
            }
        }
    }
}

async fn bounded<T>(work: impl Future<Output = T>) -> Result<T, ()> {
    tokio::time::timeout(CALL_TIMEOUT, work)
        .await
        .map_err(|_| ())
}

/// One ordinary API call, bounded, its error saying what was being done.
async fn call<T>(
    what: &str,
    work: impl Future<Output = Result<T, BollardError>>,
) -> Result<T, ExecError> {
    match bounded(work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(docker_error(what, &e)),
        Err(()) => Err(no_answer(what)),
    }
}

fn no_answer(what: &str) -> ExecError {
    ExecError::Docker(format!(
        "{what}: the Docker host did not answer within {} s",
        CALL_TIMEOUT.as_secs()
    ))
}

/// Step images are never pulled implicitly: a run uses what the host has, so a typo or a
/// missing `docker pull` says so instead of fetching something unexpected.
async fn require_image(docker: &Docker, image: &str) -> Result<(), ExecError> {
    match bounded(docker.inspect_image(image)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if status(&e) == Some(404) => {
            Err(ExecError::ImageMissing(image.to_string(), describe(&e)))
        }
        Ok(Err(e)) => Err(docker_error(&format!("looking up image {image}"), &e)),
        Err(()) => Err(no_answer(&format!("looking up image {image}"))),
    }
}

/// The image can vanish between the look-up and the create; that is still a missing image.
fn missing_image(e: ExecError, image: &str) -> ExecError {
    match e {
        ExecError::Docker(message) if message.contains("No such image") => {
            ExecError::ImageMissing(image.to_string(), message)
        }
        other => other,
    }
}

/// Force-removes a container, killing it if it runs; absence is fine, failures are only
/// logged because this runs on the way out of an operation that already has its result.
pub(crate) async fn remove_container(docker: &Docker, name: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    match tokio::time::timeout(
        CLEANUP_TIMEOUT,
        docker.remove_container(name, Some(options)),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) if status(&e) == Some(404) => {}
        // 409: removal already in progress, by us or by the daemon.
        Ok(Err(e)) if status(&e) == Some(409) => {}
        Ok(Err(e)) => tracing::warn!("could not remove container {name}: {}", describe(&e)),
        Err(_) => tracing::warn!(
            "could not remove container {name}: the Docker host did not answer within {} s",
            CLEANUP_TIMEOUT.as_secs()
        ),
    }
}

fn volume_mount(volume: &str, target: &str) -> Mount {
    Mount {
        target: Some(target.to_string()),
        source: Some(volume.to_string()),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    }
}

pub(crate) fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn docker_error(what: &str, e: &BollardError) -> ExecError {
    ExecError::Docker(format!("{what}: {}", describe(e)))
}

/// The daemon's own message when there is one, else the error and its causes.
pub(crate) fn describe(e: &BollardError) -> String {
    if let BollardError::DockerResponseServerError { message, .. } = e {
        return message.trim().to_string();
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        // bollard often repeats its cause in its own message.
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// Cuts output chunks into lines per stream: a chunk may end mid-line (or mid-character), and
/// stdout and stderr chunks interleave.
#[derive(Default)]
struct Splitter {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Splitter {
    fn push(&mut self, stream: Stream, bytes: &[u8], on_line: &mut impl FnMut(Line)) {
        let buf = match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = buf[start..].iter().position(|b| *b == b'\n') {
            emit(stream, &buf[start..start + end], on_line);
            start += end + 1;
        }
        buf.drain(..start);
        while buf.len() > MAX_LINE {
            // Back off to a character boundary so no character is split between pieces.
            let mut cut = MAX_LINE;
            while cut > MAX_LINE - 4 && (buf[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            emit(stream, &buf[..cut], on_line);
            buf.drain(..cut);
        }
    }

    /// Delivers what is left of a last line that had no newline.
    fn finish(&mut self, on_line: &mut impl FnMut(Line)) {
        for (stream, buf) in [
            (Stream::Stdout, &mut self.out),
            (Stream::Stderr, &mut self.err),
        ] {
            if !buf.is_empty() {
                emit(stream, buf, on_line);
                buf.clear();
            }
        }
    }
}

fn emit(stream: Stream, bytes: &[u8], on_line: &mut impl FnMut(Line)) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    on_line(Line {
        stream,
        text: String::from_utf8_lossy(bytes).into_owned(),
    });
}

/// Streams a tar of `root` from a blocking thread, so a large tree is never held in memory
/// whole; the stream becomes a request body through `bollard::body_try_stream`. The handle
/// reports the walk's own failure, which explains a failed request better than the aborted body
/// does.
fn tar_stream<B: From<Vec<u8>> + Send + 'static>(
    root: PathBuf,
    filter: Filter,
) -> (
    impl futures::Stream<Item = Result<B, io::Error>> + Send + 'static,
    tokio::task::JoinHandle<Result<(), String>>,
) {
    let (tx, mut rx) = mpsc::channel(8);
    let walker = tokio::task::spawn_blocking(move || {
        let writer = Chunks {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write_tar(&root, &filter, writer);
        if result.is_err() && tx.is_closed() {
            // The request went first (cancelled, host lost); its own error says why.
            return Ok(());
        }
        if let Err(e) = &result {
            // An aborted body makes the daemon reject the upload instead of accepting a
            // truncated tree.
            let _ = tx.blocking_send(Err(io::Error::other(e.clone())));
        }
        result
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (stream, walker)
}

const CHUNK: usize = 64 * 1024;

/// Writes the tar into the request body in chunks. Generic over the chunk type only so that
/// bollard's `Bytes` need not be named (it comes from a crate we do not depend on).
struct Chunks<B> {
    tx: mpsc::Sender<Result<B, io::Error>>,
    buf: Vec<u8>,
}

impl<B: From<Vec<u8>>> Write for Chunks<B> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(chunk.into()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the request was abandoned"))
    }
}

fn write_tar<B: From<Vec<u8>>>(
    root: &Path,
    filter: &Filter,
    writer: Chunks<B>,
) -> Result<(), String> {
    let mut tar = tar::Builder::new(writer);
    walk(&mut tar, root, "", filter)?;
    let mut writer = tar
        .into_inner()
        .map_err(|e| format!("finishing the tar: {e}"))?;
    writer.flush().map_err(|e| format!("sending the tar: {e}"))
}

/// Appends the entries under `dir` (relative path `rel`), sorted so the tar is the same for the
/// same tree. Owners become root: the desktop's uid means nothing on the Docker host.
fn walk<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    rel: &str,
    filter: &Filter,
) -> Result<(), String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries = read
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::warn!("skipping {}: the name is not UTF-8", path.display());
            continue;
        };
        if name == ".git" {
            continue;
        }
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let excluded = filter.excludes(&rel);
        let kind = meta.file_type();
        if kind.is_dir() {
            if !excluded {
                let mut header = header_for(&meta);
                header.set_size(0);
                tar.append_data(&mut header, format!("{rel}/"), io::empty())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if !excluded || filter.may_include_under(&rel) {
                walk(tar, &path, &rel, filter)?;
            }
            continue;
        }
        if excluded {
            continue;
        }
        let mut header = header_for(&meta);
        if kind.is_symlink() {
            let target =
                std::fs::read_link(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            header.set_size(0);
            tar.append_link(&mut header, &rel, &target)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        } else if kind.is_file() {
            let file =
                std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // Exactly the size in the header, even if the file grows while it is read.
            tar.append_data(&mut header, &rel, file.take(meta.len()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            tracing::debug!(
                "skipping {}: not a file, directory or symlink",
                path.display()
            );
        }
    }
    Ok(())
}

fn header_for(meta: &std::fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// Which paths stay out of a tar: `.git` always (in [`walk`]), and for a build context the
/// `.dockerignore` patterns, with Docker's semantics: `*` and `?` within one path segment, `**`
/// across segments, a pattern matching a directory excludes what is under it, `!` re-includes,
/// the last matching pattern wins. The Dockerfile and `.dockerignore` are always sent.
struct Filter {
    patterns: Vec<(bool, Vec<String>)>,
    keep: Vec<String>,
}

impl Filter {
    fn source() -> Self {
        Filter {
            patterns: Vec::new(),
            keep: Vec::new(),
        }
    }

    fn context(dir: &Path, dockerfile: &str) -> Result<Self, ExecError> {
        let keep = vec![
            dockerfile.trim_start_matches("./").to_string(),
            ".dockerignore".to_string(),
        ];
        let text = match std::fs::read_to_string(dir.join(".dockerignore")) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ExecError::Docker(format!(
                    "reading {}: {e}",
                    dir.join(".dockerignore").display()
                )))
            }
        };
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let segments: Vec<String> = pattern
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .map(str::to_string)
                .collect();
            if !segments.is_empty() {
                patterns.push((negated, segments));
            }
        }
        Ok(Filter { patterns, keep })
    }

    /// Whether an excluded directory must still be walked: an exception or a kept file may
    /// bring back something inside it.
    fn may_include_under(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns.iter().any(|(negated, _)| *negated)
            || self.keep.iter().any(|k| k.starts_with(&prefix))
    }

    fn excludes(&self, rel: &str) -> bool {
        if self.keep.iter().any(|k| k == rel) {
            return false;
        }
        let path: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for (negated, pattern) in &self.patterns {
            // A pattern that matches a parent directory matches everything under it.
            let hit = (1..=path.len()).any(|n| segments_match(pattern, &path[..n]));
            if hit {
                excluded = !negated;
            }
        }
        excluded
    }
}

fn segments_match(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| segments_match(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, more)) => {
                glob(first.as_bytes(), segment.as_bytes()) && segments_match(rest, more)
            }
            None => false,
        },
    }
}

/// `*`, `?`, `[...]` (with `^`/`!` negation and ranges) and `\` escapes, within one segment.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((b'[', rest)) => {
            let Some((&c, more_text)) = text.split_first() else {
                return false;
            };
            let Some(close) = rest.iter().skip(1).position(|b| *b == b']').map(|i| i + 1) else {
                return c == b'[' && glob(rest, more_text);
            };
            let (class, after) = (&rest[..close], &rest[close + 1..]);
            let (negated, class) = match class.first() {
                Some(b'^') | Some(b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob(after, more_text)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            text.first() == rest.first() && glob(&rest[1..], &text[1..])
        }
        Some((&p, rest)) => text.first() == Some(&p) && glob(rest, &text[1..]),
    }
}
