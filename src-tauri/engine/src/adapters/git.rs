//! A run's source: the project's repository cached once per project (fetched incrementally,
//! never cloned afresh each run) and the exact commit checked out into the run's directory.

use std::path::{Path, PathBuf};

use std::collections::HashMap;

use crate::domain::project::Forge;
use crate::{Error, ErrorCode, Result};

/// What was checked out.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub commit: String,
    pub subject: String,
    pub submodules: usize,
}

pub fn cache_dir(data_dir: &Path, project_id: &str) -> PathBuf {
    data_dir.join("cache").join(project_id).join("repo.git")
}

/// Credentials for libgit2: the ssh-agent for SSH remotes, the account's token for HTTPS. Asked
/// once only: libgit2 asks again after a refusal, and answering forever would hang.
pub fn callbacks<'a>(creds: Option<&'a Credentials>) -> git2::RemoteCallbacks<'a> {
    let mut cb = git2::RemoteCallbacks::new();
    let mut attempts = 0;
    cb.credentials(move |_url, user, allowed| {
        attempts += 1;
        if attempts > 1 {
            return Err(git2::Error::from_str("credentials refused"));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            return git2::Cred::ssh_key_from_agent(user.unwrap_or("git"));
        }
        match creds {
            Some(c) if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) => git2::Cred::userpass_plaintext(&c.username, &c.token),
            _ => Err(git2::Error::from_str("no token configured")),
        }
    });
    cb
}

fn fetch_options(creds: Option<&Credentials>) -> git2::FetchOptions<'_> {
    let mut fo = git2::FetchOptions::new();
    fo.remote_callbacks(callbacks(creds));
    fo.download_tags(git2::AutotagOption::All);
    fo
}

/// A libgit2 failure against `url`, said so that a refused token names the forge, the account
/// and the repository. `doing` is what failed ("fetch", "list the refs of").
pub fn git_error(doing: &str, url: &str, forge: Forge, creds: Option<&Credentials>, e: git2::Error) -> Error {
    let m = e.message();
    let auth = e.code() == git2::ErrorCode::Auth
        || m.contains("401")
        || m.contains("403")
        || m.contains("credentials refused")
        || m.contains("no token configured");
    let msg = match (auth, creds) {
        (true, Some(c)) => format!(
            "{} refused the token of account {:?} for {url} (revoked, expired, or without read access to the repository): {m}",
            forge.as_str(),
            c.account
        ),
        (true, None) => format!("{url} needs credentials: give the project a forge account with a token ({m})"),
        (false, _) => format!("cannot {doing} {url}: {m}"),
    };
    Error::caused_by(ErrorCode::Git, msg, e)
}

/// Brings the cache up to date with the remote's branches and tags (and `extra_ref`, e.g. a
/// pull request's head, which forges don't advertise as a branch), then checks `commit` out
/// into `dest`, with submodules. Blocking: call it from `spawn_blocking`.
pub fn fetch_and_checkout(
    cache: &Path,
    url: &str,
    forge: Forge,
    creds: Option<&Credentials>,
    commit: &str,
    extra_ref: Option<&str>,
    dest: &Path,
) -> Result<Checkout> {
    std::fs::create_dir_all(cache)?;
    let repo = match git2::Repository::open_bare(cache) {
        Ok(r) => r,
        Err(_) => git2::Repository::init_bare(cache)
            .map_err(|e| Error::new(ErrorCode::Git, format!("cannot create the cache {}: {e}", cache.display())))?,
    };
    let mut remote = repo.remote_anonymous(url).map_err(|e| git_error(&format!("fetch commit {commit} from"), url, forge, creds, e))?;
    let mut refspecs = vec!["+refs/heads/*:refs/heads/*".to_string(), "+refs/tags/*:refs/tags/*".to_string()];
    if let Some(r) = extra_ref.filter(|r| !r.starts_with("refs/heads/") && !r.starts_with("refs/tags/")) {
        refspecs.push(format!("+{r}:{r}"));
    }
    remote
        .fetch(&refspecs, Some(&mut fetch_options(creds)), None)
        .map_err(|e| git_error(&format!("fetch commit {commit} from"), url, forge, creds, e))?;

    let oid = git2::Oid::from_str(commit).map_err(|_| Error::new(ErrorCode::InvalidInput, format!("{commit:?} is not a commit id")))?;
    let found = repo.find_commit(oid).map_err(|_| {
        Error::new(
            ErrorCode::Git,
            format!(
                "commit {commit} is not in {url} (fetched its branches and tags{}); was it force-pushed away?",
                extra_ref.map(|r| format!(" and {r}")).unwrap_or_default()
            ),
        )
    })?;
    let subject = found.summary().unwrap_or("").to_string();

    // A clone from the local cache is cheap (objects are hard-linked) and gives the checkout its
    // own .git, which submodules need.
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    let work = git2::build::RepoBuilder::new()
        .bare(false)
        .with_checkout({
            let mut co = git2::build::CheckoutBuilder::new();
            co.dry_run();
            co
        })
        .clone(&cache.to_string_lossy(), dest)
        .map_err(|e| Error::new(ErrorCode::Git, format!("cannot check out {commit}: {e}")))?;
    let target = work.find_commit(oid).map_err(|e| Error::new(ErrorCode::Git, format!("cannot check out {commit}: {e}")))?;
    work.checkout_tree(target.as_object(), Some(git2::build::CheckoutBuilder::new().force()))
        .and_then(|_| work.set_head_detached(oid))
        .map_err(|e| Error::new(ErrorCode::Git, format!("cannot check out {commit}: {e}")))?;

    let mut submodules = 0;
    for mut sm in work.submodules().map_err(|e| Error::new(ErrorCode::Git, format!("reading .gitmodules: {e}")))? {
        let name = sm.name().unwrap_or("?").to_string();
        let mut opts = git2::SubmoduleUpdateOptions::new();
        opts.fetch(fetch_options(creds));
        sm.update(true, Some(&mut opts)).map_err(|e| Error::new(ErrorCode::Git, format!("submodule {name}: {e}")))?;
        submodules += 1;
    }
    Ok(Checkout { commit: commit.to_string(), subject, submodules })
}

/// Resolves what an operator typed (a commit id, a tag or a branch) against the remote.
pub fn resolve(refs: &std::collections::HashMap<String, String>, wanted: &str) -> Option<(String, String)> {
    for full in [format!("refs/tags/{wanted}"), format!("refs/heads/{wanted}"), wanted.to_string()] {
        if let Some(c) = refs.get(&full) {
            return Some((full, c.clone()));
        }
    }
    None
}

/// Commits reachable from `new` but not `old`, from the project's git cache, newest first.
pub fn commits_between(cache: &std::path::Path, new: &str, old: Option<&str>) -> Vec<crate::domain::release::CommitLine> {
    let Ok(repo) = git2::Repository::open_bare(cache) else { return vec![] };
    let Ok(mut walk) = repo.revwalk() else { return vec![] };
    let Ok(new) = git2::Oid::from_str(new) else { return vec![] };
    if walk.push(new).is_err() {
        return vec![];
    }
    if let Some(old) = old.and_then(|o| git2::Oid::from_str(o).ok()) {
        let _ = walk.hide(old);
    }
    walk.filter_map(|id| id.ok())
        .take(50)
        .filter_map(|id| repo.find_commit(id).ok())
        .map(|c| crate::domain::release::CommitLine {
            sha: c.id().to_string(),
            subject: c.summary().unwrap_or("").to_string(),
            author: c.author().name().unwrap_or("").to_string(),
        })
        .collect()
}

/// Credentials for a remote: the keychain token of the project's forge account.
pub struct Credentials {
    pub username: String,
    pub token: String,
    /// Names the account in error messages; never the token.
    pub account: String,
}

/// The branches and tags a remote has, with tags peeled to the commit they name.
pub fn ls_remote(url: &str, forge: Forge, creds: Option<&Credentials>) -> Result<HashMap<String, String>> {
    let git_error = |e| crate::adapters::git::git_error("list the refs of", url, forge, creds, e);
    let mut remote = git2::Remote::create_detached(url).map_err(git_error)?;
    let connection = remote.connect_auth(git2::Direction::Fetch, Some(crate::adapters::git::callbacks(creds)), None).map_err(git_error)?;
    let heads = connection.list().map_err(git_error)?;
    let mut refs = HashMap::new();
    let mut peeled = Vec::new();
    for head in heads {
        let name = head.name();
        if let Some(base) = name.strip_suffix("^{}") {
            peeled.push((base.to_string(), head.oid().to_string()));
        } else if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") {
            refs.insert(name.to_string(), head.oid().to_string());
        }
    }
    // An annotated tag's own id is the tag object; deploy the commit it points at.
    for (name, commit) in peeled {
        refs.insert(name, commit);
    }
    Ok(refs)
}
