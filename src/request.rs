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
use crate::push_service::PushService;
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
    /// The TTL is longer than the endpoint's push service keeps a message
    /// ([`PushService::max_ttl`]): refused rather than clamped, so that a
    /// message never silently expires sooner than asked.
    #[error("TTL of {ttl} s is over the {service} push service's maximum of {max} s")]
    TtlTooLong {
        /// The TTL asked for.
        ttl: u32,
        /// The service's maximum.
        max: u32,
        /// The endpoint's push service.
        service: PushService,
    },
}

impl BuildError {
    /// A fixed phrase for the error, for callers that keep only a
    /// `&'static str` (such as [`crate::outcome::SendError::InvalidMessage`]).
    #[must_use]
    pub const fn phrase(&self) -> &'static str {
        match self {
            Self::Encryption(_) => "the payload could not be encrypted",
            Self::Vapid(_) => "the VAPID token could not be signed",
            Self::Invalid(what) => what,
            Self::TtlTooLong {
                service: PushService::Fcm,
                ..
            } => "TTL is over FCM's maximum of 2419200 s",
            Self::TtlTooLong {
                service: PushService::Mozilla,
                ..
            } => "TTL is over Mozilla autopush's maximum of 2592000 s",
            Self::TtlTooLong { .. } => "TTL is over the push service's maximum",
        }
    }
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

/// The content coding of a push message's body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentEncoding {
    /// RFC 8291 / RFC 8188 `aes128gcm`: what every current browser accepts.
    /// The default.
    #[default]
    Aes128Gcm,
    /// The legacy `aesgcm` of draft-ietf-webpush-encryption-04 (feature
    /// `aesgcm`), only for subscriptions and user agents that need it: the
    /// salt and sender key travel in `Encryption` and `Crypto-Key` headers
    /// and VAPID uses `Authorization: WebPush <jwt>` (see [`crate::aesgcm`]).
    #[cfg(feature = "aesgcm")]
    Aesgcm,
}

impl ContentEncoding {
    /// The `Content-Encoding` value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Aes128Gcm => "aes128gcm",
            #[cfg(feature = "aesgcm")]
            Self::Aesgcm => crate::aesgcm::CONTENT_ENCODING,
        }
    }

    /// Parses a `Content-Encoding` value (`aes128gcm`, and `aesgcm` with
    /// feature `aesgcm`), ignoring ASCII case and surrounding spaces.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [
            Self::Aes128Gcm,
            #[cfg(feature = "aesgcm")]
            Self::Aesgcm,
        ]
        .into_iter()
        .find(|e| e.as_str().eq_ignore_ascii_case(s))
    }

    /// The largest plaintext (with its padding) one message carries in this
    /// coding: 3993 octets for `aes128gcm`, 4078 for `aesgcm`.
    #[must_use]
    pub const fn max_plaintext_len(self) -> usize {
        match self {
            Self::Aes128Gcm => message::MAX_PLAINTEXT_LEN,
            #[cfg(feature = "aesgcm")]
            Self::Aesgcm => crate::aesgcm::MAX_PLAINTEXT_LEN,
        }
    }
}

impl fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-message settings. `Default` is: TTL [`DEFAULT_TTL`], no urgency header
/// (services treat it as normal), no topic, no padding, `aes128gcm`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PushOptions {
    ttl: u32,
    urgency: Option<Urgency>,
    topic: Option<Topic>,
    padding: Padding,
    encoding: ContentEncoding,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            urgency: None,
            topic: None,
            padding: Padding::None,
            encoding: ContentEncoding::Aes128Gcm,
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

    /// The content coding of the body (default [`ContentEncoding::Aes128Gcm`];
    /// `aesgcm` only for peers that need it).
    pub const fn content_encoding(mut self, encoding: ContentEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The content coding set with [`content_encoding`](Self::content_encoding).
    #[must_use]
    pub const fn encoding(&self) -> ContentEncoding {
        self.encoding
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

/// The header WNS reads to decide whether to keep an undelivered message;
/// set from the TTL for WNS endpoints ([`PushService::wns_cache_policy`]).
pub const WNS_CACHE_POLICY: &str = "x-wns-cache-policy";

/// Builds the `http::Request` for one push: encrypts the payload for the
/// subscription (unless it is empty: a "tickle" push carries no body and no
/// encryption headers) and sets `TTL`, `Urgency`, `Topic`,
/// `Content-Encoding: aes128gcm`, `Content-Type`, `Content-Length` and the
/// VAPID `Authorization` (marked sensitive). With
/// `ContentEncoding::Aesgcm` (feature `aesgcm`) the body is `aesgcm` and the
/// legacy headers go with it: `Encryption: salt=…`, `Crypto-Key:
/// dh=…;p256ecdsa=…` and `Authorization: WebPush <jwt>`.
///
/// # Per-service rules
///
/// From the endpoint's [`PushService`] (see [`crate::push_service`]):
///
/// | service | rule |
/// |---|---|
/// | FCM | a TTL over 2,419,200 s ([`crate::push_service::FCM_MAX_TTL`]) is refused with [`BuildError::TtlTooLong`] |
/// | Mozilla autopush | a TTL over 30 days ([`crate::push_service::AUTOPUSH_MAX_TTL`]) is refused (autopush would clamp it silently) |
/// | WNS | `X-WNS-Cache-Policy: cache`, or `no-cache` with TTL 0, so that the header agrees with the TTL |
/// | Apple, other | RFC 8030 only |
///
/// Refusing rather than clamping: a caller who asked for 60 days learns at
/// once that the message may expire after 28, instead of finding out when
/// it does. The default TTL ([`DEFAULT_TTL`]) passes everywhere.
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
/// [`BuildError::Encryption`] for a payload over 3993 octets (`aesgcm`:
/// 4078; or the fixed padding size), [`BuildError::Vapid`] when signing
/// fails, [`BuildError::TtlTooLong`] for a TTL over the service's maximum.
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
    let service = subscription.endpoint().service();
    if let Some(max) = service.max_ttl()
        && options.ttl > max
    {
        return Err(BuildError::TtlTooLong {
            ttl: options.ttl,
            max,
            service,
        });
    }
    let mut request =
        http::Request::post(subscription.endpoint().uri().clone()).header("ttl", options.ttl);
    if let Some(policy) = service.wns_cache_policy(options.ttl) {
        request = request.header(WNS_CACHE_POLICY, policy);
    }
    if let Some(urgency) = options.urgency {
        request = request.header("urgency", urgency.as_str());
    }
    if let Some(topic) = &options.topic {
        request = request.header("topic", topic.as_str());
    }
    let (request, body) = match options.encoding {
        ContentEncoding::Aes128Gcm => {
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
            let mut request = request;
            if let Some(vapid) = vapid {
                request = request.header(AUTHORIZATION, sensitive(vapid.authorization())?);
            }
            (request, body)
        }
        #[cfg(feature = "aesgcm")]
        ContentEncoding::Aesgcm => legacy_headers(request, subscription, payload, options, vapid)?,
    };
    let mut request = request.header(CONTENT_LENGTH, body.len());
    if !body.is_empty() {
        request = request
            .header(CONTENT_ENCODING, options.encoding.as_str())
            .header(CONTENT_TYPE, "application/octet-stream");
    }
    request
        .body(body)
        .map_err(|_| BuildError::Invalid("request headers"))
}

/// The `aesgcm` body and its headers: `Encryption: salt=…`, `Crypto-Key:
/// dh=…` (with `;p256ecdsa=…` under VAPID) and `Authorization: WebPush
/// <jwt>`. A tickle push keeps only the VAPID pair.
#[cfg(feature = "aesgcm")]
fn legacy_headers(
    mut request: http::request::Builder,
    subscription: &Subscription,
    payload: &[u8],
    options: &PushOptions,
    vapid: Option<&VapidHeader>,
) -> Result<(http::request::Builder, Vec<u8>), BuildError> {
    let legacy_vapid = vapid.map(VapidHeader::legacy);
    let mut crypto_key = Vec::new();
    let body = if payload.is_empty() {
        Vec::new()
    } else {
        let message = crate::aesgcm::encrypt(
            subscription.p256dh(),
            subscription.auth(),
            payload,
            options.padding,
        )?;
        request = request.header("encryption", message.params().encryption_header());
        crypto_key.push(message.params().crypto_key_header());
        message.into_body()
    };
    if let Some((authorization, p256ecdsa)) = legacy_vapid {
        crypto_key.push(p256ecdsa);
        request = request.header(AUTHORIZATION, sensitive(&authorization)?);
    }
    if !crypto_key.is_empty() {
        request = request.header("crypto-key", crypto_key.join(";"));
    }
    Ok((request, body))
}

/// A header value marked sensitive (kept out of HPACK tables and logs).
fn sensitive(value: &str) -> Result<HeaderValue, BuildError> {
    let mut value =
        HeaderValue::from_str(value).map_err(|_| BuildError::Invalid("VAPID header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests;
