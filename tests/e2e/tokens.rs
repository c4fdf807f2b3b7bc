//! Forge tokens: stored in the keychain, used for HTTPS remotes, and a wrong one named plainly.
//! The remote is the real `git http-backend` behind HTTP basic auth, as forges serve private
//! repositories (here on plain HTTP: TLS is not what is tested).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use reqwest::Method as M;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::kit::*;

/// Runs `git http-backend` as a CGI program for one request.
async fn cgi(root: PathBuf, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(""))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "deploy")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).await.unwrap();
    let out = child.wait_with_output().await.unwrap().stdout;
    let split =
        out.windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p, 4)).or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let (at, sep) = split.expect("CGI output has headers");
    let mut status = StatusCode::OK;
    let mut resp_headers = Vec::new();
    for line in String::from_utf8_lossy(&out[..at]).lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        if k.eq_ignore_ascii_case("status") {
            status = StatusCode::from_u16(v.trim()[..3].parse().unwrap()).unwrap();
        } else {
            resp_headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = (status, out[at + sep..].to_vec()).into_response();
    for (k, v) in resp_headers {
        resp.headers_mut().insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    resp
}

/// Serves `root/srv` over smart HTTP, answering 401 unless basic auth is `user:token`.
pub(crate) async fn serve_private(root: &Path, user: &str, token: &str) -> String {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}")));
    let srv = root.join("srv");
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (expected, srv) = (expected.clone(), srv.clone());
        async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                return (StatusCode::UNAUTHORIZED, [("WWW-Authenticate", "Basic realm=\"git\"")], "auth required").into_response();
            }
            cgi(srv, method, uri, headers, body).await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/team/app.git", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_repository_is_polled_with_the_keychain_token_and_a_wrong_one_is_named() {
    let root = tempfile::tempdir().unwrap();
    make_repo(root.path());
    let url = serve_private(root.path(), "deploy", "right-token").await;
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());

    let account = format!("acct-{}", std::process::id());
    let (status, saved) = api
        .send(M::PUT, &format!("/forge-accounts/{account}"), json!({"forge": "gitea", "username": "deploy", "token": "right-token"}))
        .await;
    assert_eq!(status, 200, "{saved}");
    assert!(saved.get("token").is_none(), "the token is never sent back: {saved}");
    // The token is in the keychain, not on disk.
    let db = std::fs::read(dir.path().join("slipway.db")).unwrap();
    assert!(!db.windows(11).any(|w| w == b"right-token"));

    let (status, p) =
        api.send(M::POST, "/projects", json!({"name": "private", "repo_url": url, "forge": "gitea", "token_ref": account})).await;
    assert_eq!(status, 201, "{p}");
    let (status, p) = api.send(M::POST, "/projects/private/poll", json!({})).await;
    assert_eq!(status, 200, "{p}");
    assert!(p["last_poll_error"].is_null(), "{p}");

    // The token is revoked: the error names the forge, the account and the repository.
    api.send(M::PUT, &format!("/forge-accounts/{account}"), json!({"forge": "gitea", "username": "deploy", "token": "revoked"})).await;
    let (status, err) = api.send(M::POST, "/projects/private/poll", json!({})).await;
    assert_eq!(status, 502, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with(&format!("gitea refused the token of account \"{account}\" for {url}")), "{msg}");

    // No account at all: the message says what to configure.
    let (status, _) = api.send(M::POST, "/projects", json!({"name": "anon", "repo_url": url, "forge": "gitea"})).await;
    assert_eq!(status, 201);
    let (status, err) = api.send(M::POST, "/projects/anon/poll", json!({})).await;
    assert_eq!(status, 502, "{err}");
    assert!(err["message"].as_str().unwrap().contains("needs credentials"), "{err}");
}
