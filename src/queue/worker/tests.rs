//! The worker loop against an in-memory engine and a fake push service:
//! what is settled how, in which order (events before acks), bad messages,
//! and shutdown. The real broker is exercised by `tests/broker`.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;
use crate::client::PushClient;
use crate::message::{AuthSecret, UaKeyPair};
use crate::queue::QueueError;
use crate::sender::{BoxFuture, PushResponse, TransportError};
use crate::subscription::{Endpoint, Subscription};
use crate::vapid::{Subject, VapidKey, VapidSigner};

/// The fake push service: the status comes from the endpoint's path
/// (`/201`, `/410`, `/429`, …); `/slow` answers 201 after 300 ms.
struct Service;

impl Sender for Service {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        let path = request.uri().path().trim_start_matches('/').to_owned();
        Box::pin(async move {
            if path == "slow" {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return Ok(response(201, None));
            }
            let status = path.parse().unwrap_or(201);
            Ok(response(status, (status == 429).then_some("7")))
        })
    }
}

fn response(status: u16, retry_after: Option<&str>) -> PushResponse {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after {
        headers.insert("retry-after", HeaderValue::from_str(v).unwrap());
    }
    PushResponse::new(StatusCode::from_u16(status).unwrap(), headers, Vec::new())
}

/// Everything the engine was told, in order.
type Log = Arc<Mutex<Vec<String>>>;

struct FakeEngine {
    queue: Mutex<VecDeque<(Bytes, u32, String)>>,
    log: Log,
    pulls: AtomicU64,
    /// The broker refuses every event (it is away).
    refuse_events: bool,
}

struct FakeHandle {
    name: String,
    log: Log,
}

impl FakeEngine {
    fn new(messages: Vec<(Bytes, u32, String)>) -> Self {
        Self {
            queue: Mutex::new(messages.into()),
            log: Log::default(),
            pulls: AtomicU64::new(0),
            refuse_events: false,
        }
    }
}

impl Engine for FakeEngine {
    type Handle = FakeHandle;
    type Batch =
        futures_util::stream::Iter<std::vec::IntoIter<Result<Pulled<FakeHandle>, QueueError>>>;

    async fn pull(&self, max: usize, wait: Duration) -> Result<Self::Batch, QueueError> {
        self.pulls.fetch_add(1, Ordering::Relaxed);
        let items: Vec<_> = {
            let mut queue = self.queue.lock().unwrap();
            let n = max.min(queue.len());
            queue.drain(..n).collect()
        };
        if items.is_empty() {
            tokio::time::sleep(wait.min(Duration::from_millis(20))).await;
        }
        let log = Arc::clone(&self.log);
        Ok(futures_util::stream::iter(
            items
                .into_iter()
                .map(|(payload, delivered, name)| {
                    Ok(Pulled {
                        payload,
                        delivered,
                        fallback_id: format!("seq:{name}"),
                        handle: FakeHandle {
                            name,
                            log: Arc::clone(&log),
                        },
                    })
                })
                .collect::<Vec<_>>(),
        ))
    }

    async fn publish_event(&self, event: &FeedbackEvent) -> Result<(), QueueError> {
        if self.refuse_events {
            self.log
                .lock()
                .unwrap()
                .push(format!("refused {}", event.job_id));
            return Err(QueueError::Publish("no PubAck".into()));
        }
        self.log
            .lock()
            .unwrap()
            .push(format!("event {} {}", event.kind, event.job_id));
        Ok(())
    }
}

impl FakeHandle {
    fn note(&self, what: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{what} {}", self.name));
    }
}

impl Handle for FakeHandle {
    async fn ack(&self) -> Result<(), QueueError> {
        self.note("ack");
        Ok(())
    }
    async fn retry_after(&self, delay: Duration) -> Result<(), QueueError> {
        self.note(&format!("nak({}s)", delay.as_secs()));
        Ok(())
    }
    async fn give_up(&self) -> Result<(), QueueError> {
        self.note("term");
        Ok(())
    }
    async fn in_progress(&self) -> Result<(), QueueError> {
        self.note("progress");
        Ok(())
    }
}

fn job(name: &str, path: &str, delivered: u32) -> (Bytes, u32, String) {
    let ua = UaKeyPair::generate().unwrap();
    let sub = Subscription::new(
        Endpoint::parse(&format!("https://push.example.net/{path}")).unwrap(),
        ua.public_key().clone(),
        AuthSecret::generate().unwrap(),
    );
    let job = PushJob::new(name, sub, b"hi".to_vec()).unwrap();
    (Bytes::from(job.to_json()), delivered, name.to_owned())
}

fn raw(name: &str, body: Vec<u8>) -> (Bytes, u32, String) {
    (Bytes::from(body), 1, name.to_owned())
}

fn settings(concurrency: usize) -> Settings {
    Settings {
        concurrency,
        ack_wait: Duration::from_secs(60),
        policy: ActionPolicy::default(),
        pull_wait: Duration::from_millis(50),
        shutdown_timeout: Duration::from_secs(5),
        event_retry: Duration::from_millis(1),
    }
}

fn batch() -> BatchSender<Service> {
    let signer = VapidSigner::new(
        VapidKey::generate().unwrap(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    );
    BatchSender::new(PushClient::with_sender(Service, signer))
}

/// Runs the worker until `done` says the log is complete (or 10 s), then
/// shuts it down; returns the log and the stats.
async fn run_until(
    engine: FakeEngine,
    concurrency: usize,
    done: impl Fn(&[String]) -> bool,
) -> (Vec<String>, WorkerStats) {
    let engine = Arc::new(engine);
    let log = Arc::clone(&engine.log);
    let shutdown = ShutdownHandle::new();
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn(run(
        Arc::clone(&engine),
        batch(),
        settings(concurrency),
        Arc::clone(&counters),
        shutdown.clone(),
    ));
    let start = Instant::now();
    while !done(&log.lock().unwrap()) && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.shutdown();
    let stats = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the worker stops after shutdown")
        .unwrap();
    let log = log.lock().unwrap().clone();
    (log, stats)
}

fn position(log: &[String], line: &str) -> usize {
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} not in {log:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_is_settled_as_the_table_says() {
    let engine = FakeEngine::new(vec![
        job("ok", "201", 1),
        job("gone", "410", 1),
        job("bad", "400", 1),
        job("busy", "429", 1),
        job("vapid", "403", 1),
        job("dying", "500", 5),
        raw("garbage", b"not json".to_vec()),
        raw("huge", vec![b' '; 1 << 20]),
    ]);
    let (log, stats) = run_until(engine, 4, |log| log.len() >= 11).await;
    for line in [
        "ack ok",
        "event gone gone",
        "ack gone",
        "event failed bad",
        "term bad",
        "nak(7s) busy",
        "event dead dying",
        "term dying",
        "event failed seq:garbage",
        "term garbage",
        "event failed seq:huge",
        "term huge",
    ] {
        position(&log, line);
    }
    // Events are stored before the job is settled.
    assert!(position(&log, "event gone gone") < position(&log, "ack gone"));
    assert!(position(&log, "event failed bad") < position(&log, "term bad"));
    assert!(position(&log, "event dead dying") < position(&log, "term dying"));
    // 403 is retried later, never gone, never terminated.
    let vapid: Vec<_> = log.iter().filter(|l| l.ends_with(" vapid")).collect();
    assert_eq!(vapid.len(), 1, "{log:?}");
    assert!(
        vapid[0].starts_with("nak(") && vapid[0] != "nak(0s) vapid",
        "{log:?}"
    );
    assert_eq!(
        (
            stats.delivered,
            stats.gone,
            stats.failed,
            stats.dead,
            stats.retried,
            stats.vapid_rejected
        ),
        (1, 1, 3, 1, 2, 1),
        "{stats:?}"
    );
    assert_eq!(stats.in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_and_stops_pulling() {
    // Two slots, both taken by slow jobs; the third job waits in the queue.
    let engine = Arc::new(FakeEngine::new(vec![
        job("slow1", "slow", 1),
        job("slow2", "slow", 1),
        job("later", "201", 1),
    ]));
    let shutdown = ShutdownHandle::new();
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn(run(
        Arc::clone(&engine),
        batch(),
        settings(2),
        Arc::clone(&counters),
        shutdown.clone(),
    ));
    let start = Instant::now();
    while counters.snapshot().in_flight < 2 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.shutdown();
    let stats = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("shutdown is bounded")
        .unwrap();
    let log = engine.log.lock().unwrap().clone();
    assert!(log.contains(&"ack slow1".to_owned()), "{log:?}");
    assert!(log.contains(&"ack slow2".to_owned()), "{log:?}");
    assert!(!log.iter().any(|l| l.ends_with(" later")), "{log:?}");
    assert_eq!(engine.queue.lock().unwrap().len(), 1, "later stays queued");
    assert_eq!((stats.delivered, stats.in_flight), (2, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_does_not_spin() {
    let engine = FakeEngine::new(Vec::new());
    let engine = Arc::new(engine);
    let shutdown = ShutdownHandle::new();
    let task = tokio::spawn(run(
        Arc::clone(&engine),
        batch(),
        settings(8),
        Arc::default(),
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.shutdown();
    task.await.unwrap();
    // Each empty pull waits (20 ms here): well under 100 pulls in 500 ms.
    let pulls = engine.pulls.load(Ordering::Relaxed);
    assert!((1..=40).contains(&pulls), "{pulls} pulls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_event_is_not_stored_is_never_acked() {
    let mut engine = FakeEngine::new(vec![job("gone", "410", 1), job("bad", "400", 1)]);
    engine.refuse_events = true;
    let (log, stats) = run_until(engine, 2, |log| {
        log.iter().filter(|l| l.starts_with("nak(")).count() == 2
    })
    .await;
    // Five tries each, then back to the broker: neither acked nor terminated.
    assert_eq!(
        log.iter().filter(|l| *l == "refused gone").count(),
        5,
        "{log:?}"
    );
    assert!(log.contains(&"nak(1s) gone".to_owned()), "{log:?}");
    assert!(log.contains(&"nak(1s) bad".to_owned()), "{log:?}");
    assert!(
        !log.iter()
            .any(|l| l.starts_with("ack") || l.starts_with("term")),
        "{log:?}"
    );
    assert_eq!(
        (stats.gone, stats.failed, stats.retried),
        (0, 0, 2),
        "{stats:?}"
    );
    assert_eq!(stats.broker_errors, 10, "{stats:?}");
}
