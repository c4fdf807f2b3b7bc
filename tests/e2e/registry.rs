//! Prebuilt images: tags pushed to a real Registry v2 (Debian's docker-registry on loopback)
//! start runs for the stages whose tag patterns match, pinned by digest.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

fn start_registry(dir: &std::path::Path) -> (Guard, String) {
    let port = free_port();
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .args(["serve", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
        .spawn()
        .expect("docker-registry is installed by ./scripts/test");
    wait_for("the registry", Duration::from_secs(15), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    (Guard(child), format!("127.0.0.1:{port}"))
}

/// Pushes the test image as `registry/web:tag` and returns the digest the registry gave it.
fn push(registry: &str, tag: &str) -> String {
    let reference = format!("{registry}/web:{tag}");
    assert!(docker(&["tag", busybox_image(), &reference]).status.success());
    let out = docker(&["push", &reference]);
    assert!(out.status.success(), "push {reference}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let digest = text.split_whitespace().find(|w| w.starts_with("sha256:")).expect("digest in push output").to_string();
    let _ = docker(&["rmi", &reference]);
    digest
}

async fn wait_run_for(api: &Api, tag: &str, timeout: Duration) -> Value {
    let start = std::time::Instant::now();
    loop {
        let runs = api.get("/runs?project=web").await;
        if let Some(r) = runs.as_array().unwrap().iter().find(|r| r["ref_name"].as_str().is_some_and(|x| x.ends_with(&format!(":{tag}")))) {
            return r.clone();
        }
        assert!(start.elapsed() < timeout, "no run for {tag} after {timeout:?}: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread")]
async fn pushed_tags_start_runs_for_matching_stages_with_their_digest() {
    let root = tempfile::tempdir().unwrap();
    let (_registry, registry) = start_registry(root.path());
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let (status, p) = api
        .send(
            Method::POST,
            "/projects",
            json!({
                "name": "web", "repo_url": "https://example.invalid/web.git", "forge": "gitea", "poll_interval_secs": 1,
                "image_repo": format!("{registry}/web"),
                "stages": [
                    {"name": "dev", "branch_patterns": [], "tag_patterns": ["dev-*"]},
                    {"name": "rel", "branch_patterns": [], "tag_patterns": ["v*"]}
                ]
            }),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    // The first look at the (empty) repository.
    wait_polled(&api, "web", Duration::from_secs(10)).await;

    let dev = push(&registry, "dev-7");
    let run = wait_run_for(&api, "dev-7", Duration::from_secs(20)).await;
    assert_eq!(run["stage"], "dev");
    assert_eq!(run["trigger"], "registry");
    let detail = api.get(&format!("/runs/{}", run["id"])).await;
    assert_eq!(detail["image"], dev.as_str(), "the run is pinned to the pushed digest");

    push(&registry, "v1.2.0");
    let run = wait_run_for(&api, "v1.2.0", Duration::from_secs(20)).await;
    assert_eq!(run["stage"], "rel");

    // A tag that matches no stage starts nothing, and the inbox says why.
    push(&registry, "nightly");
    let start = std::time::Instant::now();
    loop {
        let inbox = api.get("/deliveries?project=web").await;
        if let Some(d) = inbox.as_array().unwrap().iter().find(|d| d["ref_name"].as_str().is_some_and(|r| r.ends_with(":nightly"))) {
            assert_eq!(d["provider"], "registry");
            assert_eq!(d["outcome"], "ignored");
            assert_eq!(d["reason"], "image tag nightly matches no stage (dev: tags dev-*; rel: tags v*)");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no inbox row for nightly: {inbox}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(api.get("/runs?project=web").await.as_array().unwrap().len(), 2);

    // A project that polls only hourly hears of a push through the forge's package webhook.
    let (status, p) = api
        .send(
            Method::POST,
            "/projects",
            json!({
                "name": "hooked", "repo_url": "https://example.invalid/web.git", "forge": "github", "poll_interval_secs": 3600,
                "image_repo": format!("{registry}/web"),
                "stages": [{"name": "dev", "branch_patterns": [], "tag_patterns": ["dev-*"]}]
            }),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    wait_polled(&api, "hooked", Duration::from_secs(10)).await;
    let pushed = push(&registry, "dev-8");
    let hook = api.get("/projects/hooked/webhook").await;
    let body =
        serde_json::to_vec(&json!({"action": "published", "registry_package": {"name": "web", "package_version": {"version": "dev-8"}}}))
            .unwrap();
    let resp = reqwest::Client::new()
        .post(hook["url"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "registry_package")
        .header("X-GitHub-Delivery", "pkg-1")
        .header("X-Hub-Signature-256", format!("sha256={}", hmac_hex(hook["secret"].as_str().unwrap(), &body)))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["reason"].as_str().unwrap().starts_with("registry package event"), "{v}");
    let start = std::time::Instant::now();
    loop {
        let runs = api.get("/runs?project=hooked").await;
        if let Some(r) = runs.as_array().unwrap().iter().find(|r| r["ref_name"].as_str().is_some_and(|x| x.ends_with(":dev-8"))) {
            assert_eq!(api.get(&format!("/runs/{}", r["id"])).await["image"], pushed.as_str());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the package event did not lead to a run: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The dev run pulled exactly that image onto the host.
    let r = wait_status(&api, detail["run"]["id"].as_i64().unwrap(), finished, Duration::from_secs(60)).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["run"]["reason"], format!("pulled {registry}/web@{dev}"));
}
