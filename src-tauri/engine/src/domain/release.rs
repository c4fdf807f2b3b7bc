//! Releases: what each stage runs, numbered per stage, with the image and a snapshot of the
//! config that produced it, so a rollback or a promotion redeploys exactly that.

pub use slipway_protocol::release::{CommitLine, PendingPromotion, Release, ReleaseConfig, ReleaseStatus};

use crate::domain::project::Stage;
use crate::domain::run::Trigger;

/// What a redeploy of `release` onto `stage` runs with. A rollback puts the release back exactly
/// as it was (its own strategy and windows too); a promotion takes the release's image and
/// container config, and deploys it the way the target stage deploys (its strategy, windows,
/// host name and retention).
pub fn restored_config(release: &Release, stage: &Stage, trigger: Trigger) -> ReleaseConfig {
    if trigger == Trigger::Rollback {
        return release.config.clone();
    }
    ReleaseConfig { strategy: stage.strategy, rollout: stage.rollout.clone(), ..release.config.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deploy::{DeployConfig, Rollout};
    use crate::domain::project::Strategy;

    fn release() -> Release {
        Release {
            id: 7,
            project_id: "web".into(),
            stage: "dev".into(),
            number: 3,
            run_id: Some(1),
            commit_sha: Some("abc".into()),
            image: "sha256:1".into(),
            digests: Default::default(),
            containers: Default::default(),
            hosts: vec![],
            config: ReleaseConfig {
                deploy: DeployConfig { port: Some(8080), ..DeployConfig::default() },
                strategy: Strategy::Recreate,
                rollout: Rollout { verify_secs: 1, ..Rollout::default() },
                compose: None,
            },
            status: ReleaseStatus::Retired,
            promoted_from: None,
            created_at: 0,
        }
    }

    #[test]
    fn rules() {
        let prod = Stage {
            name: "prod".into(),
            strategy: Strategy::Canary,
            rollout: Rollout { verify_secs: 60, ..Rollout::default() },
            ..Stage::default()
        };
        let r = release();
        // A rollback restores the release exactly as it ran, strategy and windows included.
        assert_eq!(restored_config(&r, &prod, Trigger::Rollback), r.config);
        // A promotion keeps the release's image config and takes the target stage's way of deploying.
        let promoted = restored_config(&r, &prod, Trigger::Promote);
        assert_eq!((promoted.strategy, promoted.rollout.verify_secs, promoted.deploy.port), (Strategy::Canary, 60, Some(8080)));
    }
}
