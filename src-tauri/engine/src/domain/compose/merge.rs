//! Compose's merge rules, for `extends` and for several compose files (`compose: [compose.yaml,
//! compose.prod.yaml]`): mappings merge key by key, the later file winning; `environment` and
//! `labels` merge by name (whatever spelling each side used); lists of things that add up
//! (`ports`, `expose`, `dns`, `cap_add`, …) are appended without duplicates; `volumes`,
//! `secrets` and `configs` merge by their target; `command`, `entrypoint` and a healthcheck's
//! `test` are replaced whole. `!reset` and `!override` on the later side undo or replace
//! ([`super::tags`]).

use serde_norway::{Mapping, Value};

use super::tags;
use super::values::{pairs, scalar};

/// Service keys whose lists are appended.
const APPENDED: &[&str] = &[
    "ports",
    "expose",
    "dns",
    "dns_search",
    "dns_opt",
    "cap_add",
    "cap_drop",
    "tmpfs",
    "env_file",
    "profiles",
    "security_opt",
    "group_add",
    "extra_hosts",
];
/// Service keys whose lists merge by their entries' target.
const BY_TARGET: &[&str] = &["volumes", "secrets", "configs"];
/// Keys replaced whole even when both sides are lists or maps.
const REPLACED: &[&str] = &["command", "entrypoint", "test"];

/// `over` merged onto `base` (a service, or a whole file's top level with `top`).
pub fn merge(base: &Value, over: &Value, top: bool) -> Value {
    let (Some(b), Some(o)) = (base.as_mapping(), over.as_mapping()) else { return over.clone() };
    let mut out = b.clone();
    for (k, v) in o {
        if tags::apply(&mut out, k, v).is_some() {
            continue;
        }
        let key = scalar(k).unwrap_or_default();
        let merged = match (out.get(k), v) {
            (None, _) => v.clone(),
            (Some(_), _) if REPLACED.contains(&key.as_str()) => v.clone(),
            // At the top level, `services`, `volumes`, … are maps of named things, each merged.
            (Some(Value::Mapping(bm)), Value::Mapping(om)) if top => {
                let mut m = bm.clone();
                for (name, body) in om {
                    let next = match m.get(name) {
                        Some(prev) => merge(prev, body, false),
                        None => body.clone(),
                    };
                    m.insert(name.clone(), next);
                }
                Value::Mapping(m)
            }
            (Some(prev), _) if key == "environment" || key == "labels" => by_name(prev, v),
            (Some(Value::Sequence(bl)), Value::Sequence(ol)) if APPENDED.contains(&key.as_str()) => {
                let mut l = bl.clone();
                l.extend(ol.iter().filter(|x| !bl.contains(x)).cloned());
                Value::Sequence(l)
            }
            (Some(Value::Sequence(bl)), Value::Sequence(ol)) if BY_TARGET.contains(&key.as_str()) => {
                let mut l: Vec<Value> = bl.iter().filter(|x| !ol.iter().any(|y| target(y) == target(x))).cloned().collect();
                l.extend(ol.iter().cloned());
                Value::Sequence(l)
            }
            (Some(prev @ Value::Mapping(_)), Value::Mapping(_)) => merge(prev, v, false),
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Mapping(out)
}

/// `environment`/`labels` of both sides as one map, the later side winning.
fn by_name(base: &Value, over: &Value) -> Value {
    let mut m = Mapping::new();
    for side in [base, over] {
        for (k, v) in pairs(side, '=').unwrap_or_default() {
            m.insert(Value::String(k), v.map(Value::String).unwrap_or(Value::Null));
        }
    }
    Value::Mapping(m)
}

/// Where a `volumes`/`secrets`/`configs` entry lands: its target (or, for secrets and configs
/// given by name, the name).
fn target(v: &Value) -> String {
    match v {
        Value::Mapping(m) => m.get("target").or_else(|| m.get("source")).and_then(scalar).unwrap_or_default(),
        other => {
            let s = scalar(other).unwrap_or_default();
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [_, t, ..] => t.to_string(),
                _ => s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn a_later_file_merges_as_compose_merges() {
        let base = y("services:\n  web:\n    image: a\n    command: [x, y]\n    environment: [A=1, B=2]\n    ports: [\"80\"]\n    volumes: [\"d:/data\", \"c:/cache\"]\n    healthcheck: {test: [CMD, a], interval: 1s}\nvolumes: {d: {}}\n");
        let over = y("services:\n  web:\n    command: [z]\n    environment: {B: \"3\", C: \"4\"}\n    ports: [\"81\"]\n    volumes: [\"e:/data\"]\n    healthcheck: {test: [CMD, b]}\n  worker: {image: w}\nvolumes: {e: {}}\n");
        let m = merge(&base, &over, true);
        let web = &m["services"]["web"];
        assert_eq!(web["image"], y("a"));
        assert_eq!(web["command"], y("[z]"), "replaced whole");
        assert_eq!(web["environment"], y("{A: \"1\", B: \"3\", C: \"4\"}"));
        assert_eq!(web["ports"], y("[\"80\", \"81\"]"), "appended");
        assert_eq!(web["volumes"], y("[\"c:/cache\", \"e:/data\"]"), "by target: /data is the later file's");
        assert_eq!(web["healthcheck"], y("{test: [CMD, b], interval: 1s}"));
        assert_eq!(m["services"]["worker"], y("{image: w}"));
        assert_eq!(m["volumes"], y("{d: {}, e: {}}"));
    }

    #[test]
    fn reset_removes_what_the_earlier_file_set_and_override_replaces_it_whole() {
        let base =
            y("services:\n  web:\n    image: a\n    ports: [\"80\", \"81\"]\n    environment: {A: \"1\"}\n    volumes: [\"d:/data\"]\n");
        let over =
            y("services:\n  web:\n    ports: !override [\"90\"]\n    environment: !reset {}\n    volumes: !reset []\n    dns: !reset []\n");
        let mut m = merge(&base, &over, true);
        tags::settle(&mut m);
        assert_eq!(m["services"]["web"], y("{image: a, ports: [\"90\"]}"));
    }
}
