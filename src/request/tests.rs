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

#[test]
fn content_encoding_names_and_limits() {
    assert_eq!(ContentEncoding::default(), ContentEncoding::Aes128Gcm);
    assert_eq!(PushOptions::new().encoding(), ContentEncoding::Aes128Gcm);
    assert_eq!(ContentEncoding::Aes128Gcm.as_str(), "aes128gcm");
    assert_eq!(
        ContentEncoding::parse(" AES128GCM "),
        Some(ContentEncoding::Aes128Gcm)
    );
    assert_eq!(ContentEncoding::parse("gzip"), None);
    assert_eq!(
        ContentEncoding::Aes128Gcm.max_plaintext_len(),
        MAX_PLAINTEXT_LEN
    );
    #[cfg(not(feature = "aesgcm"))]
    assert_eq!(ContentEncoding::parse("aesgcm"), None);
}

#[cfg(feature = "aesgcm")]
mod aesgcm_requests {
    use super::*;
    use crate::aesgcm::{self, Params};

    fn legacy() -> PushOptions {
        PushOptions::new().content_encoding(ContentEncoding::Aesgcm)
    }

    #[test]
    fn names_and_limits() {
        assert_eq!(ContentEncoding::Aesgcm.to_string(), "aesgcm");
        assert_eq!(
            ContentEncoding::parse("aesgcm"),
            Some(ContentEncoding::Aesgcm)
        );
        assert_eq!(ContentEncoding::Aesgcm.max_plaintext_len(), 4078);
    }

    #[test]
    fn legacy_request_has_the_draft_headers_and_decrypts() {
        let (sub, ua, auth) = sub();
        let signer = signer();
        let options = legacy().ttl(60).urgency(Urgency::Low);
        let req = build_request(&sub, b"hello", &options, Some(&signer)).unwrap();
        let h = req.headers();
        assert_eq!(h["ttl"], "60");
        assert_eq!(h["urgency"], "low");
        assert_eq!(h["content-encoding"], "aesgcm");
        assert_eq!(h["content-type"], "application/octet-stream");
        assert_eq!(h["content-length"], req.body().len().to_string().as_str());
        assert_eq!(req.body().len(), 5 + aesgcm::RECORD_OVERHEAD);

        let encryption = h["encryption"].to_str().unwrap();
        assert!(encryption.starts_with("salt="), "{encryption}");
        assert_eq!(encryption.len(), "salt=".len() + 22);
        let crypto_key = h["crypto-key"].to_str().unwrap();
        let (dh, p256ecdsa) = crypto_key.split_once(';').unwrap();
        assert!(dh.starts_with("dh=") && dh.len() == 3 + 87, "{crypto_key}");
        assert_eq!(p256ecdsa, format!("p256ecdsa={}", signer.public_key()));

        let authorization = h["authorization"].to_str().unwrap();
        assert!(h["authorization"].is_sensitive());
        assert!(authorization.starts_with("WebPush "), "{authorization}");
        let k = aesgcm::crypto_key_p256ecdsa(crypto_key).unwrap().unwrap();
        let verified = token::verify_legacy(authorization, k, now()).unwrap();
        assert_eq!(verified.claims.aud, "https://push.example.net:8443");

        let params = Params::from_headers(encryption, crypto_key).unwrap();
        assert_eq!(
            aesgcm::decrypt(&ua, &auth, &params, req.body()).unwrap(),
            b"hello"
        );
    }

    #[test]
    fn legacy_request_without_vapid_has_only_dh() {
        let (sub, ua, auth) = sub();
        let req = build_request(&sub, b"x", &legacy(), None).unwrap();
        let h = req.headers();
        assert!(h.get("authorization").is_none());
        let crypto_key = h["crypto-key"].to_str().unwrap();
        assert!(crypto_key.starts_with("dh=") && !crypto_key.contains(';'));
        let params = Params::from_headers(h["encryption"].to_str().unwrap(), crypto_key).unwrap();
        assert_eq!(
            aesgcm::decrypt(&ua, &auth, &params, req.body()).unwrap(),
            b"x"
        );
    }

    #[test]
    fn legacy_tickle_has_no_body_and_only_the_vapid_pair() {
        let (sub, ..) = sub();
        let signer = signer();
        let req = build_request(&sub, b"", &legacy(), Some(&signer)).unwrap();
        let h = req.headers();
        assert!(req.body().is_empty());
        assert_eq!(h["content-length"], "0");
        assert!(h.get("content-encoding").is_none());
        assert!(h.get("encryption").is_none());
        assert_eq!(
            h["crypto-key"],
            format!("p256ecdsa={}", signer.public_key()).as_str()
        );
        assert!(h["authorization"].to_str().unwrap().starts_with("WebPush "));
        let bare = build_request(&sub, b"", &legacy(), None).unwrap();
        assert!(bare.headers().get("crypto-key").is_none());
    }

    #[test]
    fn legacy_limit_is_4078_octets() {
        let (sub, ..) = sub();
        let max = build_request(&sub, &[1; 4078], &legacy(), None).unwrap();
        assert_eq!(max.body().len(), message::MAX_BODY_LEN);
        assert_eq!(
            build_request(&sub, &[1; 4079], &legacy(), None).unwrap_err(),
            BuildError::Encryption(CryptoError::PayloadTooLarge {
                len: 4079,
                max: 4078
            })
        );
        // The same payload is too large for aes128gcm.
        assert!(build_request(&sub, &[1; 4078], &PushOptions::new(), None).is_err());
    }
}

fn sub_at(url: &str) -> Subscription {
    let ua = UaKeyPair::generate().unwrap();
    Subscription::new(
        Endpoint::parse(url).unwrap(),
        ua.public_key().clone(),
        AuthSecret::generate().unwrap(),
    )
}

#[test]
fn ttl_per_service_refused_over_the_maximum() {
    let fcm = "https://fcm.googleapis.com/wp/abc";
    let moz = "https://updates.push.services.mozilla.com/wpush/v2/abc";
    let apple = "https://web.push.apple.com/abc";
    let wns = "https://wns2-by3p.notify.windows.com/w/?token=abc";
    let other = "https://push.example.net/push/abc";
    #[rustfmt::skip]
    let cases: &[(&str, u32, Option<u32>)] = &[
        // (endpoint, TTL, Some(max) when refused)
        (fcm, 2_419_200, None),
        (fcm, 2_419_201, Some(2_419_200)),
        (fcm, u32::MAX, Some(2_419_200)),
        (moz, 2_592_000, None),
        (moz, 2_592_001, Some(2_592_000)),
        (apple, u32::MAX, None),
        (wns, u32::MAX, None),
        (other, u32::MAX, None),
        (fcm, DEFAULT_TTL, None),
        (moz, DEFAULT_TTL, None),
    ];
    for (i, (url, ttl, refused)) in cases.iter().enumerate() {
        let result = build_request(&sub_at(url), b"x", &PushOptions::new().ttl(*ttl), None);
        match (result, refused) {
            (Ok(req), None) => {
                assert_eq!(req.headers()["ttl"], ttl.to_string().as_str(), "case {i}")
            }
            (
                Err(BuildError::TtlTooLong {
                    ttl: t,
                    max,
                    service,
                }),
                Some(want),
            ) => {
                assert_eq!((t, max), (*ttl, *want), "case {i}");
                assert_eq!(service, Endpoint::parse(url).unwrap().service(), "case {i}");
            }
            (other, _) => panic!("case {i} ({url}, {ttl}): {other:?}"),
        }
    }
}

#[test]
fn ttl_too_long_message_names_the_limit_not_the_endpoint() {
    let err = build_request(
        &sub_at("https://fcm.googleapis.com/wp/SECRETTOKEN"),
        b"x",
        &PushOptions::new().ttl(3_000_000),
        None,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("2419200") && text.contains("fcm"), "{text}");
    assert!(!text.contains("SECRETTOKEN"), "{text}");
    assert_eq!(err.phrase(), "TTL is over FCM's maximum of 2419200 s");
}

#[test]
fn wns_cache_policy_follows_ttl_and_only_for_wns() {
    let wns = sub_at("https://wns2-by3p.notify.windows.com/w/?token=abc");
    let req = build_request(&wns, b"x", &PushOptions::new().ttl(60), None).unwrap();
    assert_eq!(req.headers()[WNS_CACHE_POLICY], "cache");
    let req = build_request(&wns, b"", &PushOptions::new().ttl(0), None).unwrap();
    assert_eq!(req.headers()[WNS_CACHE_POLICY], "no-cache");
    for url in [
        "https://fcm.googleapis.com/wp/abc",
        "https://web.push.apple.com/abc",
        "https://push.example.net/push/abc",
    ] {
        let req = build_request(&sub_at(url), b"x", &PushOptions::new(), None).unwrap();
        assert!(!req.headers().contains_key(WNS_CACHE_POLICY), "{url}");
    }
}
