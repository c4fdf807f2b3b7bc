//! The engine's side of every declared operation ([`slipway_protocol::ops`]): one method per
//! operation, each a call into [`Engine`], and the routes built from the declarations.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::{Json, Router};
use slipway_protocol::environment::ProjectEnvironments;
use slipway_protocol::ops::{self, Answer, AutoDeploy, Handler, Method, Parts, RunStarted, RunnerHold, ROUTES};
use slipway_protocol::plugin::{PluginRecord, PluginSummary};
use slipway_protocol::template::TemplateInfo;
use slipway_protocol::Result;

use crate::adapters::docker::containers::{ContainerGroup, ContainerInfo};
use crate::domain::edge::{EdgeApplied, EdgeConfig};
use crate::domain::events::{EngineStatus, ForgeAccount, ImportResult, WebhookInfo};
use crate::domain::host::{ContextImport, Drain, Host, HostEntry, HostTest};
use crate::domain::metrics::{StageMetrics, StageSummary, TraySummary};
use crate::domain::notice::{ChannelResult, NotificationSettings};
use crate::domain::project::Project;
use crate::domain::release::{PendingPromotion, Release};
use crate::domain::run::{Delivery, HistoryEntry, LogLine, LogMatches, RunDetail, RunSummary};
use crate::domain::watch::{Incident, Pin, Unpinned};
use crate::engine::Engine;
use crate::http::failure::ApiFailure;
use crate::{ApiError, ErrorCode};

/// An operation's body: the largest (a project file, a compose file) is far below this.
const BODY_LIMIT: usize = 2 << 20;
/// How long a body may take to arrive, as for a webhook's.
const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// The default and the ceiling of list lengths.
const LIST_DEFAULT: u32 = 100;

/// Every declared operation, routed to [`ops::handle`].
pub fn routes() -> Router<Engine> {
    let mut router = Router::new();
    for route in ROUTES {
        let name = route.name;
        let filter = match route.method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        };
        let route_path = route.path;
        let recorded = route.method != Method::Get && !UNRECORDED.contains(&name);
        let handler = move |State(engine): State<Engine>,
                            uri: Uri,
                            headers: HeaderMap,
                            Path(path): Path<HashMap<String, String>>,
                            Query(query): Query<HashMap<String, String>>,
                            body: Body| async move {
            let body = match read_body(body).await {
                Ok(b) => b,
                Err(refused) => return refused,
            };
            let parts = Parts { path, query, body: body.to_vec() };
            let result = ops::handle(&engine, name, &parts).await;
            if let (true, Ok((_, _, value))) = (recorded, &result) {
                let (project, run) = history_subject(route_path, &parts.path, value);
                let actor = actor(&headers);
                if let Err(e) = crate::store::history::record(engine.store(), &actor, name, uri.path(), project.as_deref(), run).await {
                    tracing::warn!("cannot record {name} by {actor} in the history: {e}");
                }
            }
            answer(result)
        };
        router = router.route(route.path, on(filter, handler));
    }
    router
}

/// Operations that change nothing a colleague would ask about (checks), so the history does
/// not record them.
const UNRECORDED: &[&str] = &["test_host", "test_project_notifications"];

/// The longest console name kept; the rest is cut.
const ACTOR_MAX: usize = 120;

/// The console's name from its header (printable characters only, cut at [`ACTOR_MAX`]), or
/// `api` for a client that gave none.
fn actor(headers: &HeaderMap) -> String {
    let given = headers.get(slipway_protocol::client::ACTOR_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let clean: String = given.chars().filter(|c| !c.is_control()).take(ACTOR_MAX).collect();
    if clean.trim().is_empty() {
        "api".into()
    } else {
        clean.trim().to_string()
    }
}

/// The project and the run a change is about: the `/projects/{id}` it was made under (or the
/// project it created), and the run it started (or the `/runs/{id}` it acted on).
fn history_subject(route: &str, path: &HashMap<String, String>, answer: &serde_json::Value) -> (Option<String>, Option<i64>) {
    let project = if route.starts_with("/projects/{id}") {
        path.get("id").cloned()
    } else if route.starts_with("/projects") {
        // Created or imported: the answer is the project, or carries it.
        let p = answer.get("project").unwrap_or(answer);
        p.get("id").and_then(|v| v.as_str()).map(String::from)
    } else {
        None
    };
    let run = answer
        .get("run_id")
        .and_then(|v| v.as_i64())
        .or_else(|| route.starts_with("/runs/{id}").then(|| path.get("id").and_then(|v| v.parse().ok())).flatten());
    (project, run)
}

/// An operation's JSON body: at most [`BODY_LIMIT`], whole within [`BODY_DEADLINE`]. A client
/// that stalls mid-body would otherwise hold its connection (and one of the API listener's
/// 256) for as long as it likes: the loopback listener has no idle watchdog, since the
/// window's event stream is legitimately quiet for long stretches.
async fn read_body(body: Body) -> std::result::Result<Bytes, Response> {
    let refuse = |status: StatusCode, code: ErrorCode, message: String| (status, Json(ApiError { code, message })).into_response();
    match tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) => Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {} MiB", BODY_LIMIT >> 20),
        )),
        Ok(Err(e)) => Err(refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, format!("could not read the request body: {e}"))),
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidInput,
            format!("the request body did not arrive within {} s", BODY_DEADLINE.as_secs()),
        )),
    }
}

fn answer(result: Result<(u16, Answer, serde_json::Value)>) -> Response {
    match result {
        Ok((status, kind, value)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            match (status, kind, value) {
                (StatusCode::NO_CONTENT, _, _) => status.into_response(),
                (_, Answer::Text, serde_json::Value::String(text)) => {
                    (status, [(header::CONTENT_TYPE, "application/yaml")], text).into_response()
                }
                (_, _, serde_json::Value::Null) => status.into_response(),
                (_, _, value) => (status, Json(value)).into_response(),
            }
        }
        Err(e) => ApiFailure(e).into_response(),
    }
}

fn limit(l: Option<u32>) -> u32 {
    l.unwrap_or(LIST_DEFAULT)
}

impl Handler for Engine {
    async fn engine_status(&self, _: ops::GetStatus) -> Result<EngineStatus> {
        Ok(self.status().await?)
    }
    async fn set_auto_deploy_paused(&self, op: ops::SetAutoDeploy) -> Result<AutoDeploy> {
        Ok(AutoDeploy { paused: Engine::set_auto_deploy_paused(self, op.paused).await? })
    }
    async fn set_runs_held(&self, op: ops::SetRunnerHold) -> Result<RunnerHold> {
        Ok(RunnerHold { held: Engine::set_runs_held(self, op.held).await? })
    }
    async fn quit_engine(&self, _: ops::Quit) -> Result<()> {
        self.request_quit();
        Ok(())
    }
    async fn get_autostart(&self, _: ops::GetAutostart) -> Result<ops::Autostart> {
        Ok(Engine::autostart(self)?)
    }
    async fn set_autostart(&self, op: ops::SetAutostart) -> Result<ops::Autostart> {
        Ok(Engine::set_autostart(self, op.enabled).await?)
    }
    async fn get_edge(&self, _: ops::GetEdge) -> Result<EdgeConfig> {
        Ok(self.edge_config().await?)
    }
    async fn set_edge(&self, op: ops::SetEdge) -> Result<EdgeApplied> {
        Ok(Engine::set_edge(self, op.change).await?)
    }
    async fn migrate_secrets(&self, op: ops::MigrateSecrets) -> Result<ops::SecretsMigrated> {
        Ok(Engine::migrate_secrets(self, &op.to).await?)
    }
    async fn list_projects(&self, _: ops::ListProjects) -> Result<Vec<Project>> {
        Ok(self.projects().await?)
    }
    async fn create_project(&self, op: ops::CreateProject) -> Result<Project> {
        Ok(Engine::create_project(self, op.project).await?)
    }
    async fn get_project(&self, op: ops::GetProject) -> Result<Project> {
        Ok(self.project(&op.id).await?)
    }
    async fn delete_project(&self, op: ops::DeleteProject) -> Result<()> {
        Ok(Engine::delete_project(self, &op.id, op.volumes).await?)
    }
    async fn webhook_info(&self, op: ops::WebhookInfoOf) -> Result<WebhookInfo> {
        Ok(Engine::webhook_info(self, &op.id).await?)
    }
    async fn export_project(&self, op: ops::ExportProject) -> Result<String> {
        Ok(Engine::export_project(self, &op.id).await?)
    }
    async fn import_project(&self, op: ops::ImportProject) -> Result<ImportResult> {
        Ok(Engine::import_project(self, &op.yaml).await?)
    }
    async fn rotate_webhook_secret(&self, op: ops::RotateWebhookSecret) -> Result<WebhookInfo> {
        Ok(Engine::rotate_webhook_secret(self, &op.id).await?)
    }
    async fn poll_now(&self, op: ops::PollNow) -> Result<Project> {
        Ok(Engine::poll_now(self, &op.id).await?)
    }
    async fn start_manual_run(&self, op: ops::StartRun) -> Result<RunStarted> {
        Ok(RunStarted { run_id: Engine::start_manual_run(self, &op.project, &op.stage, &op.wanted, op.confirm.unwrap_or(false)).await? })
    }
    async fn set_drain(&self, op: ops::SetDrain) -> Result<Vec<Drain>> {
        Ok(Engine::set_drain(self, &op.project, &op.stage, &op.host, op.drained).await?)
    }
    async fn drains(&self, _: ops::ListDrains) -> Result<Vec<Drain>> {
        Ok(Engine::drains(self).await?)
    }
    async fn pin_stage(&self, op: ops::PinStage) -> Result<Pin> {
        Ok(Engine::pin_stage(self, &op.project, &op.stage).await?)
    }
    async fn unpin_stage(&self, op: ops::UnpinStage) -> Result<Unpinned> {
        Ok(Engine::unpin_stage(self, &op.project, &op.stage).await?)
    }
    async fn project_history(&self, op: ops::ProjectHistory) -> Result<Vec<HistoryEntry>> {
        self.project(&op.id).await?;
        Ok(crate::store::history::list(self.store(), Some(&op.id), limit(op.limit)).await?)
    }
    async fn history(&self, op: ops::ListHistory) -> Result<Vec<HistoryEntry>> {
        Ok(crate::store::history::list(self.store(), None, limit(op.limit)).await?)
    }
    async fn incidents(&self, op: ops::ListIncidents) -> Result<Vec<Incident>> {
        Ok(Engine::incidents(self, &op.project).await?)
    }
    async fn set_project_secret(&self, op: ops::SetSecret) -> Result<()> {
        Ok(Engine::set_project_secret(self, &op.project, &op.name, &op.value).await?)
    }
    async fn delete_project_secret(&self, op: ops::DeleteSecret) -> Result<()> {
        Ok(Engine::delete_project_secret(self, &op.project, &op.name).await?)
    }
    async fn releases(&self, op: ops::ListReleases) -> Result<Vec<Release>> {
        Ok(Engine::releases(self, &op.project, &op.stage).await?)
    }
    async fn rollback(&self, op: ops::Rollback) -> Result<RunStarted> {
        Ok(RunStarted { run_id: Engine::rollback(self, &op.project, &op.stage, op.number).await? })
    }
    async fn rollback_from_notice(&self, op: ops::RollbackFromNotice) -> Result<ops::NoticeRollback> {
        Ok(Engine::rollback_from_notice(self, &op.project, &op.stage).await?)
    }
    async fn promote(&self, op: ops::Promote) -> Result<RunStarted> {
        Ok(RunStarted { run_id: Engine::promote(self, &op.project, &op.stage, op.confirm.unwrap_or(false)).await? })
    }
    async fn pending_promotions(&self, _: ops::PendingPromotions) -> Result<Vec<PendingPromotion>> {
        Ok(Engine::pending_promotions(self).await?)
    }
    async fn environments(&self, _: ops::ListEnvironments) -> Result<Vec<ProjectEnvironments>> {
        Ok(Engine::environments(self).await?)
    }
    async fn project_plugins(&self, op: ops::ProjectPlugins) -> Result<Vec<PluginSummary>> {
        Ok(Engine::project_plugins(self, &op.project).await?)
    }
    async fn plugin_data(&self, op: ops::PluginData) -> Result<Vec<PluginRecord>> {
        Ok(Engine::plugin_data(self, &op.project, &op.plugin, op.limit.unwrap_or(100)).await?)
    }
    async fn templates(&self, _: ops::ListTemplates) -> Result<Vec<TemplateInfo>> {
        Ok(Engine::templates(self).await?)
    }
    async fn import_template(&self, op: ops::ImportTemplate) -> Result<TemplateInfo> {
        Ok(Engine::import_template(self, &op.yaml).await?)
    }
    async fn export_template(&self, op: ops::ExportTemplate) -> Result<String> {
        Ok(Engine::export_template(self, &op.name).await?)
    }
    async fn delete_template(&self, op: ops::DeleteTemplate) -> Result<()> {
        Ok(Engine::delete_template(self, &op.name).await?)
    }
    async fn set_project_notifications(&self, op: ops::SetProjectNotifications) -> Result<Project> {
        Ok(Engine::set_project_notifications(self, &op.id, op.channels).await?)
    }
    async fn test_project_notifications(&self, op: ops::TestProjectNotifications) -> Result<Vec<ChannelResult>> {
        Ok(Engine::test_project_notifications(self, &op.id).await?)
    }
    async fn notification_settings(&self, _: ops::GetNotificationSettings) -> Result<NotificationSettings> {
        Ok(Engine::notification_settings(self).await?)
    }
    async fn set_notification_settings(&self, op: ops::SetNotificationSettings) -> Result<NotificationSettings> {
        Ok(Engine::set_notification_settings(self, op.settings).await?)
    }
    async fn list_deliveries(&self, op: ops::ListDeliveries) -> Result<Vec<Delivery>> {
        Ok(self.deliveries(op.project.as_deref(), limit(op.limit)).await?)
    }
    async fn list_runs(&self, op: ops::ListRuns) -> Result<Vec<RunSummary>> {
        Ok(self.runs(op.project.as_deref(), limit(op.limit)).await?)
    }
    async fn run_detail(&self, op: ops::GetRun) -> Result<RunDetail> {
        Ok(Engine::run_detail(self, op.id).await?)
    }
    async fn run_logs(&self, op: ops::RunLogs) -> Result<Vec<LogLine>> {
        Ok(Engine::run_logs(self, op.id, op.after.unwrap_or(0), op.limit.unwrap_or(10_000)).await?)
    }
    async fn search_run_log(&self, op: ops::SearchRunLog) -> Result<LogMatches> {
        if op.q.is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidInput, "q: say what to look for"));
        }
        // An unknown run is a 404, not an empty answer.
        Engine::run_detail(self, op.id).await?;
        let (seqs, more) = crate::store::logs::search(self.store(), op.id, &op.q, op.limit.unwrap_or(1_000).clamp(1, 100_000)).await?;
        Ok(LogMatches { seqs, more })
    }
    async fn cancel_run(&self, op: ops::CancelRun) -> Result<()> {
        Ok(Engine::cancel_run(self, op.id).await?)
    }
    async fn rerun_run(&self, op: ops::Rerun) -> Result<RunStarted> {
        Ok(RunStarted { run_id: self.rerun(op.id).await? })
    }
    async fn redeliver(&self, op: ops::Redeliver) -> Result<Delivery> {
        Ok(Engine::redeliver(self, op.id).await?)
    }
    async fn save_forge_account(&self, op: ops::SaveForgeAccount) -> Result<ForgeAccount> {
        let account = ForgeAccount { name: op.name, forge: op.forge, api_base: op.api_base, username: op.username };
        Ok(Engine::save_forge_account(self, account, &op.token).await?)
    }
    async fn forge_accounts(&self, _: ops::ListForgeAccounts) -> Result<Vec<ForgeAccount>> {
        Ok(Engine::forge_accounts(self).await?)
    }
    async fn save_registry_account(&self, op: ops::SaveRegistryAccount) -> Result<()> {
        Ok(Engine::save_registry_account(self, &op.name, &op.username, &op.password).await?)
    }
    async fn tray_summary(&self, _: ops::GetTray) -> Result<TraySummary> {
        Ok(Engine::tray_summary(self).await?)
    }
    async fn dashboard(&self, _: ops::Dashboard) -> Result<Vec<StageSummary>> {
        Ok(Engine::dashboard(self).await?)
    }
    async fn metrics(&self, op: ops::Metrics) -> Result<Vec<StageMetrics>> {
        Ok(Engine::metrics(self, op.project.as_deref()).await?)
    }
    async fn list_hosts(&self, _: ops::ListHosts) -> Result<Vec<HostEntry>> {
        Ok(self.hosts().await?)
    }
    async fn create_host(&self, op: ops::CreateHost) -> Result<Host> {
        Ok(Engine::create_host(self, op.host).await?)
    }
    async fn import_docker_contexts(&self, _: ops::ImportDockerContexts) -> Result<ContextImport> {
        Ok(Engine::import_docker_contexts(self).await?)
    }
    async fn get_host(&self, op: ops::GetHost) -> Result<HostEntry> {
        Ok(self.host(&op.id).await?)
    }
    async fn update_host(&self, op: ops::UpdateHost) -> Result<Host> {
        Ok(Engine::update_host(self, &op.id, op.host).await?)
    }
    async fn delete_host(&self, op: ops::DeleteHost) -> Result<()> {
        Ok(Engine::delete_host(self, &op.id).await?)
    }
    async fn test_host(&self, op: ops::TestHost) -> Result<HostTest> {
        Ok(Engine::test_host(self, &op.id).await?)
    }
    async fn list_containers(&self, op: ops::ListContainers) -> Result<Vec<ContainerGroup>> {
        Ok(self.containers(&op.host).await?)
    }
    async fn inspect_container(&self, op: ops::InspectContainer) -> Result<ContainerInfo> {
        Ok(self.container(&op.host, &op.container).await?)
    }
    async fn container_action(&self, op: ops::ContainerActionOn) -> Result<()> {
        Ok(Engine::container_action(self, &op.host, &op.container, op.action, op.grace, op.force).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_is_filed_under_its_project_and_the_run_it_started_or_touched() {
        let path = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>();
        type Case = (&'static str, HashMap<String, String>, serde_json::Value, (Option<&'static str>, Option<i64>));
        let cases: &[Case] = &[
            (
                "/projects/{id}/stages/{stage}/promote",
                path(&[("id", "web"), ("stage", "prod")]),
                json!({"run_id": 7}),
                (Some("web"), Some(7)),
            ),
            ("/projects", path(&[]), json!({"id": "api", "name": "api"}), (Some("api"), None)),
            ("/projects/import", path(&[]), json!({"created": true, "project": {"id": "shop"}}), (Some("shop"), None)),
            ("/runs/{id}/cancel", path(&[("id", "12")]), json!(null), (None, Some(12))),
            ("/runs/{id}/rerun", path(&[("id", "12")]), json!({"run_id": 13}), (None, Some(13))),
            ("/settings/edge", path(&[]), json!({"id": "not-a-project"}), (None, None)),
        ];
        for (route, p, answer, (project, run)) in cases {
            assert_eq!(history_subject(route, p, answer), (project.map(String::from), *run), "{route}");
        }
    }

    #[test]
    fn a_console_name_is_printable_and_short_or_api() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(slipway_protocol::client::ACTOR_HEADER, v.parse().unwrap());
            actor(&h)
        };
        assert_eq!(actor(&HeaderMap::new()), "api");
        assert_eq!(with("  "), "api");
        assert_eq!(with("ana@desk (window)"), "ana@desk (window)");
        assert_eq!(with("a\tb").len(), 2);
        assert_eq!(with(&"x".repeat(500)).len(), ACTOR_MAX);
    }
}
