//! What the engine does, as services over the lower layers: the intake, polling, hosts,
//! notifications, commit statuses, webhook handling, runs and deploys.
//!
//! Each service is a cheap handle (`Hosts`, `Notifier`, `Intake`, `Poller`, `Hooks`,
//! `Runner`, deploy's `Kit`) built once by [`crate::engine`] from the narrow handles it
//! needs: the store, the run logs, the signals of [`bus`], and other services' handles. No
//! service sees the engine, and the services import each other one way only:
//!
//! ```text
//! bus, commit_status ← hosts, intake, notify ← poll ← hooks
//!                      hosts, notify, environments ← deploy ← run
//! ```
//!
//! This file holds only what several of them name: keychain keys and container labels.
//!
//! Must not depend on: engine, http. Must not import its own children (they import it).

pub mod bus;
pub mod commit_status;
pub mod deploy;
pub mod environments;
pub mod hooks;
pub mod hosts;
pub mod intake;
pub mod notify;
pub mod poll;
pub mod run;
pub mod secrets;

use crate::adapters::git::Credentials;
use crate::adapters::keychain;
use crate::domain::project::{Forge, Project};
use crate::store::Store;
use crate::{Error, ErrorCode, Result};

/// Labels on every container and volume a run creates, so leftovers can be found after a
/// crash: the run (`<instance>-<run id>`) and the installation that owns it.
pub const RUN_LABEL: &str = "dev.slipway.run";
pub const INSTANCE_LABEL: &str = "dev.slipway.instance";

pub(crate) fn webhook_key(project: &str) -> String {
    format!("webhook-secret:{project}")
}

pub(crate) fn forge_token_key(account: &str) -> String {
    format!("forge-token:{account}")
}

/// Keychain entry of a project secret.
pub fn secret_key(project: &str, name: &str) -> String {
    format!("project-secret:{project}:{name}")
}

/// The HTTPS credentials of a project's forge account, read from the keychain.
pub async fn git_credentials(store: &Store, project: &Project) -> Result<Option<Credentials>> {
    let Some(account) = &project.token_ref else { return Ok(None) };
    let username = crate::store::accounts::forge_username(store, account).await?;
    let token = keychain::get(&forge_token_key(account)).await?.ok_or_else(|| {
        Error::new(
            ErrorCode::Keychain,
            format!("project {} uses forge account {account:?}, whose token is not in the keychain", project.id),
        )
    })?;
    let username = username.flatten().unwrap_or_else(|| {
        match project.forge {
            Forge::Github => "x-access-token",
            Forge::Gitlab => "oauth2",
            Forge::Bitbucket => "x-token-auth",
            _ => "slipway",
        }
        .to_string()
    });
    Ok(Some(Credentials { username, token, account: account.clone() }))
}
