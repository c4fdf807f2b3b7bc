//! Runs as values: what triggered them, the ref changes they come from, what a delivery came to,
//! and the decision of which stages a change deploys to ([`plan`]).
//!
//! Webhooks, polls and registry checks all reduce what they saw to [`Change`]s; the intake
//! ([`crate::services::intake`]) records them and queues what [`plan`] says, at most once.

use crate::domain::forge::{Event, EventKind, PrAction};
use crate::domain::patterns::any_matches;
use crate::domain::project::{Project, Stage};

pub use slipway_protocol::run::{Delivery, LogLine, Outcome, RunDetail, RunStatus, RunSummary, StepInfo, StepStatus, Trigger, Verdict};

/// One ref change, whoever noticed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    /// Full ref: `refs/heads/main`, `refs/tags/v1`, `refs/pull/7/head`.
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    /// For pull requests: the branch the PR targets, which is what stage rules match.
    pub target_branch: Option<String>,
    /// For images pushed to a registry: the tag (matched against stage tag patterns) and the
    /// digest that pins exactly what runs.
    pub image: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Branch,
    Tag,
    BranchDeleted,
    TagDeleted,
    PullRequest(PrAction),
    /// A tag pushed to the project's image repository.
    Image,
    Ping,
    Other(String),
}

impl From<&Event> for Change {
    fn from(e: &Event) -> Change {
        let kind = match &e.kind {
            EventKind::Push => ChangeKind::Branch,
            EventKind::TagPush => ChangeKind::Tag,
            EventKind::BranchDeleted => ChangeKind::BranchDeleted,
            EventKind::TagDeleted => ChangeKind::TagDeleted,
            EventKind::PullRequest { action } => ChangeKind::PullRequest(*action),
            EventKind::Ping => ChangeKind::Ping,
            EventKind::Other { event } => ChangeKind::Other(event.clone()),
        };
        Change {
            kind,
            git_ref: e.git_ref.clone(),
            commit: e.commit.clone(),
            target_branch: e.pull_request.as_ref().map(|p| p.target_branch.clone()),
            image: None,
        }
    }
}

/// Who delivered the changes, for the inbox.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// `github`, `gitlab`, …, or `poll`.
    pub provider: String,
    pub event: String,
    pub delivery_id: Option<String>,
    pub received_at: i64,
    pub started: Option<std::time::Instant>,
}

pub enum Plan<'a> {
    /// `commit` is a git commit, or for registry images the image digest (`image` is true).
    Deploy {
        stage: &'a Stage,
        git_ref: String,
        commit: String,
        image: bool,
    },
    Ignore(String),
}

/// Decides, per change, which stages it deploys to or why it deploys nowhere.
pub fn plan<'a>(project: &'a Project, changes: &[Change], paused: bool) -> Vec<Plan<'a>> {
    let mut out = Vec::new();
    for c in changes {
        let name = c.git_ref.as_deref().unwrap_or("");
        let short = name.strip_prefix("refs/heads/").or_else(|| name.strip_prefix("refs/tags/")).unwrap_or(name);
        let stages: Vec<&Stage> = match &c.kind {
            ChangeKind::Ping => {
                out.push(Plan::Ignore("ping: the hook reaches Slipway; nothing to deploy".into()));
                continue;
            }
            ChangeKind::BranchDeleted => {
                out.push(Plan::Ignore(format!("branch {short} was deleted")));
                continue;
            }
            ChangeKind::TagDeleted => {
                out.push(Plan::Ignore(format!("tag {short} was deleted")));
                continue;
            }
            ChangeKind::Other(event) if is_package_event(event) && project.image_repo.is_some() => {
                out.push(Plan::Ignore(
                    "registry package event: the image repository is being checked; new tags start runs from there".into(),
                ));
                continue;
            }
            ChangeKind::Other(event) => {
                out.push(Plan::Ignore(format!("event {event:?} is not a push, tag or pull request")));
                continue;
            }
            ChangeKind::Branch => project.stages.iter().filter(|s| any_matches(&s.branch_patterns, short)).collect(),
            ChangeKind::Tag => project.stages.iter().filter(|s| any_matches(&s.tag_patterns, short)).collect(),
            ChangeKind::Image => {
                let (tag, digest) = c.image.clone().unwrap_or_default();
                let matched: Vec<&Stage> = project.stages.iter().filter(|s| any_matches(&s.tag_patterns, &tag)).collect();
                if matched.is_empty() {
                    out.push(Plan::Ignore(format!("image tag {tag} matches no stage ({})", describe_rules(project))));
                }
                for stage in matched {
                    if paused {
                        out.push(Plan::Ignore(format!("auto-deploy is paused; image {tag} → {} not started", stage.name)));
                    } else if !stage.auto_deploy {
                        out.push(Plan::Ignore(format!(
                            "stage {} deploys manually (auto-deploy off); image {tag} waits for a click",
                            stage.name
                        )));
                    } else {
                        out.push(Plan::Deploy { stage, git_ref: name.to_string(), commit: digest.clone(), image: true });
                    }
                }
                continue;
            }
            ChangeKind::PullRequest(action) => {
                match action {
                    PrAction::Opened | PrAction::Synchronized | PrAction::Reopened => {}
                    PrAction::Merged => {
                        out.push(Plan::Ignore("pull request merged: the push to its target branch deploys it".into()));
                        continue;
                    }
                    PrAction::Closed => {
                        out.push(Plan::Ignore("pull request closed without merging".into()));
                        continue;
                    }
                    PrAction::Other => {
                        out.push(Plan::Ignore("pull request changed without new commits".into()));
                        continue;
                    }
                }
                let target = c.target_branch.as_deref().unwrap_or("");
                let matched: Vec<&Stage> =
                    project.stages.iter().filter(|s| s.pr_events && any_matches(&s.branch_patterns, target)).collect();
                if matched.is_empty() {
                    out.push(Plan::Ignore(format!(
                        "pull request into {target}: no stage deploys pull requests into it (pull request events are opt-in per stage)"
                    )));
                    continue;
                }
                matched
            }
        };
        if stages.is_empty() {
            out.push(Plan::Ignore(format!("{name} matches no stage ({})", describe_rules(project))));
            continue;
        }
        let Some(commit) = c.commit.clone() else {
            out.push(Plan::Ignore(format!("{name}: the event names no commit to deploy")));
            continue;
        };
        for stage in stages {
            if paused {
                out.push(Plan::Ignore(format!("auto-deploy is paused; {short} → {} not started", stage.name)));
            } else if !stage.auto_deploy {
                out.push(Plan::Ignore(format!(
                    "stage {} deploys manually (auto-deploy off); {short} at {} waits for a click",
                    stage.name,
                    short_sha(&commit)
                )));
            } else {
                out.push(Plan::Deploy { stage, git_ref: name.to_string(), commit: commit.clone(), image: false });
            }
        }
    }
    out
}

/// GitHub's `package`/`registry_package` and Gitea's `package` events: an image was pushed.
pub fn is_package_event(event: &str) -> bool {
    matches!(event, "package" | "registry_package")
}

fn describe_rules(project: &Project) -> String {
    project
        .stages
        .iter()
        .map(|s| {
            let mut parts = Vec::new();
            if !s.branch_patterns.is_empty() {
                parts.push(format!("branches {}", s.branch_patterns.join(", ")));
            }
            if !s.tag_patterns.is_empty() {
                parts.push(format!("tags {}", s.tag_patterns.join(", ")));
            }
            if parts.is_empty() {
                parts.push("manual only".into());
            }
            format!("{}: {}", s.name, parts.join("; "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}
