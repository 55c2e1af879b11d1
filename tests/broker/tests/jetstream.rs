//! Issue 12 against a real nats-server: `webpush enqueue`, `worker` and
//! `feedback` processes of the CLI binary, the in-process
//! `LocalPushService` as the push service (it decrypts what it accepts).
//! Every wait is bounded; the tests run one at a time ([`serial`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use serde_json::Value;
use webpush::Subscription;
use webpush::testing::{Fault, ReceivedMessage};
use webpush_broker_tests::{Broker, JOBS_SUBJECT, Knobs, endpoint, serial, wait_until};

const SECOND: Duration = Duration::from_secs(1);

/// The counters of a worker's last `stats:` line (`name=value` pairs).
fn last_stats(stderr: &str) -> HashMap<String, f64> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("stats:"))
        .unwrap_or_else(|| panic!("no stats line in: {stderr}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.trim_end_matches("/s").parse().ok()?)))
        .collect()
}

/// Events of one kind, by endpoint.
fn events_by_endpoint<'a>(events: &'a [Value], kind: &str) -> HashMap<String, Vec<&'a Value>> {
    let mut map: HashMap<String, Vec<&Value>> = HashMap::new();
    for e in events.iter().filter(|e| e["kind"] == kind) {
        map.entry(e["endpoint"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(e);
    }
    map
}

/// Asserts that no event came twice (same kind and job id).
fn assert_no_event_twice(events: &[Value]) {
    let mut seen = HashSet::new();
    for e in events {
        let key = (e["kind"].to_string(), e["job_id"].to_string());
        assert!(seen.insert(key), "event twice: {e}");
    }
}

/// Stops a worker with SIGTERM and asserts a clean exit 0.
fn stop_worker(w: &mut webpush_broker_tests::Process) -> String {
    w.sigterm();
    let status = w.wait(Duration::from_secs(20));
    let err = w.stderr();
    assert!(status.success(), "worker exited {status}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn counts(received: &[Vec<ReceivedMessage>]) -> (usize, usize) {
    let delivered = received.iter().filter(|l| !l.is_empty()).count();
    let duplicated = received.iter().filter(|l| l.len() > 1).count();
    (delivered, duplicated)
}

/// A broker with `knobs` and one job for each of `n` fresh subscriptions,
/// enqueued from `subs.jsonl` with `--payload <payload> --id-prefix
/// <prefix>` after `fault(i)`, where it gives one, is set on the i-th.
/// Returns the broker, the subscriptions and enqueue's stderr.
async fn broker_with_jobs(
    knobs: Knobs,
    n: usize,
    fault: impl Fn(usize) -> Option<Fault>,
    payload: &str,
    prefix: &str,
) -> (Broker, Vec<Subscription>, String) {
    let b = Broker::start(knobs).await;
    let subs = b.subscribe(n);
    for (i, sub) in subs.iter().enumerate() {
        if let Some(fault) = fault(i) {
            b.service.set_fault(sub, fault);
        }
    }
    let file = b.subscriptions_file("subs.jsonl", &subs);
    let err = b.enqueue_ok(&file, &["--payload", payload, "--id-prefix", prefix]);
    (b, subs, err)
}

/// Waits until at least `at_least` subscriptions got a message, taking
/// what the service accepted into `received`.
async fn wait_served(
    b: &Broker,
    subs: &[Subscription],
    received: &mut Vec<Vec<ReceivedMessage>>,
    at_least: usize,
    bound: Duration,
    what: &str,
) {
    wait_until(bound, what, || {
        b.take_received(subs, received);
        let (n, _) = counts(&received[..]);
        (n >= at_least, format!("{n} of the {at_least} wanted"))
    })
    .await;
}

/// Waits until the push service has had at least `n` requests.
async fn wait_requests(b: &Broker, n: u64, bound: Duration, what: &str) {
    wait_until(bound, what, || {
        let got = b.service.request_count();
        (got >= n, format!("{got} requests"))
    })
    .await;
}

/// Waits until the push service accepted a message for `sub`; returns
/// what it accepted.
async fn wait_received(
    b: &Broker,
    sub: &Subscription,
    bound: Duration,
    what: &str,
) -> Vec<ReceivedMessage> {
    let mut got = Vec::new();
    wait_until(bound, what, || {
        got.extend(b.service.take_received(sub));
        (!got.is_empty(), String::new())
    })
    .await;
    got
}

// ---------------------------------------------------------------- 1

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_decrypt_each_of_2000_jobs_exactly_once_and_report_each_gone_once() {
    let _serial = serial().await;
    let gone: HashSet<usize> = (0..2000).step_by(20).collect();
    let knobs = Knobs {
        concurrency: 32,
        ..Knobs::default()
    };
    let fault = |i| gone.contains(&i).then_some(Fault::Gone);
    let (mut b, subs, err) = broker_with_jobs(knobs, 2000, fault, "one of 2000", "t1-").await;
    assert!(err.contains("2000 enqueued"), "{err}");

    let mut w1 = b.worker(&[]);
    let mut w2 = b.worker(&[]);
    let mut received = Vec::new();
    let want = subs.len() - gone.len();
    let what = "every live subscription served";
    wait_served(&b, &subs, &mut received, want, 120 * SECOND, what).await;
    b.wait_drained(Duration::from_secs(30)).await;
    b.take_received(&subs, &mut received);
    w1.assert_alive();
    w2.assert_alive();

    let mut topics = HashSet::new();
    for (i, list) in received.iter().enumerate() {
        if gone.contains(&i) {
            assert!(list.is_empty(), "gone subscription {i} got {list:?}");
            continue;
        }
        assert_eq!(list.len(), 1, "subscription {i}: {list:?}");
        assert_eq!(list[0].payload, b"one of 2000");
        let topic = list[0]
            .topic
            .clone()
            .expect("a topic derived from the job id");
        assert!(topics.insert(topic), "topic of job {i} not unique");
    }

    let events = b.feedback();
    assert_eq!(events.len(), gone.len(), "{events:?}");
    assert_no_event_twice(&events);
    let by_endpoint = events_by_endpoint(&events, "gone");
    for &i in &gone {
        let e = &by_endpoint[&endpoint(&subs[i])];
        assert_eq!(e.len(), 1);
        assert_eq!(e[0]["status"], 410);
        assert_eq!(e[0]["job_id"], format!("t1-{}", i + 1));
    }

    // Both processes took part.
    let s1 = last_stats(&stop_worker(&mut w1));
    let s2 = last_stats(&stop_worker(&mut w2));
    assert!(
        s1["delivered"] > 0.0 && s2["delivered"] > 0.0,
        "{s1:?} {s2:?}"
    );
    assert_eq!(s1["delivered"] + s2["delivered"], want as f64);
    assert_eq!(s1["gone"] + s2["gone"], gone.len() as f64);
}

// ---------------------------------------------------------------- 2

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_worker_loses_nothing_and_duplicates_only_its_in_flight_jobs_with_their_topic()
{
    let _serial = serial().await;
    let concurrency = 16;
    let knobs = Knobs {
        concurrency,
        ack_wait: 3.0,
        ..Knobs::default()
    };
    let gone: HashSet<usize> = (0..2000).step_by(25).collect();
    // Slow sends, so that the killed worker has jobs in flight.
    let fault = |i| {
        Some(if gone.contains(&i) {
            Fault::Gone
        } else {
            Fault::Delay(Duration::from_millis(20))
        })
    };
    let (mut b, subs, _) = broker_with_jobs(knobs, 2000, fault, "kill -9", "t2-").await;

    let mut victim = b.worker(&[]);
    let mut survivor = b.worker(&[]);
    let mut received = Vec::new();
    let want = subs.len() - gone.len();
    wait_served(
        &b,
        &subs,
        &mut received,
        want * 3 / 10,
        60 * SECOND,
        "30 % delivered",
    )
    .await;
    victim.assert_alive();
    victim.kill9();
    let (at_kill, _) = counts(&received[..]);
    assert!(at_kill < want, "everything was delivered before the kill");

    let what = "every live subscription served";
    wait_served(&b, &subs, &mut received, want, 120 * SECOND, what).await;
    b.wait_drained(Duration::from_secs(30)).await;
    b.take_received(&subs, &mut received);
    survivor.assert_alive();

    let (_, duplicated) = counts(&received[..]);
    assert!(
        duplicated <= concurrency,
        "{duplicated} jobs duplicated; the killed worker had at most {concurrency} in flight"
    );
    for (i, list) in received.iter().enumerate() {
        if gone.contains(&i) {
            assert!(list.is_empty());
            continue;
        }
        assert!(!list.is_empty(), "job {i} lost");
        let first = list[0].topic.as_deref().expect("topic");
        for copy in &list[1..] {
            assert_eq!(copy.topic.as_deref(), Some(first), "duplicate of job {i}");
        }
        assert!(list.iter().all(|m| m.payload == b"kill -9"));
    }

    let events = b.feedback();
    assert_no_event_twice(&events);
    let by_endpoint = events_by_endpoint(&events, "gone");
    assert_eq!(events.len(), gone.len(), "{events:?}");
    for &i in &gone {
        assert_eq!(by_endpoint[&endpoint(&subs[i])].len(), 1, "gone job {i}");
    }
    stop_worker(&mut survivor);
    eprintln!("kill -9 at {at_kill} of {want}; {duplicated} duplicated");
}

// ---------------------------------------------------------------- 3

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_job_is_redelivered_by_the_broker_no_earlier_than_retry_after() {
    let _serial = serial().await;
    let fault = |_| {
        Some(Fault::RateLimited {
            retry_after: "3".into(),
        })
    };
    let (mut b, subs, _) = broker_with_jobs(Knobs::default(), 1, fault, "later", "t3a-").await;
    let mut w = b.worker(&[]);

    wait_requests(&b, 1, 10 * SECOND, "the first attempt (429)").await;
    // When the 429's request arrived at the service: before the worker's
    // nak (the one request so far; the redelivery comes seconds later).
    let at_429 = b.service.last_request_at().expect("a request");
    b.service.clear_fault(&subs[0]);
    let got = wait_received(&b, &subs[0], 20 * SECOND, "the redelivery").await;
    let gap = got[0].received_at.duration_since(at_429);
    assert!(
        gap >= 3 * SECOND,
        "redelivered {gap:?} after the 429 (Retry-After: 3)"
    );
    assert!(gap < 10 * SECOND, "redelivered only {gap:?} after the 429");
    assert_eq!(got[0].payload, b"later");
    b.wait_drained(10 * SECOND).await;
    assert_eq!(b.service.request_count(), 2);
    assert!(b.feedback().is_empty());
    let stats = last_stats(&stop_worker(&mut w));
    assert_eq!(stats["delivered"], 1.0, "{stats:?}");
    assert_eq!(stats["retried"], 1.0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_error_is_dead_lettered_after_max_deliver_with_its_attempt_count() {
    let _serial = serial().await;
    let knobs = Knobs {
        max_deliver: 3,
        backoff_min: 0.1,
        backoff_max: 0.3,
        ..Knobs::default()
    };
    let fault = |_| Some(Fault::ServerError { retry_after: None });
    let (mut b, subs, _) = broker_with_jobs(knobs, 1, fault, "never", "t3b-").await;
    let mut w = b.worker(&[]);
    wait_requests(&b, 3, 20 * SECOND, "three attempts").await;
    b.wait_drained(10 * SECOND).await;
    // Longer than any backoff: no fourth attempt comes.
    tokio::time::sleep(SECOND).await;
    assert_eq!(b.service.request_count(), 3);

    let events = b.feedback();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["kind"], "dead", "{e}");
    assert_eq!(e["attempts"], 3, "{e}");
    assert_eq!(e["status"], 500, "{e}");
    assert_eq!(e["job_id"], "t3b-1", "{e}");
    assert_eq!(e["endpoint"], endpoint(&subs[0]));
    let stats = last_stats(&stop_worker(&mut w));
    assert_eq!(stats["dead"], 1.0, "{stats:?}");
    assert_eq!(stats["retried"], 2.0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_request_is_terminated_with_a_failed_event_after_exactly_one_attempt() {
    let _serial = serial().await;
    let fault = |_| {
        Some(Fault::Status {
            status: 400,
            body: r#"{"reason":"InvalidPayload"}"#.into(),
        })
    };
    let (mut b, _, _) = broker_with_jobs(Knobs::default(), 1, fault, "refused", "t3c-").await;
    let mut w = b.worker(&[]);
    wait_requests(&b, 1, 10 * SECOND, "the attempt").await;
    b.wait_drained(10 * SECOND).await;
    tokio::time::sleep(2 * SECOND).await; // past backoff_max: nothing more
    assert_eq!(b.service.request_count(), 1);

    let events = b.feedback();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["kind"], "failed", "{e}");
    assert_eq!(e["status"], 400, "{e}");
    assert_eq!(e["attempts"], 1, "{e}");
    assert_eq!(e["job_id"], "t3c-1", "{e}");
    assert!(!e["reason"].as_str().unwrap().is_empty(), "{e}");
    let stats = last_stats(&stop_worker(&mut w));
    assert_eq!(stats["failed"], 1.0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vapid_rejection_is_retried_loudly_and_never_reported_gone() {
    let _serial = serial().await;
    let knobs = Knobs {
        max_deliver: 50,
        ..Knobs::default()
    };
    let fault = |_| {
        Some(Fault::Status {
            status: 403,
            body: r#"{"reason":"VapidKeyMismatch"}"#.into(),
        })
    };
    let (mut b, subs, _) = broker_with_jobs(knobs, 1, fault, "after the fix", "t3d-").await;
    let mut w = b.worker(&["--vapid-backoff", "0.3"]);
    wait_requests(&b, 3, 20 * SECOND, "three refused attempts").await;
    // The operator fixes the key: the same job goes through.
    b.service.clear_fault(&subs[0]);
    let got = wait_received(&b, &subs[0], 20 * SECOND, "delivery after the fix").await;
    b.wait_drained(10 * SECOND).await;
    assert_eq!(got[0].payload, b"after the fix");
    assert!(b.feedback().is_empty(), "a VAPID refusal is never gone");
    let err = stop_worker(&mut w);
    assert!(
        err.lines()
            .any(|l| l.contains("VAPID") && l.starts_with("warning:")),
        "{err}"
    );
    let stats = last_stats(&err);
    assert!(stats["vapid_rejected"] >= 3.0, "{stats:?}");
    assert_eq!(stats["delivered"], 1.0, "{stats:?}");
}

// ---------------------------------------------------------------- 4

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restart_mid_run_loses_nothing_and_workers_reconnect_by_themselves() {
    let _serial = serial().await;
    let mut b = Broker::start(Knobs {
        concurrency: 8,
        ack_wait: 3.0,
        ..Knobs::default()
    })
    .await;
    let subs = b.subscribe(1500);
    for sub in &subs {
        b.service
            .set_fault(sub, Fault::Delay(Duration::from_millis(20)));
    }
    let first = b.subscriptions_file("first.jsonl", &subs[..1000]);
    b.enqueue_ok(&first, &["--payload", "restart", "--id-prefix", "t4a-"]);
    let mut w1 = b.worker(&[]);
    let mut w2 = b.worker(&[]);
    let mut received = Vec::new();
    wait_served(&b, &subs, &mut received, 300, 60 * SECOND, "30 % delivered").await;
    b.nats.restart();
    let (at_restart, _) = counts(&received[..]);
    assert!(
        at_restart < 1000,
        "everything was delivered before the restart"
    );
    // Jobs enqueued after the restart reach the same (reconnected) workers.
    let second = b.subscriptions_file("second.jsonl", &subs[1000..]);
    b.enqueue_ok(&second, &["--payload", "restart", "--id-prefix", "t4b-"]);

    let what = "every job delivered";
    wait_served(&b, &subs, &mut received, subs.len(), 120 * SECOND, what).await;
    b.wait_drained(30 * SECOND).await;
    b.take_received(&subs, &mut received);
    w1.assert_alive();
    w2.assert_alive();
    for (i, list) in received.iter().enumerate() {
        assert!(!list.is_empty(), "job {i} lost");
        let first = list[0].topic.as_deref();
        assert!(list.iter().all(|m| m.topic.as_deref() == first));
    }
    assert!(b.feedback().is_empty());
    stop_worker(&mut w1);
    stop_worker(&mut w2);
    eprintln!(
        "restarted at {at_restart} of 1000; {} duplicated",
        counts(&received[..]).1
    );
}

// ---------------------------------------------------------------- 5

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_exits_0_promptly_and_loses_nothing() {
    let _serial = serial().await;
    // A long ack wait: what the stopped worker held must come back by its
    // nak, not by the broker's timeout.
    let knobs = Knobs {
        concurrency: 16,
        ack_wait: 60.0,
        ..Knobs::default()
    };
    let fault = |_| Some(Fault::Delay(Duration::from_millis(20)));
    let (mut b, subs, _) = broker_with_jobs(knobs, 1500, fault, "sigterm", "t5-").await;
    let mut w = b.worker(&[]);
    let mut received = Vec::new();
    wait_served(&b, &subs, &mut received, 450, 60 * SECOND, "30 % delivered").await;
    let stopped = Instant::now();
    w.sigterm();
    let status = w.wait(Duration::from_secs(15));
    let took = stopped.elapsed();
    let err = w.stderr();
    assert!(status.success(), "exit {status} after SIGTERM: {err}");
    assert!(!err.contains("panicked"), "{err}");
    b.take_received(&subs, &mut received);
    let (at_stop, _) = counts(&received[..]);
    assert!(
        at_stop < subs.len(),
        "everything was delivered before SIGTERM"
    );

    // Nothing is left unacked: a new worker finishes the rest well within
    // the 60 s ack wait.
    let mut next = b.worker(&[]);
    let what = "the rest delivered by a new worker";
    wait_served(&b, &subs, &mut received, subs.len(), 30 * SECOND, what).await;
    b.wait_drained(10 * SECOND).await;
    b.take_received(&subs, &mut received);
    for (i, list) in received.iter().enumerate() {
        assert_eq!(
            list.len(),
            1,
            "job {i}: in flight jobs are finished, not resent"
        );
    }
    stop_worker(&mut next);
    eprintln!("SIGTERM at {at_stop} of 1500; exit 0 after {took:?}");
}

// ---------------------------------------------------------------- 6

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_job_messages_become_failed_events_and_the_worker_keeps_going() {
    let _serial = serial().await;
    let mut b = Broker::start(Knobs::default()).await;
    let subs = b.subscribe(2);
    // A valid job first: it creates the stream and shows the wire format.
    let file = b.subscriptions_file("subs.jsonl", &subs[..1]);
    b.enqueue_ok(&file, &["--payload", "before", "--id-prefix", "t6a-"]);
    let mut w = b.worker(&[]);
    wait_requests(&b, 1, 20 * SECOND, "the valid job").await;

    let js = async_nats::jetstream::new(b.client().await);
    let publish = |id: &'static str, body: Vec<u8>| {
        let js = js.clone();
        async move {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id);
            js.publish_with_headers(JOBS_SUBJECT, headers, body.into())
                .await
                .expect("publish")
                .await
                .expect("PubAck");
        }
    };
    publish("garbage", b"\x00\xffnot json at all{".to_vec()).await;
    let bad_sub = serde_json::json!({
        "v": 1,
        "id": "bad-subscription",
        "subscription": {"endpoint": "https://127.0.0.1/push/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}},
        "payload": "",
    });
    publish("bad-subscription", bad_sub.to_string().into_bytes()).await;
    // 1 MiB less the header room: as large as nats-server's max_payload
    // lets a message with a Nats-Msg-Id be.
    publish("huge", vec![b'{'; 1024 * 1024 - 128]).await;

    // The worker keeps going: a valid job after them is delivered.
    let file = b.subscriptions_file("after.jsonl", &subs[1..]);
    b.enqueue_ok(&file, &["--payload", "after", "--id-prefix", "t6b-"]);
    wait_received(
        &b,
        &subs[1],
        20 * SECOND,
        "the job after the malformed ones",
    )
    .await;
    b.wait_drained(10 * SECOND).await;
    w.assert_alive();

    let events = b.feedback();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_no_event_twice(&events);
    for e in &events {
        assert_eq!(e["kind"], "failed", "{e}");
        assert!(e["status"].is_null(), "{e}");
        assert!(!e["job_id"].as_str().unwrap().is_empty(), "{e}");
    }
    // One event per message, each with its own reason.
    let with_reason = |words: &[&str]| {
        events
            .iter()
            .filter(|e| {
                let r = e["reason"].as_str().unwrap().to_lowercase();
                words.iter().all(|w| r.contains(w))
            })
            .count()
    };
    assert_eq!(with_reason(&["not valid json"]), 1, "{events:?}");
    assert_eq!(with_reason(&["subscription"]), 1, "{events:?}");
    assert_eq!(with_reason(&["octets", "limit"]), 1, "{events:?}");
    let stats = last_stats(&stop_worker(&mut w));
    assert_eq!(stats["failed"], 3.0, "{stats:?}");
    assert_eq!(stats["delivered"], 2.0, "{stats:?}");
}

// ---------------------------------------------------------------- enqueue

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reenqueue_within_the_duplicate_window_is_dropped_by_the_broker() {
    let _serial = serial().await;
    let mut b = Broker::start(Knobs::default()).await;
    let subs = b.subscribe(20);
    let file = b.subscriptions_file("subs.jsonl", &subs);
    let err = b.enqueue_ok(&file, &["--payload", "once", "--id-prefix", "t8-"]);
    assert!(err.contains("20 enqueued, 0 duplicates"), "{err}");
    let err = b.enqueue_ok(&file, &["--payload", "once", "--id-prefix", "t8-"]);
    assert!(err.contains("0 enqueued, 20 duplicates"), "{err}");
    let mut w = b.worker(&[]);
    let mut received = Vec::new();
    wait_until(20 * SECOND, "20 delivered", || {
        let n = b.take_received(&subs, &mut received);
        (n >= 20, format!("{n}"))
    })
    .await;
    b.wait_drained(10 * SECOND).await;
    b.take_received(&subs, &mut received);
    assert!(received.iter().all(|l| l.len() == 1), "{received:?}");
    stop_worker(&mut w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_without_a_reachable_broker_fails_after_its_connect_timeout() {
    let _serial = serial().await;
    let b = Broker::start(Knobs::default()).await;
    let subs = b.subscribe(1);
    let file = b.subscriptions_file("subs.jsonl", &subs);
    let port = webpush_broker_tests::free_port();
    let started = Instant::now();
    let mut p = webpush_broker_tests::Process::spawn(
        &b.dir,
        "enqueue-nowhere",
        &[
            "enqueue".into(),
            "--nats".into(),
            format!("nats://127.0.0.1:{port}"),
            "--connect-timeout".into(),
            "2".into(),
            "--subscriptions".into(),
            file.display().to_string(),
            "--payload".into(),
            "x".into(),
        ],
    );
    let status = p.wait(Duration::from_secs(30));
    let err = p.stderr();
    assert_eq!(status.code(), Some(1), "{err}");
    // It kept trying (100 ms, doubling) and gave up within the timeout.
    let took = started.elapsed();
    assert!(took >= SECOND, "gave up after only {took:?}");
    assert!(
        took < 15 * SECOND,
        "took {took:?} for a 2 s connect timeout"
    );
    assert!(err.contains("error: cannot set up the queue"), "{err}");
    assert!(!err.contains("enqueued"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_topic_is_kept_and_other_jobs_get_distinct_topics_from_their_ids() {
    let _serial = serial().await;
    let mut b = Broker::start(Knobs::default()).await;
    let subs = b.subscribe(10);
    let file = b.subscriptions_file("subs.jsonl", &subs[..5]);
    b.enqueue_ok(
        &file,
        &["--payload", "p", "--id-prefix", "t9a-", "--topic", "news"],
    );
    let file = b.subscriptions_file("more.jsonl", &subs[5..]);
    b.enqueue_ok(&file, &["--payload", "p", "--id-prefix", "t9b-"]);
    let mut w = b.worker(&[]);
    let mut received = Vec::new();
    wait_until(20 * SECOND, "10 delivered", || {
        let n = b.take_received(&subs, &mut received);
        (n >= 10, format!("{n}"))
    })
    .await;
    for list in &received[..5] {
        assert_eq!(list[0].topic.as_deref(), Some("news"));
    }
    let derived: HashSet<_> = received[5..]
        .iter()
        .map(|l| l[0].topic.clone().expect("a derived topic"))
        .collect();
    assert_eq!(derived.len(), 5);
    assert!(derived.iter().all(|t| t.len() <= 32 && t != "news"));
    stop_worker(&mut w);
}

// ---------------------------------------------------------------- 7

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_through_100k_jobs_keeps_rss_and_fds_flat() {
    let _serial = serial().await;
    const TOTAL: usize = 100_000;
    const SUBS: usize = 50;
    let mut b = Broker::start(Knobs {
        concurrency: 256,
        ..Knobs::default()
    })
    .await;
    let subs = b.subscribe(SUBS);
    // 2,000 jobs per subscription: one line each (ids from line numbers).
    let lines: Vec<_> = (0..TOTAL).map(|i| subs[i % SUBS].clone()).collect();
    let file = b.subscriptions_file("subs.jsonl", &lines);
    let empty = b.dir.write("empty", b"");
    let mut w = b.worker(&[]);
    let started = Instant::now();
    let enqueue = {
        let args = b.broker_args();
        let dir = b.dir.path(".");
        let file = file.clone();
        let empty = empty.clone();
        tokio::task::spawn_blocking(move || {
            let mut cmd = std::process::Command::new(webpush_broker_tests::webpush_bin());
            cmd.arg("enqueue")
                .args(&args)
                .arg("--subscriptions")
                .arg(&file)
                .arg("--payload-file")
                .arg(&empty)
                .args(["--id-prefix", "t7-", "--max-in-flight", "512"])
                .current_dir(dir);
            cmd.output().expect("run enqueue")
        })
    };
    let mut delivered = 0usize;
    let mut at_10k = None;
    let bound = Duration::from_secs(300);
    while delivered < TOTAL {
        for s in &subs {
            delivered += b.service.take_received(s).len();
        }
        if at_10k.is_none() && delivered >= 10_000 {
            at_10k = Some((w.rss_kib(), w.fd_count(), started.elapsed()));
        }
        w.assert_alive();
        assert!(
            started.elapsed() < bound,
            "{delivered} of {TOTAL} delivered in {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rss_10k, fd_10k, t_10k) = at_10k.expect("sampled at 10k");
    let (rss_100k, fd_100k) = (w.rss_kib(), w.fd_count());
    let took = started.elapsed();
    let out = enqueue.await.expect("enqueue task");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait_drained(30 * SECOND).await;
    eprintln!(
        "100k jobs in {took:?} (10k at {t_10k:?}); VmRSS {rss_10k} KiB at 10k, {rss_100k} KiB at 100k; \
         fds {fd_10k} -> {fd_100k}"
    );
    assert!(
        rss_100k <= rss_10k + rss_10k / 4 + 4096,
        "RSS grew from {rss_10k} KiB at 10k jobs to {rss_100k} KiB at 100k"
    );
    assert!(
        fd_100k <= fd_10k + 4,
        "fds grew from {fd_10k} at 10k jobs to {fd_100k} at 100k"
    );
    assert_eq!(delivered, TOTAL);
    stop_worker(&mut w);
}
