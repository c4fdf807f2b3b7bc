//! One service of a compose file, read into a [`ServiceSpec`]: every key it uses is checked
//! against the catalogue ([`super::keys`]) first, then applied.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::{Mapping, Value};

use super::keys::{self, At};
use super::values::{pairs, scalar, strings};
use super::{storage, Stack};
use crate::Result;

pub use slipway_protocol::compose::{Dependency, Healthcheck, PublishedPort, ServiceSpec};

/// Reads service `name`; `None` if its profiles leave it out of this stage.
pub(super) fn read(cx: &Stack, name: &str, v: &Value, notes: &mut Vec<String>) -> Result<Option<ServiceSpec>> {
    let at = At { file: cx.file, text: cx.text, service: Some(name) };
    let m = v.as_mapping().ok_or_else(|| at.error(name, "a service must be a map of keys"))?;
    let known: Vec<&str> = keys::SERVICE.iter().map(|(k, _)| *k).collect();
    for k in m.keys() {
        let key = scalar(k).unwrap_or_default();
        at.check(keys::SERVICE, &key, &known)?;
    }
    if let Some(p) = m.get("profiles") {
        let profiles = strings(p).ok_or_else(|| at.error("profiles", "`profiles` must be a list of names"))?;
        if !profiles.iter().any(|p| p == cx.stage) {
            notes.push(format!(
                "service {name} is not deployed on stage {}: its profiles are {} (a service with profiles runs on the stages they name)",
                cx.stage,
                profiles.join(", ")
            ));
            return Ok(None);
        }
    }
    let image = m.get("image").and_then(scalar);
    let (build, build_args, build_target) = build(&at, m, cx)?;
    if image.is_none() && build.is_none() {
        return Err(at.error(name, "needs an image or a build"));
    }
    let mut runtime = storage_free_runtime(&at, m)?;
    let (port, published) = ports(&at, m, &mut runtime, name, notes)?;
    let (env, secret_env) = environment(&at, m, cx, name)?;
    let mounts = storage::mounts(&at, m, &cx.volumes)?;
    let shared = m.get("x-slipway").map(|x| slipway_extension(&at, x)).transpose()?.unwrap_or(false);
    let stateful = !shared && mounts.iter().any(|mt| mt.kind == storage::MountKind::Volume && !mt.read_only);
    if let Some(n) = runtime.replicas {
        several(&at, if m.contains_key("scale") { "scale" } else { "replicas" }, n, stateful, &published)?;
    }
    let mut files = repo_files(&at, cx, &mounts)?;
    files.extend(storage::files(&at, "secrets", m.get("secrets"), &cx.secrets)?);
    files.extend(storage::files(&at, "configs", m.get("configs"), &cx.configs)?);
    if let Some(p) = m.get("pull_policy").and_then(scalar) {
        if !matches!(p.as_str(), "missing" | "if_not_present" | "never" | "build") {
            return Err(at.error(
                "pull_policy",
                format!("`pull_policy: {p}`: Slipway deploys the image the build made or the host has (missing, never or build)"),
            ));
        }
    }
    Ok(Some(ServiceSpec {
        name: name.to_string(),
        image,
        build,
        port,
        env,
        command: command(&at, m, "command")?,
        depends_on: depends_on(&at, m)?,
        healthcheck: healthcheck(&at, m)?,
        build_args,
        build_target,
        published,
        mounts,
        networks: storage::service_networks(&at, m.get("networks"), &cx.networks)?,
        secret_env,
        files,
        runtime,
        stateful,
    }))
}

fn storage_free_runtime(at: &At, m: &Mapping) -> Result<super::runtime::Runtime> {
    let mut r = super::runtime::Runtime { entrypoint: command(at, m, "entrypoint")?, ..Default::default() };
    super::runtime::read(at, m, &mut r)?;
    if let Some(l) = m.get("labels") {
        r.labels = super::values::string_map(l).ok_or_else(|| at.error("labels", "`labels` must be a map or a list of name=value"))?;
        if let Some(k) = r.labels.keys().find(|k| k.starts_with("dev.slipway.") || k.starts_with("com.docker.compose.")) {
            return Err(at.error("labels", format!("label `{k}` is set by Slipway itself")));
        }
    }
    Ok(r)
}

/// Several containers of one service: not on one writable volume (never two at once on it),
/// and not on one fixed host port (Compose fails there too; a range can hold them).
fn several(at: &At, key: &str, n: u32, stateful: bool, published: &[PublishedPort]) -> Result<()> {
    if stateful {
        return Err(at.error(
            key,
            format!("{n} replicas would run {n} containers on one writable volume: give 1, or mark it shared (`x-slipway: {{shared_volume: true}}`) if the program allows that"),
        ));
    }
    if let Some(p) = published.iter().find(|p| !p.host_port.is_empty() && !p.host_port.contains('-')) {
        return Err(at.error(
            key,
            format!(
                "{n} replicas cannot all publish host port {}: leave the host port out (the edge routes to every replica) or give a range",
                p.host_port
            ),
        ));
    }
    Ok(())
}

/// `x-slipway: {shared_volume: true}`: the service's volumes may be used by two containers at
/// once, so it can be switched blue-green.
fn slipway_extension(at: &At, v: &Value) -> Result<bool> {
    let m = v.as_mapping().ok_or_else(|| at.error("x-slipway", "`x-slipway` must be a map"))?;
    at.only("x-slipway", m, &["shared_volume"])?;
    Ok(m.get("shared_volume").and_then(super::values::boolean).unwrap_or(false))
}

type Build = (Option<(String, String)>, BTreeMap<String, String>, Option<String>);

/// `build: dir` or `build: {context, dockerfile, args, target}`, relative to the compose file.
fn build(at: &At, m: &Mapping, cx: &Stack) -> Result<Build> {
    let Some(b) = m.get("build") else { return Ok((None, BTreeMap::new(), None)) };
    let join = |ctx: &str| if cx.dir.is_empty() { ctx.to_string() } else { format!("{}/{ctx}", cx.dir) };
    match b {
        Value::String(ctx) => Ok((Some((join(ctx), "Dockerfile".into())), BTreeMap::new(), None)),
        Value::Mapping(b) => {
            at.only("build", b, &["context", "dockerfile", "args", "target"])?;
            let ctx = b.get("context").and_then(scalar).unwrap_or_else(|| ".".into());
            let dockerfile = b.get("dockerfile").and_then(scalar).unwrap_or_else(|| "Dockerfile".into());
            let mut args = BTreeMap::new();
            if let Some(a) = b.get("args") {
                for (k, v) in pairs(a, '=').ok_or_else(|| at.error("args", "`build.args` must be a map or a list"))? {
                    if let Some(v) = v.or_else(|| cx.var(&k)) {
                        args.insert(k, v);
                    }
                }
            }
            Ok((Some((join(&ctx), dockerfile)), args, b.get("target").and_then(scalar)))
        }
        _ => Err(at.error("build", "`build` must be a path or a map")),
    }
}

/// `command:`/`entrypoint:` as Compose runs them: a list as is, a string split as a shell
/// would split it (no shell runs it).
fn command(at: &At, m: &Mapping, key: &str) -> Result<Option<Vec<String>>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => shell_words::split(s)
            .map(Some)
            .map_err(|e| at.error(key, format!("`{key}` cannot be split into words ({e}): write it as a list"))),
        Some(v) => strings(v).map(Some).ok_or_else(|| at.error(key, format!("`{key}` must be a string or a list of strings"))),
    }
}

/// `env_file` first, then `environment` over it; a bare name takes the project's value (or is
/// left out, as Compose does). Values that hold a secret become templates.
fn environment(at: &At, m: &Mapping, cx: &Stack, service: &str) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let mut env = BTreeMap::new();
    if let Some(files) = m.get("env_file") {
        let list = match files {
            Value::Sequence(l) => l.clone(),
            other => vec![other.clone()],
        };
        for f in list {
            let (path, required) = match &f {
                Value::Mapping(fm) => (
                    fm.get("path").and_then(scalar).unwrap_or_default(),
                    fm.get("required").and_then(super::values::boolean).unwrap_or(true),
                ),
                other => (scalar(other).unwrap_or_default(), true),
            };
            match cx.read_optional(&path) {
                Ok(Some(text)) => {
                    env.extend(super::dotenv::parse(&text).map_err(|e| at.error("env_file", format!("env_file {path}: {e}")))?)
                }
                Ok(None) if !required => {}
                Ok(None) => {
                    return Err(at
                        .error("env_file", format!("env_file {path} is not in the repository (give `required: false` if it is optional)")))
                }
                Err(e) => return Err(at.error("env_file", format!("env_file {path}: {e}"))),
            }
        }
    }
    let mut secret_env = BTreeMap::new();
    if let Some(e) = m.get("environment") {
        let list = pairs(e, '=').ok_or_else(|| at.error("environment", "`environment` must be a map or a list of NAME=value"))?;
        for (i, (k, v)) in list.into_iter().enumerate() {
            let templated = cx.templates.contains(&format!("services/{service}/environment/{k}"))
                || cx.templates.contains(&format!("services/{service}/environment/{i}"));
            match v.or_else(|| cx.var(&k)) {
                Some(v) if templated => {
                    env.remove(&k);
                    secret_env.insert(k, v);
                }
                Some(v) => {
                    env.insert(k, v);
                }
                None => {}
            }
        }
    }
    Ok((env, secret_env))
}

/// `ports:`. A service that publishes no host port is switched blue-green behind the edge on
/// its first port; one that publishes host ports is published as Compose would (and updated in
/// place: two containers cannot hold one host port).
fn ports(
    at: &At,
    m: &Mapping,
    r: &mut super::runtime::Runtime,
    name: &str,
    notes: &mut Vec<String>,
) -> Result<(Option<u16>, Vec<PublishedPort>)> {
    let Some(list) = m.get("ports") else { return Ok((None, vec![])) };
    let list = list.as_sequence().ok_or_else(|| at.error("ports", "`ports` must be a list"))?;
    let mut all = Vec::new();
    for p in list {
        all.push(port(p).ok_or_else(|| {
            at.error(
                "ports",
                format!(
                    "ports entry `{}` is not [[ip:]host:]container[/protocol] or {{target, published}}",
                    super::values::scalar(p).unwrap_or_else(|| "…".into())
                ),
            )
        })?);
    }
    if all.iter().any(|p| !p.host_port.is_empty()) {
        notes.push(format!("service {name} publishes host ports ({}): it is updated in place, with a short interruption, since two containers cannot hold one host port", all.iter().map(|p| format!("{}:{}", p.host_port, p.target)).collect::<Vec<_>>().join(", ")));
        return Ok((None, all));
    }
    for extra in all.iter().skip(1) {
        r.expose.push(format!("{}/{}", extra.target, extra.protocol));
    }
    Ok((all.first().map(|p| p.target), vec![]))
}

/// `"8080:80"`, `"127.0.0.1:8080:80/udp"`, `"80"`, `80`, `{target: 80, published: 8080}`.
fn port(p: &Value) -> Option<PublishedPort> {
    match p {
        Value::Mapping(m) => Some(PublishedPort {
            host_ip: m.get("host_ip").and_then(scalar).unwrap_or_default(),
            host_port: m.get("published").and_then(scalar).unwrap_or_default(),
            target: u16::try_from(m.get("target")?.as_u64()?).ok()?,
            protocol: m.get("protocol").and_then(scalar).unwrap_or_else(|| "tcp".into()),
        }),
        other => {
            let s = scalar(other)?;
            let (rest, protocol) = s.split_once('/').unwrap_or((&s, "tcp"));
            let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
            let target: u16 = parts.first()?.parse().ok()?;
            Some(PublishedPort {
                host_port: parts.get(1).map(|s| s.to_string()).unwrap_or_default(),
                host_ip: parts.get(2).map(|s| s.trim_matches(['[', ']']).to_string()).unwrap_or_default(),
                target,
                protocol: protocol.to_string(),
            })
        }
    }
}

fn depends_on(at: &At, m: &Mapping) -> Result<Vec<Dependency>> {
    let conditions = ["service_started", "service_healthy", "service_completed_successfully"];
    match m.get("depends_on") {
        None => Ok(vec![]),
        Some(Value::Sequence(l)) => {
            Ok(l.iter().filter_map(scalar).map(|d| Dependency { service: d, condition: "service_started".into() }).collect())
        }
        Some(Value::Mapping(map)) => {
            let mut out = Vec::new();
            for (k, v) in map {
                let service = scalar(k).unwrap_or_default();
                let body = v.as_mapping().cloned().unwrap_or_default();
                at.only(&format!("depends_on.{service}"), &body, &["condition", "required"])?;
                let condition = body.get("condition").and_then(scalar).unwrap_or_else(|| "service_started".into());
                if !conditions.contains(&condition.as_str()) {
                    return Err(at.error(
                        "condition",
                        format!("depends_on {service}: condition `{condition}` is not one of {}", conditions.join(", ")),
                    ));
                }
                out.push(Dependency { service, condition });
            }
            Ok(out)
        }
        Some(_) => Err(at.error("depends_on", "`depends_on` must be a list or a map")),
    }
}

/// `healthcheck:`; `disable: true` (or `test: [NONE]`) turns off the image's own check too.
fn healthcheck(at: &At, m: &Mapping) -> Result<Option<Healthcheck>> {
    let Some(h) = m.get("healthcheck") else { return Ok(None) };
    let h = h.as_mapping().ok_or_else(|| at.error("healthcheck", "`healthcheck` must be a map"))?;
    at.only("healthcheck", h, &["test", "interval", "timeout", "retries", "start_period", "disable"])?;
    let none = || Healthcheck { test: vec!["NONE".into()], interval_ms: 0, timeout_ms: 0, retries: 0, start_period_ms: 0 };
    if h.get("disable").and_then(super::values::boolean) == Some(true) {
        return Ok(Some(none()));
    }
    let test = match h.get("test") {
        Some(Value::String(t)) => vec!["CMD-SHELL".to_string(), t.clone()],
        Some(v @ Value::Sequence(_)) => strings(v).ok_or_else(|| at.error("test", "healthcheck `test` must be a list of strings"))?,
        _ => return Err(at.error("healthcheck", "healthcheck needs a `test`")),
    };
    let dur = |k: &str, default: u64| match h.get(k) {
        None => Ok(default),
        Some(v) => {
            super::values::duration_value_ms(v).ok_or_else(|| at.error(k, format!("healthcheck `{k}` is not a duration like 5s or 500ms")))
        }
    };
    let retries = match h.get("retries") {
        None => 3,
        Some(v) => v.as_u64().ok_or_else(|| at.error("retries", "healthcheck `retries` must be a whole number"))? as u32,
    };
    Ok(Some(Healthcheck {
        test,
        interval_ms: dur("interval", 30_000)?,
        timeout_ms: dur("timeout", 30_000)?,
        retries,
        start_period_ms: dur("start_period", 0)?,
    }))
}

/// Names a service may depend on (for the profile check).
pub(super) fn names(services: &[ServiceSpec]) -> BTreeSet<&str> {
    services.iter().map(|s| s.name.as_str()).collect()
}

/// The files of the service's read-only bind mounts of the repository, as they are at this
/// commit, placed where the mount would have shown them.
fn repo_files(at: &At, cx: &Stack, mounts: &[storage::MountSpec]) -> Result<Vec<storage::FileSpec>> {
    let mut out = Vec::new();
    for m in mounts.iter().filter(|m| m.kind == storage::MountKind::Repo) {
        let found = (cx.files_under)(&cx.path(&m.source)).map_err(|e| at.error("volumes", format!("bind mount `{}`: {e}", m.source)))?;
        for (rel, content) in found {
            let target = if rel.is_empty() { m.target.clone() } else { format!("{}/{rel}", m.target.trim_end_matches('/')) };
            out.push(storage::FileSpec {
                target,
                source: storage::FileSource::Content(content),
                mode: 0o444,
                uid: "0".into(),
                gid: "0".into(),
            });
        }
    }
    Ok(out)
}
