//! Container log follow throughput: a container prints as fast as it can, and its lines go
//! through the engine's follow ([`containers::logs_on_own_thread`], as the Hosts view uses it) to the UI-facing side: each batch
//! serialised to JSON as a Tauri channel does. Target (issue 3): ≥ 50,000 lines/s end to end,
//! with bounded memory (peak RSS printed).
//!
//! Two figures: "live" from the container's start to its last line seen (dockerd's json-file
//! logging included), and "replay" following a log that is already written (the engine's own
//! path). Needs the Docker engine.

use std::time::Instant;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use slipway_engine::adapters::docker::containers::{self, ContainerLogLine};
use tokio::sync::mpsc;

mod common;

use common::{ensure_image, IMAGE};
const LINES: u64 = 1_000_000;
/// A typical build-output line, 80 bytes.
const LINE: &str = "Step 3/9 : RUN cargo build --release  ---> Running in 4f2a9c1d7e3b  #########";

/// CPU seconds (user + system) this process used so far: what the engine's side costs, apart
/// from dockerd's.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum()).unwrap_or(0.0);
    ticks / 100.0
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Follows `name` to its end and returns (lines, bytes of JSON handed to the channel).
async fn follow(name: &str) -> (u64, u64) {
    let (tx, rx) = mpsc::channel(16);
    let (mut lines, mut bytes) = (0u64, 0u64);
    let host = slipway_engine::domain::host::Host {
        id: slipway_engine::domain::host::LOCAL_ID.into(),
        name: "local".into(),
        kind: slipway_engine::domain::host::HostKind::Local,
        endpoint: "unix:///var/run/docker.sock".into(),
        tls_ca: None,
        tls_cert: None,
        tls_key: None,
        created_at: 0,
        updated_at: 0,
    };
    let work = containers::logs_on_own_thread(host, "unix:///var/run/docker.sock".into(), name.to_string(), None, true, tx);
    containers::drive(work, rx, |batch: Vec<ContainerLogLine>| {
        bytes += serde_json::to_vec(&batch).unwrap().len() as u64;
        lines += batch.len() as u64;
        true
    })
    .await
    .unwrap();
    (lines, bytes)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let docker = slipway_engine::adapters::docker::connect_negotiated("unix:///var/run/docker.sock").await.unwrap();
    ensure_image(&docker).await;
    let name = format!("slipway-bench-follow-{}", std::process::id());
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(vec!["sh".into(), "-c".into(), format!("yes '{LINE}' | head -n {LINES}")]),
        ..Default::default()
    };
    docker.create_container(Some(CreateContainerOptionsBuilder::new().name(&name).build()), body).await.unwrap();
    let before = peak_rss_kib();

    let started = Instant::now();
    docker.start_container(&name, None).await.unwrap();
    let (lines, bytes) = follow(&name).await;
    let live = started.elapsed();
    assert_eq!(lines, LINES, "every line arrives");

    let (started, cpu) = (Instant::now(), cpu_secs());
    let (replayed, _) = follow(&name).await;
    let replay = started.elapsed();
    let replay_cpu = cpu_secs() - cpu;
    assert_eq!(replayed, LINES);
    let peak = peak_rss_kib();
    let _ = docker.remove_container(&name, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await;

    println!(
        "live:   {LINES} lines ({} MiB of JSON to the channel) in {:.2} s = {:.0} lines/s",
        bytes >> 20,
        live.as_secs_f64(),
        LINES as f64 / live.as_secs_f64()
    );
    println!(
        "replay: {LINES} lines in {:.2} s = {:.0} lines/s; Slipway's side used {replay_cpu:.2} CPU s of it",
        replay.as_secs_f64(),
        LINES as f64 / replay.as_secs_f64()
    );
    println!("peak RSS: {} MiB (before following: {} MiB)", peak >> 10, before >> 10);
}
