//! The command line does what the window does: projects, releases, rollback, promote (with
//! the stage's confirmation), webhooks, secrets, hosts, the inbox and redelivery, each with
//! `--json`, against a running engine deploying to the real Docker engine. Exit codes: 0 done,
//! 1 a failed run (or the engine/host failing), 2 bad input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::deploys::{fast_deploy, push, stack, stage};
use crate::kit::*;

/// `slipwayd ARGS` with `input` on standard input.
fn with_stdin(data_dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(bin("slipwayd"))
        .args(args)
        .env("SLIPWAY_DATA_DIR", data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `slipwayd ARGS`, checks its exit code, and returns its standard output.
fn cli(data_dir: &Path, args: &[&str], code: i32) -> String {
    let out = slipwayd(data_dir, args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert_eq!(out.status.code(), Some(code), "slipwayd {args:?}\nstdout: {stdout}\nstderr: {stderr}");
    if code == 0 {
        stdout
    } else {
        stderr
    }
}

fn json_of(data_dir: &Path, args: &[&str]) -> Value {
    let out = cli(data_dir, args, 0);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("slipwayd {args:?} printed no JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_command_line_deploys_promotes_rolls_back_and_manages_a_project() {
    let mut prod = stage("prod", "blue-green", json!({"drain_secs": 0, "verify_secs": 1, "subdomain": "cli-prod"}));
    prod["branch_patterns"] = json!([]);
    prod["promote_from"] = json!("dev");
    prod["confirm"] = json!(true);
    let s = stack("cli", fast_deploy(), json!([stage("dev", "blue-green", json!({"drain_secs": 0, "verify_secs": 1})), prod])).await;
    let d = s.dir.path();

    // Deploy and wait: exit 0 with the run's detail.
    let run = json_of(d, &["deploy", "cli", "dev", "--ref", "main", "--wait", "--json"]);
    assert_eq!(run["run"]["status"], "succeeded", "{run}");
    let projects = json_of(d, &["projects", "--json"]);
    assert_eq!(projects[0]["id"], "cli", "{projects}");
    assert!(cli(d, &["projects", "show", "cli"], 0).contains("name: cli"));
    let releases = json_of(d, &["releases", "cli", "dev", "--json"]);
    assert_eq!(releases[0]["number"], 1, "{releases}");

    // Promotion: refused without the confirmation the stage asks for (exit 2, the reason said).
    let refused = cli(d, &["promote", "cli", "prod"], 2);
    assert!(refused.contains("needs a confirmation"), "{refused}");
    let promoted = json_of(d, &["promote", "cli", "prod", "--confirm", "--wait", "--json"]);
    assert_eq!((promoted["run"]["status"].as_str(), promoted["run"]["trigger"].as_str()), (Some("succeeded"), Some("promote")));

    // A second release, then a rollback to the first.
    push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
    cli(d, &["deploy", "cli", "dev", "--ref", "main", "--wait"], 0);
    assert_eq!(get_via_edge(s.edge_port, &crate::deploys::host("dev", "cli")).await, (200, "v2".to_string()));
    let text = cli(d, &["rollback", "cli", "dev", "1", "--wait"], 0);
    assert!(text.contains("succeeded"), "{text}");
    assert_eq!(get_via_edge(s.edge_port, &crate::deploys::host("dev", "cli")).await, (200, "v1".to_string()));
    cli(d, &["rollback", "cli", "dev", "99"], 2);

    // Webhook: show, rotate (a new secret), and a signed delivery that is kept and replayed.
    let hook = json_of(d, &["webhook", "cli", "--json"]);
    let rotated = json_of(d, &["webhook", "cli", "--rotate", "--json"]);
    assert_ne!(hook["secret"], rotated["secret"]);
    let secret = rotated["secret"].as_str().unwrap();
    let mut push_event: Value = serde_json::from_slice(&fixture("gitea/push-branch.json")).unwrap();
    push_event["ref"] = json!("refs/heads/not-deployed");
    let body = serde_json::to_vec(&push_event).unwrap();
    let resp = reqwest::Client::new()
        .post(rotated["url"].as_str().unwrap())
        .header("content-type", "application/json")
        .header("X-Gitea-Event", "push")
        .header("X-Gitea-Delivery", "cli-delivery-1")
        .header("X-Gitea-Signature", hmac_hex(secret, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await.unwrap());
    let inbox = json_of(d, &["deliveries", "--project", "cli", "--json"]);
    let kept = inbox.as_array().unwrap().iter().find(|x| x["delivery_id"] == "cli-delivery-1").expect("the delivery is in the inbox");
    assert_eq!(kept["replayable"], true, "{kept}");
    let replayed = json_of(d, &["redeliver", &kept["id"].to_string(), "--json"]);
    assert_eq!(replayed["http_status"], 200, "{replayed}");
    assert!(replayed["delivery_id"].as_str().unwrap().starts_with("local-redelivery-of-"), "{replayed}");

    // Secrets: the value from standard input, never an argument; an empty one is refused.
    let out = with_stdin(d, &["secret", "set", "cli", "DB_PW"], "from-stdin\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = with_stdin(d, &["secret", "set", "cli", "DB_PW"], "");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    cli(d, &["secret", "rm", "cli", "DB_PW"], 0);

    // Hosts: added, tested (unreachable: exit 1 with the reason), removed; a bad endpoint is exit 2.
    let host = json_of(d, &["host", "add", "nowhere", "tcp://127.0.0.1:9", "--json"]);
    assert_eq!(host["id"], "nowhere", "{host}");
    let why = cli(d, &["host", "test", "nowhere"], 1);
    assert!(why.contains("127.0.0.1:9"), "{why}");
    cli(d, &["host", "rm", "nowhere"], 0);
    let why = cli(d, &["host", "add", "odd", "ftp://x"], 2);
    assert!(why.contains("ssh://user@host"), "{why}");

    // Removing the project; then it is not found (exit 2), nor is a run that never was.
    cli(d, &["projects", "rm", "cli"], 0);
    cli(d, &["projects", "show", "cli"], 2);
    cli(d, &["run", "999999"], 2);
}
