//! The desktop as a console of an engine that can go away: the real window attached over SSH (a
//! real sshd on loopback) to an engine in a data directory of its own, with the command line and
//! a tray as more consoles; and the window outliving a restart of its local engine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::app::{
    click, listener_url, open_app, shot, start_deploy, start_driver, start_driver_env, until, wait_text, watch_run, ONE_APP_AT_A_TIME,
};
use crate::hosts::ssh::{descendants, Sshd};
use crate::kit::*;

/// Every line the window's log view shows, by position: the view draws (and fetches) only what
/// is near the viewport, so it is scrolled through from the top.
async fn window_log(client: &Client) -> Vec<String> {
    let mut lines: std::collections::BTreeMap<i64, String> = Default::default();
    let mut top = 0;
    loop {
        let js = "const b = document.querySelector('[data-testid=run-log]'); b.scrollTop = arguments[0]; \
                  b.dispatchEvent(new Event('scroll')); return b.scrollHeight;";
        let height = client.execute(js, vec![json!(top)]).await.unwrap().as_i64().unwrap();
        // The view fetches the pages that come into sight: wait until none is still coming.
        until("the lines in sight", 10, || async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let pending =
                client.execute("return document.querySelectorAll('[data-testid=run-log] .line.pending').length;", vec![]).await.ok()?;
            (pending.as_i64() == Some(0)).then_some(())
        })
        .await;
        let shown = client
            .execute(
                "return Array.from(document.querySelectorAll('[data-testid=run-log] .line')).map(e => [parseInt(e.style.top), e.textContent]);",
                vec![],
            )
            .await
            .unwrap();
        for pair in shown.as_array().unwrap() {
            lines.insert(pair[0].as_i64().unwrap() / 18, pair[1].as_str().unwrap().to_string());
        }
        top += 300;
        if top >= height {
            break;
        }
    }
    let positions: Vec<i64> = lines.keys().copied().collect();
    assert_eq!(positions, (0..positions.len() as i64).collect::<Vec<_>>(), "the log view has holes");
    lines.into_values().collect()
}

/// The server's own copy of a run's log.
async fn stored_log(api: &Api, run: i64) -> Vec<String> {
    api.get(&format!("/runs/{run}/logs?limit=100000"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap().to_string())
        .collect()
}

fn cli(sshd_env: &[(String, String)], address: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("slipwayd"));
    cmd.arg("--engine").arg(address).args(args).envs(sshd_env.iter().map(|(k, v)| (k, v))).env("SLIPWAY_REMOTE_SLIPWAYD", bin("slipwayd"));
    cmd
}

fn the_project(repo: &str) -> String {
    format!(
        "name: web\nrepo_url: {repo}\nforge: git\ndeploy:\n  port: 80\n  health:\n    path: /health\n    interval_ms: 200\n    timeout_ms: 1000\n    retries: 3\n    start_period_ms: 2000\n\
         stages:\n  - name: dev\n    branch_patterns: []\n    strategy: blue-green\n    rollout:\n      drain_secs: 0\n      verify_secs: 1\n"
    )
}

// Longer than 80 lines: one scenario told start to end; each step needs the state the one before it left.
/// The window starts on this machine's engine, is switched in Settings (a host key it does not
/// know is refused, and it stays where it was) to an engine behind sshd, deploys there with the
/// log following live, loses the link mid-log (sshd stopped: every session and the tunnel with
/// it), says so, attaches again by itself and shows every line of the log exactly once; the
/// command line, a second console, deploys meanwhile and follows a run live; the window rolls
/// back; the engine records which console did what.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_window_attached_over_ssh_deploys_reconnects_without_losing_a_line_and_rolls_back() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let root = tempfile::tempdir().unwrap();
    let mut sshd = Sshd::new(root.path());
    let count = format!(
        "steps:\n  - name: count\n    image: {}\n    commands:\n      - \"for i in $(seq 1 30); do echo count-$i; sleep 0.3; done\"\nbuild:\n  dockerfile: Dockerfile\n",
        busybox_image()
    );
    let df = crate::deploys::dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n"), ("slipway.yml", &count)]);

    // The server: an engine in a data directory of its own, reachable only through sshd.
    let server = root.path().join("server");
    std::fs::create_dir_all(&server).unwrap();
    let edge_port = stable_port();
    let (_engine, url) = start_headless_env(&server, &crate::deploys::env(edge_port));
    let api = Api::new(&url, &server);
    let _cleanup = DockerCleanup(api.get("/status").await["instance_id"].as_str().unwrap().to_string());
    let imported = reqwest::Client::new()
        .post(format!("{url}/api/v1/projects/import"))
        .bearer_auth(token(&server))
        .header("content-type", "application/yaml")
        .body(the_project(&served.url))
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 200, "{}", imported.text().await.unwrap());
    let address = format!("ssh://box{}", server.display());

    // The console: the real window, on this machine's engine first.
    let console = root.path().join("console");
    std::fs::create_dir_all(&console).unwrap();
    let mut env: Vec<(&str, String)> = vec![("SLIPWAY_REMOTE_SLIPWAYD", bin("slipwayd").display().to_string())];
    let sshd_env = sshd.env();
    env.push(("PATH", sshd_env[0].1.clone()));
    let driver = start_driver_env(&console, &env);
    let client = open_app(&driver).await;
    click(&client, "[data-testid=tab-status]").await;
    wait_text(&client, "[data-testid=status-attached]", |t| t.contains("this machine")).await;

    // Settings: a host whose key is not known is refused with what to do; the window stays.
    click(&client, "[data-testid=tab-settings]").await;
    attach(&client, &format!("ssh://unknown{}", server.display())).await;
    let refused = wait_text(&client, "[data-testid=attach-error]", |t| !t.is_empty()).await;
    assert!(refused.contains("not in known_hosts"), "{refused}");
    attach(&client, &address).await;
    wait_text(&client, "[data-testid=engine-address]", |t| t == address).await;
    click(&client, "[data-testid=tab-status]").await;
    let attached = wait_text(&client, "[data-testid=status-attached]", |t| t.contains("over SSH")).await;
    assert!(attached.contains(&address), "{attached}");
    let shown = wait_text(&client, "[data-testid=status-store]", |t| !t.is_empty()).await;
    assert!(shown.contains(&server.display().to_string()), "the Status view shows the server's engine: {shown}");
    shot("console-ssh-status.png");

    // A deploy started in the window; the log follows live.
    click(&client, "[data-testid=tab-runs]").await;
    start_deploy(&client, "main").await;
    wait_text(&client, "[data-testid=run-log]", |t| t.contains("count-4")).await;
    let tunnel_before = tunnel_pids(&console);
    assert_eq!(tunnel_before.len(), 1, "one ssh tunnel for the window: {tunnel_before:?}");

    // The link drops mid-log: sshd and every session it carries (the tunnel's too) are gone.
    sshd.stop();
    let banner = wait_text(&client, "[data-testid=link-banner]", |t| t.contains("retrying")).await;
    assert!(banner.contains(&address), "{banner}");
    shot("console-ssh-reconnecting.png");
    tokio::time::sleep(Duration::from_secs(2)).await;
    sshd.start();
    until("the banner to go", 60, || async { client.find(Locator::Css("[data-testid=link-banner]")).await.is_err().then_some(()) }).await;
    let tunnel_after = tunnel_pids(&console);
    assert!(tunnel_after.len() == 1 && tunnel_after != tunnel_before, "a new tunnel: {tunnel_before:?} → {tunnel_after:?}");

    // A second console (the command line over the same SSH) follows the same run live.
    let run1 = api.get("/runs").await[0]["id"].as_i64().unwrap();
    let follower = cli(&sshd_env, &address, &["logs", &run1.to_string(), "--follow"]).stdout(Stdio::piped()).spawn().unwrap();
    watch_run(&client, "succeeded").await;
    let followed = follower.wait_with_output().unwrap();
    let followed = String::from_utf8_lossy(&followed.stdout).to_string();
    assert!((1..=30).all(|i| followed.lines().filter(|l| *l == format!("count-{i}")).count() == 1), "{followed}");

    // What the window shows is the server's log: every line once, none missing, in order.
    let stored = stored_log(&api, run1).await;
    let shown = window_log(&client).await;
    assert_eq!(shown, stored, "the window's log after the reconnect");
    assert!((1..=30).all(|i| shown.iter().filter(|l| **l == format!("count-{i}")).count() == 1));
    // Search runs in the engine over the whole log; the view jumps to the match.
    let found = api.get(&format!("/runs/{run1}/logs/search?q=COUNT-2")).await;
    let want: Vec<i64> = (1..).zip(&stored).filter(|(_, l)| l.contains("count-2")).map(|(seq, _)| seq).collect();
    assert_eq!(
        (found["seqs"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect::<Vec<_>>(), found["more"].as_bool()),
        (want, Some(false))
    );
    let (status, e) = api.send(reqwest::Method::GET, &format!("/runs/{run1}/logs/search?q="), json!(null)).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_input")), "{e}");
    let row = stored.iter().position(|l| l == "count-25").unwrap() + 1;
    let search = client.find(Locator::Css("[data-testid=log-search]")).await.unwrap();
    search.send_keys("count-25\u{E007}").await.unwrap();
    wait_text(&client, "[data-testid=run-log-count]", |t| t.contains(&format!("match at line {row}"))).await;
    let history = wait_text(&client, "[data-testid=run-history]", |t| t.contains("(window)")).await;
    assert!(history.starts_with("start manual run by "), "{history}");

    // The command line deploys v2 over SSH; the window sees it end live.
    crate::deploys::push(&served.work, &[("index.html", "v2\n")], &[], "v2");
    let out = cli(&sshd_env, &address, &["deploy", "web", "dev", "--ref", "main", "--wait", "--json"]).output().unwrap();
    assert!(out.status.success(), "deploy over ssh: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(get_via_edge(edge_port, &crate::deploys::host("dev", "web")).await, (200, "v2".to_string()));

    // The window rolls back to release 1.
    click(&client, "[data-testid=tab-projects]").await;
    click(&client, "[data-testid=open-web]").await;
    crate::app::wait_attr(&client, "[data-testid=release-dev-1]", "data-status", "retired").await;
    click(&client, "[data-testid=rollback-dev-1]").await;
    wait_text(&client, "[data-testid=rollback-dialog]", |t| t.contains("release 1")).await;
    client.find(Locator::Css("body")).await.unwrap().send_keys("\u{E007}").await.unwrap();
    watch_run(&client, "succeeded").await;
    assert_eq!(get_via_edge(edge_port, &crate::deploys::host("dev", "web")).await, (200, "v1".to_string()));

    // Who did what, as the engine recorded it and the project view shows it.
    let actors = project_history(&api).await;
    assert_eq!(actors.len(), 4, "{actors:?}");
    assert!(actors[0].0 == "rollback" && actors[0].1.ends_with("(window)"), "{actors:?}");
    assert!(actors[1].0 == "start_manual_run" && actors[1].1.ends_with("(cli)"), "{actors:?}");
    assert!(actors[2].0 == "start_manual_run" && actors[2].1.ends_with("(window)"), "{actors:?}");
    // A client that does not name itself (curl with the token, as the test's import) is `api`.
    assert_eq!(actors[3], ("import_project".to_string(), "api".to_string()));
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    assert!(actors[0].1.starts_with(&format!("{}@", me.trim())), "the OS user of the console: {actors:?}");
    click(&client, "[data-testid=tab-projects]").await;
    click(&client, "[data-testid=open-web]").await;
    let table = wait_text(&client, "[data-testid=project-history]", |t| t.contains("(cli)")).await;
    assert!(table.contains("rollback") && table.contains("(window)"), "{table}");
    shot("console-ssh-history.png");

    let _ = client.close().await;
}

async fn attach(client: &Client, address: &str) {
    let input =
        client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=engine-address-input]")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(address).await.unwrap();
    click(client, "[data-testid=attach-engine]").await;
}

/// (action, actor) of the project's history, newest first.
async fn project_history(api: &Api) -> Vec<(String, String)> {
    let h: Value = api.get("/projects/web/history").await;
    h.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap().to_string(), e["actor"].as_str().unwrap().to_string())).collect()
}

/// The `ssh -N -L` processes of the window whose data directory is `console`.
fn tunnel_pids(console: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for window in window_pids(console) {
        for pid in descendants(window) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).to_string()).collect();
            if args.iter().any(|a| a == "-N") && args.iter().any(|a| a == "-L") {
                pids.push(pid);
            }
        }
    }
    pids
}

/// The labels of a tray's menu, read over D-Bus as a panel reads them.
fn menu_labels(pid: u32) -> String {
    let out = Command::new("gdbus")
        .args(["call", "--session", "--dest", &format!("org.kde.StatusNotifierItem-{pid}-1"), "--object-path", "/MenuBar"])
        .args(["--method", "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "[\"label\"]"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

// Longer than 80 lines: one scenario told start to end.
/// `slipwayd tray --engine ssh://…` on a desktop with no engine of its own: its menu lists the
/// server's runs, a failed run there becomes a notification here (the server has no desktop),
/// its pause switch pauses the server, its Open starts the window attached to the same engine
/// and a later click reaches that window instead of a second one; Quit ends only the tray.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tray_attached_over_ssh_lists_notifies_and_pauses_the_remote_engine() {
    let root = tempfile::tempdir().unwrap();
    let sshd = Sshd::new(root.path());
    let log = root.path().join("dbus.txt");
    let (_dunst, _monitor) = crate::watch::desktop(&log);
    let failing = format!("steps:\n  - name: boom\n    image: {}\n    commands:\n      - \"echo boom; exit 3\"\n", busybox_image());
    let served = serve_repo_with(root.path(), &[("slipway.yml", &failing)]);
    let server = root.path().join("server");
    std::fs::create_dir_all(&server).unwrap();
    // The server has no desktop of its own: only the tray shows its notices.
    let (_engine, url) = start_headless_env(&server, &[("SLIPWAY_DESKTOP_NOTIFY", "0".into())]);
    let api = Api::new(&url, &server);
    let (status, p) = api.send(reqwest::Method::POST, "/projects", json!({"name": "far", "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");
    let address = format!("ssh://box{}", server.display());

    // A stand-in for the window: what it was started with and what it was told later.
    let seen = root.path().join("window.txt");
    let window = root.path().join("window.sh");
    std::fs::write(
        &window,
        format!("#!/bin/sh\necho \"args: $*\" >> {0}\nwhile read l; do echo \"stdin: $l\" >> {0}; done\n", seen.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&window, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut tray = cli(&sshd.env(), &address, &["tray"]);
    let tray = Guard(tray.env("SLIPWAY_WINDOW", &window).stderr(Stdio::null()).spawn().unwrap());
    let pid = tray.0.id();
    wait_for("the tray's menu", Duration::from_secs(30), || menu_labels(pid).contains("Pause auto-deploy").then_some(()));
    // The menu above is there before the tray is attached (it starts idle); what the tray is
    // told comes from the server's event stream, so wait until the server counts it.
    until("the tray to follow the server's events", 30, || async {
        (api.get("/status").await["ui_clients"].as_u64() >= Some(1)).then_some(())
    })
    .await;

    // A run fails on the server: the tray lists it and this desktop shows the notice.
    let (status, v) = api.send(reqwest::Method::POST, "/projects/far/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!(status, 202, "{v}");
    let run = v["run_id"].as_i64().unwrap();
    let label = format!("#{run} far/dev · failed");
    // On a timeout the harness shows what the menu held (each change once).
    let mut seen_menu = String::new();
    wait_for("the failed run in the tray's menu", Duration::from_secs(60), || {
        let labels = menu_labels(pid);
        if labels != seen_menu {
            eprintln!("tray menu: {labels}");
            seen_menu = labels.clone();
        }
        labels.contains(&label).then_some(())
    });
    let notified = wait_for("the notice on this desktop", Duration::from_secs(30), || {
        crate::notify::monitored(&log).into_iter().find(|m| m.contains("member=Notify") && m.contains("far"))
    });
    assert!(notified.contains("dev"), "{notified}");

    // Pause: the server's switch, over SSH.
    tray_click(pid, Some("Pause auto-deploy"));
    until("the server to pause", 20, || async { (api.get("/status").await["auto_deploy_paused"] == true).then_some(()) }).await;

    // Open: the window, attached to the same engine; the run's item then goes to that window.
    tray_click(pid, None);
    wait_for("the window to start", Duration::from_secs(10), || std::fs::read_to_string(&seen).ok().filter(|t| t.contains("args:")));
    tray_click(pid, Some(&label));
    let told =
        wait_for("the window to be told", Duration::from_secs(10), || std::fs::read_to_string(&seen).ok().filter(|t| t.contains("stdin:")));
    assert_eq!(told, format!("args: --engine {address}\nstdin: --run {run}\n"));

    // Quit ends the tray, not the server's engine.
    tray_click(pid, Some("Quit"));
    wait_for("the tray to exit", Duration::from_secs(10), || (!process_alive(pid)).then_some(()));
    assert!(api.get("/status").await["version"].is_string());
    let history = api.get("/projects/far/history").await;
    assert!(history.as_array().unwrap().iter().all(|h| h["actor"] == "api"), "the tray changed no project: {history}");
    let all = api.get("/history").await;
    assert!(all[0]["action"] == "set_auto_deploy_paused" && all[0]["actor"].as_str().unwrap().ends_with("(tray)"), "{all}");
}

/// The window outlives a restart of its engine (a signal, not the tray's Quit): it says it lost
/// the engine, attaches again by itself when the engine is back on another port, and shows it.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_waits_for_a_restarted_engine_and_attaches_to_its_new_port() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let driver = start_driver(dir.path());
    let client = open_app(&driver).await;
    let first = listener_url(&client).await;
    let windows = window_pids(dir.path());
    assert_eq!(windows.len(), 1, "{windows:?}");
    let pid = engine_file(dir.path()).unwrap()["pid"].as_u64().unwrap() as u32;
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    wait_for("the engine to stop", Duration::from_secs(20), || (!process_alive(pid)).then_some(()));
    let banner = wait_text(&client, "[data-testid=link-banner]", |t| t.contains("retrying")).await;
    assert!(banner.contains("lost") || banner.contains("does not answer"), "{banner}");
    assert!(process_alive(windows[0]), "the window stays open while its engine is away");

    let (_engine, second) = start_headless(dir.path());
    assert_ne!(first, second, "the engine came back on another port");
    until("the banner to go", 30, || async { client.find(Locator::Css("[data-testid=link-banner]")).await.is_err().then_some(()) }).await;
    wait_text(&client, "[data-testid=status-listener]", |t| t == second).await;
    assert_eq!(window_pids(dir.path()), windows, "the same window, attached again");
    let _ = client.close().await;
}
