//! Commands in the edge without a Docker exec per command. Each exec costs the daemon a new
//! process set up in the container's namespaces: 50–100 ms idle and several times that while
//! the host is busy serving, which a health gate probing every 25 ms and a traffic switch pay
//! on every deploy. A shell kept open in the edge (`sh` on an attached exec) runs the same
//! commands for the cost of a fork, about 3 ms.
//!
//! A shell runs one command at a time; callers at the same moment each get their own, and up
//! to [`KEEP`] idle ones are kept. A shell that breaks (the edge restarted, the connection to
//! the host dropped) is discarded and that one command runs as a plain exec instead, so the
//! shell only ever makes things faster, never makes them fail.

use crate::services::deploy::exec::DeployError;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::exec::{self, Output};

/// Idle shells kept per edge.
const KEEP: usize = 4;
/// A shell idle longer is closed instead of used: its connection (an SSH one, say) may have
/// died quietly, and a deploy should not find that out by waiting for a timeout.
const IDLE: Duration = Duration::from_secs(60);

/// The shells open in one container.
#[derive(Default)]
pub struct Pool {
    idle: std::sync::Mutex<Vec<Shell>>,
}

impl Pool {
    /// Closes the idle shells: their container was replaced.
    pub fn clear(&self) {
        self.idle.lock().unwrap().clear();
    }

    /// Runs `argv` in `container`, at most `timeout`, like [`exec::run`].
    pub async fn run(&self, docker: &Docker, container: &str, argv: &[&str], timeout: Duration) -> Result<Output, DeployError> {
        let idle = {
            let mut idle = self.idle.lock().unwrap();
            idle.retain(|s| s.used.elapsed() < IDLE);
            idle.pop()
        };
        let mut shell = match idle {
            Some(s) => s,
            None => match Shell::open(docker, container).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!("no shell in {container} ({e}); using a plain exec");
                    return exec::run(docker, container, argv, timeout).await;
                }
            },
        };
        match tokio::time::timeout(timeout, shell.run(argv)).await {
            Ok(Ok(out)) => {
                shell.used = Instant::now();
                let mut idle = self.idle.lock().unwrap();
                if idle.len() < KEEP {
                    idle.push(shell);
                }
                Ok(out)
            }
            Ok(Err(e)) => {
                tracing::debug!("shell in {container} broke ({e}); using a plain exec");
                exec::run(docker, container, argv, timeout).await
            }
            // The shell is dropped with its connection: its `sh` ends once the command does.
            Err(_) => {
                Err(DeployError::from(format!("running `{}` in {container}: no result within {} s", argv.join(" "), timeout.as_secs_f32())))
            }
        }
    }
}

/// Pools by key (a Docker host's id and the container's name).
#[derive(Default)]
pub struct Pools {
    pools: std::sync::Mutex<HashMap<(String, String), std::sync::Arc<Pool>>>,
}

impl Pools {
    pub fn get(&self, host: &str, container: &str) -> std::sync::Arc<Pool> {
        self.pools.lock().unwrap().entry((host.to_string(), container.to_string())).or_default().clone()
    }

    /// Drops the shells of `host` (its connection changed or was lost).
    pub fn forget(&self, host: &str) {
        self.pools.lock().unwrap().retain(|(h, _), _| h != host);
    }
}

type OutputStream = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

struct Shell {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: OutputStream,
    /// Ends each command's output; unique per shell so no command prints it by chance.
    mark: String,
    used: Instant,
}

static SHELLS: AtomicU64 = AtomicU64::new(0);

impl Shell {
    async fn open(docker: &Docker, container: &str) -> Result<Shell, DeployError> {
        let config = ExecConfig {
            cmd: Some(vec!["sh".into()]),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let what = format!("opening a shell in {container}");
        let created = exec::bounded(&what, docker.create_exec(container, config)).await?;
        let options = StartExecOptions { detach: false, tty: false, output_capacity: None };
        match exec::bounded(&what, docker.start_exec(&created.id, Some(options))).await? {
            StartExecResults::Attached { output, input } => {
                let n = SHELLS.fetch_add(1, Ordering::Relaxed);
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
                Ok(Shell { input, output, used: Instant::now(), mark: format!("__slipway_end_{}_{n}_{nanos}__", std::process::id()) })
            }
            StartExecResults::Detached => Err(DeployError::from(format!("{what}: the exec did not attach"))),
        }
    }

    /// One command; Err only when the shell itself broke.
    async fn run(&mut self, argv: &[&str]) -> Result<Output, DeployError> {
        // stdin from /dev/null: a command must never read the shell's own input (the next
        // commands). The bare `echo` puts the mark on a line of its own.
        let line =
            format!("{} </dev/null 2>&1; s=$?; echo; echo {} $s\n", argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "), self.mark);
        self.input.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
        self.input.flush().await.map_err(|e| e.to_string())?;
        let end = format!("\n{} ", self.mark);
        let mut buf: Vec<u8> = Vec::new();
        loop {
            match self.output.next().await {
                Some(Ok(chunk)) => buf.extend_from_slice(&chunk.into_bytes()),
                Some(Err(e)) => return Err(DeployError::from(crate::adapters::docker::exec::describe(&e))),
                None => return Err("the shell ended".into()),
            }
            let text = String::from_utf8_lossy(&buf);
            if let Some(at) = text.find(&end) {
                let rest = &text[at + end.len()..];
                if let Some(nl) = rest.find('\n') {
                    let code = rest[..nl].trim().parse().unwrap_or(-1);
                    let mut cut = at.min(64 * 1024);
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    return Ok(Output { code, text: text[..cut].to_string() });
                }
            }
        }
    }
}

/// `s` as one word for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_every_word_whole() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("{\n\t$HOME \"x\"\n}"), "'{\n\t$HOME \"x\"\n}'");
    }
}
