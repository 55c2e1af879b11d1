//! Scale-out over a message broker (feature `jetstream`): jobs published to a
//! NATS JetStream stream, sent by any number of worker processes, with
//! at-least-once delivery, `Retry-After` honoured by the broker, and a
//! feedback stream of gone, failed, dead and resubscribe events for the app.
//!
//! ```text
//!              publish (PubAck)          pull (durable consumer, explicit ack)
//!  your app ──▶ Publisher ──▶ stream WEBPUSH ──▶ Worker ─┐ ─▶ Worker ─▶ push services
//!     ▲          subject webpush.jobs       ▲      │ BatchSender (encrypt, VAPID, send)
//!     │                                     │      │
//!     │                                     │      └ ack / nak(delay) / term
//!     └── FeedbackReader ◀── webpush.events.{gone,failed,dead,resubscribe} ◀── events (PubAck first)
//! ```
//!
//! - [`PushJob`] is one push (subscription, payload, options, id) in a
//!   versioned JSON format ([`job`]); [`FeedbackEvent`] is what the app must act
//!   on ([`event`]).
//! - [`JetStream::connect`] connects and creates the stream and the two
//!   durable consumers if missing; [`Publisher`] enqueues, reporting success
//!   only after the broker stored the job; [`Worker`] runs a
//!   [`BatchSender`](crate::batch::BatchSender) over the shared consumer;
//!   [`FeedbackReader`] reads the events.
//! - Everything NATS-specific is in `jetstream.rs`; the worker loop, the job
//!   and event formats and the decision table are engine-neutral, behind a
//!   small internal seam (pull jobs, ack, retry after a delay, give up,
//!   publish an event), so another engine can follow.
//!
//! # What the broker does with each outcome
//!
//! | outcome of the push | the worker | then |
//! |---|---|---|
//! | 2xx | ack | done |
//! | 404, 410 | publish a `gone` event, await its PubAck, ack | the app deletes the subscription |
//! | 429, 5xx, 408, 425, timeout, connection error | nak with a delay ≥ `Retry-After` (else exponential backoff with jitter) | the broker redelivers it later; no worker sleeps on it |
//! | 401, 403 (VAPID refused) | nak with a long delay (5 min), counted as `vapid_rejected`, a `tracing` warning | never treated as gone: fix the VAPID key |
//! | 400, 413, other 4xx, a malformed job (not JSON, bad subscription, over 32 KiB) | publish a `failed` event with the reason, await its PubAck, term | not retried |
//! | key mismatch ([`SendError::KeyMismatch`](crate::outcome::SendError::KeyMismatch): the subscription was made with another VAPID key) | publish a `resubscribe` event, await its PubAck, term | the app has the browser subscribe again; not retried, not deleted |
//! | any retry at the last delivery (`max_deliver`) | publish a `dead` event with the attempt count, term | a dead letter for the app |
//! | pulled but not started at shutdown | nak, no delay | another worker takes it at once |
//!
//! A job is acknowledged (or terminated) only after its outcome is known
//! and, for gone/failed/dead/resubscribe, after the broker acknowledged the event. A
//! crash anywhere before that leaves the job un-acked: the broker delivers
//! it again after `ack_wait`. Workers send in-progress acks for jobs they
//! hold longer than half of `ack_wait`.
//!
//! # Duplicates: what can still happen
//!
//! Delivery is at least once. A worker that dies after the push service's
//! 201 and before its ack lands makes the broker deliver the job again, and
//! it is sent again. Each job carries a Topic (its own, else one derived
//! from its id: [`PushJob::effective_topic`]), so while the first copy is
//! still undelivered at the push service, the second replaces it. What can
//! still reach a user agent twice: a job redelivered after its first copy
//! was already delivered to the device (the service forgets it then), and
//! a job whose own explicit Topic it shares with other jobs (the replace
//! then works across jobs, as RFC 8030 intends). Enqueueing the same job id
//! again inside the stream's duplicate window (default 2 min) is dropped
//! by the broker (`Nats-Msg-Id`); after the window it is a new job. Events
//! are published with `Nats-Msg-Id` `<kind>:<job id>`, so an event
//! published again after a crash (inside the window) is dropped too.
//!
//! # Trust boundary
//!
//! The broker sees the plaintext payload and the subscription's endpoint
//! and keys (`p256dh`, `auth`): workers encrypt, so that the CPU work of
//! encryption scales with the workers and every delivery is encrypted
//! afresh. Treat the stream like the database that already
//! holds your subscriptions: the same people can read it. Use NATS TLS and
//! authentication (the URL's `tls://` scheme and user/password or token),
//! and file storage on an encrypted disk if the payloads are sensitive. The
//! VAPID private key is only at workers; it never enters the broker.

pub mod action;
pub mod event;
#[cfg(feature = "jetstream")]
mod jetstream;
pub mod job;
#[cfg(feature = "jetstream")]
pub(crate) mod seam;
#[cfg(feature = "jetstream")]
mod worker;

pub use action::{Action, ActionPolicy, RetryReason, bad_job, decide};
pub use event::{EventError, EventKind, FeedbackEvent};
#[cfg(feature = "jetstream")]
pub use jetstream::{
    Enqueued, FeedbackDelivery, FeedbackMode, FeedbackReader, JetStream, JetStreamConfig,
    Publisher, Worker,
};
pub use job::{JobError, PushJob};
#[cfg(feature = "jetstream")]
pub use worker::{ShutdownHandle, StatsHandle, WorkerStats};

/// Errors of the queue layer. `Display` is a fixed phrase plus the broker's
/// own (escaped) words; it never contains the NATS URL (which may carry
/// credentials), an endpoint or a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A name or limit in the configuration is invalid.
    #[error("invalid queue configuration: {0}")]
    Config(&'static str),
    /// The broker could not be reached in the time allowed.
    #[error("cannot connect to the broker: {0}")]
    Connect(String),
    /// Creating or checking the stream or a consumer failed.
    #[error("cannot set up the {what}: {detail}")]
    Setup {
        /// `stream`, `worker consumer` or `feedback consumer`.
        what: &'static str,
        /// The broker's words.
        detail: String,
    },
    /// A publish was not acknowledged by the broker (timeout, no stream,
    /// connection lost): it may or may not be stored; publishing the same
    /// job again is safe inside the duplicate window.
    #[error("publish not acknowledged by the broker: {0}")]
    Publish(String),
    /// A pull, ack or other broker request failed.
    #[error("broker request failed: {0}")]
    Broker(String),
    /// A message on the event subjects is not a feedback event (the reader
    /// terminated it).
    #[error("not a feedback event: {0}")]
    BadEvent(#[source] EventError),
}

#[cfg(feature = "jetstream")]
impl QueueError {
    pub(crate) fn broker(e: impl core::fmt::Display) -> Self {
        Self::Broker(event::escape_reason(&e.to_string()))
    }
}
