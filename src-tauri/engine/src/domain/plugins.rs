//! The plugin contract as values (the document is `docs/plugins.md`): the environment a step
//! gets, the input directory the engine fills before a plugin step, and what it reads back
//! from the output directory after it, with the limits that keep a plugin from filling the
//! store.
//!
//! Files travel as tar archives through the Docker API (into the container before it starts,
//! out of it after it ends), never over a network the plugin could reach: a plugin sees the
//! data of its own project's plugins because that is all the engine puts in its input.

use std::collections::BTreeMap;
use std::io::Read;

use crate::domain::environments::EnvironmentKind;
use crate::domain::project::Stage;

pub use slipway_protocol::plugin::{PluginRecord, PluginSummary};

/// Where the repository is checked out in every step (and where its commands run).
pub const SOURCE_DIR: &str = "/src";
/// What other plugins of the same project published last, `<plugin>/data.json` and
/// `<plugin>/metrics.json` per plugin.
pub const INPUT_DIR: &str = "/slipway/in";
/// Where a plugin writes `data.json` and `metrics.json`.
pub const OUTPUT_DIR: &str = "/slipway/out";
/// The most a plugin's output directory may hold, as the tar the engine reads.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// The most `data.json` may hold.
pub const MAX_DATA_BYTES: usize = 256 * 1024;
pub const MAX_METRICS: usize = 100;

/// Secret values in what a plugin wrote become `***`, as in the log. Says whether any did.
pub fn mask_secrets(out: &mut Output, secrets: &[String]) -> bool {
    let text = out.data.to_string();
    let masked = crate::domain::pipeline::mask(&text, secrets);
    if masked == text {
        return false;
    }
    out.data = serde_json::from_str(&masked).unwrap_or(serde_json::Value::String(masked));
    true
}

/// What a plugin published.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    pub data: serde_json::Value,
    pub metrics: BTreeMap<String, f64>,
    /// Files in the output directory other than the two read, named in the run's log.
    pub ignored: Vec<String>,
}

/// The facts of a run every step gets as `SLIPWAY_*` variables.
pub struct Facts<'a> {
    pub project: &'a str,
    pub stage: &'a Stage,
    pub commit: &'a str,
    pub git_ref: Option<&'a str>,
    pub run_id: i64,
    /// For after-deploy steps: where the new release answers on its network.
    pub release_url: Option<String>,
}

/// The contract's environment for a step (`plugin` for a plugin step). The step's own `env`
/// and secrets come on top; nothing else of the engine's is passed.
pub fn env(f: &Facts, plugin: Option<&str>) -> Vec<(String, String)> {
    let mut out = vec![
        ("SLIPWAY_PROJECT", f.project.to_string()),
        ("SLIPWAY_STAGE", f.stage.name.clone()),
        ("SLIPWAY_ENVIRONMENT_KIND", EnvironmentKind::of(f.stage).as_str().to_string()),
        ("SLIPWAY_ENVIRONMENT_GROUP", f.stage.group.clone().unwrap_or_default()),
        ("SLIPWAY_COMMIT", f.commit.to_string()),
        ("SLIPWAY_REF", f.git_ref.unwrap_or_default().to_string()),
        ("SLIPWAY_RUN_ID", f.run_id.to_string()),
        ("SLIPWAY_SOURCE", SOURCE_DIR.to_string()),
    ];
    if let Some(url) = &f.release_url {
        out.push(("SLIPWAY_RELEASE_URL", url.clone()));
    }
    if let Some(p) = plugin {
        out.extend([("SLIPWAY_PLUGIN", p.to_string()), ("SLIPWAY_INPUT", INPUT_DIR.into()), ("SLIPWAY_OUTPUT", OUTPUT_DIR.into())]);
    }
    out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Whether a step limited to `only` runs on `stage`; None: everywhere.
pub fn runs_on(only: Option<EnvironmentKind>, stage: &Stage) -> bool {
    only.is_none_or(|k| k == EnvironmentKind::of(stage))
}

/// The tar unpacked at `/` before a plugin step starts: the latest publication of each other
/// plugin of the project under the input directory, and an empty output directory anyone may
/// write (plugin images need not run as root).
pub fn input_archive(others: &[PluginRecord]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_cksum();
        tar.append_data(&mut h, path, std::io::empty())
    };
    dir(&mut tar, &OUTPUT_DIR[1..])?;
    dir(&mut tar, &INPUT_DIR[1..])?;
    for r in others {
        let metrics = serde_json::to_vec_pretty(&r.metrics).unwrap_or_default();
        let data = serde_json::to_vec_pretty(&r.data).unwrap_or_default();
        // Where it comes from: it may be another run's, stage's or commit's than this one.
        let meta = serde_json::json!({"run_id": r.run_id, "stage": r.stage, "commit_sha": r.commit_sha, "created_at": r.created_at});
        let meta = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        for (name, bytes) in [("data.json", data), ("metrics.json", metrics), ("meta.json", meta)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("{}/{}/{name}", &INPUT_DIR[1..], r.plugin), &bytes[..])?;
        }
    }
    tar.into_inner()
}

/// Reads a plugin's output directory, as the tar Docker hands out (entries under `out/`).
/// Refuses, naming the file and the limit, what the engine would otherwise have to cut or
/// guess: an oversized `data.json`, JSON that does not parse, a metric that is not a number.
pub fn read_output(archive: &[u8]) -> Result<Output, String> {
    let mut out = Output { data: serde_json::Value::Null, ..Output::default() };
    let mut entries = tar::Archive::new(archive);
    for entry in entries.entries().map_err(|e| format!("the output directory is not a readable archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("reading the output directory: {e}"))?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let name = path.split_once('/').map(|(_, rest)| rest.to_string()).unwrap_or(path);
        if name != "data.json" && name != "metrics.json" {
            out.ignored.push(name);
            continue;
        }
        let mut bytes = Vec::new();
        entry.by_ref().take(MAX_DATA_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("reading {name}: {e}"))?;
        if bytes.len() > MAX_DATA_BYTES {
            return Err(format!("{name} is larger than {} KiB, the most a plugin may publish in it", MAX_DATA_BYTES / 1024));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| format!("{name} is not JSON: {e}"))?;
        if name == "data.json" {
            out.data = value;
        } else {
            out.metrics = metrics(&value)?;
        }
    }
    Ok(out)
}

/// `metrics.json`: one object of names (letters, digits, `_ . -`, up to 64) to numbers.
fn metrics(value: &serde_json::Value) -> Result<BTreeMap<String, f64>, String> {
    let Some(map) = value.as_object() else {
        return Err("metrics.json must be one object of names to numbers, e.g. {\"tests_passed\": 42}".into());
    };
    if map.len() > MAX_METRICS {
        return Err(format!("metrics.json has {} metrics; a plugin may publish at most {MAX_METRICS}", map.len()));
    }
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let good = !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !good {
            return Err(format!("metrics.json: metric name {k:?} must be 1 to 64 letters, digits, _ . or -"));
        }
        let n = v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| format!("metrics.json: metric {k} is {v}, not a number"))?;
        out.insert(k.clone(), n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("out/{name}"), text.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap()
    }

    /// A rule, the output directory's files, and what reading it says.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

    #[test]
    fn rules() {
        let big = format!("\"{}\"", "x".repeat(MAX_DATA_BYTES));
        let many = format!("{{{}}}", (0..=MAX_METRICS).map(|i| format!("\"m{i}\": 1")).collect::<Vec<_>>().join(","));
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("data and metrics are read", vec![("data.json", "{\"suite\": \"unit\"}"), ("metrics.json", "{\"passed\": 3, \"failed\": 0}")], "ok: {\"suite\":\"unit\"} {\"failed\": 0.0, \"passed\": 3.0}"),
            ("nothing published is no error", vec![], "ok: null {}"),
            ("other files are named, not read", vec![("report.html", "<p>")], "ok: null {} ignored [\"report.html\"]"),
            ("a metric that is not a number is refused", vec![("metrics.json", "{\"coverage\": \"90%\"}")], "metric coverage is \"90%\", not a number"),
            ("metrics must be an object", vec![("metrics.json", "[1, 2]")], "must be one object of names to numbers"),
            ("data that is not JSON is refused", vec![("data.json", "{oops")], "data.json is not JSON"),
            ("an oversized data.json is refused with the limit", vec![("data.json", &big)], "data.json is larger than 256 KiB"),
            ("too many metrics are refused with the limit", vec![("metrics.json", &many)], "at most 100"),
            ("a metric name with spaces is refused", vec![("metrics.json", "{\"a b\": 1}")], "metric name \"a b\" must be"),
        ];
        for (rule, files, want) in cases {
            let got = match read_output(&archive(&files)) {
                Ok(o) => {
                    let ignored = if o.ignored.is_empty() { String::new() } else { format!(" ignored {:?}", o.ignored) };
                    format!("ok: {} {:?}{ignored}", o.data, o.metrics)
                }
                Err(e) => e,
            };
            assert!(got.contains(want), "{rule}: {got}");
        }
    }

    #[test]
    fn the_input_holds_each_other_plugins_latest_publication_and_an_open_output_directory() {
        let record = PluginRecord {
            plugin: "junit".into(),
            project_id: "web".into(),
            run_id: 4,
            stage: "dev".into(),
            commit_sha: None,
            data: serde_json::json!({"suite": "unit"}),
            metrics: BTreeMap::from([("passed".to_string(), 3.0)]),
            created_at: 0,
        };
        let bytes = input_archive(&[record]).unwrap();
        let mut names = Vec::new();
        for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
            let e = e.unwrap();
            names.push((e.path().unwrap().to_string_lossy().into_owned(), e.header().mode().unwrap()));
        }
        assert_eq!(
            names,
            [
                ("slipway/out".to_string(), 0o777),
                ("slipway/in".to_string(), 0o777),
                ("slipway/in/junit/data.json".to_string(), 0o644),
                ("slipway/in/junit/metrics.json".to_string(), 0o644),
                ("slipway/in/junit/meta.json".to_string(), 0o644)
            ]
        );
    }

    #[test]
    fn a_secret_in_published_data_is_masked() {
        let mut out = Output { data: serde_json::json!({"token": "s3cr3t-value", "n": 1}), ..Output::default() };
        assert!(mask_secrets(&mut out, &["s3cr3t-value".to_string()]));
        assert_eq!(out.data, serde_json::json!({"token": "***", "n": 1}));
        assert!(!mask_secrets(&mut out, &["absent".to_string()]));
    }

    #[test]
    fn a_step_limited_to_an_environment_kind_runs_only_there() {
        let prod = Stage { productive: true, ..Stage::default() };
        let dev = Stage::default();
        assert!(runs_on(None, &prod) && runs_on(None, &dev));
        assert!(runs_on(Some(EnvironmentKind::Productive), &prod) && !runs_on(Some(EnvironmentKind::Productive), &dev));
        assert!(!runs_on(Some(EnvironmentKind::NonProductive), &prod) && runs_on(Some(EnvironmentKind::NonProductive), &dev));
    }
}
