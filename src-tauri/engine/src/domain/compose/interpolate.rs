//! Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}` and `$$` for a literal `$`, as the
//! Compose Specification defines them (defaults may themselves hold variables).
//!
//! A variable that names a Slipway secret is not filled in here: its expression is kept as
//! written so the value is only ever put together when the container is created (see
//! [`Lookup::Keep`]), and never stored.

/// What a variable's name resolves to.
pub enum Lookup {
    Value(String),
    /// A secret: keep the expression, fill it in later.
    Keep,
    Unset,
}

/// The result of interpolating one string.
#[derive(Debug, PartialEq, Eq)]
pub enum Interpolated {
    Done(String),
    /// Held a secret: the text is a template for a second pass with the secrets (escapes kept).
    Template(String),
}

/// Interpolates `text`. `Err` is the message of `${VAR:?message}` or a malformed expression.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Lookup) -> Result<Interpolated, String> {
    let mut kept = false;
    let done = run(text, lookup, false, &mut kept)?;
    if !kept {
        return Ok(Interpolated::Done(done));
    }
    Ok(Interpolated::Template(run(text, lookup, true, &mut kept)?))
}

fn run(text: &str, lookup: &dyn Fn(&str) -> Lookup, template: bool, kept: &mut bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push_str(if template { "$$" } else { "$" });
                i += 2;
            }
            Some('{') => {
                let end = closing(&chars, i + 2).ok_or_else(|| format!("`{}`: a `${{` without its `}}`", text))?;
                let inner: String = chars[i + 2..end].iter().collect();
                match braced(&inner, lookup, template, kept)? {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&chars[i..=end].iter().collect::<String>()),
                }
                i = end + 1;
            }
            Some(n) if n.is_ascii_alphabetic() || *n == '_' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                match lookup(&name) {
                    Lookup::Value(v) => out.push_str(&v),
                    Lookup::Unset => {}
                    Lookup::Keep => {
                        *kept = true;
                        out.push_str(&format!("${{{name}}}"));
                    }
                }
                i = end;
            }
            _ => return Err(format!("`{text}`: a `$` that starts no variable (write `$$` for a literal `$`)")),
        }
    }
    Ok(out)
}

/// The index of the `}` that closes a `${` whose inside starts at `from` (nested `${…}` allowed).
fn closing(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 1;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `NAME`, `NAME:-x`, `NAME-x`, `NAME:?x`, `NAME?x`, `NAME:+x`, `NAME+x`. `None`: a secret, kept.
fn braced(inner: &str, lookup: &dyn Fn(&str) -> Lookup, template: bool, kept: &mut bool) -> Result<Option<String>, String> {
    let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`${{{inner}}}` is not a variable name"));
    }
    let value = match lookup(name) {
        Lookup::Keep => {
            *kept = true;
            return Ok(None);
        }
        Lookup::Value(v) => Some(v),
        Lookup::Unset => None,
    };
    let (colon, rest) = match op.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, op),
    };
    // With a colon, an empty value counts as unset.
    let set = value.as_ref().is_some_and(|v| !(colon && v.is_empty()));
    let mut arg = |s: &str| run(s, lookup, template, kept);
    match rest.chars().next() {
        None if !colon => Ok(Some(value.unwrap_or_default())),
        Some('-') => Ok(Some(if set { value.unwrap_or_default() } else { arg(&rest[1..])? })),
        Some('?') => {
            if set {
                Ok(Some(value.unwrap_or_default()))
            } else {
                let msg = arg(&rest[1..])?;
                Err(if msg.is_empty() {
                    format!("required variable {name} is missing a value")
                } else {
                    format!("required variable {name} is missing a value: {msg}")
                })
            }
        }
        Some('+') => Ok(Some(if set { arg(&rest[1..])? } else { String::new() })),
        _ => Err(format!("`${{{inner}}}`: unknown operator after {name} (use :-, -, :?, ?, :+ or +)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Lookup {
        match name {
            "SET" => Lookup::Value("v".into()),
            "EMPTY" => Lookup::Value(String::new()),
            "PASSWORD" => Lookup::Keep,
            _ => Lookup::Unset,
        }
    }

    fn i(text: &str) -> Result<Interpolated, String> {
        interpolate(text, &vars)
    }

    fn done(s: &str) -> Result<Interpolated, String> {
        Ok(Interpolated::Done(s.into()))
    }

    #[test]
    fn each_operator_as_the_compose_specification_defines_it() {
        let table = [
            ("$SET and ${SET}", "v and v"),
            ("${UNSET}", ""),
            ("${UNSET:-d} ${EMPTY:-d} ${SET:-d}", "d d v"),
            ("${UNSET-d} ${EMPTY-d}", "d "),
            ("${UNSET:+a}|${SET:+a}|${EMPTY:+a}|${EMPTY+a}", "|a||a"),
            ("${UNSET:-${SET}}", "v"),
            ("$$SET costs $$5", "$SET costs $5"),
            ("a-$SET.b", "a-v.b"),
        ];
        for (input, want) in table {
            assert_eq!(i(input), done(want), "{input}");
        }
    }

    #[test]
    fn a_required_variable_that_is_missing_fails_with_its_message() {
        assert_eq!(i("${X:?need X}"), Err("required variable X is missing a value: need X".into()));
        assert_eq!(i("${EMPTY:?}"), Err("required variable EMPTY is missing a value".into()));
        assert_eq!(i("${EMPTY?ok}"), done(""));
    }

    #[test]
    fn a_malformed_expression_is_an_error_not_a_literal() {
        for bad in ["${SET", "${}", "${1A}", "${SET!x}", "cost $5"] {
            assert!(i(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_secret_is_kept_as_written_for_the_second_pass() {
        assert_eq!(i("u:${PASSWORD}@$SET $$x"), Ok(Interpolated::Template("u:${PASSWORD}@v $$x".into())));
        let second = interpolate("u:${PASSWORD}@v $$x", &|n| if n == "PASSWORD" { Lookup::Value("p".into()) } else { Lookup::Unset });
        assert_eq!(second, done("u:p@v $x"));
    }
}
