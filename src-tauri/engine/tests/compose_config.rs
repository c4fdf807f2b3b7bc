//! Docker's own Compose is the reference: for every compose file Slipway accepts in the tests
//! (the accepted files of the corpus, and `tests/fixtures/compose-config`, which uses most keys
//! Slipway honours, with an env_file, interpolation, profiles, `extends`, anchors and a second
//! file merged on top), the stack Slipway reads matches what `docker-compose config` makes of
//! the same files, key by key, for every key both define.
//!
//! The tool here is Debian's `docker-compose` (Compose v1, 1.29): Compose v2 is in no registry
//! this machine reaches. Where v1's output differs in form, both sides are brought to one form
//! (a string command split into words, `$$` unescaped, durations in ms, `host:ip` extra hosts);
//! where Slipway deliberately deviates, the projection says so next to the field.

mod compose_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use compose_common::{fixtures, read_files};
use serde_norway::{Mapping, Value};
use slipway_engine::domain::compose::{FileSource, MountKind, ServiceSpec};

/// One service, in the form both readings are compared in.
#[derive(Debug, Default, PartialEq, serde::Serialize)]
struct Canon {
    image: Option<String>,
    /// (context relative to the compose file's directory, dockerfile, target)
    build: Option<(String, String, Option<String>)>,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: BTreeMap<String, String>,
    /// Ports published on the host: (host ip, host port, target, protocol).
    published: BTreeSet<(String, String, u16, String)>,
    /// Container ports that are not published on the host: `ports` entries without a host
    /// port and `expose` (Slipway routes the first to the edge and exposes the others, where
    /// Compose would publish them on a port Docker picks).
    unpublished: BTreeSet<String>,
    /// (kind, source, target, read only)
    mounts: BTreeSet<(String, String, String, bool)>,
    networks: BTreeMap<String, BTreeSet<String>>,
    depends_on: BTreeMap<String, String>,
    /// (test, interval, timeout, retries, start period), Docker's defaults filled in.
    healthcheck: Option<(Vec<String>, u64, u64, u64, u64)>,
    labels: BTreeMap<String, String>,
    user: Option<String>,
    working_dir: Option<String>,
    restart: Option<String>,
    cap_add: BTreeSet<String>,
    cap_drop: BTreeSet<String>,
    extra_hosts: BTreeSet<String>,
    init: Option<bool>,
    stop_signal: Option<String>,
    stop_grace_ms: Option<u64>,
    ulimits: BTreeMap<String, (i64, i64)>,
    /// Where each secret is in the container.
    secrets: BTreeSet<String>,
    /// `deploy.replicas` or `scale`, one when neither is given.
    replicas: u64,
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(l) => l.iter().filter_map(str_of).collect(),
        other => str_of(other).into_iter().collect(),
    }
}

/// Compose's durations: `1m30s`, `2s`, `500ms`, `1h`.
fn duration_ms(s: &str) -> u64 {
    let (mut total, mut num) = (0f64, String::new());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            1.0
        } else {
            match c {
                'h' => 3_600_000.0,
                'm' => 60_000.0,
                's' => 1_000.0,
                'u' | 'µ' => {
                    chars.next();
                    0.001
                }
                other => panic!("unit {other} in duration {s}"),
            }
        };
        total += num.parse::<f64>().unwrap() * unit;
        num.clear();
    }
    total as u64
}

/// `$$` in `config`'s output is an escaped `$` (the output is meant to be read again).
fn unescape(s: &str) -> String {
    s.replace("$$", "$")
}

fn words(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => shell_words::split(&unescape(s)).unwrap(),
        other => strs(other).iter().map(|s| unescape(s)).collect(),
    }
}

fn map_of(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Mapping(m)) => {
            m.iter().map(|(k, v)| (str_of(k).unwrap(), str_of(v).map(|s| unescape(&s)).unwrap_or_default())).collect()
        }
        Some(Value::Sequence(l)) => l
            .iter()
            .filter_map(str_of)
            .map(|s| {
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                (k.to_string(), unescape(v))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A path `config` made absolute, back to one relative to the compose file's directory.
fn relative(path: &str, dir: &Path) -> String {
    let dir = dir.to_string_lossy();
    path.strip_prefix(dir.as_ref()).map(|p| p.trim_start_matches('/').to_string()).unwrap_or_else(|| path.to_string())
}

fn compose_mounts(s: &Mapping, dir: &Path) -> BTreeSet<(String, String, String, bool)> {
    let mut out = BTreeSet::new();
    for v in s.get("volumes").and_then(Value::as_sequence).cloned().unwrap_or_default() {
        let (kind, source, target, ro) = match &v {
            Value::String(short) => {
                let parts: Vec<&str> = short.split(':').collect();
                let ro = parts.get(2).is_some_and(|m| m.split(',').any(|o| o == "ro"));
                let kind = if parts[0].starts_with('/') || parts[0].starts_with('.') { "bind" } else { "volume" };
                (kind.to_string(), parts[0].to_string(), parts[1].to_string(), ro)
            }
            Value::Mapping(m) => (
                str_of(&m["type"]).unwrap(),
                m.get("source").and_then(str_of).unwrap_or_default(),
                str_of(&m["target"]).unwrap(),
                m.get("read_only").and_then(Value::as_bool).unwrap_or(false),
            ),
            other => panic!("volume {other:?}"),
        };
        let source = if kind == "bind" { relative(&source, dir) } else { source };
        out.insert((kind, source, target, ro));
    }
    for t in s.get("tmpfs").map(strs).unwrap_or_default() {
        out.insert(("tmpfs".into(), String::new(), t, false));
    }
    out
}

fn compose_service(s: &Mapping, dir: &Path) -> Canon {
    let get = |k: &str| s.get(k);
    let mut c = Canon {
        image: get("image").and_then(str_of),
        command: get("command").map(words),
        entrypoint: get("entrypoint").map(words),
        env: map_of(get("environment")),
        labels: map_of(get("labels")),
        user: get("user").and_then(str_of),
        working_dir: get("working_dir").and_then(str_of),
        restart: get("restart").and_then(str_of),
        cap_add: get("cap_add").map(strs).unwrap_or_default().into_iter().collect(),
        cap_drop: get("cap_drop").map(strs).unwrap_or_default().into_iter().collect(),
        init: get("init").and_then(Value::as_bool),
        stop_signal: get("stop_signal").and_then(str_of),
        stop_grace_ms: get("stop_grace_period").and_then(str_of).map(|d| duration_ms(&d)),
        mounts: compose_mounts(s, dir),
        replicas: get("deploy").and_then(|d| d.get("replicas")).or(get("scale")).and_then(Value::as_u64).unwrap_or(1),
        ..Canon::default()
    };
    if let Some(b) = get("build") {
        let ctx = relative(&str_of(&b["context"]).unwrap(), dir);
        let dockerfile = b.get("dockerfile").and_then(str_of).unwrap_or_else(|| "Dockerfile".into());
        c.build = Some((if ctx.is_empty() { ".".into() } else { ctx }, dockerfile, b.get("target").and_then(str_of)));
    }
    for p in get("ports").and_then(Value::as_sequence).cloned().unwrap_or_default() {
        let proto = p.get("protocol").and_then(str_of).unwrap_or_else(|| "tcp".into());
        let target = p["target"].as_u64().unwrap() as u16;
        match p.get("published").and_then(str_of) {
            Some(host) => {
                c.published.insert((p.get("host_ip").and_then(str_of).unwrap_or_default(), host, target, proto));
            }
            None => {
                c.unpublished.insert(format!("{target}/{proto}"));
            }
        }
    }
    for e in get("expose").map(strs).unwrap_or_default() {
        c.unpublished.insert(if e.contains('/') { e } else { format!("{e}/tcp") });
    }
    c.networks = match get("networks") {
        Some(Value::Mapping(m)) => {
            m.iter().map(|(k, v)| (str_of(k).unwrap(), v.get("aliases").map(strs).unwrap_or_default().into_iter().collect())).collect()
        }
        Some(v) => strs(v).into_iter().map(|n| (n, BTreeSet::new())).collect(),
        None => BTreeMap::from([("default".to_string(), BTreeSet::new())]),
    };
    c.depends_on = match get("depends_on") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| (str_of(k).unwrap(), v.get("condition").and_then(str_of).unwrap_or_else(|| "service_started".into())))
            .collect(),
        Some(v) => strs(v).into_iter().map(|d| (d, "service_started".into())).collect(),
        None => BTreeMap::new(),
    };
    c.healthcheck = get("healthcheck").map(|h| {
        let test = match &h["test"] {
            Value::String(t) => vec!["CMD-SHELL".to_string(), unescape(t)],
            other => strs(other).iter().map(|s| unescape(s)).collect(),
        };
        let d = |k: &str, default: u64| h.get(k).and_then(str_of).map(|v| duration_ms(&v)).unwrap_or(default);
        (test, d("interval", 30_000), d("timeout", 30_000), h.get("retries").and_then(Value::as_u64).unwrap_or(3), d("start_period", 0))
    });
    c.extra_hosts = match get("extra_hosts") {
        Some(Value::Mapping(m)) => m.iter().map(|(k, v)| format!("{}:{}", str_of(k).unwrap(), str_of(v).unwrap())).collect(),
        Some(v) => strs(v).into_iter().map(|h| h.replacen('=', ":", 1)).collect(),
        None => BTreeSet::new(),
    };
    if let Some(Value::Mapping(u)) = get("ulimits") {
        for (k, v) in u {
            let pair = match v {
                Value::Mapping(m) => (m["soft"].as_i64().unwrap(), m["hard"].as_i64().unwrap()),
                n => (n.as_i64().unwrap(), n.as_i64().unwrap()),
            };
            c.ulimits.insert(str_of(k).unwrap(), pair);
        }
    }
    for sec in get("secrets").and_then(Value::as_sequence).cloned().unwrap_or_default() {
        let (source, target) = match &sec {
            Value::Mapping(m) => (str_of(&m["source"]).unwrap(), m.get("target").and_then(str_of)),
            other => (str_of(other).unwrap(), None),
        };
        let target = target.unwrap_or(source);
        c.secrets.insert(if target.starts_with('/') { target } else { format!("/run/secrets/{target}") });
    }
    c
}

fn slipway_service(s: &ServiceSpec, compose_dir: &str) -> Canon {
    let r = &s.runtime;
    let in_dir = |p: &str| p.strip_prefix(compose_dir).map(|p| p.trim_start_matches('/').to_string()).unwrap_or_else(|| p.to_string());
    let mut env = s.env.clone();
    env.extend(s.secret_env.clone());
    let mut unpublished: BTreeSet<String> = s.port.map(|p| format!("{p}/tcp")).into_iter().collect();
    unpublished.extend(r.expose.iter().map(|e| if e.contains('/') { e.clone() } else { format!("{e}/tcp") }));
    let mounts = s
        .mounts
        .iter()
        .map(|m| {
            let (kind, source) = match m.kind {
                MountKind::Volume => ("volume", m.source.clone()),
                MountKind::Bind => ("bind", m.source.clone()),
                // A read-only path of the repository: its files are copied in (compared as the
                // bind mount Compose makes of it).
                MountKind::Repo => ("bind", in_dir(m.source.trim_start_matches("./"))),
                MountKind::Tmpfs => ("tmpfs", String::new()),
            };
            (kind.to_string(), source, m.target.clone(), m.read_only)
        })
        .collect();
    Canon {
        image: s.image.clone(),
        build: s.build.as_ref().map(|(ctx, f)| {
            let ctx = in_dir(ctx);
            (if ctx.is_empty() { ".".into() } else { ctx }, f.clone(), s.build_target.clone())
        }),
        command: s.command.clone(),
        entrypoint: r.entrypoint.clone(),
        env,
        published: s.published.iter().map(|p| (p.host_ip.clone(), p.host_port.clone(), p.target, p.protocol.clone())).collect(),
        unpublished,
        mounts,
        networks: if s.networks.is_empty() {
            BTreeMap::from([("default".to_string(), BTreeSet::new())])
        } else {
            s.networks.iter().map(|(k, v)| (k.clone(), v.iter().cloned().collect())).collect()
        },
        depends_on: s.depends_on.iter().map(|d| (d.service.clone(), d.condition.clone())).collect(),
        healthcheck: s.healthcheck.as_ref().map(|h| (h.test.clone(), h.interval_ms, h.timeout_ms, u64::from(h.retries), h.start_period_ms)),
        labels: r.labels.clone(),
        user: r.user.clone(),
        working_dir: r.working_dir.clone(),
        restart: r.restart.clone(),
        cap_add: r.cap_add.iter().cloned().collect(),
        cap_drop: r.cap_drop.iter().cloned().collect(),
        extra_hosts: r.extra_hosts.iter().cloned().collect(),
        init: r.init,
        stop_signal: r.stop_signal.clone(),
        stop_grace_ms: r.stop_grace_secs.map(|s| s as u64 * 1000),
        ulimits: r.ulimits.clone(),
        // Secrets and configs alike are files Slipway places; the secrets are those whose
        // content is not the repository's text.
        secrets: s.files.iter().filter(|f| !matches!(f.source, FileSource::Content(_))).map(|f| f.target.clone()).collect(),
        replicas: u64::from(r.replicas.unwrap_or(1)),
    }
}

/// `docker-compose config` of `files` in a copy of `dir` (with the build contexts the corpus
/// did not copy made as empty directories: v1 refuses a missing one), profile `dev` active.
fn compose_config(dir: &Path, files: &[&str], contexts: &[String], env: &BTreeMap<String, String>) -> (Mapping, tempfile::TempDir) {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-r").arg(format!("{}/.", dir.display())).arg(copy.path()).status().unwrap();
    assert!(status.success());
    for c in contexts {
        std::fs::create_dir_all(copy.path().join(c)).unwrap();
    }
    let mut cmd = Command::new("docker-compose");
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap()).envs(env).current_dir(copy.path());
    cmd.args(["-p", "corpus", "--profile", "dev"]);
    for f in files {
        cmd.args(["-f", f]);
    }
    let out = cmd
        .arg("config")
        .output()
        .unwrap_or_else(|e| panic!("docker-compose (Debian's package; ./scripts/test installs it) could not run: {e}"));
    assert!(out.status.success(), "docker-compose config in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_norway::from_slice(&out.stdout).unwrap();
    (doc.as_mapping().unwrap().clone(), copy)
}

/// Compares the two readings of `files` in `dir`; returns the differences, one per line.
fn differences(dir: &Path, files: &[&str], env: &BTreeMap<String, String>) -> Vec<String> {
    let loaded = read_files(dir, files, env).unwrap_or_else(|e| panic!("{}: Slipway refused it: {e}", dir.display()));
    let contexts: Vec<String> = loaded.stack.services.iter().filter_map(|s| s.build.as_ref().map(|b| b.0.clone())).collect();
    let (doc, copy) = compose_config(dir, files, &contexts, env);
    let name = dir.file_name().unwrap().to_string_lossy();
    let mut diffs = Vec::new();
    // v1 lists services of every profile; v2 and Slipway keep only the active ones.
    let active = |s: &Mapping| s.get("profiles").is_none_or(|p| strs(p).iter().any(|p| p == "dev"));
    let services: BTreeMap<String, Mapping> = doc["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (str_of(k).unwrap(), v.as_mapping().unwrap().clone()))
        .filter(|(_, v)| active(v))
        .collect();
    let ours: BTreeMap<&str, &ServiceSpec> = loaded.stack.services.iter().map(|s| (s.name.as_str(), s)).collect();
    let (theirs_names, ours_names): (BTreeSet<_>, BTreeSet<_>) =
        (services.keys().map(String::as_str).collect(), ours.keys().copied().collect());
    if theirs_names != ours_names {
        diffs.push(format!("{name}: services: compose {theirs_names:?}, slipway {ours_names:?}"));
    }
    for (svc, spec) in &services {
        let Some(s) = ours.get(svc.as_str()) else { continue };
        let (a, b) = (compose_service(spec, copy.path()), slipway_service(s, ""));
        let (a, b) = (serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
        for (field, theirs) in a.as_object().unwrap() {
            if &b[field] != theirs {
                diffs.push(format!("{name}: service {svc}: {field}: compose {theirs}, slipway {}", b[field]));
            }
        }
    }
    let keys =
        |k: &str| doc.get(k).and_then(Value::as_mapping).map(|m| m.keys().filter_map(str_of).collect::<BTreeSet<_>>()).unwrap_or_default();
    let our_volumes: BTreeSet<String> = loaded.stack.volumes.keys().cloned().collect();
    if keys("volumes") != our_volumes {
        diffs.push(format!("{name}: volumes: compose {:?}, slipway {our_volumes:?}", keys("volumes")));
    }
    // Slipway always names the stack's `default` network; v1 leaves it out of `config`.
    let our_networks: BTreeSet<String> = loaded.stack.networks.keys().filter(|n| *n != "default").cloned().collect();
    if keys("networks") != our_networks {
        diffs.push(format!("{name}: networks: compose {:?}, slipway {our_networks:?}", keys("networks")));
    }
    diffs
}

#[test]
fn every_accepted_corpus_file_reads_as_docker_compose_config_reads_it() {
    let mut diffs = Vec::new();
    let mut compared = 0;
    for entry in std::fs::read_dir(fixtures("compose")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("compose.yaml").exists() || read_files(&dir, &["compose.yaml"], &BTreeMap::new()).is_err() {
            continue;
        }
        compared += 1;
        diffs.extend(differences(&dir, &["compose.yaml"], &BTreeMap::new()));
    }
    assert_eq!(compared, 5, "the corpus's accepted files (compose_corpus.rs lists them)");
    assert!(diffs.is_empty(), "\n{}", diffs.join("\n"));
}

#[test]
fn a_file_with_most_keys_and_an_override_file_reads_as_docker_compose_config_reads_it() {
    let env = BTreeMap::from([("LEVEL".to_string(), "debug".to_string())]);
    let diffs = differences(&fixtures("compose-config/features"), &["compose.yaml", "compose.prod.yaml"], &env);
    assert!(diffs.is_empty(), "\n{}", diffs.join("\n"));
}
