//! Polling against a real repository served by `git daemon`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

/// Delivers `payload` as a signed Gitea push to the project's hook.
pub async fn gitea_push(hook: &Value, payload: &Value, delivery: &str) -> (u16, Value) {
    let body = serde_json::to_vec(payload).unwrap();
    let sig = hmac_hex(hook["secret"].as_str().unwrap(), &body);
    let resp = reqwest::Client::new()
        .post(hook["url"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .header("X-Gitea-Event", "push")
        .header("X-Gitea-Delivery", delivery)
        .header("X-Gitea-Signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn wait_runs(api: &Api, project: &str, n: usize, timeout: Duration) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let runs = api.get(&format!("/runs?project={project}")).await.as_array().unwrap().clone();
        if runs.len() >= n {
            return runs;
        }
        assert!(start.elapsed() < timeout, "waited {timeout:?} for {n} run(s) of {project}, have {runs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_is_noticed_within_one_interval_and_a_webhook_for_it_is_not_deployed_twice() {
    let root = tempfile::tempdir().unwrap();
    let served = serve_repo(root.path());
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let (status, p) = api
        .send(Method::POST, "/projects", json!({"name": "polled", "repo_url": served.url, "forge": "gitea", "poll_interval_secs": 1}))
        .await;
    assert_eq!(status, 201, "{p}");

    // The first poll (at once) records where the remote stands and deploys nothing.
    let p = wait_polled(&api, "polled", Duration::from_secs(5)).await;
    assert!(p["last_poll_error"].is_null(), "{p}");
    assert!(api.get("/runs?project=polled").await.as_array().unwrap().is_empty());

    // A push: noticed within one interval (1 s, plus the poll's own time).
    let pushed = commit_and_push(&served.work, "second");
    let runs = wait_runs(&api, "polled", 1, Duration::from_secs(3)).await;
    assert_eq!(runs[0]["commit_sha"], pushed.as_str());
    assert_eq!(runs[0]["trigger"], "poll");
    assert_eq!(runs[0]["ref_name"], "refs/heads/main");

    // A webhook for that same push arrives late: duplicate, still one run.
    let hook = api.get("/projects/polled/webhook").await;
    let mut payload: Value = serde_json::from_slice(&fixture("gitea/push-branch.json")).unwrap();
    payload["ref"] = json!("refs/heads/main");
    payload["after"] = json!(pushed);
    payload["head_commit"]["id"] = json!(pushed);
    let (status, v) = gitea_push(&hook, &payload, "late-hook").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["outcome"], "duplicate", "{v}");
    assert_eq!(v["run_ids"][0], runs[0]["id"]);

    // And the other way round: webhook first, then the poll sees the same commit.
    let next = commit_and_push(&served.work, "third");
    let mut payload2 = payload.clone();
    payload2["after"] = json!(next);
    payload2["head_commit"]["id"] = json!(next);
    let (status, v) = gitea_push(&hook, &payload2, "early-hook").await;
    // The poller may have won the race for this push; either way there is one run for it.
    assert!(status == 202 || (status == 200 && v["outcome"] == "duplicate"), "{status} {v}");
    let (status, _) = api.send(Method::POST, "/projects/polled/poll", json!({})).await;
    assert_eq!(status, 200);
    let runs = api.get("/runs?project=polled").await;
    let for_next: Vec<&Value> = runs.as_array().unwrap().iter().filter(|r| r["commit_sha"] == next.as_str()).collect();
    assert_eq!(for_next.len(), 1, "{runs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_remote_is_a_readable_poll_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let port = free_port();
    let url = format!("git://127.0.0.1:{port}/gone.git");
    let (status, _) =
        api.send(Method::POST, "/projects", json!({"name": "gone", "repo_url": url, "forge": "git", "poll_interval_secs": 60})).await;
    assert_eq!(status, 201);
    let (status, err) = api.send(Method::POST, "/projects/gone/poll", json!({})).await;
    assert_eq!(status, 502, "{err}");
    assert_eq!(err["code"], "git");
    assert!(err["message"].as_str().unwrap().contains(&url), "{err}");
    let p = api.get("/projects/gone").await;
    assert!(p["last_poll_error"].as_str().unwrap().contains(&url), "{p}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_made_while_slipway_was_off_deploys_at_start() {
    let root = tempfile::tempdir().unwrap();
    let served = serve_repo(root.path());
    let dir = tempfile::tempdir().unwrap();
    {
        let (_engine, base) = start_headless(dir.path());
        let api = Api::new(&base, dir.path());
        let (status, _) = api
            .send(Method::POST, "/projects", json!({"name": "asleep", "repo_url": served.url, "forge": "git", "poll_interval_secs": 3600}))
            .await;
        assert_eq!(status, 201);
        let (status, p) = api.send(Method::POST, "/projects/asleep/poll", json!({})).await;
        assert_eq!(status, 200, "{p}");
        let (status, _) = api.send(Method::POST, "/quit", json!({})).await;
        assert_eq!(status, 202);
        wait_for("the engine to stop", Duration::from_secs(15), || (!dir.path().join("engine.json").exists()).then_some(()));
    }
    // The laptop sleeps; someone pushes.
    let pushed = commit_and_push(&served.work, "while asleep");

    // At start, before the hour-long interval, the push is found and deployed.
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let runs = wait_runs(&api, "asleep", 1, Duration::from_secs(10)).await;
    assert_eq!(runs[0]["commit_sha"], pushed.as_str());
    assert_eq!(runs[0]["trigger"], "poll");
}
