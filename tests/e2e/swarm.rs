//! A stage with `target: swarm`: the release is a Swarm service on a Docker engine of the
//! test's own (a second dockerd in its own network namespace, made a single-node Swarm, reached
//! over TCP), and Swarm's own rolling update moves it, under load through that host's edge.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::deploys::{assert_clean, dockerfile, env, finish, host, push, releases, run, run_confirmed};
use crate::kit::*;
use crate::load::Load;
use crate::second_dockerd::PrivateDockerd;

/// The body the edge at `ip` answers for `name` with a 2xx, else what it did answer.
pub async fn answer(ip: &str, port: u16, name: &str) -> String {
    match get_on(ip, port, name, "/").await {
        (200..=299, body) => body,
        (0, error) => error,
        (status, _) => format!("HTTP {status}"),
    }
}

pub async fn wait_answer(ip: &str, port: u16, name: &str, want: &str) {
    let start = Instant::now();
    loop {
        let got = answer(ip, port, name).await;
        if got == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the edge answers {got:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A single-node Swarm in a dockerd of its own, reached over TCP as host `mgr`, and an engine
/// with project `project` whose stage `dev` (target: swarm, 2 replicas, rolling) deploys the
/// test image there.
pub struct OneSwarm {
    pub d2: PrivateDockerd,
    _root: tempfile::TempDir,
    pub served: Served,
    _dir: tempfile::TempDir,
    _engine: Guard,
    pub api: Api,
    pub edge_port: u16,
    pub ip: String,
    _cleanup: DockerCleanup,
}

impl OneSwarm {
    pub async fn start(project: &str) -> OneSwarm {
        let df = dockerfile();
        OneSwarm::start_with(project, &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]).await
    }

    /// [`OneSwarm::start`] with the repository's files given.
    pub async fn start_with(project: &str, files: &[(&str, &str)]) -> OneSwarm {
        let d2 = PrivateDockerd::start_linked();
        let out = d2.docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(out.status.success(), "swarm init: {}", String::from_utf8_lossy(&out.stderr));
        let ip = d2.address.clone().unwrap();
        let root = tempfile::tempdir().unwrap();
        let served = serve_repo_with(root.path(), files);
        let dir = tempfile::tempdir().unwrap();
        let edge_port = stable_port();
        let (engine, base) = start_headless_env(dir.path(), &env(edge_port));
        let api = Api::new(&base, dir.path());
        let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
        let cleanup = DockerCleanup(instance.clone());
        let endpoint = format!("tcp://{ip}:2375");
        let (code, h) = api.send(Method::POST, "/hosts", json!({"name": "mgr", "kind": "tcp", "endpoint": endpoint})).await;
        assert_eq!(code, 201, "{h}");
        let deploy = json!({"port": 80, "replicas": 2, "health": {"path": "/health", "interval_ms": 300, "timeout_ms": 1000, "retries": 2, "start_period_ms": 3000}});
        let dev = json!({"name": "dev", "branch_patterns": ["main"], "auto_deploy": false, "strategy": "rolling", "target": "swarm", "hosts": ["mgr"],
            "rollout": {"drain_secs": 2, "verify_secs": 2, "batch_size": 1}});
        let body = json!({"name": project, "repo_url": served.url, "forge": "git", "deploy": deploy, "stages": [dev]});
        let (code, p) = api.send(Method::POST, "/projects", body).await;
        assert_eq!(code, 201, "{p}");
        OneSwarm { d2, _root: root, served, _dir: dir, _engine: engine, api, edge_port, ip, _cleanup: cleanup }
    }
}

// Longer than 80 lines: one scenario told start to end, each step needing the state the one before left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swarm_rolls_a_service_forward_and_back_under_load_without_a_failed_request() {
    let s = OneSwarm::start("sw").await;
    let (api, served, d2, ip, edge_port) = (&s.api, &s.served, &s.d2, s.ip.as_str(), s.edge_port);
    let name = host("dev", "sw");

    let r = finish(api, run(api, "sw", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("Swarm service"), "{r}");
    wait_answer(ip, edge_port, &name, "v1").await;
    let services = d2.docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
    assert!(String::from_utf8_lossy(&services.stdout).contains(" 2/2"), "{}", String::from_utf8_lossy(&services.stdout));

    // v2 under load: Swarm starts each new task first, the edge follows tasks.<service>.
    push(&served.work, &[("index.html", "v2\n")], &[], "v2");
    let load = Load::start_at(ip, edge_port, &name, 6, true, None);
    let r = finish(api, run(api, "sw", "dev", "main").await).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_clean(&load.finish().await, "Swarm update v1 → v2 (keep-alive on)");
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let logs = api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    let old_leaving = logs.contains("(old release): running, shutting down") || logs.contains("(old release): shutdown");
    assert!(logs.contains("(new release): running") && old_leaving, "{logs}");
    wait_answer(ip, edge_port, &name, "v2").await;

    // v3 never gets healthy: Swarm rolls the update back on its own, nothing fails meanwhile.
    push(&served.work, &[("index.html", "v3\n")], &["health"], "v3 without health");
    let load = Load::start_at(ip, edge_port, &name, 6, true, None);
    let r = wait_status(api, run(api, "sw", "dev", "main").await, finished, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_clean(&load.finish().await, "Swarm rollback of an unhealthy v3 (keep-alive on)");
    assert_eq!(r["run"]["status"], "rolled_back", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("Swarm rolled the update back"), "{r}");
    assert_eq!(answer(ip, edge_port, &name).await, "v2");
    let rel = releases(api, "sw", "dev").await;
    assert_eq!((rel.len(), rel[0]["number"].as_i64()), (2, Some(2)), "{rel:?}");

    // A manual rollback to release 1 goes through Swarm's update too.
    let load = Load::start_at(ip, edge_port, &name, 6, false, None);
    let (code, v) = api.send(Method::POST, "/projects/sw/stages/dev/releases/1/rollback", json!({})).await;
    assert_eq!(code, 202, "{v}");
    let r = finish(api, v["run_id"].as_i64().unwrap()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_clean(&load.finish().await, "Swarm rollback to release 1 (keep-alive off)");
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    wait_answer(ip, edge_port, &name, "v1").await;
    let r = finish(api, run_confirmed(api, "sw", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "rolled_back", "main is still the unhealthy v3: {r}");
    assert_eq!(answer(ip, edge_port, &name).await, "v1");
}

/// The two services of the compose test: `web` (built, behind the edge) needs `api` healthy.
fn stack_file() -> String {
    format!(
        r#"services:
  web:
    build: web
    ports: ["80"]
    depends_on:
      api: {{condition: service_healthy}}
  api:
    image: {}
    environment: [V=one]
    command: ["sh", "-c", "mkdir -p /w && echo api-$$V > /w/i && exec httpd -f -p 8081 -h /w"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8081/i"]
      interval: 300ms
      retries: 5
"#,
        busybox_image()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compose_stack_of_two_services_runs_on_the_swarm_and_updates_without_a_failed_request() {
    let (c, df) =
        (stack_file(), format!("FROM {}\nCOPY . /www\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n", busybox_image()));
    let s =
        OneSwarm::start_with("st", &[("compose.yaml", &c), ("web/Dockerfile", &df), ("web/index.html", "v1\n"), ("web/health", "ok\n")])
            .await;
    let name = host("dev", "st");
    let r = finish(&s.api, run(&s.api, "st", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("Swarm stack of 2 services"), "{r}");
    let steps: Vec<&str> = r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let pos = |n: &str| steps.iter().position(|s| *s == n).unwrap_or_else(|| panic!("no step {n} in {steps:?}"));
    assert!(pos("swarm: rolling update api") < pos("swarm: create service web"), "api is healthy before web moves: {steps:?}");
    wait_answer(&s.ip, s.edge_port, &name, "v1").await;
    // web reaches api by its compose name, on the stack's own network.
    let out = s.d2.docker(&["ps", "-q", "--filter", "label=dev.slipway.service=web"]);
    let web = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string();
    let out = s.d2.docker(&["exec", &web, "wget", "-q", "-O", "-", "http://api:8081/i"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "api-one", "{}", String::from_utf8_lossy(&out.stderr));

    push(&s.served.work, &[("web/index.html", "v2\n")], &[], "v2");
    let load = Load::start_at(&s.ip, s.edge_port, &name, 6, true, None);
    let r = finish(&s.api, run(&s.api, "st", "dev", "main").await).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_clean(&load.finish().await, "Swarm stack update (keep-alive on)");
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    wait_answer(&s.ip, s.edge_port, &name, "v2").await;
    // The old web task may still be in its stop grace period when the update completes.
    let start = Instant::now();
    loop {
        let out = s.d2.docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
        let services = String::from_utf8_lossy(&out.stdout).to_string();
        if services.lines().filter(|l| l.ends_with(" 1/1")).count() == 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "both services run one task each on the Swarm: {services}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(releases(&s.api, "st", "dev").await[0]["number"], 2);
}
