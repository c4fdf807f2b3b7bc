//! Releases: what each stage runs, numbered per stage, with the image and a snapshot of the
//! config that produced it, so a rollback or a promotion redeploys exactly that.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::deploy::{DeployConfig, Rollout};
use crate::project::Strategy;

/// Where a release is in its life. Stored as its snake_case name (`releases.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", sqlx(type_name = "TEXT", rename_all = "snake_case"))]
pub enum ReleaseStatus {
    /// What the stage serves now (one per stage).
    Live,
    /// Replaced by a newer deploy; kept for rollback while retention allows.
    Retired,
    /// Replaced by a rollback to an older release.
    RolledBack,
    /// Its image was removed by retention: it can no longer be rolled back to.
    Pruned,
}

named!(ReleaseStatus { Live => "live", Retired => "retired", RolledBack => "rolled_back", Pruned => "pruned" });

/// The configuration a release was deployed with. Secrets appear by name only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReleaseConfig {
    pub deploy: DeployConfig,
    pub strategy: Strategy,
    pub rollout: Rollout,
    /// For a compose stack: its services as deployed (images are in the release's digests).
    #[serde(default)]
    pub compose: Option<crate::compose::StackSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Release {
    #[ts(type = "number")]
    pub id: i64,
    pub project_id: String,
    pub stage: String,
    #[ts(type = "number")]
    pub number: i64,
    #[ts(type = "number | null")]
    pub run_id: Option<i64>,
    pub commit_sha: Option<String>,
    /// What the containers run: an image id for images built here, `repo@sha256:…` for pulled ones.
    pub image: String,
    /// Digest of every service's image, by service name.
    pub digests: std::collections::BTreeMap<String, String>,
    /// The containers that serve it, by service. On a stage with several hosts the same
    /// names run on each of them (a container's name does not depend on its host).
    pub containers: std::collections::BTreeMap<String, Vec<String>>,
    /// The Docker hosts it runs on, when the stage names its hosts; empty: the project's host.
    #[serde(default)]
    pub hosts: Vec<String>,
    pub config: ReleaseConfig,
    pub status: ReleaseStatus,
    /// The release of another stage this one was promoted from.
    #[ts(type = "number | null")]
    pub promoted_from: Option<i64>,
    #[ts(type = "number")]
    pub created_at: i64,
}

/// A promotion waiting for a click: the source stage has a live release the target does not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PendingPromotion {
    pub project_id: String,
    pub stage: String,
    pub from_stage: String,
    pub from_release: Release,
    /// What the target runs now (None before its first release).
    pub current: Option<Release>,
    /// Commits between the two, newest first (empty when they can't be told).
    pub commits: Vec<CommitLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommitLine {
    pub sha: String,
    pub subject: String,
    pub author: String,
}
