//! Fan-out: one push to each of many subscriptions, with bounded
//! concurrency, retries and cancellation (feature `client`).
//!
//! A [`BatchSender`] wraps a [`PushClient`] and turns a stream of [`Job`]s
//! into a stream of [`Report`]s, one per job, yielded as soon as each is
//! known (not in job order):
//!
//! - jobs are pulled lazily, at most [`concurrency`](BatchSender::concurrency)
//!   at a time, so a batch of a million jobs holds about `concurrency` of
//!   them in memory, and results wait only until the caller takes them;
//! - each job runs as its own task, encryption (CPU work, one P-256 key
//!   agreement) inline on the runtime's worker thread: a multi-thread runtime
//!   spreads the jobs over its workers, so encryption uses every core without
//!   a thread hop per push (`BENCHMARKS.md` has the measurements behind this
//!   choice); requests share the client's connection pool (HTTP/2 where the
//!   service offers it) and VAPID cache;
//! - failures that may pass are retried under a [`RetryPolicy`]: 429 (and
//!   WNS 406), 5xx, timeouts and connection failures, honouring
//!   `Retry-After`; other 4xx never are;
//! - every job pulled from the stream gets exactly one report, whatever
//!   happens: an error, a timeout, a panic in a sender (reported as
//!   [`SendError::InvalidMessage`]`("internal error: …")`), or
//!   cancellation ([`SendError::Cancelled`]).
//!
//! # Retries and duplicates
//!
//! A retry sends the same encrypted request again. A timeout or a dropped
//! connection may strike after the push service accepted the message, so a
//! retry can deliver it twice. With a [`Topic`](crate::request::Topic) the
//! second copy replaces the first at the service if the first is still
//! undelivered, so retrying is safe; without one, the user agent may show
//! both. Use [`RetryPolicy::none`] when a duplicate is worse than a miss.
//!
//! # Feeding a batch from a queue
//!
//! A worker turns its queue consumer into a `Stream` of jobs and acts on each
//! report: acknowledge, delete gone subscriptions, requeue what may pass
//! later. The batch keeps no state beyond the VAPID cache and the connection
//! pool, so scaling past one machine is running more workers, each feeding
//! its share of the queue.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use futures_util::StreamExt;
//! use webpush::batch::{BatchSender, Job, RetryPolicy};
//! use webpush::request::PushOptions;
//! use webpush::{PushClient, Subscription};
//!
//! /// A message taken from the queue.
//! struct Delivery {
//!     id: u64,
//!     subscription: Arc<Subscription>,
//!     payload: Vec<u8>,
//! }
//!
//! async fn worker(client: PushClient, queue: tokio::sync::mpsc::Receiver<Delivery>) {
//!     let batch = BatchSender::new(client)
//!         .concurrency(128)
//!         .retry(RetryPolicy::default().max_attempts(4));
//!     // The queue as a stream of jobs; it ends when every sender is gone.
//!     let jobs = futures_util::stream::unfold(queue, |mut queue| async move {
//!         let d = queue.recv().await?;
//!         let options = PushOptions::new().ttl(3600);
//!         Some((Job::new(d.id, d.subscription, d.payload, options), queue))
//!     });
//!     let mut reports = batch.send_all(jobs);
//!     // `reports.cancel_handle()` stops it from elsewhere, e.g. on SIGTERM.
//!     while let Some(report) = reports.next().await {
//!         match &report.result {
//!             Ok(_) => { /* acknowledge report.key */ }
//!             Err(e) if e.is_gone() => { /* delete the subscription, acknowledge */ }
//!             Err(e) if e.is_retryable() => {
//!                 /* requeue report.key, not before e.retry_after() */
//!             }
//!             Err(SendError::Cancelled) => { /* requeue report.key */ }
//!             Err(e) => eprintln!("push {} failed: {e}", report.key),
//!         }
//!     }
//! }
//! # use webpush::outcome::SendError;
//! ```

use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{DefaultSender, PushClient};
use crate::outcome::{Delivered, SendError};
use crate::request::PushOptions;
use crate::sender::{BoxFuture, Sender, TransportError, TransportErrorKind};
use crate::subscription::Subscription;

/// Jobs in flight unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// The error reported for a panic inside the batch's own task.
const PANICKED: SendError = SendError::InvalidMessage("internal error: the push task panicked");

// ---------------------------------------------------------------------------
// Jobs and reports

/// One push of a batch: who to send what to, and a key of the caller's
/// choosing that comes back in the [`Report`].
///
/// `Debug` shows the payload's length, not its content.
#[non_exhaustive]
pub struct Job<K> {
    /// The caller's name for this job (a queue message id, a user id, …).
    pub key: K,
    /// Where to send it. Shared: one subscription may take many jobs.
    pub subscription: Arc<Subscription>,
    /// The plaintext (at most 3993 octets); empty for a "tickle" push with
    /// no body. Shared: one payload may go to many subscriptions.
    pub payload: Bytes,
    /// TTL, urgency, topic and padding.
    pub options: PushOptions,
}

impl<K> Job<K> {
    /// A job. `subscription` may be a `Subscription` or an
    /// `Arc<Subscription>`; `payload` anything that converts into [`Bytes`]
    /// (`Vec<u8>`, `&'static [u8]`, `String`, `Bytes`).
    pub fn new(
        key: K,
        subscription: impl Into<Arc<Subscription>>,
        payload: impl Into<Bytes>,
        options: PushOptions,
    ) -> Self {
        Self {
            key,
            subscription: subscription.into(),
            payload: payload.into(),
            options,
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for Job<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("key", &self.key)
            .field("subscription", &self.subscription)
            .field("payload_len", &self.payload.len())
            .field("options", &self.options)
            .finish()
    }
}

/// What became of one [`Job`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Report<K> {
    /// The job's key.
    pub key: K,
    /// The outcome of the last attempt, or why there was none
    /// ([`SendError::Cancelled`], a policy, encryption or VAPID error).
    pub result: Result<Delivered, SendError>,
    /// Requests handed to the sender: 0 when nothing was sent, 1 without
    /// retries.
    pub attempts: u32,
    /// From when the job was pulled to its report. Waits between attempts
    /// count as the delay asked of the [`Sleeper`] (with the default
    /// [`TokioSleeper`], as long as they took).
    pub elapsed: Duration,
}

impl<K> Report<K> {
    /// Whether the push service accepted the message.
    #[must_use]
    pub const fn is_delivered(&self) -> bool {
        self.result.is_ok()
    }

    /// Whether the subscription is gone (404, 410): delete it.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        self.error().is_some_and(SendError::is_gone)
    }

    /// Whether the job was not sent because the batch was cancelled.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self.result, Err(SendError::Cancelled))
    }

    /// The error, if the message was not delivered.
    #[must_use]
    pub fn error(&self) -> Option<&SendError> {
        self.result.as_ref().err()
    }

    /// The result, dropping the rest.
    ///
    /// # Errors
    /// The job's [`SendError`].
    pub fn into_result(self) -> Result<Delivered, SendError> {
        self.result
    }
}

// ---------------------------------------------------------------------------
// Retry policy

/// When and how soon a failed push is sent again.
///
/// Retried: whatever [`SendError::is_retryable`] accepts, that is 429 and
/// WNS 406 ([`SendError::RateLimited`]), 5xx, 408, 425 and transport errors
/// (timeout, connection, dropped connection). Never retried: other 4xx
/// (gone, too large, VAPID refused, bad request), TLS and policy failures.
///
/// The wait before retry `n` (1, 2, …) is "full jitter": a uniformly random
/// delay between zero and `min(max_delay, base_delay × 2^(n−1))`. When the
/// service sent `Retry-After`, the wait is that delay **plus** the jitter,
/// so that jobs told the same `Retry-After` do not all return at once; a
/// `Retry-After` longer than [`max_retry_after`](Self::max_retry_after) is
/// not waited for: the error is reported, for the caller to requeue.
///
/// No retry starts after the per-job [`deadline`](Self::deadline) would
/// have passed at its start, and an attempt still running at the deadline is
/// abandoned with a timeout error.
///
/// Defaults: 3 attempts, base delay 1 s, max delay 30 s, max `Retry-After`
/// 60 s, deadline 120 s. See the [module documentation](self) for what a
/// retry means for duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            deadline: Some(Duration::from_secs(120)),
        }
    }
}

impl RetryPolicy {
    /// The defaults: 3 attempts, base delay 1 s, max delay 30 s, max
    /// `Retry-After` 60 s, deadline 120 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// One attempt per job, no retries (the deadline of 120 s still bounds
    /// it).
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// Attempts per job, the first included (default 3; 0 counts as 1).
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = if attempts == 0 { 1 } else { attempts };
        self
    }

    /// The backoff before the first retry, doubled for each next one
    /// (default 1 s).
    pub const fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest backoff (default 30 s).
    pub const fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest `Retry-After` waited for (default 60 s); a longer one
    /// ends the job with its error.
    pub const fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// The time a job may take, from when it is pulled, attempts and waits
    /// included (default 120 s).
    pub const fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// No per-job deadline: only the attempts and the sender's timeout
    /// bound a job.
    pub const fn no_deadline(mut self) -> Self {
        self.deadline = None;
        self
    }

    /// Attempts per job.
    #[must_use]
    pub const fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The per-job deadline, if any.
    #[must_use]
    pub const fn deadline_duration(&self) -> Option<Duration> {
        self.deadline
    }

    /// The wait before sending again after `attempts` attempts ended in
    /// `error` at `elapsed` into the job, or `None` for no retry. `random`
    /// picks the jitter.
    pub(crate) fn retry_delay(
        &self,
        error: &SendError,
        attempts: u32,
        elapsed: Duration,
        random: u64,
    ) -> Option<Duration> {
        if !error.is_retryable() || attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(31);
        let cap = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(match cap_nanos.checked_add(1) {
            Some(n) => random % n,
            None => random,
        });
        let delay = match error.retry_after() {
            Some(wait) if wait > self.max_retry_after => return None,
            Some(wait) => wait.saturating_add(jitter),
            None => jitter,
        };
        match self.deadline {
            Some(deadline) if elapsed.saturating_add(delay) >= deadline => None,
            _ => Some(delay),
        }
    }
}

// ---------------------------------------------------------------------------
// Time

/// How the batch waits between attempts. The default, [`TokioSleeper`], is
/// `tokio::time::sleep` (so `tokio::time::pause` applies to it); tests can
/// plug in one that records the delays and returns at once.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use webpush::batch::Sleeper;
/// use webpush::sender::BoxFuture;
///
/// /// Records every delay and does not wait.
/// #[derive(Clone, Default)]
/// struct Recorder(Arc<Mutex<Vec<Duration>>>);
///
/// impl Sleeper for Recorder {
///     fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
///         self.0.lock().unwrap().push(delay);
///         Box::pin(async {})
///     }
/// }
///
/// let recorder = Recorder::default();
/// // BatchSender::new(client).sleeper(recorder.clone()); then:
/// assert!(recorder.0.lock().unwrap().is_empty());
/// ```
pub trait Sleeper: Send + Sync + 'static {
    /// A future that completes after `delay`.
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()>;
}

/// [`Sleeper`] on `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// A job's elapsed time, with waits counted as requested.
struct JobClock {
    started: Instant,
    slept: Duration,
    requested: Duration,
}

impl JobClock {
    fn start() -> Self {
        Self {
            started: Instant::now(),
            slept: Duration::ZERO,
            requested: Duration::ZERO,
        }
    }

    fn elapsed(&self) -> Duration {
        self.started
            .elapsed()
            .saturating_sub(self.slept)
            .saturating_add(self.requested)
    }

    fn waited(&mut self, requested: Duration, actual: Duration) {
        self.slept = self.slept.saturating_add(actual);
        self.requested = self.requested.saturating_add(requested);
    }
}

/// Jitter: SplitMix64 over an atomic counter seeded from the OS (also the
/// queue worker's, for its retry delays).
#[derive(Debug)]
pub(crate) struct Jitter(AtomicU64);

impl Jitter {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    pub(crate) fn new() -> Self {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            // Jitter needs no secrecy: the clock will do.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            seed = u64::try_from(nanos & u128::from(u64::MAX))
                .unwrap_or_default()
                .to_le_bytes();
        }
        Self(AtomicU64::new(u64::from_le_bytes(seed)))
    }

    pub(crate) fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(Self::GAMMA, Ordering::Relaxed)
            .wrapping_add(Self::GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

// ---------------------------------------------------------------------------
// Cancellation

/// Cancels a batch: no more jobs are pulled, jobs pulled but not yet sent
/// are reported [`SendError::Cancelled`], jobs waiting to be retried report
/// their last error, and requests already sent run to their end (bounded by
/// the sender's timeout and the policy's deadline). The batch's stream then
/// ends.
///
/// `Clone` and cheap; every clone cancels the same batches. Cancelling
/// cannot be undone.
#[derive(Clone)]
pub struct CancelHandle {
    inner: Arc<watch::Sender<bool>>,
}

impl Default for CancelHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelHandle {
    /// A handle not cancelled yet. Give it to
    /// [`BatchSender::cancel_with`] to stop several batches at once.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Cancels.
    pub fn cancel(&self) {
        self.inner.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        *self.inner.borrow()
    }

    /// Completes once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.inner.subscribe();
        // Fails only when the sender is gone, and `self` holds it.
        let _ = rx.wait_for(|&cancelled| cancelled).await;
    }

    /// `Some(output)` of `future`, or `None` if cancelled first.
    async fn or_cancelled<F: Future>(&self, future: F) -> Option<F::Output> {
        if self.is_cancelled() {
            return None;
        }
        let cancelled = pin!(self.cancelled());
        match select(cancelled, pin!(future)).await {
            Either::Left(((), _)) => None,
            Either::Right((output, _)) => Some(output),
        }
    }
}

// ---------------------------------------------------------------------------
// The sender

/// Sends many pushes: see the [module documentation](self).
///
/// `Clone` and cheap: clones share the client (connection pool, VAPID
/// cache).
pub struct BatchSender<S = DefaultSender> {
    client: PushClient<S>,
    concurrency: usize,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    cancel: Option<CancelHandle>,
    jitter: Arc<Jitter>,
}

impl<S> Clone for BatchSender<S> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            concurrency: self.concurrency,
            retry: self.retry.clone(),
            sleeper: Arc::clone(&self.sleeper),
            cancel: self.cancel.clone(),
            jitter: Arc::clone(&self.jitter),
        }
    }
}

impl<S> fmt::Debug for BatchSender<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchSender")
            .field("client", &self.client)
            .field("concurrency", &self.concurrency)
            .field("retry", &self.retry)
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

impl<S: Sender + 'static> From<PushClient<S>> for BatchSender<S> {
    fn from(client: PushClient<S>) -> Self {
        Self::new(client)
    }
}

impl<S: Sender + 'static> BatchSender<S> {
    /// A batch sender on `client`, with [`DEFAULT_CONCURRENCY`] jobs in
    /// flight, the default [`RetryPolicy`] and [`TokioSleeper`].
    #[must_use]
    pub fn new(client: PushClient<S>) -> Self {
        Self {
            client,
            concurrency: DEFAULT_CONCURRENCY,
            retry: RetryPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
            cancel: None,
            jitter: Arc::new(Jitter::new()),
        }
    }

    /// Jobs in flight at once, waits between retries included (default
    /// [`DEFAULT_CONCURRENCY`]; 0 counts as 1). Also the number of jobs
    /// pulled ahead of their reports.
    #[must_use]
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs.max(1);
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How to wait between attempts (default [`TokioSleeper`]).
    #[must_use]
    pub fn sleeper(mut self, sleeper: impl Sleeper) -> Self {
        self.sleeper = Arc::new(sleeper);
        self
    }

    /// Makes every batch of this sender stop when `handle` is cancelled
    /// (default: each batch has its own handle, see
    /// [`Batch::cancel_handle`]).
    #[must_use]
    pub fn cancel_with(mut self, handle: CancelHandle) -> Self {
        self.cancel = Some(handle);
        self
    }

    /// The client.
    #[must_use]
    pub const fn client(&self) -> &PushClient<S> {
        &self.client
    }

    /// Sends every job of `jobs`, pulling them as slots free up, and yields
    /// one [`Report`] per job pulled, as soon as it is known.
    ///
    /// Must be polled inside a tokio runtime (multi-threaded for
    /// encryption to use every core). Dropping the [`Batch`] aborts what is
    /// in flight, without reports; [cancel](Batch::cancel) it to get them.
    pub fn send_all<K, St>(&self, jobs: St) -> Batch<K>
    where
        K: Send + 'static,
        St: Stream<Item = Job<K>> + Send + 'static,
    {
        let cancel = self.cancel.clone().unwrap_or_default();
        let run = Arc::new(Run {
            client: self.client.clone(),
            retry: self.retry.clone(),
            sleeper: Arc::clone(&self.sleeper),
            cancel: cancel.clone(),
            jitter: Arc::clone(&self.jitter),
        });
        let stop = cancel.clone();
        let reports = jobs
            .take_until(async move { stop.cancelled().await })
            .map(move |job| run_one(Arc::clone(&run), job))
            .buffer_unordered(self.concurrency);
        Batch {
            reports: Box::pin(reports),
            cancel,
        }
    }

    /// [`send_all`](Self::send_all) for an iterator of jobs.
    pub fn send_iter<K, I>(&self, jobs: I) -> Batch<K>
    where
        K: Send + 'static,
        I: IntoIterator<Item = Job<K>>,
        I::IntoIter: Send + 'static,
    {
        self.send_all(futures_util::stream::iter(jobs))
    }

    /// One payload, with the same options, to each subscription (a
    /// `Subscription` or an `Arc<Subscription>`), reported under its key.
    pub fn send_to_many<K, T, I>(
        &self,
        subscriptions: I,
        payload: impl Into<Bytes>,
        options: PushOptions,
    ) -> Batch<K>
    where
        K: Send + 'static,
        T: Into<Arc<Subscription>>,
        I: IntoIterator<Item = (K, T)>,
        I::IntoIter: Send + 'static,
    {
        let payload = payload.into();
        let jobs = subscriptions
            .into_iter()
            .map(move |(key, sub)| Job::new(key, sub, payload.clone(), options.clone()));
        self.send_iter(jobs)
    }
}

/// The reports of a batch: a `Stream` of [`Report`]s, one per job pulled,
/// in the order they complete. Ends when the jobs end (or the batch is
/// cancelled) and every pulled job is reported.
#[must_use = "a batch does nothing unless polled"]
pub struct Batch<K> {
    reports: Pin<Box<dyn Stream<Item = Report<K>> + Send>>,
    cancel: CancelHandle,
}

impl<K> fmt::Debug for Batch<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

impl<K> Batch<K> {
    /// A handle that cancels this batch from anywhere.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Cancels this batch: see [`CancelHandle`]. Keep polling to get the
    /// remaining reports.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The next report, or `None` once every pulled job is reported:
    /// `StreamExt::next` without importing it.
    pub async fn next_report(&mut self) -> Option<Report<K>> {
        self.reports.next().await
    }
}

impl<K> Stream for Batch<K> {
    type Item = Report<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Report<K>>> {
        self.reports.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.reports.size_hint()
    }
}

// ---------------------------------------------------------------------------
// One job

/// What every job of one batch shares.
struct Run<S> {
    client: PushClient<S>,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    cancel: CancelHandle,
    jitter: Arc<Jitter>,
}

/// A job's result, without its key.
struct Outcome {
    result: Result<Delivered, SendError>,
    attempts: u32,
    elapsed: Duration,
}

/// Runs `job` on its own task and reports it, whatever happens there.
async fn run_one<S: Sender + 'static, K>(run: Arc<Run<S>>, job: Job<K>) -> Report<K> {
    let Job {
        key,
        subscription,
        payload,
        options,
    } = job;
    let started = Instant::now();
    let report = |result, attempts, elapsed| Report {
        key,
        result,
        attempts,
        elapsed,
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return report(
            Err(SendError::InvalidMessage(
                "internal error: a batch must run inside a tokio runtime",
            )),
            0,
            started.elapsed(),
        );
    };
    let task = AbortOnDrop(runtime.spawn(run_job(run, subscription, payload, options)));
    match task.await {
        Ok(o) => report(o.result, o.attempts, o.elapsed),
        Err(e) if e.is_panic() => report(Err(PANICKED), 0, started.elapsed()),
        // The runtime is shutting down.
        Err(_) => report(Err(SendError::Cancelled), 0, started.elapsed()),
    }
}

/// Prepares once, then sends until delivered, not retryable, out of
/// attempts or out of time.
async fn run_job<S: Sender + 'static>(
    run: Arc<Run<S>>,
    subscription: Arc<Subscription>,
    payload: Bytes,
    options: PushOptions,
) -> Outcome {
    let mut clock = JobClock::start();
    let done = |result, attempts, clock: &JobClock| Outcome {
        result,
        attempts,
        elapsed: clock.elapsed(),
    };
    if run.cancel.is_cancelled() {
        return done(Err(SendError::Cancelled), 0, &clock);
    }
    // Inline, on this worker thread: one key agreement (70-450 µs by
    // backend) costs less here than the two context switches of a hop to
    // the blocking pool, and a multi-thread runtime already runs the jobs'
    // tasks on every core. A panic is caught by `run_one`'s join.
    let prepared = run.client.prepare(&subscription, &payload, &options);
    let mut request = match prepared {
        Ok(request) => request,
        Err(e) => return done(Err(e), 0, &clock),
    };

    let mut attempts = 0;
    loop {
        if attempts == 0 && run.cancel.is_cancelled() {
            return done(Err(SendError::Cancelled), 0, &clock);
        }
        let remaining = run
            .retry
            .deadline
            .map(|d| d.saturating_sub(clock.elapsed()));
        if remaining == Some(Duration::ZERO) {
            // Only before the first attempt: encryption took the whole time.
            return done(Err(deadline_elapsed()), attempts, &clock);
        }
        let (to_send, spare) = if attempts + 1 < run.retry.max_attempts {
            (clone_request(&request), Some(request))
        } else {
            (request, None)
        };
        attempts += 1;
        let send = AssertUnwindSafe(run.client.send_request(to_send)).catch_unwind();
        let result = match remaining {
            Some(limit) => tokio::time::timeout(limit, send)
                .await
                .unwrap_or_else(|_| Ok(Err(deadline_elapsed()))),
            None => send.await,
        }
        .unwrap_or(Err(PANICKED));
        let error = match result {
            Ok(delivered) => return done(Ok(delivered), attempts, &clock),
            Err(e) => e,
        };
        let delay = run
            .retry
            .retry_delay(&error, attempts, clock.elapsed(), run.jitter.next());
        let (Some(delay), Some(spare)) = (delay, spare) else {
            return done(Err(error), attempts, &clock);
        };
        let before = Instant::now();
        let waited = run.cancel.or_cancelled(run.sleeper.sleep(delay)).await;
        let actual = before.elapsed();
        clock.waited(if waited.is_some() { delay } else { actual }, actual);
        let late = run.retry.deadline.is_some_and(|d| clock.elapsed() >= d);
        if waited.is_none() || late {
            return done(Err(error), attempts, &clock);
        }
        request = spare;
    }
}

/// The same request again (the body is already encrypted).
fn clone_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The job's deadline passed during an attempt.
#[derive(Debug)]
struct DeadlineElapsed;

impl fmt::Display for DeadlineElapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the batch job's deadline elapsed")
    }
}

impl std::error::Error for DeadlineElapsed {}

fn deadline_elapsed() -> SendError {
    SendError::Transport(TransportError::new(
        TransportErrorKind::Timeout,
        Some(Box::new(DeadlineElapsed)),
    ))
}

/// A `JoinHandle` that aborts its task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
