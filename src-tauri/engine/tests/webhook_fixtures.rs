//! Every payload in shared/fixtures/webhooks goes through the whole receiving path (detect,
//! verify, payload_json, normalize) and must come out as the exact event written down here. The
//! expected values were read off the payloads and the fixtures README's table, not off our output.
//!
//! The signature tests use published known-answer vectors, because no fixture comes with the
//! signature headers it was originally delivered with.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use slipway_engine::adapters::forge::webhook::{self, Event, EventKind, ParseError, PrAction, Provider, PullRequest, Repo, VerifyError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/webhooks");
const SECRET: &[u8] = b"round-trip secret";
const DELIVERY: &str = "delivery-0001";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn manifest() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_slice(&read("manifest.json")).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("manifest.json is not an object: {other}"),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    map
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The headers the forge would send with this fixture: the manifest's inferred event headers,
/// the compatibility copies the forge also sends (so detection has to pick the specific one),
/// a delivery id, and a signature computed over the fixture bytes with [`SECRET`].
fn delivery_headers(name: &str, inferred: &serde_json::Value, body: &[u8]) -> (Provider, HeaderMap) {
    let mut h = HeaderMap::new();
    for (k, v) in inferred.as_object().unwrap() {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v.as_str().unwrap()).unwrap());
    }
    let sig = hmac_hex(SECRET, body);
    let secret = std::str::from_utf8(SECRET).unwrap();
    let event = h.get("x-gitea-event").or(h.get("x-forgejo-event")).cloned();
    let (provider, extra): (Provider, Vec<(&str, String)>) = match name.split('/').next().unwrap() {
        "github" => (Provider::Github, vec![("X-GitHub-Delivery", DELIVERY.into()), ("X-Hub-Signature-256", format!("sha256={sig}"))]),
        "gitlab" => (
            Provider::Gitlab,
            vec![
                ("Idempotency-Key", DELIVERY.into()),
                ("X-Gitlab-Event-UUID", "shared-by-recursive-hooks".into()),
                ("X-Gitlab-Token", secret.into()),
            ],
        ),
        "gitea" => (
            Provider::Gitea,
            vec![
                ("X-Gitea-Delivery", DELIVERY.into()),
                ("X-GitHub-Delivery", DELIVERY.into()),
                ("X-Gitea-Signature", sig.clone()),
                ("X-Hub-Signature-256", format!("sha256={sig}")),
            ],
        ),
        "forgejo" => (
            Provider::Forgejo,
            vec![
                ("X-Forgejo-Delivery", DELIVERY.into()),
                ("X-Gitea-Delivery", DELIVERY.into()),
                ("X-GitHub-Delivery", DELIVERY.into()),
                ("X-Forgejo-Signature", sig.clone()),
                ("X-Gitea-Signature", sig.clone()),
            ],
        ),
        "bitbucket" => (
            Provider::Bitbucket,
            vec![("X-Request-UUID", DELIVERY.into()), ("X-Attempt-Number", "1".into()), ("X-Hub-Signature", format!("sha256={sig}"))],
        ),
        other => panic!("unknown provider directory {other}"),
    };
    for (k, v) in extra {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(&v).unwrap());
    }
    if let Some(event) = event {
        h.insert("x-github-event", event);
    }
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (provider, h)
}

/// The full receiving path for one fixture.
fn receive(name: &str, inferred: &serde_json::Value) -> Vec<Event> {
    let body = read(name);
    let (want_provider, h) = delivery_headers(name, inferred, &body);
    let provider = webhook::detect(&h);
    assert_eq!(provider, Some(want_provider), "{name}: detect");
    let event = webhook::event_name(want_provider, &h).unwrap_or_else(|| panic!("{name}: no event name"));
    let id = webhook::delivery_id(want_provider, &h);
    assert_eq!(id.as_deref(), Some(DELIVERY), "{name}: delivery id");
    assert_eq!(webhook::verify(want_provider, &h, &body, SECRET), Ok(()), "{name}: round-trip signature");
    assert_eq!(webhook::verify(want_provider, &h, &body, b"another secret"), Err(VerifyError::Mismatch), "{name}");
    let json = webhook::payload_json(&h, &body).unwrap();
    webhook::normalize(want_provider, &event, id.as_deref(), &json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn repo(full: &str, http: &str, ssh: &str, web: &str, default: Option<&str>) -> Repo {
    Repo { full_name: s(full), clone_http: s(http), clone_ssh: s(ssh), web_url: s(web), default_branch: default.map(String::from) }
}

fn ev(provider: Provider, kind: EventKind, repo: Repo) -> Event {
    Event {
        provider,
        delivery_id: s(DELIVERY),
        kind,
        repo,
        git_ref: None,
        before: None,
        after: None,
        commit: None,
        pusher: None,
        message: None,
        pull_request: None,
        forced: false,
    }
}

fn pr(action: PrAction) -> EventKind {
    EventKind::PullRequest { action }
}

fn github_repo(full: &str, default: &str) -> Repo {
    repo(
        full,
        &format!("https://github.com/{full}.git"),
        &format!("git@github.com:{full}.git"),
        &format!("https://github.com/{full}"),
        Some(default),
    )
}

fn bitbucket_repo(full: &str) -> Repo {
    repo(
        full,
        &format!("https://bitbucket.org/{full}.git"),
        &format!("git@bitbucket.org:{full}.git"),
        &format!("https://bitbucket.org/{full}"),
        None,
    )
}

const ZERO: &str = "0000000000000000000000000000000000000000";

/// What each fixture must normalize to. A fixture added to the manifest without an entry here
/// fails the test, so no payload goes unchecked.
fn expected(name: &str) -> Vec<Event> {
    use EventKind::{BranchDeleted, Ping, Push, TagDeleted, TagPush};
    use PrAction::{Merged, Opened, Reopened, Synchronized};
    use Provider::*;
    let e = match name {
        // ---- GitHub
        "github/create-tag.json" => Event {
            git_ref: s("refs/tags/simple-tag"),
            pusher: s("Codertocat"),
            ..ev(Github, TagPush, github_repo("Codertocat/Hello-World", "master"))
        },
        "github/ping-organization.json" => Event { pusher: s("Codertocat"), ..ev(Github, Ping, Repo::default()) },
        "github/ping.json" => Event { pusher: s("Codertocat"), ..ev(Github, Ping, github_repo("Octocoders/Hello-World", "master")) },
        "github/pull_request-closed-merged.json" => Event {
            git_ref: s("refs/heads/main"),
            after: s("c88b9ee719285134957cbc698c9b7ef9b78007bf"),
            commit: s("473d70eb7c50a54ae62bf9b124efa1c3eb245be8"),
            pusher: s("anbraten"),
            pull_request: Some(PullRequest {
                number: 62,
                source_branch: "anbraten-patch-3".into(),
                target_branch: "main".into(),
                head_sha: s("c88b9ee719285134957cbc698c9b7ef9b78007bf"),
                source_clone_url: s("https://github.com/anbraten/test-ready-release-go.git"),
                merge_commit: s("473d70eb7c50a54ae62bf9b124efa1c3eb245be8"),
            }),
            ..ev(Github, pr(Merged), github_repo("anbraten/test-ready-release-go", "main"))
        },
        "github/pull_request-opened.json" => Event {
            git_ref: s("refs/pull/2/head"),
            after: s("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            commit: s("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            pusher: s("Codertocat"),
            pull_request: Some(PullRequest {
                number: 2,
                source_branch: "changes".into(),
                target_branch: "master".into(),
                head_sha: s("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
                source_clone_url: s("https://github.com/Codertocat/Hello-World.git"),
                merge_commit: None,
            }),
            ..ev(Github, pr(Opened), github_repo("Codertocat/Hello-World", "master"))
        },
        "github/pull_request-synchronize.json" => Event {
            git_ref: s("refs/pull/2/head"),
            before: s("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
            after: s("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            commit: s("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
            pusher: s("Codertocat"),
            pull_request: Some(PullRequest {
                number: 2,
                source_branch: "changes".into(),
                target_branch: "master".into(),
                head_sha: s("ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
                source_clone_url: s("https://github.com/Codertocat/Hello-World.git"),
                merge_commit: None,
            }),
            ..ev(Github, pr(Synchronized), github_repo("Codertocat/Hello-World", "master"))
        },
        "github/push-branch-deleted.json" => Event {
            git_ref: s("refs/heads/feature-branch"),
            before: s("d2b75aa7797ec26b088fa2dd527e9d2c052fcedd"),
            after: s(ZERO),
            pusher: s("bradrydzewski"),
            ..ev(Github, BranchDeleted, github_repo("bradrydzewski/drone-test-go", "master"))
        },
        "github/push-branch-forced.json" => Event {
            git_ref: s("refs/heads/main"),
            before: s("5ea737297f2e2e88f4cdf796e72cbcb12d40fd9c"),
            after: s("f7220f1f753260bf6f1c533357c70213e9fd4abe"),
            commit: s("f7220f1f753260bf6f1c533357c70213e9fd4abe"),
            pusher: s("6543"),
            message: s("feat: initial implementation\n\nTCP/UDP proxy skeleton with layered dead-connection detection.\n\nCo-authored-by: Claude <noreply@anthropic.com>"),
            forced: true,
            ..ev(Github, Push, github_repo("6543/oxiduct", "main"))
        },
        "github/push-branch.json" => Event {
            git_ref: s("refs/heads/main"),
            before: s("2f780193b136b72bfea4eeb640786a8c4450c7a2"),
            after: s("366701fde727cb7a9e7f21eb88264f59f6f9b89c"),
            commit: s("366701fde727cb7a9e7f21eb88264f59f6f9b89c"),
            pusher: s("6543"),
            message: s("Fix multiline secrets replacer (#700)\n\n* Fix multiline secrets replacer\r\n\r\n* Add tests"),
            ..ev(Github, Push, github_repo("woodpecker-ci/woodpecker", "main"))
        },
        "github/push-new-branch.json" => Event {
            git_ref: s("refs/heads/master"),
            before: s(ZERO),
            after: s("6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
            commit: s("6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
            pusher: s("Codertocat"),
            message: s("Initial commit"),
            ..ev(Github, Push, github_repo("Codertocat/Hello-World", "master"))
        },
        "github/push-tag-deleted.json" => Event {
            git_ref: s("refs/tags/simple-tag"),
            before: s("6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
            after: s(ZERO),
            pusher: s("Codertocat"),
            ..ev(Github, TagDeleted, github_repo("Codertocat/Hello-World", "master"))
        },
        "github/push-tag.json" => Event {
            git_ref: s("refs/tags/the-tag-v1"),
            before: s(ZERO),
            after: s("67012991d6c69b1c58378346fca366b864d8d1a1"),
            commit: s("67012991d6c69b1c58378346fca366b864d8d1a1"),
            pusher: s("6543"),
            message: s("Update .woodpecker.yml"),
            ..ev(Github, TagPush, github_repo("6543/test_ci_tmp", "main"))
        },
        "github/release-published.json" => Event {
            pusher: s("Codertocat"),
            ..ev(Github, EventKind::Other { event: "release".into() }, github_repo("Codertocat/Hello-World", "master"))
        },
        // ---- GitLab
        "gitlab/merge_request-merged-captured.json" => Event {
            git_ref: s("refs/heads/main"),
            after: s("3e4db3586b65dd401de8c77b3ac343fd24cbf89b"),
            commit: s("43411b53d670203e887c4985c4e58e8e6b7c109e"),
            pusher: s("anbraten"),
            pull_request: Some(PullRequest {
                number: 4,
                source_branch: "patch-1".into(),
                target_branch: "main".into(),
                head_sha: s("3e4db3586b65dd401de8c77b3ac343fd24cbf89b"),
                source_clone_url: s("https://gitlab.com/anbraten/woodpecker-test.git"),
                merge_commit: s("43411b53d670203e887c4985c4e58e8e6b7c109e"),
            }),
            ..ev(Gitlab, pr(Merged), gitlab_com("anbraten/woodpecker-test", "main"))
        },
        "gitlab/merge_request-opened-captured.json" => Event {
            git_ref: s("refs/merge-requests/3/head"),
            after: s("2f7670508b771e7e77839402be8b34b13787aba8"),
            commit: s("2f7670508b771e7e77839402be8b34b13787aba8"),
            pusher: s("real6543"),
            message: s("Edit README.md"),
            pull_request: Some(PullRequest {
                number: 3,
                source_branch: "real6543-main-patch-42541".into(),
                target_branch: "main".into(),
                head_sha: s("2f7670508b771e7e77839402be8b34b13787aba8"),
                source_clone_url: s("https://gitlab.com/demoaccount2-commits-group/test_ci_tmp.git"),
                merge_commit: None,
            }),
            ..ev(Gitlab, pr(Opened), gitlab_com("demoaccount2-commits-group/test_ci_tmp", "main"))
        },
        // The docs example's source/target projects differ from its `project`: kept as given.
        "gitlab/merge_request.json" => Event {
            git_ref: s("refs/merge-requests/1/head"),
            after: s("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
            commit: s("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
            pusher: s("root"),
            message: s("fixed readme"),
            pull_request: Some(PullRequest {
                number: 1,
                source_branch: "ms-viewport".into(),
                target_branch: "master".into(),
                head_sha: s("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
                source_clone_url: s("http://example.com/awesome_space/awesome_project.git"),
                merge_commit: None,
            }),
            ..ev(
                Gitlab,
                pr(Opened),
                repo(
                    "gitlabhq/gitlab-test",
                    "http://example.com/gitlabhq/gitlab-test.git",
                    "git@example.com:gitlabhq/gitlab-test.git",
                    "http://example.com/gitlabhq/gitlab-test",
                    Some("master"),
                ),
            )
        },
        "gitlab/push-branch-created.json" => Event {
            git_ref: s("refs/heads/feature"),
            before: s(ZERO),
            after: s("c4c79227ed610f1151f05bbc5be33b4f340d39c8"),
            commit: s("c4c79227ed610f1151f05bbc5be33b4f340d39c8"),
            pusher: s("sytses"),
            message: s("update readme\n"),
            ..ev(Gitlab, Push, gitlab_com("gitlab-org/hello-world", "master"))
        },
        "gitlab/push-branch-deleted.json" => Event {
            git_ref: s("refs/heads/feature"),
            before: s("c4c79227ed610f1151f05bbc5be33b4f340d39c8"),
            after: s(ZERO),
            pusher: s("sytses"),
            ..ev(Gitlab, BranchDeleted, gitlab_com("gitlab-org/hello-world", "master"))
        },
        "gitlab/push-captured.json" => Event {
            git_ref: s("refs/heads/master"),
            before: s("9217710ce8c7e1eae7a5d1c45f6e43e1c769f866"),
            after: s("2adc9465c4edfc33834e173fe89436a7cb899a1d"),
            commit: s("2adc9465c4edfc33834e173fe89436a7cb899a1d"),
            pusher: s("sytses"),
            message: s("added readme\n"),
            ..ev(Gitlab, Push, gitlab_com("gitlab-org/hello-world", "master"))
        },
        // commits[] holds two entries; the head one is the second, matched by checkout_sha.
        "gitlab/push.json" => Event {
            git_ref: s("refs/heads/master"),
            before: s("95790bf891e76fee5e1747ab589903a6a1f80f22"),
            after: s("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
            commit: s("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
            pusher: s("jsmith"),
            message: s("fixed readme"),
            ..ev(
                Gitlab,
                Push,
                repo(
                    "mike/diaspora",
                    "http://example.com/mike/diaspora.git",
                    "git@example.com:mike/diaspora.git",
                    "http://example.com/mike/diaspora",
                    Some("master"),
                ),
            )
        },
        // Annotated tag: `after` is the tag object, the commit is checkout_sha, and the top-level
        // `message` ("hi") is the tag's message, not the commit's.
        "gitlab/tag_push-annotated.json" => Event {
            git_ref: s("refs/tags/v22"),
            before: s(ZERO),
            after: s("fabed3d94cd03e6c2b7958afa9569c18a24d301f"),
            commit: s("16862e368d8ab812e48833b741dad720d6e2cb7f"),
            pusher: s("test"),
            message: s("Update main.go"),
            ..ev(
                Gitlab,
                TagPush,
                repo(
                    "test/woodpecker",
                    "http://10.40.8.5:3200/test/woodpecker.git",
                    "git@10.40.8.5:test/woodpecker.git",
                    "http://10.40.8.5:3200/test/woodpecker",
                    Some("develop"),
                ),
            )
        },
        "gitlab/tag_push-captured.json" => Event {
            git_ref: s("refs/tags/v1.0.0"),
            before: s(ZERO),
            after: s("2adc9465c4edfc33834e173fe89436a7cb899a1d"),
            commit: s("2adc9465c4edfc33834e173fe89436a7cb899a1d"),
            pusher: s("sytses"),
            message: s("added readme\n"),
            ..ev(Gitlab, TagPush, gitlab_com("gitlab-org/hello-world", "master"))
        },
        "gitlab/tag_push-deleted.json" => Event {
            git_ref: s("refs/tags/v1.0.0"),
            before: s("2adc9465c4edfc33834e173fe89436a7cb899a1d"),
            after: s(ZERO),
            pusher: s("sytses"),
            ..ev(Gitlab, TagDeleted, gitlab_com("gitlab-org/hello-world", "master"))
        },
        // No user_username in this docs example: the display name stands in.
        "gitlab/tag_push.json" => Event {
            git_ref: s("refs/tags/v1.0.0"),
            before: s(ZERO),
            after: s("82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"),
            commit: s("82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"),
            pusher: s("John Smith"),
            ..ev(
                Gitlab,
                TagPush,
                repo(
                    "jsmith/example",
                    "http://example.com/jsmith/example.git",
                    "git@example.com:jsmith/example.git",
                    "http://example.com/jsmith/example",
                    Some("master"),
                ),
            )
        },
        // ---- Gitea
        "gitea/create-branch.json" => Event {
            git_ref: s("refs/heads/master"),
            after: s("67b56589a45103f891bdee7c0546e5d40bc02001"),
            commit: s("67b56589a45103f891bdee7c0546e5d40bc02001"),
            pusher: s("example"),
            ..ev(Gitea, Push, localhost_gitea("example/example", "git@localhost:example/example.git"))
        },
        "gitea/create-tag.json" => Event {
            git_ref: s("refs/tags/v1.0.0"),
            after: s("599d25c67b05717269f50ac082b34f176d085179"),
            commit: s("599d25c67b05717269f50ac082b34f176d085179"),
            pusher: s("unknwon"),
            ..ev(Gitea, TagPush, try_gitea())
        },
        "gitea/delete-tag.json" => Event {
            git_ref: s("refs/tags/v1.0.0"),
            pusher: s("unknwon"),
            ..ev(Gitea, TagDeleted, try_gitea())
        },
        "gitea/pull_request-closed-merged.json" => Event {
            git_ref: s("refs/heads/main"),
            after: s("d555a5dd07f4d0148a58d4686ec381502ae6a2d4"),
            commit: s("f2440f050054df0f8ecabcace648f1683509064c"),
            pusher: s("anbraten"),
            pull_request: Some(PullRequest {
                number: 1,
                source_branch: "anbraten-patch-1".into(),
                target_branch: "main".into(),
                head_sha: s("d555a5dd07f4d0148a58d4686ec381502ae6a2d4"),
                source_clone_url: s("https://gitea.com/anbraten/test-repo.git"),
                merge_commit: s("f2440f050054df0f8ecabcace648f1683509064c"),
            }),
            ..ev(
                Gitea,
                pr(Merged),
                repo(
                    "anbraten/test-repo",
                    "https://gitea.com/anbraten/test-repo.git",
                    "git@gitea.com:anbraten/test-repo.git",
                    "https://gitea.com/anbraten/test-repo",
                    Some("main"),
                ),
            )
        },
        // A PR from a fork: the source clone URL is the fork's.
        "gitea/pull_request-opened.json" => Event {
            git_ref: s("refs/pull/2/head"),
            after: s("48e773f892a831faa47c0a160d1b7f0cd369ae2a"),
            commit: s("48e773f892a831faa47c0a160d1b7f0cd369ae2a"),
            pusher: s("example2"),
            pull_request: Some(PullRequest {
                number: 2,
                source_branch: "master".into(),
                target_branch: "master".into(),
                head_sha: s("48e773f892a831faa47c0a160d1b7f0cd369ae2a"),
                source_clone_url: s("http://localhost:3000/example2/example.git"),
                merge_commit: None,
            }),
            ..ev(Gitea, pr(Opened), localhost_gitea("example/example", "git@localhost:example/example.git"))
        },
        // Trimmed fixture: `head.repo` is absent, so there is no source clone URL.
        "gitea/pull_request-synchronized.json" => Event {
            git_ref: s("refs/pull/2/head"),
            after: s("788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25"),
            commit: s("788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25"),
            pusher: s("test"),
            pull_request: Some(PullRequest {
                number: 2,
                source_branch: "test-patch-1".into(),
                target_branch: "main".into(),
                head_sha: s("788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25"),
                source_clone_url: None,
                merge_commit: None,
            }),
            ..ev(Gitea, pr(Synchronized), multi_line_secrets())
        },
        // 2018 format: no head_commit, so the message comes from commits[] by id.
        "gitea/push-branch-2018.json" => Event {
            git_ref: s("refs/heads/master"),
            before: s("9836a96a253cce25d17988fcf41b8c4205cf779f"),
            after: s("4522cbcefc20728a5b72b3a86af35e608622c514"),
            commit: s("4522cbcefc20728a5b72b3a86af35e608622c514"),
            pusher: s("unknwon"),
            message: s("Updated readme\n"),
            ..ev(Gitea, Push, try_gitea())
        },
        "gitea/push-branch.json" => Event {
            git_ref: s("refs/heads/main"),
            before: s("6efcf5b7c98f3e7a491675164b7a2e7acac27941"),
            after: s("29be01c073851cf0db0c6a466e396b725a670453"),
            commit: s("29be01c073851cf0db0c6a466e396b725a670453"),
            pusher: s("test-user"),
            message: s("add some text\n"),
            ..ev(Gitea, Push, multi_line_secrets())
        },
        "gitea/push-docs-example-2017.json" => Event {
            git_ref: s("refs/heads/develop"),
            before: s("28e1879d029cb852e4844d9c718537df08844e03"),
            after: s("bffeb74224043ba2feb48d137756c8a9331c449a"),
            commit: s("bffeb74224043ba2feb48d137756c8a9331c449a"),
            pusher: s("gitea"),
            message: s("Webhooks Yay!"),
            ..ev(Gitea, Push, localhost_gitea("gitea/webhooks", "ssh://gitea@localhost:2222/gitea/webhooks.git"))
        },
        "gitea/push-new-branch.json" => Event {
            git_ref: s("refs/heads/master"),
            before: s(ZERO),
            after: s("67b56589a45103f891bdee7c0546e5d40bc02001"),
            commit: s("67b56589a45103f891bdee7c0546e5d40bc02001"),
            pusher: s("example"),
            message: s("example\n"),
            ..ev(Gitea, Push, localhost_gitea("example/example", "git@localhost:example/example.git"))
        },
        // ---- Forgejo
        "forgejo/pull_request-label_updated.json" => Event {
            kind: pr(PrAction::Other),
            ..forgejo_pr()
        },
        "forgejo/pull_request-reopened.json" => Event {
            kind: pr(Reopened),
            ..forgejo_pr()
        },
        "forgejo/push-docs-example.json" => Event {
            git_ref: s("refs/heads/develop"),
            before: s("28e1879d029cb852e4844d9c718537df08844e03"),
            after: s("bffeb74224043ba2feb48d137756c8a9331c449a"),
            commit: s("bffeb74224043ba2feb48d137756c8a9331c449a"),
            pusher: s("forgejo"),
            message: s("Webhooks Yay!"),
            ..ev(
                Forgejo,
                Push,
                repo(
                    "forgejo/webhooks",
                    "http://localhost:3000/forgejo/webhooks.git",
                    "ssh://forgejo@localhost:2222/forgejo/webhooks.git",
                    "http://localhost:3000/forgejo/webhooks",
                    Some("master"),
                ),
            )
        },
        // ---- Bitbucket (no clone URL in payloads: derived from full_name)
        "bitbucket/pullrequest-created.json" => Event {
            git_ref: s("refs/heads/develop"),
            after: s("507a576e59b3"),
            commit: s("507a576e59b3"),
            pusher: s("brydzewski"),
            pull_request: Some(PullRequest {
                number: 1,
                source_branch: "develop".into(),
                target_branch: "master".into(),
                head_sha: s("507a576e59b3"),
                source_clone_url: s("https://bitbucket.org/brydzewski/foo.git"),
                merge_commit: None,
            }),
            ..ev(Bitbucket, pr(Opened), bitbucket_repo("brydzewski/foo"))
        },
        "bitbucket/pullrequest-fulfilled.json" => Event {
            git_ref: s("refs/heads/main"),
            after: s("668218c13e04"),
            commit: s("006704dbeab2"),
            pusher: s("Anbraten"),
            pull_request: Some(PullRequest {
                number: 1,
                source_branch: "patch-2".into(),
                target_branch: "main".into(),
                head_sha: s("668218c13e04"),
                source_clone_url: s("https://bitbucket.org/anbraten/test-2.git"),
                merge_commit: s("006704dbeab2"),
            }),
            ..ev(Bitbucket, pr(Merged), bitbucket_repo("anbraten/test-2"))
        },
        "bitbucket/repo-push-2018.json" => Event {
            git_ref: s("refs/heads/master"),
            before: s("40e7580cf11311d84a6e5e97e2cbba6df1675750"),
            after: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            commit: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            pusher: s("brydzewski"),
            message: s("Update README\n"),
            ..ev(Bitbucket, Push, bitbucket_repo("brydzewski/foo"))
        },
        "bitbucket/repo-push-branch-created.json" => Event {
            git_ref: s("refs/heads/develop"),
            after: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            commit: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            pusher: s("brydzewski"),
            message: s("Update README\n"),
            ..ev(Bitbucket, Push, bitbucket_repo("brydzewski/foo"))
        },
        "bitbucket/repo-push-branch-deleted.json" => Event {
            git_ref: s("refs/heads/develop"),
            before: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            pusher: s("brydzewski"),
            ..ev(Bitbucket, BranchDeleted, bitbucket_repo("brydzewski/foo"))
        },
        // The docs example's links.html.href is an api.bitbucket.org URL unrelated to its
        // full_name; the clone URL follows full_name, the web URL is what the payload says.
        "bitbucket/repo-push-docs-example.json" => Event {
            git_ref: s("refs/heads/name-of-branch"),
            before: s("1e65c05c1d5171631d92438a13901ca7dae9618c"),
            after: s("709d658dc5b6d6afcd46049c2f332ee3f515a67d"),
            commit: s("709d658dc5b6d6afcd46049c2f332ee3f515a67d"),
            pusher: s("emmap1"),
            message: s("new commit message\n"),
            ..ev(
                Bitbucket,
                Push,
                Repo {
                    web_url: s("https://api.bitbucket.org/bitbucket/bitbucket"),
                    ..bitbucket_repo("team_name/repo_name")
                },
            )
        },
        "bitbucket/repo-push-tag-created.json" => Event {
            git_ref: s("refs/tags/feature/x"),
            after: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            commit: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            pusher: s("brydzewski"),
            message: s("Update README\n"),
            ..ev(Bitbucket, TagPush, bitbucket_repo("brydzewski/foo"))
        },
        "bitbucket/repo-push-tag-deleted.json" => Event {
            git_ref: s("refs/tags/feature/x"),
            before: s("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"),
            pusher: s("brydzewski"),
            ..ev(Bitbucket, TagDeleted, bitbucket_repo("brydzewski/foo"))
        },
        "bitbucket/repo-push.json" => Event {
            git_ref: s("refs/heads/main"),
            before: s("a51241ae1f00cbe728930db48e890b18fd527f99"),
            after: s("c14c1bb05dfb1fdcdf06b31485fff61b0ea44277"),
            commit: s("c14c1bb05dfb1fdcdf06b31485fff61b0ea44277"),
            pusher: s("Martin Herren"),
            message: s("a\n"),
            ..ev(Bitbucket, Push, bitbucket_repo("martinherren1984/publictestrepo"))
        },
        other => panic!("{other} is in manifest.json but has no expected event in this test"),
    };
    vec![e]
}

fn gitlab_com(full: &str, default: &str) -> Repo {
    repo(
        full,
        &format!("https://gitlab.com/{full}.git"),
        &format!("git@gitlab.com:{full}.git"),
        &format!("https://gitlab.com/{full}"),
        Some(default),
    )
}

fn localhost_gitea(full: &str, ssh: &str) -> Repo {
    repo(full, &format!("http://localhost:3000/{full}.git"), ssh, &format!("http://localhost:3000/{full}"), Some("master"))
}

fn try_gitea() -> Repo {
    repo(
        "gogits/hello-world",
        "http://try.gitea.io/gogits/hello-world.git",
        "git@localhost:gogits/hello-world.git",
        "http://try.gitea.io/gogits/hello-world",
        Some("master"),
    )
}

fn multi_line_secrets() -> Repo {
    repo(
        "Test-CI/multi-line-secrets",
        "http://127.0.0.1:3000/Test-CI/multi-line-secrets.git",
        "ssh://git@127.0.0.1:2200/Test-CI/multi-line-secrets.git",
        "http://127.0.0.1:3000/Test-CI/multi-line-secrets",
        Some("main"),
    )
}

fn forgejo_pr() -> Event {
    Event {
        git_ref: s("refs/pull/1/head"),
        after: s("36b5813240a9d2daa29b05046d56a53e18f39a3e"),
        commit: s("36b5813240a9d2daa29b05046d56a53e18f39a3e"),
        pusher: s("6543"),
        pull_request: Some(PullRequest {
            number: 1,
            source_branch: "6543-patch-1".into(),
            target_branch: "main".into(),
            head_sha: s("36b5813240a9d2daa29b05046d56a53e18f39a3e"),
            source_clone_url: s("https://codeberg.org/test_it/test_ci_thing.git"),
            merge_commit: None,
        }),
        ..ev(
            Provider::Forgejo,
            pr(PrAction::Other),
            repo(
                "test_it/test_ci_thing",
                "https://codeberg.org/test_it/test_ci_thing.git",
                "ssh://git@codeberg.org/test_it/test_ci_thing.git",
                "https://codeberg.org/test_it/test_ci_thing",
                Some("main"),
            ),
        )
    }
}

#[test]
fn every_manifest_fixture_normalizes_to_its_expected_event() {
    let manifest = manifest();
    assert!(manifest.len() >= 46, "manifest.json lists only {} fixtures", manifest.len());
    for (name, entry) in &manifest {
        // Azure DevOps is not a forge Slipway takes webhooks from yet: see the next test.
        if name.starts_with("azure-devops/") {
            continue;
        }
        let got = receive(name, &entry["event_headers_inferred"]);
        assert_eq!(got, expected(name), "{name}");
    }
}

/// Azure DevOps service hooks sign nothing and carry no event header (the event is the body's
/// `eventType`): Slipway does not take them yet, and says so instead of guessing. Each of its
/// fixtures, sent as Azure DevOps sends it (JSON, no forge headers), is detected as no forge,
/// so the listener answers 400 "no forge headers" and queues nothing.
#[test]
fn azure_devops_deliveries_are_not_taken_for_another_forge() {
    let manifest = manifest();
    let azure: Vec<&String> = manifest.keys().filter(|n| n.starts_with("azure-devops/")).collect();
    assert!(!azure.is_empty(), "the fixtures have Azure DevOps payloads");
    for name in azure {
        let body: serde_json::Value = serde_json::from_slice(&read(name)).unwrap();
        assert!(body["eventType"].as_str().is_some_and(|t| t.starts_with("git.")), "{name}: an Azure DevOps git event");
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
        h.insert("user-agent", HeaderValue::from_static("VSServices/16.255.0.0"));
        assert_eq!(webhook::detect(&h), None, "{name}");
    }
}

#[test]
fn every_fixture_file_is_in_the_manifest() {
    let listed: BTreeSet<String> = manifest().keys().cloned().collect();
    let mut on_disk = BTreeSet::new();
    for dir in std::fs::read_dir(FIXTURES).unwrap() {
        let dir = dir.unwrap();
        if !dir.file_type().unwrap().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            on_disk.insert(format!("{}/{file}", dir.file_name().to_string_lossy()));
        }
    }
    assert_eq!(on_disk, listed);
}

#[test]
fn helpers_strip_ref_prefixes() {
    let push = &expected("github/push-branch.json")[0];
    assert_eq!((push.branch(), push.tag()), (Some("main"), None));
    let tag = &expected("bitbucket/repo-push-tag-created.json")[0];
    assert_eq!((tag.branch(), tag.tag()), (None, Some("feature/x")));
    let ping = &expected("github/ping.json")[0];
    assert_eq!((ping.branch(), ping.tag()), (None, None));
}

/// One Bitbucket push can change several refs; each becomes its own event, in order.
#[test]
fn bitbucket_multi_change_push_gives_one_event_per_change() {
    let mut payload: serde_json::Value = serde_json::from_slice(&read("bitbucket/repo-push-2018.json")).unwrap();
    let created = serde_json::from_slice::<serde_json::Value>(&read("bitbucket/repo-push-tag-created.json")).unwrap();
    let deleted = serde_json::from_slice::<serde_json::Value>(&read("bitbucket/repo-push-branch-deleted.json")).unwrap();
    let changes = payload["push"]["changes"].as_array_mut().unwrap();
    changes.push(created["push"]["changes"][0].clone());
    changes.push(deleted["push"]["changes"][0].clone());
    changes[0]["forced"] = serde_json::Value::Bool(true);
    let body = serde_json::to_vec(&payload).unwrap();
    let events = webhook::normalize(Provider::Bitbucket, "repo:push", Some("r1"), &body).unwrap();
    let summary: Vec<_> =
        events.iter().map(|e| (e.kind.clone(), e.git_ref.as_deref(), e.commit.as_deref(), e.forced, e.delivery_id.as_deref())).collect();
    assert_eq!(
        summary,
        [
            (EventKind::Push, Some("refs/heads/master"), Some("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"), true, Some("r1")),
            (EventKind::TagPush, Some("refs/tags/feature/x"), Some("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"), false, Some("r1")),
            (EventKind::BranchDeleted, Some("refs/heads/develop"), None, false, Some("r1")),
        ]
    );
}

#[test]
fn bitbucket_pull_request_updated_and_rejected() {
    let body = read("bitbucket/pullrequest-created.json");
    for (event, action) in [("pullrequest:updated", PrAction::Synchronized), ("pullrequest:rejected", PrAction::Closed)] {
        let e = &webhook::normalize(Provider::Bitbucket, event, None, &body).unwrap()[0];
        assert_eq!(e.kind, EventKind::PullRequest { action });
        assert_eq!(e.commit.as_deref(), Some("507a576e59b3"));
    }
    let other = &webhook::normalize(Provider::Bitbucket, "issue:created", None, &body).unwrap()[0];
    assert_eq!(other.kind, EventKind::Other { event: "issue:created".into() });
}

#[test]
fn gitlab_merge_request_update_is_synchronized_only_with_oldrev() {
    let mut payload: serde_json::Value = serde_json::from_slice(&read("gitlab/merge_request-opened-captured.json")).unwrap();
    payload["object_attributes"]["action"] = "update".into();
    let kind = |p: &serde_json::Value| {
        webhook::normalize(Provider::Gitlab, "Merge Request Hook", None, &serde_json::to_vec(p).unwrap()).unwrap()[0].kind.clone()
    };
    assert_eq!(kind(&payload), EventKind::PullRequest { action: PrAction::Other });
    payload["object_attributes"]["oldrev"] = "9217710ce8c7e1eae7a5d1c45f6e43e1c769f866".into();
    assert_eq!(kind(&payload), EventKind::PullRequest { action: PrAction::Synchronized });
    for (action, want) in [("close", PrAction::Closed), ("reopen", PrAction::Reopened), ("approved", PrAction::Other)] {
        payload["object_attributes"]["action"] = action.into();
        assert_eq!(kind(&payload), EventKind::PullRequest { action: want }, "{action}");
    }
}

/// GitHub's `delete` event and a GitHub-style push of a deletion that has no `deleted` flag.
#[test]
fn deletions_without_a_flag_are_recognised_by_the_zero_sha() {
    let body = br#"{"ref":"topic","ref_type":"branch","repository":{"full_name":"o/r"},"sender":{"login":"u"}}"#;
    let e = &webhook::normalize(Provider::Github, "delete", None, body).unwrap()[0];
    assert_eq!((e.kind.clone(), e.git_ref.as_deref(), e.commit.as_deref()), (EventKind::BranchDeleted, Some("refs/heads/topic"), None));
    let body = format!(r#"{{"ref":"refs/heads/x","before":"{}","after":"{ZERO}","repository":{{"full_name":"o/r"}}}}"#, "a".repeat(40));
    let e = &webhook::normalize(Provider::Gitea, "push", None, body.as_bytes()).unwrap()[0];
    assert_eq!((e.kind.clone(), e.commit.as_deref()), (EventKind::BranchDeleted, None));
}

#[test]
fn detect_prefers_the_most_specific_header_family() {
    let gitea_also_sends_github = headers(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")]);
    assert_eq!(webhook::detect(&gitea_also_sends_github), Some(Provider::Gitea));
    let forgejo = headers(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push"), ("X-Forgejo-Event", "push")]);
    assert_eq!(webhook::detect(&forgejo), Some(Provider::Forgejo));
    let bitbucket = headers(&[("X-Event-Key", "repo:push"), ("X-Request-UUID", "u")]);
    assert_eq!(webhook::detect(&bitbucket), Some(Provider::Bitbucket));
    assert_eq!(webhook::detect(&headers(&[("X-Event-Key", "repo:push")])), None);
    assert_eq!(webhook::detect(&headers(&[("X-Gitlab-Token", "t")])), Some(Provider::Gitlab));
    assert_eq!(webhook::detect(&headers(&[("Content-Type", "application/json")])), None);
    let gitlab_old = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Event-UUID", "old")]);
    assert_eq!(webhook::delivery_id(Provider::Gitlab, &gitlab_old).as_deref(), Some("old"));
    assert_eq!(webhook::event_name(Provider::Gitlab, &gitlab_old).as_deref(), Some("Push Hook"));
    assert_eq!(webhook::event_name(Provider::Github, &headers(&[("X-GitHub-Event", "  ")])), None);
}

// ---- payload extraction and parse errors

#[test]
fn form_encoded_payloads_are_decoded() {
    let form = headers(&[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]);
    let json = webhook::payload_json(&form, b"payload=%7B%22a%22%3A+%22b+c%22%7D&x=1").unwrap();
    assert_eq!(&*json, br#"{"a": "b c"}"#);
    assert!(matches!(webhook::payload_json(&form, b"x=1"), Err(ParseError::Missing(_))));
    let plain = headers(&[("Content-Type", "application/json")]);
    assert_eq!(&*webhook::payload_json(&plain, b" {}").unwrap(), b" {}");
    assert!(matches!(webhook::payload_json(&plain, b"hello"), Err(ParseError::Json(_))));
}

#[test]
fn garbage_and_truncated_json_is_a_json_error() {
    let full = read("github/push-branch.json");
    let truncated = &full[..full.len() / 2];
    for (provider, event, body) in [
        (Provider::Github, "push", truncated),
        (Provider::Gitlab, "Push Hook", &b"\x00\xffnot json"[..]),
        (Provider::Bitbucket, "repo:push", &b"[1,2,3]"[..]),
        (Provider::Gitea, "push", &b""[..]),
        (Provider::Github, "release", &b"{"[..]),
    ] {
        let err = webhook::normalize(provider, event, None, body).unwrap_err();
        assert!(matches!(err, ParseError::Json(_)), "{provider:?} {event}: {err:?}");
    }
}

#[test]
fn wrong_field_types_are_errors_not_panics() {
    let cases: &[(Provider, &str, &str)] = &[
        (Provider::Github, "push", r#"{"ref": 5, "after": "abc"}"#),
        (Provider::Github, "pull_request", r#"{"action": "opened", "pull_request": {"number": "seven"}}"#),
        (Provider::Gitea, "push", r#"{"ref": "refs/heads/x", "commits": {"id": 1}}"#),
        (Provider::Gitlab, "Push Hook", r#"{"ref": "refs/heads/x", "project": []}"#),
        (Provider::Gitlab, "Merge Request Hook", r#"{"object_attributes": {"iid": -1}}"#),
        (Provider::Bitbucket, "repo:push", r#"{"push": {"changes": "all of them"}}"#),
    ];
    for (provider, event, body) in cases {
        let err = webhook::normalize(*provider, event, None, body.as_bytes()).unwrap_err();
        assert!(matches!(err, ParseError::Json(_)), "{body}: {err:?}");
    }
}

#[test]
fn missing_fields_say_what_is_missing() {
    let repo = r#""repository": {"full_name": "o/r"}"#;
    let a = "a".repeat(40);
    let cases: Vec<(Provider, &str, String, &str)> = vec![
        (Provider::Github, "push", format!(r#"{{"after": "{a}", {repo}}}"#), "push payload has no `ref`"),
        (Provider::Github, "push", format!(r#"{{"ref": "refs/heads/x", "after": "{a}"}}"#), "push payload has no `repository`"),
        (
            Provider::Forgejo,
            "push",
            format!(r#"{{"ref": "refs/heads/x", "after": "not a sha; rm -rf /", {repo}}}"#),
            "push `after` is not a commit hash",
        ),
        (
            Provider::Github,
            "create",
            format!(r#"{{"ref": "x", "ref_type": "repository", {repo}}}"#),
            "create payload has no `ref_type` of branch or tag",
        ),
        (Provider::Github, "pull_request", format!(r#"{{"action": "opened", {repo}}}"#), "pull_request payload has no `pull_request`"),
        (Provider::Gitlab, "Push Hook", r#"{"ref": "refs/heads/x"}"#.into(), "push payload has no `project`"),
        (
            Provider::Gitlab,
            "Merge Request Hook",
            r#"{"project": {}, "object_attributes": {"iid": 1}}"#.into(),
            "merge request payload has no `source_branch`",
        ),
        (Provider::Bitbucket, "repo:push", format!(r#"{{{repo}, "push": {{"changes": []}}}}"#), "push payload has no `push.changes`"),
        (
            Provider::Bitbucket,
            "repo:push",
            format!(r#"{{{repo}, "push": {{"changes": [{{"new": null, "old": null}}]}}}}"#),
            "push change has neither `new` nor `old`",
        ),
        (Provider::Bitbucket, "pullrequest:created", format!(r#"{{{repo}}}"#), "pull request payload has no `pullrequest`"),
    ];
    for (provider, event, body, want) in cases {
        match webhook::normalize(provider, event, None, body.as_bytes()) {
            Err(ParseError::Missing(msg)) => assert_eq!(msg, want, "{body}"),
            other => panic!("{body}: expected Missing({want}), got {other:?}"),
        }
    }
}

#[test]
fn events_serialize_with_a_type_tag() {
    let e = &expected("gitea/pull_request-synchronized.json")[0];
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(json["provider"], "gitea");
    assert_eq!(json["kind"], serde_json::json!({"type": "pull_request", "action": "synchronized"}));
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), *e);
}

// ---- signatures

/// GitHub's published known-answer vector (docs, "Testing the webhook payload validation").
const KAT_SECRET: &[u8] = b"It's a Secret to Everybody";
const KAT_BODY: &[u8] = b"Hello, World!";
const KAT_HEX: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn known_answer_vector_verifies_for_every_hmac_provider() {
    let sha256 = format!("sha256={KAT_HEX}");
    let cases = [
        (Provider::Github, "X-Hub-Signature-256", sha256.as_str()),
        (Provider::Bitbucket, "X-Hub-Signature", sha256.as_str()),
        (Provider::Gitea, "X-Gitea-Signature", KAT_HEX),
        (Provider::Forgejo, "X-Forgejo-Signature", KAT_HEX),
        // Forgejo instances that only send Gitea's header name.
        (Provider::Forgejo, "X-Gitea-Signature", KAT_HEX),
    ];
    for (provider, header, value) in cases {
        let h = headers(&[(header, value)]);
        assert_eq!(webhook::verify(provider, &h, KAT_BODY, KAT_SECRET), Ok(()), "{provider:?} {header}");
        let upper = headers(&[(header, &value.to_ascii_uppercase().replace("SHA256=", "sha256="))]);
        assert_eq!(webhook::verify(provider, &upper, KAT_BODY, KAT_SECRET), Ok(()), "{provider:?} uppercase hex");
        assert_eq!(webhook::verify(provider, &h, KAT_BODY, b"It's a secret to everybody"), Err(VerifyError::Mismatch));
        assert_eq!(webhook::verify(provider, &h, b"Hello, World!\n", KAT_SECRET), Err(VerifyError::Mismatch));
        assert_eq!(webhook::verify(provider, &h, KAT_BODY, b""), Err(VerifyError::Mismatch), "empty secret");
    }
}

#[test]
fn missing_empty_and_malformed_signatures_are_refused() {
    let gh = |v: &str| webhook::verify(Provider::Github, &headers(&[("X-Hub-Signature-256", v)]), KAT_BODY, KAT_SECRET);
    assert_eq!(gh(""), Err(VerifyError::Empty("X-Hub-Signature-256")));
    // What Gitea sends in the GitHub-compatible header when no secret is configured.
    assert_eq!(gh("sha256="), Err(VerifyError::Empty("X-Hub-Signature-256")));
    assert_eq!(
        gh("sha256=zz07107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
        Err(VerifyError::Malformed("X-Hub-Signature-256"))
    );
    assert_eq!(gh("sha256=757107ea"), Err(VerifyError::Malformed("X-Hub-Signature-256")));
    assert_eq!(gh(KAT_HEX), Err(VerifyError::Malformed("X-Hub-Signature-256")), "no sha256= prefix");
    assert_eq!(gh("sha1=0123456789abcdef0123456789abcdef01234567"), Err(VerifyError::Malformed("X-Hub-Signature-256")));
    let none = HeaderMap::new();
    assert_eq!(webhook::verify(Provider::Github, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Hub-Signature-256")));
    assert_eq!(webhook::verify(Provider::Bitbucket, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Hub-Signature")));
    assert_eq!(webhook::verify(Provider::Gitea, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Gitea-Signature")));
    assert_eq!(webhook::verify(Provider::Forgejo, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Forgejo-Signature")));
    assert_eq!(webhook::verify(Provider::Gitlab, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Gitlab-Token")));
    // Gitea with no secret configured sends the header empty.
    let empty = headers(&[("X-Gitea-Signature", "")]);
    assert_eq!(webhook::verify(Provider::Gitea, &empty, KAT_BODY, KAT_SECRET), Err(VerifyError::Empty("X-Gitea-Signature")));
    // Only the SHA-256 header counts for GitHub: a valid-looking SHA-1 one is not enough.
    let sha1_only = headers(&[("X-Hub-Signature", &format!("sha256={KAT_HEX}"))]);
    assert_eq!(webhook::verify(Provider::Github, &sha1_only, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Hub-Signature-256")));
}

/// Gitea signs the JSON it puts in the form's `payload` field, not the form body it sends.
#[test]
fn gitea_form_delivery_is_verified_against_the_decoded_payload() {
    let json = read("gitea/push-branch.json");
    let sig = hmac_hex(SECRET, &json);
    let form: String = form_urlencoded::Serializer::new(String::new()).append_pair("payload", std::str::from_utf8(&json).unwrap()).finish();
    for (provider, header) in [(Provider::Gitea, "X-Gitea-Signature"), (Provider::Forgejo, "X-Forgejo-Signature")] {
        let h = headers(&[("Content-Type", "application/x-www-form-urlencoded"), (header, &sig)]);
        assert_eq!(webhook::verify(provider, &h, form.as_bytes(), SECRET), Ok(()), "{provider:?}");
        // The same signature over the raw form body would be the wrong construction.
        let over_form = hmac_hex(SECRET, form.as_bytes());
        let wrong = headers(&[("Content-Type", "application/x-www-form-urlencoded"), (header, &over_form)]);
        assert_eq!(webhook::verify(provider, &wrong, form.as_bytes(), SECRET), Err(VerifyError::Mismatch));
        let no_payload = headers(&[("Content-Type", "application/x-www-form-urlencoded"), (header, &sig)]);
        assert_eq!(webhook::verify(provider, &no_payload, b"other=1", SECRET), Err(VerifyError::Malformed("payload")));
        // And the decoded payload normalizes like the JSON delivery.
        let decoded = webhook::payload_json(&h, form.as_bytes()).unwrap();
        assert_eq!(&*decoded, &json[..]);
        let e = &webhook::normalize(provider, "push", None, &decoded).unwrap()[0];
        assert_eq!(e.commit.as_deref(), Some("29be01c073851cf0db0c6a466e396b725a670453"));
    }
}

#[test]
fn gitlab_token_is_compared_to_the_secret() {
    let h = |t: &str| headers(&[("X-Gitlab-Token", t)]);
    assert_eq!(webhook::verify(Provider::Gitlab, &h("s3cret"), b"{}", b"s3cret"), Ok(()));
    assert_eq!(webhook::verify(Provider::Gitlab, &h("s3cre"), b"{}", b"s3cret"), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h("s3cret!"), b"{}", b"s3cret"), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(""), b"{}", b"s3cret"), Err(VerifyError::Empty("X-Gitlab-Token")));
    assert_eq!(webhook::verify(Provider::Gitlab, &h("x"), b"{}", b""), Err(VerifyError::Mismatch), "empty secret");
}

/// The Standard Webhooks specification's published test vector (also in the svix libraries),
/// which GitLab's optional signing token follows.
#[test]
fn gitlab_standard_webhooks_signature() {
    const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let h = |sig: &str, ts: &str| {
        headers(&[("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", ts), ("webhook-signature", sig)])
    };
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), BODY, SECRET), Ok(()));
    // Key rotation: any one of several signatures may match.
    let rotated = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SIG}");
    assert_eq!(webhook::verify(Provider::Gitlab, &h(&rotated, "1614265330"), BODY, SECRET), Ok(()));
    // The secret without its prefix is the same key.
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), BODY, b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Ok(()));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265331"), BODY, SECRET), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), b"{\"test\": 1}", SECRET), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), BODY, b"whsec_"), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "16142653x0"), BODY, SECRET), Err(VerifyError::Malformed("webhook-timestamp")));
    assert_eq!(
        webhook::verify(Provider::Gitlab, &h("v1a,abc", "1614265330"), BODY, SECRET),
        Err(VerifyError::Malformed("webhook-signature"))
    );
    let no_id = headers(&[("webhook-timestamp", "1614265330"), ("webhook-signature", SIG)]);
    assert_eq!(webhook::verify(Provider::Gitlab, &no_id, BODY, SECRET), Err(VerifyError::Missing("webhook-id")));
    // A hook configured with both a token and a signing token passes on the token too.
    let mut both = h("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1614265330");
    both.insert("x-gitlab-token", HeaderValue::from_static("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_eq!(webhook::verify(Provider::Gitlab, &both, BODY, SECRET), Ok(()));
    both.insert("x-gitlab-token", HeaderValue::from_static("wrong"));
    assert_eq!(webhook::verify(Provider::Gitlab, &both, BODY, SECRET), Err(VerifyError::Mismatch));
}
