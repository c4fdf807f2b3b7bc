//! The engine's local API over real HTTP: bearer token, the `{code, message}` shape, operations.

use slipway_engine::{ApiError, Config, Engine, EngineStatus, ErrorCode};

fn config(dir: &std::path::Path) -> Config {
    Config::at(dir, "127.0.0.1:0".parse().unwrap(), "unix:///var/run/docker.sock")
}

#[tokio::test]
async fn status_needs_the_token_and_reports_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", engine.listener_addr().unwrap());
    let http = reqwest::Client::new();

    let resp = http.get(format!("{base}/api/v1/status")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let err: ApiError = resp.json().await.unwrap();
    assert_eq!(err.code, ErrorCode::Unauthorized);
    assert!(err.message.contains("api-token"), "{}", err.message);

    let resp = http.get(format!("{base}/api/v1/status")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let token = std::fs::read_to_string(dir.path().join("api-token")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("api-token")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let status: EngineStatus =
        http.get(format!("{base}/api/v1/status")).bearer_auth(token.trim()).send().await.unwrap().json().await.unwrap();
    assert_eq!(status.listener.as_deref(), Some(base.as_str()));
    assert!(status.docker.reachable, "{:?}", status.docker);
    assert_eq!(status.store_path, dir.path().join("slipway.db").display().to_string());
    assert!(status.schema_version >= 1);

    let resp = http.get(format!("{base}/api/v1/nope")).bearer_auth(token.trim()).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<ApiError>().await.unwrap().code, ErrorCode::NotFound);

    assert!(dir.path().join("engine.json").exists());
    engine.stop().await;
    assert!(!dir.path().join("engine.json").exists());
    assert!(http.get(format!("{base}/healthz")).send().await.is_err(), "listener still answering after stop");
}

#[tokio::test]
async fn pausing_auto_deploy_is_an_event_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(config(dir.path())).await.unwrap();
    let mut events = engine.subscribe();
    let client = slipway_engine::http::client::Client::for_config(engine.config()).unwrap();
    assert!(!client.call(slipway_protocol::ops::GetStatus {}).await.unwrap().auto_deploy_paused);
    assert!(client.call(slipway_protocol::ops::SetAutoDeploy { paused: true }).await.unwrap().paused);
    // Other events (a host's first status) may come first.
    let changed = loop {
        match events.recv().await.unwrap() {
            slipway_engine::EngineEvent::HostStatusChanged { .. } => continue,
            other => break other,
        }
    };
    assert_eq!(changed, slipway_engine::EngineEvent::AutoDeployChanged { paused: true });
    engine.stop().await;

    let engine = Engine::start(config(dir.path())).await.unwrap();
    assert!(engine.auto_deploy_paused());
    engine.stop().await;
}

#[tokio::test]
async fn a_busy_port_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = config(dir.path());
    cfg.listen = taken.local_addr().unwrap();
    let engine = Engine::start(cfg).await.unwrap();
    assert!(engine.listener_addr().is_none());
    let msg = engine.listener_error().unwrap();
    assert!(msg.contains("in use") && msg.contains(&taken.local_addr().unwrap().to_string()), "{msg}");
    let status = engine.status().await.unwrap();
    assert_eq!(status.listener, None);
    assert_eq!(status.listener_error.as_deref(), Some(msg.as_str()));
    engine.stop().await;
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_gitlab_delivery_leaves_no_secret_at_rest_and_is_redelivered_signed_again() {
    use slipway_engine::domain::run::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(config(dir.path())).await.unwrap();
    let new = serde_json::from_value(serde_json::json!({"name": "lab", "repo_url": "https://example.invalid/lab.git", "forge": "gitlab"}))
        .unwrap();
    let project = engine.create_project(new).await.unwrap();
    let hook = engine.webhook_info(&project.id).await.unwrap();
    let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/webhooks/gitlab/push.json")).unwrap();
    let send_body = |token: String, id: &'static str, body: Vec<u8>| {
        let url = hook.url.clone().unwrap();
        async move {
            reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/json")
                .header("X-Gitlab-Event", "Push Hook")
                .header("X-Gitlab-Event-UUID", id)
                .header("X-Gitlab-Token", token)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let send = |token: String, id: &'static str| send_body(token, id, body.clone());
    assert_eq!(send("not-the-secret".into(), "forged").await, 401);
    assert_eq!(send_body(hook.secret.clone(), "garbled", b"{not json".to_vec()).await, 400);
    assert!(matches!(send(hook.secret.clone(), "real").await, 200 | 202));
    // A push padded past 2 MiB (JSON allows the trailing whitespace) is taken, but not kept.
    let mut big = body.clone();
    big.resize(body.len() + (3 << 20), b' ');
    assert!(matches!(send_body(hook.secret.clone(), "big", big).await, 200 | 202));

    // The accepted delivery's body is kept (off the answer's path); the forged one's is not,
    // nor the body of a signed delivery that is not one Slipway can act on.
    let mut rows = vec![];
    for _ in 0..100 {
        rows = engine.deliveries(Some(&project.id), 10).await.unwrap();
        if rows.iter().any(|d| d.replayable) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let forged = rows.iter().find(|d| d.delivery_id.as_deref() == Some("forged")).unwrap();
    let real = rows.iter().find(|d| d.delivery_id.as_deref() == Some("real")).unwrap();
    let garbled = rows.iter().find(|d| d.delivery_id.as_deref() == Some("garbled")).unwrap();
    let big = rows.iter().find(|d| d.delivery_id.as_deref() == Some("big")).unwrap();
    assert!(!forged.replayable && !garbled.replayable && !big.replayable && real.replayable, "{rows:?}");
    assert!(engine.redeliver(forged.id).await.is_err());
    // No proof of the secret was stored: the replay is signed again with the current secret.
    let replay = engine.redeliver(real.id).await.unwrap();
    assert_ne!(replay.outcome, Outcome::Rejected, "{replay:?}");

    engine.stop().await;
    for file in files(dir.path()) {
        // A file gone between the listing and the read (SQLite's WAL and journal files come and
        // go) holds nothing at rest.
        let Ok(bytes) = std::fs::read(&file) else {
            eprintln!("{} went away before it was read", file.display());
            continue;
        };
        assert!(!bytes.windows(hook.secret.len()).any(|w| w == hook.secret.as_bytes()), "the webhook secret is in {}", file.display());
    }
}

/// A notification's "Roll back" is decided by the engine for every console: a stage that asks
/// for confirmations gets none from a notification, and a stage with nothing to go back to says so.
#[tokio::test]
async fn a_notifications_rollback_never_skips_a_confirmation_and_names_a_missing_release() {
    use slipway_protocol::ops::{ImportProject, NoticeRollback, RollbackFromNotice};
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(config(dir.path())).await.unwrap();
    let client = slipway_engine::http::client::Client::for_config(engine.config()).unwrap();
    let yaml =
        "name: web\nrepo_url: https://git.example/team/web.git\nforge: gitea\nstages:\n  - name: dev\n    branch_patterns: [main]\n  \
                - name: prod\n    branch_patterns: []\n    promote_from: dev\n    confirm: true\n";
    client.call(ImportProject { yaml: yaml.into() }).await.unwrap();
    let ask = |stage: &str| client.call(RollbackFromNotice { project: "web".into(), stage: stage.into() });

    assert_eq!(ask("prod").await.unwrap(), NoticeRollback::NeedsConfirmation);
    let err = ask("dev").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("web/dev has no earlier release"), "{}", err.message);
    assert_eq!(ask("nope").await.unwrap_err().code, ErrorCode::NotFound);
    engine.stop().await;
}

/// A project file whose environments do not hang together is refused with the line at fault,
/// and nothing of it is kept.
#[tokio::test]
async fn an_import_with_a_requires_cycle_or_an_unknown_stage_fails_with_the_line() {
    use slipway_protocol::ops::{ImportProject, ListEnvironments, ListProjects};
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(config(dir.path())).await.unwrap();
    let client = slipway_engine::http::client::Client::for_config(engine.config()).unwrap();
    let base = "name: web\nrepo_url: https://git.example/web.git\nforge: gitea\nstages:\n  - name: rel\n    requires: [prod]\n  - name: prod\n    productive: true\n    requires: [rel]\n";
    let e = client.call(ImportProject { yaml: base.into() }).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("stages[0].requires: the predecessors make a cycle: rel → prod → rel at line 6"), "{}", e.message);
    let unknown =
        base.replace("    requires: [prod]\n", "").to_string() + "rules:\n  - refs: tags\n    through: [rel]\n    before: [prd]\n";
    let e = client.call(ImportProject { yaml: unknown.clone() }).await.unwrap_err();
    assert!(e.message.contains("rules[0].before: names stage \"prd\"") && e.message.contains("at line 12"), "{}", e.message);
    assert!(client.call(ListProjects {}).await.unwrap().is_empty(), "nothing of a refused file is kept");

    let good = unknown.replace("[prd]", "[prod]");
    client.call(ImportProject { yaml: good }).await.unwrap();
    let envs = client.call(ListEnvironments {}).await.unwrap();
    let prod = &envs[0].environments[1];
    assert_eq!((prod.stage.as_str(), prod.requires.clone()), ("prod", vec!["rel".to_string()]));
    assert_eq!(envs[0].rules, ["rule 1: tags pass through rel before prod"]);
    assert_eq!(prod.rules, envs[0].rules, "the rule names prod");
    engine.stop().await;
}
