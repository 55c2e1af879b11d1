//! The NATS JetStream engine: everything NATS-specific of the queue layer
//! (connection, stream and consumers, publishing with `Nats-Msg-Id` and
//! PubAck, pulling, ack/nak/term/progress), on `async-nats`. The feedback
//! reader is in `jetstream/feedback.rs`.
//!
//! One stream (default `WEBPUSH`, file storage, work-queue retention: a job
//! leaves the stream once acked or terminated) holds the jobs subject
//! (default `webpush.jobs`) and the event subjects (`webpush.events.gone`,
//! `.failed`, `.dead`). Two durable pull consumers with explicit acks: one
//! shared by all workers on the jobs, one for the feedback reader on the
//! events.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, PullConsumer};
use async_nats::jetstream::message::{AckKind, Acker};
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self as js, Context};
use futures_util::{Stream, StreamExt};

use publish::publish_once;

use crate::batch::{BatchSender, DEFAULT_CONCURRENCY};
use crate::sender::Sender;

use super::QueueError;
use super::action::ActionPolicy;
use super::event::FeedbackEvent;
use super::seam::{Engine, Handle, Pulled};
use super::worker::{Settings, ShutdownHandle};

mod feedback;
mod publish;
mod worker;
pub use feedback::{FeedbackDelivery, FeedbackMode, FeedbackReader};
pub use publish::{Enqueued, Publisher};
pub use worker::Worker;

/// Names and limits of the stream and its consumers. Every setting has a
/// default; creating them is idempotent.
///
/// ```
/// use std::time::Duration;
/// use webpush::queue::JetStreamConfig;
///
/// let config = JetStreamConfig::new()
///     .stream("PUSH")
///     .max_deliver(8)
///     .ack_wait(Duration::from_secs(90));
/// assert_eq!(config.stream_name(), "PUSH");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct JetStreamConfig {
    stream: String,
    jobs_subject: String,
    consumer: String,
    events_prefix: String,
    feedback_consumer: String,
    max_deliver: u32,
    ack_wait: Duration,
    max_ack_pending: u32,
    duplicate_window: Duration,
    connect_timeout: Duration,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        Self {
            stream: "WEBPUSH".into(),
            jobs_subject: "webpush.jobs".into(),
            consumer: "webpush-workers".into(),
            events_prefix: "webpush.events".into(),
            feedback_consumer: "webpush-feedback".into(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(60),
            max_ack_pending: 1024,
            duplicate_window: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl JetStreamConfig {
    /// The defaults: stream `WEBPUSH`, jobs on `webpush.jobs`, consumer
    /// `webpush-workers`, events under `webpush.events`, feedback consumer
    /// `webpush-feedback`, `max_deliver` 5, `ack_wait` 60 s,
    /// `max_ack_pending` 1024, duplicate window 120 s, connect timeout 30 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream's name.
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The subject jobs are published to.
    pub fn jobs_subject(mut self, subject: impl Into<String>) -> Self {
        self.jobs_subject = subject.into();
        self
    }

    /// The durable consumer all workers share.
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = name.into();
        self
    }

    /// The prefix of the event subjects: `<prefix>.gone`, `<prefix>.failed`
    /// and `<prefix>.dead` (the dead letters).
    pub fn events_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.events_prefix = prefix.into();
        self
    }

    /// The durable consumer the feedback reader uses.
    pub fn feedback_consumer(mut self, name: impl Into<String>) -> Self {
        self.feedback_consumer = name.into();
        self
    }

    /// Deliveries per job; a job still failing at the last one becomes a
    /// dead letter (0 counts as 1).
    pub fn max_deliver(mut self, deliveries: u32) -> Self {
        self.max_deliver = deliveries.max(1);
        self
    }

    /// How long the broker waits for a worker's ack before delivering the
    /// job again. Keep it above the longest send; workers send in-progress
    /// acks every half of it.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    /// Jobs delivered and not yet acked, over all workers: the global
    /// in-flight cap (0 counts as 1).
    pub fn max_ack_pending(mut self, jobs: u32) -> Self {
        self.max_ack_pending = jobs.max(1);
        self
    }

    /// How long the broker remembers a `Nats-Msg-Id` to drop duplicates.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// How long [`JetStream::connect`] keeps trying to reach the server.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The stream's name.
    #[must_use]
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The jobs subject.
    #[must_use]
    pub fn jobs_subject_name(&self) -> &str {
        &self.jobs_subject
    }

    /// The subject of events of `kind`.
    #[must_use]
    pub fn event_subject(&self, kind: super::EventKind) -> String {
        format!("{}.{}", self.events_prefix, kind.as_str())
    }

    fn check(&self) -> Result<(), QueueError> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let subject_ok = |s: &str| {
            !s.is_empty()
                && s.split('.').all(|t| {
                    !t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
                })
        };
        if !name_ok(&self.stream) || !name_ok(&self.consumer) || !name_ok(&self.feedback_consumer) {
            return Err(QueueError::Config(
                "stream and consumer names must be A-Z a-z 0-9 - _",
            ));
        }
        if !subject_ok(&self.jobs_subject) || !subject_ok(&self.events_prefix) {
            return Err(QueueError::Config(
                "subjects must be dot-separated tokens without wildcards",
            ));
        }
        let events = format!("{}.", self.events_prefix);
        if self.jobs_subject.starts_with(&events) {
            return Err(QueueError::Config(
                "the jobs subject must not be under the events prefix",
            ));
        }
        Ok(())
    }
}

/// A connection to NATS with the stream and consumers in place. `Clone`
/// and cheap: clones share the connection.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use webpush::queue::{JetStream, JetStreamConfig};
///
/// let js = JetStream::connect("nats://127.0.0.1:4222", JetStreamConfig::new()).await?;
/// let publisher = js.publisher();
/// # let _ = publisher;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct JetStream {
    context: Context,
    config: Arc<JetStreamConfig>,
    jobs: PullConsumer,
    events: PullConsumer,
}

impl core::fmt::Debug for JetStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JetStream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl JetStream {
    /// Connects to the NATS server at `url` (`nats://host:port`, `tls://…`,
    /// user and password in the URL if needed), retrying for
    /// [`connect_timeout`](JetStreamConfig::connect_timeout); afterwards the
    /// client reconnects by itself, forever. Then creates the stream and
    /// both consumers if they are missing. An existing stream or consumer
    /// with other settings is updated to these (subjects, duplicate window,
    /// `ack_wait`, `max_deliver`, `max_ack_pending`); if the server refuses
    /// the update, that is an error.
    ///
    /// # Errors
    /// [`QueueError::Config`] for invalid names, [`QueueError::Connect`]
    /// when the server cannot be reached in time, [`QueueError::Setup`] when
    /// the stream or a consumer cannot be created or updated.
    pub async fn connect(url: &str, config: JetStreamConfig) -> Result<Self, QueueError> {
        config.check()?;
        let client = connect_with_retry(url, config.connect_timeout).await?;
        let context = js::new(client);
        let stream = setup_stream(&context, &config).await?;
        let jobs = setup_consumer(
            &stream,
            &config.consumer,
            &config.jobs_subject,
            consumer_config(&config.consumer, &config.jobs_subject, &config),
            "worker consumer",
        )
        .await?;
        let events_filter = format!("{}.>", config.events_prefix);
        let mut events_config = consumer_config(&config.feedback_consumer, &events_filter, &config);
        events_config.max_deliver = -1;
        events_config.ack_wait = Duration::from_secs(30);
        let events = setup_consumer(
            &stream,
            &config.feedback_consumer,
            &events_filter,
            events_config,
            "feedback consumer",
        )
        .await?;
        Ok(Self {
            context,
            config: Arc::new(config),
            jobs,
            events,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &JetStreamConfig {
        &self.config
    }

    /// A publisher of jobs, with at most 256 PubAcks pending.
    #[must_use]
    pub fn publisher(&self) -> Publisher {
        Publisher {
            context: self.context.clone(),
            subject: self.config.jobs_subject.clone(),
            max_in_flight: 256,
        }
    }

    /// A worker that sends this stream's jobs with `batch` (its retry
    /// policy is replaced by "no retries": the broker retries).
    #[must_use]
    pub fn worker<S: Sender + 'static>(&self, batch: BatchSender<S>) -> Worker<S> {
        let policy = ActionPolicy {
            max_deliver: self.config.max_deliver,
            ..ActionPolicy::default()
        };
        Worker {
            engine: Arc::new(JsEngine {
                context: self.context.clone(),
                consumer: self.jobs.clone(),
                config: Arc::clone(&self.config),
            }),
            batch,
            settings: Settings {
                concurrency: DEFAULT_CONCURRENCY,
                ack_wait: self.config.ack_wait,
                policy,
                pull_wait: Duration::from_secs(5),
                shutdown_timeout: Duration::from_secs(30),
                event_retry: Duration::from_millis(500),
            },
            counters: Arc::default(),
            shutdown: ShutdownHandle::new(),
        }
    }

    /// A reader of the feedback events.
    ///
    /// # Errors
    /// None at present; reserved for engines that must bind first.
    pub async fn feedback(&self, mode: FeedbackMode) -> Result<FeedbackReader, QueueError> {
        Ok(FeedbackReader::new(self.events.clone(), mode))
    }
}

async fn connect_with_retry(url: &str, within: Duration) -> Result<async_nats::Client, QueueError> {
    let deadline = tokio::time::Instant::now() + within;
    let mut delay = Duration::from_millis(100);
    loop {
        let attempt = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5).min(within.max(Duration::from_secs(1))))
            .max_reconnects(None)
            .connect(url)
            .await;
        let now = tokio::time::Instant::now();
        match attempt {
            Ok(client) => return Ok(client),
            // The kind only: the error's own text may name the address.
            Err(e) if now >= deadline => return Err(QueueError::Connect(e.kind().to_string())),
            Err(_) => {
                // The last wait ends at the deadline, for one last attempt.
                tokio::time::sleep(delay.min(deadline - now)).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn setup_stream(
    context: &Context,
    config: &JetStreamConfig,
) -> Result<stream::Stream, QueueError> {
    let setup = |e: &dyn core::fmt::Display| QueueError::Setup {
        what: "stream",
        detail: super::event::escape_reason(&e.to_string()),
    };
    let wanted = stream::Config {
        name: config.stream.clone(),
        subjects: vec![
            config.jobs_subject.clone(),
            format!("{}.>", config.events_prefix),
        ],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        duplicate_window: config.duplicate_window,
        ..Default::default()
    };
    let mut stream = context
        .get_or_create_stream(wanted.clone())
        .await
        .map_err(|e| setup(&e))?;
    let have = &stream.cached_info().config;
    let mut subjects = have.subjects.clone();
    subjects.sort();
    let mut want_subjects = wanted.subjects.clone();
    want_subjects.sort();
    if subjects != want_subjects || have.duplicate_window != wanted.duplicate_window {
        let update = stream::Config {
            subjects: wanted.subjects,
            duplicate_window: wanted.duplicate_window,
            ..have.clone()
        };
        context
            .update_stream(&update)
            .await
            .map_err(|e| setup(&e))?;
        stream.info().await.map_err(|e| setup(&e))?;
    }
    Ok(stream)
}

fn consumer_config(name: &str, filter: &str, config: &JetStreamConfig) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(name.to_owned()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: i64::from(config.max_deliver),
        max_ack_pending: i64::from(config.max_ack_pending),
        filter_subject: filter.to_owned(),
        ..Default::default()
    }
}

async fn setup_consumer(
    stream: &stream::Stream,
    name: &str,
    filter: &str,
    wanted: consumer::pull::Config,
    what: &'static str,
) -> Result<PullConsumer, QueueError> {
    let setup = |e: &dyn core::fmt::Display| QueueError::Setup {
        what,
        detail: super::event::escape_reason(&e.to_string()),
    };
    let consumer: PullConsumer = stream
        .get_or_create_consumer(name, wanted.clone())
        .await
        .map_err(|e| setup(&e))?;
    let have = &consumer.cached_info().config;
    let same = have.ack_wait == wanted.ack_wait
        && have.max_deliver == wanted.max_deliver
        && have.max_ack_pending == wanted.max_ack_pending
        && have.filter_subject == filter
        && have.ack_policy == AckPolicy::Explicit;
    if same {
        return Ok(consumer);
    }
    // Create-or-update on the same durable name.
    stream.create_consumer(wanted).await.map_err(|e| setup(&e))
}

// ---------------------------------------------------------------------------
// The engine behind the worker

pub(crate) struct JsEngine {
    context: Context,
    consumer: PullConsumer,
    config: Arc<JetStreamConfig>,
}

/// How a pulled JetStream message is settled.
pub(crate) struct JsHandle(Acker);

impl Engine for JsEngine {
    type Handle = JsHandle;
    type Batch =
        core::pin::Pin<Box<dyn Stream<Item = Result<Pulled<JsHandle>, QueueError>> + Send>>;

    async fn pull(&self, max: usize, wait: Duration) -> Result<Self::Batch, QueueError> {
        let batch = self
            .consumer
            .batch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(QueueError::broker)?;
        Ok(Box::pin(
            batch.map(|m| m.map_err(QueueError::broker).map(pulled)),
        ))
    }

    async fn publish_event(&self, event: &FeedbackEvent) -> Result<(), QueueError> {
        let subject = self.config.event_subject(event.kind);
        publish_once(&self.context, subject, &event.message_id(), event.to_json())
            .await
            .map(|_| ())
    }
}

/// Delivery count, fallback id and payload of a message, and its acker.
fn pulled(message: js::Message) -> Pulled<JsHandle> {
    let (delivered, sequence) = message.info().map_or((1, 0), |i| {
        (
            u32::try_from(i.delivered.max(1)).unwrap_or(u32::MAX),
            i.stream_sequence,
        )
    });
    let header_id = message
        .headers
        .as_ref()
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str().to_owned())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= super::job::MAX_ID_LEN
                && id.bytes().all(|b| b.is_ascii_graphic())
        });
    let (message, acker) = message.split();
    Pulled {
        payload: message.payload,
        delivered,
        fallback_id: header_id.unwrap_or_else(|| format!("seq:{sequence}")),
        handle: JsHandle(acker),
    }
}

/// A confirmed ack (double ack), tried three times.
async fn confirmed(acker: &Acker, kind: AckKind) -> Result<(), QueueError> {
    let mut last = None;
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200) * attempt).await;
        }
        match acker.double_ack_with(kind).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(QueueError::broker(e)),
        }
    }
    Err(last.unwrap_or_else(|| QueueError::Broker(String::new())))
}

impl Handle for JsHandle {
    async fn ack(&self) -> Result<(), QueueError> {
        confirmed(&self.0, AckKind::Ack).await
    }

    async fn retry_after(&self, delay: Duration) -> Result<(), QueueError> {
        let delay = (!delay.is_zero()).then_some(delay);
        self.0
            .ack_with(AckKind::Nak(delay))
            .await
            .map_err(QueueError::broker)
    }

    async fn give_up(&self) -> Result<(), QueueError> {
        confirmed(&self.0, AckKind::Term).await
    }

    async fn in_progress(&self) -> Result<(), QueueError> {
        self.0
            .ack_with(AckKind::Progress)
            .await
            .map_err(QueueError::broker)
    }
}
