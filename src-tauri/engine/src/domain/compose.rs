//! The part of a compose file Slipway deploys: per service its image or build, published
//! port, environment, command, dependencies (with their conditions) and healthcheck. Parsed
//! from YAML by hand because compose allows several spellings of each (lists or maps, strings
//! or arrays); the result is one normalised form, stored with every release.

use std::collections::BTreeMap;

use serde_norway::Value;

use crate::{Error, ErrorCode, Result};

pub use slipway_protocol::compose::{Dependency, Healthcheck, ServiceSpec, StackSpec};

fn invalid(file: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidInput, format!("{file}: {msg}"))
}

pub fn parse(file: &str, text: &str) -> Result<StackSpec> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| invalid(file, e))?;
    let services = doc.get("services").and_then(Value::as_mapping).ok_or_else(|| invalid(file, "no services"))?;
    let mut parsed = Vec::new();
    for (name, s) in services {
        let name = name.as_str().ok_or_else(|| invalid(file, "a service name is not a string"))?.to_string();
        parsed.push(service(file, name, s)?);
    }
    Ok(StackSpec { services: order(file, parsed)? })
}

fn service(file: &str, name: String, s: &Value) -> Result<ServiceSpec> {
    let at = |msg: &str| invalid(file, format!("service {name}: {msg}"));
    let image = s.get("image").and_then(Value::as_str).map(str::to_string);
    let build = match s.get("build") {
        None => None,
        Some(Value::String(ctx)) => Some((ctx.clone(), "Dockerfile".to_string())),
        Some(b) => Some((
            b.get("context").and_then(Value::as_str).unwrap_or(".").to_string(),
            b.get("dockerfile").and_then(Value::as_str).unwrap_or("Dockerfile").to_string(),
        )),
    };
    if image.is_none() && build.is_none() {
        return Err(at("needs an image or a build"));
    }
    let port = match s.get("ports").and_then(Value::as_sequence).and_then(|p| p.first()) {
        None => None,
        Some(p) => Some(container_port(p).ok_or_else(|| at("cannot read its first ports entry"))?),
    };
    let env = match s.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(m)) => m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v)))).collect(),
        Some(Value::Sequence(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.to_string(), String::new()),
            })
            .collect(),
        Some(_) => return Err(at("environment must be a map or a list")),
    };
    let command = match s.get("command") {
        None => None,
        Some(Value::String(c)) => Some(vec!["sh".into(), "-c".into(), c.clone()]),
        Some(Value::Sequence(l)) => Some(l.iter().map(scalar).collect()),
        Some(_) => return Err(at("command must be a string or a list")),
    };
    let depends_on = match s.get("depends_on") {
        None => vec![],
        Some(Value::Sequence(l)) => {
            l.iter().filter_map(Value::as_str).map(|d| Dependency { service: d.to_string(), condition: "service_started".into() }).collect()
        }
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| {
                Some(Dependency {
                    service: k.as_str()?.to_string(),
                    condition: v.get("condition").and_then(Value::as_str).unwrap_or("service_started").to_string(),
                })
            })
            .collect(),
        Some(_) => return Err(at("depends_on must be a list or a map")),
    };
    let healthcheck = match s.get("healthcheck") {
        None => None,
        Some(h) if h.get("disable").and_then(Value::as_bool) == Some(true) => None,
        Some(h) => {
            let test = match h.get("test") {
                Some(Value::String(t)) => vec!["CMD-SHELL".to_string(), t.clone()],
                Some(Value::Sequence(l)) => l.iter().map(scalar).collect(),
                _ => return Err(at("healthcheck needs a test")),
            };
            let dur = |k: &str, default: u64| {
                h.get(k)
                    .and_then(Value::as_str)
                    .map(duration_ms)
                    .unwrap_or(Some(default))
                    .ok_or_else(|| at(&format!("healthcheck {k} is not a duration like 5s or 500ms")))
            };
            Some(Healthcheck {
                test,
                interval_ms: dur("interval", 30_000)?,
                timeout_ms: dur("timeout", 30_000)?,
                retries: h.get("retries").and_then(Value::as_u64).unwrap_or(3) as u32,
                start_period_ms: dur("start_period", 0)?,
            })
        }
    };
    Ok(ServiceSpec { name, image, build, port, env, command, depends_on, healthcheck })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_norway::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `80`, or `{target: 80}` → 80.
fn container_port(p: &Value) -> Option<u16> {
    match p {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.split('/').next()?.rsplit(':').next()?.parse().ok(),
        Value::Mapping(_) => p.get("target").and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

/// `1m30s`, `5s`, `500ms` → milliseconds.
fn duration_ms(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            "ms".to_string()
        } else {
            c.to_string()
        };
        let v: f64 = num.parse().ok()?;
        num.clear();
        total += (v * match unit.as_str() {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        }) as u64;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

/// Dependency order (stable: file order among equals); unknown dependencies and cycles are errors.
fn order(file: &str, services: Vec<ServiceSpec>) -> Result<Vec<ServiceSpec>> {
    for s in &services {
        for d in &s.depends_on {
            if !services.iter().any(|o| o.name == d.service) {
                return Err(invalid(file, format!("service {} depends on {}, which the file does not define", s.name, d.service)));
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
mod tests {
    use super::*;

    const FILE: &str = r#"
services:
  web:
    build: .
    ports: ["8080:80"]
    environment: [MODE=prod, EMPTY]
    depends_on:
      db: {condition: service_healthy}
      worker: {condition: service_started}
  worker:
    image: busybox
    command: ["sh", "-c", "sleep 1000"]
    depends_on: [db]
  db:
    image: busybox
    environment: {PORT: 5432, DEBUG: true}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      timeout: 500ms
      start_period: 1m30s
volumes: {}
"#;

    #[test]
    fn reads_each_spelling_and_orders_by_dependencies() {
        let s = parse("compose.yaml", FILE).unwrap();
        let names: Vec<&str> = s.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["db", "worker", "web"]);
        let web = &s.services[2];
        assert_eq!(web.port, Some(80));
        assert_eq!(web.build, Some((".".into(), "Dockerfile".into())));
        assert_eq!(web.env.get("MODE").map(String::as_str), Some("prod"));
        assert_eq!(web.depends_on[0], Dependency { service: "db".into(), condition: "service_healthy".into() });
        let db = &s.services[0];
        assert_eq!(db.env.get("PORT").map(String::as_str), Some("5432"));
        let h = db.healthcheck.as_ref().unwrap();
        assert_eq!((h.interval_ms, h.timeout_ms, h.start_period_ms), (1000, 500, 90_000));
        assert_eq!(s.services[1].port, None);
    }

    #[test]
    fn refuses_cycles_and_unknown_dependencies() {
        let cyc = "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n";
        assert!(parse("c.yml", cyc).unwrap_err().to_string().contains("cycle among a, b"));
        let unknown = "services:\n  a: {image: x, depends_on: [nope]}\n";
        assert!(parse("c.yml", unknown).unwrap_err().to_string().contains("depends on nope"));
        assert!(parse("c.yml", "services:\n  a: {ports: [80]}\n").unwrap_err().to_string().contains("needs an image or a build"));
    }
}
