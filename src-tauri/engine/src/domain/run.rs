//! Runs as values: what triggered them, the ref changes they come from, what a delivery came to,
//! and the decision of which stages a change deploys to ([`plan`]).
//!
//! Webhooks, polls and registry checks all reduce what they saw to [`Change`]s; the intake
//! ([`crate::services::intake`]) records them and queues what [`plan`] says, at most once.

use crate::domain::environments::Carrier;
use crate::domain::forge::{Event, EventKind, PrAction};
use crate::domain::patterns::any_matches;
use std::collections::BTreeMap;

use crate::domain::project::{Project, Stage};
use crate::domain::watch::Pin;

pub use slipway_protocol::run::{
    Delivery, HistoryEntry, LogLine, LogMatches, Outcome, RunDetail, RunStatus, RunSummary, StepInfo, StepStatus, SwitchCount, Trigger,
    Verdict,
};

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
        /// The ref as environment rules see it.
        carrier: Carrier,
    },
    Ignore(String),
}

/// Decides, per change, which stages it deploys to or why it deploys nowhere. `pins` are the
/// project's pinned stages, by name: a change for one is recorded with the pin's reason.
pub fn plan<'a>(project: &'a Project, changes: &[Change], paused: bool, pins: &BTreeMap<String, Pin>) -> Vec<Plan<'a>> {
    let mut out = Vec::new();
    for c in changes {
        out.extend(plan_change(project, c, paused).into_iter().map(|p| match p {
            Plan::Deploy { stage, .. } if pins.contains_key(&stage.name) => Plan::Ignore(pins[&stage.name].refusal(&stage.name)),
            other => other,
        }));
    }
    out
}

/// One change's plans: the stages it feeds, each deployed or held with the reason.
fn plan_change<'a>(project: &'a Project, c: &Change, paused: bool) -> Vec<Plan<'a>> {
    let name = c.git_ref.as_deref().unwrap_or("");
    let short = name.strip_prefix("refs/heads/").or_else(|| name.strip_prefix("refs/tags/")).unwrap_or(name);
    let stages: Vec<&Stage> = match &c.kind {
        ChangeKind::Branch => project.stages.iter().filter(|s| any_matches(&s.branch_patterns, short)).collect(),
        ChangeKind::Tag => project.stages.iter().filter(|s| any_matches(&s.tag_patterns, short)).collect(),
        ChangeKind::Image => return plan_image(project, c, paused),
        ChangeKind::PullRequest(action) => match pull_request_stages(project, c, *action) {
            Ok(stages) => stages,
            Err(reason) => return vec![Plan::Ignore(reason)],
        },
        other => return vec![Plan::Ignore(not_deployable(project, other, short))],
    };
    if stages.is_empty() {
        return vec![Plan::Ignore(format!("{name} matches no stage ({})", describe_rules(project)))];
    }
    let carrier = match &c.kind {
        ChangeKind::Tag => Carrier::Tag(short.to_string()),
        ChangeKind::PullRequest(_) => Carrier::MergeRequest { target: c.target_branch.clone().unwrap_or_default() },
        _ => Carrier::Branch(short.to_string()),
    };
    let Some(commit) = c.commit.clone() else {
        return vec![Plan::Ignore(format!("{name}: the event names no commit to deploy"))];
    };
    stages
        .into_iter()
        .map(|stage| {
            if paused {
                Plan::Ignore(format!("auto-deploy is paused; {short} → {} not started", stage.name))
            } else if !stage.auto_deploy {
                let at = short_sha(&commit);
                Plan::Ignore(format!("stage {} deploys manually (auto-deploy off); {short} at {at} waits for a click", stage.name))
            } else {
                Plan::Deploy { stage, git_ref: name.to_string(), commit: commit.clone(), image: false, carrier: carrier.clone() }
            }
        })
        .collect()
}

/// Why a change that is not a push, a tag or a pull request deploys nothing.
fn not_deployable(project: &Project, kind: &ChangeKind, short: &str) -> String {
    match kind {
        ChangeKind::Ping => "ping: the hook reaches Slipway; nothing to deploy".into(),
        ChangeKind::BranchDeleted => format!("branch {short} was deleted"),
        ChangeKind::TagDeleted => format!("tag {short} was deleted"),
        ChangeKind::Other(event) if is_package_event(event) && project.image_repo.is_some() => {
            "registry package event: the image repository is being checked; new tags start runs from there".into()
        }
        ChangeKind::Other(event) if event == "create" => {
            format!(
                "{short} was created: the push the forge sends with it deploys (a branch created at an existing commit deploys nothing)"
            )
        }
        ChangeKind::Other(event) => format!("event {event:?} is not a push, tag or pull request"),
        _ => "nothing to deploy".into(),
    }
}

/// A tag pushed to the project's image repository: the stages whose tag patterns match.
fn plan_image<'a>(project: &'a Project, c: &Change, paused: bool) -> Vec<Plan<'a>> {
    let name = c.git_ref.as_deref().unwrap_or("");
    let (tag, digest) = c.image.clone().unwrap_or_default();
    let matched: Vec<&Stage> = project.stages.iter().filter(|s| any_matches(&s.tag_patterns, &tag)).collect();
    if matched.is_empty() {
        return vec![Plan::Ignore(format!("image tag {tag} matches no stage ({})", describe_rules(project)))];
    }
    matched
        .into_iter()
        .map(|stage| {
            if paused {
                Plan::Ignore(format!("auto-deploy is paused; image {tag} → {} not started", stage.name))
            } else if !stage.auto_deploy {
                Plan::Ignore(format!("stage {} deploys manually (auto-deploy off); image {tag} waits for a click", stage.name))
            } else {
                Plan::Deploy { stage, git_ref: name.to_string(), commit: digest.clone(), image: true, carrier: Carrier::Tag(tag.clone()) }
            }
        })
        .collect()
}

/// The stages a pull request deploys to: opened, reopened or new commits, into a branch of a
/// stage that takes pull requests (opt-in: they can come from forks). Otherwise why not.
fn pull_request_stages<'a>(project: &'a Project, c: &Change, action: PrAction) -> Result<Vec<&'a Stage>, String> {
    match action {
        PrAction::Opened | PrAction::Synchronized | PrAction::Reopened => {}
        PrAction::Merged => return Err("pull request merged: the push to its target branch deploys it".into()),
        PrAction::Closed => return Err("pull request closed without merging".into()),
        PrAction::Other => return Err("pull request changed without new commits".into()),
    }
    let target = c.target_branch.as_deref().unwrap_or("");
    let matched: Vec<&Stage> = project.stages.iter().filter(|s| s.pr_events && any_matches(&s.branch_patterns, target)).collect();
    if matched.is_empty() {
        return Err(format!(
            "pull request into {target}: no stage deploys pull requests into it (pull request events are opt-in per stage)"
        ));
    }
    Ok(matched)
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

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn project() -> Project {
        let stage = |name: &str, branches: &[&str], tags: &[&str]| Stage {
            name: name.into(),
            branch_patterns: branches.iter().map(|b| b.to_string()).collect(),
            tag_patterns: tags.iter().map(|t| t.to_string()).collect(),
            ..Stage::default()
        };
        let mut manual = stage("qa", &["release/*"], &[]);
        manual.auto_deploy = false;
        let mut review = stage("review", &["main"], &[]);
        review.pr_events = true;
        review.branch_patterns = vec!["develop".into()];
        Project {
            id: "web".into(),
            name: "web".into(),
            repo_url: "https://git.example/web.git".into(),
            forge: crate::domain::project::Forge::Gitea,
            token_ref: None,
            host_id: None,
            poll_interval_secs: None,
            stages: vec![stage("dev", &["main"], &[]), stage("prod", &[], &["v*"]), manual, review],
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

    fn change(kind: ChangeKind, git_ref: &str) -> Change {
        Change { kind, git_ref: Some(git_ref.into()), commit: Some(SHA.into()), target_branch: None, image: None }
    }

    /// What the plans say, as text: `deploy <stage>` or `ignore: <reason>`.
    fn decide(c: Change, paused: bool) -> Vec<String> {
        let p = project();
        plan(&p, &[c], paused, &BTreeMap::new())
            .into_iter()
            .map(|p| match p {
                Plan::Deploy { stage, .. } => format!("deploy {}", stage.name),
                Plan::Ignore(why) => format!("ignore: {why}"),
            })
            .collect()
    }

    #[test]
    fn rules() {
        let pr = |action, target: &str| Change {
            target_branch: Some(target.into()),
            ..change(ChangeKind::PullRequest(action), "refs/pull/7/head")
        };
        let image = Change { image: Some(("v2".into(), "sha256:abc".into())), ..change(ChangeKind::Image, "reg/web:v2") };
        let no_commit = Change { commit: None, ..change(ChangeKind::Branch, "refs/heads/main") };
        #[rustfmt::skip]
        let cases: Vec<(&str, Change, bool, &str)> = vec![
            ("a push to a stage's branch deploys it", change(ChangeKind::Branch, "refs/heads/main"), false, "deploy dev"),
            ("a tag deploys the stages whose tag patterns match", change(ChangeKind::Tag, "refs/tags/v1.2"), false, "deploy prod"),
            ("a push that matches no stage names the rules", change(ChangeKind::Branch, "refs/heads/feature"), false, "ignore: refs/heads/feature matches no stage"),
            ("paused auto-deploy holds every push", change(ChangeKind::Branch, "refs/heads/main"), true, "ignore: auto-deploy is paused"),
            ("a manual stage waits for a click", change(ChangeKind::Branch, "refs/heads/release/1"), false, "ignore: stage qa deploys manually"),
            ("an event without a commit deploys nothing", no_commit, false, "ignore: refs/heads/main: the event names no commit"),
            ("a ping deploys nothing", change(ChangeKind::Ping, ""), false, "ignore: ping"),
            ("a deleted branch deploys nothing", change(ChangeKind::BranchDeleted, "refs/heads/main"), false, "ignore: branch main was deleted"),
            ("a deleted tag deploys nothing", change(ChangeKind::TagDeleted, "refs/tags/v1"), false, "ignore: tag v1 was deleted"),
            ("another event is named", change(ChangeKind::Other("issues".into()), ""), false, "ignore: event \"issues\" is not a push"),
            ("a created branch waits for its push", change(ChangeKind::Other("create".into()), "refs/heads/main"), false, "ignore: main was created: the push"),
            ("a pull request deploys only to stages that opted in", pr(PrAction::Opened, "develop"), false, "deploy review"),
            ("a pull request into a branch no stage takes them for is refused", pr(PrAction::Synchronized, "main"), false, "ignore: pull request into main"),
            ("a merged pull request waits for the push", pr(PrAction::Merged, "develop"), false, "ignore: pull request merged"),
            ("a closed pull request deploys nothing", pr(PrAction::Closed, "develop"), false, "ignore: pull request closed"),
            ("a pull request without new commits deploys nothing", pr(PrAction::Other, "develop"), false, "ignore: pull request changed without new commits"),
            ("an image tag deploys the stages whose tag patterns match", image, false, "deploy prod"),
        ];
        for (rule, c, paused, want) in cases {
            let got = decide(c, paused);
            assert!(got.len() == 1 && got[0].starts_with(want), "{rule}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn one_change_can_feed_several_stages() {
        let mut p = project();
        p.stages[1].branch_patterns = vec!["main".into()];
        let plans = plan(&p, &[change(ChangeKind::Branch, "refs/heads/main")], false, &BTreeMap::new());
        assert_eq!(plans.len(), 2);
    }

    #[test]
    fn a_push_to_a_pinned_stage_is_recorded_with_the_pin_and_deploys_nothing_there() {
        let p = project();
        let pin = Pin { release: 4, reason: "rollback of release 5".into(), auto: false, pinned_at: 0 };
        let pins = BTreeMap::from([("dev".to_string(), pin)]);
        let said: Vec<String> = plan(&p, &[change(ChangeKind::Branch, "refs/heads/main")], false, &pins)
            .into_iter()
            .map(|p| match p {
                Plan::Deploy { stage, .. } => format!("deploy {}", stage.name),
                Plan::Ignore(why) => format!("ignore: {why}"),
            })
            .collect();
        assert_eq!(said, ["ignore: stage dev pinned at release 4 by rollback of release 5; unpin to deploy"]);
    }
}
