//! Commit-status reporting against a local stub forge.
//!
//! No real forge is reachable from tests, so each test starts an axum server on 127.0.0.1:0 that
//! records every request and answers as told. The assertions pin what each forge's docs require:
//! method, path (with its percent-encoding), query, auth and API headers, and the exact JSON body.
//! Doc pages: GitHub https://docs.github.com/en/rest/commits/statuses#create-a-commit-status,
//! GitLab https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit,
//! Gitea https://gitea.com/api/swagger#/repository/repoCreateStatus (Forgejo: the same),
//! Bitbucket https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use slipway_engine::adapters::forge::status::{
    bitbucket_key, build_request, report, report_with_timeout, PlannedRequest, RunState, StatusError, StatusReport, StatusTarget,
    GITHUB_API_VERSION, USER_AGENT,
};
use slipway_engine::adapters::forge::webhook::Provider;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "tok-SECRET-4242";
const LINK: &str = "https://slipway.local/runs/42";

// ---------------------------------------------------------------------------------------------
// The stub forge

#[derive(Clone, Debug)]
struct Received {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }
}

#[derive(Clone)]
enum Reply {
    /// Answer every request with this status and body.
    Status(u16, &'static str),
    /// Accept the request, then never answer.
    Hang,
    /// Answer a POST with 301 to this path, and anything else with 200.
    MovedTo(&'static str),
}

#[derive(Clone)]
struct Stub {
    received: Arc<Mutex<Vec<Received>>>,
    reply: Reply,
}

impl Stub {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("stub lock").clone()
    }
}

async fn record(State(stub): State<Stub>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let method = parts.method.clone();
    stub.received.lock().expect("stub lock").push(Received {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    });
    match stub.reply {
        Reply::Status(code, body) => {
            let code = StatusCode::from_u16(code).expect("valid status");
            (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Reply::Hang => std::future::pending().await,
        Reply::MovedTo(path) if method == Method::POST => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, path)], "").into_response(),
        Reply::MovedTo(_) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "[]").into_response(),
    }
}

/// Starts a stub and returns its root URL ("http://127.0.0.1:PORT") and handle.
async fn start(reply: Reply) -> (String, Stub) {
    let stub = Stub { received: Arc::default(), reply };
    let app = Router::new().fallback(record).with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
    let addr = listener.local_addr().expect("stub address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), stub)
}

/// A client that never detours through a proxy from the environment.
fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

fn target(provider: Provider, api_base: String, repo: &str) -> StatusTarget {
    StatusTarget { provider, api_base, repo: repo.to_string(), token: TOKEN.to_string() }
}

fn status<'a>(state: RunState, context: &'a str, description: &'a str, target_url: Option<&'a str>) -> StatusReport<'a> {
    StatusReport { state, context, description, target_url }
}

/// One report per run state, with the description a human would write for it, and what the
/// description must read on the forge (the state alone can't say "rolled back" or "cancelled").
struct Case {
    state: RunState,
    description: &'static str,
    shown: &'static str,
}

const CASES: [Case; 6] = [
    Case { state: RunState::Pending, description: "queued for dev", shown: "queued for dev" },
    Case { state: RunState::Running, description: "deploying to dev", shown: "deploying to dev" },
    Case { state: RunState::Succeeded, description: "release 12 live on dev", shown: "release 12 live on dev" },
    Case { state: RunState::Failed, description: "health check failed", shown: "health check failed" },
    Case { state: RunState::RolledBack, description: "health check failed", shown: "rolled back: health check failed" },
    Case { state: RunState::Cancelled, description: "stopped by alice", shown: "cancelled: stopped by alice" },
];

/// Sends every case through `report` and returns what the stub received, one request per case.
async fn send_every_state(target: &StatusTarget, stub: &Stub) -> Vec<Received> {
    for case in &CASES {
        let sent = status(case.state, "slipway/dev", case.description, Some(LINK));
        report(&http(), target, SHA, &sent).await.unwrap_or_else(|e| panic!("{:?}: {e}", case.state));
    }
    let received = stub.received();
    assert_eq!(received.len(), CASES.len(), "one request per report");
    received
}

/// The wire request is exactly the planned one: `build_request` is what the UI shows.
fn assert_matches_plan(got: &Received, planned: &PlannedRequest, base: &str) {
    assert_eq!(got.method.as_str(), planned.method.as_str());
    assert_eq!(format!("{base}{}", got.path), planned.url);
    for (name, value) in &planned.headers {
        assert_eq!(got.header(name), Some(value.as_str()), "header {name}");
    }
    assert_eq!(Some(got.json()), planned.body);
}

fn assert_common_headers(got: &Received, accept: &str) {
    assert_eq!(got.method, Method::POST);
    assert_eq!(got.query, None, "no query string: everything goes in the JSON body");
    assert_eq!(got.header("accept"), Some(accept));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("slipway/"));
}

// ---------------------------------------------------------------------------------------------
// Every forge, every state

#[tokio::test]
async fn github_every_state() {
    let (base, stub) = start(Reply::Status(201, r#"{"id":1,"state":"pending"}"#)).await;
    let target = target(Provider::Github, base.clone(), "acme/web");
    let received = send_every_state(&target, &stub).await;
    let wire = ["pending", "pending", "success", "failure", "failure", "error"];

    for ((got, case), state) in received.iter().zip(&CASES).zip(wire) {
        assert_common_headers(got, "application/vnd.github+json");
        assert_eq!(got.path, format!("/repos/acme/web/statuses/{SHA}"));
        assert_eq!(got.header("authorization"), Some("Bearer tok-SECRET-4242"));
        assert_eq!(got.header("x-github-api-version"), Some("2022-11-28"));
        assert_eq!(GITHUB_API_VERSION, "2022-11-28");
        assert_eq!(got.header("private-token"), None);
        assert_eq!(got.json(), json!({"state": state, "target_url": LINK, "description": case.shown, "context": "slipway/dev"}));
        let planned = build_request(&target, SHA, &status(case.state, "slipway/dev", case.description, Some(LINK)));
        assert_matches_plan(got, &planned, &base);
    }
}

#[tokio::test]
async fn gitlab_every_state() {
    let (base, stub) = start(Reply::Status(201, r#"{"id":93,"status":"pending"}"#)).await;
    let target = target(Provider::Gitlab, format!("{base}/api/v4"), "acme/web");
    let received = send_every_state(&target, &stub).await;
    let wire = ["pending", "running", "success", "failed", "failed", "canceled"];

    for ((got, case), state) in received.iter().zip(&CASES).zip(wire) {
        assert_common_headers(got, "application/json");
        // The project path is one URL-encoded segment.
        assert_eq!(got.path, format!("/api/v4/projects/acme%2Fweb/statuses/{SHA}"));
        assert_eq!(got.header("private-token"), Some(TOKEN));
        assert_eq!(got.header("authorization"), None);
        assert_eq!(got.json(), json!({"state": state, "name": "slipway/dev", "target_url": LINK, "description": case.shown}));
        let planned = build_request(&target, SHA, &status(case.state, "slipway/dev", case.description, Some(LINK)));
        assert_matches_plan(got, &planned, &base);
    }
}

async fn gitea_like_every_state(provider: Provider) {
    let (base, stub) = start(Reply::Status(201, r#"{"id":7,"status":"pending"}"#)).await;
    let target = target(provider, format!("{base}/api/v1"), "acme/web");
    let received = send_every_state(&target, &stub).await;
    let wire = ["pending", "pending", "success", "failure", "failure", "error"];

    for ((got, case), state) in received.iter().zip(&CASES).zip(wire) {
        assert_common_headers(got, "application/json");
        assert_eq!(got.path, format!("/api/v1/repos/acme/web/statuses/{SHA}"));
        assert_eq!(got.header("authorization"), Some("token tok-SECRET-4242"));
        assert_eq!(got.header("private-token"), None);
        assert_eq!(got.json(), json!({"state": state, "target_url": LINK, "description": case.shown, "context": "slipway/dev"}));
        let planned = build_request(&target, SHA, &status(case.state, "slipway/dev", case.description, Some(LINK)));
        assert_matches_plan(got, &planned, &base);
    }
}

#[tokio::test]
async fn gitea_every_state() {
    gitea_like_every_state(Provider::Gitea).await;
}

#[tokio::test]
async fn forgejo_every_state() {
    gitea_like_every_state(Provider::Forgejo).await;
}

#[tokio::test]
async fn bitbucket_every_state() {
    let (base, stub) = start(Reply::Status(201, r#"{"type":"build","key":"slipway/dev"}"#)).await;
    let target = target(Provider::Bitbucket, format!("{base}/2.0"), "acme/web");
    let received = send_every_state(&target, &stub).await;
    let wire = ["INPROGRESS", "INPROGRESS", "SUCCESSFUL", "FAILED", "FAILED", "STOPPED"];

    for ((got, case), state) in received.iter().zip(&CASES).zip(wire) {
        assert_common_headers(got, "application/json");
        assert_eq!(got.path, format!("/2.0/repositories/acme/web/commit/{SHA}/statuses/build"));
        assert_eq!(got.header("authorization"), Some("Bearer tok-SECRET-4242"));
        assert_eq!(got.header("private-token"), None);
        assert_eq!(
            got.json(),
            json!({
                "key": "slipway/dev",
                "state": state,
                "name": "slipway/dev",
                "url": LINK,
                "description": case.shown,
            })
        );
        let planned = build_request(&target, SHA, &status(case.state, "slipway/dev", case.description, Some(LINK)));
        assert_matches_plan(got, &planned, &base);
    }
}

// ---------------------------------------------------------------------------------------------
// Forge-specific shapes

#[tokio::test]
async fn gitlab_project_path_and_numeric_id_are_one_segment() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let sent = status(RunState::Running, "slipway/prod", "deploying", None);
    for repo in ["group/sub/project", "42", "team a/web%1"] {
        let target = target(Provider::Gitlab, format!("{base}/api/v4/"), repo);
        report(&http(), &target, SHA, &sent).await.expect("accepted");
    }
    let received = stub.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].path, format!("/api/v4/projects/group%2Fsub%2Fproject/statuses/{SHA}"));
    assert_eq!(received[1].path, format!("/api/v4/projects/42/statuses/{SHA}"));
    assert_eq!(received[2].path, format!("/api/v4/projects/team%20a%2Fweb%251/statuses/{SHA}"));
    // No link configured: GitLab gets none rather than an invented one.
    assert_eq!(received[0].json(), json!({"state": "running", "name": "slipway/prod", "description": "deploying"}));
}

#[tokio::test]
async fn github_enterprise_base_with_path_and_trailing_slash() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let target = target(Provider::Github, format!("{base}/api/v3/"), "acme/web");
    report(&http(), &target, SHA, &status(RunState::Succeeded, "slipway/dev", "live", None)).await.expect("accepted");
    let received = stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, format!("/api/v3/repos/acme/web/statuses/{SHA}"));
    assert_eq!(received[0].json(), json!({"state": "success", "description": "live", "context": "slipway/dev"}));
}

#[tokio::test]
async fn bitbucket_without_link_points_at_the_commit_page() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let target_ = target(Provider::Bitbucket, format!("{base}/2.0"), "acme/web");
    report(&http(), &target_, SHA, &status(RunState::Running, "slipway/dev", "deploying", None)).await.expect("accepted");
    let received = stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["url"], json!(format!("{base}/acme/web/commits/{SHA}")));

    // Against the real API host the link goes to bitbucket.org, not api.bitbucket.org.
    let cloud = target(Provider::Bitbucket, "https://api.bitbucket.org/2.0".to_string(), "acme/web");
    let planned = build_request(&cloud, SHA, &status(RunState::Running, "slipway/dev", "deploying", None));
    assert_eq!(planned.url, format!("https://api.bitbucket.org/2.0/repositories/acme/web/commit/{SHA}/statuses/build"));
    assert_eq!(planned.body.as_ref().map(|b| b["url"].clone()), Some(json!(format!("https://bitbucket.org/acme/web/commits/{SHA}"))));
}

#[tokio::test]
async fn bitbucket_key_is_stable_short_and_distinct() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let target = target(Provider::Bitbucket, format!("{base}/2.0"), "acme/web");
    let long_a = "slipway/production-eu-west-1/blue-green-canary";
    let long_b = "slipway/production-eu-west-1/blue-green-rollout";
    for (state, context) in [(RunState::Running, long_a), (RunState::Succeeded, long_a), (RunState::Running, long_b)] {
        report(&http(), &target, SHA, &status(state, context, "x", Some(LINK))).await.expect("accepted");
    }
    let received = stub.received();
    assert_eq!(received.len(), 3);
    let keys: Vec<String> = received.iter().map(|r| r.json()["key"].as_str().unwrap_or_default().to_string()).collect();
    assert!(keys.iter().all(|k| k.chars().count() <= 40), "Bitbucket caps key at 40: {keys:?}");
    assert_eq!(keys[0], keys[1], "later states must update the same status");
    assert_ne!(keys[0], keys[2], "contexts sharing a prefix must not share a status");
    assert!(keys[0].starts_with("slipway/production-eu-west-1/b"), "still readable: {}", keys[0]);
    assert_eq!(keys[0], bitbucket_key(long_a));
    // The full context is still shown as the name.
    assert_eq!(received[0].json()["name"], json!(long_a));
    assert_eq!(bitbucket_key("slipway/dev"), "slipway/dev");
}

#[tokio::test]
async fn descriptions_are_one_line_and_cut_to_each_forge_limit() {
    let long: String = "é".repeat(300);
    let cases = [
        (Provider::Github, "", 140),
        (Provider::Gitlab, "/api/v4", 255),
        (Provider::Gitea, "/api/v1", 255),
        (Provider::Forgejo, "/api/v1", 255),
        (Provider::Bitbucket, "/2.0", 255),
    ];
    for (provider, suffix, max) in cases {
        let (base, stub) = start(Reply::Status(201, "{}")).await;
        let target = target(provider, format!("{base}{suffix}"), "acme/web");
        report(&http(), &target, SHA, &status(RunState::Failed, "slipway/dev", &long, Some(LINK))).await.expect("accepted");
        report(&http(), &target, SHA, &status(RunState::Failed, "slipway/dev", "migrate failed:\n  exit 1\t", None))
            .await
            .expect("accepted");
        let received = stub.received();
        assert_eq!(received.len(), 2, "{provider:?}");
        let cut = received[0].json()["description"].as_str().unwrap_or_default().to_string();
        assert_eq!(cut.chars().count(), max, "{provider:?}");
        assert!(cut.ends_with('…') && cut.starts_with("éé"), "{provider:?}: {cut}");
        assert_eq!(received[1].json()["description"], json!("migrate failed: exit 1"), "{provider:?}");
    }
}

#[tokio::test]
async fn gitlab_drops_a_link_it_would_refuse() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let target = target(Provider::Gitlab, format!("{base}/api/v4"), "acme/web");
    let link = format!("https://slipway.local/runs/{}", "9".repeat(300));
    report(&http(), &target, SHA, &status(RunState::Succeeded, "slipway/dev", "live", Some(&link))).await.expect("accepted");
    let received = stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json(), json!({"state": "success", "name": "slipway/dev", "description": "live"}));
}

#[tokio::test]
async fn empty_descriptions_are_left_out_but_outcomes_still_say_what_happened() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let target = target(Provider::Github, base.clone(), "acme/web");
    for state in [RunState::Succeeded, RunState::RolledBack, RunState::Cancelled] {
        report(&http(), &target, SHA, &status(state, "slipway/dev", "", None)).await.expect("accepted");
    }
    // A description that already says it is not said twice.
    report(&http(), &target, SHA, &status(RunState::RolledBack, "slipway/dev", "Rolled back to release 11", None)).await.expect("accepted");
    let bodies: Vec<Value> = stub.received().iter().map(Received::json).collect();
    assert_eq!(
        bodies,
        vec![
            json!({"state": "success", "context": "slipway/dev"}),
            json!({"state": "failure", "description": "rolled back", "context": "slipway/dev"}),
            json!({"state": "error", "description": "cancelled", "context": "slipway/dev"}),
            json!({"state": "failure", "description": "Rolled back to release 11", "context": "slipway/dev"}),
        ]
    );
}

// Refusals: what an operator reads when the forge says no.
#[path = "forge_status/refusals.rs"]
mod refusals;

// ---------------------------------------------------------------------------------------------
// No answer, no server, no valid target

#[tokio::test]
async fn a_forge_that_never_answers_hits_the_timeout() {
    let (base, stub) = start(Reply::Hang).await;
    let target = target(Provider::Gitea, format!("{base}/api/v1"), "acme/web");
    let started = Instant::now();
    let err = report_with_timeout(
        &http(),
        &target,
        SHA,
        &status(RunState::Running, "slipway/dev", "deploying", Some(LINK)),
        Duration::from_millis(300),
    )
    .await
    .expect_err("must time out");
    let waited = started.elapsed();
    assert!(matches!(err, StatusError::Timeout { .. }), "{err:?}");
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(5), "waited {waited:?}");
    let text = err.to_string();
    assert!(text.contains("Gitea") && text.contains("did not answer within 0.3 s"), "{text}");
    // The request did arrive, whole: the forge just never answered.
    let received = stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["state"], json!("pending"));
}

#[tokio::test]
async fn a_refused_connection_reads_plainly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let api_base = format!("http://127.0.0.1:{port}");
    let target = target(Provider::Github, api_base.clone(), "acme/web");
    let err = report(&http(), &target, SHA, &status(RunState::Running, "slipway/dev", "deploying", None))
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, StatusError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with(&format!("could not reach GitHub at {api_base}")), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
}

#[tokio::test]
async fn invalid_targets_send_nothing() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    let good = target(Provider::Github, base.clone(), "acme/web");
    let sent = status(RunState::Running, "slipway/dev", "deploying", None);
    let cases = [
        (StatusTarget { repo: "acme".into(), ..good.clone() }, SHA, "owner/name"),
        (StatusTarget { repo: "acme/web/extra".into(), ..good.clone() }, SHA, "owner/name"),
        (StatusTarget { provider: Provider::Bitbucket, repo: "/web".into(), ..good.clone() }, SHA, "workspace/repo_slug"),
        (StatusTarget { repo: "acme/..".into(), ..good.clone() }, SHA, "owner/name"),
        (StatusTarget { provider: Provider::Gitlab, repo: " ".into(), ..good.clone() }, SHA, "GitLab project"),
        (StatusTarget { provider: Provider::Gitlab, repo: "..".into(), ..good.clone() }, SHA, "GitLab project"),
        (StatusTarget { api_base: "api.github.com".into(), ..good.clone() }, SHA, "not an http(s) URL"),
        (StatusTarget { token: "".into(), ..good.clone() }, SHA, "no token"),
        (StatusTarget { token: "two words".into(), ..good.clone() }, SHA, "cannot be sent in an HTTP header"),
        (good.clone(), "main", "not a commit SHA"),
        (good.clone(), "", "not a commit SHA"),
    ];
    for (target, sha, reason) in cases {
        let err = report(&http(), &target, sha, &sent).await.expect_err("invalid target");
        assert!(matches!(err, StatusError::InvalidTarget { .. }), "{err:?}");
        assert!(err.to_string().contains(reason), "{reason:?} missing from {err}");
    }
    assert!(stub.received().is_empty(), "nothing may reach the forge");
    // The good target does reach it.
    report(&http(), &good, SHA, &sent).await.expect("accepted");
    assert_eq!(stub.received().len(), 1);
}

#[tokio::test]
async fn the_token_is_sent_but_never_shown() {
    let (base, stub) = start(Reply::Status(201, "{}")).await;
    for (provider, suffix, header_name, shown) in [
        (Provider::Github, "", "authorization", "Bearer <redacted>"),
        (Provider::Gitlab, "/api/v4", "private-token", "<redacted>"),
        (Provider::Forgejo, "/api/v1", "authorization", "token <redacted>"),
    ] {
        let mut target = target(provider, format!("{base}{suffix}"), "acme/web");
        // As a keychain or a paste may hand it over: the newline must not reach the header.
        target.token = format!("{TOKEN}\n");
        let sent = status(RunState::Succeeded, "slipway/dev", "live", Some(LINK));
        report(&http(), &target, SHA, &sent).await.expect("accepted");

        let planned = build_request(&target, SHA, &sent);
        assert_eq!(planned.redacted().header(header_name), Some(shown));
        assert_eq!(planned.redacted().body, planned.body);
        assert!(!format!("{planned:?}").contains(TOKEN));
        assert!(!format!("{target:?}").contains(TOKEN));
    }
    let received = stub.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].header("authorization"), Some("Bearer tok-SECRET-4242"));
    assert_eq!(received[1].header("private-token"), Some(TOKEN));
    assert_eq!(received[2].header("authorization"), Some("token tok-SECRET-4242"));
}
