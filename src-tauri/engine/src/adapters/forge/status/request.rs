//! The request each forge's commit-status API expects: path, headers and body, with each
//! forge's limits on names and descriptions applied.

use super::*;

/// The request that would be sent, without sending it (method, URL, headers, JSON body): lets
/// tests and the UI's "what will be sent" view share one builder with [`report`].
///
/// Bitbucket requires a `url`; when the report has none, the status links to the commit's page,
/// `https://bitbucket.org/{workspace}/{repo_slug}/commits/{sha}` (the web host is the API host
/// without its `api.` prefix), so the link at least lands somewhere true.
pub fn build_request(target: &StatusTarget, sha: &str, report: &StatusReport<'_>) -> PlannedRequest {
    match target.provider {
        Provider::Github => github(target, sha, report),
        Provider::Gitlab => gitlab(target, sha, report),
        Provider::Gitea | Provider::Forgejo => gitea(target, sha, report),
        Provider::Bitbucket => bitbucket(target, sha, report),
    }
}

/// The body GitHub documents and Gitea/Forgejo copied: `{state, target_url, description,
/// context}` with the same four states (Gitea's extra `warning` is never sent).
fn github_style_body(report: &StatusReport<'_>, description_max: usize) -> Map<String, Value> {
    let state = match report.state {
        RunState::Pending | RunState::Running => "pending",
        RunState::Succeeded => "success",
        RunState::Failed | RunState::RolledBack => "failure",
        RunState::Cancelled => "error",
    };
    let mut body = Map::new();
    body.insert("state".into(), json!(state));
    if let Some(link) = report.target_url {
        body.insert("target_url".into(), json!(link));
    }
    put_description(&mut body, report, description_max);
    body.insert("context".into(), json!(report.context));
    body
}

// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
// POST /repos/{owner}/{repo}/statuses/{sha}, JSON {state, target_url, description, context};
// state is one of error, failure, pending, success. Headers per
// https://docs.github.com/en/rest/overview/resources-in-the-rest-api (Accept,
// X-GitHub-Api-Version, a User-Agent without which requests are rejected, Bearer token).
fn github(target: &StatusTarget, sha: &str, report: &StatusReport<'_>) -> PlannedRequest {
    let (owner, name) = split_repo(&target.repo);
    let body = github_style_body(report, GITHUB_DESCRIPTION_MAX);
    PlannedRequest {
        method: reqwest::Method::POST,
        url: join(&target.api_base, &["repos", owner, name, "statuses", sha]),
        headers: vec![
            header("Accept", "application/vnd.github+json"),
            header("Authorization", &format!("Bearer {}", target.token.trim())),
            header("X-GitHub-Api-Version", GITHUB_API_VERSION),
            header("User-Agent", USER_AGENT),
            header("Content-Type", "application/json"),
        ],
        body: Some(Value::Object(body)),
    }
}

// https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit
// POST /projects/:id/statuses/:sha with state (pending, running, success, failed, canceled,
// skipped), name or context, target_url and description (each "255 characters or fewer").
// :id is the numeric id or the URL-encoded path (https://docs.gitlab.com/api/rest/#namespaced-paths);
// a JSON payload is accepted (https://docs.gitlab.com/api/rest/#request-payload); the token goes in
// PRIVATE-TOKEN (https://docs.gitlab.com/api/rest/authentication/).
fn gitlab(target: &StatusTarget, sha: &str, report: &StatusReport<'_>) -> PlannedRequest {
    let state = match report.state {
        RunState::Pending => "pending",
        RunState::Running => "running",
        RunState::Succeeded => "success",
        RunState::Failed | RunState::RolledBack => "failed",
        RunState::Cancelled => "canceled",
    };
    let mut body = Map::new();
    body.insert("state".into(), json!(state));
    body.insert("name".into(), json!(clip(report.context, NAME_MAX)));
    if let Some(link) = report.target_url {
        // A longer link makes GitLab refuse the whole status; the status matters more than the link.
        if link.chars().count() <= GITLAB_TEXT_MAX {
            body.insert("target_url".into(), json!(link));
        } else {
            tracing::warn!(len = link.len(), "target_url is longer than GitLab's 255 characters; sending the status without it");
        }
    }
    put_description(&mut body, report, GITLAB_TEXT_MAX);
    PlannedRequest {
        method: reqwest::Method::POST,
        url: join(&target.api_base, &["projects", target.repo.as_str(), "statuses", sha]),
        headers: vec![
            header("Accept", "application/json"),
            header("PRIVATE-TOKEN", target.token.trim()),
            header("User-Agent", USER_AGENT),
            header("Content-Type", "application/json"),
        ],
        body: Some(Value::Object(body)),
    }
}

// Gitea: https://gitea.com/api/swagger#/repository/repoCreateStatus
// Forgejo: https://codeberg.org/api/swagger#/repository/repoCreateStatus (the same endpoint)
// POST /repos/{owner}/{repo}/statuses/{sha}, JSON CreateStatusOption {state, target_url,
// description, context}; state is one of pending, success, error, failure, warning. Token header
// "Authorization: token …" per https://docs.gitea.com/development/api-usage and
// https://forgejo.org/docs/latest/user/api-usage/.
fn gitea(target: &StatusTarget, sha: &str, report: &StatusReport<'_>) -> PlannedRequest {
    let (owner, name) = split_repo(&target.repo);
    let body = github_style_body(report, OTHER_DESCRIPTION_MAX);
    PlannedRequest {
        method: reqwest::Method::POST,
        url: join(&target.api_base, &["repos", owner, name, "statuses", sha]),
        headers: vec![
            header("Accept", "application/json"),
            header("Authorization", &format!("token {}", target.token.trim())),
            header("User-Agent", USER_AGENT),
            header("Content-Type", "application/json"),
        ],
        body: Some(Value::Object(body)),
    }
}

// https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/#api-repositories-workspace-repo-slug-commit-commit-statuses-build-post
// POST /repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build, JSON {key, state
// (INPROGRESS, SUCCESSFUL, FAILED, STOPPED), name, url, description}; "if the specified key
// already exists, the existing status object will be overwritten", which is how later states
// replace earlier ones. Access tokens go in "Authorization: Bearer …".
fn bitbucket(target: &StatusTarget, sha: &str, report: &StatusReport<'_>) -> PlannedRequest {
    let state = match report.state {
        RunState::Pending | RunState::Running => "INPROGRESS",
        RunState::Succeeded => "SUCCESSFUL",
        RunState::Failed | RunState::RolledBack => "FAILED",
        RunState::Cancelled => "STOPPED",
    };
    let (workspace, slug) = split_repo(&target.repo);
    let link = match report.target_url {
        Some(link) => link.to_string(),
        None => bitbucket_commit_page(&target.api_base, workspace, slug, sha),
    };
    let mut body = Map::new();
    body.insert("key".into(), json!(bitbucket_key(report.context)));
    body.insert("state".into(), json!(state));
    body.insert("name".into(), json!(clip(report.context, NAME_MAX)));
    body.insert("url".into(), json!(link));
    put_description(&mut body, report, OTHER_DESCRIPTION_MAX);
    PlannedRequest {
        method: reqwest::Method::POST,
        url: join(&target.api_base, &["repositories", workspace, slug, "commit", sha, "statuses", "build"]),
        headers: vec![
            header("Accept", "application/json"),
            header("Authorization", &format!("Bearer {}", target.token.trim())),
            header("User-Agent", USER_AGENT),
            header("Content-Type", "application/json"),
        ],
        body: Some(Value::Object(body)),
    }
}

/// The Bitbucket `key` for a context: the context itself when it fits in 40 characters, else its
/// head plus a hash of the whole, so it stays readable, stable across runs and app versions, and
/// distinct for contexts that share a long prefix.
pub fn bitbucket_key(context: &str) -> String {
    if context.chars().count() <= BITBUCKET_KEY_MAX {
        return context.to_string();
    }
    let hash = format!("{:08x}", fnv1a32(context.as_bytes()));
    let head: String = context.chars().take(BITBUCKET_KEY_MAX - hash.len() - 1).collect();
    format!("{head}-{hash}")
}

/// FNV-1a: tiny and fixed forever, unlike std's hasher, so keys survive a toolchain upgrade.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, b| (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

fn bitbucket_commit_page(api_base: &str, workspace: &str, slug: &str, sha: &str) -> String {
    let web = match reqwest::Url::parse(api_base) {
        Ok(api) => {
            let host = api.host_str().unwrap_or_default();
            let host = host.strip_prefix("api.").unwrap_or(host);
            match api.port() {
                Some(port) => format!("{}://{host}:{port}", api.scheme()),
                None => format!("{}://{host}", api.scheme()),
            }
        }
        Err(_) => "https://bitbucket.org".to_string(),
    };
    join(&web, &[workspace, slug, "commits", sha])
}

/// The description as the forge should show it: one line, saying "rolled back" or "cancelled"
/// when the state alone can't (no forge has a rolled-back state, and GitHub and Gitea call a
/// cancellation an error), cut to the forge's limit. Empty descriptions are left out.
fn put_description(body: &mut Map<String, Value>, report: &StatusReport<'_>, max: usize) {
    let line = one_line(report.description);
    let lower = line.to_lowercase();
    let line = match report.state {
        RunState::RolledBack if !lower.contains("rolled back") && !lower.contains("rollback") => prefixed("rolled back", &line),
        RunState::Cancelled if !lower.contains("cancel") => prefixed("cancelled", &line),
        _ => line,
    };
    if !line.is_empty() {
        body.insert("description".into(), json!(clip(&line, max)));
    }
}

fn prefixed(word: &str, line: &str) -> String {
    if line.is_empty() {
        word.to_string()
    } else {
        format!("{word}: {line}")
    }
}

/// Collapses newlines, tabs and other control characters so a multi-line error stays one line.
pub(super) fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace()).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
}

/// At most `max` characters (Unicode scalar values, as the forges count them), ending in "…" when cut.
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

fn split_repo(repo: &str) -> (&str, &str) {
    repo.split_once('/').unwrap_or((repo, ""))
}

/// `base` plus each part as one percent-encoded path segment, so a "/" inside a part (GitLab's
/// "group/project") stays inside it. A base that isn't a URL is joined as text, for display only:
/// [`report`] refuses it before sending.
fn join(base: &str, parts: &[&str]) -> String {
    let base = base.trim_end_matches('/');
    if let Ok(mut url) = reqwest::Url::parse(base) {
        let joined = match url.path_segments_mut() {
            Ok(mut segments) => {
                segments.pop_if_empty().extend(parts);
                true
            }
            Err(()) => false,
        };
        if joined {
            return url.to_string();
        }
    }
    format!("{base}/{}", parts.join("/"))
}
