//! What a forge's webhook says, reduced to the few facts a deploy needs: one [`Event`] per ref
//! change, whatever the forge. The parsers that produce it are in
//! [`crate::adapters::forge::webhook`].

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A forge that can send us webhooks. Forgejo is separate from Gitea even though the payloads
/// match, because its signature header differs and users recognise it by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Github,
    Gitlab,
    Gitea,
    Forgejo,
    Bitbucket,
}

/// One ref change (or ping, or ignored event) from one delivery, the same shape for every forge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Event {
    pub provider: Provider,
    pub delivery_id: Option<String>,
    pub kind: EventKind,
    pub repo: Repo,
    /// Full ref, so branches and tags of the same name never collide: "refs/heads/main",
    /// "refs/tags/v1.2.0". For a pull request it is the ref the base repository serves `commit`
    /// under, which also works for forks: the target branch once merged, otherwise the forge's
    /// PR head ref ("refs/pull/7/head", GitLab "refs/merge-requests/7/head"; Bitbucket has none,
    /// so its source branch). None for ping and ignored events.
    pub git_ref: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The commit to deploy. It differs from `after` for annotated tags, where `after` is the tag
    /// object. None when there is nothing to deploy: deletions, ping, ignored events, and GitHub
    /// `create` events (which carry no SHA; the matching `push` does). Bitbucket sends 12-hex
    /// short hashes for pull requests.
    pub commit: Option<String>,
    pub pusher: Option<String>,
    /// Message of `commit`, found by id because forges order `commits[]` differently.
    pub message: Option<String>,
    pub pull_request: Option<PullRequest>,
    /// A force push can move a branch backwards; deploy policy may want to know.
    pub forced: bool,
}

impl Event {
    /// The branch name, when this is about a branch.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.as_deref()?.strip_prefix("refs/heads/")
    }

    /// The tag name, when this is about a tag.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref.as_deref()?.strip_prefix("refs/tags/")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A branch got new commits, including its creation.
    Push,
    /// A tag was created or moved.
    TagPush,
    BranchDeleted,
    TagDeleted,
    PullRequest {
        action: PrAction,
    },
    Ping,
    /// Anything else, kept so the inbox can say "ignored: event X".
    Other {
        event: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PrAction {
    Opened,
    /// New commits on the source branch.
    Synchronized,
    Reopened,
    /// Closed without merging.
    Closed,
    Merged,
    /// Labels, review requests, edits...: nothing new to build.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PullRequest {
    #[ts(type = "number")]
    pub number: u64,
    pub source_branch: String,
    pub target_branch: String,
    pub head_sha: Option<String>,
    /// Where the source branch lives; differs from the repository's for forks.
    pub source_clone_url: Option<String>,
    pub merge_commit: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Repo {
    /// "owner/name" (GitLab: path_with_namespace, which may have subgroups).
    pub full_name: Option<String>,
    pub clone_http: Option<String>,
    pub clone_ssh: Option<String>,
    pub web_url: Option<String>,
    pub default_branch: Option<String>,
}
