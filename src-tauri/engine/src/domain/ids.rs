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

/// The first 16 hex digits of the SHA-256 of `text`: a label-sized digest, to tell whether
/// two configurations are the same.
pub fn short_digest(text: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
