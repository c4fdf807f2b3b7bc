//! The engine's folders are its layers, and imports go one way:
//!
//! ```text
//! error ← domain ← store, adapters ← services ← engine ← http
//! ```
//!
//! and inside the lower layers, between their own modules, imports go one way too (no cycle
//! between, say, `services::deploy` and `services::run`; a layer's root file, which its
//! modules may use, uses none of them). `engine` and `http` are exempt from that second
//! check: their operations are one `impl Engine` split over files by subject.
//!
//! This test reads every source file of the engine crate, collects the `crate::…` paths each
//! top-level module names (including names the crate root re-exports, such as `crate::Engine`),
//! and fails on an import that goes up or sideways between store and adapters, and on any cycle
//! between top-level modules. It reads text, not the compiler's view, so a path spelled through
//! a `use` alias is seen where the alias is declared, which is where it matters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each layer and the layers it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("domain", &["error"]),
    ("store", &["error", "domain"]),
    ("adapters", &["error", "domain"]),
    ("services", &["error", "domain", "store", "adapters"]),
    ("engine", &["error", "domain", "store", "adapters", "services"]),
    ("http", &["error", "domain", "store", "adapters", "services", "engine"]),
];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source text without comments (so docs may name any module).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Names the crate root re-exports (`pub use domain::config::Config;`) → the module they come from.
fn root_reexports() -> BTreeMap<String, String> {
    let lib = code(&src().join("lib.rs"));
    let mut out = BTreeMap::new();
    for line in lib.lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
        let module = line.split("::").next().unwrap().to_string();
        let names = line.rsplit("::").next().unwrap().trim_end_matches(';');
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            out.insert(name.trim().to_string(), module.clone());
        }
    }
    out
}

/// The top-level modules named after `crate::` in `text`, including in `crate::{a, b::c}` groups.
fn named(text: &str, reexports: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let heads: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end].split(',').map(|p| p.trim().split("::").next().unwrap_or("").trim()).collect()
        } else {
            vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("")]
        };
        for head in heads.into_iter().filter(|h| !h.is_empty()) {
            out.insert(reexports.get(head).cloned().unwrap_or_else(|| head.to_string()));
        }
    }
    out
}

/// Top-level module → the top-level modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let reexports = root_reexports();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" {
            continue;
        }
        let entry = graph.entry(top.clone()).or_default();
        for m in named(&code(&file), &reexports) {
            if m != top {
                entry.insert(m);
            }
        }
    }
    graph
}

/// The largest strongly connected component (Tarjan's algorithm, small enough to inline).
fn largest_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    struct T<'g> {
        g: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        best: Vec<String>,
    }
    fn visit<'g>(t: &mut T<'g>, v: &'g str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        for w in t.g.get(v).into_iter().flatten().filter(|w| t.g.contains_key(w.as_str())) {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if t.stack.contains(&w.as_str()) {
                let iw = t.index[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > t.best.len() {
                t.best = scc;
            }
        }
    }
    let mut t = T { g: graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), best: Vec::new() };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.best.sort();
    t.best
}

/// The layers whose own modules must not import each other in a cycle.
const ONE_WAY_INSIDE: &[&str] = &["domain", "store", "adapters", "services"];

/// Inside `layer`: module → the modules of the same layer it imports. `mod` stands for the
/// layer's root file (what `crate::layer::Item` names when `Item` is not a module).
fn inner_graph(layer: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = src().join(layer);
    let children: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .filter(|n| n != "mod")
        .collect();
    let node = |name: &str| if children.contains(name) { name.to_string() } else { "mod".to_string() };
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&dir).unwrap();
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string()).collect();
        let me = node(&parts[0]);
        let text: String = code(&file).lines().filter(|l| !l.trim_start().starts_with("pub mod ")).collect::<Vec<_>>().join("\n");
        let mut named = paths_after(&text, &format!("crate::{layer}::"));
        // `super::x` from a file directly in the layer (or a module's own mod.rs) names a sibling.
        if parts.len() == 1 || (parts.len() == 2 && parts[1] == "mod") {
            named.extend(paths_after(&text, "super::"));
        }
        if me == "mod" {
            named.extend(children.iter().filter(|c| text.contains(&format!("{c}::"))).cloned());
        }
        let entry = graph.entry(me.clone()).or_default();
        entry.extend(named.iter().map(|n| node(n)).filter(|n| *n != me));
    }
    graph
}

/// The first segment of every path that follows `prefix`, including in `prefix{a, b::c}` groups.
fn paths_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        if text[..i].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // the `super::` of `super::super::`, or part of a longer path or name
        }
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(group[..end].split(',').map(|p| p.trim().split("::").next().unwrap_or("").trim().to_string()));
        } else {
            out.insert(rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_string());
        }
    }
    out.retain(|h| !h.is_empty() && h != "self" && h != "super" && h != "*");
    out
}

#[test]
fn inside_the_lower_layers_imports_go_one_way() {
    let mut cycles = Vec::new();
    for layer in ONE_WAY_INSIDE {
        let cycle = largest_cycle(&inner_graph(layer));
        if cycle.len() > 1 {
            cycles.push(format!("{layer}: {cycle:?}"));
        }
    }
    assert!(cycles.is_empty(), "modules of one layer import each other in a cycle:\n{}", cycles.join("\n"));
}

#[test]
fn the_top_level_modules_are_exactly_the_layers() {
    let layers: BTreeSet<String> = ALLOWED.iter().map(|(l, _)| l.to_string()).collect();
    let modules: BTreeSet<String> = graph().keys().cloned().collect();
    assert_eq!(modules, layers, "a new top-level module belongs in one of the layers");
}

#[test]
fn imports_go_down_the_layers_only() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, imports) in graph() {
        for import in imports {
            if !allowed.get(module.as_str()).is_some_and(|ok| ok.contains(&import.as_str())) {
                wrong.push(format!("{module} imports {import}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
}

#[test]
fn no_cycle_between_top_level_modules() {
    let cycle = largest_cycle(&graph());
    assert!(cycle.len() <= 1, "these modules import each other in a cycle: {cycle:?}");
}

#[test]
fn the_checker_sees_cycles_and_upward_imports() {
    // The checks above must be able to fail: a graph with a cycle and a parsed upward path.
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["c".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
        ("d".to_string(), BTreeSet::new()),
    ]
    .into();
    assert_eq!(largest_cycle(&g), vec!["a", "b", "c"]);
    let re = BTreeMap::from([("Engine".to_string(), "engine".to_string())]);
    let seen = named("use crate::{Engine, store::Store};\nlet x = crate::http::api::router;", &re);
    assert_eq!(seen, BTreeSet::from(["engine".to_string(), "store".to_string(), "http".to_string()]));
    let inner = paths_after("use super::{hosts, bus::Events};\nlet x = crate::services::run::Runner;\nsuper::super::z", "super::");
    assert_eq!(inner, BTreeSet::from(["hosts".to_string(), "bus".to_string()]));
    // The services as they were before the narrow handles: the root's `Core` held the deploy's
    // routes and the deploys took `&Core`, which the check must see as a cycle.
    let before: BTreeMap<String, BTreeSet<String>> = [
        ("mod".to_string(), BTreeSet::from(["deploy".to_string(), "hosts".to_string()])),
        ("deploy".to_string(), BTreeSet::from(["mod".to_string(), "run".to_string()])),
        ("run".to_string(), BTreeSet::from(["deploy".to_string()])),
        ("hosts".to_string(), BTreeSet::from(["mod".to_string()])),
    ]
    .into();
    assert_eq!(largest_cycle(&before), vec!["deploy", "hosts", "mod", "run"]);
}
