//! Projects and their stages: which repository, which forge, and which refs deploy where.


use crate::{Error, ErrorCode, Result};

pub use slipway_protocol::project::{Forge, NewProject, Project, Stage, Strategy};

pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, msg)
}

pub fn validate(p: &mut NewProject) -> Result<()> {
    crate::domain::notice::normalise_channels(&mut p.notifications)?;
    if slug(&p.name).is_empty() {
        return Err(invalid("name: give the project a name with at least one letter or digit"));
    }
    if p.repo_url.trim().is_empty() {
        return Err(invalid("repo_url: the repository's clone URL is required"));
    }
    if p.poll_interval_secs == Some(0) {
        return Err(invalid("poll_interval_secs: must be at least 1 second (leave it empty to turn polling off)"));
    }
    let mut seen = std::collections::HashSet::new();
    for s in &p.stages {
        if slug(&s.name) != s.name {
            return Err(invalid(format!("stages: stage name {:?} must be lowercase letters, digits and dashes", s.name)));
        }
        if !seen.insert(&s.name) {
            return Err(invalid(format!("stages: stage {:?} appears twice", s.name)));
        }
    }
    if let Some(d) = &p.deploy {
        crate::domain::deploy::validate(d)?;
    }
    for s in &p.stages {
        crate::domain::deploy::validate_rollout(&s.name, &s.rollout)?;
    }
    for s in &p.stages {
        if let Some(from) = &s.promote_from {
            if !p.stages.iter().any(|o| &o.name == from) || from == &s.name {
                return Err(invalid(format!("stages: {} promotes from {from:?}, which is not another stage of this project", s.name)));
            }
        }
    }
    Ok(())
}

pub fn stage_id(project_id: &str, stage: &str) -> String {
    format!("{project_id}:{stage}")
}

/// A project as YAML, for keeping its configuration in version control. No ids, times or
/// secrets: what an operator would write by hand.
pub fn to_yaml(p: &Project) -> String {
    let spec = NewProject {
        name: p.name.clone(),
        repo_url: p.repo_url.clone(),
        forge: p.forge,
        token_ref: p.token_ref.clone(),
        poll_interval_secs: p.poll_interval_secs,
        stages: p.stages.clone(),
        image_repo: p.image_repo.clone(),
        registry_account: p.registry_account.clone(),
        deploy: p.deploy.clone(),
        host_id: p.host_id.clone(),
        notifications: p.notifications.clone(),
    };
    serde_yaml::to_string(&spec).unwrap_or_default()
}

pub fn from_yaml(text: &str) -> Result<NewProject> {
    serde_yaml::from_str(text).map_err(|e| invalid(format!("project file: {e}")))
}
