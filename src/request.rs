//! RFC 8030 "Generic Event Delivery Using HTTP Push": the push request, built
//! as a standard `http::Request` so that any HTTP client can carry it. No I/O.
//!
//! ```text
//!   POST /push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV HTTP/1.1
//!   Host: push.example.net
//!   TTL: 15
//!   Urgency: high
//!   Topic: upd
//!   Content-Type: application/octet-stream
//!   Content-Encoding: aes128gcm
//!   Authorization: vapid t=eyJ0eXAiOi…, k=BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs
//!
//!   <aes128gcm body>
//! ```
//! *RFC 8030, Section 5 (with RFC 8291 and RFC 8292 headers): a push request.*

use core::fmt;

use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};

use crate::message::{self, CryptoError, Padding};
use crate::subscription::Subscription;
use crate::vapid::{Audience, VapidError, VapidHeader, VapidSigner};

/// The `TTL` sent unless told otherwise: 28 days (2,419,200 s), the longest
/// FCM keeps a message. Set a shorter one for anything that goes stale.
pub const DEFAULT_TTL: u32 = 28 * 24 * 3600;
/// The longest `Topic` (RFC 8030, Section 5.4).
pub const MAX_TOPIC_LEN: usize = 32;

/// Errors of request building.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Encrypting the payload failed (too large, RNG).
    #[error(transparent)]
    Encryption(#[from] CryptoError),
    /// Signing the VAPID token failed.
    #[error(transparent)]
    Vapid(#[from] VapidError),
    /// A header value that cannot be sent (never for validated inputs).
    #[error("invalid push request: {0}")]
    Invalid(&'static str),
}

/// How urgent a message is (RFC 8030, Section 5.3): push services and user
/// agents use it to save battery for low-urgency messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Urgency {
    /// On power and Wi-Fi only (advertisements).
    VeryLow,
    /// On power or Wi-Fi (topic updates).
    Low,
    /// On neither power nor Wi-Fi (chat, calendar).
    Normal,
    /// Even on low battery (incoming call, time-sensitive alert).
    High,
}

impl Urgency {
    /// The header value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VeryLow => "very-low",
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }

    /// Parses a header value (`very-low`, `low`, `normal`, `high`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::VeryLow, Self::Low, Self::Normal, Self::High]
            .into_iter()
            .find(|u| u.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Urgency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Topic` (RFC 8030, Section 5.4): a newer message with the same topic
/// replaces an undelivered older one at the push service. At most 32
/// characters of the base64url alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic(String);

impl Topic {
    /// Validates a topic.
    ///
    /// # Errors
    /// [`BuildError::Invalid`] when empty, longer than 32 characters or
    /// outside `A-Z a-z 0-9 - _`.
    pub fn new(topic: &str) -> Result<Self, BuildError> {
        if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
            return Err(BuildError::Invalid("Topic must be 1 to 32 characters"));
        }
        if !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(BuildError::Invalid(
                "Topic may use only the base64url alphabet (A-Z a-z 0-9 - _)",
            ));
        }
        Ok(Self(topic.to_owned()))
    }

    /// The topic.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Per-message settings. `Default` is: TTL [`DEFAULT_TTL`], no urgency header
/// (services treat it as normal), no topic, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PushOptions {
    ttl: u32,
    urgency: Option<Urgency>,
    topic: Option<Topic>,
    padding: Padding,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            urgency: None,
            topic: None,
            padding: Padding::None,
        }
    }
}

impl PushOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seconds the push service keeps an undelivered message. 0 means
    /// "deliver now or drop".
    pub const fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = seconds;
        self
    }

    /// The `Urgency` header.
    pub const fn urgency(mut self, urgency: Urgency) -> Self {
        self.urgency = Some(urgency);
        self
    }

    /// The `Topic` header.
    pub fn topic(mut self, topic: Topic) -> Self {
        self.topic = Some(topic);
        self
    }

    /// Padding of the plaintext (see [`Padding`]).
    pub const fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The TTL in seconds.
    #[must_use]
    pub const fn ttl_secs(&self) -> u32 {
        self.ttl
    }

    /// The topic, if any.
    #[must_use]
    pub const fn topic_ref(&self) -> Option<&Topic> {
        self.topic.as_ref()
    }
}

/// Builds the `http::Request` for one push: encrypts the payload for the
/// subscription (unless it is empty: a "tickle" push carries no body and no
/// encryption headers) and sets `TTL`, `Urgency`, `Topic`,
/// `Content-Encoding: aes128gcm`, `Content-Type`, `Content-Length` and the
/// VAPID `Authorization` (marked sensitive).
///
/// ```
/// use webpush::request::{build_request, PushOptions, Urgency};
/// use webpush::vapid::{Subject, VapidKey, VapidSigner};
/// use webpush::{AuthSecret, Endpoint, Subscription, UaKeyPair};
///
/// let ua = UaKeyPair::generate()?;
/// let sub = Subscription::new(
///     Endpoint::parse("https://push.example.net/push/abc")?,
///     ua.public_key().clone(),
///     AuthSecret::generate()?,
/// );
/// let signer = VapidSigner::new(VapidKey::generate()?, Subject::parse("mailto:ops@example.com")?);
/// let options = PushOptions::new().ttl(60).urgency(Urgency::High);
/// let request = build_request(&sub, b"hello", &options, Some(&signer))?;
/// assert_eq!(request.headers()["ttl"], "60");
/// assert_eq!(request.headers()["content-encoding"], "aes128gcm");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`BuildError::Encryption`] for a payload over 3993 octets (or the fixed
/// padding size), [`BuildError::Vapid`] when signing fails.
pub fn build_request(
    subscription: &Subscription,
    payload: &[u8],
    options: &PushOptions,
    vapid: Option<&VapidSigner>,
) -> Result<http::Request<Vec<u8>>, BuildError> {
    let header = vapid
        .map(|s| s.header_for(&Audience::from_endpoint(subscription.endpoint())))
        .transpose()?;
    build_request_with_header(subscription, payload, options, header.as_ref())
}

/// [`build_request`] with an already signed VAPID header.
///
/// # Errors
/// As [`build_request`].
pub fn build_request_with_header(
    subscription: &Subscription,
    payload: &[u8],
    options: &PushOptions,
    vapid: Option<&VapidHeader>,
) -> Result<http::Request<Vec<u8>>, BuildError> {
    let body = if payload.is_empty() {
        Vec::new()
    } else {
        message::encrypt(
            subscription.p256dh(),
            subscription.auth(),
            payload,
            options.padding,
        )?
    };
    let mut request = http::Request::post(subscription.endpoint().uri().clone())
        .header("ttl", options.ttl)
        .header(CONTENT_LENGTH, body.len());
    if let Some(urgency) = options.urgency {
        request = request.header("urgency", urgency.as_str());
    }
    if let Some(topic) = &options.topic {
        request = request.header("topic", topic.as_str());
    }
    if !body.is_empty() {
        request = request
            .header(CONTENT_ENCODING, "aes128gcm")
            .header(CONTENT_TYPE, "application/octet-stream");
    }
    if let Some(vapid) = vapid {
        let mut value = HeaderValue::from_str(vapid.authorization())
            .map_err(|_| BuildError::Invalid("VAPID header value"))?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    request
        .body(body)
        .map_err(|_| BuildError::Invalid("request headers"))
}

#[cfg(test)]
mod tests;
