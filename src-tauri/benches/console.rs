//! What a console attached over SSH adds (issue #16): the same engine (release build) reached
//! from this machine directly and through `ssh://` (a real sshd on loopback, the system's
//! OpenSSH client, the tunnel a window or `slipwayd --engine` uses). Measured:
//!
//! - attaching (two SSH logins: `attach-info`, then the `-L` forward) against reading the local
//!   engine's files;
//! - an API round trip (`GET /api/v1/projects`), 300 times each;
//! - event delivery: the same change (auto-deploy paused/resumed through the local API) seen on
//!   both event streams at once, 100 times, from the request to the event's arrival.
//!
//! Loopback has no network latency: what this shows is the cost of the tunnel itself (ssh's
//! encryption and its process hop); a real link adds its round trip to each figure.
//!
//! Run with `scripts/bench console` (a D-Bus session with a keychain).

#[path = "../../tests/e2e/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../../tests/e2e/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../../tests/e2e/hosts_ssh.rs"]
#[allow(dead_code)]
mod ssh;

// What the included sshd helper (tests/e2e/hosts_ssh.rs) takes from its parent module.
#[allow(unused_imports)]
use std::path::{Path, PathBuf};
#[allow(unused_imports)]
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kit::*;
use slipway_protocol::client::Client;
use slipway_protocol::events::EngineEvent;
use slipway_protocol::ops;
use slipway_protocol::remote::{self, SshTarget};
use tokio::sync::mpsc;

const ROUND_TRIPS: usize = 300;
const TOGGLES: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = tempfile::tempdir().unwrap();
    let sshd = ssh::Sshd::new(root.path());
    let server = root.path().join("server");
    std::fs::create_dir_all(&server).unwrap();
    let (_engine, _url) = start_headless(&server);
    // The remote side runs the same release binary; the console's ssh reads the test's config.
    std::env::set_var("SLIPWAY_REMOTE_SLIPWAYD", bin("slipwayd"));
    for (k, v) in sshd.env() {
        std::env::set_var(k, v);
    }
    let target = SshTarget::parse(&format!("ssh://box{}", server.display())).unwrap();

    let config = slipway_protocol::Config::at(&server, "127.0.0.1:0".parse().unwrap(), "unix:///var/run/docker.sock");
    let t = Instant::now();
    let local = Client::for_config(&config).unwrap();
    local.call(ops::GetStatus {}).await.unwrap();
    let local_attach = t.elapsed();
    let mut attaches = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let a = remote::attach(&target).await.unwrap();
        attaches.push(t.elapsed());
        drop(a);
    }
    let attached = remote::attach(&target).await.unwrap();
    let remote_client = attached.client.clone();

    let local_rt = round_trips(&local).await;
    let remote_rt = round_trips(&remote_client).await;
    let (local_ev, remote_ev) = event_delivery(&local, &remote_client).await;

    println!("\nconsole over SSH vs local (release build, loopback sshd; medians, p95 in brackets)");
    println!("| | local | over ssh:// | added |");
    println!("|---|---:|---:|---:|");
    let attach = median(&mut attaches);
    println!("| attach | {} | {} | {} |", ms(local_attach), ms(attach), ms(attach.saturating_sub(local_attach)));
    row("API round trip (GET /projects)", &local_rt, &remote_rt);
    row("event delivery (request → event)", &local_ev, &remote_ev);
    drop(attached);
}

fn row(what: &str, local: &[Duration], remote: &[Duration]) {
    let (mut l, mut r) = (local.to_vec(), remote.to_vec());
    let (lm, rm) = (median(&mut l), median(&mut r));
    println!("| {what} | {} [{}] | {} [{}] | {} |", ms(lm), ms(pct(&mut l, 95)), ms(rm), ms(pct(&mut r, 95)), ms(rm.saturating_sub(lm)));
}

async fn round_trips(client: &Client) -> Vec<Duration> {
    // Warm the connection pool first: a console keeps its connection.
    client.call(ops::ListProjects {}).await.unwrap();
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        client.call(ops::ListProjects {}).await.unwrap();
        out.push(t.elapsed());
    }
    out
}

/// Both streams open; each toggle through the local API is timed until it arrives on each.
async fn event_delivery(local: &Client, remote: &Client) -> (Vec<Duration>, Vec<Duration>) {
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    let (rtx, mut rrx) = mpsc::unbounded_channel();
    for (client, tx) in [(local.clone(), ltx), (remote.clone(), rtx)] {
        tokio::spawn(async move {
            let _ = client
                .stream::<EngineEvent>("/events", |batch| {
                    for e in batch {
                        if let EngineEvent::AutoDeployChanged { paused } = e {
                            let _ = tx.send((paused, Instant::now()));
                        }
                    }
                    true
                })
                .await;
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut l, mut r) = (Vec::new(), Vec::new());
    for i in 0..TOGGLES {
        let paused = i % 2 == 0;
        let sent = Instant::now();
        local.call(ops::SetAutoDeploy { paused }).await.unwrap();
        l.push(arrival(&mut lrx, paused).await - sent);
        r.push(arrival(&mut rrx, paused).await - sent);
    }
    (l, r)
}

async fn arrival(rx: &mut mpsc::UnboundedReceiver<(bool, Instant)>, want: bool) -> Instant {
    loop {
        let (paused, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("the event arrives").unwrap();
        if paused == want {
            return at;
        }
    }
}

fn median(v: &mut [Duration]) -> Duration {
    pct(v, 50)
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
