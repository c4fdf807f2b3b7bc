//! Identifiers made from what users type: a project's id is its name as a slug.
//!
//! Must not depend on other domain modules (they all may use it).

/// `My App` → `my-app`: lowercase ASCII letters and digits, one dash for any run of others.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}
