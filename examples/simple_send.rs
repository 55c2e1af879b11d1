//! Sends one notification to a real subscription, as the original `web-push`
//! crate's example does.
//!
//! ```text
//! cargo run --example simple_send -- -f subscription.json -p "It works!" \
//!     -k vapid-key.pem -s mailto:you@example.com
//! ```
//!
//! `subscription.json` is what the browser's `PushSubscription.toJSON()`
//! gave you; `vapid-key.pem` is your VAPID private key (PKCS#8 or SEC1 PEM, a
//! JWK, or a base64 scalar), whose public half the page passed to
//! `pushManager.subscribe()` as `applicationServerKey`. Only the well-known
//! push services (FCM, Mozilla, Apple, WNS) are contacted.

use std::process::ExitCode;

use webpush::policy::EndpointPolicy;
use webpush::request::PushOptions;
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{PushClient, Subscription};

struct Args {
    subscription: String,
    payload: String,
    key: String,
    subject: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut subscription, mut payload, mut key, mut subject) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let slot = match flag.as_str() {
            "-f" | "--subscription" => &mut subscription,
            "-p" | "--payload" => &mut payload,
            "-k" | "--vapid-key" => &mut key,
            "-s" | "--subject" => &mut subject,
            other => return Err(format!("unknown argument {other}")),
        };
        *slot = Some(args.next().ok_or(format!("{flag} needs a value"))?);
    }
    Ok(Args {
        subscription: subscription.ok_or("missing -f subscription.json")?,
        payload: payload.unwrap_or_else(|| "It works!".into()),
        key: key.ok_or("missing -k vapid-key.pem")?,
        subject: subject.ok_or("missing -s mailto:you@example.com")?,
    })
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let subscription = Subscription::from_json(&std::fs::read_to_string(&args.subscription)?)?;
    let key = VapidKey::parse(&std::fs::read_to_string(&args.key)?)?;
    let signer = VapidSigner::new(key, Subject::parse(&args.subject)?);
    let client = PushClient::with_policy(signer, EndpointPolicy::well_known_push_services())?;
    let options = PushOptions::new().ttl(3600);
    let delivered = client
        .send(&subscription, args.payload.as_bytes(), &options)
        .await?;
    println!("delivered: {}", delivered.status());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
