//! The edge's settings as decisions: what a change makes of them (or why it is refused), and
//! the front Caddy's configuration they give: the public listener that is never reloaded.

pub use slipway_protocol::edge::{EdgeApplied, EdgeChange, EdgeConfig, EdgeTls};

/// Where the front writes its JSON access log (the deploys count their requests from it).
pub const ACCESS_LOG: &str = "/data/slipway/access.log";
/// Where the router listens and the front forwards to.
pub const ROUTER_SOCKET: &str = "/etc/caddy/router.sock";
/// Where the engine's hook socket is mounted in the edge.
pub const HOOKS_SOCKET: &str = "/run/slipway/hooks.sock";
/// Where the router answers Caddy's on-demand TLS `ask`: 200 for a host name it routes.
pub const ASK_PORT: u16 = 2020;
/// The private CA's root in the edge, when one is set.
pub const ACME_ROOT: &str = "/etc/caddy/acme-ca-root.pem";

/// `change` applied to `now`, or what to fix. Values from the environment cannot be changed
/// here (they would silently not apply): naming one of them is refused.
pub fn apply(now: &EdgeConfig, change: &EdgeChange) -> Result<EdgeConfig, String> {
    let mut next = now.clone();
    let fixed = |key: &str, given: bool| -> Result<(), String> {
        if given && now.from_env.iter().any(|k| k == key) {
            return Err(format!("edge {key} is set by the environment ({}): change it there", env_name(key)));
        }
        Ok(())
    };
    let opt = |v: &Option<String>| v.as_ref().map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()));
    fixed("image", change.image.is_some())?;
    fixed("http_port", change.http_port.is_some())?;
    fixed("https_port", change.https_port.is_some())?;
    fixed("domain", change.domain.is_some())?;
    fixed("hooks_host", change.hooks_host.is_some())?;
    fixed("tls", change.tls.is_some())?;
    fixed("acme_ca", change.acme_ca.is_some())?;
    fixed("email", change.email.is_some())?;
    fixed("acme_ca_root", change.acme_ca_root.is_some())?;
    if let Some(image) = &change.image {
        if image.trim().is_empty() || image.contains(char::is_whitespace) {
            return Err(format!("edge image {image:?}: give an image reference such as caddy:2-alpine"));
        }
        next.image = image.trim().to_string();
    }
    if let Some(p) = change.http_port {
        next.http_port = port("http_port", p)?;
    }
    if let Some(p) = change.https_port {
        next.https_port = port("https_port", p)?;
    }
    if let Some(d) = &change.domain {
        next.domain = host_name("domain", d)?;
    }
    if let Some(h) = opt(&change.hooks_host) {
        next.hooks_host = h.map(|h| host_name("hooks_host", &h)).transpose()?;
    }
    if let Some(t) = change.tls {
        next.tls = t;
    }
    if let Some(ca) = opt(&change.acme_ca) {
        if let Some(ca) = &ca {
            if !ca.starts_with("https://") || ca.len() <= "https://".len() {
                return Err(format!("edge acme_ca {ca:?}: give the ACME directory's https:// URL"));
            }
        }
        next.acme_ca = ca;
    }
    if let Some(email) = opt(&change.email) {
        if let Some(e) = &email {
            if !e.contains('@') || e.contains(char::is_whitespace) {
                return Err(format!("edge email {e:?} is not an e-mail address"));
            }
        }
        next.email = email;
    }
    if let Some(root) = opt(&change.acme_ca_root) {
        next.acme_ca_root = root;
    }
    if next.http_port == next.https_port {
        return Err(format!("edge http_port and https_port are both {}: give them different ports", next.http_port));
    }
    Ok(next)
}

fn port(key: &str, p: u16) -> Result<u16, String> {
    if p == 0 {
        return Err(format!("edge {key} 0: give a port from 1 to 65535"));
    }
    Ok(p)
}

/// A DNS name: letters, digits, `-` and dots, no scheme, port or path.
fn host_name(key: &str, text: &str) -> Result<String, String> {
    let h = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if h.is_empty() || h.len() > 253 || !h.split('.').all(label_ok) {
        return Err(format!("edge {key} {text:?} is not a host name (such as hooks.example.com: no scheme, port or path)"));
    }
    Ok(h)
}

/// The environment variable that fixes setting `key`.
pub fn env_name(key: &str) -> &'static str {
    match key {
        "image" => "SLIPWAY_EDGE_IMAGE",
        "http_port" => "SLIPWAY_EDGE_PORT",
        "https_port" => "SLIPWAY_EDGE_HTTPS_PORT",
        "domain" => "SLIPWAY_DOMAIN",
        "hooks_host" => "SLIPWAY_HOOKS_HOST",
        "tls" => "SLIPWAY_EDGE_TLS",
        "acme_ca" => "SLIPWAY_ACME_CA",
        "email" => "SLIPWAY_ACME_EMAIL",
        _ => "SLIPWAY_ACME_CA_ROOT",
    }
}

/// Every setting's key, as stored (`edge.<key>`) and named in `from_env`.
pub const KEYS: [&str; 9] = ["image", "http_port", "https_port", "domain", "hooks_host", "tls", "acme_ca", "email", "acme_ca_root"];

/// Whether the stages' names get HTTPS: once the domain is a real one (not `localhost`, a
/// `.localhost` name or an IP address, which no CA certifies).
pub fn stages_https(cfg: &EdgeConfig) -> bool {
    let d = cfg.domain.trim_end_matches('.');
    !(d == "localhost" || d.ends_with(".localhost") || d.parse::<std::net::IpAddr>().is_ok())
}

/// Whether the edge serves a name over HTTPS (and so publishes its HTTPS port): the stages'
/// names under a real domain; the hooks' name only on the edge that can reach the engine's
/// hook socket.
pub fn serves_https(cfg: &EdgeConfig, hooks_mounted: bool) -> bool {
    stages_https(cfg) || (hooks_mounted && cfg.hooks_host.is_some())
}

/// The front Caddy's whole configuration: written when the edge is created, never reloaded
/// (a reload reopens its TCP listeners). Everything but the hooks' name goes to the router over
/// a Unix socket, with retries that cover the router's start and its reloads. The hooks' name
/// is served over HTTPS only, `/hooks/*` passed to the engine's socket, the rest 404. Under a
/// real domain the stages' names are served over HTTPS too, each certificate obtained when its
/// name is first asked for and only if the router routes that name (on-demand TLS whose `ask`
/// is the router: the router is reloaded with every route, the front never is), and HTTP is
/// redirected to HTTPS. Caddy's automatic HTTPS answers the ACME challenges on the HTTP port.
pub fn front_caddyfile(cfg: &EdgeConfig, hooks_mounted: bool, root_given: bool) -> String {
    let mut global = vec!["admin off".to_string(), "persist_config off".to_string()];
    let (https, stages) = (serves_https(cfg, hooks_mounted), stages_https(cfg));
    if https {
        if let Some(ca) = &cfg.acme_ca {
            global.push(format!("acme_ca {ca}"));
        }
        if root_given {
            global.push(format!("acme_ca_root {ACME_ROOT}"));
        }
        if let Some(email) = &cfg.email {
            global.push(format!("email {email}"));
        }
    } else {
        global.push("auto_https off".to_string());
    }
    if stages {
        global.push(format!("on_demand_tls {{\n\t\task http://127.0.0.1:{ASK_PORT}/ask\n\t}}"));
    }
    let mut text = format!("{{\n\t{}\n}}\n\n", global.join("\n\t"));
    let internal = cfg.tls == EdgeTls::Internal;
    if let (true, Some(host)) = (https && hooks_mounted, &cfg.hooks_host) {
        let tls = if internal { "\ttls internal\n" } else { "" };
        text.push_str(&format!(
            "{host} {{\n{tls}\thandle /hooks/* {{\n\t\treverse_proxy unix/{HOOKS_SOCKET}\n\t}}\n\trespond \"Slipway: only /hooks/ is served at {host}\" 404\n}}\n\n"
        ));
    }
    let log =
        format!("\tlog {{\n\t\toutput file {ACCESS_LOG} {{\n\t\t\troll_size 10MiB\n\t\t\troll_keep 1\n\t\t}}\n\t\tformat json\n\t}}\n");
    let proxy = format!("\treverse_proxy unix/{ROUTER_SOCKET} {{\n\t\tlb_try_duration 10s\n\t\tlb_try_interval 50ms\n\t}}\n");
    if stages {
        let tls = if internal { "\ttls internal {\n\t\ton_demand\n\t}\n" } else { "\ttls {\n\t\ton_demand\n\t}\n" };
        text.push_str(&format!("https:// {{\n{tls}{log}{proxy}}}\n\n"));
        text.push_str(&format!(":80 {{\n{log}\tredir https://{{host}}{{uri}} 308\n}}\n"));
    } else {
        text.push_str(&format!(":80 {{\n{log}{proxy}}}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EdgeConfig {
        EdgeConfig {
            image: "caddy:2-alpine".into(),
            http_port: 8080,
            https_port: 443,
            domain: "localhost".into(),
            hooks_host: None,
            tls: EdgeTls::Acme,
            acme_ca: None,
            email: None,
            acme_ca_root: None,
            from_env: vec![],
        }
    }

    #[test]
    fn a_change_sets_what_it_names_and_an_empty_string_clears() {
        let c = EdgeChange { hooks_host: Some("Hooks.Example.com.".into()), email: Some("ops@example.com".into()), ..Default::default() };
        let next = apply(&config(), &c).unwrap();
        assert_eq!(next.hooks_host.as_deref(), Some("hooks.example.com"));
        assert_eq!(next.email.as_deref(), Some("ops@example.com"));
        assert_eq!(next.http_port, 8080, "what the change leaves out stays");
        let cleared = apply(&next, &EdgeChange { hooks_host: Some(String::new()), ..Default::default() }).unwrap();
        assert_eq!(cleared.hooks_host, None);
        assert_eq!(cleared.email.as_deref(), Some("ops@example.com"));
    }

    #[test]
    fn bad_values_are_refused_naming_the_setting() {
        for (change, words) in [
            (EdgeChange { hooks_host: Some("https://hooks.example.com/".into()), ..Default::default() }, "edge hooks_host"),
            (EdgeChange { hooks_host: Some("hooks.example.com:8443".into()), ..Default::default() }, "edge hooks_host"),
            (EdgeChange { domain: Some("-bad.example".into()), ..Default::default() }, "edge domain"),
            (EdgeChange { acme_ca: Some("http://ca.example/directory".into()), ..Default::default() }, "edge acme_ca"),
            (EdgeChange { email: Some("ops".into()), ..Default::default() }, "edge email"),
            (EdgeChange { http_port: Some(0), ..Default::default() }, "edge http_port 0"),
            (EdgeChange { https_port: Some(8080), ..Default::default() }, "both 8080"),
            (EdgeChange { image: Some("caddy 2".into()), ..Default::default() }, "edge image"),
        ] {
            let err = apply(&config(), &change).unwrap_err();
            assert!(err.contains(words), "{change:?}: {err}");
        }
    }

    #[test]
    fn a_setting_fixed_by_the_environment_is_refused_not_ignored() {
        let now = EdgeConfig { from_env: vec!["http_port".into()], ..config() };
        let err = apply(&now, &EdgeChange { http_port: Some(80), ..Default::default() }).unwrap_err();
        assert!(err.contains("SLIPWAY_EDGE_PORT"), "{err}");
        assert!(apply(&now, &EdgeChange { domain: Some("example.com".into()), ..Default::default() }).is_ok());
    }

    #[test]
    fn the_front_serves_the_hooks_name_over_https_only_where_the_hook_socket_is_mounted() {
        let cfg = EdgeConfig {
            hooks_host: Some("hooks.example.com".into()),
            acme_ca: Some("https://ca.test/acme/local/directory".into()),
            email: Some("ops@example.com".into()),
            ..config()
        };
        let text = front_caddyfile(&cfg, true, true);
        assert!(text.contains("hooks.example.com {\n\thandle /hooks/* {\n\t\treverse_proxy unix//run/slipway/hooks.sock"), "{text}");
        assert!(text
            .contains("acme_ca https://ca.test/acme/local/directory\n\tacme_ca_root /etc/caddy/acme-ca-root.pem\n\temail ops@example.com"));
        assert!(!text.contains("auto_https off"), "{text}");
        assert!(text.contains(":80 {"), "every other name still goes to the router: {text}");
        let remote = front_caddyfile(&cfg, false, true);
        assert!(remote.contains("auto_https off") && !remote.contains("hooks.example.com"), "{remote}");
        let lan = front_caddyfile(&EdgeConfig { tls: EdgeTls::Internal, ..cfg }, true, false);
        assert!(lan.contains("hooks.example.com {\n\ttls internal\n"), "{lan}");
        assert!(!lan.contains("acme_ca_root"), "{lan}");
        assert!(!lan.contains("on_demand"), "the stages stay on HTTP under localhost: {lan}");
    }

    #[test]
    fn under_a_real_domain_the_stages_get_https_on_demand_for_routed_names_and_http_redirects() {
        for (domain, https) in
            [("localhost", false), ("app.localhost", false), ("127.0.0.1", false), ("apps.example.com", true), ("lan", true)]
        {
            let cfg = EdgeConfig { domain: domain.into(), ..config() };
            assert_eq!(stages_https(&cfg), https, "{domain}");
            let text = front_caddyfile(&cfg, false, false);
            assert_eq!(text.contains("https:// {\n\ttls {\n\t\ton_demand"), https, "{domain}: {text}");
            assert_eq!(text.contains("ask http://127.0.0.1:2020/ask"), https, "{domain}: {text}");
            assert_eq!(text.contains("redir https://{host}{uri} 308"), https, "{domain}: {text}");
            assert_eq!(text.contains("auto_https off"), !https, "{domain}: {text}");
        }
        let lan = front_caddyfile(&EdgeConfig { domain: "lan".into(), tls: EdgeTls::Internal, ..config() }, false, false);
        assert!(lan.contains("https:// {\n\ttls internal {\n\t\ton_demand"), "{lan}");
    }
}
