//! The secrets operations: removing a project secret, and moving every secret between the OS
//! keychain and the encrypted file.

use std::collections::BTreeSet;

use crate::domain::notice::{secret_key, url_key};
use crate::engine::Engine;
use crate::services::secrets::{self, Kind};
use crate::services::{forge_token_key, webhook_key};
use crate::Result;
use slipway_protocol::ops::SecretsMigrated;

impl Engine {
    /// Removes a project secret from wherever secrets are kept.
    pub async fn delete_project_secret(&self, project_id: &str, name: &str) -> Result<()> {
        crate::store::projects::get(self.store(), project_id).await?;
        crate::adapters::keychain::delete(&crate::services::secret_key(project_id, name)).await
    }

    /// Moves every secret to `to` (`keychain` or `file`). Besides the names the current
    /// backend lists, every name the store implies is looked for, so secrets an older version
    /// put in the keychain (before it kept a list) move too.
    pub async fn migrate_secrets(&self, to: &str) -> Result<SecretsMigrated> {
        let to = Kind::parse(to)?;
        let mut known = BTreeSet::new();
        for p in self.projects().await? {
            known.insert(webhook_key(&p.id));
            for c in &p.notifications {
                known.insert(url_key(&p.id, &c.name));
                known.insert(secret_key(&p.id, &c.name));
            }
            if let Some(account) = &p.registry_account {
                known.insert(format!("registry:{account}"));
            }
            for name in p.deploy.iter().flat_map(|d| d.secrets.iter()) {
                known.insert(crate::services::secret_key(&p.id, name));
            }
            // A compose stack's secret files went to the keychain under keys its releases name.
            for s in &p.stages {
                for r in crate::store::releases::list(self.store(), &p.id, &s.name).await? {
                    let files = r.config.compose.iter().flat_map(|st| st.services.iter()).flat_map(|svc| svc.files.iter());
                    known.extend(files.filter_map(|f| match &f.source {
                        crate::domain::compose::FileSource::Keychain(key) => Some(key.clone()),
                        _ => None,
                    }));
                }
            }
        }
        for account in self.forge_accounts().await? {
            known.insert(forge_token_key(&account.name));
        }
        let done = secrets::migrate(self.store(), self.config(), known, to).await?;
        // The webhook secrets cached in memory are still right: the values did not change.
        Ok(SecretsMigrated { backend: done.backend.describe(), moved: done.moved })
    }
}
