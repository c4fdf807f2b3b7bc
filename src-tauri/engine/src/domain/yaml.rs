//! Reading the YAML users write (project files, `slipway.yml`): strict, with errors that say
//! where and what to write instead.
//!
//! Parsed with `serde_norway`, the maintained fork of `serde_yaml` (which is archived): same
//! data model and messages, with the line and column of every error. Types that users write
//! refuse unknown keys (`deny_unknown_fields`), and [`hint`] adds the nearest known key to the
//! message, so `branch_pattern:` reads "… did you mean `branch_patterns`?".

use serde::de::DeserializeOwned;

use crate::{Error, ErrorCode, Result};

/// Parses `text` (from the file named `file`) into `T`, refusing what `T` does not know.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T> {
    serde_norway::from_str(text).map_err(|e| Error::new(ErrorCode::InvalidInput, format!("{file}: {}", hint(&e.to_string()))))
}

/// YAML for a value (what export writes).
pub fn render<T: serde::Serialize>(value: &T) -> String {
    serde_norway::to_string(value).unwrap_or_default()
}

/// One step of a path into a document: a key of a mapping or an item of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

/// A path as serde writes it in its messages: `stages[2].requires`.
pub fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => out.push_str(&format!(".{k}")),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A line of block YAML as [`line_of`] walks it: where its `- ` marker is (if any), the column
/// of its content, and the key it starts with (if any).
struct Line<'a> {
    no: usize,
    dash: Option<usize>,
    indent: usize,
    key: Option<&'a str>,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (no, raw) in text.lines().enumerate() {
        let mut rest = raw.trim_start();
        if rest.is_empty() || rest.starts_with('#') || rest == "---" {
            continue;
        }
        let mut indent = raw.len() - rest.len();
        let mut dash = None;
        while let Some(after) = rest.strip_prefix("- ") {
            dash.get_or_insert(indent);
            let content = after.trim_start();
            indent += rest.len() - content.len();
            rest = content;
        }
        let key = rest.split_once(':').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.contains([' ', '"', '\'', '[', '{']));
        out.push(Line { no: no + 1, dash, indent, key });
    }
    out
}

/// The line (1-based) of `path` in the block YAML `text`, as far down the path as the text
/// can be followed (a flow list `[a, b]` ends the walk at its key). Comments and blank lines
/// are skipped; anchors and multi-document files are beyond it (None or an outer line).
pub fn line_of(text: &str, path: &[Seg]) -> Option<usize> {
    let ls = lines(text);
    let (mut lo, mut hi, mut found) = (0, ls.len(), None);
    for seg in path {
        let region = ls.get(lo..hi).filter(|r| !r.is_empty());
        let Some(region) = region else { break };
        match seg {
            Seg::Key(k) => {
                let base = region.iter().map(|l| l.indent).min().unwrap_or(0);
                let Some(pos) = (lo..hi).find(|&j| ls[j].indent == base && ls[j].key == Some(k)) else { break };
                let mut end = pos + 1;
                while end < hi && ((ls[end].dash.is_none() && ls[end].indent > base) || ls[end].dash.is_some_and(|d| d >= base)) {
                    end += 1;
                }
                (lo, hi, found) = (pos + 1, end, Some(ls[pos].no));
            }
            Seg::Index(i) => {
                let Some(col) = region.iter().filter_map(|l| l.dash).min() else { break };
                let items: Vec<usize> = (lo..hi).filter(|&j| ls[j].dash == Some(col)).collect();
                let Some(&start) = items.get(*i) else { break };
                let end = items.get(i + 1).copied().unwrap_or(hi);
                (lo, hi, found) = (start, end, Some(ls[start].no));
            }
        }
    }
    found
}

/// Adds "did you mean …?" to an "unknown field `x`, expected one of `a`, `b`" message when a
/// known key is close to the unknown one (at most a third of its letters off).
pub fn hint(message: &str) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else { return message.to_string() };
    let Some((unknown, rest)) = rest.split_once('`') else { return message.to_string() };
    let known: Vec<&str> = rest.split(" at line").next().unwrap_or(rest).split('`').skip(1).step_by(2).collect();
    let nearest = known.iter().map(|k| (distance(unknown, k), *k)).min();
    match nearest {
        Some((d, k)) if d <= unknown.chars().count().div_ceil(3) => format!("{message} (did you mean `{k}`?)"),
        _ => message.to_string(),
    }
}

/// Levenshtein distance over characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str =
        "stages[0]: unknown field `branch_pattern`, expected one of `name`, `branch_patterns`, `tag_patterns` at line 7 column 5";

    #[test]
    fn a_near_miss_names_the_key_meant() {
        assert_eq!(hint(MSG), format!("{MSG} (did you mean `branch_patterns`?)"));
    }

    #[test]
    fn a_key_like_no_known_one_gets_no_guess() {
        let msg = "unknown field `colour`, expected one of `name`, `image` at line 2 column 3";
        assert_eq!(hint(msg), msg);
    }

    #[test]
    fn other_errors_pass_through() {
        assert_eq!(
            hint("invalid type: string \"x\", expected u32 at line 3 column 9"),
            "invalid type: string \"x\", expected u32 at line 3 column 9"
        );
    }

    #[test]
    fn a_path_is_found_on_its_line_in_block_yaml() {
        let text = "name: web\n# a comment\nstages:\n  - name: dev\n    requires: [a]\n  -   name: prod\n\n      requires:\n        - dev\nrules:\n- refs: tags\n  only: [dev]\n";
        let at = |path: &[Seg]| line_of(text, path);
        assert_eq!(at(&[Seg::Key("name")]), Some(1));
        assert_eq!(at(&[Seg::Key("stages"), Seg::Index(0), Seg::Key("requires")]), Some(5));
        assert_eq!(at(&[Seg::Key("stages"), Seg::Index(1), Seg::Key("requires")]), Some(8), "blank lines and wide dashes");
        assert_eq!(at(&[Seg::Key("rules"), Seg::Index(0), Seg::Key("only")]), Some(12), "a list at its key's column");
        assert_eq!(at(&[Seg::Key("stages"), Seg::Index(5), Seg::Key("requires")]), Some(3), "as far as the text goes");
        assert_eq!(path_text(&[Seg::Key("stages"), Seg::Index(1), Seg::Key("requires")]), "stages[1].requires");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!((distance("kitten", "sitting"), distance("", "ab"), distance("same", "same")), (3, 2, 0));
    }
}
