//! The soak run, shared by `examples/soak` (any size) and `tests/soak.rs`
//! (a small size, under `cargo test --all-features`).
//!
//! `jobs` notifications go through [`BatchSender`] to the local push service
//! over HTTPS (HTTP/2), one job in 100 meeting each of ten faults, chosen
//! by the job's index so that every report can be checked against its own
//! fault. Payloads encode the job's index and are regenerated from it, so
//! nothing per job is kept but one octet of flags.
//!
//! Checked, failing the run when not so:
//! - every job gets exactly one report, and it is the one its fault calls
//!   for: outcome, status, attempts (see [`Class`]);
//! - the waits between attempts: `Retry-After` (1 s) plus at most the
//!   backoff after a 429, the backoff alone otherwise, and as many as the
//!   retries (waits are counted, not slept);
//! - the service decrypted every delivered payload to exactly what was
//!   sent, exactly once, and nothing else arrived;
//! - memory: peak and current RSS grow by at most [`MEMORY_SLACK_KIB`] from
//!   the 10 % checkpoint to the end (Linux, `/proc/self/status`);
//! - file descriptors: at most [`FD_SLACK_RUNNING`] more than at the start
//!   while running, and none more once the service and the sender are gone
//!   (Linux, `/proc/self/fd`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use webpush::PushClient;
use webpush::Subscription;
use webpush::batch::{BatchSender, Job, Report, RetryPolicy, Sleeper};
use webpush::outcome::SendError;
use webpush::request::PushOptions;
use webpush::sender::{BoxFuture, MAX_RESPONSE_BODY, TransportErrorKind};
use webpush::testing::{Fault, LocalPushService, ReceivedMessage};
use webpush::vapid::{Subject, VapidKey, VapidSigner};

/// Attempts per job.
const ATTEMPTS: u32 = 3;
/// The `Retry-After` of the rate-limit faults.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// A `Retry-After` past the policy's cap (the default, 60 s).
const OVER_CAP: Duration = Duration::from_secs(3600);
/// Backoff before the first retry, and the most any backoff takes.
const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_millis(20);
/// Subscriptions per class, taking its jobs in turn.
const SUBS_PER_CLASS: usize = 4;
/// Body length of the oversized-response fault.
const OVERSIZED_LEN: usize = 1 << 20;
/// Reports between two collections of what the service received.
const DRAIN_EVERY: u64 = 500;
/// How much the resident set may grow from the 10 % checkpoint on.
pub(crate) const MEMORY_SLACK_KIB: u64 = 8 * 1024;
/// Descriptors allowed above the start while running: two listeners and
/// the connections between sender and service, both ends.
pub(crate) const FD_SLACK_RUNNING: usize = 32;

/// The size and settings of a run.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Notifications to send.
    pub(crate) jobs: u64,
    /// Jobs in flight.
    pub(crate) concurrency: usize,
    /// The sender's timeout per request.
    pub(crate) timeout: Duration,
}

impl Config {
    /// `jobs` notifications, 64 in flight, 1 s timeout.
    pub(crate) fn new(jobs: u64) -> Self {
        Self {
            jobs,
            concurrency: 64,
            timeout: Duration::from_secs(1),
        }
    }

    /// How long the slow faults hold a request: until the sender gives up.
    /// Not a little past the timeout: under load the sender's timer and the
    /// service's can fire in either order, and a hold that ends first gets
    /// an abandoned attempt recorded (issue 16). The service drops a held
    /// request when its client abandons it.
    fn slow(&self) -> Duration {
        Duration::from_secs(3600).max(self.timeout * 10)
    }
}

/// What a job meets, by its index modulo 100; 90 in 100 meet nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// No fault: delivered at the first attempt.
    Clean,
    /// 410: gone, not retried.
    Gone,
    /// 429 with `Retry-After: 1` every time: retried, reported rate
    /// limited with the delay after the last attempt.
    RateLimited,
    /// 429 with `Retry-After: 1` on the message's first request only:
    /// delivered at the second attempt.
    RateLimitedOnce,
    /// 429 with `Retry-After: 3600`, past the policy's longest wait (60 s):
    /// reported at once, with the delay, for the caller to requeue.
    RateLimitedOverCap,
    /// 500 every time: retried, reported as a server error.
    ServerError,
    /// 500 on the first request only: delivered at the second attempt.
    ServerErrorOnce,
    /// Held past the timeout every time: retried, reported as a timeout.
    Slow,
    /// Held past the timeout once: delivered at the second attempt, and
    /// the abandoned first attempt never recorded.
    SlowOnce,
    /// The connection is closed without an answer, every time: retried,
    /// reported as a transport error that is not a timeout. On a second
    /// service (another origin): an HTTP/2 connection dropped takes every
    /// request on it along, which would put the fault on a share of other
    /// jobs that no one could predict.
    Dropped,
    /// 400 with a 1 MiB body: reported as a bad request with the body cut
    /// at `MAX_RESPONSE_BODY`, not retried.
    Oversized,
}

const CLASSES: [Class; 11] = [
    Class::Clean,
    Class::Gone,
    Class::RateLimited,
    Class::RateLimitedOnce,
    Class::RateLimitedOverCap,
    Class::ServerError,
    Class::ServerErrorOnce,
    Class::Slow,
    Class::SlowOnce,
    Class::Dropped,
    Class::Oversized,
];

impl Class {
    fn of(job: u64) -> Self {
        match job % 100 {
            0 => Self::Gone,
            1 => Self::RateLimited,
            2 => Self::RateLimitedOnce,
            3 => Self::ServerError,
            4 => Self::ServerErrorOnce,
            5 => Self::Slow,
            6 => Self::SlowOnce,
            7 => Self::Dropped,
            8 => Self::Oversized,
            9 => Self::RateLimitedOverCap,
            _ => Self::Clean,
        }
    }

    fn fault(self, config: &Config) -> Option<Fault> {
        let rate_limited = || Fault::RateLimited {
            retry_after: RETRY_AFTER.as_secs().to_string(),
        };
        let once = |fault| Fault::FirstAttempt(Box::new(fault));
        Some(match self {
            Self::Clean => return None,
            Self::Gone => Fault::Gone,
            Self::RateLimited => rate_limited(),
            Self::RateLimitedOnce => once(rate_limited()),
            Self::RateLimitedOverCap => Fault::RateLimited {
                retry_after: OVER_CAP.as_secs().to_string(),
            },
            Self::ServerError => Fault::ServerError { retry_after: None },
            Self::ServerErrorOnce => once(Fault::ServerError { retry_after: None }),
            Self::Slow => Fault::Delay(config.slow()),
            Self::SlowOnce => once(Fault::Delay(config.slow())),
            Self::Dropped => Fault::DropConnection,
            Self::Oversized => Fault::OversizedBody {
                status: 400,
                len: OVERSIZED_LEN,
            },
        })
    }

    /// Whether its jobs end delivered.
    const fn delivers(self) -> bool {
        matches!(
            self,
            Self::Clean | Self::RateLimitedOnce | Self::ServerErrorOnce | Self::SlowOnce
        )
    }

    /// (waits of `Retry-After` plus backoff, waits of backoff alone) per job.
    const fn waits(self) -> (u64, u64) {
        match self {
            Self::Clean | Self::Gone | Self::Oversized | Self::RateLimitedOverCap => (0, 0),
            Self::RateLimited => (2, 0),
            Self::RateLimitedOnce => (1, 0),
            Self::ServerError | Self::Slow | Self::Dropped => (0, 2),
            Self::ServerErrorOnce | Self::SlowOnce => (0, 1),
        }
    }

    /// Whether `report` is what this class calls for.
    fn check(self, report: &Report<u64>) -> Result<(), String> {
        let attempts = report.attempts;
        let status = report
            .error()
            .and_then(SendError::status)
            .map(|s| s.as_u16());
        let ok = match (self, &report.result) {
            (Self::Clean, Ok(d)) => attempts == 1 && d.status().as_u16() == 201,
            (Self::RateLimitedOnce | Self::ServerErrorOnce | Self::SlowOnce, Ok(d)) => {
                attempts == 2 && d.status().as_u16() == 201
            }
            (Self::Gone, Err(SendError::Gone { .. })) => attempts == 1 && status == Some(410),
            (Self::RateLimited, Err(e @ SendError::RateLimited { .. })) => {
                attempts == ATTEMPTS && status == Some(429) && e.retry_after() == Some(RETRY_AFTER)
            }
            (Self::RateLimitedOverCap, Err(e @ SendError::RateLimited { .. })) => {
                attempts == 1 && status == Some(429) && e.retry_after() == Some(OVER_CAP)
            }
            (Self::ServerError, Err(e @ SendError::ServerError { .. })) => {
                attempts == ATTEMPTS && status == Some(500) && e.retry_after().is_none()
            }
            (Self::Slow, Err(e @ SendError::Transport(t))) => {
                attempts == ATTEMPTS && e.is_timeout() && t.kind() == TransportErrorKind::Timeout
            }
            (Self::Dropped, Err(e @ SendError::Transport(t))) => {
                attempts == ATTEMPTS && !e.is_timeout() && t.kind() == TransportErrorKind::Other
            }
            (Self::Oversized, Err(SendError::BadRequest { response })) => {
                attempts == 1
                    && response.status.as_u16() == 400
                    && response.body.len() == MAX_RESPONSE_BODY
                    && response.body_truncated
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "job {} ({self:?}): {:?} after {attempts} attempts",
                report.key, report.result
            ))
        }
    }
}

/// A short name for an outcome, for the tally.
fn outcome_name(result: &Result<webpush::outcome::Delivered, SendError>) -> String {
    match result {
        Ok(d) => format!("delivered ({})", d.status().as_u16()),
        Err(SendError::Transport(t)) => format!("transport error ({:?})", t.kind()),
        Err(e) => match e.status() {
            Some(s) => format!("{} ({})", error_name(e), s.as_u16()),
            None => error_name(e).to_owned(),
        },
    }
}

fn error_name(e: &SendError) -> &'static str {
    match e {
        SendError::Gone { .. } => "gone",
        SendError::RateLimited { .. } => "rate limited",
        SendError::ServerError { .. } => "server error",
        SendError::BadRequest { .. } => "bad request",
        SendError::Cancelled => "cancelled",
        _ => "other error",
    }
}

/// The payload of job `i`: its index, then 0 to 2047 octets drawn from it.
fn payload(i: u64) -> Vec<u8> {
    let mut state = i;
    let len = 8 + usize::try_from(splitmix(&mut state) % 2048).unwrap_or(0);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&i.to_be_bytes());
    while out.len() < len {
        let word = splitmix(&mut state).to_le_bytes();
        let room = len - out.len();
        out.extend_from_slice(&word[..room.min(8)]);
    }
    out
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Counts the waits asked for, by kind, and returns at once.
#[derive(Debug, Default)]
struct Waits {
    /// `Retry-After` plus at most the backoff.
    long: AtomicU64,
    /// At most the backoff.
    short: AtomicU64,
    /// Neither: a wrong wait.
    wrong: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct CountingSleeper(Arc<Waits>);

impl Sleeper for CountingSleeper {
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
        let counter = if delay <= MAX_DELAY {
            &self.0.short
        } else if delay >= RETRY_AFTER && delay <= RETRY_AFTER + MAX_DELAY {
            &self.0.long
        } else {
            &self.0.wrong
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Box::pin(async {})
    }
}

/// Memory and descriptors at one moment (Linux).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    /// `VmRSS`, KiB.
    pub(crate) rss_kib: u64,
    /// `VmHWM` (peak RSS), KiB.
    pub(crate) hwm_kib: u64,
    /// Entries of `/proc/self/fd`.
    pub(crate) fds: usize,
}

/// `None` where there is no `/proc` (checks skipped, off Linux only).
fn probe() -> Result<Option<Probe>, String> {
    if !cfg!(target_os = "linux") {
        return Ok(None);
    }
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status: {e}"))?;
    let field = |name: &str| -> Result<u64, String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
            .ok_or_else(|| format!("no {name} in /proc/self/status"))
    };
    let fds = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("reading /proc/self/fd: {e}"))?
        .count();
    Ok(Some(Probe {
        rss_kib: field("VmRSS")?,
        hwm_kib: field("VmHWM")?,
        fds,
    }))
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Summary {
    /// Notifications sent.
    pub(crate) jobs: u64,
    /// Jobs in flight.
    pub(crate) concurrency: usize,
    /// The sender's timeout.
    pub(crate) timeout: Duration,
    /// From the first job to the last report.
    pub(crate) wall: Duration,
    /// Reports by outcome.
    pub(crate) outcomes: BTreeMap<String, u64>,
    /// Requests beyond the first, over all jobs.
    pub(crate) retries: u64,
    /// Waits of `Retry-After` plus backoff, and of backoff alone.
    pub(crate) waits: (u64, u64),
    /// Payloads the service decrypted and matched to a job.
    pub(crate) received: u64,
    /// Requests the two services saw.
    pub(crate) requests: u64,
    /// (label, probe) at the start, the checkpoints and the end.
    pub(crate) probes: Vec<(String, Probe)>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.wall.as_secs_f64();
        writeln!(
            f,
            "{} notifications, {} in flight, timeout {:?}: {:.2} s, {:.0} notifications/s",
            self.jobs,
            self.concurrency,
            self.timeout,
            secs,
            self.jobs as f64 / secs.max(f64::MIN_POSITIVE)
        )?;
        writeln!(f, "outcomes:")?;
        for (name, count) in &self.outcomes {
            writeln!(f, "  {count:>8}  {name}")?;
        }
        writeln!(
            f,
            "retries {}, waits {} (Retry-After) + {} (backoff), requests seen by the services {}",
            self.retries, self.waits.0, self.waits.1, self.requests
        )?;
        writeln!(
            f,
            "payloads decrypted by the service and matched: {}",
            self.received
        )?;
        if self.probes.is_empty() {
            writeln!(
                f,
                "memory and descriptors: not checked (no /proc: not Linux)"
            )?;
        }
        for (label, p) in &self.probes {
            writeln!(
                f,
                "  {label:<24} RSS {:>7} KiB, peak RSS {:>7} KiB, open fds {}",
                p.rss_kib, p.hwm_kib, p.fds
            )?;
        }
        Ok(())
    }
}

/// The subscriptions of each class.
struct Subs {
    by_class: Vec<Vec<Arc<Subscription>>>,
}

impl Subs {
    fn class_index(class: Class) -> usize {
        CLASSES.iter().position(|c| *c == class).unwrap_or(0)
    }

    fn of(&self, job: u64) -> &Arc<Subscription> {
        let subs = &self.by_class[Self::class_index(Class::of(job))];
        let turn = usize::try_from(job / 100).unwrap_or(0) % subs.len();
        &subs[turn]
    }
}

/// Job flags: one octet each.
const REPORTED: u8 = 1;
const DELIVERED: u8 = 2;
const RECEIVED: u8 = 4;

/// Failures, the first few in full.
#[derive(Default)]
struct Failures {
    shown: Vec<String>,
    count: u64,
}

impl Failures {
    fn add(&mut self, what: String) {
        self.count += 1;
        if self.shown.len() < 20 {
            self.shown.push(what);
        }
    }
}

/// Takes what the services received and checks each message against the
/// job its payload names.
fn collect_received(
    services: &[&LocalPushService; 2],
    subs: &Subs,
    flags: &mut [u8],
    failures: &mut Failures,
) -> u64 {
    let mut matched = 0;
    for (class, class_subs) in CLASSES.iter().zip(&subs.by_class) {
        let service = services[usize::from(*class == Class::Dropped)];
        for sub in class_subs {
            for msg in service.take_received(sub) {
                match check_message(&msg, sub, subs, flags) {
                    Ok(()) => matched += 1,
                    Err(e) => failures.add(e),
                }
            }
        }
    }
    matched
}

fn check_message(
    msg: &ReceivedMessage,
    sub: &Arc<Subscription>,
    subs: &Subs,
    flags: &mut [u8],
) -> Result<(), String> {
    let index = msg
        .payload
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| format!("a payload of {} octets names no job", msg.payload.len()))?;
    let slot = usize::try_from(index)
        .ok()
        .filter(|&i| i < flags.len())
        .ok_or_else(|| format!("a payload names job {index}, out of range"))?;
    let class = Class::of(index);
    if !Arc::ptr_eq(subs.of(index), sub) {
        return Err(format!(
            "job {index} ({class:?}) arrived at another subscription"
        ));
    }
    if !class.delivers() {
        return Err(format!(
            "job {index} ({class:?}) was recorded by the service"
        ));
    }
    if msg.payload != payload(index) {
        return Err(format!(
            "job {index}: the service decrypted another payload"
        ));
    }
    if flags[slot] & RECEIVED != 0 {
        return Err(format!("job {index} ({class:?}) was recorded twice"));
    }
    flags[slot] |= RECEIVED;
    Ok(())
}

/// Runs the soak; `Ok` with the figures when every check passed, `Err`
/// with the figures and the failures otherwise. Must run on a
/// multi-threaded tokio runtime.
///
/// # Errors
/// A description of what failed.
pub(crate) async fn run(config: &Config) -> Result<Summary, String> {
    let mut probes = Vec::new();
    let start_probe = probe()?;
    if let Some(p) = start_probe {
        probes.push(("start".to_owned(), p));
    }
    let jobs_len = usize::try_from(config.jobs).map_err(|_| "too many jobs".to_owned())?;
    // Written at once, so that the pages are resident before the baseline.
    let mut flags = vec![0x80_u8; jobs_len];
    flags.fill(0);

    let (result, services_requests) = {
        let service = LocalPushService::start().await.map_err(|e| e.to_string())?;
        let flaky = LocalPushService::start().await.map_err(|e| e.to_string())?;
        let key = VapidKey::generate().map_err(|e| e.to_string())?;
        let signer = VapidSigner::new(
            key.clone(),
            Subject::parse("mailto:soak@example.com").map_err(|e| e.to_string())?,
        );
        let sender = service
            .sender_builder()
            .tls_root_certificate_pem(&flaky.root_certificate_pem())
            .timeout(config.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        let client = PushClient::with_sender(sender, signer).policy(service.policy());

        let mut by_class = Vec::new();
        for class in CLASSES {
            let svc = if class == Class::Dropped {
                &flaky
            } else {
                &service
            };
            let mut subs = Vec::new();
            for _ in 0..SUBS_PER_CLASS {
                let sub = svc
                    .subscribe(&key.public_key_base64())
                    .map_err(|e| e.to_string())?;
                if let Some(fault) = class.fault(config) {
                    svc.set_fault(&sub, fault);
                }
                subs.push(Arc::new(sub));
            }
            by_class.push(subs);
        }
        let subs = Arc::new(Subs { by_class });

        let sleeper = CountingSleeper::default();
        let batch = BatchSender::new(client)
            .concurrency(config.concurrency)
            .sleeper(sleeper.clone())
            .retry(
                RetryPolicy::new()
                    .max_attempts(ATTEMPTS)
                    .base_delay(BASE_DELAY)
                    .max_delay(MAX_DELAY),
            );
        let result = drive(
            config,
            &batch,
            [&service, &flaky],
            &subs,
            &sleeper,
            &mut flags,
            &mut probes,
        )
        .await;
        let requests = service.request_count() + flaky.request_count();
        drop(batch);
        service.shutdown().await;
        flaky.shutdown().await;
        (result, requests)
    };
    let (mut summary, mut failures) = result;
    summary.requests = services_requests;

    // Descriptors: every connection closes once both ends are gone; give
    // the tasks that close them a moment.
    if let Some(start) = start_probe {
        let mut end = probe()?;
        for _ in 0..100 {
            if end.is_some_and(|p| p.fds <= start.fds) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            end = probe()?;
        }
        if let Some(end) = end {
            probes.push(("end, service dropped".to_owned(), end));
            if end.fds > start.fds {
                failures.add(format!(
                    "file descriptors: {} open at the start, {} at the end",
                    start.fds, end.fds
                ));
            }
        }
    }
    summary.probes = probes;
    if failures.count == 0 {
        Ok(summary)
    } else {
        Err(format!(
            "{summary}{} failures, the first {}:\n  {}",
            failures.count,
            failures.shown.len(),
            failures.shown.join("\n  ")
        ))
    }
}

/// A probe, kept under `label`; a failure when `/proc` cannot be read.
fn take_probe(
    label: &str,
    failures: &mut Failures,
    probes: &mut Vec<(String, Probe)>,
) -> Option<Probe> {
    match probe() {
        Ok(Some(p)) => {
            probes.push((label.to_owned(), p));
            Some(p)
        }
        Ok(None) => None,
        Err(e) => {
            failures.add(e);
            None
        }
    }
}

/// Sends and checks; the probes go to `probes`.
async fn drive(
    config: &Config,
    batch: &BatchSender<webpush::sender::ReqwestSender>,
    services: [&LocalPushService; 2],
    subs: &Arc<Subs>,
    sleeper: &CountingSleeper,
    flags: &mut [u8],
    probes: &mut Vec<(String, Probe)>,
) -> (Summary, Failures) {
    let mut failures = Failures::default();
    let mut outcomes = BTreeMap::new();
    let (mut retries, mut received, mut reported) = (0u64, 0u64, 0u64);
    let n = config.jobs;
    let checkpoints = [
        (n / 10, "10 % reported"),
        (n / 4, "25 % reported"),
        (n / 2, "50 % reported"),
        (n * 3 / 4, "75 % reported"),
    ];
    let mut baseline: Option<Probe> = None;

    let started = Instant::now();
    let jobs = {
        let subs = Arc::clone(subs);
        futures_util::stream::iter(0..n)
            .map(move |i| Job::new(i, Arc::clone(subs.of(i)), payload(i), PushOptions::new()))
    };
    let mut reports = batch.send_all(jobs);
    while let Some(report) = reports.next_report().await {
        reported += 1;
        let slot = usize::try_from(report.key)
            .ok()
            .filter(|&i| i < flags.len());
        let Some(slot) = slot else {
            failures.add(format!("a report for job {}, never sent", report.key));
            continue;
        };
        if flags[slot] & REPORTED != 0 {
            failures.add(format!("job {} reported twice", report.key));
        }
        flags[slot] |= REPORTED;
        if report.is_delivered() {
            flags[slot] |= DELIVERED;
        }
        retries += u64::from(report.attempts.saturating_sub(1));
        *outcomes.entry(outcome_name(&report.result)).or_insert(0) += 1;
        if let Err(e) = Class::of(report.key).check(&report) {
            failures.add(e);
        }
        if reported % DRAIN_EVERY == 0 {
            received += collect_received(&services, subs, flags, &mut failures);
        }
        for (at, label) in checkpoints {
            if reported == at {
                received += collect_received(&services, subs, flags, &mut failures);
                let p = take_probe(label, &mut failures, probes);
                if baseline.is_none() {
                    baseline = p;
                }
                if let (Some(p), Some((_, start))) = (p, probes.first())
                    && p.fds > start.fds + FD_SLACK_RUNNING
                {
                    failures.add(format!(
                        "file descriptors: {} open at {label}, {} at the start",
                        p.fds, start.fds
                    ));
                }
            }
        }
    }
    let wall = started.elapsed();
    drop(reports);

    // Every request has been answered or abandoned by the sender, so every
    // handler must be gone: a slow fault's handler that outlived its
    // abandoned request could still record the message. Wait (bounded) for
    // the services to drop them, then collect the rest.
    let settle = Instant::now();
    while services.iter().any(|s| s.requests_in_flight() > 0)
        && settle.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (i, service) in services.iter().enumerate() {
        let held = service.requests_in_flight();
        if held > 0 {
            failures.add(format!(
                "service {i} still holds {held} requests its sender abandoned"
            ));
        }
    }
    received += collect_received(&services, subs, flags, &mut failures);
    let end = take_probe("100 % reported", &mut failures, probes);

    // Exactly one report per job, and a delivered job's payload received
    // exactly once (more than once or for another job is caught above).
    let mut expected_waits = (0, 0);
    for (i, f) in (0..n).zip(flags.iter()) {
        let class = Class::of(i);
        if f & REPORTED == 0 {
            failures.add(format!("job {i} ({class:?}) never reported"));
        }
        let delivered = f & DELIVERED != 0;
        let got = f & RECEIVED != 0;
        if delivered != got {
            failures.add(format!(
                "job {i} ({class:?}): reported delivered {delivered}, received by the service {got}"
            ));
        }
        let (long, short) = class.waits();
        expected_waits.0 += long;
        expected_waits.1 += short;
    }
    if reported != n {
        failures.add(format!("{reported} reports for {n} jobs"));
    }
    let waits = (
        sleeper.0.long.load(Ordering::Relaxed),
        sleeper.0.short.load(Ordering::Relaxed),
    );
    let wrong = sleeper.0.wrong.load(Ordering::Relaxed);
    if waits != expected_waits || wrong != 0 {
        failures.add(format!(
            "waits (Retry-After, backoff, neither): {waits:?} and {wrong}, expected {expected_waits:?} and 0"
        ));
    }
    if waits.0 + waits.1 != retries {
        failures.add(format!("{retries} retries but {waits:?} waits"));
    }

    if let (Some(base), Some(end)) = (baseline, end) {
        for (what, from, to) in [
            ("peak RSS", base.hwm_kib, end.hwm_kib),
            ("RSS", base.rss_kib, end.rss_kib),
        ] {
            if to > from + MEMORY_SLACK_KIB {
                failures.add(format!(
                    "{what} grew from {from} KiB at 10 % to {to} KiB at the end"
                ));
            }
        }
    }

    let summary = Summary {
        jobs: n,
        concurrency: config.concurrency,
        timeout: config.timeout,
        wall,
        outcomes,
        retries,
        waits,
        received,
        requests: 0,
        probes: Vec::new(),
    };
    (summary, failures)
}
