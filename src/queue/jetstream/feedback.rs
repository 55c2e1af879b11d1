//! The feedback reader on JetStream: the durable consumer on the event
//! subjects, read in drain mode (until nothing is left) or follow mode
//! (forever), each event acknowledged by the app once it has acted on it.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::Batch;
use async_nats::jetstream::message::{AckKind, Acker};
use futures_util::StreamExt;

use super::super::QueueError;
use super::super::event::FeedbackEvent;

/// Events asked for per pull.
const PULL: usize = 256;

/// When a [`FeedbackReader`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedbackMode {
    /// End once a pull finds nothing left (events handed out and not yet
    /// acked do not count as left).
    Drain,
    /// Never end: wait for new events.
    Follow,
}

/// Reads the gone, failed, dead and resubscribe events, for the app to act on (delete
/// subscriptions, alert). Each event stays with the broker until
/// [`FeedbackDelivery::ack`]; one not acked within 30 s is handed out again,
/// so an app that crashes before acting loses nothing.
///
/// ```no_run
/// # async fn run(js: webpush::queue::JetStream) -> Result<(), Box<dyn std::error::Error>> {
/// use webpush::queue::{EventKind, FeedbackMode};
///
/// let mut feedback = js.feedback(FeedbackMode::Drain).await?;
/// while let Some(delivery) = feedback.next().await {
///     let delivery = match delivery {
///         Ok(d) => d,
///         Err(e) => { eprintln!("{e}"); continue; }
///     };
///     if delivery.event().kind == EventKind::Gone {
///         // delete the subscription with this endpoint from the database
///     }
///     delivery.ack().await?;
/// }
/// # Ok(())
/// # }
/// ```
pub struct FeedbackReader {
    consumer: PullConsumer,
    mode: FeedbackMode,
    batch: Option<Batch>,
    got: usize,
    done: bool,
}

impl core::fmt::Debug for FeedbackReader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FeedbackReader")
            .field("mode", &self.mode)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// One event handed out by a [`FeedbackReader`], to be acked once acted on.
pub struct FeedbackDelivery {
    event: FeedbackEvent,
    acker: Acker,
}

impl core::fmt::Debug for FeedbackDelivery {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FeedbackDelivery")
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

impl FeedbackDelivery {
    /// The event.
    #[must_use]
    pub const fn event(&self) -> &FeedbackEvent {
        &self.event
    }

    /// The event, dropping the right to ack it (it comes back later).
    #[must_use]
    pub fn into_event(self) -> FeedbackEvent {
        self.event
    }

    /// Tells the broker the event was handled; returns once the broker
    /// confirmed it.
    ///
    /// # Errors
    /// [`QueueError::Broker`] when the ack was not confirmed (the event
    /// will be handed out again).
    pub async fn ack(&self) -> Result<(), QueueError> {
        self.acker.double_ack().await.map_err(QueueError::broker)
    }
}

impl FeedbackReader {
    pub(super) fn new(consumer: PullConsumer, mode: FeedbackMode) -> Self {
        Self {
            consumer,
            mode,
            batch: None,
            got: 0,
            done: false,
        }
    }

    /// The next event, or `None` when drained (never in follow mode). An
    /// `Err` is a broker error (the next call tries again) or a message
    /// that is not an event (terminated; reading goes on).
    pub async fn next(&mut self) -> Option<Result<FeedbackDelivery, QueueError>> {
        loop {
            if self.done {
                return None;
            }
            if self.batch.is_none() {
                let request = match self.mode {
                    FeedbackMode::Drain => {
                        self.consumer.fetch().max_messages(PULL).messages().await
                    }
                    FeedbackMode::Follow => {
                        self.consumer
                            .batch()
                            .max_messages(PULL)
                            .expires(Duration::from_secs(5))
                            .messages()
                            .await
                    }
                };
                match request {
                    Ok(batch) => {
                        self.batch = Some(batch);
                        self.got = 0;
                    }
                    Err(e) => {
                        // Never spin on a broker that is away.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        return Some(Err(QueueError::broker(e)));
                    }
                }
            }
            let batch = self.batch.as_mut()?;
            match batch.next().await {
                None => {
                    self.batch = None;
                    if self.got == 0 {
                        match self.mode {
                            FeedbackMode::Drain => self.done = true,
                            FeedbackMode::Follow => {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
                Some(Err(e)) => {
                    self.batch = None;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    return Some(Err(QueueError::broker(e)));
                }
                Some(Ok(message)) => {
                    self.got += 1;
                    let (message, acker) = message.split();
                    return Some(match FeedbackEvent::from_json(&message.payload) {
                        Ok(event) => Ok(FeedbackDelivery { event, acker }),
                        Err(e) => {
                            // Not ours to read again: terminate it.
                            let _ = acker.double_ack_with(AckKind::Term).await;
                            Err(QueueError::BadEvent(e))
                        }
                    });
                }
            }
        }
    }
}
