//! Every operation of the engine's API, declared once.
//!
//! Each operation is a request type that names its answer (as Komodo's API does): its name (the
//! window's and the UI's name for it), its HTTP method and path under `/api/v1`, where each
//! field travels (`path` segment, `query` parameter, `json` key of the body, the whole `body`, or
//! the body as `text`), the status of a success, and the answer's type. From that one
//! declaration:
//!
//! - the engine routes it ([`ROUTES`], [`Handler`], [`handle`]): a missing handler is a compile
//!   error, not a 404;
//! - [`crate::client::Client::call`] sends it;
//! - the window's one Tauri command forwards it by name ([`call_by_name`]);
//! - the UI calls it by name with generated types (`Operations` in `ui/src/lib/bindings.ts`).
//!
//! Streams (the event stream, a run's log, a container's logs and stats, a host's events) are
//! NDJSON and are declared in [`streams`].

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::container::{ContainerAction, ContainerGroup, ContainerInfo};
use crate::edge::{EdgeApplied, EdgeChange, EdgeConfig};
use crate::environment::ProjectEnvironments;
use crate::events::{EngineStatus, ForgeAccount, ImportResult, WebhookInfo};
use crate::host::{ContextImport, Drain, Host, HostEntry, HostInput, HostTest};
use crate::metrics::{StageMetrics, StageSummary, TraySummary};
use crate::notice::{ChannelResult, NotificationSettings, NotifyChannel};
use crate::plugin::{PluginRecord, PluginSummary};
use crate::project::{Forge, NewProject, Project, VolumeChoice};
use crate::release::{PendingPromotion, Release};
use crate::run::{Delivery, HistoryEntry, LogLine, LogMatches, RunDetail, RunSummary};
use crate::template::TemplateInfo;
use crate::watch::{Incident, Pin, Unpinned};
use crate::{ApiError, ErrorCode, Result};

/// The HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// How a success's answer travels: JSON, or plain text (a project's YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Json,
    Text,
}

/// A request of the engine's API that declares its route and its answer.
pub trait Operation: Serialize + for<'de> Deserialize<'de> + Send + Sized + 'static {
    /// The name the window's Tauri command and the UI call it by.
    const NAME: &'static str;
    const METHOD: Method;
    /// The path under `/api/v1`, with `{field}` where a field of the request goes.
    const PATH: &'static str;
    /// The HTTP status of a success.
    const STATUS: u16;
    const ANSWER: Answer;
    type Response: Serialize + for<'de> Deserialize<'de> + Send + 'static;

    /// The request as it goes over HTTP.
    fn encode(&self) -> Result<Encoded>;
    /// The request from what came over HTTP.
    fn decode(parts: &Parts) -> Result<Self>;
}

/// What arrived for one operation: path parameters, query parameters and the body.
#[derive(Debug, Default)]
pub struct Parts {
    pub path: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A request ready to send: the path (under `/api/v1`, parameters filled in and encoded), the
/// query and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    Json(serde_json::Value),
    Text(String),
}

/// One route of the API, for the engine's router.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
}

/// A path or query value: written as text, read back from text.
pub trait Param: Sized {
    fn write(&self) -> Option<String>;
    fn read(s: Option<&str>) -> std::result::Result<Self, String>;
}

macro_rules! param_from_str {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn write(&self) -> Option<String> {
                Some(self.to_string())
            }
            fn read(s: Option<&str>) -> std::result::Result<Self, String> {
                let s = s.ok_or("it is missing")?;
                s.parse().map_err(|_| format!("{s:?} is not a {}", stringify!($t)))
            }
        }
    )*};
}
param_from_str!(String, i64, u32, u64);

impl Param for bool {
    fn write(&self) -> Option<String> {
        Some(self.to_string())
    }
    /// A query flag: absent is false, present without a value (or `true`, `1`) is true.
    fn read(s: Option<&str>) -> std::result::Result<Self, String> {
        match s {
            None | Some("false") | Some("0") => Ok(false),
            Some("") | Some("true") | Some("1") => Ok(true),
            Some(other) => Err(format!("{other:?} is not true or false")),
        }
    }
}

impl<T: Param> Param for Option<T> {
    fn write(&self) -> Option<String> {
        self.as_ref().and_then(Param::write)
    }
    fn read(s: Option<&str>) -> std::result::Result<Self, String> {
        s.map(|v| T::read(Some(v))).transpose()
    }
}

impl Param for ContainerAction {
    fn write(&self) -> Option<String> {
        serde_json::to_value(self).ok()?.as_str().map(String::from)
    }
    fn read(s: Option<&str>) -> std::result::Result<Self, String> {
        let s = s.ok_or("it is missing")?;
        serde_json::from_value(serde_json::Value::String(s.into()))
            .map_err(|_| format!("no container action {s:?} (start, stop, restart, remove)"))
    }
}

impl Param for VolumeChoice {
    fn write(&self) -> Option<String> {
        serde_json::to_value(self).ok()?.as_str().map(String::from)
    }
    fn read(s: Option<&str>) -> std::result::Result<Self, String> {
        let s = s.ok_or("it is missing")?;
        serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| format!("{s:?} is not keep or remove"))
    }
}

/// A path segment with everything but unreserved characters percent-encoded (ids come from users).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn bad(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, format!("{field}: {why}"))
}

/// Wire names: a field may travel under another name (`wanted` is `ref` on the wire).
macro_rules! wire {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $wire:literal) => {
        $wire
    };
}

/// Puts one field where its location says.
macro_rules! put {
    (path, $e:ident, $name:expr, $v:expr) => {
        let value = Param::write($v).unwrap_or_default();
        $e.path = $e.path.replace(concat!("{", $name, "}"), &seg(&value));
    };
    (query, $e:ident, $name:expr, $v:expr) => {
        if let Some(value) = Param::write($v) {
            $e.query.push(($name.to_string(), value));
        }
    };
    (json, $e:ident, $name:expr, $v:expr) => {
        let value = serde_json::to_value($v).map_err(|e| bad($name, e))?;
        match &mut $e.body {
            Body::Json(serde_json::Value::Object(map)) => {
                map.insert($name.to_string(), value);
            }
            _ => $e.body = Body::Json(serde_json::json!({ $name: value })),
        }
    };
    (body, $e:ident, $name:expr, $v:expr) => {
        $e.body = Body::Json(serde_json::to_value($v).map_err(|e| bad($name, e))?);
    };
    (text, $e:ident, $name:expr, $v:expr) => {
        $e.body = Body::Text($v.to_string());
    };
}

/// Takes one field from where its location says.
macro_rules! take {
    (path, $p:ident, $json:ident, $name:expr, $ty:ty) => {
        <$ty as Param>::read($p.path.get($name).map(String::as_str))
            .map_err(|e| ApiError::new(ErrorCode::NotFound, format!("{}: {e}", $name)))?
    };
    (query, $p:ident, $json:ident, $name:expr, $ty:ty) => {
        <$ty as Param>::read($p.query.get($name).map(String::as_str)).map_err(|e| bad($name, e))?
    };
    (json, $p:ident, $json:ident, $name:expr, $ty:ty) => {
        serde_json::from_value::<$ty>($json.get($name).cloned().unwrap_or(serde_json::Value::Null)).map_err(|e| bad($name, e))?
    };
    (body, $p:ident, $json:ident, $name:expr, $ty:ty) => {
        serde_json::from_slice::<$ty>(&$p.body).map_err(|e| bad("body", e))?
    };
    (text, $p:ident, $json:ident, $name:expr, $ty:ty) => {
        String::from_utf8($p.body.clone()).map_err(|_| bad("body", "not UTF-8 text"))?
    };
}

macro_rules! status {
    () => {
        200
    };
    ($s:literal) => {
        $s
    };
}

macro_rules! answer {
    () => {
        Answer::Json
    };
    (text) => {
        Answer::Text
    };
}

macro_rules! operations {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident $fn_name:ident: $method:ident $path:literal $(status $status:literal)? {
            $( $(#[$fmeta:meta])* $loc:ident $field:ident : $ty:ty $(= $wire:literal)? ),* $(,)?
        } -> $resp:ty $(as $answer:ident)?;
    )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
            pub struct $name {
                $( $(#[$fmeta])* pub $field: $ty, )*
            }

            impl Operation for $name {
                const NAME: &'static str = stringify!($fn_name);
                const METHOD: Method = Method::$method;
                const PATH: &'static str = $path;
                const STATUS: u16 = status!($($status)?);
                const ANSWER: Answer = answer!($($answer)?);
                type Response = $resp;

                #[allow(unused_mut)]
                fn encode(&self) -> Result<Encoded> {
                    let mut e = Encoded { path: Self::PATH.to_string(), query: vec![], body: Body::None };
                    $( put!($loc, e, wire!($field $(, $wire)?), &self.$field); )*
                    Ok(e)
                }

                #[allow(unused_variables)]
                fn decode(parts: &Parts) -> Result<Self> {
                    let json: serde_json::Map<String, serde_json::Value> = if parts.body.is_empty() {
                        Default::default()
                    } else {
                        serde_json::from_slice(&parts.body).unwrap_or_default()
                    };
                    Ok($name { $( $field: take!($loc, parts, json, wire!($field $(, $wire)?), $ty), )* })
                }
            }
        )*

        /// Every route of the API, in declaration order.
        pub const ROUTES: &[Route] = &[$( Route { name: stringify!($fn_name), method: Method::$method, path: $path } ),*];

        /// What the engine implements: one method per operation, named like the operation.
        pub trait Handler: Clone + Send + Sync + 'static {
            $(
                fn $fn_name(&self, op: $name) -> impl Future<Output = Result<$resp>> + Send;
            )*
        }

        /// Decodes the operation `name` from `parts`, runs it on `handler`, and gives the answer
        /// as its success status, its kind and its JSON value.
        pub async fn handle<H: Handler>(handler: &H, name: &str, parts: &Parts) -> Result<(u16, Answer, serde_json::Value)> {
            match name {
                $(
                    stringify!($fn_name) => {
                        let op = <$name as Operation>::decode(parts)?;
                        let answer = handler.$fn_name(op).await?;
                        let value = serde_json::to_value(answer).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
                        Ok((<$name as Operation>::STATUS, <$name as Operation>::ANSWER, value))
                    }
                )*
                other => Err(ApiError::new(ErrorCode::NotFound, format!("no operation {other:?}"))),
            }
        }

        /// Sends the operation `name` with its request as JSON: what the window's one Tauri
        /// command does for the UI.
        pub async fn call_by_name(client: &crate::client::Client, name: &str, request: serde_json::Value) -> Result<serde_json::Value> {
            let request = if request.is_null() { serde_json::json!({}) } else { request };
            match name {
                $(
                    stringify!($fn_name) => {
                        let op: $name = serde_json::from_value(request).map_err(|e| bad(name, e))?;
                        let answer = client.call(op).await?;
                        serde_json::to_value(answer).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
                    }
                )*
                other => Err(ApiError::new(ErrorCode::NotFound, format!("no operation {other:?}"))),
            }
        }

        /// The TypeScript declarations of the requests, and `Operations`: each operation's
        /// request and answer by name.
        pub fn typescript() -> Vec<String> {
            let mut out = vec![$( <$name as TS>::decl() ),*];
            let mut map = String::from("type Operations = {\n");
            $(
                map.push_str(&format!("  {}: {{ request: {}, response: {} }},\n", stringify!($fn_name), <$name as TS>::name(), <$resp as TS>::name()));
            )*
            map.push('}');
            out.push(map);
            out
        }
    };
}

/// The answer of operations that queue a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RunStarted {
    #[ts(type = "number")]
    pub run_id: i64,
}

/// What a notification's "Roll back" led to: a rollback run, or nothing yet because the stage
/// asks for confirmations (`confirm: true`), which only the window's dialog gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NoticeRollback {
    Started {
        #[ts(type = "number")]
        run_id: i64,
    },
    NeedsConfirmation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AutoDeploy {
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RunnerHold {
    pub held: bool,
}

/// Whether the engine starts at login (with its tray), and the entry that makes it so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Autostart {
    pub enabled: bool,
    /// The XDG autostart file, the LaunchAgent or the Run key value.
    pub location: String,
}

/// What moving the secrets to another backend did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SecretsMigrated {
    /// Where the secrets are kept now (as the status says it).
    pub backend: String,
    /// The names of the secrets moved (names only, never values).
    pub moved: Vec<String>,
}

operations! {
    /// The engine's status (version, listener, Docker, pause and hold).
    GetStatus engine_status: Get "/status" {} -> EngineStatus;
    /// Pauses or resumes automatic deploys (webhooks and polls record, but start nothing).
    SetAutoDeploy set_auto_deploy_paused: Put "/auto-deploy" { json paused: bool } -> AutoDeploy;
    /// Holds queued runs (running ones finish) or releases them.
    SetRunnerHold set_runs_held: Put "/runner" { json held: bool } -> RunnerHold;
    /// Asks the engine's process to quit.
    Quit quit_engine: Post "/quit" status 202 {} -> ();
    /// Moves every secret to the OS keychain (`to: "keychain"`) or the encrypted secrets file
    /// (`"file"`), and keeps them there from now on.
    MigrateSecrets migrate_secrets: Post "/secrets/migrate" { json to: String } -> SecretsMigrated;
    ListProjects list_projects: Get "/projects" {} -> Vec<Project>;
    CreateProject create_project: Post "/projects" status 201 { body project: NewProject } -> Project;
    GetProject get_project: Get "/projects/{id}" { path id: String } -> Project;
    /// Removes the project. If it has named volumes on its host, `volumes` must say what becomes
    /// of them (`keep` or `remove`); without it the answer is `confirmation_required`, naming
    /// them. `remove` takes down its containers, routes and networks too.
    DeleteProject delete_project: Delete "/projects/{id}" status 204 { path id: String, query volumes: Option<VolumeChoice> } -> ();
    WebhookInfoOf webhook_info: Get "/projects/{id}/webhook" { path id: String } -> WebhookInfo;
    /// The project as YAML, for keeping its configuration in version control.
    ExportProject export_project: Get "/projects/{id}/export" { path id: String } -> String as text;
    /// Creates or updates a project from its YAML.
    ImportProject import_project: Post "/projects/import" { text yaml: String } -> ImportResult;
    RotateWebhookSecret rotate_webhook_secret: Post "/projects/{id}/webhook/rotate" { path id: String } -> WebhookInfo;
    PollNow poll_now: Post "/projects/{id}/poll" { path id: String } -> Project;
    /// Queues a run of a stage for a tag, a branch or a full commit id. To a pinned stage it
    /// needs `confirm` (and unpins the stage).
    StartRun start_manual_run: Post "/projects/{id}/stages/{stage}/runs" status 202 {
        path project: String = "id", path stage: String, json wanted: String = "ref", json confirm: Option<bool>
    } -> RunStarted;
    /// Pins the stage at its live release: pushes and polls for it are recorded and wait.
    PinStage pin_stage: Put "/projects/{id}/stages/{stage}/pin" { path project: String = "id", path stage: String } -> Pin;
    /// Unpins the stage. Deploys nothing; says what it could deploy now.
    UnpinStage unpin_stage: Delete "/projects/{id}/stages/{stage}/pin" { path project: String = "id", path stage: String } -> Unpinned;
    /// Who changed what in a project (runs asked for, rollbacks, promotes, cancels, settings),
    /// newest first.
    ProjectHistory project_history: Get "/projects/{id}/history" { path id: String, query limit: Option<u32> } -> Vec<HistoryEntry>;
    /// Changes made through the API by anyone, newest first (engine settings included).
    ListHistory history: Get "/history" { query limit: Option<u32> } -> Vec<HistoryEntry>;
    /// The health watch's incidents of a project's stages over the last 30 days, oldest first.
    ListIncidents incidents: Get "/projects/{id}/incidents" { path project: String = "id" } -> Vec<Incident>;
    SetSecret set_project_secret: Put "/projects/{id}/secrets/{name}" status 204 {
        path project: String = "id", path name: String, json value: String
    } -> ();
    /// Removes a project secret (removing one that is not set is not an error).
    DeleteSecret delete_project_secret: Delete "/projects/{id}/secrets/{name}" status 204 {
        path project: String = "id", path name: String
    } -> ();
    ListReleases releases: Get "/projects/{id}/stages/{stage}/releases" { path project: String = "id", path stage: String } -> Vec<Release>;
    Rollback rollback: Post "/projects/{id}/stages/{stage}/releases/{number}/rollback" status 202 {
        path project: String = "id", path stage: String, #[ts(type = "number")] path number: i64
    } -> RunStarted;
    /// A desktop notification's "Roll back", decided by the engine for every console: to the
    /// newest retired release before the live one, unless the stage asks for confirmations.
    RollbackFromNotice rollback_from_notice: Post "/projects/{id}/stages/{stage}/rollback-previous" {
        path project: String = "id", path stage: String
    } -> NoticeRollback;
    /// Promotes the source stage's live release; `confirm` is the operator's click where the
    /// stage asks for one.
    Promote promote: Post "/projects/{id}/stages/{stage}/promote" status 202 {
        path project: String = "id", path stage: String, json confirm: Option<bool>
    } -> RunStarted;
    PendingPromotions pending_promotions: Get "/promotions" {} -> Vec<PendingPromotion>;
    /// Takes one of a stage's hosts out of its rotation (`drained: true`) or puts it back; the
    /// drains that are in force afterwards.
    SetDrain set_drain: Put "/projects/{id}/stages/{stage}/hosts/{host}/drain" {
        path project: String = "id", path stage: String, path host: String, json drained: bool
    } -> Vec<Drain>;
    /// Every host drained out of a stage's rotation.
    ListDrains drains: Get "/drains" {} -> Vec<Drain>;
    /// Every project's environments: kind, group, predecessors, rules, live release, health,
    /// and what is waiting to reach each.
    ListEnvironments environments: Get "/environments" {} -> Vec<ProjectEnvironments>;
    /// The plugins that published in a project's runs, with their metric names.
    ProjectPlugins project_plugins: Get "/projects/{id}/plugins" { path project: String = "id" } -> Vec<PluginSummary>;
    /// What a plugin published in a project's runs, newest first (default 100).
    PluginData plugin_data: Get "/projects/{id}/plugins/{plugin}/data" {
        path project: String = "id", path plugin: String, query limit: Option<u32>
    } -> Vec<PluginRecord>;
    /// The pipeline templates `slipway.yml` files can extend.
    ListTemplates templates: Get "/templates" {} -> Vec<TemplateInfo>;
    /// Adds a template from its YAML, or replaces the one of that name (its version goes up
    /// when the text changed).
    ImportTemplate import_template: Post "/templates/import" { text yaml: String } -> TemplateInfo;
    /// A template as YAML, as it was imported.
    ExportTemplate export_template: Get "/templates/{name}/export" { path name: String } -> String as text;
    DeleteTemplate delete_template: Delete "/templates/{name}" status 204 { path name: String } -> ();
    SetProjectNotifications set_project_notifications: Put "/projects/{id}/notifications" {
        path id: String, body channels: Vec<NotifyChannel>
    } -> Project;
    TestProjectNotifications test_project_notifications: Post "/projects/{id}/notifications/test" { path id: String } -> Vec<ChannelResult>;
    GetNotificationSettings notification_settings: Get "/settings/notifications" {} -> NotificationSettings;
    /// Whether the engine and its tray start at login.
    GetAutostart get_autostart: Get "/settings/autostart" {} -> Autostart;
    /// The edge's ports, host names and certificates as they apply now.
    GetEdge get_edge: Get "/settings/edge" {} -> EdgeConfig;
    /// Changes the edge's settings and applies them to the edge of the engine's own Docker host
    /// at once (restarting it when its ports, mounts or front configuration change).
    SetEdge set_edge: Put "/settings/edge" { body change: EdgeChange } -> EdgeApplied;
    /// Turns start at login on (the OS's entry runs `slipwayd serve --tray`) or off.
    SetAutostart set_autostart: Put "/settings/autostart" { json enabled: bool } -> Autostart;
    SetNotificationSettings set_notification_settings: Put "/settings/notifications" { body settings: NotificationSettings } -> NotificationSettings;
    ListDeliveries list_deliveries: Get "/deliveries" { query project: Option<String>, query limit: Option<u32> } -> Vec<Delivery>;
    ListRuns list_runs: Get "/runs" { query project: Option<String>, query limit: Option<u32> } -> Vec<RunSummary>;
    GetRun run_detail: Get "/runs/{id}" { #[ts(type = "number")] path id: i64 } -> RunDetail;
    RunLogs run_logs: Get "/runs/{id}/logs" { #[ts(type = "number")] path id: i64, #[ts(type = "number | null")] query after: Option<i64>, query limit: Option<u32> } -> Vec<LogLine>;
    /// The lines of a run's log that contain `q` (ASCII case ignored), by seq: at most `limit`
    /// (default 1,000).
    SearchRunLog search_run_log: Get "/runs/{id}/logs/search" { #[ts(type = "number")] path id: i64, query q: String, query limit: Option<u32> } -> LogMatches;
    CancelRun cancel_run: Post "/runs/{id}/cancel" status 202 { #[ts(type = "number")] path id: i64 } -> ();
    /// Queues the same stage at the same commit again.
    Rerun rerun_run: Post "/runs/{id}/rerun" status 202 { #[ts(type = "number")] path id: i64 } -> RunStarted;
    /// Sends a kept delivery through the webhook path again.
    Redeliver redeliver: Post "/deliveries/{id}/redeliver" { #[ts(type = "number")] path id: i64 } -> Delivery;
    /// Saves a forge account; its token goes to the keychain and is never returned.
    SaveForgeAccount save_forge_account: Put "/forge-accounts/{name}" {
        path name: String, json forge: Forge, json api_base: Option<String>, json username: Option<String>, json token: String
    } -> ForgeAccount;
    ListForgeAccounts forge_accounts: Get "/forge-accounts" {} -> Vec<ForgeAccount>;
    SaveRegistryAccount save_registry_account: Put "/registry-accounts/{name}" status 204 {
        path name: String, json username: String, json password: String
    } -> ();
    Dashboard dashboard: Get "/dashboard" {} -> Vec<StageSummary>;
    /// What a tray shows: its icon's state, the last runs, promotions waiting, stages that
    /// need attention (a console's tray attached to this engine reads it).
    GetTray tray_summary: Get "/tray" {} -> TraySummary;
    Metrics metrics: Get "/metrics" { query project: Option<String> } -> Vec<StageMetrics>;
    ListHosts list_hosts: Get "/hosts" {} -> Vec<HostEntry>;
    CreateHost create_host: Post "/hosts" status 201 { body host: HostInput } -> Host;
    ImportDockerContexts import_docker_contexts: Post "/hosts/import-contexts" {} -> ContextImport;
    GetHost get_host: Get "/hosts/{id}" { path id: String } -> HostEntry;
    UpdateHost update_host: Put "/hosts/{id}" { path id: String, body host: HostInput } -> Host;
    DeleteHost delete_host: Delete "/hosts/{id}" status 204 { path id: String } -> ();
    TestHost test_host: Post "/hosts/{id}/test" { path id: String } -> HostTest;
    ListContainers list_containers: Get "/hosts/{id}/containers" { path host: String = "id" } -> Vec<ContainerGroup>;
    InspectContainer inspect_container: Get "/hosts/{id}/containers/{container}" { path host: String = "id", path container: String } -> ContainerInfo;
    /// Starts, stops, restarts or removes a container; `grace` is the seconds a stop waits.
    ContainerActionOn container_action: Post "/hosts/{id}/containers/{container}/{action}" status 204 {
        path host: String = "id", path container: String, path action: ContainerAction, query grace: Option<u32>, query force: bool
    } -> ();
}

/// The NDJSON streams: one JSON value per line, empty lines as keep-alives, and a last
/// `{"error": {code, message}}` line when the stream fails.
pub mod streams {
    use super::seg;

    /// The engine's events ([`crate::events::EngineEvent`]).
    pub const EVENTS: &str = "/events";

    /// A run's log lines after `after` ([`crate::run::LogLine`]), live until the run ends.
    pub fn run_log(id: i64, after: i64) -> String {
        format!("/runs/{id}/logs/follow?after={after}")
    }

    /// A container's log lines ([`crate::container::ContainerLogLine`]).
    pub fn container_logs(host: &str, container: &str, tail: Option<u32>, follow: bool) -> String {
        let tail = tail.map(|t| format!("&tail={t}")).unwrap_or_default();
        format!("/hosts/{}/containers/{}/logs?follow={follow}{tail}", seg(host), seg(container))
    }

    /// A container's resource samples ([`crate::container::ContainerStats`]).
    pub fn container_stats(host: &str, container: &str) -> String {
        format!("/hosts/{}/containers/{}/stats", seg(host), seg(container))
    }

    /// A host's Docker events ([`crate::container::HostEvent`]).
    pub fn host_events(host: &str) -> String {
        format!("/hosts/{}/events", seg(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_filled_and_encoded() {
        let op = StartRun { project: "web app".into(), stage: "dev".into(), wanted: "v1.0".into(), confirm: None };
        let e = op.encode().unwrap();
        assert_eq!(e.path, "/projects/web%20app/stages/dev/runs");
        // On the wire the body's key is `ref`; the request's field (and the UI's) is `wanted`.
        assert_eq!(e.body, Body::Json(serde_json::json!({ "ref": "v1.0", "confirm": null })));
    }

    #[test]
    fn queries_leave_out_what_is_unset() {
        let e = ListRuns { project: None, limit: Some(5) }.encode().unwrap();
        assert_eq!((e.path.as_str(), e.query.clone(), e.body), ("/runs", vec![("limit".to_string(), "5".to_string())], Body::None));
    }

    #[test]
    fn a_request_decodes_from_what_it_encodes_to() {
        let op =
            ContainerActionOn { host: "h".into(), container: "c".into(), action: ContainerAction::Restart, grace: Some(3), force: true };
        let e = op.encode().unwrap();
        let parts = Parts {
            path: HashMap::from([("id".into(), "h".into()), ("container".into(), "c".into()), ("action".into(), "restart".into())]),
            query: e.query.into_iter().collect(),
            body: vec![],
        };
        assert_eq!(ContainerActionOn::decode(&parts).unwrap(), op);
    }

    #[test]
    fn a_bad_field_is_named() {
        let parts = Parts { path: HashMap::from([("id".into(), "abc".into())]), ..Default::default() };
        let e = GetRun::decode(&parts).unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(e.message.starts_with("id: \"abc\" is not a i64"), "{}", e.message);
        let parts = Parts {
            body: br#"{"confirm": "yes"}"#.to_vec(),
            path: HashMap::from([("id".into(), "p".into()), ("stage".into(), "s".into())]),
            ..Default::default()
        };
        assert!(Promote::decode(&parts).unwrap_err().message.starts_with("confirm:"));
    }

    #[test]
    fn every_route_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method, r.path)), "{} {} twice", r.method.as_str(), r.path);
            assert!(r.path.starts_with('/'), "{}", r.path);
        }
    }
}
