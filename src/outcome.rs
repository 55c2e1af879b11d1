//! Outcomes: turning a push service's response into something a backend can
//! act on.
//!
//! [`classify`] maps a [`PushResponse`] to [`Delivered`] or a [`SendError`]:
//!
//! | status | outcome | what to do |
//! |---|---|---|
//! | 2xx (201 Created, 202 Accepted, 200, …) | [`Delivered`] | nothing |
//! | 404, 410 | [`SendError::Gone`] | delete the subscription |
//! | 413 | [`SendError::PayloadTooLarge`] | send less |
//! | 429, 406 (WNS throttling) | [`SendError::RateLimited`] | retry after [`SendError::retry_after`] |
//! | 401, 403 | [`SendError::VapidRejected`] | check the VAPID key and subject; drop cached tokens for the origin |
//! | 4xx whose body says the subscription was made with another key | [`SendError::KeyMismatch`] | ask the browser to resubscribe with the current key; neither retry nor delete |
//! | 400 | [`SendError::BadRequest`] | a request the service considers malformed (TTL, Topic, Urgency, encoding); [`SendError::is_caller_bug`] when the service's code says so |
//! | other 4xx (405, 408, 415, …) | [`SendError::Rejected`] | look at [`SendError::reason`] |
//! | 5xx | [`SendError::ServerError`] | retry later |
//! | 1xx, 3xx, 600–999 | [`SendError::UnexpectedStatus`] | redirects are never followed |
//!
//! The status decides, except where the body carries a service's code that
//! says more ([`ServiceReason`], parsed in [`crate::push_service`], where the
//! table of codes lives): a key mismatch (Apple `VapidPkHashMismatch`, FCM's
//! sender-ID 403, autopush's key mismatch) is [`SendError::KeyMismatch`];
//! a refused VAPID token on a 400 (Apple `BadJwtToken`, FCM
//! `UnauthorizedRegistration`) is [`SendError::VapidRejected`]; a gone
//! subscription (autopush errno 102, 103, 105, 106, Apple `Unregistered`)
//! is [`SendError::Gone`]. Only 4xx statuses are reinterpreted.
//!
//! Everything a push service sends back is untrusted: nothing here panics on
//! any status, header or body, and [`SendError`]'s `Display` and `Debug`
//! print only a fixed phrase, the status, the retry delay and an escaped,
//! shortened reason, never the `Location` header or an endpoint URL.

use core::fmt;
use std::time::{Duration, SystemTime};

use http::{StatusCode, header};

use crate::message::CryptoError;
use crate::policy::PolicyError;
use crate::push_service::ServiceReason;
use crate::sender::{PushResponse, TransportError, TransportErrorKind};
use crate::vapid::VapidError;

mod retry_after;
pub use retry_after::{MAX_RETRY_AFTER, MAX_RETRY_AFTER_LEN, parse_retry_after};
#[cfg(test)]
use retry_after::{UNCAPPED_MAX, parse_uncapped};

/// The most characters [`SendError::reason`] returns (escapes included).
const MAX_REASON_CHARS: usize = 200;
/// How much of a non-JSON body is looked at for a reason.
const TEXT_HEAD: usize = 4096;
/// A push the service accepted: any 2xx status, normally 201 Created
/// (RFC 8030, Section 5) or 202 Accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivered {
    response: PushResponse,
    /// The origin of the endpoint pushed to, when sent through
    /// [`crate::PushClient`]: what a `Location` must match to be cancelled.
    origin: Option<String>,
}

impl Delivered {
    /// The status the service answered with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.response.status
    }

    /// The `Location` header: the URL of the message resource at the push
    /// service (RFC 8030, Section 5), if present and visible ASCII.
    ///
    /// `Debug` of `Delivered` shows only whether it exists.
    #[must_use]
    pub fn location(&self) -> Option<&str> {
        self.response
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The whole response.
    #[must_use]
    pub fn response(&self) -> &PushResponse {
        &self.response
    }

    /// The origin of the subscription's endpoint, when the push went
    /// through [`crate::PushClient`] (`None` from a bare [`classify`]).
    #[must_use]
    pub fn endpoint_origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Records the endpoint's origin.
    pub(crate) fn with_origin(mut self, origin: Option<String>) -> Self {
        self.origin = origin;
        self
    }

    /// The whole response, by value.
    #[must_use]
    pub fn into_response(self) -> PushResponse {
        self.response
    }
}

impl fmt::Debug for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = self
            .response
            .headers
            .contains_key(header::LOCATION)
            .then_some(Redacted);
        f.debug_struct("Delivered")
            .field("status", &self.response.status)
            .field("location", &location)
            .field("endpoint_origin", &self.origin)
            .field("response", &self.response)
            .finish()
    }
}

/// Why a push was not delivered.
///
/// The response variants keep the whole [`PushResponse`] (boxed, to keep the
/// error small). `Display` is a fixed phrase plus the status, the retry delay
/// and the service's escaped [`reason`](Self::reason); it never contains the
/// endpoint, the `Location` header or a payload. The wrapped errors of
/// [`Transport`](Self::Transport), [`Policy`](Self::Policy),
/// [`Encryption`](Self::Encryption) and [`Vapid`](Self::Vapid) are
/// transparent: their `Display` and `source` are the inner error's.
#[non_exhaustive]
pub enum SendError {
    /// 410 Gone or 404 Not Found: the subscription expired or was
    /// unsubscribed. Delete it; [`status`](Self::status) tells which.
    Gone {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// 413 Content Too Large: the encrypted body is over the service's limit
    /// (4096 octets is the one every service accepts).
    PayloadTooLarge {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// 429 Too Many Requests, or 406 Not Acceptable (how WNS reports
    /// throttling).
    RateLimited {
        /// The parsed `Retry-After`, if there was a valid one.
        retry_after: Option<Duration>,
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// 401 Unauthorized or 403 Forbidden: the VAPID token or key was refused
    /// (Apple: `BadJwtToken`; FCM: a key that does not match the one the
    /// subscription was made with). Drop any cached token for the origin.
    VapidRejected {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// The subscription was made with another VAPID key
    /// (`applicationServerKey`) than the one that signed this push: Apple
    /// `VapidPkHashMismatch`, FCM's 403 "does not correspond to the sender
    /// ID", autopush's "VAPID public key mismatch" (see
    /// [`service_reason`](Self::service_reason)). Ask the browser to
    /// resubscribe with the current key; retrying fails the same way, and
    /// deleting loses a subscriber who is still there.
    KeyMismatch {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// 400 Bad Request: the service considers the request malformed (a
    /// header such as TTL, Topic or Urgency, the encoding, or the endpoint).
    /// [`is_caller_bug`](Self::is_caller_bug) tells when the service's code
    /// names a flaw the sender could have caught.
    BadRequest {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// Any other 4xx (405, 408, 411, 415, 422, …).
    Rejected {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// 5xx: the push service failed.
    ServerError {
        /// The parsed `Retry-After`, if there was a valid one.
        retry_after: Option<Duration>,
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// 1xx, 3xx (redirects are not followed) or a status outside 100–599.
    UnexpectedStatus {
        /// The push service's response.
        response: Box<PushResponse>,
    },
    /// No response: timeout, connection or TLS failure.
    Transport(TransportError),
    /// The endpoint was refused before anything was sent.
    Policy(PolicyError),
    /// The payload could not be encrypted (too large, RNG failure).
    Encryption(CryptoError),
    /// The VAPID token could not be made.
    Vapid(VapidError),
    /// The message is invalid (e.g. a Topic or TTL out of range).
    InvalidMessage(&'static str),
    /// Not sent: the batch it belonged to was cancelled before its request
    /// went out (see `webpush::batch`, feature `client`).
    Cancelled,
}

impl SendError {
    /// The status of the push service's response, if there was one.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        self.response().map(|r| r.status)
    }

    /// The push service's response, if there was one.
    #[must_use]
    pub fn response(&self) -> Option<&PushResponse> {
        match self {
            Self::Gone { response }
            | Self::PayloadTooLarge { response }
            | Self::RateLimited { response, .. }
            | Self::VapidRejected { response }
            | Self::KeyMismatch { response }
            | Self::BadRequest { response }
            | Self::Rejected { response }
            | Self::ServerError { response, .. }
            | Self::UnexpectedStatus { response } => Some(response),
            Self::Transport(_)
            | Self::Policy(_)
            | Self::Encryption(_)
            | Self::Vapid(_)
            | Self::InvalidMessage(_)
            | Self::Cancelled => None,
        }
    }

    /// The delay the service asked for with `Retry-After` (rate limiting and
    /// server errors only), capped at [`MAX_RETRY_AFTER`].
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::ServerError { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether the subscription is gone (404 or 410, or a service code that
    /// says so): delete it.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Gone { .. })
    }

    /// Whether the subscription was made with another VAPID key
    /// ([`KeyMismatch`](Self::KeyMismatch)): resubscribe, do not retry, do
    /// not delete blindly.
    #[must_use]
    pub fn is_key_mismatch(&self) -> bool {
        matches!(self, Self::KeyMismatch { .. })
    }

    /// Whether the service's code names a flaw in the request that the
    /// sender could have caught (a bug in the caller, or in this crate): an
    /// invalid TTL, Topic or Urgency, missing or invalid crypto headers
    /// (autopush errno 101, 110–114; Apple `BadTtl`, `BadUrgency`,
    /// `BadWebPushTopic`, `BadWebPushRequest`). Fix the request; retrying
    /// it unchanged fails again, and the subscription is fine.
    #[must_use]
    pub fn is_caller_bug(&self) -> bool {
        self.status().is_some_and(|s| s.is_client_error())
            && self
                .service_reason()
                .is_some_and(ServiceReason::is_caller_bug)
    }

    /// The push service's code, typed, where its body carries one (see
    /// [`crate::push_service`]): autopush's `errno`, Apple's `reason`,
    /// FCM's sender-ID and `UnauthorizedRegistration` texts. The service's
    /// words stay available from [`reason`](Self::reason).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use http::{HeaderMap, StatusCode};
    /// use webpush::outcome::classify;
    /// use webpush::push_service::{AutopushErrno, ServiceReason};
    /// use webpush::sender::PushResponse;
    ///
    /// let body = br#"{"code":503,"errno":201,"error":"Service Unavailable","message":"Try later"}"#;
    /// let response = PushResponse::new(StatusCode::SERVICE_UNAVAILABLE, HeaderMap::new(), body.to_vec());
    /// let err = classify(response, SystemTime::now()).unwrap_err();
    /// assert_eq!(err.service_reason(), Some(ServiceReason::Autopush(AutopushErrno::BACK_OFF)));
    /// assert!(err.is_retryable());
    /// assert_eq!(err.reason().as_deref(), Some("Try later"));
    /// ```
    #[must_use]
    pub fn service_reason(&self) -> Option<ServiceReason> {
        let r = self.response()?;
        ServiceReason::parse(r.status, &r.headers, &r.body)
    }

    /// Whether a timeout elapsed: a [`TransportError`] of kind timeout, or a
    /// timeout (`TransportError` or `std::io::ErrorKind::TimedOut`) anywhere
    /// in its source chain.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        let Self::Transport(e) = self else {
            return false;
        };
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
        // Bounded, in case a source chain loops.
        for _ in 0..32 {
            let Some(err) = next else { break };
            if err
                .downcast_ref::<TransportError>()
                .is_some_and(TransportError::is_timeout)
                || err
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            {
                return true;
            }
            next = err.source();
        }
        false
    }

    /// Whether sending the same message again later may succeed:
    ///
    /// - [`RateLimited`](Self::RateLimited) and
    ///   [`ServerError`](Self::ServerError) (wait for
    ///   [`retry_after`](Self::retry_after) when given, else back off);
    /// - [`Rejected`](Self::Rejected) with 408 Request Timeout or 425 Too
    ///   Early;
    /// - [`Transport`](Self::Transport) errors of kind timeout, connect and
    ///   other. Not TLS (a certificate that fails to verify will keep
    ///   failing) and not policy (the address stays refused);
    /// - any other response whose service code asks for a retry (autopush
    ///   errno 201 and 202).
    ///
    /// Everything else needs a change first: a new subscription, a smaller
    /// payload, a fixed key or request. A timeout may strike after the
    /// service accepted the message, so a retry can deliver it twice; set a
    /// Topic to let the service replace the first copy.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::ServerError { .. } => true,
            Self::Rejected { response } if matches!(response.status.as_u16(), 408 | 425) => true,
            Self::Transport(e) => matches!(
                e.kind(),
                TransportErrorKind::Timeout
                    | TransportErrorKind::Connect
                    | TransportErrorKind::Other
            ),
            Self::Gone { .. } | Self::KeyMismatch { .. } => false,
            _ => self
                .service_reason()
                .is_some_and(ServiceReason::is_retryable),
        }
    }

    /// The push service's reason, from the body, escaped and at most 200
    /// characters; `None` without a response, or for an empty or binary
    /// body.
    ///
    /// Taken from a JSON object's `"reason"` (Apple: `{"reason":"BadJwtToken"}`),
    /// `"message"` or `"error"` (Mozilla autopush), or `"error"."message"`
    /// (Google APIs); from an HTML page's `<title>` or text (FCM); else the
    /// start of the body as text. WNS's `X-WNS-Error-Description` header is
    /// used when the body gives nothing.
    ///
    /// Escaped: runs of whitespace become one space, anything other than
    /// printable ASCII becomes an escape such as `\u{1b}`, a backslash
    /// becomes `\\`, and absolute URLs become `<url>`, so the result is safe
    /// for logs and terminals and does not echo an endpoint.
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        self.response().and_then(reason_of)
    }
}

/// `Ok` for a 2xx response, the matching [`SendError`] otherwise. `now` is
/// the time against which an HTTP-date `Retry-After` is measured.
///
/// # Errors
/// The [`SendError`] for the status and the service's code: see the
/// [module table](self).
pub fn classify(response: PushResponse, now: SystemTime) -> Result<Delivered, SendError> {
    let status = response.status.as_u16();
    if response.status.is_client_error()
        && let Some(reason) =
            ServiceReason::parse(response.status, &response.headers, &response.body)
    {
        let response = Box::new(response);
        if reason.is_key_mismatch() {
            return Err(SendError::KeyMismatch { response });
        }
        if reason.is_gone() {
            return Err(SendError::Gone { response });
        }
        if reason.is_vapid() && status == 400 {
            return Err(SendError::VapidRejected { response });
        }
        return classify_status(*response, now);
    }
    classify_status(response, now)
}

/// [`classify`] by the status alone.
fn classify_status(response: PushResponse, now: SystemTime) -> Result<Delivered, SendError> {
    let status = response.status.as_u16();
    let retry_after = || {
        response
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, now))
    };
    let err = match status {
        200..=299 => {
            return Ok(Delivered {
                response,
                origin: None,
            });
        }
        404 | 410 => SendError::Gone {
            response: Box::new(response),
        },
        413 => SendError::PayloadTooLarge {
            response: Box::new(response),
        },
        406 | 429 => SendError::RateLimited {
            retry_after: retry_after(),
            response: Box::new(response),
        },
        401 | 403 => SendError::VapidRejected {
            response: Box::new(response),
        },
        400 => SendError::BadRequest {
            response: Box::new(response),
        },
        402..=499 => SendError::Rejected {
            response: Box::new(response),
        },
        500..=599 => SendError::ServerError {
            retry_after: retry_after(),
            response: Box::new(response),
        },
        _ => SendError::UnexpectedStatus {
            response: Box::new(response),
        },
    };
    Err(err)
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phrase = match self {
            Self::Transport(e) => return fmt::Display::fmt(e, f),
            Self::Policy(e) => return fmt::Display::fmt(e, f),
            Self::Encryption(e) => return fmt::Display::fmt(e, f),
            Self::Vapid(e) => return fmt::Display::fmt(e, f),
            Self::InvalidMessage(what) => return write!(f, "invalid push message: {what}"),
            Self::Cancelled => return f.write_str("not sent: the batch was cancelled"),
            Self::Gone { .. } => "push service says the subscription is gone",
            Self::PayloadTooLarge { .. } => "push service refused the payload as too large",
            Self::RateLimited { .. } => "rate limited by the push service",
            Self::VapidRejected { .. } => "VAPID rejected by the push service",
            Self::KeyMismatch { .. } => {
                "push service says the subscription was made with another VAPID key (resubscribe)"
            }
            Self::BadRequest { .. } => "push service refused the request as malformed",
            Self::Rejected { .. } => "push service refused the request",
            Self::ServerError { .. } => "push service failed",
            Self::UnexpectedStatus { .. } => "unexpected status from the push service",
        };
        f.write_str(phrase)?;
        if let Some(status) = self.status() {
            write!(f, " ({}", status.as_u16())?;
            if let Some(text) = status.canonical_reason() {
                write!(f, " {text}")?;
            }
            f.write_str(")")?;
        }
        if let Some(delay) = self.retry_after() {
            write!(f, ", retry after {} s", delay.as_secs())?;
        }
        if let Some(reason) = self.reason() {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Transport(e) => return f.debug_tuple("Transport").field(e).finish(),
            Self::Policy(e) => return f.debug_tuple("Policy").field(e).finish(),
            Self::Encryption(e) => return f.debug_tuple("Encryption").field(e).finish(),
            Self::Vapid(e) => return f.debug_tuple("Vapid").field(e).finish(),
            Self::InvalidMessage(e) => return f.debug_tuple("InvalidMessage").field(e).finish(),
            Self::Cancelled => return f.write_str("Cancelled"),
            Self::Gone { .. } => "Gone",
            Self::PayloadTooLarge { .. } => "PayloadTooLarge",
            Self::RateLimited { .. } => "RateLimited",
            Self::VapidRejected { .. } => "VapidRejected",
            Self::KeyMismatch { .. } => "KeyMismatch",
            Self::BadRequest { .. } => "BadRequest",
            Self::Rejected { .. } => "Rejected",
            Self::ServerError { .. } => "ServerError",
            Self::UnexpectedStatus { .. } => "UnexpectedStatus",
        };
        let mut s = f.debug_struct(name);
        if matches!(self, Self::RateLimited { .. } | Self::ServerError { .. }) {
            s.field("retry_after", &self.retry_after());
        }
        if let Some(response) = self.response() {
            s.field("response", response);
        }
        s.finish()
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => std::error::Error::source(e),
            Self::Policy(e) => std::error::Error::source(e),
            Self::Encryption(e) => std::error::Error::source(e),
            Self::Vapid(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

impl From<TransportError> for SendError {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

impl From<PolicyError> for SendError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

impl From<CryptoError> for SendError {
    fn from(e: CryptoError) -> Self {
        Self::Encryption(e)
    }
}

impl From<VapidError> for SendError {
    fn from(e: VapidError) -> Self {
        Self::Vapid(e)
    }
}

/// Prints `<redacted>` in `Debug`.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

// ---------------------------------------------------------------------------
// Reason extraction

fn reason_of(response: &PushResponse) -> Option<String> {
    reason_from_body(&response.body).or_else(|| {
        let wns = response.headers.get("x-wns-error-description")?;
        non_empty(escape_reason(&String::from_utf8_lossy(wns.as_bytes())))
    })
}

fn reason_from_body(body: &[u8]) -> Option<String> {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(text) = json_reason(&value)
        && let Some(r) = non_empty(escape_reason(text))
    {
        return Some(r);
    }
    let head = &body[..body.len().min(TEXT_HEAD)];
    let text = match core::str::from_utf8(head) {
        Ok(s) => s,
        // A character cut off by the head limit or by truncation is fine;
        // an invalid sequence means binary.
        Err(e) if e.error_len().is_none() => head
            .get(..e.valid_up_to())
            .and_then(|h| core::str::from_utf8(h).ok())?,
        Err(_) => return None,
    };
    if text.contains('\0') {
        return None;
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        if let Some(title) = html_title(trimmed).and_then(|t| non_empty(escape_reason(t))) {
            return Some(title);
        }
        return non_empty(escape_reason(&strip_tags(trimmed)));
    }
    non_empty(escape_reason(text))
}

fn non_blank(v: Option<&serde_json::Value>) -> Option<&str> {
    v.and_then(serde_json::Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The most telling string field of a JSON error body.
fn json_reason(value: &serde_json::Value) -> Option<&str> {
    match value {
        serde_json::Value::String(s) => Some(s.as_str()),
        serde_json::Value::Object(map) => non_blank(map.get("reason"))
            .or_else(|| non_blank(map.get("message")))
            .or_else(|| non_blank(map.get("error")))
            .or_else(|| {
                let inner = map.get("error")?;
                non_blank(inner.get("message")).or_else(|| non_blank(inner.get("status")))
            })
            .or_else(|| non_blank(map.get("error_description"))),
        _ => None,
    }
}

/// The text of the first `<title>` element, case-insensitively.
fn html_title(html: &str) -> Option<&str> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower.get(open..)?.find('>')? + 1;
    let len = lower
        .get(start..)?
        .find("</title")
        .unwrap_or(lower.len() - start);
    // ASCII lowercasing keeps byte offsets, so they are valid in `html`.
    html.get(start..start + len)
}

/// Text outside `<…>` tags, tags replaced by spaces.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Escapes `text` for logs: whitespace runs collapse to one space, absolute
/// URLs become `<url>`, printable ASCII other than `\` stays, everything else
/// is written `\u{…}`; at most [`MAX_REASON_CHARS`] characters, `...` marking
/// a cut.
fn escape_reason(text: &str) -> String {
    let text = redact_urls(text);
    let mut out = String::new();
    // Where each piece ends, so that a cut never splits an escape.
    let mut ends = Vec::new();
    let mut pending_space = false;
    let mut cut = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let mut piece = String::new();
        if pending_space {
            piece.push(' ');
            pending_space = false;
        }
        match c {
            '\\' => piece.push_str("\\\\"),
            ' '..='~' => piece.push(c),
            _ => piece.extend(c.escape_unicode()),
        }
        if out.len() + piece.len() > MAX_REASON_CHARS {
            cut = true;
            break;
        }
        out.push_str(&piece);
        ends.push(out.len());
    }
    if cut {
        // `out` is ASCII, so byte and character counts agree.
        let keep = ends
            .iter()
            .rev()
            .find(|&&end| end + 3 <= MAX_REASON_CHARS)
            .copied()
            .unwrap_or(0);
        out.truncate(keep);
        out.push_str("...");
    }
    out
}

/// Replaces each `scheme://…` (up to whitespace or a delimiter) with `<url>`.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let before = rest.get(..pos).unwrap_or_default();
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .count();
        let after = rest.get(pos + 3..).unwrap_or_default();
        let url_end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(after.len());
        if scheme_len == 0 {
            out.push_str(rest.get(..pos + 3).unwrap_or_default());
        } else {
            // The scheme is ASCII, so the count is a byte length.
            out.push_str(before.get(..pos - scheme_len).unwrap_or_default());
            out.push_str("<url>");
        }
        rest = if scheme_len == 0 {
            after
        } else {
            after.get(url_end..).unwrap_or_default()
        };
    }
    out.push_str(rest);
    out
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
