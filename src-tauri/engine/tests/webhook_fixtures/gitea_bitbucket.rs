//! What each Gitea, Forgejo and Bitbucket fixture must normalize to (see `expected` in the parent).

use super::*;

// Longer than 80 lines: a table, one arm per fixture file.
/// Gitea's and Forgejo's fixtures (Forgejo keeps Gitea's payloads).
pub(super) fn gitea(name: &str) -> Event {
    use EventKind::{Push, TagDeleted, TagPush};
    use PrAction::{Merged, Opened, Reopened, Synchronized};
    use Provider::*;
    match name {
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
        "gitea/delete-tag.json" => Event { git_ref: s("refs/tags/v1.0.0"), pusher: s("unknwon"), ..ev(Gitea, TagDeleted, try_gitea()) },
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
        "forgejo/pull_request-label_updated.json" => Event { kind: pr(PrAction::Other), ..forgejo_pr() },
        "forgejo/pull_request-reopened.json" => Event { kind: pr(Reopened), ..forgejo_pr() },
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
        other => unknown(other),
    }
}

// Longer than 80 lines: a table, one arm per fixture file.
/// Bitbucket Cloud's fixtures.
pub(super) fn bitbucket(name: &str) -> Event {
    use EventKind::{BranchDeleted, Push, TagDeleted, TagPush};
    use PrAction::{Merged, Opened};
    use Provider::*;
    match name {
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
                Repo { web_url: s("https://api.bitbucket.org/bitbucket/bitbucket"), ..bitbucket_repo("team_name/repo_name") },
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
        other => unknown(other),
    }
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
