//! What an operator sees and does on a host: containers grouped by project, start/stop/restart/
//! remove, logs with follow, live CPU and memory, and the engine's event stream.
//!
//! Streams go out through a bounded `mpsc` channel, so a slow viewer slows the reading instead
//! of growing memory. Every stream is bounded in time as well: when nothing arrives for
//! [`HEARTBEAT_EVERY`], the host is pinged, and a host that no longer answers ends the stream
//! with an error naming it, rather than leaving the viewer waiting on a dead connection.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StatsOptionsBuilder, StopContainerOptionsBuilder,
};

use bollard::Docker;
use futures::{FutureExt, Stream, StreamExt};
pub use slipway_protocol::container::{
    ContainerAction, ContainerGroup, ContainerInfo, ContainerLogLine, ContainerStats, GroupKind, HostEvent, LogStream,
};
use tokio::sync::mpsc;

use crate::{Error, ErrorCode, Result};

/// Label Slipway puts on what it deploys.
pub const SLIPWAY_PROJECT_LABEL: &str = "dev.slipway.project";
pub const COMPOSE_PROJECT_LABEL: &str = "com.docker.compose.project";
const COMPOSE_SERVICE_LABEL: &str = "com.docker.compose.service";

/// How long a stream may stay silent before the host is pinged.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// One API call (list, inspect, start…), end to end. Stop gets its grace period on top.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines handed to the viewer at once, at most: big enough that a chatty container costs few
/// messages, small enough that a batch is never much memory.
const BATCH: usize = 2000;
/// How long a batch may wait for more lines once it has one.
const LINGER: Duration = Duration::from_millis(10);
/// A longer line is cut, so output without newlines cannot grow memory without bound.
const MAX_LINE: usize = 64 * 1024;

fn host_error(host: &str, what: &str, e: &bollard::errors::Error) -> Error {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError { status_code: 404, message } => Error::new(ErrorCode::NotFound, format!("host {host}: {message}")),
        E::DockerResponseServerError { status_code: 409 | 400 | 304, message } => {
            Error::new(ErrorCode::InvalidInput, format!("host {host}: cannot {what}: {message}"))
        }
        _ => Error::new(ErrorCode::HostUnreachable, format!("host {host}: {what} failed: {}", crate::adapters::docker::hosts::cause(e))),
    }
}

async fn bounded<T>(
    host: &str,
    what: &str,
    limit: Duration,
    fut: impl Future<Output = std::result::Result<T, bollard::errors::Error>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(host_error(host, what, &e)),
        Err(_) => Err(Error::new(ErrorCode::HostUnreachable, format!("host {host}: {what} got no answer within {} s", limit.as_secs()))),
    }
}

/// Every container on the host (running or not), as the view lists them.
pub async fn list(docker: &Docker, host: &str) -> Result<Vec<ContainerInfo>> {
    let opts = ListContainersOptionsBuilder::new().all(true).build();
    let summaries = bounded(host, "listing containers", CALL_TIMEOUT, docker.list_containers(Some(opts))).await?;
    Ok(summaries.into_iter().map(info).collect())
}

/// One container by id or name.
pub async fn inspect(docker: &Docker, host: &str, container: &str) -> Result<ContainerInfo> {
    // The list's summary has what the view shows (status with uptime, ports); inspect has the id.
    let full = bounded(host, &format!("inspecting {container}"), CALL_TIMEOUT, docker.inspect_container(container, None)).await?;
    let id = full.id.unwrap_or_default();
    let opts = ListContainersOptionsBuilder::new().all(true).filters(&HashMap::from([("id", vec![id.as_str()])])).build();
    let found = bounded(host, "listing containers", CALL_TIMEOUT, docker.list_containers(Some(opts))).await?;
    found.into_iter().next().map(info).ok_or_else(|| Error::new(ErrorCode::NotFound, format!("host {host}: no container {container}")))
}

pub fn group(containers: Vec<ContainerInfo>) -> Vec<ContainerGroup> {
    let mut groups: BTreeMap<(GroupKind, String), Vec<ContainerInfo>> = BTreeMap::new();
    for c in containers {
        let key = match (&c.slipway_project, &c.compose_project) {
            (Some(p), _) => (GroupKind::Slipway, p.clone()),
            (None, Some(p)) => (GroupKind::Compose, p.clone()),
            _ => (GroupKind::Standalone, String::new()),
        };
        groups.entry(key).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|((kind, name), mut containers)| {
            containers.sort_by(|a, b| a.name.cmp(&b.name));
            ContainerGroup { kind, name, containers }
        })
        .collect()
}

fn info(s: bollard::models::ContainerSummary) -> ContainerInfo {
    let labels = s.labels.unwrap_or_default();
    let status = s.status.unwrap_or_default();
    let health = ["(healthy)", "(unhealthy)", "(health: starting)"]
        .iter()
        .find(|h| status.contains(*h))
        .map(|h| h.trim_matches(|c| c == '(' || c == ')').trim_start_matches("health: ").to_string());
    let mut ports: Vec<String> = s
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let proto = p.typ.map(|t| t.to_string()).filter(|t| !t.is_empty()).unwrap_or_else(|| "tcp".into());
            match p.public_port {
                Some(public) => format!("{}:{public}->{}/{proto}", p.ip.unwrap_or_default(), p.private_port),
                None => format!("{}/{proto}", p.private_port),
            }
        })
        .collect();
    ports.sort();
    ports.dedup();
    ContainerInfo {
        id: s.id.unwrap_or_default(),
        name: s.names.unwrap_or_default().first().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default(),
        image: s.image.unwrap_or_default(),
        state: s.state.map(|st| st.to_string()).unwrap_or_default(),
        status,
        health,
        ports,
        created_at: s.created.unwrap_or(0) * 1000,
        compose_project: labels.get(COMPOSE_PROJECT_LABEL).cloned(),
        compose_service: labels.get(COMPOSE_SERVICE_LABEL).cloned(),
        slipway_project: labels.get(SLIPWAY_PROJECT_LABEL).cloned(),
    }
}

/// Start, stop, restart or remove. Stop and restart give the container `grace_secs` to exit
/// before it is killed; remove refuses a running container unless `force`.
pub async fn act(
    docker: &Docker,
    host: &str,
    container: &str,
    action: ContainerAction,
    grace_secs: Option<u32>,
    force: bool,
) -> Result<()> {
    let grace = grace_secs.unwrap_or(10).min(600);
    let limit = CALL_TIMEOUT + Duration::from_secs(grace as u64);
    match action {
        ContainerAction::Start => {
            bounded(host, &format!("starting {container}"), CALL_TIMEOUT, docker.start_container(container, None)).await
        }
        ContainerAction::Stop => {
            let opts = StopContainerOptionsBuilder::new().t(grace as i32).build();
            bounded(host, &format!("stopping {container}"), limit, docker.stop_container(container, Some(opts))).await
        }
        ContainerAction::Restart => {
            let opts = RestartContainerOptionsBuilder::new().t(grace as i32).build();
            bounded(host, &format!("restarting {container}"), limit, docker.restart_container(container, Some(opts))).await
        }
        ContainerAction::Remove => {
            let opts = RemoveContainerOptionsBuilder::new().force(force).build();
            bounded(host, &format!("removing {container}"), CALL_TIMEOUT, docker.remove_container(container, Some(opts))).await
        }
    }
}

/// The next item of `stream`, pinging the host whenever it stays silent for [`HEARTBEAT_EVERY`]:
/// a quiet container and a dead host look alike from the stream alone.
async fn next_alive<S: Stream + Unpin>(stream: &mut S, docker: &Docker, host: &str, what: &str) -> Result<Option<S::Item>> {
    loop {
        tokio::select! {
            item = stream.next() => return Ok(item),
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {
                crate::adapters::docker::hosts::ping(docker, host, HEARTBEAT_TIMEOUT).await.map_err(|e| {
                    Error::new(ErrorCode::HostUnreachable, format!("{} (while {what})", e.to_api().message))
                })?;
            }
        }
    }
}

/// Cuts output into lines per stream; a partial line waits for the rest of it.
#[derive(Default)]
struct Splitter {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Splitter {
    fn push(&mut self, chunk: LogOutput, lines: &mut Vec<ContainerLogLine>) {
        let (stream, bytes) = match chunk {
            LogOutput::StdErr { message } => (LogStream::Stderr, message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => (LogStream::Stdout, message),
            LogOutput::StdIn { .. } => return,
        };
        let buf = if stream == LogStream::Stdout { &mut self.out } else { &mut self.err };
        let mut rest: &[u8] = &bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let piece = &rest[..nl];
            let text = if buf.is_empty() {
                String::from_utf8_lossy(piece).into_owned()
            } else {
                buf.extend_from_slice(piece);
                let t = String::from_utf8_lossy(buf).into_owned();
                buf.clear();
                t
            };
            lines.push(ContainerLogLine { stream, line: text.strip_suffix('\r').map(String::from).unwrap_or(text) });
            rest = &rest[nl + 1..];
        }
        buf.extend_from_slice(rest);
        if buf.len() > MAX_LINE {
            lines.push(ContainerLogLine { stream, line: String::from_utf8_lossy(buf).into_owned() });
            buf.clear();
        }
    }

    fn finish(&mut self, lines: &mut Vec<ContainerLogLine>) {
        for (stream, buf) in [(LogStream::Stdout, &mut self.out), (LogStream::Stderr, &mut self.err)] {
            if !buf.is_empty() {
                lines.push(ContainerLogLine { stream, line: String::from_utf8_lossy(buf).into_owned() });
                buf.clear();
            }
        }
    }
}

/// Sends a container's output to `out` in batches: the last `tail` lines (all when None), then,
/// with `follow`, new lines as they come until the container stops or `out` is closed. A host
/// lost on the way ends it with an error naming the host, within about ten seconds.
pub async fn logs(
    docker: &Docker,
    host: &str,
    container: &str,
    tail: Option<u32>,
    follow: bool,
    out: mpsc::Sender<Vec<ContainerLogLine>>,
) -> Result<()> {
    let tail = tail.map(|t| t.to_string()).unwrap_or_else(|| "all".into());
    let opts = LogsOptionsBuilder::new().follow(follow).stdout(true).stderr(true).tail(&tail).build();
    let mut stream = docker.logs(container, Some(opts));
    let what = format!("following the logs of {container}");
    let mut split = Splitter::default();
    loop {
        let first = tokio::select! {
            item = next_alive(&mut stream, docker, host, &what) => item?,
            _ = out.closed() => return Ok(()),
        };
        let mut batch = Vec::new();
        let linger = tokio::time::Instant::now() + LINGER;
        let mut item = first;
        let ended = loop {
            match item {
                None => break true,
                Some(Err(e)) => {
                    let _ = out.send(std::mem::take(&mut batch)).await;
                    return Err(stream_error(host, &what, &e));
                }
                Some(Ok(chunk)) => split.push(chunk, &mut batch),
            }
            if batch.len() >= BATCH {
                break false;
            }
            // A chatty container arrives a line per read: gathering for a few milliseconds
            // turns thousands of messages to the viewer into a few, at no visible delay.
            item = match stream.next().now_or_never() {
                Some(next) => next,
                None => match tokio::time::timeout_at(linger, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => break false,
                },
            };
        };
        if ended {
            split.finish(&mut batch);
        }
        if !batch.is_empty() && out.send(batch).await.is_err() {
            return Ok(());
        }
        if ended {
            return if follow { ended_cleanly(docker, host, container).await } else { Ok(()) };
        }
    }
}

/// [`logs`] on a thread of its own, with its own runtime and its own client for `host`.
/// dockerd sends a chatty container's output one HTTP chunk per line; on a multi-thread runtime
/// each chunk wakes the reader from the connection task across threads, and those wake-ups were
/// most of the cost. Here both tasks share one thread.
pub async fn logs_on_own_thread(
    host: crate::domain::host::Host,
    default_endpoint: String,
    container: String,
    tail: Option<u32>,
    follow: bool,
    out: mpsc::Sender<Vec<ContainerLogLine>>,
) -> Result<()> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("slipway-logs".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(async {
                    let docker = crate::adapters::docker::hosts::connect(&host, &default_endpoint).await?;
                    logs(&docker, &host.name, &container, tail, follow, out).await
                }),
                Err(e) => Err(Error::new(ErrorCode::Internal, format!("cannot start the log reader: {e}"))),
            };
            let _ = done_tx.send(result);
        })
        .map_err(|e| Error::new(ErrorCode::Internal, format!("cannot start the log reader: {e}")))?;
    done_rx.await.unwrap_or_else(|_| Err(Error::new(ErrorCode::Internal, "the log reader stopped without a result".to_string())))
}

/// A follow ends when the container stops; ending while it still runs means the connection
/// went (an engine restart, a proxy), which the viewer must hear about.
async fn ended_cleanly(docker: &Docker, host: &str, container: &str) -> Result<()> {
    let state = bounded(host, &format!("inspecting {container}"), HEARTBEAT_TIMEOUT, docker.inspect_container(container, None)).await?;
    if state.state.and_then(|s| s.running).unwrap_or(false) {
        return Err(Error::new(
            ErrorCode::HostUnreachable,
            format!("host {host}: the log stream of {container} ended while the container still runs"),
        ));
    }
    Ok(())
}

fn stream_error(host: &str, what: &str, e: &bollard::errors::Error) -> Error {
    match host_error(host, what, e) {
        err if err.code() == ErrorCode::HostUnreachable => Error::new(
            ErrorCode::HostUnreachable,
            format!("host {host}: lost the connection while {what}: {}", crate::adapters::docker::full_chain(e)),
        ),
        err => err,
    }
}

/// Samples CPU and memory once a second into `out` until it is closed, the container stops,
/// or `samples` were sent.
pub async fn stats(docker: &Docker, host: &str, container: &str, samples: Option<u32>, out: mpsc::Sender<ContainerStats>) -> Result<()> {
    let opts = StatsOptionsBuilder::new().stream(true).one_shot(false).build();
    let mut stream = docker.stats(container, Some(opts));
    let what = format!("sampling {container}");
    let mut sent = 0u32;
    loop {
        let item = tokio::select! {
            item = next_alive(&mut stream, docker, host, &what) => item?,
            _ = out.closed() => return Ok(()),
        };
        match item {
            None => return Ok(()),
            Some(Err(e)) => return Err(stream_error(host, &what, &e)),
            Some(Ok(s)) => {
                if out.send(sample(container, &s)).await.is_err() {
                    return Ok(());
                }
                sent += 1;
                if samples.is_some_and(|n| sent >= n) {
                    return Ok(());
                }
            }
        }
    }
}

/// The same arithmetic as `docker stats`.
fn sample(container: &str, s: &bollard::models::ContainerStatsResponse) -> ContainerStats {
    let cpu = s.cpu_stats.as_ref();
    let pre = s.precpu_stats.as_ref();
    let total =
        |c: Option<&bollard::models::ContainerCpuStats>| c.and_then(|c| c.cpu_usage.as_ref()).and_then(|u| u.total_usage).unwrap_or(0);
    let system = |c: Option<&bollard::models::ContainerCpuStats>| c.and_then(|c| c.system_cpu_usage).unwrap_or(0);
    let cpu_delta = total(cpu).saturating_sub(total(pre)) as f64;
    let sys_delta = system(cpu).saturating_sub(system(pre)) as f64;
    let cpus = cpu
        .and_then(|c| c.online_cpus)
        .map(|n| n as f64)
        .or_else(|| cpu.and_then(|c| c.cpu_usage.as_ref()).and_then(|u| u.percpu_usage.as_ref()).map(|p| p.len() as f64))
        .unwrap_or(1.0);
    let cpu_percent = if sys_delta > 0.0 && cpu_delta > 0.0 { cpu_delta / sys_delta * cpus * 100.0 } else { 0.0 };
    let mem = s.memory_stats.as_ref();
    let usage = mem.and_then(|m| m.usage).unwrap_or(0);
    let cache = mem
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| st.get("inactive_file").or_else(|| st.get("total_inactive_file")).or_else(|| st.get("cache")).copied())
        .unwrap_or(0);
    ContainerStats {
        container_id: s.id.clone().unwrap_or_else(|| container.to_string()),
        cpu_percent: (cpu_percent * 10.0).round() / 10.0,
        mem_bytes: usage.saturating_sub(cache),
        mem_limit: mem.and_then(|m| m.limit).unwrap_or(0),
        at: crate::domain::now_ms(),
    }
}

/// Sends the host's Docker events (containers, images, networks, volumes) into `out` as they
/// happen, until `out` is closed or the host is lost.
pub async fn events(docker: &Docker, host_id: &str, host: &str, out: mpsc::Sender<HostEvent>) -> Result<()> {
    let filters = HashMap::from([("type", vec!["container", "image", "network", "volume"])]);
    let opts = EventsOptionsBuilder::new().filters(&filters).build();
    let mut stream = docker.events(Some(opts));
    let what = "following the engine's events";
    loop {
        let item = tokio::select! {
            item = next_alive(&mut stream, docker, host, what) => item?,
            _ = out.closed() => return Ok(()),
        };
        match item {
            None => return Err(Error::new(ErrorCode::HostUnreachable, format!("host {host}: the engine closed its event stream"))),
            Some(Err(e)) => return Err(stream_error(host, what, &e)),
            Some(Ok(m)) => {
                let attrs = m.actor.as_ref().and_then(|a| a.attributes.as_ref());
                let event = HostEvent {
                    host_id: host_id.to_string(),
                    kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                    action: m.action.unwrap_or_default(),
                    id: m.actor.as_ref().and_then(|a| a.id.clone()),
                    name: attrs.and_then(|a| a.get("name").cloned()),
                    time: m.time_nano.map(|n| n / 1_000_000).or(m.time.map(|t| t * 1000)).unwrap_or(0),
                };
                if out.send(event).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Runs a streaming operation and hands what it sends to `sink` (a Tauri channel, a counter)
/// until it ends or `sink` returns false. The operation's error, if any, is the result.
pub async fn drive<T>(work: impl Future<Output = Result<()>>, mut rx: mpsc::Receiver<T>, mut sink: impl FnMut(T) -> bool) -> Result<()> {
    tokio::pin!(work);
    let mut result = None;
    loop {
        tokio::select! {
            r = &mut work, if result.is_none() => result = Some(r),
            item = rx.recv() => match item {
                Some(v) => {
                    if !sink(v) {
                        return Ok(());
                    }
                }
                None => break,
            },
        }
    }
    match result {
        Some(r) => r,
        None => work.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes_shim::b;

    mod bytes_shim {
        pub fn b(s: &str) -> bollard::container::LogOutput {
            bollard::container::LogOutput::StdOut { message: s.as_bytes().to_vec().into() }
        }
    }

    #[test]
    fn lines_are_split_across_chunks_and_streams_kept_apart() {
        let mut s = Splitter::default();
        let mut lines = Vec::new();
        s.push(b("one\ntw"), &mut lines);
        s.push(LogOutput::StdErr { message: "oops\r\n".as_bytes().to_vec().into() }, &mut lines);
        s.push(b("o\n\x1b[31mred\x1b[0m"), &mut lines);
        s.finish(&mut lines);
        let got: Vec<(LogStream, &str)> = lines.iter().map(|l| (l.stream, l.line.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (LogStream::Stdout, "one"),
                (LogStream::Stderr, "oops"),
                (LogStream::Stdout, "two"),
                (LogStream::Stdout, "\x1b[31mred\x1b[0m")
            ]
        );
    }

    fn c(name: &str, slipway: Option<&str>, compose: Option<&str>) -> ContainerInfo {
        ContainerInfo {
            id: name.into(),
            name: name.into(),
            image: "i".into(),
            state: "running".into(),
            status: "Up".into(),
            health: None,
            ports: vec![],
            created_at: 0,
            compose_project: compose.map(String::from),
            compose_service: None,
            slipway_project: slipway.map(String::from),
        }
    }

    #[test]
    fn groups_by_slipway_then_compose_project() {
        let groups =
            group(vec![c("b", None, None), c("web", Some("shop"), Some("shop-prod")), c("db", None, Some("blog")), c("a", None, None)]);
        let shape: Vec<(GroupKind, &str, Vec<&str>)> =
            groups.iter().map(|g| (g.kind, g.name.as_str(), g.containers.iter().map(|c| c.name.as_str()).collect())).collect();
        assert_eq!(
            shape,
            vec![
                (GroupKind::Slipway, "shop", vec!["web"]),
                (GroupKind::Compose, "blog", vec!["db"]),
                (GroupKind::Standalone, "", vec!["a", "b"])
            ]
        );
    }
}
