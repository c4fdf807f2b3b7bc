//! Docker hosts over SSH, through a real sshd on loopback: host keys, logins, the shells a
//! deploy keeps open over the connection.

use super::*;

/// A real sshd on loopback with its own host key, a user key in authorized_keys, and an ssh
/// client configuration with one alias per case. The engine finds that configuration through
/// an `ssh` on its PATH that adds `-F` (ssh reads `~/.ssh/config` from the passwd entry, not
/// $HOME, so pointing HOME elsewhere would not keep the test away from the real one).
pub(crate) struct Sshd {
    pub(crate) dir: PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "slipway-test", "-f"]).arg(path).output().unwrap();
    assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
}

impl Sshd {
    pub(crate) fn new(dir: &Path) -> Sshd {
        let dir = dir.join("ssh");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        for k in ["host_key", "other_host_key", "id", "wrong_id", "nodocker_id"] {
            keygen(&dir.join(k));
        }
        // A login whose PATH has no docker, as on a host without the docker CLI.
        let nodocker = std::fs::read_to_string(dir.join("nodocker_id.pub")).unwrap();
        let id = std::fs::read_to_string(dir.join("id.pub")).unwrap();
        std::fs::write(
            dir.join("authorized_keys"),
            format!("{id}command=\"PATH=/nonexistent; eval \\\"$SSH_ORIGINAL_COMMAND\\\"\" {nodocker}"),
        )
        .unwrap();
        let port = free_port();
        let pubkey = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap().split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        std::fs::write(dir.join("known_hosts"), format!("[127.0.0.1]:{port} {}\n", pubkey("host_key.pub"))).unwrap();
        std::fs::write(dir.join("known_hosts_changed"), format!("[127.0.0.1]:{port} {}\n", pubkey("other_host_key.pub"))).unwrap();
        std::fs::write(dir.join("known_hosts_empty"), "").unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
                 PidFile {d}/sshd.pid\nLogLevel VERBOSE\n"
            ),
        )
        .unwrap();
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into());
        let mut config = String::new();
        for (alias, id, known) in [
            ("box", "id", "known_hosts"),
            ("unknown", "id", "known_hosts_empty"),
            ("changed", "id", "known_hosts_changed"),
            ("wrongkey", "wrong_id", "known_hosts"),
            ("nodocker", "nodocker_id", "known_hosts"),
        ] {
            config.push_str(&format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/{id}\n  IdentitiesOnly yes\n  \
                 IdentityAgent none\n  UserKnownHostsFile {d}/{known}\n  GlobalKnownHostsFile /dev/null\n  LogLevel ERROR\n"
            ));
        }
        std::fs::write(dir.join("ssh_config"), config).unwrap();
        let shim = dir.join("bin/ssh");
        std::fs::write(&shim, format!("#!/bin/sh\nexec /usr/bin/ssh -F {d}/ssh_config \"$@\"\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut sshd = Sshd { dir, port, child: None };
        sshd.start();
        sshd
    }

    pub(crate) fn start(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-p", &self.port.to_string(), "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for("sshd to listen", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", self.port)).ok());
    }

    /// Stops sshd and every session it started: the connections drop as if the host went away.
    /// Only sshd's own processes are killed, not the commands the sessions run: those see their
    /// connection close and end, as on a real host. Killing them too once left a login shell's
    /// `pyenv rehash` (root's ~/.bashrc runs it on this machine) dead while holding its lock
    /// file, and every later ssh login then waited 60 s for it (CI failed on that).
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let is_sshd = |pid: &u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sshd");
        let mut pids: Vec<u32> = descendants(child.id()).into_iter().filter(is_sshd).collect();
        pids.push(child.id());
        for pid in pids {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        let _ = child.wait();
    }

    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let path = format!("{}:{}", self.dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        vec![("PATH".into(), path)]
    }

    fn fingerprint(&self) -> String {
        let out = Command::new("ssh-keygen").arg("-lf").arg(self.dir.join("host_key.pub")).output().unwrap();
        String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1).unwrap().to_string()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every process below `pid`, read from /proc.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = std::collections::HashMap::<u32, Vec<u32>>::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        let Some(ppid) = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        parents.entry(ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in parents.get(&p).cloned().unwrap_or_default() {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_host_reaches_the_engine_through_sshd_and_refuses_unknown_keys_and_bad_logins() {
    let dir = tempfile::tempdir().unwrap();
    let mut sshd = Sshd::new(dir.path());
    let env = sshd.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (_engine, url) = start_headless_with(dir.path(), &env);
    let api = Api::new(&url, dir.path());
    let c = TestContainer::start("ssh", &[]);
    for alias in ["box", "unknown", "changed", "wrongkey", "nodocker"] {
        let (code, body) =
            api.send(Method::POST, "/hosts", json!({"name": alias, "kind": "ssh", "endpoint": format!("ssh://{alias}")})).await;
        assert_eq!(code, 201, "{body}");
    }

    let (code, test) = api.send(Method::POST, "/hosts/box/test", json!({})).await;
    assert_eq!(code, 200, "{test}");
    assert!(test["engine_version"].is_string(), "{test}");
    assert!(container_in(&api.get("/hosts/box/containers").await, &c.name).is_some());

    let (code, err) = api.send(Method::POST, "/hosts/unknown/test", json!({})).await;
    assert_eq!(code, 502, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("host unknown: the SSH host key of ssh://unknown is not in known_hosts"), "{msg}");
    assert!(msg.contains(&sshd.fingerprint()), "the fingerprint {} is in: {msg}", sshd.fingerprint());
    assert_eq!(std::fs::read_to_string(sshd.dir.join("known_hosts_empty")).unwrap(), "", "an unknown key is never accepted");

    let (_, err) = api.send(Method::POST, "/hosts/changed/test", json!({})).await;
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("host key of ssh://changed has CHANGED") && msg.contains(&sshd.fingerprint()), "{msg}");

    let (code, err) = api.send(Method::POST, "/hosts/wrongkey/test", json!({})).await;
    assert_eq!(code, 502, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("host wrongkey: SSH authentication to ssh://wrongkey failed") && msg.contains("Permission denied"), "{msg}");

    let (code, err) = api.send(Method::POST, "/hosts/nodocker/test", json!({})).await;
    assert_eq!(code, 502, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("host nodocker: ssh://nodocker has no `docker` command") && msg.contains("docker system dial-stdio"), "{msg}");

    // sshd goes away mid-stream: the follow ends with an error naming the host, promptly.
    wait_host_state(&api, "box", "reachable", Duration::from_secs(20)).await;
    let mut logs = Ndjson::open(&api, &format!("/hosts/box/containers/{}/logs?follow=true&tail=1", c.name)).await;
    logs.until(Duration::from_secs(10), |l| l["stream"] == "stdout").await;
    sshd.stop();
    let dropped = Instant::now();
    let failure = logs.until(Duration::from_secs(30), |v| v.get("error").is_some()).await;
    let msg = failure["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("host box:"), "{msg}");
    assert_eq!(failure["error"]["code"], "host_unreachable");
    assert!(dropped.elapsed() < Duration::from_secs(20), "took {:?}", dropped.elapsed());
    assert!(logs.next(Duration::from_secs(5)).await.is_none(), "the error is the last line");
    let h = wait_host_state(&api, "box", "unreachable", Duration::from_secs(15)).await;
    assert!(h["status"]["error"].as_str().unwrap().starts_with("host box:"), "{h}");

    // ...and back when sshd returns.
    sshd.start();
    wait_host_state(&api, "box", "reachable", Duration::from_secs(45)).await;
    assert!(container_in(&api.get("/hosts/box/containers").await, &c.name).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_contexts_are_imported_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("docker-config");
    for (hash, meta) in [
        ("a1", r#"{"Name":"edge","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://deploy@edge.example","SkipTLSVerify":false}}}"#),
        ("b2", r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.9.9.9:2376","SkipTLSVerify":false}}}"#),
    ] {
        std::fs::create_dir_all(config.join("contexts/meta").join(hash)).unwrap();
        std::fs::write(config.join("contexts/meta").join(hash).join("meta.json"), meta).unwrap();
    }
    let tls = config.join("contexts/tls/b2/docker");
    std::fs::create_dir_all(&tls).unwrap();
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(tls.join(f), "pem").unwrap();
    }
    let (_engine, url) = start_headless_with(dir.path(), &[("DOCKER_CONFIG", config.to_str().unwrap())]);
    let api = Api::new(&url, dir.path());
    let (code, report) = api.send(Method::POST, "/hosts/import-contexts", json!({})).await;
    assert_eq!(code, 200, "{report}");
    let names: Vec<&str> = report["imported"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["edge", "prod"], "{report}");
    let prod = api.get("/hosts/prod").await;
    assert_eq!((prod["host"]["kind"].as_str(), prod["host"]["tls_ca"].as_str()), (Some("tcp"), Some(tls.join("ca.pem").to_str().unwrap())));
    let (_, again) = api.send(Method::POST, "/hosts/import-contexts", json!({})).await;
    assert_eq!(again["imported"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["skipped"].as_array().unwrap().len(), 2, "{again}");
}

/// A deploy to a host reached over SSH, as to a server: the edge runs there, health is probed
/// from inside it by container name (names the workstation cannot resolve), through shells kept
/// open in the edge over the SSH connection rather than an exec per probe, and the blue-green
/// switch loses no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blue_green_deploy_over_ssh_probes_inside_the_host_and_drops_nothing() {
    use crate::deploys::{dockerfile, fast_deploy, finish, host, push, run, stage};
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::new(dir.path());
    let edge_port = stable_port();
    let mut env = crate::deploys::env(edge_port);
    env.extend(sshd.env().into_iter().map(|(_, v)| ("PATH", v)));
    let root = tempfile::tempdir().unwrap();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &dockerfile()), ("index.html", "v1\n"), ("health", "ok\n")]);
    let (_engine, base) = start_headless_env(dir.path(), &env);
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let _cleanup = DockerCleanup(instance.clone());
    let (code, body) = api.send(Method::POST, "/hosts", json!({"name": "box", "kind": "ssh", "endpoint": "ssh://box"})).await;
    assert_eq!(code, 201, "{body}");
    let stages = json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 2}))]);
    let (code, p) = api
        .send(
            Method::POST,
            "/projects",
            json!({"name": "far", "repo_url": served.url, "forge": "git", "deploy": fast_deploy(), "stages": stages, "host_id": "box"}),
        )
        .await;
    assert_eq!(code, 201, "{p}");

    let r = finish(&api, run(&api, "far", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(get_via_edge(edge_port, &host("dev", "far")).await, (200, "v1".to_string()));

    let load = Load::start(edge_port, &host("dev", "far"), 8, true);
    push(&served.work, &[("index.html", "v2\n")], &[], "v2");
    let since = unix_secs();
    let r = finish(&api, run(&api, "far", "dev", "main").await).await;
    let until = unix_secs() + 1;
    let report = load.finish().await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert!(report.sent > 50 && report.failed == 0, "{} of {} failed: {:?}", report.failed, report.sent, report.errors);
    assert_eq!(get_via_edge(edge_port, &host("dev", "far")).await, (200, "v2".to_string()));
    let logs = api.get(&format!("/runs/{}/logs", r["run"]["id"])).await;
    let healthy = logs.as_array().unwrap().iter().filter(|l| l["line"].as_str().is_some_and(|t| t.ends_with(" is healthy"))).count();
    assert_eq!(healthy, 1, "the gate passed once: {logs}");

    // The gate and 2 s of verification probe every 200 ms: with an exec per command that is
    // a dozen execs or more; the kept shells need at most one each.
    let edge = format!("slipway-edge-{instance}");
    let out = Command::new("docker")
        .args([
            "events",
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--filter",
            &format!("container={edge}"),
            "--filter",
            "event=exec_create",
            "--format",
            "{{.ID}}",
        ])
        .output()
        .unwrap();
    let execs = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(execs <= 4, "{execs} execs in the edge during one deploy");
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}
