//! `enqueue`, `worker` and `feedback`: the command line over
//! `webpush::queue` (NATS JetStream). `enqueue` turns a JSON-lines file of
//! subscriptions into jobs, `worker` sends them (as many processes as you
//! like, sharing one durable consumer), `feedback` prints the gone, failed
//! and dead events the workers publish.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures_util::StreamExt;
use serde::Deserialize;
use webpush::Subscription;
use webpush::batch::BatchSender;
use webpush::queue::{FeedbackMode, JetStream, JetStreamConfig, PushJob, QueueError, WorkerStats};
use webpush::subscription::{MAX_JSON_LEN, SubscriptionJson};

use crate::batch::open_input;
use webpush::request::Topic;

use crate::send::{ClientArgs, EncodingArg, MessageArgs, UrgencyArg, parse_seconds, runtime};
use crate::util::{
    EXIT_FAILED, EXIT_INPUT, EXIT_OK, Fail, error_chain, line_text, one_line, print_stderr,
    println_stdout, read_line_capped,
};

/// Where the queue lives; each flag left out keeps the library's default.
#[derive(Debug, Args)]
pub(crate) struct BrokerArgs {
    /// NATS server URL, e.g. nats://127.0.0.1:4222 (tls:// for TLS).
    #[arg(long, value_name = "URL")]
    nats: String,
    /// JetStream stream holding the jobs [default: WEBPUSH].
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// Subject jobs are published on [default: webpush.jobs].
    #[arg(long, value_name = "SUBJECT")]
    jobs_subject: Option<String>,
    /// Durable pull consumer shared by all workers [default: webpush-workers].
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
    /// Prefix of the event subjects: PREFIX.gone, PREFIX.failed, PREFIX.dead
    /// [default: webpush.events].
    #[arg(long, value_name = "PREFIX")]
    events_prefix: Option<String>,
    /// Durable consumer `feedback` reads the events with
    /// [default: webpush-feedback].
    #[arg(long, value_name = "NAME")]
    feedback_consumer: Option<String>,
    /// Deliveries of a job before it is dead-lettered [default: 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_deliver: Option<u32>,
    /// Seconds a worker holds a job before the broker redelivers it (workers
    /// extend it while a send is running) [default: 60].
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    ack_wait: Option<Duration>,
    /// Jobs in flight across all workers [default: 1024].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_ack_pending: Option<u32>,
    /// Seconds in which a re-enqueued job id is dropped by the broker
    /// [default: 120].
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    duplicate_window: Option<Duration>,
    /// Seconds to keep trying to reach the broker at start [default: 30]
    /// (once connected, a lost connection is retried for ever).
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    connect_timeout: Option<Duration>,
}

impl BrokerArgs {
    fn config(&self) -> JetStreamConfig {
        let mut c = JetStreamConfig::new();
        if let Some(v) = &self.stream {
            c = c.stream(v);
        }
        if let Some(v) = &self.jobs_subject {
            c = c.jobs_subject(v);
        }
        if let Some(v) = &self.consumer {
            c = c.consumer(v);
        }
        if let Some(v) = &self.events_prefix {
            c = c.events_prefix(v);
        }
        if let Some(v) = &self.feedback_consumer {
            c = c.feedback_consumer(v);
        }
        if let Some(v) = self.max_deliver {
            c = c.max_deliver(v);
        }
        if let Some(v) = self.ack_wait {
            c = c.ack_wait(v);
        }
        if let Some(v) = self.max_ack_pending {
            c = c.max_ack_pending(v);
        }
        if let Some(v) = self.duplicate_window {
            c = c.duplicate_window(v);
        }
        if let Some(v) = self.connect_timeout {
            c = c.connect_timeout(v);
        }
        c
    }

    async fn connect(&self) -> Result<JetStream, Fail> {
        JetStream::connect(&self.nats, self.config())
            .await
            .map_err(|e| Fail::failed(format!("cannot set up the queue: {}", error_chain(&e))))
    }
}

// ---------------------------------------------------------------- enqueue

/// Arguments of `enqueue`.
#[derive(Debug, Args)]
pub(crate) struct EnqueueArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Subscriptions, one `PushSubscription.toJSON()` object per line (`-`
    /// for stdin); a line may carry its own job id as "job_id". Blank lines
    /// are skipped.
    #[arg(long, value_name = "FILE")]
    subscriptions: PathBuf,
    #[command(flatten)]
    message: MessageArgs,
    /// Job ids are this prefix plus the line number. Give the same prefix
    /// to re-run an enqueue that failed half-way: within the duplicate
    /// window the broker drops what it already has. [default: the current
    /// time in milliseconds and a dash, new on every run]
    #[arg(long, value_name = "P")]
    id_prefix: Option<String>,
    /// Publishes awaiting the broker's acknowledgement at once.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    max_in_flight: u16,
}

/// A line of the subscriptions file: a subscription, and maybe a job id.
#[derive(Deserialize)]
struct LineJson {
    #[serde(default)]
    job_id: Option<String>,
    #[serde(flatten)]
    subscription: SubscriptionJson,
}

/// Counts of an `enqueue` run.
#[derive(Debug, Default)]
struct EnqueueCounts {
    enqueued: u64,
    duplicates: u64,
    invalid: u64,
    failed: u64,
    read_error: Option<String>,
}

fn lock(c: &Mutex<EnqueueCounts>) -> std::sync::MutexGuard<'_, EnqueueCounts> {
    c.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The options every job of an `enqueue` run gets.
#[derive(Debug, Clone)]
struct JobOptions {
    ttl: u32,
    urgency: Option<UrgencyArg>,
    topic: Option<Topic>,
    encoding: EncodingArg,
}

impl From<&MessageArgs> for JobOptions {
    fn from(m: &MessageArgs) -> Self {
        Self {
            ttl: m.ttl,
            urgency: m.urgency,
            topic: m.topic.clone(),
            encoding: m.encoding,
        }
    }
}

/// Turns one line into a job with `options`, or says why not; `None` for
/// a blank line.
fn parse_job(
    buf: &[u8],
    len: usize,
    number: u64,
    prefix: &str,
    payload: &[u8],
    options: &JobOptions,
) -> Option<Result<PushJob, String>> {
    let text = match line_text(buf, len, MAX_JSON_LEN)? {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    let line: LineJson = match serde_json::from_str(text) {
        Ok(l) => l,
        Err(e) => return Some(Err(format!("not a subscription: {e}"))),
    };
    let sub = match Subscription::try_from(line.subscription) {
        Ok(s) => s,
        Err(e) => return Some(Err(e.to_string())),
    };
    let id = line.job_id.unwrap_or_else(|| format!("{prefix}{number}"));
    Some(job_with_options(id, sub, payload, options).map_err(|e| e.to_string()))
}

/// A job with the TTL, urgency, topic and content coding of `options`.
fn job_with_options(
    id: String,
    sub: Subscription,
    payload: &[u8],
    options: &JobOptions,
) -> Result<PushJob, webpush::queue::JobError> {
    let mut job = PushJob::new(id, sub, payload.to_vec())?
        .ttl(options.ttl)
        .content_encoding(options.encoding.into());
    if let Some(u) = options.urgency {
        job = job.urgency(u.into());
    }
    if let Some(t) = &options.topic {
        job = job.topic(t.clone());
    }
    Ok(job)
}

/// `enqueue`.
pub(crate) fn enqueue(args: &EnqueueArgs) -> Result<u8, Fail> {
    let mut input = open_input(&args.subscriptions)?;
    let payload = args.message.load_payload()?;
    let options = JobOptions::from(&args.message);
    let prefix = args.id_prefix.clone().unwrap_or_else(|| {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{ms}-")
    });
    let counts = Arc::new(Mutex::new(EnqueueCounts::default()));
    let rt = runtime()?;
    rt.block_on(async {
        let js = args.broker.connect().await?;
        let publisher = js
            .publisher()
            .max_in_flight(usize::from(args.max_in_flight));
        let jobs = {
            let counts = Arc::clone(&counts);
            let mut buf = Vec::new();
            let mut number = 0u64;
            std::iter::from_fn(move || {
                loop {
                    match read_line_capped(&mut input, &mut buf, MAX_JSON_LEN) {
                        Ok(None) => return None,
                        Err(e) => {
                            lock(&counts).read_error = Some(format!("after line {number}: {e}"));
                            return None;
                        }
                        Ok(Some(len)) => {
                            number += 1;
                            match parse_job(&buf, len, number, &prefix, &payload, &options) {
                                None => {}
                                Some(Ok(job)) => return Some(job),
                                Some(Err(e)) => {
                                    print_stderr(&format!("line {number}: {}", one_line(&e)));
                                    lock(&counts).invalid += 1;
                                }
                            }
                        }
                    }
                }
            })
        };
        let mut results = std::pin::pin!(publisher.publish_iter(jobs));
        while let Some((id, result)) = results.next().await {
            let mut c = lock(&counts);
            match result {
                Ok(e) if e.duplicate => c.duplicates += 1,
                Ok(_) => c.enqueued += 1,
                Err(e) => {
                    c.failed += 1;
                    print_stderr(&format!("job {}: {}", one_line(&id), error_chain(&e)));
                }
            }
        }
        Ok::<(), Fail>(())
    })?;
    let c = lock(&counts);
    print_stderr(&format!(
        "summary: {} enqueued, {} duplicates, {} invalid, {} failed",
        c.enqueued, c.duplicates, c.invalid, c.failed
    ));
    if let Some(e) = &c.read_error {
        return Err(Fail::failed(format!(
            "cannot read {} {e}",
            args.subscriptions.display()
        )));
    }
    Ok(if c.failed > 0 {
        EXIT_FAILED
    } else if c.invalid > 0 {
        EXIT_INPUT
    } else {
        EXIT_OK
    })
}

// ---------------------------------------------------------------- worker

/// Arguments of `worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    client: ClientArgs,
    /// Jobs this worker sends at once (also its pull batch).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    concurrency: u16,
    /// Seconds between two stats lines on stderr.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    stats_interval: Duration,
    /// Seconds of the first retry delay after a 5xx, 429 without
    /// Retry-After, timeout or connection failure (doubling per delivery,
    /// with jitter) [default: 1; with --backoff-max].
    #[arg(long, value_name = "S", value_parser = parse_seconds, requires = "backoff_max")]
    backoff_min: Option<Duration>,
    /// Seconds of the longest such delay [default: 300; with --backoff-min].
    #[arg(long, value_name = "S", value_parser = parse_seconds, requires = "backoff_min")]
    backoff_max: Option<Duration>,
    /// Seconds before a job refused for VAPID (401/403) is tried again
    /// [default: 300].
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    vapid_backoff: Option<Duration>,
    /// On SIGTERM/SIGINT, seconds allowed to finish the sends in flight.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    shutdown_timeout: Duration,
}

fn stats_line(s: &WorkerStats, rate: f64) -> String {
    format!(
        "stats: delivered={} gone={} retried={} failed={} dead={} vapid_rejected={} in_flight={} rate={rate:.0}/s",
        s.delivered, s.gone, s.retried, s.failed, s.dead, s.vapid_rejected, s.in_flight
    )
}

/// `worker`: runs until SIGTERM or SIGINT, then finishes what is in flight.
pub(crate) fn worker(args: &WorkerArgs) -> Result<u8, Fail> {
    let rt = runtime()?;
    rt.block_on(async {
        let mut signals = Signals::install()?;
        let client = args.client.client()?;
        let js = args.broker.connect().await?;
        let mut worker = js
            .worker(BatchSender::new(client))
            .concurrency(usize::from(args.concurrency))
            .shutdown_timeout(args.shutdown_timeout);
        if let (Some(min), Some(max)) = (args.backoff_min, args.backoff_max) {
            worker = worker.retry_backoff(min, max.max(min));
        }
        if let Some(d) = args.vapid_backoff {
            worker = worker.vapid_backoff(d);
        }
        let shutdown = worker.shutdown_handle();
        let stats = worker.stats_handle();

        let signals = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                let signal = signals.recv().await;
                print_stderr(&format!("{signal}: finishing the jobs in flight"));
                shutdown.shutdown();
            }
        });
        let printer = tokio::spawn({
            let stats = stats.clone();
            let interval = args.stats_interval;
            async move {
                let mut last = stats.get();
                let mut at = Instant::now();
                loop {
                    tokio::time::sleep(interval).await;
                    let now = stats.get();
                    let rate = (now.delivered.saturating_sub(last.delivered)) as f64
                        / at.elapsed().as_secs_f64().max(1e-3);
                    if now.vapid_rejected > last.vapid_rejected {
                        print_stderr(&format!(
                            "warning: {} job(s) refused for VAPID (401/403) so far: check --vapid-key \
                             and --subject; they are retried later and their subscriptions kept",
                            now.vapid_rejected
                        ));
                    }
                    print_stderr(&stats_line(&now, rate));
                    last = now;
                    at = Instant::now();
                }
            }
        });
        let started = Instant::now();
        let result = worker.run().await;
        printer.abort();
        signals.abort();
        let last = stats.get();
        let rate = last.delivered as f64 / started.elapsed().as_secs_f64().max(1e-3);
        if last.vapid_rejected > 0 {
            print_stderr(&format!(
                "warning: {} job(s) refused for VAPID (401/403): check --vapid-key and --subject",
                last.vapid_rejected
            ));
        }
        print_stderr(&stats_line(&last, rate));
        result
            .map(|_| EXIT_OK)
            .map_err(|e| Fail::failed(format!("worker stopped: {}", error_chain(&e))))
    })
}

/// SIGTERM and SIGINT handlers, installed before the worker connects so
/// that a signal never meets the default action (death, exit status 143).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self, Fail> {
        use tokio::signal::unix::{SignalKind, signal};
        let cannot = |e: std::io::Error| Fail::failed(format!("cannot handle signals: {e}"));
        Ok(Self {
            term: signal(SignalKind::terminate()).map_err(cannot)?,
            int: signal(SignalKind::interrupt()).map_err(cannot)?,
        })
    }

    /// Resolves on the first SIGTERM or SIGINT, naming it.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

// ---------------------------------------------------------------- feedback

/// Arguments of `feedback`.
#[derive(Debug, Args)]
pub(crate) struct FeedbackArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Keep waiting for new events instead of exiting once drained.
    #[arg(long)]
    follow: bool,
}

/// `feedback`: one JSON line per event on stdout, each acknowledged only
/// once written and flushed.
pub(crate) fn feedback(args: &FeedbackArgs) -> Result<u8, Fail> {
    let rt = runtime()?;
    rt.block_on(async {
        let js = args.broker.connect().await?;
        let mode = if args.follow {
            FeedbackMode::Follow
        } else {
            FeedbackMode::Drain
        };
        let mut reader = js
            .feedback(mode)
            .await
            .map_err(|e| Fail::failed(format!("cannot read events: {}", error_chain(&e))))?;
        let mut skipped = 0u64;
        while let Some(delivery) = reader.next().await {
            let delivery = match delivery {
                Ok(d) => d,
                Err(QueueError::BadEvent(e)) => {
                    // Not an event (terminated by the reader): say so, go on.
                    skipped += 1;
                    print_stderr(&format!("skipped a message that is not an event: {e}"));
                    continue;
                }
                Err(e) => {
                    return Err(Fail::failed(format!("reading events: {}", error_chain(&e))));
                }
            };
            println_stdout(&delivery.event().to_json())?;
            delivery.ack().await.map_err(|e| {
                Fail::failed(format!("acknowledging an event: {}", error_chain(&e)))
            })?;
        }
        Ok(if skipped > 0 { EXIT_FAILED } else { EXIT_OK })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Message {
        #[command(flatten)]
        m: MessageArgs,
    }

    const SUB: &str = r#"{"endpoint":"https://push.example.net/p/1","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}}"#;

    #[test]
    fn job_ids_are_prefix_and_line_number_unless_the_line_has_a_job_id() {
        let m =
            JobOptions::from(&Message::parse_from(["t", "--payload", "x", "--topic", "news"]).m);
        let with_id = SUB.replacen('{', r#"{"job_id":"mine","#, 1);
        let job = parse_job(with_id.as_bytes(), with_id.len(), 7, "p-", b"x", &m)
            .unwrap()
            .unwrap();
        assert_eq!(job.id(), "mine");
        let job = parse_job(SUB.as_bytes(), SUB.len(), 7, "p-", b"x", &m)
            .unwrap()
            .unwrap();
        assert_eq!(job.id(), "p-7");
        assert_eq!(job.effective_topic().as_str(), "news");
        assert!(parse_job(b"  ", 2, 8, "p-", b"x", &m).is_none());
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let m = JobOptions::from(&Message::parse_from(["t", "--payload", "x"]).m);
        let err = parse_job(b"{", 1, 9, "p-", b"x", &m).unwrap().unwrap_err();
        assert!(err.starts_with("not a subscription"), "{err}");
        let err = parse_job(b"{}", 2, 9, "p-", b"x", &m).unwrap().unwrap_err();
        assert!(err.contains("endpoint"), "{err}");
        let long = vec![b' '; 10];
        let err = parse_job(&long, MAX_JSON_LEN + 1, 9, "p-", b"x", &m)
            .unwrap()
            .unwrap_err();
        assert!(err.contains("over the limit"), "{err}");
        let bad_id = SUB.replacen('{', r#"{"job_id":"","#, 1);
        assert!(
            parse_job(bad_id.as_bytes(), bad_id.len(), 1, "p-", b"x", &m)
                .unwrap()
                .is_err()
        );
    }
}
