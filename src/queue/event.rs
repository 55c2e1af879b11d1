//! Feedback events, wire format v1: what became of a job that the app must
//! act on (a gone subscription to delete, a failed job, a dead letter), as
//! the JSON body of one broker message, with a total, bounded parser.
//! Engine-neutral.
//!
//! ```text
//! {"v":1,"kind":"gone","job_id":"user-42:welcome",
//!  "endpoint":"https://push.example.net/p/…","status":410,
//!  "reason":"push subscription is gone (410)","attempts":1}
//! ```

use core::fmt;

use serde::{Deserialize, Serialize};

/// The wire format version of events.
pub const EVENT_FORMAT_VERSION: u64 = 1;
/// The largest event message [`FeedbackEvent::from_json`] reads.
pub const MAX_EVENT_LEN: usize = 16 * 1024;
/// The most characters of [`FeedbackEvent::reason`].
pub const MAX_REASON_LEN: usize = 200;

/// What kind of feedback an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// The push service answered 404 or 410: delete the subscription.
    Gone,
    /// The job cannot succeed as it is (400, 413, other 4xx, a malformed job
    /// message, a refused endpoint): it was not retried.
    Failed,
    /// Still failing at its last allowed delivery (`max_deliver`): a dead
    /// letter, with the attempt count.
    Dead,
    /// The push service says the subscription was made with another VAPID
    /// key ([`SendError::KeyMismatch`](crate::outcome::SendError::KeyMismatch):
    /// Apple's `VapidPkHashMismatch`, FCM's sender-ID 403, autopush's key
    /// mismatch): have the browser subscribe again with the current
    /// `applicationServerKey`. Not retried, and not a reason to delete.
    Resubscribe,
}

impl EventKind {
    /// The name on the wire and in subjects: `gone`, `failed`, `dead`,
    /// `resubscribe`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Resubscribe => "resubscribe",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Gone, Self::Failed, Self::Dead, Self::Resubscribe]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event message was refused. Never echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Larger than [`MAX_EVENT_LEN`].
    #[error("event message is {len} octets, over the limit of {MAX_EVENT_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not JSON, or JSON of the wrong shape.
    #[error("event is not valid JSON ({category}) at line {line}, column {column}")]
    NotJson {
        /// Syntax, wrong type or value, unexpected end.
        category: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// `"v"` is missing or unknown.
    #[error("event format version {0:?} is not supported (this reader knows version 1)")]
    UnsupportedVersion(Option<u64>),
    /// A required field is absent.
    #[error("event field `{0}` is missing")]
    Missing(&'static str),
    /// A field has a value outside its range.
    #[error("event field `{0}` is invalid")]
    Invalid(&'static str),
}

impl From<serde_json::Error> for EventError {
    fn from(e: serde_json::Error) -> Self {
        Self::NotJson {
            category: crate::subscription::json_error_category(&e),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// What became of one job that the app must act on.
///
/// `endpoint` is the subscription's endpoint URL, so that the app can find
/// and delete the subscription; it is a capability, so `Debug` shows only
/// its origin. It is `None` when the job message was too broken to name one.
///
/// ```
/// use webpush::queue::{EventKind, FeedbackEvent};
///
/// let event = FeedbackEvent::from_json(br#"{"v":1,"kind":"gone","job_id":"j1",
///   "endpoint":"https://push.example.net/p/secret","status":410,"reason":"gone","attempts":1}"#)?;
/// assert_eq!(event.kind, EventKind::Gone);
/// assert!(!format!("{event:?}").contains("secret"));
/// # Ok::<(), webpush::queue::EventError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedbackEvent {
    /// Gone, failed, dead or resubscribe.
    pub kind: EventKind,
    /// The job's id (for a message without a readable id, `seq:<stream
    /// sequence>`).
    pub job_id: String,
    /// The subscription's endpoint URL, if known.
    pub endpoint: Option<String>,
    /// The push service's last HTTP status, if there was a response.
    pub status: Option<u16>,
    /// Why, escaped (printable ASCII) and at most [`MAX_REASON_LEN`]
    /// characters.
    pub reason: String,
    /// Deliveries of the job so far, this one included.
    pub attempts: u32,
}

impl FeedbackEvent {
    /// An event; `reason` is escaped and shortened.
    #[must_use]
    pub fn new(
        kind: EventKind,
        job_id: impl Into<String>,
        endpoint: Option<String>,
        status: Option<u16>,
        reason: &str,
        attempts: u32,
    ) -> Self {
        Self {
            kind,
            job_id: job_id.into(),
            endpoint,
            status,
            reason: escape_reason(reason),
            attempts,
        }
    }

    /// The broker's de-duplication key for this event: `<kind>:<job id>`,
    /// so that the same event published again after a crash is dropped.
    #[must_use]
    pub fn message_id(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.job_id)
    }

    /// The wire form (v1), one line of JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        let wire = EventWire {
            v: Some(EVENT_FORMAT_VERSION),
            kind: Some(self.kind.as_str().to_owned()),
            job_id: Some(self.job_id.clone()),
            endpoint: self.endpoint.clone(),
            status: self.status,
            reason: Some(self.reason.clone()),
            attempts: Some(self.attempts),
        };
        // Strings and numbers only: serializing cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Parses an event message: total and bounded ([`MAX_EVENT_LEN`]).
    ///
    /// # Errors
    /// An [`EventError`] saying what was wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        if bytes.len() > MAX_EVENT_LEN {
            return Err(EventError::TooLong { len: bytes.len() });
        }
        let wire: EventWire = serde_json::from_slice(bytes)?;
        if wire.v != Some(EVENT_FORMAT_VERSION) {
            return Err(EventError::UnsupportedVersion(wire.v));
        }
        let kind = wire.kind.ok_or(EventError::Missing("kind"))?;
        let kind = EventKind::parse(&kind).ok_or(EventError::Invalid("kind"))?;
        let job_id = wire.job_id.ok_or(EventError::Missing("job_id"))?;
        if job_id.is_empty() || job_id.len() > 128 || !job_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(EventError::Invalid("job_id"));
        }
        if wire
            .endpoint
            .as_ref()
            .is_some_and(|e| crate::subscription::Endpoint::parse(e).is_err())
        {
            return Err(EventError::Invalid("endpoint"));
        }
        if wire.status.is_some_and(|s| !(100..=999).contains(&s)) {
            return Err(EventError::Invalid("status"));
        }
        Ok(Self {
            kind,
            job_id,
            endpoint: wire.endpoint,
            status: wire.status,
            reason: escape_reason(&wire.reason.unwrap_or_default()),
            attempts: wire.attempts.ok_or(EventError::Missing("attempts"))?,
        })
    }
}

impl fmt::Debug for FeedbackEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin =
            self.endpoint
                .as_deref()
                .map(|e| match crate::subscription::Endpoint::parse(e) {
                    Ok(endpoint) => format!("{}/…", endpoint.origin()),
                    Err(_) => format!("<{} octets>", e.len()),
                });
        f.debug_struct("FeedbackEvent")
            .field("kind", &self.kind)
            .field("job_id", &self.job_id)
            .field("endpoint", &origin)
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Printable ASCII only (others as `\u{..}`, a backslash as `\\`), absolute
/// URLs as `<url>`, at most [`MAX_REASON_LEN`] characters.
pub(crate) fn escape_reason(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if out.len() >= MAX_REASON_LEN {
            break;
        }
        if rest.starts_with("https://") || rest.starts_with("http://") {
            out.push_str("<url>");
            let end = rest
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            rest = &rest[end..];
            continue;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
        rest = &rest[c.len_utf8()..];
    }
    if out.len() > MAX_REASON_LEN {
        // Only ASCII was pushed: every index is a char boundary.
        out.truncate(MAX_REASON_LEN);
    }
    out
}

#[derive(Serialize, Deserialize)]
struct EventWire {
    #[serde(default)]
    v: Option<u64>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    attempts: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone() -> FeedbackEvent {
        FeedbackEvent::new(
            EventKind::Gone,
            "job-1",
            Some("https://push.example.net/p/SECRETTOKEN".into()),
            Some(410),
            "push subscription is gone (410)",
            2,
        )
    }

    #[test]
    fn event_round_trips() {
        let e = gone();
        assert_eq!(FeedbackEvent::from_json(e.to_json().as_bytes()), Ok(e));
        let failed = FeedbackEvent::new(EventKind::Failed, "seq:9", None, None, "not JSON", 1);
        assert_eq!(
            FeedbackEvent::from_json(failed.to_json().as_bytes()),
            Ok(failed)
        );
    }

    #[test]
    fn event_debug_shows_only_origin() {
        let debug = format!("{:?}", gone());
        assert!(debug.contains("https://push.example.net/…"), "{debug}");
        assert!(!debug.contains("SECRETTOKEN"), "{debug}");
    }

    #[test]
    fn event_message_id_is_kind_and_job() {
        assert_eq!(gone().message_id(), "gone:job-1");
    }

    #[test]
    fn event_parser_rejects_each_bad_input() {
        let long = vec![b' '; MAX_EVENT_LEN + 1];
        let cases: &[(&[u8], EventError)] = &[
            (
                &long,
                EventError::TooLong {
                    len: MAX_EVENT_LEN + 1,
                },
            ),
            (b"{\"v\":2}", EventError::UnsupportedVersion(Some(2))),
            (b"{}", EventError::UnsupportedVersion(None)),
            (b"{\"v\":1}", EventError::Missing("kind")),
            (b"{\"v\":1,\"kind\":\"lost\"}", EventError::Invalid("kind")),
            (
                b"{\"v\":1,\"kind\":\"gone\"}",
                EventError::Missing("job_id"),
            ),
            (
                b"{\"v\":1,\"kind\":\"gone\",\"job_id\":\"a b\"}",
                EventError::Invalid("job_id"),
            ),
            (
                b"{\"v\":1,\"kind\":\"gone\",\"job_id\":\"a\",\"endpoint\":\"ftp://x\"}",
                EventError::Invalid("endpoint"),
            ),
            (
                b"{\"v\":1,\"kind\":\"gone\",\"job_id\":\"a\",\"status\":42}",
                EventError::Invalid("status"),
            ),
            (
                b"{\"v\":1,\"kind\":\"gone\",\"job_id\":\"a\"}",
                EventError::Missing("attempts"),
            ),
        ];
        for (i, (input, want)) in cases.iter().enumerate() {
            assert_eq!(
                FeedbackEvent::from_json(input).as_ref(),
                Err(want),
                "case {i}: {}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(matches!(
            FeedbackEvent::from_json(b"\xff not json"),
            Err(EventError::NotJson { .. })
        ));
    }

    #[test]
    fn reason_is_escaped_and_bounded() {
        assert_eq!(escape_reason("a\u{1b}[31m\\"), "a\\u{1b}[31m\\\\");
        assert_eq!(
            escape_reason("see https://push.example.net/p/tok now"),
            "see <url> now"
        );
        assert_eq!(escape_reason(&"é".repeat(500)).len(), MAX_REASON_LEN);
    }
}
