//! Publishing on JetStream: jobs (and, for the worker, events) as messages
//! with `Nats-Msg-Id`, counted as stored only once the PubAck arrived, with
//! a bound on PubAcks pending.

use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use futures_util::{Stream, StreamExt};

use super::super::QueueError;
use super::super::job::PushJob;

/// Enqueues jobs: each becomes one message on the jobs subject with
/// `Nats-Msg-Id` = the job id, and counts as enqueued only once the broker's
/// PubAck arrived. `Clone` and cheap.
///
/// ```no_run
/// # async fn run(js: webpush::queue::JetStream, jobs: Vec<webpush::queue::PushJob>) {
/// use futures_util::StreamExt;
///
/// let publisher = js.publisher().max_in_flight(512);
/// let mut results = publisher.publish_iter(jobs);
/// while let Some((id, result)) = results.next().await {
///     match result {
///         Ok(e) if e.duplicate => println!("{id}: already enqueued"),
///         Ok(_) => {}
///         Err(e) => eprintln!("{id}: {e}"),
///     }
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Publisher {
    pub(super) context: Context,
    pub(super) subject: String,
    pub(super) max_in_flight: usize,
}

impl core::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Publisher")
            .field("subject", &self.subject)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

/// A job the broker stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enqueued {
    /// Its sequence number in the stream.
    pub sequence: u64,
    /// The broker already had a job with this id (inside the duplicate
    /// window) and dropped this one.
    pub duplicate: bool,
}

impl Publisher {
    /// PubAcks pending at once in [`publish_all`](Self::publish_all)
    /// (default 256; 0 counts as 1).
    #[must_use]
    pub fn max_in_flight(mut self, publishes: usize) -> Self {
        self.max_in_flight = publishes.max(1);
        self
    }

    /// Publishes one job and returns once the broker stored it. A publish
    /// that times out or loses its connection is sent again (up to three
    /// times, same `Nats-Msg-Id`, so the broker keeps one copy).
    ///
    /// # Errors
    /// [`QueueError::Publish`] when no PubAck came.
    pub async fn publish(&self, job: &PushJob) -> Result<Enqueued, QueueError> {
        publish_once(&self.context, self.subject.clone(), job.id(), job.to_json()).await
    }

    /// Publishes every job of `jobs`, with at most
    /// [`max_in_flight`](Self::max_in_flight) waiting for their PubAck, and
    /// yields each job's id with its result, in the order they complete.
    pub fn publish_all<St>(
        &self,
        jobs: St,
    ) -> impl Stream<Item = (String, Result<Enqueued, QueueError>)> + Send + 'static
    where
        St: Stream<Item = PushJob> + Send + 'static,
    {
        let publisher = self.clone();
        jobs.map(move |job| {
            let publisher = publisher.clone();
            async move {
                let result = publisher.publish(&job).await;
                (job.id().to_owned(), result)
            }
        })
        .buffer_unordered(self.max_in_flight)
    }

    /// [`publish_all`](Self::publish_all) for an iterator.
    pub fn publish_iter<I>(
        &self,
        jobs: I,
    ) -> impl Stream<Item = (String, Result<Enqueued, QueueError>)> + Send + 'static
    where
        I: IntoIterator<Item = PushJob>,
        I::IntoIter: Send + 'static,
    {
        self.publish_all(futures_util::stream::iter(jobs))
    }
}

/// One message with `Nats-Msg-Id`, resent on timeouts and lost
/// connections, returning after its PubAck.
pub(super) async fn publish_once(
    context: &Context,
    subject: String,
    msg_id: &str,
    body: String,
) -> Result<Enqueued, QueueError> {
    let body = bytes::Bytes::from(body);
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250) * attempt).await;
        }
        let message = PublishMessage::build()
            .payload(body.clone())
            .message_id(msg_id);
        let result = match context.send_publish(subject.clone(), message).await {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match result {
            Ok(ack) => {
                return Ok(Enqueued {
                    sequence: ack.sequence,
                    duplicate: ack.duplicate,
                });
            }
            Err(e) => {
                last = super::super::event::escape_reason(&e.to_string());
                let again = matches!(
                    e.kind(),
                    PublishErrorKind::TimedOut
                        | PublishErrorKind::BrokenPipe
                        | PublishErrorKind::StreamNotFound
                );
                if !again {
                    break;
                }
            }
        }
    }
    Err(QueueError::Publish(last))
}
