//! The hosts part of the JSON API. Streams (logs, stats, events) are NDJSON: one JSON value per
//! line as it happens; a stream that fails ends with `{"error": {"code", "message"}}`.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{Engine, Result};

/// The host streams (NDJSON); the host and container operations are declared in
/// [`slipway_protocol::ops`] and routed with the others.
pub fn routes() -> Router<Engine> {
    Router::new()
        .route("/hosts/{id}/events", get(events))
        .route("/hosts/{id}/containers/{container}/logs", get(logs))
        .route("/hosts/{id}/containers/{container}/stats", get(stats))
}

#[derive(Debug, Deserialize)]
struct LogsQuery {
    tail: Option<u32>,
    #[serde(default)]
    follow: bool,
}

async fn logs(State(engine): State<Engine>, Path((id, c)): Path<(String, String)>, Query(q): Query<LogsQuery>) -> Response {
    ndjson(
        move |tx| async move { engine.container_logs(&id, &c, q.tail, q.follow, tx).await },
        |batch: Vec<crate::adapters::docker::containers::ContainerLogLine>| batch,
    )
}

#[derive(Debug, Deserialize)]
struct StatsQuery {
    samples: Option<u32>,
}

async fn stats(State(engine): State<Engine>, Path((id, c)): Path<(String, String)>, Query(q): Query<StatsQuery>) -> Response {
    ndjson(move |tx| async move { engine.container_stats(&id, &c, q.samples, tx).await }, |s| vec![s])
}

async fn events(State(engine): State<Engine>, Path(id): Path<String>) -> Response {
    ndjson(move |tx| async move { engine.host_events(&id, tx).await }, |e| vec![e])
}

/// Runs a streaming operation for the response body: items as NDJSON lines while it runs, its
/// error as the last line. The client going away drops the operation.
pub(crate) fn ndjson<T, U, W, F>(work: W, each: impl Fn(T) -> Vec<U> + Send + 'static) -> Response
where
    T: Send + 'static,
    U: Serialize,
    W: FnOnce(mpsc::Sender<T>) -> F + Send + 'static,
    F: Future<Output = Result<()>> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<T>(16);
    let (body_tx, mut body_rx) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let work = work(tx);
        tokio::pin!(work);
        let mut result = None;
        loop {
            tokio::select! {
                // The client went away: the operation stops with this task.
                _ = body_tx.closed() => return,
                r = &mut work, if result.is_none() => result = Some(r),
                item = rx.recv() => match item {
                    Some(item) => {
                        let mut buf = Vec::new();
                        for v in each(item) {
                            let _ = serde_json::to_writer(&mut buf, &v);
                            buf.push(b'\n');
                        }
                        if body_tx.send(Ok(Bytes::from(buf))).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
            }
        }
        let result = match result {
            Some(r) => r,
            None => work.await,
        };
        if let Err(e) = result {
            #[derive(Serialize)]
            struct Failure {
                error: crate::ApiError,
            }
            let mut line = serde_json::to_vec(&Failure { error: e.into() }).unwrap_or_default();
            line.push(b'\n');
            let _ = body_tx.send(Ok(Bytes::from(line))).await;
        }
    });
    let stream = futures::stream::poll_fn(move |cx| body_rx.poll_recv(cx));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response()
}
