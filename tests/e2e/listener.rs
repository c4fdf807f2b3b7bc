//! The listener under abuse, from outside: connections that send nothing, headers a byte at a
//! time, a body that stalls halfway, more connections than the cap, a body refused before it
//! is read. Each is closed or answered in bounded time, and the API on its own loopback
//! listener stays answerable throughout.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::kit::*;

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://").trim_end_matches('/').split('/').next().unwrap().to_string()
}

/// Reads until the server closes; the time it took and what it sent.
async fn until_closed(mut s: TcpStream, limit: Duration) -> (Duration, String) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was still open after {limit:?}"),
        }
    }
    (start.elapsed(), String::from_utf8_lossy(&got).into_owned())
}

fn signed_push(secret: &str, id: &str) -> (Vec<u8>, Vec<(String, String)>) {
    let body = fixture("github/push-branch.json");
    let sig = format!("sha256={}", hmac_hex(secret, &body));
    let headers =
        vec![("X-GitHub-Event".into(), "push".into()), ("X-GitHub-Delivery".into(), id.into()), ("X-Hub-Signature-256".into(), sig)];
    (body, headers)
}

async fn post(url: &str, body: Vec<u8>, headers: &[(String, String)]) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().post(url).header("Content-Type", "application/json").body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), retry, resp.json().await.unwrap_or(Value::Null))
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_slow_and_surplus_connections_are_closed_or_refused_and_the_api_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless_with(dir.path(), &[("SLIPWAY_MAX_CONNECTIONS", "64")]);
    let api_url = engine_file(dir.path()).unwrap()["api_url"].as_str().expect("engine.json names the API listener").to_string();
    assert_ne!(api_url, base);
    let api = Api::new(&api_url, dir.path());
    let (status, p) = api.send(Method::POST, "/projects", json!({"name": "gate", "repo_url": "https://example.invalid/a.git", "forge": "github", "stages": [{"name": "dev", "branch_patterns": ["*"]}]})).await;
    assert_eq!(status, 201, "{p}");
    let (status, _) = api.send(Method::PUT, "/runner", json!({"held": true})).await;
    assert_eq!(status, 200);
    let hook = api.get("/projects/gate/webhook").await;
    let (url, secret) = (hook["url"].as_str().unwrap().to_string(), hook["secret"].as_str().unwrap().to_string());
    let public = addr_of(&base);

    // A body that stalls halfway gets 408 at the body deadline; headers sent a byte a second
    // are cut off at the headers' deadline.
    let (body, headers) = signed_push(&secret, "stall");
    let mut stall = TcpStream::connect(&public).await.unwrap();
    let mut head = format!("POST /hooks/gate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stall.write_all(head.as_bytes()).await.unwrap();
    stall.write_all(&body[..10]).await.unwrap();
    let stalled = tokio::spawn(until_closed(stall, Duration::from_secs(40)));
    // The same on the API's own listener (which has no idle watchdog): an operation's body
    // that stalls is answered 408 at its deadline, not held.
    let mut api_stall = TcpStream::connect(addr_of(&api_url)).await.unwrap();
    let token = std::fs::read_to_string(dir.path().join("api-token")).unwrap();
    let head = format!(
        "PUT /api/v1/runner HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"held\":",
        token.trim()
    );
    api_stall.write_all(head.as_bytes()).await.unwrap();
    let api_stalled = tokio::spawn(until_closed(api_stall, Duration::from_secs(40)));
    let slow = TcpStream::connect(&public).await.unwrap();
    let (mut slow_read, mut slow_write) = slow.into_split();
    tokio::spawn(async move {
        for b in b"POST /hooks/gate HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
            if slow_write.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let slowloris = tokio::spawn(async move {
        let start = Instant::now();
        let mut buf = [0u8; 1024];
        while let Ok(n) = tokio::time::timeout(Duration::from_secs(30), slow_read.read(&mut buf)).await.unwrap() {
            if n == 0 {
                break;
            }
        }
        start.elapsed()
    });

    // Fill the cap with connections that send nothing.
    let mut idle = Vec::new();
    for _ in 0..62 {
        idle.push(TcpStream::connect(&public).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Past the cap: 503 with Retry-After, at once; the API's own listener answers meanwhile.
    let (body, headers) = signed_push(&secret, "over-cap");
    let t = Instant::now();
    let (status, retry, v) = post(&url, body, &headers).await;
    assert_eq!((status, retry.as_deref(), v["code"].as_str()), (503, Some("5"), Some("unavailable")), "{v}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!(api.get("/status").await["listener"].as_str().map(|l| l.starts_with("http://")), Some(true));
    let api_took = t.elapsed();
    assert!(api_took < Duration::from_secs(2), "{api_took:?}");

    // Idle connections are closed at the headers' deadline (10 s), and hooks are answered again.
    let closes: Vec<_> = idle.into_iter().map(|s| tokio::spawn(until_closed(s, Duration::from_secs(20)))).collect();
    for c in closes {
        let (after, said) = c.await.unwrap();
        assert!(after <= Duration::from_secs(12), "an idle connection lived {after:?}");
        assert!(!said.contains("200 OK"), "{said}");
    }
    let slow_after = slowloris.await.unwrap();
    assert!(slow_after <= Duration::from_secs(13), "headers a byte a second lived {slow_after:?}");
    let (body, headers) = signed_push(&secret, "after");
    let (status, _, v) = post(&url, body, &headers).await;
    assert_eq!(status, 202, "{v}");
    let (stall_after, said) = stalled.await.unwrap();
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(stall_after <= Duration::from_secs(25), "{stall_after:?}");
    let (api_stall_after, said) = api_stalled.await.unwrap();
    assert!(said.starts_with("HTTP/1.1 408") && said.contains("did not arrive within 20 s"), "{said}");
    assert!(api_stall_after <= Duration::from_secs(25), "{api_stall_after:?}");

    // Refusals that need only the headers come before the body is read: a 10 MiB body for an
    // unknown project, and one without a signature, are answered (not reset) long before
    // the whole body could have been hashed and stored.
    for (path, sig, want) in [("/hooks/nope", true, 404), ("/hooks/gate", false, 401)] {
        let big = vec![b' '; 10 << 20];
        let mut headers =
            vec![("X-GitHub-Event".to_string(), "push".to_string()), ("X-GitHub-Delivery".to_string(), format!("big-{want}"))];
        if sig {
            headers.push(("X-Hub-Signature-256".into(), format!("sha256={}", hmac_hex(&secret, &big))));
        }
        let (status, _, v) = post(&format!("{base}{path}"), big, &headers).await;
        assert_eq!(status, want, "{v}");
    }
    let inbox = api.get("/deliveries?project=gate").await;
    let statuses: Vec<i64> = inbox.as_array().unwrap().iter().map(|d| d["http_status"].as_i64().unwrap()).collect();
    assert!(statuses.contains(&408) && statuses.contains(&401) && statuses.contains(&202), "{statuses:?}");
}
