//! The spellings Compose allows for one value (a list or a map, a string or a number, `1m30s`,
//! `512m`), each read into one form.

use std::collections::BTreeMap;

use serde_norway::Value;

/// A scalar as the text Compose would pass on (`true`, `5432`); `None` for a list or a map.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A string or a list of strings.
pub fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(l) => l.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// `{K: v}` or `["K=v", "K"]` → K → Some(v); a bare `K` (or `K: null`) → None (Compose then
/// takes it from its own environment). `sep` is `=` (environment, labels) or `:` (extra_hosts).
pub fn pairs(v: &Value, sep: char) -> Option<Vec<(String, Option<String>)>> {
    match v {
        Value::Mapping(m) => m.iter().map(|(k, v)| Some((scalar(k)?, if v.is_null() { None } else { Some(scalar(v)?) }))).collect(),
        Value::Sequence(l) => l
            .iter()
            .map(|item| {
                let s = scalar(item)?;
                Some(match s.split_once(sep) {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s, None),
                })
            })
            .collect(),
        _ => None,
    }
}

/// A map of strings (labels, sysctls, driver options); bare keys are empty strings.
pub fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    Some(pairs(v, '=')?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// `1m30s`, `5s`, `500ms`, `1h`, `2us` → milliseconds (as Go's durations, which Compose uses).
pub fn duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_end..];
    }
    Some(total as u64)
}

/// A duration given as text or as a number of seconds.
pub fn duration_value_ms(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0) as u64),
        Value::String(s) => duration_ms(s),
        _ => None,
    }
}

/// `512m`, `1g`, `2gb`, `1024`, `100k` → bytes (Compose's byte values).
pub fn bytes(v: &Value) -> Option<i64> {
    let s = scalar(v)?.trim().to_ascii_lowercase();
    let digits = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let n: f64 = s[..digits].parse().ok()?;
    let factor: f64 = match s[digits..].trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        _ => return None,
    };
    Some((n * factor) as i64)
}

/// A yes/no value (`true`, `"true"`).
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_writes_them() {
        for (text, ms) in [("1m30s", 90_000), ("5s", 5000), ("500ms", 500), ("1h", 3_600_000), ("1.5s", 1500), ("0s", 0)] {
            assert_eq!(duration_ms(text), Some(ms), "{text}");
        }
        for bad in ["", "5", "5x", "s"] {
            assert_eq!(duration_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn byte_values_read_with_their_unit() {
        let v = |s: &str| bytes(&Value::String(s.into()));
        assert_eq!(
            (v("512m"), v("1g"), v("2GB"), v("100k"), v("1024")),
            (Some(512 << 20), Some(1 << 30), Some(2 << 30), Some(102_400), Some(1024))
        );
        assert_eq!(v("lots"), None);
    }

    #[test]
    fn a_list_and_a_map_give_the_same_pairs() {
        let list: Value = serde_norway::from_str("[A=1, B, C=x=y]").unwrap();
        let map: Value = serde_norway::from_str("{A: 1, B: null, C: x=y}").unwrap();
        let want = vec![("A".into(), Some("1".into())), ("B".into(), None), ("C".into(), Some("x=y".into()))];
        assert_eq!(pairs(&list, '='), Some(want.clone()));
        assert_eq!(pairs(&map, '='), Some(want));
    }
}
