//! `include`: other compose files whose services, networks, volumes, secrets and configs join
//! this file's, as Compose does. A name that both define differently is refused (Compose refuses
//! it too); the same definition on both sides is one.
//! Relative paths in an included file are read from its own directory. What Slipway does not
//! do yet is refused, never skipped: `env_file` and `project_directory` on an include, paths
//! outside the repository, and a `.env` of its own in another directory (its variables would
//! apply to it alone, which this reader's single interpolation pass cannot do).

use serde_norway::{Mapping, Value};

use super::keys::At;
use super::values::scalar;
use super::{extends, join, merge, parse_checked};
use crate::Result;

/// How deep includes may nest (a cycle is refused once it is reached).
const DEPTH: usize = 10;

type Read<'a> = &'a dyn Fn(&str) -> std::result::Result<Option<String>, String>;

/// The sections an included file adds to.
const SECTIONS: [&str; 5] = ["services", "volumes", "networks", "secrets", "configs"];

/// Adds what `doc`'s `include` names to `doc` (`dir`: the directory of `doc`'s file).
pub(super) fn resolve(at: &At, doc: &mut Value, read: Read, dir: &str, depth: usize) -> Result<()> {
    let Some(list) = doc.as_mapping_mut().and_then(|m| m.remove("include")) else { return Ok(()) };
    if depth >= DEPTH {
        return Err(at.error("include", format!("`include` goes more than {DEPTH} deep (a cycle?)")));
    }
    let Value::Sequence(entries) = list else { return Err(at.error("include", "`include` is a list of files")) };
    for entry in entries {
        let paths = paths_of(at, &entry)?;
        let (included, its_dir) = load(at, &paths, read, dir, depth)?;
        add(at, doc, &included, &its_dir, dir)?;
    }
    Ok(())
}

fn paths_of(at: &At, entry: &Value) -> Result<Vec<String>> {
    match entry {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Mapping(m) => {
            for key in ["env_file", "project_directory"] {
                if m.contains_key(key) {
                    return Err(at.error(
                        "include",
                        format!("`{key}` on an include is not supported by Slipway yet: keep the included file's variables in the project's deploy.env"),
                    ));
                }
            }
            at.only("include", m, &["path"])?;
            match m.get("path") {
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Sequence(l)) => Ok(l.iter().filter_map(scalar).collect()),
                _ => Err(at.error("include", "an include needs a `path` (a file, or a list merged in order)")),
            }
        }
        _ => Err(at.error("include", "an include is a path or a map with `path`")),
    }
}

/// The included application model: its files merged in order, its own includes and extends
/// resolved; and its directory.
fn load(at: &At, paths: &[String], read: Read, dir: &str, depth: usize) -> Result<(Value, String)> {
    let mut model: Option<Value> = None;
    let mut model_dir = None;
    for p in paths {
        if p.starts_with('/') || p.split('/').any(|part| part == "..") {
            return Err(at.error("include", format!("{p}: an included file must be inside the repository, below {}", shown(dir))));
        }
        let path = join(dir, p);
        let text = read(&path).map_err(|e| at.error("include", format!("{path}: {e}")))?;
        let text = text.ok_or_else(|| at.error("include", format!("`include` names {path}, which is not in the repository")))?;
        let mut doc = parse_checked(&path, &text)?;
        let its_dir = path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
        let its_at = At { file: &path, text: &text, service: None };
        resolve(&its_at, &mut doc, read, &its_dir, depth + 1)?;
        extends::resolve(&its_at, &mut doc, read, &its_dir)?;
        if its_dir != dir && read(&join(&its_dir, ".env")).ok().flatten().is_some() {
            return Err(at.error(
                "include",
                format!(
                    "{path} has a .env of its own in {its_dir}: Slipway does not read one per included file yet; move its variables to {}",
                    shown_env(dir)
                ),
            ));
        }
        model = Some(match model {
            None => doc,
            Some(prev) => merge::merge(&prev, &doc, true),
        });
        model_dir.get_or_insert(its_dir);
    }
    Ok((model.unwrap_or(Value::Mapping(Mapping::new())), model_dir.unwrap_or_default()))
}

/// Adds the included sections to `doc`; a name both define is refused.
fn add(at: &At, doc: &mut Value, included: &Value, its_dir: &str, dir: &str) -> Result<()> {
    let Some(top) = doc.as_mapping_mut() else { return Ok(()) };
    for section in SECTIONS {
        let Some(theirs) = included.get(section).and_then(Value::as_mapping) else { continue };
        let key = Value::String(section.into());
        if !top.contains_key(&key) {
            top.insert(key.clone(), Value::Mapping(Mapping::new()));
        }
        let Some(Value::Mapping(ours)) = top.get_mut(&key) else {
            return Err(at.error(section, format!("`{section}` must be a map to take what `include` adds")));
        };
        for (name, body) in theirs {
            let body = match section {
                "services" => extends::rebase(body, its_dir, dir),
                "secrets" | "configs" => rebase_file(body, its_dir, dir),
                _ => body.clone(),
            };
            match ours.get(name) {
                // Compose accepts a resource both files define the same way (a shared network).
                Some(same) if *same == body => {}
                Some(_) => {
                    let n = scalar(name).unwrap_or_default();
                    return Err(at.error(
                        "include",
                        format!("{section} {n} is defined both here and in an included file, differently (Compose refuses this too)"),
                    ));
                }
                None => {
                    ours.insert(name.clone(), body);
                }
            }
        }
    }
    Ok(())
}

/// A secret's or config's `file:` made relative to `root` instead of `here`.
fn rebase_file(body: &Value, here: &str, root: &str) -> Value {
    let mut out = body.clone();
    if here != root {
        let prefix = here.strip_prefix(root).map(|p| p.trim_start_matches('/')).unwrap_or(here);
        if let Some(Value::String(f)) = out.as_mapping_mut().and_then(|m| m.get_mut("file")) {
            if !f.starts_with('/') {
                *f = format!("./{}", join(prefix, f));
            }
        }
    }
    out
}

fn shown(dir: &str) -> &str {
    if dir.is_empty() {
        "the repository's root"
    } else {
        dir
    }
}

fn shown_env(dir: &str) -> String {
    join(dir, ".env")
}
