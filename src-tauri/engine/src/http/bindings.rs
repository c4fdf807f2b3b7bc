//! TypeScript declarations for the UI, generated from the Rust types so they are never retyped.

use ts_rs::TS;

/// The generated file's path, relative to the repository root.
pub const PATH: &str = "ui/src/lib/bindings.ts";

/// The whole text of `ui/src/lib/bindings.ts`.
pub fn typescript() -> String {
    let decls = [
        crate::ErrorCode::decl(),
        crate::ApiError::decl(),
        crate::domain::events::DockerStatus::decl(),
        crate::EngineStatus::decl(),
        crate::EngineEvent::decl(),
        crate::PromoteTarget::decl(),
        crate::http::api::AutoDeploy::decl(),
        crate::domain::events::WebhookInfo::decl(),
        crate::domain::events::ForgeAccount::decl(),
        crate::domain::events::ImportResult::decl(),
        crate::domain::project::Forge::decl(),
        crate::domain::project::Strategy::decl(),
        crate::domain::deploy::DeployConfig::decl(),
        crate::domain::deploy::HealthKind::decl(),
        crate::domain::deploy::Health::decl(),
        crate::domain::deploy::Rollout::decl(),
        crate::domain::compose::Dependency::decl(),
        crate::domain::compose::Healthcheck::decl(),
        crate::domain::compose::ServiceSpec::decl(),
        crate::domain::compose::StackSpec::decl(),
        crate::domain::release::ReleaseConfig::decl(),
        crate::domain::release::Release::decl(),
        crate::domain::release::CommitLine::decl(),
        crate::domain::release::PendingPromotion::decl(),
        crate::domain::project::Stage::decl(),
        crate::domain::notice::ChannelKind::decl(),
        crate::domain::notice::NotifyChannel::decl(),
        crate::domain::notice::NoticeKind::decl(),
        crate::domain::notice::Notice::decl(),
        crate::domain::notice::NotificationSettings::decl(),
        crate::domain::notice::ChannelResult::decl(),
        crate::domain::project::Project::decl(),
        crate::domain::project::NewProject::decl(),
        crate::domain::run::Trigger::decl(),
        crate::domain::run::RunStatus::decl(),
        crate::domain::run::StepStatus::decl(),
        crate::domain::release::ReleaseStatus::decl(),
        crate::domain::run::Outcome::decl(),
        crate::domain::run::Verdict::decl(),
        crate::domain::run::Delivery::decl(),
        crate::domain::run::RunSummary::decl(),
        crate::domain::run::StepInfo::decl(),
        crate::domain::run::RunDetail::decl(),
        crate::store::logs::LogLine::decl(),
        crate::http::api::RunStarted::decl(),
        crate::http::api::RunnerHold::decl(),
        crate::domain::metrics::StageHealth::decl(),
        crate::domain::metrics::StageSummary::decl(),
        crate::domain::metrics::DayCount::decl(),
        crate::domain::metrics::StageMetrics::decl(),
        crate::domain::metrics::TrayState::decl(),
        crate::domain::metrics::TraySummary::decl(),
        crate::domain::host::HostKind::decl(),
        crate::domain::host::Host::decl(),
        crate::domain::host::HostInput::decl(),
        crate::domain::host::HostTest::decl(),
        crate::domain::host::HostState::decl(),
        crate::domain::host::HostStatus::decl(),
        crate::domain::host::ContextImport::decl(),
        crate::services::hosts::HostEntry::decl(),
        crate::adapters::docker::containers::ContainerInfo::decl(),
        crate::adapters::docker::containers::GroupKind::decl(),
        crate::adapters::docker::containers::ContainerGroup::decl(),
        crate::adapters::docker::containers::ContainerAction::decl(),
        crate::adapters::docker::containers::LogStream::decl(),
        crate::adapters::docker::containers::ContainerLogLine::decl(),
        crate::adapters::docker::containers::ContainerStats::decl(),
        crate::adapters::docker::containers::HostEvent::decl(),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `./scripts/gen-types`. Do not edit by hand:\n\
         // the engine's `bindings` test fails when this file is stale.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    // Every value of the lifecycle enums, in order, so the UI lists them without retyping them.
    let all = |name: &str, ty: &str, values: Vec<&str>| {
        let list = values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ");
        format!("export const {name}: readonly {ty}[] = [{list}];\n\n")
    };
    use crate::domain::{release::ReleaseStatus, run::RunStatus, run::StepStatus};
    out.push_str(&all("RUN_STATUSES", "RunStatus", RunStatus::ALL.iter().map(|s| s.as_str()).collect()));
    out.push_str(&all("STEP_STATUSES", "StepStatus", StepStatus::ALL.iter().map(|s| s.as_str()).collect()));
    out.push_str(&all("RELEASE_STATUSES", "ReleaseStatus", ReleaseStatus::ALL.iter().map(|s| s.as_str()).collect()));
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
