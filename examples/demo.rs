//! The main job, offline: starts the local push service (HTTPS on
//! 127.0.0.1 with a self-signed certificate), subscribes the way a browser
//! does, sends a few notifications through the default reqwest + rustls
//! sender, and prints what the service decrypted, how long each push took,
//! and what the client reports for a subscription that is gone or rate
//! limited.
//!
//! `cargo run --example demo`

use std::time::Instant;

use webpush::Padding;
use webpush::request::{PushOptions, Topic, Urgency};
use webpush::testing::{Fault, LocalPushService};
use webpush::vapid::{Subject, VapidKey, VapidSigner};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = LocalPushService::start().await?;
    println!("local push service at {}", service.origin());

    // Your server's VAPID key; the browser gets its public half.
    let key = VapidKey::generate()?;
    let signer = VapidSigner::new(key.clone(), Subject::parse("mailto:demo@example.com")?);
    let subscription = service.subscribe(&key.public_key_base64())?;
    println!("subscription: {}", subscription.to_json());

    // The default sender (reqwest + rustls), trusting the service's
    // self-signed certificate and admitting loopback, which the default
    // endpoint policy refuses (SSRF protection).
    let client = service.client(signer)?;

    let pushes = [
        ("Hello from webpush!", PushOptions::new().ttl(60)),
        (
            r#"{"title":"Build finished","body":"all green"}"#,
            PushOptions::new()
                .urgency(Urgency::High)
                .topic(Topic::new("build")?)
                .padding(Padding::BlockSize(256.try_into()?)),
        ),
        (
            "Padded to the full 4096-octet body",
            PushOptions::new().padding(Padding::MAX),
        ),
    ];
    for (text, options) in &pushes {
        let started = Instant::now();
        let delivered = client.send(&subscription, text.as_bytes(), options).await?;
        println!(
            "sent {:>2} octets: {} in {:?}",
            text.len(),
            delivered.status(),
            started.elapsed()
        );
    }
    for message in service.received(&subscription) {
        println!(
            "service decrypted {}-octet body (TTL {}): {}",
            message.body_len,
            message.ttl,
            String::from_utf8_lossy(&message.payload)
        );
    }

    // What failures look like.
    for fault in [
        Fault::RateLimited {
            retry_after: "30".into(),
        },
        Fault::Gone,
    ] {
        service.set_fault(&subscription, fault);
        match client
            .send(&subscription, b"again", &PushOptions::new())
            .await
        {
            Ok(_) => println!("unexpectedly delivered"),
            Err(e) if e.is_gone() => println!("{e}: delete the subscription"),
            Err(e) => println!("{e} (retryable: {})", e.is_retryable()),
        }
    }
    Ok(())
}
