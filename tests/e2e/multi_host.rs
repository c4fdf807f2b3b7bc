//! A stage on two Docker hosts: the suite's engine (`local`) and a second dockerd in a network
//! namespace of its own (its own bridge), reached over TCP like another machine. One release
//! across both, each behind its own edge, under load through both edges.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{assert_clean, env, finish, host, kill_and_restart, push, releases, run, run_confirmed, stage, wait_step_running};
use crate::kit::*;
use crate::load::Load;
use crate::second_dockerd::PrivateDockerd;

/// The test image (also the benchmark's), which fails its health check on the second host when `sick-on-second`
/// exists: only there do containers get a 10.99.x.x address.
fn dockerfile() -> String {
    format!(
        "FROM {}\nCOPY . /www\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; if [ -f /www/sick-on-second ] && hostname -i | grep -q '^10[.]99[.]'; then rm -f /www/health; fi; httpd -f -p 80 -h /www & wait\"]\n",
        busybox_image()
    )
}

pub struct TwoHosts {
    _root: tempfile::TempDir,
    pub served: Served,
    dir: tempfile::TempDir,
    engine: Option<Guard>,
    pub api: Api,
    pub edge_port: u16,
    instance: String,
    d2: PrivateDockerd,
    _cleanup: DockerCleanup,
}

impl TwoHosts {
    pub async fn start(project: &str) -> TwoHosts {
        let d2 = PrivateDockerd::start_linked();
        let root = tempfile::tempdir().unwrap();
        let df = dockerfile();
        let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
        let dir = tempfile::tempdir().unwrap();
        let edge_port = stable_port();
        let (engine, base) = start_headless_env(dir.path(), &env(edge_port));
        let api = Api::new(&base, dir.path());
        let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
        let cleanup = DockerCleanup(instance.clone());
        let endpoint = format!("tcp://{}:2375", d2.address.as_deref().unwrap());
        let (code, h) = api.send(Method::POST, "/hosts", json!({"name": "web-2", "kind": "tcp", "endpoint": endpoint})).await;
        assert_eq!(code, 201, "{h}");
        let deploy = json!({"port": 80, "health": {"path": "/health", "interval_ms": 200, "timeout_ms": 1000, "retries": 3, "start_period_ms": 3000}});
        let mut dev = stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}));
        dev["hosts"] = json!(["local", "web-2"]);
        dev["parallel"] = json!(1);
        let body = json!({"name": project, "repo_url": served.url, "forge": "git", "deploy": deploy, "stages": [dev]});
        let (code, p) = api.send(Method::POST, "/projects", body).await;
        assert_eq!(code, 201, "{p}");
        TwoHosts { _root: root, served, dir, engine: Some(engine), api, edge_port, instance, d2, _cleanup: cleanup }
    }

    /// What each host's edge answers for the stage: (local, web-2).
    async fn answers(&self, project: &str) -> (String, String) {
        let name = host("dev", project);
        let second = self.d2.address.clone().unwrap();
        (crate::swarm::answer("127.0.0.1", self.edge_port, &name).await, crate::swarm::answer(&second, self.edge_port, &name).await)
    }

    /// What each host's edge answers on the stage's readiness path: (local, web-2).
    async fn readiness(&self, project: &str) -> ((u16, String), (u16, String)) {
        let name = host("dev", project);
        let second = self.d2.address.clone().unwrap();
        (
            get_on("127.0.0.1", self.edge_port, &name, "/.slipway/ready").await,
            get_on(&second, self.edge_port, &name, "/.slipway/ready").await,
        )
    }

    /// The app containers of this engine on each host: (local, web-2).
    fn containers(&self) -> (usize, usize) {
        (containers_with(&self.instance, "app").len(), self.d2.names(&self.instance, "label=dev.slipway.role=app").len())
    }

    pub fn loads(&self, project: &str, keep_alive: bool) -> (Load, Load) {
        let name = host("dev", project);
        let second = self.d2.address.clone().unwrap();
        (Load::start(self.edge_port, &name, 6, keep_alive), Load::start_at(&second, self.edge_port, &name, 6, keep_alive, None))
    }
}

async fn clean(load: (Load, Load), what: &str) {
    for (report, on) in [(load.0.finish().await, "local"), (load.1.finish().await, "web-2")] {
        assert_clean(&report, &format!("{what}, through {on}'s edge"));
    }
}

fn step_names(run: &Value) -> Vec<String> {
    run["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

// Longer than 80 lines: one scenario told start to end, each step needing the state the one before left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_release_reaches_both_hosts_one_at_a_time_and_a_host_that_fails_takes_both_back() {
    let s = TwoHosts::start("duo").await;
    let r = finish(&s.api, run(&s.api, "duo", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("on 2 hosts"), "{r}");
    let names = step_names(&r);
    let first = |n: &str| names.iter().position(|x| x == n).unwrap_or_else(|| panic!("no step {n}: {names:?}"));
    assert!(first("local: switch traffic") < first("web-2: prepare host"), "parallel: 1 switches one host, then the next: {names:?}");
    let log = s.api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    assert!(log.contains("web-2 lacks image") && log.contains("sending it from local"), "the image was streamed to web-2: {log}");
    assert_eq!(s.answers("duo").await, ("v1".to_string(), "v1".to_string()));
    let rel = releases(&s.api, "duo", "dev").await;
    assert_eq!(rel[0]["hosts"], json!(["local", "web-2"]), "{rel:?}");

    // v2 under load through both edges, keep-alive on, then a manual rollback with it off.
    push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
    let load = s.loads("duo", true);
    let r = finish(&s.api, run(&s.api, "duo", "dev", "main").await).await;
    clean(load, "v1 → v2 on two hosts (keep-alive on)").await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(s.answers("duo").await, ("v2".to_string(), "v2".to_string()));
    assert_eq!(s.containers(), (1, 1), "each host keeps only the live release's container");

    // web-2 drained for maintenance (by the command line): its readiness says so, it still
    // serves, and the drain outlives the rollback's reloads of both edges.
    let out = slipwayd(s.dir.path(), &["drain", "duo", "dev", "web-2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let drains: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((drains[0]["host_id"].as_str(), drains[0]["stage"].as_str()), (Some("web-2"), Some("dev")), "{drains}");
    let ready = ((200, "ready".to_string()), (503, "draining".to_string()));
    assert_eq!(s.readiness("duo").await, ready);
    assert_eq!(s.answers("duo").await, ("v2".to_string(), "v2".to_string()), "a drained host still serves");
    let (code, e) = s.api.send(Method::PUT, "/projects/duo/stages/dev/hosts/web-9/drain", json!({"drained": true})).await;
    assert_eq!(code, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("dev runs on local, web-2; \"web-9\" is not one of its hosts"), "{e}");

    let load = s.loads("duo", false);
    let (code, v) = s.api.send(Method::POST, "/projects/duo/stages/dev/releases/1/rollback", json!({})).await;
    assert_eq!(code, 202, "{v}");
    let r = finish(&s.api, v["run_id"].as_i64().unwrap()).await;
    clean(load, "rollback to release 1 on two hosts (keep-alive off)").await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(s.answers("duo").await, ("v1".to_string(), "v1".to_string()));
    assert_eq!(s.readiness("duo").await, ready, "the drain outlived the rollback");
    let (code, v) = s.api.send(Method::PUT, "/projects/duo/stages/dev/hosts/web-2/drain", json!({"drained": false})).await;
    assert_eq!((code, v), (200, json!([])));
    assert_eq!(s.readiness("duo").await.1, (200, "ready".to_string()));
    // The rollback pinned the stage: going forward again takes the confirmation.
    let r = finish(&s.api, run_confirmed(&s.api, "duo", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "back to v2: {r}");

    // v3 is unhealthy on web-2 only: local switched first and goes back; both stay on v2.
    push(&s.served.work, &[("index.html", "v3\n"), ("sick-on-second", "1\n")], &[], "v3, sick on the second host");
    let load = s.loads("duo", true);
    let r = finish(&s.api, run(&s.api, "duo", "dev", "main").await).await;
    clean(load, "v3, unhealthy on web-2").await;
    assert_eq!(r["run"]["status"], "rolled_back", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("web-2: ") && reason.contains("local went back to the previous release"), "{reason}");
    assert!(step_names(&r).contains(&"local: back to the previous release".to_string()), "{r}");
    assert_eq!(s.answers("duo").await, ("v2".to_string(), "v2".to_string()));
    assert_eq!(s.containers(), (1, 1), "v3's containers are gone from both hosts");
    let rel = releases(&s.api, "duo", "dev").await;
    assert_eq!((rel[0]["number"].as_i64(), rel[0]["status"].as_str()), (Some(4), Some("live")), "{rel:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_killed_between_the_two_hosts_comes_back_with_both_on_the_same_release() {
    let mut s = TwoHosts::start("halfway").await;
    let r = finish(&s.api, run(&s.api, "halfway", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    // v2 is sick on web-2, so its gate there waits out the start period: local has switched.
    push(&s.served.work, &[("index.html", "v2\n"), ("sick-on-second", "1\n")], &[], "v2");
    let id = run(&s.api, "halfway", "dev", "main").await;
    wait_step_running(&s.api, id, "web-2: health gate: new release").await;
    assert_eq!(s.answers("halfway").await.0, "v2", "local had switched before the crash");
    s.api = kill_and_restart(&mut s.engine, s.dir.path(), s.edge_port);
    assert_eq!(s.api.get(&format!("/runs/{id}")).await["run"]["status"], "interrupted");
    let start = Instant::now();
    loop {
        let (answers, containers) = (s.answers("halfway").await, s.containers());
        if answers == ("v1".to_string(), "v1".to_string()) && containers == (1, 1) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "after the crash: answers {answers:?}, containers {containers:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rel = releases(&s.api, "halfway", "dev").await;
    assert_eq!((rel.len(), rel[0]["status"].as_str()), (1, Some("live")), "{rel:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_naming_an_unknown_host_or_parallel_zero_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let mut dev = stage("dev", "blue-green", json!({}));
    dev["hosts"] = json!(["local", "web-9"]);
    let body = json!({"name": "nope", "repo_url": "http://127.0.0.1:1/x.git", "forge": "git", "stages": [dev.clone()]});
    let (code, e) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(code, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("dev names host \"web-9\", which is not a Docker host Slipway knows"), "{e}");
    dev["hosts"] = json!(["local"]);
    dev["parallel"] = json!(0);
    let body = json!({"name": "nope", "repo_url": "http://127.0.0.1:1/x.git", "forge": "git", "stages": [dev]});
    let (code, e) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(code, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("parallel: 0"), "{e}");
}
