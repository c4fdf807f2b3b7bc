//! The client of a running engine's API: what the window, the tray and `slipwayd`'s commands
//! use. Operations go through [`Client::call`]; NDJSON streams through [`Client::stream`].

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::events::EngineFile;
use crate::ops::{Answer, Body, Method, Operation};
use crate::{ApiError, Config, ErrorCode, Result};

#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
    /// Who this console is, sent with every request ([`ACTOR_HEADER`]).
    actor: Option<String>,
}

/// The header a console names itself in (`alice@laptop (window)`): the engine records it with
/// what changes state. Anyone holding the token could claim any name; the token is the
/// authority, this is the log of which console used it.
pub const ACTOR_HEADER: &str = "x-slipway-actor";

impl Client {
    /// Finds the engine that owns `config.data_dir` through its `engine.json` and token file.
    pub fn for_config(config: &Config) -> Result<Client> {
        let file = read_engine_file(&config.engine_file())?;
        let token = std::fs::read_to_string(config.token_path())
            .map_err(|e| ApiError::new(ErrorCode::Io, format!("cannot read the API token {}: {e}", config.token_path().display())))?;
        Ok(Client::new(file.api_url.as_deref().unwrap_or(&file.url), token.trim()))
    }

    pub fn new(base: &str, token: &str) -> Client {
        Client { base: base.trim_end_matches('/').to_string(), token: token.to_string(), http: reqwest::Client::new(), actor: None }
    }

    /// The same client, naming itself `actor` (see [`console_actor`]).
    pub fn with_actor(mut self, actor: String) -> Client {
        self.actor = Some(actor);
        self
    }

    /// Where requests go (`http://127.0.0.1:7717`).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.url(path)).bearer_auth(&self.token);
        match &self.actor {
            Some(a) => req.header(ACTOR_HEADER, a),
            None => req,
        }
    }

    /// Sends one operation and reads its answer.
    pub async fn call<O: Operation>(&self, op: O) -> Result<O::Response> {
        let e = op.encode()?;
        let method = match O::METHOD {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut req = self.request(method, &format!("/api/v1{}", e.path));
        if !e.query.is_empty() {
            req = req.query(&e.query);
        }
        req = match e.body {
            Body::None if matches!(O::METHOD, Method::Post | Method::Put) => req.json(&serde_json::json!({})),
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Text(t) => req.header("Content-Type", "application/yaml").body(t),
        };
        match O::ANSWER {
            Answer::Json => self.answer(req).await,
            Answer::Text => {
                let resp = check(req.send().await.map_err(|e| self.unreachable(e))?).await?;
                let text = resp.text().await.map_err(|e| self.unreachable(e))?;
                serde_json::from_value(serde_json::Value::String(text)).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
            }
        }
    }

    /// Sends `req` and reads its JSON answer; an empty one (202, 204) reads as `null`, which is `()`.
    async fn answer<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = check(req.send().await.map_err(|e| self.unreachable(e))?).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| ApiError::new(ErrorCode::Internal, format!("unexpected answer from the engine: {e}")))
    }

    /// Reads an NDJSON stream (`GET /api/v1<path>`) and hands `each` the items of every chunk as
    /// one batch, until the stream ends or `each` returns false. An `{"error": …}` line is the
    /// stream's failure; empty lines are the engine's keep-alives.
    pub async fn stream<T: DeserializeOwned>(&self, path: &str, each: impl FnMut(Vec<T>) -> bool) -> Result<()> {
        self.stream_opened(path, || {}, each).await
    }

    /// [`Client::stream`], calling `opened` once the engine has answered, i.e. once it follows
    /// the stream's source: state read after that cannot miss a change the stream would not
    /// bring (state read before it can).
    pub async fn stream_opened<T: DeserializeOwned>(
        &self,
        path: &str,
        opened: impl FnOnce(),
        mut each: impl FnMut(Vec<T>) -> bool,
    ) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Failure {
            error: ApiError,
        }
        let req = self.request(reqwest::Method::GET, &format!("/api/v1{path}"));
        let mut resp = check(req.send().await.map_err(|e| self.unreachable(e))?).await?;
        opened();
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
                            Ok(f) => f.error,
                            Err(_) => ApiError::new(ErrorCode::Internal, format!("unexpected line from the engine: {e}")),
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

    fn unreachable(&self, e: reqwest::Error) -> ApiError {
        ApiError::new(ErrorCode::Unavailable, format!("no Slipway engine answers at {}: {e}", self.base))
    }
}

/// Bytes of NDJSON gathered into one batch at most.
const MAX_BATCH_BYTES: usize = 4 << 20;

async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<ApiError>(&body) {
        Ok(api) => api,
        Err(_) => ApiError::new(ErrorCode::Internal, format!("the engine answered {status}: {body}")),
    })
}

/// `user@host (kind)`: the OS user and machine of this console, as the engine records them.
pub fn console_actor(kind: &str) -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{} ({kind})", host_name())
}

/// The account of this process, for a console started without a login's environment (a
/// service, `env -i`).
#[cfg(unix)]
fn user_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 2 && f[2] == uid).map(|f| f[0].to_string())
}

#[cfg(not(unix))]
fn user_from_passwd() -> Option<String> {
    None
}

fn host_name() -> String {
    let from_file = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    std::env::var("COMPUTERNAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| {
            let out = std::process::Command::new("hostname").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown-host".into())
}

/// The `engine.json` of a running engine, or why there is none.
pub fn read_engine_file(path: &Path) -> Result<EngineFile> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "no Slipway engine is running for this data directory ({} is missing). Start one with `slipwayd serve`.",
                path.display()
            ),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| ApiError::new(ErrorCode::Io, format!("{} is not readable: {e}", path.display())))
}
