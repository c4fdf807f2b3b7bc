//! Refusals from the forge (401, 403, 404, 422, …): each says which forge, which repository
//! and what to fix.

use super::*;

#[tokio::test]
async fn unauthorized_names_forge_repo_and_needed_permission() {
    let cases = [
        (
            Provider::Github,
            "GitHub",
            "",
            r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#,
            "Bad credentials",
            "repo:status",
        ),
        (Provider::Gitlab, "GitLab", "/api/v4", r#"{"message":"401 Unauthorized"}"#, "401 Unauthorized", "api scope"),
        (
            Provider::Gitea,
            "Gitea",
            "/api/v1",
            r#"{"message":"user does not have required permissions","url":"x"}"#,
            "required permissions",
            "write:repository",
        ),
        (Provider::Forgejo, "Forgejo", "/api/v1", r#"{"message":"token is required"}"#, "token is required", "write:repository"),
        (
            Provider::Bitbucket,
            "Bitbucket",
            "/2.0",
            r#"{"type":"error","error":{"message":"Access token expired."}}"#,
            "Access token expired.",
            "repository scope",
        ),
    ];
    for (provider, forge, suffix, body, forge_says, needs) in cases {
        let (base, stub) = start(Reply::Status(401, body)).await;
        let target = target(provider, format!("{base}{suffix}"), "acme/web");
        let err = report(&http(), &target, SHA, &status(RunState::Running, "slipway/dev", "deploying", Some(LINK)))
            .await
            .expect_err("401 must fail");
        assert!(matches!(err, StatusError::Unauthorized { status: 401, .. }), "{provider:?}: {err:?}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("{forge} refused the token for acme/web (HTTP 401")), "{text}");
        for needle in ["revoked", forge_says, needs] {
            assert!(text.contains(needle), "{provider:?}: {needle:?} missing from {text}");
        }
        assert!(!text.contains(TOKEN), "the token never appears in messages");
        let received = stub.received();
        assert_eq!(received.len(), 1, "{provider:?}");
        assert_eq!(received[0].method, Method::POST);
    }
}

#[tokio::test]
async fn forbidden_is_an_auth_refusal_too() {
    let (base, stub) = start(Reply::Status(403, r#"{"message":"Resource not accessible by personal access token"}"#)).await;
    let target = target(Provider::Github, base, "acme/web");
    let err = report(&http(), &target, SHA, &status(RunState::Failed, "slipway/dev", "boom", None)).await.expect_err("403 must fail");
    assert!(matches!(err, StatusError::Unauthorized { status: 403, .. }), "{err:?}");
    assert!(err.to_string().contains("Commit statuses"), "{err}");
    assert_eq!(stub.received().len(), 1);
}

#[tokio::test]
async fn not_found_names_repo_and_commit() {
    let (base, stub) = start(Reply::Status(404, r#"{"message":"404 Project Not Found"}"#)).await;
    let target = target(Provider::Gitlab, format!("{base}/api/v4"), "acme/gone");
    let err = report(&http(), &target, SHA, &status(RunState::Pending, "slipway/dev", "queued", None)).await.expect_err("404 must fail");
    assert!(matches!(err, StatusError::NotFound { .. }), "{err:?}");
    let text = err.to_string();
    for needle in ["GitLab", "acme/gone", SHA, "404 Project Not Found"] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
    let received = stub.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, format!("/api/v4/projects/acme%2Fgone/statuses/{SHA}"));
}

#[tokio::test]
async fn other_refusals_carry_the_forges_explanation() {
    let cases = [
        (
            Provider::Github,
            "",
            422,
            r#"{"message":"Validation Failed","errors":[{"resource":"Status","code":"custom","field":"description","message":"description is too long (maximum is 140 characters)"}]}"#,
            "Validation Failed: description is too long (maximum is 140 characters)",
        ),
        (
            Provider::Bitbucket,
            "/2.0",
            400,
            r#"{"type":"error","error":{"message":"key: Ensure this value has at most 40 characters (it has 48).","fields":{"key":["Ensure this value has at most 40 characters (it has 48)."]}}}"#,
            "key: Ensure this value has at most 40 characters (it has 48).",
        ),
        (Provider::Gitlab, "/api/v4", 400, r#"{"error":"state does not have a valid value"}"#, "state does not have a valid value"),
        (Provider::Gitea, "/api/v1", 502, "<html><body>502 Bad Gateway</body></html>", "502 Bad Gateway"),
        (Provider::Forgejo, "/api/v1", 500, "", "no explanation in the response"),
    ];
    for (provider, suffix, code, body, explanation) in cases {
        let (base, stub) = start(Reply::Status(code, body)).await;
        let target = target(provider, format!("{base}{suffix}"), "acme/web");
        let err = report(&http(), &target, SHA, &status(RunState::Succeeded, "slipway/dev", "live", Some(LINK)))
            .await
            .expect_err("refusal must fail");
        match &err {
            StatusError::Rejected { status, repo, .. } => {
                assert_eq!(*status, code);
                assert_eq!(repo, "acme/web");
            }
            other => panic!("{provider:?}: expected Rejected, got {other:?}"),
        }
        assert!(err.to_string().contains(explanation), "{provider:?}: {err}");
        assert!(err.to_string().contains(&format!("HTTP {code}")), "{provider:?}: {err}");
        assert_eq!(stub.received().len(), 1, "{provider:?}");
    }
}

#[tokio::test]
async fn a_followed_redirect_is_not_taken_for_success() {
    // A renamed GitLab project answers 301; a client that follows it turns the POST into a GET,
    // whose 200 says nothing about the status.
    let (base, stub) = start(Reply::MovedTo("/api/v4/projects/81/statuses/moved")).await;
    let target = target(Provider::Gitlab, format!("{base}/api/v4"), "acme/old-name");
    let err =
        report(&http(), &target, SHA, &status(RunState::Succeeded, "slipway/dev", "live", None)).await.expect_err("redirect must fail");
    assert!(matches!(err, StatusError::Redirected { .. }), "{err:?}");
    assert!(err.to_string().contains("/api/v4/projects/81/statuses/moved"), "{err}");
    let received = stub.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].method, Method::POST);
    assert_eq!(received[0].path, format!("/api/v4/projects/acme%2Fold-name/statuses/{SHA}"));
    assert_eq!(received[1].method, Method::GET, "the follow-up lost the POST");

    // A client that doesn't follow redirects gets the same answer, from the Location header.
    let (base, stub) = start(Reply::MovedTo("/elsewhere")).await;
    let target = StatusTarget { api_base: format!("{base}/api/v4"), ..target };
    let strict = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let err =
        report(&strict, &target, SHA, &status(RunState::Succeeded, "slipway/dev", "live", None)).await.expect_err("redirect must fail");
    assert!(matches!(&err, StatusError::Redirected { location, .. } if location == "/elsewhere"), "{err:?}");
    assert_eq!(stub.received().len(), 1);
}
