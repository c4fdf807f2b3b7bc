//! Docker hosts: the rows in the store, and reaching each one by its kind (a local socket,
//! `tcp://` with optional TLS, `ssh://` through bollard's ssh transport). Every failure becomes
//! one sentence naming the host and the cause; nothing secret is stored (TLS material by path,
//! SSH keys stay with ssh-agent and `~/.ssh`).

use std::path::Path;

use crate::{Error, ErrorCode, Result};

pub use slipway_protocol::host::{
    ContextImport, Drain, Host, HostEntry, HostInput, HostKind, HostState, HostStatus, HostTest, CONNECT_TIMEOUT, LOCAL_ID, MIN_API,
};

// ---- Store ----

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
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
    if crate::domain::project::slug(&input.name).is_empty() {
        return Err(invalid("name: give the host a name (letters or digits)"));
    }
    let scheme_ok = match input.kind {
        HostKind::Local => input.endpoint.starts_with("unix://") || input.endpoint.starts_with("npipe://"),
        HostKind::Tcp => {
            input.endpoint.starts_with("tcp://") || input.endpoint.starts_with("https://") || input.endpoint.starts_with("http://")
        }
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
        let missing = if input.tls_ca.is_none() {
            "tls_ca"
        } else if input.tls_cert.is_none() {
            "tls_cert"
        } else {
            "tls_key"
        };
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
    // One parser for every ssh:// address (hosts here, engines in the console); a Docker host
    // has no data directory.
    let t = slipway_protocol::remote::SshTarget::parse(endpoint.trim_end_matches('/'))?;
    if t.data_dir.is_some() {
        return Err("ssh:// endpoints take no path (ssh://user@host[:port])".into());
    }
    Ok((t.user, t.host, t.port))
}

// ---- Reaching a host ----

/// A host is put back in order when it answers again after it was seen unreachable (its Docker
/// engine restarted, the network came back): a deploy the outage cut short could not remove
/// what it had started. Its first answer after the engine started is not a return: the start
/// reconciles every host anyway.
pub fn came_back(before: Option<HostState>, now: HostState) -> bool {
    before == Some(HostState::Unreachable) && now == HostState::Reachable
}

// ---- Docker contexts ----

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
        assert!(parse_ssh("ssh://-oProxyCommand=touch%20x").unwrap_err().contains("cannot start with '-'"));
        assert!(parse_ssh("ssh://-oProxyCommand=x@box").unwrap_err().contains("cannot start with '-'"));
    }

    #[test]
    fn a_host_came_back_only_when_it_answers_after_it_was_seen_unreachable() {
        use HostState::*;
        for (before, now, want) in [
            (Some(Unreachable), Reachable, true),
            (None, Reachable, false),
            (Some(Unknown), Reachable, false),
            (Some(Reachable), Reachable, false),
            (Some(Unreachable), Unreachable, false),
            (Some(Reachable), Unreachable, false),
        ] {
            assert_eq!(came_back(before, now), want, "{before:?} → {now:?}");
        }
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
}
