//! GitHub-shaped payloads: GitHub itself, and Gitea/Forgejo, which copied GitHub's structs.
//!
//! The differences are small enough to absorb here instead of duplicating the model: Gitea's
//! `pusher` is a user (`login`), GitHub's is `{name, email}`; Gitea says `synchronized` where
//! GitHub says `synchronize`; Gitea's `create` carries the `sha` that GitHub's lacks; only GitHub
//! has `deleted`/`forced` flags and a `ping`.

use serde::Deserialize;

use super::{
    blank, full_ref, is_zero_sha, parse, required, sha, text, Event, EventKind, ParseError, PrAction, Provider, PullRequest, Repo,
};

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    ref_type: Option<String>,
    before: Option<String>,
    after: Option<String>,
    /// Gitea `create` only.
    sha: Option<String>,
    deleted: Option<bool>,
    forced: Option<bool>,
    head_commit: Option<Commit>,
    commits: Option<Vec<Commit>>,
    pusher: Option<User>,
    sender: Option<User>,
    repository: Option<Repository>,
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<Pr>,
}

#[derive(Deserialize)]
struct Commit {
    id: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct User {
    login: Option<String>,
    username: Option<String>,
    name: Option<String>,
}

impl User {
    fn handle(&self) -> Option<String> {
        text(self.login.as_deref()).or_else(|| text(self.username.as_deref())).or_else(|| text(self.name.as_deref()))
    }
}

#[derive(Deserialize)]
struct Repository {
    full_name: Option<String>,
    clone_url: Option<String>,
    ssh_url: Option<String>,
    html_url: Option<String>,
    default_branch: Option<String>,
}

impl Repository {
    fn to_repo(&self) -> Repo {
        Repo {
            full_name: text(self.full_name.as_deref()),
            clone_http: text(self.clone_url.as_deref()),
            clone_ssh: text(self.ssh_url.as_deref()),
            web_url: text(self.html_url.as_deref()),
            default_branch: text(self.default_branch.as_deref()),
        }
    }
}

#[derive(Deserialize)]
struct Pr {
    number: Option<u64>,
    merged: Option<bool>,
    merge_commit_sha: Option<String>,
    head: Option<PrEnd>,
    base: Option<PrEnd>,
}

#[derive(Deserialize)]
struct PrEnd {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
    repo: Option<Repository>,
}

pub(super) fn normalize(provider: Provider, event: &str, payload: &[u8]) -> Result<Event, ParseError> {
    let p: Payload = parse(payload)?;
    let kind = match event {
        "push" => return push(provider, p),
        "create" | "delete" => return ref_event(provider, event, p),
        "pull_request" => return pull_request(provider, p),
        "ping" => EventKind::Ping,
        other => EventKind::Other { event: other.to_owned() },
    };
    // Not required: organization hooks ping, and send other events, without a repository.
    let repo = p.repository.as_ref().map(Repository::to_repo).unwrap_or_default();
    Ok(Event { pusher: p.sender.as_ref().and_then(User::handle), ..blank(provider, kind, repo) })
}

fn repo_of(p: &Payload, event: &str) -> Result<Repo, ParseError> {
    p.repository.as_ref().map(Repository::to_repo).ok_or_else(|| ParseError::Missing(format!("{event} payload has no `repository`")))
}

fn push(provider: Provider, p: Payload) -> Result<Event, ParseError> {
    let git_ref = required(p.git_ref.as_deref(), "push payload has no `ref`")?.to_owned();
    let repo = repo_of(&p, "push")?;
    let before = sha(p.before.as_deref(), "push `before`")?;
    let after = sha(p.after.as_deref(), "push `after`")?;
    let deleted = p.deleted == Some(true) || after.as_deref().is_none_or(is_zero_sha);
    let is_tag = git_ref.starts_with("refs/tags/");
    let kind = match (is_tag, deleted) {
        (false, false) => EventKind::Push,
        (true, false) => EventKind::TagPush,
        (false, true) => EventKind::BranchDeleted,
        (true, true) => EventKind::TagDeleted,
    };
    let head = p.head_commit.as_ref();
    // For an annotated tag `after` is the tag object; `head_commit.id` is the commit it points at.
    let commit = match deleted {
        true => None,
        false => sha(head.and_then(|c| c.id.as_deref()), "push `head_commit.id`")?.or(after.clone()),
    };
    let listed = p.commits.iter().flatten();
    let message = message_of(head.into_iter().chain(listed), commit.as_deref());
    let pusher = p.pusher.as_ref().and_then(User::handle).or_else(|| p.sender.as_ref().and_then(User::handle));
    Ok(Event {
        git_ref: Some(git_ref),
        before,
        after,
        commit,
        pusher,
        message,
        forced: p.forced == Some(true),
        ..blank(provider, kind, repo)
    })
}

/// The message of the commit with id `commit`, wherever it sits in `commits` (Gitea lists them
/// newest first, GitHub oldest first, and old Gitea has no `head_commit`).
fn message_of<'a>(mut commits: impl Iterator<Item = &'a Commit>, commit: Option<&str>) -> Option<String> {
    let commit = commit?;
    commits.find(|c| c.id.as_deref().is_some_and(|id| id.eq_ignore_ascii_case(commit))).and_then(|c| c.message.clone())
}

/// `create`/`delete`: a bare ref name plus `ref_type`. Gitea's `create` names the commit,
/// GitHub's does not (the `push` sent alongside it does).
fn ref_event(provider: Provider, event: &str, p: Payload) -> Result<Event, ParseError> {
    let name = required(p.git_ref.as_deref(), &format!("{event} payload has no `ref`"))?;
    let is_tag = match p.ref_type.as_deref() {
        Some("tag") => true,
        Some("branch") => false,
        _ => return Err(ParseError::Missing(format!("{event} payload has no `ref_type` of branch or tag"))),
    };
    let git_ref = full_ref(name, is_tag);
    let repo = repo_of(&p, event)?;
    let pusher = p.sender.as_ref().and_then(User::handle);
    let kind = match (event, is_tag) {
        ("create", false) => EventKind::Push,
        ("create", true) => EventKind::TagPush,
        (_, false) => EventKind::BranchDeleted,
        (_, true) => EventKind::TagDeleted,
    };
    let commit = match event {
        "create" => sha(p.sha.as_deref(), "create `sha`")?.filter(|s| !is_zero_sha(s)),
        _ => None,
    };
    Ok(Event { git_ref: Some(git_ref), after: commit.clone(), commit, pusher, ..blank(provider, kind, repo) })
}

fn pull_request(provider: Provider, p: Payload) -> Result<Event, ParseError> {
    let repo = repo_of(&p, "pull_request")?;
    let pr = p.pull_request.as_ref().ok_or_else(|| ParseError::missing("pull_request payload has no `pull_request`"))?;
    let number = pr.number.or(p.number).ok_or_else(|| ParseError::missing("pull_request payload has no `number`"))?;
    let head = pr.head.as_ref();
    let source = required(head.and_then(|h| h.git_ref.as_deref()), "pull_request payload has no `head.ref`")?;
    let target = required(pr.base.as_ref().and_then(|b| b.git_ref.as_deref()), "pull_request payload has no `base.ref`")?;
    let head_sha = sha(head.and_then(|h| h.sha.as_deref()), "pull_request `head.sha`")?;
    let merge_commit = sha(pr.merge_commit_sha.as_deref(), "pull_request `merge_commit_sha`")?;
    let merged = pr.merged == Some(true);
    let action = match p.action.as_deref() {
        Some("opened") => PrAction::Opened,
        Some("synchronize" | "synchronized") => PrAction::Synchronized,
        Some("reopened") => PrAction::Reopened,
        Some("closed") if merged => PrAction::Merged,
        Some("closed") => PrAction::Closed,
        _ => PrAction::Other,
    };
    // GitHub fills `merge_commit_sha` with a test merge while the PR is open; only a merged PR's
    // merge commit is a real commit on the target branch.
    let merge_commit = merge_commit.filter(|_| merged);
    let (git_ref, commit) = match (&merge_commit, action) {
        (Some(m), PrAction::Merged) => (full_ref(target, false), Some(m.clone())),
        _ => (format!("refs/pull/{number}/head"), head_sha.clone()),
    };
    let source_clone_url = head.and_then(|h| h.repo.as_ref()).and_then(|r| text(r.clone_url.as_deref()));
    Ok(Event {
        git_ref: Some(git_ref),
        before: sha(p.before.as_deref(), "pull_request `before`")?,
        after: head_sha.clone(),
        commit,
        pusher: p.sender.as_ref().and_then(User::handle),
        pull_request: Some(PullRequest {
            number,
            source_branch: source.to_owned(),
            target_branch: target.to_owned(),
            head_sha,
            source_clone_url,
            merge_commit,
        }),
        ..blank(provider, EventKind::PullRequest { action }, repo)
    })
}
