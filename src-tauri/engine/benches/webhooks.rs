//! Webhook intake benchmark: received → run queued latency and sustained signed deliveries per
//! second, accepted and durably recorded. Targets (issue 4): p99 < 50 ms, ≥ 2,000/s.
//!
//! Runs a real engine on loopback and a real HTTP load from this process. Needs a Secret Service
//! for the webhook secret: `scripts/bench webhooks` provides one.

use std::time::Instant;

use hmac::{Hmac, Mac};
use serde_json::Value;
use slipway_engine::domain::project::{Forge, NewProject, Stage};
use slipway_engine::store::Store;
use slipway_engine::{Config, Engine};

const LATENCY_DELIVERIES: usize = 2_000;
const LOAD_DELIVERIES: usize = 20_000;
const LOAD_CLIENTS: usize = 16;

struct Delivery {
    id: String,
    body: Vec<u8>,
    signature: String,
}

fn deliveries(template: &Value, secret: &str, from: usize, n: usize) -> Vec<Delivery> {
    (from..from + n)
        .map(|i| {
            // Never all zeros: that is how forges say "deleted".
            let sha = format!("{:040x}", i + 1);
            let mut payload = template.clone();
            payload["after"] = Value::String(sha.clone());
            payload["head_commit"]["id"] = Value::String(sha);
            let body = serde_json::to_vec(&payload).unwrap();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(&body);
            Delivery { id: format!("bench-{i}"), body, signature: hex::encode(mac.finalize().into_bytes()) }
        })
        .collect()
}

async fn send(http: &reqwest::Client, url: &str, d: &Delivery) -> u16 {
    http.post(url)
        .header("Content-Type", "application/json")
        .header("X-Gitea-Event", "push")
        .header("X-Gitea-Delivery", &d.id)
        .header("X-Gitea-Signature", &d.signature)
        .body(d.body.clone())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn server_latencies(store: &Store, from_id: i64) -> Vec<f64> {
    let mut v: Vec<f64> = sqlx::query_scalar::<_, i64>("SELECT duration_us FROM webhook_deliveries WHERE id > ? AND outcome = 'queued'")
        .bind(from_id)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .map(|us| us as f64 / 1000.0)
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

// Longer than 80 lines: the benchmark's script, one measurement after the other, each reported as it is taken.
#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::at(dir.path(), "127.0.0.1:0".parse().unwrap(), "unix:///var/run/docker.sock");
    let engine = Engine::start(config).await.unwrap();
    let stage = Stage { branch_patterns: vec!["*".into()], ..Stage::default() };
    engine
        .create_project(NewProject {
            name: "bench".into(),
            repo_url: "https://example.invalid/b.git".into(),
            forge: Forge::Gitea,
            token_ref: None,
            poll_interval_secs: None,
            stages: vec![stage],
            image_repo: None,
            registry_account: None,
            deploy: None,
            notifications: vec![],
            rules: vec![],
            host_id: None,
        })
        .await
        .unwrap();
    let hook = engine.webhook_info("bench").await.unwrap();
    let url = hook.url.unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/webhooks");
    let template: Value = serde_json::from_slice(&std::fs::read(fixtures.join("gitea/push-branch.json")).unwrap()).unwrap();
    let http = reqwest::Client::new();

    // 1. Latency, one delivery at a time.
    let batch = deliveries(&template, &hook.secret, 0, LATENCY_DELIVERIES);
    let mut rtt = Vec::with_capacity(batch.len());
    for d in &batch {
        let t = Instant::now();
        assert_eq!(send(&http, &url, d).await, 202);
        rtt.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    rtt.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let server = server_latencies(engine.store(), 0).await;
    println!("sequential, {LATENCY_DELIVERIES} signed deliveries, each queueing a run:");
    println!(
        "  received → run queued (in the engine): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&server, 0.5),
        percentile(&server, 0.99),
        server[server.len() - 1]
    );
    println!("  client round trip:                     p50 {:.2} ms  p99 {:.2} ms", percentile(&rtt, 0.5), percentile(&rtt, 0.99));

    // 2. Sustained load from many clients.
    let last_id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM webhook_deliveries").fetch_one(engine.store().pool()).await.unwrap();
    let batch = std::sync::Arc::new(deliveries(&template, &hook.secret, LATENCY_DELIVERIES, LOAD_DELIVERIES));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..LOAD_CLIENTS {
        let (http, url, batch, next) = (http.clone(), url.clone(), batch.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= batch.len() {
                    return accepted;
                }
                if send(&http, &url, &batch[i]).await == 202 {
                    accepted += 1;
                }
            }
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let server = server_latencies(engine.store(), last_id).await;
    engine.stop().await;

    // Durably recorded: count the rows in a fresh connection to the checkpointed file.
    let store = Store::open(&dir.path().join("slipway.db")).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE id > ? AND outcome = 'queued'")
        .bind(last_id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM runs").fetch_one(store.pool()).await.unwrap();
    println!("sustained, {LOAD_CLIENTS} concurrent clients (keep-alive), {LOAD_DELIVERIES} deliveries:");
    println!(
        "  accepted (202): {accepted} in {:.2} s = {:.0} deliveries/s",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );
    println!("  recorded after restart: {rows} deliveries, {runs} runs in total");
    println!("  received → run queued under load: p50 {:.2} ms  p99 {:.2} ms", percentile(&server, 0.5), percentile(&server, 0.99));
    assert_eq!(rows as usize, accepted, "every accepted delivery must be on disk");
}
