//! The Docker engine restarted in the middle of a deploy, on a Docker engine of the test's own
//! (the suite's shared one cannot be restarted under the other tests): the deploy ends with a
//! reason, never stays running; once Docker is back the last good release serves again with
//! only its own containers, and the next deploy works.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{env, finish, host, push, run, stage};
use crate::kit::*;
use crate::second_dockerd::PrivateDockerd;

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
