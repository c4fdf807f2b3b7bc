//! Real-world compose files (tests/fixtures/compose, with their provenance and licenses): each
//! one is either read into a stack Slipway deploys, or refused, before anything is touched,
//! with the file, the line, the service and the key it does not support. Nothing is dropped in
//! between: the accepted ones are checked for what they ask (volumes, secrets, health checks).

mod compose_common;

use std::collections::BTreeMap;

use compose_common::{fixtures, read_files};
use slipway_engine::domain::compose::{FileSource, Loaded, MountKind};

fn corpus() -> std::path::PathBuf {
    fixtures("compose")
}

fn read(name: &str) -> Result<Loaded, String> {
    read_files(&corpus().join(name), &["compose.yaml"], &BTreeMap::new())
}

/// (directory, the start of the refusal, or "" for a file that is read).
const EXPECTED: &[(&str, &str)] = &[
    // The mount comes in through `<<: *airflow-common`: the line is the service's own.
    ("airflow-celery", "compose.yaml:102: service airflow-webserver: bind mount `./dags` is a writable path in the repository"),
    ("gitea-docker-basic", "compose.yaml:10: service server: `container_name` cannot be used"),
    ("nextcloud-redis-mariadb", ""),
    ("nginx-flask-mysql", ""),
    ("nginx-golang-postgres", ""),
    ("pihole-cloudflared-DoH", "compose.yaml:5: service cloudflared: `container_name` cannot be used"),
    ("postgresql-pgadmin", "compose.yaml:3: service postgres: `container_name` cannot be used"),
    ("prometheus-grafana", "compose.yaml:4: service prometheus: `container_name` cannot be used"),
    ("pythondotorg", "compose.yaml:28: service web: bind mount `.` is a writable path in the repository"),
    ("react-express-mongodb", "compose.yaml:10: service frontend: bind mount `./frontend` is a writable path in the repository"),
    ("react-java-mysql", "compose.yaml:42: service frontend: bind mount `./frontend/src` is a writable path in the repository"),
    ("react-rust-postgres", "compose.yaml:29: service backend: bind mount `./backend/src` is a writable path in the repository"),
    ("spring-postgres", ""),
    ("traefik-golang", ""),
];

#[test]
fn every_file_of_the_corpus_is_read_or_refused_with_its_line_service_and_key() {
    let dirs: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("compose.yaml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), EXPECTED.len(), "every corpus file has an expectation: {dirs:?}");
    let mut wrong = Vec::new();
    for (name, want) in EXPECTED {
        match (read(name), *want) {
            (Ok(_), "") => {}
            (Err(e), w) if !w.is_empty() && e.starts_with(w) => {}
            (got, w) => wrong.push(format!("{name}: want {w:?}, got {:?}", got.map(|l| l.stack.services.len()))),
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn what_the_accepted_files_ask_for_is_in_the_stack() {
    // Nextcloud: `80:80` publishes host port 80 (so it is updated in place); the database's
    // named volume makes it stateful and is named per project and stage.
    let nc = read("nextcloud-redis-mariadb").unwrap().stack;
    let web = nc.services.iter().find(|s| s.name == "nc").unwrap();
    assert_eq!((web.published[0].host_port.as_str(), web.published[0].target), ("80", 80));
    let db = nc.services.iter().find(|s| s.name == "db").unwrap();
    assert!(db.stateful);
    assert_eq!(db.command.as_deref(), Some(&["--transaction-isolation=READ-COMMITTED".to_string(), "--binlog-format=ROW".to_string()][..]));
    assert_eq!(nc.volumes["db_data"].name, "corpus-dev-db_data");
    assert!(db.networks.contains_key("dbnet") && !db.networks.contains_key("redisnet"));

    // nginx + golang + postgres: the password file goes to the keychain, the read-only nginx.conf
    // is copied in, the backend waits for a healthy database.
    let loaded = read("nginx-golang-postgres").unwrap();
    let backend = loaded.stack.services.iter().find(|s| s.name == "backend").unwrap();
    assert!(backend.depends_on.iter().any(|d| d.service == "db" && d.condition == "service_healthy"), "{:?}", backend.depends_on);
    let secret = backend.files.iter().find(|f| f.target == "/run/secrets/db-password").unwrap();
    let FileSource::Keychain(key) = &secret.source else { panic!("{:?}", secret.source) };
    assert_eq!(
        loaded.keychain[key].trim(),
        std::fs::read_to_string(corpus().join("nginx-golang-postgres/db/password.txt")).unwrap().trim()
    );
    let proxy = loaded.stack.services.iter().find(|s| s.name == "proxy").unwrap();
    assert!(proxy.mounts.iter().any(|m| m.kind == MountKind::Repo));
    assert!(proxy
        .files
        .iter()
        .any(|f| f.target == "/etc/nginx/conf.d/default.conf" && matches!(&f.source, FileSource::Content(c) if c.contains("server"))));
    let db = loaded.stack.services.iter().find(|s| s.name == "db").unwrap();
    assert!(db.healthcheck.is_some() && db.stateful);

    // traefik: the Docker socket (an absolute host path) is bind-mounted, the labels kept.
    let tr = read("traefik-golang").unwrap().stack;
    let proxy = tr.services.iter().find(|s| s.name == "frontend" || s.runtime.labels.is_empty()).unwrap();
    assert!(
        tr.services.iter().any(|s| s.mounts.iter().any(|m| m.kind == MountKind::Bind && m.source == "/var/run/docker.sock")),
        "{proxy:?}"
    );
    assert!(tr.services.iter().any(|s| s.runtime.labels.values().any(|v| v.contains('`'))));
}
