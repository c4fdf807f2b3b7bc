//! A webhook delivery, from the listener's `POST /hooks/<project-id>` or replayed from the inbox.
//!
//! Every delivery gets a real status and a short JSON body, and a row in the inbox, whatever
//! happens to it. Checks run cheapest-first, and nothing is queued for any 4xx.
//!
//! Must not depend on other services but poll (and through it intake, bus).

use std::time::Instant;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::adapters::forge::webhook::{self, Provider};
use crate::adapters::keychain;
use crate::domain::project::Project;
use crate::domain::run::{Change, ChangeKind, Outcome, Source, Trigger};
use crate::services::poll::Poller;
use crate::services::webhook_key;
use crate::store::{deliveries, now_ms, Store};
use crate::{ApiError, Error, ErrorCode, Result};

/// GitHub's own cap on a payload; forges don't send more, so anything bigger is not a forge.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// The bytes of webhook bodies being read at once, across all deliveries: past it a delivery
/// gets 503 with `Retry-After` (forges retry) instead of the engine's memory growing with every
/// concurrent sender. In KiB.
const BODIES_IN_FLIGHT_KIB: usize = 48 * 1024;
static IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BODIES_IN_FLIGHT_KIB);

/// A whole body must arrive within this (a body that trickles in holds memory and a connection).
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

enum BodyError {
    TooLarge,
    /// Over the bytes-in-flight budget: try again later.
    Busy,
    /// Not all there within [`BODY_DEADLINE`].
    Slow,
    Broken(String),
}

/// Reads the body into memory, feeding `verifier` as it arrives: at most [`MAX_BODY`] bytes,
/// within [`BODY_DEADLINE`], inside the bytes-in-flight budget (whose permits the returned guard
/// holds). A refused body is answered at once and drained in the background ([`drain`]).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    verifier: &mut webhook::Verifier,
) -> Result<(Vec<u8>, tokio::sync::SemaphorePermit<'static>), BodyError> {
    use futures::StreamExt;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let kib = |n: usize| u32::try_from(n.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
    if declared.is_some_and(|n| n > MAX_BODY) {
        drain(body);
        return Err(BodyError::TooLarge);
    }
    let Ok(mut permit) = IN_FLIGHT.try_acquire_many(kib(declared.unwrap_or(0))) else {
        drain(body);
        return Err(BodyError::Busy);
    };
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
            if buf.len() + chunk.len() > MAX_BODY {
                return Err(BodyError::TooLarge);
            }
            // A body of unknown length grows its share of the budget as it arrives.
            let need = kib(buf.len() + chunk.len());
            if need > permit.num_permits() as u32 {
                permit.merge(IN_FLIGHT.try_acquire_many(need - permit.num_permits() as u32).map_err(|_| BodyError::Busy)?);
            }
            verifier.update(&chunk);
            buf.extend_from_slice(&chunk);
        }
        Ok(())
    };
    let result = match tokio::time::timeout(BODY_DEADLINE, read).await {
        Err(_) => Err(BodyError::Slow),
        Ok(r) => r,
    };
    match result {
        Ok(()) => Ok((buf, permit)),
        // A sender too slow for the deadline is not waited for any longer: the connection
        // closes after the answer.
        Err(e @ BodyError::Slow) => Err(e),
        Err(e) => {
            drain_after(Body::from_stream(stream), buf.len());
            Err(e)
        }
    }
}

/// A body not read yet: refused before it was read, it is drained in the background.
struct Unread(Option<Body>);

impl Unread {
    fn take(&mut self) -> Body {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        if let Some(body) = self.0.take() {
            drain(body);
        }
    }
}

/// Reads and drops what is left of a refused body (up to twice [`MAX_BODY`], within
/// [`BODY_DEADLINE`]) while the answer goes out, so the sender reads the answer instead of
/// seeing its connection reset mid-upload. Nothing is kept.
fn drain(body: Body) {
    drain_after(body, 0)
}

/// [`drain`] for a body of which `read` bytes were read already (they count towards the bound).
fn drain_after(body: Body, read: usize) {
    use futures::StreamExt;
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let _ = tokio::time::timeout(BODY_DEADLINE, async {
            let mut seen = read;
            while let Some(Ok(chunk)) = stream.next().await {
                seen += chunk.len();
                if seen > 2 * MAX_BODY {
                    break;
                }
            }
        })
        .await;
    });
}

pub fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Github => "github",
        Provider::Gitlab => "gitlab",
        Provider::Gitea => "gitea",
        Provider::Forgejo => "forgejo",
        Provider::Bitbucket => "bitbucket",
    }
}

/// The largest body kept for "redeliver locally" (a push of 20 commits is a few hundred KiB).
const KEEP_AT_MOST: usize = 2 * 1024 * 1024;
/// Bodies kept for "redeliver locally": the newest 200, and 64 MiB in all; older ones are dropped
/// as new ones come.
const KEPT_BODIES: deliveries::Budget = deliveries::Budget { count: 200, bytes: 64 << 20 };

/// Headers a replay needs to be told apart: never the secret or a proof of it (a replay is
/// signed again with the current secret).
fn kept_headers(headers: &HeaderMap) -> serde_json::Map<String, serde_json::Value> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            (n == "content-type" || n == "user-agent" || n.starts_with("x-")) && !webhook::is_secret_header(n)
        })
        .filter_map(|(name, value)| Some((name.as_str().to_string(), serde_json::Value::String(value.to_str().ok()?.to_string()))))
        .collect()
}

/// What one delivery left behind for [`keep_body`]: its body, once read, and its inbox row.
#[derive(Default)]
struct Seen {
    body: Option<axum::body::Bytes>,
    delivery: Option<i64>,
    /// The body's share of the bytes-in-flight budget, held until the body is stored too (the
    /// store copies it once more).
    budget: Option<tokio::sync::SemaphorePermit<'static>>,
}

/// The webhook service, a cheap handle: the store (the inbox, kept bodies), the poller (a
/// package event looks at the registry now; its intake takes the changes) and what every
/// delivery needs from memory: the project and its secret.
#[derive(Clone)]
pub struct Hooks {
    store: Store,
    poller: Poller,
    cache: Arc<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Projects as the webhook route needs them (rules, forge), dropped on every change.
    projects: Mutex<HashMap<String, Arc<Project>>>,
    /// Webhook secrets read from the keychain once, not on every delivery.
    secrets: Mutex<HashMap<String, String>>,
}

impl Hooks {
    pub fn new(store: Store, poller: Poller) -> Hooks {
        Hooks { store, poller, cache: Default::default() }
    }

    /// The project for a webhook: from memory after the first delivery, since every delivery
    /// needs it and it changes only through this engine. Its poll fields may be stale.
    pub async fn project_for_hook(&self, id: &str) -> Result<Option<Arc<Project>>> {
        if let Some(p) = self.cache.projects.lock().unwrap().get(id) {
            return Ok(Some(p.clone()));
        }
        let Some(project) = crate::store::projects::find(&self.store, id).await? else { return Ok(None) };
        let project = Arc::new(project);
        self.cache.projects.lock().unwrap().insert(id.to_string(), project.clone());
        Ok(Some(project))
    }

    /// Projects changed: the next delivery reads them again.
    pub fn projects_changed(&self) {
        self.cache.projects.lock().unwrap().clear();
    }

    /// A new secret for project `id`, in the keychain: deliveries signed with the old one fail.
    pub async fn new_webhook_secret(&self, id: &str) -> Result<()> {
        let secret = crate::adapters::token::random_hex(32);
        keychain::set(&webhook_key(id), &secret).await?;
        self.cache.secrets.lock().unwrap().insert(id.to_string(), secret);
        Ok(())
    }

    /// Project `id` is gone: its secret leaves the keychain and the cache.
    pub async fn forget_webhook_secret(&self, id: &str) -> Result<()> {
        self.cache.secrets.lock().unwrap().remove(id);
        keychain::delete(&webhook_key(id)).await
    }

    pub async fn webhook_secret(&self, id: &str) -> Result<String> {
        if let Some(s) = self.cache.secrets.lock().unwrap().get(id) {
            return Ok(s.clone());
        }
        let secret = keychain::get(&webhook_key(id)).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::Keychain,
                format!("the keychain has no webhook secret for project {id}: rotate the secret and update the forge's hook"),
            )
        })?;
        self.cache.secrets.lock().unwrap().insert(id.to_string(), secret.clone());
        Ok(secret)
    }

    /// A webhook, from the listener or replayed from the inbox (`redelivery_of`: the inbox row it
    /// replays, which gets a fresh delivery id so it is not taken for the original). Returns the
    /// answer and the inbox row it recorded.
    pub async fn handle(&self, project_id: String, headers: HeaderMap, body: Body, redelivery_of: Option<i64>) -> (Response, Option<i64>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let response = decide(self.clone(), project_id, &headers, body, redelivery_of, seen.clone()).await;
        let Seen { body, delivery, budget } = std::mem::take(&mut *seen.lock().unwrap());
        if let (Some(body), Some(id)) = (body, delivery) {
            let headers = serde_json::Value::Object(kept_headers(&headers)).to_string();
            // Off the answer's path: a burst of deliveries must not wait for these writes.
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = deliveries::keep(&store, id, &headers, body.as_ref(), KEPT_BODIES).await {
                    tracing::warn!("cannot keep the body of delivery {id} for redelivery: {e}");
                }
                drop(budget);
            });
        }
        (response, delivery)
    }
}

async fn decide(
    hooks: Hooks,
    project_id: String,
    headers: &HeaderMap,
    body: Body,
    redelivery_of: Option<i64>,
    seen: Arc<Mutex<Seen>>,
) -> Response {
    let mut body = Unread(Some(body));
    let headers = headers.clone();
    let source = source_of(&headers, webhook::detect(&headers), redelivery_of);
    let reject = |(status, code, message): Refusal, project: Option<String>| {
        let intake = hooks.poller.intake.clone();
        let source = source.clone();
        let seen = seen.clone();
        async move {
            match intake.record_rejected_delivery(project.as_deref(), &source, status.as_u16(), &message).await {
                Ok(id) => seen.lock().unwrap().delivery = Some(id),
                Err(e) => tracing::error!("cannot record a rejected delivery: {e}"),
            }
            tracing::info!(status = status.as_u16(), project = project.as_deref().unwrap_or("-"), "webhook refused: {message}");
            let mut answer = (status, Json(ApiError { code, message })).into_response();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                // Busy, or the keychain did not answer: forges retry.
                answer.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            }
            answer
        }
    };

    let project = match hooks.project_for_hook(&project_id).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            let msg = format!("no project with id {project_id:?}: check the hook URL (it ends in /hooks/<project-id>)");
            return reject((StatusCode::NOT_FOUND, ErrorCode::NotFound, msg), None).await;
        }
        Err(e) => return reject((StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string()), None).await,
    };
    let pid = Some(project.id.clone());
    let (provider, body) = match verified_body(&hooks, &project, &headers, &source, &mut body).await {
        Ok((provider, bytes, permit)) => {
            // Only a delivery that proved the secret, and that the intake then takes, keeps its
            // body (for "redeliver locally"): a stranger who guesses a hook URL must not fill the
            // disk, nor have a forgery replayed.
            let mut seen = seen.lock().unwrap();
            // A body over KEEP_AT_MOST is not kept: storing it costs several copies of it in
            // memory at once (the driver's and SQLite's), and such a delivery is redelivered
            // from the forge instead.
            if bytes.len() <= KEEP_AT_MOST {
                seen.budget = Some(permit);
                seen.body = Some(bytes.clone());
            }
            (provider, bytes)
        }
        Err(refusal) => return reject(refusal, pid).await,
    };
    let changes = match changes_of(provider, &source, &headers, &body) {
        Ok(c) => c,
        Err(msg) => {
            // Signed, but not a delivery Slipway can act on: nothing to redeliver, so its body
            // is not kept (writing a 25 MiB body to the store costs several copies of it).
            {
                let mut seen = seen.lock().unwrap();
                (seen.body, seen.budget) = (None, None);
            }
            return reject((StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg), pid).await;
        }
    };
    check_registry_on_package_event(&hooks.poller, &project, &changes);
    let id = project.id.clone();
    match hooks.poller.intake.accept_changes(project, changes, Trigger::Webhook, source.clone()).await {
        Ok(verdict) => {
            seen.lock().unwrap().delivery = Some(verdict.delivery);
            let status = if verdict.outcome == Outcome::Queued { StatusCode::ACCEPTED } else { StatusCode::OK };
            tracing::info!(project = %id, outcome = ?verdict.outcome, runs = ?verdict.run_ids, "webhook: {}", verdict.reason);
            (status, Json(verdict)).into_response()
        }
        Err(e) => reject((StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string()), pid).await,
    }
}

/// The body of a delivery that proved the project's secret. Everything that needs only the
/// headers is checked before a byte of the body is read (a refused body is drained when `body`
/// drops); the signature is computed as the body
/// arrives.
async fn verified_body(
    hooks: &Hooks,
    project: &Project,
    headers: &HeaderMap,
    source: &Source,
    body: &mut Unread,
) -> Result<(Provider, axum::body::Bytes, tokio::sync::SemaphorePermit<'static>), Refusal> {
    let provider = check_headers(headers, webhook::detect(headers), source)?;
    let secret = hooks.webhook_secret(&project.id).await.map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string()))?;
    let signature_failed = |e: webhook::VerifyError| {
        let why = format!(
            "{} signature check failed: {e}. The hook's secret must be the one Slipway shows for project {}",
            source.provider, project.id
        );
        (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, why)
    };
    let mut verifier = webhook::Verifier::start(provider, headers, secret.as_bytes()).map_err(signature_failed)?;
    let (bytes, permit) = read_body(headers, body.take(), &mut verifier).await.map_err(body_refusal)?;
    let bytes = axum::body::Bytes::from(bytes);
    verifier.finish(headers, &bytes).map_err(signature_failed)?;
    Ok((provider, bytes, permit))
}

/// A refusal: the status, the error code and the message that says what to fix.
type Refusal = (StatusCode, ErrorCode, String);

/// The answer to a body that could not be read whole.
fn body_refusal(e: BodyError) -> Refusal {
    match e {
        BodyError::TooLarge => {
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, format!("body over the {} MiB limit", MAX_BODY / (1024 * 1024)))
        }
        BodyError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            format!("too many webhook bodies are being read at once (over {} MiB): retry shortly", BODIES_IN_FLIGHT_KIB / 1024),
        ),
        BodyError::Slow => {
            (StatusCode::REQUEST_TIMEOUT, ErrorCode::InvalidInput, format!("the body did not arrive within {} s", BODY_DEADLINE.as_secs()))
        }
        BodyError::Broken(e) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, format!("the body could not be read: {e}")),
    }
}

/// The checks that need only the headers: a webhook's content type, a forge's headers, an event.
fn check_headers(headers: &HeaderMap, provider: Option<Provider>, source: &Source) -> Result<Provider, Refusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "application/json" && mime != "application/x-www-form-urlencoded" {
        let msg = format!("content type {content_type:?} is not a webhook's: send application/json (or form-encoded `payload=`)");
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, msg));
    }
    let Some(provider) = provider else {
        let msg = "no forge headers: expected X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Forgejo-Event or X-Event-Key".to_string();
        return Err((StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, msg));
    };
    if source.event.is_empty() {
        return Err((StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, format!("{} delivery without an event header", source.provider)));
    }
    Ok(provider)
}

/// The ref changes a verified delivery reports, or why its payload cannot be read.
fn changes_of(provider: Provider, source: &Source, headers: &HeaderMap, body: &[u8]) -> Result<Vec<Change>, String> {
    let events = webhook::payload_json(headers, body)
        .and_then(|json| webhook::normalize(provider, &source.event, source.delivery_id.as_deref(), &json))
        .map_err(|e| format!("{} {}: {e}", source.provider, source.event))?;
    let mut changes: Vec<Change> = events.iter().map(Change::from).collect();
    // `create` (GitHub, Gitea, Forgejo) is not a deploy: every forge that sends it also sends a
    // `push` for the same branch or tag, and a branch created at an existing commit gets no push
    // at all, so deploying on `create` would deploy what nobody pushed, or deploy twice.
    if source.event == "create" {
        for c in &mut changes {
            c.kind = ChangeKind::Other("create".into());
        }
    }
    Ok(changes)
}

/// An image was pushed: look at the registry now instead of at the next poll. What is found
/// goes through the intake like any poll (and shows in the inbox as such).
fn check_registry_on_package_event(poller: &Poller, project: &Arc<Project>, changes: &[Change]) {
    let package = changes.iter().any(|c| matches!(&c.kind, ChangeKind::Other(e) if crate::domain::run::is_package_event(e)));
    if project.image_repo.is_none() || !package {
        return;
    }
    let (poller, project) = (poller.clone(), project.clone());
    tokio::spawn(async move {
        if let Err(e) = poller.poll_registry(&project).await {
            tracing::warn!(project = %project.id, "registry check after a package event failed: {e}");
        }
    });
}

/// Who sent the delivery, as the inbox records it. A local redelivery gets a fresh id that says
/// what it replays, so it is not taken for the original.
fn source_of(headers: &HeaderMap, provider: Option<Provider>, redelivery_of: Option<i64>) -> Source {
    let mut source = Source { received_at: now_ms(), started: Some(Instant::now()), ..Default::default() };
    if let Some(p) = provider {
        source.provider = provider_name(p).to_string();
        source.event = webhook::event_name(p, headers).unwrap_or_default();
        source.delivery_id = webhook::delivery_id(p, headers);
    }
    if let Some(original) = redelivery_of {
        source.delivery_id = Some(format!("local-redelivery-of-{original}-{}", crate::adapters::token::random_hex(3)));
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_delivery_keeps_no_secret_and_no_signature() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "application/json"),
            ("x-gitlab-event", "Push Hook"),
            ("x-gitlab-token", "the-secret"),
            ("x-hub-signature-256", "sha256=ab"),
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("cookie", "a=b"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        let kept: Vec<String> = kept_headers(&h).keys().cloned().collect();
        assert_eq!(kept, vec!["content-type".to_string(), "x-gitlab-event".to_string()]);
    }
}
