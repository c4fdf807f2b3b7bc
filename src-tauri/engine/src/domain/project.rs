//! Projects and their stages: which repository, which forge, and which refs deploy where.

use crate::{Error, ErrorCode, Result};

pub use super::ids::slug;
pub use slipway_protocol::project::{Forge, NewProject, Project, Stage, StageTarget, Strategy, VolumeChoice};

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
        crate::domain::target::check(s).map_err(invalid)?;
    }
    let post_deploy = p.deploy.as_ref().is_some_and(|d| !d.post_deploy.is_empty());
    if let Some(s) = p.stages.iter().find(|s| post_deploy && s.target == StageTarget::Swarm) {
        return Err(invalid(format!(
            "deploy: post_deploy commands run in the new container, and stage {} has target: swarm, where Swarm starts the tasks; run them as a one-off service or in the image's start-up",
            s.name
        )));
    }
    crate::domain::env_check::check(p).map_err(|e| invalid(e.to_string()))?;
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
        rules: p.rules.clone(),
    };
    crate::domain::yaml::render(&spec)
}

/// A project file. Unknown keys are refused with their line and the nearest known key, and
/// environments that do not hang together with the line of the key at fault.
pub fn from_yaml(text: &str) -> Result<NewProject> {
    let spec: NewProject = crate::domain::yaml::parse("project file", text)?;
    crate::domain::env_check::check_file(text, &spec)?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "name: web\nrepo_url: https://git.example/web.git\nforge: gitea\nstages:\n  - name: dev\n    auto_deploy: true\n    branch_pattern: [main]\n";

    #[test]
    fn an_unknown_key_in_a_project_file_is_refused_with_its_line_and_the_key_meant() {
        let e = from_yaml(FILE).unwrap_err().to_api();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("unknown field `branch_pattern`"), "{}", e.message);
        assert!(e.message.contains("line 7"), "{}", e.message);
        assert!(e.message.ends_with("(did you mean `branch_patterns`?)"), "{}", e.message);
    }

    #[test]
    fn an_unknown_top_level_key_is_refused_too() {
        let e = from_yaml("name: web\nrepo_url: x\nforge: git\npoll_interval: 60\n").unwrap_err().to_api();
        assert!(
            e.message.contains("unknown field `poll_interval`") && e.message.contains("did you mean `poll_interval_secs`?"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_exported_project_reads_back_the_same() {
        let spec = from_yaml("name: web\nrepo_url: https://git.example/web.git\nforge: gitea\n").unwrap();
        assert_eq!(from_yaml(&crate::domain::yaml::render(&spec)).unwrap(), spec);
    }
}
