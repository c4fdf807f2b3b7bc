//! The Docker API: reaching an engine by `DOCKER_HOST`-style endpoint and saying plainly
//! whether it answers and, if not, why; hosts ([`hosts`]), containers ([`containers`]), and
//! the steps, builds and workspaces of runs ([`exec`]).
//!
//! Must not depend on other adapters but [`crate::adapters::ssh`] (the SSH checks and destination).

pub mod containers;
mod dial_stdio;
pub mod exec;
pub mod hosts;

use std::time::{Duration, Instant};

use bollard::Docker;

use crate::domain::events::DockerStatus;

/// How long a reachability probe may take before the engine is reported unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `endpoint` (unix://, tcp://, http(s)://, ssh://). Connection is lazy in bollard,
/// so most failures surface on the first request, not here.
pub fn connect(endpoint: &str) -> Result<Docker, String> {
    Docker::connect_with_host(endpoint).map_err(|e| describe(endpoint, &e))
}

/// Connects and agrees on an API version with the engine, so older engines (Debian's 20.10
/// speaks 1.41) are talked to in their own version.
pub async fn connect_negotiated(endpoint: &str) -> Result<Docker, String> {
    let docker = connect(endpoint)?;
    match tokio::time::timeout(PROBE_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(describe(endpoint, &e)),
        Err(_) => Err(format!("Docker at {endpoint} did not answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

pub async fn probe(endpoint: &str) -> DockerStatus {
    let started = Instant::now();
    let result = match connect(endpoint) {
        Err(msg) => Err(msg),
        Ok(docker) => match tokio::time::timeout(PROBE_TIMEOUT, docker.version()).await {
            Err(_) => Err(format!("Docker at {endpoint} did not answer within {} s", PROBE_TIMEOUT.as_secs())),
            Ok(Err(e)) => Err(describe(endpoint, &e)),
            Ok(Ok(v)) => Ok(v),
        },
    };
    match result {
        Ok(v) => DockerStatus {
            endpoint: endpoint.to_string(),
            reachable: true,
            version: v.version,
            api_version: v.api_version,
            error: None,
            latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
        },
        Err(msg) => DockerStatus {
            endpoint: endpoint.to_string(),
            reachable: false,
            version: None,
            api_version: None,
            error: Some(msg),
            latency_ms: None,
        },
    }
}

/// Turns bollard's errors into a sentence that names the endpoint and the likely cause.
pub fn describe(endpoint: &str, e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    let socket = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    match e {
        E::SocketNotFoundError(path) => {
            format!("Docker is not reachable at {endpoint}: socket {path} does not exist (is dockerd running?)")
        }
        E::UnsupportedURISchemeError { uri } => {
            format!("{uri} is not a Docker endpoint Slipway knows (use unix://, tcp://, https:// or ssh://)")
        }
        other => {
            let text = full_chain(other);
            if text.contains("Permission denied") || text.contains("permission denied") {
                format!(
                    "Docker is not reachable at {endpoint}: permission denied on {socket} \
                     (add your user to the docker group, or run a rootless engine)"
                )
            } else if text.contains("Connection refused") || text.contains("connection refused") {
                format!("Docker is not reachable at {endpoint}: connection refused ({text})")
            } else {
                format!("Docker is not reachable at {endpoint}: {text}")
            }
        }
    }
}

/// bollard wraps hyper wraps io: the useful words are usually at the bottom of the chain.
pub(crate) fn full_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}
