//! The hooks' public HTTPS name (issue #16): the edge serves `/hooks/*` on it with a
//! certificate from an ACME CA, passes the deliveries to the engine's hook socket (its listener
//! stays on loopback), redirects plain HTTP, and keeps the certificate across a restart. The CA
//! is real: Caddy's `acme_server`, run as a container on the edge's network (where the hooks'
//! name resolves to the edge), speaking the real protocol with its real challenges.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

const HOOKS: &str = "hooks.slipway.test";
const CA: &str = "ca.slipway.test";

/// Starts the CA on `network`; returns the path of its root certificate (on this machine).
fn start_ca(dir: &Path, network: &str, instance: &str) -> std::path::PathBuf {
    let (cfg, data) = (dir.join("cfg"), dir.join("data"));
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        cfg.join("Caddyfile"),
        format!("{{\n\tadmin off\n\tpersist_config off\n\tskip_install_trust\n}}\n\n{CA} {{\n\ttls internal\n\tacme_server\n}}\n"),
    )
    .unwrap();
    let out = docker(&["network", "create", "--label", &format!("dev.slipway.instance={instance}"), network]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = docker(&[
        "run",
        "-d",
        "--name",
        &format!("slipway-e2e-ca-{instance}"),
        "--label",
        &format!("dev.slipway.instance={instance}"),
        "--network",
        network,
        "--network-alias",
        CA,
        "-e",
        "XDG_DATA_HOME=/data",
        "-e",
        "XDG_CONFIG_HOME=/config",
        "-v",
        &format!("{}:/cfg:ro", cfg.display()),
        "-v",
        &format!("{}:/data", data.display()),
        edge_image(),
        "caddy",
        "run",
        "--config",
        "/cfg/Caddyfile",
        "--adapter",
        "caddyfile",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = data.join("caddy/pki/authorities/local/root.crt");
    wait_for("the CA's root certificate", Duration::from_secs(30), || root.exists().then_some(()));
    root
}

/// A client that trusts the CA's root and finds the hooks' name on this machine's HTTPS port.
fn https_client(root: &Path, https_port: u16) -> reqwest::Client {
    let pem = std::fs::read(root).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve(HOOKS, std::net::SocketAddr::from(([127, 0, 0, 1], https_port)))
        .tls_info(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts a GitHub push signed with `secret`; the answer and the certificate the edge showed.
async fn deliver(client: &reqwest::Client, url: &str, secret: &str, id: &str) -> Result<(u16, Value, Vec<u8>), String> {
    let body = fixture("github/push-branch.json");
    let resp = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", format!("sha256={}", hmac_hex(secret, &body)))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let cert = resp.extensions().get::<reqwest::tls::TlsInfo>().and_then(|t| t.peer_certificate()).map(<[u8]>::to_vec).unwrap_or_default();
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null), cert))
}

/// Delivers until the edge has its certificate (the CA issues it within seconds of the start).
async fn deliver_once_issued(client: &reqwest::Client, url: &str, secret: &str, id: &str) -> (u16, Value, Vec<u8>) {
    let started = std::time::Instant::now();
    loop {
        match deliver(client, url, secret, id).await {
            Ok(answer) => return answer,
            Err(e) if started.elapsed() < Duration::from_secs(90) => {
                eprintln!("not yet over HTTPS: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("the hooks' name never answered over HTTPS: {e}"),
        }
    }
}

/// An engine's environment with the test edge on free HTTP and HTTPS ports, and `more`.
fn edge_env(more: &[(&'static str, &str)]) -> (u16, u16, Vec<(&'static str, String)>) {
    let (edge_port, https_port) = (stable_port(), stable_port());
    let mut env = vec![
        ("SLIPWAY_EDGE_IMAGE", edge_image().to_string()),
        ("SLIPWAY_EDGE_PORT", edge_port.to_string()),
        ("SLIPWAY_EDGE_HTTPS_PORT", https_port.to_string()),
    ];
    env.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    (edge_port, https_port, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_delivery_over_https_through_the_edge_queues_a_run_and_plain_http_is_redirected() {
    let dir = tempfile::tempdir().unwrap();
    let (edge_port, https_port, env) = edge_env(&[]);
    std::fs::create_dir_all(dir.path().join("engine")).unwrap();
    let (_engine, base) = start_headless_env(&dir.path().join("engine"), &env);
    let api = Api::new(&base, &dir.path().join("engine"));
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let _cleanup = DockerCleanup(instance.clone());
    let root = start_ca(&dir.path().join("ca"), &format!("slipway-{instance}"), &instance);
    let (status, v) = api.send(Method::PUT, "/runner", json!({"held": true})).await;
    assert_eq!(status, 200, "{v}");
    let (status, p) = api
        .send(Method::POST, "/projects", json!({"name": "public", "repo_url": "https://example.invalid/app.git", "forge": "github", "stages": [{"name": "dev", "branch_patterns": ["*"]}]}))
        .await;
    assert_eq!(status, 201, "{p}");

    // Refused whole, naming the setting: nothing is stored.
    let (status, err) = api.send(Method::PUT, "/settings/edge", json!({"hooks_host": "https://hooks.slipway.test/"})).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_input")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("edge hooks_host"), "{err}");
    let (status, err) = api.send(Method::PUT, "/settings/edge", json!({"http_port": 9999})).await;
    assert_eq!(status, 400, "a setting the environment fixes is refused, not ignored: {err}");
    assert!(err["message"].as_str().unwrap().contains("SLIPWAY_EDGE_PORT"), "{err}");

    let change = json!({
        "hooks_host": HOOKS,
        "acme_ca": format!("https://{CA}/acme/local/directory"),
        "acme_ca_root": root.display().to_string(),
        "email": "ops@slipway.test",
    });
    let (status, applied) = api.send(Method::PUT, "/settings/edge", change).await;
    assert_eq!(status, 200, "{applied}");
    assert!(applied["edge"].as_str().unwrap().contains("was created"), "{applied}");
    let hook = api.get("/projects/public/webhook").await;
    let public = hook["public_url"].as_str().expect("the webhook has its public URL").to_string();
    assert_eq!(public, format!("https://{HOOKS}/hooks/public"));
    let secret = hook["secret"].as_str().unwrap().to_string();

    // Over HTTPS, a certificate the CA issued through ACME, the delivery reaches the engine.
    let client = https_client(&root, https_port);
    let url = format!("https://{HOOKS}:{https_port}/hooks/public");
    let (status, verdict, cert) = deliver_once_issued(&client, &url, &secret, "https-1").await;
    assert_eq!(status, 202, "{verdict}");
    assert_eq!(verdict["outcome"], "queued", "{verdict}");
    assert!(!cert.is_empty(), "the edge showed a certificate");
    let (status, err, _) = deliver(&client, &url, "not-the-secret", "https-2").await.unwrap();
    assert_eq!(status, 401, "a wrong signature through the edge is still refused: {err}");
    let runs = api.get("/runs?project=public").await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "one run, from the signed delivery: {runs}");
    // Only the hooks: the API is not reachable through the public name.
    let r = client.get(format!("https://{HOOKS}:{https_port}/api/v1/status")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Plain HTTP to the hooks' name is redirected; other names still go to the stages.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = plain.post(format!("http://127.0.0.1:{edge_port}/hooks/public")).header("host", HOOKS).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://{HOOKS}/hooks/public").as_str());
    let (status, body) = get_via_edge(edge_port, "stage-dev-nothing.localhost").await;
    assert_eq!((status, body.contains("nothing is deployed")), (404, true), "{body}");

    // The certificate lives in the edge's volume: after a restart the edge shows the same one.
    let edge = format!("slipway-edge-{instance}");
    assert!(docker(&["restart", &edge]).status.success());
    let (status, verdict, again) = deliver_once_issued(&client, &url, &secret, "https-3").await;
    // The same push again: the engine knows it (a duplicate), so it did reach the engine.
    assert_eq!((status, verdict["outcome"].as_str()), (200, Some("duplicate")), "{verdict}");
    assert_eq!(again, cert, "the restarted edge serves the certificate it had");

    // Settings unchanged: applying them again leaves the edge as it is.
    let (status, applied) = api.send(Method::PUT, "/settings/edge", json!({})).await;
    assert_eq!(status, 200, "{applied}");
    assert!(applied["edge"].as_str().unwrap().contains("already runs"), "{applied}");
}

/// The edge's own CA root (`tls internal`), read from its data volume; a handshake first makes
/// Caddy create it if it has not yet.
async fn internal_root(edge: &str, https_port: u16, host: &str) -> Vec<u8> {
    let started = std::time::Instant::now();
    loop {
        let out = docker(&["exec", edge, "cat", "/data/caddy/pki/authorities/local/root.crt"]);
        if out.status.success() && !out.stdout.is_empty() {
            return out.stdout;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the edge never made its CA: {}", String::from_utf8_lossy(&out.stderr));
        let probe = reqwest::Client::builder().resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], https_port))).build().unwrap();
        let _ = probe.get(format!("https://{host}:{https_port}/")).send().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_a_real_domain_a_stage_is_served_over_https_and_only_routed_names_get_a_certificate() {
    let root = tempfile::tempdir().unwrap();
    let df = crate::deploys::dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
    let dir = tempfile::tempdir().unwrap();
    let (edge_port, https_port, env) = edge_env(&[("SLIPWAY_DOMAIN", "slipway.test"), ("SLIPWAY_EDGE_TLS", "internal")]);
    let (_engine, base) = start_headless_env(dir.path(), &env);
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let _cleanup = DockerCleanup(instance.clone());
    let stages = json!([crate::deploys::stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}))]);
    let (status, p) = api
        .send(
            Method::POST,
            "/projects",
            json!({"name": "web", "repo_url": served.url, "forge": "git", "deploy": crate::deploys::fast_deploy(), "stages": stages}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let r = crate::deploys::finish(&api, crate::deploys::run(&api, "web", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");

    let host = "stage-dev-web.slipway.test";
    let edge = format!("slipway-edge-{instance}");
    let ca = internal_root(&edge, https_port, host).await;
    let client = |name: &str| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .resolve(name, std::net::SocketAddr::from(([127, 0, 0, 1], https_port)))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let r = client(host).get(format!("https://{host}:{https_port}/")).send().await.expect("the stage answers over HTTPS");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().trim(), "v1");
    // A name nothing routes gets no certificate (the router's `ask` says no): no handshake.
    let other = "stage-nothing-here.slipway.test";
    let refused = client(other).get(format!("https://{other}:{https_port}/")).send().await;
    assert!(refused.is_err(), "a name nothing routes was served: {refused:?}");
    // Plain HTTP is redirected to HTTPS.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = plain.get(format!("http://127.0.0.1:{edge_port}/page")).header("host", host).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://{host}/page").as_str());

    // A change of settings while the edge is stopped: it is created again with the routes it
    // had (read from the stopped container), and the stage answers at once, with no deploy.
    assert!(docker(&["stop", &edge]).status.success());
    let (status, applied) = api.send(Method::PUT, "/settings/edge", json!({"hooks_host": "hooks.slipway.test"})).await;
    assert_eq!(status, 200, "{applied}");
    assert!(applied["edge"].as_str().unwrap().contains("created again"), "{applied}");
    let ca = internal_root(&edge, https_port, host).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], https_port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = client.get(format!("https://{host}:{https_port}/")).send().await.expect("the stage answers after the re-creation");
    assert_eq!((r.status().as_u16(), r.text().await.unwrap().trim().to_string()), (200, "v1".to_string()));
}
