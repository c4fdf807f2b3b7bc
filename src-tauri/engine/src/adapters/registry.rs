//! Watching an image repository (Registry HTTP API v2) for tags that CI pushed, so a project
//! can deploy prebuilt images: `dev-*` tags to dev, `v*` to rel, each pinned by its digest.

use std::time::Duration;

use serde::Deserialize;

use crate::{Error, ErrorCode, Result};

/// `host[:port]/name` → (base URL, name). Loopback registries speak plain HTTP (as Docker
/// itself assumes); an explicit `http://` or `https://` prefix wins.
pub fn split_repo(repo: &str) -> Option<(String, String)> {
    let (scheme, rest) = match repo.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, repo),
    };
    let (host, name) = rest.split_once('/')?;
    let local = host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
    let scheme = scheme.unwrap_or(if local { "http" } else { "https" });
    (!name.is_empty()).then(|| (format!("{scheme}://{host}"), name.to_string()))
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A registry client for one repository, answering Bearer challenges with basic credentials.
pub struct Registry {
    http: reqwest::Client,
    base: String,
    name: String,
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

impl Registry {
    pub fn new(base: String, name: String, basic: Option<(String, String)>) -> Registry {
        Registry {
            http: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap_or_default(),
            base,
            name,
            basic,
            bearer: None,
        }
    }

    /// Sends `req`, answering a Bearer challenge (GHCR, Gitea, Docker Hub) with a token fetched
    /// with the basic credentials, once.
    async fn send(&mut self, make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let mut req = make(&self.http);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        } else if let Some((u, p)) = &self.basic {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED || self.bearer.is_some() {
            return Ok(resp);
        }
        let challenge = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let Some(c) = bearer_challenge(&challenge) else { return Ok(resp) };
        let realm = c.realm.ok_or_else(|| self.error("its token challenge has no realm"))?;
        let mut token_req = self.http.get(&realm).query(&[("service", c.service), ("scope", c.scope)]);
        if let Some((u, p)) = &self.basic {
            token_req = token_req.basic_auth(u, Some(p));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = token_req
            .send()
            .await
            .map_err(|e| self.unreachable(e))?
            .json()
            .await
            .map_err(|e| self.error(&format!("its token answer: {e}")))?;
        self.bearer = t.token.or(t.access_token);
        let mut req = make(&self.http);
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        req.send().await.map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: reqwest::Error) -> Error {
        Error::new(ErrorCode::Git, format!("registry {} is unreachable: {e}", self.base))
    }

    fn error(&self, what: &str) -> Error {
        Error::new(ErrorCode::Git, format!("registry {} ({}): {what}", self.base, self.name))
    }

    pub async fn tags(&mut self) -> Result<Vec<String>> {
        let url = format!("{}/v2/{}/tags/list", self.base, self.name);
        let resp = self.send(|h| h.get(&url)).await?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => return Err(self.error("refused the credentials (check the project's registry account)")),
            404 => return Ok(vec![]), // nothing pushed yet
            s => return Err(self.error(&format!("answered {s} to the tag list"))),
        }
        let body = resp.bytes().await.map_err(|e| self.error(&format!("tag list: {e}")))?;
        parse_tags(&body).map_err(|e| self.error(&format!("tag list: {e}")))
    }

    pub async fn digest(&mut self, tag: &str) -> Result<String> {
        let url = format!("{}/v2/{}/manifests/{tag}", self.base, self.name);
        let resp = self.send(|h| h.head(&url).header("Accept", MANIFEST_TYPES)).await?;
        if !resp.status().is_success() {
            return Err(self.error(&format!("answered {} for tag {tag}", resp.status())));
        }
        resp.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .ok_or_else(|| self.error(&format!("sent no digest for tag {tag}")))
    }
}

/// A registry's tag list (`{"name": …, "tags": [...]}`; `tags` may be null).
pub fn parse_tags(body: &[u8]) -> std::result::Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Tags {
        tags: Option<Vec<String>>,
    }
    let t: Tags = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(t.tags.unwrap_or_default())
}

/// The parameters of a `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    pub realm: Option<String>,
    pub service: String,
    pub scope: String,
}

pub fn bearer_challenge(header: &str) -> Option<Challenge> {
    let params = header.strip_prefix("Bearer ")?;
    let field = |k: &str| params.split(',').find_map(|p| p.trim().strip_prefix(&format!("{k}=")).map(|v| v.trim_matches('"').to_string()));
    Some(Challenge { realm: field("realm"), service: field("service").unwrap_or_default(), scope: field("scope").unwrap_or_default() })
}
