//! The Docker engine restarted in the middle of a deploy, on a Docker engine of the test's own
//! (the suite's shared one cannot be restarted under the other tests): the deploy ends with a
//! reason, never stays running; once Docker is back the last good release serves again with
//! only its own containers, and the next deploy works.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{env, finish, host, push, run, stage};
use crate::kit::*;

/// A second dockerd with its own data, exec root and socket, in a network namespace of its
/// own. Two daemons in one namespace fight over `docker0`: a second daemon that shares it
/// re-addresses it (the first one's published ports go dead), and one given another bridge
/// or `--bridge=none` deletes `docker0` when it restarts, under the suite's other tests. The
/// engine reaches it through its Unix socket only, and the edge is asked from inside. (This
/// is also what a second host is like: nothing shared but what Slipway connects to.)
struct PrivateDockerd {
    dir: tempfile::TempDir,
    exec_root: PathBuf,
    netns: String,
    child: Option<Child>,
}

impl PrivateDockerd {
    fn start_new() -> PrivateDockerd {
        let dir = tempfile::tempdir().unwrap();
        // The exec root holds containerd's sockets, whose paths must stay short.
        let exec_root = PathBuf::from(format!("/run/sw-d2-{}", std::process::id()));
        let netns = format!("sw-d2-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &netns]).output();
        let out = Command::new("ip").args(["netns", "add", &netns]).output().unwrap();
        assert!(out.status.success(), "ip netns add: {}", String::from_utf8_lossy(&out.stderr));
        let _ = Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"]).output();
        let mut d = PrivateDockerd { dir, exec_root, netns, child: None };
        d.start();
        for image in [busybox_image(), edge_image()] {
            let out = Command::new("sh").args(["-c", &format!("docker save {image} | docker -H {} load", d.host())]).output().unwrap();
            assert!(out.status.success(), "loading {image}: {}", String::from_utf8_lossy(&out.stderr));
        }
        d
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn start(&mut self) {
        let p = self.dir.path();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(p.join("dockerd.log")).unwrap();
        // nsenter, not `ip netns exec`: that one remounts /sys, and dockerd then finds no cgroups.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .args(["dockerd", "--iptables=false", "--ip6tables=false", "--storage-driver=vfs"])
            .arg(format!("--data-root={}", p.join("data").display()))
            .arg(format!("--exec-root={}", self.exec_root.display()))
            .arg(format!("--pidfile={}", p.join("docker.pid").display()))
            .arg(format!("--host={}", self.host()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("the private dockerd to answer", Duration::from_secs(60), || self.docker(&["version"]).status.success().then_some(()));
    }

    /// Stops dockerd as a system shutdown or an upgrade does (SIGTERM: it stops the containers
    /// and exits), and waits for it.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let until = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "dockerd did not stop within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").arg("-H").arg(self.host()).args(args).output().unwrap()
    }

    /// What the edge answers for `host` on /, asked from inside the edge container (its
    /// published port is in the daemon's namespace); None when it does not answer 2xx. (This
    /// busybox's wget crashes on `-T`: `timeout` bounds it instead, as the health probes do.)
    fn via_edge(&self, instance: &str, host: &str) -> Option<String> {
        let edge = format!("slipway-edge-{instance}");
        let header = format!("Host: {host}");
        let out = self.docker(&["exec", &edge, "timeout", "3", "wget", "-q", "-O", "-", "--header", &header, "http://127.0.0.1:80/"]);
        if !out.status.success() {
            eprintln!("the edge did not answer {host}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn names(&self, instance: &str, extra: &str) -> Vec<String> {
        let out = self.docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label=dev.slipway.instance={instance}"),
            "--filter",
            extra,
        ]);
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        names.sort();
        names
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            let all = self.docker(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&all.stdout).split_whitespace() {
                self.docker(&["rm", "-f", "-v", id]);
            }
        }
        self.stop();
        // vfs layers are plain directories; the exec root is outside the temporary directory.
        let _ = std::fs::remove_dir_all(&self.exec_root);
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
    }
}

/// The release's health endpoint appears only `healthy-after` seconds after start when that
/// file exists, which keeps a deploy in its health gate while Docker restarts.
fn slow_dockerfile() -> String {
    format!(
        "FROM {}\nCOPY . /www\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; if [ -f /www/healthy-after ]; then mv /www/health /www/health.later; (sleep $(cat /www/healthy-after); mv /www/health.later /www/health) & fi; httpd -f -p 80 -h /www & wait\"]\n",
        busybox_image()
    )
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docker_restarting_mid_deploy_ends_the_run_and_the_last_good_release_serves_again() {
    let mut d2 = PrivateDockerd::start_new();
    let root = tempfile::tempdir().unwrap();
    let df = slow_dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let mut vars = env(edge_port);
    vars.push(("DOCKER_HOST", d2.host()));
    let (_engine, base) = start_headless_env(dir.path(), &vars);
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    // A gate that waits up to a minute for health, so Docker goes away in the middle of it.
    let deploy =
        json!({"port": 80, "health": {"path": "/health", "interval_ms": 200, "timeout_ms": 1000, "retries": 3, "start_period_ms": 60000}});
    let stages = json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}))]);
    let (code, p) = api
        .send(Method::POST, "/projects", json!({"name": "dr", "repo_url": served.url, "forge": "git", "deploy": deploy, "stages": stages}))
        .await;
    assert_eq!(code, 201, "{p}");
    let r = finish(&api, run(&api, "dr", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(d2.via_edge(&instance, &host("dev", "dr")).as_deref(), Some("v1"));
    let v1_containers = d2.names(&instance, "label=dev.slipway.role=app");

    push(&served.work, &[("index.html", "v2\n"), ("healthy-after", "40\n")], &[], "v2, slow to get healthy");
    let id = run(&api, "dr", "dev", "main").await;
    let reached = Instant::now();
    loop {
        let r = api.get(&format!("/runs/{id}")).await;
        if r["steps"].as_array().unwrap().iter().any(|s| s["name"] == "health gate: new release" && s["status"] == "running") {
            break;
        }
        assert!(reached.elapsed() < Duration::from_secs(90), "the run never reached the health gate: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d2.stop();
    let stopped = Instant::now();
    let r = wait_run_end(&api, id, Duration::from_secs(90)).await;
    eprintln!("with Docker gone the run ended after {:?}: {} — {}", stopped.elapsed(), r["run"]["status"], r["run"]["reason"]);
    assert_ne!(r["run"]["status"], "succeeded", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.to_lowercase().contains("docker") || reason.contains("host"), "the reason names Docker or the host: {reason}");
    d2.start();

    // Docker starts the containers again (restart policy); the engine notices the host came
    // back and removes what the cut deploy left, and the edge serves v1 again.
    let back = Instant::now();
    loop {
        let apps = d2.names(&instance, "label=dev.slipway.role=app");
        let steps = d2.names(&instance, "label=dev.slipway.run");
        let got = d2.via_edge(&instance, &host("dev", "dr"));
        if apps == v1_containers && steps.is_empty() && got.as_deref() == Some("v1") {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "after Docker came back: app containers {apps:?} (v1's are {v1_containers:?}), step containers {steps:?}, the edge answers {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eprintln!("Docker back: v1 serving with only its containers after {:?}", back.elapsed());
    let live: Vec<Value> =
        api.get("/projects/dr/stages/dev/releases").await.as_array().unwrap().iter().filter(|r| r["status"] == "live").cloned().collect();
    assert_eq!(live.len(), 1, "{live:?}");

    // And the next deploy goes through as usual.
    push(&served.work, &[("index.html", "v3\n")], &["healthy-after"], "v3");
    let r = finish(&api, run(&api, "dr", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(d2.via_edge(&instance, &host("dev", "dr")).as_deref(), Some("v3"));
}

async fn wait_run_end(api: &Api, id: i64, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = api.get(&format!("/runs/{id}")).await;
        if !matches!(r["run"]["status"].as_str(), Some("queued" | "running")) {
            return r;
        }
        assert!(start.elapsed() < limit, "the run is still {} {limit:?} after Docker went away: {r}", r["run"]["status"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
