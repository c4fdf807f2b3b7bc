//! The service keys that become Docker's container and host settings ([`Runtime`]), and
//! `deploy:` (resources and restart policy), applied as Compose applies them.

use serde_norway::{Mapping, Value};

use super::keys::At;
use super::values::{boolean, bytes, duration_value_ms, scalar, string_map, strings};
use crate::Result;

pub use slipway_protocol::compose::Runtime;

/// Reads every runtime key of the service mapping `m` into `r`.
pub(super) fn read(at: &At, m: &Mapping, r: &mut Runtime) -> Result<()> {
    for (k, v) in m {
        let key = k.as_str().unwrap_or_default();
        let bad = |what: &str| at.error(key, format!("`{key}` must be {what}"));
        let text = || scalar(v).ok_or_else(|| bad("a string"));
        let list = || strings(v).ok_or_else(|| bad("a string or a list of strings"));
        let flag = || boolean(v).ok_or_else(|| bad("true or false"));
        let size = || bytes(v).ok_or_else(|| bad("a size like 512m or 1g"));
        match key {
            "working_dir" => r.working_dir = Some(text()?),
            "user" => r.user = Some(text()?),
            "hostname" => r.hostname = Some(text()?),
            "domainname" => r.domainname = Some(text()?),
            "extra_hosts" => r.extra_hosts = extra_hosts(v).ok_or_else(|| bad("a list of host:ip or a map of host: ip"))?,
            "cap_add" => r.cap_add = list()?,
            "cap_drop" => r.cap_drop = list()?,
            "ulimits" => r.ulimits = ulimits(v).ok_or_else(|| bad("a map of name: number or name: {soft, hard}"))?,
            "init" => r.init = Some(flag()?),
            "restart" => r.restart = Some(restart(&text()?).ok_or_else(|| bad("no, always, on-failure[:n] or unless-stopped"))?),
            "stop_grace_period" => {
                r.stop_grace_secs = Some(duration_value_ms(v).ok_or_else(|| bad("a duration like 10s or 1m30s"))?.div_ceil(1000) as i64)
            }
            "stop_signal" => r.stop_signal = Some(text()?),
            "logging" => logging(at, v, r)?,
            "mem_limit" => r.memory = Some(size()?),
            "mem_reservation" => r.memory_reservation = Some(size()?),
            "memswap_limit" => r.memory_swap = Some(size()?),
            "cpus" => r.nano_cpus = Some(cpus(v).ok_or_else(|| bad("a number of CPUs like 0.5"))?),
            "cpu_shares" => r.cpu_shares = Some(v.as_i64().ok_or_else(|| bad("a whole number"))?),
            "pids_limit" => r.pids_limit = Some(v.as_i64().ok_or_else(|| bad("a whole number"))?),
            "shm_size" => r.shm_size = Some(size()?),
            "read_only" => r.read_only = flag()?,
            "privileged" => r.privileged = flag()?,
            "tty" => r.tty = flag()?,
            "stdin_open" => r.stdin_open = flag()?,
            "sysctls" => r.sysctls = string_map(v).ok_or_else(|| bad("a map or a list of name=value"))?,
            "security_opt" => r.security_opt = list()?,
            "dns" => r.dns = list()?,
            "dns_search" => r.dns_search = list()?,
            "dns_opt" => r.dns_opt = list()?,
            "group_add" => r.group_add = list()?,
            "expose" => r.expose = list()?,
            "deploy" => deploy(at, v, r)?,
            "scale" => replicas(at, "scale", v, r)?,
            _ => {}
        }
    }
    Ok(())
}

fn restart(s: &str) -> Option<String> {
    let ok = matches!(s, "no" | "always" | "unless-stopped" | "on-failure")
        || s.strip_prefix("on-failure:").is_some_and(|n| n.parse::<u32>().is_ok());
    ok.then(|| s.to_string())
}

fn cpus(v: &Value) -> Option<i64> {
    let n: f64 = scalar(v)?.parse().ok()?;
    (n > 0.0).then_some((n * 1e9) as i64)
}

/// `["db:10.0.0.2", "db=10.0.0.2"]` or `{db: 10.0.0.2}` → `db:10.0.0.2` (Docker's form).
fn extra_hosts(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Mapping(m) => m.iter().map(|(k, v)| Some(format!("{}:{}", scalar(k)?, strings(v)?.join(",")))).collect(),
        Value::Sequence(l) => l
            .iter()
            .map(|e| {
                let s = scalar(e)?;
                // `host=ip` is the newer spelling; `host:ip` (with an IPv6 ip after the first `:`).
                Some(match s.split_once('=') {
                    Some((h, ip)) => format!("{h}:{ip}"),
                    None => s,
                })
            })
            .collect(),
        _ => None,
    }
}

fn ulimits(v: &Value) -> Option<std::collections::BTreeMap<String, (i64, i64)>> {
    v.as_mapping()?
        .iter()
        .map(|(k, v)| {
            let name = scalar(k)?;
            let pair = match v {
                Value::Mapping(m) => (m.get("soft")?.as_i64()?, m.get("hard")?.as_i64()?),
                other => {
                    let n = other.as_i64().or_else(|| scalar(other)?.parse().ok())?;
                    (n, n)
                }
            };
            Some((name, pair))
        })
        .collect()
}

fn logging(at: &At, v: &Value, r: &mut Runtime) -> Result<()> {
    let m = v.as_mapping().ok_or_else(|| at.error("logging", "`logging` must be a map with driver and options"))?;
    at.only("logging", m, &["driver", "options"])?;
    r.log_driver = m.get("driver").and_then(scalar);
    if let Some(o) = m.get("options") {
        r.log_options = string_map(o).ok_or_else(|| at.error("options", "`logging.options` must be a map"))?;
    }
    Ok(())
}

/// `deploy.replicas` or `scale` (Compose takes either; both must agree). One is kept as none, so
/// a release stored before replicas existed reads the same.
fn replicas(at: &At, key: &str, v: &Value, r: &mut Runtime) -> Result<()> {
    // The line is the one of the key's last part (`replicas:` in `deploy:`).
    let line = key.rsplit('.').next().unwrap_or(key);
    let n = v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| at.error(line, format!("`{key}` must be a whole number")))?;
    if n == 0 {
        return Err(at.error(line, format!("`{key}: 0` would deploy a service that never runs: leave it out of the stage with `profiles`")));
    }
    let n = (n > 1).then_some(n);
    if r.replicas.is_some_and(|had| Some(had) != n) {
        return Err(at.error(line, "`scale` and `deploy.replicas` disagree: give one of them"));
    }
    r.replicas = n;
    Ok(())
}

/// `deploy:`: replicas, resource limits and reservations, the restart policy. Swarm's
/// placement and update settings are refused (they would be ignored).
fn deploy(at: &At, v: &Value, r: &mut Runtime) -> Result<()> {
    let m = v.as_mapping().ok_or_else(|| at.error("deploy", "`deploy` must be a map"))?;
    at.only("deploy", m, &["replicas", "resources", "restart_policy"])?;
    if let Some(n) = m.get("replicas") {
        replicas(at, "deploy.replicas", n, r)?;
    }
    if let Some(res) = m.get("resources") {
        let res = res.as_mapping().ok_or_else(|| at.error("resources", "`deploy.resources` must be a map"))?;
        at.only("deploy.resources", res, &["limits", "reservations"])?;
        if let Some(l) = res.get("limits").and_then(Value::as_mapping) {
            at.only("deploy.resources.limits", l, &["cpus", "memory", "pids"])?;
            let bad = |k: &str| at.error(k, format!("`deploy.resources.limits.{k}` has a value Slipway cannot read"));
            if let Some(c) = l.get("cpus") {
                r.nano_cpus = Some(cpus(c).ok_or_else(|| bad("cpus"))?);
            }
            if let Some(b) = l.get("memory") {
                r.memory = Some(bytes(b).ok_or_else(|| bad("memory"))?);
            }
            if let Some(p) = l.get("pids") {
                r.pids_limit = Some(p.as_i64().ok_or_else(|| bad("pids"))?);
            }
        }
        if let Some(l) = res.get("reservations").and_then(Value::as_mapping) {
            at.only("deploy.resources.reservations", l, &["memory"])?;
            if let Some(b) = l.get("memory") {
                r.memory_reservation = Some(bytes(b).ok_or_else(|| at.error("memory", "a size like 512m"))?);
            }
        }
    }
    if let Some(p) = m.get("restart_policy") {
        let p = p.as_mapping().ok_or_else(|| at.error("restart_policy", "`deploy.restart_policy` must be a map"))?;
        at.only("deploy.restart_policy", p, &["condition", "max_attempts"])?;
        let condition = p.get("condition").and_then(scalar).unwrap_or_else(|| "any".into());
        let attempts = p.get("max_attempts").and_then(Value::as_u64);
        r.restart = Some(match (condition.as_str(), attempts) {
            ("none", _) => "no".into(),
            ("on-failure", Some(n)) => format!("on-failure:{n}"),
            ("on-failure", None) => "on-failure".into(),
            ("any", _) => "always".into(),
            _ => return Err(at.error("condition", "`deploy.restart_policy.condition` must be none, on-failure or any")),
        });
    }
    Ok(())
}
