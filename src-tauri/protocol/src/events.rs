//! What the engine tells its consoles: its status, the events it pushes as state changes, and
//! the small answers of its operations (webhook info, import results, forge accounts).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::host::HostStatus;
use crate::notice::Notice;
use crate::project::{Forge, Project};
use crate::run::Outcome;

/// What the UI's status view and `slipwayd status` show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EngineStatus {
    pub version: String,
    /// Names this installation's containers and volumes on shared Docker hosts.
    pub instance_id: String,
    pub pid: u32,
    pub data_dir: String,
    pub store_path: String,
    #[ts(type = "number")]
    pub schema_version: i64,
    /// Base URL of the local listener (API and webhooks), when it is listening.
    pub listener: Option<String>,
    /// Why the listener is not listening, when it is not.
    pub listener_error: Option<String>,
    pub docker: DockerStatus,
    pub auto_deploy_paused: bool,
    /// Queued runs wait (host maintenance, say) until the hold is released.
    pub runs_held: bool,
    /// Windows following the engine's events now (the tray opens one when there is none).
    pub ui_clients: u32,
    /// Where secrets are kept: the OS keychain, or the encrypted file and where its key is.
    #[serde(default)]
    pub secrets: String,
}

/// State changes pushed to the UI (as Tauri events) and to API clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    AutoDeployChanged {
        paused: bool,
    },
    ProjectsChanged,
    /// A run was queued, started, or ended.
    RunChanged {
        #[ts(type = "number")]
        run_id: i64,
    },
    /// A step of a running run started or ended.
    StepChanged {
        #[ts(type = "number")]
        run_id: i64,
    },
    /// A delivery (webhook or poll) reached the inbox.
    DeliveryRecorded {
        #[ts(type = "number")]
        id: i64,
        project_id: Option<String>,
        outcome: Outcome,
    },
    /// The health watch changed its word on a stage's live release.
    LiveHealthChanged {
        project_id: String,
        stage: String,
        state: crate::watch::LiveState,
    },
    /// A stage got a new live release (deploy, rollback or promotion).
    ReleaseChanged {
        project_id: String,
        stage: String,
    },
    /// Something the operator should hear of (a run failed, recovered, …); the desktop
    /// notification and the chat channels are sent by the engine itself.
    Notice {
        notice: Notice,
    },
    /// The operator clicked a desktop notification: show that run.
    OpenRun {
        #[ts(type = "number")]
        run_id: i64,
    },
    /// A host was added, edited, removed or imported.
    HostsChanged,
    /// A host became reachable or unreachable (or failed differently).
    HostStatusChanged {
        status: HostStatus,
    },
    /// The tray asked for the window: the open one comes forward (showing a run or the promote
    /// dialog when one is named).
    ShowWindow {
        #[ts(type = "number | null")]
        run_id: Option<i64>,
        promote: Option<PromoteTarget>,
    },
    /// The engine stops. `quit`: an operator asked it to (the tray's Quit, `slipwayd quit`), so
    /// this machine's windows close with it; otherwise a signal stopped it (a restart, a
    /// service stop) and they wait for it to come back.
    ShuttingDown {
        #[serde(default)]
        quit: bool,
    },
}

/// A stage to promote, as the tray names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PromoteTarget {
    pub project_id: String,
    pub stage: String,
}

/// What an operator pastes into the forge's webhook form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WebhookInfo {
    pub project_id: String,
    /// None while the listener is not listening.
    pub url: Option<String>,
    /// Where a forge on the internet delivers: the edge's HTTPS name for the hooks
    /// (`edge.hooks_host`), when one is set.
    pub public_url: Option<String>,
    pub secret: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportResult {
    pub project: Project,
    pub created: bool,
    /// Things the operator should know (stages kept that the file no longer has).
    pub notes: Vec<String>,
}

/// A forge account: its token lives in the keychain under `forge-token:<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ForgeAccount {
    pub name: String,
    pub forge: Forge,
    /// API root for commit statuses (e.g. https://api.github.com); None for the forge's default.
    pub api_base: Option<String>,
    /// User for HTTPS clones; None for the forge's convention (x-access-token, oauth2, …).
    pub username: Option<String>,
}

/// Written to `engine.json` while the engine runs, so the CLI can find it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineFile {
    /// The public listener (webhooks and the API).
    pub url: String,
    /// The loopback listener that serves only the API, with its own connection budget: what
    /// the window and the CLI use, so a flood of webhooks cannot starve them.
    #[serde(default)]
    pub api_url: Option<String>,
    pub pid: u32,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DockerStatus {
    /// The endpoint probed, e.g. `unix:///var/run/docker.sock`.
    pub endpoint: String,
    pub reachable: bool,
    /// Engine version (e.g. `20.10.24`) when reachable.
    pub version: Option<String>,
    pub api_version: Option<String>,
    /// Why the engine is unreachable, naming the endpoint.
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
}
