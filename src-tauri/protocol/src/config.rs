//! Where the engine keeps its files and what it listens on. Every setting can be overridden by a
//! flag (the caller's job) or an environment variable, so tests can run many engines side by side.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The default port of the local listener. Fixed rather than random so that a webhook URL an
/// operator pasted into a forge stays valid across restarts.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7717";

#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the store, the API token, the log files and the engine's address file.
    pub data_dir: PathBuf,
    /// Address of the local HTTP listener (API and, later, webhooks). Port 0 picks a free one.
    pub listen: SocketAddr,
    /// Docker endpoint of the default local host, as `DOCKER_HOST` spells it.
    pub docker_host: String,
    /// The key of the encrypted secrets file, where no OS keychain is used
    /// (`SLIPWAY_SECRETS_KEY_FILE`, `--secrets-key-file`). Never inside `data_dir`.
    pub secrets_key_file: Option<PathBuf>,
    /// `keychain` or `file` on the first start (`SLIPWAY_SECRETS`); later starts keep what the
    /// store recorded.
    pub secrets_backend: Option<String>,
}

impl Config {
    /// Settings from the environment with the platform defaults underneath.
    pub fn from_env() -> crate::Result<Self> {
        let data_dir = match std::env::var_os("SLIPWAY_DATA_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => default_data_dir()?,
        };
        let listen = std::env::var("SLIPWAY_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_string());
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Ok(Config {
            data_dir,
            listen: parse_listen(&listen)?,
            docker_host: default_docker_host(),
            secrets_key_file: var("SLIPWAY_SECRETS_KEY_FILE").map(PathBuf::from),
            secrets_backend: var("SLIPWAY_SECRETS").map(|v| v.to_string_lossy().into_owned()),
        })
    }

    /// Settings for an engine in `data_dir` listening on `listen` (tests, tools); the rest as
    /// a first start with nothing set.
    pub fn at(data_dir: impl Into<PathBuf>, listen: SocketAddr, docker_host: impl Into<String>) -> Config {
        Config { data_dir: data_dir.into(), listen, docker_host: docker_host.into(), secrets_key_file: None, secrets_backend: None }
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("slipway.db")
    }

    pub fn token_path(&self) -> PathBuf {
        self.data_dir.join("api-token")
    }

    /// Written while the engine runs: where its API answers and which process owns it.
    pub fn engine_file(&self) -> PathBuf {
        self.data_dir.join("engine.json")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// The directory of the hook socket the local edge forwards `/hooks/*` to (mounted into
    /// the edge; nothing else is in it).
    pub fn hooks_dir(&self) -> PathBuf {
        self.data_dir.join("edge-hooks")
    }
}

pub fn parse_listen(s: &str) -> crate::Result<SocketAddr> {
    s.parse().map_err(|_| {
        crate::error::ApiError::new(
            crate::error::ErrorCode::InvalidInput,
            format!("listen address {s:?} is not of the form IP:PORT (for example {DEFAULT_LISTEN})"),
        )
    })
}

fn default_data_dir() -> crate::Result<PathBuf> {
    dirs::data_dir().map(|d| d.join("slipway")).ok_or_else(|| {
        crate::error::ApiError::new(
            crate::error::ErrorCode::InvalidInput,
            "no per-user data directory is known for this OS: set SLIPWAY_DATA_DIR or pass --data-dir",
        )
    })
}

fn default_docker_host() -> String {
    std::env::var("SLIPWAY_DOCKER_HOST")
        .or_else(|_| std::env::var("DOCKER_HOST"))
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}
