//! Volumes, networks, secrets and configs: the stack's own (top level) and what each service
//! mounts or joins. Named volumes are the stack's data: they are named per stage and outlive
//! every deploy; a path inside the repository is refused (the checkout is gone after the build).

use std::collections::BTreeMap;

use serde_norway::{Mapping, Value};

use super::keys::At;
use super::values::{boolean, bytes, scalar, string_map};
use crate::Result;

pub use slipway_protocol::compose::{FileSource, FileSpec, MountKind, MountSpec, NetworkSpec, VolumeSpec};

/// The stack's volumes: `<project>-<stage>-<name>` unless the file names them (`name:`) or
/// they are `external`.
pub(super) fn volumes(at: &At, v: Option<&Value>, prefix: &str) -> Result<BTreeMap<String, VolumeSpec>> {
    let mut out = BTreeMap::new();
    for (k, body) in entries(at, "volumes", v)? {
        let m = body.as_mapping().cloned().unwrap_or_default();
        at.only(&format!("volumes.{k}"), &m, &["name", "external", "driver", "driver_opts", "labels"])?;
        let external = m.get("external").and_then(boolean).unwrap_or(false);
        let name = m.get("name").and_then(scalar).unwrap_or_else(|| if external { k.clone() } else { format!("{prefix}-{k}") });
        out.insert(
            k.clone(),
            VolumeSpec {
                name,
                external,
                driver: m.get("driver").and_then(scalar),
                driver_opts: m.get("driver_opts").and_then(string_map).unwrap_or_default(),
                labels: m.get("labels").and_then(string_map).unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

/// The stack's networks; `default` is the stack's own network unless the file says otherwise.
pub(super) fn networks(at: &At, v: Option<&Value>, default_name: &str, prefix: &str) -> Result<BTreeMap<String, NetworkSpec>> {
    let mut out = BTreeMap::new();
    out.insert("default".to_string(), network_spec(default_name.to_string(), &Mapping::new()));
    for (k, body) in entries(at, "networks", v)? {
        let m = body.as_mapping().cloned().unwrap_or_default();
        at.only(&format!("networks.{k}"), &m, &["name", "external", "driver", "driver_opts", "labels", "internal", "attachable"])?;
        let external = m.get("external").and_then(boolean).unwrap_or(false);
        let fallback = if k == "default" {
            default_name.to_string()
        } else if external {
            k.clone()
        } else {
            format!("{prefix}-{k}")
        };
        let name = m.get("name").and_then(scalar).unwrap_or(fallback);
        out.insert(k.clone(), network_spec(name, &m));
    }
    Ok(out)
}

fn network_spec(name: String, m: &Mapping) -> NetworkSpec {
    NetworkSpec {
        name,
        external: m.get("external").and_then(boolean).unwrap_or(false),
        driver: m.get("driver").and_then(scalar),
        internal: m.get("internal").and_then(boolean).unwrap_or(false),
        attachable: m.get("attachable").and_then(boolean).unwrap_or(false),
        labels: m.get("labels").and_then(string_map).unwrap_or_default(),
        driver_opts: m.get("driver_opts").and_then(string_map).unwrap_or_default(),
    }
}

/// Top-level `secrets:` or `configs:`: where each one's content comes from. A secret file of
/// the repository goes to `keychain` (key → content): the spec names only its key.
pub(super) fn sources(
    at: &At,
    what: &str,
    v: Option<&Value>,
    secrets: &[String],
    read: &dyn Fn(&str) -> Result<String>,
    keychain: &mut BTreeMap<String, String>,
    prefix: &str,
) -> Result<BTreeMap<String, FileSource>> {
    let secret = what == "secrets";
    let mut out = BTreeMap::new();
    for (k, body) in entries(at, what, v)? {
        let m = body.as_mapping().cloned().unwrap_or_default();
        at.only(&format!("{what}.{k}"), &m, &["file", "environment", "content", "name"])?;
        let source = if let Some(env) = m.get("environment").and_then(scalar) {
            if secrets.contains(&env) {
                FileSource::Secret(env)
            } else if secret {
                return Err(at.error(&k, format!("secret {k}: `environment: {env}` must name one of the project's secrets (set it with `slipwayd secret set`), so its value comes from the keychain")));
            } else {
                FileSource::Env(env)
            }
        } else if let (true, Some(f)) = (secret, m.get("file").and_then(scalar)) {
            use sha2::Digest;
            let content = read(&f)?;
            let digest = hex::encode(&sha2::Sha256::digest(content.as_bytes())[..8]);
            let key = format!("compose-secret:{prefix}:{k}:{digest}");
            keychain.insert(key.clone(), content);
            FileSource::Keychain(key)
        } else if secret {
            return Err(at.error(&k, format!("secret {k}: an inline secret would be stored with the release; keep it in Slipway's secrets and write `environment: NAME`, or in a file of the repository (`file:`)")));
        } else if let Some(c) = m.get("content").and_then(scalar) {
            FileSource::Content(c)
        } else if let Some(f) = m.get("file").and_then(scalar) {
            FileSource::Content(read(&f)?)
        } else {
            return Err(at.error(&k, format!("config {k} needs `file`, `content` or `environment`")));
        };
        out.insert(k, source);
    }
    Ok(out)
}

/// A top-level section as (name, body) pairs.
fn entries(at: &At, what: &str, v: Option<&Value>) -> Result<Vec<(String, Value)>> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| Ok((scalar(k).ok_or_else(|| at.error(what, format!("a name under `{what}` is not a string")))?, v.clone())))
            .collect(),
        Some(_) => Err(at.error(what, format!("`{what}` must be a map"))),
    }
}

/// A service's `volumes:` and `tmpfs:` as mounts.
pub(super) fn mounts(at: &At, m: &Mapping, volumes: &BTreeMap<String, VolumeSpec>) -> Result<Vec<MountSpec>> {
    let mut out = Vec::new();
    if let Some(list) = m.get("volumes") {
        let list = list.as_sequence().ok_or_else(|| at.error("volumes", "`volumes` must be a list"))?;
        for item in list {
            out.push(mount(at, item, volumes)?);
        }
    }
    if let Some(t) = m.get("tmpfs") {
        let targets = super::values::strings(t).ok_or_else(|| at.error("tmpfs", "`tmpfs` must be a path or a list of paths"))?;
        for target in targets {
            out.push(MountSpec { kind: MountKind::Tmpfs, source: String::new(), target, read_only: false, size: 0 });
        }
    }
    Ok(out)
}

fn mount(at: &At, item: &Value, volumes: &BTreeMap<String, VolumeSpec>) -> Result<MountSpec> {
    let (kind, source, target, read_only, size) = match item {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => ("", *t, ""),
                [s, t] => (*s, *t, ""),
                [s, t, m] => (*s, *t, *m),
                _ => return Err(at.error("volumes", format!("volume `{s}` is not source:target[:mode]"))),
            };
            let kind = if source.is_empty() {
                "volume"
            } else if source.starts_with(['.', '/', '~']) {
                "bind"
            } else {
                "volume"
            };
            (kind.to_string(), source.to_string(), target.to_string(), mode.split(',').any(|m| m == "ro"), 0)
        }
        Value::Mapping(m) => {
            at.only("volumes[]", m, &["type", "source", "target", "read_only", "volume", "bind", "tmpfs", "consistency"])?;
            let kind = m.get("type").and_then(scalar).unwrap_or_else(|| "volume".into());
            let size = m.get("tmpfs").and_then(|t| t.get("size")).map(|s| bytes(s).unwrap_or(0)).unwrap_or(0);
            let ro = m.get("read_only").and_then(boolean).unwrap_or(false);
            (
                kind,
                m.get("source").and_then(scalar).unwrap_or_default(),
                m.get("target").and_then(scalar).unwrap_or_default(),
                ro,
                size as u64,
            )
        }
        _ => return Err(at.error("volumes", "a `volumes` entry must be a string or a map")),
    };
    if !target.starts_with('/') {
        return Err(at.error("volumes", format!("volume target `{target}` must be an absolute path in the container")));
    }
    match kind.as_str() {
        "volume" if source.is_empty() => Err(at.error(
            &target,
            format!("the anonymous volume at {target} would be a new, empty volume on every deploy: name it (`data:{target}`) and declare it under the top-level `volumes:`"),
        )),
        "volume" if !volumes.contains_key(&source) => Err(at.error(&source, format!("volume `{source}` is not declared under the top-level `volumes:`"))),
        "volume" => Ok(MountSpec { kind: MountKind::Volume, source, target, read_only, size: 0 }),
        "bind" if source.starts_with('/') => Ok(MountSpec { kind: MountKind::Bind, source, target, read_only, size: 0 }),
        // A read-only path of the repository is what the container would see at this commit:
        // its files are copied into the container before it starts (the reader adds them).
        "bind" if read_only && !source.starts_with('~') => Ok(MountSpec { kind: MountKind::Repo, source, target, read_only, size: 0 }),
        "bind" => Err(at.error(
            &source,
            format!("bind mount `{source}` is a writable path in the repository, whose checkout Slipway removes after the build (and which a remote host does not have): use a named volume for data, or mount it read-only (`:ro`) to have its files copied in"),
        )),
        "tmpfs" => Ok(MountSpec { kind: MountKind::Tmpfs, source: String::new(), target, read_only, size }),
        other => Err(at.error("volumes", format!("volume type `{other}` is not supported by Slipway yet (volume, bind and tmpfs are)"))),
    }
}

/// A service's `networks:` (list or map with aliases); every one must be the stack's.
pub(super) fn service_networks(at: &At, v: Option<&Value>, known: &BTreeMap<String, NetworkSpec>) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    let pairs: Vec<(String, Option<Value>)> = match v {
        None => return Ok(out),
        Some(Value::Sequence(l)) => l.iter().map(|n| (scalar(n).unwrap_or_default(), None)).collect(),
        Some(Value::Mapping(m)) => m.iter().map(|(k, v)| (scalar(k).unwrap_or_default(), Some(v.clone()))).collect(),
        Some(_) => return Err(at.error("networks", "`networks` must be a list or a map")),
    };
    for (name, body) in pairs {
        if !known.contains_key(&name) {
            return Err(at.error("networks", format!("network `{name}` is not declared under the top-level `networks:`")));
        }
        let mut aliases = Vec::new();
        if let Some(Value::Mapping(m)) = body {
            at.only(&format!("networks.{name}"), &m, &["aliases"])?;
            aliases = m.get("aliases").and_then(super::values::strings).unwrap_or_default();
        }
        out.insert(name, aliases);
    }
    Ok(out)
}

/// A service's `secrets:` or `configs:`: files placed in the container before it starts.
pub(super) fn files(at: &At, what: &str, v: Option<&Value>, known: &BTreeMap<String, FileSource>) -> Result<Vec<FileSpec>> {
    let Some(v) = v else { return Ok(vec![]) };
    let list = v.as_sequence().ok_or_else(|| at.error(what, format!("`{what}` must be a list")))?;
    let mut out = Vec::new();
    for item in list {
        let (source, m) = match item {
            Value::Mapping(m) => {
                at.only(&format!("{what}[]"), m, &["source", "target", "uid", "gid", "mode"])?;
                (m.get("source").and_then(scalar).unwrap_or_default(), m.clone())
            }
            other => (scalar(other).unwrap_or_default(), Mapping::new()),
        };
        let Some(found) = known.get(&source) else {
            return Err(at.error(what, format!("{} `{source}` is not declared under the top-level `{what}:`", &what[..what.len() - 1])));
        };
        let target = m.get("target").and_then(scalar).unwrap_or_else(|| source.clone());
        let target = if target.starts_with('/') {
            target
        } else if what == "secrets" {
            format!("/run/secrets/{target}")
        } else {
            format!("/{target}")
        };
        let mode = match m.get("mode") {
            None => 0o444,
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0o444) as u32,
            Some(other) => scalar(other).and_then(|s| u32::from_str_radix(s.trim_start_matches("0o"), 8).ok()).unwrap_or(0o444),
        };
        out.push(FileSpec {
            target,
            source: found.clone(),
            mode,
            uid: m.get("uid").and_then(scalar).unwrap_or_else(|| "0".into()),
            gid: m.get("gid").and_then(scalar).unwrap_or_else(|| "0".into()),
        });
    }
    Ok(out)
}
