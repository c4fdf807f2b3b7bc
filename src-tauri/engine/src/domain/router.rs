//! The edge's router: the Caddyfile that routes each stage's host name to its upstreams, and
//! answers a stage's readiness (`/.slipway/ready`) for a load balancer in front of several
//! hosts. Reloaded on every switch; the front Caddy (see [`super::edge`]) never is.

use std::collections::{BTreeMap, BTreeSet};

use super::edge::{ASK_PORT, ROUTER_SOCKET};

/// The path on every routed host name that says whether this host should get traffic: 200
/// `ready`, or 503 `draining` while the operator drains the host for the stage. Requests keep
/// being served either way; a load balancer's health check on this path takes the host out.
pub const READY_PATH: &str = "/.slipway/ready";

/// Where one stage's traffic goes: `name:port` upstreams with their weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub host: String,
    pub upstreams: Vec<(String, u32)>,
    /// Instead of fixed upstreams, `name:port` looked up in DNS every second: a Swarm service's
    /// `tasks.<service>` (its tasks come and go during an update; the edge follows).
    pub resolve: Option<(String, u16)>,
}

impl Route {
    /// Whether the route sends traffic anywhere.
    fn serves(&self) -> bool {
        !self.upstreams.is_empty() || self.resolve.is_some()
    }
}

/// The Caddyfile for `routes` (stage id → route); the stages in `drained` answer their
/// readiness path with 503. Retries on a refused connection cover an upstream that has just
/// stopped; the 404 names the host so a typo in a URL is obvious.
pub fn caddyfile(routes: &BTreeMap<String, Route>, drained: &BTreeSet<String>) -> String {
    let mut out =
        format!("{{\n\tadmin localhost:2019\n\tauto_https off\n\tpersist_config off\n}}\n\nhttp:// {{\n\tbind unix/{ROUTER_SOCKET}\n");
    for (i, (stage, r)) in routes.iter().enumerate() {
        if !r.serves() {
            continue;
        }
        out.push_str(&format!("\t# {stage}\n\t@r{i} host {}\n\thandle @r{i} {{\n", r.host));
        // A compose service's route is keyed `<stage id>/<service>`: the stage's drain covers it.
        let of_stage = stage.split_once('/').map_or(stage.as_str(), |(sid, _)| sid);
        let ready = if drained.contains(of_stage) { "\"draining\" 503" } else { "\"ready\" 200" };
        out.push_str(&format!("\t\thandle {READY_PATH} {{\n\t\t\trespond {ready}\n\t\t}}\n"));
        let upstreams = match &r.resolve {
            Some((name, port)) => {
                format!("{{\n\t\t\tdynamic a {name} {port} {{\n\t\t\t\trefresh 1s\n\t\t\t}}\n\t\t\tlb_policy round_robin\n")
            }
            None => {
                let names: Vec<&str> = r.upstreams.iter().map(|(u, _)| u.as_str()).collect();
                format!("{} {{\n\t\t\tlb_policy {}\n", names.join(" "), policy(&r.upstreams))
            }
        };
        out.push_str(&format!(
            "\t\thandle {{\n\t\t\treverse_proxy {upstreams}\t\t\tlb_retries 5\n\t\t\tlb_try_duration 10s\n\t\t\tlb_try_interval 100ms\n\t\t\tfail_duration 2s\n\t\t}}\n\t\t}}\n\t}}\n"
        ));
    }
    out.push_str("\thandle {\n\t\trespond \"Slipway: nothing is deployed at {host}\" 404\n\t}\n}\n");
    // The front's on-demand TLS asks here before it gets a certificate for a name: only the
    // names routed now get one (anyone can point a name at this machine).
    out.push_str(&format!("\nhttp://127.0.0.1:{ASK_PORT} {{\n\tbind 127.0.0.1\n"));
    for (i, r) in routes.values().filter(|r| r.serves()).enumerate() {
        out.push_str(&format!("\t@a{i} query domain={}\n\trespond @a{i} 200\n", r.host));
    }
    out.push_str("\trespond 404\n}\n");
    out
}

fn policy(upstreams: &[(String, u32)]) -> String {
    let weights = lowest_terms(&upstreams.iter().map(|(_, w)| *w).collect::<Vec<_>>());
    if weights.iter().all(|w| *w == weights[0]) {
        "round_robin".to_string()
    } else {
        format!("weighted_round_robin {}", weights.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
    }
}

/// Weights divided by their greatest common divisor. Caddy's weighted round robin sends each
/// upstream its whole weight in a row: with 80/20 a canary would wait 80 requests for its first
/// one after every reload, with 4/1 it waits 4.
fn lowest_terms(weights: &[u32]) -> Vec<u32> {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = weights.iter().fold(0, |g, w| gcd(g, *w)).max(1);
    weights.iter().map(|w| w / g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> BTreeMap<String, Route> {
        let mut routes = BTreeMap::new();
        routes.insert(
            "web:dev".to_string(),
            Route { host: "stage-dev-web.localhost".into(), upstreams: vec![("a:80".into(), 90), ("b:80".into(), 10)], resolve: None },
        );
        routes.insert(
            "web:prod".to_string(),
            Route { host: "launcher.localhost".into(), upstreams: vec![("c:80".into(), 1)], resolve: None },
        );
        routes
    }

    #[test]
    fn caddyfile_routes_by_host_with_weights() {
        let text = caddyfile(&routes(), &BTreeSet::new());
        assert!(text.contains("@r0 host stage-dev-web.localhost"), "{text}");
        assert!(text.contains("reverse_proxy a:80 b:80 {\n\t\t\tlb_policy weighted_round_robin 9 1"), "{text}");
        assert!(text.contains("@r1 host launcher.localhost"), "{text}");
        assert!(text.contains("reverse_proxy c:80 {\n\t\t\tlb_policy round_robin"), "{text}");
        assert_eq!(lowest_terms(&[80, 80, 40]), [2, 2, 1]);
        assert_eq!(lowest_terms(&[70, 30]), [7, 3]);
        assert_eq!(lowest_terms(&[0, 0]), [0, 0]);
        assert!(text.contains("respond \"Slipway: nothing is deployed at {host}\" 404\n\t}\n}\n"));
        assert!(
            text.contains("@a0 query domain=stage-dev-web.localhost\n\trespond @a0 200\n\t@a1 query domain=launcher.localhost"),
            "{text}"
        );
        assert!(text.ends_with("\trespond 404\n}\n"), "{text}");
    }

    #[test]
    fn a_drained_stage_says_draining_on_its_ready_path_and_keeps_serving() {
        let text = caddyfile(&routes(), &BTreeSet::from(["web:dev".to_string()]));
        let dev = &text[text.find("# web:dev").unwrap()..text.find("# web:prod").unwrap()];
        assert!(dev.contains("handle /.slipway/ready {\n\t\t\trespond \"draining\" 503"), "{dev}");
        assert!(dev.contains("reverse_proxy a:80 b:80"), "a drained host still serves: {dev}");
        let prod = &text[text.find("# web:prod").unwrap()..];
        assert!(prod.contains("respond \"ready\" 200"), "{prod}");
        let mut compose = BTreeMap::new();
        compose.insert("web:dev/api".to_string(), Route { host: "api.h".into(), upstreams: vec![("a:80".into(), 1)], resolve: None });
        let text = caddyfile(&compose, &BTreeSet::from(["web:dev".to_string()]));
        assert!(text.contains("respond \"draining\" 503"), "a compose service's route follows its stage's drain: {text}");
    }

    #[test]
    fn a_swarm_route_resolves_its_tasks_every_second() {
        let mut r = BTreeMap::new();
        r.insert("web:dev".to_string(), Route { host: "h".into(), upstreams: vec![], resolve: Some(("tasks.svc".into(), 80)) });
        let text = caddyfile(&r, &BTreeSet::new());
        assert!(
            text.contains("reverse_proxy {\n\t\t\tdynamic a tasks.svc 80 {\n\t\t\t\trefresh 1s\n\t\t\t}\n\t\t\tlb_policy round_robin"),
            "{text}"
        );
    }
}
