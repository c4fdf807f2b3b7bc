//! What a run does, from the repository itself: `slipway.yml` at the root, or, without one, a
//! `Dockerfile` (build it) or a compose file (deploy that stack).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Error, ErrorCode, Result};

/// Default per-step timeout: a step that hangs fails the run instead of leaving it "running".
pub const DEFAULT_STEP_TIMEOUT_SECS: u64 = 30 * 60;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// A pipeline template kept by Slipway whose steps and build this file starts from: its
    /// steps replace the template's of the same name, `remove` drops some, others are added
    /// (see [`crate::domain::templates::extend`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// Steps of the extended template to leave out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Commands run in containers before the build (tests, code generation, non-Docker builds).
    #[serde(default)]
    pub steps: Vec<StepConfig>,
    /// The image to build; None when the pipeline builds nothing.
    #[serde(default)]
    pub build: Option<BuildConfig>,
    /// A compose file to deploy (used by the deploy stage), or several merged in order as
    /// Compose merges them (`compose: [compose.yaml, compose.prod.yaml]`).
    #[serde(default)]
    pub compose: Option<ComposeFiles>,
}

/// One compose file, or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum ComposeFiles {
    One(String),
    Many(Vec<String>),
}

impl ComposeFiles {
    pub fn files(&self) -> Vec<String> {
        match self {
            ComposeFiles::One(f) => vec![f.clone()],
            ComposeFiles::Many(l) => l.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    pub name: String,
    pub image: String,
    /// One shell script (`sh -e -c`). A plugin step may leave it out: its image's own
    /// entrypoint runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Makes the step a plugin of this name (see `docs/plugins.md`): it gets the input and
    /// output directories, and what it writes to the output is kept per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// Runs the step only in `productive` or only in `non-productive` environments (it is
    /// skipped, and says so, elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "\"productive\" | \"non-productive\" | null")]
    pub only: Option<crate::domain::environments::EnvironmentKind>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Names of project secrets (kept in the keychain) passed as environment variables and
    /// masked in every log line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "number | null")]
    pub timeout_secs: Option<u64>,
    /// In a `slipway.yml` that extends a template: the step an added step goes after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Runs after the new release went live (smoke checks), with `SLIPWAY_RELEASE_URL` and on
    /// the release's network; if it fails, the stage rolls back to its previous release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_deploy: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    #[serde(default = "default_context")]
    pub context: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

fn default_dockerfile() -> String {
    "Dockerfile".into()
}

fn default_context() -> String {
    ".".into()
}

/// Where a run's pipeline came from, shown in the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    SlipwayYml,
    Dockerfile,
    Compose,
    Nothing,
}

impl ConfigSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::SlipwayYml => "slipway.yml",
            ConfigSource::Dockerfile => "Dockerfile",
            ConfigSource::Compose => "compose",
            ConfigSource::Nothing => "nothing",
        }
    }
}

const COMPOSE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

/// Reads the pipeline of the checked-out tree at `root`.
pub fn load(root: &Path) -> Result<(Pipeline, ConfigSource)> {
    let file = root.join("slipway.yml");
    if file.exists() {
        let text = std::fs::read_to_string(&file)?;
        let p = parse(&text)?;
        return Ok((p, ConfigSource::SlipwayYml));
    }
    if root.join("Dockerfile").exists() {
        return Ok((
            Pipeline {
                build: Some(BuildConfig {
                    dockerfile: default_dockerfile(),
                    context: default_context(),
                    target: None,
                    args: BTreeMap::new(),
                }),
                ..Default::default()
            },
            ConfigSource::Dockerfile,
        ));
    }
    if let Some(c) = COMPOSE_FILES.iter().find(|f| root.join(f).exists()) {
        return Ok((Pipeline { compose: Some(ComposeFiles::One(c.to_string())), ..Default::default() }, ConfigSource::Compose));
    }
    Ok((Pipeline::default(), ConfigSource::Nothing))
}

pub fn parse(text: &str) -> Result<Pipeline> {
    let p: Pipeline = crate::domain::yaml::parse("slipway.yml", text)?;
    if p.compose.as_ref().is_some_and(|c| c.files().is_empty()) {
        return Err(Error::new(ErrorCode::InvalidInput, "slipway.yml: `compose` names no file"));
    }
    if p.extends.is_none() {
        let placed = p.steps.iter().find(|s| s.after.is_some()).map(|s| format!("step {} has `after`", s.name));
        if let Some(what) = placed.or_else(|| (!p.remove.is_empty()).then(|| "`remove` is given".to_string())) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("slipway.yml: {what}, which only a file that extends a template uses (add `extends: <template>`)"),
            ));
        }
    }
    check_steps(&p)?;
    Ok(p)
}

/// Each step has a name (once), an image, at least one command, and no zero timeout.
pub fn check_steps(p: &Pipeline) -> Result<()> {
    for (i, s) in p.steps.iter().enumerate() {
        if p.steps[..i].iter().any(|o| o.name == s.name) {
            return Err(Error::new(ErrorCode::InvalidInput, format!("slipway.yml: step {} appears twice", s.name)));
        }
        if s.name.trim().is_empty() || s.image.trim().is_empty() || (s.commands.is_empty() && s.plugin.is_none()) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "slipway.yml: step {} needs a name, an image and at least one command (a plugin step may run its image's own)",
                    i + 1
                ),
            ));
        }
        if let Some(k) = s.env.keys().chain(&s.secrets).find(|k| k.starts_with("SLIPWAY_")) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "slipway.yml: step {}: {k}: names starting with SLIPWAY_ are the engine's (see docs/plugins.md); rename it",
                    s.name
                ),
            ));
        }
        if let Some(plugin) = &s.plugin {
            if plugin.is_empty() || crate::domain::ids::slug(plugin) != *plugin {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("slipway.yml: step {}: plugin name {plugin:?} must be lowercase letters, digits and dashes", s.name),
                ));
            }
            if p.steps[..i].iter().any(|o| o.plugin.as_ref() == Some(plugin)) {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("slipway.yml: plugin {plugin} appears in two steps; each plugin publishes once per run"),
                ));
            }
        }
        if s.timeout_secs == Some(0) {
            return Err(Error::new(ErrorCode::InvalidInput, format!("slipway.yml: step {} has timeout_secs 0", s.name)));
        }
    }
    Ok(())
}

/// Replaces every occurrence of every secret in `line` with `***`. Longer secrets first, so
/// one secret containing another is masked whole.
pub fn mask(line: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = line.to_string();
    for s in sorted {
        if s.len() >= 3 && out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// What a run of `pipeline` does after fetching, in order: its steps, then either the image
/// build or (with no build, a compose file and a deploy config) the compose stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The steps' names, each a step of the run.
    pub steps: Vec<String>,
    /// The steps that run once the new release is live.
    pub after: Vec<String>,
    /// Whether a "build image" step follows.
    pub build: bool,
    /// The compose files (merged in order) whose stack is built and deployed.
    pub compose: Option<Vec<String>>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && !self.build && self.compose.is_none()
    }
}

/// The run's work for `pipeline`; `deploys` says whether the project has a deploy config.
pub fn plan(pipeline: &Pipeline, deploys: bool) -> Plan {
    let compose = match (&pipeline.build, &pipeline.compose, deploys) {
        (None, Some(files), true) => Some(files.files()),
        _ => None,
    };
    let names = |after: bool| pipeline.steps.iter().filter(|s| s.after_deploy == after).map(|s| s.name.clone()).collect();
    Plan { steps: names(false), after: names(true), build: pipeline.build.is_some(), compose }
}

/// Why the plan's after-deploy steps cannot run, if they cannot: they follow the deploy of a
/// built image (a compose stack's would need one URL per service; a build-only project has no
/// release), and they run where steps run, so the release must run there too (`hosts`: the
/// stage's, empty for the project's own). Refused before anything runs rather than skipped.
pub fn after_deploy_refusal(plan: &Plan, deploys: bool, port: bool, hosts: &[String], steps_host: &str) -> Option<String> {
    let first = plan.after.first()?;
    let elsewhere;
    let why = match (plan.compose.is_some(), plan.build && deploys, port) {
        (true, _, _) => "compose stacks do not run after-deploy steps yet",
        (false, false, _) => "this run deploys no image (the pipeline has no build, or the project no deploy settings)",
        (false, true, false) => "the project's deploy has no port: the step would have no URL to call",
        (false, true, true) if !hosts.is_empty() && !hosts.iter().any(|h| h == steps_host) => {
            elsewhere = format!(
                "steps run on the project's host {steps_host} and the stage's hosts ({}) do not include it: add it to the stage's hosts",
                hosts.join(", ")
            );
            elsewhere.as_str()
        }
        (false, true, true) => return None,
    };
    Some(format!("slipway.yml: step {first} runs after_deploy, but {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule, the pipeline, whether the project deploys, and (steps, build, compose file).
    type Case<'a> = (&'a str, &'a Pipeline, bool, (usize, bool, Option<&'a str>));

    #[test]
    fn what_a_run_does() {
        let with = |yml: &str| parse(yml).unwrap();
        let steps = with("steps:\n  - name: test\n    image: busybox\n    commands: [true]\n");
        let build = with("build: {}\n");
        let compose = with("compose: compose.yaml\n");
        let both = Pipeline { compose: Some(ComposeFiles::One("compose.yaml".into())), ..with("build: {}\n") };
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("steps run, nothing to build", &steps, true, (1, false, None)),
            ("a build follows the steps", &build, false, (0, true, None)),
            ("a compose file deploys as a stack when the project deploys", &compose, true, (0, false, Some("compose.yaml"))),
            ("a compose file is not deployed by a project that only builds", &compose, false, (0, false, None)),
            ("a Dockerfile build wins over a compose file", &both, true, (0, true, None)),
        ];
        for (rule, p, deploys, (steps, build, compose)) in cases {
            let got = plan(p, deploys);
            let first = got.compose.as_ref().map(|f| f[0].as_str());
            assert_eq!((got.steps.len(), got.build, first), (steps, build, compose), "{rule}");
        }
        assert!(plan(&Pipeline::default(), true).is_empty(), "an empty pipeline does nothing");
        let smoke = with("steps:\n  - name: smoke\n    image: b\n    commands: [c]\n    after_deploy: true\nbuild: {}\n");
        let p = plan(&smoke, true);
        assert_eq!((p.steps.len(), p.after.clone()), (0, vec!["smoke".to_string()]), "an after-deploy step follows the deploy");
        assert_eq!(after_deploy_refusal(&p, true, true, &[], "local"), None);
        let no_deploy = after_deploy_refusal(&plan(&smoke, false), false, true, &[], "local").unwrap();
        assert!(no_deploy.contains("step smoke runs after_deploy, but this run deploys no image"), "{no_deploy}");
        assert!(after_deploy_refusal(&p, true, false, &[], "local").unwrap().contains("has no port"));
        let hosts = ["web-1".to_string(), "web-2".to_string()];
        let elsewhere = after_deploy_refusal(&p, true, true, &hosts, "local").unwrap();
        assert!(elsewhere.contains("the stage's hosts (web-1, web-2) do not include it"), "{elsewhere}");
        assert_eq!(after_deploy_refusal(&p, true, true, &hosts, "web-2"), None, "the release also runs where steps run");
    }

    #[test]
    fn parses_steps_and_build() {
        let p = parse(
            "steps:\n  - name: test\n    image: busybox\n    commands: [\"make test\"]\n    secrets: [TOKEN]\nbuild:\n  target: prod\n",
        )
        .unwrap();
        assert_eq!(p.steps[0].secrets, vec!["TOKEN"]);
        assert_eq!(p.build.as_ref().unwrap().dockerfile, "Dockerfile");
        assert_eq!(p.build.unwrap().target.as_deref(), Some("prod"));
    }

    #[test]
    fn rejects_unknown_keys_and_empty_steps() {
        assert!(parse("stepz: []").unwrap_err().to_string().contains("unknown field"));
        assert!(parse("steps:\n  - name: a\n    image: b\n    commands: []\n").unwrap_err().to_string().contains("at least one command"));
        let posing = "steps:\n  - name: a\n    image: b\n    commands: [c]\n    env: {SLIPWAY_STAGE: prod}\n";
        assert!(parse(posing).unwrap_err().to_string().contains("SLIPWAY_STAGE: names starting with SLIPWAY_ are the engine's"));
    }

    #[test]
    fn masks_secrets() {
        let secrets = vec!["hunter2".to_string(), "hunter2-long".to_string()];
        assert_eq!(mask("token=hunter2-long and hunter2", &secrets), "token=*** and ***");
        assert_eq!(mask("nothing here", &secrets), "nothing here");
    }
}
