//! A client for a running engine's API: what `slipwayd status` and friends use, and how a
//! desktop app could one day drive an engine on a server.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::engine::EngineFile;
use crate::{ApiError, Config, EngineStatus, Error, ErrorCode, Result};

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
        self.send(self.http.get(self.url("/api/v1/status"))).await
    }

    pub async fn set_auto_deploy_paused(&self, paused: bool) -> Result<crate::api::AutoDeploy> {
        self.send(self.http.put(self.url("/api/v1/auto-deploy")).json(&serde_json::json!({ "paused": paused }))).await
    }

    pub async fn start_run(&self, project: &str, stage: &str, wanted: &str) -> Result<crate::api::RunStarted> {
        self.send(self.http.post(self.url(&format!("/api/v1/projects/{project}/stages/{stage}/runs"))).json(&serde_json::json!({ "ref": wanted }))).await
    }

    pub async fn runs(&self, project: Option<&str>) -> Result<Vec<crate::intake::RunSummary>> {
        let q = project.map(|p| format!("?project={p}")).unwrap_or_default();
        self.send(self.http.get(self.url(&format!("/api/v1/runs{q}")))).await
    }

    pub async fn run(&self, id: i64) -> Result<crate::intake::RunDetail> {
        self.send(self.http.get(self.url(&format!("/api/v1/runs/{id}")))).await
    }

    pub async fn logs(&self, id: i64, after: i64) -> Result<Vec<crate::runlog::LogLine>> {
        self.send(self.http.get(self.url(&format!("/api/v1/runs/{id}/logs?after={after}")))).await
    }

    pub async fn cancel(&self, id: i64) -> Result<()> {
        let resp = self.http.post(self.url(&format!("/api/v1/runs/{id}/cancel"))).bearer_auth(&self.token).send().await.map_err(|e| self.unreachable(e))?;
        check(resp).await.map(|_| ())
    }

    pub async fn export_project(&self, id: &str) -> Result<String> {
        let resp = self.http.get(self.url(&format!("/api/v1/projects/{id}/export"))).bearer_auth(&self.token).send().await.map_err(|e| self.unreachable(e))?;
        check(resp).await?.text().await.map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
    }

    pub async fn import_project(&self, yaml: String) -> Result<crate::engine::ImportResult> {
        self.send(self.http.post(self.url("/api/v1/projects/import")).header("Content-Type", "application/yaml").body(yaml)).await
    }

    pub async fn hosts(&self) -> Result<Vec<crate::hostpool::HostEntry>> {
        self.send(self.http.get(self.url("/api/v1/hosts"))).await
    }

    pub async fn test_host(&self, id: &str) -> Result<crate::hosts::HostTest> {
        self.send(self.http.post(self.url(&format!("/api/v1/hosts/{id}/test")))).await
    }

    pub async fn import_docker_contexts(&self) -> Result<crate::hosts::ContextImport> {
        self.send(self.http.post(self.url("/api/v1/hosts/import-contexts"))).await
    }

    pub async fn quit(&self) -> Result<()> {
        let resp = self.http.post(self.url("/api/v1/quit")).bearer_auth(&self.token).send().await.map_err(|e| self.unreachable(e))?;
        check(resp).await.map(|_| ())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = req.bearer_auth(&self.token).send().await.map_err(|e| self.unreachable(e))?;
        let resp = check(resp).await?;
        resp.json().await.map_err(|e| Error::new(ErrorCode::Internal, format!("unexpected answer from the engine: {e}")))
    }

    fn unreachable(&self, e: reqwest::Error) -> Error {
        Error::new(ErrorCode::NotFound, format!("no Slipway engine answers at {}: {e}", self.base))
    }
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
