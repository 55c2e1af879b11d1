//! Push subscriptions as browsers give them: `PushSubscription.toJSON()`.
//!
//! ```json
//! {
//!   "endpoint": "https://fcm.googleapis.com/fcm/send/…",
//!   "expirationTime": null,
//!   "keys": { "p256dh": "BNcRd…", "auth": "tBHI…" }
//! }
//! ```
//!
//! [`Subscription`] is the validated form: an absolute `http(s)` endpoint, a
//! `p256dh` that is a point on P-256 and a 16-octet `auth`. It deserializes
//! directly from that JSON (through [`SubscriptionJson`]) and serializes back
//! to it. Keys may be base64url or standard base64, padded or not.
//!
//! Limits on untrusted input: [`MAX_JSON_LEN`] for a whole subscription,
//! [`MAX_ENDPOINT_LEN`] for the endpoint, [`MAX_KEY_STRING_LEN`] for each key
//! string.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::message::{AuthSecret, KeyError, UaPublicKey};

/// The largest subscription JSON [`Subscription::from_json`] reads.
pub const MAX_JSON_LEN: usize = 16 * 1024;
/// The longest endpoint URL accepted. Real endpoints are a few hundred
/// octets; this leaves room and bounds memory.
pub const MAX_ENDPOINT_LEN: usize = 4096;
/// The longest key string (`p256dh`, `auth`) accepted before decoding.
pub const MAX_KEY_STRING_LEN: usize = 256;

/// Why a subscription was refused. `Display` names the field and the problem
/// and never echoes the input (endpoints are capability URLs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("subscription JSON is malformed ({category}) at line {line}, column {column}")]
    Json {
        /// What kind of problem: syntax, data (wrong type), eof, io.
        category: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The JSON text is larger than [`MAX_JSON_LEN`].
    #[error("subscription JSON is {0} octets, over the limit of {MAX_JSON_LEN}")]
    JsonTooLarge(usize),
    /// A required field is absent (or `null`).
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field's string is longer than its limit.
    #[error("field `{field}` is {len} octets, over the limit of {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The endpoint is not an absolute `http` or `https` URL with a host.
    #[error("field `endpoint` is not an absolute http(s) URL: {0}")]
    Endpoint(&'static str),
    /// `keys.p256dh` is not a valid P-256 public key.
    #[error("field `keys.p256dh` is invalid: {0}")]
    P256dh(KeyError),
    /// `keys.auth` is not a valid 16-octet secret.
    #[error("field `keys.auth` is invalid: {0}")]
    Auth(KeyError),
    /// `expirationTime` is negative or not finite.
    #[error("field `expirationTime` is not a valid time")]
    ExpirationTime,
}

/// What kind of JSON error `e` is, in a fixed phrase: serde_json's own
/// message may quote the input, so errors keep this, the line and the column
/// (shared by every JSON wire format of the crate).
pub(crate) fn json_error_category(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "io",
        Category::Syntax => "syntax",
        Category::Data => "wrong type or value",
        Category::Eof => "unexpected end",
    }
}

impl From<serde_json::Error> for SubscriptionError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's own message may quote the input; keep only facts.
        Self::Json {
            category: json_error_category(&e),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// The wire form, field for field as `PushSubscription.toJSON()` writes it.
/// Every field is optional here so that a missing one becomes a
/// [`SubscriptionError::Missing`] naming it; unknown fields are ignored.
///
/// `Debug` shows only the endpoint's origin (see [`Endpoint`]) and hides
/// `auth`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionJson {
    /// The push service URL.
    pub endpoint: Option<String>,
    /// Milliseconds since the Unix epoch, or `null`.
    #[serde(default)]
    pub expiration_time: Option<f64>,
    /// The keys.
    pub keys: Option<KeysJson>,
}

impl fmt::Debug for SubscriptionJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The endpoint is a capability: its origin, or only its length when
        // it does not parse.
        let endpoint = self.endpoint.as_deref().map(|e| match Endpoint::parse(e) {
            Ok(endpoint) => format!("{}/…", endpoint.origin()),
            Err(_) => format!("<{} octets>", e.len()),
        });
        f.debug_struct("SubscriptionJson")
            .field("endpoint", &endpoint)
            .field("expiration_time", &self.expiration_time)
            .field("keys", &self.keys)
            .finish()
    }
}

/// The `keys` object of [`SubscriptionJson`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeysJson {
    /// The user agent's public key, base64url.
    pub p256dh: Option<String>,
    /// The authentication secret, base64url.
    pub auth: Option<String>,
}

impl fmt::Debug for KeysJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeysJson")
            .field("p256dh", &self.p256dh)
            .field("auth", &self.auth.as_ref().map(|_| ".."))
            .finish()
    }
}

/// The push service URL of a subscription: an absolute `http` or `https` URL.
///
/// It is a capability (whoever knows it can push to the subscriber), so
/// `Debug` shows only its origin.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint(http::Uri);

impl Endpoint {
    /// Parses and checks an endpoint URL.
    ///
    /// # Errors
    /// [`SubscriptionError::TooLong`] or [`SubscriptionError::Endpoint`].
    pub fn parse(s: &str) -> Result<Self, SubscriptionError> {
        if s.len() > MAX_ENDPOINT_LEN {
            return Err(SubscriptionError::TooLong {
                field: "endpoint",
                len: s.len(),
                max: MAX_ENDPOINT_LEN,
            });
        }
        let uri: http::Uri = s
            .parse()
            .map_err(|_| SubscriptionError::Endpoint("does not parse as a URL"))?;
        match uri.scheme_str() {
            Some("https" | "http") => {}
            Some(_) => return Err(SubscriptionError::Endpoint("scheme is not http or https")),
            None => return Err(SubscriptionError::Endpoint("not absolute (no scheme)")),
        }
        match uri.host() {
            Some(h) if !h.is_empty() => {}
            _ => return Err(SubscriptionError::Endpoint("no host")),
        }
        Ok(Self(uri))
    }

    /// Checks an already parsed URI (same rules as [`parse`](Self::parse)).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_uri(uri: http::Uri) -> Result<Self, SubscriptionError> {
        Self::parse(&uri.to_string())
    }

    /// The URL.
    #[must_use]
    pub const fn uri(&self) -> &http::Uri {
        &self.0
    }

    /// The push service this endpoint belongs to, from its host (and, for
    /// FCM, its path): pure, no I/O, no allocation. See
    /// [`crate::push_service`] for what each service implies.
    ///
    /// ```
    /// use webpush::push_service::PushService;
    /// use webpush::Endpoint;
    ///
    /// let e = Endpoint::parse("https://web.push.apple.com/QGx")?;
    /// assert_eq!(e.service(), PushService::Apple);
    /// # Ok::<(), webpush::SubscriptionError>(())
    /// ```
    #[must_use]
    pub fn service(&self) -> crate::push_service::PushService {
        crate::push_service::PushService::from_uri(&self.0)
    }

    /// The origin (RFC 6454): scheme, host, and the port when it is not the
    /// scheme's default. This is the VAPID audience.
    #[must_use]
    pub fn origin(&self) -> String {
        let scheme = self.0.scheme_str().unwrap_or("https");
        let host = self.0.host().unwrap_or_default();
        let default_port = if scheme == "http" { 80 } else { 443 };
        match self.0.port_u16() {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
            _ => format!("{scheme}://{host}"),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({}/…)", self.origin())
    }
}

/// A validated push subscription.
///
/// ```
/// use webpush::Subscription;
///
/// let sub = Subscription::from_json(r#"{
///   "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
///   "expirationTime": null,
///   "keys": {
///     "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
///     "auth": "BTBZMqHH6r4Tts7J_aSIgg"
///   }
/// }"#)?;
/// assert_eq!(sub.endpoint().origin(), "https://updates.push.services.mozilla.com");
/// # Ok::<(), webpush::subscription::SubscriptionError>(())
/// ```
///
/// `Deserialize` reads the same JSON form with a document-size limit of
/// [`MAX_JSON_LEN`] (see `subscription::bounded`'s notes in the source:
/// every string, number and nesting level is charged against it), so a
/// subscription embedded in a larger document cannot make it allocate
/// without bound.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(into = "SubscriptionJson")]
pub struct Subscription {
    endpoint: Endpoint,
    expiration_time: Option<u64>,
    p256dh: UaPublicKey,
    auth: AuthSecret,
}

impl Subscription {
    /// Builds a subscription from validated parts.
    #[must_use]
    pub const fn new(endpoint: Endpoint, p256dh: UaPublicKey, auth: AuthSecret) -> Self {
        Self {
            endpoint,
            expiration_time: None,
            p256dh,
            auth,
        }
    }

    /// Parses the JSON a browser's `PushSubscription.toJSON()` produces.
    ///
    /// # Errors
    /// A [`SubscriptionError`] naming the field and the problem.
    pub fn from_json(json: &str) -> Result<Self, SubscriptionError> {
        if json.len() > MAX_JSON_LEN {
            return Err(SubscriptionError::JsonTooLarge(json.len()));
        }
        let wire: SubscriptionJson = serde_json::from_str(json)?;
        Self::try_from(wire)
    }

    /// Serializes back to the browser's JSON form.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Strings and numbers only: serializing cannot fail.
        serde_json::to_string(&SubscriptionJson::from(self.clone())).unwrap_or_default()
    }

    /// The push service URL.
    #[must_use]
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The user agent's public key (`keys.p256dh`).
    #[must_use]
    pub const fn p256dh(&self) -> &UaPublicKey {
        &self.p256dh
    }

    /// The authentication secret (`keys.auth`).
    #[must_use]
    pub const fn auth(&self) -> &AuthSecret {
        &self.auth
    }

    /// When the subscription expires, in milliseconds since the Unix epoch,
    /// if the browser said.
    #[must_use]
    pub const fn expiration_time_ms(&self) -> Option<u64> {
        self.expiration_time
    }

    /// Sets the expiration time (milliseconds since the Unix epoch).
    #[must_use]
    pub const fn with_expiration_time_ms(mut self, ms: Option<u64>) -> Self {
        self.expiration_time = ms;
        self
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("endpoint", &self.endpoint)
            .field("expiration_time", &self.expiration_time)
            .field("p256dh", &self.p256dh)
            .field("auth", &self.auth)
            .finish()
    }
}

fn bounded<'a>(field: &'static str, s: &'a str) -> Result<&'a str, SubscriptionError> {
    if s.len() > MAX_KEY_STRING_LEN {
        return Err(SubscriptionError::TooLong {
            field,
            len: s.len(),
            max: MAX_KEY_STRING_LEN,
        });
    }
    Ok(s)
}

impl TryFrom<SubscriptionJson> for Subscription {
    type Error = SubscriptionError;

    fn try_from(wire: SubscriptionJson) -> Result<Self, SubscriptionError> {
        let endpoint = wire
            .endpoint
            .ok_or(SubscriptionError::Missing("endpoint"))?;
        let endpoint = Endpoint::parse(&endpoint)?;
        let expiration_time = match wire.expiration_time {
            None => None,
            // Milliseconds, possibly fractional (a DOMHighResTimeStamp).
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(t) if t.is_finite() && (0.0..1.8e19).contains(&t) => Some(t as u64),
            Some(_) => return Err(SubscriptionError::ExpirationTime),
        };
        let keys = wire.keys.ok_or(SubscriptionError::Missing("keys"))?;
        let p256dh = keys
            .p256dh
            .ok_or(SubscriptionError::Missing("keys.p256dh"))?;
        let p256dh = UaPublicKey::from_base64(bounded("keys.p256dh", &p256dh)?)
            .map_err(SubscriptionError::P256dh)?;
        let auth =
            zeroize::Zeroizing::new(keys.auth.ok_or(SubscriptionError::Missing("keys.auth"))?);
        let auth = AuthSecret::from_base64(bounded("keys.auth", &auth)?)
            .map_err(SubscriptionError::Auth)?;
        Ok(Self {
            endpoint,
            expiration_time,
            p256dh,
            auth,
        })
    }
}

impl From<Subscription> for SubscriptionJson {
    fn from(s: Subscription) -> Self {
        #[allow(clippy::cast_precision_loss)]
        Self {
            endpoint: Some(s.endpoint.0.to_string()),
            expiration_time: s.expiration_time.map(|t| t as f64),
            keys: Some(KeysJson {
                p256dh: Some(s.p256dh.to_base64()),
                auth: Some(s.auth.expose_base64().to_string()),
            }),
        }
    }
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

mod bounded;

#[cfg(test)]
mod tests;
