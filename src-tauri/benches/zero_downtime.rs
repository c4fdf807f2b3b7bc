//! Zero-downtime benchmark (issue #6): clients hit a stage's URL through the edge while
//! Slipway deploys v1 → v2, for every strategy and both automatic rollback paths, with
//! keep-alive on and off; and the same for a plain `docker rm -f && docker run` deploy.
//! Reports requests sent, failed, and trigger → first v2; and (`gate`) the health gate's speed
//! against a minimal hand-written blue/green.
//!
//! The target is "within 10 % of the image's own boot time plus one health interval". With 8
//! clients on 2 cores the boot itself is several times slower than idle, so each row measures
//! the image's boot under its own load just before its trigger (create + start through the
//! Docker API → first 200) and is held to that; the idle boot is printed too.
//!
//! Run with `scripts/bench zero-downtime` (needs dockerd, the edge test image, a D-Bus session
//! with a keychain: the same set-up as the tests).

#[path = "../../tests/e2e/deploys.rs"]
#[allow(dead_code)]
mod deploys;
#[path = "zero_downtime/gate.rs"]
mod gate;
#[path = "../../tests/e2e/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../../tests/e2e/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../../tests/e2e/multi_host.rs"]
// Its tests are not compiled here, and the imports only they use with them.
#[allow(dead_code, unused_imports)]
mod multi_host;
#[path = "../../tests/e2e/second_dockerd.rs"]
#[allow(dead_code)]
mod second_dockerd;
#[path = "../../tests/e2e/swarm.rs"]
#[allow(dead_code, unused_imports)]
mod swarm;

use std::time::{Duration, Instant};

use kit::*;
use serde_json::json;

const CLIENTS: usize = 8;
const HEALTH_INTERVAL_MS: u64 = 200;

struct Row {
    scenario: String,
    keep_alive: bool,
    report: LoadReport,
    status: String,
    first_new: Option<Duration>,
    deploy_to_new: Option<Duration>,
    /// The image's own boot time under this row's load, measured just before its trigger.
    boot: Duration,
}

impl Row {
    /// 10 % over the image's boot under this load plus one health interval.
    fn target(&self) -> Duration {
        (self.boot + Duration::from_millis(HEALTH_INTERVAL_MS)).mul_f64(1.1)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let mut rows = Vec::new();
    let boot = boot_now().await;
    // SLIPWAY_BENCH_ONLY=blue-green (a scenario's name, or its start; several with commas)
    // runs only those.
    let only = std::env::var("SLIPWAY_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.split(',').any(|o| name.starts_with(o.trim()));
    for keep_alive in [true, false] {
        for (strategy, rollout) in [
            ("blue-green", json!({"drain_secs": 2, "verify_secs": 3})),
            ("rolling", json!({"drain_secs": 2, "verify_secs": 3, "batch_size": 1})),
            ("canary", json!({"drain_secs": 2, "verify_secs": 3, "canary_percent": 20, "canary_secs": 3})),
            ("recreate", json!({"drain_secs": 0, "verify_secs": 3})),
        ] {
            if wanted(strategy) {
                rows.push(scenario(strategy, rollout, keep_alive, Change::V2).await);
            }
        }
        if wanted("rollback: never healthy") {
            rows.push(scenario("blue-green", json!({"drain_secs": 2, "verify_secs": 3}), keep_alive, Change::NeverHealthy).await);
        }
        if wanted("rollback: fails after switch") {
            rows.push(scenario("blue-green", json!({"drain_secs": 2, "verify_secs": 8}), keep_alive, Change::FailsAfterSwitch).await);
        }
        if wanted("promote") {
            rows.push(promote(keep_alive, CLIENTS).await);
        }
        if wanted("multi-host") {
            rows.push(two_hosts(keep_alive, false).await);
            rows.push(two_hosts(keep_alive, true).await);
        }
        if wanted("swarm") {
            rows.push(on_swarm(keep_alive, false).await);
            rows.push(on_swarm(keep_alive, true).await);
        }
        if wanted("plain") {
            rows.push(plain(keep_alive).await);
        }
    }
    // One client sending a request every 10 ms barely loads the machine: this row is the one
    // to hold to the idle boot.
    if wanted("promote") {
        rows.push(promote(true, 1).await);
    }
    let gate = if wanted("gate") { Some(gate::run().await) } else { None };
    let mut series_out = Vec::new();
    if wanted("series") {
        for keep_alive in [true, false] {
            series_out.push(series(keep_alive, SERIES).await);
        }
    }
    println!("\nimage boot time, idle (create + start through the Docker API → first 200; median of 3): {} ms; one health interval: {HEALTH_INTERVAL_MS} ms", boot.as_millis());
    println!("target with the idle boot: {} ms", ((boot.as_millis() as f64 + HEALTH_INTERVAL_MS as f64) * 1.1) as u64);
    println!(
        "each row's target: 1.1 × (the image's boot under that row's load, measured just before its trigger + {HEALTH_INTERVAL_MS} ms)\n"
    );
    let _ = kit::docker(&["network", "rm", BOOT_NET]);
    print_rows(&rows);
    print_series(&series_out);
    if let Some(g) = &gate {
        gate::print(g);
    }
}

fn print_rows(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    println!("| scenario | keep-alive | run | sent | failed | trigger → first new | deploy step → first new | boot under the same load | target | met |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let ms = |d: Option<Duration>| d.map(|d| format!("{} ms", d.as_millis())).unwrap_or_else(|| "–".into());
        let met = match (r.scenario.as_str(), r.deploy_to_new) {
            (PLAIN, _) | (_, None) => "–",
            (_, Some(d)) if d <= r.target() => "yes",
            _ => "no",
        };
        let target = if r.scenario == PLAIN { "–".to_string() } else { ms(Some(r.target())) };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {target} | {met} |",
            r.scenario,
            if r.keep_alive { "on" } else { "off" },
            r.status,
            r.report.sent,
            r.report.failed,
            ms(r.first_new),
            ms(r.deploy_to_new),
            ms(Some(r.boot))
        );
    }
}

/// Deploys in a row of the latency series.
const SERIES: usize = 10;

/// One deploy's latency and the image's boot just before it, both under the same load.
struct Sample {
    first_new: Duration,
    boot: Duration,
    failed: u64,
}

/// Trigger → first new response, `n` times over, each against the image's boot measured under
/// the same load just before it: one scenario run once is at the mercy of how long Docker
/// takes to start a container at that moment (350 to 1,200 ms under this load), the boot
/// measured beside it too. The deploys are rollbacks that alternate between v1 and v2: no
/// build, so the trigger is the request itself.
async fn series(keep_alive: bool, n: usize) -> (bool, Vec<Sample>) {
    let deploy = json!({"port": 80, "health": {"path": "/health", "interval_ms": HEALTH_INTERVAL_MS, "timeout_ms": 1000, "retries": 3, "start_period_ms": 2000}});
    let name = format!("b-series-{}", std::process::id() % 10000);
    let s = deploys::stack(&name, deploy, json!([deploys::stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}))])).await;
    for version in ["v1", "v2"] {
        if version == "v2" {
            deploys::push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
        }
        let r = deploys::finish(&s.api, deploys::run(&s.api, &name, "dev", "main").await).await;
        assert_eq!(r["run"]["status"], "succeeded", "{r}");
    }
    let mut samples = Vec::new();
    for k in 1..=n {
        // Release k runs v1 when k is odd; rolling back to it makes release k + 2.
        let wanted = if k % 2 == 1 { "v1" } else { "v2" };
        let (load, boot) = loaded(s.edge_port, &deploys::host("dev", &name), keep_alive, CLIENTS).await;
        let trigger = load.started.elapsed();
        let (status, v) = s.api.send(reqwest::Method::POST, &format!("/projects/{name}/stages/dev/releases/{k}/rollback"), json!({})).await;
        assert_eq!(status, 202, "{v}");
        let r = deploys::finish(&s.api, v["run_id"].as_i64().unwrap()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let report = load.finish().await;
        assert_eq!(r["run"]["status"], "succeeded", "{r}");
        let first_new = report.first_seen.get(wanted).and_then(|d| d.checked_sub(trigger)).expect("the new release answered");
        eprintln!(
            "series (keep-alive {keep_alive}) {k}: first {wanted} {} ms, boot {} ms, {} of {} failed · {}",
            first_new.as_millis(),
            boot.as_millis(),
            report.failed,
            report.sent,
            step_times(&r)
        );
        samples.push(Sample { first_new, boot, failed: report.failed });
    }
    (keep_alive, samples)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn print_series(series: &[(bool, Vec<Sample>)]) {
    if series.is_empty() {
        return;
    }
    println!("\nlatency series: {SERIES} blue-green deploys (rollbacks, v1 ↔ v2) under {CLIENTS} clients, each held to 1.1 × (the boot measured just before it + {HEALTH_INTERVAL_MS} ms)\n");
    println!("| keep-alive | deploys | failed requests | trigger → first new, median (min–max) | boot under the same load, median | target from the median boot | median met | deploys within their own target |");
    println!("|---|---:|---:|---:|---:|---:|---|---:|");
    for (keep_alive, samples) in series {
        let latency = median(samples.iter().map(|s| s.first_new).collect());
        let boot = median(samples.iter().map(|s| s.boot).collect());
        let target = (boot + Duration::from_millis(HEALTH_INTERVAL_MS)).mul_f64(1.1);
        let within = samples.iter().filter(|s| s.first_new <= (s.boot + Duration::from_millis(HEALTH_INTERVAL_MS)).mul_f64(1.1)).count();
        let (lo, hi) = (samples.iter().map(|s| s.first_new).min().unwrap(), samples.iter().map(|s| s.first_new).max().unwrap());
        println!(
            "| {} | {} | {} | {} ms ({}–{}) | {} ms | {} ms | {} | {within} of {} |",
            if *keep_alive { "on" } else { "off" },
            samples.len(),
            samples.iter().map(|s| s.failed).sum::<u64>(),
            latency.as_millis(),
            lo.as_millis(),
            hi.as_millis(),
            boot.as_millis(),
            target.as_millis(),
            if latency <= target { "yes" } else { "no" },
            samples.len()
        );
    }
}

/// Starts the clients, lets them run 500 ms, then measures the image's boot under them.
async fn loaded(port: u16, host: &str, keep_alive: bool, clients: usize) -> (Load, Duration) {
    // Fewer clients than the benchmark's are the light load: paced, not flat out.
    let pace = (clients < CLIENTS).then_some(Duration::from_millis(10));
    let load = Load::start_paced(port, host, clients, keep_alive, pace);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let boot = boot_now().await;
    (load, boot)
}

#[derive(Clone, Copy, PartialEq)]
enum Change {
    V2,
    NeverHealthy,
    FailsAfterSwitch,
}

async fn scenario(strategy: &str, rollout: serde_json::Value, keep_alive: bool, change: Change) -> Row {
    let mut deploy = json!({"port": 80, "health": {"path": "/health", "interval_ms": HEALTH_INTERVAL_MS, "timeout_ms": 1000, "retries": 3, "start_period_ms": 2000}});
    if strategy == "rolling" || strategy == "canary" {
        deploy["replicas"] = json!(2);
    }
    let name = format!("b-{}-{}", strategy.replace('-', ""), std::process::id() % 10000);
    let s = deploys::stack(&name, deploy, json!([deploys::stage("dev", strategy, rollout)])).await;
    let first = deploys::finish(&s.api, deploys::run(&s.api, &name, "dev", "main").await).await;
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    match change {
        Change::V2 => deploys::push(&s.served.work, &[("index.html", "v2\n")], &[], "v2"),
        Change::NeverHealthy => deploys::push(&s.served.work, &[("index.html", "v2\n")], &["health"], "v2 unhealthy"),
        Change::FailsAfterSwitch => deploys::push(&s.served.work, &[("index.html", "v2\n"), ("fail-after", "3\n")], &[], "v2 fails later"),
    };
    let (load, boot) = loaded(s.edge_port, &deploys::host("dev", &name), keep_alive, CLIENTS).await;
    let trigger = load.started.elapsed();
    let id = deploys::run(&s.api, &name, "dev", "main").await;
    let r = deploys::finish(&s.api, id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.finish().await;
    let first_new = report.first_seen.get("v2").and_then(|d| d.checked_sub(trigger));
    let deploy_to_new = deploy_to_new(&r, first_new);
    let label = match change {
        Change::V2 => strategy.to_string(),
        Change::NeverHealthy => "rollback: never healthy".into(),
        Change::FailsAfterSwitch => "rollback: fails after switch".into(),
    };
    eprintln!(
        "{label} (keep-alive {keep_alive}): {} — {} sent, {} failed {:?}",
        r["run"]["status"], report.sent, report.failed, report.errors
    );
    eprintln!("  steps: {}", step_times(&r));
    Row { scenario: label, keep_alive, status: r["run"]["status"].as_str().unwrap().to_string(), report, first_new, deploy_to_new, boot }
}

/// One release on two Docker hosts (blue-green, `parallel: 1`), 6 clients through each host's
/// edge: failures are those of both; "first new" is v2's first answer through the second
/// host's edge, the moment the release reached every host. With `sick`, v2 is unhealthy on
/// the second host only, and both must stay on v1 (run `rolled_back`).
async fn two_hosts(keep_alive: bool, sick: bool) -> Row {
    let name = format!("b-duo{}-{}", if sick { "s" } else { "" }, std::process::id() % 10000);
    let s = multi_host::TwoHosts::start(&name).await;
    let first = deploys::finish(&s.api, deploys::run(&s.api, &name, "dev", "main").await).await;
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    let write: &[(&str, &str)] = if sick { &[("index.html", "v2\n"), ("sick-on-second", "1\n")] } else { &[("index.html", "v2\n")] };
    deploys::push(&s.served.work, write, &[], "v2");
    let (local, second) = s.loads(&name, keep_alive);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let boot = boot_now().await;
    let trigger = second.started.elapsed();
    let id = deploys::run(&s.api, &name, "dev", "main").await;
    let r = deploys::finish(&s.api, id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (a, b) = (local.finish().await, second.finish().await);
    let first_new = b.first_seen.get("v2").and_then(|d| d.checked_sub(trigger));
    let mut report = a.clone();
    report.sent += b.sent;
    report.failed += b.failed;
    report.errors.extend(b.errors.clone());
    for (k, v) in &b.bodies {
        *report.bodies.entry(format!("{k} (web-2)")).or_default() += v;
    }
    let label = if sick { "multi-host: unhealthy on the 2nd host" } else { "multi-host: 2 hosts, parallel 1" };
    eprintln!(
        "{label} (keep-alive {keep_alive}): {} — {} sent, {} failed {:?}",
        r["run"]["status"], report.sent, report.failed, report.errors
    );
    eprintln!("  steps: {}", step_times(&r));
    let deploy_to_new = deploy_to_new(&r, first_new);
    Row {
        scenario: label.into(),
        keep_alive,
        status: r["run"]["status"].as_str().unwrap().to_string(),
        report,
        first_new,
        deploy_to_new,
        boot,
    }
}

/// A Swarm service (2 replicas, rolling start-first, Swarm's healthcheck) updated v1 → v2,
/// 6 clients through the manager's edge; with `sick`, v2 never gets healthy and Swarm rolls
/// the update back (run `rolled_back`).
async fn on_swarm(keep_alive: bool, sick: bool) -> Row {
    let name = format!("b-sw{}-{}", if sick { "s" } else { "" }, std::process::id() % 10000);
    let s = swarm::OneSwarm::start(&name).await;
    let first = deploys::finish(&s.api, deploys::run(&s.api, &name, "dev", "main").await).await;
    assert_eq!(first["run"]["status"], "succeeded", "{first}");
    let host = deploys::host("dev", &name);
    swarm::wait_answer(&s.ip, s.edge_port, &host, "v1").await;
    let remove: &[&str] = if sick { &["health"] } else { &[] };
    deploys::push(&s.served.work, &[("index.html", "v2\n")], remove, "v2");
    let load = Load::start_at(&s.ip, s.edge_port, &host, CLIENTS, keep_alive, None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let boot = boot_now().await;
    let trigger = load.started.elapsed();
    let id = deploys::run(&s.api, &name, "dev", "main").await;
    let r = wait_status(&s.api, id, finished, Duration::from_secs(240)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = load.finish().await;
    let first_new = report.first_seen.get("v2").and_then(|d| d.checked_sub(trigger));
    let label = if sick { "swarm: unhealthy, Swarm rolls back" } else { "swarm: 2 replicas, start-first" };
    eprintln!(
        "{label} (keep-alive {keep_alive}): {} — {} sent, {} failed {:?}",
        r["run"]["status"], report.sent, report.failed, report.errors
    );
    eprintln!("  steps: {}", step_times(&r));
    let deploy_to_new = first_new.and_then(|f| {
        let started = r["steps"].as_array()?.iter().find(|st| st["name"] == "prepare swarm")?["started_at"].as_i64()?;
        f.checked_sub(Duration::from_millis((started - r["run"]["queued_at"].as_i64()?).max(0) as u64))
    });
    Row {
        scenario: label.into(),
        keep_alive,
        status: r["run"]["status"].as_str().unwrap().to_string(),
        report,
        first_new,
        deploy_to_new,
        boot,
    }
}

/// Promote dev's v2 to prod (blue-green) while prod serves v1 under load: a deploy with no
/// fetch and no build, so "trigger" is the promote request itself.
async fn promote(keep_alive: bool, clients: usize) -> Row {
    let deploy = json!({"port": 80, "health": {"path": "/health", "interval_ms": HEALTH_INTERVAL_MS, "timeout_ms": 1000, "retries": 3, "start_period_ms": 2000}});
    let rollout = json!({"drain_secs": 2, "verify_secs": 3});
    let mut prod = deploys::stage("prod", "blue-green", rollout.clone());
    prod["branch_patterns"] = json!([]);
    prod["promote_from"] = json!("dev");
    // Only by request: without it dev's new release would promote itself before the trigger.
    prod["confirm"] = json!(true);
    let name = format!("b-promote-{}", std::process::id() % 10000);
    let s = deploys::stack(&name, deploy, json!([deploys::stage("dev", "blue-green", rollout), prod])).await;
    for version in ["v1", "v2"] {
        if version == "v2" {
            deploys::push(&s.served.work, &[("index.html", "v2\n")], &[], "v2");
        }
        let r = deploys::finish(&s.api, deploys::run(&s.api, &name, "dev", "main").await).await;
        assert_eq!(r["run"]["status"], "succeeded", "{r}");
        if version == "v1" {
            let r = deploys::finish(&s.api, promote_request(&s.api, &name).await).await;
            assert_eq!(r["run"]["status"], "succeeded", "{r}");
        }
    }
    let (load, boot) = loaded(s.edge_port, &deploys::host("prod", &name), keep_alive, clients).await;
    let trigger = load.started.elapsed();
    let id = promote_request(&s.api, &name).await;
    let r = deploys::finish(&s.api, id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.finish().await;
    let first_new = report.first_seen.get("v2").and_then(|d| d.checked_sub(trigger));
    let deploy_to_new = deploy_to_new(&r, first_new);
    let label =
        if clients == CLIENTS { "promote (no build)".to_string() } else { format!("promote (no build), {clients} client every 10 ms") };
    eprintln!(
        "{label} (keep-alive {keep_alive}): {} — {} sent, {} failed {:?}",
        r["run"]["status"], report.sent, report.failed, report.errors
    );
    eprintln!("  steps: {}", step_times(&r));
    Row { scenario: label, keep_alive, status: r["run"]["status"].as_str().unwrap().to_string(), report, first_new, deploy_to_new, boot }
}

async fn promote_request(api: &Api, project: &str) -> i64 {
    let (status, v) = api.send(reqwest::Method::POST, &format!("/projects/{project}/stages/prod/promote"), json!({"confirm": true})).await;
    assert_eq!(status, 202, "{v}");
    v["run_id"].as_i64().unwrap()
}

/// From the deploy part's start (the "prepare host" step, after fetch and build) to the first
/// new response, given that response's time since the trigger.
fn deploy_to_new(run: &serde_json::Value, first_new: Option<Duration>) -> Option<Duration> {
    let started = run["steps"].as_array()?.iter().find(|st| st["name"].as_str().is_some_and(|n| n.ends_with("prepare host")))?
        ["started_at"]
        .as_i64()?;
    let queued = run["run"]["queued_at"].as_i64()?;
    first_new?.checked_sub(Duration::from_millis((started - queued).max(0) as u64))
}

/// Each step's name and duration, for seeing where a deploy's time goes.
fn step_times(run: &serde_json::Value) -> String {
    let steps = run["steps"].as_array().cloned().unwrap_or_default();
    let parts: Vec<String> = steps
        .iter()
        .map(|st| {
            let took = match (st["started_at"].as_i64(), st["finished_at"].as_i64()) {
                (Some(a), Some(b)) => format!("{} ms", b - a),
                _ => "–".into(),
            };
            format!("{} {took}", st["name"].as_str().unwrap_or("?"))
        })
        .collect();
    parts.join(" · ")
}

/// The DIY deploy: `docker rm -f` then `docker run` with the port published, clients on it.
/// Its `deploy_to_new` is the image's boot under the same load: `docker run` → first v2.
async fn plain(keep_alive: bool) -> Row {
    let (v1, v2) = plain_images();
    let port = stable_port();
    let name = format!("slipway-bench-plain-{}", std::process::id());
    docker(&["rm", "-f", &name]);
    let out = docker(&["run", "-d", "--name", &name, "-p", &format!("{port}:80"), &v1]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("plain v1", Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (load, boot) = loaded(port, "localhost", keep_alive, CLIENTS).await;
    let trigger = load.started.elapsed();
    docker(&["rm", "-f", &name]);
    let run_at = load.started.elapsed();
    let out = docker(&["run", "-d", "--name", &name, "-p", &format!("{port}:80"), &v2]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.finish().await;
    docker(&["rm", "-f", &name]);
    let first_new = report.first_seen.get("v2").and_then(|d| d.checked_sub(trigger));
    let run_to_new = report.first_seen.get("v2").and_then(|d| d.checked_sub(run_at));
    Row { scenario: PLAIN.into(), keep_alive, status: "–".into(), report, first_new, deploy_to_new: run_to_new, boot }
}

const PLAIN: &str = "plain docker rm -f && docker run";

fn plain_images() -> (String, String) {
    static BUILT: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_plain_images).clone()
}

fn build_plain_images() -> (String, String) {
    let build = |version: &str| {
        let dockerfile = format!(
            "FROM {}\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
            busybox_image()
        );
        page_image(&format!("slipway-bench/plain:{version}"), version, &dockerfile)
    };
    (build("v1"), build("v2"))
}

/// Builds `tag` from `dockerfile` with an `index.html` that says `version`.
fn page_image(tag: &str, version: &str, dockerfile: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), format!("{version}\n")).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let out = std::process::Command::new("docker")
        .args(["build", "-q", "-t", tag, "."])
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tag.to_string()
}

const BOOT_NET: &str = "slipway-bench-boot";
const BOOT_SUBNET: &str = "172.31.250.0/24";

/// The test image's own boot time under whatever load runs now: from creating the container
/// through the Docker API (the calls a deploy makes) to its first 200, polled from this host at
/// the container's fixed address on a bridge network every 5 ms. The median of three.
async fn boot_now() -> Duration {
    use bollard::models::{ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig};
    use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
    let (_, v2) = plain_images();
    let docker = bollard::Docker::connect_with_unix_defaults().unwrap().negotiate_version().await.unwrap();
    if docker.inspect_network(BOOT_NET, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_err() {
        let out = kit::docker(&["network", "create", "--subnet", BOOT_SUBNET, BOOT_NET]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let http = reqwest::Client::builder().timeout(Duration::from_millis(500)).pool_max_idle_per_host(0).build().unwrap();
    let mut samples = Vec::new();
    for i in 0..3 {
        let name = format!("slipway-bench-boot-{}-{i}", std::process::id());
        let ip = format!("172.31.250.{}", 10 + i);
        let endpoint = EndpointSettings {
            ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(ip.clone()), ..Default::default() }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(v2.clone()),
            host_config: Some(HostConfig { network_mode: Some(BOOT_NET.into()), ..Default::default() }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(std::collections::HashMap::from([(BOOT_NET.to_string(), endpoint)])),
            }),
            ..Default::default()
        };
        let start = Instant::now();
        docker.create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body).await.unwrap();
        docker.start_container(&name, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();
        loop {
            if let Ok(r) = http.get(format!("http://{ip}:80/")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{name} never answered at {ip}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        samples.push(start.elapsed());
        docker.remove_container(&name, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await.unwrap();
    }
    samples.sort();
    samples[1]
}
