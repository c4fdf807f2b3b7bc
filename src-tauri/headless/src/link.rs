//! The engine the command line talks to: this machine's, or one attached over SSH with
//! `--engine ssh://…` (see [`slipway_protocol::remote`]); and `attach-info`, what a console
//! attaching over SSH reads on this machine.

use std::path::PathBuf;
use std::sync::OnceLock;

use slipway_engine::http::client::{console_actor, Client};
use slipway_engine::{Config, Error, ErrorCode};
use slipway_protocol::remote::AttachInfo;

/// The client of the engine the command line was pointed at (`--engine`): set once when that
/// is a remote one, whose tunnel lives as long as `main`'s run.
static REMOTE: OnceLock<Client> = OnceLock::new();

/// The engine's client, naming this command line in the engine's history.
pub(crate) fn connect(config: &Config) -> Result<Client, Error> {
    if let Some(c) = REMOTE.get() {
        return Ok(c.clone());
    }
    Ok(Client::for_config(config)?.with_actor(console_actor("cli")))
}

/// Remembers the client of the remote engine `--engine` attached to.
pub(crate) fn attached(client: Client) {
    let _ = REMOTE.set(client.with_actor(console_actor("cli")));
}

pub(crate) async fn remote_tray(target: slipway_protocol::remote::SshTarget) -> Result<(), Error> {
    crate::remote_tray::run(target).await
}

/// Where this machine's engine answers, and its token: read from its files, so only a user who
/// may read the data directory learns it.
pub(crate) fn attach_info(config: &Config, data_dir_given: bool) -> Result<AttachInfo, Error> {
    let mut dirs = vec![config.data_dir.clone()];
    if !data_dir_given {
        dirs.push(PathBuf::from(crate::service::SYSTEM_DATA_DIR));
    }
    let mut first_err = None;
    for dir in dirs {
        let mut c = config.clone();
        c.data_dir = dir;
        let found = slipway_protocol::client::read_engine_file(&c.engine_file()).and_then(|file| {
            let token = std::fs::read_to_string(c.token_path()).map_err(|e| {
                slipway_protocol::ApiError::new(ErrorCode::Io, format!("cannot read the API token {}: {e}", c.token_path().display()))
            })?;
            let api = file.api_url.as_deref().unwrap_or(&file.url).trim_start_matches("http://").trim_end_matches('/').to_string();
            Ok(AttachInfo {
                api,
                token: token.trim().to_string(),
                version: env!("CARGO_PKG_VERSION").into(),
                data_dir: c.data_dir.display().to_string(),
            })
        });
        match found {
            Ok(info) => return Ok(info),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.expect("one directory was tried").into())
}
