//! Notifications: turns run changes into notices once per outcome, and sends them to the
//! desktop and the project's chat channels (rate-limited, URLs from the keychain).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};

use crate::adapters::{desktop, keychain};
use crate::domain::events::EngineEvent;
use crate::domain::notice::*;
use crate::domain::notice_action::{action_for, buttons, NoticeAction};
use crate::domain::run::RunStatus;
use crate::services::bus::Events;
use crate::store::logs::Logs;
use crate::store::{now_ms, Store};
use crate::Result;

const USER_AGENT: &str = concat!("slipway/", env!("CARGO_PKG_VERSION"));

/// Moves the URLs and secrets of `channels` into the keychain, keeping `target` and `signed` of
/// same-named channels in `previous` when no new URL or secret was given. Entries of channels
/// that were dropped are removed from the keychain.
pub async fn store_channel_secrets(project: &str, channels: &mut [NotifyChannel], previous: &[NotifyChannel]) -> Result<()> {
    normalise_channels(channels)?;
    for c in channels.iter_mut() {
        let before = previous.iter().find(|p| p.name == c.name);
        match c.url.take() {
            Some(url) => {
                let url = url.trim().to_string();
                keychain::set(&url_key(project, &c.name), &url).await?;
                c.target = Some(redact(&url));
            }
            None => c.target = before.and_then(|p| p.target.clone()).or(c.target.take()),
        }
        match c.secret.take() {
            Some(s) if s.is_empty() => {
                keychain::delete(&secret_key(project, &c.name)).await?;
                c.signed = false;
            }
            Some(s) => {
                keychain::set(&secret_key(project, &c.name), &s).await?;
                c.signed = true;
            }
            None => c.signed = before.map(|p| p.signed).unwrap_or(c.signed),
        }
    }
    for old in previous.iter().filter(|p| !channels.iter().any(|c| c.name == p.name)) {
        forget_channel(project, &old.name).await;
    }
    Ok(())
}

/// Removes a channel's keychain entries; a keychain that refuses is logged, not fatal.
pub async fn forget_channel(project: &str, name: &str) {
    for key in [url_key(project, name), secret_key(project, name)] {
        if let Err(e) = keychain::delete(&key).await {
            tracing::warn!(project, channel = name, "could not remove {key} from the keychain: {e}");
        }
    }
}

/// The (run, kind) pairs told, as a set and in the order they were told (the oldest go first).
type Announced = (HashSet<(i64, NoticeKind)>, VecDeque<(i64, NoticeKind)>);

/// The notification service, a cheap handle: its own state, and the store (projects, runs,
/// settings), the run logs (a channel that failed is told on the run) and the events (every
/// notice is an event too).
#[derive(Clone)]
pub struct Notifier {
    state: Arc<State>,
    store: Store,
    logs: Logs,
    events: Events,
    /// Where a notification's buttons ask the engine to act (roll back, open a dialog).
    asks: mpsc::UnboundedSender<NoticeAction>,
}

/// The desktop rate limit, what was announced, and the HTTP client for the channels.
struct State {
    limiter: Mutex<RateLimiter>,
    /// (run, kind) already announced: a run is reported changed several times (and a late
    /// rollback may change a succeeded run), but each outcome is told once.
    announced: Mutex<Announced>,
    desktop_failed: AtomicBool,
    http: reqwest::Client,
}

impl Notifier {
    pub fn new(store: Store, logs: Logs, events: Events, asks: mpsc::UnboundedSender<NoticeAction>) -> Notifier {
        let http = reqwest::Client::builder().user_agent(USER_AGENT).timeout(Duration::from_secs(10)).build().unwrap_or_default();
        let state = State {
            limiter: Mutex::new(RateLimiter::default()),
            announced: Mutex::new(Default::default()),
            desktop_failed: AtomicBool::new(false),
            http,
        };
        Notifier { state: Arc::new(state), store, logs, events, asks }
    }

    /// True the first time (run, kind) is seen.
    fn first_time(&self, run: i64, kind: NoticeKind) -> bool {
        let mut guard = self.state.announced.lock().unwrap();
        let (set, order) = &mut *guard;
        if !set.insert((run, kind)) {
            return false;
        }
        order.push_back((run, kind));
        if order.len() > 4096 {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

fn env_override() -> Option<bool> {
    match std::env::var(DESKTOP_ENV).ok()?.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

impl Notifier {
    pub async fn settings(&self) -> Result<NotificationSettings> {
        let desktop = self.store.setting(DESKTOP_SETTING).await?.as_deref() != Some("false");
        let over = env_override();
        Ok(NotificationSettings { desktop, desktop_env_override: over, desktop_active: over.unwrap_or(desktop) && desktop::possible() })
    }

    pub async fn set_settings(&self, s: &NotificationSettings) -> Result<NotificationSettings> {
        self.store.set_setting(DESKTOP_SETTING, if s.desktop { "true" } else { "false" }).await?;
        self.settings().await
    }

    /// Until the engine stops: turns run changes into notices. `events` is subscribed before the
    /// runner starts, so runs that crash recovery marks interrupted are seen too.
    pub async fn run(self, mut events: broadcast::Receiver<EngineEvent>) {
        use broadcast::error::RecvError;
        if env_override() != Some(false) && !desktop::possible() {
            tracing::info!("desktop notifications off: no D-Bus session bus in this environment");
        }
        // Where to pick up after missing events: runs that finished since then are looked at again.
        let mut seen_until = now_ms();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                got = events.recv() => match got {
                    Ok(EngineEvent::RunChanged { run_id }) => {
                        if let Err(e) = self.run_changed(run_id).await {
                            tracing::warn!(run = run_id, "could not decide on a notification: {e}");
                        }
                    }
                    Ok(EngineEvent::ShuttingDown { .. }) | Err(RecvError::Closed) => return,
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!("notifications fell {n} events behind; re-reading runs that ended since");
                        let ids = crate::store::runs::ended_since(&self.store, seen_until - 1000).await.unwrap_or_default();
                        for id in ids {
                            let _ = self.run_changed(id).await;
                        }
                        seen_until = now_ms();
                    }
                },
                _ = tick.tick() => {
                    seen_until = now_ms() - 5_000;
                    let due = self.state.limiter.lock().unwrap().summary(Instant::now());
                    if let Some(summary) = due {
                        self.show_desktop(summary).await;
                    }
                }
            }
        }
    }

    /// Looks at run `run_id` and announces what it means, once per outcome; returns the notice sent,
    /// if any. The notification task calls it on every run change.
    pub async fn run_changed(&self, run_id: i64) -> Result<Option<Notice>> {
        let store = &self.store;
        let Some(ended) = crate::store::runs::ended(store, run_id).await? else { return Ok(None) };
        let run = ended.summary;
        let Some(finished_at) = ended.finished_at else { return Ok(None) };
        if !RunStatus::COUNTED.contains(&run.status) {
            return Ok(None);
        }
        let previous = crate::store::runs::previous_end(store, &ended.stage_id, run_id, finished_at).await?;
        let Some(kind) = classify(run.status, run.trigger, previous) else { return Ok(None) };
        if !self.first_time(run_id, kind) {
            return Ok(None);
        }
        let (project_id, stage) = (run.project_id.clone(), run.stage.clone());
        let project_name =
            crate::store::projects::get(&self.store, &project_id).await.map(|p| p.name).unwrap_or_else(|_| project_id.clone());
        let url = self.link(&project_id, &stage, Some(run_id)).await;
        let notice = run_notice(kind, &project_name, &run, url);
        self.dispatch(notice.clone()).await;
        Ok(Some(notice))
    }

    async fn link(&self, project: &str, stage: &str, run: Option<i64>) -> Option<String> {
        let template = self.store.setting(crate::services::commit_status::LINK_SETTING).await.ok().flatten()?;
        Some(
            template
                .replace("{project}", project)
                .replace("{stage}", stage)
                .replace("{run}", &run.map(|r| r.to_string()).unwrap_or_default()),
        )
    }

    /// For the deploy engine: a release of `stage` waits for the operator to confirm its promotion
    /// (`from_release` is live now, `to_release` is waiting; release numbers or labels).
    pub async fn notify_promotion_pending(
        &self,
        project: &str,
        stage: &str,
        from_release: impl std::fmt::Display,
        to_release: impl std::fmt::Display,
    ) {
        let project_name = crate::store::projects::get(&self.store, project).await.map(|p| p.name).unwrap_or_else(|_| project.to_string());
        let reason = format!("release {to_release} is ready to replace {from_release} and waits for your confirmation");
        let notice = Notice {
            kind: NoticeKind::AwaitingPromotion,
            project: project.to_string(),
            stage: stage.to_string(),
            run_id: None,
            status: "awaiting_promotion".into(),
            commit: None,
            title: format!("{project_name}/{stage}: release {to_release} waits for promotion"),
            body: reason.clone(),
            reason: Some(reason),
            url: self.link(project, stage, None).await,
        };
        self.dispatch(notice).await;
    }

    /// For the health watch: `stage`'s live release `release` went degraded or down, or
    /// recovered; `what` is the failing check's last output.
    pub async fn notify_stage(&self, project: &str, stage: &str, kind: NoticeKind, release: i64, what: Option<&str>) {
        let project_name = crate::store::projects::get(&self.store, project).await.map(|p| p.name).unwrap_or_else(|_| project.to_string());
        let (status, word) = match kind {
            NoticeKind::StageDegraded => ("degraded", "is degraded"),
            NoticeKind::StageDown => ("down", "is down"),
            _ => ("healthy", "is healthy again"),
        };
        let body = match what {
            Some(w) => format!("release {release} {word}: {}", crate::domain::notice::truncate(w, 300)),
            None => format!("release {release} {word}"),
        };
        let notice = Notice {
            kind,
            project: project.to_string(),
            stage: stage.to_string(),
            run_id: None,
            status: status.into(),
            commit: None,
            title: format!("{project_name}/{stage} {word}"),
            reason: what.map(str::to_string),
            body,
            url: self.link(project, stage, None).await,
        };
        self.dispatch(notice).await;
    }

    /// Tells everyone who should hear of `notice`: the UI and API clients (an event), the desktop,
    /// and the project's channels. Returns at once; delivery happens in the background.
    pub async fn dispatch(&self, notice: Notice) {
        tracing::info!(project = %notice.project, stage = %notice.stage, kind = ?notice.kind, "{}", notice.title);
        self.events.emit(EngineEvent::Notice { notice: notice.clone() });
        let admitted = self.state.limiter.lock().unwrap().admit(Instant::now(), &notice);
        if admitted {
            let (me, notice) = (self.clone(), notice.clone());
            tokio::spawn(async move { me.show_desktop(notice).await });
        }
        let me = self.clone();
        tokio::spawn(async move { me.send_channels(&notice).await });
    }

    async fn show_desktop(&self, notice: Notice) {
        match self.settings().await {
            Ok(s) if s.desktop_active => {}
            _ => return,
        }
        let (events, asks, clicked) = (self.events.clone(), self.asks.clone(), notice.clone());
        let on_action = move |key: String| match action_for(&clicked, &key) {
            Some(NoticeAction::OpenRun(run_id)) => {
                tracing::info!(run = run_id, "desktop notification clicked: opening run {run_id}");
                events.emit(EngineEvent::OpenRun { run_id });
            }
            Some(action) => {
                tracing::info!(?action, "desktop notification: {key}");
                let _ = asks.send(action);
            }
            None => tracing::warn!("desktop notification: an action it did not offer ({key:?})"),
        };
        match desktop::show(&notice, &buttons(&notice), on_action).await {
            Ok(()) => {
                if self.state.desktop_failed.swap(false, Ordering::SeqCst) {
                    tracing::info!("desktop notifications work again");
                }
            }
            Err(e) => {
                // Once: a session without a notification server would otherwise log every run.
                if !self.state.desktop_failed.swap(true, Ordering::SeqCst) {
                    tracing::warn!("desktop notification not shown (no notification service in this session?): {e}");
                } else {
                    tracing::debug!("desktop notification not shown: {e}");
                }
            }
        }
    }

    async fn send_channels(&self, notice: &Notice) {
        if notice.project.is_empty() {
            return;
        }
        let Ok(project) = crate::store::projects::get(&self.store, &notice.project).await else { return };
        for channel in &project.notifications {
            if let Err(e) = self.send(&project.id, channel, notice).await {
                tracing::warn!(project = %project.id, channel = %channel.name, kind = channel.kind.as_str(), "notification not sent: {e}");
                if let Some(run) = notice.run_id {
                    self.logs
                        .push(run, None, "system", format!("{} notification ({}) not sent: {e}", channel.kind.as_str(), channel.name))
                        .await;
                }
            }
        }
    }

    /// Sends a test notice to every channel of `project_id` and says how each went.
    pub async fn test_channels(&self, project_id: &str) -> Result<Vec<ChannelResult>> {
        let project = crate::store::projects::get(&self.store, project_id).await?;
        let notice = Notice {
            kind: NoticeKind::Test,
            project: project.id.clone(),
            stage: project.stages.first().map(|s| s.name.clone()).unwrap_or_default(),
            run_id: None,
            status: "test".into(),
            commit: None,
            reason: Some("This is a test notification from Slipway.".into()),
            title: format!("{}: notifications reach this channel", project.name),
            body: "This is a test notification from Slipway.".into(),
            url: None,
        };
        let mut out = Vec::new();
        for c in &project.notifications {
            let r = self.send(&project.id, c, &notice).await;
            out.push(ChannelResult { channel: c.name.clone(), ok: r.is_ok(), error: r.err() });
        }
        Ok(out)
    }

    /// One channel, one retry. Errors name the channel by its redacted target, never the URL.
    async fn send(&self, project: &str, channel: &NotifyChannel, notice: &Notice) -> std::result::Result<(), String> {
        let url = keychain::get(&url_key(project, &channel.name))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the keychain has no URL for it ({}); set the channel again", url_key(project, &channel.name)))?;
        let body = match channel.kind {
            ChannelKind::Slack => slack_payload(notice),
            ChannelKind::Discord => discord_payload(notice),
            ChannelKind::Webhook => webhook_payload(notice),
        };
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let signature = match (channel.kind, channel.signed) {
            (ChannelKind::Webhook, true) => match keychain::get(&secret_key(project, &channel.name)).await.map_err(|e| e.to_string())? {
                Some(secret) => Some(signature(&secret, &body)),
                None => return Err(format!("the channel is signed but the keychain has no {}", secret_key(project, &channel.name))),
            },
            _ => None,
        };
        let target = redact(&url);
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            let mut req = self.state.http.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
            if let Some(sig) = &signature {
                req = req.header("X-Slipway-Signature", sig);
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    last = format!("{target} answered {status}: {}", truncate(text.trim(), 200));
                    // The service refused this payload: sending it again won't change its mind.
                    if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                        break;
                    }
                }
                // reqwest's error text includes the URL, whose path is the credential.
                Err(e) => last = format!("{target}: {}", describe(&e)),
            }
        }
        Err(last)
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out after 10 s".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        let mut e: &dyn std::error::Error = e;
        let mut out = String::from("request failed");
        while let Some(src) = e.source() {
            out = src.to_string();
            e = src;
        }
        out
    }
}
