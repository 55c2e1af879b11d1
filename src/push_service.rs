//! Push services: who is on the other end of an endpoint, and each one's
//! rules and words. No I/O.
//!
//! | service ([`PushService`]) | endpoint host | request rule (in [`crate::request::build_request`]) | what it says when it refuses ([`ServiceReason`]) | outcome beyond the status |
//! |---|---|---|---|---|
//! | [`Fcm`](PushService::Fcm) (Chrome, Edge on Android) | `fcm.googleapis.com`, path `/fcm/send/…` or `/wp/…` | TTL at most [`FCM_MAX_TTL`] (2,419,200 s), else refused | 403 text "…does not correspond to the sender ID…" → [`FcmReason::SenderIdMismatch`]; 400 HTML `UnauthorizedRegistration` → [`FcmReason::UnauthorizedRegistration`] | sender-ID 403 → [`SendError::KeyMismatch`](crate::outcome::SendError::KeyMismatch); `UnauthorizedRegistration` → `VapidRejected` |
//! | [`Mozilla`](PushService::Mozilla) autopush (Firefox) | `*.push.services.mozilla.com` | TTL at most [`AUTOPUSH_MAX_TTL`] (30 days), else refused (autopush would clamp silently) | JSON `{"code", "errno", "error", "message", "more_info"}` → [`ServiceReason::Autopush`] | errno 102, 103, 105, 106 → `Gone`; 109 with "VAPID public key mismatch" → `KeyMismatch`; 201, 202 (503) → retryable; 101, 110–114 → caller bug |
//! | [`Apple`](PushService::Apple) (Safari) | `*.push.apple.com` | none beyond RFC 8030 (`sub` rules are in [`Subject`](crate::vapid::Subject)) | JSON `{"reason": "…"}` → [`AppleReason`] | `VapidPkHashMismatch` → `KeyMismatch`; `BadJwtToken`, `BadVapidPublicKey`, `ExpiredProviderToken` → `VapidRejected`; `Unregistered` → `Gone`; `BadTtl`, `BadUrgency`, `BadWebPushTopic`, `BadWebPushRequest` → caller bug |
//! | [`Wns`](PushService::Wns) (Edge on Windows) | `*.notify.windows.com` | `X-WNS-Cache-Policy: cache` when TTL > 0, `no-cache` when TTL = 0 | `X-WNS-Error-Description` header (kept as text, not typed) | 406 → `RateLimited` (by status) |
//! | [`Other`](PushService::Other) | anything else | RFC 8030 only | every format above is still recognised (self-hosted autopush speaks errno) | as above |
//!
//! The response formats are distinct enough to be recognised by shape
//! alone, so [`ServiceReason::parse`] does not need to know the service:
//! a self-hosted autopush or a proxy in front of a service is understood too.
//! Each parser is total: any status, header and body gives a reason or
//! `None`, never a panic, and reads at most the body the sender kept.
//!
//! Sources (each fixture in `tests/data/responses/` names its own):
//! autopush-rs `docs/src/errors.md`, `autoendpoint/src/error.rs`
//! (the JSON body and errno table), `autoendpoint/src/headers/vapid.rs`
//! (the key-mismatch message) and `autopush-common/src/lib.rs`
//! (`MAX_NOTIFICATION_TTL_SECS = 30 days`); Apple's "Sending web push
//! notifications in web apps and browsers" for the reason names; FCM's
//! bodies as reported in web-push-libs' trackers; Microsoft's "Push
//! notification service request and response headers" for
//! `X-WNS-Cache-Policy`.

use core::fmt;

use http::{HeaderMap, StatusCode};

/// FCM's longest TTL: 2,419,200 s (28 days). Longer TTLs are refused by
/// [`crate::request::build_request`] for FCM endpoints.
pub const FCM_MAX_TTL: u32 = 2_419_200;
/// Mozilla autopush's longest TTL: 2,592,000 s (30 days,
/// `MAX_NOTIFICATION_TTL_SECS`); autopush clamps longer ones silently, so
/// [`crate::request::build_request`] refuses them instead.
pub const AUTOPUSH_MAX_TTL: u32 = 30 * 86_400;

/// Which push service an endpoint belongs to, from its host (and, for FCM,
/// its path). See the [module table](self) for what each implies.
///
/// ```
/// use webpush::push_service::PushService;
/// use webpush::Endpoint;
///
/// let fcm = Endpoint::parse("https://fcm.googleapis.com/wp/abc")?;
/// assert_eq!(fcm.service(), PushService::Fcm);
/// let moz = Endpoint::parse("https://updates.push.services.mozilla.com/wpush/v2/x")?;
/// assert_eq!(moz.service(), PushService::Mozilla);
/// assert_eq!(PushService::Apple.max_ttl(), None);
/// # Ok::<(), webpush::SubscriptionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PushService {
    /// Firebase Cloud Messaging (Chrome and other Chromium browsers).
    Fcm,
    /// Mozilla autopush (Firefox).
    Mozilla,
    /// Apple's web push service (Safari).
    Apple,
    /// Windows Push Notification Services (Edge on Windows).
    Wns,
    /// Any other push service.
    Other,
}

impl PushService {
    /// The service of an endpoint URI. Pure: no I/O, no allocation. Hosts
    /// match ASCII case-insensitively, a trailing dot ignored; a bare
    /// suffix (`push.apple.com` itself) is not a match.
    #[must_use]
    pub fn from_uri(uri: &http::Uri) -> Self {
        let host = uri.host().unwrap_or_default();
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.eq_ignore_ascii_case("fcm.googleapis.com") {
            let path = uri.path();
            return if path.starts_with("/fcm/send/") || path.starts_with("/wp/") {
                Self::Fcm
            } else {
                Self::Other
            };
        }
        if has_label_before(host, ".push.services.mozilla.com") {
            Self::Mozilla
        } else if has_label_before(host, ".push.apple.com") {
            Self::Apple
        } else if has_label_before(host, ".notify.windows.com") {
            Self::Wns
        } else {
            Self::Other
        }
    }

    /// A short name: `fcm`, `mozilla`, `apple`, `wns` or `other`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fcm => "fcm",
            Self::Mozilla => "mozilla",
            Self::Apple => "apple",
            Self::Wns => "wns",
            Self::Other => "other",
        }
    }

    /// The longest TTL the service keeps a message, where it is published:
    /// [`FCM_MAX_TTL`] and [`AUTOPUSH_MAX_TTL`]; `None` for the others
    /// (not published: no limit is applied).
    #[must_use]
    pub const fn max_ttl(self) -> Option<u32> {
        match self {
            Self::Fcm => Some(FCM_MAX_TTL),
            Self::Mozilla => Some(AUTOPUSH_MAX_TTL),
            Self::Apple | Self::Wns | Self::Other => None,
        }
    }

    /// The `X-WNS-Cache-Policy` value for a TTL, for WNS only: `cache` when
    /// the message may wait (TTL > 0), `no-cache` for "deliver now or
    /// drop" (TTL 0), so that the header never contradicts the TTL.
    #[must_use]
    pub const fn wns_cache_policy(self, ttl: u32) -> Option<&'static str> {
        match self {
            Self::Wns if ttl == 0 => Some("no-cache"),
            Self::Wns => Some("cache"),
            _ => None,
        }
    }
}

impl fmt::Display for PushService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `host` ends with `suffix` (which starts with a dot) and has at
/// least one character before it.
fn has_label_before(host: &str, suffix: &str) -> bool {
    host.len() > suffix.len()
        && host
            .get(host.len() - suffix.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
}

/// A Mozilla autopush `errno` (autopush-rs `docs/src/errors.md`); any
/// number is kept, the known ones have constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AutopushErrno(pub u16);

impl AutopushErrno {
    /// 101: missing crypto keys (400).
    pub const MISSING_CRYPTO_KEYS: Self = Self(101);
    /// 102: invalid URL endpoint (404).
    pub const INVALID_ENDPOINT: Self = Self(102);
    /// 103: expired URL endpoint (410).
    pub const EXPIRED_ENDPOINT: Self = Self(103);
    /// 104: data payload too large (413).
    pub const PAYLOAD_TOO_LARGE: Self = Self(104);
    /// 105: endpoint became unavailable during request (410).
    pub const ENDPOINT_UNAVAILABLE: Self = Self(105);
    /// 106: invalid subscription (410).
    pub const INVALID_SUBSCRIPTION: Self = Self(106);
    /// 108: router type is invalid (400).
    pub const INVALID_ROUTER_TYPE: Self = Self(108);
    /// 109: invalid authentication (401): VAPID.
    pub const INVALID_AUTHENTICATION: Self = Self(109);
    /// 110: invalid crypto keys (400).
    pub const INVALID_CRYPTO_KEYS: Self = Self(110);
    /// 111: missing required header, such as TTL (400).
    pub const MISSING_HEADER: Self = Self(111);
    /// 112: invalid TTL header value (400).
    pub const INVALID_TTL: Self = Self(112);
    /// 113: invalid Topic header value (400).
    pub const INVALID_TOPIC: Self = Self(113);
    /// 114: negative TTL (400; autoendpoint's validator).
    pub const NEGATIVE_TTL: Self = Self(114);
    /// 201: temporarily unavailable, retry with exponential back-off (503).
    pub const BACK_OFF: Self = Self(201);
    /// 202: temporarily unavailable, immediate retry ok (503).
    pub const RETRY_NOW: Self = Self(202);
    /// 999: unknown server error (500).
    pub const UNKNOWN: Self = Self(999);

    /// Whether the subscription is gone: 102, 103, 105, 106.
    #[must_use]
    pub const fn is_gone(self) -> bool {
        matches!(self.0, 102 | 103 | 105 | 106)
    }

    /// Whether a retry may succeed: 201, 202.
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        matches!(self.0, 201 | 202)
    }

    /// Whether the request had a flaw the sender could have caught: crypto
    /// headers or keys (101, 110), a missing or invalid TTL (111, 112,
    /// 114) or Topic (113).
    #[must_use]
    pub const fn is_caller_bug(self) -> bool {
        matches!(self.0, 101 | 110..=114)
    }
}

/// The `reason` of an Apple push service refusal (`{"reason": "…"}`), as
/// Apple's "Sending web push notifications in web apps and browsers"
/// names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AppleReason {
    /// The VAPID JWT is missing, badly signed, or its `sub`, `aud` or `exp`
    /// is refused.
    BadJwtToken,
    /// The VAPID public key (`k`) is invalid.
    BadVapidPublicKey,
    /// The VAPID key is not the one the subscription was made with.
    VapidPkHashMismatch,
    /// The `TTL` header is invalid.
    BadTtl,
    /// The `Urgency` header is invalid.
    BadUrgency,
    /// The `Topic` header is invalid.
    BadWebPushTopic,
    /// The request is malformed.
    BadWebPushRequest,
    /// The VAPID token has expired.
    ExpiredProviderToken,
    /// The subscription is no longer valid (410).
    Unregistered,
    /// The payload is too large (413).
    PayloadTooLarge,
    /// Too many requests to this subscription (429).
    TooManyRequests,
}

impl AppleReason {
    const ALL: [(Self, &'static str); 11] = [
        (Self::BadJwtToken, "BadJwtToken"),
        (Self::BadVapidPublicKey, "BadVapidPublicKey"),
        (Self::VapidPkHashMismatch, "VapidPkHashMismatch"),
        (Self::BadTtl, "BadTtl"),
        (Self::BadUrgency, "BadUrgency"),
        (Self::BadWebPushTopic, "BadWebPushTopic"),
        (Self::BadWebPushRequest, "BadWebPushRequest"),
        (Self::ExpiredProviderToken, "ExpiredProviderToken"),
        (Self::Unregistered, "Unregistered"),
        (Self::PayloadTooLarge, "PayloadTooLarge"),
        (Self::TooManyRequests, "TooManyRequests"),
    ];

    /// Parses a reason name exactly (Apple's names are case-sensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(r, _)| *r)
    }

    /// The name as Apple sends it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("", |(_, n)| n)
    }
}

/// What FCM says, from its text or HTML bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FcmReason {
    /// 403 "the key in the authorization header does not correspond to the
    /// sender ID used to subscribe this user": the VAPID key is not the
    /// subscription's.
    SenderIdMismatch,
    /// 400 (HTML title) `UnauthorizedRegistration`: the VAPID header was
    /// refused.
    UnauthorizedRegistration,
}

/// A push service's refusal, typed where the service gives a code. The
/// service's own words stay available, escaped, from
/// [`SendError::reason`](crate::outcome::SendError::reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceReason {
    /// Mozilla autopush's `errno`.
    Autopush(AutopushErrno),
    /// Mozilla autopush's errno 109 with the message "VAPID public key
    /// mismatch": the subscription was made with another key.
    AutopushKeyMismatch,
    /// Apple's `reason`.
    Apple(AppleReason),
    /// FCM's text.
    Fcm(FcmReason),
}

/// The FCM sender-ID mismatch text (403, `text/plain`).
const FCM_SENDER_ID_TEXT: &str = "does not correspond to the sender ID";
/// autopush's `VapidError::KeyMismatch` message.
const AUTOPUSH_KEY_MISMATCH_TEXT: &str = "VAPID public key mismatch";
/// How much of a non-JSON body is searched for FCM's phrases.
const TEXT_HEAD: usize = 4096;

impl ServiceReason {
    /// Recognises a refusal by its shape: an autopush errno object, an
    /// Apple reason object, or one of FCM's texts. `None` for anything
    /// else, including 2xx responses.
    ///
    /// ```
    /// use http::{HeaderMap, StatusCode};
    /// use webpush::push_service::{AppleReason, ServiceReason};
    ///
    /// let reason = ServiceReason::parse(
    ///     StatusCode::BAD_REQUEST,
    ///     &HeaderMap::new(),
    ///     br#"{"reason":"VapidPkHashMismatch"}"#,
    /// );
    /// assert_eq!(reason, Some(ServiceReason::Apple(AppleReason::VapidPkHashMismatch)));
    /// assert!(reason.unwrap().is_key_mismatch());
    /// ```
    #[must_use]
    pub fn parse(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        if status.is_success() || body.is_empty() {
            return None;
        }
        let trimmed = body.trim_ascii_start();
        if trimmed.first() == Some(&b'{') {
            let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
            let map = value.as_object()?;
            if let Some(errno) = map.get("errno").and_then(serde_json::Value::as_u64) {
                let errno = AutopushErrno(u16::try_from(errno).ok()?);
                let message = map.get("message").and_then(serde_json::Value::as_str);
                if errno == AutopushErrno::INVALID_AUTHENTICATION
                    && message.is_some_and(|m| m.contains(AUTOPUSH_KEY_MISMATCH_TEXT))
                {
                    return Some(Self::AutopushKeyMismatch);
                }
                return Some(Self::Autopush(errno));
            }
            let reason = map.get("reason").and_then(serde_json::Value::as_str)?;
            return AppleReason::parse(reason).map(Self::Apple);
        }
        let head = trimmed.get(..trimmed.len().min(TEXT_HEAD))?;
        if status == StatusCode::FORBIDDEN && contains(head, FCM_SENDER_ID_TEXT.as_bytes()) {
            return Some(Self::Fcm(FcmReason::SenderIdMismatch));
        }
        if matches!(status.as_u16(), 400 | 401) && contains(head, b"UnauthorizedRegistration") {
            return Some(Self::Fcm(FcmReason::UnauthorizedRegistration));
        }
        None
    }

    /// The subscription was made with another VAPID key
    /// (`applicationServerKey`): the app must ask the browser to
    /// resubscribe with the current key. Retrying fails the same way, and
    /// deleting loses a subscriber who is still there.
    #[must_use]
    pub const fn is_key_mismatch(self) -> bool {
        matches!(
            self,
            Self::AutopushKeyMismatch
                | Self::Apple(AppleReason::VapidPkHashMismatch)
                | Self::Fcm(FcmReason::SenderIdMismatch)
        )
    }

    /// The VAPID token or key was refused (not a mismatch): check the key
    /// and `sub`.
    #[must_use]
    pub const fn is_vapid(self) -> bool {
        matches!(
            self,
            Self::Autopush(AutopushErrno::INVALID_AUTHENTICATION)
                | Self::Apple(
                    AppleReason::BadJwtToken
                        | AppleReason::BadVapidPublicKey
                        | AppleReason::ExpiredProviderToken
                )
                | Self::Fcm(FcmReason::UnauthorizedRegistration)
        )
    }

    /// The subscription is gone: autopush errno 102, 103, 105, 106;
    /// Apple `Unregistered`.
    #[must_use]
    pub const fn is_gone(self) -> bool {
        match self {
            Self::Autopush(e) => e.is_gone(),
            Self::Apple(AppleReason::Unregistered) => true,
            _ => false,
        }
    }

    /// A request the sender could have caught: a bug in the caller (or in
    /// this crate), not in the subscription. Autopush errno 101, 110–114;
    /// Apple `BadTtl`, `BadUrgency`, `BadWebPushTopic`,
    /// `BadWebPushRequest`.
    #[must_use]
    pub const fn is_caller_bug(self) -> bool {
        match self {
            Self::Autopush(e) => e.is_caller_bug(),
            Self::Apple(r) => matches!(
                r,
                AppleReason::BadTtl
                    | AppleReason::BadUrgency
                    | AppleReason::BadWebPushTopic
                    | AppleReason::BadWebPushRequest
            ),
            _ => false,
        }
    }

    /// The service asked for a retry: autopush errno 201 and 202.
    #[must_use]
    pub const fn is_retryable(self) -> bool {
        matches!(self, Self::Autopush(e) if e.is_retryable())
    }
}

impl fmt::Display for ServiceReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Autopush(e) => write!(f, "autopush errno {}", e.0),
            Self::AutopushKeyMismatch => {
                f.write_str("autopush errno 109 (VAPID public key mismatch)")
            }
            Self::Apple(r) => write!(f, "Apple {}", r.as_str()),
            Self::Fcm(FcmReason::SenderIdMismatch) => f.write_str("FCM sender ID mismatch"),
            Self::Fcm(FcmReason::UnauthorizedRegistration) => {
                f.write_str("FCM UnauthorizedRegistration")
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;
