//! The internal seam between the engine-neutral worker loop and a broker
//! engine: pull jobs, ack, retry after a delay, give up, keep alive, and
//! publish an event. JetStream implements it in `jetstream.rs`; a second
//! engine (Redis Streams) would implement it beside that, with no change to
//! `batch` or the worker loop.

use core::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

use super::QueueError;
use super::event::FeedbackEvent;

/// One message taken from the queue.
pub(crate) struct Pulled<H> {
    /// The message body (a job, or garbage).
    pub(crate) payload: Bytes,
    /// Deliveries so far, this one included (1 the first time).
    pub(crate) delivered: u32,
    /// The name the broker knows the message by, for events about a message
    /// too broken to carry a job id (`seq:<stream sequence>`).
    pub(crate) fallback_id: String,
    /// How to settle it.
    pub(crate) handle: H,
}

/// A broker engine, as the worker loop sees it.
pub(crate) trait Engine: Send + Sync + 'static {
    /// Settles one pulled message.
    type Handle: Handle;
    /// The messages of one pull request; it ends when the request is done
    /// or expired. An error ends it too.
    type Batch: Stream<Item = Result<Pulled<Self::Handle>, QueueError>> + Send + Unpin + 'static;

    /// Asks for at most `max` messages, waiting at most `wait` for them.
    fn pull(
        &self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Self::Batch, QueueError>> + Send;

    /// Publishes `event` and completes once the broker has stored it (or
    /// reported it a duplicate of one it stored).
    fn publish_event(
        &self,
        event: &FeedbackEvent,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Settling one message. Each call may fail when the broker is away; the
/// message is then delivered again after the ack wait.
pub(crate) trait Handle: Send + Sync + 'static {
    /// Done: never deliver again. Completes once the broker confirmed it.
    fn ack(&self) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Deliver again, not before `delay`.
    fn retry_after(&self, delay: Duration) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Never deliver again, without success. Completes once confirmed.
    fn give_up(&self) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Still working on it: restart the ack wait.
    fn in_progress(&self) -> impl Future<Output = Result<(), QueueError>> + Send;
}
