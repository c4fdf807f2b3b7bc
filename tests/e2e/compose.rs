//! Compose stacks end to end: a web service behind the edge, a worker and a database with a
//! healthcheck, deployed in dependency order; a change to one service touches only that
//! service, without a failed request; a failure rolls back what was touched.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::deploys::{env, fast_deploy, finish, host, push, run, stage};
use crate::kit::*;

fn compose(worker_mode: &str) -> String {
    let bb = busybox_image();
    format!(
        r#"services:
  web:
    build: web
    ports: ["80"]
    depends_on:
      db: {{condition: service_healthy}}
      worker: {{condition: service_started}}
  worker:
    image: {bb}
    environment: [MODE={worker_mode}]
    command: ["sh", "-c", "echo worker $$MODE; exec sleep 100000"]
  db:
    image: {bb}
    command: ["sh", "-c", "sleep 1; touch /ready; exec sleep 100000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 300ms
      retries: 5
"#
    )
}

fn web_dockerfile() -> String {
    format!("FROM {}\nCOPY . /www\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n", busybox_image())
}

fn ids(instance: &str) -> std::collections::BTreeMap<String, String> {
    let out = docker(&[
        "ps",
        "--format",
        "{{.Label \"dev.slipway.service\"}} {{.ID}}",
        "--filter",
        &format!("label=dev.slipway.instance={instance}"),
        "--filter",
        "label=dev.slipway.role=app",
    ]);
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_once(' ')).map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compose_stack_deploys_in_order_and_updates_only_what_changed_without_downtime() {
    let root = tempfile::tempdir().unwrap();
    let (c, df) = (compose("a"), web_dockerfile());
    let served =
        serve_repo_with(root.path(), &[("compose.yaml", &c), ("web/Dockerfile", &df), ("web/index.html", "v1\n"), ("web/health", "ok\n")]);
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let (_engine, base) = start_headless_env(dir.path(), &env(edge_port));
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let _cleanup = DockerCleanup(instance.clone());
    let (status, p) = api.send(Method::POST, "/projects", json!({"name": "stack", "repo_url": served.url, "forge": "git", "deploy": fast_deploy(), "stages": [stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 2}))]})).await;
    assert_eq!(status, 201, "{p}");

    // First deploy: web comes last, after db is healthy and worker started.
    let r = finish(&api, run(&api, "stack", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let steps: Vec<&str> = r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let pos = |n: &str| steps.iter().position(|s| *s == n).unwrap_or_else(|| panic!("no step {n} in {steps:?}"));
    assert!(
        pos("build web") < pos("worker: replace")
            && pos("db: replace") < pos("web: blue-green")
            && pos("worker: replace") < pos("web: blue-green"),
        "{steps:?}"
    );
    assert_eq!(get_via_edge(edge_port, &host("dev", "stack")).await, (200, "v1".to_string()));
    let before = ids(&instance);
    assert_eq!(before.len(), 3, "{before:?}");
    let logs = api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    assert!(logs.contains("waiting for db to be healthy"), "{logs}");

    // Only web changes: db and worker keep their containers, web switches with no failed request.
    push(&served.work, &[("web/index.html", "v2\n")], &[], "web v2");
    let load = Load::start(edge_port, &host("dev", "stack"), 8, true);
    let r = finish(&api, run(&api, "stack", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["run"]["reason"], "release 2 is live; updated web");
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(report.sent > 50);
    assert_eq!(get_via_edge(edge_port, &host("dev", "stack")).await, (200, "v2".to_string()));
    let after = ids(&instance);
    assert_eq!(
        (after["db"].as_str(), after["worker"].as_str()),
        (before["db"].as_str(), before["worker"].as_str()),
        "db and worker untouched"
    );
    assert_ne!(after["web"], before["web"]);
    let rel = api.get("/projects/stack/stages/dev/releases").await;
    assert_eq!(rel[0]["digests"].as_object().unwrap().len(), 3, "{rel}");

    // worker changes and web breaks: web fails, the worker is put back, the report says so.
    let c2 = compose("b");
    push(&served.work, &[("compose.yaml", &c2), ("web/index.html", "v3\n")], &["web/health"], "worker b, web without health");
    let load = Load::start(edge_port, &host("dev", "stack"), 8, true);
    let r = finish(&api, run(&api, "stack", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("service web failed:") && reason.contains("rolled back worker"), "{reason}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(get_via_edge(edge_port, &host("dev", "stack")).await, (200, "v2".to_string()));
    wait_for("the old worker to run again", Duration::from_secs(20), || {
        (ids(&instance).get("worker") == after.get("worker")).then_some(())
    });
    let now = ids(&instance);
    assert_eq!(now, after, "the stack is exactly as before the failed deploy");
}

/// The running containers of `service`, by name.
fn replicas_of(instance: &str, service: &str) -> Vec<String> {
    running_labelled(instance, &format!("dev.slipway.service={service}"), "{{.Names}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_with_replicas_runs_them_all_behind_the_edge_and_switches_them_together() {
    let bb = busybox_image();
    let c = |n: &str| {
        format!(
            r#"services:
  web:
    build: web
    ports: ["80"]
    command: ["sh", "-c", "hostname > /www/who; exec httpd -f -p 80 -h /www"]
    deploy: {{replicas: 3}}
  worker:
    image: {bb}
    command: ["sh", "-c", "echo {n}; exec sleep 100000"]
    scale: 2
"#
        )
    };
    let (c1, df) = (c("one"), web_dockerfile());
    let files = [("compose.yaml", c1.as_str()), ("web/Dockerfile", &df), ("web/index.html", "v1\n"), ("web/health", "ok\n")];
    let s = crate::deploys::stack_of(
        "many",
        &files,
        fast_deploy(),
        json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 2}))]),
    )
    .await;
    let r = finish(&s.api, run(&s.api, "many", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let (web, worker) = (replicas_of(&s.instance, "web"), replicas_of(&s.instance, "worker"));
    assert_eq!((web.len(), worker.len()), (3, 2), "{web:?} {worker:?}");
    let rel = s.api.get("/projects/many/stages/dev/releases").await;
    assert_eq!(rel[0]["containers"]["web"].as_array().map(Vec::len), Some(3), "the release records every replica: {rel}");

    // The edge sends requests to every replica (round robin).
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let (code, who) = get_path_via_edge(s.edge_port, &host("dev", "many"), "/who").await;
        assert_eq!(code, 200, "{who}");
        seen.insert(who);
    }
    assert_eq!(seen.len(), 3, "every replica answered: {seen:?}");

    // A change to both: all replicas are replaced together, no request fails on the way.
    let c2 = c("two");
    push(&s.served.work, &[("compose.yaml", &c2), ("web/index.html", "v2\n")], &[], "v2");
    let load = Load::start(s.edge_port, &host("dev", "many"), 8, true);
    let r = finish(&s.api, run(&s.api, "many", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(report.failed, 0, "{report:?}");
    let (web2, worker2) = (replicas_of(&s.instance, "web"), replicas_of(&s.instance, "worker"));
    assert_eq!((web2.len(), worker2.len()), (3, 2), "the old replicas are gone: {web2:?} {worker2:?}");
    assert!(web2.iter().all(|n| !web.contains(n)) && worker2.iter().all(|n| !worker.contains(n)), "{web:?} → {web2:?}");
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "many")).await, (200, "v2".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn profiles_two_merged_files_an_alias_and_a_keychain_secret_reach_the_host_as_written() {
    let bb = busybox_image();
    let base = format!(
        r#"services:
  api:
    image: {bb}
    command: ["sh", "-c", "mkdir -p /www; echo $$GREETING > /www/name; exec httpd -f -p 8080 -h /www"]
    environment: {{GREETING: "${{GREETING:-base}}"}}
    networks:
      back: {{aliases: [backend-api]}}
    secrets: [api_token]
  web:
    build: web
    ports: ["80"]
    networks: [front, back]
  tools:
    image: {bb}
    command: ["sleep", "100000"]
    profiles: [dev]
  debug:
    image: {bb}
    command: ["sleep", "100000"]
    profiles: [debug]
networks:
  front: {{}}
  back: {{}}
secrets:
  api_token:
    environment: API_TOKEN
"#
    );
    let prod = format!("services:\n  api:\n    environment: {{GREETING: merged}}\n  worker:\n    image: {bb}\n    command: [\"sleep\", \"100000\"]\n    networks: [back]\n");
    let df = web_dockerfile();
    let files = [
        ("compose.yaml", base.as_str()),
        ("compose.prod.yaml", prod.as_str()),
        ("slipway.yml", "compose: [compose.yaml, compose.prod.yaml]\n"),
        ("web/Dockerfile", &df),
        ("web/index.html", "v1\n"),
        ("web/health", "ok\n"),
    ];
    let mut deploy = fast_deploy();
    deploy["secrets"] = json!(["API_TOKEN"]);
    let s =
        crate::deploys::stack_of("shape", &files, deploy, json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}))]))
            .await;
    let (status, v) = s.api.send(Method::PUT, "/projects/shape/secrets/API_TOKEN", json!({"value": "tok-from-keychain"})).await;
    assert!(status < 300, "{v}");
    let r = finish(&s.api, run(&s.api, "shape", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");

    // Profiles: `tools` (profile dev, the stage) runs, `debug` does not; the second file's
    // `worker` is there, and its value of GREETING won.
    let running = ids(&s.instance);
    let names: Vec<&str> = running.keys().map(String::as_str).collect();
    assert_eq!(names, ["api", "tools", "web", "worker"], "{running:?}");
    let exec = |service: &str, cmd: &str| {
        let out = docker(&["exec", &running[service], "sh", "-c", cmd]);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    // The alias resolves for another service on `back`, and the merged value is served.
    assert_eq!(exec("worker", "wget -q -O - http://backend-api:8080/name"), (true, "merged".to_string()));
    // `web` is on `back` too; `tools` is on the default network only and cannot reach it.
    assert_eq!(exec("web", "wget -q -O - http://backend-api:8080/name"), (true, "merged".to_string()));
    assert!(!exec("tools", "wget -q -O - http://backend-api:8080/name").0, "tools is not on back");
    // The secret is a file in the container, from the keychain, and nowhere in the release.
    assert_eq!(exec("api", "cat /run/secrets/api_token"), (true, "tok-from-keychain".to_string()));
    let release = s.api.get("/projects/shape/stages/dev/releases").await.to_string();
    assert!(!release.contains("tok-from-keychain"), "{release}");
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "shape")).await, (200, "v1".to_string()));
}
