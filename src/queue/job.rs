//! The job wire format, version 1: one push (subscription, payload, options,
//! job id) as the JSON body of one broker message, and its total, bounded
//! parser. Engine-neutral: nothing here knows about NATS.
//!
//! ```text
//! {"v":1,
//!  "id":"campaign-7:42",
//!  "subscription":{"endpoint":"https://push.example.net/p/…","expirationTime":null,
//!                  "keys":{"p256dh":"BCVx…","auth":"BTBZ…"}},
//!  "payload":"SGVsbG8",                      base64url, unpadded; "" for a tickle
//!  "ttl":3600,                               optional, seconds (default 28 days)
//!  "urgency":"high",                         optional: very-low | low | normal | high
//!  "topic":"news",                           optional; else derived from "id"
//!  "padding":{"block":64},                   optional: {"block":n} | {"fixed":n}
//!  "encoding":"aes128gcm"}                   optional: aes128gcm | aesgcm (feature)
//! ```
//!
//! Unknown fields are ignored, so that a v1 reader accepts v1 messages that
//! gained optional fields; an incompatible change bumps `"v"`.

use core::fmt;
use core::num::NonZeroUsize;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::message::Padding;
use crate::request::{ContentEncoding, PushOptions, Topic, Urgency};
use crate::subscription::{Subscription, SubscriptionError, SubscriptionJson};

/// The wire format version this crate writes and reads.
pub const JOB_FORMAT_VERSION: u64 = 1;
/// The largest job message [`PushJob::from_json`] reads, in octets. A
/// subscription is at most 16 KiB and a payload at most 4078 octets
/// (5438 in base64url), so real jobs are far below this.
pub const MAX_JOB_LEN: usize = 32 * 1024;
/// The longest job id, in octets.
pub const MAX_ID_LEN: usize = 128;

/// Why a job was refused. `Display` names the field and the problem; it
/// never echoes the input (an endpoint is a capability URL, the payload may
/// be private).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The message is larger than [`MAX_JOB_LEN`].
    #[error("job message is {len} octets, over the limit of {MAX_JOB_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not JSON, or JSON of the wrong shape.
    #[error("job is not valid JSON ({category}) at line {line}, column {column}")]
    NotJson {
        /// What kind of problem: syntax, wrong type or value, unexpected end.
        category: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// `"v"` is missing or not a version this crate reads.
    #[error("job format version {0:?} is not supported (this reader knows version 1)")]
    UnsupportedVersion(Option<u64>),
    /// A required field is absent (or `null`).
    #[error("job field `{0}` is missing")]
    Missing(&'static str),
    /// The id is empty, longer than [`MAX_ID_LEN`] or not visible ASCII.
    #[error("job id is invalid: {0}")]
    BadId(&'static str),
    /// The subscription does not validate.
    #[error("job subscription is invalid: {0}")]
    BadSubscription(#[source] SubscriptionError),
    /// The payload is not base64url.
    #[error("job field `payload` is not base64url")]
    BadPayload,
    /// The payload does not fit one push message in the job's encoding
    /// (with its padding).
    #[error("job payload is {len} octets, over the limit of {max}")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// An option (`ttl`, `urgency`, `topic`, `padding`, `encoding`) is
    /// invalid.
    #[error("job field `{field}` is invalid: {reason}")]
    BadOption {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl From<serde_json::Error> for JobError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's own message may quote the input; keep only facts.
        Self::NotJson {
            category: crate::subscription::json_error_category(&e),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// One push, as it travels through the broker: who to send what to, with
/// which options, under which id.
///
/// The id (1 to 128 visible ASCII characters) names the job everywhere: it
/// is the broker's de-duplication key (`Nats-Msg-Id`), it comes back in
/// [`FeedbackEvent`](super::FeedbackEvent)s, and unless the job sets its
/// own Topic it gives the push its Topic ([`effective_topic`](Self::effective_topic)),
/// so that a redelivered copy replaces an undelivered first one.
///
/// `Debug` shows the id, the endpoint's origin, the payload's length and the
/// options: never the payload, the keys or the endpoint's path.
///
/// ```
/// use webpush::queue::PushJob;
/// use webpush::request::Urgency;
/// use webpush::Subscription;
///
/// let sub = Subscription::from_json(r#"{"endpoint":"https://push.example.net/p/abc",
///   "keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
///           "auth":"BTBZMqHH6r4Tts7J_aSIgg"}}"#)?;
/// let job = PushJob::new("user-42:welcome", sub, b"Hello!".to_vec())?
///     .ttl(3600)
///     .urgency(Urgency::High);
/// let wire = job.to_json();
/// assert_eq!(PushJob::from_json(wire.as_bytes())?, job);
/// assert_eq!(job.effective_topic().as_str().len(), 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PushJob {
    id: String,
    subscription: Arc<Subscription>,
    payload: Vec<u8>,
    ttl: Option<u32>,
    urgency: Option<Urgency>,
    topic: Option<Topic>,
    padding: Padding,
    encoding: ContentEncoding,
}

impl PushJob {
    /// A job with default options (TTL 28 days, no urgency, a Topic derived
    /// from the id, no padding, `aes128gcm`).
    ///
    /// # Errors
    /// [`JobError::BadId`] for an id that is empty, over 128 octets or not
    /// visible ASCII; [`JobError::PayloadTooLarge`] for a payload over 3993
    /// octets.
    pub fn new(
        id: impl Into<String>,
        subscription: impl Into<Arc<Subscription>>,
        payload: impl Into<Vec<u8>>,
    ) -> Result<Self, JobError> {
        let id = id.into();
        check_id(&id)?;
        let job = Self {
            id,
            subscription: subscription.into(),
            payload: payload.into(),
            ttl: None,
            urgency: None,
            topic: None,
            padding: Padding::None,
            encoding: ContentEncoding::Aes128Gcm,
        };
        job.check_size()?;
        Ok(job)
    }

    /// The `TTL` in seconds (default [`crate::request::DEFAULT_TTL`]).
    #[must_use]
    pub const fn ttl(mut self, seconds: u32) -> Self {
        self.ttl = Some(seconds);
        self
    }

    /// The `Urgency` (default: none sent).
    #[must_use]
    pub const fn urgency(mut self, urgency: Urgency) -> Self {
        self.urgency = Some(urgency);
        self
    }

    /// An explicit `Topic`, replacing the one derived from the id.
    #[must_use]
    pub fn topic(mut self, topic: Topic) -> Self {
        self.topic = Some(topic);
        self
    }

    /// The padding. A fixed size smaller than the payload is refused when
    /// the job is sent or parsed (a failed job, not a cut payload).
    #[must_use]
    pub const fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The content coding (default `aes128gcm`).
    #[must_use]
    pub const fn content_encoding(mut self, encoding: ContentEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The job id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The subscription.
    #[must_use]
    pub fn subscription(&self) -> &Arc<Subscription> {
        &self.subscription
    }

    /// The plaintext payload.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The Topic the push is sent with: the job's own, else one derived from
    /// the id (the first 32 characters of base64url(SHA-256(id))), so every
    /// delivery of one job carries the same Topic.
    #[must_use]
    pub fn effective_topic(&self) -> Topic {
        self.topic
            .clone()
            .unwrap_or_else(|| derived_topic(&self.id))
    }

    /// The push options: TTL, urgency, [`effective_topic`](Self::effective_topic),
    /// padding and coding.
    pub fn push_options(&self) -> PushOptions {
        let mut options = PushOptions::new()
            .topic(self.effective_topic())
            .padding(self.padding)
            .content_encoding(self.encoding);
        if let Some(ttl) = self.ttl {
            options = options.ttl(ttl);
        }
        if let Some(urgency) = self.urgency {
            options = options.urgency(urgency);
        }
        options
    }

    /// Splits the job into what [`crate::batch::Job`] takes: subscription,
    /// payload and options.
    pub fn into_parts(self) -> (Arc<Subscription>, Vec<u8>, PushOptions) {
        let options = self.push_options();
        (self.subscription, self.payload, options)
    }

    /// The wire form (format v1). It holds the subscription's keys and the
    /// plaintext payload: see the trust boundary in the
    /// [module documentation](super).
    #[must_use]
    pub fn to_json(&self) -> String {
        let wire = JobWire {
            v: Some(JOB_FORMAT_VERSION),
            id: Some(self.id.clone()),
            subscription: Some(SubscriptionJson::from((*self.subscription).clone())),
            payload: Some(crate::b64::encode(&self.payload)),
            ttl: self.ttl,
            urgency: self.urgency.map(|u| u.as_str().to_owned()),
            topic: self.topic.as_ref().map(|t| t.as_str().to_owned()),
            padding: match self.padding {
                Padding::BlockSize(n) => Some(PaddingWire {
                    block: Some(n.get()),
                    fixed: None,
                }),
                Padding::FixedSize(n) => Some(PaddingWire {
                    block: None,
                    fixed: Some(n),
                }),
                _ => None,
            },
            encoding: match self.encoding {
                ContentEncoding::Aes128Gcm => None,
                #[allow(unreachable_patterns)]
                other => Some(other.as_str().to_owned()),
            },
        };
        // Strings and numbers only: serializing cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Parses a job message: total (any input gives a job or a
    /// [`JobError`]) and bounded ([`MAX_JOB_LEN`]).
    ///
    /// # Errors
    /// A [`JobError`] saying what was wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, JobError> {
        if bytes.len() > MAX_JOB_LEN {
            return Err(JobError::TooLong { len: bytes.len() });
        }
        // The version first, so that a future format is reported as such
        // and not as whatever v1 field it changed.
        let version: VersionWire = serde_json::from_slice(bytes)?;
        if version.v != Some(JOB_FORMAT_VERSION) {
            return Err(JobError::UnsupportedVersion(version.v));
        }
        let wire: JobWire = serde_json::from_slice(bytes)?;
        let id = wire.id.ok_or(JobError::Missing("id"))?;
        check_id(&id)?;
        let subscription = wire.subscription.ok_or(JobError::Missing("subscription"))?;
        let subscription =
            Subscription::try_from(subscription).map_err(JobError::BadSubscription)?;
        let payload = wire.payload.ok_or(JobError::Missing("payload"))?;
        // Bounded by MAX_JOB_LEN above.
        let payload = crate::b64::decode_vec(&payload).map_err(|_| JobError::BadPayload)?;
        let urgency = match wire.urgency {
            None => None,
            Some(u) => Some(Urgency::parse(&u).ok_or(JobError::BadOption {
                field: "urgency",
                reason: "not very-low, low, normal or high",
            })?),
        };
        let topic = match wire.topic {
            None => None,
            Some(t) => Some(Topic::new(&t).map_err(|_| JobError::BadOption {
                field: "topic",
                reason: "not 1 to 32 characters of the base64url alphabet",
            })?),
        };
        let padding = match wire.padding {
            None => Padding::None,
            Some(PaddingWire {
                block: Some(n),
                fixed: None,
            }) => Padding::BlockSize(NonZeroUsize::new(n).ok_or(JobError::BadOption {
                field: "padding",
                reason: "block size 0",
            })?),
            Some(PaddingWire {
                block: None,
                fixed: Some(n),
            }) => Padding::FixedSize(n),
            Some(_) => {
                return Err(JobError::BadOption {
                    field: "padding",
                    reason: "not {\"block\":n} or {\"fixed\":n}",
                });
            }
        };
        let encoding = match wire.encoding {
            None => ContentEncoding::Aes128Gcm,
            Some(e) => ContentEncoding::parse(&e).ok_or(JobError::BadOption {
                field: "encoding",
                reason: "not a content coding this build supports",
            })?,
        };
        let job = Self {
            id,
            subscription: Arc::new(subscription),
            payload,
            ttl: wire.ttl,
            urgency,
            topic,
            padding,
            encoding,
        };
        job.check_size()?;
        Ok(job)
    }

    /// The payload fits one message with its padding and coding.
    fn check_size(&self) -> Result<(), JobError> {
        let len = self.payload.len();
        let mut max = self.encoding.max_plaintext_len();
        if let Padding::FixedSize(n) = self.padding {
            max = max.min(n);
        }
        if len > max {
            return Err(JobError::PayloadTooLarge { len, max });
        }
        Ok(())
    }
}

impl fmt::Debug for PushJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushJob")
            .field("id", &self.id)
            .field("origin", &self.subscription.endpoint().origin())
            .field("payload_len", &self.payload.len())
            .field("ttl", &self.ttl)
            .field("urgency", &self.urgency)
            .field("topic", &self.topic)
            .field("padding", &self.padding)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// 1 to 128 visible ASCII characters: a valid `Nats-Msg-Id` header value,
/// and safe in logs.
fn check_id(id: &str) -> Result<(), JobError> {
    if id.is_empty() {
        return Err(JobError::BadId("empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(JobError::BadId("longer than 128 octets"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(JobError::BadId("not visible ASCII (0x21 to 0x7E)"));
    }
    Ok(())
}

/// base64url(SHA-256(id)), first 32 characters: a valid RFC 8030 Topic.
fn derived_topic(id: &str) -> Topic {
    let digest = Sha256::digest(id.as_bytes());
    let mut text = crate::b64::encode(&digest);
    text.truncate(crate::request::MAX_TOPIC_LEN);
    // 32 characters of the base64url alphabet: always a valid Topic.
    Topic::new(&text).unwrap_or_else(|_| unreachable!("base64url of a digest is a valid Topic"))
}

/// Only the version, read before the rest.
#[derive(Deserialize)]
struct VersionWire {
    #[serde(default)]
    v: Option<u64>,
}

/// The v1 wire form; every field optional so a missing one is named.
#[derive(Serialize, Deserialize)]
struct JobWire {
    #[serde(default)]
    v: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    subscription: Option<SubscriptionJson>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    urgency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    padding: Option<PaddingWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct PaddingWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed: Option<usize>,
}

/// Entry point of the `queue_job` fuzz target (internal feature `__fuzz`).
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz {
    use super::PushJob;

    /// Untrusted octets through [`PushJob::from_json`]: nothing may panic; an
    /// accepted job writes JSON that parses back to the same job, and its
    /// `Debug` shows neither the auth secret nor the endpoint's path.
    ///
    /// # Panics
    /// When a check fails.
    pub fn job(data: &[u8]) {
        let Ok(job) = PushJob::from_json(data) else {
            return;
        };
        let again = PushJob::from_json(job.to_json().as_bytes()).expect("our own JSON parses");
        assert_eq!(again, job);
        let _ = job.effective_topic();
        let _ = job.push_options();
        let uri = job.subscription().endpoint().uri();
        // The id, the origin and an explicit topic are shown, and the input
        // may have made any of them contain the text of `auth` or the path.
        let mut debug = format!("{job:?}")
            .replace(&job.subscription().endpoint().origin(), "")
            .replace(job.id(), "");
        if let Some(topic) = &job.topic {
            debug = debug.replace(topic.as_str(), "");
        }
        assert!(!debug.contains(job.subscription().auth().expose_base64().as_str()));
        let path = uri.path_and_query().map_or("", |p| p.as_str());
        if path.len() > 8 {
            assert!(!debug.contains(path));
        }
    }
}

#[cfg(test)]
mod tests;
