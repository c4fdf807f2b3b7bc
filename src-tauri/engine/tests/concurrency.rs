//! Writers that share the store at once (webhook intake, run logs, projects, polls) must not
//! fail each other with SQLITE_BUSY: every write transaction takes the lock up front.

use std::sync::Arc;

use slipway_engine::domain::project::{Forge, NewProject, Stage};
use slipway_engine::domain::run::{Change, ChangeKind, Outcome, Source, Trigger};
use slipway_engine::{Config, Engine};

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn intake_logs_and_project_writes_run_together_without_busy_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(Config::at(dir.path(), "127.0.0.1:0".parse().unwrap(), "unix:///nope")).await.unwrap();
    engine.set_runs_held(true).await.unwrap();
    let stage = Stage { branch_patterns: vec!["*".into()], ..Stage::default() };
    let project = Arc::new(
        engine
            .create_project(NewProject {
                name: "busy".into(),
                repo_url: "https://example.invalid/b.git".into(),
                forge: Forge::Gitea,
                token_ref: None,
                poll_interval_secs: None,
                stages: vec![stage],
                image_repo: None,
                registry_account: None,
                deploy: None,
                notifications: vec![],
                rules: vec![],
                host_id: None,
            })
            .await
            .unwrap(),
    );

    // Run 1 exists before its log does (log lines reference their run).
    let first = Change {
        kind: ChangeKind::Branch,
        git_ref: Some("refs/heads/main".into()),
        commit: Some(format!("{:040x}", 100_000)),
        target_branch: None,
        image: None,
    };
    let source = Source { provider: "gitea".into(), event: "push".into(), delivery_id: Some("first".into()), ..Default::default() };
    let run = engine.intake().accept_changes(project.clone(), vec![first], Trigger::Webhook, source).await.unwrap().run_ids[0];
    assert_eq!(run, 1);

    // A chatty run log...
    let logs = engine.logs().clone();
    let writer = tokio::spawn(async move {
        for i in 0..30_000 {
            logs.push(1, None, "stdout", format!("line {i}")).await;
        }
        logs.flush().await;
    });
    // ...projects created and deleted...
    let e2 = engine.clone();
    let churn = tokio::spawn(async move {
        for i in 0..20 {
            let p = e2
                .create_project(NewProject {
                    name: format!("churn-{i}"),
                    repo_url: "x".into(),
                    forge: Forge::Git,
                    token_ref: None,
                    poll_interval_secs: None,
                    stages: vec![],
                    image_repo: None,
                    registry_account: None,
                    deploy: None,
                    notifications: vec![],
                    rules: vec![],
                    host_id: None,
                })
                .await
                .unwrap();
            e2.delete_project(&p.id, Some(slipway_engine::domain::project::VolumeChoice::Keep)).await.unwrap();
        }
    });
    // ...settings written all the time (each one a commit between another transaction's read
    // and its write)...
    let store = engine.store().clone();
    let settings = tokio::spawn(async move {
        for i in 0..3000 {
            store.set_setting("stress", &i.to_string()).await.unwrap();
        }
    });
    // ...while deliveries come in from many tasks.
    let mut deliveries = Vec::new();
    for i in 0..300 {
        let (engine, project) = (engine.clone(), project.clone());
        deliveries.push(tokio::spawn(async move {
            let change = Change {
                kind: ChangeKind::Branch,
                git_ref: Some("refs/heads/main".into()),
                commit: Some(format!("{:040x}", i + 1)),
                target_branch: None,
                image: None,
            };
            let source =
                Source { provider: "gitea".into(), event: "push".into(), delivery_id: Some(format!("d{i}")), ..Default::default() };
            engine.intake().accept_changes(project, vec![change], Trigger::Webhook, source).await
        }));
    }
    for d in deliveries {
        let verdict = d.await.unwrap().expect("no delivery may fail because the store was busy");
        assert_eq!(verdict.outcome, Outcome::Queued);
    }
    writer.await.unwrap();
    churn.await.unwrap();
    settings.await.unwrap();
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM log_lines WHERE run_id = 1").fetch_one(engine.store().pool()).await.unwrap();
    assert_eq!(lines, 30_000);
    engine.stop().await;
}
