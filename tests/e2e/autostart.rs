//! Start at login, on Linux for real: the desktop engine (`serve --tray`) writes its XDG
//! autostart entry on its first start, the switch removes and restores it (and the choice
//! outlives a restart), and what the entry runs brings up the engine with its tray, checked
//! over D-Bus.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::kit::*;

fn start_tray(data: &Path, cfg: &Path) -> (Guard, String) {
    start_slipwayd(data, |cmd| {
        cmd.arg("--tray").env("XDG_CONFIG_HOME", cfg).env("SLIPWAY_WINDOW", "/bin/true");
    })
}

/// The tray of engine `pid` answers on the session bus.
fn tray_answers(pid: u64) -> bool {
    Command::new("gdbus")
        .args(["call", "--session", "--dest", &format!("org.kde.StatusNotifierItem-{pid}-1"), "--object-path", "/StatusNotifierItem"])
        .args(["--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierItem", "Title"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_engine_starts_at_login_by_default_and_the_switch_writes_and_removes_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (data, cfg) = (dir.path().join("data"), dir.path().join("cfg"));
    let entry = cfg.join("autostart/dev.slipway.engine.desktop");
    let (engine, base) = start_tray(&data, &cfg);
    let api = Api::new(&base, &data);
    wait_for("the autostart entry of a first desktop start", Duration::from_secs(15), || entry.exists().then_some(()));
    let text = std::fs::read_to_string(&entry).unwrap();
    let exec = format!("Exec=\"{}\" serve --tray --data-dir \"{}\"", bin("slipwayd").display(), data.display());
    assert!(text.lines().any(|l| l == exec), "{exec} is not in:\n{text}");
    let state = api.get("/settings/autostart").await;
    assert_eq!((state["enabled"].as_bool(), state["location"].as_str()), (Some(true), Some(entry.to_str().unwrap())), "{state}");

    // Off: the entry goes, and a restart does not bring it back (the choice is remembered).
    let (code, state) = api.send(Method::PUT, "/settings/autostart", json!({"enabled": false})).await;
    assert_eq!((code, state["enabled"].as_bool()), (200, Some(false)), "{state}");
    assert!(!entry.exists());
    drop(engine);
    let (engine, base) = start_tray(&data, &cfg);
    let api = Api::new(&base, &data);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!entry.exists(), "turned off stays off");
    let out = slipwayd(&data, &["autostart", "on"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(entry.exists());
    assert_eq!(api.get("/settings/autostart").await["enabled"], true);

    // What the entry runs, run as the session would: the engine comes up with its tray.
    drop(engine);
    let _ = std::fs::remove_file(data.join("engine.json"));
    let line = std::fs::read_to_string(&entry).unwrap().lines().find_map(|l| l.strip_prefix("Exec=").map(String::from)).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {line}"))
        .env("XDG_CONFIG_HOME", &cfg)
        .env("SLIPWAY_WINDOW", "/bin/true")
        .env_remove("SLIPWAY_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("login.log")).unwrap())
        .spawn()
        .unwrap();
    let _login = Guard(child);
    let pid = wait_for("the engine the entry starts", Duration::from_secs(30), || engine_file(&data).and_then(|v| v["pid"].as_u64()));
    wait_for("its tray on the session bus", Duration::from_secs(15), || tray_answers(pid).then_some(()));
}

/// A package's entry in /etc/xdg/autostart runs for every user: turning it off for one user
/// writes that user's entry of the same name with `Hidden=true` (which XDG Autostart reads
/// first), and leaves the package's file alone; turning it on again un-hides it.
#[tokio::test(flavor = "multi_thread")]
async fn turning_start_at_login_off_hides_a_packaged_entry_for_this_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let (data, cfg, etc) = (dir.path().join("data"), dir.path().join("cfg"), dir.path().join("etc-xdg"));
    let packaged = etc.join("autostart/dev.slipway.engine.desktop");
    std::fs::create_dir_all(packaged.parent().unwrap()).unwrap();
    let packaged_text = "[Desktop Entry]\nType=Application\nName=Slipway\nExec=/usr/bin/slipwayd serve --tray\n";
    std::fs::write(&packaged, packaged_text).unwrap();
    let entry = cfg.join("autostart/dev.slipway.engine.desktop");
    let (_engine, base) = start_slipwayd(&data, |cmd| {
        cmd.env("XDG_CONFIG_HOME", &cfg).env("XDG_CONFIG_DIRS", &etc);
    });
    let api = Api::new(&base, &data);
    assert_eq!(api.get("/settings/autostart").await["enabled"], true, "the packaged entry alone means on");

    let (code, state) = api.send(Method::PUT, "/settings/autostart", json!({"enabled": false})).await;
    assert_eq!((code, state["enabled"].as_bool()), (200, Some(false)), "{state}");
    let mine = std::fs::read_to_string(&entry).expect("off writes this user's entry");
    assert!(mine.lines().any(|l| l == "Hidden=true"), "{mine}");
    assert_eq!(std::fs::read_to_string(&packaged).unwrap(), packaged_text, "the package's file is not touched");

    let (code, state) = api.send(Method::PUT, "/settings/autostart", json!({"enabled": true})).await;
    assert_eq!((code, state["enabled"].as_bool()), (200, Some(true)), "{state}");
    let mine = std::fs::read_to_string(&entry).unwrap();
    assert!(!mine.contains("Hidden"), "{mine}");
    let exec = format!("Exec=\"{}\" serve --tray --data-dir \"{}\"", bin("slipwayd").display(), data.display());
    assert!(mine.lines().any(|l| l == exec), "{exec} is not in:\n{mine}");
}
