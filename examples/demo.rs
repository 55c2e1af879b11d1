//! The main job, offline: plays a browser (a subscription with fresh keys) and
//! an application server, encrypts a few notifications for the subscription
//! and decrypts them the way the browser would, with timings.
//!
//! `cargo run --example demo`

use std::time::Instant;

use webpush::message::{self, AuthSecret, Padding, UaKeyPair};
use webpush::{Endpoint, Subscription};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The browser side: what `pushManager.subscribe()` creates.
    let ua = UaKeyPair::generate()?;
    let auth = AuthSecret::generate()?;
    let endpoint = Endpoint::parse("https://127.0.0.1:8443/push/demo-subscription")?;
    let subscription = Subscription::new(endpoint, ua.public_key().clone(), auth.clone());
    println!(
        "subscription JSON (what the browser sends you):\n  {}",
        subscription.to_json()
    );

    // The server side: parse what the browser sent, encrypt, and "deliver".
    let sub = Subscription::from_json(&subscription.to_json())?;
    let payloads: [(&str, Padding); 3] = [
        ("Hello from webpush!", Padding::None),
        (
            r#"{"title":"Padded","body":"length hidden in 256-octet blocks"}"#,
            Padding::BlockSize(256.try_into()?),
        ),
        ("The largest body: padded to 4096 octets", Padding::MAX),
    ];
    for (text, padding) in payloads {
        let start = Instant::now();
        let body = message::encrypt(sub.p256dh(), sub.auth(), text.as_bytes(), padding)?;
        let encrypted_in = start.elapsed();
        let start = Instant::now();
        let plaintext = message::decrypt(&ua, &auth, &body)?;
        let decrypted_in = start.elapsed();
        println!(
            "{} octets -> {}-octet aes128gcm body (encrypt {:?}, decrypt {:?}): {}",
            text.len(),
            body.len(),
            encrypted_in,
            decrypted_in,
            String::from_utf8_lossy(&plaintext)
        );
    }
    Ok(())
}
