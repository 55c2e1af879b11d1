//! The engine-neutral worker loop: pulls jobs through the seam, runs them
//! through a [`BatchSender`] (no retries of its own: the broker retries),
//! turns each report into an [`Action`] and settles it with the broker,
//! events first. Also the worker's statistics and its shutdown handle.
//!
//! Memory is bounded: at most `concurrency` jobs are held at a time (a
//! semaphore slot per job, released after its ack), channels are bounded by
//! the same number, and nothing of a job is kept once it is settled.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::batch::{BatchSender, CancelHandle, Jitter, Job, RetryPolicy};
use crate::sender::Sender;

use super::action::{self, Action, ActionPolicy, RetryReason};
use super::event::FeedbackEvent;
use super::job::PushJob;
use super::seam::{Engine, Handle, Pulled};

/// What a worker did so far. A `Copy` snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Jobs the push service accepted (2xx), acknowledged.
    pub delivered: u64,
    /// Jobs whose subscription is gone (404, 410): event published, acked.
    pub gone: u64,
    /// Jobs handed back to the broker to be delivered again later (429,
    /// 5xx, timeouts, 401/403, or an event that could not be published).
    pub retried: u64,
    /// Jobs that cannot succeed (400, 413, malformed, …): event, term.
    pub failed: u64,
    /// Dead letters: still failing at the last delivery: event, term.
    pub dead: u64,
    /// 401/403 answers (VAPID refused), also counted in `retried`.
    pub vapid_rejected: u64,
    /// Jobs held now: pulled and not yet settled.
    pub in_flight: u64,
    /// Broker requests that failed (pull, ack, publish of an event).
    pub broker_errors: u64,
}

/// The live counters behind [`WorkerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    gone: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    dead: AtomicU64,
    vapid_rejected: AtomicU64,
    in_flight: AtomicU64,
    broker_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WorkerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerStats {
            delivered: get(&self.delivered),
            gone: get(&self.gone),
            retried: get(&self.retried),
            failed: get(&self.failed),
            dead: get(&self.dead),
            vapid_rejected: get(&self.vapid_rejected),
            in_flight: get(&self.in_flight),
            broker_errors: get(&self.broker_errors),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Reads a running worker's [`WorkerStats`] from anywhere. `Clone` and
/// cheap.
#[derive(Debug, Clone)]
pub struct StatsHandle(pub(crate) Arc<Counters>);

impl StatsHandle {
    /// The counters now.
    #[must_use]
    pub fn get(&self) -> WorkerStats {
        self.0.snapshot()
    }
}

/// Stops a worker gracefully: it stops pulling, naks (without delay) what
/// it pulled but did not start, lets the requests in flight finish and
/// settles them, then [`run`](super::Worker::run) returns. `Clone` and
/// cheap; asking twice is harmless.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(CancelHandle);

impl ShutdownHandle {
    /// A handle not triggered yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the worker to stop.
    pub fn shutdown(&self) {
        self.0.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes once shutdown is requested.
    pub async fn requested(&self) {
        self.0.cancelled().await;
    }
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) concurrency: usize,
    pub(crate) ack_wait: Duration,
    pub(crate) policy: ActionPolicy,
    pub(crate) pull_wait: Duration,
    pub(crate) shutdown_timeout: Duration,
    /// The first wait before publishing a feedback event again.
    pub(crate) event_retry: Duration,
}

/// A job held by this worker: its broker handle, what the events need, a
/// keep-alive timer and its slot. Dropping it frees both.
struct Held<H> {
    handle: Arc<H>,
    delivered: u32,
    job_id: String,
    endpoint: String,
    _keep_alive: AbortOnDrop,
    _slot: Option<OwnedSemaphorePermit>,
}

/// Runs until shutdown; returns the final counters.
pub(crate) async fn run<E: Engine, S: Sender + 'static>(
    engine: Arc<E>,
    batch: BatchSender<S>,
    settings: Settings,
    counters: Arc<Counters>,
    shutdown: ShutdownHandle,
) -> WorkerStats {
    let concurrency = settings.concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let (job_tx, job_rx) = mpsc::channel::<(Held<E::Handle>, PushJob)>(concurrency);
    let (bad_tx, mut bad_rx) = mpsc::channel::<(Held<E::Handle>, Action)>(concurrency);
    let job_rx = Arc::new(tokio::sync::Mutex::new(job_rx));
    let jobs = futures_util::stream::unfold(Arc::clone(&job_rx), |rx| async move {
        let next = rx.lock().await.recv().await;
        next.map(|(held, job)| {
            let (subscription, payload, options) = job.into_parts();
            (Job::new(held, subscription, payload, options), rx)
        })
    });
    let batch = batch.concurrency(concurrency).retry(RetryPolicy::none());
    let mut reports = batch.send_all(jobs);
    let cancel = reports.cancel_handle();
    let puller = AbortOnDrop(tokio::spawn(pull_loop(
        Arc::clone(&engine),
        slots,
        job_tx,
        bad_tx,
        settings.clone(),
        Arc::clone(&counters),
        shutdown.clone(),
    )));
    let jitter = Jitter::new();
    let mut finishing = FuturesUnordered::new();
    let (mut reports_done, mut bad_done, mut stopping) = (false, false, false);
    let grace = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(grace);
    loop {
        if reports_done && bad_done && finishing.is_empty() {
            break;
        }
        tokio::select! {
            () = shutdown.requested(), if !stopping => {
                stopping = true;
                cancel.cancel();
                grace.as_mut().reset(Instant::now() + settings.shutdown_timeout);
            }
            report = reports.next(), if !reports_done => match report {
                Some(report) => {
                    let held: Held<E::Handle> = report.key;
                    let action = action::decide(
                        &held.job_id,
                        &held.endpoint,
                        &report.result,
                        held.delivered,
                        &settings.policy,
                        jitter.next(),
                    );
                    finishing.push(finish(Arc::clone(&engine), held, action, Arc::clone(&counters), &settings));
                }
                None => reports_done = true,
            },
            bad = bad_rx.recv(), if !bad_done => match bad {
                Some((held, action)) => {
                    finishing.push(finish(Arc::clone(&engine), held, action, Arc::clone(&counters), &settings));
                }
                None => bad_done = true,
            },
            Some(()) = finishing.next(), if !finishing.is_empty() => {}
            () = &mut grace, if stopping => {
                warn("shutdown timeout: jobs still running are left to the broker's redelivery", &finishing.len());
                break;
            }
        }
    }
    drop(finishing);
    drop(reports);
    drop(puller);
    // Pulled but never handed to the batch: back to the broker at once.
    let mut rx = job_rx.lock().await;
    while let Ok((held, _job)) = rx.try_recv() {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            held.handle.retry_after(Duration::ZERO),
        )
        .await;
        counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
    counters.snapshot()
}

/// Pulls as many jobs as there are free slots, parses them, and hands good
/// ones to the batch and bad ones straight to settling.
async fn pull_loop<E: Engine>(
    engine: Arc<E>,
    slots: Arc<Semaphore>,
    job_tx: mpsc::Sender<(Held<E::Handle>, PushJob)>,
    bad_tx: mpsc::Sender<(Held<E::Handle>, Action)>,
    settings: Settings,
    counters: Arc<Counters>,
    shutdown: ShutdownHandle,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let keep_alive = (settings.ack_wait / 2).max(Duration::from_millis(500));
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => p,
            () = shutdown.requested() => return,
        };
        let Ok(mut permit) = permit else { return };
        let more = slots.available_permits();
        let more = u32::try_from(more).unwrap_or(u32::MAX);
        if let Ok(extra) = Arc::clone(&slots).try_acquire_many_owned(more)
            && more > 0
        {
            permit.merge(extra);
        }
        let wanted = permit.num_permits();
        let started = Instant::now();
        let pulled = tokio::select! {
            b = engine.pull(wanted, settings.pull_wait) => b,
            () = shutdown.requested() => return,
        };
        let mut batch = match pulled {
            Ok(batch) => batch,
            Err(e) => {
                bump(&counters.broker_errors);
                warn("pull failed; retrying", &e);
                drop(permit);
                if sleep_or_shutdown(backoff.next(), &shutdown).await {
                    return;
                }
                continue;
            }
        };
        let mut got = 0usize;
        loop {
            let item = tokio::select! {
                item = batch.next() => item,
                () = shutdown.requested() => {
                    nak_rest(&mut batch).await;
                    return;
                }
            };
            match item {
                None => break,
                Some(Err(e)) => {
                    bump(&counters.broker_errors);
                    warn("pull interrupted; retrying", &e);
                    drop(batch);
                    if sleep_or_shutdown(backoff.next(), &shutdown).await {
                        return;
                    }
                    break;
                }
                Some(Ok(pulled)) => {
                    got += 1;
                    backoff.reset();
                    counters.in_flight.fetch_add(1, Ordering::Relaxed);
                    let slot = permit.split(1);
                    let sent = dispatch(pulled, slot, keep_alive, &job_tx, &bad_tx).await;
                    if !sent {
                        return;
                    }
                }
            }
        }
        drop(permit);
        // An empty answer that came back at once (the broker refused the
        // request, e.g. max_ack_pending reached): wait a little, never spin.
        if got == 0
            && started.elapsed() < Duration::from_millis(50)
            && sleep_or_shutdown(Duration::from_millis(100), &shutdown).await
        {
            return;
        }
    }
}

/// Parses one pulled message and sends it on; `false` once the loop is gone.
async fn dispatch<H: Handle>(
    pulled: Pulled<H>,
    slot: Option<OwnedSemaphorePermit>,
    keep_alive: Duration,
    job_tx: &mpsc::Sender<(Held<H>, PushJob)>,
    bad_tx: &mpsc::Sender<(Held<H>, Action)>,
) -> bool {
    let Pulled {
        payload,
        delivered,
        fallback_id,
        handle,
    } = pulled;
    let handle = Arc::new(handle);
    let parsed = PushJob::from_json(&payload);
    drop(payload);
    let held = |job_id: String, endpoint: String| Held {
        _keep_alive: keep_alive_task(Arc::clone(&handle), keep_alive),
        handle: Arc::clone(&handle),
        delivered,
        job_id,
        endpoint,
        _slot: slot,
    };
    match parsed {
        Ok(job) => {
            let endpoint = job.subscription().endpoint().uri().to_string();
            let held = held(job.id().to_owned(), endpoint);
            job_tx.send((held, job)).await.is_ok()
        }
        Err(e) => {
            let action = action::bad_job(&fallback_id, &e, delivered);
            bad_tx
                .send((held(fallback_id, String::new()), action))
                .await
                .is_ok()
        }
    }
}

/// Settles one job: events first (and only once they are stored), then the
/// ack, nak or term; then the counters.
async fn finish<E: Engine>(
    engine: Arc<E>,
    held: Held<E::Handle>,
    action: Action,
    counters: Arc<Counters>,
    settings: &Settings,
) {
    let policy = &settings.policy;
    let handle = &held.handle;
    let fallback = policy.base_delay.max(Duration::from_secs(1));
    match action {
        Action::Ack => {
            settle(handle.ack(), &counters).await;
            bump(&counters.delivered);
        }
        Action::Retry { delay, reason } => {
            settle(handle.retry_after(delay), &counters).await;
            match reason {
                RetryReason::NotStarted => {}
                RetryReason::VapidRejected => {
                    bump(&counters.vapid_rejected);
                    bump(&counters.retried);
                    warn(
                        "VAPID rejected by the push service (401/403): check the key and subject; the job is retried later",
                        &origin(&held.endpoint),
                    );
                }
                _ => bump(&counters.retried),
            }
        }
        Action::AckAfterEvent(event) | Action::Terminate(event) | Action::DeadLetter(event) => {
            let kind = event.kind;
            if publish(&*engine, &event, &counters, settings.event_retry).await {
                if kind == super::EventKind::Gone {
                    settle(handle.ack(), &counters).await;
                    bump(&counters.gone);
                } else {
                    settle(handle.give_up(), &counters).await;
                    bump(if kind == super::EventKind::Dead {
                        &counters.dead
                    } else {
                        &counters.failed
                    });
                }
            } else {
                // The event is not stored: the job must come back.
                settle(handle.retry_after(fallback), &counters).await;
                bump(&counters.retried);
            }
        }
    }
    counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(held);
}

/// Publishes an event, retrying a few times (about 7 s in all).
async fn publish<E: Engine>(
    engine: &E,
    event: &FeedbackEvent,
    counters: &Counters,
    first_wait: Duration,
) -> bool {
    let mut delay = first_wait;
    for attempt in 0..5 {
        match engine.publish_event(event).await {
            Ok(()) => return true,
            Err(e) => {
                bump(&counters.broker_errors);
                warn("publishing a feedback event failed", &e);
                if attempt < 4 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
    false
}

/// An ack, nak or term (the engine retries confirmed ones itself); a
/// failure is counted and logged. If it never lands, the broker delivers
/// the job again after the ack wait.
async fn settle<F>(call: F, counters: &Counters)
where
    F: Future<Output = Result<(), super::QueueError>>,
{
    if let Err(e) = call.await {
        bump(&counters.broker_errors);
        warn(
            "settling a job with the broker failed; it will be redelivered",
            &e,
        );
    }
}

/// Naks what the current pull still brings, for at most one second.
async fn nak_rest<B, H>(batch: &mut B)
where
    B: Stream<Item = Result<Pulled<H>, super::QueueError>> + Unpin,
    H: Handle,
{
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(pulled)) = batch.next().await {
            let _ = pulled.handle.retry_after(Duration::ZERO).await;
        }
    })
    .await;
}

/// Sends in-progress acks every `every` while the job is held.
fn keep_alive_task<H: Handle>(handle: Arc<H>, every: Duration) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let _ = handle.in_progress().await;
        }
    }))
}

/// `true` if shutdown came first.
async fn sleep_or_shutdown(delay: Duration, shutdown: &ShutdownHandle) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = shutdown.requested() => true,
    }
}

fn origin(endpoint: &str) -> String {
    crate::subscription::Endpoint::parse(endpoint)
        .map_or_else(|_| String::from("?"), |e| e.origin())
}

#[cfg(feature = "tracing")]
fn warn(message: &'static str, detail: &dyn fmt::Display) {
    tracing::warn!(detail = %detail, "{message}");
}

#[cfg(not(feature = "tracing"))]
fn warn(_: &'static str, _: &dyn fmt::Display) {}

/// Doubling delays between `min` and `max`.
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    const fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    fn next(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    const fn reset(&mut self) {
        self.next = self.min;
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Future for AbortOnDrop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

#[cfg(test)]
mod tests;
