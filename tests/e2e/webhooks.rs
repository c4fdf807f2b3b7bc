//! The webhook listener over real HTTP, fed the real payloads in shared/fixtures/webhooks,
//! signed here with the project's secret the way each forge signs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

/// Headers a forge sends with a delivery, signed with `secret` (None: no signature header).
fn forge_headers(provider: &str, event: &str, delivery: &str, body: &[u8], secret: Option<&str>) -> Vec<(String, String)> {
    let mut h: Vec<(&str, String)> = match provider {
        "github" => vec![("X-GitHub-Event", event.into()), ("X-GitHub-Delivery", delivery.into())],
        "gitlab" => vec![("X-Gitlab-Event", event.into()), ("Idempotency-Key", delivery.into()), ("X-Gitlab-Event-UUID", delivery.into())],
        // Gitea and Forgejo also send the GitHub-compatible headers; detection must not be fooled.
        "gitea" => vec![
            ("X-Gitea-Event", event.into()),
            ("X-Gitea-Delivery", delivery.into()),
            ("X-GitHub-Event", event.into()),
            ("X-GitHub-Delivery", delivery.into()),
        ],
        "forgejo" => vec![
            ("X-Forgejo-Event", event.into()),
            ("X-Forgejo-Delivery", delivery.into()),
            ("X-Gitea-Event", event.into()),
            ("X-Gitea-Delivery", delivery.into()),
            ("X-GitHub-Event", event.into()),
        ],
        "bitbucket" => vec![("X-Event-Key", event.into()), ("X-Request-UUID", delivery.into()), ("X-Hook-UUID", "{hook}".into())],
        other => panic!("unknown provider {other}"),
    };
    if let Some(secret) = secret {
        let sig = hmac_hex(secret, body);
        match provider {
            "github" => h.push(("X-Hub-Signature-256", format!("sha256={sig}"))),
            "gitlab" => h.push(("X-Gitlab-Token", secret.into())),
            "gitea" => h.push(("X-Gitea-Signature", sig)),
            "forgejo" => {
                h.push(("X-Forgejo-Signature", sig.clone()));
                h.push(("X-Gitea-Signature", sig));
            }
            "bitbucket" => h.push(("X-Hub-Signature", format!("sha256={sig}"))),
            _ => unreachable!(),
        }
    }
    h.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

async fn post(url: &str, headers: &[(String, String)], content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).header("Content-Type", content_type).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({ "transport_error": e.to_string() })),
    }
}

/// Posts fixture `file` the way `provider` delivers it, signed with `secret`.
async fn deliver(url: &str, secret: &str, provider: &str, event: &str, file: &str, id: &str) -> (u16, Value) {
    let body = fixture(file);
    post(url, &forge_headers(provider, event, id, &body, Some(secret)), "application/json", body).await
}

async fn create_project(api: &Api, name: &str, stages: Value) -> (String, String) {
    let (status, project) = api
        .send(
            Method::POST,
            "/projects",
            json!({"name": name, "repo_url": "https://example.invalid/app.git", "forge": "github", "stages": stages}),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_string();
    let hook = api.get(&format!("/projects/{id}/webhook")).await;
    (hook["url"].as_str().unwrap().to_string(), hook["secret"].as_str().unwrap().to_string())
}

/// These tests are about what the intake queues: hold the queue so runs stay "queued" instead
/// of starting (and failing on the fixtures' made-up repositories).
async fn hold_runs(api: &Api) {
    let (status, v) = api.send(Method::PUT, "/runner", json!({"held": true})).await;
    assert_eq!((status, v["held"].as_bool()), (200, Some(true)));
}

fn everything() -> Value {
    json!([{"name": "dev", "branch_patterns": ["*"], "tag_patterns": ["*"]}])
}

async fn runs(api: &Api, project: &str) -> Vec<Value> {
    api.get(&format!("/runs?project={project}")).await.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_queues_verified_pushes_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    hold_runs(&api).await;
    let (url, secret) = create_project(&api, "all-forges", everything()).await;

    // (provider, event header, fixture, commit the run must build)
    let cases = [
        ("github", "push", "github/push-branch.json", "366701fde727cb7a9e7f21eb88264f59f6f9b89c"),
        ("gitlab", "Push Hook", "gitlab/push.json", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        ("gitea", "push", "gitea/push-branch.json", "29be01c073851cf0db0c6a466e396b725a670453"),
        ("forgejo", "push", "forgejo/push-docs-example.json", "bffeb74224043ba2feb48d137756c8a9331c449a"),
        ("bitbucket", "repo:push", "bitbucket/repo-push.json", ""),
    ];
    let mut queued = 0;
    for (provider, event, file, commit) in cases {
        let body = fixture(file);
        let delivery = format!("{provider}-delivery-1");

        // Wrong secret, then no signature at all: 401, and nothing queued.
        let (status, err) =
            post(&url, &forge_headers(provider, event, &delivery, &body, Some("not-the-secret")), "application/json", body.clone()).await;
        assert_eq!(status, 401, "{provider}: {err}");
        assert_eq!(err["code"], "unauthorized");
        let (status, _) = post(&url, &forge_headers(provider, event, &delivery, &body, None), "application/json", body.clone()).await;
        assert_eq!(status, 401, "{provider} without a signature");
        assert_eq!(runs(&api, "all-forges").await.len(), queued, "{provider}: a refused delivery queued a run");

        // Signed, but not JSON: 400.
        let junk = b"{\"ref\": ".to_vec();
        let (status, err) = post(&url, &forge_headers(provider, event, "junk", &junk, Some(&secret)), "application/json", junk).await;
        assert_eq!(status, 400, "{provider}: {err}");

        // The real payload, signed: 202 with the run id; the run builds the pushed commit.
        let (status, verdict) =
            post(&url, &forge_headers(provider, event, &delivery, &body, Some(&secret)), "application/json", body.clone()).await;
        assert_eq!(status, 202, "{provider}: {verdict}");
        assert_eq!(verdict["outcome"], "queued");
        let run_id = verdict["run_ids"][0].as_i64().unwrap();
        queued += 1;
        let run = runs(&api, "all-forges").await.into_iter().find(|r| r["id"] == run_id).unwrap();
        assert_eq!(run["status"], "queued");
        assert_eq!(run["trigger"], "webhook");
        if !commit.is_empty() {
            assert_eq!(run["commit_sha"], commit, "{provider}");
        }

        // The forge retries the same delivery: 200 duplicate, naming the original run.
        let (status, verdict) =
            post(&url, &forge_headers(provider, event, &delivery, &body, Some(&secret)), "application/json", body.clone()).await;
        assert_eq!(status, 200, "{provider}: {verdict}");
        assert_eq!(verdict["outcome"], "duplicate");
        assert_eq!(verdict["run_ids"][0], run_id);
    }
    assert_eq!(runs(&api, "all-forges").await.len(), queued);

    // The inbox recorded every delivery, newest first, with reasons for the refused ones.
    let inbox = api.get("/deliveries?project=all-forges").await;
    let inbox = inbox.as_array().unwrap();
    assert_eq!(inbox.len(), 5 * 5);
    assert!(inbox.windows(2).all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()));
    let rejected: Vec<&Value> = inbox.iter().filter(|d| d["outcome"] == "rejected").collect();
    assert_eq!(rejected.len(), 15);
    assert!(rejected.iter().all(|d| d["reason"].as_str().unwrap().len() > 10));
    assert!(inbox.iter().any(|d| d["provider"] == "bitbucket" && d["outcome"] == "queued" && d["ref_name"] == "refs/heads/main"));
}

#[tokio::test(flavor = "multi_thread")]
async fn statuses_for_ignored_unknown_oversized_and_wrongly_typed_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    hold_runs(&api).await;
    let (url, secret) = create_project(&api, "main-only", json!([{"name": "prod", "branch_patterns": ["main"]}])).await;

    let (status, v) = deliver(&url, &secret, "github", "ping", "github/ping.json", "p1").await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert!(v["reason"].as_str().unwrap().starts_with("ping"), "{v}");

    let (status, v) = deliver(&url, &secret, "github", "push", "github/push-branch-deleted.json", "d1").await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("was deleted"), "{v}");

    let (status, v) = deliver(&url, &secret, "forgejo", "push", "forgejo/push-docs-example.json", "f1").await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert_eq!(v["reason"], "refs/heads/develop matches no stage (prod: branches main)");

    let (status, v) = deliver(&url, &secret, "github", "pull_request", "github/pull_request-opened.json", "pr1").await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("opt-in"), "{v}");

    // Unknown hook: 404 before anything else.
    let body = fixture("github/push-branch.json");
    let unknown = url.replace("/hooks/main-only", "/hooks/nope");
    let (status, v) = post(&unknown, &forge_headers("github", "push", "u1", &body, Some(&secret)), "application/json", body.clone()).await;
    assert_eq!((status, v["code"].as_str()), (404, Some("not_found")), "{v}");

    // Wrong content type: 415.
    let (status, v) = post(&url, &forge_headers("github", "push", "c1", &body, Some(&secret)), "text/plain", body.clone()).await;
    assert_eq!((status, v["code"].as_str()), (415, Some("unsupported_media_type")), "{v}");

    // No forge headers at all: 400.
    let (status, v) = post(&url, &[], "application/json", body.clone()).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("invalid_input")), "{v}");

    // Over 25 MiB: 413, answered (not a dropped connection) and recorded.
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, v) = post(&url, &forge_headers("github", "push", "b1", &big, Some(&secret)), "application/json", big).await;
    assert_eq!((status, v["code"].as_str()), (413, Some("payload_too_large")), "{v}");

    // The main branch still deploys.
    let (status, v) = deliver(&url, &secret, "github", "push", "github/push-branch.json", "ok1").await;
    assert_eq!(status, 202, "{v}");

    assert_eq!(runs(&api, "main-only").await.len(), 1);
    let inbox = api.get("/deliveries?project=main-only").await;
    let statuses: Vec<i64> = inbox.as_array().unwrap().iter().map(|d| d["http_status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![202, 413, 400, 415, 200, 200, 200, 200]);
    // The 404 has no project; it is in the global inbox.
    let all = api.get("/deliveries").await;
    assert!(all.as_array().unwrap().iter().any(|d| d["http_status"] == 404 && d["project_id"].is_null()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_deliveries_of_one_push_start_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    hold_runs(&api).await;
    let (url, secret) = create_project(&api, "burst", everything()).await;
    let body = fixture("gitea/push-branch.json");
    let mut tasks = Vec::new();
    let data = dir.path().to_path_buf();
    for i in 0..100 {
        // Half are one delivery retried, half are other hooks sending the same push.
        let delivery = if i % 2 == 0 { "same-delivery".to_string() } else { format!("hook-{i}") };
        let headers = forge_headers("gitea", "push", &delivery, &body, Some(&secret));
        let (url, body) = (url.clone(), body.clone());
        tasks.push(tokio::spawn(async move { post(&url, &headers, "application/json", body).await }));
    }
    let mut queued = 0;
    let mut run_ids = std::collections::HashSet::new();
    for t in tasks {
        let (status, v) = t.await.unwrap_or_else(|e| panic!("{e}; the engine said: {}", output(&data).1));
        match status {
            202 => queued += 1,
            200 => assert_eq!(v["outcome"], "duplicate", "{v}"),
            other => panic!("unexpected {other}: {v}; the engine said: {}", output(&data).1),
        }
        run_ids.insert(v["run_ids"][0].as_i64().unwrap());
    }
    assert_eq!(queued, 1);
    assert_eq!(run_ids.len(), 1, "duplicates must name the one run: {run_ids:?}");
    assert_eq!(runs(&api, "burst").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_newer_pushes_and_pause() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    hold_runs(&api).await;
    let (url, secret) = create_project(
        &api,
        "rules",
        json!([
            {"name": "dev", "branch_patterns": ["main", "master"]},
            {"name": "rel", "branch_patterns": [], "tag_patterns": ["v*"]}
        ]),
    )
    .await;

    // A GitLab annotated tag deploys the commit (checkout_sha), not the tag object (after).
    let (status, v) = deliver(&url, &secret, "gitlab", "Tag Push Hook", "gitlab/tag_push-annotated.json", "t1").await;
    assert_eq!(status, 202, "{v}");
    let rel = runs(&api, "rules").await;
    assert_eq!(rel[0]["stage"], "rel");
    assert_eq!(rel[0]["commit_sha"], "16862e368d8ab812e48833b741dad720d6e2cb7f");
    assert_eq!(rel[0]["ref_name"], "refs/tags/v22");

    // A newer push to dev supersedes dev's queued run.
    let (status, first) = deliver(&url, &secret, "github", "push", "github/push-branch.json", "a").await;
    assert_eq!(status, 202, "{first}");
    let (status, second) = deliver(&url, &secret, "github", "push", "github/push-new-branch.json", "b").await;
    assert_eq!(status, 202, "{second}");
    let all = runs(&api, "rules").await;
    let by_id = |id: &Value| all.iter().find(|r| &r["id"] == id).unwrap().clone();
    let old = by_id(&first["run_ids"][0]);
    assert_eq!(old["status"], "superseded");
    assert!(old["reason"].as_str().unwrap().contains(&format!("run {}", second["run_ids"][0])));
    assert_eq!(by_id(&second["run_ids"][0])["status"], "queued");
    assert_eq!(by_id(&rel[0]["id"])["status"], "queued", "another stage's run is not superseded");

    // Paused: recorded, ignored with the reason, no run.
    api.send(Method::PUT, "/auto-deploy", json!({"paused": true})).await;
    let (status, v) = deliver(&url, &secret, "gitea", "push", "gitea/push-branch.json", "c").await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("paused"), "{v}");
    assert_eq!(runs(&api, "rules").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_gets_not_found_too_large_wrong_type_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    hold_runs(&api).await;
    let (url, secret) = create_project(&api, "strict", json!([{"name": "prod", "branch_patterns": ["main"]}])).await;
    let unknown = url.replace("/hooks/strict", "/hooks/missing");
    // Pushes to branches other than main, one per provider.
    let cases = [
        ("github", "push", "github/push-new-branch.json", "refs/heads/master"),
        ("gitlab", "Push Hook", "gitlab/push.json", "refs/heads/master"),
        ("gitea", "push", "gitea/push-new-branch.json", "refs/heads/master"),
        ("forgejo", "push", "forgejo/push-docs-example.json", "refs/heads/develop"),
        ("bitbucket", "repo:push", "bitbucket/repo-push-2018.json", "refs/heads/master"),
    ];
    for (provider, event, file, git_ref) in cases {
        let body = fixture(file);
        let headers = forge_headers(provider, event, &format!("{provider}-x"), &body, Some(&secret));

        let (status, v) = post(&unknown, &headers, "application/json", body.clone()).await;
        assert_eq!((status, v["code"].as_str()), (404, Some("not_found")), "{provider}: {v}");

        let (status, v) = post(&url, &headers, "text/xml", body.clone()).await;
        assert_eq!((status, v["code"].as_str()), (415, Some("unsupported_media_type")), "{provider}: {v}");

        let big = vec![b' '; 25 * 1024 * 1024 + 1];
        let big_headers = forge_headers(provider, event, &format!("{provider}-big"), &big, Some(&secret));
        let (status, v) = post(&url, &big_headers, "application/json", big).await;
        assert_eq!((status, v["code"].as_str()), (413, Some("payload_too_large")), "{provider}: {v}");

        let (status, v) = post(&url, &headers, "application/json", body).await;
        assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{provider}: {v}");
        assert_eq!(v["reason"], format!("{git_ref} matches no stage (prod: branches main)"), "{provider}");
    }
    assert!(runs(&api, "strict").await.is_empty(), "nothing may be queued");
    let inbox = api.get("/deliveries?project=strict").await;
    assert_eq!(inbox.as_array().unwrap().len(), 15);
    let all = api.get("/deliveries").await;
    assert_eq!(all.as_array().unwrap().iter().filter(|d| d["http_status"] == 404).count(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_requests_deploy_only_where_opted_in() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    hold_runs(&api).await;
    let (url, secret) = create_project(
        &api,
        "previews",
        json!([
            {"name": "dev", "branch_patterns": ["master"]},
            {"name": "preview", "branch_patterns": ["master"], "pr_events": true, "auto_deploy": true}
        ]),
    )
    .await;
    let body = fixture("github/pull_request-opened.json");
    let (status, v) = post(&url, &forge_headers("github", "pull_request", "pr-2", &body, Some(&secret)), "application/json", body).await;
    assert_eq!(status, 202, "{v}");
    let all = runs(&api, "previews").await;
    assert_eq!(all.len(), 1, "only the opted-in stage: {all:?}");
    assert_eq!(all[0]["stage"], "preview");
    assert_eq!(all[0]["commit_sha"], "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
    assert_eq!(all[0]["ref_name"], "refs/pull/2/head");

    let body = fixture("github/pull_request-closed-merged.json");
    let (status, v) =
        post(&url, &forge_headers("github", "pull_request", "pr-merged", &body, Some(&secret)), "application/json", body).await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("merged"), "{v}");
}
