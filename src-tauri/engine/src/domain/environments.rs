//! Environments as decisions: may a commit, carried by a ref, reach a stage now ([`admit`]);
//! what a rule says in words ([`describe`]). Whether a project's environments hang together
//! is [`super::env_check`].
//!
//! Every way into a stage asks [`admit`]: pushes, tags and merge requests (the intake), manual
//! deploys and promotions. Rollbacks do not: they put back a release the stage ran before.

use crate::domain::patterns::any_matches;
// From the protocol, not `domain::project`/`release`: `domain::run` (which those reach) uses
// this module.
use slipway_protocol::project::{Project, Stage};
use slipway_protocol::release::ReleaseStatus;

pub use slipway_protocol::environment::{
    EnvRule, Environment, EnvironmentKind, LiveRelease, ProjectEnvironments, RuleRefs, WaitState, Waiting,
};

/// The ref that carries a commit to a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    Branch(String),
    /// A git tag, or a tag of the project's image repository.
    Tag(String),
    /// A pull or merge request into the branch `target`.
    MergeRequest {
        target: String,
    },
    /// A commit named by its id, on no ref a rule could name.
    Commit,
}

impl Carrier {
    /// From a run's full ref (`refs/heads/x`, `refs/tags/v1`, `refs/pull/7/head`,
    /// `refs/merge-requests/7/head`); no ref is a commit named by its id. A request's target
    /// branch is not in its ref, so a promoted one counts against every pattern.
    pub fn from_ref(git_ref: Option<&str>) -> Carrier {
        let Some(r) = git_ref else { return Carrier::Commit };
        if let Some(b) = r.strip_prefix("refs/heads/") {
            Carrier::Branch(b.to_string())
        } else if let Some(t) = r.strip_prefix("refs/tags/") {
            Carrier::Tag(t.to_string())
        } else if r.starts_with("refs/pull/") || r.starts_with("refs/merge-requests/") {
            Carrier::MergeRequest { target: String::new() }
        } else if let Some((_, tag)) = r.rsplit_once(':').filter(|(repo, tag)| !repo.is_empty() && !tag.contains('/')) {
            // A registry run's ref is `repo:tag`; the intake saw that image as a tag too.
            Carrier::Tag(tag.to_string())
        } else {
            Carrier::Branch(r.to_string())
        }
    }

    /// What a refusal calls the commit: the tag or branch, else its short id.
    pub fn label(&self, commit: &str) -> String {
        let short = commit.strip_prefix("sha256:").unwrap_or(commit);
        let short = if short.is_empty() { "(no commit)" } else { &short[..short.len().min(10)] };
        match self {
            Carrier::Tag(t) => t.clone(),
            Carrier::Branch(b) => format!("{b} at {short}"),
            Carrier::MergeRequest { .. } | Carrier::Commit => format!("commit {short}"),
        }
    }
}

/// One stretch of a commit on a stage: one release of it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    pub stage: String,
    pub status: ReleaseStatus,
    /// When it went live, and when it stopped being live (None: still live), Unix ms.
    pub live_from: i64,
    pub live_until: Option<i64>,
    /// The health watch has an incident open on this release now.
    pub failing: bool,
    /// How long the health watch saw this release degraded or down while it was live.
    pub unhealthy_ms: i64,
    /// The run that made it live failed afterwards (an after-deploy check with nothing to
    /// roll back to): it never counts.
    pub run_failed: bool,
}

/// Why a commit may not reach a stage (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    /// Set when only a soak holds it: from then on it may go (Unix ms).
    pub ready_at: Option<i64>,
}

impl Refusal {
    fn hard(reason: String) -> Refusal {
        Refusal { reason, ready_at: None }
    }
}

/// Whether a project has anything [`admit`] could refuse, so that the intake's hot path skips
/// the store for projects without environments.
pub fn gated(project: &Project) -> bool {
    !project.rules.is_empty() || project.stages.iter().any(|s| !s.requires.is_empty() || s.productive)
}

/// The stages a commit carried by `carrier` must have passed before `stage`: its `requires`,
/// then the `through` of every rule that matches the carrier and names the stage in `before`.
pub fn predecessors(project: &Project, stage: &Stage, carrier: &Carrier) -> Vec<String> {
    let mut out = stage.requires.clone();
    for rule in project.rules.iter().filter(|r| matches(r, carrier) && r.before.iter().any(|s| selects(s, stage))) {
        for t in &rule.through {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
    }
    out
}

/// May the commit (`label` names it) come to `stage` by `carrier`, given its `passages` on
/// the project's stages? Rules first (they need no history), then every predecessor.
pub fn admit(project: &Project, stage: &Stage, carrier: &Carrier, label: &str, passages: &[Passage], now: i64) -> Result<(), Refusal> {
    if stage.productive && matches!(carrier, Carrier::MergeRequest { .. }) {
        return Err(Refusal::hard(format!("{} is a productive environment: pull and merge requests never deploy there", stage.name)));
    }
    for (i, rule) in project.rules.iter().enumerate().filter(|(_, r)| matches(r, carrier)) {
        let refused =
            (!rule.only.is_empty() && !rule.only.iter().any(|s| selects(s, stage))) || rule.never.iter().any(|s| selects(s, stage));
        if refused {
            return Err(Refusal::hard(format!("{label} may not reach {}: rule {} says {}", stage.name, i + 1, describe(rule))));
        }
    }
    let mut soaking: Option<Refusal> = None;
    for pred in predecessors(project, stage, carrier) {
        let mine: Vec<&Passage> = passages.iter().filter(|p| p.stage == pred).collect();
        match passed(&pred, &mine, stage.soak_secs, now) {
            Ok(()) => {}
            Err(r) if r.ready_at.is_some() => {
                let later = soaking.as_ref().and_then(|s| s.ready_at) > r.ready_at;
                if !later {
                    soaking = Some(Refusal { reason: format!("{label} {}", r.reason), ready_at: r.ready_at });
                }
            }
            Err(r) => return Err(Refusal::hard(format!("{label} {} (required before {})", r.reason, stage.name))),
        }
    }
    soaking.map_or(Ok(()), Err)
}

/// Whether one of the commit's passages on a predecessor counts: live now, healthy, and for
/// `soak_secs`; or live that long before a newer release replaced it. A release rolled back
/// there does not count. The reason leaves out the commit's name.
fn passed(stage: &str, passages: &[&Passage], soak_secs: u64, now: i64) -> Result<(), Refusal> {
    let soak = (soak_secs as i64).saturating_mul(1000);
    if passages.is_empty() {
        return Err(Refusal::hard(format!("was never live on {stage}")));
    }
    // Healthy time: live time less what the health watch saw failing.
    let lasted = |p: &Passage| p.live_until.unwrap_or(now) - p.live_from - p.unhealthy_ms;
    let counts = |p: &&&Passage| match p.status {
        _ if p.run_failed => false,
        ReleaseStatus::Live => !p.failing && lasted(p) >= soak,
        ReleaseStatus::Retired => lasted(p) >= soak,
        // A pruned release may have been rolled back before: its status no longer says.
        ReleaseStatus::RolledBack | ReleaseStatus::Pruned => false,
    };
    if passages.iter().any(|p| counts(&p)) {
        return Ok(());
    }
    if let Some(live) = passages.iter().find(|p| p.status == ReleaseStatus::Live && !p.run_failed) {
        if live.failing {
            return Err(Refusal::hard(format!("is live on {stage} but fails its health checks")));
        }
        return Err(Refusal {
            reason: format!("has been live on {stage} for {} s of the {soak_secs} s soak", lasted(live) / 1000),
            ready_at: Some(live.live_from + soak),
        });
    }
    if passages.iter().all(|p| p.status == ReleaseStatus::RolledBack || p.run_failed) {
        return Err(Refusal::hard(format!("was rolled back on {stage}")));
    }
    if passages.iter().all(|p| p.status == ReleaseStatus::Pruned) {
        return Err(Refusal::hard(format!("was on {stage} too long ago: its release there was pruned; deploy it there again")));
    }
    Err(Refusal::hard(format!("was live on {stage} for less than the {soak_secs} s soak")))
}

/// Whether `rule` speaks of refs like `carrier`. A commit named by its id is a branch that
/// no pattern names: a branch rule without `matching` covers it, so "branches other than
/// main" cannot be dodged by deploying main's commit by its id elsewhere.
pub fn matches(rule: &EnvRule, carrier: &Carrier) -> bool {
    let name = match (rule.refs, carrier) {
        (RuleRefs::Branches, Carrier::Branch(b)) => b.as_str(),
        (RuleRefs::Branches, Carrier::Commit) => return rule.matching.is_empty(),
        (RuleRefs::Tags, Carrier::Tag(t)) => t.as_str(),
        (RuleRefs::MergeRequests, Carrier::MergeRequest { target }) if target.is_empty() => return rule.except.is_empty(),
        (RuleRefs::MergeRequests, Carrier::MergeRequest { target }) => target.as_str(),
        _ => return false,
    };
    (rule.matching.is_empty() || any_matches(&rule.matching, name)) && !any_matches(&rule.except, name)
}

/// Whether the stage selector `sel` (a stage name, `productive`, `non-productive` or
/// `group:<name>`) chooses `stage`.
pub fn selects(sel: &str, stage: &Stage) -> bool {
    match sel {
        "productive" => stage.productive,
        "non-productive" => !stage.productive,
        _ => match sel.strip_prefix("group:") {
            Some(g) => stage.group.as_deref() == Some(g),
            None => sel == stage.name,
        },
    }
}

/// A rule in words: "tags v* pass through rel before prod".
pub fn describe(rule: &EnvRule) -> String {
    let mut subject = match rule.refs {
        RuleRefs::Branches => "branches".to_string(),
        RuleRefs::Tags => "tags".to_string(),
        RuleRefs::MergeRequests => "merge requests".to_string(),
    };
    if !rule.matching.is_empty() {
        let into = if rule.refs == RuleRefs::MergeRequests { " into" } else { "" };
        subject.push_str(&format!("{into} {}", rule.matching.join(", ")));
    }
    if !rule.except.is_empty() {
        subject.push_str(&format!(" other than {}", rule.except.join(", ")));
    }
    let stages = |l: &[String]| l.iter().map(|s| words(s)).collect::<Vec<_>>().join(", ");
    if !rule.through.is_empty() {
        format!("{subject} pass through {} before {}", rule.through.join(", "), stages(&rule.before))
    } else if !rule.only.is_empty() {
        format!("{subject} deploy to {} only", stages(&rule.only))
    } else {
        format!("{subject} never reach {}", stages(&rule.never))
    }
}

fn words(sel: &str) -> String {
    match sel {
        "productive" => "productive environments".into(),
        "non-productive" => "non-productive environments".into(),
        _ => sel.strip_prefix("group:").map(|g| format!("the {g} group")).unwrap_or_else(|| sel.to_string()),
    }
}

/// The rules that speak of `stage`, in words, numbered as in the file.
pub fn rules_of(project: &Project, stage: &Stage) -> Vec<String> {
    let names = |l: &[String]| l.iter().any(|s| selects(s, stage));
    project
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| names(&r.before) || names(&r.only) || names(&r.never) || r.through.contains(&stage.name))
        .map(|(i, r)| format!("rule {}: {}", i + 1, describe(r)))
        .collect()
}

#[cfg(test)]
#[path = "environments_tests.rs"]
mod tests;
