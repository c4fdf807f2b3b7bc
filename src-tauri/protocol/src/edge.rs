//! The edge's public face: the ports it publishes, the host names it serves and how it gets
//! their certificates. Set in the Settings view, `slipwayd edge set`, or the environment (which
//! wins: tests and packaged units set it there).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where the edge's certificates come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EdgeTls {
    /// An ACME CA (Let's Encrypt unless `acme_ca` names another) issues them: the host names
    /// must resolve to this machine and its HTTP (or HTTPS) port must be reachable from the CA.
    #[default]
    Acme,
    /// Caddy's own CA: for a LAN, where clients are told to trust its root.
    Internal,
}

named!(EdgeTls { Acme => "acme", Internal => "internal" });

/// The edge's settings as they apply now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EdgeConfig {
    pub image: String,
    /// Host port for HTTP (ACME's HTTP challenge needs 80 as the internet sees it).
    pub http_port: u16,
    /// Host port for HTTPS, published only when a name is served over HTTPS.
    pub https_port: u16,
    /// Stages are served at `<subdomain>.<domain>`.
    pub domain: String,
    /// A public host name on which the edge serves `/hooks/*` over HTTPS, passing them to this
    /// engine's webhook listener (which stays on loopback). Only the edge of the engine's own
    /// Docker host serves it.
    pub hooks_host: Option<String>,
    pub tls: EdgeTls,
    /// The ACME directory URL (unset: Let's Encrypt).
    pub acme_ca: Option<String>,
    /// The account e-mail given to the ACME CA (expiry warnings).
    pub email: Option<String>,
    /// A PEM file (on the engine's machine) with the root that the ACME CA's own HTTPS is
    /// signed by: for a private CA such as step-ca or Caddy's `acme_server`.
    pub acme_ca_root: Option<String>,
    /// Settings fixed by the environment (`SLIPWAY_…`): a change to them here has no effect.
    pub from_env: Vec<String>,
}

/// A change to the edge's settings: each field left out stays as it is; an empty string clears
/// an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EdgeChange {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub http_port: Option<u16>,
    #[serde(default)]
    pub https_port: Option<u16>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub hooks_host: Option<String>,
    #[serde(default)]
    pub tls: Option<EdgeTls>,
    #[serde(default)]
    pub acme_ca: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub acme_ca_root: Option<String>,
}

/// What applying a change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EdgeApplied {
    pub config: EdgeConfig,
    /// What happened to the running edge, in words ("restarted with …", "not running yet:
    /// the next deploy starts it").
    pub edge: String,
}
