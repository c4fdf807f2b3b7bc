//! For operators who already run a proxy instead of Slipway's Caddy edge: Traefik (which reads
//! routes from container labels) and Nginx Proxy Manager (whose REST API holds proxy hosts).
//! Neither can run here, so the labels and the exact API requests are what the tests pin.

use std::collections::HashMap;

use serde_json::{json, Value};

/// Labels that make Traefik's Docker provider route `host` to this container's `port`. Blue
/// and green share the router and service names, so Traefik balances across both while both
/// run, and the old one leaves the pool when it stops.
pub fn traefik_labels(router: &str, host: &str, port: u16, network: &str, health_path: Option<&str>) -> HashMap<String, String> {
    let mut l = HashMap::from([
        ("traefik.enable".to_string(), "true".to_string()),
        (format!("traefik.http.routers.{router}.rule"), format!("Host(`{host}`)")),
        (format!("traefik.http.routers.{router}.service"), router.to_string()),
        (format!("traefik.http.services.{router}.loadbalancer.server.port"), port.to_string()),
        ("traefik.docker.network".to_string(), network.to_string()),
    ]);
    if let Some(path) = health_path {
        l.insert(format!("traefik.http.services.{router}.loadbalancer.healthcheck.path"), path.to_string());
        l.insert(format!("traefik.http.services.{router}.loadbalancer.healthcheck.interval"), "2s".to_string());
    }
    l
}

/// A client of Nginx Proxy Manager's API (`/api/tokens`, `/api/nginx/proxy-hosts`).
pub struct Npm {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Npm {
    /// `base` is NPM's admin URL, e.g. `http://npm:81`.
    pub fn new(base: &str) -> Npm {
        Npm {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(15)).build().unwrap_or_default(),
            token: None,
        }
    }

    /// Logs in with the admin's email and password; the token lasts for the session.
    pub async fn login(&mut self, identity: &str, secret: &str) -> Result<(), String> {
        let resp = self
            .http
            .post(format!("{}/api/tokens", self.base))
            .json(&json!({"identity": identity, "secret": secret}))
            .send()
            .await
            .map_err(|e| format!("Nginx Proxy Manager at {}: {e}", self.base))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "Nginx Proxy Manager refused the login ({status}): {}",
                body["error"]["message"].as_str().unwrap_or("no message")
            ));
        }
        self.token = Some(body["token"].as_str().ok_or("Nginx Proxy Manager answered the login without a token")?.to_string());
        Ok(())
    }

    /// Points `host` at `forward_host:forward_port`: updates the proxy host that serves it, or
    /// creates one.
    pub async fn upsert_proxy_host(&self, host: &str, forward_host: &str, forward_port: u16) -> Result<i64, String> {
        let token = self.token.as_deref().ok_or("not logged in to Nginx Proxy Manager")?;
        let list: Value = self
            .http
            .get(format!("{}/api/nginx/proxy-hosts", self.base))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let existing =
            list.as_array().and_then(|a| a.iter().find(|h| h["domain_names"].as_array().is_some_and(|d| d.iter().any(|n| n == host))));
        let body = json!({
            "domain_names": [host],
            "forward_scheme": "http",
            "forward_host": forward_host,
            "forward_port": forward_port,
            "access_list_id": 0,
            "certificate_id": 0,
            "ssl_forced": false,
            "caching_enabled": false,
            "block_exploits": true,
            "allow_websocket_upgrade": true,
            "http2_support": false,
            "hsts_enabled": false,
            "hsts_subdomains": false,
            "meta": {},
            "advanced_config": "",
            "locations": [],
        });
        let req = match existing.and_then(|h| h["id"].as_i64()) {
            Some(id) => self.http.put(format!("{}/api/nginx/proxy-hosts/{id}", self.base)),
            None => self.http.post(format!("{}/api/nginx/proxy-hosts", self.base)),
        };
        let resp = req.bearer_auth(token).json(&body).send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "Nginx Proxy Manager refused proxy host {host} ({status}): {}",
                v["error"]["message"].as_str().unwrap_or("no message")
            ));
        }
        v["id"].as_i64().ok_or_else(|| format!("Nginx Proxy Manager answered without an id for {host}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn traefik_labels_route_the_host_to_the_port() {
        let l = traefik_labels("web-dev", "stage-dev-web.example.com", 3000, "slipway-ab12", Some("/health"));
        assert_eq!(l["traefik.enable"], "true");
        assert_eq!(l["traefik.http.routers.web-dev.rule"], "Host(`stage-dev-web.example.com`)");
        assert_eq!(l["traefik.http.routers.web-dev.service"], "web-dev");
        assert_eq!(l["traefik.http.services.web-dev.loadbalancer.server.port"], "3000");
        assert_eq!(l["traefik.docker.network"], "slipway-ab12");
        assert_eq!(l["traefik.http.services.web-dev.loadbalancer.healthcheck.path"], "/health");
        assert_eq!(traefik_labels("a", "h", 80, "n", None).len(), 5);
    }

    type Seen = Arc<Mutex<Vec<(String, String, Option<String>, Value)>>>;

    /// A stand-in for NPM that records method, path, bearer token and body, and answers as
    /// NPM documents (token on login; the proxy host with its id).
    async fn fake_npm(existing: Value) -> (String, Seen) {
        let seen: Seen = Default::default();
        let s = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method, uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let s = s.clone();
                let existing = existing.clone();
                async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(String::from);
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    s.lock().unwrap().push((method.to_string(), uri.path().to_string(), auth, json.clone()));
                    let answer = match (method.as_str(), uri.path()) {
                        ("POST", "/api/tokens") if json["secret"] == "right" => {
                            json!({"token": "tok-1", "expires": "2030-01-01T00:00:00Z"})
                        }
                        ("POST", "/api/tokens") => {
                            return (
                                axum::http::StatusCode::UNAUTHORIZED,
                                axum::Json(json!({"error": {"code": 401, "message": "Invalid password"}})),
                            )
                        }
                        ("GET", "/api/nginx/proxy-hosts") => existing,
                        (_, p) if p.starts_with("/api/nginx/proxy-hosts") => json!({"id": 7, "domain_names": json["domain_names"]}),
                        _ => return (axum::http::StatusCode::NOT_FOUND, axum::Json(Value::Null)),
                    };
                    (axum::http::StatusCode::CREATED, axum::Json(answer))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, seen)
    }

    #[tokio::test]
    async fn npm_logs_in_then_creates_a_proxy_host() {
        let (url, seen) = fake_npm(json!([])).await;
        let mut npm = Npm::new(&url);
        npm.login("ops@example.com", "right").await.unwrap();
        assert_eq!(npm.upsert_proxy_host("stage-dev-web.example.com", "slipway-ab12-web-dev-4-0", 3000).await.unwrap(), 7);
        let seen = seen.lock().unwrap();
        assert_eq!((seen[0].0.as_str(), seen[0].1.as_str()), ("POST", "/api/tokens"));
        assert_eq!(seen[0].3, json!({"identity": "ops@example.com", "secret": "right"}));
        assert_eq!((seen[1].0.as_str(), seen[1].1.as_str(), seen[1].2.as_deref()), ("GET", "/api/nginx/proxy-hosts", Some("Bearer tok-1")));
        assert_eq!(
            (seen[2].0.as_str(), seen[2].1.as_str(), seen[2].2.as_deref()),
            ("POST", "/api/nginx/proxy-hosts", Some("Bearer tok-1"))
        );
        let body = &seen[2].3;
        assert_eq!(body["domain_names"], json!(["stage-dev-web.example.com"]));
        assert_eq!(
            (body["forward_scheme"].as_str(), body["forward_host"].as_str(), body["forward_port"].as_u64()),
            (Some("http"), Some("slipway-ab12-web-dev-4-0"), Some(3000))
        );
        assert_eq!(body["allow_websocket_upgrade"], true);
    }

    #[tokio::test]
    async fn npm_updates_the_host_that_serves_the_name_and_reports_a_bad_login() {
        let (url, seen) =
            fake_npm(json!([{"id": 3, "domain_names": ["other.example.com"]}, {"id": 7, "domain_names": ["stage-dev-web.example.com"]}]))
                .await;
        let mut npm = Npm::new(&url);
        let err = npm.login("ops@example.com", "wrong").await.unwrap_err();
        assert!(err.contains("refused the login") && err.contains("Invalid password"), "{err}");
        npm.login("ops@example.com", "right").await.unwrap();
        npm.upsert_proxy_host("stage-dev-web.example.com", "green", 80).await.unwrap();
        let seen = seen.lock().unwrap();
        let last = seen.last().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("PUT", "/api/nginx/proxy-hosts/7"));
        assert_eq!(last.3["forward_host"], "green");
    }
}
