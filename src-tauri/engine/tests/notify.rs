//! Notifications against a real store and keychain: which run endings are announced (once),
//! and where a project's channels keep their URLs. Payload shapes and the rate limit are
//! pinned in notify.rs; delivery end to end is in tests/e2e/notify.rs.

use std::time::Duration;

use slipway_engine::domain::notice::{self, ChannelKind, NoticeKind, NotifyChannel};
use slipway_engine::domain::project::{Forge, NewProject};
use slipway_engine::{adapters::keychain, Config, Engine, EngineEvent};

async fn engine(dir: &std::path::Path) -> Engine {
    let engine = Engine::start(Config::at(dir, "127.0.0.1:0".parse().unwrap(), "unix:///nope")).await.unwrap();
    // These tests look at decisions, not at a desktop (the e2e test does that).
    let off = engine
        .set_notification_settings(notice::NotificationSettings { desktop: false, desktop_env_override: None, desktop_active: false })
        .await
        .unwrap();
    assert!(!off.desktop && !off.desktop_active, "{off:?}");
    engine
}

fn project(name: &str, notifications: Vec<NotifyChannel>) -> NewProject {
    NewProject {
        name: name.into(),
        repo_url: "https://example.invalid/app.git".into(),
        forge: Forge::Git,
        token_ref: None,
        poll_interval_secs: None,
        stages: vec![],
        image_repo: None,
        registry_account: None,
        deploy: None,
        host_id: None,
        notifications,
        rules: vec![],
    }
}

fn channel(kind: ChannelKind, name: &str, url: Option<&str>, secret: Option<&str>) -> NotifyChannel {
    NotifyChannel { kind, name: name.into(), url: url.map(String::from), secret: secret.map(String::from), target: None, signed: false }
}

/// A run that has ended as `status` at `finished_at`, written as the runner would leave it.
async fn ended(engine: &Engine, project: &str, status: &str, trigger: &str, finished_at: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO runs (project_id, stage_id, trigger, status, commit_sha, reason, queued_at, started_at, finished_at) \
         VALUES (?1, ?1 || ':dev', ?2, ?3, '366701fde727cb7a9e7f21eb88264f59f6f9b89c', 'step test failed: exit code 1', ?4, ?4, ?4) RETURNING id",
    )
    .bind(project)
    .bind(trigger)
    .bind(status)
    .bind(finished_at)
    .fetch_one(engine.store().pool())
    .await
    .unwrap()
}

async fn kind_of(engine: &Engine, run: i64) -> Option<NoticeKind> {
    engine.notifier().run_changed(run).await.unwrap().map(|n| n.kind)
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_announced_once_and_success_only_when_it_ends_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    engine.set_runs_held(true).await.unwrap();
    let p = engine.create_project(project("classy", vec![])).await.unwrap();
    let mut events = engine.subscribe();

    let failed = ended(&engine, &p.id, "failed", "webhook", 1_000).await;
    let notice = engine.notifier().run_changed(failed).await.unwrap().expect("a failure is announced");
    assert_eq!(
        (notice.kind, notice.project.as_str(), notice.stage.as_str(), notice.run_id),
        (NoticeKind::Failed, "classy", "dev", Some(failed))
    );
    assert_eq!(notice.title, format!("classy/dev: run #{failed} failed"));
    assert_eq!(kind_of(&engine, failed).await, None, "told once, however often the run is reported changed");
    // The UI and API clients hear of it as an event.
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(EngineEvent::Notice { notice }) = events.recv().await {
                return notice;
            }
        }
    })
    .await
    .expect("a Notice event");
    assert_eq!(got.run_id, Some(failed));

    let fixed = ended(&engine, &p.id, "succeeded", "webhook", 2_000).await;
    assert_eq!(kind_of(&engine, fixed).await, Some(NoticeKind::Recovered));
    let again = ended(&engine, &p.id, "succeeded", "poll", 3_000).await;
    assert_eq!(kind_of(&engine, again).await, None, "green after green says nothing");

    // A cancelled run says nothing of the stage's health: the success after it follows a success.
    let cancelled = ended(&engine, &p.id, "cancelled", "manual", 4_000).await;
    assert_eq!(kind_of(&engine, cancelled).await, None);
    let after_cancel = ended(&engine, &p.id, "succeeded", "manual", 5_000).await;
    assert_eq!(kind_of(&engine, after_cancel).await, None);

    let crashed = ended(&engine, &p.id, "interrupted", "webhook", 6_000).await;
    assert_eq!(kind_of(&engine, crashed).await, Some(NoticeKind::Failed));
    // Order is by when runs ended, not by id: a run queued earlier that ends later is judged
    // against what ended before it.
    let late = ended(&engine, &p.id, "succeeded", "webhook", 7_000).await;
    let later_id_ended_first = ended(&engine, &p.id, "succeeded", "webhook", 6_500).await;
    assert_eq!(kind_of(&engine, later_id_ended_first).await, Some(NoticeKind::Recovered));
    assert_eq!(kind_of(&engine, late).await, None);
    engine.stop().await;
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread")]
async fn channel_urls_live_in_the_keychain_and_projects_round_trip_through_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let name = format!("chan-{}", std::process::id());
    let p = engine
        .create_project(project(
            &name,
            vec![
                channel(ChannelKind::Slack, "", Some("https://hooks.slack.com/services/T0/B0/SLACKSECRET"), None),
                channel(ChannelKind::Webhook, "ops", Some("https://ops.example/hook"), Some("hmac-key")),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        p.notifications,
        vec![
            NotifyChannel {
                kind: ChannelKind::Slack,
                name: "slack".into(),
                url: None,
                secret: None,
                target: Some("https://hooks.slack.com/…".into()),
                signed: false
            },
            NotifyChannel {
                kind: ChannelKind::Webhook,
                name: "ops".into(),
                url: None,
                secret: None,
                target: Some("https://ops.example/…".into()),
                signed: true
            },
        ]
    );
    assert_eq!(
        keychain::get(&notice::url_key(&p.id, "slack")).await.unwrap().as_deref(),
        Some("https://hooks.slack.com/services/T0/B0/SLACKSECRET")
    );
    assert_eq!(keychain::get(&notice::secret_key(&p.id, "ops")).await.unwrap().as_deref(), Some("hmac-key"));
    let stored: String =
        sqlx::query_scalar("SELECT config_json FROM projects WHERE id = ?").bind(&p.id).fetch_one(engine.store().pool()).await.unwrap();
    assert!(!stored.contains("SLACKSECRET") && !stored.contains("hmac-key"), "{stored}");

    // Other keys of config_json belong to other parts of Slipway and survive an edit here.
    sqlx::query("UPDATE projects SET config_json = json_set(config_json, '$.other', 7) WHERE id = ?")
        .bind(&p.id)
        .execute(engine.store().pool())
        .await
        .unwrap();
    // Kept without a new URL, and the dropped channel's keychain entries go.
    let p = engine.set_project_notifications(&p.id, vec![channel(ChannelKind::Slack, "slack", None, None)]).await.unwrap();
    assert_eq!(p.notifications[0].target.as_deref(), Some("https://hooks.slack.com/…"));
    assert_eq!(p.notifications.len(), 1);
    assert!(keychain::get(&notice::url_key(&p.id, "ops")).await.unwrap().is_none());
    assert!(keychain::get(&notice::secret_key(&p.id, "ops")).await.unwrap().is_none());
    let other: i64 = sqlx::query_scalar("SELECT json_extract(config_json, '$.other') FROM projects WHERE id = ?")
        .bind(&p.id)
        .fetch_one(engine.store().pool())
        .await
        .unwrap();
    assert_eq!(other, 7);

    // The YAML names the channel, never its URL; importing it back keeps the channel.
    let yaml = engine.export_project(&p.id).await.unwrap();
    assert!(yaml.contains("kind: slack") && !yaml.contains("SLACKSECRET"), "{yaml}");
    let imported = engine.import_project(&yaml).await.unwrap();
    assert_eq!(imported.project.notifications, p.notifications);
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);

    // A project deleted takes its channel URLs out of the keychain; imported again, it says so.
    engine.delete_project(&p.id, Some(slipway_engine::domain::project::VolumeChoice::Keep)).await.unwrap();
    assert!(keychain::get(&notice::url_key(&p.id, "slack")).await.unwrap().is_none());
    let imported = engine.import_project(&yaml).await.unwrap();
    assert!(imported.notes.iter().any(|n| n.contains("slack has no URL in the keychain")), "{:?}", imported.notes);

    // Bad channels are refused before anything is stored.
    let err = engine
        .set_project_notifications(&p.id, vec![channel(ChannelKind::Discord, "d", Some("ftp://x.example/h"), None)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), slipway_engine::ErrorCode::InvalidInput);
    engine.delete_project(&p.id, Some(slipway_engine::domain::project::VolumeChoice::Keep)).await.unwrap();
    engine.stop().await;
}
