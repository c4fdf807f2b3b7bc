//! Notices (a run failed, was rolled back, recovered, a release waits for promotion) and
//! the chat channels they go to.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why the operator is being told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The run failed, or was interrupted by a crash.
    Failed,
    RolledBack,
    /// Succeeded, and the stage's previous finished run had failed or was rolled back.
    Recovered,
    /// A release waits for the operator to confirm its promotion.
    AwaitingPromotion,
    /// Sent on request, to check a channel.
    Test,
    /// The health watch: some of the live release's containers fail.
    StageDegraded,
    /// The health watch: the live release does not answer.
    StageDown,
    /// The health watch: the live release is healthy again.
    StageRecovered,
}

impl NoticeKind {
    /// The `event` of the generic webhook payload.
    pub fn event(self) -> &'static str {
        match self {
            NoticeKind::Failed => "run.failed",
            NoticeKind::RolledBack => "run.rolled_back",
            NoticeKind::Recovered => "run.recovered",
            NoticeKind::AwaitingPromotion => "promotion.pending",
            NoticeKind::Test => "test",
            NoticeKind::StageDegraded => "stage.degraded",
            NoticeKind::StageDown => "stage.down",
            NoticeKind::StageRecovered => "stage.recovered",
        }
    }

    /// Plural past tense for summaries: "3 more runs failed".
    pub fn summary_verb(self) -> &'static str {
        match self {
            NoticeKind::Failed => "failed",
            NoticeKind::RolledBack => "were rolled back",
            NoticeKind::Recovered => "recovered",
            NoticeKind::AwaitingPromotion => "wait for promotion",
            NoticeKind::Test => "were tests",
            NoticeKind::StageDegraded => "were degraded",
            NoticeKind::StageDown => "went down",
            NoticeKind::StageRecovered => "recovered",
        }
    }

    /// Discord embed colour (the sidebar): red, orange, green, yellow.
    pub fn color(self) -> u32 {
        match self {
            NoticeKind::Failed => 0xED4245,
            NoticeKind::RolledBack => 0xE67E22,
            NoticeKind::Recovered => 0x57F287,
            NoticeKind::AwaitingPromotion => 0xFEE75C,
            NoticeKind::Test => 0x99AAB5,
            NoticeKind::StageDegraded => 0xE67E22,
            NoticeKind::StageDown => 0xED4245,
            NoticeKind::StageRecovered => 0x57F287,
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            NoticeKind::Failed => ":x:",
            NoticeKind::RolledBack => ":leftwards_arrow_with_hook:",
            NoticeKind::Recovered => ":white_check_mark:",
            NoticeKind::AwaitingPromotion => ":hourglass_flowing_sand:",
            NoticeKind::Test => ":bell:",
            NoticeKind::StageDegraded => ":warning:",
            NoticeKind::StageDown => ":red_circle:",
            NoticeKind::StageRecovered => ":large_green_circle:",
        }
    }
}

/// One thing to tell the operator, whatever the medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Notice {
    pub kind: NoticeKind,
    /// Project id.
    pub project: String,
    pub stage: String,
    /// The run to open; None for a promotion that has no run yet.
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
    /// The run's status (`failed`, `rolled_back`, …), or `awaiting_promotion`.
    pub status: String,
    pub commit: Option<String>,
    pub reason: Option<String>,
    /// One line: `web/prod: run #12 failed`.
    pub title: String,
    pub body: String,
    /// Link to the run, from the `status_link_template` setting, when one is set.
    pub url: Option<String>,
}

/// Where a project's notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Slack,
    Discord,
    Webhook,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Webhook => "webhook",
        }
    }
}

/// An outbound channel of a project. Slack's and Discord's webhook URLs are credentials (whoever
/// has one can post), so the URL lives in the keychain (`notify-url:<project>:<name>`) and the
/// store keeps only where it points (`target`). `url` and `secret` are accepted on the way in
/// (API, YAML import), moved to the keychain, and never stored or returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NotifyChannel {
    pub kind: ChannelKind,
    /// Names the channel within the project (lowercase, digits, dashes); default: the kind.
    #[serde(default)]
    pub name: String,
    /// In only: the webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub url: Option<String>,
    /// In only, for `webhook`: the key of the `X-Slipway-Signature` HMAC. An empty string
    /// removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub secret: Option<String>,
    /// Scheme and host of the URL, for the operator to recognise the channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub target: Option<String>,
    /// Whether requests are signed (a secret is in the keychain).
    #[serde(default)]
    pub signed: bool,
}

/// Whether desktop notifications are on, and why not when they aren't.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NotificationSettings {
    /// The operator's choice (settings table); default on.
    pub desktop: bool,
    /// `SLIPWAY_DESKTOP_NOTIFY` when set: it wins over `desktop`. Read only.
    #[serde(default)]
    pub desktop_env_override: Option<bool>,
    /// Whether notifications will actually be shown: the choice, the override and whether
    /// this session has a notification service (a D-Bus session bus on Linux). Read only.
    #[serde(default)]
    pub desktop_active: bool,
}

/// What a test notification to one channel did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ChannelResult {
    pub channel: String,
    pub ok: bool,
    pub error: Option<String>,
}
