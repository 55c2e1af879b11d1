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
//! | 400 | [`SendError::BadRequest`] | a request the service considers malformed (TTL, Topic, Urgency, encoding) |
//! | other 4xx (405, 408, 415, …) | [`SendError::Rejected`] | look at [`SendError::reason`] |
//! | 5xx | [`SendError::ServerError`] | retry later |
//! | 1xx, 3xx, 600–999 | [`SendError::UnexpectedStatus`] | redirects are never followed |
//!
//! Everything a push service sends back is untrusted: nothing here panics on
//! any status, header or body, and [`SendError`]'s `Display` and `Debug`
//! print only a fixed phrase, the status, the retry delay and an escaped,
//! shortened reason, never the `Location` header or an endpoint URL.

use core::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, StatusCode, header};

use crate::message::CryptoError;
use crate::policy::PolicyError;
use crate::sender::{PushResponse, TransportError, TransportErrorKind};
use crate::vapid::VapidError;

/// The longest delay [`parse_retry_after`] returns: `u32::MAX` seconds (about
/// 136 years). Larger values are capped; clamp further before sleeping.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(u32::MAX as u64);
/// The longest `Retry-After` value [`parse_retry_after`] reads, in octets;
/// longer values give `None` unread. An HTTP-date is at most 33 octets
/// (RFC 850 form), and 20 digits already exceed [`MAX_RETRY_AFTER`].
pub const MAX_RETRY_AFTER_LEN: usize = 64;

/// The most characters [`SendError::reason`] returns (escapes included).
const MAX_REASON_CHARS: usize = 200;
/// How much of a non-JSON body is looked at for a reason.
const TEXT_HEAD: usize = 4096;
/// A push the service accepted: any 2xx status, normally 201 Created
/// (RFC 8030, Section 5) or 202 Accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivered {
    response: PushResponse,
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
    /// 400 Bad Request: the service considers the request malformed (a
    /// header such as TTL, Topic or Urgency, the encoding, or the endpoint).
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

    /// Whether the subscription is gone (404 or 410): delete it.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Gone { .. })
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
    ///   failing) and not policy (the address stays refused).
    ///
    /// Everything else needs a change first: a new subscription, a smaller
    /// payload, a fixed key or request. A timeout may strike after the
    /// service accepted the message, so a retry can deliver it twice; set a
    /// Topic to let the service replace the first copy.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::ServerError { .. } => true,
            Self::Rejected { response } => matches!(response.status.as_u16(), 408 | 425),
            Self::Transport(e) => matches!(
                e.kind(),
                TransportErrorKind::Timeout
                    | TransportErrorKind::Connect
                    | TransportErrorKind::Other
            ),
            _ => false,
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
/// The [`SendError`] for the status: see the [module table](self).
pub fn classify(response: PushResponse, now: SystemTime) -> Result<Delivered, SendError> {
    let status = response.status.as_u16();
    let retry_after = || {
        response
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, now))
    };
    let err = match status {
        200..=299 => return Ok(Delivered { response }),
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

// ---------------------------------------------------------------------------
// Retry-After (RFC 9110, Section 10.2.3)

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (RFC 9110,
/// Section 5.6.7: IMF-fixdate, obsolete RFC 850 and asctime formats),
/// relative to `now`.
///
/// Surrounding spaces are ignored. A date in the past gives
/// `Some(Duration::ZERO)`; values over [`MAX_RETRY_AFTER`] are capped;
/// anything else (negative or fractional numbers, garbage, a value longer
/// than [`MAX_RETRY_AFTER_LEN`] octets) gives `None`.
#[must_use]
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    if value.len() > MAX_RETRY_AFTER_LEN {
        return None;
    }
    let bytes = trim_ows(value.as_bytes());
    if bytes.is_empty() {
        return None;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        let secs = bytes.iter().fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let target = parse_http_date(bytes, now)?;
    let delay = match target.checked_sub(unix_secs(now)) {
        // `now` has sub-second precision: measure from the start of its second.
        Some(d) if d > 0 => {
            let whole = Duration::from_secs(d.unsigned_abs());
            whole.saturating_sub(Duration::from_nanos(u64::from(now_subsec_nanos(now))))
        }
        Some(_) => Duration::ZERO,
        None => MAX_RETRY_AFTER,
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Whole seconds since the Unix epoch, floored (negative before 1970).
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                secs.saturating_neg().saturating_sub(1)
            } else {
                secs.saturating_neg()
            }
        }
    }
}

/// Nanoseconds of `t` past [`unix_secs`]`(t)`.
fn now_subsec_nanos(t: SystemTime) -> u32 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.subsec_nanos(),
        Err(e) => match e.duration().subsec_nanos() {
            0 => 0,
            n => 1_000_000_000 - n,
        },
    }
}

const DAY_NAMES: [&[u8]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
const LONG_DAY_NAMES: [&[u8]; 7] = [
    b"monday",
    b"tuesday",
    b"wednesday",
    b"thursday",
    b"friday",
    b"saturday",
    b"sunday",
];
const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// An HTTP-date as seconds since the Unix epoch. Names match
/// case-insensitively and spaces may repeat; the day name is not checked
/// against the date. A two-digit RFC 850 year more than 50 years after
/// `now`'s year is taken as the century before.
fn parse_http_date(b: &[u8], now: SystemTime) -> Option<i64> {
    let mut tokens = b
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|t| !t.is_empty());
    let first = tokens.next()?;
    let (year, month, day, time) = if let Some(name) = first.strip_suffix(b",") {
        if DAY_NAMES.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            let day = digits(tokens.next()?, 1, 2)?;
            let month = month(tokens.next()?)?;
            let year = digits(tokens.next()?, 4, 4)?;
            let time = time_of_day(tokens.next()?)?;
            (year, month, day, time)
        } else if LONG_DAY_NAMES.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let mut parts = tokens.next()?.split(|&c| c == b'-');
            let day = digits(parts.next()?, 1, 2)?;
            let month = month(parts.next()?)?;
            let yy = digits(parts.next()?, 2, 2)?;
            if parts.next().is_some() {
                return None;
            }
            let time = time_of_day(tokens.next()?)?;
            (rfc850_year(yy, now), month, day, time)
        } else {
            return None;
        }
    } else if DAY_NAMES.iter().any(|d| first.eq_ignore_ascii_case(d)) {
        // asctime: Sun Nov  6 08:49:37 1994
        let month = month(tokens.next()?)?;
        let day = digits(tokens.next()?, 1, 2)?;
        let time = time_of_day(tokens.next()?)?;
        let year = digits(tokens.next()?, 4, 4)?;
        return finish(tokens.next().is_none(), year, month, day, time);
    } else {
        return None;
    };
    let gmt = tokens.next().is_some_and(|t| t == b"GMT");
    finish(gmt && tokens.next().is_none(), year, month, day, time)
}

fn finish(ok: bool, year: i64, month: i64, day: i64, time: i64) -> Option<i64> {
    if !ok || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    days_from_civil(year, month, day)
        .checked_mul(86_400)?
        .checked_add(time)
}

/// `min..=max` ASCII digits as a number.
fn digits(t: &[u8], min: usize, max: usize) -> Option<i64> {
    if t.len() < min || t.len() > max || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(t.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0')))
}

/// 1-based month number.
fn month(t: &[u8]) -> Option<i64> {
    let i = MONTHS.iter().position(|m| t.eq_ignore_ascii_case(m))?;
    i64::try_from(i + 1).ok()
}

/// `HH:MM:SS` as seconds into the day; a leap second 60 is accepted.
fn time_of_day(t: &[u8]) -> Option<i64> {
    let [h1, h2, b':', m1, m2, b':', s1, s2] = *t else {
        return None;
    };
    let h = digits(&[h1, h2], 2, 2)?;
    let m = digits(&[m1, m2], 2, 2)?;
    let s = digits(&[s1, s2], 2, 2)?;
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

/// RFC 9110: a two-digit year that appears more than 50 years in the future
/// is the most recent past year with those digits.
fn rfc850_year(yy: i64, now: SystemTime) -> i64 {
    // Clamped so that the result stays a four-digit year.
    let now_year = civil_year(unix_secs(now).div_euclid(86_400)).clamp(100, 9899);
    let year = now_year.div_euclid(100) * 100 + yy;
    if year > now_year + 50 {
        year - 100
    } else if year + 100 <= now_year + 50 {
        year + 100
    } else {
        year
    }
}

const fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

const fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm); `year` is 0..=9999 here, so nothing overflows.
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count since 1970-01-01 (inverse of
/// [`days_from_civil`]); saturating for absurd inputs.
const fn civil_year(days: i64) -> i64 {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe.saturating_add(era.saturating_mul(400));
    if month <= 2 {
        year.saturating_add(1)
    } else {
        year
    }
}

/// Entry points for the `fuzz/` targets (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;
