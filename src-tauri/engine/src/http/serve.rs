//! The accept loop of a listener, with the limits that keep it answerable under abuse: a cap on
//! open connections (past it, new ones get `503` with `Retry-After` and are closed, which forges
//! retry), a deadline for a request's headers that also closes idle keep-alive connections, and
//! on the hook listener a watchdog that closes a connection on which nothing moved for a while
//! (a body that stalls halfway). The numbers are in [`Limits`] and the README.
//!
//! `axum::serve` has none of these, so connections are served with hyper's HTTP/1 builder here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// One listener's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections served at once; more are answered 503 and closed.
    pub connections: usize,
    /// From a connection's start (or the end of its last response) to the end of the next
    /// request's headers: a client that sends nothing, or its headers a byte at a time, or
    /// keeps an idle keep-alive connection, is closed after this.
    pub headers: Duration,
    /// Nothing read or written for this long closes the connection (`None`: streams live here).
    pub idle: Option<Duration>,
}

/// The public listener: webhooks (from anywhere) and, for compatibility, the API.
pub const PUBLIC: Limits = Limits { connections: 2048, headers: Duration::from_secs(10), idle: Some(Duration::from_secs(30)) };

/// [`PUBLIC`], with the connection cap from `SLIPWAY_MAX_CONNECTIONS` if set (a small host, or a
/// test that wants to reach the cap without thousands of sockets).
pub fn public() -> Limits {
    let connections = std::env::var("SLIPWAY_MAX_CONNECTIONS").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0);
    Limits { connections: connections.unwrap_or(PUBLIC.connections), ..PUBLIC }
}

/// The loopback API listener (the window, the CLI): its own budget, so a flood of the public
/// listener cannot take them down. Headers' deadline above reqwest's 90 s pool idle time, so
/// the window's pooled connections are not closed under it; no idle watchdog (event streams).
pub const API: Limits = Limits { connections: 256, headers: Duration::from_secs(120), idle: None };

/// The most a connection's read buffer holds (hyper's minimum is 8 KiB + a request head).
const READ_BUFFER: usize = 64 * 1024;

/// What an over-the-cap connection is told. At most this many are being told at once; past
/// that a connection is closed at once.
const REFUSERS: usize = 256;

/// A listener connections come from: TCP (the listeners) or a Unix socket (the edge's way to
/// the hooks).
pub trait Accept: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept_one(&self) -> impl std::future::Future<Output = std::io::Result<Self::Io>> + Send;
}

impl Accept for TcpListener {
    type Io = TcpStream;
    async fn accept_one(&self) -> std::io::Result<TcpStream> {
        let (s, _) = self.accept().await?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }
}

#[cfg(unix)]
impl Accept for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept_one(&self) -> std::io::Result<tokio::net::UnixStream> {
        Ok(self.accept().await?.0)
    }
}

/// Serves `app` on `listener` until `stopping` turns true, then lets open connections finish
/// (up to 5 s).
pub async fn serve<L: Accept>(listener: L, app: Router, limits: Limits, mut stopping: watch::Receiver<bool>) {
    let open = Arc::new(Semaphore::new(limits.connections));
    let refusing = Arc::new(Semaphore::new(REFUSERS));
    let (closing_tx, closing) = watch::channel(false);
    loop {
        let accepted = tokio::select! {
            a = listener.accept_one() => a,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors (EMFILE) or a connection reset before accept: wait a little
                // instead of spinning; the idle ones are being closed meanwhile.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                let (app, closing) = (app.clone(), closing.clone());
                tokio::spawn(async move {
                    connection(stream, app, limits, closing).await;
                    drop(permit);
                });
            }
            Err(_) => match refusing.clone().try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(permit);
                    });
                }
                Err(_) => drop(stream),
            },
        }
    }
    let _ = closing_tx.send(true);
    let all = u32::try_from(limits.connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(5), open.acquire_many(all)).await;
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    app: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) {
    let activity = Arc::new(AtomicU64::new(now_ms()));
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    // A connection's read buffer stays small: a flood of large bodies being drained must not
    // cost hyper's default (~400 KiB) per connection.
    builder.timer(TokioTimer::new()).header_read_timeout(limits.headers).keep_alive(true).max_buf_size(READ_BUFFER);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let idle = async {
        match limits.idle {
            Some(idle) => watch_idle(&activity, idle).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(idle);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = &mut idle => return,
        _ = closing.wait_for(|c| *c) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
}

/// Resolves once nothing has moved on the connection for `idle`.
async fn watch_idle(activity: &AtomicU64, idle: Duration) {
    loop {
        let last = activity.load(Ordering::Relaxed);
        let quiet = now_ms().saturating_sub(last);
        let idle_ms = idle.as_millis() as u64;
        if quiet >= idle_ms {
            return;
        }
        tokio::time::sleep(Duration::from_millis(idle_ms - quiet)).await;
    }
}

/// Over the cap: read what the client sent for a moment (so it is not reset mid-request), then
/// `503` with `Retry-After`, and close.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    let body = r#"{"code":"unavailable","message":"the listener is at its connection limit: retry shortly"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

fn now_ms() -> u64 {
    crate::domain::now_ms() as u64
}

/// A stream that notes when bytes last moved, for the idle watchdog.
struct Watched<S> {
    inner: S,
    activity: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.store(now_ms(), Ordering::Relaxed);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.store(now_ms(), Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
