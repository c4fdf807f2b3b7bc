//! Deploys end to end: real repositories, the real Docker engine, a real Caddy edge, and
//! clients sending requests through it the whole time. Every switch must lose none of them.
//! Clients send no request twice: a failure is a failure.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

pub struct Stack {
    _root: tempfile::TempDir,
    pub served: Served,
    pub dir: tempfile::TempDir,
    pub engine: Option<Guard>,
    pub api: Api,
    pub edge_port: u16,
    pub instance: String,
    _cleanup: DockerCleanup,
}

pub fn dockerfile() -> String {
    // `fail-after N` makes the release's health endpoint vanish N seconds after start. The
    // shell stays PID 1 and ends on SIGTERM, as a real service stops when asked: httpd as PID 1
    // would ignore it and every stop would wait Docker's 10 s grace for the SIGKILL.
    format!(
        "FROM {}\nCOPY . /www\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; if [ -f /www/fail-after ]; then (sleep $(cat /www/fail-after); rm -f /www/health) & fi; httpd -f -v -p 80 -h /www & wait\"]\n",
        busybox_image()
    )
}

pub fn env(edge_port: u16) -> Vec<(&'static str, String)> {
    vec![("SLIPWAY_EDGE_IMAGE", edge_image().to_string()), ("SLIPWAY_EDGE_PORT", edge_port.to_string())]
}

/// A served repository whose image answers `v1` on / and `ok` on /health, and an engine with a
/// project `name` deploying it with `stages`.
pub async fn stack(name: &str, deploy: Value, stages: Value) -> Stack {
    let df = dockerfile();
    stack_of(name, &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")], deploy, stages).await
}

/// [`stack`] with the repository's files given.
pub async fn stack_of(name: &str, files: &[(&str, &str)], deploy: Value, stages: Value) -> Stack {
    let root = tempfile::tempdir().unwrap();
    let served = serve_repo_with(root.path(), files);
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let (engine, base) = start_headless_env(dir.path(), &env(edge_port));
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let cleanup = DockerCleanup(instance.clone());
    let (status, p) = api
        .send(Method::POST, "/projects", json!({"name": name, "repo_url": served.url, "forge": "git", "deploy": deploy, "stages": stages}))
        .await;
    assert_eq!(status, 201, "{p}");
    Stack { _root: root, served, dir, engine: Some(engine), api, edge_port, instance, _cleanup: cleanup }
}

/// Health settings fast enough for tests: probes every 200 ms.
pub fn fast_deploy() -> Value {
    json!({"port": 80, "health": {"path": "/health", "interval_ms": 200, "timeout_ms": 1000, "retries": 3, "start_period_ms": 2000}})
}

pub fn stage(name: &str, strategy: &str, rollout: Value) -> Value {
    json!({"name": name, "branch_patterns": ["main"], "auto_deploy": true, "strategy": strategy, "rollout": rollout})
}

/// Commits `write` (path, content) and removals `remove`, pushes, and returns the commit.
pub fn push(work: &Path, write: &[(&str, &str)], remove: &[&str], msg: &str) -> String {
    for (p, c) in write {
        std::fs::write(work.join(p), c).unwrap();
    }
    for p in remove {
        git(work, &["rm", "-q", p]);
    }
    commit_and_push(work, msg)
}

pub async fn run(api: &Api, project: &str, stage: &str, wanted: &str) -> i64 {
    let (status, v) = api.send(Method::POST, &format!("/projects/{project}/stages/{stage}/runs"), json!({"ref": wanted})).await;
    assert_eq!(status, 202, "{v}");
    v["run_id"].as_i64().unwrap()
}

/// [`run`] to a stage a rollback pinned: the operator's confirmation, which unpins it.
pub async fn run_confirmed(api: &Api, project: &str, stage: &str, wanted: &str) -> i64 {
    let body = json!({"ref": wanted, "confirm": true});
    let (status, v) = api.send(Method::POST, &format!("/projects/{project}/stages/{stage}/runs"), body).await;
    assert_eq!(status, 202, "{v}");
    v["run_id"].as_i64().unwrap()
}

pub async fn finish(api: &Api, run: i64) -> Value {
    wait_status(api, run, finished, Duration::from_secs(120)).await
}

pub fn host(stage: &str, project: &str) -> String {
    format!("stage-{stage}-{project}.localhost")
}

pub async fn releases(api: &Api, project: &str, stage: &str) -> Vec<Value> {
    api.get(&format!("/projects/{project}/stages/{stage}/releases")).await.as_array().unwrap().clone()
}

pub fn assert_clean(report: &LoadReport, what: &str) {
    eprintln!("{what}: {} sent, {} failed, {:?}", report.sent, report.failed, report.bodies);
    assert!(report.sent > 50, "{what}: the load sent only {} requests", report.sent);
    assert_eq!(report.failed, 0, "{what}: {} of {} requests failed: {:?}", report.failed, report.sent, report.errors);
}

/// Deploys v1 on `stage` of `s` and checks it serves.
async fn first_release(s: &Stack, project: &str, stage: &str) {
    let r = finish(&s.api, run(&s.api, project, stage, "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(get_via_edge(s.edge_port, &host(stage, project)).await, (200, "v1".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blue_green_swaps_without_a_failed_request_and_rolls_back_by_hand() {
    let s = stack("bg", fast_deploy(), json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 2}))])).await;
    first_release(&s, "bg", "dev").await;

    let load = Load::start(s.edge_port, &host("dev", "bg"), 8, true);
    push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
    let r = finish(&s.api, run(&s.api, "bg", "dev", "main").await).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_clean(&report, "v1 → v2");
    assert!(report.bodies.contains_key("v2") && report.bodies.contains_key("v1"), "{:?}", report.bodies);
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "bg")).await, (200, "v2".to_string()));
    let steps: Vec<&str> = r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for want in ["build image", "prepare host", "start new release", "health gate: new release", "switch traffic", "verify (2 s)"] {
        assert!(steps.contains(&want), "no step {want:?} in {steps:?}");
    }

    let rel = releases(&s.api, "bg", "dev").await;
    assert_eq!(rel.len(), 2, "{rel:?}");
    assert_eq!((rel[0]["number"].as_i64(), rel[0]["status"].as_str()), (Some(2), Some("live")));
    assert_eq!((rel[1]["number"].as_i64(), rel[1]["status"].as_str()), (Some(1), Some("retired")));
    assert!(rel[0]["image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(rel[0]["config"]["deploy"]["health"]["path"], "/health");
    assert_eq!(rel[0]["digests"]["app"], rel[0]["image"]);
    // Only release 2's container is left beside the edge.
    assert_eq!(containers_with(&s.instance, "app").len(), 1);

    // Roll back to release 1 by hand: the same image, the same config, no build.
    let load = Load::start(s.edge_port, &host("dev", "bg"), 8, false);
    let (status, v) = s.api.send(Method::POST, "/projects/bg/stages/dev/releases/1/rollback", json!({})).await;
    assert_eq!(status, 202, "{v}");
    let r = finish(&s.api, v["run_id"].as_i64().unwrap()).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["run"]["trigger"], "rollback");
    assert!(!r["steps"].as_array().unwrap().iter().any(|s| s["name"] == "build image"), "a rollback builds nothing: {r}");
    assert_clean(&report, "rollback to 1 (keep-alive off)");
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "bg")).await, (200, "v1".to_string()));
    let rel = releases(&s.api, "bg", "dev").await;
    assert_eq!(rel[0]["number"], 3);
    assert_eq!(rel[0]["image"], rel[2]["image"], "release 3 runs release 1's image");
    assert_eq!(rel[1]["status"], "rolled_back");

    // The live release cannot be "rolled back" to; an unknown one is a 404.
    let (status, v) = s.api.send(Method::POST, "/projects/bg/stages/dev/releases/3/rollback", json!({})).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("invalid_input")), "{v}");
    let (status, _) = s.api.send(Method::POST, "/projects/bg/stages/dev/releases/9/rollback", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_that_never_gets_healthy_is_removed_and_the_old_one_keeps_serving() {
    let s = stack("sick", fast_deploy(), json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}))])).await;
    first_release(&s, "sick", "dev").await;
    let load = Load::start(s.edge_port, &host("dev", "sick"), 8, true);
    push(&s.served.work, &[("index.html", "v2\n")], &["health"], "v2 without a health endpoint");
    let r = finish(&s.api, run(&s.api, "sick", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.contains("never became healthy") && reason.contains("answered 404"), "{reason}");
    // busybox httpd -v logs each request; green's last lines are in the reason.
    assert!(reason.contains("last lines:"), "{reason}");
    assert_clean(&report, "failed health gate");
    assert_eq!(report.bodies.keys().collect::<Vec<_>>(), vec!["v1"], "only v1 ever answered");
    assert_eq!(containers_with(&s.instance, "app").len(), 1, "green was removed");
    assert_eq!(releases(&s.api, "sick", "dev").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_that_fails_after_the_switch_is_switched_back_within_the_verification_window() {
    let s = stack("flaky", fast_deploy(), json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 12}))])).await;
    first_release(&s, "flaky", "dev").await;
    let load = Load::start(s.edge_port, &host("dev", "flaky"), 8, false);
    push(&s.served.work, &[("index.html", "v3\n"), ("fail-after", "4\n")], &[], "v3 whose health goes away");
    let r = finish(&s.api, run(&s.api, "flaky", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "rolled_back", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("traffic switched back"), "{r}");
    assert_clean(&report, "switch back");
    assert!(report.bodies.contains_key("v3"), "v3 served for a while: {:?}", report.bodies);
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "flaky")).await, (200, "v1".to_string()));
    assert_eq!(containers_with(&s.instance, "app").len(), 1);
    let rel = releases(&s.api, "flaky", "dev").await;
    assert_eq!((rel.len(), rel[0]["status"].as_str()), (1, Some("live")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_canary_and_recreate_each_reach_the_new_release() {
    let mut deploy = fast_deploy();
    deploy["replicas"] = json!(2);
    let s = stack(
        "many",
        deploy,
        json!([
            stage("roll", "rolling", json!({"drain_secs": 1, "verify_secs": 1, "batch_size": 1})),
            stage("can", "canary", json!({"drain_secs": 1, "verify_secs": 1, "canary_percent": 50, "canary_secs": 3})),
            stage("re", "recreate", json!({"drain_secs": 0, "verify_secs": 1}))
        ]),
    )
    .await;
    for st in ["roll", "can", "re"] {
        first_release(&s, "many", st).await;
    }
    push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
    for st in ["roll", "can"] {
        let load = Load::start(s.edge_port, &host(st, "many"), 8, true);
        let r = finish(&s.api, run(&s.api, "many", st, "main").await).await;
        let report = load.finish().await;
        assert_eq!(r["run"]["status"], "succeeded", "{st}: {r}");
        assert_clean(&report, st);
        assert_eq!(get_via_edge(s.edge_port, &host(st, "many")).await, (200, "v2".to_string()), "{st}");
        let steps: Vec<String> = r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
        if st == "roll" {
            assert!(
                steps.contains(&"start replicas 1-1 of 2".to_string()) && steps.contains(&"start replicas 2-2 of 2".to_string()),
                "{steps:?}"
            );
        } else {
            assert!(steps.contains(&"canary: 50 % for 3 s".to_string()), "{steps:?}");
            // During the trial both versions answered.
            assert!(report.bodies.contains_key("v1") && report.bodies.contains_key("v2"), "{:?}", report.bodies);
        }
    }
    let r = finish(&s.api, run(&s.api, "many", "re", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(get_via_edge(s.edge_port, &host("re", "many")).await, (200, "v2".to_string()));
    // Two replicas for each of three stages, nothing else.
    assert_eq!(containers_with(&s.instance, "app").len(), 6, "{:?}", containers_with(&s.instance, "app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promote_to_prod_needs_the_confirmation_and_deploys_the_same_image() {
    let mut prod = stage("prod", "blue-green", json!({"drain_secs": 0, "verify_secs": 1, "subdomain": "launcher"}));
    prod["branch_patterns"] = json!([]);
    prod["promote_from"] = json!("dev");
    prod["confirm"] = json!(true);
    let s = stack("web", fast_deploy(), json!([stage("dev", "blue-green", json!({"drain_secs": 0, "verify_secs": 1})), prod])).await;
    first_release(&s, "web", "dev").await;
    // Nothing went to prod on its own.
    assert!(releases(&s.api, "web", "prod").await.is_empty());
    let pending = s.api.get("/promotions").await;
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!((pending[0]["stage"].as_str(), pending[0]["from_release"]["number"].as_i64()), (Some("prod"), Some(1)));
    assert!(pending[0]["current"].is_null());
    assert_eq!(pending[0]["commits"][0]["subject"], "first", "{pending}");

    let (status, v) = s.api.send(Method::POST, "/projects/web/stages/prod/promote", json!({})).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("confirmation_required")), "{v}");
    let (status, v) = s.api.send(Method::POST, "/projects/web/stages/prod/promote", json!({"confirm": true})).await;
    assert_eq!(status, 202, "{v}");
    let r = finish(&s.api, v["run_id"].as_i64().unwrap()).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["run"]["trigger"], "promote");
    assert_eq!(get_via_edge(s.edge_port, "launcher.localhost").await, (200, "v1".to_string()));
    let dev = releases(&s.api, "web", "dev").await;
    let prod = releases(&s.api, "web", "prod").await;
    assert_eq!(prod[0]["image"], dev[0]["image"], "promotion rebuilt nothing");
    assert_eq!(prod[0]["promoted_from"], dev[0]["id"]);
    assert!(s.api.get("/promotions").await.as_array().unwrap().is_empty());
}

/// Waits (up to 90 s) until run `id` is in step `step`.
pub async fn wait_step_running(api: &Api, id: i64, step: &str) {
    let start = std::time::Instant::now();
    loop {
        let r = api.get(&format!("/runs/{id}")).await;
        if r["steps"].as_array().unwrap().iter().any(|st| st["name"] == step && st["status"] == "running") {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "never reached {step}: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Kills the engine with SIGKILL, as a crash does, and starts it again on the same data
/// directory and edge port; the API of the new one.
pub fn kill_and_restart(engine: &mut Option<Guard>, dir: &Path, edge_port: u16) -> Api {
    let mut guard = engine.take().unwrap();
    guard.0.kill().unwrap();
    let _ = guard.0.wait();
    drop(guard);
    let (started, base) = start_headless_env(dir, &env(edge_port));
    *engine = Some(started);
    Api::new(&base, dir)
}

/// Kills the engine at a step of a blue-green deploy and starts it again: the run is
/// interrupted, the new release's containers are gone, and the previous release serves.
async fn crash_at(step: &str, project: &str) {
    let slow =
        json!({"port": 80, "health": {"path": "/health", "interval_ms": 200, "timeout_ms": 1000, "retries": 3, "start_period_ms": 60000}});
    let mut s = stack(project, slow, json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 60}))])).await;
    first_release(&s, project, "dev").await;
    // For the health gate: v2 has no health endpoint, so the gate waits out its start period.
    let remove: &[&str] = if step == "health gate: new release" { &["health"] } else { &[] };
    push(&s.served.work, &[("index.html", "v2\n")], remove, "v2");
    let id = run(&s.api, project, "dev", "main").await;
    wait_step_running(&s.api, id, step).await;
    if step == "verify (60 s)" {
        assert_eq!(get_via_edge(s.edge_port, &host("dev", project)).await.1, "v2", "the switch happened before the crash");
    }
    s.api = kill_and_restart(&mut s.engine, s.dir.path(), s.edge_port);
    let r = s.api.get(&format!("/runs/{id}")).await;
    assert_eq!(r["run"]["status"], "interrupted", "{r}");
    wait_for("the new release's containers to go", Duration::from_secs(30), || {
        (containers_with(&s.instance, "app").len() == 1).then_some(())
    });
    // Recovery runs in the background right after start; the edge is back on v1 within moments.
    let start = std::time::Instant::now();
    loop {
        let got = get_via_edge(s.edge_port, &host("dev", project)).await;
        if got == (200, "v1".to_string()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "after a crash at {step} the edge answers {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rel = releases(&s.api, project, "dev").await;
    assert_eq!((rel.len(), rel[0]["status"].as_str()), (1, Some("live")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_during_the_health_gate_leaves_the_last_good_release_serving() {
    crash_at("health gate: new release", "crash-gate").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_the_switch_puts_the_last_good_release_back() {
    crash_at("verify (60 s)", "crash-verify").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tcp_gate_and_post_deploy_commands_decide_like_the_http_gate() {
    let deploy = json!({"port": 80, "health": {"kind": "tcp", "interval_ms": 200, "timeout_ms": 1000, "retries": 3, "start_period_ms": 1000}, "post_deploy": ["test -f /www/index.html", "echo migrated"]});
    let s = stack("tcp", deploy, json!([stage("dev", "blue-green", json!({"drain_secs": 0, "verify_secs": 1}))])).await;
    let r = finish(&s.api, run(&s.api, "tcp", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let steps: Vec<&str> = r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(steps.contains(&"post-deploy: echo migrated"), "{steps:?}");
    let logs = s.api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    assert!(logs.contains("migrated"), "{logs}");

    // A release whose post-deploy command fails is switched back, and the run says which.
    let mut p = s.api.get("/projects/tcp").await;
    p["deploy"]["post_deploy"] = json!(["test -f /www/missing"]);
    let (status, v) = s.api.send(Method::POST, "/projects/import", project_spec(&p)).await;
    assert!(status == 200 || status == 201, "{v}");
    push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
    let r = finish(&s.api, run(&s.api, "tcp", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("post-deploy command `test -f /www/missing` exited with code 1"), "{r}");
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "tcp")).await, (200, "v1".to_string()));

    // A container that listens on nothing never passes the TCP gate.
    p["deploy"]["post_deploy"] = json!([]);
    p["deploy"]["command"] = json!(["sleep", "1000"]);
    let (status, v) = s.api.send(Method::POST, "/projects/import", project_spec(&p)).await;
    assert!(status == 200 || status == 201, "{v}");
    let r = finish(&s.api, run(&s.api, "tcp", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("TCP connect to"), "{r}");
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "tcp")).await, (200, "v1".to_string()));
}

/// The project as the import takes it: its project-file fields (JSON is YAML).
fn project_spec(p: &Value) -> Value {
    let keep = ["name", "repo_url", "forge", "stages", "deploy"];
    Value::Object(p.as_object().unwrap().iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
}
