//! Docker hosts through the API of a real `slipwayd`: the local engine, the same engine over a
//! loopback TCP port, and over SSH through a real `sshd` with its own keys and known_hosts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

/// A test container, removed when dropped. It prints a tick on stdout and stderr every 200 ms
/// and whatever the test writes into /say, so a line can be injected from outside.
pub struct TestContainer {
    pub name: String,
}

impl TestContainer {
    pub fn start(tag: &str, labels: &[(&str, &str)]) -> TestContainer {
        let name = format!("slipway-e2e-{tag}-{}", std::process::id());
        let _ = docker(&["rm", "-f", &name]);
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--init".into(), "--name".into(), name.clone()];
        for (k, v) in labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        args.push(busybox_image().into());
        args.extend(["sh".into(), "-c".into(), SCRIPT.into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = docker(&args);
        assert!(out.status.success(), "docker run: {}", String::from_utf8_lossy(&out.stderr));
        TestContainer { name }
    }

    /// Makes the container print `line` on stdout.
    pub fn say(&self, line: &str) {
        let out = docker(&["exec", &self.name, "sh", "-c", &format!("echo '{line}' > /say.new && mv /say.new /say")]);
        assert!(out.status.success(), "docker exec: {}", String::from_utf8_lossy(&out.stderr));
    }
}

const SCRIPT: &str = "i=0; while true; do echo \"tick $i\"; echo \"\x1b[31mwarn $i\x1b[0m\" >&2; \
                      if [ -f /say ]; then cat /say; rm /say; fi; i=$((i+1)); sleep 0.2; done";

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// An NDJSON stream from the API, read value by value.
pub struct Ndjson {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl Ndjson {
    pub async fn open(api: &Api, path: &str) -> Ndjson {
        let resp = api.http.get(format!("{}/api/v1{path}", api.base)).bearer_auth(&api.token).send().await.unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        Ndjson { resp, buf: Vec::new() }
    }

    /// The next value, None at the end of the stream; panics after `timeout` without one.
    pub async fn next(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let left = deadline.checked_duration_since(Instant::now()).unwrap_or_default();
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Err(_) => panic!("no NDJSON value within {timeout:?}"),
                Ok(Ok(Some(chunk))) => self.buf.extend_from_slice(&chunk),
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => panic!("stream failed: {e}"),
            }
        }
    }

    /// Reads until `found` accepts a value, and returns it.
    pub async fn until(&mut self, timeout: Duration, found: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now()).unwrap_or_default();
            let v = self.next(left).await.expect("the stream ended first");
            if found(&v) {
                return v;
            }
        }
    }
}

async fn wait_host_state(api: &Api, id: &str, state: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let h = api.get(&format!("/hosts/{id}")).await;
        if h["status"]["state"] == state {
            return h;
        }
        assert!(start.elapsed() < timeout, "host {id} is not {state} after {timeout:?}: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn container_in<'a>(groups: &'a Value, name: &str) -> Option<(&'a Value, &'a Value)> {
    groups.as_array()?.iter().find_map(|g| g["containers"].as_array()?.iter().find(|c| c["name"] == name).map(|c| (g, c)))
}

#[tokio::test(flavor = "multi_thread")]
async fn local_host_lists_groups_inspects_streams_and_acts_on_containers() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, url) = start_headless(dir.path());
    let api = Api::new(&url, dir.path());
    let project = format!("e2e-hosts-{}", std::process::id());
    let app = TestContainer::start("app", &[("dev.slipway.project", &project), ("com.docker.compose.project", "ignored-for-slipway")]);
    let db = TestContainer::start("db", &[("com.docker.compose.project", &project)]);

    let hosts = api.get("/hosts").await;
    assert_eq!(hosts[0]["host"]["id"], "local", "{hosts}");
    wait_host_state(&api, "local", "reachable", Duration::from_secs(20)).await;
    let test = api.send(Method::POST, "/hosts/local/test", json!({})).await;
    assert_eq!(test.0, 200, "{test:?}");
    assert!(
        test.1["engine_version"].as_str().is_some_and(|v| !v.is_empty()) && test.1["arch"].is_string() && test.1["os"].is_string(),
        "{test:?}"
    );
    assert!(test.1["containers_running"].as_u64().unwrap() >= 2 && test.1["latency_ms"].as_f64().unwrap() > 0.0, "{test:?}");

    // Grouped by Slipway project first, compose project otherwise.
    let groups = api.get("/hosts/local/containers").await;
    let (g, c) = container_in(&groups, &app.name).expect("app listed");
    assert_eq!((g["kind"].as_str(), g["name"].as_str()), (Some("slipway"), Some(project.as_str())));
    assert_eq!(c["state"], "running");
    assert!(c["status"].as_str().unwrap().starts_with("Up"), "{c}");
    assert_eq!(c["image"], busybox_image());
    let (g, _) = container_in(&groups, &db.name).expect("db listed");
    assert_eq!((g["kind"].as_str(), g["name"].as_str()), (Some("compose"), Some(project.as_str())));
    let one = api.get(&format!("/hosts/local/containers/{}", app.name)).await;
    assert_eq!((one["name"].as_str(), one["slipway_project"].as_str()), (Some(app.name.as_str()), Some(project.as_str())));

    // Events, logs and stats, live.
    let mut events = Ndjson::open(&api, "/hosts/local/events").await;
    let mut logs = Ndjson::open(&api, &format!("/hosts/local/containers/{}/logs?follow=true&tail=5", app.name)).await;
    let out = logs.until(Duration::from_secs(10), |l| l["stream"] == "stdout").await;
    assert!(out["line"].as_str().unwrap().starts_with("tick "), "{out}");
    let err = logs.until(Duration::from_secs(10), |l| l["stream"] == "stderr").await;
    assert!(err["line"].as_str().unwrap().starts_with("\x1b[31mwarn "), "colours kept: {err}");
    app.say("hello from the test");
    logs.until(Duration::from_secs(10), |l| l["line"] == "hello from the test" && l["stream"] == "stdout").await;
    let mut stats = Ndjson::open(&api, &format!("/hosts/local/containers/{}/stats?samples=2", app.name)).await;
    for _ in 0..2 {
        let s = stats.next(Duration::from_secs(15)).await.expect("a sample");
        assert!(s["mem_bytes"].as_u64().unwrap() > 0 && s["cpu_percent"].as_f64().is_some(), "{s}");
    }
    assert!(stats.next(Duration::from_secs(5)).await.is_none(), "two samples asked, two given");

    // Stop: the follow ends without an error, the state changes, the events say so.
    let (code, body) = api.send(Method::POST, &format!("/hosts/local/containers/{}/stop?grace=2", app.name), json!({})).await;
    assert_eq!(code, 204, "{body}");
    loop {
        match logs.next(Duration::from_secs(15)).await {
            None => break,
            Some(v) => assert!(v.get("error").is_none(), "a stop is not an error: {v}"),
        }
    }
    assert_eq!(api.get(&format!("/hosts/local/containers/{}", app.name)).await["state"], "exited");
    let id = one["id"].as_str().unwrap().to_string();
    let e = events.until(Duration::from_secs(10), |e| e["id"] == id.as_str() && e["action"] == "die").await;
    assert_eq!((e["kind"].as_str(), e["name"].as_str()), (Some("container"), Some(app.name.as_str())));

    for action in ["start", "restart"] {
        let (code, body) = api.send(Method::POST, &format!("/hosts/local/containers/{}/{action}?grace=1", app.name), json!({})).await;
        assert_eq!(code, 204, "{action}: {body}");
        assert_eq!(api.get(&format!("/hosts/local/containers/{}", app.name)).await["state"], "running", "after {action}");
    }
    let (code, body) = api.send(Method::POST, &format!("/hosts/local/containers/{}/remove", app.name), json!({})).await;
    assert_eq!(code, 400, "a running container is not removed without force: {body}");
    let (code, _) = api.send(Method::POST, &format!("/hosts/local/containers/{}/remove?force=true", app.name), json!({})).await;
    assert_eq!(code, 204);
    let (code, body) = api.send(Method::GET, &format!("/hosts/local/containers/{}", app.name), Value::Null).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = api.send(Method::DELETE, "/hosts/local", Value::Null).await;
    assert_eq!(code, 400, "the local host stays: {body}");
}

/// Forwards a loopback TCP port to the local engine's socket: a real engine endpoint over TCP.
/// Freezing it models a host that drops off the network: connections stay open, nothing more
/// gets through either way, no reset ever comes.
pub struct TcpProxy {
    pub port: u16,
    pub freeze: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    pub fn start() -> TcpProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (freeze, frozen) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else { return };
                let mut frozen = frozen.clone();
                tokio::spawn(async move {
                    if !*frozen.borrow() {
                        if let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await {
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix) => return,
                                _ = frozen.wait_for(|f| *f) => {}
                            }
                        }
                    }
                    // Black hole: hold the connection, answer nothing.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    drop(tcp);
                });
            }
        });
        TcpProxy { port, freeze, task }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_host_works_through_a_loopback_port_and_a_wrong_port_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_engine, url) = start_headless(dir.path());
    let api = Api::new(&url, dir.path());
    let proxy = TcpProxy::start();
    let port = proxy.port;
    let c = TestContainer::start("tcp", &[]);

    let (code, host) = api
        .send(Method::POST, "/hosts", json!({"name": "Loopback TCP", "kind": "tcp", "endpoint": format!("tcp://127.0.0.1:{port}")}))
        .await;
    assert_eq!(code, 201, "{host}");
    assert_eq!(host["id"], "loopback-tcp");
    let (code, test) = api.send(Method::POST, "/hosts/loopback-tcp/test", json!({})).await;
    assert_eq!(code, 200, "{test}");
    assert!(test["api_version"].as_str().is_some(), "{test}");
    assert!(container_in(&api.get("/hosts/loopback-tcp/containers").await, &c.name).is_some());
    wait_host_state(&api, "loopback-tcp", "reachable", Duration::from_secs(20)).await;

    let listed = slipwayd(dir.path(), &["hosts"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.lines().any(|l| l.starts_with("loopback-tcp") && l.contains("reachable") && l.contains(&format!("tcp://127.0.0.1:{port}"))),
        "{listed}"
    );
    let tested = slipwayd(dir.path(), &["hosts", "--test", "loopback-tcp"]);
    assert!(tested.status.success() && String::from_utf8_lossy(&tested.stdout).starts_with("loopback-tcp: Docker "), "{tested:?}");

    let wrong = free_port();
    let (code, _) = api
        .send(Method::POST, "/hosts", json!({"name": "wrong port", "kind": "tcp", "endpoint": format!("tcp://127.0.0.1:{wrong}")}))
        .await;
    assert_eq!(code, 201);
    let (code, err) = api.send(Method::POST, "/hosts/wrong-port/test", json!({})).await;
    assert_eq!((code, err["code"].as_str()), (502, Some("host_unreachable")), "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("host wrong port:") && msg.to_lowercase().contains("connection refused"), "{msg}");
    let h = wait_host_state(&api, "wrong-port", "unreachable", Duration::from_secs(5)).await;
    assert!(h["status"]["error"].as_str().unwrap().to_lowercase().contains("connection refused"), "{h}");

    // The form's errors name their field.
    let (code, err) = api.send(Method::POST, "/hosts", json!({"name": "x", "kind": "tcp", "endpoint": "ssh://box"})).await;
    assert_eq!(code, 400);
    assert!(err["message"].as_str().unwrap().starts_with("endpoint:"), "{err}");
    let (code, err) =
        api.send(Method::POST, "/hosts", json!({"name": "Loopback TCP", "kind": "tcp", "endpoint": "tcp://127.0.0.1:1"})).await;
    assert_eq!(code, 400);
    assert!(err["message"].as_str().unwrap().starts_with("name:"), "{err}");

    // Edit keeps the id; remove forgets the host.
    let (code, edited) = api
        .send(Method::PUT, "/hosts/wrong-port", json!({"name": "fixed port", "kind": "tcp", "endpoint": format!("tcp://127.0.0.1:{port}")}))
        .await;
    assert_eq!((code, edited["id"].as_str()), (200, Some("wrong-port")), "{edited}");
    wait_host_state(&api, "wrong-port", "reachable", Duration::from_secs(20)).await;
    let (code, _) = api.send(Method::DELETE, "/hosts/wrong-port", Value::Null).await;
    assert_eq!(code, 204);
    let (code, _) = api.send(Method::GET, "/hosts/wrong-port", Value::Null).await;
    assert_eq!(code, 404);

    // The host drops off the network mid-stream, silently: the follow still ends, with an error.
    let mut logs = Ndjson::open(&api, &format!("/hosts/loopback-tcp/containers/{}/logs?follow=true&tail=1", c.name)).await;
    logs.until(Duration::from_secs(10), |l| l["stream"] == "stdout").await;
    proxy.freeze.send_replace(true);
    let dropped = Instant::now();
    let failure = logs.until(Duration::from_secs(30), |v| v.get("error").is_some()).await;
    let msg = failure["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("host Loopback TCP:") && msg.contains("ping"), "{msg}");
    assert!(dropped.elapsed() < Duration::from_secs(15), "took {:?}", dropped.elapsed());
    wait_host_state(&api, "loopback-tcp", "unreachable", Duration::from_secs(15)).await;
    proxy.freeze.send_replace(false);
    wait_host_state(&api, "loopback-tcp", "reachable", Duration::from_secs(45)).await;
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// CA, engine and client certificates made with the openssl CLI, plus a second CA that signed
/// nothing the engine trusts.
fn make_certs(tls: &Path) {
    std::fs::create_dir_all(tls).unwrap();
    for ca in ["ca", "other-ca"] {
        openssl(
            tls,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    std::fs::write(tls.join("server.cnf"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    std::fs::write(tls.join("client.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, ca, ext) in [("server", "ca", "server.cnf"), ("client", "ca", "client.cnf"), ("stranger", "other-ca", "client.cnf")] {
        let cn = if name == "server" { "/CN=127.0.0.1".to_string() } else { format!("/CN={name}") };
        openssl(
            tls,
            &["req", "-newkey", "rsa:2048", "-nodes", "-subj", &cn, "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr")],
        );
        openssl(
            tls,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                ext,
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
}

/// The local engine behind TLS with client certificates, as `dockerd --tlsverify` serves it.
fn tls_proxy(tls: &Path) -> (u16, tokio::task::JoinHandle<()>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(tls.join("ca.pem")).unwrap()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone()).build().unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_file(tls.join("server.pem")).unwrap()],
            PrivateKeyDer::from_pem_file(tls.join("server.key")).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                if let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut unix).await;
                }
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_host_works_with_its_certificates_and_names_verification_failures() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    make_certs(&tls);
    let (port, proxy) = tls_proxy(&tls);
    let (_engine, url) = start_headless(dir.path());
    let api = Api::new(&url, dir.path());
    let p = |f: &str| tls.join(f).display().to_string();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    for (name, ca, cert, key) in [
        ("tls box", "ca.pem", "client.pem", "client.key"),
        ("wrong ca", "other-ca.pem", "client.pem", "client.key"),
        ("stranger", "ca.pem", "stranger.pem", "stranger.key"),
    ] {
        let (code, body) = api
            .send(
                Method::POST,
                "/hosts",
                json!({"name": name, "kind": "tcp", "endpoint": endpoint, "tls_ca": p(ca), "tls_cert": p(cert), "tls_key": p(key)}),
            )
            .await;
        assert_eq!(code, 201, "{body}");
    }

    let (code, test) = api.send(Method::POST, "/hosts/tls-box/test", json!({})).await;
    assert_eq!(code, 200, "{test}");
    assert!(test["engine_version"].is_string(), "{test}");
    let c = TestContainer::start("tls", &[]);
    assert!(container_in(&api.get("/hosts/tls-box/containers").await, &c.name).is_some());

    let (code, err) = api.send(Method::POST, "/hosts/wrong-ca/test", json!({})).await;
    assert_eq!(code, 502, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "host wrong ca: TLS verification failed for {endpoint}: the engine's certificate is not signed by the CA"
        )),
        "{msg}"
    );

    let (code, err) = api.send(Method::POST, "/hosts/stranger/test", json!({})).await;
    assert_eq!(code, 502, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("host stranger: TLS verification failed") && msg.contains("client certificate"), "{msg}");
    proxy.abort();
}

// Hosts over SSH: a real sshd on loopback.
#[path = "hosts_ssh.rs"]
pub(crate) mod ssh;
