//! Watching an image repository (Registry HTTP API v2) for tags that CI pushed, so a project
//! can deploy prebuilt images: `dev-*` tags to dev, `v*` to rel, each pinned by its digest.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use sqlx::Row;

use crate::intake::{Change, ChangeKind, Source, Trigger};
use crate::projects::Project;
use crate::store::now_ms;
use crate::{secrets, Engine, Error, ErrorCode, Result};

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

struct Registry {
    http: reqwest::Client,
    base: String,
    name: String,
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

impl Registry {
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
        let Some(params) = challenge.strip_prefix("Bearer ") else { return Ok(resp) };
        let field = |k: &str| params.split(',').find_map(|p| p.trim().strip_prefix(&format!("{k}=")).map(|v| v.trim_matches('"').to_string()));
        let realm = field("realm").ok_or_else(|| self.error("its token challenge has no realm"))?;
        let mut token_req = self.http.get(&realm).query(&[("service", field("service").unwrap_or_default()), ("scope", field("scope").unwrap_or_default())]);
        if let Some((u, p)) = &self.basic {
            token_req = token_req.basic_auth(u, Some(p));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = token_req.send().await.map_err(|e| self.unreachable(e))?.json().await.map_err(|e| self.error(&format!("its token answer: {e}")))?;
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

    async fn tags(&mut self) -> Result<Vec<String>> {
        let url = format!("{}/v2/{}/tags/list", self.base, self.name);
        let resp = self.send(|h| h.get(&url)).await?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => return Err(self.error("refused the credentials (check the project's registry account)")),
            404 => return Ok(vec![]), // nothing pushed yet
            s => return Err(self.error(&format!("answered {s} to the tag list"))),
        }
        #[derive(Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let t: Tags = resp.json().await.map_err(|e| self.error(&format!("tag list: {e}")))?;
        Ok(t.tags.unwrap_or_default())
    }

    async fn digest(&mut self, tag: &str) -> Result<String> {
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

/// Looks at the project's image repository: tags that appeared or moved since the last look go
/// to the intake (matched against each stage's tag patterns). The first look only records.
pub async fn poll_project(engine: &Engine, project: &Project) -> Result<()> {
    let Some(repo) = &project.image_repo else { return Ok(()) };
    let (base, name) = split_repo(repo).ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("image_repo {repo:?} is not host/name")))?;
    let basic = match &project.registry_account {
        Some(a) => secrets::get(&format!("registry:{a}")).await?.and_then(|v| v.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))),
        None => None,
    };
    let mut reg = Registry { http: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap_or_default(), base, name, basic, bearer: None };
    let store = engine.store();
    let known: HashMap<String, String> = sqlx::query("SELECT tag, digest FROM registry_state WHERE project_id = ?")
        .bind(&project.id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| (r.get("tag"), r.get("digest")))
        .collect();
    // A marker row (empty tag) says the repository was looked at before: an empty repository's
    // first pushed tag must deploy, not become the baseline.
    let first_look = !known.contains_key("");
    let mut seen = HashMap::new();
    for tag in reg.tags().await? {
        let digest = reg.digest(&tag).await?;
        seen.insert(tag, digest);
    }
    let mut changes: Vec<Change> = seen
        .iter()
        .filter(|(t, d)| !t.is_empty() && known.get(*t) != Some(*d))
        .map(|(tag, digest)| Change { kind: ChangeKind::Image, git_ref: Some(format!("{repo}:{tag}")), commit: None, target_branch: None, image: Some((tag.clone(), digest.clone())) })
        .collect();
    changes.sort_by(|a, b| a.git_ref.cmp(&b.git_ref));
    if !first_look {
        for change in changes {
            // One inbox row per tag, so each says what became of that tag.
            let source = Source { provider: "registry".into(), event: "tag".into(), delivery_id: None, received_at: now_ms(), started: Some(Instant::now()) };
            let verdict = engine.accept_changes(std::sync::Arc::new(project.clone()), vec![change], Trigger::Registry, source).await?;
            tracing::info!(project = %project.id, outcome = ?verdict.outcome, "registry: {}", verdict.reason);
        }
    }
    let mut tx = store.write_tx().await?;
    sqlx::query("DELETE FROM registry_state WHERE project_id = ?").bind(&project.id).execute(&mut *tx).await?;
    seen.insert(String::new(), String::new());
    for (tag, digest) in &seen {
        sqlx::query("INSERT INTO registry_state (project_id, tag, digest, seen_at) VALUES (?, ?, ?, ?)").bind(&project.id).bind(tag).bind(digest).bind(now_ms()).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    crate::projects::set_poll_result(store, &project.id, None).await?;
    Ok(())
}
