//! Whether a project's environments hang together: predecessors that exist and make no cycle,
//! rules that name stages and groups the project has and say exactly one thing, productive
//! stages that take no merge requests. Each problem names the key it is at ([`Invalid::path`]),
//! which a project file turns into a line ([`crate::domain::yaml::line_of`]).

// From the protocol, not `domain::project`: that module calls this one.
use slipway_protocol::environment::EnvRule;
use slipway_protocol::project::{NewProject, Stage};

use crate::domain::environments::selects;
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
    for (i, rule) in p.rules.iter().enumerate() {
        check_rule(p, rule).map_err(|(k, m)| at(vec![Seg::Key("rules"), Seg::Index(i), Seg::Key(k)], m))?;
    }
    let graph = predecessor_graph(p);
    if let Some(cycle) = cycle(&graph) {
        let names: Vec<&str> = cycle.iter().map(|i| p.stages[*i].name.as_str()).collect();
        let path = graph[cycle[0]].iter().find(|(to, _)| *to == cycle[1]).map(|(_, path)| path.clone()).unwrap_or_default();
        return Err(at(path, format!("the predecessors make a cycle: {}", names.join(" → "))));
    }
    for (i, s) in p.stages.iter().enumerate() {
        if s.soak_secs > 0 && graph[i].is_empty() {
            return Err(at(
                vec![Seg::Key("stages"), Seg::Index(i), Seg::Key("soak_secs")],
                format!(
                    "{} has soak_secs but no predecessor: it is how long a commit must have been live on the stages in requires",
                    s.name
                ),
            ));
        }
    }
    Ok(())
}

/// Each stage's predecessors, by index, with the key that makes each one: its `requires`,
/// and the `through` of every rule whose `before` chooses it.
fn predecessor_graph(p: &NewProject) -> Vec<Vec<(usize, Vec<Seg>)>> {
    let index = |n: &str| p.stages.iter().position(|s| s.name == n);
    let mut graph = vec![Vec::new(); p.stages.len()];
    for (i, s) in p.stages.iter().enumerate() {
        for r in s.requires.iter().filter_map(|r| index(r)) {
            graph[i].push((r, vec![Seg::Key("stages"), Seg::Index(i), Seg::Key("requires")]));
        }
        for (j, rule) in p.rules.iter().enumerate().filter(|(_, r)| r.before.iter().any(|b| selects(b, s))) {
            for t in rule.through.iter().filter_map(|t| index(t)) {
                graph[i].push((t, vec![Seg::Key("rules"), Seg::Index(j), Seg::Key("through")]));
            }
        }
    }
    graph
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

/// The first cycle of the predecessor graph, as stage indices from its start back to it
/// (`rel → prod → rel`, or `dev → dev` for a stage that must come before itself).
fn cycle(graph: &[Vec<(usize, Vec<Seg>)>]) -> Option<Vec<usize>> {
    // Depth-first from every stage; `path` is the chain being followed.
    fn walk(graph: &[Vec<(usize, Vec<Seg>)>], at: usize, path: &mut Vec<usize>) -> Option<Vec<usize>> {
        if let Some(start) = path.iter().position(|p| *p == at) {
            let mut cycle = path[start..].to_vec();
            cycle.push(at);
            return Some(cycle);
        }
        path.push(at);
        for (next, _) in &graph[at] {
            if let Some(c) = walk(graph, *next, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    (0..graph.len()).find_map(|i| walk(graph, i, &mut Vec::new()))
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
    fn a_rule_that_makes_a_stage_come_before_itself_or_a_cycle_is_refused_at_the_rule() {
        let e = problem("rules:\n  - refs: tags\n    through: [rel]\n    before: [\"group:qa\"]\n");
        assert!(e.contains("rules[0].through: the predecessors make a cycle: rel → rel") && e.ends_with("at line 13"), "{e}");
        let e = problem("rules:\n  - refs: tags\n    through: [prod]\n    before: [rel]\n");
        assert!(e.contains("the predecessors make a cycle: rel → prod → rel"), "{e}");
        let text = BASE.replace("  - name: dev\n", "  - name: dev\n    soak_secs: 60\n");
        let e = from_yaml(&text).unwrap_err().to_api().message;
        assert!(e.contains("stages[0].soak_secs: dev has soak_secs but no predecessor") && e.ends_with("at line 6"), "{e}");
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
