//! Attaching to an engine on another machine: `ssh://[user@]host[:port][/data-dir]`.
//!
//! The engine's API stays on the server's loopback. The console runs the system's OpenSSH
//! client twice, with the same rules as SSH Docker hosts (strict known_hosts, the agent,
//! `~/.ssh/config`, never a ControlMaster): once to run `slipwayd attach-info` there, which
//! prints where the API listens and its token (so the token crosses the wire inside SSH only,
//! is never typed and never lands in a file or an argument here), and once as `ssh -N -L` that
//! forwards a local loopback port to that address for as long as the console is attached.
//! Reconnecting is attaching again: the engine may have restarted on another port.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::client::Client;
use crate::{ApiError, ErrorCode, Result};

/// ssh's own connect timeout (seconds), and the bound on the `attach-info` call.
const SSH_CONNECT_TIMEOUT: u64 = 10;
const INFO_TIMEOUT: Duration = Duration::from_secs(25);
/// How long the forward may take to carry its first answer.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a console's engine is: this machine's (found through the data directory) or one
/// reached over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineAddress {
    Local,
    Ssh(SshTarget),
}

impl EngineAddress {
    /// `local` (or nothing) for this machine's engine, or an `ssh://` address.
    pub fn parse(s: &str) -> Result<EngineAddress> {
        let s = s.trim();
        if s.is_empty() || s == "local" {
            return Ok(EngineAddress::Local);
        }
        if !s.starts_with("ssh://") {
            return Err(invalid(format!("engine address {s:?}: use `local` or ssh://[user@]host[:port][/data-dir]")));
        }
        SshTarget::parse(s).map(EngineAddress::Ssh).map_err(|m| invalid(format!("engine address {s:?}: {m}")))
    }

    /// How the address is written back (settings, the window's title).
    pub fn label(&self) -> String {
        match self {
            EngineAddress::Local => "local".into(),
            EngineAddress::Ssh(t) => t.label(),
        }
    }
}

/// An `ssh://` endpoint, with the remote engine's data directory when it is not the SSH user's
/// default (or the system service's `/var/lib/slipway`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub data_dir: Option<String>,
}

impl SshTarget {
    /// Parses `ssh://[user@]host[:port][/path]`. What ssh would take for an option, and a path
    /// a shell would read as more than a path, are refused.
    pub fn parse(endpoint: &str) -> std::result::Result<SshTarget, String> {
        let rest = endpoint.strip_prefix("ssh://").ok_or("the address must start with ssh://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()).filter(|u| !u.is_empty()), h),
            None => (None, authority),
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
        // The system's ssh would read a leading dash as one of its options (`-oProxyCommand=…`).
        if host.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err("a user or host name cannot start with '-' (ssh would take it for an option)".into());
        }
        let port = match port {
            Some(p) => Some(p.parse::<u16>().map_err(|_| format!("{p:?} is not a port number"))?),
            None => None,
        };
        let data_dir = match path.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty()) {
            None => None,
            // It travels inside the remote command line: only characters no shell reads twice.
            Some(p) if p.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) => Some(p.to_string()),
            Some(p) => return Err(format!("the data directory {p:?} may hold only letters, digits and / . _ -")),
        };
        Ok(SshTarget { user, host, port, data_dir })
    }

    pub fn label(&self) -> String {
        let user = self.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("ssh://{user}{host}{port}{}", self.data_dir.as_deref().unwrap_or(""))
    }

    /// ssh's options and destination: strict host keys, no prompts, no shared master.
    fn ssh_args(&self) -> Vec<String> {
        let mut args: Vec<String> =
            ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none"]
                .map(String::from)
                .into();
        args.extend(["-o".into(), format!("ConnectTimeout={SSH_CONNECT_TIMEOUT}")]);
        if let Some(p) = self.port {
            args.extend(["-p".into(), p.to_string()]);
        }
        if let Some(u) = &self.user {
            args.extend(["-l".into(), u.clone()]);
        }
        args.push(self.host.clone());
        args
    }

    /// The remote command that prints the engine's address and token.
    fn info_command(&self) -> String {
        let slipwayd = std::env::var("SLIPWAY_REMOTE_SLIPWAYD").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "slipwayd".into());
        match &self.data_dir {
            Some(d) => format!("{slipwayd} --data-dir '{d}' attach-info"),
            None => format!("{slipwayd} attach-info"),
        }
    }
}

/// The window's link to its engine, as the UI shows it (title bar, Status view, the banner
/// while it reconnects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ConsoleLink {
    /// `local` or the `ssh://` address.
    pub address: String,
    pub remote: bool,
    pub connected: bool,
    /// Why it is not connected, and what it does about it (`retrying in 4 s`).
    pub message: Option<String>,
}

/// What `slipwayd attach-info` prints on the server: one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachInfo {
    /// The API's loopback address on the server, `IP:PORT`.
    pub api: String,
    pub token: String,
    pub version: String,
    pub data_dir: String,
}

/// A console attached to a remote engine: the client points at the forwarded port. Dropping
/// it ends the tunnel.
pub struct Attached {
    pub client: Client,
    pub info: AttachInfo,
    pub tunnel: Tunnel,
}

/// The `ssh -N -L` process that carries the API; killed when dropped.
pub struct Tunnel {
    /// Held for its kill-on-drop: the process ends with the tunnel.
    _child: Child,
    pub local: SocketAddr,
}

/// Attaches to the engine at `target`: reads its address and token over SSH, forwards a local
/// port to it, and waits until the engine answers through the forward.
pub async fn attach(target: &SshTarget) -> Result<Attached> {
    let info = attach_info(target).await?;
    let local = free_local_port()?;
    let mut cmd = Command::new("ssh");
    cmd.args(["-N", "-T", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2"])
        .arg("-L")
        .arg(format!("127.0.0.1:{}:{}", local.port(), info.api))
        .args(target.ssh_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| unavailable(target, &format!("cannot run ssh: {e}")))?;
    let client = Client::new(&format!("http://{local}"), &info.token);
    let deadline = Instant::now() + FORWARD_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut stderr).await;
            }
            return Err(unavailable(target, &format!("the SSH tunnel ended ({status}): {}", last_line(&stderr))));
        }
        if client.call(crate::ops::GetStatus {}).await.is_ok() {
            // ssh's later words (a dropped connection) are not read: the link's state says it.
            drop(child.stderr.take());
            return Ok(Attached { client, info, tunnel: Tunnel { _child: child, local } });
        }
        if Instant::now() > deadline {
            return Err(unavailable(
                target,
                &format!("the engine did not answer through the SSH tunnel within {} s", FORWARD_TIMEOUT.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `slipwayd attach-info` on the server and reads its answer.
async fn attach_info(target: &SshTarget) -> Result<AttachInfo> {
    let mut cmd = Command::new("ssh");
    cmd.arg("-T")
        .args(target.ssh_args())
        .arg("--")
        .arg(target.info_command())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(INFO_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(unavailable(target, &format!("ssh did not finish within {} s", INFO_TIMEOUT.as_secs()))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unavailable(target, "no `ssh` client on this machine: Slipway attaches through the system's OpenSSH client"))
        }
        Ok(Err(e)) => return Err(unavailable(target, &format!("cannot run ssh: {e}"))),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
        return serde_json::from_str(line).map_err(|e| {
            unavailable(
                target,
                &format!("`slipwayd attach-info` answered something unexpected ({e}); is the server's slipwayd this version?"),
            )
        });
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The remote slipwayd's own failure (no engine running there) comes as its `error: …` line.
    Err(unavailable(target, &explain(out.status.code(), &stderr)))
}

/// ssh's or the remote command's failure, as what to do about it.
pub fn explain(code: Option<i32>, stderr: &str) -> String {
    let detail = last_line(stderr);
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return "its SSH host key has CHANGED: Slipway refuses to connect. This can be an attack; if the host was reinstalled, \
                remove the old key with `ssh-keygen -R <host>` and check the new one"
            .into();
    }
    if stderr.contains("Host key verification failed") {
        return "its SSH host key is not in known_hosts: Slipway never accepts a host key on its own. Check the fingerprint, then add \
                the key (for example `ssh-keyscan -p <port> <host> >> ~/.ssh/known_hosts`)"
            .into();
    }
    if stderr.contains("Permission denied") || stderr.contains("Too many authentication failures") {
        return format!("SSH authentication failed ({detail}): load the right key into ssh-agent, or set IdentityFile in ~/.ssh/config");
    }
    if code == Some(127) || stderr.contains("slipwayd: not found") || stderr.contains("command not found") {
        return "the server has no `slipwayd` on the PATH of non-interactive logins: install Slipway there (or set \
                SLIPWAY_REMOTE_SLIPWAYD to its path)"
            .into();
    }
    if code != Some(255) {
        return format!("`slipwayd attach-info` failed there: {detail}");
    }
    format!("SSH failed: {detail}")
}

fn last_line(stderr: &str) -> String {
    let line = stderr.lines().map(str::trim).rfind(|l| !l.is_empty() && !l.starts_with("Warning:")).unwrap_or("no message from ssh");
    line.trim_start_matches("error: ").trim_end_matches('.').to_string()
}

/// A loopback port nothing listens on now. (ssh binds it a moment later; a race with another
/// program shows as ssh's "Address already in use", and attaching again picks another.)
fn free_local_port() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

fn unavailable(target: &SshTarget, why: &str) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("cannot attach to the engine at {}: {why}", target.label()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_local_or_ssh_with_user_port_and_data_dir() {
        assert_eq!(EngineAddress::parse("").unwrap(), EngineAddress::Local);
        assert_eq!(EngineAddress::parse("local").unwrap(), EngineAddress::Local);
        let EngineAddress::Ssh(t) = EngineAddress::parse("ssh://ops@build.example:2222/var/lib/slipway/").unwrap() else { panic!() };
        assert_eq!(
            t,
            SshTarget {
                user: Some("ops".into()),
                host: "build.example".into(),
                port: Some(2222),
                data_dir: Some("/var/lib/slipway".into())
            }
        );
        assert_eq!(t.label(), "ssh://ops@build.example:2222/var/lib/slipway");
        let EngineAddress::Ssh(t) = EngineAddress::parse("ssh://[::1]").unwrap() else { panic!() };
        assert_eq!((t.host.as_str(), t.port, t.label()), ("::1", None, "ssh://[::1]".to_string()));
    }

    #[test]
    fn what_ssh_or_a_shell_would_misread_is_refused() {
        for (bad, why) in [
            ("http://box", "use `local` or ssh://"),
            ("ssh://", "host name is missing"),
            ("ssh://-oProxyCommand=x", "cannot start with '-'"),
            ("ssh://box:99999", "not a port number"),
            ("ssh://box/srv/$(reboot)", "only letters, digits"),
            ("ssh://box/srv/a b", "only letters, digits"),
        ] {
            let e = EngineAddress::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn the_data_dir_travels_quoted_in_the_remote_command() {
        let t = SshTarget::parse("ssh://box/var/lib/slipway").unwrap();
        assert!(t.info_command().ends_with("--data-dir '/var/lib/slipway' attach-info"));
        assert!(SshTarget::parse("ssh://box").unwrap().info_command().ends_with("slipwayd attach-info"));
    }

    #[test]
    fn failures_say_what_to_do() {
        assert!(explain(Some(255), "Host key verification failed.").contains("known_hosts"));
        assert!(explain(Some(255), "Permission denied (publickey).").contains("ssh-agent"));
        assert!(explain(Some(127), "bash: slipwayd: command not found").contains("no `slipwayd`"));
        assert_eq!(
            explain(Some(1), "error: no Slipway engine is running"),
            "`slipwayd attach-info` failed there: no Slipway engine is running"
        );
    }
}
