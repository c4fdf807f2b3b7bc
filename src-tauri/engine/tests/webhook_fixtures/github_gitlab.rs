//! What each GitHub and GitLab fixture must normalize to (see `expected` in the parent).

use super::*;

// Longer than 80 lines: a table, one arm per fixture file.
/// GitHub's fixtures.
pub(super) fn github(name: &str) -> Event {
    use EventKind::{BranchDeleted, Ping, Push, TagDeleted, TagPush};
    use PrAction::{Merged, Opened, Synchronized};
    use Provider::*;
    match name {
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
        other => unknown(other),
    }
}

// Longer than 80 lines: a table, one arm per fixture file.
/// GitLab's fixtures.
pub(super) fn gitlab(name: &str) -> Event {
    use EventKind::{BranchDeleted, Push, TagDeleted, TagPush};
    use PrAction::{Merged, Opened};
    use Provider::*;
    match name {
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
        other => unknown(other),
    }
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
