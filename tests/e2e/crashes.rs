//! A crash at every step: for blue-green, rolling, canary and a compose stack, the engine is
//! killed (SIGKILL) at the start of each step of a deploy (fetch, build, prepare host, start,
//! gate, switch, verify, post-deploy where there is one, retiring the old release), under load,
//! and started again. Every time: no request failed over the whole window, the run reads
//! interrupted, the stage is on exactly one live release, the edge serves that release, and
//! the app containers are exactly that release's, running: nothing of the dead deploy is left.
//!
//! The engine holds a run at the start of a named step when `SLIPWAY_TEST_HOLD_STEP` says so
//! (services/deploy/job.rs), which is how the kill lands on each step boundary every time
//! instead of racing steps that last milliseconds.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::deploys::{env, fast_deploy, finish, host, push, run, stack, stack_of, stage, Stack};
use crate::kit::*;

/// Kills the running engine and starts a new one, with `hold` as the step to hold runs at.
fn restart(s: &mut Stack, hold: Option<&str>) {
    if let Some(mut guard) = s.engine.take() {
        guard.0.kill().unwrap();
        let _ = guard.0.wait();
    }
    let mut vars = env(s.edge_port);
    if let Some(step) = hold {
        vars.push(("SLIPWAY_TEST_HOLD_STEP", step.to_string()));
    }
    let (engine, base) = start_headless_env(s.dir.path(), &vars);
    s.engine = Some(engine);
    s.api = Api::new(&base, s.dir.path());
}

async fn step_names(s: &Stack, id: i64) -> Vec<String> {
    let r = s.api.get(&format!("/runs/{id}")).await;
    r["steps"].as_array().unwrap().iter().map(|st| st["name"].as_str().unwrap().to_string()).collect()
}

async fn live_release(s: &Stack, project: &str) -> Vec<Value> {
    let all = s.api.get(&format!("/projects/{project}/stages/dev/releases")).await;
    all.as_array().unwrap().iter().filter(|r| r["status"] == "live").cloned().collect()
}

/// What changes from one deploy to the next: commits a new version and returns its commit.
type Bump = fn(&std::path::Path, &str) -> String;

fn bump_image(work: &std::path::Path, version: &str) -> String {
    push(work, &[("index.html", &format!("{version}\n"))], &[], version)
}

/// Deploys `strategy` twice normally (to learn its steps with an old release in place), then
/// crashes a third, fourth, … deploy at each of those steps.
async fn crash_at_every_step(project: &str, strategy: &str, rollout: Value, replicas: u32) {
    let mut deploy = fast_deploy();
    deploy["replicas"] = json!(replicas);
    let mut s = stack(project, deploy, json!([stage("dev", strategy, rollout)])).await;
    crash_each_step(&mut s, project, strategy, bump_image).await;
}

async fn crash_each_step(s: &mut Stack, project: &str, label: &str, bump: Bump) {
    let mut versions: HashMap<String, String> = HashMap::new();
    versions.insert(git(&s.served.work, &["rev-parse", "HEAD"]), "v1".into());
    let r = finish(&s.api, run(&s.api, project, "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    versions.insert(bump(&s.served.work, "v2"), "v2".into());
    let id = run(&s.api, project, "dev", "main").await;
    let r = finish(&s.api, id).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let steps = step_names(s, id).await;
    assert_eq!(steps.last().map(String::as_str), Some("retire old release"), "{steps:?}");

    for (k, step) in steps.iter().enumerate() {
        let version = format!("v{}", k + 3);
        restart(s, Some(step));
        let load = Load::start(s.edge_port, &host("dev", project), 4, true);
        versions.insert(bump(&s.served.work, &version), version.clone());
        let id = run(&s.api, project, "dev", "main").await;
        let reached = std::time::Instant::now();
        loop {
            let r = s.api.get(&format!("/runs/{id}")).await;
            let steps = r["steps"].as_array().unwrap();
            if steps.iter().any(|st| st["name"] == step.as_str() && st["status"] == "running") {
                break;
            }
            assert!(reached.elapsed() < Duration::from_secs(60), "{label}: the run never reached {step}: {r}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        restart(s, None);
        let r = s.api.get(&format!("/runs/{id}")).await;
        assert_eq!(r["run"]["status"], "interrupted", "{label}, crash at {step}: {r}");
        let serving = settled(s, project, label, step, &versions).await;
        let report = load.finish().await;
        assert!(report.sent > 20, "{label}, crash at {step}: the load sent only {}", report.sent);
        assert_eq!(report.failed, 0, "{label}, crash at {step} ({serving} serving): {:?}", report.errors);
        let leftovers =
            docker(&["ps", "-aq", "--filter", &format!("label=dev.slipway.instance={}", s.instance), "--filter", "label=dev.slipway.run"]);
        assert!(String::from_utf8_lossy(&leftovers.stdout).trim().is_empty(), "{label}, crash at {step}: step containers left");
        eprintln!("{label}: crash at {step:?}: interrupted, {serving} serving, {} requests, 0 failed", report.sent);
    }
}

/// Waits until the stage is on exactly one live release, the edge serves it, and the app
/// containers are exactly that release's (all running); returns the version it serves.
async fn settled(s: &Stack, project: &str, label: &str, step: &str, versions: &HashMap<String, String>) -> String {
    let since = std::time::Instant::now();
    loop {
        let live = live_release(s, project).await;
        assert_eq!(live.len(), 1, "{label}, crash at {step}: live releases {live:?}");
        let expected = versions[live[0]["commit_sha"].as_str().unwrap()].clone();
        let mut owned: Vec<String> = live[0]["containers"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|v| v.as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        owned.sort();
        let mut apps = containers_with(&s.instance, "app");
        apps.sort();
        let running = running_with(&s.instance, "app");
        let got = get_via_edge(s.edge_port, &host("dev", project)).await;
        if got == (200, expected.clone()) && apps == owned && running.len() == owned.len() {
            return expected;
        }
        assert!(
            since.elapsed() < Duration::from_secs(45),
            "{label}, crash at {step}: the edge answers {got:?}, the live release is {expected} with {owned:?}; containers {apps:?}, running {running:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blue_green_survives_a_crash_at_every_step() {
    crash_at_every_step("crash-bg", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_survives_a_crash_at_every_step() {
    crash_at_every_step("crash-roll", "rolling", json!({"drain_secs": 1, "verify_secs": 1, "batch_size": 1}), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn canary_survives_a_crash_at_every_step() {
    crash_at_every_step("crash-can", "canary", json!({"drain_secs": 1, "verify_secs": 1, "canary_percent": 50, "canary_secs": 1}), 2).await;
}

/// A stack of a web service behind the edge (blue-green) and a worker replaced in place; each
/// version changes both.
fn stack_compose(version: &str) -> String {
    format!(
        r#"services:
  web:
    build: web
    ports: ["80"]
    depends_on: [worker]
  worker:
    image: {}
    environment: [MODE={version}]
    stop_grace_period: 2s
    command: ["sh", "-c", "trap 'exit 0' TERM; echo worker $$MODE; while sleep 1; do :; done"]
"#,
        busybox_image()
    )
}

fn bump_stack(work: &std::path::Path, version: &str) -> String {
    push(work, &[("web/index.html", &format!("{version}\n")), ("compose.yaml", &stack_compose(version))], &[], version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compose_stack_survives_a_crash_at_every_step() {
    let (c, df) = (stack_compose("v1"), crate::deploys::dockerfile());
    let files = [("compose.yaml", c.as_str()), ("web/Dockerfile", &df), ("web/index.html", "v1\n"), ("web/health", "ok\n")];
    let rollout = json!({"drain_secs": 1, "verify_secs": 1});
    let mut s = stack_of("crash-stack", &files, fast_deploy(), json!([stage("dev", "blue-green", rollout)])).await;
    crash_each_step(&mut s, "crash-stack", "compose", bump_stack).await;
}
