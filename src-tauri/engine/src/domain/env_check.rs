//! Whether a project's environments hang together: predecessors that exist and make no cycle,
//! rules that name stages and groups the project has and say exactly one thing, productive
//! stages that take no merge requests. Each problem names the key it is at ([`Invalid::path`]),
//! which a project file turns into a line ([`crate::domain::yaml::line_of`]).

// From the protocol, not `domain::project`: that module calls this one.
use slipway_protocol::environment::EnvRule;
use slipway_protocol::project::{NewProject, Stage};

use crate::domain::yaml::{distance, line_of, Seg};
use crate::{Error, ErrorCode};

/// A problem and the key it is at (`stages[2].requires`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub path: Vec<Seg>,
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", crate::domain::yaml::path_text(&self.path), self.message)
    }
}

fn at(path: Vec<Seg>, message: String) -> Invalid {
    Invalid { path, message }
}

/// [`check`] for a project file: the problem names its line in `text`.
pub fn check_file(text: &str, spec: &NewProject) -> crate::Result<()> {
    check(spec).map_err(|e| {
        let line = line_of(text, &e.path).map(|l| format!(" at line {l}")).unwrap_or_default();
        Error::new(ErrorCode::InvalidInput, format!("project file: {e}{line}"))
    })
}

/// Checks the environments of `p` (see the module's doc). The first problem wins.
pub fn check(p: &NewProject) -> Result<(), Invalid> {
    for (i, s) in p.stages.iter().enumerate() {
        let key = |k| vec![Seg::Key("stages"), Seg::Index(i), Seg::Key(k)];
        if s.productive && s.pr_events {
            return Err(at(
                key("pr_events"),
                format!("{} is productive, and productive environments never take pull/merge requests: turn pr_events off", s.name),
            ));
        }
        if s.group.as_deref().is_some_and(|g| g.trim().is_empty() || g.contains(char::is_whitespace)) {
            return Err(at(key("group"), format!("{}: a group is a name without spaces (qa, customer-a)", s.name)));
        }
        for r in &s.requires {
            if r == &s.name {
                return Err(at(key("requires"), format!("{} cannot require itself", s.name)));
            }
            known_stage(&p.stages, r).map_err(|m| at(key("requires"), m))?;
        }
    }
    if let Some((i, cycle)) = requires_cycle(&p.stages) {
        let path = vec![Seg::Key("stages"), Seg::Index(i), Seg::Key("requires")];
        return Err(at(path, format!("the predecessors make a cycle: {}", cycle.join(" → "))));
    }
    for (i, rule) in p.rules.iter().enumerate() {
        check_rule(p, rule).map_err(|(k, m)| at(vec![Seg::Key("rules"), Seg::Index(i), Seg::Key(k)], m))?;
    }
    Ok(())
}

/// One rule: its one effect, then every stage or selector it names.
fn check_rule(p: &NewProject, rule: &EnvRule) -> Result<(), (&'static str, String)> {
    let effects = [!rule.through.is_empty() || !rule.before.is_empty(), !rule.only.is_empty(), !rule.never.is_empty()];
    if effects.iter().filter(|e| **e).count() != 1 {
        return Err(("refs", "a rule says exactly one of: through + before, only, never".into()));
    }
    if rule.through.is_empty() != rule.before.is_empty() {
        let missing = if rule.through.is_empty() { "through" } else { "before" };
        return Err(("refs", format!("a rule with through or before needs both: add {missing}")));
    }
    for t in &rule.through {
        known_stage(&p.stages, t).map_err(|m| ("through", m))?;
    }
    for (key, list) in [("before", &rule.before), ("only", &rule.only), ("never", &rule.never)] {
        for sel in list {
            known_selector(&p.stages, sel).map_err(|m| (key, m))?;
        }
    }
    Ok(())
}

fn known_stage(stages: &[Stage], name: &str) -> Result<(), String> {
    if stages.iter().any(|s| s.name == name) {
        return Ok(());
    }
    let nearest = stages.iter().map(|s| (distance(name, &s.name), s.name.as_str())).min();
    let hint = match nearest {
        Some((d, n)) if d <= name.chars().count().div_ceil(3) => format!(" (did you mean `{n}`?)"),
        _ => String::new(),
    };
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    Err(format!("names stage {name:?}, which this project does not have; its stages are {}{hint}", names.join(", ")))
}

fn known_selector(stages: &[Stage], sel: &str) -> Result<(), String> {
    match sel {
        "productive" | "non-productive" => Ok(()),
        _ => match sel.strip_prefix("group:") {
            Some(g) if stages.iter().any(|s| s.group.as_deref() == Some(g)) => Ok(()),
            Some(g) => Err(format!("names group {g:?}, which no stage of this project is in")),
            None => known_stage(stages, sel).map_err(|m| format!("{m}, or productive, non-productive, group:<name>")),
        },
    }
}

/// The first cycle of `requires`, as the index of the stage it starts at and the names along
/// it (`rel → prod → rel`).
fn requires_cycle(stages: &[Stage]) -> Option<(usize, Vec<String>)> {
    let index = |n: &str| stages.iter().position(|s| s.name == n);
    // Depth-first from every stage; `path` is the chain being followed.
    fn walk(stages: &[Stage], at: usize, path: &mut Vec<usize>, index: &dyn Fn(&str) -> Option<usize>) -> Option<Vec<usize>> {
        if let Some(start) = path.iter().position(|p| *p == at) {
            let mut cycle = path[start..].to_vec();
            cycle.push(at);
            return Some(cycle);
        }
        path.push(at);
        for r in &stages[at].requires {
            if let Some(next) = index(r) {
                if let Some(c) = walk(stages, next, path, index) {
                    return Some(c);
                }
            }
        }
        path.pop();
        None
    }
    (0..stages.len())
        .find_map(|i| walk(stages, i, &mut Vec::new(), &index).map(|c| (c[0], c.iter().map(|i| stages[*i].name.clone()).collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_yaml(text: &str) -> crate::Result<NewProject> {
        let spec: NewProject = crate::domain::yaml::parse("project file", text)?;
        check_file(text, &spec)?;
        Ok(spec)
    }

    const BASE: &str = "name: web\nrepo_url: x\nforge: git\nstages:\n  - name: dev\n  - name: rel\n    group: qa\n  - name: prod\n    productive: true\n    requires: [rel]\n";

    fn problem(extra: &str) -> String {
        let text = format!("{BASE}{extra}");
        match from_yaml(&text) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_api().message,
        }
    }

    #[test]
    fn a_file_with_predecessors_and_rules_that_name_what_exists_is_accepted() {
        let rules = "rules:\n  - refs: tags\n    matching: [\"v*\"]\n    through: [rel]\n    before: [prod]\n  - refs: merge_requests\n    only: [dev]\n  - refs: branches\n    except: [main]\n    never: [productive, \"group:qa\"]\n";
        assert_eq!(problem(rules), "ok");
    }

    #[test]
    fn a_requires_cycle_is_refused_with_its_line() {
        let text = BASE.replace("  - name: rel\n", "  - name: rel\n    requires: [prod]\n");
        let e = from_yaml(&text).unwrap_err().to_api().message;
        assert!(e.contains("stages[1].requires: the predecessors make a cycle: rel → prod → rel"), "{e}");
        assert!(e.ends_with("at line 7"), "{e}");
    }

    #[test]
    fn a_rule_naming_an_unknown_stage_is_refused_with_its_line_and_the_stage_meant() {
        let e = problem("rules:\n  - refs: tags\n    through: [rell]\n    before: [prod]\n");
        assert!(e.contains("rules[0].through: names stage \"rell\", which this project does not have"), "{e}");
        assert!(e.contains("(did you mean `rel`?)") && e.ends_with("at line 13"), "{e}");
    }

    #[test]
    fn a_requires_naming_an_unknown_stage_is_refused_with_its_line() {
        let text = BASE.replace("requires: [rel]", "requires: [staging]");
        let e = from_yaml(&text).unwrap_err().to_api().message;
        assert!(e.contains("stages[2].requires: names stage \"staging\"") && e.ends_with("at line 10"), "{e}");
    }

    #[test]
    fn rules() {
        #[rustfmt::skip]
        let cases = [
            ("a rule with two effects is refused", "rules:\n  - refs: tags\n    only: [dev]\n    never: [prod]\n", "rules[0].refs: a rule says exactly one of"),
            ("through needs before", "rules:\n  - refs: tags\n    through: [rel]\n", "add before"),
            ("an unknown group is refused", "rules:\n  - refs: branches\n    never: [\"group:ops\"]\n", "names group \"ops\""),
            ("an unknown selector names the choices", "rules:\n  - refs: branches\n    only: [qa]\n", "or productive, non-productive, group:<name>"),
            ("an unknown kind of ref is refused", "rules:\n  - refs: commits\n    only: [dev]\n", "unknown variant `commits`"),
        ];
        for (rule, extra, want) in cases {
            let got = problem(extra);
            assert!(got.contains(want), "{rule}: {got}");
        }
        let pr = BASE.replace("productive: true\n", "productive: true\n    pr_events: true\n");
        let e = from_yaml(&pr).unwrap_err().to_api().message;
        assert!(
            e.contains("stages[2].pr_events: prod is productive") && e.ends_with("at line 10"),
            "a productive stage takes no merge requests: {e}"
        );
    }
}
