//! Notifications per second to the local push service over HTTPS (TLS,
//! HTTP/2 where negotiated), with 1 and with 64 pushes in flight. Every push
//! is encrypted, VAPID-signed (cached) and decrypted by the service.
//!
//! `cargo bench --bench send --features testing`

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use webpush::request::PushOptions;
use webpush::testing::LocalPushService;
use webpush::vapid::{Subject, VapidKey, VapidSigner};

async fn run(in_flight: usize, total: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let service = LocalPushService::start().await?;
    let key = VapidKey::generate()?;
    let signer = VapidSigner::new(key.clone(), Subject::parse("mailto:bench@example.com")?);
    let client = service.client(signer)?;
    let sub = Arc::new(service.subscribe(&key.public_key_base64())?);
    // Warm up: connection, TLS handshake, VAPID token.
    client.send(&sub, b"warm-up", &PushOptions::new()).await?;

    let limit = Arc::new(Semaphore::new(in_flight));
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for _ in 0..total {
        let permit = Arc::clone(&limit).acquire_owned().await?;
        let (client, sub) = (client.clone(), Arc::clone(&sub));
        tasks.spawn(async move {
            let result = client.send(&sub, &[0x42; 32], &PushOptions::new()).await;
            drop(permit);
            result.map(|_| ())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    assert_eq!(service.received(&sub).len(), total + 1);
    Ok(rate)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let total = if quick { 20 } else { 2000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for in_flight in [1usize, 64] {
        let rate = runtime.block_on(run(in_flight, total))?;
        println!(
            "send/{in_flight:>2} in flight: {rate:8.0} notifications/s ({total} pushes, 32-octet payload)"
        );
    }
    Ok(())
}
