use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;
use crate::message::{AuthSecret, UaKeyPair};
use crate::sender::PushResponse;
use crate::subscription::Endpoint;
use crate::vapid::{Subject, VapidKey, VapidSigner};

// ------------------------------------------------------------------ helpers

/// What the fake push service does with the `n`th request (0-based) to a
/// path: the first entry of the path's script that applies.
#[derive(Clone, Copy, Debug)]
enum Act {
    Status(u16),
    RetryAfter(u16, &'static str),
    /// This status for the first request, 201 after.
    FirstThen(u16, &'static str),
    Panic,
    Hang,
    Refused,
}

/// Counts drops: put in a future to see it dropped.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Fake {
    acts: HashMap<String, Act>,
    calls: Mutex<HashMap<String, u32>>,
    hung_dropped: Arc<AtomicUsize>,
}

fn response(status: u16, retry_after: Option<&str>) -> PushResponse {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
    }
    PushResponse::new(StatusCode::from_u16(status).unwrap(), headers, Vec::new())
}

impl Sender for Fake {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        let path = request.uri().path().to_owned();
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(path.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let act = self.acts.get(&path).copied().unwrap_or(Act::Status(201));
        let guard = DropGuard(Arc::clone(&self.hung_dropped));
        Box::pin(async move {
            match act {
                Act::Status(s) => Ok(response(s, None)),
                Act::RetryAfter(s, v) => Ok(response(s, Some(v))),
                Act::FirstThen(s, v) if n == 0 => Ok(response(s, Some(v))),
                Act::FirstThen(..) => Ok(response(201, None)),
                Act::Panic => panic!("the fake sender panics"),
                Act::Hang => {
                    let _guard = guard;
                    std::future::pending().await
                }
                Act::Refused => Err(TransportError::new(TransportErrorKind::Connect, None)),
            }
        })
    }
}

impl Fake {
    fn calls(&self, path: &str) -> u32 {
        self.calls.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Records delays, returns at once.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Duration>>>);

impl Sleeper for Recorder {
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
        self.0.lock().unwrap().push(delay);
        Box::pin(async {})
    }
}

impl Recorder {
    fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// Never wakes up.
struct Forever;

impl Sleeper for Forever {
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }
}

fn sub(path: &str) -> Arc<Subscription> {
    let ua = UaKeyPair::generate().unwrap();
    Arc::new(Subscription::new(
        Endpoint::parse(&format!("https://push.example.net{path}")).unwrap(),
        ua.public_key().clone(),
        AuthSecret::generate().unwrap(),
    ))
}

fn client(fake: Fake) -> PushClient<Arc<Fake>> {
    client_on(Arc::new(fake))
}

fn client_on(fake: Arc<Fake>) -> PushClient<Arc<Fake>> {
    let signer = VapidSigner::new(
        VapidKey::generate().unwrap(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    );
    PushClient::with_sender(fake, signer)
}

fn fake(acts: &[(&str, Act)]) -> Fake {
    Fake {
        acts: acts.iter().map(|(p, a)| ((*p).to_owned(), *a)).collect(),
        ..Fake::default()
    }
}

async fn collect<K>(mut batch: Batch<K>) -> Vec<Report<K>> {
    let mut out = Vec::new();
    while let Some(r) = batch.next_report().await {
        out.push(r);
    }
    out
}

fn err(status: u16, retry_after: Option<&str>) -> SendError {
    crate::outcome::classify(response(status, retry_after), std::time::SystemTime::now())
        .unwrap_err()
}

// -------------------------------------------------------------- the policy

#[test]
fn policy_defaults_and_none() {
    let p = RetryPolicy::default();
    assert_eq!(p.attempts(), 3);
    assert_eq!(p.deadline_duration(), Some(Duration::from_secs(120)));
    assert_eq!(RetryPolicy::none().attempts(), 1);
    assert_eq!(RetryPolicy::new().max_attempts(0).attempts(), 1);
    assert_eq!(RetryPolicy::new().no_deadline().deadline_duration(), None);
    let e = err(503, None);
    assert_eq!(
        RetryPolicy::none().retry_delay(&e, 1, Duration::ZERO, 7),
        None
    );
}

#[test]
fn only_retryable_errors_are_retried() {
    let p = RetryPolicy::new();
    for status in [400, 401, 403, 404, 410, 413, 415, 422] {
        assert_eq!(
            p.retry_delay(&err(status, None), 1, Duration::ZERO, 0),
            None,
            "{status}"
        );
    }
    for status in [406, 408, 425, 429, 500, 502, 503] {
        assert!(
            p.retry_delay(&err(status, None), 1, Duration::ZERO, 0)
                .is_some(),
            "{status}"
        );
    }
    let timeout = SendError::Transport(TransportError::new(TransportErrorKind::Timeout, None));
    let tls = SendError::Transport(TransportError::new(TransportErrorKind::Tls, None));
    assert!(p.retry_delay(&timeout, 1, Duration::ZERO, 0).is_some());
    assert_eq!(p.retry_delay(&tls, 1, Duration::ZERO, 0), None);
    assert_eq!(
        p.retry_delay(&SendError::Cancelled, 1, Duration::ZERO, 0),
        None
    );
    // Out of attempts.
    assert_eq!(p.retry_delay(&err(503, None), 3, Duration::ZERO, 0), None);
}

#[test]
fn backoff_is_full_jitter_doubling_up_to_the_cap() {
    let p = RetryPolicy::new()
        .max_attempts(10)
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(700))
        .no_deadline();
    let e = err(500, None);
    let jitter = Jitter::new();
    for (attempt, cap_ms) in [(1, 100), (2, 200), (3, 400), (4, 700), (9, 700)] {
        let cap = Duration::from_millis(cap_ms);
        let mut max_seen = Duration::ZERO;
        for _ in 0..2000 {
            let d = p
                .retry_delay(&e, attempt, Duration::ZERO, jitter.next())
                .unwrap();
            assert!(d <= cap, "{attempt}: {d:?}");
            max_seen = max_seen.max(d);
        }
        // Spread over the whole range.
        assert!(max_seen > cap * 9 / 10, "{attempt}: {max_seen:?}");
    }
    // The extremes of the random number.
    assert_eq!(
        p.retry_delay(&e, 1, Duration::ZERO, 0),
        Some(Duration::ZERO)
    );
    assert_eq!(
        p.retry_delay(&e, 1, Duration::ZERO, 100_000_000),
        Some(Duration::from_millis(100))
    );
    // Huge settings do not overflow.
    let huge = RetryPolicy::new()
        .max_attempts(u32::MAX)
        .base_delay(Duration::MAX)
        .max_delay(Duration::MAX)
        .no_deadline();
    assert!(
        huge.retry_delay(&e, u32::MAX - 1, Duration::MAX, u64::MAX)
            .is_some()
    );
}

#[test]
fn retry_after_is_a_floor_and_has_a_cap() {
    let p = RetryPolicy::new()
        .base_delay(Duration::from_millis(100))
        .max_retry_after(Duration::from_secs(10));
    for random in [0, 1, 50_000_000, u64::MAX] {
        let d = p
            .retry_delay(&err(429, Some("2")), 1, Duration::ZERO, random)
            .unwrap();
        assert!(
            d >= Duration::from_secs(2) && d <= Duration::from_millis(2100),
            "{d:?}"
        );
    }
    let d = p
        .retry_delay(&err(503, Some("10")), 1, Duration::ZERO, 0)
        .unwrap();
    assert_eq!(d, Duration::from_secs(10));
    // Over the cap: reported, not waited for.
    assert_eq!(
        p.retry_delay(&err(429, Some("11")), 1, Duration::ZERO, 0),
        None
    );
}

#[test]
fn no_retry_past_the_deadline() {
    let p = RetryPolicy::new()
        .base_delay(Duration::from_millis(100))
        .deadline(Duration::from_secs(5));
    let e = err(429, Some("2"));
    assert!(p.retry_delay(&e, 1, Duration::from_secs(2), 0).is_some());
    assert_eq!(p.retry_delay(&e, 1, Duration::from_secs(3), 0), None);
    assert_eq!(p.retry_delay(&e, 1, Duration::from_secs(6), 0), None);
}

#[test]
fn job_debug_hides_the_payload() {
    let job = Job::new(
        7u32,
        sub("/push/a"),
        &b"secret words"[..],
        PushOptions::new(),
    );
    let text = format!("{job:?}");
    assert!(text.contains("payload_len: 12"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert!(!text.contains("/push/a"), "{text}");
}

// ---------------------------------------------------------------- batches

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_report_per_job_with_retries_where_they_help() {
    let fake = fake(&[
        ("/push/gone", Act::Status(410)),
        ("/push/bad", Act::Status(400)),
        ("/push/limited", Act::RetryAfter(429, "2")),
        ("/push/limited-once", Act::FirstThen(429, "3")),
        ("/push/failing", Act::Status(503)),
        ("/push/refused", Act::Refused),
        ("/push/too-long", Act::RetryAfter(429, "3600")),
    ]);
    let paths = [
        "/push/ok",
        "/push/gone",
        "/push/bad",
        "/push/limited",
        "/push/limited-once",
        "/push/failing",
        "/push/refused",
        "/push/too-long",
    ];
    let subs: Vec<_> = paths.iter().map(|p| sub(p)).collect();
    let recorder = Recorder::default();
    let batch = BatchSender::new(client(fake))
        .concurrency(3)
        .sleeper(recorder.clone())
        .retry(RetryPolicy::new().base_delay(Duration::from_millis(10)));
    let jobs = subs
        .iter()
        .enumerate()
        .map(|(i, s)| Job::new(i, Arc::clone(s), &b"hi"[..], PushOptions::new()))
        .collect::<Vec<_>>();
    let reports = collect(batch.send_iter(jobs)).await;
    assert_eq!(reports.len(), paths.len());
    let keys: HashSet<_> = reports.iter().map(|r| r.key).collect();
    assert_eq!(keys.len(), paths.len());
    let by_path: HashMap<_, _> = reports.iter().map(|r| (paths[r.key], r)).collect();

    let ok = by_path["/push/ok"];
    assert!(ok.is_delivered() && ok.attempts == 1);
    assert!(by_path["/push/gone"].is_gone() && by_path["/push/gone"].attempts == 1);
    assert_eq!(by_path["/push/bad"].attempts, 1);
    let limited = by_path["/push/limited"];
    assert!(matches!(limited.result, Err(SendError::RateLimited { .. })));
    assert_eq!(limited.attempts, 3);
    let once = by_path["/push/limited-once"];
    assert!(once.is_delivered() && once.attempts == 2, "{once:?}");
    assert!(once.elapsed >= Duration::from_secs(3), "{:?}", once.elapsed);
    assert_eq!(by_path["/push/failing"].attempts, 3);
    assert_eq!(by_path["/push/refused"].attempts, 3);
    let too_long = by_path["/push/too-long"];
    assert_eq!(too_long.attempts, 1);
    assert_eq!(
        too_long.error().and_then(SendError::retry_after),
        Some(Duration::from_secs(3600))
    );

    let delays = recorder.delays();
    // 2 for limited, 1 for limited-once, 2 for failing, 2 for refused.
    assert_eq!(delays.len(), 7, "{delays:?}");
    let long: Vec<_> = delays
        .iter()
        .filter(|d| **d >= Duration::from_secs(1))
        .collect();
    assert_eq!(long.len(), 3, "{delays:?}");
    assert!(
        delays
            .iter()
            .all(|d| *d <= Duration::from_millis(20) || *d >= Duration::from_secs(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sender_costs_one_report_not_the_batch() {
    let fake = fake(&[("/push/boom", Act::Panic)]);
    let batch = BatchSender::new(client(fake)).concurrency(4);
    let jobs = (0..20).map(|i| {
        let path = if i % 5 == 0 { "/push/boom" } else { "/push/ok" };
        Job::new(i, sub(path), Bytes::new(), PushOptions::new())
    });
    let reports = collect(batch.send_iter(jobs.collect::<Vec<_>>())).await;
    assert_eq!(reports.len(), 20);
    for r in &reports {
        if r.key % 5 == 0 {
            assert!(
                matches!(r.result, Err(SendError::InvalidMessage(m)) if m.contains("panicked")),
                "{r:?}"
            );
            assert_eq!(r.attempts, 1);
        } else {
            assert!(r.is_delivered(), "{r:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_for_on_the_tokio_clock() {
    let fake = Arc::new(fake(&[("/push/a", Act::FirstThen(429, "2"))]));
    let batch = BatchSender::new(client_on(Arc::clone(&fake)))
        .retry(RetryPolicy::new().base_delay(Duration::from_millis(100)));
    let start = Instant::now();
    let reports =
        collect(batch.send_to_many([(1, sub("/push/a"))], Bytes::new(), PushOptions::new())).await;
    let r = &reports[0];
    assert!(r.is_delivered() && r.attempts == 2, "{r:?}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_millis(2150),
        "{took:?}"
    );
    assert!(r.elapsed >= Duration::from_secs(2), "{:?}", r.elapsed);
    assert_eq!(fake.calls("/push/a"), 2);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_hanging_attempt() {
    let fake = Arc::new(fake(&[("/push/hang", Act::Hang)]));
    let batch = BatchSender::new(client_on(Arc::clone(&fake)))
        .retry(RetryPolicy::new().deadline(Duration::from_secs(5)));
    let start = Instant::now();
    let reports =
        collect(batch.send_to_many([(1, sub("/push/hang"))], Bytes::new(), PushOptions::new()))
            .await;
    let r = &reports[0];
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(r.attempts, 1, "{r:?}");
    assert!(r.error().is_some_and(SendError::is_timeout), "{r:?}");
    // No retry would end before the deadline.
    assert_eq!(fake.calls("/push/hang"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_pulling_and_reports_what_was_pulled() {
    let handle = CancelHandle::new();
    let pulled = Arc::new(AtomicUsize::new(0));
    let batch = BatchSender::new(client(Fake::default()))
        .concurrency(4)
        .cancel_with(handle.clone());
    let subscription = sub("/push/ok");
    let jobs = {
        let pulled = Arc::clone(&pulled);
        futures_util::stream::iter(0..100).map(move |i| {
            pulled.fetch_add(1, Ordering::SeqCst);
            if i == 9 {
                // Cancelled as the 10th job is pulled: it is never sent.
                handle.cancel();
            }
            Job::new(i, Arc::clone(&subscription), &b"x"[..], PushOptions::new())
        })
    };
    let reports = collect(batch.send_all(jobs)).await;
    assert_eq!(pulled.load(Ordering::SeqCst), 10);
    assert_eq!(reports.len(), 10);
    let keys: HashSet<_> = reports.iter().map(|r| r.key).collect();
    assert_eq!(keys, (0..10).collect());
    let last = reports.iter().find(|r| r.key == 9).unwrap();
    assert!(last.is_cancelled() && last.attempts == 0, "{last:?}");
    assert_eq!(
        last.error().unwrap().to_string(),
        "not sent: the batch was cancelled"
    );
    for r in &reports {
        assert!(
            r.is_delivered() || (r.is_cancelled() && r.attempts == 0),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_wait_reports_the_last_error() {
    let fake = fake(&[("/push/limited", Act::RetryAfter(429, "5"))]);
    let batch = BatchSender::new(client(fake)).sleeper(Forever);
    let mut reports = batch.send_to_many(
        [(1, sub("/push/limited"))],
        Bytes::new(),
        PushOptions::new(),
    );
    let handle = reports.cancel_handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        handle.cancel();
    });
    let r = reports.next_report().await.unwrap();
    assert!(
        matches!(r.result, Err(SendError::RateLimited { .. })),
        "{r:?}"
    );
    assert_eq!(r.attempts, 1);
    assert!(reports.next_report().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_pulled_lazily_and_dropping_the_batch_aborts_them() {
    let fake = Arc::new(fake(&[("/push/hang", Act::Hang)]));
    let pulled = Arc::new(AtomicUsize::new(0));
    let batch = BatchSender::new(client_on(Arc::clone(&fake))).concurrency(4);
    let subscription = sub("/push/hang");
    let jobs = {
        let pulled = Arc::clone(&pulled);
        futures_util::stream::iter(0..1_000_000u32).map(move |i| {
            pulled.fetch_add(1, Ordering::SeqCst);
            Job::new(
                i,
                Arc::clone(&subscription),
                Bytes::new(),
                PushOptions::new(),
            )
        })
    };
    let mut reports = batch.send_all(jobs);
    let next = tokio::time::timeout(Duration::from_millis(200), reports.next_report()).await;
    assert!(next.is_err(), "nothing completes");
    assert_eq!(pulled.load(Ordering::SeqCst), 4);
    drop(reports);
    for _ in 0..100 {
        if fake.hung_dropped.load(Ordering::SeqCst) == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.hung_dropped.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_sending_are_reported_with_no_attempt() {
    let batch = BatchSender::new(client(Fake::default()));
    let ip = Arc::new(Subscription::new(
        Endpoint::parse("https://10.0.0.1/push/x").unwrap(),
        UaKeyPair::generate().unwrap().public_key().clone(),
        AuthSecret::generate().unwrap(),
    ));
    let jobs = vec![
        Job::new("policy", ip, &b"x"[..], PushOptions::new()),
        Job::new(
            "too-big",
            sub("/push/a"),
            vec![0u8; 4000],
            PushOptions::new(),
        ),
    ];
    let reports = collect(batch.send_iter(jobs)).await;
    assert_eq!(reports.len(), 2);
    for r in reports {
        assert_eq!(r.attempts, 0, "{r:?}");
        match r.key {
            "policy" => assert!(matches!(r.result, Err(SendError::Policy(_)))),
            _ => assert!(matches!(r.result, Err(SendError::Encryption(_)))),
        }
    }
}

#[test]
fn types_are_send_and_cheap_to_clone() {
    const fn assert_send<T: Send>() {}
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send::<Batch<String>>();
    assert_send_sync::<BatchSender>();
    assert_send_sync::<CancelHandle>();
    assert_send_sync::<Report<String>>();
    assert_send_sync::<Job<String>>();
}
