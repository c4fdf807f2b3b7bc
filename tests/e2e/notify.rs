//! Notifications end to end: a run that really fails (a step that exits 1 in a container) is
//! announced once on the desktop, seen on the D-Bus session as the notification daemon sees it,
//! and once on each of the project's channels, received by a local HTTP server.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

fn pipeline(command: &str) -> String {
    format!("steps:\n  - name: check\n    image: {}\n    commands:\n      - {command}\n", busybox_image())
}

/// One request a channel receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub path: String,
    user_agent: String,
    content_type: String,
    signature: Option<String>,
    body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} sent no JSON ({e}): {}", self.path, String::from_utf8_lossy(&self.body)))
    }
}

/// A local stand-in for Slack, Discord and a webhook endpoint: answers 200 (Slack answers
/// `ok`, Discord 204; any 2xx is success) to everything and records it, except paths under
/// `/down`, which answer 503 like a service having a bad day.
pub(crate) async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    use axum::http::{HeaderMap, StatusCode, Uri};
    let seen: Arc<Mutex<Vec<Received>>> = Default::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
        let s = s.clone();
        async move {
            let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
            s.lock().unwrap().push(Received {
                path: uri.path().to_string(),
                user_agent: h("user-agent").unwrap_or_default(),
                content_type: h("content-type").unwrap_or_default(),
                signature: h("x-slipway-signature"),
                body: body.to_vec(),
            });
            if uri.path().starts_with("/down") {
                (StatusCode::SERVICE_UNAVAILABLE, "try later")
            } else {
                (StatusCode::OK, "ok")
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn run_to_end(api: &Api, project: &str, wanted: &str) -> (i64, Value) {
    let (status, v) = api.send(Method::POST, &format!("/projects/{project}/stages/dev/runs"), json!({"ref": wanted})).await;
    assert_eq!(status, 202, "{v}");
    let run = v["run_id"].as_i64().unwrap();
    (run, wait_status(api, run, finished, Duration::from_secs(180)).await)
}

/// The requests `seen` holds for `path` once `n` have come, after a quiet second that would
/// let a duplicate or a retry show up.
pub(crate) async fn requests_to(seen: &Arc<Mutex<Vec<Received>>>, path: &str, n: usize) -> Vec<Received> {
    let start = Instant::now();
    loop {
        let got: Vec<Received> = seen.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect();
        if got.len() >= n {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            return seen.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{path} got {} request(s), expected {n}: {:?}", got.len(), seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_is_posted_once_to_slack_discord_and_a_signed_webhook_and_a_dead_channel_fails_nothing() {
    let root = tempfile::tempdir().unwrap();
    let served = serve_repo_with(root.path(), &[("slipway.yml", &pipeline("false"))]);
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless_with(dir.path(), &[("SLIPWAY_DESKTOP_NOTIFY", "0")]);
    let api = Api::new(&base, dir.path());
    let (hooks, seen) = receiver().await;
    // Slack's and Discord's URLs carry their token in the path; it must not leak anywhere.
    let slack = format!("{hooks}/slack/T0001/B0001/xoxSLACKTOKEN");
    let discord = format!("{hooks}/discord/1234/DISCORDTOKEN");
    let project = "notify-out";
    let (status, p) = api
        .send(
            Method::POST,
            "/projects",
            json!({
                "name": project, "repo_url": served.url, "forge": "git",
                "notifications": [
                    {"kind": "slack", "url": slack},
                    {"kind": "discord", "url": discord},
                    {"kind": "webhook", "name": "ops", "url": format!("{hooks}/hook"), "secret": "whsec-1"},
                    {"kind": "webhook", "name": "dead", "url": format!("{hooks}/down")},
                ],
            }),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let channels = p["notifications"].as_array().unwrap();
    let names: Vec<&str> = channels.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["slack", "discord", "ops", "dead"]);
    assert_eq!(channels[0]["target"], format!("{hooks}/…"));
    assert_eq!(channels[2]["signed"], true);
    assert!(channels.iter().all(|c| c.get("url").is_none() && c.get("secret").is_none()), "{p}");
    let yaml = api
        .http
        .get(format!("{base}/api/v1/projects/{project}/export"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("notifications:") && yaml.contains("kind: discord"), "{yaml}");

    let head = git(&served.work, &["rev-parse", "HEAD"]);
    let (run, r) = run_to_end(&api, project, "main").await;
    assert_eq!(r["run"]["status"], "failed", "{r}");

    let slack_req = requests_to(&seen, "/slack/T0001/B0001/xoxSLACKTOKEN", 1).await;
    assert_eq!(slack_req.len(), 1, "{slack_req:?}");
    let discord_req = requests_to(&seen, "/discord/1234/DISCORDTOKEN", 1).await;
    assert_eq!(discord_req.len(), 1, "{discord_req:?}");
    let hook_req = requests_to(&seen, "/hook", 1).await;
    assert_eq!(hook_req.len(), 1, "{hook_req:?}");
    // A 503 is tried once more, then given up on.
    let down = requests_to(&seen, "/down", 2).await;
    assert_eq!(down.len(), 2, "{down:?}");
    for req in [&slack_req[0], &discord_req[0], &hook_req[0]] {
        assert!(req.user_agent.starts_with("slipway/"), "{req:?}");
        assert_eq!(req.content_type, "application/json");
    }
    let title = format!("{project}/dev: run #{run} failed");

    // Slack: `text` (the required fallback) and Block Kit blocks.
    let s = slack_req[0].json();
    let mut keys: Vec<&String> = s.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["blocks", "text"], "{s}");
    assert_eq!(s["text"], title.as_str());
    assert_eq!(s["blocks"][0]["type"], "section");
    assert_eq!(s["blocks"][0]["text"]["type"], "mrkdwn");
    assert!(s["blocks"][0]["text"]["text"].as_str().unwrap().contains("step check failed: exit code 1"), "{s}");
    assert_eq!(s["blocks"][1]["type"], "context");
    let context = s["blocks"][1]["elements"][0]["text"].as_str().unwrap();
    assert!(context.contains(&format!("project *{project}*")) && context.contains("stage *dev*") && context.contains(&head[..12]), "{s}");

    // Discord: content within 2000 characters, one embed with title, description, colour and
    // the project and stage as fields; no mentions.
    let d = discord_req[0].json();
    assert_eq!(d["content"], title.as_str());
    let embed = &d["embeds"][0];
    assert_eq!(embed["title"], title.as_str());
    assert!(embed["description"].as_str().unwrap().contains("exit code 1"), "{d}");
    assert_eq!(embed["color"], 0xED4245);
    let fields: Vec<(String, String, bool)> = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().into(), f["value"].as_str().unwrap().into(), f["inline"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [("Project".into(), project.into(), true), ("Stage".into(), "dev".into(), true), ("Commit".into(), head[..12].to_string(), true)]
    );
    assert_eq!(d["allowed_mentions"], json!({"parse": []}));

    // The generic webhook: flat fields, signed with the channel's secret over the exact body.
    let w = hook_req[0].json();
    assert_eq!(w["event"], "run.failed");
    assert_eq!(w["project"], project);
    assert_eq!(w["stage"], "dev");
    assert_eq!(w["run_id"], run);
    assert_eq!(w["status"], "failed");
    assert_eq!(w["commit"], head.as_str());
    assert!(w["reason"].as_str().unwrap().starts_with("step check failed: exit code 1"), "{w}");
    assert_eq!(hook_req[0].signature.as_deref(), Some(format!("sha256={}", hmac_hex("whsec-1", &hook_req[0].body)).as_str()));
    assert_eq!(slack_req[0].signature, None, "only webhook channels are signed");

    // Fixed: the next run succeeds and is announced as recovered, though a channel is down.
    std::fs::write(served.work.join("slipway.yml"), pipeline("true")).unwrap();
    commit_and_push(&served.work, "fix");
    let (run2, r2) = run_to_end(&api, project, "main").await;
    assert_eq!(r2["run"]["status"], "succeeded", "a channel that is down must not touch the run: {r2}");
    let hook_req = requests_to(&seen, "/hook", 2).await;
    assert_eq!(hook_req.len(), 2, "{hook_req:?}");
    let w2 = hook_req[1].json();
    assert_eq!((w2["event"].as_str(), w2["run_id"].as_i64()), (Some("run.recovered"), Some(run2)), "{w2}");
    assert_eq!(requests_to(&seen, "/down", 4).await.len(), 4);
    let log = api.get(&format!("/runs/{run2}/logs")).await;
    let lines: Vec<&str> = log.as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap()).collect();
    let dead: Vec<&&str> = lines.iter().filter(|l| l.contains("notification (dead) not sent")).collect();
    assert_eq!(dead.len(), 1, "the run's log says the dead channel failed: {lines:?}");
    assert!(dead[0].contains("503"), "{dead:?}");

    // The tokens in the URLs went to the keychain, and nowhere else.
    let everything =
        format!("{}{}{:?}{:?}", log_text(dir.path()), api.get(&format!("/projects/{project}")).await, output(dir.path()), lines);
    for token in ["xoxSLACKTOKEN", "DISCORDTOKEN"] {
        assert!(!everything.contains(token), "{token} leaked");
    }
    for file in ["slipway.db", "slipway.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains("xoxSLACKTOKEN"), "the Slack URL is in {file}");
    }
}

/// The session bus address the test runs on; the desktop test needs one (and an X display for
/// the notification daemon): run it as the README says, under dbus-run-session and xvfb-run.
pub(crate) fn session_bus() -> String {
    std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .expect("no D-Bus session: run the e2e tests under `dbus-run-session -- xvfb-run -a …` (./scripts/test does)")
}

pub(crate) fn notification_daemon_running() -> bool {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.Notifications",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("boolean true")
}

/// Messages dbus-monitor printed: a header line and its arguments (a string argument may span
/// lines, so only a header starts a message).
pub(crate) fn monitored(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let header = ["method call ", "method return ", "signal ", "error "].iter().any(|h| line.starts_with(h));
        match out.last_mut() {
            Some(last) if !header => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

fn header_field<'a>(message: &'a str, field: &str) -> Option<&'a str> {
    let header = message.lines().next()?;
    header.split([' ', ';']).find_map(|w| w.strip_prefix(field).and_then(|v| v.strip_prefix('=')))
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_shows_one_desktop_notification_naming_project_and_stage_and_a_click_opens_it() {
    session_bus();
    // A daemon this session already has is used as it is; otherwise dunst (it needs the X
    // display xvfb-run gives).
    let _dunst = if notification_daemon_running() {
        None
    } else {
        assert!(std::env::var_os("DISPLAY").is_some(), "dunst needs an X display: run the e2e tests under xvfb-run (./scripts/test does)");
        let g =
            Guard(Command::new("dunst").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("dunst is installed (TEST_PACKAGES)"));
        wait_for("dunst to own org.freedesktop.Notifications", Duration::from_secs(10), || notification_daemon_running().then_some(()));
        Some(g)
    };
    let dir = tempfile::tempdir().unwrap();
    let monitor_log = dir.path().join("dbus-monitor.txt");
    // Notify calls, and the replies that carry each notification's id (to click it below).
    let _monitor = Guard(
        Command::new("dbus-monitor")
            .args(["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'", "type='method_return'"])
            .stdout(std::fs::File::create(&monitor_log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // It prints its own NameAcquired/NameLost first: then it is listening.
    wait_for("dbus-monitor to start", Duration::from_secs(10), || (!monitored(&monitor_log).is_empty()).then_some(()));

    let root = tempfile::tempdir().unwrap();
    let served = serve_repo_with(root.path(), &[("slipway.yml", &pipeline("false"))]);
    let (_engine, base) = start_headless_with(dir.path(), &[("SLIPWAY_DESKTOP_NOTIFY", "1")]);
    let api = Api::new(&base, dir.path());
    let settings = api.get("/settings/notifications").await;
    assert_eq!(settings, json!({"desktop": true, "desktop_env_override": true, "desktop_active": true}));
    // Unique in this session: other tests' engines may notify on the same bus.
    let project = format!("desk-{}", std::process::id());
    let (status, p) = api.send(Method::POST, "/projects", json!({"name": project, "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");
    let (run, r) = run_to_end(&api, &project, "main").await;
    assert_eq!(r["run"]["status"], "failed", "{r}");

    let ours = |m: &String| m.contains("member=Notify") && m.contains(&format!("{project}/dev"));
    wait_for("the Notify call on the bus", Duration::from_secs(15), || monitored(&monitor_log).iter().any(ours).then_some(()));
    // Long enough for a duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = monitored(&monitor_log);
    let notify: Vec<&String> = messages.iter().filter(|m| ours(m)).collect();
    assert_eq!(notify.len(), 1, "exactly one notification for one failed run: {notify:#?}");
    let call = notify[0];
    assert!(call.contains(&format!("string \"{project}/dev: run #{run} failed\"")), "the summary names project, stage and run: {call}");
    assert!(call.contains("step check failed: exit code 1"), "the body says why: {call}");
    assert!(call.contains("string \"Slipway\""), "{call}");
    assert!(call.contains("string \"default\""), "a click (the default action) is offered: {call}");

    // Click it: the daemon would send ActionInvoked(id, "default") for this notification.
    let (sender, serial) = (header_field(call, "sender").unwrap(), header_field(call, "serial").unwrap());
    let reply = messages
        .iter()
        .find(|m| {
            m.starts_with("method return")
                && header_field(m, "destination") == Some(sender)
                && header_field(m, "reply_serial") == Some(serial)
        })
        .unwrap_or_else(|| panic!("no reply to the Notify call: {messages:#?}"));
    let id = reply.lines().nth(1).and_then(|l| l.trim().strip_prefix("uint32 ")).unwrap_or_else(|| panic!("no id in {reply}"));
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--type=signal",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32:{id}"),
            "string:default",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let wanted = format!("opening run {run}");
    wait_for("the engine to open the clicked run", Duration::from_secs(10), || log_text(dir.path()).contains(&wanted).then_some(()));

    // Turned off, the next failure shows nothing (the env override is for tests; the setting
    // is what the operator flips, so check the setting is stored and reported).
    let (status, s) = api.send(Method::PUT, "/settings/notifications", json!({"desktop": false})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["desktop"], false);
    assert_eq!(api.get("/settings/notifications").await["desktop"], false);
}
