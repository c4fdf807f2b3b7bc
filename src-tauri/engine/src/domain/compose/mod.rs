//! Compose files as users write them. Every key the file uses is either applied as Docker
//! Compose applies it or refused before anything is touched, with the file, the line, the
//! service and the key ([`keys`]); unknown keys are errors, `x-` extensions are allowed. The
//! result is one normalised [`StackSpec`], stored with every release.
//!
//! Why not a typed model from a crate (`docker-compose-types`): it trails the specification
//! (keys arrive one release at a time), accepts what it does not model, and keeps no lines;
//! honouring or refusing each key needs a catalogue of the specification's keys anyway.
//! Parsing is `serde_norway` (YAML anchors and `<<:` merges included), then Compose's
//! interpolation ([`interpolate`]) over every value, then one reader per concern.
//!
//! Must not depend on I/O, nor on other domain modules but [`crate::domain::yaml`].

pub mod dotenv;
mod extends;
mod include;
pub mod interpolate;
pub mod keys;
mod merge;
mod runtime;
mod service;
mod storage;
mod tags;
mod values;

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;

use crate::{Error, ErrorCode, Result};
use interpolate::{Interpolated, Lookup};
use keys::At;

pub use slipway_protocol::compose::{Dependency, FileSource, Healthcheck, MountKind, MountSpec, NetworkSpec, ServiceSpec, StackSpec};

/// The text files under a path of the repository, as (path inside it, content).
pub type FilesUnder<'a> = dyn Fn(&str) -> std::result::Result<Vec<(String, String)>, String> + 'a;

/// What reading a compose file needs besides its text.
pub struct Input<'a> {
    /// The file's path in the repository (`docker-compose.yml`, `deploy/compose.yaml`).
    pub file: &'a str,
    pub text: &'a str,
    /// Reads a file of the repository by its path from the repository's root: `Ok(None)` if
    /// it does not exist.
    pub read: &'a dyn Fn(&str) -> std::result::Result<Option<String>, String>,
    /// The text files under a path of the repository (a file: itself, with an empty relative
    /// path), for read-only bind mounts of the repository; refuses what is too big or not text.
    pub files_under: &'a FilesUnder<'a>,
    /// Later compose files (path, text), merged onto this one in order as Compose merges them.
    pub overrides: &'a [(String, String)],
    /// The project's environment: over the `.env` file, as the shell's is for Compose.
    pub env: &'a BTreeMap<String, String>,
    /// The names of the project's secrets (their values are never read here).
    pub secrets: &'a [String],
    /// The stage: the profile that is active, and the volumes' and networks' prefix.
    pub stage: &'a str,
    pub project: &'a str,
    /// The stack's default network on the host.
    pub network: &'a str,
}

/// What the readers share while one file is read.
pub(crate) struct Stack<'a> {
    file: &'a str,
    text: &'a str,
    /// The compose file's directory in the repository ("" at the root).
    dir: String,
    stage: &'a str,
    vars: BTreeMap<String, String>,
    read: &'a dyn Fn(&str) -> std::result::Result<Option<String>, String>,
    files_under: &'a FilesUnder<'a>,
    /// `services/<name>/environment/<key or index>` of values that hold a secret.
    templates: BTreeSet<String>,
    volumes: BTreeMap<String, storage::VolumeSpec>,
    networks: BTreeMap<String, storage::NetworkSpec>,
    secrets: BTreeMap<String, FileSource>,
    configs: BTreeMap<String, FileSource>,
}

impl Stack<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn path(&self, rel: &str) -> String {
        join(&self.dir, rel)
    }

    fn read_optional(&self, rel: &str) -> std::result::Result<Option<String>, String> {
        (self.read)(&self.path(rel))
    }
}

/// A compose file as read for one stage.
#[derive(Debug)]
pub struct Loaded {
    pub stack: StackSpec,
    /// Secret files of the repository, by the keychain key the stack names them with: the
    /// caller puts them in the keychain before deploying.
    pub keychain: BTreeMap<String, String>,
}

/// Reads a compose file into the stack Slipway deploys on `input.stage`.
pub fn load(input: &Input) -> Result<Loaded> {
    let file = input.file;
    let top = At { file, text: input.text, service: None };
    let dir = file.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
    let mut doc = parse_checked(file, input.text)?;
    include::resolve(&top, &mut doc, input.read, &dir, 0)?;
    for (later, text) in input.overrides {
        if later.rsplit_once('/').map(|(d, _)| d) != file.rsplit_once('/').map(|(d, _)| d) {
            return Err(invalid(later, format!("must be in the same directory as {file} (relative paths in both are read from there)")));
        }
        let mut over = parse_checked(later, text)?;
        include::resolve(&At { file: later, text, service: None }, &mut over, input.read, &dir, 0)?;
        doc = merge::merge(&doc, &over, true);
    }
    extends::resolve(&top, &mut doc, input.read, &dir)?;
    tags::settle(&mut doc);
    let dotenv_path = if dir.is_empty() { ".env".to_string() } else { format!("{dir}/.env") };
    let mut vars = match (input.read)(&dotenv_path).map_err(|e| invalid(file, format!("{dotenv_path}: {e}")))? {
        Some(text) => dotenv::parse(&text).map_err(|e| invalid(file, format!("{dotenv_path}: {e}")))?,
        None => BTreeMap::new(),
    };
    vars.extend(input.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut templates = BTreeSet::new();
    let lookup = |name: &str| match vars.get(name) {
        Some(v) => Lookup::Value(v.clone()),
        None if input.secrets.iter().any(|s| s == name) => Lookup::Keep,
        None => Lookup::Unset,
    };
    interpolate_tree(&top, &mut doc, &mut Vec::new(), &lookup, &mut templates)?;
    let prefix = format!("{}-{}", input.project, input.stage);
    let read_required = |rel: &str| -> Result<String> {
        let path = join(&dir, rel);
        match (input.read)(&path) {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(invalid(file, format!("{path} is not in the repository"))),
            Err(e) => Err(invalid(file, format!("{path}: {e}"))),
        }
    };
    let mut keychain = BTreeMap::new();
    let cx = Stack {
        file,
        text: input.text,
        dir: dir.clone(),
        stage: input.stage,
        volumes: storage::volumes(&top, doc.get("volumes"), &prefix)?,
        networks: storage::networks(&top, doc.get("networks"), input.network, &prefix)?,
        secrets: storage::sources(&top, "secrets", doc.get("secrets"), input.secrets, &read_required, &mut keychain, &prefix)?,
        configs: storage::sources(&top, "configs", doc.get("configs"), input.secrets, &read_required, &mut keychain, &prefix)?,
        vars,
        read: input.read,
        files_under: input.files_under,
        templates,
    };
    let mut notes = Vec::new();
    if doc.get("version").is_some() {
        notes.push("`version` is obsolete and has no effect (as in Compose)".to_string());
    }
    if let Some(name) = doc.get("name").and_then(values::scalar) {
        notes.push(format!("`name: {name}`: the stack is named {prefix} on the host, per project and stage"));
    }
    let services = doc.get("services").and_then(Value::as_mapping).ok_or_else(|| invalid(file, "no `services:`"))?;
    let mut parsed = Vec::new();
    for (name, s) in services {
        let name = values::scalar(name).ok_or_else(|| invalid(file, "a service name is not a string"))?;
        if let Some(spec) = service::read(&cx, &name, s, &mut notes)? {
            parsed.push(spec);
        }
    }
    let mut volumes = cx.volumes;
    let used: BTreeSet<&str> =
        parsed.iter().flat_map(|s| s.mounts.iter().filter(|m| m.kind == MountKind::Volume).map(|m| m.source.as_str())).collect();
    volumes.retain(|k, _| used.contains(k.as_str()));
    let mut networks = cx.networks;
    let joined: BTreeSet<String> = parsed
        .iter()
        .flat_map(|s| if s.networks.is_empty() { vec!["default".to_string()] } else { s.networks.keys().cloned().collect() })
        .collect();
    networks.retain(|k, _| joined.contains(k) || k == "default");
    Ok(Loaded { stack: StackSpec { services: order(file, input.text, parsed)?, volumes, networks, notes }, keychain })
}

/// One file parsed (anchors and `<<:` merges applied), its top-level and service keys checked
/// against the catalogue with its own lines before anything is merged.
fn parse_checked(file: &str, text: &str) -> Result<Value> {
    let mut doc: Value = serde_norway::from_str(text).map_err(|e| invalid(file, e))?;
    doc.apply_merge().map_err(|e| invalid(file, e))?;
    if let Some((tag, key)) = tags::unknown(&doc) {
        return Err(invalid(file, format!("`{tag}` on `{key}` is not a Compose tag: Compose knows `!reset` and `!override` only")));
    }
    let map = doc.as_mapping().ok_or_else(|| invalid(file, "a compose file is a map with `services:`"))?;
    let top = At { file, text, service: None };
    let known: Vec<&str> = keys::TOP.iter().map(|(k, _)| *k).collect();
    for k in map.keys() {
        top.check(keys::TOP, &values::scalar(k).unwrap_or_default(), &known)?;
    }
    let known: Vec<&str> = keys::SERVICE.iter().map(|(k, _)| *k).collect();
    for (name, body) in doc.get("services").and_then(Value::as_mapping).into_iter().flatten() {
        let name = values::scalar(name).unwrap_or_default();
        let at = At { file, text, service: Some(&name) };
        for k in body.as_mapping().into_iter().flat_map(|m| m.keys()) {
            at.check(keys::SERVICE, &values::scalar(k).unwrap_or_default(), &known)?;
        }
    }
    Ok(doc)
}

/// `rel` (relative to the directory `dir` of the repository, "" for its root) as a path from the
/// repository's root.
fn join(dir: &str, rel: &str) -> String {
    let rel = rel.trim_start_matches("./");
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

fn invalid(file: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidInput, format!("{file}: {msg}"))
}

/// Interpolates every string value (not keys) in place. A value that holds a secret may only
/// be an environment value; anywhere else its value would end up stored with the release.
fn interpolate_tree(
    at: &At,
    v: &mut Value,
    path: &mut Vec<String>,
    lookup: &dyn Fn(&str) -> Lookup,
    templates: &mut BTreeSet<String>,
) -> Result<()> {
    match v {
        Value::String(s) => {
            let where_ = path.join(".");
            match interpolate::interpolate(s, lookup) {
                Ok(Interpolated::Done(d)) => *s = d,
                Ok(Interpolated::Template(t)) => {
                    let env = path.len() == 4 && path[0] == "services" && path[2] == "environment";
                    if !env && !path.iter().any(|p| p.starts_with("x-")) {
                        let service = (path.len() > 1 && path[0] == "services").then(|| path[1].as_str());
                        let at = At { service, ..*at };
                        return Err(at.error(path.last().map(String::as_str).unwrap_or(""), format!("`{where_}` uses a Slipway secret: secrets can only be used in `environment:` values (filled in when the container is created) or as compose secrets (`secrets: {{name: {{environment: SECRET}}}}`), so their values are never stored")));
                    }
                    templates.insert(path.join("/"));
                    *s = t;
                }
                Err(e) => {
                    let service = (path.len() > 1 && path[0] == "services").then(|| path[1].as_str());
                    let at = At { service, ..*at };
                    return Err(at.error(path.last().map(String::as_str).unwrap_or(""), format!("{where_}: {e}")));
                }
            }
        }
        Value::Sequence(l) => {
            for (i, item) in l.iter_mut().enumerate() {
                path.push(i.to_string());
                interpolate_tree(at, item, path, lookup, templates)?;
                path.pop();
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                path.push(values::scalar(k).unwrap_or_default());
                interpolate_tree(at, item, path, lookup, templates)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Dependency order (stable: file order among equals); unknown dependencies and cycles are errors.
fn order(file: &str, text: &str, services: Vec<ServiceSpec>) -> Result<Vec<ServiceSpec>> {
    let names = service::names(&services);
    for s in &services {
        for d in &s.depends_on {
            if !names.contains(d.service.as_str()) {
                let at = At { file, text, service: Some(&s.name) };
                return Err(at.error(
                    "depends_on",
                    format!("depends on {}, which the file does not define (or whose profiles leave it out of this stage)", d.service),
                ));
            }
        }
    }
    let mut done: Vec<ServiceSpec> = Vec::new();
    let mut left = services;
    while !left.is_empty() {
        let ready = left.iter().position(|s| s.depends_on.iter().all(|d| done.iter().any(|x| x.name == d.service)));
        match ready {
            Some(i) => done.push(left.remove(i)),
            None => {
                return Err(invalid(
                    file,
                    format!("a depends_on cycle among {}", left.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")),
                ))
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests;
