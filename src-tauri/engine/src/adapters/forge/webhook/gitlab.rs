//! GitLab payloads: `Push Hook`, `Tag Push Hook` and `Merge Request Hook`.
//!
//! The trap here is annotated tags: `after` is the tag object, and only `checkout_sha` names the
//! commit, so the commit to deploy is always read from `checkout_sha`.

use serde::Deserialize;

use super::{
    blank, full_ref, is_zero_sha, parse, required, sha, text, Event, EventKind, ParseError, PrAction, Provider, PullRequest, Repo,
};

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    checkout_sha: Option<String>,
    user_username: Option<String>,
    user_name: Option<String>,
    user: Option<User>,
    commits: Option<Vec<Commit>>,
    project: Option<Project>,
    /// Deprecated since GitLab 8.5 in favour of `project`; read only when `project` is absent.
    repository: Option<LegacyRepository>,
    object_attributes: Option<MergeRequest>,
}

#[derive(Deserialize)]
struct User {
    username: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    id: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Project {
    path_with_namespace: Option<String>,
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    web_url: Option<String>,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct LegacyRepository {
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    homepage: Option<String>,
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: Option<u64>,
    action: Option<String>,
    source_branch: Option<String>,
    target_branch: Option<String>,
    last_commit: Option<Commit>,
    source: Option<SourceProject>,
    merge_commit_sha: Option<String>,
    /// Present on `update` only when the source branch got new commits.
    oldrev: Option<String>,
}

#[derive(Deserialize)]
struct SourceProject {
    git_http_url: Option<String>,
}

pub(super) fn normalize(event: &str, payload: &[u8]) -> Result<Event, ParseError> {
    let p: Payload = parse(payload)?;
    match event {
        "Push Hook" | "Tag Push Hook" => push(p),
        "Merge Request Hook" => merge_request(p),
        other => {
            let kind = EventKind::Other { event: other.to_owned() };
            let pusher = p.user.as_ref().and_then(|u| text(u.username.as_deref()));
            Ok(Event { pusher, ..blank(Provider::Gitlab, kind, repo(&p).unwrap_or_default()) })
        }
    }
}

fn repo(p: &Payload) -> Option<Repo> {
    if let Some(project) = &p.project {
        return Some(Repo {
            full_name: text(project.path_with_namespace.as_deref()),
            clone_http: text(project.git_http_url.as_deref()),
            clone_ssh: text(project.git_ssh_url.as_deref()),
            web_url: text(project.web_url.as_deref()),
            default_branch: text(project.default_branch.as_deref()),
        });
    }
    p.repository.as_ref().map(|r| Repo {
        clone_http: text(r.git_http_url.as_deref()),
        clone_ssh: text(r.git_ssh_url.as_deref()),
        web_url: text(r.homepage.as_deref()),
        ..Repo::default()
    })
}

fn push(p: Payload) -> Result<Event, ParseError> {
    let git_ref = required(p.git_ref.as_deref(), "push payload has no `ref`")?.to_owned();
    let repo = repo(&p).ok_or_else(|| ParseError::missing("push payload has no `project`"))?;
    let before = sha(p.before.as_deref(), "push `before`")?;
    let after = sha(p.after.as_deref(), "push `after`")?;
    let deleted = after.as_deref().is_none_or(is_zero_sha);
    let is_tag = git_ref.starts_with("refs/tags/");
    let kind = match (is_tag, deleted) {
        (false, false) => EventKind::Push,
        (true, false) => EventKind::TagPush,
        (false, true) => EventKind::BranchDeleted,
        (true, true) => EventKind::TagDeleted,
    };
    let commit = match deleted {
        true => None,
        false => sha(p.checkout_sha.as_deref(), "push `checkout_sha`")?.or(after.clone()),
    };
    // Only the newest 20 commits are listed, in no order worth relying on: match by id.
    let message = commit
        .as_deref()
        .and_then(|c| p.commits.as_deref()?.iter().find(|x| x.id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(c)))?.message.clone());
    let pusher = text(p.user_username.as_deref()).or_else(|| text(p.user_name.as_deref()));
    Ok(Event { git_ref: Some(git_ref), before, after, commit, pusher, message, ..blank(Provider::Gitlab, kind, repo) })
}

fn merge_request(p: Payload) -> Result<Event, ParseError> {
    let repo = repo(&p).ok_or_else(|| ParseError::missing("merge request payload has no `project`"))?;
    let mr = p.object_attributes.as_ref().ok_or_else(|| ParseError::missing("merge request payload has no `object_attributes`"))?;
    let iid = mr.iid.ok_or_else(|| ParseError::missing("merge request payload has no `iid`"))?;
    let source = required(mr.source_branch.as_deref(), "merge request payload has no `source_branch`")?;
    let target = required(mr.target_branch.as_deref(), "merge request payload has no `target_branch`")?;
    let last = mr.last_commit.as_ref();
    let head_sha = sha(last.and_then(|c| c.id.as_deref()), "merge request `last_commit.id`")?;
    let oldrev = sha(mr.oldrev.as_deref(), "merge request `oldrev`")?;
    let action = match mr.action.as_deref() {
        Some("open") => PrAction::Opened,
        Some("update") if oldrev.is_some() => PrAction::Synchronized,
        Some("reopen") => PrAction::Reopened,
        Some("close") => PrAction::Closed,
        Some("merge") => PrAction::Merged,
        _ => PrAction::Other,
    };
    let merge_commit = sha(mr.merge_commit_sha.as_deref(), "merge request `merge_commit_sha`")?;
    let (git_ref, commit) = match (&merge_commit, action) {
        (Some(m), PrAction::Merged) => (full_ref(target, false), Some(m.clone())),
        _ => (format!("refs/merge-requests/{iid}/head"), head_sha.clone()),
    };
    let message = last.filter(|_| commit.is_some() && commit == head_sha).and_then(|c| c.message.clone());
    let source_clone_url = mr.source.as_ref().and_then(|s| text(s.git_http_url.as_deref()));
    Ok(Event {
        git_ref: Some(git_ref),
        before: oldrev,
        after: head_sha.clone(),
        commit,
        pusher: p.user.as_ref().and_then(|u| text(u.username.as_deref()).or_else(|| text(u.name.as_deref()))),
        message,
        pull_request: Some(PullRequest {
            number: iid,
            source_branch: source.to_owned(),
            target_branch: target.to_owned(),
            head_sha,
            source_clone_url,
            merge_commit,
        }),
        ..blank(Provider::Gitlab, EventKind::PullRequest { action }, repo)
    })
}
