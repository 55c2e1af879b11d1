//! The VAPID token: an ES256 JWT (RFC 7515/7519) with the claims of RFC 8292,
//! Section 2, and the header values that carry it.
//!
//! ```text
//!   JWT = base64url({"typ":"JWT","alg":"ES256"})
//!       . base64url({"aud":"https://push.example.net","exp":1453523768,"sub":"mailto:push@example.com"})
//!       . base64url(r || s)            (64 octets, never DER)
//! ```

use core::fmt;
use std::time::Duration;

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::key::VapidKey;
use crate::b64;
use crate::subscription::Endpoint;

/// The JOSE header of every VAPID token.
pub const JWT_HEADER: &str = r#"{"typ":"JWT","alg":"ES256"}"#;
/// How long a token is valid unless told otherwise: 12 hours.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(12 * 3600);
/// The longest validity push services accept (RFC 8292, Section 2: `exp`
/// MUST NOT be more than 24 hours from the time of the request).
pub const MAX_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// The longest `Authorization` value [`verify`] reads.
pub const MAX_HEADER_LEN: usize = 4096;
/// The longest subject accepted.
pub const MAX_SUBJECT_LEN: usize = 512;

/// Errors of VAPID tokens: building, signing and verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VapidError {
    /// The `sub` contact is not acceptable.
    #[error("VAPID subject is invalid: {0}")]
    Subject(&'static str),
    /// The `aud` is not an origin.
    #[error("VAPID audience is invalid: {0}")]
    Audience(&'static str),
    /// The token would already be expired.
    #[error("VAPID expiry is not in the future")]
    ExpiryNotInFuture,
    /// `exp` more than 24 hours ahead: push services refuse it.
    #[error("VAPID expiry is {secs} s ahead; the limit is {max} s (24 hours)")]
    ExpiryTooFar {
        /// Seconds ahead.
        secs: u64,
        /// The limit.
        max: u64,
    },
    /// A validity of zero or over 24 hours given to the signer.
    #[error("VAPID token validity must be between 1 s and 24 hours")]
    Validity,
    /// An `Authorization` value or JWT that does not parse.
    #[error("VAPID token is malformed: {0}")]
    Malformed(&'static str),
    /// The `k` parameter is not a P-256 public key.
    #[error("VAPID public key `k` is invalid")]
    PublicKey,
    /// The signature does not verify under `k`.
    #[error("VAPID signature does not verify")]
    BadSignature,
    /// The token's `exp` is in the past.
    #[error("VAPID token has expired")]
    Expired,
}

/// The `sub` claim: how the push service can reach the sender's operator.
///
/// Accepted: `mailto:` with an address, or an `https:` URL. A bare address
/// (`ops@example.com`) gets `mailto:` added, once. Refused: whitespace,
/// `mailto:mailto:`, `http:`, and `localhost` contacts, which Apple's push
/// service rejects with `403 BadJwtToken`.
#[derive(Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    /// Validates a contact.
    ///
    /// # Errors
    /// [`VapidError::Subject`] naming the problem.
    pub fn parse(s: &str) -> Result<Self, VapidError> {
        let err = VapidError::Subject;
        if s.is_empty() {
            return Err(err("empty; use mailto:you@example.com or an https: URL"));
        }
        if s.len() > MAX_SUBJECT_LEN {
            return Err(err("longer than 512 octets"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("contains whitespace or control characters"));
        }
        let lower = s.to_ascii_lowercase();
        if let Some(addr) = lower.strip_prefix("mailto:") {
            if addr.starts_with("mailto:") {
                return Err(err("mailto: given twice"));
            }
            check_address(addr)?;
            return Ok(Self(s.to_owned()));
        }
        if lower.starts_with("https://") {
            let uri: http::Uri = s.parse().map_err(|_| err("not a valid https URL"))?;
            let host = uri.host().unwrap_or_default();
            if host.is_empty() {
                return Err(err("https URL has no host"));
            }
            if is_local_host(host) {
                return Err(err("localhost contact (Apple's push service rejects it)"));
            }
            return Ok(Self(s.to_owned()));
        }
        if lower.starts_with("http://") {
            return Err(err("http URL; use https or mailto:"));
        }
        if lower.contains(':') {
            return Err(err("must be mailto: or an https URL"));
        }
        // A bare address: prefix it, once.
        check_address(&lower)?;
        Ok(Self(format!("mailto:{s}")))
    }

    /// The claim value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_address(addr: &str) -> Result<(), VapidError> {
    let err = VapidError::Subject;
    let (local, domain) = addr
        .split_once('@')
        .ok_or(err("mailto: needs an address with @"))?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(err("mailto: address is not of the form name@domain"));
    }
    if is_local_host(domain) {
        return Err(err("localhost contact (Apple's push service rejects it)"));
    }
    Ok(())
}

fn is_local_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "[::1]"
        || host == "::1"
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subject({})", self.0)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `aud` claim: the origin (RFC 6454) of the push service, i.e. scheme,
/// host and the port when it is not the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Audience(String);

impl Audience {
    /// The audience for a subscription's endpoint.
    #[must_use]
    pub fn from_endpoint(endpoint: &Endpoint) -> Self {
        Self(endpoint.origin())
    }

    /// Parses an origin such as `https://push.example.net:8443`. A trailing
    /// `/` is allowed; any other path, a query or userinfo is not.
    ///
    /// # Errors
    /// [`VapidError::Audience`].
    pub fn parse(origin: &str) -> Result<Self, VapidError> {
        let err = VapidError::Audience;
        let uri: http::Uri = origin.parse().map_err(|_| err("not a URL"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(err("an origin has no path or query"));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(err("an origin has no userinfo"));
        }
        let endpoint =
            Endpoint::parse(origin).map_err(|_| err("not an absolute http(s) URL with a host"))?;
        Ok(Self::from_endpoint(&endpoint))
    }

    /// The origin string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The claims of a VAPID token, in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Claims {
    /// The push service origin.
    pub aud: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// The sender's contact.
    pub sub: String,
}

/// Signs a token that expires at `exp`, checked against `now` (both seconds
/// since the Unix epoch). Deterministic (RFC 6979): the same inputs give the
/// same token.
///
/// # Errors
/// [`VapidError::ExpiryNotInFuture`] or [`VapidError::ExpiryTooFar`].
pub fn sign(
    key: &VapidKey,
    aud: &Audience,
    sub: &Subject,
    exp: u64,
    now: u64,
) -> Result<String, VapidError> {
    check_expiry(exp, now)?;
    let claims = Claims {
        aud: aud.0.clone(),
        exp,
        sub: sub.0.clone(),
    };
    // A struct of two strings and an integer always serializes.
    let claims = serde_json::to_vec(&claims).map_err(|_| VapidError::Malformed("claims"))?;
    let mut jwt = b64::encode(JWT_HEADER.as_bytes());
    jwt.push('.');
    jwt.push_str(&b64::encode(&claims));
    let signature: Signature = key.signing_key().sign(jwt.as_bytes());
    jwt.push('.');
    jwt.push_str(&b64::encode(&signature.to_bytes()));
    Ok(jwt)
}

fn check_expiry(exp: u64, now: u64) -> Result<(), VapidError> {
    if exp <= now {
        return Err(VapidError::ExpiryNotInFuture);
    }
    let max = MAX_VALIDITY.as_secs();
    if exp - now > max {
        return Err(VapidError::ExpiryTooFar {
            secs: exp - now,
            max,
        });
    }
    Ok(())
}

/// `vapid t=<jwt>, k=<public key>` (RFC 8292, Section 3).
#[must_use]
pub fn authorization(jwt: &str, public_key_b64: &str) -> String {
    format!("vapid t={jwt}, k={public_key_b64}")
}

/// The legacy pair used with the old `aesgcm` coding:
/// (`Authorization: WebPush <jwt>`, `Crypto-Key: p256ecdsa=<key>`).
#[must_use]
pub fn legacy_headers(jwt: &str, public_key_b64: &str) -> (String, String) {
    (
        format!("WebPush {jwt}"),
        format!("p256ecdsa={public_key_b64}"),
    )
}

/// A token that verified: its claims and the sender's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The claims.
    pub claims: Claims,
    /// The `k` parameter: the sender's uncompressed public key.
    pub public_key: [u8; 65],
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    typ: Option<String>,
}

/// Verifies an `Authorization: vapid t=…, k=…` value as a push service does:
/// the header names ES256, the signature verifies under `k`, `exp` is in the
/// future and at most 24 hours ahead of `now`, and `sub` is present. The
/// caller compares `aud` with its own origin and `k` with the subscription's
/// key.
///
/// # Errors
/// [`VapidError::Malformed`], [`VapidError::PublicKey`],
/// [`VapidError::BadSignature`], [`VapidError::Expired`] or
/// [`VapidError::ExpiryTooFar`].
pub fn verify(authorization: &str, now: u64) -> Result<Verified, VapidError> {
    let bad = VapidError::Malformed;
    if authorization.len() > MAX_HEADER_LEN {
        return Err(bad("Authorization value over 4096 octets"));
    }
    let (scheme, params) = authorization
        .trim()
        .split_once(' ')
        .ok_or(bad("no auth scheme"))?;
    if !scheme.eq_ignore_ascii_case("vapid") {
        return Err(bad("auth scheme is not vapid"));
    }
    let (mut t, mut k) = (None, None);
    for param in params.split(',') {
        let (name, value) = param
            .trim()
            .split_once('=')
            .ok_or(bad("parameter without ="))?;
        let slot = match name.trim() {
            n if n.eq_ignore_ascii_case("t") => &mut t,
            n if n.eq_ignore_ascii_case("k") => &mut k,
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(bad("parameter given twice"));
        }
    }
    let t = t.ok_or(bad("missing t="))?;
    let k = k.ok_or(bad("missing k="))?;
    verify_token(t, k, now)
}

/// Verifies the legacy pair that goes with the `aesgcm` coding, as a push
/// service does: `Authorization: WebPush <jwt>` and the key from the
/// `p256ecdsa` parameter of `Crypto-Key` (see
/// [`crate::aesgcm::crypto_key_p256ecdsa`]). The token is checked exactly as
/// [`verify`] checks the `t` parameter.
///
/// # Errors
/// As [`verify`].
#[cfg(feature = "aesgcm")]
pub fn verify_legacy(
    authorization: &str,
    p256ecdsa: &str,
    now: u64,
) -> Result<Verified, VapidError> {
    let bad = VapidError::Malformed;
    if authorization.len() > MAX_HEADER_LEN {
        return Err(bad("Authorization value over 4096 octets"));
    }
    let (scheme, jwt) = authorization
        .trim()
        .split_once(' ')
        .ok_or(bad("no auth scheme"))?;
    if !scheme.eq_ignore_ascii_case("webpush") {
        return Err(bad("auth scheme is not WebPush"));
    }
    verify_token(jwt.trim(), p256ecdsa.trim(), now)
}

/// Verifies a JWT `t` under the public key `k` (base64url).
fn verify_token(t: &str, k: &str, now: u64) -> Result<Verified, VapidError> {
    let bad = VapidError::Malformed;
    let public_key = b64::decode_array::<65>(k).map_err(|_| VapidError::PublicKey)?;
    let verifying =
        VerifyingKey::from_sec1_bytes(&public_key).map_err(|_| VapidError::PublicKey)?;

    let mut parts = t.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("JWT does not have three parts"));
    };
    let signature = b64::decode_array::<64>(s).map_err(|_| bad("signature is not 64 octets"))?;
    let signature = Signature::from_slice(&signature).map_err(|_| VapidError::BadSignature)?;
    let signed = t.get(..h.len() + 1 + c.len()).ok_or(bad("JWT"))?;
    verifying
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| VapidError::BadSignature)?;

    let header: JoseHeader = json_part(h).ok_or(bad("JWT header is not JSON"))?;
    if header.alg != "ES256" {
        return Err(bad("JWT alg is not ES256"));
    }
    if header
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
    {
        return Err(bad("JWT typ is not JWT"));
    }
    let claims: Claims = json_part(c).ok_or(bad("JWT claims lack aud, exp or sub"))?;
    if claims.exp <= now {
        return Err(VapidError::Expired);
    }
    check_expiry(claims.exp, now)?;
    if claims.sub.is_empty() {
        return Err(bad("empty sub"));
    }
    Ok(Verified { claims, public_key })
}

fn json_part<T: serde::de::DeserializeOwned>(b64_part: &str) -> Option<T> {
    if b64_part.len() > MAX_HEADER_LEN {
        return None;
    }
    serde_json::from_slice(&b64::decode_vec(b64_part).ok()?).ok()
}

#[cfg(test)]
mod tests;
