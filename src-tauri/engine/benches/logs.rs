//! Log persistence: lines a step prints, from the run's writer to the store, per second.
//! Target (issue 5): ≥ 50,000 lines/s. Lines are typical build output, ~80 bytes.

use std::time::Instant;

use slipway_engine::store::logs::Logs;
use slipway_engine::store::Store;

const LINES: usize = 1_000_000;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("slipway.db")).await.unwrap();
    // A run row for the lines to belong to.
    sqlx::query("INSERT INTO projects (id, name, repo_url, forge, created_at, updated_at) VALUES ('p', 'p', 'x', 'git', 0, 0)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO stages (id, project_id, name) VALUES ('p:dev', 'p', 'dev')").execute(store.pool()).await.unwrap();
    sqlx::query("INSERT INTO runs (id, project_id, stage_id, trigger, status, queued_at) VALUES (1, 'p', 'p:dev', 'manual', 'running', 0)")
        .execute(store.pool())
        .await
        .unwrap();
    let logs = Logs::start(store.clone());
    let mut live = logs.follow();
    let follower = tokio::spawn(async move {
        let mut n = 0usize;
        while n < LINES {
            match live.recv().await {
                Ok(_) => n += 1,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => n += k as usize,
                Err(_) => break,
            }
        }
        n
    });
    let started = Instant::now();
    for i in 0..LINES {
        logs.push(1, None, "stdout", format!("#{i:07} Step 3/9 : RUN cargo build --release  ---> Running in 4f2a9c1d7e3b")).await;
    }
    logs.flush().await;
    let elapsed = started.elapsed();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM log_lines WHERE run_id = 1").fetch_one(store.pool()).await.unwrap();
    let followed = follower.await.unwrap();
    println!(
        "{LINES} lines pushed, stored and broadcast in {:.2} s = {:.0} lines/s",
        elapsed.as_secs_f64(),
        LINES as f64 / elapsed.as_secs_f64()
    );
    println!("stored: {stored}; seen by a live follower: {followed}");
    assert_eq!(stored as usize, LINES);
}
