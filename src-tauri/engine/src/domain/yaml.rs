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
    fn distance_counts_edits() {
        assert_eq!((distance("kitten", "sitting"), distance("", "ab"), distance("same", "same")), (3, 2, 0));
    }
}
