use super::*;
use crate::message::{AuthSecret, MAX_PLAINTEXT_LEN, UaKeyPair};
use crate::subscription::Endpoint;
use crate::vapid::{Subject, VapidKey, token};

fn sub() -> (Subscription, UaKeyPair, AuthSecret) {
    let ua = UaKeyPair::generate().unwrap();
    let auth = AuthSecret::generate().unwrap();
    let sub = Subscription::new(
        Endpoint::parse("https://push.example.net:8443/push/cap-token").unwrap(),
        ua.public_key().clone(),
        auth.clone(),
    );
    (sub, ua, auth)
}

fn signer() -> VapidSigner {
    VapidSigner::new(
        VapidKey::generate().unwrap(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    )
}

#[test]
fn full_request_has_every_header_and_decrypts() {
    let (sub, ua, auth) = sub();
    let signer = signer();
    let options = PushOptions::new()
        .ttl(60)
        .urgency(Urgency::High)
        .topic(Topic::new("news-1").unwrap());
    let req = build_request(&sub, b"hello", &options, Some(&signer)).unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), "https://push.example.net:8443/push/cap-token");
    let h = req.headers();
    assert_eq!(h["ttl"], "60");
    assert_eq!(h["urgency"], "high");
    assert_eq!(h["topic"], "news-1");
    assert_eq!(h["content-encoding"], "aes128gcm");
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["content-length"], req.body().len().to_string().as_str());
    assert!(h["authorization"].is_sensitive());
    let verified = token::verify(h["authorization"].to_str().unwrap(), now()).unwrap();
    assert_eq!(verified.claims.aud, "https://push.example.net:8443");
    assert_eq!(message::decrypt(&ua, &auth, req.body()).unwrap(), b"hello");
}

fn now() -> u64 {
    crate::vapid::Clock::unix_time(&crate::vapid::SystemClock)
}

#[test]
fn defaults_send_ttl_and_nothing_optional() {
    let (sub, ..) = sub();
    let req = build_request(&sub, b"x", &PushOptions::default(), None).unwrap();
    assert_eq!(req.headers()["ttl"], DEFAULT_TTL.to_string().as_str());
    assert!(req.headers().get("urgency").is_none());
    assert!(req.headers().get("topic").is_none());
    assert!(req.headers().get("authorization").is_none());
    let zero = build_request(&sub, b"x", &PushOptions::new().ttl(0), None).unwrap();
    assert_eq!(zero.headers()["ttl"], "0");
}

#[test]
fn empty_payload_is_a_tickle_without_body_or_encryption_headers() {
    let (sub, ..) = sub();
    let req = build_request(&sub, b"", &PushOptions::default(), Some(&signer())).unwrap();
    assert!(req.body().is_empty());
    assert_eq!(req.headers()["content-length"], "0");
    assert!(req.headers().get("content-encoding").is_none());
    assert!(req.headers().get("content-type").is_none());
    assert!(req.headers().get("authorization").is_some());
}

#[test]
fn payload_limits() {
    let (sub, ..) = sub();
    let max = build_request(&sub, &[1; MAX_PLAINTEXT_LEN], &PushOptions::default(), None).unwrap();
    assert_eq!(max.body().len(), message::MAX_BODY_LEN);
    assert_eq!(
        build_request(&sub, &[1; 3994], &PushOptions::default(), None).unwrap_err(),
        BuildError::Encryption(CryptoError::PayloadTooLarge {
            len: 3994,
            max: 3993
        })
    );
}

#[test]
fn topic_table() {
    assert!(Topic::new("a").is_ok());
    assert!(Topic::new(&"A".repeat(32)).is_ok());
    assert!(Topic::new("Az09-_").is_ok());
    for bad in [
        "",
        &"A".repeat(33),
        "has space",
        "dot.ted",
        "slash/",
        "plus+",
        "ü",
    ] {
        assert!(
            matches!(Topic::new(bad), Err(BuildError::Invalid(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn urgency_round_trips() {
    for u in [
        Urgency::VeryLow,
        Urgency::Low,
        Urgency::Normal,
        Urgency::High,
    ] {
        assert_eq!(Urgency::parse(u.as_str()), Some(u));
    }
    assert_eq!(Urgency::parse("urgent"), None);
}
