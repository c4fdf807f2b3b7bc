//! Is this delivery really from the forge? Every scheme proves knowledge of the webhook secret;
//! they differ in where the proof travels and over which bytes it is computed.
//!
//! All comparisons are constant-time so response timing leaks nothing about the expected value,
//! and an empty secret never verifies, so a repository without a secret cannot be triggered by
//! anyone who sends an empty signature.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{is_form_delivery, payload_json, Provider};

/// Why a delivery was refused. The string is the header name, or `payload` for a form delivery
/// whose `payload` field is missing, so the inbox can say what to fix on the forge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing {0} header: set a secret on the forge's webhook")]
    Missing(&'static str),
    #[error("empty {0} header: set a secret on the forge's webhook")]
    Empty(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("signature does not match the secret")]
    Mismatch,
}

/// Checks the delivery against `secret` over the raw `body` bytes, before anything parses them.
///
/// GitLab is accepted when `X-Gitlab-Token` equals the secret, or when the Standard Webhooks
/// `webhook-signature` verifies with it (`whsec_<base64>` secrets are decoded to their key). Either
/// alone proves the secret, and requiring both would break hooks that only have one configured.
/// The Standard Webhooks timestamp is not checked against the clock: replays are caught by the
/// delivery id (`webhook-id` equals `Idempotency-Key`).
pub fn verify(provider: Provider, headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    match provider {
        Provider::Github => hub_signature(headers, "X-Hub-Signature-256", body, secret),
        // Bitbucket reuses GitHub's old SHA-1 header name for a SHA-256 signature.
        Provider::Bitbucket => hub_signature(headers, "X-Hub-Signature", body, secret),
        Provider::Gitea => gitea_signature(headers, "X-Gitea-Signature", body, secret),
        Provider::Forgejo if !headers.contains_key("x-forgejo-signature") && headers.contains_key("x-gitea-signature") => {
            gitea_signature(headers, "X-Gitea-Signature", body, secret)
        }
        Provider::Forgejo => gitea_signature(headers, "X-Forgejo-Signature", body, secret),
        Provider::Gitlab => gitlab(headers, body, secret),
    }
}

/// Headers that carry the webhook secret or a proof of it. They are never stored: a delivery kept
/// for "redeliver locally" is signed again with the current secret ([`sign`]).
pub const SECRET_HEADERS: &[&str] = &[
    "x-gitlab-token",
    "authorization",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-gitea-signature",
    "x-forgejo-signature",
    "x-gogs-signature",
    "webhook-signature",
];

/// Whether a header (any case) carries the secret or a proof of it.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Signs a delivery as `provider` does with `secret`, replacing any proof it carried: what a
/// local redelivery needs, since the original proof was never stored. (GitLab's proof is the
/// secret itself: it is set here, in memory, for the one replay.)
pub fn sign(provider: Provider, headers: &mut HeaderMap, body: &[u8], secret: &[u8]) {
    for name in SECRET_HEADERS {
        headers.remove(*name);
    }
    let hex_hmac = |bytes: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    };
    let json = payload_json(headers, body).map(|j| j.into_owned()).unwrap_or_else(|_| body.to_vec());
    let (name, value) = match provider {
        Provider::Github => ("x-hub-signature-256", format!("sha256={}", hex_hmac(body))),
        Provider::Bitbucket => ("x-hub-signature", format!("sha256={}", hex_hmac(body))),
        Provider::Gitea => ("x-gitea-signature", hex_hmac(&json)),
        Provider::Forgejo => ("x-forgejo-signature", hex_hmac(&json)),
        Provider::Gitlab => ("x-gitlab-token", String::from_utf8_lossy(secret).into_owned()),
    };
    if let Ok(v) = http::HeaderValue::from_str(&value) {
        headers.insert(name, v);
    }
}

/// The header's value, trimmed; a value that is not text is malformed rather than absent.
fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, VerifyError> {
    let value = headers.get(name).ok_or(VerifyError::Missing(name))?;
    let value = value.to_str().map_err(|_| VerifyError::Malformed(name))?.trim();
    if value.is_empty() {
        return Err(VerifyError::Empty(name));
    }
    Ok(value)
}

/// Hex HMAC-SHA256, decoded before comparing so upper- and lowercase hex both match.
fn hex_digest(value: &str, name: &'static str) -> Result<[u8; 32], VerifyError> {
    if value.is_empty() {
        return Err(VerifyError::Empty(name));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).map_err(|_| VerifyError::Malformed(name))?;
    Ok(out)
}

fn hmac_matches(secret: &[u8], parts: &[&[u8]], expected: &[u8]) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::Mismatch);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| VerifyError::Mismatch)?;
    for part in parts {
        mac.update(part);
    }
    match bool::from(mac.finalize().into_bytes().as_slice().ct_eq(expected)) {
        true => Ok(()),
        false => Err(VerifyError::Mismatch),
    }
}

/// `sha256=<hex>` over the raw body. Gitea sends `sha256=` alone when no secret is set, which
/// must read as "no signature", not as a malformed one.
fn hub_signature(headers: &HeaderMap, name: &'static str, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    let value = header(headers, name)?;
    let hex = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &value[7..],
        _ => return Err(VerifyError::Malformed(name)),
    };
    let expected = hex_digest(hex.trim(), name)?;
    hmac_matches(secret, &[body], &expected)
}

/// Bare hex over the JSON. For form deliveries Gitea signs the JSON it put in the `payload`
/// field, not the form body it sent, so that is what is checked.
fn gitea_signature(headers: &HeaderMap, name: &'static str, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    let expected = hex_digest(header(headers, name)?, name)?;
    if is_form_delivery(headers, body) {
        let json = payload_json(headers, body).map_err(|_| VerifyError::Malformed("payload"))?;
        return hmac_matches(secret, &[&json], &expected);
    }
    hmac_matches(secret, &[body], &expected)
}

fn gitlab(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    if !headers.contains_key("webhook-signature") {
        return gitlab_token(headers, secret);
    }
    standard_webhooks(headers, body, secret).or_else(|err| {
        if headers.contains_key("x-gitlab-token") {
            gitlab_token(headers, secret).map_err(|_| err)
        } else {
            Err(err)
        }
    })
}

/// The token travels in plain text; comparing SHA-256 digests keeps the comparison constant-time
/// even when the lengths differ.
fn gitlab_token(headers: &HeaderMap, secret: &[u8]) -> Result<(), VerifyError> {
    let token = header(headers, "X-Gitlab-Token")?;
    if secret.is_empty() {
        return Err(VerifyError::Mismatch);
    }
    match bool::from(Sha256::digest(token.as_bytes()).ct_eq(&Sha256::digest(secret))) {
        true => Ok(()),
        false => Err(VerifyError::Mismatch),
    }
}

/// Standard Webhooks: `webhook-signature` is a space-separated list of `v1,<base64>` entries, each
/// an HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`; any one matching is enough, which
/// is how senders rotate keys.
fn standard_webhooks(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<(), VerifyError> {
    let id = header(headers, "webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")?;
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed("webhook-timestamp"));
    }
    let signatures = header(headers, "webhook-signature")?;
    let key = signing_key(secret);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut any_v1 = false;
    for entry in signatures.split_ascii_whitespace() {
        let Some(sig) = entry.strip_prefix("v1,").and_then(|s| b64.decode(s).ok()) else {
            continue;
        };
        any_v1 = true;
        if hmac_matches(&key, &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body], &sig).is_ok() {
            return Ok(());
        }
    }
    Err(if any_v1 { VerifyError::Mismatch } else { VerifyError::Malformed("webhook-signature") })
}

/// `whsec_<base64>` is the Standard Webhooks secret format and the key is the decoded bytes; a
/// secret that is not valid base64 is used as it is, so a hand-typed secret still works.
fn signing_key(secret: &[u8]) -> Vec<u8> {
    let encoded = secret.strip_prefix(b"whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_else(|_| secret.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_delivery_verifies_for_every_forge_and_not_with_another_secret() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        for provider in [Provider::Github, Provider::Gitlab, Provider::Gitea, Provider::Forgejo, Provider::Bitbucket] {
            let mut headers = HeaderMap::new();
            headers.insert("content-type", http::HeaderValue::from_static("application/json"));
            headers.insert("x-hub-signature-256", http::HeaderValue::from_static("sha256=00"));
            sign(provider, &mut headers, body, b"s3cret");
            assert_eq!(verify(provider, &headers, body, b"s3cret"), Ok(()), "{provider:?}");
            assert_eq!(verify(provider, &headers, body, b"other"), Err(VerifyError::Mismatch), "{provider:?}");
        }
    }

    #[test]
    fn secret_headers_are_named_in_any_case() {
        assert!(is_secret_header("X-Gitlab-Token") && is_secret_header("Authorization") && is_secret_header("X-Hub-Signature-256"));
        assert!(!is_secret_header("X-GitHub-Event") && !is_secret_header("X-Gitlab-Event"));
    }
}
