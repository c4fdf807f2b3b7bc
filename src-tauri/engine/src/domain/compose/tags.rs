//! Compose's two YAML tags, for a later file (or an `extends`) that must undo rather than add:
//! `!reset` removes what the earlier side set (`ports: !reset []`), `!override` replaces it
//! whole instead of merging (`ports: !override ["8080:80"]`). Any other tag is refused: Compose
//! knows no other, and a tag quietly dropped would deploy something the file did not say.

use serde_norway::value::TaggedValue;
use serde_norway::{Mapping, Value};

use super::values::scalar;

/// What a tagged value asks of the merge.
pub enum Tagged<'a> {
    Reset,
    Override(&'a Value),
}

/// `!reset` or `!override` on `v`, if it carries one.
pub fn of(v: &Value) -> Option<Tagged<'_>> {
    match v {
        Value::Tagged(t) if t.tag == "reset" => Some(Tagged::Reset),
        Value::Tagged(t) if t.tag == "override" => Some(Tagged::Override(&t.value)),
        _ => None,
    }
}

/// The first tag other than Compose's two, with the key it sits on (a dotted path).
pub fn unknown(v: &Value) -> Option<(String, String)> {
    fn walk(v: &Value, path: &mut Vec<String>) -> Option<(String, String)> {
        match v {
            Value::Tagged(t) => {
                let TaggedValue { tag, value } = t.as_ref();
                if *tag != "reset" && *tag != "override" {
                    return Some((tag.to_string(), path.join(".")));
                }
                walk(value, path)
            }
            Value::Mapping(m) => m.iter().find_map(|(k, v)| {
                path.push(scalar(k).unwrap_or_default());
                let found = walk(v, path);
                path.pop();
                found
            }),
            Value::Sequence(l) => l.iter().find_map(|v| walk(v, path)),
            _ => None,
        }
    }
    walk(v, &mut Vec::new())
}

/// After every merge: an `!override` left is its value, a key whose value is `!reset` is
/// gone (nothing earlier was there to reset, and Compose then leaves the key unset).
pub fn settle(v: &mut Value) {
    match v {
        Value::Tagged(t) => {
            let inner = std::mem::take(&mut t.value);
            *v = inner;
            settle(v);
        }
        Value::Mapping(m) => {
            let keys: Vec<Value> = m.iter().filter(|(_, v)| matches!(of(v), Some(Tagged::Reset))).map(|(k, _)| k.clone()).collect();
            for k in keys {
                m.remove(&k);
            }
            for (_, v) in m.iter_mut() {
                settle(v);
            }
        }
        Value::Sequence(l) => l.iter_mut().for_each(settle),
        _ => {}
    }
}

/// `m` with `key` applied from a later side as its tag asks: None when the tag is not one of
/// Compose's (the caller merges as usual).
pub fn apply(m: &mut Mapping, key: &Value, v: &Value) -> Option<()> {
    match of(v)? {
        Tagged::Reset => {
            m.remove(key);
        }
        Tagged::Override(inner) => {
            let mut inner = inner.clone();
            settle(&mut inner);
            m.insert(key.clone(), inner);
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn an_unknown_tag_is_named_with_its_key() {
        assert_eq!(unknown(&y("services:\n  web:\n    ports: !reset []\n")), None);
        assert_eq!(unknown(&y("services:\n  web:\n    image: !env IMG\n")), Some(("!env".into(), "services.web.image".into())));
    }

    #[test]
    fn settling_drops_reset_keys_and_unwraps_overrides() {
        let mut v = y("services:\n  web:\n    ports: !reset []\n    command: !override [a]\n");
        settle(&mut v);
        assert_eq!(v, y("services:\n  web:\n    command: [a]\n"));
    }
}
