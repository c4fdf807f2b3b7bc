//! A client for a running engine's API: what `slipwayd status` and friends use, and how a
//! desktop app could one day drive an engine on a server.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::domain::events::EngineFile;
use crate::{ApiError, Config, EngineStatus, Error, ErrorCode, Result};

#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// Finds the engine that owns `config.data_dir` through its `engine.json` and token file.
    pub fn for_config(config: &Config) -> Result<Client> {
        let file = read_engine_file(&config.engine_file())?;
        let token = std::fs::read_to_string(config.token_path())
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot read the API token {}: {e}", config.token_path().display())))?;
        Ok(Client::new(&file.url, token.trim()))
    }

    pub fn new(base: &str, token: &str) -> Client {
        Client { base: base.trim_end_matches('/').to_string(), token: token.to_string(), http: reqwest::Client::new() }
    }

    pub async fn status(&self) -> Result<EngineStatus> {
        self.get("/status").await
    }

    pub async fn set_auto_deploy_paused(&self, paused: bool) -> Result<crate::http::api::AutoDeploy> {
        self.put("/auto-deploy", serde_json::json!({ "paused": paused })).await
    }

    pub async fn start_run(&self, project: &str, stage: &str, wanted: &str) -> Result<crate::http::api::RunStarted> {
        self.post(&format!("/projects/{}/stages/{}/runs", seg(project), seg(stage)), serde_json::json!({ "ref": wanted })).await
    }

    pub async fn runs(&self, project: Option<&str>) -> Result<Vec<crate::domain::run::RunSummary>> {
        let q = project.map(|p| format!("?project={}", seg(p))).unwrap_or_default();
        self.get(&format!("/runs{q}")).await
    }

    pub async fn run(&self, id: i64) -> Result<crate::domain::run::RunDetail> {
        self.get(&format!("/runs/{id}")).await
    }

    pub async fn logs(&self, id: i64, after: i64) -> Result<Vec<crate::store::logs::LogLine>> {
        self.get(&format!("/runs/{id}/logs?after={after}")).await
    }

    pub async fn cancel(&self, id: i64) -> Result<()> {
        self.post(&format!("/runs/{id}/cancel"), serde_json::json!({})).await
    }

    pub async fn export_project(&self, id: &str) -> Result<String> {
        let resp = self.http.get(self.url(&format!("/api/v1/projects/{}/export", seg(id)))).bearer_auth(&self.token).send().await.map_err(|e| self.unreachable(e))?;
        check(resp).await?.text().await.map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
    }

    pub async fn import_project(&self, yaml: String) -> Result<crate::domain::events::ImportResult> {
        let req = self.http.post(self.url("/api/v1/projects/import")).bearer_auth(&self.token).header("Content-Type", "application/yaml").body(yaml);
        self.answer(req).await
    }

    pub async fn hosts(&self) -> Result<Vec<crate::services::hosts::HostEntry>> {
        self.get("/hosts").await
    }

    pub async fn test_host(&self, id: &str) -> Result<crate::domain::host::HostTest> {
        self.post(&format!("/hosts/{}/test", seg(id)), serde_json::json!({})).await
    }

    pub async fn import_docker_contexts(&self) -> Result<crate::domain::host::ContextImport> {
        self.post("/hosts/import-contexts", serde_json::json!({})).await
    }

    pub async fn quit(&self) -> Result<()> {
        self.post("/quit", serde_json::json!({})).await
    }

    /// `GET /api/v1<path>`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: serde_json::Value) -> Result<T> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: serde_json::Value) -> Result<T> {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// One API call with a JSON body or none.
    async fn call<T: DeserializeOwned>(&self, method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> Result<T> {
        let mut req = self.http.request(method, self.url(&format!("/api/v1{path}"))).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.answer(req).await
    }

    /// Sends `req` and reads its JSON answer; an empty one (202, 204) reads as `null`, which is `()`.
    async fn answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = check(req.send().await.map_err(|e| self.unreachable(e))?).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| Error::new(ErrorCode::Internal, format!("unexpected answer from the engine: {e}")))
    }

    /// Reads an NDJSON stream (`GET /api/v1<path>`) and hands `each` the items of every chunk as
    /// one batch, until the stream ends or `each` returns false. An `{"error": …}` line is the
    /// stream's failure; empty lines are the engine's keep-alives.
    pub async fn stream<T: DeserializeOwned>(&self, path: &str, mut each: impl FnMut(Vec<T>) -> bool) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Failure {
            error: ApiError,
        }
        let req = self.http.get(self.url(&format!("/api/v1{path}"))).bearer_auth(&self.token);
        let mut resp = check(req.send().await.map_err(|e| self.unreachable(e))?).await?;
        let mut pending: Vec<u8> = Vec::new();
        let mut ended = false;
        while !ended {
            let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(e))? else { break };
            pending.extend_from_slice(&chunk);
            // What has already arrived goes out as one batch: a viewer catching up on a long log
            // gets a few large batches, not thousands of small ones.
            while pending.len() < MAX_BATCH_BYTES {
                match futures::FutureExt::now_or_never(resp.chunk()) {
                    Some(Ok(Some(more))) => pending.extend_from_slice(&more),
                    Some(Ok(None)) => {
                        ended = true;
                        break;
                    }
                    Some(Err(e)) => return Err(self.unreachable(e)),
                    None => break,
                }
            }
            let Some(end) = pending.iter().rposition(|b| *b == b'\n') else { continue };
            let mut batch = Vec::new();
            for line in pending[..end].split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
                match serde_json::from_slice::<T>(line) {
                    Ok(item) => batch.push(item),
                    Err(e) => {
                        return Err(match serde_json::from_slice::<Failure>(line) {
                            Ok(f) => Error::Coded(f.error),
                            Err(_) => Error::new(ErrorCode::Internal, format!("unexpected line from the engine: {e}")),
                        })
                    }
                }
            }
            pending.drain(..=end);
            if !batch.is_empty() && !each(batch) {
                return Ok(());
            }
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: reqwest::Error) -> Error {
        Error::new(ErrorCode::NotFound, format!("no Slipway engine answers at {}: {e}", self.base))
    }
}

/// Bytes of NDJSON gathered into one batch at most.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// A path segment with everything but unreserved characters percent-encoded (ids come from users).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<ApiError>(&body) {
        Ok(api) => Error::Coded(api),
        Err(_) => Error::new(ErrorCode::Internal, format!("the engine answered {status}: {body}")),
    })
}

fn read_engine_file(path: &Path) -> Result<EngineFile> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        Error::new(
            ErrorCode::NotFound,
            format!("no Slipway engine is running for this data directory ({} is missing). Start one with `slipwayd serve`.", path.display()),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| Error::new(ErrorCode::Io, format!("{} is not readable: {e}", path.display())))
}
