//! The edge's settings: read, changed (and applied to the local edge at once).

use crate::domain::edge::{apply, EdgeApplied, EdgeChange, EdgeConfig};
use crate::engine::Engine;
use crate::services::deploy::edge;
use crate::{Error, ErrorCode, Result};

impl Engine {
    pub async fn edge_config(&self) -> Result<EdgeConfig> {
        Ok(edge::settings(self.store()).await)
    }

    /// Applies `change` (refused whole, naming what to fix, when a value is wrong), stores it,
    /// and brings the local edge in line.
    pub async fn set_edge(&self, change: EdgeChange) -> Result<EdgeApplied> {
        let now = edge::settings(self.store()).await;
        let next = apply(&now, &change).map_err(|m| Error::new(ErrorCode::InvalidInput, m))?;
        if let Some(path) = next.acme_ca_root.as_ref().filter(|_| change.acme_ca_root.is_some()) {
            root_pem(path)?;
        }
        edge::store_settings(self.store(), &next).await?;
        let config = edge::settings(self.store()).await;
        let words = edge::apply_local(&self.inner.runner.kit, &config).await;
        tracing::info!(hooks_host = ?config.hooks_host, tls = %config.tls, "edge settings changed: {words}");
        Ok(EdgeApplied { config, edge: words })
    }

    /// At start: an edge that serves the hooks' public name must run whether or not anything
    /// was deployed (forges deliver to it).
    pub(crate) async fn edge_at_start(&self) {
        let config = edge::settings(self.store()).await;
        if config.hooks_host.is_some() {
            let words = edge::apply_local(&self.inner.runner.kit, &config).await;
            tracing::info!("edge for the hooks' public name: {words}");
        }
    }
}

/// The private CA's root must be a readable PEM certificate.
fn root_pem(path: &str) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(ErrorCode::InvalidInput, format!("edge acme_ca_root {path}: {e} (give a PEM file the engine can read)")))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::new(ErrorCode::InvalidInput, format!("edge acme_ca_root {path} holds no PEM certificate")));
    }
    Ok(())
}
