//! What a project deploys and how a stage rolls it out. Kept apart from the pipeline
//! (`slipway.yml`): a prebuilt image has no repository to read it from.

use crate::{Error, ErrorCode, Result};

pub use slipway_protocol::deploy::{DeployConfig, Health, HealthKind, Rollout};

pub fn validate(d: &DeployConfig) -> Result<()> {
    let invalid = |m: String| Err(Error::new(ErrorCode::InvalidInput, m));
    d.health.range()?;
    if d.replicas == 0 {
        return invalid("deploy.replicas: at least 1".into());
    }
    if d.health.interval_ms == 0 || d.health.timeout_ms == 0 {
        return invalid("deploy.health: interval_ms and timeout_ms must be above 0".into());
    }
    if matches!(d.health.kind, crate::domain::deploy::HealthKind::Http | crate::domain::deploy::HealthKind::Tcp) && d.port.is_none() {
        return invalid("deploy.health: an http or tcp check needs deploy.port".into());
    }
    if !d.health.path.starts_with('/') {
        return invalid(format!("deploy.health.path: {:?} must start with /", d.health.path));
    }
    Ok(())
}

pub fn validate_rollout(stage: &str, r: &Rollout) -> Result<()> {
    let invalid = |m: String| Err(Error::new(ErrorCode::InvalidInput, m));
    if r.batch_size == 0 {
        return invalid(format!("stages: {stage}: rollout.batch_size must be at least 1"));
    }
    if r.canary_percent == 0 || r.canary_percent >= 100 {
        return invalid(format!("stages: {stage}: rollout.canary_percent must be between 1 and 99"));
    }
    if let Some(s) = &r.subdomain {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return invalid(format!("stages: {stage}: rollout.subdomain {s:?} must be letters, digits, dots and dashes"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_ranges() {
        let mut h = Health::default();
        assert_eq!(h.range().unwrap(), (200, 399));
        h.expect = "204".into();
        assert_eq!(h.range().unwrap(), (204, 204));
        h.expect = "300-200".into();
        assert!(h.range().unwrap_err().to_string().contains("health.expect"));
        h.expect = "ok".into();
        assert!(h.range().is_err());
    }

    #[test]
    fn yaml_defaults_fill_in() {
        let d: DeployConfig = serde_norway::from_str("port: 8080\nhealth: {path: /healthz}\n").unwrap();
        assert_eq!(d.port, Some(8080));
        assert_eq!(d.health.path, "/healthz");
        assert_eq!(d.health.retries, 3);
        assert_eq!(d.replicas, 1);
        assert!(serde_norway::from_str::<DeployConfig>("prot: 1\n").unwrap_err().to_string().contains("unknown field"));
    }
}
