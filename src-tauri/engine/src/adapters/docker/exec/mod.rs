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
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, BuilderVersion, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

mod archive;
mod build;
mod files;
mod network;
pub use network::{private_network, remove_network};

use archive::{tar_stream, Filter};
pub use build::build_image;

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
    /// failing command fails the step. Empty: the image's own entrypoint and command run.
    pub commands: Vec<String>,
    /// A tar unpacked at `/` in the container before it starts (a plugin's input).
    pub files_in: Option<Vec<u8>>,
    /// A directory read back as a tar after the step ends, and the most bytes it may hold.
    pub collect: Option<(String, usize)>,
    /// The network the step joins instead of the default one (after-deploy steps: the
    /// release's).
    pub network: Option<String>,
    pub env: Vec<(String, String)>,
    /// Where the workspace is mounted, and where the commands run.
    pub workdir: String,
    /// Counts from the call, so creating the container is included.
    pub timeout: Duration,
    pub labels: HashMap<String, String>,
}

pub struct StepOutcome {
    pub exit_code: i64,
    /// The collected directory as a tar (see [`StepSpec::collect`]); Err says why it is not.
    pub collected: Option<Result<Vec<u8>, String>>,
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
    let volume = VolumeCreateRequest { name: Some(name.to_string()), labels: Some(labels.clone()), ..Default::default() };
    call(&format!("creating workspace volume {name}"), docker.create_volume(volume)).await?;
    let ws = Workspace { volume: name.to_string() };
    let filler = format!("{name}-fill");
    let filled = fill(docker, &ws, &filler, source_dir, image, labels).await;
    remove_container(docker, &filler).await;
    if let Err(e) = filled {
        if let Err(cleanup) = remove_workspace(docker, &ws).await {
            tracing::warn!("could not remove workspace volume {name} after a failed fill: {cleanup}");
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
        host_config: Some(HostConfig { mounts: Some(vec![volume_mount(&ws.volume, "/src")]), ..Default::default() }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(filler).build();
    call("creating the container that fills the workspace", docker.create_container(Some(options), body))
        .await
        .map_err(|e| missing_image(e, image))?;

    let (tar, walker) = tar_stream(source_dir.to_path_buf(), Filter::source());
    let upload = UploadToContainerOptionsBuilder::default().path("/src").build();
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
        Err(lost) => Err(ExecError::Docker(format!("uploading the source into the workspace: {lost}"))),
    }
}

/// Removes the volume; one already gone counts as removed.
pub async fn remove_workspace(docker: &Docker, ws: &Workspace) -> Result<(), ExecError> {
    let options = RemoveVolumeOptionsBuilder::default().force(true).build();
    match bounded(docker.remove_volume(&ws.volume, Some(options))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if status(&e) == Some(404) => Ok(()),
        Ok(Err(e)) => Err(docker_error(&format!("removing workspace volume {}", ws.volume), &e)),
        Err(()) => Err(no_answer(&format!("removing workspace volume {}", ws.volume))),
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
    // Read before the container goes; a step that failed publishes nothing.
    let collected = match (&result, &spec.collect) {
        (Ok(0), Some((dir, limit))) => Some(files::take_dir(docker, &spec.container_name, dir, *limit).await),
        _ => None,
    };
    // Force-removal kills a step that is still running; busybox-style PID 1s ignore SIGTERM,
    // so there is no point in a polite stop first.
    remove_container(docker, &spec.container_name).await;
    result.map(|exit_code| StepOutcome { exit_code, collected })
}

/// The step's container: its image, script, environment and workspace.
fn step_body(spec: &StepSpec, ws: Option<&Workspace>) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        // The entrypoint is replaced so that images built around a program (an ENTRYPOINT of
        // `node`, say) still run the step's shell script.
        entrypoint: (!spec.commands.is_empty()).then(|| vec!["sh".into(), "-e".into(), "-c".into()]),
        cmd: (!spec.commands.is_empty()).then(|| vec![spec.commands.join("\n")]),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: Some(spec.workdir.clone()),
        labels: Some(spec.labels.clone()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        host_config: Some(HostConfig {
            mounts: ws.map(|ws| vec![volume_mount(&ws.volume, &spec.workdir)]),
            network_mode: spec.network.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
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

    let body = step_body(spec, ws);
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    call("creating the step container", docker.create_container(Some(options), body)).await.map_err(|e| missing_image(e, &spec.image))?;
    if let Some(tar) = &spec.files_in {
        files::put(docker, name, tar.clone()).await?;
    }

    // Attached before the start so that not a byte is missed, and independent of the host's
    // log driver, which may keep nothing readable.
    let attach = AttachContainerOptionsBuilder::default().stream(true).stdout(true).stderr(true).build();
    let mut output = call("attaching to the step container", docker.attach_container(name, Some(attach))).await?.output;
    call("starting the step container", docker.start_container(name, None)).await?;

    let wait = WaitContainerOptionsBuilder::default().condition("not-running").build();
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
            Err(_) => return format!("the Docker host stopped answering (no reply to a ping within {} s)", HEARTBEAT_TIMEOUT.as_secs()),
        }
    }
}

async fn bounded<T>(work: impl Future<Output = T>) -> Result<T, ()> {
    tokio::time::timeout(CALL_TIMEOUT, work).await.map_err(|_| ())
}

/// One ordinary API call, bounded, its error saying what was being done.
async fn call<T>(what: &str, work: impl Future<Output = Result<T, BollardError>>) -> Result<T, ExecError> {
    match bounded(work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(docker_error(what, &e)),
        Err(()) => Err(no_answer(what)),
    }
}

fn no_answer(what: &str) -> ExecError {
    ExecError::Docker(format!("{what}: the Docker host did not answer within {} s", CALL_TIMEOUT.as_secs()))
}

/// Step images are never pulled implicitly: a run uses what the host has, so a typo or a
/// missing `docker pull` says so instead of fetching something unexpected.
async fn require_image(docker: &Docker, image: &str) -> Result<(), ExecError> {
    match bounded(docker.inspect_image(image)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if status(&e) == Some(404) => Err(ExecError::ImageMissing(image.to_string(), describe(&e))),
        Ok(Err(e)) => Err(docker_error(&format!("looking up image {image}"), &e)),
        Err(()) => Err(no_answer(&format!("looking up image {image}"))),
    }
}

/// The image can vanish between the look-up and the create; that is still a missing image.
fn missing_image(e: ExecError, image: &str) -> ExecError {
    match e {
        ExecError::Docker(message) if message.contains("No such image") => ExecError::ImageMissing(image.to_string(), message),
        other => other,
    }
}

/// Force-removes a container, killing it if it runs; absence is fine, failures are only
/// logged because this runs on the way out of an operation that already has its result.
pub(crate) async fn remove_container(docker: &Docker, name: &str) {
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    match tokio::time::timeout(CLEANUP_TIMEOUT, docker.remove_container(name, Some(options))).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if status(&e) == Some(404) => {}
        // 409: removal already in progress, by us or by the daemon.
        Ok(Err(e)) if status(&e) == Some(409) => {}
        Ok(Err(e)) => tracing::warn!("could not remove container {name}: {}", describe(&e)),
        Err(_) => {
            tracing::warn!("could not remove container {name}: the Docker host did not answer within {} s", CLEANUP_TIMEOUT.as_secs())
        }
    }
}

fn volume_mount(volume: &str, target: &str) -> Mount {
    Mount { target: Some(target.to_string()), source: Some(volume.to_string()), typ: Some(MountType::VOLUME), ..Default::default() }
}

pub(crate) fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// True when the engine did not answer at all (its socket is gone, the connection was
/// refused or dropped, the SSH transport died), as opposed to an answer that is an error: the
/// host itself is away, so waiting on what runs there means nothing until it is back.
pub(crate) fn unreachable(e: &BollardError) -> bool {
    use std::io::ErrorKind as K;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = match e {
        BollardError::SocketNotFoundError(_) => return true,
        // bollard does not give its io error as the source.
        BollardError::IOError { err } => Some(err),
        _ => Some(e),
    };
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::NotFound | K::ConnectionRefused | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
            ) {
                return true;
            }
        }
        if c.to_string().contains("client error (Connect)") {
            return true;
        }
        cause = c.source();
    }
    false
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
        for (stream, buf) in [(Stream::Stdout, &mut self.out), (Stream::Stderr, &mut self.err)] {
            if !buf.is_empty() {
                emit(stream, buf, on_line);
                buf.clear();
            }
        }
    }
}

fn emit(stream: Stream, bytes: &[u8], on_line: &mut impl FnMut(Line)) {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    on_line(Line { stream, text: String::from_utf8_lossy(bytes).into_owned() });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_unreachable_when_it_did_not_answer_not_when_its_answer_is_an_error() {
        let io = |kind: std::io::ErrorKind| BollardError::IOError { err: std::io::Error::from(kind) };
        for (e, want) in [
            (BollardError::SocketNotFoundError("/run/docker.sock".into()), true),
            (io(std::io::ErrorKind::NotFound), true),
            (io(std::io::ErrorKind::ConnectionRefused), true),
            (io(std::io::ErrorKind::BrokenPipe), true),
            (io(std::io::ErrorKind::PermissionDenied), false),
            (BollardError::DockerResponseServerError { status_code: 500, message: "boom".into() }, false),
            (BollardError::DockerResponseServerError { status_code: 404, message: "No such container".into() }, false),
        ] {
            assert_eq!(unreachable(&e), want, "{e:?}");
        }
    }
}
