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
    let mut v = Verifier::start(provider, headers, secret)?;
    v.update(body);
    v.finish(headers, body)
}

/// [`verify`] in three parts, so that a delivery whose headers cannot verify is refused before
/// its body is read ([`Verifier::start`]), and the HMAC is computed over the body as it arrives
/// ([`Verifier::update`]) instead of in a second pass.
pub struct Verifier {
    secret: Vec<u8>,
    mac: Hmac<Sha256>,
    proof: Proof,
}

enum Proof {
    /// GitHub, Bitbucket: `sha256=<hex>` over the raw body.
    Hub([u8; 32]),
    /// Gitea, Forgejo: hex over the body (or over the JSON of a form delivery's `payload`).
    Gitea([u8; 32]),
    /// GitLab's token matched: nothing in the body can change that.
    Verified,
    /// Standard Webhooks (GitLab): any of the `v1` signatures, else the token if it matched.
    Standard { signatures: Vec<Vec<u8>>, any_v1: bool, token_ok: bool },
}

impl Verifier {
    /// Reads the proof from the headers: a missing, empty or malformed one is refused here.
    pub fn start(provider: Provider, headers: &HeaderMap, secret: &[u8]) -> Result<Verifier, VerifyError> {
        let mac = |key: &[u8]| Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
        let hub = |name: &'static str| -> Result<[u8; 32], VerifyError> {
            let value = header(headers, name)?;
            match value.get(..7) {
                Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => hex_digest(value[7..].trim(), name),
                _ => Err(VerifyError::Malformed(name)),
            }
        };
        let gitea = |name: &'static str| hex_digest(header(headers, name)?, name);
        let proof = match provider {
            Provider::Github => Proof::Hub(hub("X-Hub-Signature-256")?),
            // Bitbucket reuses GitHub's old SHA-1 header name for a SHA-256 signature.
            Provider::Bitbucket => Proof::Hub(hub("X-Hub-Signature")?),
            Provider::Forgejo if !headers.contains_key("x-forgejo-signature") && headers.contains_key("x-gitea-signature") => {
                Proof::Gitea(gitea("X-Gitea-Signature")?)
            }
            Provider::Gitea => Proof::Gitea(gitea("X-Gitea-Signature")?),
            Provider::Forgejo => Proof::Gitea(gitea("X-Forgejo-Signature")?),
            Provider::Gitlab => return gitlab_start(headers, secret),
        };
        Ok(Verifier { secret: secret.to_vec(), mac: mac(secret), proof })
    }

    pub fn update(&mut self, chunk: &[u8]) {
        if !matches!(self.proof, Proof::Verified) {
            self.mac.update(chunk);
        }
    }

    /// The verdict, once the whole `body` has been through [`Verifier::update`].
    pub fn finish(self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        if self.secret.is_empty() {
            return Err(VerifyError::Mismatch);
        }
        let matches = |mac: Hmac<Sha256>, expected: &[u8]| bool::from(mac.finalize().into_bytes().as_slice().ct_eq(expected));
        let ok = match self.proof {
            Proof::Verified => true,
            // For form deliveries Gitea signs the JSON it put in the `payload` field, not the
            // form body it sent, so that is what is checked.
            Proof::Gitea(expected) if is_form_delivery(headers, body) => {
                let json = payload_json(headers, body).map_err(|_| VerifyError::Malformed("payload"))?;
                return hmac_matches(&self.secret, &[&json], &expected);
            }
            Proof::Hub(expected) | Proof::Gitea(expected) => matches(self.mac, &expected),
            Proof::Standard { signatures, any_v1, token_ok } => {
                let digest = self.mac.finalize().into_bytes();
                let signed = signatures.iter().any(|s| bool::from(digest.as_slice().ct_eq(s)));
                if !signed && !token_ok && !any_v1 {
                    return Err(VerifyError::Malformed("webhook-signature"));
                }
                signed || token_ok
            }
        };
        if ok {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }
}

/// GitLab: the token alone (from the headers), or Standard Webhooks over
/// `{webhook-id}.{webhook-timestamp}.{body}` with the token as a fallback.
fn gitlab_start(headers: &HeaderMap, secret: &[u8]) -> Result<Verifier, VerifyError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&signing_key(secret)).expect("HMAC takes a key of any length");
    let verified = |mac| Ok(Verifier { secret: secret.to_vec(), mac, proof: Proof::Verified });
    if !headers.contains_key("webhook-signature") {
        gitlab_token(headers, secret)?;
        return verified(mac);
    }
    let token_ok = headers.contains_key("x-gitlab-token") && gitlab_token(headers, secret).is_ok();
    let parsed = (|| {
        let id = header(headers, "webhook-id")?;
        let timestamp = header(headers, "webhook-timestamp")?;
        if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VerifyError::Malformed("webhook-timestamp"));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let signatures: Vec<Vec<u8>> = header(headers, "webhook-signature")?
            .split_ascii_whitespace()
            .filter_map(|e| e.strip_prefix("v1,"))
            .filter_map(|s| b64.decode(s).ok())
            .collect();
        Ok((id, timestamp, signatures))
    })();
    match parsed {
        Ok((id, timestamp, signatures)) => {
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.as_bytes());
            mac.update(b".");
            let any_v1 = !signatures.is_empty();
            Ok(Verifier { secret: secret.to_vec(), mac, proof: Proof::Standard { signatures, any_v1, token_ok } })
        }
        Err(_) if token_ok => verified(mac),
        Err(e) => Err(e),
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
