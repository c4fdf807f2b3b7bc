//! Docker over SSH the way `docker -H ssh://` does it, on every OS: each connection is the
//! system's OpenSSH client running `docker system dial-stdio` on the host, whose standard input
//! and output carry the Docker API. The client's own configuration applies (`~/.ssh/config`,
//! agent, known_hosts, and ControlMaster where the operator set it up), with strict host key
//! checking; Windows ships the same client. (bollard's own `ssh` transport needs the Unix-only
//! `openssh` crate, which kept Slipway from building for Windows.)

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::{BollardRequest, Docker};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Idle pooled connections (each an ssh process) are closed after this.
const IDLE: Duration = Duration::from_secs(30);

/// A Docker client for `endpoint` (`ssh://[user@]host[:port]`); nothing runs until the first
/// request.
pub fn connect(endpoint: &str, timeout_secs: u64) -> Result<Docker, String> {
    let dest = Arc::new(crate::adapters::ssh::destination(endpoint)?);
    // The body type is bollard's (private); the request below fixes it.
    // The idle timeout needs the pool's timer: without it idle connections (ssh processes) live on.
    let client = Client::builder(TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(IDLE)
        .pool_max_idle_per_host(4)
        .build(DialStdio { dest });
    let transport = move |request: BollardRequest| {
        let client = client.clone();
        async move { client.request(request).await.map_err(|e| bollard::errors::Error::from(io::Error::other(e))) }
    };
    Docker::connect_with_custom_transport(transport, Some("http://docker"), timeout_secs, bollard::API_DEFAULT_VERSION)
        .map_err(|e| e.to_string())
}

/// The connector: every new connection starts `ssh … docker system dial-stdio`.
#[derive(Clone)]
struct DialStdio {
    dest: Arc<Vec<String>>,
}

impl tower_service::Service<Uri> for DialStdio {
    type Response = TokioIo<Stdio2>;
    type Error = io::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let dest = self.dest.clone();
        Box::pin(async move { spawn(&dest).map(TokioIo::new) })
    }
}

fn spawn(dest: &[String]) -> io::Result<Stdio2> {
    let mut child = Command::new("ssh")
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"])
        // Never the master of a `ControlMaster auto` setup: a pooled connection is killed when
        // the pool drops it, and every stream multiplexed over it would go too. A master the
        // operator keeps running is still used.
        .args(["-o", "ControlMaster=no", "-T"])
        .args(dest)
        .args(["--", "docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => io::Error::new(
                e.kind(),
                "no `ssh` client on this machine: Slipway reaches ssh:// hosts through the system's OpenSSH client",
            ),
            _ => e,
        })?;
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    if let Some(stderr) = child.stderr.take() {
        // What ssh or the remote docker says when a connection fails; the preflight check has
        // already turned the usual causes into sentences, this keeps the rest in the log.
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!("ssh dial-stdio: {line}");
            }
        });
    }
    match (stdin, stdout) {
        (Some(stdin), Some(stdout)) => Ok(Stdio2 { _child: child, stdin, stdout }),
        _ => Err(io::Error::other("ssh started without pipes")),
    }
}

/// One connection: the ssh process's stdout to read, its stdin to write. Dropping it kills ssh.
pub struct Stdio2 {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Connection for Stdio2 {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stdio2 {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stdio2 {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}
