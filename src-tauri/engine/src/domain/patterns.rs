//! Branch and tag patterns as operators write them: `main`, `release/*`, `v*`, `dev-?`.
//! `*` matches any run of characters (slashes included, so `release/*` covers `release/1/x`),
//! `?` one character; everything else is literal.

pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative wildcard match with one backtrack point: linear in practice, no recursion.
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

pub fn any_matches(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| matches(p, name))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("main", "main"));
        assert!(!matches("main", "main2"));
        assert!(matches("v*", "v1.2.0"));
        assert!(matches("v*", "v"));
        assert!(!matches("v*", "dev-1"));
        assert!(matches("dev-*", "dev-7"));
        assert!(matches("release/*", "release/1/x"));
        assert!(matches("*-rc?", "v1-rc2"));
        assert!(!matches("*-rc?", "v1-rc"));
        assert!(matches("*", ""));
        assert!(!matches("a", ""));
    }
}
