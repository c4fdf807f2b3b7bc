//! Reaching a Docker host: connecting (local socket, TCP with TLS, SSH), pinging, testing,
//! describing what went wrong in words an operator can act on, and reading `docker context`s.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;

use crate::domain::host::{Host, HostInput, HostKind, HostTest, CONNECT_TIMEOUT, LOCAL_ID, MIN_API};
use crate::{Error, ErrorCode, Result};

/// bollard's per-request timeout (seconds), up to the response headers.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// Connects to `host` (its endpoint, or `default_endpoint` for the local row), agrees on an API
/// version and refuses engines older than [`MIN_API`]. SSH hosts are checked with the system
/// `ssh` first (host key, login, remote docker CLI), so a failure is one sentence an operator
/// can act on rather than a closed connection.
pub async fn connect(host: &Host, default_endpoint: &str) -> Result<Docker> {
    let endpoint = if host.id == LOCAL_ID { default_endpoint } else { host.endpoint.as_str() };
    let unreachable = |msg: String| Error::new(ErrorCode::HostUnreachable, format!("host {}: {msg}", host.name));
    let docker = match host.kind {
        HostKind::Ssh => {
            crate::adapters::ssh::preflight(endpoint).await.map_err(unreachable)?;
            super::dial_stdio::connect(endpoint, REQUEST_TIMEOUT_SECS).map_err(unreachable)?
        }
        HostKind::Tcp => match (&host.tls_ca, &host.tls_cert, &host.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Docker::connect_with_ssl(
                endpoint,
                Path::new(key),
                Path::new(cert),
                Path::new(ca),
                REQUEST_TIMEOUT_SECS,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(|e| unreachable(describe(endpoint, &e)))?,
            _ => Docker::connect_with_http(endpoint, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(|e| unreachable(describe(endpoint, &e)))?,
        },
        HostKind::Local => Docker::connect_with_host(endpoint).map_err(|e| unreachable(describe(endpoint, &e)))?,
    };
    let docker = match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return Err(unreachable(describe(endpoint, &e))),
        Err(_) => return Err(unreachable(format!("{endpoint} did not answer within {} s", CONNECT_TIMEOUT.as_secs()))),
    };
    let version = docker.client_version();
    let (major, minor) = (version.major_version as u32, version.minor_version as u32);
    if (major, minor) < MIN_API {
        return Err(Error::new(
            ErrorCode::HostIncompatible,
            format!(
                "host {}: the Docker engine at {endpoint} speaks API {major}.{minor}, too old for Slipway: it needs API {}.{} or newer (Docker Engine 20.10+)",
                host.name, MIN_API.0, MIN_API.1
            ),
        ));
    }
    Ok(docker)
}

/// Pings the host once on `docker`, bounded, and returns the round trip.
pub async fn ping(docker: &Docker, host_name: &str, timeout: Duration) -> Result<f64> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, docker.ping()).await {
        Ok(Ok(_)) => Ok(started.elapsed().as_secs_f64() * 1000.0),
        Ok(Err(e)) => Err(Error::new(ErrorCode::HostUnreachable, format!("host {host_name}: the engine does not answer: {}", cause(&e)))),
        Err(_) => Err(Error::new(
            ErrorCode::HostUnreachable,
            format!("host {host_name}: the engine did not answer a ping within {} s", timeout.as_secs()),
        )),
    }
}

/// The "Test" button: version, OS/arch, container counts and a ping's round trip.
pub async fn test(host: &Host, docker: &Docker) -> Result<HostTest> {
    let fail =
        |e: bollard::errors::Error| Error::new(ErrorCode::HostUnreachable, format!("host {}: {}", host.name, describe(&host.endpoint, &e)));
    let latency_ms = ping(docker, &host.name, CONNECT_TIMEOUT).await?;
    let bounded = |what: &'static str| {
        Error::new(ErrorCode::HostUnreachable, format!("host {}: {what} did not answer within {} s", host.name, CONNECT_TIMEOUT.as_secs()))
    };
    let version = tokio::time::timeout(CONNECT_TIMEOUT, docker.version()).await.map_err(|_| bounded("version"))?.map_err(fail)?;
    let info = tokio::time::timeout(CONNECT_TIMEOUT, docker.info()).await.map_err(|_| bounded("info"))?.map_err(fail)?;
    Ok(HostTest {
        host_id: host.id.clone(),
        engine_version: version.version,
        api_version: version.api_version,
        os: info.operating_system.or(version.os),
        arch: info.architecture.or(version.arch),
        containers: info.containers.unwrap_or(0).max(0) as u32,
        containers_running: info.containers_running.unwrap_or(0).max(0) as u32,
        latency_ms,
    })
}

/// bollard's error as a sentence with the likely cause first. TLS and connection failures
/// are told apart because the fixes differ (certificates vs. a port or a firewall).
pub fn describe(endpoint: &str, e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::CertPathError { path } => format!("cannot read the TLS file {} for {endpoint}", path.display()),
        E::CertParseError { path } => format!("the TLS file {} for {endpoint} is not a PEM certificate or key", path.display()),
        E::CertMultipleKeys { path, .. } => format!("the TLS key file {} for {endpoint} holds more than one key", path.display()),
        E::DockerResponseServerError { status_code, message } => format!("the engine at {endpoint} answered {status_code}: {message}"),
        _ => describe_text(endpoint, &crate::adapters::docker::describe(endpoint, e)),
    }
}

/// What went wrong on an established host, without naming the endpoint again.
pub fn cause(e: &bollard::errors::Error) -> String {
    describe_text("the engine", &crate::adapters::docker::full_chain(e))
}

/// Names the TLS failures, which rustls reports in words an operator would not search for.
pub fn describe_text(endpoint: &str, text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    // An alert comes from the engine: it refused what Slipway presented.
    if lower.contains("received fatal alert")
        && ["unknownca", "badcertificate", "certificaterequired", "accessdenied", "decrypterror", "certificateunknown"]
            .iter()
            .any(|a| lower.contains(a))
    {
        format!("TLS verification failed for {endpoint}: the engine refused Slipway's client certificate (tls_cert/tls_key are not signed by a CA it trusts) ({text})")
    } else if lower.contains("invalid peer certificate")
        || lower.contains("unknownissuer")
        || lower.contains("certificate verify failed")
        || lower.contains("badsignature")
    {
        format!("TLS verification failed for {endpoint}: the engine's certificate is not signed by the CA given (tls_ca), or names another host ({text})")
    } else if lower.contains("corrupt message") || lower.contains("invalidcontenttype") || lower.contains("received corrupt") {
        format!("TLS handshake with {endpoint} failed: does it speak TLS on this port? ({text})")
    } else if (lower.contains("connection closed before message completed")
        || lower.contains("invalid http version")
        || lower.contains("connection reset"))
        && endpoint.starts_with("tcp://")
    {
        format!("{text} (a TLS-only endpoint? then give tls_ca, tls_cert and tls_key)")
    } else {
        text.to_string()
    }
}

/// The operator's Docker contexts (`docker context ls`), as hosts to add. `DOCKER_CONFIG` moves
/// `~/.docker`, as it does for the CLI.
pub fn read_contexts() -> Vec<std::result::Result<HostInput, String>> {
    let Some(root) = docker_config_dir().map(|d| d.join("contexts")) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(root.join("meta")) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let meta = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta) else { continue };
        out.push(
            context_to_host(&text, &root.join("tls").join(entry.file_name()).join("docker"))
                .map_err(|e| format!("{}: {e}", meta.display())),
        );
    }
    out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    out
}

fn docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => dirs::home_dir().map(|h| h.join(".docker")),
    }
}

/// One context's `meta.json` (and its TLS folder, where the CLI keeps ca/cert/key.pem).
pub fn context_to_host(meta_json: &str, tls_dir: &Path) -> std::result::Result<HostInput, String> {
    let meta: serde_json::Value = serde_json::from_str(meta_json).map_err(|e| format!("not JSON: {e}"))?;
    let name = meta["Name"].as_str().ok_or("no Name")?.to_string();
    let endpoint = meta["Endpoints"]["docker"]["Host"].as_str().ok_or_else(|| format!("{name}: no docker endpoint"))?.to_string();
    let kind = match endpoint.split_once("://").map(|(s, _)| s) {
        Some("unix") | Some("npipe") => HostKind::Local,
        Some("tcp") | Some("http") | Some("https") => HostKind::Tcp,
        Some("ssh") => HostKind::Ssh,
        _ => return Err(format!("{name}: endpoint {endpoint} is not one Slipway knows")),
    };
    let file = |f: &str| {
        let p = tls_dir.join(f);
        p.is_file().then(|| p.display().to_string())
    };
    let (tls_ca, tls_cert, tls_key) =
        if kind == HostKind::Tcp { (file("ca.pem"), file("cert.pem"), file("key.pem")) } else { (None, None, None) };
    Ok(HostInput { name, kind, endpoint, tls_ca, tls_cert, tls_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_named() {
        let m = describe_text("tcp://h:2376", "error trying to connect: invalid peer certificate: UnknownIssuer");
        assert!(m.starts_with("TLS verification failed for tcp://h:2376"), "{m}");
        let m = describe_text("tcp://h:2376", "connection error: received fatal alert: UnknownCA");
        assert!(m.starts_with("TLS verification failed") && m.contains("refused Slipway's client certificate"), "{m}");
        assert_eq!(describe_text("tcp://h:1", "connection refused"), "connection refused");
    }

    fn host(kind: HostKind, endpoint: &str) -> Host {
        Host {
            id: "box".into(),
            name: "box".into(),
            kind,
            endpoint: endpoint.into(),
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn an_old_engine_is_refused_with_the_minimum_version() {
        // An "engine" that answers every request as Docker 1.12 would.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = r#"{"Version":"1.12.6","ApiVersion":"1.24","Os":"linux","Arch":"amd64"}"#;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        let err = connect(&host(HostKind::Tcp, &format!("tcp://127.0.0.1:{port}")), "").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::HostIncompatible);
        let msg = err.to_api().message;
        assert!(msg.starts_with("host box: ") && msg.contains("API 1.24") && msg.contains("needs API 1.41 or newer"), "{msg}");
    }

    #[tokio::test]
    async fn a_missing_socket_is_named() {
        let err = connect(&host(HostKind::Local, "unix:///nonexistent/docker.sock"), "").await.unwrap_err();
        let msg = err.to_api().message;
        assert_eq!(err.code(), ErrorCode::HostUnreachable);
        assert!(msg.starts_with("host box: ") && msg.contains("/nonexistent/docker.sock does not exist"), "{msg}");
    }

    #[test]
    fn socket_permission_and_refusal_are_named() {
        let io = |kind| bollard::errors::Error::IOError { err: std::io::Error::new(kind, format!("{kind}")) };
        let m = describe("unix:///var/run/docker.sock", &io(std::io::ErrorKind::PermissionDenied));
        assert!(m.contains("permission denied on /var/run/docker.sock") && m.contains("docker group"), "{m}");
        let m = describe("tcp://10.0.0.5:2375", &io(std::io::ErrorKind::ConnectionRefused));
        assert!(m.contains("tcp://10.0.0.5:2375: connection refused"), "{m}");
    }

    #[test]
    fn contexts_become_hosts() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let tcp = context_to_host(
            r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#,
            dir.path(),
        )
        .unwrap();
        assert_eq!(tcp.kind, HostKind::Tcp);
        assert_eq!(tcp.tls_ca.as_deref(), Some(dir.path().join("ca.pem").to_str().unwrap()));
        let ssh = context_to_host(r#"{"Name":"edge","Endpoints":{"docker":{"Host":"ssh://deploy@edge"}}}"#, dir.path()).unwrap();
        assert_eq!((ssh.kind, ssh.tls_ca), (HostKind::Ssh, None));
        assert!(context_to_host(r#"{"Name":"k","Endpoints":{"kubernetes":{}}}"#, dir.path()).unwrap_err().contains("no docker endpoint"));
    }
}
