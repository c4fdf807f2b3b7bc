//! TypeScript declarations for the UI, generated from the Rust types so they are never retyped.

use ts_rs::TS;

/// The generated file's path, relative to the repository root.
pub const PATH: &str = "ui/src/lib/bindings.ts";

/// The whole text of `ui/src/lib/bindings.ts`. (Long because it lists every exported type once,
/// in the order the UI reads them; there is nothing to split.)
pub fn typescript() -> String {
    let decls = [
        crate::error::ErrorCode::decl(),
        crate::error::ApiError::decl(),
        crate::events::DockerStatus::decl(),
        crate::events::EngineStatus::decl(),
        crate::events::EngineEvent::decl(),
        crate::events::PromoteTarget::decl(),
        crate::ops::AutoDeploy::decl(),
        crate::events::WebhookInfo::decl(),
        crate::events::ForgeAccount::decl(),
        crate::events::ImportResult::decl(),
        crate::project::Forge::decl(),
        crate::project::Strategy::decl(),
        crate::deploy::DeployConfig::decl(),
        crate::deploy::HealthKind::decl(),
        crate::deploy::Health::decl(),
        crate::deploy::Rollout::decl(),
        crate::compose::Dependency::decl(),
        crate::compose::Healthcheck::decl(),
        crate::compose::ServiceSpec::decl(),
        crate::compose::StackSpec::decl(),
        crate::compose::PublishedPort::decl(),
        crate::compose::MountKind::decl(),
        crate::compose::MountSpec::decl(),
        crate::compose::VolumeSpec::decl(),
        crate::compose::NetworkSpec::decl(),
        crate::compose::FileSource::decl(),
        crate::compose::FileSpec::decl(),
        crate::compose::Runtime::decl(),
        crate::release::ReleaseConfig::decl(),
        crate::release::Release::decl(),
        crate::release::CommitLine::decl(),
        crate::release::PendingPromotion::decl(),
        crate::project::StageTarget::decl(),
        crate::project::Stage::decl(),
        crate::plugin::PluginRecord::decl(),
        crate::plugin::PluginSummary::decl(),
        crate::template::TemplateInfo::decl(),
        crate::template::StepOrigin::decl(),
        crate::template::StepSource::decl(),
        crate::template::ExecutedPipeline::decl(),
        crate::environment::RuleRefs::decl(),
        crate::environment::EnvRule::decl(),
        crate::environment::EnvironmentKind::decl(),
        crate::environment::LiveRelease::decl(),
        crate::environment::WaitState::decl(),
        crate::environment::Waiting::decl(),
        crate::environment::Environment::decl(),
        crate::environment::ProjectEnvironments::decl(),
        crate::notice::ChannelKind::decl(),
        crate::notice::NotifyChannel::decl(),
        crate::notice::NoticeKind::decl(),
        crate::notice::Notice::decl(),
        crate::notice::NotificationSettings::decl(),
        crate::notice::ChannelResult::decl(),
        crate::project::Project::decl(),
        crate::project::NewProject::decl(),
        crate::project::VolumeChoice::decl(),
        crate::edge::EdgeTls::decl(),
        crate::edge::EdgeConfig::decl(),
        crate::edge::EdgeChange::decl(),
        crate::edge::EdgeApplied::decl(),
        crate::watch::OnUnhealthy::decl(),
        crate::watch::LiveState::decl(),
        crate::watch::LiveHealth::decl(),
        crate::watch::Pin::decl(),
        crate::watch::Incident::decl(),
        crate::watch::Offer::decl(),
        crate::watch::Unpinned::decl(),
        crate::metrics::StageAttention::decl(),
        crate::run::SwitchCount::decl(),
        crate::run::HistoryEntry::decl(),
        crate::run::LogMatches::decl(),
        crate::remote::ConsoleLink::decl(),
        crate::metrics::SwitchCost::decl(),
        crate::run::Trigger::decl(),
        crate::run::RunStatus::decl(),
        crate::run::StepStatus::decl(),
        crate::release::ReleaseStatus::decl(),
        crate::run::Outcome::decl(),
        crate::run::Verdict::decl(),
        crate::run::Delivery::decl(),
        crate::run::RunSummary::decl(),
        crate::run::StepInfo::decl(),
        crate::run::RunDetail::decl(),
        crate::run::LogLine::decl(),
        crate::ops::RunStarted::decl(),
        crate::ops::NoticeRollback::decl(),
        crate::ops::RunnerHold::decl(),
        crate::ops::SecretsMigrated::decl(),
        crate::ops::Autostart::decl(),
        crate::metrics::StageHealth::decl(),
        crate::metrics::StageSummary::decl(),
        crate::metrics::DayCount::decl(),
        crate::metrics::StageMetrics::decl(),
        crate::metrics::TrayState::decl(),
        crate::metrics::TraySummary::decl(),
        crate::host::HostKind::decl(),
        crate::host::Host::decl(),
        crate::host::HostInput::decl(),
        crate::host::HostTest::decl(),
        crate::host::HostState::decl(),
        crate::host::HostStatus::decl(),
        crate::host::Drain::decl(),
        crate::host::ContextImport::decl(),
        crate::host::HostEntry::decl(),
        crate::container::ContainerInfo::decl(),
        crate::container::GroupKind::decl(),
        crate::container::ContainerGroup::decl(),
        crate::container::ContainerAction::decl(),
        crate::container::LogStream::decl(),
        crate::container::ContainerLogLine::decl(),
        crate::container::ContainerStats::decl(),
        crate::container::HostEvent::decl(),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `./scripts/gen-types`. Do not edit by hand:\n\
         // the engine's `bindings` test fails when this file is stale.\n\n",
    );
    for d in decls.into_iter().chain(crate::ops::typescript()) {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    // Every value of the lifecycle enums, in order, so the UI lists them without retyping them.
    let all = |name: &str, ty: &str, values: Vec<&str>| {
        let list = values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ");
        format!("export const {name}: readonly {ty}[] = [{list}];\n\n")
    };
    use crate::{release::ReleaseStatus, run::RunStatus, run::StepStatus};
    out.push_str(&all("RUN_STATUSES", "RunStatus", RunStatus::ALL.iter().map(|s| s.as_str()).collect()));
    out.push_str(&all("STEP_STATUSES", "StepStatus", StepStatus::ALL.iter().map(|s| s.as_str()).collect()));
    out.push_str(&all("RELEASE_STATUSES", "ReleaseStatus", ReleaseStatus::ALL.iter().map(|s| s.as_str()).collect()));
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
