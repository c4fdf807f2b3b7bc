//! Tells the forge how a deploy run went, as a status on the deployed commit.
//!
//! Each forge has its own commit-status endpoint, auth header, state names and field limits. This
//! module is the one place that knows them: [`build_request`] turns a [`StatusReport`] into the
//! exact request a forge documents, and [`report`] sends that same request, so the UI's "what will
//! be sent" view and the wire can never disagree.
//!
//! A status is keyed by its context ("slipway/dev"), so each stage keeps one status per commit and
//! later states replace earlier ones instead of piling up.
//!
//! The token only ever travels in a header. Nothing here logs headers, [`StatusTarget`] and
//! [`PlannedRequest`] redact it in `Debug`, and [`PlannedRequest::redacted`] is what a UI shows.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::adapters::forge::webhook::Provider;

mod request;

pub use request::{bitbucket_key, build_request};
use request::{clip, one_line};

/// How long [`report`] waits for the whole exchange. A deploy must not stall on a slow forge.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Sent to every forge; GitHub rejects requests without a User-Agent.
pub const USER_AGENT: &str = concat!("slipway/", env!("CARGO_PKG_VERSION"));

/// GitHub's REST API version this module was written against.
pub const GITHUB_API_VERSION: &str = "2022-11-28";

/// Bitbucket Cloud rejects a longer `key` with 400 "Ensure this value has at most 40 characters".
pub const BITBUCKET_KEY_MAX: usize = 40;

/// GitHub answers 422 "description is too long (maximum is 140 characters)".
const GITHUB_DESCRIPTION_MAX: usize = 140;
/// GitLab documents `description` and `target_url` as "255 characters or fewer".
const GITLAB_TEXT_MAX: usize = 255;
/// Gitea and Forgejo store the description as TEXT and document no limit; the cap keeps a runaway
/// message a one-liner. Bitbucket documents none either; 255 matches its `name` limit.
const OTHER_DESCRIPTION_MAX: usize = 255;
/// Bitbucket and GitLab keep names to 255 characters.
const NAME_MAX: usize = 255;
/// Error bodies are quoted in messages, never whole.
const MESSAGE_MAX: usize = 300;

/// Where to report: which forge, its API base URL, which repository, and the token (read from the
/// OS keychain by the caller; never logged).
#[derive(Clone)]
pub struct StatusTarget {
    pub provider: Provider,
    /// API root: `https://api.github.com` (or GHE `https://host/api/v3`),
    /// `https://gitlab.com/api/v4`, `https://gitea.host/api/v1`, `https://api.bitbucket.org/2.0`
    pub api_base: String,
    /// "owner/name" for GitHub, Gitea, Forgejo and Bitbucket ("workspace/repo_slug"); for GitLab
    /// the project's path_with_namespace or numeric id (sent as one path segment: "group%2Fproject").
    pub repo: String,
    pub token: String,
}

impl fmt::Debug for StatusTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusTarget")
            .field("provider", &self.provider)
            .field("api_base", &self.api_base)
            .field("repo", &self.repo)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Pending,
    Running,
    Succeeded,
    Failed,
    RolledBack,
    Cancelled,
}

#[derive(Debug, Clone, Copy)]
pub struct StatusReport<'a> {
    pub state: RunState,
    /// e.g. "slipway/dev" — lets one commit carry one status per stage.
    pub context: &'a str,
    /// One line for humans, e.g. "deploying to dev" / "release 12 live on dev" / "rolled back:
    /// health check failed". Cut to each forge's limit with a trailing "…".
    pub description: &'a str,
    /// Link the operator configured (the run's page). Bitbucket requires a url: without one it
    /// gets the commit's own page on the forge (see [`build_request`]).
    pub target_url: Option<&'a str>,
}

/// One request, fully decided: what [`report`] sends, byte for byte.
#[derive(Clone, PartialEq)]
pub struct PlannedRequest {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl PlannedRequest {
    /// The same request with the credential masked, for showing to people.
    pub fn redacted(&self) -> PlannedRequest {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                if is_secret_header(name) {
                    let scheme = value.split_once(' ').map(|(scheme, _)| scheme);
                    let masked = match scheme {
                        Some(scheme) => format!("{scheme} <redacted>"),
                        None => "<redacted>".to_string(),
                    };
                    (name.clone(), masked)
                } else {
                    (name.clone(), value.clone())
                }
            })
            .collect();
        PlannedRequest { headers, ..self.clone() }
    }

    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for PlannedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.redacted();
        f.debug_struct("PlannedRequest")
            .field("method", &shown.method)
            .field("url", &shown.url)
            .field("headers", &shown.headers)
            .field("body", &shown.body)
            .finish()
    }
}

fn is_secret_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("private-token")
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The target can't be turned into a request; nothing was sent.
    #[error("cannot report to {forge}: {reason}")]
    InvalidTarget { forge: &'static str, reason: String },

    /// No HTTP answer at all: DNS, refused connection, TLS.
    #[error("could not reach {forge} at {api_base}: {detail}")]
    Unreachable { forge: &'static str, api_base: String, detail: String },

    #[error("{forge} at {api_base} did not answer within {} s", .after.as_secs_f32())]
    Timeout { forge: &'static str, api_base: String, after: Duration },

    /// 401/403: the token is wrong, revoked, expired, or short of the permission the endpoint needs.
    #[error(
        "{forge} refused the token for {repo} (HTTP {status}: {message}); the token may be revoked \
         or expired, or lack the permission to set commit statuses: {needs}"
    )]
    Unauthorized { forge: &'static str, repo: String, status: u16, message: String, needs: &'static str },

    /// 404: the repository or commit is unknown, or hidden from this token.
    #[error(
        "{forge} does not know repository {repo} or commit {sha} (HTTP 404: {message}); check the \
         repository name and that the commit was pushed (private repositories also answer 404 to \
         a token that cannot see them)"
    )]
    NotFound { forge: &'static str, repo: String, sha: String, message: String },

    /// The forge answered with a redirect, which a POST must not follow: the project moved or the
    /// API URL is not the API root.
    #[error("{forge} redirected the status for {repo} to {location}; update the API URL or repository")]
    Redirected { forge: &'static str, repo: String, location: String },

    /// Any other non-success answer, with the forge's own explanation.
    #[error("{forge} rejected the status for {repo} (HTTP {status}): {message}")]
    Rejected { forge: &'static str, repo: String, status: u16, message: String },
}

/// Sends one status. Bounded by [`TIMEOUT`]. Never panics on any response.
pub async fn report(http: &reqwest::Client, target: &StatusTarget, sha: &str, report: &StatusReport<'_>) -> Result<(), StatusError> {
    report_with_timeout(http, target, sha, report, TIMEOUT).await
}

/// [`report`] with a caller-chosen bound on the whole exchange (connect, send, read the answer).
pub async fn report_with_timeout(
    http: &reqwest::Client,
    target: &StatusTarget,
    sha: &str,
    report: &StatusReport<'_>,
    timeout: Duration,
) -> Result<(), StatusError> {
    let forge = forge_name(target.provider);
    check_target(target, sha)?;
    let planned = build_request(target, sha, report);

    let url = reqwest::Url::parse(&planned.url)
        .map_err(|e| StatusError::InvalidTarget { forge, reason: format!("API URL {:?} is not a valid URL ({e})", target.api_base) })?;
    let mut request = http.request(planned.method.clone(), url.clone()).timeout(timeout);
    for (name, value) in &planned.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &planned.body {
        request = request.body(body.to_string());
    }

    tracing::debug!(
        forge,
        repo = %target.repo,
        sha,
        context = report.context,
        state = ?report.state,
        url = %planned.url,
        "reporting commit status"
    );

    let transport = |err: reqwest::Error| {
        if err.is_builder() {
            StatusError::InvalidTarget { forge, reason: error_chain(&err.without_url()) }
        } else if err.is_timeout() {
            StatusError::Timeout { forge, api_base: target.api_base.clone(), after: timeout }
        } else {
            StatusError::Unreachable { forge, api_base: target.api_base.clone(), detail: error_chain(&err.without_url()) }
        }
    };

    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let landed = response.url().clone();
    let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);

    if landed != url {
        // The client followed a redirect, turning the POST into a GET: whatever came back says
        // nothing about our status.
        return Err(StatusError::Redirected { forge, repo: target.repo.clone(), location: landed.to_string() });
    }
    if status.is_success() {
        tracing::debug!(forge, repo = %target.repo, sha, status = status.as_u16(), "commit status accepted");
        return Ok(());
    }

    // The status line already says what happened; an unreadable body only costs the explanation.
    let text = response.text().await.unwrap_or_default();
    let message = body_message(&text);
    tracing::debug!(forge, repo = %target.repo, sha, status = status.as_u16(), %message, "commit status refused");
    let repo = target.repo.clone();
    Err(match status.as_u16() {
        401 | 403 => StatusError::Unauthorized { forge, repo, status: status.as_u16(), message, needs: permission_hint(target.provider) },
        404 => StatusError::NotFound { forge, repo, sha: sha.to_string(), message },
        code if status.is_redirection() => {
            StatusError::Redirected { forge, repo, location: location.unwrap_or_else(|| format!("an unnamed location (HTTP {code})")) }
        }
        code => StatusError::Rejected { forge, repo, status: code, message },
    })
}

/// Refuses targets that could only produce a confusing 404 or a request to nowhere.
fn check_target(target: &StatusTarget, sha: &str) -> Result<(), StatusError> {
    let forge = forge_name(target.provider);
    let invalid = |reason: String| Err(StatusError::InvalidTarget { forge, reason });
    match reqwest::Url::parse(&target.api_base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
        _ => return invalid(format!("API URL {:?} is not an http(s) URL", target.api_base)),
    }
    // Keychains and paste buffers add a trailing newline, which is trimmed; anything else that
    // can't go in a header is refused here rather than as a confusing transport error.
    let token = target.token.trim();
    if token.is_empty() {
        return invalid(format!("no token for {}", target.repo));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return invalid(format!("the token for {} has characters that cannot be sent in an HTTP header", target.repo));
    }
    if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return invalid(format!("{sha:?} is not a commit SHA"));
    }
    // "." and ".." would be dropped or resolved as path steps and hit a different endpoint.
    let segment_ok = |part: &str| !part.trim().is_empty() && part != "." && part != "..";
    let owner_and_name = |what: &str| {
        let parts: Vec<&str> = target.repo.split('/').collect();
        if parts.len() == 2 && parts.iter().all(|p| segment_ok(p)) {
            Ok(())
        } else {
            invalid(format!("repository {:?} is not \"{what}\"", target.repo))
        }
    };
    match target.provider {
        Provider::Github | Provider::Gitea | Provider::Forgejo => owner_and_name("owner/name"),
        Provider::Bitbucket => owner_and_name("workspace/repo_slug"),
        Provider::Gitlab if segment_ok(&target.repo) => Ok(()),
        Provider::Gitlab => invalid(format!("{:?} is not a GitLab project path or id", target.repo)),
    }
}

fn forge_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Github => "GitHub",
        Provider::Gitlab => "GitLab",
        Provider::Gitea => "Gitea",
        Provider::Forgejo => "Forgejo",
        Provider::Bitbucket => "Bitbucket",
    }
}

/// What each forge's docs say a token needs to create a commit status.
fn permission_hint(provider: Provider) -> &'static str {
    match provider {
        Provider::Github => {
            "a classic token needs the repo:status (or repo) scope; a fine-grained token needs the \
             \"Commit statuses\" repository permission set to write"
        }
        Provider::Gitlab => "the api scope, and at least the Developer role on the project",
        Provider::Gitea | Provider::Forgejo => "the write:repository scope, and write access to the repository",
        Provider::Bitbucket => {
            "the repository scope (read:repository:bitbucket); only the status's creator or a \
             repository admin may overwrite an existing status with the same key"
        }
    }
}

/// The forge's own explanation from an error body: GitHub, GitLab, Gitea and Forgejo say
/// `{"message": …}` (GitHub adds `errors`, GitLab may nest objects or say `{"error": …}`),
/// Bitbucket says `{"error": {"message": …, "fields": …}}`. Anything else is quoted, shortened.
fn body_message(body: &str) -> String {
    let text = body.trim();
    if text.is_empty() {
        return "no explanation in the response".to_string();
    }
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return clip(&one_line(text), MESSAGE_MAX);
    };
    let mut parts: Vec<String> = Vec::new();
    match json.get("error") {
        Some(Value::Object(error)) => {
            if let Some(message) = error.get("message") {
                parts.push(value_text(message));
            }
            if let Some(fields) = error.get("fields") {
                parts.push(value_text(fields));
            }
        }
        Some(error) => parts.push(value_text(error)),
        None => {}
    }
    if let Some(message) = json.get("message") {
        parts.push(value_text(message));
    }
    if let Some(Value::Array(errors)) = json.get("errors") {
        for error in errors {
            parts.push(error.get("message").map(value_text).unwrap_or_else(|| value_text(error)));
        }
    }
    if let Some(detail) = json.get("error_description") {
        parts.push(value_text(detail));
    }
    parts.retain(|p| !p.is_empty());
    if parts.is_empty() {
        parts.push(text.to_string());
    }
    clip(&one_line(&parts.join(": ")), MESSAGE_MAX)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The last two links of the error's cause chain, e.g. "tcp connect error: Connection refused":
/// reqwest's and hyper's outer messages ("error sending request: client error (Connect)") say
/// nothing an operator can act on.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut links = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        links.push(cause.to_string());
        source = cause.source();
    }
    let tail = &links[links.len().saturating_sub(2)..];
    tail.join(": ")
}
