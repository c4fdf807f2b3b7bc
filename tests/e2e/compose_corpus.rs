//! The real-world compose corpus (tests/fixtures/compose), deployed: every file Slipway accepts
//! deploys and serves, and a refused one fails its run with the key before anything runs.
//!
//! Nothing can be pulled here, so each file goes through the rewrite step that the corpus's
//! README documents ([`rewrite`]): every image becomes one stand-in image, which answers HTTP on
//! the ports the corpus's services use whatever command it is given, and whose `pg_isready` and
//! `mysqladmin` ask its own ports (the files' healthchecks call them); every published host port
//! becomes a free one. Everything else in the file is deployed as written: volumes, networks,
//! secrets from files, depends_on conditions, healthchecks, labels, restart policies, users.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::deploys::{env, fast_deploy, finish, run, stage};
use crate::kit::*;

const STAND_IN: &str = "slipway-test/corpus-stand-in:latest";

/// The ports the corpus's services listen on (HTTP stands in for each protocol).
const PORTS: &str = "80 3306 5432 6379 8000 8080 33060";

fn stand_in_image() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            (name.to_string(), p)
        };
        // PID 1 is a shell that leaves on TERM, so a stop takes no grace period.
        let files = [
            file(
                "stand-in",
                &format!(
                    "#!/bin/sh\nmkdir -p /tmp/www && echo \"stand-in $(hostname)\" > /tmp/www/index.html\n\
                     for p in {PORTS}; do httpd -p $p -h /tmp/www; done\ntrap 'exit 0' TERM INT\nwhile :; do sleep 1; done\n"
                ),
            ),
            file("pg_isready", "#!/bin/sh\nexec wget -q -O /dev/null http://127.0.0.1:5432/\n"),
            file("mysqladmin", "#!/bin/sh\nexec wget -q -O /dev/null http://127.0.0.1:3306/\n"),
            file("passwd", "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:postgres:/tmp:/bin/sh\n"),
            file("group", "root:x:0:\npostgres:x:999:\n"),
        ];
        let refs: Vec<(&str, PathBuf)> = files.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
        build_test_image(
            STAND_IN,
            &refs,
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             RUN [\"/bin/mkdir\", \"-m\", \"1777\", \"/tmp\"]\nCOPY passwd group /etc/\n\
             COPY stand-in pg_isready mysqladmin /bin/\nRUN [\"/bin/chmod\", \"755\", \"/bin/stand-in\", \"/bin/pg_isready\", \"/bin/mysqladmin\"]\n\
             ENTRYPOINT [\"/bin/stand-in\"]\n",
        );
    });
    STAND_IN
}

/// The corpus's rewrite step: `image:` and `build:` (a line or a block) become the stand-in
/// image, and each published `host:container` port gets a free host port. Returns the text and
/// the host ports given.
fn rewrite(text: &str) -> (String, Vec<u16>) {
    let (mut out, mut ports) = (Vec::new(), Vec::new());
    let mut skip_deeper: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if let Some(d) = skip_deeper {
            if !t.is_empty() && indent > d {
                continue;
            }
            skip_deeper = None;
        }
        if t.starts_with("image:") || t.starts_with("build:") {
            if t == "build:" {
                skip_deeper = Some(indent);
            }
            out.push(format!("{}image: {}", " ".repeat(indent), stand_in_image()));
            continue;
        }
        let entry = t.strip_prefix("- ").map(|e| e.trim_matches('"'));
        if let Some((host, target)) = entry.and_then(|e| e.split_once(':')) {
            if host.parse::<u16>().is_ok() && target.parse::<u16>().is_ok() {
                let port = free_port();
                ports.push(port);
                out.push(format!("{}- \"{port}:{target}\"", " ".repeat(indent)));
                continue;
            }
        }
        out.push(line.to_string());
    }
    (out.join("\n") + "\n", ports)
}

/// Every file under `dir`, by its path inside it.
fn files_under(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            files_under(&path, &format!("{name}/"), out);
        } else {
            out.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose").join(name)
}

/// A project whose repository is the corpus directory `name`, rewritten.
async fn project(api: &Api, root: &Path, name: &str) -> (Served, Vec<u16>) {
    let mut files = BTreeMap::new();
    files_under(&corpus(name), "", &mut files);
    let (text, ports) = rewrite(&files["compose.yaml"]);
    files.insert("compose.yaml".into(), text);
    let list: Vec<(&str, &str)> = files.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let served = serve_repo_with(&root.join(name), &list);
    let stages = json!([stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 2}))]);
    let body = json!({"name": name, "repo_url": served.url, "forge": "git", "deploy": fast_deploy(), "stages": stages});
    let (status, p) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(status, 201, "{name}: {p}");
    (served, ports)
}

/// The services of `project` that run, by the label Slipway puts on them.
fn running_services(instance: &str, project: &str) -> Vec<String> {
    running_labelled(instance, &format!("dev.slipway.project={project}"), "{{.Label \"dev.slipway.service\"}}")
}

async fn answers(port: u16) -> Result<String, String> {
    let client = reqwest::Client::new();
    let r = client.get(format!("http://127.0.0.1:{port}/")).timeout(Duration::from_secs(5)).send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if status == 200 && text.starts_with("stand-in") {
        Ok(text)
    } else {
        Err(format!("{status}: {text}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_accepted_corpus_file_deploys_and_serves_and_a_refused_one_runs_nothing() {
    stand_in_image();
    let root = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless_env(dir.path(), &env(stable_port()));
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let _cleanup = DockerCleanup(instance.clone());

    // (directory, its services, the named volumes that must exist after the deploy)
    let accepted: [(&str, &[&str], &[&str]); 5] = [
        ("nextcloud-redis-mariadb", &["db", "nc", "redis"], &["db_data", "nc_data"]),
        ("nginx-flask-mysql", &["backend", "db", "proxy"], &["db-data"]),
        ("nginx-golang-postgres", &["backend", "db", "proxy"], &["db-data"]),
        ("spring-postgres", &["backend", "db"], &["db-data"]),
        ("traefik-golang", &["backend", "frontend"], &[]),
    ];
    let mut problems = Vec::new();
    let mut repos = Vec::new();
    for (name, services, volumes) in accepted {
        let (served, ports) = project(&api, root.path(), name).await;
        repos.push(served);
        let r = finish(&api, run(&api, name, "dev", "main").await).await;
        if r["run"]["status"] != "succeeded" {
            problems.push(format!("{name}: {} ({})", r["run"]["status"], r["run"]["reason"]));
            continue;
        }
        let running = running_services(&instance, name);
        if running != services.to_vec() {
            problems.push(format!("{name}: running {running:?}, want {services:?}"));
        }
        if ports.is_empty() {
            problems.push(format!("{name}: the rewrite found no published port to check"));
        }
        for port in &ports {
            if let Err(e) = answers(*port).await {
                problems.push(format!("{name}: published port {port} does not serve: {e}"));
            }
        }
        for v in volumes {
            let volume = format!("{name}-dev-{v}");
            let label = docker(&["volume", "inspect", "-f", "{{index .Labels \"dev.slipway.instance\"}}", &volume]);
            if String::from_utf8_lossy(&label.stdout).trim() != instance {
                problems.push(format!("{name}: volume {volume} was not created by this engine"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));

    // The command line asks too: without a flag it exits 2 with the volumes, and removes nothing.
    let out = slipwayd(dir.path(), &["projects", "rm", "nextcloud-redis-mariadb"]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("nextcloud-redis-mariadb-dev-db_data") && said.contains("--remove-volumes"), "{said}");
    assert_eq!(api.send(Method::GET, "/projects/nextcloud-redis-mariadb", json!({})).await.0, 200);

    // Removing a project with `volumes=keep` leaves its volume (and its containers) on the host.
    let (status, e) = api.send(Method::DELETE, "/projects/spring-postgres?volumes=keep", json!({})).await;
    assert_eq!(status, 204, "{e}");
    assert!(docker(&["volume", "inspect", "spring-postgres-dev-db-data"]).status.success(), "kept, as asked");
    assert_eq!(running_services(&instance, "spring-postgres"), ["backend", "db"]);

    // A refused file: the run fails with the file, line, service and key; nothing runs.
    let (_served, _) = project(&api, root.path(), "postgresql-pgadmin").await;
    let r = finish(&api, run(&api, "postgresql-pgadmin", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.contains("compose.yaml:3: service postgres: `container_name` cannot be used"), "{reason}");
    assert!(running_services(&instance, "postgresql-pgadmin").is_empty());
}
