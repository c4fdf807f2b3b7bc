//! Projects and their stages: which repository, which forge, and which refs deploy where.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::deploy::{DeployConfig, Rollout};
use crate::environment::EnvRule;
use crate::notice::NotifyChannel;

/// Where a project's code lives. `Git` is any plain git server: polling works, webhooks don't.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Forge {
    Github,
    Gitlab,
    Gitea,
    Forgejo,
    Bitbucket,
    Git,
}

impl Forge {
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
            Forge::Gitea => "gitea",
            Forge::Forgejo => "forgejo",
            Forge::Bitbucket => "bitbucket",
            Forge::Git => "git",
        }
    }

    pub fn parse(s: &str) -> Forge {
        match s {
            "github" => Forge::Github,
            "gitlab" => Forge::Gitlab,
            "gitea" => Forge::Gitea,
            "forgejo" => Forge::Forgejo,
            "bitbucket" => Forge::Bitbucket,
            _ => Forge::Git,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Recreate,
    #[default]
    BlueGreen,
    Rolling,
    Canary,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Recreate => "recreate",
            Strategy::BlueGreen => "blue-green",
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
        }
    }

    pub fn parse(s: &str) -> Strategy {
        match s {
            "recreate" => Strategy::Recreate,
            "rolling" => Strategy::Rolling,
            "canary" => Strategy::Canary,
            _ => Strategy::BlueGreen,
        }
    }
}

/// A deploy target of a project (`dev`, `rel`, `prod`) and the refs that feed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    /// Branches whose pushes deploy here; default `["main"]`.
    pub branch_patterns: Vec<String>,
    /// Tags whose pushes deploy here, e.g. `["v*"]`.
    pub tag_patterns: Vec<String>,
    /// Whether pull/merge request events deploy here (opt-in: PRs can come from forks).
    pub pr_events: bool,
    /// Off: matching pushes are recorded and wait for a manual deploy.
    pub auto_deploy: bool,
    /// A productive environment: it never takes pull/merge request events, and rules can
    /// name it as `productive`.
    pub productive: bool,
    pub promote_from: Option<String>,
    /// Promotions here need the operator's confirmation (and rollbacks from a notification
    /// open the window instead).
    pub confirm: bool,
    pub strategy: Strategy,
    /// Drain and verification windows, rolling batches, canary share, host name, retention.
    pub rollout: Rollout,
    /// A group of environments (`qa`, `customer-a`), which rules can name as `group:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Its predecessors: a commit reaches this stage only after it was live and healthy on
    /// each of them for `soak_secs`, whether it comes by a push, a manual deploy or a promote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    #[ts(type = "number")]
    pub soak_secs: u64,
    /// Manual deploys here need the same confirmation as a promote.
    #[serde(default, skip_serializing_if = "is_false")]
    pub confirm_manual: bool,
    /// The Docker hosts one release of this stage runs on, each behind its own edge; empty:
    /// the project's host. A deploy switches `parallel` of them at a time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub parallel: u32,
    /// What runs the release: Slipway's own containers (one host or several), or a Swarm
    /// service that Swarm's own rolling update moves to the new release.
    #[serde(default, skip_serializing_if = "StageTarget::is_containers")]
    pub target: StageTarget,
}

/// What runs a stage's release.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StageTarget {
    /// Containers Slipway starts on each of the stage's hosts with the stage's strategy.
    #[default]
    Containers,
    /// A service on a Swarm manager (the stage's one host, or the project's).
    Swarm,
}

named!(StageTarget { Containers => "containers", Swarm => "swarm" });

impl StageTarget {
    fn is_containers(&self) -> bool {
        *self == StageTarget::Containers
    }
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for Stage {
    fn default() -> Self {
        Stage {
            name: "dev".into(),
            branch_patterns: vec!["main".into()],
            tag_patterns: vec![],
            pr_events: false,
            auto_deploy: true,
            productive: false,
            promote_from: None,
            confirm: false,
            strategy: Strategy::default(),
            rollout: Rollout::default(),
            group: None,
            requires: vec![],
            soak_secs: 0,
            confirm_manual: false,
            hosts: vec![],
            parallel: 1,
            target: StageTarget::Containers,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Project {
    /// URL-safe id derived from the name; the webhook URL is `/hooks/<id>`.
    pub id: String,
    pub name: String,
    pub repo_url: String,
    pub forge: Forge,
    /// Name of the forge account whose token (in the keychain) clones and polls this repository.
    pub token_ref: Option<String>,
    pub host_id: Option<String>,
    /// Poll the repository every this many seconds (and at start); None turns polling off.
    pub poll_interval_secs: Option<u32>,
    pub stages: Vec<Stage>,
    /// An image repository (`registry.example.com/team/web`) whose tags deploy prebuilt images.
    pub image_repo: Option<String>,
    /// Name of the keychain entry (`registry:<name>`) with the registry's `user:password`.
    pub registry_account: Option<String>,
    /// What runs after a successful build: None for projects that only build.
    pub deploy: Option<DeployConfig>,
    /// Where run notifications go besides the desktop. Kept in `config_json`; the URLs are in
    /// the keychain.
    #[serde(default)]
    pub notifications: Vec<NotifyChannel>,
    /// Which refs may reach which environments (see [`EnvRule`]). Kept in `config_json`.
    #[serde(default)]
    pub rules: Vec<EnvRule>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub last_poll_at: Option<i64>,
    pub last_poll_error: Option<String>,
}

/// What the operator fills in to create a project, and what a project file says. Unknown keys
/// are refused: a misspelt one must not be dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub name: String,
    pub repo_url: String,
    pub forge: Forge,
    #[serde(default)]
    pub token_ref: Option<String>,
    #[serde(default)]
    pub poll_interval_secs: Option<u32>,
    /// Default: one `dev` stage fed by `main`.
    #[serde(default)]
    pub stages: Vec<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployConfig>,
    /// The Docker host (`hosts` id) this project deploys to; None is the local engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Outbound notification channels; a `url`/`secret` given here goes to the keychain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotifyChannel>,
    /// Which refs may reach which environments, checked on every deploy and promote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<EnvRule>,
}

/// What removing a project does with the named volumes it created (the data in them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum VolumeChoice {
    /// They stay on the host (`docker volume rm` later, or a new project of the same name
    /// finds them again).
    Keep,
    /// The project's containers, routes, networks and volumes are removed from its host.
    Remove,
}
