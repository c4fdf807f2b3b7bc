//! Commit statuses wired to runs: a queued run shows "pending" on the forge, and a forge that
//! fails is written to the run's log without failing anything. The forge is a local stub
//! (no forge can be reached here); the request shapes themselves are pinned in forge_status.rs.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;
use slipway_engine::adapters::forge::status::RunState;
use slipway_engine::domain::events::ForgeAccount;
use slipway_engine::domain::project::{Forge, NewProject};
use slipway_engine::domain::run::{Change, ChangeKind, Source, Trigger};
use slipway_engine::{services::commit_status, Config, Engine};

type Seen = Arc<Mutex<Vec<(Method, String, HeaderMap, Value)>>>;

async fn stub(answer: Arc<AtomicU16>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (s, a) = (seen.clone(), answer.clone());
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
        let (s, a) = (s.clone(), a.clone());
        async move {
            s.lock().unwrap().push((method, uri.to_string(), headers, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            (StatusCode::from_u16(a.load(Ordering::SeqCst)).unwrap(), r#"{"message":"stub says no"}"#)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_runs_report_pending_and_forge_failures_land_in_the_run_log() {
    let answer = Arc::new(AtomicU16::new(201));
    let (api, seen) = stub(answer.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(Config::at(dir.path(), "127.0.0.1:0".parse().unwrap(), "unix:///nope")).await.unwrap();
    // Only the intake's "pending" is under test here; keep the runner from starting the run.
    engine.set_runs_held(true).await.unwrap();
    let account = format!("gh-{}", std::process::id());
    engine
        .save_forge_account(ForgeAccount { name: account.clone(), forge: Forge::Github, api_base: Some(api), username: None }, "t0k3n")
        .await
        .unwrap();
    let project = engine
        .create_project(NewProject {
            name: "web".into(),
            repo_url: "https://github.com/acme/web.git".into(),
            forge: Forge::Github,
            token_ref: Some(account),
            poll_interval_secs: None,
            stages: vec![],
            image_repo: None,
            registry_account: None,
            deploy: None,
            host_id: None,
            notifications: vec![],
            rules: vec![],
        })
        .await
        .unwrap();
    engine.store().set_setting(commit_status::LINK_SETTING, "http://console.local/{project}/{stage}/runs/{run}").await.unwrap();

    let sha = "366701fde727cb7a9e7f21eb88264f59f6f9b89c";
    let change = Change {
        kind: ChangeKind::Branch,
        git_ref: Some("refs/heads/main".into()),
        commit: Some(sha.into()),
        target_branch: None,
        image: None,
    };
    let source = Source { provider: "github".into(), event: "push".into(), delivery_id: Some("d1".into()), ..Default::default() };
    let verdict = engine.intake().accept_changes(std::sync::Arc::new(project), vec![change], Trigger::Webhook, source).await.unwrap();
    let run = verdict.run_ids[0];

    let start = std::time::Instant::now();
    while seen.lock().unwrap().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "no status reached the forge");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (method, path, headers, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(method, Method::POST);
    assert_eq!(path, format!("/repos/acme/web/statuses/{sha}"));
    assert_eq!(headers["authorization"], "Bearer t0k3n");
    assert_eq!(body["state"], "pending");
    assert_eq!(body["context"], "slipway/dev");
    assert_eq!(body["target_url"], format!("http://console.local/web/dev/runs/{run}"));

    // The forge fails: nothing is raised, the run's log says what happened.
    answer.store(500, Ordering::SeqCst);
    engine.reporter().report(run, RunState::Failed, "health check failed").await;
    assert_eq!(seen.lock().unwrap().len(), 2);
    engine.logs().flush().await;
    let lines: Vec<String> = sqlx::query_scalar("SELECT line FROM log_lines WHERE run_id = ? ORDER BY seq")
        .bind(run)
        .fetch_all(engine.store().pool())
        .await
        .unwrap();
    assert!(lines.iter().any(|l| l.contains("commit status Pending sent to github")), "{lines:?}");
    let failed = lines.iter().find(|l| l.starts_with("commit status not sent")).expect("failure logged on the run");
    assert!(failed.contains("500") || failed.contains("stub says no"), "{failed}");
    engine.stop().await;
}

#[test]
fn repo_paths_from_clone_urls() {
    use slipway_engine::services::commit_status::repo_path;
    assert_eq!(repo_path("https://github.com/acme/web.git"), Some(("github.com".into(), "acme/web".into())));
    assert_eq!(repo_path("git@gitlab.com:group/sub/app.git"), Some(("gitlab.com".into(), "group/sub/app".into())));
    assert_eq!(repo_path("ssh://git@git.example:2222/team/app"), Some(("git.example".into(), "team/app".into())));
    assert_eq!(repo_path("https://user:tok@gitea.example/o/r.git"), Some(("gitea.example".into(), "o/r".into())));
    assert_eq!(repo_path("https://example.com/"), None);
}
