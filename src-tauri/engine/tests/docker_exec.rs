//! Steps and builds against the real Docker engine on this machine (unix:///var/run/docker.sock).
//!
//! No registry is reachable, so the tests build their own image FROM scratch with the host's
//! static busybox, through `build_image` itself, and tag it `slipway-test/busybox:latest`; it is
//! kept between runs. Everything else a test creates (containers, volumes, other images) it
//! removes; names carry the process id so parallel tests and runs do not collide.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use slipway_engine::adapters::docker::exec::{
    build_image, create_workspace, remove_workspace, run_step, BuildSpec, ExecError, Line, StepSpec, Stream, Workspace,
};
use tokio::sync::{watch, OnceCell};

const BUSYBOX: &str = "slipway-test/busybox:latest";
const SOCKET: &str = "/var/run/docker.sock";

/// The busybox build, done once per test binary; its output lines are kept for the build test.
static BUSYBOX_BUILD: OnceCell<(String, Vec<Line>)> = OnceCell::const_new();

async fn docker() -> Docker {
    Docker::connect_with_unix(SOCKET, 120, bollard::API_DEFAULT_VERSION)
        .expect("docker client")
        // bollard 0.21 speaks API 1.53 by default; Debian's 20.10 engine refuses anything above 1.41.
        .negotiate_version()
        .await
        .expect("the Docker engine answers")
}

fn labels() -> HashMap<String, String> {
    HashMap::from([("dev.slipway.test".to_string(), "docker_exec".to_string())])
}

fn name(what: &str) -> String {
    format!("slipway-test-{}-{what}", std::process::id())
}

fn no_cancel() -> watch::Receiver<bool> {
    // The sender is dropped at once: a cancel that can never come.
    watch::channel(false).1
}

async fn busybox() -> &'static (String, Vec<Line>) {
    BUSYBOX_BUILD
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("Dockerfile"),
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\nCMD [\"sh\"]\n",
            )
            .unwrap();
            std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
            let spec = BuildSpec {
                context_dir: dir.path().to_path_buf(),
                dockerfile: "Dockerfile".into(),
                target: None,
                build_args: HashMap::new(),
                tag: BUSYBOX.into(),
                labels: HashMap::from([("dev.slipway.commit".to_string(), "busybox-test".to_string())]),
            };
            let mut lines = Vec::new();
            let started = Instant::now();
            let id = build_image(&docker().await, &spec, no_cancel(), |l| lines.push(l))
                .await
                .unwrap_or_else(|e| panic!("building the busybox image: {e}\n{lines:#?}"));
            eprintln!("busybox image built in {:?}", started.elapsed());
            (id, lines)
        })
        .await
}

fn step(container: &str, commands: &[&str]) -> StepSpec {
    StepSpec {
        container_name: container.to_string(),
        image: BUSYBOX.to_string(),
        commands: commands.iter().map(|c| c.to_string()).collect(),
        files_in: None,
        collect: None,
        network: None,
        env: vec![],
        workdir: "/src".into(),
        timeout: Duration::from_secs(60),
        labels: labels(),
    }
}

/// Runs a step to completion, collecting its lines.
async fn run(docker: &Docker, ws: Option<&Workspace>, spec: &StepSpec) -> (Result<i64, ExecError>, Vec<Line>) {
    let mut lines = Vec::new();
    let result = run_step(docker, ws, spec, no_cancel(), |l| lines.push(l)).await.map(|o| o.exit_code);
    (result, lines)
}

fn texts(lines: &[Line], stream: Stream) -> Vec<String> {
    lines.iter().filter(|l| l.stream == stream).map(|l| l.text.clone()).collect()
}

async fn container_exists(docker: &Docker, name: &str) -> bool {
    match docker.inspect_container(name, None).await {
        Ok(_) => true,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => false,
        Err(e) => panic!("inspecting {name}: {e}"),
    }
}

async fn volume_exists(docker: &Docker, name: &str) -> bool {
    match docker.inspect_volume(name).await {
        Ok(_) => true,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => false,
        Err(e) => panic!("inspecting volume {name}: {e}"),
    }
}

async fn workspace(docker: &Docker, volume: &str, dir: &Path) -> Workspace {
    create_workspace(docker, volume, dir, BUSYBOX, &labels()).await.unwrap_or_else(|e| panic!("creating workspace {volume}: {e}"))
}

#[tokio::test]
async fn builds_the_busybox_image_with_its_label_and_output() {
    let docker = docker().await;
    let (id, lines) = busybox().await;
    assert!(id.starts_with("sha256:"), "{id}");
    let out = texts(lines, Stream::Stdout);
    // The labels come last, as a LABEL step of their own: "Step 1/5 : FROM scratch".
    assert!(out.iter().any(|l| l.starts_with("Step 1/") && l.ends_with(" : FROM scratch")), "{out:#?}");
    assert!(out.iter().any(|l| l.starts_with("Successfully tagged")), "{out:#?}");
    assert!(out.iter().all(|l| !l.ends_with('\n')), "{out:#?}");
    let image = docker.inspect_image(BUSYBOX).await.unwrap();
    assert_eq!(image.id.as_deref(), Some(id.as_str()));
    let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get("dev.slipway.commit").map(String::as_str), Some("busybox-test"));
}

#[tokio::test]
async fn a_step_sees_the_workspace_and_streams_are_told_apart() {
    busybox().await;
    let docker = docker().await;
    let src = tempfile::tempdir().unwrap();
    let p = src.path();
    std::fs::write(p.join("hello.txt"), "hello from the source\n").unwrap();
    std::fs::create_dir_all(p.join("bin")).unwrap();
    std::fs::write(p.join("bin/run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::write(p.join("private.key"), "k").unwrap();
    std::fs::create_dir_all(p.join(".git/objects")).unwrap();
    std::fs::write(p.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p.join("bin/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(p.join("private.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("bin/run.sh", p.join("run")).unwrap();
    }
    let volume = name("ws-hello");
    let ws = workspace(&docker, &volume, p).await;
    assert!(!container_exists(&docker, &format!("{volume}-fill")).await, "the filler container is removed");

    let (result, lines) =
        run(&docker, Some(&ws), &step(&name("hello"), &["cat hello.txt && echo err >&2", "echo second", "echo err2 >&2"])).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(texts(&lines, Stream::Stdout), ["hello from the source", "second"]);
    assert_eq!(texts(&lines, Stream::Stderr), ["err", "err2"]);

    let (result, lines) = run(
        &docker,
        Some(&ws),
        &step(
            &name("modes"),
            &[
                "stat -c '%n %a %u' hello.txt bin/run.sh private.key",
                "test -L run && readlink run && ./run",
                "test ! -e .git && echo no-git",
            ],
        ),
    )
    .await;
    assert_eq!(result.unwrap(), 0, "{lines:#?}");
    assert_eq!(texts(&lines, Stream::Stdout), ["hello.txt 644 0", "bin/run.sh 755 0", "private.key 600 0", "bin/run.sh", "ran", "no-git"]);

    remove_workspace(&docker, &ws).await.unwrap();
    assert!(!volume_exists(&docker, &volume).await);
    // Removing it again is not an error.
    remove_workspace(&docker, &ws).await.unwrap();
}

#[tokio::test]
async fn a_failing_command_fails_the_step_with_its_code() {
    busybox().await;
    let docker = docker().await;
    let container = name("exit3");
    let (result, lines) = run(&docker, None, &step(&container, &["echo before", "exit 3", "echo after"])).await;
    assert_eq!(result.unwrap(), 3);
    assert_eq!(texts(&lines, Stream::Stdout), ["before"]);
    // `sh -e`: a failing command in the middle stops the script too.
    let (result, lines) = run(&docker, None, &step(&container, &["echo one", "false", "echo two"])).await;
    assert_eq!(result.unwrap(), 1);
    assert_eq!(texts(&lines, Stream::Stdout), ["one"]);
    assert!(!container_exists(&docker, &container).await);
}

#[tokio::test]
async fn env_workdir_and_a_last_line_without_newline() {
    busybox().await;
    let docker = docker().await;
    let mut spec = step(&name("env"), &["pwd", "echo \"$GREETING\"", "printf 'crlf\\r\\n\\033[32mgreen\\033[0m\\r\\nno newline'"]);
    spec.env = vec![("GREETING".into(), "hi there".into())];
    spec.workdir = "/work/dir".into();
    let (result, lines) = run(&docker, None, &spec).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(texts(&lines, Stream::Stdout), ["/work/dir", "hi there", "crlf", "\u{1b}[32mgreen\u{1b}[0m", "no newline"]);
}

#[tokio::test]
async fn outputs_stay_in_the_workspace_for_later_steps() {
    busybox().await;
    let docker = docker().await;
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("input.txt"), "in\n").unwrap();
    let volume = name("ws-outputs");
    let ws = workspace(&docker, &volume, src.path()).await;

    let (result, _) =
        run(&docker, Some(&ws), &step(&name("write"), &["mkdir -p dist", "cat input.txt > dist/out.txt", "echo built >> dist/out.txt"]))
            .await;
    assert_eq!(result.unwrap(), 0);
    let (result, lines) = run(&docker, Some(&ws), &step(&name("read"), &["cat dist/out.txt"])).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(texts(&lines, Stream::Stdout), ["in", "built"]);
    remove_workspace(&docker, &ws).await.unwrap();
}

#[tokio::test]
async fn a_step_past_its_timeout_is_killed_and_removed() {
    busybox().await;
    let docker = docker().await;
    let container = name("timeout");
    let mut spec = step(&container, &["echo started", "sleep 30"]);
    // 3 s, not 1: on a loaded 2-core machine with vfs storage, creating and starting the
    // container alone can take over a second, and the step's first line must get out.
    spec.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let (result, lines) = run(&docker, None, &spec).await;
    let took = started.elapsed();
    eprintln!("timed-out step returned after {took:?}");
    assert!(matches!(result, Err(ExecError::TimedOut(d)) if d == Duration::from_secs(3)), "{result:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(texts(&lines, Stream::Stdout), ["started"]);
    assert!(!container_exists(&docker, &container).await);
}

#[tokio::test]
async fn a_cancelled_step_stops_promptly_and_is_removed() {
    busybox().await;
    let docker = docker().await;
    let container = name("cancel");
    let spec = step(&container, &["echo started", "sleep 30"]);
    let (cancel, cancelled) = watch::channel(false);
    let flipped = Arc::new(Mutex::new(None::<Instant>));
    let flip = flipped.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watching = seen.clone();
    let canceller = tokio::spawn(async move {
        // Cancel once the step is surely running (its first line is out), however slow the
        // machine is to start containers.
        let until = Instant::now() + Duration::from_secs(30);
        while watching.lock().unwrap().is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        *flip.lock().unwrap() = Some(Instant::now());
        cancel.send(true).unwrap();
        cancel // kept alive so the receiver does not see a closed channel first
    });
    let sink = seen.clone();
    let result = run_step(&docker, None, &spec, cancelled, move |l| sink.lock().unwrap().push(l)).await;
    let lines = seen.lock().unwrap().clone();
    let took = flipped.lock().unwrap().expect("cancel was sent").elapsed();
    eprintln!("cancelled step returned {took:?} after the cancel");
    assert!(matches!(result, Err(ExecError::Cancelled)), "{:?}", result.map(|o| o.exit_code));
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(texts(&lines, Stream::Stdout), ["started"]);
    assert!(!container_exists(&docker, &container).await);
    drop(canceller.await.unwrap());

    // Already cancelled: nothing is even created.
    let (cancel, cancelled) = watch::channel(true);
    let result = run_step(&docker, None, &spec, cancelled, |_| {}).await;
    assert!(matches!(result, Err(ExecError::Cancelled)));
    drop(cancel);
}

#[tokio::test]
async fn a_missing_image_is_named_and_not_pulled() {
    let docker = docker().await;
    let container = name("missing");
    let mut spec = step(&container, &["true"]);
    spec.image = "slipway-test/no-such-image:nope".into();
    let (result, _) = run(&docker, None, &spec).await;
    match result {
        Err(e @ ExecError::ImageMissing(..)) => {
            let message = e.to_string();
            assert!(message.contains("slipway-test/no-such-image:nope"), "{message}");
            assert!(message.contains("No such image"), "{message}");
        }
        other => panic!("expected ImageMissing, got {other:?}"),
    }
    assert!(!container_exists(&docker, &container).await);

    let src = tempfile::tempdir().unwrap();
    let volume = name("ws-missing");
    let result = create_workspace(&docker, &volume, src.path(), "slipway-test/no-such-image:nope", &labels()).await;
    assert!(matches!(result, Err(ExecError::ImageMissing(..))), "{:?}", result.err());
    assert!(!volume_exists(&docker, &volume).await);
}

#[tokio::test]
async fn an_unreadable_source_fails_the_workspace_and_leaves_nothing() {
    busybox().await;
    let docker = docker().await;
    let volume = name("ws-nosource");
    let result = create_workspace(&docker, &volume, Path::new("/no/such/source"), BUSYBOX, &labels()).await;
    match result {
        Err(ExecError::Docker(message)) => {
            assert!(message.starts_with("reading the source tree: /no/such/source"), "{message}")
        }
        other => panic!("expected a Docker error, got {:?}", other.map(|w| w.volume)),
    }
    assert!(!volume_exists(&docker, &volume).await);
    assert!(!container_exists(&docker, &format!("{volume}-fill")).await);
}

// The image builds: Dockerfile errors, the context, cancelling.
#[path = "docker_exec/build.rs"]
mod build;

#[tokio::test]
async fn ten_thousand_lines_all_arrive_in_order() {
    busybox().await;
    let docker = docker().await;
    let started = Instant::now();
    let (result, lines) = run(&docker, None, &step(&name("seq"), &["seq 1 10000", "seq 1 500 >&2"])).await;
    eprintln!("10,000-line step took {:?}", started.elapsed());
    assert_eq!(result.unwrap(), 0);
    let expected: Vec<String> = (1..=10000).map(|n| n.to_string()).collect();
    assert_eq!(texts(&lines, Stream::Stdout), expected);
    let expected: Vec<String> = (1..=500).map(|n| n.to_string()).collect();
    assert_eq!(texts(&lines, Stream::Stderr), expected);
}

#[tokio::test]
async fn a_stale_container_of_the_same_name_is_replaced() {
    busybox().await;
    let docker = docker().await;
    let container = name("stale");
    start_sleeper(&docker, &container).await;
    let (result, lines) = run(&docker, None, &step(&container, &["echo fresh"])).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(texts(&lines, Stream::Stdout), ["fresh"]);
    assert!(!container_exists(&docker, &container).await);
}

/// Starts a busybox container named `name` that only sleeps (10 minutes), for tests that need
/// one running.
async fn start_sleeper(docker: &Docker, name: &str) {
    let body = bollard::models::ContainerCreateBody {
        image: Some(BUSYBOX.into()),
        cmd: Some(vec!["sleep".into(), "600".into()]),
        labels: Some(labels()),
        ..Default::default()
    };
    let options = bollard::query_parameters::CreateContainerOptionsBuilder::default().name(name).build();
    docker.create_container(Some(options), body).await.unwrap();
    docker.start_container(name, None).await.unwrap();
}

/// A socket that forwards to the real engine until `frozen` is set, then holds every byte: a
/// Docker host that stops answering without closing anything.
async fn freezable_proxy(path: &Path, frozen: Arc<AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    async fn pump(mut from: impl tokio::io::AsyncRead + Unpin, mut to: impl tokio::io::AsyncWrite + Unpin, frozen: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while frozen.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let frozen = frozen.clone();
            tokio::spawn(async move {
                while frozen.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let Ok(upstream) = tokio::net::UnixStream::connect(SOCKET).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                tokio::join!(pump(cr, uw, frozen.clone()), pump(ur, cw, frozen));
            });
        }
    });
}

#[tokio::test]
async fn a_host_that_stops_answering_mid_step_ends_in_an_error() {
    busybox().await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let frozen = Arc::new(AtomicBool::new(false));
    freezable_proxy(&socket, frozen.clone()).await;
    let proxied =
        Docker::connect_with_unix(socket.to_str().unwrap(), 120, bollard::API_DEFAULT_VERSION).unwrap().negotiate_version().await.unwrap();
    let container = name("frozen");
    let mut spec = step(&container, &["echo started", "sleep 120"]);
    spec.timeout = Duration::from_secs(600);
    let mut frozen_at = None;
    let result = run_step(&proxied, None, &spec, no_cancel(), |l| {
        if l.text == "started" {
            frozen.store(true, Ordering::SeqCst);
            frozen_at = Some(Instant::now());
        }
    })
    .await;
    let took = frozen_at.expect("the step started").elapsed();
    eprintln!("lost host noticed {took:?} after it froze: {:?}", result.as_ref().err());
    match result {
        Err(ExecError::Docker(message)) => {
            assert!(message.contains("stopped answering"), "{message}")
        }
        other => panic!("expected a Docker error, got {:?}", other.map(|o| o.exit_code)),
    }
    assert!(took < Duration::from_secs(40), "{took:?}");
    // The proxied client could not remove it; the real socket can.
    frozen.store(false, Ordering::SeqCst);
    let docker = docker().await;
    let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
    // The step's own clean-up request was held by the proxy and reaches the daemon now, so the
    // first attempts may find a removal already in progress.
    let started = Instant::now();
    while container_exists(&docker, &container).await {
        if let Err(e) = docker.remove_container(&container, Some(options.clone())).await {
            eprintln!("removing {container} after {:?}: {e}", started.elapsed());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{container} is still there");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn the_futures_can_be_spawned() {
    fn send<T: Send>(_: T) {}
    let docker = Docker::connect_with_unix(SOCKET, 120, bollard::API_DEFAULT_VERSION).unwrap();
    let spec = step("x", &[]);
    send(run_step(&docker, None, &spec, no_cancel(), |_| {}));
    let build = BuildSpec {
        context_dir: ".".into(),
        dockerfile: String::new(),
        target: None,
        build_args: HashMap::new(),
        tag: "x".into(),
        labels: HashMap::new(),
    };
    send(build_image(&docker, &build, no_cancel(), |_| {}));
    let ws = Workspace { volume: "x".into() };
    send(remove_workspace(&docker, &ws));
    send(create_workspace(&docker, "x", Path::new("."), "x", &HashMap::new()));
}

async fn remove_image(docker: &Docker, tag: &str) {
    let options = bollard::query_parameters::RemoveImageOptionsBuilder::default().force(true).build();
    if let Err(e) = docker.remove_image(tag, Some(options), None).await {
        eprintln!("could not remove {tag}: {e}");
    }
}

/// The shell kept open in the edge: many commands through one exec, each with its own output
/// and exit code, none reading the next from the shell's input; a restart of the container or
/// a command past its time costs one command's speed, never a failure of the next.
#[tokio::test]
async fn a_kept_shell_runs_many_commands_through_one_exec() {
    use slipway_engine::services::deploy::shell::Pool;
    busybox().await;
    let docker = docker().await;
    let container = name("shell");
    start_sleeper(&docker, &container).await;
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let pool = Pool::default();
    let limit = Duration::from_secs(10);
    let awkward = "it's\n$HOME \"two\"\n\tlines";
    for _ in 0..20 {
        let out = pool.run(&docker, &container, &["sh", "-c", "echo \"out $0\"; echo err >&2; exit 3", awkward], limit).await.unwrap();
        assert_eq!(out.code, 3);
        assert_eq!(out.text, format!("out {awkward}\nerr\n"));
    }
    // `cat` would swallow the next commands if it read the shell's input.
    let out = pool.run(&docker, &container, &["cat"], limit).await.unwrap();
    assert_eq!((out.code, out.text.as_str()), (0, ""));
    let out = pool.run(&docker, &container, &["printf", "no newline"], limit).await.unwrap();
    assert_eq!((out.code, out.text.as_str()), (0, "no newline"));
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    assert_eq!(exec_creates(&docker, &container, since, until).await, 1, "22 commands, one exec");

    let err = pool.run(&docker, &container, &["sleep", "5"], Duration::from_millis(300)).await.unwrap_err();
    assert!(err.to_string().contains("no result within 0.3 s"), "{err}");
    let out = pool.run(&docker, &container, &["echo", "after the timeout"], limit).await.unwrap();
    assert_eq!(out.text, "after the timeout\n");

    docker
        .restart_container(&container, Some(bollard::query_parameters::RestartContainerOptionsBuilder::default().t(0).build()))
        .await
        .unwrap();
    let out = pool.run(&docker, &container, &["echo", "after the restart"], limit).await.unwrap();
    assert_eq!((out.code, out.text.as_str()), (0, "after the restart\n"));
    let out = pool.run(&docker, &container, &["false"], limit).await.unwrap();
    assert_eq!(out.code, 1);
    let _ = docker
        .remove_container(&container, Some(bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build()))
        .await;
}

/// How many execs were created in `container` between two times (seconds since the epoch).
async fn exec_creates(docker: &Docker, container: &str, since: u64, until: u64) -> usize {
    use futures::StreamExt;
    let filters = HashMap::from([("container", vec![container]), ("event", vec!["exec_create"])]);
    let opts = bollard::query_parameters::EventsOptionsBuilder::new()
        .since(&since.to_string())
        .until(&until.to_string())
        .filters(&filters)
        .build();
    docker.events(Some(opts)).collect::<Vec<_>>().await.into_iter().filter(|e| e.is_ok()).count()
}
