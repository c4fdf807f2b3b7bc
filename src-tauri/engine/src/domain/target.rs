//! The deploy target: where one release of a stage runs. It is the one seam between a run
//! and the machinery that puts a release live, so the callers (the run, rollback, promote,
//! the health watch, reconcile) never ask how many hosts there are or who does the rolling.
//!
//! Today a target is one Docker host or several; each host runs the stage's strategy behind
//! its own edge and health gate, and the release is confirmed once, after the last host
//! switched. An orchestrator target (a Swarm service, later a Kubernetes Deployment) is a
//! third kind whose rollout the orchestrator itself does: see the README's "Deploy targets".

use slipway_protocol::project::{Project, Stage, StageTarget, Strategy};
use slipway_protocol::release::Release;

use slipway_protocol::host::LOCAL_ID;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployTarget {
    /// One Docker host: the one the stage names, or the project's.
    Host(String),
    /// Several Docker hosts, switched `parallel` at a time; one release across all of them.
    Hosts { ids: Vec<String>, parallel: usize },
    /// A service on the Swarm whose manager is this Docker host: Swarm's own rolling update
    /// (start-first, health-gated, rolled back by Swarm on failure) moves it.
    Swarm { manager: String },
}

impl DeployTarget {
    pub fn of(project: &Project, stage: &Stage) -> DeployTarget {
        if stage.target == StageTarget::Swarm {
            return DeployTarget::Swarm { manager: stage.hosts.first().cloned().unwrap_or_else(|| project_host(project)) };
        }
        match stage.hosts.as_slice() {
            [] => DeployTarget::Host(project_host(project)),
            [one] => DeployTarget::Host(one.clone()),
            many => DeployTarget::Hosts { ids: many.to_vec(), parallel: stage.parallel.max(1) as usize },
        }
    }

    pub fn hosts(&self) -> Vec<String> {
        match self {
            DeployTarget::Host(h) | DeployTarget::Swarm { manager: h } => vec![h.clone()],
            DeployTarget::Hosts { ids, .. } => ids.clone(),
        }
    }

    /// The hosts in the order they switch: `parallel` at a time, in the stage's order.
    pub fn batches(&self) -> Vec<Vec<String>> {
        match self {
            DeployTarget::Host(h) | DeployTarget::Swarm { manager: h } => vec![vec![h.clone()]],
            DeployTarget::Hosts { ids, parallel } => ids.chunks((*parallel).max(1)).map(|c| c.to_vec()).collect(),
        }
    }

    /// Whether steps and log lines need the host's name in front to be told apart.
    pub fn several(&self) -> bool {
        matches!(self, DeployTarget::Hosts { .. })
    }
}

/// The host a project deploys to when its stage names none (`local` unless it names one).
pub fn project_host(project: &Project) -> String {
    project.host_id.clone().unwrap_or_else(|| LOCAL_ID.to_string())
}

/// Every Docker host a project uses: its own (where it builds) and those its stages name.
pub fn project_hosts(project: &Project) -> Vec<String> {
    let mut all = vec![project_host(project)];
    for h in project.stages.iter().flat_map(|s| &s.hosts) {
        if !all.contains(h) {
            all.push(h.clone());
        }
    }
    all
}

/// The hosts a release runs on: those it recorded, else (a release of a one-host stage, or
/// one made before stages named hosts) the project's.
pub fn release_hosts(release: &Release, project: &Project) -> Vec<String> {
    if release.hosts.is_empty() {
        vec![project_host(project)]
    } else {
        release.hosts.clone()
    }
}

/// A stage's `hosts` and `parallel` as written: every host once, and at least one at a time.
pub fn check(stage: &Stage) -> Result<(), String> {
    if stage.parallel == 0 {
        return Err(format!("stages: {} has parallel: 0; at least one host switches at a time (the default is 1)", stage.name));
    }
    if stage.target == StageTarget::Swarm {
        if stage.hosts.len() > 1 {
            return Err(format!(
                "stages: {} has target: swarm and {} hosts; name the one Swarm manager (Swarm places the tasks on its nodes)",
                stage.name,
                stage.hosts.len()
            ));
        }
        if stage.parallel != 1 {
            return Err(format!(
                "stages: {} has target: swarm and parallel: {}; Swarm's update settings decide how many tasks move at once (rollout.batch_size)",
                stage.name, stage.parallel
            ));
        }
        if stage.strategy == Strategy::Canary {
            return Err(format!(
                "stages: {} has target: swarm and strategy: canary; Swarm updates tasks in place (blue-green or rolling: start-first, recreate: stop-first)",
                stage.name
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for h in &stage.hosts {
        if h.trim().is_empty() {
            return Err(format!("stages: {} has an empty entry in hosts", stage.name));
        }
        if !seen.insert(h) {
            return Err(format!("stages: {} names host {h:?} twice", stage.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(hosts: &[&str], parallel: u32) -> Stage {
        Stage { hosts: hosts.iter().map(|s| s.to_string()).collect(), parallel, ..Stage::default() }
    }

    fn project(host: Option<&str>) -> Project {
        Project {
            id: "p".into(),
            name: "p".into(),
            repo_url: "x".into(),
            forge: slipway_protocol::project::Forge::Github,
            token_ref: None,
            host_id: host.map(str::to_string),
            poll_interval_secs: None,
            stages: vec![],
            image_repo: None,
            registry_account: None,
            deploy: None,
            notifications: vec![],
            rules: vec![],
            created_at: 0,
            last_poll_at: None,
            last_poll_error: None,
        }
    }

    #[test]
    fn a_stage_without_hosts_deploys_to_the_projects_host() {
        assert_eq!(DeployTarget::of(&project(None), &stage(&[], 1)), DeployTarget::Host("local".into()));
        assert_eq!(DeployTarget::of(&project(Some("box")), &stage(&[], 1)), DeployTarget::Host("box".into()));
    }

    #[test]
    fn a_stage_with_one_host_is_a_single_host_target() {
        assert_eq!(DeployTarget::of(&project(Some("box")), &stage(&["web-1"], 3)), DeployTarget::Host("web-1".into()));
    }

    #[test]
    fn hosts_switch_parallel_at_a_time_in_the_stages_order() {
        type Case<'a> = (&'a [&'a str], u32, &'a [&'a [&'a str]]);
        let cases: &[Case] = &[
            (&["a", "b", "c"], 1, &[&["a"], &["b"], &["c"]]),
            (&["a", "b", "c"], 2, &[&["a", "b"], &["c"]]),
            (&["a", "b", "c"], 5, &[&["a", "b", "c"]]),
        ];
        for (hosts, parallel, want) in cases {
            let t = DeployTarget::of(&project(None), &stage(hosts, *parallel));
            let want: Vec<Vec<String>> = want.iter().map(|b| b.iter().map(|s| s.to_string()).collect()).collect();
            assert_eq!(t.batches(), want, "{hosts:?} parallel {parallel}");
        }
    }

    #[test]
    fn parallel_zero_and_a_host_named_twice_are_refused() {
        assert!(check(&stage(&["a", "b"], 0)).unwrap_err().contains("parallel: 0"));
        assert!(check(&stage(&["a", "a"], 1)).unwrap_err().contains("\"a\" twice"));
        assert!(check(&stage(&["a", "b"], 1)).is_ok());
    }

    #[test]
    fn a_swarm_stage_deploys_to_its_one_manager() {
        let mut s = stage(&[], 1);
        s.target = StageTarget::Swarm;
        assert_eq!(DeployTarget::of(&project(Some("box")), &s), DeployTarget::Swarm { manager: "box".into() });
        s.hosts = vec!["mgr".into()];
        assert_eq!(DeployTarget::of(&project(Some("box")), &s), DeployTarget::Swarm { manager: "mgr".into() });
        assert!(check(&s).is_ok());
        s.hosts.push("other".into());
        assert!(check(&s).unwrap_err().contains("name the one Swarm manager"));
        s.hosts.pop();
        s.strategy = Strategy::Canary;
        assert!(check(&s).unwrap_err().contains("strategy: canary"));
    }

    #[test]
    fn a_release_without_recorded_hosts_runs_on_the_projects_host() {
        let mut r = Release {
            id: 1,
            project_id: "p".into(),
            stage: "dev".into(),
            number: 1,
            run_id: None,
            commit_sha: None,
            image: "i".into(),
            digests: Default::default(),
            containers: Default::default(),
            hosts: vec![],
            config: slipway_protocol::release::ReleaseConfig {
                deploy: Default::default(),
                strategy: Default::default(),
                rollout: Default::default(),
                compose: None,
            },
            status: slipway_protocol::release::ReleaseStatus::Live,
            promoted_from: None,
            created_at: 0,
        };
        assert_eq!(release_hosts(&r, &project(Some("box"))), vec!["box".to_string()]);
        r.hosts = vec!["a".into(), "b".into()];
        assert_eq!(release_hosts(&r, &project(Some("box"))), vec!["a".to_string(), "b".to_string()]);
    }
}
