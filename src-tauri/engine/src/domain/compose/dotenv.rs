//! `.env` and `env_file` files as Compose reads them: `NAME=value` lines, `#` comments,
//! `export NAME=value`, single quotes literal, double quotes with `\n`-style escapes, and
//! ` #` starting a comment after an unquoted value.

use std::collections::BTreeMap;

pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {}: `{line}` is not NAME=value", i + 1));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("line {}: `{name}` is not a variable name", i + 1));
        }
        out.insert(name.to_string(), value_of(value.trim()).ok_or_else(|| format!("line {}: an unterminated quote", i + 1))?);
    }
    Ok(out)
}

fn value_of(v: &str) -> Option<String> {
    if let Some(rest) = v.strip_prefix('\'') {
        return Some(rest[..rest.find('\'')?].to_string());
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        return None;
    }
    Some(v.split(" #").next().unwrap_or(v).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_form_reads_as_compose_reads_it() {
        let env = parse("# c\nA=1\nexport B=two words # note\nC='lit $X # x'\nD=\"a\\nb\"\nE=\n\n").unwrap();
        let want: BTreeMap<String, String> = [("A", "1"), ("B", "two words"), ("C", "lit $X # x"), ("D", "a\nb"), ("E", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(env, want);
    }

    #[test]
    fn a_line_that_is_not_an_assignment_is_an_error_with_its_number() {
        assert_eq!(parse("A=1\noops\n"), Err("line 2: `oops` is not NAME=value".into()));
        assert_eq!(parse("A=\"open\n"), Err("line 1: an unterminated quote".into()));
    }
}
