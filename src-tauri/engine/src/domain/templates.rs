//! Pipeline templates as values: the template file ([`parse`]) and the one merge a run does
//! when its `slipway.yml` says `extends:` ([`extend`]). Steps are matched by name: a step of
//! the template's name replaces it in place, `remove:` drops template steps, and any other
//! step is added (after the step its `after:` names, else at the end). `build` and `compose`
//! from the repository win over the template's.

use serde::{Deserialize, Serialize};

use crate::domain::ids::slug;
use crate::domain::pipeline::{self, BuildConfig, ComposeFiles, Pipeline, StepConfig};
use crate::{Error, ErrorCode, Result};

pub use slipway_protocol::template::{ExecutedPipeline, StepOrigin, StepSource, TemplateInfo};

/// A template as its file says it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<ComposeFiles>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidInput, msg)
}

/// A template file: strict like `slipway.yml` (unknown keys refused with their line), a name
/// that is already a slug, steps with a name, an image and commands, each name once.
pub fn parse(text: &str) -> Result<TemplateFile> {
    let t: TemplateFile = crate::domain::yaml::parse("template", text)?;
    if t.name.is_empty() || slug(&t.name) != t.name {
        return Err(invalid(format!("template: name {:?} must be lowercase letters, digits and dashes", t.name)));
    }
    if t.steps.is_empty() && t.build.is_none() && t.compose.is_none() {
        return Err(invalid(format!("template {}: it has no steps, build or compose: nothing to extend", t.name)));
    }
    // The same checks as a slipway.yml's steps.
    let as_pipeline = Pipeline { steps: t.steps.clone(), ..Pipeline::default() };
    pipeline::check_steps(&as_pipeline).map_err(|e| invalid(e.to_string().replacen("slipway.yml", &format!("template {}", t.name), 1)))?;
    if let Some(s) = t.steps.iter().find(|s| s.after.is_some()) {
        return Err(invalid(format!(
            "template {}: step {} has `after`, which only a slipway.yml that extends a template uses",
            t.name, s.name
        )));
    }
    Ok(t)
}

impl TemplateFile {
    pub fn info(&self, version: i64, updated_at: i64) -> TemplateInfo {
        TemplateInfo {
            name: self.name.clone(),
            version,
            description: self.description.clone(),
            steps: self.steps.iter().map(|s| s.name.clone()).collect(),
            builds: self.build.is_some(),
            updated_at,
        }
    }
}

/// `own` (a `slipway.yml` with `extends:`) merged over `template` at `version`: the pipeline
/// to run, and what it says about itself. Every name the file uses must mean something: a
/// `remove` or an `after` naming no step is refused, as is a step both removed and replaced.
pub fn extend(template: &TemplateFile, version: i64, own: &Pipeline) -> Result<(Pipeline, ExecutedPipeline)> {
    let here = format!("slipway.yml (extends {} v{version})", template.name);
    let names = |l: &[(StepConfig, StepOrigin)]| l.iter().map(|(s, _)| s.name.clone()).collect::<Vec<_>>().join(", ");
    let mut steps: Vec<(StepConfig, StepOrigin)> = template.steps.iter().cloned().map(|s| (s, StepOrigin::Template)).collect();
    for r in &own.remove {
        let Some(i) = steps.iter().position(|(s, _)| &s.name == r) else {
            return Err(invalid(format!(
                "{here}: remove names step {r:?}, which the template does not have (its steps: {})",
                names(&steps)
            )));
        };
        if own.steps.iter().any(|s| &s.name == r) {
            return Err(invalid(format!("{here}: step {r:?} is both removed and replaced: keep one")));
        }
        steps.remove(i);
    }
    // Steps added after the same one keep the file's order: each goes after the last added there.
    let mut last_after: std::collections::HashMap<String, String> = Default::default();
    for step in &own.steps {
        let mut step = step.clone();
        let after = step.after.take();
        if let Some(i) = steps.iter().position(|(s, _)| s.name == step.name) {
            if after.is_some() {
                return Err(invalid(format!("{here}: step {} replaces the template's in place; `after` is for added steps", step.name)));
            }
            steps[i] = (step, StepOrigin::Replaced);
            continue;
        }
        let at = match &after {
            None => steps.len(),
            Some(a) => match steps.iter().position(|(s, _)| &s.name == last_after.get(a).unwrap_or(a)) {
                Some(i) => {
                    last_after.insert(a.clone(), step.name.clone());
                    i + 1
                }
                None => {
                    return Err(invalid(format!(
                        "{here}: step {} comes after {a:?}, which is not a step here (steps: {})",
                        step.name,
                        names(&steps)
                    )))
                }
            },
        };
        steps.insert(at, (step, StepOrigin::Added));
    }
    // What the pipeline makes comes whole from one file: a repository that builds or deploys a
    // compose file says so for itself, else the template does.
    let (build, compose) = match own.build.is_some() || own.compose.is_some() {
        true => (own.build.clone(), own.compose.clone()),
        false => (template.build.clone(), template.compose.clone()),
    };
    let merged = Pipeline { steps: steps.iter().map(|(s, _)| s.clone()).collect(), build, compose, ..Pipeline::default() };
    pipeline::check_steps(&merged).map_err(|e| invalid(e.to_string().replacen("slipway.yml", &here, 1)))?;
    let executed = ExecutedPipeline {
        template: template.name.clone(),
        version,
        steps: steps.iter().map(|(s, o)| StepSource { name: s.name.clone(), origin: *o }).collect(),
        removed: own.remove.clone(),
        yaml: crate::domain::yaml::render(&merged),
    };
    Ok((merged, executed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "name: node-service\ndescription: install, test, build\nsteps:\n  - name: install\n    image: node\n    commands: [npm ci]\n  - name: test\n    image: node\n    commands: [npm test]\n  - name: docs\n    image: node\n    commands: [npm run docs]\nbuild: {}\n";

    fn merged(own: &str) -> Result<(Vec<(String, StepOrigin)>, Pipeline)> {
        let t = parse(NODE).unwrap();
        let own = pipeline::parse(own).unwrap();
        let (p, e) = extend(&t, 3, &own)?;
        assert_eq!((e.template.as_str(), e.version), ("node-service", 3));
        Ok((e.steps.into_iter().map(|s| (s.name, s.origin)).collect(), p))
    }

    #[test]
    fn a_step_of_the_templates_name_replaces_it_in_place_and_others_are_added() {
        use StepOrigin::*;
        let own = "extends: node-service\nsteps:\n  - name: test\n    image: node\n    commands: [npm run test:ci]\n  - name: lint\n    image: node\n    commands: [npm run lint]\n    after: install\n  - name: e2e\n    image: node\n    commands: [npm run e2e]\n";
        let (steps, p) = merged(own).unwrap();
        let want: Vec<(String, StepOrigin)> =
            [("install", Template), ("lint", Added), ("test", Replaced), ("docs", Template), ("e2e", Added)]
                .map(|(n, o)| (n.to_string(), o))
                .to_vec();
        assert_eq!(steps, want);
        assert_eq!(p.steps[2].commands, ["npm run test:ci"]);
        assert!(p.steps.iter().all(|s| s.after.is_none()), "`after` is spent in the merge");
        assert!(p.build.is_some(), "the template's build stays when the repository gives none");
    }

    #[test]
    fn rules() {
        #[rustfmt::skip]
        let cases = [
            ("a removed step is gone", "extends: node-service\nremove: [docs]\n", "ok: install, test"),
            ("removing a step the template lacks is refused, naming its steps", "extends: node-service\nremove: [doc]\n", "remove names step \"doc\", which the template does not have (its steps: install, test, docs)"),
            ("after must name a step", "extends: node-service\nsteps:\n  - name: x\n    image: a\n    commands: [b]\n    after: nope\n", "comes after \"nope\", which is not a step here"),
            ("a step both removed and replaced is refused", "extends: node-service\nremove: [test]\nsteps:\n  - name: test\n    image: a\n    commands: [b]\n", "both removed and replaced"),
            ("a replacing step takes no after", "extends: node-service\nsteps:\n  - name: test\n    image: a\n    commands: [b]\n    after: install\n", "replaces the template's in place"),
        ];
        for (rule, own, want) in cases {
            let got = match merged(own) {
                Ok((steps, _)) => format!("ok: {}", steps.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")),
                Err(e) => e.to_string(),
            };
            assert!(got.contains(want), "{rule}: {got}");
        }
    }

    #[test]
    fn steps_added_after_the_same_step_keep_the_files_order_and_the_merge_is_checked_again() {
        let own = "extends: node-service\nsteps:\n  - name: a\n    image: x\n    commands: [y]\n    after: install\n  - name: b\n    image: x\n    commands: [y]\n    after: install\n";
        let (steps, _) = merged(own).unwrap();
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["install", "a", "b", "test", "docs"]);
        let t = parse(&NODE.replace("    commands: [npm test]\n", "    commands: [npm test]\n    plugin: report\n")).unwrap();
        let twice = pipeline::parse("extends: node-service\nsteps:\n  - name: other\n    image: x\n    plugin: report\n").unwrap();
        assert!(extend(&t, 1, &twice).unwrap_err().to_string().contains("plugin report appears in two steps"));
        let compose = pipeline::parse("extends: node-service\ncompose: compose.yaml\n").unwrap();
        let (p, _) = extend(&parse(NODE).unwrap(), 1, &compose).unwrap();
        assert!(p.build.is_none() && p.compose.is_some(), "the repository's compose file is not joined by the template's build");
    }

    #[test]
    fn a_template_file_is_strict() {
        assert!(parse(&NODE.replace("description", "descripton")).unwrap_err().to_string().contains("did you mean `description`?"));
        assert!(parse("name: Node Service\nbuild: {}\n").unwrap_err().to_string().contains("lowercase"));
        assert!(parse("name: empty\n").unwrap_err().to_string().contains("nothing to extend"));
        let twice = "name: t\nsteps:\n  - name: a\n    image: x\n    commands: [y]\n  - name: a\n    image: x\n    commands: [y]\n";
        assert!(parse(twice).unwrap_err().to_string().contains("template t: step a appears twice"));
    }
}
