//! Bitbucket Cloud payloads: `repo:push` and `pullrequest:*`.
//!
//! Bitbucket differs from the GitHub family in two ways that matter: one push delivery lists
//! every ref it changed (`push.changes[]`), and no payload carries a clone URL, so it is derived
//! from the repository's `full_name`.

use serde::Deserialize;

use super::{blank, full_ref, parse, required, sha, text, Event, EventKind, ParseError, PrAction, Provider, PullRequest, Repo};

#[derive(Deserialize)]
struct Payload {
    actor: Option<Actor>,
    repository: Option<Repository>,
    push: Option<Push>,
    pullrequest: Option<Pr>,
}

#[derive(Deserialize)]
struct Actor {
    /// Removed from the API in 2019, still present in older deliveries.
    username: Option<String>,
    nickname: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: Option<String>,
    links: Option<Links>,
    mainbranch: Option<Named>,
}

#[derive(Deserialize)]
struct Links {
    html: Option<Href>,
}

#[derive(Deserialize)]
struct Href {
    href: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Push {
    changes: Option<Vec<Change>>,
}

#[derive(Deserialize)]
struct Change {
    new: Option<RefState>,
    old: Option<RefState>,
    closed: Option<bool>,
    forced: Option<bool>,
}

#[derive(Deserialize)]
struct RefState {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    target: Option<Target>,
}

#[derive(Deserialize)]
struct Target {
    hash: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Pr {
    id: Option<u64>,
    source: Option<PrEnd>,
    destination: Option<PrEnd>,
    merge_commit: Option<Target>,
}

#[derive(Deserialize)]
struct PrEnd {
    branch: Option<Named>,
    commit: Option<Target>,
    repository: Option<Repository>,
}

pub(super) fn normalize(event: &str, payload: &[u8]) -> Result<Vec<Event>, ParseError> {
    let p: Payload = parse(payload)?;
    let pusher = p
        .actor
        .as_ref()
        .and_then(|a| text(a.username.as_deref()).or_else(|| text(a.nickname.as_deref())).or_else(|| text(a.display_name.as_deref())));
    let action = match event {
        "repo:push" => return push(&p, pusher),
        "pullrequest:created" => PrAction::Opened,
        "pullrequest:updated" => PrAction::Synchronized,
        "pullrequest:fulfilled" => PrAction::Merged,
        "pullrequest:rejected" => PrAction::Closed,
        other => {
            let repo = p.repository.as_ref().map(to_repo).unwrap_or_default();
            let kind = EventKind::Other { event: other.to_owned() };
            return Ok(vec![Event { pusher, ..blank(Provider::Bitbucket, kind, repo) }]);
        }
    };
    pull_request(&p, action, pusher).map(|e| vec![e])
}

/// Bitbucket Cloud only has bitbucket.org, so `workspace/slug` determines every URL. A
/// `full_name` that is not exactly that is not trusted into a URL; the web link is used instead.
fn to_repo(r: &Repository) -> Repo {
    let full_name = text(r.full_name.as_deref());
    let web = r.links.as_ref().and_then(|l| l.html.as_ref()).and_then(|h| text(h.href.as_deref()));
    let slug = full_name.as_deref().filter(|n| is_slug_pair(n));
    Repo {
        clone_http: match slug {
            Some(n) => Some(format!("https://bitbucket.org/{n}.git")),
            None => web.as_ref().map(|w| format!("{}.git", w.trim_end_matches('/'))),
        },
        clone_ssh: slug.map(|n| format!("git@bitbucket.org:{n}.git")),
        web_url: web.or_else(|| slug.map(|n| format!("https://bitbucket.org/{n}"))),
        default_branch: r.mainbranch.as_ref().and_then(|b| text(b.name.as_deref())),
        full_name,
    }
}

fn is_slug_pair(name: &str) -> bool {
    let ok = |s: &str| !s.is_empty() && s != "." && s != ".." && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    matches!(name.split_once('/'), Some((a, b)) if ok(a) && ok(b))
}

fn push(p: &Payload, pusher: Option<String>) -> Result<Vec<Event>, ParseError> {
    let repo = p.repository.as_ref().map(to_repo).ok_or_else(|| ParseError::missing("push payload has no `repository`"))?;
    let changes = p.push.as_ref().and_then(|x| x.changes.as_deref()).unwrap_or_default();
    if changes.is_empty() {
        return Err(ParseError::missing("push payload has no `push.changes`"));
    }
    changes.iter().map(|c| change(c, &repo, &pusher)).collect()
}

/// One entry of `push.changes[]`: `new` is null (and `closed` true) when the ref was deleted,
/// `old` is null when it was created.
fn change(c: &Change, repo: &Repo, pusher: &Option<String>) -> Result<Event, ParseError> {
    let deleted = c.new.is_none() || c.closed == Some(true);
    let side = if deleted { c.old.as_ref().or(c.new.as_ref()) } else { c.new.as_ref() };
    let side = side.ok_or_else(|| ParseError::missing("push change has neither `new` nor `old`"))?;
    let name = required(side.name.as_deref(), "push change has no ref `name`")?;
    let is_tag = matches!(side.kind.as_deref(), Some("tag" | "annotated_tag"));
    let hash = |s: Option<&RefState>, what| sha(s.and_then(|s| s.target.as_ref()).and_then(|t| t.hash.as_deref()), what);
    let before = hash(c.old.as_ref(), "push change `old.target.hash`")?;
    let after = if deleted { None } else { hash(c.new.as_ref(), "push change `new.target.hash`")? };
    if !deleted && after.is_none() {
        return Err(ParseError::missing("push change has no `new.target.hash`"));
    }
    let message = if deleted { None } else { c.new.as_ref().and_then(|n| n.target.as_ref()).and_then(|t| t.message.clone()) };
    let kind = match (is_tag, deleted) {
        (false, false) => EventKind::Push,
        (true, false) => EventKind::TagPush,
        (false, true) => EventKind::BranchDeleted,
        (true, true) => EventKind::TagDeleted,
    };
    Ok(Event {
        git_ref: Some(full_ref(name, is_tag)),
        before,
        commit: after.clone(),
        after,
        pusher: pusher.clone(),
        message,
        forced: c.forced == Some(true),
        ..blank(Provider::Bitbucket, kind, repo.clone())
    })
}

fn branch(end: Option<&PrEnd>) -> Option<&str> {
    end.and_then(|e| e.branch.as_ref()).and_then(|b| b.name.as_deref())
}

fn pull_request(p: &Payload, action: PrAction, pusher: Option<String>) -> Result<Event, ParseError> {
    let repo = p.repository.as_ref().map(to_repo).ok_or_else(|| ParseError::missing("pull request payload has no `repository`"))?;
    let pr = p.pullrequest.as_ref().ok_or_else(|| ParseError::missing("pull request payload has no `pullrequest`"))?;
    let number = pr.id.ok_or_else(|| ParseError::missing("pull request payload has no `id`"))?;
    let src = pr.source.as_ref();
    let source = required(branch(src), "pull request payload has no `source.branch.name`")?;
    let target = required(branch(pr.destination.as_ref()), "pull request payload has no `destination.branch.name`")?;
    let head_sha = sha(src.and_then(|s| s.commit.as_ref()).and_then(|c| c.hash.as_deref()), "pull request `source.commit.hash`")?;
    let merge_commit = sha(pr.merge_commit.as_ref().and_then(|m| m.hash.as_deref()), "pull request `merge_commit.hash`")?;
    // Bitbucket exposes no pull request refs, so the source branch is the only fetchable ref.
    let (git_ref, commit) = match (&merge_commit, action) {
        (Some(m), PrAction::Merged) => (full_ref(target, false), Some(m.clone())),
        _ => (full_ref(source, false), head_sha.clone()),
    };
    let source_clone_url = src.and_then(|s| s.repository.as_ref()).and_then(|r| to_repo(r).clone_http);
    Ok(Event {
        git_ref: Some(git_ref),
        after: head_sha.clone(),
        commit,
        pusher,
        pull_request: Some(PullRequest {
            number,
            source_branch: source.to_owned(),
            target_branch: target.to_owned(),
            head_sha,
            source_clone_url,
            merge_commit,
        }),
        ..blank(Provider::Bitbucket, EventKind::PullRequest { action }, repo)
    })
}
