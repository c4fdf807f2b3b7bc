//! Pipelines end to end: a real repository (git daemon), the real Docker engine, the real
//! keychain for the step's secret, driven through the engine's API like any client would.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

fn dockerfile() -> String {
    format!("FROM {}\nCOPY app.txt /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n", busybox_image())
}

fn pipeline(step_commands: &[&str], extra: &str) -> String {
    let commands: Vec<String> = step_commands.iter().map(|c| format!("      - {}", serde_json::to_string(c).unwrap())).collect();
    format!(
        "steps:\n  - name: test\n    image: {}\n    commands:\n{}\n    secrets: [API_TOKEN]\n{extra}build:\n  dockerfile: Dockerfile\n",
        busybox_image(),
        commands.join("\n")
    )
}

struct Setup {
    _root: tempfile::TempDir,
    served: Served,
    dir: tempfile::TempDir,
    _engine: Guard,
    api: Api,
}

/// A stand-in for a forge's commit-status API (no forge is reachable here): records each
/// request's path, auth header and JSON body.
async fn status_stub() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>) {
    use axum::http::{HeaderMap, Uri};
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>> = Default::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            s.lock().unwrap().push((uri.path().to_string(), auth, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            (axum::http::StatusCode::CREATED, "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn setup(name: &str, slipway_yml: &str) -> Setup {
    let root = tempfile::tempdir().unwrap();
    let df = dockerfile();
    // Each test's image differs from the others' (its name is in the content). The tests build
    // at the same time on one Docker engine, and identical builds share intermediate images:
    // one test's `docker image rm -f` of its image also removed those untagged parents while
    // another test was building on them ("failed to get digest … no such file or directory").
    let app = format!("v1 {name}\n");
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("app.txt", &app), ("slipway.yml", slipway_yml)]);
    let dir = tempfile::tempdir().unwrap();
    let (engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let (status, p) = api.send(Method::POST, "/projects", json!({"name": name, "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");
    let (status, _) = api.send(Method::PUT, &format!("/projects/{name}/secrets/API_TOKEN"), json!({"value": "s3cr3t-value"})).await;
    assert_eq!(status, 204);
    Setup { _root: root, served, dir, _engine: engine, api }
}

async fn deploy(api: &Api, project: &str, wanted: &str) -> i64 {
    let (status, v) = api.send(Method::POST, &format!("/projects/{project}/stages/dev/runs"), json!({"ref": wanted})).await;
    assert_eq!(status, 202, "{v}");
    v["run_id"].as_i64().unwrap()
}

async fn log_text(api: &Api, run: i64) -> String {
    let lines = api.get(&format!("/runs/{run}/logs")).await;
    lines.as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap().to_string()).collect::<Vec<_>>().join("\n")
}

async fn instance(api: &Api) -> String {
    api.get("/status").await["instance_id"].as_str().unwrap().to_string()
}

/// Containers on the engine that belong to run `run` of installation `instance`.
fn containers_of(instance: &str, run: i64) -> String {
    let out = docker(&["ps", "-aq", "--filter", &format!("label=dev.slipway.run={instance}-{run}")]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The run's containers that are running: its step, not the short-lived one that fills the
/// workspace (created, never started).
fn running_containers_of(instance: &str, run: i64) -> String {
    let out = docker(&["ps", "-q", "--filter", "status=running", "--filter", &format!("label=dev.slipway.run={instance}-{run}")]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_fetches_the_commit_runs_the_step_with_a_masked_secret_and_builds_the_image() {
    let yml = pipeline(&["echo \"testing $(cat app.txt)\"", "echo \"token is $API_TOKEN\" >&2", "test -f Dockerfile"], "");
    let s = setup("piped", &yml).await;
    // Commit statuses go to a Gitea-shaped stub through a forge account with a keychain token.
    let (api_base, statuses) = status_stub().await;
    let account = format!("gitea-{}", std::process::id());
    let (status, _) = s
        .api
        .send(Method::PUT, &format!("/forge-accounts/{account}"), json!({"forge": "gitea", "api_base": api_base, "token": "gt0k"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = s.api.send(Method::DELETE, "/projects/piped", json!({})).await;
    assert_eq!(status, 204);
    let (status, p) = s
        .api
        .send(Method::POST, "/projects", json!({"name": "piped", "repo_url": s.served.url, "forge": "gitea", "token_ref": account}))
        .await;
    assert_eq!(status, 201, "{p}");
    s.api.send(Method::PUT, "/projects/piped/secrets/API_TOKEN", json!({"value": "s3cr3t-value"})).await;
    let inst = instance(&s.api).await;
    let head = git(&s.served.work, &["rev-parse", "HEAD"]);
    let run = deploy(&s.api, "piped", "main").await;
    let r = wait_status(&s.api, run, finished, Duration::from_secs(180)).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}\n{}", log_text(&s.api, run).await);
    assert_eq!(r["run"]["commit_sha"], head.as_str());
    assert_eq!(r["run"]["trigger"], "manual");
    assert_eq!(r["config_source"], "slipway.yml");
    let steps: Vec<(&str, &str)> =
        r["steps"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap())).collect();
    assert_eq!(steps, vec![("fetch source", "succeeded"), ("test", "succeeded"), ("build image", "succeeded")]);

    let log = log_text(&s.api, run).await;
    assert!(log.contains("testing v1"), "{log}");
    assert!(log.contains("token is ***"), "{log}");
    assert!(!log.contains("s3cr3t-value"), "the secret leaked into the log:\n{log}");
    let lines = s.api.get(&format!("/runs/{run}/logs")).await;
    assert!(lines.as_array().unwrap().iter().any(|l| l["stream"] == "stderr" && l["line"] == "token is ***"));

    // The image is on the engine, labelled with the exact commit.
    let tag = format!("slipway/piped:dev-{}", &head[..12]);
    let out = docker(&["image", "inspect", "--format", "{{index .Config.Labels \"dev.slipway.commit\"}}", &tag]);
    assert!(out.status.success(), "{tag} missing: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), head);
    assert_eq!(r["image"].as_str().unwrap().len(), "sha256:".len() + 64);
    assert!(containers_of(&inst, run).is_empty(), "step containers left behind");

    // The forge was told: running (Gitea has no "running": pending), then success. The last
    // status is posted as the run ends, so it may land a moment after the run reads finished.
    wait_for("the forge's success status", Duration::from_secs(15), || (statuses.lock().unwrap().len() >= 2).then_some(()));
    let seen = statuses.lock().unwrap().clone();
    let states: Vec<&str> = seen.iter().map(|(_, _, b)| b["state"].as_str().unwrap()).collect();
    assert_eq!(states, vec!["pending", "success"], "{seen:?}");
    let path = format!("/api/v1/repos/team/app/statuses/{head}");
    assert!(
        seen.iter().all(|(p, auth, b)| p == &path && auth == "token gt0k" && b["context"] == "slipway/dev"),
        "{seen:?} (expected {path})"
    );
    let _ = docker(&["image", "rm", "-f", &tag]);

    // The command line sees the same: the run, its steps, its log.
    let out = slipwayd(s.dir.path(), &["run", &run.to_string(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["run"]["status"], "succeeded");
    let out = slipwayd(s.dir.path(), &["logs", &run.to_string()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("testing v1"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("token is ***"), "stderr lines go to stderr");

    // Logs of an old run stay readable after a restart (they are in the store).
    let (status, _) = s.api.send(Method::POST, "/quit", json!({})).await;
    assert_eq!(status, 202);
    wait_for("the engine to stop", Duration::from_secs(15), || (!s.dir.path().join("engine.json").exists()).then_some(()));
    let (_engine2, base) = start_headless(s.dir.path());
    let again = Api::new(&base, s.dir.path());
    assert!(log_text(&again, run).await.contains("testing v1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_fails_the_run_and_skips_the_build() {
    let s = setup("failing", &pipeline(&["echo before", "exit 3", "echo never"], "")).await;
    // Started from the command line this time.
    let out = slipwayd(s.dir.path(), &["deploy", "failing", "dev", "--ref", "main", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"].as_i64().unwrap();
    let r = wait_status(&s.api, run, finished, Duration::from_secs(120)).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("step test failed: exit code 3"), "{reason}");
    assert!(reason.contains("before"), "the last lines are in the reason: {reason}");
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps[1]["exit_code"], 3);
    assert_eq!(steps[2]["status"], "skipped");
    // The command after the failing one never ran (only Slipway's own line quotes it).
    let lines = s.api.get(&format!("/runs/{run}/logs")).await;
    let output: Vec<&str> =
        lines.as_array().unwrap().iter().filter(|l| l["stream"] != "system").map(|l| l["line"].as_str().unwrap()).collect();
    assert_eq!(output, vec!["before"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_the_step_and_a_timeout_fails_the_run() {
    let s = setup("slow", &pipeline(&["echo started", "sleep 60"], "    timeout_secs: 3\n")).await;
    let inst = instance(&s.api).await;

    // Timeout: the step's own limit (3 s) ends the run as failed.
    let run = deploy(&s.api, "slow", "main").await;
    let r = wait_status(&s.api, run, finished, Duration::from_secs(60)).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("timed out after 3 s"), "{r}");
    assert!(containers_of(&inst, run).is_empty());

    // Cancel: mid-step, the container goes and the run ends as cancelled.
    let run = deploy(&s.api, "slow", "main").await;
    let start = std::time::Instant::now();
    loop {
        let r = s.api.get(&format!("/runs/{run}")).await;
        if r["steps"].as_array().unwrap().iter().any(|st| st["name"] == "test" && st["status"] == "running")
            && !running_containers_of(&inst, run).is_empty()
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "step never started: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = s.api.send(Method::POST, &format!("/runs/{run}/cancel"), json!({})).await;
    assert_eq!(status, 202);
    let r = wait_status(&s.api, run, finished, Duration::from_secs(15)).await;
    assert_eq!(r["run"]["status"], "cancelled", "{r}");
    assert!(containers_of(&inst, run).is_empty(), "cancelled step's container is still there");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_run_of_a_tag_builds_the_tags_commit_not_the_branch_head() {
    let s = setup("tagged", &pipeline(&["cat app.txt"], "")).await;
    let tagged = git(&s.served.work, &["rev-parse", "HEAD"]);
    git(&s.served.work, &["tag", "-a", "v1.0.0", "-m", "release"]);
    git(&s.served.work, &["push", "-q", "origin", "v1.0.0"]);
    std::fs::write(s.served.work.join("app.txt"), "v2\n").unwrap();
    git(&s.served.work, &["commit", "-qam", "v2"]);
    git(&s.served.work, &["push", "-q", "origin", "HEAD:main"]);

    let run = deploy(&s.api, "tagged", "v1.0.0").await;
    let r = wait_status(&s.api, run, finished, Duration::from_secs(180)).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["run"]["commit_sha"], tagged.as_str(), "the annotated tag's commit, not the branch head");
    assert_eq!(r["run"]["ref_name"], "refs/tags/v1.0.0");
    assert!(log_text(&s.api, run).await.contains("\nv1"));
    let _ = docker(&["image", "rm", "-f", &format!("slipway/tagged:dev-{}", &tagged[..12])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_killed_mid_run_leaves_it_interrupted_after_restart() {
    let mut s = setup("killed", &pipeline(&["sleep 60"], "")).await;
    let inst = instance(&s.api).await;
    let run = deploy(&s.api, "killed", "main").await;
    let start = std::time::Instant::now();
    while running_containers_of(&inst, run).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "the step never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGKILL: no chance to clean up.
    s._engine.0.kill().unwrap();
    s._engine.0.wait().unwrap();
    assert!(!running_containers_of(&inst, run).is_empty(), "the step's container outlives a killed engine");

    let (_engine, base) = start_headless(s.dir.path());
    let api = Api::new(&base, s.dir.path());
    let r = wait_status(&api, run, |st| st == "interrupted", Duration::from_secs(15)).await;
    assert!(r["run"]["reason"].as_str().unwrap().starts_with("interrupted"), "{r}");
    assert_eq!(r["steps"][1]["status"], "cancelled");
    let start = std::time::Instant::now();
    while !containers_of(&inst, run).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(15), "leftover container not removed after restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn submodules_are_checked_out_and_a_missing_commit_is_named() {
    let s = setup("modular", &pipeline(&["cat lib/hello.txt"], "")).await;
    // A second repository, served by the same daemon, added as a submodule.
    let root = s.served.work.parent().unwrap().to_path_buf();
    let lib_bare = root.join("srv/team/lib.git");
    std::fs::create_dir_all(&lib_bare).unwrap();
    git(&lib_bare, &["init", "--bare", "-q", "-b", "main"]);
    let lib_work = root.join("lib-work");
    std::fs::create_dir_all(&lib_work).unwrap();
    git(&lib_work, &["init", "-q", "-b", "main"]);
    std::fs::write(lib_work.join("hello.txt"), "hello from the submodule\n").unwrap();
    git(&lib_work, &["add", "."]);
    git(&lib_work, &["commit", "-qm", "lib"]);
    git(&lib_work, &["push", "-q", lib_bare.to_str().unwrap(), "HEAD:main"]);
    let lib_url = s.served.url.replace("/team/app.git", "/team/lib.git");
    git(&s.served.work, &["submodule", "add", "-q", &lib_url, "lib"]);
    git(&s.served.work, &["commit", "-qm", "add lib"]);
    git(&s.served.work, &["push", "-q", "origin", "HEAD:main"]);

    let run = deploy(&s.api, "modular", "main").await;
    let r = wait_status(&s.api, run, finished, Duration::from_secs(180)).await;
    let log = log_text(&s.api, run).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}\n{log}");
    assert!(log.contains("with 1 submodule(s)"), "{log}");
    assert!(log.contains("\nhello from the submodule"), "{log}");
    let _ = docker(&["image", "rm", "-f", &format!("slipway/modular:dev-{}", &r["run"]["commit_sha"].as_str().unwrap()[..12])]);

    // A commit the remote does not have: the fetch step fails and says which and where.
    let ghost = "0123456789abcdef0123456789abcdef01234567";
    let run = deploy(&s.api, "modular", ghost).await;
    let r = wait_status(&s.api, run, finished, Duration::from_secs(60)).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("fetch source: commit 0123456789abcdef0123456789abcdef01234567 is not in git://"), "{reason}");
    assert_eq!(r["steps"][0]["status"], "failed");

    // The remote goes away (its git daemon stops): the fetch step names the remote and the commit.
    drop(s.served);
    let run = deploy(&s.api, "modular", "0123456789abcdef0123456789abcdef01234568").await;
    let r = wait_status(&s.api, run, finished, Duration::from_secs(60)).await;
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("fetch source: cannot fetch commit 0123456789abcdef0123456789abcdef01234568 from git://127.0.0.1:"),
        "{reason}"
    );
}
