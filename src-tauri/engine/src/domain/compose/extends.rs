//! `extends`: a service built on another one, from this file or another (`file:`, relative to
//! this one), merged by Compose's rules ([`super::merge`]) with the extending service winning.
//! Relative paths in a base from another directory are read from that directory, as Compose
//! does.

use serde_norway::{Mapping, Value};

use super::join;
use super::keys::At;
use super::merge::merge;
use super::values::scalar;
use crate::Result;

/// How deep `extends` may chain (a cycle is refused once it is reached).
const DEPTH: usize = 10;

type Read<'a> = &'a dyn Fn(&str) -> std::result::Result<Option<String>, String>;

/// Replaces every service that `extends` another with the merged result.
pub(super) fn resolve(at: &At, doc: &mut Value, read: Read, dir: &str) -> Result<()> {
    let Some(services) = doc.get("services").and_then(Value::as_mapping).cloned() else { return Ok(()) };
    let mut out = Mapping::new();
    for (name, body) in &services {
        let service = scalar(name).unwrap_or_default();
        let at = At { service: Some(&service), ..*at };
        out.insert(name.clone(), one(&at, body, &services, read, dir, dir, 0)?);
    }
    if let Some(m) = doc.as_mapping_mut() {
        m.insert(Value::String("services".into()), Value::Mapping(out));
    }
    Ok(())
}

/// `body` with its `extends` resolved; `services` are its file's, `here` that file's directory.
fn one(at: &At, body: &Value, services: &Mapping, read: Read, root: &str, here: &str, depth: usize) -> Result<Value> {
    let Some(ext) = body.get("extends") else { return Ok(rebase(body, here, root)) };
    if depth >= DEPTH {
        return Err(at.error("extends", format!("`extends` goes more than {DEPTH} deep (a cycle?)")));
    }
    let (base_name, file) = match ext {
        Value::String(s) => (s.clone(), None),
        Value::Mapping(m) => {
            at.only("extends", m, &["service", "file"])?;
            let name = m.get("service").and_then(scalar).ok_or_else(|| at.error("extends", "`extends` needs a `service`"))?;
            (name, m.get("file").and_then(scalar))
        }
        _ => return Err(at.error("extends", "`extends` must be a service name or a map with `service` and `file`")),
    };
    let (base_services, base_dir) = match &file {
        None => (services.clone(), here.to_string()),
        Some(f) => {
            let path = join(here, f);
            let text = read(&path).map_err(|e| at.error("extends", format!("{path}: {e}")))?;
            let text = text.ok_or_else(|| at.error("extends", format!("`extends` names {path}, which is not in the repository")))?;
            let mut other: Value = serde_norway::from_str(&text).map_err(|e| at.error("extends", format!("{path}: {e}")))?;
            other.apply_merge().map_err(|e| at.error("extends", format!("{path}: {e}")))?;
            let s = other.get("services").and_then(Value::as_mapping).cloned().unwrap_or_default();
            (s, path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default())
        }
    };
    let base = base_services.get(base_name.as_str()).ok_or_else(|| {
        at.error(
            "extends",
            format!("`extends` names service {base_name}, which {} does not define", file.as_deref().unwrap_or("this file")),
        )
    })?;
    let base = one(at, base, &base_services, read, root, &base_dir, depth + 1)?;
    let mut own = body.as_mapping().cloned().unwrap_or_default();
    own.remove("extends");
    Ok(merge(&base, &rebase(&Value::Mapping(own), here, root), false))
}

/// The service's relative paths (build context, env_file, bind sources) made relative to
/// `root`'s directory instead of `here`.
pub(super) fn rebase(body: &Value, here: &str, root: &str) -> Value {
    if here == root {
        return body.clone();
    }
    let prefix = here.strip_prefix(root).map(|p| p.trim_start_matches('/')).unwrap_or(here);
    let fix = |p: &str| if p.starts_with('/') || p.starts_with('~') { p.to_string() } else { format!("./{}", join(prefix, p)) };
    let mut out = body.clone();
    let Some(m) = out.as_mapping_mut() else { return out };
    match m.get_mut("build") {
        Some(Value::String(ctx)) => *ctx = fix(ctx),
        Some(Value::Mapping(b)) => {
            let ctx = b.get("context").and_then(scalar).unwrap_or_else(|| ".".into());
            b.insert(Value::String("context".into()), Value::String(fix(&ctx)));
        }
        _ => {}
    }
    match m.get_mut("env_file") {
        Some(Value::String(f)) => *f = fix(f),
        Some(Value::Sequence(l)) => l.iter_mut().for_each(|f| rebase_entry(f, "path", &fix)),
        _ => {}
    }
    if let Some(Value::Sequence(l)) = m.get_mut("volumes") {
        for v in l.iter_mut() {
            match v {
                Value::String(s) if s.starts_with('.') => *s = fix(s),
                // Long form: only a bind's source is a path (a volume's is a name).
                Value::Mapping(vm) if vm.get("type").and_then(scalar).as_deref() == Some("bind") => rebase_entry(v, "source", &fix),
                _ => {}
            }
        }
    }
    out
}

/// `entry` (a path, or a map holding one under `key`) made relative to the root.
fn rebase_entry(entry: &mut Value, key: &str, fix: &dyn Fn(&str) -> String) {
    match entry {
        Value::String(s) => *s = fix(s),
        Value::Mapping(m) => {
            if let Some(Value::String(s)) = m.get_mut(key) {
                *s = fix(s);
            }
        }
        _ => {}
    }
}
