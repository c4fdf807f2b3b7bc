//! Docker hosts: the rows in the store, and reaching each one by its kind (a local socket,
//! `tcp://` with optional TLS, `ssh://` through bollard's ssh transport). Every failure becomes
//! one sentence naming the host and the cause; nothing secret is stored (TLS material by path,
//! SSH keys stay with ssh-agent and `~/.ssh`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::store::{now_ms, Store};
use crate::{Error, ErrorCode, Result};

/// The host every installation has: the engine's own endpoint (`DOCKER_HOST` or the default
/// socket). It cannot be removed.
pub const LOCAL_ID: &str = "local";
/// Docker Engine 20.10 speaks API 1.41; older engines lack what deploys use (and are untested).
pub const MIN_API: (u32, u32) = (1, 41);
/// How long reaching a host (connect, ssh handshake, version negotiation) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// bollard's per-request timeout (seconds), up to the response headers.
const REQUEST_TIMEOUT_SECS: u64 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    Local,
    Tcp,
    Ssh,
}

impl HostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Local => "local",
            HostKind::Tcp => "tcp",
            HostKind::Ssh => "ssh",
        }
    }

    fn parse(s: &str) -> HostKind {
        match s {
            "tcp" => HostKind::Tcp,
            "ssh" => HostKind::Ssh,
            _ => HostKind::Local,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Host {
    pub id: String,
    pub name: String,
    pub kind: HostKind,
    /// `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`, `ssh://deploy@box:22`.
    pub endpoint: String,
    /// Paths to PEM files, as `docker --tlscacert/--tlscert/--tlskey` take them.
    pub tls_ca: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// What the add and edit forms send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostInput {
    pub name: String,
    pub kind: HostKind,
    pub endpoint: String,
    #[serde(default)]
    pub tls_ca: Option<String>,
    #[serde(default)]
    pub tls_cert: Option<String>,
    #[serde(default)]
    pub tls_key: Option<String>,
}

/// What "Test" shows about a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostTest {
    pub host_id: String,
    pub engine_version: Option<String>,
    pub api_version: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub containers: u32,
    pub containers_running: u32,
    /// Round trip of one `/_ping` on the established connection.
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Not checked yet.
    Unknown,
    Reachable,
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HostStatus {
    pub host_id: String,
    pub state: HostState,
    /// Why it is unreachable, naming the host.
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
    #[ts(type = "number | null")]
    pub checked_at: Option<i64>,
}

/// What an import of Docker contexts did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContextImport {
    pub imported: Vec<Host>,
    /// "name: why" for each context left out.
    pub skipped: Vec<String>,
}

// ---- Store ----

type Row = (String, String, String, String, Option<String>, Option<String>, Option<String>, i64, i64);

fn from_row(r: Row) -> Host {
    Host { id: r.0, name: r.1, kind: HostKind::parse(&r.2), endpoint: r.3, tls_ca: r.4, tls_cert: r.5, tls_key: r.6, created_at: r.7, updated_at: r.8 }
}

const COLUMNS: &str = "id, name, kind, endpoint, tls_ca, tls_cert, tls_key, created_at, updated_at";

pub async fn list(store: &Store) -> Result<Vec<Host>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM hosts ORDER BY id = 'local' DESC, name"))
        .fetch_all(store.pool())
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn find(store: &Store, id: &str) -> Result<Option<Host>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM hosts WHERE id = ?")).bind(id).fetch_optional(store.pool()).await?;
    Ok(row.map(from_row))
}

pub async fn get(store: &Store, id: &str) -> Result<Host> {
    find(store, id).await?.ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no host {id:?}")))
}

/// The local row always points at the engine's configured endpoint, whatever it was last time.
pub async fn ensure_local(store: &Store, endpoint: &str) -> Result<()> {
    let mut tx = store.write_tx().await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO hosts (id, name, kind, endpoint, created_at, updated_at) VALUES (?, 'local', 'local', ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET endpoint = excluded.endpoint, kind = 'local' WHERE hosts.endpoint <> excluded.endpoint",
    )
    .bind(LOCAL_ID)
    .bind(endpoint)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn create(store: &Store, input: HostInput) -> Result<Host> {
    let input = validate(input)?;
    let id = crate::projects::slug(&input.name);
    if id == LOCAL_ID {
        return Err(invalid("name: \"local\" is the engine's own host; pick another name"));
    }
    let mut tx = store.write_tx().await?;
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM hosts WHERE id = ? OR name = ?").bind(&id).bind(&input.name).fetch_optional(&mut *tx).await?;
    if taken.is_some() {
        return Err(invalid(format!("name: a host named {:?} exists already", input.name)));
    }
    let now = now_ms();
    sqlx::query("INSERT INTO hosts (id, name, kind, endpoint, tls_ca, tls_cert, tls_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&id)
        .bind(&input.name)
        .bind(input.kind.as_str())
        .bind(&input.endpoint)
        .bind(&input.tls_ca)
        .bind(&input.tls_cert)
        .bind(&input.tls_key)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    get(store, &id).await
}

/// Edits keep the id (projects refer to it); the name may change.
pub async fn update(store: &Store, id: &str, input: HostInput) -> Result<Host> {
    if id == LOCAL_ID {
        return Err(invalid("endpoint: the local host follows DOCKER_HOST (or SLIPWAY_DOCKER_HOST); change that instead"));
    }
    let input = validate(input)?;
    let mut tx = store.write_tx().await?;
    let clash: Option<(String,)> = sqlx::query_as("SELECT id FROM hosts WHERE name = ? AND id <> ?").bind(&input.name).bind(id).fetch_optional(&mut *tx).await?;
    if clash.is_some() {
        return Err(invalid(format!("name: a host named {:?} exists already", input.name)));
    }
    let done = sqlx::query("UPDATE hosts SET name = ?, kind = ?, endpoint = ?, tls_ca = ?, tls_cert = ?, tls_key = ?, updated_at = ? WHERE id = ?")
        .bind(&input.name)
        .bind(input.kind.as_str())
        .bind(&input.endpoint)
        .bind(&input.tls_ca)
        .bind(&input.tls_cert)
        .bind(&input.tls_key)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("no host {id:?}")));
    }
    tx.commit().await?;
    get(store, id).await
}

pub async fn delete(store: &Store, id: &str) -> Result<()> {
    if id == LOCAL_ID {
        return Err(invalid("the local host is the engine's own endpoint and cannot be removed"));
    }
    let mut tx = store.write_tx().await?;
    let done = sqlx::query("DELETE FROM hosts WHERE id = ?").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::new(ErrorCode::NotFound, format!("no host {id:?}")));
    }
    Ok(())
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, msg)
}

/// Checks the form field by field; messages start with the field's name so the UI can put them
/// beside it.
pub fn validate(mut input: HostInput) -> Result<HostInput> {
    input.name = input.name.trim().to_string();
    input.endpoint = input.endpoint.trim().to_string();
    let blank = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    input.tls_ca = blank(input.tls_ca);
    input.tls_cert = blank(input.tls_cert);
    input.tls_key = blank(input.tls_key);
    if crate::projects::slug(&input.name).is_empty() {
        return Err(invalid("name: give the host a name (letters or digits)"));
    }
    let scheme_ok = match input.kind {
        HostKind::Local => input.endpoint.starts_with("unix://") || input.endpoint.starts_with("npipe://"),
        HostKind::Tcp => input.endpoint.starts_with("tcp://") || input.endpoint.starts_with("https://") || input.endpoint.starts_with("http://"),
        HostKind::Ssh => input.endpoint.starts_with("ssh://"),
    };
    if !scheme_ok {
        let example = match input.kind {
            HostKind::Local => "unix:///var/run/docker.sock",
            HostKind::Tcp => "tcp://10.0.0.5:2376",
            HostKind::Ssh => "ssh://deploy@box.example.com (or ssh://deploy@box:2222)",
        };
        return Err(invalid(format!("endpoint: a {} host's endpoint looks like {example}", input.kind.as_str())));
    }
    let rest = input.endpoint.split_once("://").map(|(_, r)| r).unwrap_or("");
    if rest.trim_matches('/').is_empty() {
        return Err(invalid("endpoint: the address after the scheme is missing"));
    }
    if input.kind == HostKind::Ssh {
        parse_ssh(&input.endpoint).map_err(|m| invalid(format!("endpoint: {m}")))?;
    }
    let tls = [&input.tls_ca, &input.tls_cert, &input.tls_key];
    if input.kind != HostKind::Tcp && tls.iter().any(|t| t.is_some()) {
        return Err(invalid("tls_ca: TLS files apply to tcp:// hosts only"));
    }
    let given = tls.iter().filter(|t| t.is_some()).count();
    if given != 0 && given != 3 {
        let missing = if input.tls_ca.is_none() { "tls_ca" } else if input.tls_cert.is_none() { "tls_cert" } else { "tls_key" };
        return Err(invalid(format!("{missing}: give the CA, the certificate and the key together, as docker --tlsverify takes them")));
    }
    for (field, path) in [("tls_ca", &input.tls_ca), ("tls_cert", &input.tls_cert), ("tls_key", &input.tls_key)] {
        if let Some(p) = path {
            if !Path::new(p).is_file() {
                return Err(invalid(format!("{field}: {p} is not a file")));
            }
        }
    }
    Ok(input)
}

/// `ssh://user@host:port` into (user, host, port).
pub fn parse_ssh(endpoint: &str) -> std::result::Result<(Option<String>, String, Option<u16>), String> {
    let rest = endpoint.strip_prefix("ssh://").ok_or("the endpoint must start with ssh://")?;
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err("ssh:// endpoints take no path (ssh://user@host[:port])".into());
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()).filter(|u| !u.is_empty()), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or("unclosed [ in the address")?;
            (h.to_string(), after.strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        },
    };
    if host.is_empty() {
        return Err("the host name is missing (ssh://user@host[:port])".into());
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| format!("{p:?} is not a port number"))?),
        None => None,
    };
    Ok((user, host, port))
}

// ---- Reaching a host ----

/// Connects to `host` (its endpoint, or `default_endpoint` for the local row), agrees on an API
/// version and refuses engines older than [`MIN_API`]. SSH hosts are checked with the system
/// `ssh` first (host key, login, remote docker CLI), since bollard's transport would accept an
/// unknown host key on its own and says little when the login fails.
pub async fn connect(host: &Host, default_endpoint: &str) -> Result<Docker> {
    let endpoint = if host.id == LOCAL_ID { default_endpoint } else { host.endpoint.as_str() };
    let unreachable = |msg: String| Error::new(ErrorCode::HostUnreachable, format!("host {}: {msg}", host.name));
    let docker = match host.kind {
        HostKind::Ssh => {
            crate::ssh::preflight(endpoint).await.map_err(unreachable)?;
            Docker::connect_with_ssh(endpoint, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION, None)
                .map_err(|e| unreachable(describe(endpoint, &e)))?
        }
        HostKind::Tcp => match (&host.tls_ca, &host.tls_cert, &host.tls_key) {
            (Some(ca), Some(cert), Some(key)) => {
                Docker::connect_with_ssl(endpoint, Path::new(key), Path::new(cert), Path::new(ca), REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                    .map_err(|e| unreachable(describe(endpoint, &e)))?
            }
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
        Err(_) => Err(Error::new(ErrorCode::HostUnreachable, format!("host {host_name}: the engine did not answer a ping within {} s", timeout.as_secs()))),
    }
}

/// The "Test" button: version, OS/arch, container counts and a ping's round trip.
pub async fn test(host: &Host, docker: &Docker) -> Result<HostTest> {
    let fail = |e: bollard::errors::Error| Error::new(ErrorCode::HostUnreachable, format!("host {}: {}", host.name, describe(&host.endpoint, &e)));
    let latency_ms = ping(docker, &host.name, CONNECT_TIMEOUT).await?;
    let bounded = |what: &'static str| Error::new(ErrorCode::HostUnreachable, format!("host {}: {what} did not answer within {} s", host.name, CONNECT_TIMEOUT.as_secs()));
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
        _ => describe_text(endpoint, &crate::docker::describe(endpoint, e)),
    }
}

/// What went wrong on an established host, without naming the endpoint again.
pub fn cause(e: &bollard::errors::Error) -> String {
    describe_text("the engine", &crate::docker::full_chain(e))
}

/// Names the TLS failures, which rustls reports in words an operator would not search for.
pub fn describe_text(endpoint: &str, text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    // An alert comes from the engine: it refused what Slipway presented.
    if lower.contains("received fatal alert") && ["unknownca", "badcertificate", "certificaterequired", "accessdenied", "decrypterror", "certificateunknown"].iter().any(|a| lower.contains(a)) {
        format!("TLS verification failed for {endpoint}: the engine refused Slipway's client certificate (tls_cert/tls_key are not signed by a CA it trusts) ({text})")
    } else if lower.contains("invalid peer certificate") || lower.contains("unknownissuer") || lower.contains("certificate verify failed") || lower.contains("badsignature") {
        format!("TLS verification failed for {endpoint}: the engine's certificate is not signed by the CA given (tls_ca), or names another host ({text})")
    } else if lower.contains("corrupt message") || lower.contains("invalidcontenttype") || lower.contains("received corrupt") {
        format!("TLS handshake with {endpoint} failed: does it speak TLS on this port? ({text})")
    } else if (lower.contains("connection closed before message completed") || lower.contains("invalid http version") || lower.contains("connection reset")) && endpoint.starts_with("tcp://") {
        format!("{text} (a TLS-only endpoint? then give tls_ca, tls_cert and tls_key)")
    } else {
        text.to_string()
    }
}

// ---- Docker contexts ----

/// The operator's Docker contexts (`docker context ls`), as hosts to add. `DOCKER_CONFIG` moves
/// `~/.docker`, as it does for the CLI.
pub fn read_contexts() -> Vec<std::result::Result<HostInput, String>> {
    let Some(root) = docker_config_dir().map(|d| d.join("contexts")) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(root.join("meta")) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let meta = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&meta) else { continue };
        out.push(context_to_host(&text, &root.join("tls").join(entry.file_name()).join("docker")).map_err(|e| format!("{}: {e}", meta.display())));
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
    let (tls_ca, tls_cert, tls_key) = if kind == HostKind::Tcp { (file("ca.pem"), file("cert.pem"), file("key.pem")) } else { (None, None, None) };
    Ok(HostInput { name, kind, endpoint, tls_ca, tls_cert, tls_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_endpoints_parse() {
        assert_eq!(parse_ssh("ssh://deploy@box:2222").unwrap(), (Some("deploy".into()), "box".into(), Some(2222)));
        assert_eq!(parse_ssh("ssh://box").unwrap(), (None, "box".into(), None));
        assert_eq!(parse_ssh("ssh://me@[::1]:22").unwrap(), (Some("me".into()), "::1".into(), Some(22)));
        assert!(parse_ssh("ssh://me@box:abc").unwrap_err().contains("port"));
        assert!(parse_ssh("ssh://me@").unwrap_err().contains("host name"));
        assert!(parse_ssh("ssh://box/path").is_err());
    }

    fn input(kind: HostKind, endpoint: &str) -> HostInput {
        HostInput { name: "box".into(), kind, endpoint: endpoint.into(), tls_ca: None, tls_cert: None, tls_key: None }
    }

    #[test]
    fn validation_names_the_field() {
        let msg = |i| validate(i).unwrap_err().to_api().message;
        assert!(msg(input(HostKind::Ssh, "tcp://x:1")).starts_with("endpoint:"));
        assert!(msg(input(HostKind::Tcp, "tcp://")).starts_with("endpoint:"));
        assert!(msg(HostInput { name: " ".into(), ..input(HostKind::Tcp, "tcp://x:1") }).starts_with("name:"));
        assert!(msg(HostInput { tls_ca: Some("/nonexistent".into()), ..input(HostKind::Tcp, "tcp://x:1") }).starts_with("tls_cert:"));
        assert!(msg(HostInput { tls_ca: Some("/etc/hostname".into()), ..input(HostKind::Ssh, "ssh://x") }).starts_with("tls_ca:"));
        assert!(validate(input(HostKind::Ssh, "ssh://me@box:22")).is_ok());
    }

    #[test]
    fn tls_failures_are_named() {
        let m = describe_text("tcp://h:2376", "error trying to connect: invalid peer certificate: UnknownIssuer");
        assert!(m.starts_with("TLS verification failed for tcp://h:2376"), "{m}");
        let m = describe_text("tcp://h:2376", "connection error: received fatal alert: UnknownCA");
        assert!(m.starts_with("TLS verification failed") && m.contains("refused Slipway's client certificate"), "{m}");
        assert_eq!(describe_text("tcp://h:1", "connection refused"), "connection refused");
    }

    fn host(kind: HostKind, endpoint: &str) -> Host {
        Host { id: "box".into(), name: "box".into(), kind, endpoint: endpoint.into(), tls_ca: None, tls_cert: None, tls_key: None, created_at: 0, updated_at: 0 }
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
                let _ = s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes()).await;
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
        let tcp = context_to_host(r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#, dir.path()).unwrap();
        assert_eq!(tcp.kind, HostKind::Tcp);
        assert_eq!(tcp.tls_ca.as_deref(), Some(dir.path().join("ca.pem").to_str().unwrap()));
        let ssh = context_to_host(r#"{"Name":"edge","Endpoints":{"docker":{"Host":"ssh://deploy@edge"}}}"#, dir.path()).unwrap();
        assert_eq!((ssh.kind, ssh.tls_ca), (HostKind::Ssh, None));
        assert!(context_to_host(r#"{"Name":"k","Endpoints":{"kubernetes":{}}}"#, dir.path()).unwrap_err().contains("no docker endpoint"));
    }
}
