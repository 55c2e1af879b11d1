//! A batch holds about `concurrency` jobs, whatever the number of jobs:
//! 100,000 tickle pushes (no body, so no encryption) through an in-process
//! sender that accepts everything, with the resident set measured after
//! 10,000 and after 100,000 jobs (Linux: `/proc/self/status`).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use webpush::batch::{BatchSender, Job};
use webpush::request::PushOptions;
use webpush::sender::{BoxFuture, PushResponse, Sender, TransportError};
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{AuthSecret, Endpoint, PushClient, Subscription, UaKeyPair};

/// Answers 201 at once.
struct Accept;

impl Sender for Accept {
    fn send(
        &self,
        _request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        Box::pin(async {
            Ok(PushResponse::new(
                StatusCode::CREATED,
                HeaderMap::new(),
                Vec::new(),
            ))
        })
    }
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

async fn run(batch: &BatchSender<Accept>, sub: &Arc<Subscription>, n: u64) {
    let sub = Arc::clone(sub);
    let jobs = futures_util::stream::iter(0..n)
        .map(move |i| Job::new(i, Arc::clone(&sub), Bytes::new(), PushOptions::new()));
    let mut reports = batch.send_all(jobs);
    let (mut count, mut key_sum) = (0u64, 0u64);
    while let Some(r) = reports.next_report().await {
        assert!(r.is_delivered(), "{r:?}");
        assert_eq!(r.attempts, 1);
        count += 1;
        key_sum += r.key;
    }
    assert_eq!(count, n);
    assert_eq!(key_sum, n * (n - 1) / 2, "every key once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_does_not_grow_with_the_number_of_jobs() {
    let signer = VapidSigner::new(
        VapidKey::generate().unwrap(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    );
    let client = PushClient::with_sender(Accept, signer);
    let batch = BatchSender::new(client).concurrency(256);
    let sub = Arc::new(Subscription::new(
        Endpoint::parse("https://push.example.net/push/abc").unwrap(),
        UaKeyPair::generate().unwrap().public_key().clone(),
        AuthSecret::generate().unwrap(),
    ));

    run(&batch, &sub, 1_000).await; // warm-up: runtime, allocator, VAPID

    let started = Instant::now();
    run(&batch, &sub, 10_000).await;
    let small = (status_kib("VmHWM"), status_kib("VmRSS"));
    let small_time = started.elapsed();

    let started = Instant::now();
    run(&batch, &sub, 100_000).await;
    let large = (status_kib("VmHWM"), status_kib("VmRSS"));
    let large_time = started.elapsed();

    println!(
        "10,000 jobs: {small_time:?}, peak RSS {:?} KiB, RSS {:?} KiB",
        small.0, small.1
    );
    println!(
        "100,000 jobs: {large_time:?} ({:.0} jobs/s), peak RSS {:?} KiB, RSS {:?} KiB",
        100_000.0 / large_time.as_secs_f64(),
        large.0,
        large.1
    );
    let (Some(small_peak), Some(large_peak)) = (small.0, large.0) else {
        println!("no /proc/self/status: memory not checked");
        return;
    };
    // Buffering a report per job would take well over 10 MiB here.
    assert!(
        large_peak < small_peak + 8 * 1024 && large_peak < small_peak * 2,
        "peak RSS grew from {small_peak} KiB to {large_peak} KiB"
    );
}
