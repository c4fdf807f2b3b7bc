//! A compose file as users write it (the issue's probe): the stateful service's named volume,
//! its env_file, labels and interpolated values reach the host; the data on the volume survives
//! a new release, a rollback and an engine restart; the stateful service never runs twice on its
//! volume (Docker's own events say so); the web service switches without a failed request while
//! the database is replaced in place; a required variable that is missing, or a key Slipway
//! does not support, fails the run before anything on the host is touched.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{env, fast_deploy, finish, host, push, run, run_confirmed, stage};
use crate::kit::*;

fn compose(bb: &str, round: &str) -> String {
    format!(
        r#"services:
  db:
    image: {bb}
    command: ["sh", "-c", "mkdir -p /data; echo boot >> /data/boots; exec httpd -f -p 8080 -h /data"]
    volumes: [dbdata:/data]
    env_file: [db.env]
    labels: {{team: core}}
    environment: {{ROUND: "{round}", DB_URL: "postgres://app:${{DB_PW}}@db/app"}}
    stop_grace_period: 1s
  web:
    build: web
    ports: ["80"]
    depends_on: [db]
    environment: {{GREETING: "${{GREETING:-hello}}"}}
volumes:
  dbdata: {{}}
"#
    )
}

fn inspect(name: &str) -> Value {
    let out = docker(&["inspect", name]);
    serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone()
}

/// The live container of `service` in `instance`.
fn container_of(instance: &str, service: &str) -> String {
    let names = running_labelled(instance, &format!("dev.slipway.service={service}"), "{{.Names}}");
    assert_eq!(names.len(), 1, "one running {service}: {names:?}");
    names[0].clone()
}

/// The one running db, once there is exactly one (after a restart the engine may still be
/// bringing the live release's back).
fn running_db(instance: &str) -> String {
    wait_for("one running db", Duration::from_secs(40), || {
        let out = docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=dev.slipway.instance={instance}"),
            "--filter",
            "label=dev.slipway.service=db",
        ]);
        (String::from_utf8_lossy(&out.stdout).lines().count() == 1).then(|| container_of(instance, "db"))
    })
}

fn read_precious(instance: &str) -> String {
    let out = docker(&["exec", &running_db(instance), "cat", "/data/precious"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Docker's start and die events of a service's containers, followed live from now into a file
/// (`docker events --since` alone can miss the oldest: the daemon keeps only the latest few
/// hundred events, and a build makes many).
struct Events {
    child: std::process::Child,
    file: std::path::PathBuf,
}

impl Events {
    fn follow(instance: &str, service: &str, file: std::path::PathBuf) -> Events {
        let out = std::fs::File::create(&file).unwrap();
        let child = std::process::Command::new("docker")
            .args(["events", "--filter", "type=container", "--filter", "event=start", "--filter", "event=die"])
            .args([
                "--filter",
                &format!("label=dev.slipway.instance={instance}"),
                "--filter",
                &format!("label=dev.slipway.service={service}"),
            ])
            .args(["--format", "{{.Action}} {{.Actor.Attributes.name}}"])
            .stdout(out)
            .spawn()
            .unwrap();
        Events { child, file }
    }

    /// The most containers that ran at once so far.
    fn most_at_once(&self) -> usize {
        std::thread::sleep(Duration::from_millis(500));
        let text = std::fs::read_to_string(&self.file).unwrap();
        let (mut now, mut most, mut starts) = (0i32, 0i32, 0);
        for line in text.lines() {
            match line.split_whitespace().next().unwrap_or("") {
                "start" => {
                    now += 1;
                    starts += 1;
                }
                "die" => now -= 1,
                _ => {}
            }
            most = most.max(now);
        }
        assert!(starts >= 2, "the events show the service started more than once: {text}");
        most as usize
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stateful_service_keeps_its_volume_and_never_runs_twice_on_it() {
    let bb = busybox_image();
    let root = tempfile::tempdir().unwrap();
    let df = format!("FROM {bb}\nCOPY . /www\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n");
    let c1 = compose(bb, "1");
    let files = [
        ("docker-compose.yml", c1.as_str()),
        ("db.env", "DB_PASSWORD=from-env-file\n"),
        ("web/Dockerfile", &df),
        ("web/index.html", "v1\n"),
        ("web/health", "ok\n"),
    ];
    let served = serve_repo_with(root.path(), &files);
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let (engine, base) = start_headless_env(dir.path(), &env(edge_port));
    let api = Api::new(&base, dir.path());
    let instance = api.get("/status").await["instance_id"].as_str().unwrap().to_string();
    let _cleanup = DockerCleanup(instance.clone());
    // Volumes are named per project and stage, not per engine: one a failed earlier run left
    // would be adopted (as it should be, by the engine).
    docker(&["volume", "rm", "-f", "vault-dev-dbdata"]);
    let events = Events::follow(&instance, "db", dir.path().join("db-events"));
    let mut deploy = fast_deploy();
    deploy["secrets"] = json!(["DB_PW"]);
    let body = json!({"name": "vault", "repo_url": served.url, "forge": "git", "deploy": deploy, "stages": [stage("dev", "blue-green", json!({"drain_secs": 1, "verify_secs": 1}))]});
    let (status, p) = api.send(Method::POST, "/projects", body).await;
    assert_eq!(status, 201, "{p}");
    let (status, v) = api.send(Method::PUT, "/projects/vault/secrets/DB_PW", json!({"value": "pw-from-keychain"})).await;
    assert!(status < 300, "{v}");

    let r = finish(&api, run(&api, "vault", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let logs = api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    assert!(
        logs.contains("created volume vault-dev-dbdata"),
        "{logs} VOLUMES {} RELEASE {}",
        String::from_utf8_lossy(&docker(&["volume", "ls"]).stdout),
        api.get("/projects/vault/stages/dev/releases").await
    );
    let db = inspect(&container_of(&instance, "db"));
    let mounts = db["Mounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["Name"] == "vault-dev-dbdata" && m["Destination"] == "/data" && m["RW"] == true), "{mounts:?}");
    let env_of = |c: &Value| c["Config"]["Env"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect::<Vec<_>>();
    let db_env = env_of(&db);
    for want in ["DB_PASSWORD=from-env-file", "ROUND=1", "DB_URL=postgres://app:pw-from-keychain@db/app"] {
        assert!(db_env.iter().any(|e| e == want), "{want} not in {db_env:?}");
    }
    assert_eq!(db["Config"]["Labels"]["team"], "core");
    assert!(env_of(&inspect(&container_of(&instance, "web"))).iter().any(|e| e == "GREETING=hello"));
    // The secret's value is on the container only: not in the release, the run or its log.
    let release = api.get("/projects/vault/stages/dev/releases").await.to_string();
    assert!(!release.contains("pw-from-keychain") && !logs.contains("pw-from-keychain") && release.contains("${DB_PW}"), "{release}");
    let wrote = docker(&["exec", &container_of(&instance, "db"), "sh", "-c", "echo precious > /data/precious"]);
    assert!(wrote.status.success(), "{wrote:?}");

    // A new release with changed env: db is replaced in place (stop first), web (rebuilt: a new
    // commit is a new image) switches blue-green without a failed request.
    let c2 = compose(bb, "2");
    push(&served.work, &[("docker-compose.yml", &c2)], &[], "db round 2");
    let load = Load::start(edge_port, &host("dev", "vault"), 6, true);
    let r = finish(&api, run(&api, "vault", "dev", "main").await).await;
    let report = load.finish().await;
    assert_eq!(
        (r["run"]["status"].as_str(), r["run"]["reason"].as_str()),
        (Some("succeeded"), Some("release 2 is live; updated db, web")),
        "{r}"
    );
    assert_eq!(report.failed, 0, "{report:?}");
    let logs = api.get(&format!("/runs/{}/logs", r["run"]["id"])).await.to_string();
    assert!(logs.contains("holds a writable volume: stopping the old container first"), "{logs}");
    assert_eq!(read_precious(&instance), "precious", "after a new release");

    let (status, v) = api.send(Method::POST, "/projects/vault/stages/dev/releases/1/rollback", json!({})).await;
    assert_eq!(status, 202, "{v}");
    let r = finish(&api, v["run_id"].as_i64().unwrap()).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(read_precious(&instance), "precious", "after a rollback");
    assert!(env_of(&inspect(&container_of(&instance, "db"))).iter().any(|e| e == "ROUND=1"));

    drop(engine);
    let (engine, base) = start_headless_env(dir.path(), &env(edge_port));
    let api = Api::new(&base, dir.path());
    assert_eq!(api.get("/status").await["instance_id"], instance.as_str());
    assert_eq!(read_precious(&instance), "precious", "after an engine restart");
    let boots = docker(&["exec", &container_of(&instance, "db"), "cat", "/data/boots"]);
    assert_eq!(String::from_utf8_lossy(&boots.stdout).lines().count(), 3, "one boot per release, on the one volume");

    // kill -9 while db is being replaced: after the restart the live release's db is back on
    // its volume, the run is marked interrupted, and db still never ran twice.
    let c3 = compose(bb, "3");
    push(&served.work, &[("docker-compose.yml", &c3)], &[], "db round 3");
    // The rollback above pinned the stage: deploying now is the operator's confirmed choice.
    let (status, e) = api.send(Method::POST, "/projects/vault/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("confirmation_required")), "{e}");
    let id = run_confirmed(&api, "vault", "dev", "main").await;
    let mut killed_at = String::new();
    for _ in 0..600 {
        let r = api.get(&format!("/runs/{id}")).await;
        if let Some(step) = r["steps"].as_array().unwrap().iter().find(|s| s["name"] == "db: replace" && s["status"] == "running") {
            killed_at = step["name"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(killed_at, "db: replace", "the deploy reached db's replacement");
    drop(engine);
    let (_engine, base) = start_headless_env(dir.path(), &env(edge_port));
    let api = Api::new(&base, dir.path());
    let r = api.get(&format!("/runs/{id}")).await;
    assert_eq!(r["run"]["status"], "interrupted", "{r}");
    let db = running_db(&instance);
    assert!(env_of(&inspect(&db)).iter().any(|e| e == "ROUND=1"), "the live release (the rollback to 1) serves");
    assert_eq!(read_precious(&instance), "precious", "after kill -9 mid-deploy");
    assert_eq!(events.most_at_once(), 1, "db never ran twice on its volume");

    // Refused before the host is touched: a missing required variable, an unsupported key.
    let db_before = running_db(&instance);
    for (text, want) in [
        (c2.replace("${GREETING:-hello}", "${GREETING:?set GREETING for the web}"), "docker-compose.yml:14: service web: services.web.environment.GREETING: required variable GREETING is missing a value: set GREETING for the web"),
        (c2.replace("    stop_grace_period: 1s\n", "    stop_grace_period: 1s\n    devices: [\"/dev/fuse\"]\n"), "docker-compose.yml:10: service db: `devices` is not supported by Slipway yet"),
    ] {
        push(&served.work, &[("docker-compose.yml", &text)], &[], "bad compose");
        let r = finish(&api, run(&api, "vault", "dev", "main").await).await;
        assert_eq!((r["run"]["status"].as_str(), r["run"]["reason"].as_str()), (Some("failed"), Some(want)), "{r}");
        assert_eq!(running_db(&instance), db_before, "nothing was touched");
    }

    // Removing the project asks what becomes of its volume; nothing is removed until it is said.
    let (status, e) = api.send(Method::DELETE, "/projects/vault", json!({})).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("confirmation_required")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("vault-dev-dbdata"), "{e}");
    assert_eq!(api.send(Method::GET, "/projects/vault", json!({})).await.0, 200, "the project is still there");
    assert_eq!(read_precious(&instance), "precious");
    let (status, e) = api.send(Method::DELETE, "/projects/vault?volumes=remove", json!({})).await;
    assert_eq!(status, 204, "{e}");
    assert!(!docker(&["volume", "inspect", "vault-dev-dbdata"]).status.success(), "the volume went, as asked");
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=dev.slipway.instance={instance}"),
        "--filter",
        "label=dev.slipway.project=vault",
    ]);
    assert!(left.stdout.is_empty(), "the project's containers went first: {}", String::from_utf8_lossy(&left.stdout));
    assert_eq!(get_via_edge(edge_port, &host("dev", "vault")).await.0, 404, "the edge no longer routes to it");
    docker(&["volume", "rm", "-f", "vault-dev-dbdata"]);
}
