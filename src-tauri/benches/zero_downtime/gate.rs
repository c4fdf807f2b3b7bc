//! The health gate's speed (issue #18): trigger → first new response for a Slipway rollback and
//! a promote (no build either way), against a minimal hand-written blue/green on the same
//! machine in the same run: start the new container, poll its `/` every 100 ms, PATCH Caddy's
//! upstream through its admin API, stop the old one. The image answers 2 s after it starts
//! (busybox httpd behind `sleep 2`), 4 clients go through the proxy the whole time, and Slipway
//! keeps its default health settings (interval 1 s, start period 30 s). Target: 1.1× the script.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::deploys;
use crate::kit::{self, stable_port, wait_for, Load};

const CLIENTS: usize = 4;
/// Rounds of (script, rollback, promote), interleaved so that each sees the same machine.
const ROUNDS: usize = 5;
const NET: &str = "slipway-bench-gate";
const SUBNET: &str = "172.31.251";

/// A Dockerfile whose container answers `/` only 2 s after it starts.
fn slow_dockerfile() -> String {
    format!(
        "FROM {}\nCOPY . /www\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 2; httpd -f -p 80 -h /www & wait\"]\n",
        kit::busybox_image()
    )
}

pub struct Gate {
    script: Vec<Duration>,
    rollback: Vec<Duration>,
    promote: Vec<Duration>,
    failed: [u64; 3],
}

pub async fn run() -> Gate {
    let mut g = Gate { script: vec![], rollback: vec![], promote: vec![], failed: [0; 3] };
    let script = Script::start().await;
    let stack = Slipway::start().await;
    for round in 0..ROUNDS {
        let (d, failed) = script.switch(round).await;
        eprintln!("gate round {round}: script {} ms, {failed} failed", d.as_millis());
        g.script.push(d);
        g.failed[0] += failed;
        let (d, failed) = stack.rollback(round).await;
        eprintln!("gate round {round}: rollback {} ms, {failed} failed", d.as_millis());
        g.rollback.push(d);
        g.failed[1] += failed;
        let (d, failed) = stack.promote(round).await;
        eprintln!("gate round {round}: promote {} ms, {failed} failed", d.as_millis());
        g.promote.push(d);
        g.failed[2] += failed;
    }
    script.stop();
    g
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

pub fn print(g: &Gate) {
    let base = median(&g.script);
    println!("\nhealth gate: trigger → first new response, a release that answers 2 s after it starts, {CLIENTS} clients, {ROUNDS} rounds (median; each)\n");
    println!("| path | failed requests | trigger → first new, median | each | ratio to the script | target | met |");
    println!("|---|---:|---:|---|---:|---:|---|");
    let rows = [
        ("minimal hand-written blue/green", &g.script),
        ("Slipway rollback (no build)", &g.rollback),
        ("Slipway promote (no build)", &g.promote),
    ];
    for (i, (name, v)) in rows.iter().enumerate() {
        let m = median(v);
        let each: Vec<String> = v.iter().map(|d| d.as_millis().to_string()).collect();
        let ratio = m.as_secs_f64() / base.as_secs_f64();
        let (target, met) = if i == 0 { ("–".to_string(), "–") } else { ("1.10×".into(), if ratio <= 1.1 { "yes" } else { "no" }) };
        println!("| {name} | {} | {} ms | {} | {ratio:.2}× | {target} | {met} |", g.failed[i], m.as_millis(), each.join(", "));
    }
}

/// The hand-written blue/green: a Caddy in front of one container at a time.
struct Script {
    docker: bollard::Docker,
    port: u16,
    images: [String; 2],
    http: reqwest::Client,
    _config: tempfile::TempDir,
}

impl Script {
    async fn start() -> Script {
        let docker = bollard::Docker::connect_with_unix_defaults().unwrap().negotiate_version().await.unwrap();
        for c in ["caddy", "0", "1"] {
            kit::docker(&["rm", "-f", &format!("{NET}-{c}")]);
        }
        kit::docker(&["network", "rm", NET]);
        let out = kit::docker(&["network", "create", "--subnet", &format!("{SUBNET}.0/24"), NET]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let images = [image("v0"), image("v1")];
        let config = tempfile::tempdir().unwrap();
        let caddy = json!({
            "admin": {"listen": "0.0.0.0:2019"},
            "apps": {"http": {"servers": {"srv0": {"listen": [":80"], "routes": [
                {"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": format!("{SUBNET}.10:80")}]}]}
            ]}}}}
        });
        std::fs::write(config.path().join("caddy.json"), caddy.to_string()).unwrap();
        let port = stable_port();
        let name = format!("{NET}-caddy");
        let out = kit::docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            NET,
            "--ip",
            &format!("{SUBNET}.2"),
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "-v",
            &format!("{}:/cfg:ro", config.path().display()),
            kit::edge_image(),
            "caddy",
            "run",
            "--config",
            "/cfg/caddy.json",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let http = reqwest::Client::builder().timeout(Duration::from_millis(500)).pool_max_idle_per_host(0).build().unwrap();
        let s = Script { docker, port, images, http, _config: config };
        s.start_container(0).await;
        s.wait_ready(0).await;
        wait_for("the script's Caddy", Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
        s
    }

    fn ip(slot: usize) -> String {
        format!("{SUBNET}.{}", 10 + slot)
    }

    async fn start_container(&self, slot: usize) {
        use bollard::models::{ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig};
        use bollard::query_parameters::CreateContainerOptionsBuilder;
        let name = format!("{NET}-{slot}");
        let endpoint = EndpointSettings {
            ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(Self::ip(slot)), ..Default::default() }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(self.images[slot].clone()),
            host_config: Some(HostConfig { network_mode: Some(NET.into()), ..Default::default() }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(std::collections::HashMap::from([(NET.to_string(), endpoint)])),
            }),
            ..Default::default()
        };
        self.docker.create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body).await.unwrap();
        self.docker.start_container(&name, None::<bollard::query_parameters::StartContainerOptions>).await.unwrap();
    }

    /// Polls the container's `/` every 100 ms until it answers 200.
    async fn wait_ready(&self, slot: usize) {
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(format!("http://{}:80/", Self::ip(slot))).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the script's container {slot} never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One switch from the container in the other slot to the one in `round % 2`'s successor.
    async fn switch(&self, round: usize) -> (Duration, u64) {
        let (old, new) = (round % 2, (round + 1) % 2);
        let load = Load::start(self.port, "localhost", CLIENTS, true);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let trigger = load.started.elapsed();
        self.start_container(new).await;
        self.wait_ready(new).await;
        let upstreams = json!([{"dial": format!("{}:80", Self::ip(new))}]);
        let url = format!("http://{SUBNET}.2:2019/config/apps/http/servers/srv0/routes/0/handle/0/upstreams");
        let r = self.http.patch(url).json(&upstreams).send().await.unwrap();
        assert!(r.status().is_success(), "Caddy refused the PATCH: {}", r.text().await.unwrap_or_default());
        // The old container goes after a 1 s drain, as a careful script would (requests in
        // flight to it would fail otherwise); the switch is already measured by then.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let old = format!("{NET}-{old}");
        let force = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).build();
        self.docker.remove_container(&old, Some(force)).await.unwrap();
        let report = load.finish().await;
        let wanted = format!("v{new}");
        let first = report.first_seen.get(&wanted).and_then(|d| d.checked_sub(trigger)).expect("the script's new container answered");
        if report.failed > 0 {
            eprintln!("  the script's failed requests: {:?}", report.errors);
        }
        (first, report.failed)
    }

    fn stop(&self) {
        for c in ["caddy", "0", "1"] {
            kit::docker(&["rm", "-f", &format!("{NET}-{c}")]);
        }
        kit::docker(&["network", "rm", NET]);
    }
}

/// The slow image answering `version` on `/`.
fn image(version: &str) -> String {
    crate::page_image(&format!("slipway-bench/slow:{version}"), version, &slow_dockerfile())
}

/// One Slipway project, stages dev and prod (blue-green), the slow image, default health.
struct Slipway {
    s: deploys::Stack,
    name: String,
    /// Commit → the version its `/` answers.
    versions: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Slipway {
    async fn start() -> Slipway {
        let rollout = json!({"drain_secs": 1, "verify_secs": 1});
        let mut prod = deploys::stage("prod", "blue-green", rollout.clone());
        prod["branch_patterns"] = json!([]);
        prod["promote_from"] = json!("dev");
        prod["confirm"] = json!(true);
        let name = format!("b-gate-{}", std::process::id() % 10000);
        let df = slow_dockerfile();
        let deploy = json!({"port": 80, "health": {"path": "/"}});
        let stages = json!([deploys::stage("dev", "blue-green", rollout), prod]);
        let s = deploys::stack_of(&name, &[("Dockerfile", &df), ("index.html", "v1\n")], deploy, stages).await;
        let sw = Slipway { s, name, versions: Default::default() };
        sw.deploy_dev("v1").await;
        sw.deploy_dev("v2").await;
        let r = deploys::finish(&sw.s.api, sw.promote_request().await).await;
        assert_eq!(r["run"]["status"], "succeeded", "{r}");
        sw
    }

    async fn deploy_dev(&self, version: &str) {
        if version != "v1" {
            deploys::push(&self.s.served.work, &[("index.html", &format!("{version}\n"))], &[], version);
        }
        let r = deploys::finish(&self.s.api, deploys::run_confirmed(&self.s.api, &self.name, "dev", "main").await).await;
        assert_eq!(r["run"]["status"], "succeeded", "{r}");
        let sha = r["run"]["commit_sha"].as_str().expect("the run names its commit").to_string();
        self.versions.lock().unwrap().insert(sha, version.to_string());
    }

    async fn promote_request(&self) -> i64 {
        let path = format!("/projects/{}/stages/prod/promote", self.name);
        let (status, v) = self.s.api.send(reqwest::Method::POST, &path, json!({"confirm": true})).await;
        assert_eq!(status, 202, "{v}");
        v["run_id"].as_i64().unwrap()
    }

    /// Rolls dev back to the newest retained release that serves another version than the
    /// live one (retention prunes old images, so not simply release 1).
    async fn rollback(&self, _round: usize) -> (Duration, u64) {
        let releases = self.s.api.get(&format!("/projects/{}/stages/dev/releases", self.name)).await;
        let releases = releases.as_array().unwrap();
        let live = releases.iter().find(|r| r["status"] == "live").expect("dev has a live release");
        let target = releases
            .iter()
            .filter(|r| r["status"] != "live" && r["status"] != "pruned" && r["commit_sha"] != live["commit_sha"])
            .max_by_key(|r| r["number"].as_i64())
            .expect("a retained release with another version");
        let wanted = self.versions.lock().unwrap()[target["commit_sha"].as_str().unwrap()].clone();
        let path = format!("/projects/{}/stages/dev/releases/{}/rollback", self.name, target["number"]);
        let host = deploys::host("dev", &self.name);
        self.timed(&host, &wanted, || async {
            let (status, v) = self.s.api.send(reqwest::Method::POST, &path, json!({})).await;
            assert_eq!(status, 202, "{v}");
            v["run_id"].as_i64().unwrap()
        })
        .await
    }

    /// Deploys a new version to dev first (not timed), then promotes it under load.
    async fn promote(&self, round: usize) -> (Duration, u64) {
        let version = format!("v{}", round + 3);
        self.deploy_dev(&version).await;
        let host = deploys::host("prod", &self.name);
        self.timed(&host, &version, || self.promote_request()).await
    }

    async fn timed<F: std::future::Future<Output = i64>>(&self, host: &str, wanted: &str, trigger: impl FnOnce() -> F) -> (Duration, u64) {
        let load = Load::start(self.s.edge_port, host, CLIENTS, true);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let at = load.started.elapsed();
        let id = trigger().await;
        let r = deploys::finish(&self.s.api, id).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let report = load.finish().await;
        assert_eq!(r["run"]["status"], "succeeded", "{r}");
        eprintln!("  steps: {}", crate::step_times(&r));
        let first = report.first_seen.get(wanted).and_then(|d| d.checked_sub(at)).expect("the new release answered");
        (first, report.failed)
    }
}
