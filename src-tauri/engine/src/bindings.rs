//! TypeScript declarations for the UI, generated from the Rust types so they are never retyped.

use ts_rs::TS;

/// The generated file's path, relative to the repository root.
pub const PATH: &str = "ui/src/lib/bindings.ts";

/// The whole text of `ui/src/lib/bindings.ts`.
pub fn typescript() -> String {
    let decls = [
        crate::ErrorCode::decl(),
        crate::ApiError::decl(),
        crate::docker::DockerStatus::decl(),
        crate::EngineStatus::decl(),
        crate::EngineEvent::decl(),
        crate::PromoteTarget::decl(),
        crate::api::AutoDeploy::decl(),
        crate::engine::WebhookInfo::decl(),
        crate::engine::ForgeAccount::decl(),
        crate::engine::ImportResult::decl(),
        crate::projects::Forge::decl(),
        crate::projects::Strategy::decl(),
        crate::deploy::config::DeployConfig::decl(),
        crate::deploy::config::HealthKind::decl(),
        crate::deploy::config::Health::decl(),
        crate::deploy::config::Rollout::decl(),
        crate::deploy::compose_spec::Dependency::decl(),
        crate::deploy::compose_spec::Healthcheck::decl(),
        crate::deploy::compose_spec::ServiceSpec::decl(),
        crate::deploy::compose_spec::StackSpec::decl(),
        crate::deploy::releases::ReleaseConfig::decl(),
        crate::deploy::releases::Release::decl(),
        crate::deploy::releases::CommitLine::decl(),
        crate::deploy::releases::PendingPromotion::decl(),
        crate::projects::Stage::decl(),
        crate::notify::ChannelKind::decl(),
        crate::notify::NotifyChannel::decl(),
        crate::notify::NoticeKind::decl(),
        crate::notify::Notice::decl(),
        crate::notify::NotificationSettings::decl(),
        crate::notify::ChannelResult::decl(),
        crate::projects::Project::decl(),
        crate::projects::NewProject::decl(),
        crate::intake::Outcome::decl(),
        crate::intake::Verdict::decl(),
        crate::intake::Delivery::decl(),
        crate::intake::RunSummary::decl(),
        crate::intake::StepInfo::decl(),
        crate::intake::RunDetail::decl(),
        crate::runlog::LogLine::decl(),
        crate::api::RunStarted::decl(),
        crate::api::RunnerHold::decl(),
        crate::metrics::StageHealth::decl(),
        crate::metrics::StageSummary::decl(),
        crate::metrics::DayCount::decl(),
        crate::metrics::StageMetrics::decl(),
        crate::metrics::TrayState::decl(),
        crate::metrics::TraySummary::decl(),
        crate::hosts::HostKind::decl(),
        crate::hosts::Host::decl(),
        crate::hosts::HostInput::decl(),
        crate::hosts::HostTest::decl(),
        crate::hosts::HostState::decl(),
        crate::hosts::HostStatus::decl(),
        crate::hosts::ContextImport::decl(),
        crate::hostpool::HostEntry::decl(),
        crate::containers::ContainerInfo::decl(),
        crate::containers::GroupKind::decl(),
        crate::containers::ContainerGroup::decl(),
        crate::containers::ContainerAction::decl(),
        crate::containers::LogStream::decl(),
        crate::containers::ContainerLogLine::decl(),
        crate::containers::ContainerStats::decl(),
        crate::containers::HostEvent::decl(),
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
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
