//! Run logs: every line persisted in batches (a crash loses at most the last batch, ~100 ms)
//! and broadcast live to whoever follows the run.
//!
//! One writer task owns the log table: it numbers each run's lines as they arrive (so Slipway's
//! own lines and a step's output never collide), broadcasts them at once, and writes them in
//! batches, because one transaction per line would cap a chatty build at a few thousand lines/s.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::store::{now_ms, Store};
use crate::Result;

pub use crate::domain::run::LogLine;

/// How long a line may wait before its batch is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const MAX_BATCH: usize = 4096;
const ROWS_PER_INSERT: usize = 500;

enum Msg {
    Line { run_id: i64, step_id: Option<i64>, stream: &'static str, text: String },
    Flush(oneshot::Sender<()>),
}

/// Hands lines to the writer. Cheap to clone.
#[derive(Clone)]
pub struct Logs {
    tx: mpsc::Sender<Msg>,
    live: broadcast::Sender<LogLine>,
}

impl Logs {
    pub fn start(store: Store) -> Logs {
        let (tx, rx) = mpsc::channel(65_536);
        let (live, _) = broadcast::channel(16_384);
        tokio::spawn(writer(store, rx, live.clone()));
        Logs { tx, live }
    }

    /// Queues one line. Waits when the writer is behind: that slows the producer (a step's
    /// output) instead of dropping lines.
    pub async fn push(&self, run_id: i64, step_id: Option<i64>, stream: &'static str, text: String) {
        let _ = self.tx.send(Msg::Line { run_id, step_id, stream, text }).await;
    }

    pub fn follow(&self) -> broadcast::Receiver<LogLine> {
        self.live.subscribe()
    }

    /// Resolves once every line pushed before the call is on disk.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<Msg>, live: broadcast::Sender<LogLine>) {
    let mut next_seq: HashMap<i64, i64> = HashMap::new();
    let mut msgs = Vec::with_capacity(MAX_BATCH);
    let mut batch: Vec<LogLine> = Vec::with_capacity(MAX_BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let got = if batch.is_empty() {
            rx.recv_many(&mut msgs, MAX_BATCH).await
        } else {
            // Something is pending: collect more for at most FLUSH_EVERY, then write.
            match tokio::time::timeout(FLUSH_EVERY, rx.recv_many(&mut msgs, MAX_BATCH)).await {
                Ok(n) => n,
                Err(_) => usize::MAX,
            }
        };
        if got == 0 {
            let _ = write(&store, &batch).await;
            return;
        }
        for msg in msgs.drain(..) {
            match msg {
                Msg::Line { run_id, step_id, stream, text } => {
                    let seq = match next_seq.get_mut(&run_id) {
                        Some(s) => s,
                        None => {
                            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM log_lines WHERE run_id = ?")
                                .bind(run_id)
                                .fetch_one(store.pool())
                                .await
                                .unwrap_or(None);
                            next_seq.entry(run_id).or_insert(last.unwrap_or(0) + 1)
                        }
                    };
                    let line = LogLine { run_id, seq: *seq, step_id, stream: stream.to_string(), ts: now_ms(), line: text };
                    *seq += 1;
                    let _ = live.send(line.clone());
                    batch.push(line);
                }
                Msg::Flush(done) => waiting.push(done),
            }
        }
        if got == usize::MAX || batch.len() >= MAX_BATCH || !waiting.is_empty() {
            if store.disk_full() {
                // Lines would eat the reserve that lets the run's ending be recorded: dropped
                // (they were sent live) until the next run finds space again.
                batch.clear();
            }
            if let Err(e) = write(&store, &batch).await {
                if super::is_disk_full(&e) {
                    // The runner ends the run with that reason (see Store::disk_is_full).
                    store.disk_is_full();
                }
                tracing::error!("could not store {} log lines: {e}", batch.len());
            }
            batch.clear();
            for w in waiting.drain(..) {
                let _ = w.send(());
            }
        }
    }
}

async fn write(store: &Store, lines: &[LogLine]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut tx = store.write_tx().await?;
    // Many rows per statement: each statement is a round trip to SQLite's thread, and one per
    // line was what capped throughput. 6 values a row stays far below SQLite's variable limit.
    for chunk in lines.chunks(ROWS_PER_INSERT) {
        let mut insert = sqlx::QueryBuilder::new("INSERT INTO log_lines (run_id, seq, step_id, stream, ts, line) ");
        insert.push_values(chunk, |mut row, l| {
            row.push_bind(l.run_id).push_bind(l.seq).push_bind(l.step_id).push_bind(&l.stream).push_bind(l.ts).push_bind(&l.line);
        });
        insert.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Lines of a run after `after_seq`, in order.
pub async fn read(store: &Store, run_id: i64, after_seq: i64, limit: u32) -> Result<Vec<LogLine>> {
    let rows =
        sqlx::query("SELECT run_id, seq, step_id, stream, ts, line FROM log_lines WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            .bind(run_id)
            .bind(after_seq)
            .bind(limit as i64)
            .fetch_all(store.pool())
            .await?;
    Ok(rows
        .iter()
        .map(|r| LogLine {
            run_id: r.get("run_id"),
            seq: r.get("seq"),
            step_id: r.get("step_id"),
            stream: r.get("stream"),
            ts: r.get("ts"),
            line: r.get("line"),
        })
        .collect())
}

/// How many lines a run's log spans: its last stored line's seq (seqs count from 1; a line the
/// full-disk guard dropped leaves its number unused).
pub async fn count(store: &Store, run_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM log_lines WHERE run_id = ?").bind(run_id).fetch_one(store.pool()).await?)
}

/// The seqs of a run's lines that contain `needle`, ignoring ASCII case, in order: at most
/// `limit`, and whether there were more.
pub async fn search(store: &Store, run_id: i64, needle: &str, limit: u32) -> Result<(Vec<i64>, bool)> {
    // instr over lower(): no LIKE, so % and _ in what the operator typed are plain characters.
    let mut seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM log_lines WHERE run_id = ? AND instr(lower(line), lower(?)) > 0 ORDER BY seq LIMIT ?")
            .bind(run_id)
            .bind(needle)
            .bind(limit as i64 + 1)
            .fetch_all(store.pool())
            .await?;
    let more = seqs.len() > limit as usize;
    seqs.truncate(limit as usize);
    Ok((seqs, more))
}
