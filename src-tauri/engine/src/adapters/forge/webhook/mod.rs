//! Forge webhooks, reduced to the few facts a deploy needs.
//!
//! Every forge invents its own headers, signature scheme and payload shape, and several of them
//! imitate each other's headers. This module is the one place that knows those differences, so
//! the rest of the engine sees a single [`Event`] per ref change and never touches provider JSON.
//!
//! The flow for one HTTP request is: [`detect`] the provider from headers, [`verify`] the raw body
//! against the repository's secret, take [`payload_json`] out of the body, then [`normalize`] it
//! with the [`event_name`] and [`delivery_id`] read from the headers. Nothing here does I/O, so the
//! listener decides what to log, store and deploy.
//!
//! The payload knowledge comes from the fixtures in `shared/fixtures/webhooks` (see its README);
//! `tests/webhook_fixtures.rs` pins every one of them.

mod bitbucket;
mod github;
mod gitlab;
mod verify;

use std::borrow::Cow;

use http::HeaderMap;
use serde::Deserialize;

pub use verify::{is_secret_header, sign, verify, Verifier, VerifyError, SECRET_HEADERS};
// The values these parsers produce live in the domain; re-exported so callers name one module.
pub use crate::domain::forge::{Event, EventKind, PrAction, Provider, PullRequest, Repo};

/// Which forge sent this, from headers alone.
///
/// Forgejo also sends Gitea's and GitHub's headers, and Gitea also sends GitHub's, so the most
/// specific family wins; a plain `X-GitHub-*` match is the last resort.
pub fn detect(headers: &HeaderMap) -> Option<Provider> {
    let has_prefix = |prefix: &str| headers.keys().any(|k| k.as_str().starts_with(prefix));
    if has_prefix("x-forgejo-") {
        Some(Provider::Forgejo)
    } else if has_prefix("x-gitea-") {
        Some(Provider::Gitea)
    } else if has_prefix("x-gitlab-") {
        Some(Provider::Gitlab)
    } else if headers.contains_key("x-event-key") && headers.contains_key("x-request-uuid") {
        Some(Provider::Bitbucket)
    } else if has_prefix("x-github-") {
        Some(Provider::Github)
    } else {
        None
    }
}

/// The provider's own event name, which [`normalize`] needs because most payloads don't say
/// what they are.
pub fn event_name(provider: Provider, headers: &HeaderMap) -> Option<String> {
    let names: &[&str] = match provider {
        Provider::Github => &["x-github-event"],
        Provider::Gitlab => &["x-gitlab-event"],
        Provider::Gitea => &["x-gitea-event"],
        // Forgejo sends the same value under Gitea's name too; older instances only that.
        Provider::Forgejo => &["x-forgejo-event", "x-gitea-event"],
        Provider::Bitbucket => &["x-event-key"],
    };
    first_header(headers, names)
}

/// The id that stays the same across the provider's retries of one delivery, so the listener can
/// drop duplicates instead of deploying twice.
///
/// GitLab's `X-Gitlab-Event-UUID` is shared by recursive hooks, so the newer per-delivery
/// `Idempotency-Key` is preferred when the instance sends it.
pub fn delivery_id(provider: Provider, headers: &HeaderMap) -> Option<String> {
    let names: &[&str] = match provider {
        Provider::Github => &["x-github-delivery"],
        Provider::Gitlab => &["idempotency-key", "x-gitlab-event-uuid"],
        Provider::Gitea => &["x-gitea-delivery"],
        Provider::Forgejo => &["x-forgejo-delivery", "x-gitea-delivery"],
        Provider::Bitbucket => &["x-request-uuid"],
    };
    first_header(headers, names)
}

/// First of `names` present with a non-blank UTF-8 value, trimmed.
fn first_header(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// Why a payload could not be turned into events. Both variants mean "record it and ignore it":
/// the sender is either broken or not a forge.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A field the event needs is absent, null or not usable, e.g. "push payload has no `ref`".
    #[error("{0}")]
    Missing(String),
}

impl ParseError {
    fn missing(what: impl Into<String>) -> Self {
        ParseError::Missing(what.into())
    }
}

/// A form delivery (`payload=<urlencoded JSON>`), which GitHub, Gitea and Forgejo can be
/// configured to send. The body prefix counts too, because proxies sometimes drop or rewrite the
/// content type.
pub(crate) fn is_form_delivery(headers: &HeaderMap, body: &[u8]) -> bool {
    let form_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    form_type || body.starts_with(b"payload=")
}

/// The JSON text of the payload: the body, or the decoded `payload` field of a form delivery.
pub fn payload_json<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<Cow<'a, [u8]>, ParseError> {
    if is_form_delivery(headers, body) {
        return form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| Cow::Owned(value.into_owned().into_bytes()))
            .ok_or_else(|| ParseError::missing("form-encoded delivery has no `payload` field"));
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(Cow::Borrowed(body));
    }
    Err(ParseError::Json("body is neither a JSON object nor a form with a `payload` field".into()))
}

/// Turns one delivery into the ref changes it announces.
///
/// `event` is [`event_name`]'s value. Events that are not about code (releases, comments...)
/// come back as [`EventKind::Other`] rather than an error, so the inbox can show them as ignored.
pub fn normalize(provider: Provider, event: &str, delivery_id: Option<&str>, payload: &[u8]) -> Result<Vec<Event>, ParseError> {
    let mut events = match provider {
        Provider::Github | Provider::Gitea | Provider::Forgejo => {
            vec![github::normalize(provider, event, payload)?]
        }
        Provider::Gitlab => vec![gitlab::normalize(event, payload)?],
        Provider::Bitbucket => bitbucket::normalize(event, payload)?,
    };
    for e in &mut events {
        e.delivery_id = delivery_id.map(str::to_owned);
    }
    Ok(events)
}

/// Parses a payload into a provider's serde model, reporting syntax and type errors alike as
/// [`ParseError::Json`], because either way the sender did not send what it claims to be.
pub(crate) fn parse<'de, T: Deserialize<'de>>(payload: &'de [u8]) -> Result<T, ParseError> {
    serde_json::from_slice(payload).map_err(|e| ParseError::Json(e.to_string()))
}

/// The all-zero object id that forges use for "no commit" (40 or, for SHA-256 repos, 64 zeros).
pub(crate) fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

/// Accepts a commit id only if it is hex, because it ends up on a git command line; a payload
/// that puts anything else there is refused instead of trusted. Null and empty mean "none".
pub(crate) fn sha(value: Option<&str>, what: &str) -> Result<Option<String>, ParseError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(Some(s.to_ascii_lowercase())),
        Some(_) => Err(ParseError::Missing(format!("{what} is not a commit hash"))),
    }
}

/// A ref name is refused when empty, so every ref event names a ref.
pub(crate) fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, ParseError> {
    match value.map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ParseError::Missing(what.to_owned())),
    }
}

/// Ref events name branches and tags bare in some payloads (`create`, `delete`, Bitbucket);
/// the full form keeps a branch and a tag of the same name apart.
pub(crate) fn full_ref(name: &str, is_tag: bool) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else if is_tag {
        format!("refs/tags/{name}")
    } else {
        format!("refs/heads/{name}")
    }
}

/// Trims and drops blank strings, so "" never masquerades as a value.
pub(crate) fn text(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A blank event with the fields every constructor fills, so provider code only sets what its
/// payload knows.
pub(crate) fn blank(provider: Provider, kind: EventKind, repo: Repo) -> Event {
    Event {
        provider,
        delivery_id: None,
        kind,
        repo,
        git_ref: None,
        before: None,
        after: None,
        commit: None,
        pusher: None,
        message: None,
        pull_request: None,
        forced: false,
    }
}
