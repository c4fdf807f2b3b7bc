//! Checks an `ssh://` host with the system `ssh` client before the Docker transport
//! ([`crate::adapters::docker::dial_stdio`]) uses it.
//!
//! A connection that fails there (a host key never seen, a failed login, no remote `docker`)
//! shows only as a closed connection. Running the same client once, with the same strict
//! checking, `~/.ssh/config`, agent and `known_hosts`, refuses unknown and changed keys and gives
//! ssh's own words to turn into a sentence.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// ssh's own connect timeout (seconds), and the bound on the whole check.
const SSH_CONNECT_TIMEOUT: u64 = 10;
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(20);

/// `ssh -p PORT [-l USER] HOST` arguments for an `ssh://` endpoint.
pub(crate) fn destination(endpoint: &str) -> Result<Vec<String>, String> {
    let (user, host, port) = crate::domain::host::parse_ssh(endpoint)?;
    let mut args = Vec::new();
    if let Some(p) = port {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    if let Some(u) = user {
        args.extend(["-l".to_string(), u]);
    }
    args.push(host);
    Ok(args)
}

/// Logs in once, strictly, and runs `docker --version` on the remote. Ok when bollard's
/// transport will find a known host, a working login and a docker CLI for `dial-stdio`.
pub async fn preflight(endpoint: &str) -> Result<(), String> {
    let dest = destination(endpoint)?;
    let mut cmd = Command::new("ssh");
    cmd.args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("ConnectTimeout={SSH_CONNECT_TIMEOUT}"))
        .args(["-o", "ControlMaster=no", "-o", "ControlPath=none", "-T"])
        .args(&dest)
        .args(["--", "docker", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(PREFLIGHT_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(format!("ssh to {endpoint} did not finish within {} s", PREFLIGHT_TIMEOUT.as_secs())),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no `ssh` client on this machine: Slipway reaches ssh:// hosts through the system's OpenSSH client".into())
        }
        Ok(Err(e)) => return Err(format!("cannot run ssh: {e}")),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let fingerprints = if unknown_host_key(&stderr) { scan_fingerprints(&dest).await } else { Vec::new() };
    Err(explain(endpoint, out.status.code(), &stderr, &fingerprints))
}

fn unknown_host_key(stderr: &str) -> bool {
    stderr.contains("Host key verification failed") && !stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
}

/// ssh's failure as one sentence. `code` is ssh's exit status: 255 for ssh's own failures,
/// otherwise the remote command's.
pub fn explain(endpoint: &str, code: Option<i32>, stderr: &str, fingerprints: &[String]) -> String {
    let detail = last_line(stderr);
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        let offered = changed_fingerprint(stderr).map(|f| format!(" (it now presents {f})")).unwrap_or_default();
        return format!(
            "the SSH host key of {endpoint} has CHANGED{offered}: Slipway refuses to connect. This can be an attack; \
             if the host was reinstalled, remove the old key with `ssh-keygen -R <host>` and check the new one"
        );
    }
    if unknown_host_key(stderr) {
        let offered = if fingerprints.is_empty() { String::new() } else { format!(" (it presents {})", fingerprints.join(", ")) };
        return format!(
            "the SSH host key of {endpoint} is not in known_hosts{offered}: Slipway never accepts a host key on its own. \
             Check the fingerprint, then add the key (for example `ssh-keyscan -p <port> <host> >> ~/.ssh/known_hosts`)"
        );
    }
    if stderr.contains("Permission denied") || stderr.contains("Too many authentication failures") {
        return format!(
            "SSH authentication to {endpoint} failed ({detail}): load the right key into ssh-agent, or set IdentityFile for the host in ~/.ssh/config"
        );
    }
    if stderr.contains("Connection refused") {
        return format!("SSH to {endpoint}: connection refused ({detail}): is sshd running on that port?");
    }
    if stderr.contains("Could not resolve hostname") {
        return format!("SSH to {endpoint}: the host name does not resolve ({detail})");
    }
    if stderr.contains("timed out") {
        return format!("SSH to {endpoint}: timed out ({detail})");
    }
    if code == Some(127) || stderr.contains("command not found") || stderr.contains("docker: not found") {
        return format!(
            "{endpoint} has no `docker` command for the SSH user: Slipway (like `docker -H ssh://`) runs `docker system dial-stdio` \
             on the remote, so install the docker CLI there and put it on the PATH of non-interactive logins"
        );
    }
    if code != Some(255) {
        return format!("`docker --version` failed on {endpoint} over SSH (exit {}): {detail}", code.unwrap_or(-1));
    }
    format!("SSH to {endpoint} failed: {detail}")
}

fn last_line(stderr: &str) -> String {
    let line = stderr.lines().map(str::trim).rfind(|l| !l.is_empty() && !l.starts_with("Warning:")).unwrap_or("no message from ssh");
    line.trim_end_matches('.').to_string()
}

/// ssh prints "The fingerprint for the ED25519 key sent by the remote host is\nSHA256:…".
fn changed_fingerprint(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    while let Some(l) = lines.next() {
        if let Some(rest) = l.split("The fingerprint for the ").nth(1) {
            let kind = rest.split_whitespace().next().unwrap_or("");
            let fp = lines.next()?.trim().trim_end_matches('.');
            return Some(format!("{kind} {fp}"));
        }
    }
    None
}

/// The fingerprints the server offers, so the operator can compare them with the host's own
/// (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) before trusting it. Host and port come
/// from `ssh -G`, which applies `~/.ssh/config` (HostName, Port) as the connection would.
async fn scan_fingerprints(dest: &[String]) -> Vec<String> {
    let bounded = |c: &mut Command| {
        c.stdin(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
    };
    let mut g = Command::new("ssh");
    g.arg("-G").args(dest);
    bounded(&mut g);
    let Ok(Ok(conf)) = tokio::time::timeout(Duration::from_secs(5), g.output()).await else { return Vec::new() };
    let conf = String::from_utf8_lossy(&conf.stdout).to_string();
    let field = |k: &str| conf.lines().find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(' ')).map(str::to_string));
    let (Some(host), Some(port)) = (field("hostname"), field("port")) else { return Vec::new() };
    let mut scan = Command::new("ssh-keyscan");
    scan.args(["-T", "5", "-p", &port, &host]);
    bounded(&mut scan);
    let Ok(Ok(keys)) = tokio::time::timeout(Duration::from_secs(10), scan.output()).await else { return Vec::new() };
    let Ok(dir) = tempfile_dir() else { return Vec::new() };
    let file = dir.join("keys");
    if std::fs::write(&file, &keys.stdout).is_err() {
        return Vec::new();
    }
    let mut lf = Command::new("ssh-keygen");
    lf.arg("-lf").arg(&file);
    bounded(&mut lf);
    let out = tokio::time::timeout(Duration::from_secs(5), lf.output()).await;
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(Ok(out)) = out else { return Vec::new() };
    // "256 SHA256:abc… [127.0.0.1]:2222 (ED25519)" → "ED25519 SHA256:abc…"
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let fp = parts.nth(1)?;
            let kind = l.rsplit('(').next()?.trim_end_matches(')');
            Some(format!("{kind} {fp}"))
        })
        .collect()
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("slipway-keyscan-{}-{}", std::process::id(), crate::domain::now_ms()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: &str = "ssh://deploy@box:2222";

    #[test]
    fn unknown_key_names_the_fingerprint() {
        let stderr =
            "No ED25519 host key is known for [box]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n";
        let m = explain(E, Some(255), stderr, &["ED25519 SHA256:abcd".into()]);
        assert!(m.contains("not in known_hosts") && m.contains("ED25519 SHA256:abcd") && m.contains(E), "{m}");
    }

    #[test]
    fn changed_key_is_refused_loudly() {
        let stderr = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
            IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
            The fingerprint for the ED25519 key sent by the remote host is\n\
            SHA256:newkey.\n\
            Host key verification failed.\n";
        let m = explain(E, Some(255), stderr, &[]);
        assert!(m.contains("CHANGED") && m.contains("ED25519 SHA256:newkey"), "{m}");
    }

    #[test]
    fn auth_refusal_and_missing_docker() {
        let m = explain(E, Some(255), "deploy@127.0.0.1: Permission denied (publickey).\r\n", &[]);
        assert!(m.starts_with("SSH authentication to ssh://deploy@box:2222 failed") && m.contains("Permission denied (publickey)"), "{m}");
        let m = explain(E, Some(127), "bash: line 1: docker: command not found\n", &[]);
        assert!(m.contains("no `docker` command") && m.contains("dial-stdio"), "{m}");
        let m = explain(E, Some(255), "ssh: connect to host box port 2222: Connection refused\r\n", &[]);
        assert!(m.contains("connection refused"), "{m}");
    }
}
