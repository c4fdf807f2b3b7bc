//! After the switch: the health watch keeps probing the live release. A release whose health
//! endpoint goes away after its verification window is reported down within two intervals,
//! once, on the desktop (D-Bus) and the project's webhook, and its recovery once; with
//! `on_unhealthy: rollback` it is rolled back on its own with no failed request, the stage is
//! pinned, the next push waits, and unpinning lets the one after deploy; a crash-looping
//! container is reported down.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{dockerfile, env, fast_deploy, finish, host, push, run};
use crate::kit::*;
use crate::notify::{monitored, notification_daemon_running, receiver, requests_to, session_bus};

fn watched_stage(rollout: Value) -> Value {
    json!([{"name": "dev", "branch_patterns": ["main"], "auto_deploy": true, "strategy": "blue-green", "rollout": rollout}])
}

/// The dashboard row of `project`'s dev stage.
async fn row(api: &Api, project: &str) -> Value {
    let all = api.get("/dashboard").await;
    all.as_array().unwrap().iter().find(|r| r["project_id"] == project && r["stage"] == "dev").cloned().unwrap()
}

async fn wait_live_state(api: &Api, project: &str, want: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = row(api, project).await;
        if r["live_health"]["state"] == want {
            return r;
        }
        assert!(start.elapsed() < timeout, "{project}/dev not {want} within {timeout:?}: {}", r["live_health"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An engine in `dir` with the test edge on a port of its own and desktop notifications on:
/// (edge port, the engine, its API, what removes its containers at the end).
async fn notifying_engine(dir: &Path) -> (u16, Guard, Api, DockerCleanup) {
    let edge_port = stable_port();
    let mut vars = env(edge_port);
    vars.push(("SLIPWAY_DESKTOP_NOTIFY", "1".into()));
    let (engine, base) = start_headless_env(dir, &vars);
    let api = Api::new(&base, dir);
    let cleanup = DockerCleanup(api.get("/status").await["instance_id"].as_str().unwrap().to_string());
    (edge_port, engine, api, cleanup)
}

/// dunst, when the session has no notification daemon, and dbus-monitor writing to `log`.
pub(crate) fn desktop(log: &Path) -> (Option<Guard>, Guard) {
    session_bus();
    let dunst = (!notification_daemon_running()).then(|| {
        let g = Guard(Command::new("dunst").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("dunst is installed"));
        wait_for("dunst", Duration::from_secs(10), || notification_daemon_running().then_some(()));
        g
    });
    let monitor = Guard(
        Command::new("dbus-monitor")
            // Notify calls, and the replies that carry each notification's id (to click it).
            .args(["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'", "type='method_return'"])
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("dbus-monitor to start", Duration::from_secs(10), || (!monitored(log).is_empty()).then_some(()));
    (dunst, monitor)
}

// Longer than 80 lines: one scenario against the real engine, told start to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_release_that_fails_after_its_window_is_reported_down_once_and_its_recovery_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dbus.txt");
    let (_dunst, _monitor) = desktop(&log);
    let (hooks, seen) = receiver().await;
    let root = tempfile::tempdir().unwrap();
    let df = dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n"), ("fail-after", "8\n")]);
    let (edge_port, _engine, api, _cleanup) = notifying_engine(dir.path()).await;
    let project = format!("watched-{}", std::process::id());
    let body = json!({"name": project, "repo_url": served.url, "forge": "git", "deploy": fast_deploy(),
        "stages": watched_stage(json!({"drain_secs": 1, "verify_secs": 1, "watch_interval_secs": 1})),
        "notifications": [{"kind": "webhook", "name": "ops", "url": format!("{hooks}/hook")}]});
    let (status, p) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(status, 201, "{p}");
    let r = finish(&api, run(&api, &project, "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    wait_live_state(&api, &project, "healthy", Duration::from_secs(10)).await;

    // The health endpoint goes away 8 s after the container started (after the window).
    let vhost = host("dev", &project);
    let gone = loop {
        if get_path_via_edge(edge_port, &vhost, "/health").await.0 == 404 {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let r = wait_live_state(&api, &project, "down", Duration::from_secs(15)).await;
    let took = gone.elapsed();
    eprintln!("down {took:?} after the health endpoint went (watch interval 1 s)");
    // Two 1 s intervals, and slack for a loaded machine (a round's own probes, this loop's polls).
    assert!(took <= Duration::from_secs(4), "down {took:?} after the endpoint went: more than two 1 s intervals and 2 s of slack");
    assert!(r["live_health"]["what"].as_str().unwrap().contains("404"), "the failing check's output: {r}");
    let hook = requests_to(&seen, "/hook", 1).await;
    assert_eq!(hook.len(), 1, "one notification: {hook:?}");
    let w = hook[0].json();
    assert_eq!((w["event"].as_str(), w["status"].as_str()), (Some("stage.down"), Some("down")), "{w}");
    assert!(w["reason"].as_str().unwrap().contains("404"), "{w}");
    let ours = |m: &String, what: &str| m.contains("member=Notify") && m.contains(&format!("{project}/dev {what}"));
    wait_for("the desktop notification", Duration::from_secs(10), || monitored(&log).iter().any(|m| ours(m, "is down")).then_some(()));
    let incidents = api.get(&format!("/projects/{project}/incidents")).await;
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    assert_eq!((incidents[0]["state"].as_str(), incidents[0]["ended_at"].as_i64()), (Some("down"), None));

    // It answers again: healthy, one recovery notice, the incident closed.
    let live = r["live"]["containers"]["app"][0].as_str().unwrap().to_string();
    assert!(docker(&["exec", &live, "sh", "-c", "echo ok > /www/health"]).status.success());
    wait_live_state(&api, &project, "healthy", Duration::from_secs(10)).await;
    let hook = requests_to(&seen, "/hook", 2).await;
    assert_eq!(hook.len(), 2, "{hook:?}");
    assert_eq!(hook[1].json()["event"], "stage.recovered");
    wait_for("the recovery on the desktop", Duration::from_secs(10), || {
        monitored(&log).iter().any(|m| ours(m, "is healthy again")).then_some(())
    });
    let said = monitored(&log);
    assert_eq!(said.iter().filter(|m| ours(m, "is down")).count(), 1, "down was said once");
    assert_eq!(said.iter().filter(|m| ours(m, "is healthy again")).count(), 1, "recovery was said once");
    let incidents = api.get(&format!("/projects/{project}/incidents")).await;
    assert!(incidents[0]["ended_at"].as_i64().is_some(), "{incidents}");
}

/// Waits for a run of `project` other than `known` to appear and end.
async fn next_run(api: &Api, project: &str, known: &[i64], timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let runs = api.get(&format!("/runs?project={project}")).await;
        if let Some(r) = runs.as_array().unwrap().iter().find(|r| !known.contains(&r["id"].as_i64().unwrap())) {
            return finish(api, r["id"].as_i64().unwrap()).await;
        }
        assert!(start.elapsed() < timeout, "no new run of {project} within {timeout:?}: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run_ids(api: &Api, project: &str) -> Vec<i64> {
    api.get(&format!("/runs?project={project}")).await.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

// Longer than 80 lines: one scenario against the real engine, told start to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_that_goes_down_inside_watch_secs_is_rolled_back_pinned_and_stays_so_until_unpinned() {
    let root = tempfile::tempdir().unwrap();
    let df = dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let (_engine, base) = start_headless_env(dir.path(), &env(edge_port));
    let api = Api::new(&base, dir.path());
    let _cleanup = DockerCleanup(api.get("/status").await["instance_id"].as_str().unwrap().to_string());
    let rollout = json!({"drain_secs": 1, "verify_secs": 1, "watch_interval_secs": 1, "on_unhealthy": "rollback", "watch_secs": 600});
    let body = json!({"name": "sticky", "repo_url": served.url, "forge": "git", "poll_interval_secs": 1, "deploy": fast_deploy(), "stages": watched_stage(rollout)});
    let (status, p) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(status, 201, "{p}");
    let r = finish(&api, run(&api, "sticky", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");

    // Release 2 loses its health endpoint 6 s after it starts: the watch rolls it back.
    let vhost = host("dev", "sticky");
    let load = Load::start(edge_port, &vhost, 6, true);
    let known = run_ids(&api, "sticky").await;
    push(&served.work, &[("index.html", "v2\n"), ("fail-after", "6\n")], &[], "v2 breaks later");
    let r = next_run(&api, "sticky", &known, Duration::from_secs(60)).await;
    assert_eq!((r["run"]["status"].as_str(), r["run"]["trigger"].as_str()), (Some("succeeded"), Some("poll")), "{r}");
    let known = run_ids(&api, "sticky").await;
    let r = next_run(&api, "sticky", &known, Duration::from_secs(60)).await;
    let report = load.finish().await;
    assert_eq!((r["run"]["status"].as_str(), r["run"]["trigger"].as_str()), (Some("succeeded"), Some("rollback")), "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("rollback to dev release 1 (the health watch: release 2 went down") && reason.contains("404"), "{reason}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(get_via_edge(edge_port, &vhost).await, (200, "v1".to_string()));
    let pin = row(&api, "sticky").await["pin"].clone();
    assert_eq!((pin["release"].as_i64(), pin["auto"].as_bool()), (Some(1), Some(true)), "{pin}");
    assert_eq!(pin["reason"], "rollback of release 2");

    // Pinned: the next push is recorded with the reason and deploys nothing; a person's deploy
    // asks for a confirmation.
    let known = run_ids(&api, "sticky").await;
    let v3 = push(&served.work, &[("index.html", "v3\n"), ("fail-after", "100000\n")], &[], "v3");
    let want = "stage dev pinned at release 1 by rollback of release 2; unpin to deploy";
    let start = Instant::now();
    loop {
        let d = api.get("/deliveries?project=sticky").await;
        if d.as_array().unwrap().iter().any(|x| x["reason"].as_str().is_some_and(|r| r.contains(want))) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no delivery says {want:?}: {d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(run_ids(&api, "sticky").await, known, "nothing was queued");
    let (status, e) = api.send(Method::POST, "/projects/sticky/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("confirmation_required")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("pinned at release 1"), "{e}");

    // Unpinned: nothing deploys by itself, the newest commit is offered; the next push deploys.
    let (status, u) = api.send(Method::DELETE, "/projects/sticky/stages/dev/pin", json!({})).await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["offer"]["commit"], v3.as_str(), "{u}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(run_ids(&api, "sticky").await, known, "unpinning deploys nothing");
    push(&served.work, &[("index.html", "v4\n")], &[], "v4");
    let r = next_run(&api, "sticky", &known, Duration::from_secs(60)).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(get_via_edge(edge_port, &vhost).await, (200, "v4".to_string()));
    assert!(row(&api, "sticky").await["pin"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_looping_container_is_reported_down() {
    // The container serves, passes its gate and window, then exits every 5 s; Docker restarts it.
    let df = format!(
        "FROM {}\nCOPY . /www\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; (sleep 5; kill 1) & httpd -f -p 80 -h /www & wait; exit 3\"]\n",
        busybox_image()
    );
    let rollout = json!({"drain_secs": 1, "verify_secs": 1, "watch_interval_secs": 1});
    let files = [("Dockerfile", df.as_str()), ("index.html", "v1\n"), ("health", "ok\n")];
    let s = crate::deploys::stack_of("looping", &files, fast_deploy(), watched_stage(rollout)).await;
    let r = finish(&s.api, run(&s.api, "looping", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let r = wait_live_state(&s.api, "looping", "down", Duration::from_secs(30)).await;
    let what = r["live_health"]["what"].as_str().unwrap();
    assert!(what.contains("restart"), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_records_what_its_switch_cost_in_requests_as_the_clients_saw_it() {
    let rollout = json!({"drain_secs": 1, "verify_secs": 1});
    let s = crate::deploys::stack("counted", fast_deploy(), watched_stage(rollout)).await;
    let r = finish(&s.api, run(&s.api, "counted", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");

    push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
    let clients = 4;
    let load = Load::start(s.edge_port, &host("dev", "counted"), clients, true);
    let r = finish(&s.api, run(&s.api, "counted", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let c = &r["switch"];
    let (requests, failed, from, to) =
        (c["requests"].as_i64().unwrap(), c["failed"].as_i64().unwrap(), c["from"].as_i64().unwrap(), c["to"].as_i64().unwrap());
    // What the clients saw end inside the same window; at each edge of it a request in flight
    // (and those that end while the edge is being asked, tens of ms) may fall either way:
    // 2 per client, or 8 % under a fast load.
    let seen: Vec<bool> = report.ended.iter().filter(|(t, _)| (from..=to).contains(t)).map(|(_, ok)| *ok).collect();
    let (seen_all, seen_failed) = (seen.len() as i64, seen.iter().filter(|ok| !**ok).count() as i64);
    let slack = (2 * clients as i64).max(seen_all * 8 / 100);
    assert!(seen_all > 50, "the window held a real load: {seen_all} requests ({from}..{to})");
    assert!(
        (requests - seen_all).abs() <= slack,
        "the edge counted {requests}, the clients saw {seen_all} end in the window (slack {slack})"
    );
    assert_eq!((failed, seen_failed, report.failed), (0, 0, 0), "{report:?}");
    let logs = s.api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    assert!(logs.contains(&format!("requests during the switch, {failed} failed (counted by the edge)")), "{logs}");
    let metrics = s.api.get("/metrics?project=counted").await;
    let switches = metrics[0]["switches"].as_array().unwrap();
    assert_eq!(switches.len(), 2, "both deploys were counted: {metrics}");
    assert_eq!(switches[1]["requests"].as_i64(), Some(requests));
}

/// The notification's id, from the notification server's reply to the `Notify` call that
/// `ours` picks.
fn notification_id(log: &Path, ours: impl Fn(&String) -> bool) -> String {
    let messages = monitored(log);
    let call = messages.iter().find(|m| ours(m)).unwrap_or_else(|| panic!("no such Notify call: {messages:#?}"));
    let field = |m: &str, f: &str| -> Option<String> {
        let header = m.lines().next()?;
        header.split([' ', ';']).find_map(|w| w.strip_prefix(f).and_then(|v| v.strip_prefix('=')).map(String::from))
    };
    let (sender, serial) = (field(call, "sender").unwrap(), field(call, "serial").unwrap());
    let reply = messages
        .iter()
        .find(|m| {
            m.starts_with("method return")
                && field(m, "destination").as_deref() == Some(&sender)
                && field(m, "reply_serial").as_deref() == Some(&serial)
        })
        .unwrap_or_else(|| panic!("no reply to the Notify call: {messages:#?}"));
    reply.lines().nth(1).and_then(|l| l.trim().strip_prefix("uint32 ")).unwrap_or_else(|| panic!("no id in {reply}")).to_string()
}

// Longer than 80 lines: one scenario against the real engine, told start to end.
/// A failed deploy's desktop notification offers "Open run" and "Roll back"; the operator's
/// "Roll back" (the notification server's ActionInvoked, sent on the session bus as a click
/// sends it) puts the previous release back with no failed request under load, and the
/// history says the notification asked for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_deploys_roll_back_button_puts_the_previous_release_back_without_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dbus.txt");
    let (_dunst, _monitor) = desktop(&log);
    let root = tempfile::tempdir().unwrap();
    let df = dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
    let (edge_port, _engine, api, _cleanup) = notifying_engine(dir.path()).await;
    let project = format!("undo-{}", std::process::id());
    let stages = json!([{"name": "dev", "branch_patterns": [], "strategy": "blue-green", "rollout": {"drain_secs": 1, "verify_secs": 1}}]);
    let body = json!({"name": project, "repo_url": served.url, "forge": "git", "deploy": fast_deploy(), "stages": stages});
    let (status, p) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(finish(&api, run(&api, &project, "dev", "main").await).await["run"]["status"], "succeeded");
    push(&served.work, &[("index.html", "v2\n")], &[], "v2");
    assert_eq!(finish(&api, run(&api, &project, "dev", "main").await).await["run"]["status"], "succeeded");
    let vhost = host("dev", &project);
    assert_eq!(get_via_edge(edge_port, &vhost).await, (200, "v2".to_string()));

    // v3 does not build: the run fails, release 2 stays live, and the desktop hears of it.
    push(&served.work, &[("Dockerfile", "FROM scratch\nRUN false\n")], &[], "v3 breaks the build");
    let failed = run(&api, &project, "dev", "main").await;
    assert_eq!(finish(&api, failed).await["run"]["status"], "failed");
    let ours = |m: &String| m.contains("member=Notify") && m.contains(&format!("run #{failed} failed"));
    wait_for("the failed deploy's notification", Duration::from_secs(15), || monitored(&log).iter().any(ours).then_some(()));
    let call = monitored(&log).into_iter().find(ours).unwrap();
    for (key, label) in [("default", "Open run"), ("rollback", "Roll back")] {
        assert!(call.contains(&format!("string \"{key}\"")) && call.contains(&format!("string \"{label}\"")), "offers {label}: {call}");
    }
    let id = notification_id(&log, ours);

    // "Roll back", under load: release 1 comes back, no request fails.
    let load = Load::start(edge_port, &vhost, 4, true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = Command::new("dbus-send")
        .args(["--session", "--type=signal", "/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked"])
        .args([format!("uint32:{id}"), "string:rollback".into()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rollback = wait_for("the rollback run", Duration::from_secs(20), || {
        let ids = futures_ids(&api, &project);
        ids.into_iter().find(|id| *id > failed)
    });
    let r = finish(&api, rollback).await;
    let report = load.finish().await;
    assert_eq!((r["run"]["status"].as_str(), r["run"]["trigger"].as_str()), (Some("succeeded"), Some("rollback")), "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("release 1"), "{r}");
    assert!(report.sent > 20, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(get_via_edge(edge_port, &vhost).await, (200, "v1".to_string()));
    let history = &r["history"];
    assert!(history[0]["actor"].as_str().unwrap().ends_with("(notification)"), "{history}");
}

/// Run ids of `project`, from a blocking context (the wait helper takes a plain closure).
fn futures_ids(api: &Api, project: &str) -> Vec<i64> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(run_ids(api, project)))
}
