//! The data directory's disk fills up mid-run (a small tmpfs, filled by a step's own output):
//! the run fails with a reason that says so, the engine keeps answering, and the store opens
//! again afterwards with everything it had.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::kit::*;

/// A tmpfs of `mib` MiB mounted at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, mib: u32) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"]).arg(dir).output().unwrap();
        assert!(
            out.status.success(),
            "this test mounts a tmpfs as the data directory and needs root for it: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_run_with_the_reason_and_the_engine_keeps_serving() {
    let root = tempfile::tempdir().unwrap();
    // About 20 MB of output: far more than the 12 MiB disk can hold.
    let pipeline = format!(
        "steps:\n  - name: chatty\n    image: {}\n    commands:\n      - yes \"$(printf '%0120d' 7)\" | head -n 150000\n",
        busybox_image()
    );
    let served = serve_repo_with(root.path(), &[("slipway.yml", &pipeline)]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _disk = Tmpfs::mount(&data, 12);
    let (mut engine, base) = start_headless(&data);
    let api = Api::new(&base, &data);
    let (code, p) = api.send(Method::POST, "/projects", json!({"name": "full", "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(code, 201, "{p}");
    let (code, v) = api.send(Method::POST, "/projects/full/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!(code, 202, "{v}");
    let run = v["run_id"].as_i64().unwrap();
    let r = wait_status(&api, run, finished, Duration::from_secs(240)).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.contains("is full") && reason.contains(&data.display().to_string()), "{reason}");
    // Still answering, with what it stored before the disk filled.
    assert_eq!(api.get("/status").await["data_dir"], data.display().to_string());
    let lines = api.get(&format!("/runs/{run}/logs?limit=10")).await;
    assert!(!lines.as_array().unwrap().is_empty(), "the first lines were kept");

    // The operator makes room (here: the tmpfs grows). Nothing is corrupt: after a hard stop
    // the store opens with its project and its failed run, and the same run now succeeds.
    engine.0.kill().unwrap();
    let _ = engine.0.wait();
    let grown = Command::new("mount").args(["-o", "remount,size=96m"]).arg(&data).output().unwrap();
    assert!(grown.status.success(), "{}", String::from_utf8_lossy(&grown.stderr));
    let (_engine, base) = start_headless(&data);
    let api = Api::new(&base, &data);
    assert_eq!(api.get("/projects").await[0]["id"], "full");
    assert_eq!(api.get(&format!("/runs/{run}")).await["run"]["status"], "failed");
    let (code, v) = api.send(Method::POST, "/projects/full/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!(code, 202, "{v}");
    let again = wait_status(&api, v["run_id"].as_i64().unwrap(), finished, Duration::from_secs(240)).await;
    assert_eq!(again["run"]["status"], "succeeded", "{again}");
}
