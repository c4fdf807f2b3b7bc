//! A compose stack as Slipway deploys it: the normalised form of a compose file (every key the
//! file used is either in here or was refused when the file was read), stored with every
//! release so that a rollback redeploys exactly what ran. Fields added after the first release
//! format default to empty, so old releases still read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StackSpec {
    /// In dependency order: every service comes after what it depends on. Services whose
    /// `profiles` the stage does not activate are not in here.
    pub services: Vec<ServiceSpec>,
    /// The stack's named volumes, by the name the file uses.
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeSpec>,
    /// The stack's networks, by the name the file uses (`default` is always there).
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkSpec>,
    /// What reading the file decided that the operator should know (shown in the run log).
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ServiceSpec {
    pub name: String,
    pub image: Option<String>,
    /// Build context and Dockerfile, relative to the repository.
    pub build: Option<(String, String)>,
    /// The container port the edge routes to (the first `ports` entry of a service that
    /// publishes no host port): the service is switched blue-green without a gap.
    pub port: Option<u16>,
    pub env: BTreeMap<String, String>,
    pub command: Option<Vec<String>>,
    pub depends_on: Vec<Dependency>,
    /// The compose healthcheck, as Docker's own HEALTHCHECK of the container.
    pub healthcheck: Option<Healthcheck>,
    /// Build arguments and target stage (`build.args`, `build.target`).
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    #[serde(default)]
    pub build_target: Option<String>,
    /// Ports published on the host (`"8080:80"`): such a service is updated in place.
    #[serde(default)]
    pub published: Vec<PublishedPort>,
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// Network (by the file's name) → extra aliases. Empty means `default`.
    #[serde(default)]
    pub networks: BTreeMap<String, Vec<String>>,
    /// Environment values that name a Slipway secret, kept as written (`${NAME}`) and filled in
    /// from the keychain when the container is created, so no secret value is ever stored.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    /// Files placed in the container before it starts (compose `secrets:` and `configs:`).
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub runtime: Runtime,
    /// Updated in place, stop first, never two containers on one volume at once.
    #[serde(default)]
    pub stateful: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Dependency {
    pub service: String,
    /// `service_started` (default), `service_healthy` or `service_completed_successfully`.
    pub condition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Healthcheck {
    pub test: Vec<String>,
    #[ts(type = "number")]
    pub interval_ms: u64,
    #[ts(type = "number")]
    pub timeout_ms: u64,
    pub retries: u32,
    #[ts(type = "number")]
    pub start_period_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PublishedPort {
    /// Empty: all interfaces.
    pub host_ip: String,
    /// A port or a range (`"8000-8010"`); empty: Docker picks one.
    pub host_port: String,
    pub target: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum MountKind {
    /// A named volume of the stack (`source` is the file's name for it).
    Volume,
    /// An absolute path on the Docker host.
    Bind,
    Tmpfs,
    /// A read-only path of the repository (`./conf:/etc/app:ro`): its files, read at this
    /// commit, are in the service's `files`; nothing is mounted.
    Repo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MountSpec {
    pub kind: MountKind,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// tmpfs size in bytes (0: Docker's default).
    #[ts(type = "number")]
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VolumeSpec {
    /// The volume's name on the Docker host.
    pub name: String,
    /// Must exist already; Slipway never creates nor removes it.
    pub external: bool,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct NetworkSpec {
    /// The network's name on the Docker host.
    pub name: String,
    pub external: bool,
    pub driver: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub driver_opts: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum FileSource {
    /// The content, read from the repository (configs only: a config is not a secret).
    Content(String),
    /// The value of a Slipway secret (from the keychain when the container is created).
    Secret(String),
    /// The value of one of the project's environment variables.
    Env(String),
    /// A secret file from the repository, moved into the keychain under this key when the file
    /// was read, so the release never holds its content.
    Keychain(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FileSpec {
    /// Absolute path in the container.
    pub target: String,
    pub source: FileSource,
    pub mode: u32,
    pub uid: String,
    pub gid: String,
}

/// How the container runs: the compose keys that become Docker's container and host settings,
/// as Compose applies them. Empty means Docker's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Runtime {
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub expose: Vec<String>,
    /// `host:ip` as Docker's `ExtraHosts`.
    pub extra_hosts: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// name → (soft, hard)
    #[ts(type = "Record<string, [number, number]>")]
    pub ulimits: BTreeMap<String, (i64, i64)>,
    pub init: Option<bool>,
    /// `no`, `always`, `on-failure[:n]`, `unless-stopped`; none: `unless-stopped` (Slipway's
    /// default, so a stack comes back after a reboot).
    pub restart: Option<String>,
    #[ts(type = "number | null")]
    pub stop_grace_secs: Option<i64>,
    pub stop_signal: Option<String>,
    pub log_driver: Option<String>,
    pub log_options: BTreeMap<String, String>,
    #[ts(type = "number | null")]
    pub memory: Option<i64>,
    #[ts(type = "number | null")]
    pub memory_reservation: Option<i64>,
    #[ts(type = "number | null")]
    pub memory_swap: Option<i64>,
    #[ts(type = "number | null")]
    pub nano_cpus: Option<i64>,
    #[ts(type = "number | null")]
    pub cpu_shares: Option<i64>,
    #[ts(type = "number | null")]
    pub pids_limit: Option<i64>,
    #[ts(type = "number | null")]
    pub shm_size: Option<i64>,
    pub read_only: bool,
    pub privileged: bool,
    pub tty: bool,
    pub stdin_open: bool,
    pub sysctls: BTreeMap<String, String>,
    pub security_opt: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    pub group_add: Vec<String>,
    /// `deploy.replicas` (or `scale`): how many containers run the service; none: one.
    pub replicas: Option<u32>,
}
