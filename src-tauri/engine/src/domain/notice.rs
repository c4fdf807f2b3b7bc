//! Notifications: when a run fails, is rolled back, goes green again after a failure, or a
//! release waits for a promote confirmation, the operator hears of it: on the desktop (through
//! the OS notification service, rate-limited) and on the project's chat channels (Slack,
//! Discord, or any JSON webhook). Like commit statuses, a notification is a courtesy: every
//! failure to deliver one is logged and goes no further, and never touches the run.
//!
//! What a run ended as is read from the store whenever the engine says a run changed
//! ([`EngineEvent::RunChanged`]), so every path that ends a run (the runner, crash recovery, the
//! deploy engine's rollbacks) is covered without each one calling in here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

// The run's wire types, not its rules: a notice describes a run and needs nothing of how runs
// are planned (which would tie notices to projects and back).
use crate::{Error, ErrorCode, Result};
use slipway_protocol::run::{RunStatus, RunSummary, Trigger};

pub use slipway_protocol::notice::{ChannelKind, ChannelResult, Notice, NoticeKind, NotificationSettings, NotifyChannel};

/// Settings key: `"true"`/`"false"`; absent means on (when a notification service can exist).
pub const DESKTOP_SETTING: &str = "desktop_notifications";
/// `1`/`0` (or `true`/`false`): forces desktop notifications on or off over the setting. Tests
/// and packagers use it; the operator uses the setting.
pub const DESKTOP_ENV: &str = "SLIPWAY_DESKTOP_NOTIFY";

pub fn url_key(project: &str, channel: &str) -> String {
    format!("notify-url:{project}:{channel}")
}

pub fn secret_key(project: &str, channel: &str) -> String {
    format!("notify-secret:{project}:{channel}")
}

/// `https://hooks.slack.com/services/T0/B0/xyz` → `https://hooks.slack.com/…`: enough to tell
/// channels apart, never the token in the path.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or("");
            format!("{scheme}://{host}/…")
        }
        None => "…".into(),
    }
}

/// Names, uniqueness and URL schemes; fills in default names. Nothing touches the keychain.
pub fn normalise_channels(channels: &mut [NotifyChannel]) -> Result<()> {
    let invalid = |m: String| Error::new(ErrorCode::InvalidInput, m);
    let mut seen = HashSet::new();
    for c in channels.iter_mut() {
        if c.name.is_empty() {
            c.name = c.kind.as_str().to_string();
        }
        if crate::domain::ids::slug(&c.name) != c.name {
            return Err(invalid(format!("notifications: channel name {:?} must be lowercase letters, digits and dashes", c.name)));
        }
        if !seen.insert(c.name.clone()) {
            return Err(invalid(format!("notifications: two channels are named {:?}; give each a name", c.name)));
        }
        if let Some(url) = &c.url {
            let url = url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
                return Err(invalid(format!("notifications: channel {}: the URL must start with https:// (got {})", c.name, redact(url))));
            }
        }
        if c.secret.is_some() && c.kind != ChannelKind::Webhook {
            return Err(invalid(format!("notifications: channel {}: only webhook channels are signed", c.name)));
        }
    }
    Ok(())
}

/// What the run that just changed means for the operator, if anything. `previous` is the status
/// of the stage's previous finished run (cancelled and superseded runs say nothing about the
/// stage's health and are not counted).
pub fn classify(status: RunStatus, trigger: Trigger, previous: Option<RunStatus>) -> Option<NoticeKind> {
    match status {
        RunStatus::Failed | RunStatus::Interrupted => Some(NoticeKind::Failed),
        RunStatus::RolledBack => Some(NoticeKind::RolledBack),
        // A rollback run that worked is the rollback itself, already announced as such.
        RunStatus::Succeeded if trigger != Trigger::Rollback && previous.is_some_and(RunStatus::is_failure) => Some(NoticeKind::Recovered),
        _ => None,
    }
}

/// Holds desktop notifications to at most one per stage and kind within `per_key`, and
/// `max_in_window` overall within `window`. What it holds back comes out later as one summary
/// ("4 more runs failed"), once the burst is `per_key` old and the window has room.
#[derive(Debug)]
pub struct RateLimiter {
    per_key: Duration,
    window: Duration,
    max_in_window: usize,
    last_by_key: HashMap<(String, String, NoticeKind), Instant>,
    shown: VecDeque<Instant>,
    held: Vec<Notice>,
    held_since: Option<Instant>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(Duration::from_secs(30), Duration::from_secs(60), 5)
    }
}

impl RateLimiter {
    pub fn new(per_key: Duration, window: Duration, max_in_window: usize) -> RateLimiter {
        RateLimiter {
            per_key,
            window,
            max_in_window,
            last_by_key: HashMap::new(),
            shown: VecDeque::new(),
            held: Vec::new(),
            held_since: None,
        }
    }

    fn prune(&mut self, now: Instant) {
        while self.shown.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            self.shown.pop_front();
        }
        let per_key = self.per_key;
        self.last_by_key.retain(|_, t| now.duration_since(*t) < per_key);
    }

    /// True: show it now. False: held for the summary.
    pub fn admit(&mut self, now: Instant, notice: &Notice) -> bool {
        self.prune(now);
        let key = (notice.project.clone(), notice.stage.clone(), notice.kind);
        if self.last_by_key.contains_key(&key) || self.shown.len() >= self.max_in_window {
            self.held_since.get_or_insert(now);
            self.held.push(notice.clone());
            return false;
        }
        self.last_by_key.insert(key, now);
        self.shown.push_back(now);
        true
    }

    /// How many notices wait for the summary.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The one notice that stands for everything held back, when it is due.
    pub fn summary(&mut self, now: Instant) -> Option<Notice> {
        self.prune(now);
        let since = self.held_since?;
        if now.duration_since(since) < self.per_key || self.shown.len() >= self.max_in_window {
            return None;
        }
        let held = std::mem::take(&mut self.held);
        self.held_since = None;
        self.shown.push_back(now);
        Some(summarise(held))
    }
}

/// One notice for several: a single one stands for itself; more become "N more runs failed".
fn summarise(mut held: Vec<Notice>) -> Notice {
    let last = held.pop().expect("a summary of nothing");
    if held.is_empty() {
        return last;
    }
    let n = held.len() + 1;
    let all_same = |f: &dyn Fn(&Notice) -> &str| held.iter().all(|h| f(h) == f(&last));
    let same_kind = held.iter().all(|h| h.kind == last.kind);
    let title = if same_kind { format!("{n} more runs {}", last.kind.summary_verb()) } else { format!("{n} more run notifications") };
    let mut lines: Vec<String> = held.iter().chain(std::iter::once(&last)).rev().take(5).map(|h| h.title.clone()).collect();
    if n > 5 {
        lines.push(format!("… and {} more", n - 5));
    }
    Notice {
        kind: last.kind,
        project: if all_same(&|h| h.project.as_str()) { last.project.clone() } else { String::new() },
        stage: if all_same(&|h| h.stage.as_str()) { last.stage.clone() } else { String::new() },
        // A click opens the newest of them.
        run_id: last.run_id,
        status: last.status.clone(),
        commit: None,
        reason: None,
        title,
        body: lines.join("\n"),
        url: last.url.clone(),
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The notice for a run that ended as `kind`.
pub fn run_notice(kind: NoticeKind, project_name: &str, run: &RunSummary, url: Option<String>) -> Notice {
    let (project, stage, run_id, status) = (&run.project_id, &run.stage, run.id, run.status);
    let (commit, reason) = (run.commit_sha.as_deref(), run.reason.as_deref());
    let what = match (kind, status) {
        (NoticeKind::Failed, RunStatus::Interrupted) => "was interrupted".to_string(),
        (NoticeKind::Failed, _) => "failed".to_string(),
        (NoticeKind::RolledBack, _) => "was rolled back".to_string(),
        (NoticeKind::Recovered, _) => "succeeded again".to_string(),
        (NoticeKind::AwaitingPromotion, _) => "waits for promotion".to_string(),
        (NoticeKind::Test, _) => "is a test".to_string(),
        (NoticeKind::StageDegraded | NoticeKind::StageDown | NoticeKind::StageRecovered, _) => "ended".to_string(),
    };
    let title = format!("{project_name}/{stage}: run #{run_id} {what}");
    let mut body = String::new();
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        body.push_str(&truncate(r, 300));
    }
    if let Some(c) = commit {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&format!("commit {}", short(c)));
    }
    Notice {
        kind,
        project: project.to_string(),
        stage: stage.to_string(),
        run_id: Some(run_id),
        status: status.as_str().to_string(),
        commit: commit.map(String::from),
        reason: reason.map(String::from),
        title,
        body,
        url,
    }
}

// ---- Payloads: each service's documented JSON. ----

/// Slack escapes only these three in mrkdwn; a raw `<!channel>` in a failure reason would
/// otherwise ping the whole channel.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Slack incoming webhook: `text` is required (notifications and clients without blocks show
/// it); `blocks` is the rich form. A section's text is capped at 3000 characters.
pub fn slack_payload(n: &Notice) -> Value {
    let mut section = format!("{} *{}*", n.kind.emoji(), slack_escape(&n.title));
    if let Some(r) = n.reason.as_deref().filter(|r| !r.is_empty()) {
        section.push_str(&format!("\n```{}```", slack_escape(&truncate(r, 2500))));
    }
    let mut context = vec![format!("project *{}*", slack_escape(&n.project)), format!("stage *{}*", slack_escape(&n.stage))];
    if let Some(c) = &n.commit {
        context.push(format!("commit `{}`", slack_escape(short(c))));
    }
    if let Some(u) = &n.url {
        context.push(format!("<{}|open in Slipway>", slack_escape(u)));
    }
    json!({
        "text": truncate(&n.title, 3000),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&section, 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context.join(" · ")}]},
        ],
    })
}

/// Discord execute-webhook: `content` ≤ 2000 characters; one embed with title ≤ 256,
/// description ≤ 4096, field names ≤ 256 and values ≤ 1024. Mentions in a failure reason
/// (`@everyone`) must not ping anyone, hence the empty `allowed_mentions`.
pub fn discord_payload(n: &Notice) -> Value {
    let mut fields = vec![
        json!({"name": "Project", "value": truncate(&n.project, 1024), "inline": true}),
        json!({"name": "Stage", "value": truncate(&n.stage, 1024), "inline": true}),
    ];
    if let Some(c) = &n.commit {
        fields.push(json!({"name": "Commit", "value": short(c), "inline": true}));
    }
    let mut embed = json!({
        "title": truncate(&n.title, 256),
        "description": truncate(n.reason.as_deref().unwrap_or(&n.body), 4096),
        "color": n.kind.color(),
        "fields": fields,
    });
    if let Some(u) = &n.url {
        embed["url"] = json!(u);
    }
    json!({
        "content": truncate(&n.title, 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// The generic webhook: flat, stable field names for scripts.
pub fn webhook_payload(n: &Notice) -> Value {
    json!({
        "event": n.kind.event(),
        "project": n.project,
        "stage": n.stage,
        "run_id": n.run_id,
        "status": n.status,
        "commit": n.commit,
        "reason": n.reason,
        "url": n.url,
        "title": n.title,
    })
}

/// `X-Slipway-Signature`: `sha256=` and the hex HMAC-SHA256 of the exact body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

// ---- The engine side. ----

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Notice {
        let mut run = ended("web", "prod", 12, RunStatus::Failed);
        run.commit_sha = Some("0123456789abcdef0123456789abcdef01234567".into());
        run.reason = Some("step test failed: exit code 1".into());
        run_notice(NoticeKind::Failed, "Web", &run, Some("https://ci.example/web/prod/12".into()))
    }

    fn ended(project: &str, stage: &str, id: i64, status: RunStatus) -> RunSummary {
        RunSummary {
            id,
            project_id: project.into(),
            stage: stage.into(),
            trigger: Trigger::Webhook,
            status,
            commit_sha: None,
            ref_name: None,
            reason: None,
            delivery_id: None,
            queued_at: 0,
        }
    }

    #[test]
    fn classification() {
        assert_eq!(classify(RunStatus::Failed, Trigger::Webhook, None), Some(NoticeKind::Failed));
        assert_eq!(classify(RunStatus::Interrupted, Trigger::Manual, Some(RunStatus::Succeeded)), Some(NoticeKind::Failed));
        assert_eq!(classify(RunStatus::RolledBack, Trigger::Webhook, Some(RunStatus::Succeeded)), Some(NoticeKind::RolledBack));
        assert_eq!(classify(RunStatus::Succeeded, Trigger::Webhook, Some(RunStatus::Failed)), Some(NoticeKind::Recovered));
        assert_eq!(classify(RunStatus::Succeeded, Trigger::Poll, Some(RunStatus::RolledBack)), Some(NoticeKind::Recovered));
        assert_eq!(classify(RunStatus::Succeeded, Trigger::Manual, Some(RunStatus::Interrupted)), Some(NoticeKind::Recovered));
        // Green after green, or the first run ever: nothing to say.
        assert_eq!(classify(RunStatus::Succeeded, Trigger::Webhook, Some(RunStatus::Succeeded)), None);
        assert_eq!(classify(RunStatus::Succeeded, Trigger::Webhook, None), None);
        assert_eq!(classify(RunStatus::Succeeded, Trigger::Rollback, Some(RunStatus::RolledBack)), None);
        assert_eq!(classify(RunStatus::Cancelled, Trigger::Webhook, Some(RunStatus::Failed)), None);
        assert_eq!(classify(RunStatus::Running, Trigger::Webhook, None), None);
    }

    #[test]
    fn notice_text() {
        let n = failed();
        assert_eq!(n.title, "Web/prod: run #12 failed");
        assert_eq!(n.body, "step test failed: exit code 1\ncommit 0123456789ab");
        let i = run_notice(NoticeKind::Failed, "Web", &ended("web", "dev", 3, RunStatus::Interrupted), None);
        assert_eq!(i.title, "Web/dev: run #3 was interrupted");
        assert_eq!(i.body, "");
    }

    #[test]
    fn slack_shape() {
        let mut n = failed();
        n.reason = Some("exit 1 <!channel> & more".into());
        assert_eq!(
            slack_payload(&n),
            json!({
                "text": "Web/prod: run #12 failed",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": ":x: *Web/prod: run #12 failed*\n```exit 1 &lt;!channel&gt; &amp; more```"}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "project *web* · stage *prod* · commit `0123456789ab` · <https://ci.example/web/prod/12|open in Slipway>"}]},
                ],
            })
        );
    }

    #[test]
    fn discord_shape() {
        assert_eq!(
            discord_payload(&failed()),
            json!({
                "content": "Web/prod: run #12 failed",
                "embeds": [{
                    "title": "Web/prod: run #12 failed",
                    "description": "step test failed: exit code 1",
                    "color": 0xED4245,
                    "url": "https://ci.example/web/prod/12",
                    "fields": [
                        {"name": "Project", "value": "web", "inline": true},
                        {"name": "Stage", "value": "prod", "inline": true},
                        {"name": "Commit", "value": "0123456789ab", "inline": true},
                    ],
                }],
                "allowed_mentions": {"parse": []},
            })
        );
    }

    #[test]
    fn discord_limits_hold_for_long_text() {
        let mut n = failed();
        n.title = "t".repeat(3000);
        n.reason = Some("r".repeat(5000));
        let p = discord_payload(&n);
        assert_eq!(p["content"].as_str().unwrap().chars().count(), 2000);
        assert_eq!(p["embeds"][0]["title"].as_str().unwrap().chars().count(), 256);
        assert_eq!(p["embeds"][0]["description"].as_str().unwrap().chars().count(), 4096);
        let s = slack_payload(&n);
        assert!(s["blocks"][0]["text"]["text"].as_str().unwrap().chars().count() <= 3000);
    }

    #[test]
    fn webhook_shape() {
        assert_eq!(
            webhook_payload(&failed()),
            json!({
                "event": "run.failed",
                "project": "web",
                "stage": "prod",
                "run_id": 12,
                "status": "failed",
                "commit": "0123456789abcdef0123456789abcdef01234567",
                "reason": "step test failed: exit code 1",
                "url": "https://ci.example/web/prod/12",
                "title": "Web/prod: run #12 failed",
            })
        );
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn redaction_keeps_only_scheme_and_host() {
        assert_eq!(redact("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
        assert_eq!(redact("http://user:pw@127.0.0.1:9000/x?token=1"), "http://127.0.0.1:9000/…");
        assert_eq!(redact("nonsense"), "…");
    }

    #[test]
    fn channels_get_names_and_bad_ones_are_refused() {
        let ch = |kind, name: &str, url: Option<&str>| NotifyChannel {
            kind,
            name: name.into(),
            url: url.map(String::from),
            secret: None,
            target: None,
            signed: false,
        };
        let mut ok = vec![ch(ChannelKind::Slack, "", Some("https://hooks.slack.com/x")), ch(ChannelKind::Webhook, "ops", None)];
        normalise_channels(&mut ok).unwrap();
        assert_eq!(ok[0].name, "slack");
        assert!(normalise_channels(&mut [ch(ChannelKind::Slack, "", None), ch(ChannelKind::Slack, "", None)]).is_err());
        assert!(normalise_channels(&mut [ch(ChannelKind::Discord, "Ops Team", None)]).is_err());
        assert!(normalise_channels(&mut [ch(ChannelKind::Discord, "d", Some("ftp://x.example/hook"))]).is_err());
    }

    fn at(kind: NoticeKind, stage: &str, run: i64) -> Notice {
        let mut n = run_notice(kind, "web", &ended("web", stage, run, RunStatus::Failed), None);
        n.kind = kind;
        n
    }

    #[test]
    fn one_per_stage_and_kind_within_the_window() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        assert!(rl.admit(t0, &at(NoticeKind::Failed, "prod", 1)));
        assert!(!rl.admit(t0 + Duration::from_secs(10), &at(NoticeKind::Failed, "prod", 2)), "same stage and kind within 30 s");
        assert!(rl.admit(t0 + Duration::from_secs(10), &at(NoticeKind::RolledBack, "prod", 3)), "another kind");
        assert!(rl.admit(t0 + Duration::from_secs(10), &at(NoticeKind::Failed, "dev", 4)), "another stage");
        assert!(rl.admit(t0 + Duration::from_secs(31), &at(NoticeKind::Failed, "prod", 5)), "30 s later");
        // The held one comes out on its own (it was the only one), once its 30 s are up.
        assert!(rl.summary(t0 + Duration::from_secs(20)).is_none());
        let s = rl.summary(t0 + Duration::from_secs(40)).unwrap();
        assert_eq!(s.run_id, Some(2));
        assert_eq!(s.title, "web/prod: run #2 failed");
        assert!(rl.summary(t0 + Duration::from_secs(80)).is_none(), "said once");
    }

    #[test]
    fn a_burst_shows_five_then_one_summary() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        let shown: Vec<bool> =
            (0..12).map(|i| rl.admit(t0 + Duration::from_millis(i * 10), &at(NoticeKind::Failed, &format!("s{i}"), i as i64))).collect();
        assert_eq!(shown.iter().filter(|s| **s).count(), 5);
        assert!(shown[..5].iter().all(|s| *s));
        assert_eq!(rl.held(), 7);
        // 30 s after the burst the window (60 s) is still full: the summary waits for room.
        assert!(rl.summary(t0 + Duration::from_secs(31)).is_none());
        let s = rl.summary(t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(s.title, "7 more runs failed");
        assert_eq!(s.run_id, Some(11), "a click opens the newest");
        assert_eq!(s.body.lines().count(), 6, "five titles and the rest counted: {}", s.body);
        assert!(s.body.ends_with("… and 2 more"), "{}", s.body);
        assert_eq!(rl.held(), 0);
        assert!(rl.summary(t0 + Duration::from_secs(200)).is_none());
        // A mix of kinds is summarised without claiming they all failed.
        let mut rl = RateLimiter::new(Duration::from_secs(30), Duration::from_secs(60), 1);
        assert!(rl.admit(t0, &at(NoticeKind::Failed, "a", 1)));
        assert!(!rl.admit(t0, &at(NoticeKind::Failed, "b", 2)));
        assert!(!rl.admit(t0, &at(NoticeKind::Recovered, "c", 3)));
        assert_eq!(rl.summary(t0 + Duration::from_secs(61)).unwrap().title, "2 more run notifications");
    }
}
