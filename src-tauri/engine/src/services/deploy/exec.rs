//! Small Docker calls the deploy engine makes many of: a command run inside a container (the
//! edge's reload, health probes, post-deploy commands) and any call bounded in time, so a host
//! that stops answering fails the deploy with a sentence instead of hanging it.

use std::future::Future;
use std::time::Duration;

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures::StreamExt;

/// Longest an ordinary API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a deploy's call or check failed: what was being done and, for a Docker call, the error
/// behind it (kept for the logs; the run log shows the sentence).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{what}: {}", crate::adapters::docker::exec::describe(.source))]
    Docker {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// A check or a command that did not give what was needed; the message says what to fix.
    #[error("{0}")]
    Failed(String),
    /// The engine could not give the deploy what it needs (the host's client, a secret).
    #[error("{0}")]
    Engine(#[from] crate::Error),
}

impl DeployError {
    pub fn docker(what: impl Into<String>, source: bollard::errors::Error) -> DeployError {
        DeployError::Docker { what: what.into(), source }
    }

    /// The Docker host did not answer at all (see [`crate::adapters::docker::exec::unreachable`]).
    pub fn host_gone(&self) -> bool {
        match self {
            DeployError::Docker { source, .. } => crate::adapters::docker::exec::unreachable(source),
            DeployError::Engine(e) => e.code() == crate::ErrorCode::HostUnreachable,
            DeployError::Failed(_) => false,
        }
    }
}

impl From<String> for DeployError {
    fn from(s: String) -> DeployError {
        DeployError::Failed(s)
    }
}

impl From<&str> for DeployError {
    fn from(s: &str) -> DeployError {
        DeployError::Failed(s.to_string())
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: i64,
    /// stdout and stderr, interleaved as they came.
    pub text: String,
}

pub async fn bounded<T>(what: &str, work: impl Future<Output = Result<T, bollard::errors::Error>>) -> Result<T, DeployError> {
    match tokio::time::timeout(CALL_TIMEOUT, work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(DeployError::docker(what, e)),
        Err(_) => Err(no_answer(what).into()),
    }
}

pub fn no_answer(what: &str) -> String {
    format!("{what}: the Docker host did not answer within {} s", CALL_TIMEOUT.as_secs())
}

/// Runs `cmd` in `container` and waits for it, at most `timeout`.
pub async fn run(docker: &Docker, container: &str, cmd: &[&str], timeout: Duration) -> Result<Output, DeployError> {
    let what = format!("running `{}` in {container}", cmd.join(" "));
    let config = ExecConfig {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = bounded(&what, docker.create_exec(container, config)).await?;
    let work = async {
        let started = docker
            .start_exec(&created.id, Some(StartExecOptions { detach: false, tty: false, output_capacity: None }))
            .await
            .map_err(|e| DeployError::docker(what.clone(), e))?;
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(c) => {
                        if text.len() < 64 * 1024 {
                            text.push_str(&String::from_utf8_lossy(&c.into_bytes()));
                        }
                    }
                    Err(e) => return Err(DeployError::docker(what.clone(), e)),
                }
            }
        }
        let inspect = docker.inspect_exec(&created.id).await.map_err(|e| DeployError::docker(what.clone(), e))?;
        Ok(Output { code: inspect.exit_code.unwrap_or(-1), text })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(DeployError::from(format!("{what}: no result within {} s", timeout.as_secs_f32()))),
    }
}
