//! The headless binary: the engine without a window, and the CLI over its API.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::kit::*;

#[test]
fn serve_prints_the_webhook_url_and_the_cli_drives_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut guard, url) = start_headless(dir.path());

    let out = slipwayd(dir.path(), &["status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["listener"], url.as_str());
    assert_eq!(status["docker"]["reachable"], true, "{status}");
    assert_eq!(status["store_path"], dir.path().join("slipway.db").display().to_string());
    assert_eq!(status["auto_deploy_paused"], false);

    let out = slipwayd(dir.path(), &["pause", "--json"]);
    assert!(out.status.success());
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["paused"], true);
    let out = slipwayd(dir.path(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("auto-deploy: paused"), "{text}");
    assert!(text.contains("reachable at unix:///var/run/docker.sock"), "{text}");

    // SIGTERM: a clean stop, exit 0, nothing left behind.
    let pid = guard.0.id() as i32;
    assert_eq!(unsafe { libc_kill(pid, 15) }, 0);
    let status = wait_exit(&mut guard.0, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    let (stdout, _) = output(dir.path());
    let port = url.rsplit(':').next().unwrap();
    assert!(stdout.contains(&format!("Webhook URL: http://127.0.0.1:{port}/hooks/<project-id>")), "{stdout}");
    assert!(!dir.path().join("engine.json").exists());
    assert!(log_text(dir.path()).contains("engine stopped cleanly"));
}

#[test]
fn quit_over_the_api_stops_serve_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut guard, _url) = start_headless(dir.path());
    let out = slipwayd(dir.path(), &["quit"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(wait_exit(&mut guard.0, Duration::from_secs(15)).success());
    assert!(log_text(dir.path()).contains("quit requested over the API"));
}

#[test]
fn a_corrupt_store_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slipway.db"), b"this is not a database, just text, long enough to have a header........").unwrap();
    let out = slipwayd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a Slipway database or is corrupt"), "{err}");
    assert!(err.contains(&dir.path().join("slipway.db").display().to_string()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn status_without_an_engine_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipwayd(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Slipway engine is running") && err.contains("slipwayd serve"), "{err}");
}

/// Two engines on one store would take each other's runs for ones a crash left running: the
/// second is refused at once, naming the first, and the first goes on answering.
#[test]
fn a_second_engine_on_the_same_data_directory_is_refused_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, url) = start_headless(dir.path());
    let before = std::fs::read_to_string(dir.path().join("engine.json")).unwrap();
    let started = Instant::now();
    let out = slipwayd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert!(started.elapsed() < Duration::from_secs(5), "refused without waiting, took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let pid = first.0.id();
    assert!(err.contains(&format!("another Slipway engine (process {pid}) is running on the data directory")), "{err}");
    assert!(err.contains("--data-dir") && !err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("engine.json")).unwrap(), before, "the first engine's file is untouched");
    let status = slipwayd(dir.path(), &["status", "--json"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["pid"], pid, "the first engine still answers: {status}");
    // Once the first has stopped, the directory is free again.
    assert!(slipwayd(dir.path(), &["quit"]).status.success());
    assert!(wait_exit(&mut first.0, Duration::from_secs(15)).success());
    let (_second, second_url) = start_headless(dir.path());
    assert_ne!(second_url, url);
}

#[test]
fn a_busy_port_stops_serve_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = slipwayd(dir.path(), &["serve", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn projects_round_trip_through_yaml_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, _url) = start_headless(dir.path());
    let file = dir.path().join("web.yml");
    std::fs::write(
        &file,
        "name: web\nrepo_url: https://git.example/team/web.git\nforge: gitea\npoll_interval_secs: 120\nstages:\n  - name: dev\n    branch_patterns: [main]\n  - name: rel\n    branch_patterns: []\n    tag_patterns: ['v*']\n    auto_deploy: false\n  - name: prod\n    branch_patterns: []\n    promote_from: rel\n    confirm: true\n    productive: true\n",
    )
    .unwrap();
    let out = slipwayd(dir.path(), &["import", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["created"], true);
    assert_eq!(r["project"]["stages"][2]["promote_from"], "rel");

    // Export gives back what was imported (defaults filled in), ready for version control.
    let out = slipwayd(dir.path(), &["export", "web"]);
    assert!(out.status.success());
    let exported = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(exported.contains("repo_url: https://git.example/team/web.git"), "{exported}");
    assert!(exported.contains("strategy: blue-green"), "{exported}");
    assert!(!exported.contains("created_at"), "{exported}");

    // Edit and import again: the project is updated in place; a stage the file dropped is kept.
    let edited: String = exported
        .lines()
        .flat_map(|l| {
            if l.trim() == "- main" {
                vec![l.to_string(), l.replace("main", "release/*")]
            } else {
                vec![l.replace("poll_interval_secs: 120", "poll_interval_secs: 30")]
            }
        })
        .map(|l| l + "\n")
        .collect();
    let edited = edited[..edited.find("- name: prod").unwrap()].to_string();
    std::fs::write(&file, &edited).unwrap();
    let out = slipwayd(dir.path(), &["import", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["created"], false);
    assert_eq!(r["project"]["poll_interval_secs"], 30);
    assert_eq!(r["project"]["stages"][0]["branch_patterns"], serde_json::json!(["main", "release/*"]));
    assert_eq!(r["project"]["stages"].as_array().unwrap().len(), 3);
    assert!(r["notes"][0].as_str().unwrap().contains("stage prod is not in the file"), "{r}");

    // A broken file is a clear error (exit 2: bad input) and changes nothing.
    std::fs::write(&file, "name: web\nrepo_url: [not, a, string]\n").unwrap();
    let out = slipwayd(dir.path(), &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("project file:") && err.contains("repo_url"), "{err}");
    // So is a file that is not there.
    let missing = dir.path().join("nope.yaml");
    let out = slipwayd(dir.path(), &["import", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read the project file") && err.contains("nope.yaml"), "{err}");
}

/// `Max open files` of a process: (soft, hard).
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_string();
    let mut cols = line["Max open files".len()..].split_whitespace();
    (cols.next().unwrap().to_string(), cols.next().unwrap().to_string())
}

#[test]
fn serve_raises_its_open_file_limit_to_the_hard_one() {
    let dir = tempfile::tempdir().unwrap();
    // Started with a low soft limit, as many systems start programs (1,024 and below).
    let child = std::process::Command::new("sh")
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" serve --listen 127.0.0.1:0"])
        .arg(bin("slipwayd"))
        .env("SLIPWAY_DATA_DIR", dir.path())
        .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _guard = Guard(child);
    wait_for("slipwayd to write engine.json", Duration::from_secs(30), || engine_file(dir.path()));
    let (soft, hard) = open_file_limits(pid);
    assert_ne!(soft, "256", "the soft limit stayed where it was started");
    assert_eq!(soft, hard);
}
