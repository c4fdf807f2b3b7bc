//! Properties of the intake over generated sequences of pushes, tag pushes and redelivered
//! deliveries (the real engine and store, runs held so nothing executes): no stage ever has the
//! same commit twice among its queued and succeeded runs, at most one run per stage waits, and
//! it is the newest push's commit (a newer push supersedes the one waiting; a redelivery of an
//! older delivery changes nothing). The sequences come from a fixed seed (SLIPWAY_PROP_SEED to
//! try others; SLIPWAY_PROP_CASES for more of them).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slipway_engine::domain::project::{Forge, NewProject, Stage};
use slipway_engine::domain::run::{Change, ChangeKind, RunStatus, Source, Trigger};
use slipway_engine::{Config, Engine};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One generated delivery: the ref it pushes, the commit, its delivery id.
#[derive(Debug, Clone)]
struct Push {
    git_ref: String,
    commit: String,
    delivery: String,
}

fn sequence(rng: &mut StdRng, len: usize) -> Vec<Push> {
    let mut out: Vec<Push> = Vec::new();
    for i in 0..len {
        // A redelivery of an earlier delivery (the same id, the same body) now and then.
        if !out.is_empty() && rng.random_bool(0.2) {
            let again = out[rng.random_range(0..out.len())].clone();
            out.push(again);
            continue;
        }
        let git_ref =
            ["refs/heads/main", "refs/heads/develop", "refs/heads/feature/x", "refs/tags/v1", "refs/tags/v2"][rng.random_range(0..5)];
        out.push(Push { git_ref: git_ref.into(), commit: format!("{:040x}", rng.random_range(1..6u32)), delivery: format!("d{i}") });
    }
    out
}

/// The stages a ref deploys to in the project below.
fn stages_of(git_ref: &str) -> Vec<&'static str> {
    match git_ref {
        "refs/heads/main" => vec!["dev", "main"],
        "refs/heads/develop" | "refs/heads/feature/x" => vec!["dev"],
        r if r.starts_with("refs/tags/") => vec!["prod"],
        _ => vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_deploys_a_commit_twice_to_a_stage_and_the_newest_push_waits() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::at(dir.path(), "127.0.0.1:0".parse().unwrap(), "unix:///nope");
    let engine = Engine::start(config).await.unwrap();
    engine.set_runs_held(true).await.unwrap();
    let seed = env("SLIPWAY_PROP_SEED", 7);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..env("SLIPWAY_PROP_CASES", 25) {
        let stage = |name: &str, branches: &[&str], tags: &[&str]| Stage {
            name: name.into(),
            branch_patterns: branches.iter().map(|s| s.to_string()).collect(),
            tag_patterns: tags.iter().map(|s| s.to_string()).collect(),
            ..Stage::default()
        };
        let project = Arc::new(
            engine
                .create_project(NewProject {
                    name: format!("prop-{case}"),
                    repo_url: "https://example.invalid/p.git".into(),
                    forge: Forge::Gitea,
                    token_ref: None,
                    poll_interval_secs: None,
                    stages: vec![stage("dev", &["*"], &[]), stage("main", &["main"], &[]), stage("prod", &[], &["v*"])],
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
        let len = rng.random_range(1..25);
        let pushes = sequence(&mut rng, len);
        let mut seen = HashSet::new();
        let mut newest: BTreeMap<&str, String> = BTreeMap::new();
        for p in &pushes {
            let change = Change {
                kind: if p.git_ref.starts_with("refs/tags/") { ChangeKind::Tag } else { ChangeKind::Branch },
                git_ref: Some(p.git_ref.clone()),
                commit: Some(p.commit.clone()),
                target_branch: None,
                image: None,
            };
            let source =
                Source { provider: "gitea".into(), event: "push".into(), delivery_id: Some(p.delivery.clone()), ..Default::default() };
            engine.intake().accept_changes(project.clone(), vec![change], Trigger::Webhook, source).await.unwrap();
            if seen.insert(p.delivery.clone()) {
                for s in stages_of(&p.git_ref) {
                    newest.insert(s, p.commit.clone());
                }
            }
        }
        let runs = engine.runs(Some(&project.id), 1000).await.unwrap();
        let why = || {
            format!(
                "seed {seed}, case {case}: {pushes:?}\nruns: {:?}",
                runs.iter().map(|r| (&r.stage, r.status, r.commit_sha.as_deref().map(|c| &c[38..]))).collect::<Vec<_>>()
            )
        };
        for stage in ["dev", "main", "prod"] {
            let of: Vec<_> = runs.iter().filter(|r| r.stage == stage).collect();
            let live: Vec<&str> = of
                .iter()
                .filter(|r| matches!(r.status, RunStatus::Queued | RunStatus::Succeeded))
                .filter_map(|r| r.commit_sha.as_deref())
                .collect();
            let unique: HashSet<&&str> = live.iter().collect();
            assert_eq!(unique.len(), live.len(), "{stage}: a commit twice among waiting/succeeded runs: {}", why());
            let waiting: Vec<&str> = of.iter().filter(|r| r.status == RunStatus::Queued).filter_map(|r| r.commit_sha.as_deref()).collect();
            assert!(waiting.len() <= 1, "{stage}: {} runs wait: {}", waiting.len(), why());
            assert_eq!(waiting.first().copied(), newest.get(stage).map(String::as_str), "{stage}: the newest push waits: {}", why());
        }
    }
    engine.stop().await;
}
