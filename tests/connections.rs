//! Connections opened by a fresh client, counted at the local push service:
//! many concurrent pushes to one HTTP/2 origin share one TLS connection
//! (issue 13, goal 3).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use futures_util::StreamExt;
use webpush::batch::{BatchSender, Job, RetryPolicy};
use webpush::request::PushOptions;
use webpush::testing::LocalPushService;
use webpush::vapid::{Subject, VapidKey, VapidSigner};

const IN_FLIGHT: usize = 64;

fn signer(key: &VapidKey) -> VapidSigner {
    VapidSigner::new(
        key.clone(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_on_a_fresh_client_open_one_h2_connection() {
    let service = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let client = service.client(signer(&key)).unwrap();
    let subs: Vec<_> = (0..IN_FLIGHT)
        .map(|_| Arc::new(service.subscribe(&key.public_key_base64()).unwrap()))
        .collect();
    // Encrypted first, so that all of them reach the pool at once.
    let requests: Vec<_> = subs
        .iter()
        .map(|sub| client.prepare(sub, b"hi", &PushOptions::new()).unwrap())
        .collect();
    let start = Arc::new(tokio::sync::Barrier::new(IN_FLIGHT));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let (client, start) = (client.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                client.send_request(request).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(service.request_count(), IN_FLIGHT as u64);
    assert_eq!(service.connection_count(), 1, "one TLS connection over h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_batch_opens_one_h2_connection() {
    let service = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let client = service.client(signer(&key)).unwrap();
    let jobs: Vec<_> = (0..IN_FLIGHT * 2)
        .map(|i| {
            let sub = service.subscribe(&key.public_key_base64()).unwrap();
            Job::new(i, sub, &b"hi"[..], PushOptions::new())
        })
        .collect();
    let reports: Vec<_> = BatchSender::new(client)
        .concurrency(IN_FLIGHT)
        .retry(RetryPolicy::none())
        .send_iter(jobs)
        .collect()
        .await;
    assert_eq!(reports.len(), IN_FLIGHT * 2);
    assert!(reports.iter().all(|r| r.is_delivered()), "{reports:?}");
    assert_eq!(service.connection_count(), 1, "one TLS connection over h2");
}
