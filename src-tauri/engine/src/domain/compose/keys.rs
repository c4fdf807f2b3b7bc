//! Which keys of the Compose Specification Slipway honours, and the refusal for the others.
//! Every key a compose file uses must be in [`SERVICE`] or [`TOP`] (or be an `x-` extension):
//! an unknown key is an error, as it is for Compose, and a known key Slipway cannot apply is
//! refused with its reason before anything is touched. Nothing is dropped without a word.
//!
//! The lists follow the specification's JSON Schema (`compose-spec.json`, 2025).

use crate::{Error, ErrorCode};

/// A key's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Honoured,
    /// Known, not applied: the reason (what to do instead).
    Refused(&'static str),
}

use Fate::{Honoured as H, Refused as R};

const SWARM: &str = "is a Swarm or container-platform setting that a single-host deploy cannot apply";
const PLATFORM: &str = "would pin the container to what Slipway cannot switch without downtime";

/// Top-level keys.
pub const TOP: &[(&str, Fate)] = &[
    ("version", H),
    ("name", H),
    ("services", H),
    ("volumes", H),
    ("networks", H),
    ("secrets", H),
    ("configs", H),
    ("include", H),
    ("models", R("(AI models) is not supported by Slipway")),
];

/// Service keys.
pub const SERVICE: &[(&str, Fate)] = &[
    ("image", H),
    ("build", H),
    ("command", H),
    ("entrypoint", H),
    ("environment", H),
    ("env_file", H),
    ("labels", H),
    ("ports", H),
    ("expose", H),
    ("depends_on", H),
    ("healthcheck", H),
    ("volumes", H),
    ("tmpfs", H),
    ("networks", H),
    ("secrets", H),
    ("configs", H),
    ("profiles", H),
    ("working_dir", H),
    ("user", H),
    ("hostname", H),
    ("domainname", H),
    ("extra_hosts", H),
    ("cap_add", H),
    ("cap_drop", H),
    ("ulimits", H),
    ("init", H),
    ("restart", H),
    ("stop_grace_period", H),
    ("stop_signal", H),
    ("logging", H),
    ("deploy", H),
    ("mem_limit", H),
    ("mem_reservation", H),
    ("memswap_limit", H),
    ("cpus", H),
    ("cpu_shares", H),
    ("pids_limit", H),
    ("shm_size", H),
    ("read_only", H),
    ("privileged", H),
    ("tty", H),
    ("stdin_open", H),
    ("sysctls", H),
    ("security_opt", H),
    ("dns", H),
    ("dns_search", H),
    ("dns_opt", H),
    ("group_add", H),
    ("pull_policy", H),
    // `docker compose watch` only; `up` (what a deploy is) does not read it either.
    ("develop", H),
    ("container_name", R("cannot be used: a zero-downtime deploy runs the old and the new container side by side, and Docker names are unique (the service's name already resolves on the stack's network)")),
    ("scale", H),
    ("extends", H),
    ("network_mode", R("cannot be used: the edge reaches services over the stack's networks")),
    ("links", R("is obsolete: services reach each other by name on the stack's network")),
    ("external_links", R("is obsolete: put the containers on a shared `external: true` network instead")),
    ("volumes_from", R("is not supported by Slipway: name the volume in both services")),
    ("devices", R("is not supported by Slipway yet")),
    ("device_cgroup_rules", R("is not supported by Slipway yet")),
    ("gpus", R("is not supported by Slipway yet")),
    ("pid", R(PLATFORM)),
    ("ipc", R(PLATFORM)),
    ("uts", R(PLATFORM)),
    ("userns_mode", R(PLATFORM)),
    ("cgroup", R(PLATFORM)),
    ("cgroup_parent", R(PLATFORM)),
    ("isolation", R(PLATFORM)),
    ("runtime", R("is not supported by Slipway yet")),
    ("platform", R("is not supported by Slipway yet: images are built and run for the host's own platform")),
    ("mac_address", R(PLATFORM)),
    ("credential_spec", R(SWARM)),
    ("storage_opt", R("is not supported by Slipway yet")),
    ("blkio_config", R("is not supported by Slipway yet")),
    ("cpu_count", R("is Windows-only and not supported by Slipway")),
    ("cpu_percent", R("is Windows-only and not supported by Slipway")),
    ("cpu_period", R("is not supported by Slipway yet: use `cpus`")),
    ("cpu_quota", R("is not supported by Slipway yet: use `cpus`")),
    ("cpu_rt_period", R("is not supported by Slipway yet")),
    ("cpu_rt_runtime", R("is not supported by Slipway yet")),
    ("cpuset", R("is not supported by Slipway yet")),
    ("mem_swappiness", R("is not supported by Slipway yet")),
    ("oom_kill_disable", R("is not supported by Slipway yet")),
    ("oom_score_adj", R("is not supported by Slipway yet")),
    ("attach", R("is about `docker compose up`'s terminal, which a deploy does not have")),
    ("annotations", R("is not supported by Slipway yet")),
    ("label_file", R("is not supported by Slipway yet: write the labels under `labels:`")),
    ("post_start", R("is not supported by Slipway yet")),
    ("pre_stop", R("is not supported by Slipway yet")),
    ("provider", R("is not supported by Slipway")),
    ("use_api_socket", R("is not supported by Slipway: it would hand the Docker socket to the service")),
    ("models", R("(AI models) is not supported by Slipway")),
];

/// The fate of `key` in `table`; `None` for a key the specification does not have.
pub fn fate(table: &[(&str, Fate)], key: &str) -> Option<Fate> {
    if key.starts_with("x-") {
        return Some(Fate::Honoured);
    }
    table.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
}

/// Where in the file a message points: the file, the service (if any) and the key path.
pub struct At<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub service: Option<&'a str>,
}

impl At<'_> {
    /// An input error: `file:line: service s: msg`.
    pub fn error(&self, key: &str, msg: impl std::fmt::Display) -> Error {
        let line = line_of(self.text, self.service, key).map(|l| format!(":{l}")).unwrap_or_default();
        let service = self.service.map(|s| format!(" service {s}:")).unwrap_or_default();
        Error::new(ErrorCode::InvalidInput, format!("{}{line}:{service} {msg}", self.file))
    }

    /// Refuses `key` if `table` does not honour it.
    pub fn check(&self, table: &[(&str, Fate)], key: &str, known: &[&str]) -> crate::Result<()> {
        match fate(table, key) {
            Some(Fate::Honoured) => Ok(()),
            Some(Fate::Refused(why)) => Err(self.error(key, format!("`{key}` {why}"))),
            None => Err(self.error(key, unknown(key, known))),
        }
    }

    /// Refuses any key of `map` outside `honoured` (sub-keys such as `build.context`).
    pub fn only(&self, what: &str, map: &serde_norway::Mapping, honoured: &[&str]) -> crate::Result<()> {
        for k in map.keys() {
            let k = k.as_str().unwrap_or_default();
            if !honoured.contains(&k) && !k.starts_with("x-") {
                let msg = if known_elsewhere(what, k) {
                    format!("`{what}.{k}` is not supported by Slipway yet")
                } else {
                    format!("`{what}.{k}`: {}", unknown(k, honoured))
                };
                return Err(self.error(k, msg));
            }
        }
        Ok(())
    }
}

/// Sub-keys that the specification has but Slipway does not apply (refused as "not yet", not
/// as unknown).
fn known_elsewhere(what: &str, key: &str) -> bool {
    const SPEC: &[(&str, &[&str])] = &[
        (
            "build",
            &[
                "ssh",
                "cache_from",
                "cache_to",
                "additional_contexts",
                "extra_hosts",
                "isolation",
                "privileged",
                "labels",
                "no_cache",
                "pull",
                "network",
                "shm_size",
                "tags",
                "ulimits",
                "platforms",
                "secrets",
                "dockerfile_inline",
                "entitlements",
                "provenance",
                "sbom",
            ],
        ),
        ("deploy", &["mode", "placement", "update_config", "rollback_config", "endpoint_mode", "labels"]),
        ("healthcheck", &["start_interval"]),
        ("networks", &["ipam", "enable_ipv6", "enable_ipv4", "driver_opts", "external"]),
        ("volumes", &["driver", "driver_opts", "labels", "external", "name"]),
    ];
    // `networks.<name>` and `volumes.<name>` are looked up by their section.
    let section = what.split('.').next().unwrap_or(what);
    SPEC.iter().any(|(w, keys)| (*w == what || *w == section) && keys.contains(&key))
}

fn unknown(key: &str, known: &[&str]) -> String {
    let nearest = known.iter().map(|k| (crate::domain::yaml::distance(key, k), *k)).min();
    match nearest {
        Some((d, k)) if d <= key.chars().count().div_ceil(3) => format!("`{key}` is not a Compose key (did you mean `{k}`?)"),
        _ => format!("`{key}` is not a Compose key"),
    }
}

/// The 1-based line of `key` in `service`'s block (or at the top level), found in the text: the
/// parsed tree keeps no positions. A key that came in through a YAML merge points at the service.
pub fn line_of(text: &str, service: Option<&str>, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let names_key = |l: &str, k: &str| {
        let t = l.trim_start().trim_start_matches("- ");
        let t = t.trim_start_matches(['"', '\'']);
        t.starts_with(k) && t[k.len()..].trim_start_matches(['"', '\'']).trim_start().starts_with(':')
    };
    let Some(service) = service else {
        // A top-level key, else the first line that names it (`secrets:` → `  pw:`).
        let top = lines.iter().position(|l| indent(l) == 0 && names_key(l, key));
        return top.or_else(|| lines.iter().position(|l| names_key(l, key))).map(|i| i + 1);
    };
    let services = lines.iter().position(|l| indent(l) == 0 && names_key(l, "services"))?;
    let start = (services + 1..lines.len()).find(|&i| indent(lines[i]) > 0 && names_key(lines[i], service))?;
    let own = indent(lines[start]);
    let end = (start + 1..lines.len())
        .find(|&i| !lines[i].trim().is_empty() && !lines[i].trim_start().starts_with('#') && indent(lines[i]) <= own)
        .unwrap_or(lines.len());
    let block = start + 1..end;
    // The key itself, else a line that mentions it (a list entry such as `- ./data:/data`),
    // else the service's own line (a flow mapping, or a key that came in through a merge).
    let as_key = block
        .clone()
        .find(|&i| names_key(lines[i], key) || lines[i].contains(&format!("{{{key}:")) || lines[i].contains(&format!(" {key}:")));
    let mentioned = || block.clone().find(|&i| lines[i].contains(key));
    Some(as_key.or_else(mentioned).unwrap_or(start) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "services:\n  db:\n    image: x\n    # note\n    devices: [a]\n  web: {image: y, container_name: w}\nvolumes: {}\n";

    #[test]
    fn a_line_is_found_for_a_block_key_a_flow_key_and_a_top_key() {
        assert_eq!(line_of(FILE, Some("db"), "devices"), Some(5));
        assert_eq!(line_of(FILE, Some("web"), "container_name"), Some(6));
        assert_eq!(line_of(FILE, None, "volumes"), Some(7));
        assert_eq!(line_of(FILE, Some("db"), "labels"), Some(2));
    }

    #[test]
    fn every_key_is_honoured_refused_or_unknown_and_an_extension_is_honoured() {
        assert_eq!(fate(SERVICE, "image"), Some(Fate::Honoured));
        assert!(matches!(fate(SERVICE, "devices"), Some(Fate::Refused(_))));
        assert_eq!(fate(SERVICE, "x-anything"), Some(Fate::Honoured));
        assert_eq!(fate(SERVICE, "imagee"), None);
        let names: Vec<&str> = SERVICE.iter().map(|(k, _)| *k).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a key is listed once");
    }

    #[test]
    fn a_refusal_names_the_file_the_line_the_service_and_the_key() {
        let at = At { file: "docker-compose.yml", text: FILE, service: Some("db") };
        let e = at.check(SERVICE, "devices", &[]).unwrap_err().to_string();
        assert_eq!(e, "docker-compose.yml:5: service db: `devices` is not supported by Slipway yet");
        let e = at.check(SERVICE, "imgae", &["image", "build"]).unwrap_err().to_string();
        assert!(e.ends_with("`imgae` is not a Compose key (did you mean `image`?)"), "{e}");
    }
}
