//! The public worker on JetStream: builder settings, handles, and `run`,
//! which hands the JetStream engine to the engine-neutral loop.

use std::sync::Arc;
use std::time::Duration;

use crate::batch::BatchSender;
use crate::sender::Sender;

use super::super::QueueError;
use super::super::worker::{self, Counters, Settings, ShutdownHandle, StatsHandle, WorkerStats};
use super::JsEngine;

/// Sends the stream's jobs: pulls from the shared durable consumer, runs a
/// [`BatchSender`] over them and settles each with the broker (see the
/// [module documentation](crate::queue) for the table). Any number of workers, in
/// any number of processes, can share one consumer.
///
/// ```no_run
/// # async fn run(js: webpush::queue::JetStream, client: webpush::PushClient) -> Result<(), Box<dyn std::error::Error>> {
/// use webpush::batch::BatchSender;
///
/// let worker = js.worker(BatchSender::new(client)).concurrency(128);
/// let shutdown = worker.shutdown_handle();
/// let stats = worker.stats_handle();
/// tokio::spawn(async move {
///     // On SIGTERM in a real program; here after an hour.
///     tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
///     shutdown.shutdown();
/// });
/// let done = worker.run().await?;
/// println!("delivered {}, gone {} (now {:?})", done.delivered, done.gone, stats.get());
/// # Ok(())
/// # }
/// ```
pub struct Worker<S> {
    pub(super) engine: Arc<JsEngine>,
    pub(super) batch: BatchSender<S>,
    pub(super) settings: Settings,
    pub(super) counters: Arc<Counters>,
    pub(super) shutdown: ShutdownHandle,
}

impl<S> core::fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .field("stats", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl<S: Sender + 'static> Worker<S> {
    /// Jobs held at once: the pull size and the batch's concurrency
    /// (default 64; 0 counts as 1). The consumer's `max_ack_pending` caps
    /// all workers together.
    #[must_use]
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.settings.concurrency = jobs.max(1);
        self
    }

    /// The backoff for retryable failures without `Retry-After`: between
    /// half and all of `min × 2^(delivery−1)`, at most `max` (default 1 s
    /// and 300 s).
    #[must_use]
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.settings.policy.base_delay = min;
        self.settings.policy.max_delay = max.max(min);
        self
    }

    /// The delay after a 401/403 (between half of it and all of it;
    /// default 300 s).
    #[must_use]
    pub fn vapid_backoff(mut self, delay: Duration) -> Self {
        self.settings.policy.vapid_delay = delay;
        self
    }

    /// How long a shutdown waits for requests in flight (default 30 s);
    /// what still runs then is left un-acked, for the broker to deliver
    /// again after `ack_wait`.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// A handle that stops [`run`](Self::run) gracefully.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// A handle that reads the counters while [`run`](Self::run) runs.
    #[must_use]
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(Arc::clone(&self.counters))
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> WorkerStats {
        self.counters.snapshot()
    }

    /// Runs until [`ShutdownHandle::shutdown`]; then stops pulling, naks
    /// what was pulled but not started, finishes what is in flight (within
    /// the shutdown timeout) and returns the final counters. Broker
    /// trouble (a restart, a lost connection) is waited out, never fatal.
    ///
    /// Must run inside a tokio runtime.
    ///
    /// # Errors
    /// None at present: every broker error is retried. The `Result` leaves
    /// room for fatal conditions of other engines.
    pub async fn run(self) -> Result<WorkerStats, QueueError> {
        Ok(worker::run(
            self.engine,
            self.batch,
            self.settings,
            self.counters,
            self.shutdown,
        )
        .await)
    }
}
