//! Batches against the local HTTPS push service, with faults on a share of
//! the subscriptions. Waits between retries go through a recording
//! `Sleeper` that returns at once, so `Retry-After: 2` costs no real time.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use webpush::batch::{BatchSender, CancelHandle, Job, Report, RetryPolicy, Sleeper};
use webpush::outcome::SendError;
use webpush::request::{PushOptions, Topic};
use webpush::sender::{
    BoxFuture, PushResponse, ReqwestSender, Sender, TransportError, TransportErrorKind,
};
use webpush::testing::{Fault, LocalPushService};
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{PushClient, Subscription};

const SENDER_TIMEOUT: Duration = Duration::from_millis(500);

struct Fixture {
    service: Arc<LocalPushService>,
    client: PushClient<Logged>,
    log: Log,
    key: VapidKey,
}

/// What each attempt to an endpoint path came back with, in order.
type Log = Arc<Mutex<HashMap<String, Vec<Attempt>>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Status(u16),
    Transport(TransportErrorKind),
}

/// The real sender, logging every attempt.
struct Logged {
    inner: ReqwestSender,
    log: Log,
}

impl Sender for Logged {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        let path = request.uri().path().to_owned();
        Box::pin(async move {
            let result = self.inner.send(request).await;
            let attempt = match &result {
                Ok(r) => Attempt::Status(r.status.as_u16()),
                Err(e) => Attempt::Transport(e.kind()),
            };
            self.log
                .lock()
                .unwrap()
                .entry(path)
                .or_default()
                .push(attempt);
            result
        })
    }
}

async fn fixture() -> Fixture {
    let service = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let signer = VapidSigner::new(
        key.clone(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    );
    let sender = service
        .sender_builder()
        .timeout(SENDER_TIMEOUT)
        .build()
        .unwrap();
    let log = Log::default();
    let sender = Logged {
        inner: sender,
        log: Arc::clone(&log),
    };
    let client = PushClient::with_sender(sender, signer).policy(service.policy());
    Fixture {
        service: Arc::new(service),
        client,
        log,
        key,
    }
}

impl Fixture {
    fn subscribe(&self, n: usize) -> Vec<Arc<Subscription>> {
        (0..n)
            .map(|_| {
                Arc::new(
                    self.service
                        .subscribe(&self.key.public_key_base64())
                        .unwrap(),
                )
            })
            .collect()
    }

    fn attempts(&self, sub: &Subscription) -> Vec<Attempt> {
        let path = sub.endpoint().uri().path();
        self.log
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

/// Records each requested delay and returns at once; runs a hook first.
#[derive(Clone, Default)]
struct Recorder {
    delays: Arc<Mutex<Vec<Duration>>>,
    hook: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Sleeper for Recorder {
    fn sleep(&self, delay: Duration) -> BoxFuture<'static, ()> {
        self.delays.lock().unwrap().push(delay);
        if let Some(hook) = &self.hook {
            hook();
        }
        Box::pin(async {})
    }
}

impl Recorder {
    fn delays(&self) -> Vec<Duration> {
        self.delays.lock().unwrap().clone()
    }
}

/// The faults, by `index % 20`; the other 12 of 20 are healthy.
fn fault_for(index: usize) -> Option<Fault> {
    Some(match index % 20 {
        0 => Fault::Gone,
        1 => Fault::NotFound,
        2 => Fault::RateLimited {
            retry_after: "2".into(),
        },
        3 => Fault::ServerError { retry_after: None },
        4 => Fault::Delay(SENDER_TIMEOUT * 3),
        // WNS throttling, without Retry-After.
        5 => Fault::Status {
            status: 406,
            body: String::new(),
        },
        6 => Fault::Status {
            status: 400,
            body: r#"{"reason":"BadRequest"}"#.into(),
        },
        7 => Fault::Status {
            status: 413,
            body: String::new(),
        },
        _ => return None,
    })
}

const JOBS: usize = 200;
const ATTEMPTS: u32 = 5;

fn check_keys<K: Copy + Eq + std::hash::Hash + std::fmt::Debug>(
    reports: &[Report<K>],
    expected: &HashSet<K>,
) {
    let keys: HashSet<K> = reports.iter().map(|r| r.key).collect();
    assert_eq!(reports.len(), expected.len(), "one report per job");
    assert_eq!(&keys, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_gets_one_report_and_faults_are_handled_as_they_should() {
    let f = fixture().await;
    let subs = f.subscribe(JOBS);
    for (i, sub) in subs.iter().enumerate() {
        if let Some(fault) = fault_for(i) {
            f.service.set_fault(sub, fault);
        }
    }
    let recorder = Recorder::default();
    let batch = BatchSender::new(f.client.clone())
        .concurrency(32)
        .sleeper(recorder.clone())
        .retry(
            RetryPolicy::new()
                .max_attempts(ATTEMPTS)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(50))
                .max_retry_after(Duration::from_secs(10)),
        );
    let jobs: Vec<_> = subs
        .iter()
        .enumerate()
        .map(|(i, s)| Job::new(i, Arc::clone(s), format!("message {i}"), PushOptions::new()))
        .collect();
    let started = std::time::Instant::now();
    let reports: Vec<_> = batch.send_iter(jobs).collect().await;
    println!("{JOBS} jobs in {:?}", started.elapsed());
    check_keys(&reports, &(0..JOBS).collect());

    let mut long_waits = 0;
    for r in &reports {
        let sub = &subs[r.key];
        let log = f.attempts(sub);
        let what = format!("job {}: {r:?}, attempts {log:?}", r.key);
        // Every request is counted, and a report is the last attempt's.
        assert_eq!(log.len(), r.attempts as usize, "{what}");
        let (last, before) = log.split_last().unwrap();
        match (last, &r.result) {
            (Attempt::Status(s), Ok(d)) => assert_eq!(*s, d.status().as_u16(), "{what}"),
            (Attempt::Status(s), Err(e)) => {
                assert_eq!(Some(*s), e.status().map(|s| s.as_u16()), "{what}")
            }
            (Attempt::Transport(_), Err(SendError::Transport(_))) => {}
            _ => panic!("{what}"),
        }
        // Retried only after 429, 406, 5xx and timeouts, and always
        // the same way for a subscription.
        for a in before {
            match a {
                Attempt::Status(429) => long_waits += 1,
                Attempt::Status(s) => assert!(*s >= 500 || *s == 406, "retried after {s}: {what}"),
                Attempt::Transport(_) => {}
            }
            assert_eq!(a, last, "{what}");
        }
        let final_status = r.error().and_then(SendError::status).map(|s| s.as_u16());
        match r.key % 20 {
            0 | 1 => {
                assert!(r.is_gone(), "{what}");
                assert_eq!(r.attempts, 1, "{what}");
            }
            2 => {
                assert_eq!(r.attempts, ATTEMPTS, "{what}");
                assert!(
                    log.iter().filter(|a| **a == Attempt::Status(429)).count() >= 1,
                    "{what}"
                );
            }
            3 => {
                assert_eq!(r.attempts, ATTEMPTS, "{what}");
                assert!(log.contains(&Attempt::Status(500)), "{what}");
            }
            4 => {
                assert_eq!(r.attempts, ATTEMPTS, "{what}");
                assert!(
                    log.contains(&Attempt::Transport(TransportErrorKind::Timeout)),
                    "{what}"
                );
            }
            5 => {
                assert!(
                    matches!(r.result, Err(SendError::RateLimited { .. })),
                    "{what}"
                );
                assert_eq!(r.attempts, ATTEMPTS, "{what}");
            }
            6 => {
                assert!(
                    matches!(r.result, Err(SendError::BadRequest { .. })),
                    "{what}"
                );
                assert_eq!(final_status, Some(400), "{what}");
                assert_eq!(r.attempts, 1, "4xx is not retried: {what}");
            }
            7 => {
                assert!(
                    matches!(r.result, Err(SendError::PayloadTooLarge { .. })),
                    "{what}"
                );
                assert_eq!(final_status, Some(413), "{what}");
                assert_eq!(r.attempts, 1, "4xx is not retried: {what}");
            }
            _ => {
                assert!(r.is_delivered(), "{what}");
                assert_eq!(r.attempts, 1, "{what}");
                let received = f.service.received(sub);
                assert_eq!(received.len(), 1, "{what}");
                assert_eq!(received[0].payload, format!("message {}", r.key).as_bytes());
            }
        }
    }

    // Waits: after each 429, Retry-After (2 s) plus at most the 50 ms
    // backoff; after anything else, the short backoff alone.
    let delays = recorder.delays();
    let long = delays
        .iter()
        .filter(|d| **d >= Duration::from_secs(1))
        .count();
    assert_eq!(long, long_waits, "{delays:?}");
    assert_eq!(
        long_waits,
        JOBS / 20 * (ATTEMPTS as usize - 1),
        "{delays:?}"
    );
    // The other retries: 500, timeout and 406 jobs.
    assert_eq!(
        delays.len() - long,
        3 * JOBS / 20 * (ATTEMPTS as usize - 1),
        "{delays:?}"
    );
    for d in &delays {
        assert!(
            *d <= Duration::from_millis(50)
                || (*d >= Duration::from_secs(2) && *d <= Duration::from_millis(2050)),
            "{d:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried_and_every_job_reported() {
    let f = fixture().await;
    let subs = f.subscribe(100);
    for sub in subs.iter().step_by(50) {
        f.service.set_fault(sub, Fault::DropConnection);
    }
    // Real (short) waits here, so that retries spread out in time.
    let batch = BatchSender::new(f.client.clone()).concurrency(16).retry(
        RetryPolicy::new()
            .max_attempts(ATTEMPTS)
            .base_delay(Duration::from_millis(20))
            .max_delay(Duration::from_millis(200)),
    );
    let reports: Vec<_> = batch
        .send_to_many(
            subs.clone().into_iter().enumerate(),
            &b"hello"[..],
            PushOptions::new().topic(Topic::new("retry-safe").unwrap()),
        )
        .collect()
        .await;
    check_keys(&reports, &(0..100).collect());
    for r in &reports {
        let log = f.attempts(&subs[r.key]);
        let what = format!("job {}: {r:?}, attempts {log:?}", r.key);
        assert_eq!(log.len(), r.attempts as usize, "{what}");
        if r.key % 50 == 0 {
            assert!(matches!(r.result, Err(SendError::Transport(_))), "{what}");
            assert_eq!(r.attempts, ATTEMPTS, "{what}");
            assert!(f.service.received(&subs[r.key]).is_empty(), "{what}");
        } else if r.is_delivered() {
            // A dropped HTTP/2 connection takes every stream on it along,
            // so other jobs may need a retry too; with a Topic a second
            // copy would replace the first.
            assert!(!f.service.received(&subs[r.key]).is_empty(), "{what}");
        } else {
            // A job whose every attempt was in flight when a connection was
            // dropped (its retries can fall in step with the dropping job's):
            // rare, and then reported as what happened to it.
            assert!(matches!(r.result, Err(SendError::Transport(_))), "{what}");
            assert_eq!(r.attempts, ATTEMPTS, "{what}");
        }
    }
    let delivered = reports.iter().filter(|r| r.is_delivered()).count();
    assert!(
        delivered >= 90,
        "only {delivered} of 98 healthy jobs delivered"
    );
    let retried = reports.iter().filter(|r| r.attempts > 1).count();
    println!("{retried} of 100 jobs needed a retry, {delivered} delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_lifted_after_the_first_attempt_ends_delivered_on_the_second() {
    let f = fixture().await;
    let sub = f.subscribe(1).remove(0);
    f.service.set_fault(
        &sub,
        Fault::RateLimited {
            retry_after: "2".into(),
        },
    );
    // The fault is lifted while the batch waits.
    let hook = {
        let (service, sub) = (Arc::clone(&f.service), Arc::clone(&sub));
        Arc::new(move || service.clear_fault(&sub))
    };
    let recorder = Recorder {
        hook: Some(hook),
        ..Recorder::default()
    };
    let batch = BatchSender::new(f.client.clone())
        .sleeper(recorder.clone())
        .retry(RetryPolicy::new().base_delay(Duration::from_millis(100)));
    let mut reports =
        batch.send_to_many([("only", sub.clone())], &b"hello"[..], PushOptions::new());
    let r = reports.next_report().await.unwrap();
    assert!(reports.next_report().await.is_none());
    assert!(r.is_delivered(), "{r:?}");
    assert_eq!(r.attempts, 2);
    assert_eq!(
        f.attempts(&sub),
        [Attempt::Status(429), Attempt::Status(201)]
    );
    let delays = recorder.delays();
    assert_eq!(delays.len(), 1);
    assert!(
        delays[0] >= Duration::from_secs(2) && delays[0] <= Duration::from_millis(2100),
        "{delays:?}"
    );
    assert!(r.elapsed >= Duration::from_secs(2), "{:?}", r.elapsed);
    let received = f.service.received(&sub);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].payload, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_over_the_cap_is_reported_not_waited_for() {
    let f = fixture().await;
    let sub = f.subscribe(1).remove(0);
    f.service.set_fault(
        &sub,
        Fault::RateLimited {
            retry_after: "3600".into(),
        },
    );
    let recorder = Recorder::default();
    let batch = BatchSender::new(f.client.clone()).sleeper(recorder.clone());
    let reports: Vec<_> = batch
        .send_to_many([(1, Arc::clone(&sub))], &b"x"[..], PushOptions::new())
        .collect()
        .await;
    let r = &reports[0];
    assert_eq!(r.attempts, 1);
    assert_eq!(f.attempts(&sub), [Attempt::Status(429)]);
    assert_eq!(
        r.error().and_then(SendError::retry_after),
        Some(Duration::from_secs(3600))
    );
    assert!(recorder.delays().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_halfway_reports_every_pulled_job_once() {
    let f = fixture().await;
    let subs = f.subscribe(JOBS);
    let pulled = Arc::new(Mutex::new(HashSet::new()));
    // The cancel lands while job `CANCEL_AT` is being pulled: that job is
    // pulled but, by construction, not started, whatever the scheduler does
    // with the jobs still in flight (they may be sent or not yet). Cancelling
    // from the report loop instead left it to chance whether any pulled job
    // was still unsent (issue 16: 1 run in 7 had none).
    const CANCEL_AT: usize = JOBS / 2;
    let cancel = CancelHandle::new();
    let jobs = {
        let (subs, pulled, cancel) = (subs.clone(), Arc::clone(&pulled), cancel.clone());
        futures_util::stream::iter(0..JOBS).map(move |i| {
            pulled.lock().unwrap().insert(i);
            if i == CANCEL_AT {
                cancel.cancel();
            }
            Job::new(
                i,
                Arc::clone(&subs[i]),
                vec![0x42; 1000],
                PushOptions::new(),
            )
        })
    };
    let batch = BatchSender::new(f.client.clone())
        .concurrency(32)
        .cancel_with(cancel);
    let seen: Vec<_> = batch.send_all(jobs).collect().await;
    let pulled = pulled.lock().unwrap().clone();
    assert_eq!(
        pulled,
        (0..=CANCEL_AT).collect(),
        "no job pulled after the cancel"
    );
    check_keys(&seen, &pulled);

    let mut cancelled = HashSet::new();
    for r in &seen {
        let received = f.service.received(&subs[r.key]);
        if r.is_cancelled() {
            cancelled.insert(r.key);
            assert_eq!(r.attempts, 0, "{r:?}");
            assert!(received.is_empty(), "a cancelled job was not sent: {r:?}");
            assert!(f.attempts(&subs[r.key]).is_empty(), "{r:?}");
        } else {
            assert!(r.is_delivered(), "{r:?}");
            assert_eq!(received.len(), 1, "{r:?}");
        }
    }
    println!(
        "pulled {}, delivered {}, cancelled {}",
        pulled.len(),
        seen.len() - cancelled.len(),
        cancelled.len()
    );
    assert!(
        cancelled.contains(&CANCEL_AT),
        "the job pulled as the cancel landed was not started"
    );
}
