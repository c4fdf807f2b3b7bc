//! What the engine adds to a run: one trivial step (`true`) run by Slipway, from "deploy" to
//! the run's end, against the same Docker work done by hand through the API (fill a workspace
//! volume with the source, run the step, remove the volume). The repository is already in the
//! project's cache. Target (issue 5): < 300 ms added.
//!
//! Needs the Docker engine and a Secret Service (scripts/bench runs it in a D-Bus session).

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use slipway_engine::adapters::docker::exec::{self, StepSpec};
use slipway_engine::domain::project::{Forge, NewProject};
use slipway_engine::{Config, Engine, EngineEvent};

mod common;

use common::{ensure_image, IMAGE};
const ROUNDS: usize = 10;

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@example.invalid")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

// Longer than 80 lines: the benchmark's script, one measurement after the other, each reported as it is taken.
#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let docker = slipway_engine::adapters::docker::connect_negotiated("unix:///var/run/docker.sock").await.unwrap();
    ensure_image(&docker).await;

    // A repository with one trivial step.
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("app.git");
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q", "-b", "main"]);
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("slipway.yml"), format!("steps:\n  - name: trivial\n    image: {IMAGE}\n    commands: [\"true\"]\n")).unwrap();
    std::fs::write(work.join("README"), "x\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "one"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "HEAD:main"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);

    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(Config::at(dir.path(), "127.0.0.1:0".parse().unwrap(), "unix:///var/run/docker.sock")).await.unwrap();
    engine
        .create_project(NewProject {
            name: "bench".into(),
            repo_url: bare.display().to_string(),
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

    let run_once = |engine: Engine, commit: String| async move {
        let mut events = engine.subscribe();
        let started = Instant::now();
        let id = engine.start_manual_run("bench", "dev", &commit, false).await.unwrap();
        loop {
            if let Ok(EngineEvent::RunChanged { run_id }) = events.recv().await {
                if run_id == id {
                    let d = engine.run_detail(id).await.unwrap();
                    if !matches!(d.run.status.as_str(), "queued" | "running") {
                        assert_eq!(d.run.status.as_str(), "succeeded", "{:?}", d.run.reason);
                        return started.elapsed();
                    }
                }
            }
        }
    };
    // Warm-up: fills the project's cache and Docker's.
    run_once(engine.clone(), commit.clone()).await;
    let mut slipway = Vec::new();
    for _ in 0..ROUNDS {
        slipway.push(run_once(engine.clone(), commit.clone()).await);
    }

    // The same Docker work by hand.
    let labels = HashMap::new();
    let mut by_hand = Vec::new();
    for i in 0..=ROUNDS {
        let started = Instant::now();
        let ws = exec::create_workspace(&docker, &format!("slipway-bench-{i}"), &work, IMAGE, &labels).await.unwrap();
        let spec = StepSpec {
            container_name: format!("slipway-bench-{i}-step"),
            image: IMAGE.into(),
            commands: vec!["true".into()],
            files_in: None,
            collect: None,
            network: None,
            env: vec![],
            workdir: "/src".into(),
            timeout: Duration::from_secs(60),
            labels: HashMap::new(),
        };
        let out = exec::run_step(&docker, Some(&ws), &spec, tokio::sync::watch::channel(false).1, |_| {}).await.unwrap();
        assert_eq!(out.exit_code, 0);
        exec::remove_workspace(&docker, &ws).await.unwrap();
        if i > 0 {
            by_hand.push(started.elapsed());
        }
    }
    engine.stop().await;
    let (s, h) = (median(slipway), median(by_hand));
    println!("one trivial step, median of {ROUNDS} (cache warm):");
    println!("  through Slipway (deploy → run succeeded): {:.0} ms", s.as_secs_f64() * 1000.0);
    println!("  the same Docker work by hand:             {:.0} ms", h.as_secs_f64() * 1000.0);
    println!("  engine overhead:                          {:.0} ms", (s.as_secs_f64() - h.as_secs_f64()) * 1000.0);
}
