use super::*;
use crate::test_vectors::load;

/// The RFC 8291 Appendix A sender key, reused as a fixed VAPID key.
const SCALAR: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const NOW: u64 = 1_700_000_000;

fn key() -> VapidKey {
    VapidKey::from_base64_scalar(SCALAR).unwrap()
}

fn aud() -> Audience {
    Audience::parse("https://push.example.net").unwrap()
}

fn sub() -> Subject {
    Subject::parse("mailto:push@example.com").unwrap()
}

mod rfc8292_2_4 {
    use super::*;

    #[test]
    fn example_token_verifies() {
        let v = load().rfc8292_2_4;
        let verified = verify(&v.authorization, v.verify_with_now).unwrap();
        assert_eq!(verified.claims.aud, v.claims.aud);
        assert_eq!(verified.claims.exp, v.claims.exp);
        assert_eq!(verified.claims.sub, v.claims.sub);
        assert_eq!(b64::encode(&verified.public_key), v.k);
        assert!(v.authorization.contains(&v.jwt));
        // And it is expired today, which verification must notice.
        assert_eq!(
            verify(&v.authorization, v.claims.exp),
            Err(VapidError::Expired)
        );
    }

    #[test]
    fn tampered_example_fails() {
        let v = load().rfc8292_2_4;
        let tampered = v
            .authorization
            .replace("eyJhdWQiOiJodHRwczovL3B1c2g", "eyJhdWQiOiJodHRwczovL3B1c2h");
        assert_ne!(tampered, v.authorization);
        assert!(verify(&tampered, v.verify_with_now).is_err());
    }
}

#[test]
fn token_is_exact_for_a_fixed_key_and_clock() {
    // ECDSA here is deterministic (RFC 6979): same key, claims and clock, same
    // token. The value was checked with PyJWT (tests/interop) when pinned.
    let jwt = sign(&key(), &aud(), &sub(), NOW + 12 * 3600, NOW).unwrap();
    let [h, c, s]: [&str; 3] = jwt.split('.').collect::<Vec<_>>().try_into().unwrap();
    assert_eq!(h, "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9");
    assert_eq!(
        b64::decode_vec(c).unwrap(),
        br#"{"aud":"https://push.example.net","exp":1700043200,"sub":"mailto:push@example.com"}"#
    );
    assert_eq!(b64::decode_vec(s).unwrap().len(), 64, "raw r||s, not DER");
    assert_eq!(
        jwt,
        sign(&key(), &aud(), &sub(), NOW + 12 * 3600, NOW).unwrap()
    );
    assert_eq!(jwt, EXPECTED_JWT);
}

const EXPECTED_JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE3MDAwNDMyMDAsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.zxfeyNbtnt2Ru5YrQtAZr-W-gkTh9Myk_l4zDvpScUA_5mc6KQ8IGaGT0jB4fbR43oB9DFq8Vqct61ApKUBFhQ";

#[test]
fn signed_tokens_verify_and_carry_k() {
    let key = key();
    let jwt = sign(&key, &aud(), &sub(), NOW + 60, NOW).unwrap();
    let value = authorization(&jwt, &key.public_key_base64());
    assert_eq!(
        value,
        format!("vapid t={jwt}, k={}", key.public_key_base64())
    );
    let v = verify(&value, NOW).unwrap();
    assert_eq!(v.claims.aud, "https://push.example.net");
    assert_eq!(&v.public_key, key.public_key_bytes());
    let (auth, crypto_key) = legacy_headers(&jwt, &key.public_key_base64());
    assert_eq!(auth, format!("WebPush {jwt}"));
    assert_eq!(crypto_key, format!("p256ecdsa={}", key.public_key_base64()));
}

#[test]
fn expiry_rules() {
    let day = 24 * 3600;
    assert!(sign(&key(), &aud(), &sub(), NOW + day, NOW).is_ok());
    assert_eq!(
        sign(&key(), &aud(), &sub(), NOW + day + 1, NOW),
        Err(VapidError::ExpiryTooFar {
            secs: day + 1,
            max: day
        })
    );
    assert_eq!(
        sign(&key(), &aud(), &sub(), NOW, NOW),
        Err(VapidError::ExpiryNotInFuture)
    );
    let jwt = sign(&key(), &aud(), &sub(), NOW + day, NOW).unwrap();
    let value = authorization(&jwt, &key().public_key_base64());
    // A verifier whose clock is behind sees the token as too far ahead.
    assert_eq!(
        verify(&value, NOW - 1),
        Err(VapidError::ExpiryTooFar {
            secs: day + 1,
            max: day
        })
    );
    assert_eq!(verify(&value, NOW + day), Err(VapidError::Expired));
}

#[test]
fn subject_table() {
    let ok: &[(&str, &str)] = &[
        ("mailto:ops@example.com", "mailto:ops@example.com"),
        ("MAILTO:ops@example.com", "MAILTO:ops@example.com"),
        ("ops@example.com", "mailto:ops@example.com"),
        ("https://example.com/contact", "https://example.com/contact"),
    ];
    for (input, want) in ok {
        assert_eq!(Subject::parse(input).unwrap().as_str(), *want, "{input}");
    }
    let bad: &[(&str, &str)] = &[
        ("", "empty; use mailto:you@example.com or an https: URL"),
        ("mailto:mailto:ops@example.com", "mailto: given twice"),
        (
            "mailto: ops@example.com",
            "contains whitespace or control characters",
        ),
        (
            "mailto:ops@example.com\n",
            "contains whitespace or control characters",
        ),
        ("mailto:ops", "mailto: needs an address with @"),
        (
            "mailto:@example.com",
            "mailto: address is not of the form name@domain",
        ),
        (
            "mailto:a@b@c",
            "mailto: address is not of the form name@domain",
        ),
        (
            "mailto:ops@localhost",
            "localhost contact (Apple's push service rejects it)",
        ),
        (
            "ops@localhost",
            "localhost contact (Apple's push service rejects it)",
        ),
        (
            "https://localhost/contact",
            "localhost contact (Apple's push service rejects it)",
        ),
        (
            "https://127.0.0.1/",
            "localhost contact (Apple's push service rejects it)",
        ),
        ("http://example.com", "http URL; use https or mailto:"),
        ("tel:+123", "must be mailto: or an https URL"),
        ("https://", "not a valid https URL"),
    ];
    for (input, reason) in bad {
        assert_eq!(
            Subject::parse(input),
            Err(VapidError::Subject(reason)),
            "{input:?}"
        );
    }
    assert!(Subject::parse(&format!("mailto:{}@example.com", "a".repeat(600))).is_err());
}

#[test]
fn audience_is_the_origin_with_non_default_ports() {
    for (input, want) in [
        ("https://push.example.net", "https://push.example.net"),
        ("https://push.example.net/", "https://push.example.net"),
        ("https://push.example.net:443", "https://push.example.net"),
        (
            "https://push.example.net:8443",
            "https://push.example.net:8443",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ] {
        assert_eq!(Audience::parse(input).unwrap().as_str(), want, "{input}");
    }
    for input in [
        "push.example.net",
        "https://push.example.net/path",
        "https://push.example.net/?q",
        "https://user@push.example.net",
        "ftp://push.example.net",
    ] {
        assert!(Audience::parse(input).is_err(), "{input}");
    }
    let endpoint = Endpoint::parse("https://push.example.net:8443/wpush/v2/abc").unwrap();
    assert_eq!(
        Audience::from_endpoint(&endpoint).as_str(),
        "https://push.example.net:8443"
    );
}

#[test]
fn verify_refuses_malformed_values() {
    let key = key();
    let k = key.public_key_base64();
    let jwt = sign(&key, &aud(), &sub(), NOW + 60, NOW).unwrap();
    let (h, rest) = jwt.split_once('.').unwrap();
    let (c, s) = rest.split_once('.').unwrap();
    let none_header = b64::encode(br#"{"typ":"JWT","alg":"none"}"#);
    let other = VapidKey::generate().unwrap().public_key_base64();
    let cases: Vec<(String, VapidError)> = vec![
        (
            format!("Bearer {jwt}"),
            VapidError::Malformed("auth scheme is not vapid"),
        ),
        (
            format!("vapid t={jwt}"),
            VapidError::Malformed("missing k="),
        ),
        (format!("vapid k={k}"), VapidError::Malformed("missing t=")),
        (
            format!("vapid t={jwt}, t={jwt}, k={k}"),
            VapidError::Malformed("parameter given twice"),
        ),
        (format!("vapid t={jwt}, k=AAAA"), VapidError::PublicKey),
        (
            format!("vapid t={jwt}, k={other}"),
            VapidError::BadSignature,
        ),
        (
            format!("vapid t={h}.{c}, k={k}"),
            VapidError::Malformed("JWT does not have three parts"),
        ),
        (
            format!("vapid t={h}.{c}.{s}.x, k={k}"),
            VapidError::Malformed("JWT does not have three parts"),
        ),
        (
            format!("vapid t={none_header}.{c}.{s}, k={k}"),
            VapidError::BadSignature,
        ),
        (
            format!("vapid t={h}.{c}.AAAA, k={k}"),
            VapidError::Malformed("signature is not 64 octets"),
        ),
        ("vapid".to_owned(), VapidError::Malformed("no auth scheme")),
        (
            "x".repeat(5000),
            VapidError::Malformed("Authorization value over 4096 octets"),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(verify(&value, NOW), Err(want), "{value:.60}");
    }
    // Parameters in any order, with or without spaces.
    assert!(verify(&format!("vapid k={k},t={jwt}"), NOW).is_ok());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn verify_never_panics(s in "\\PC{0,400}") {
            let _ = verify(&s, NOW);
        }

        #[test]
        fn verify_never_panics_on_vapid_shaped_input(t in "[A-Za-z0-9_.-]{0,300}", k in "[A-Za-z0-9_-]{0,100}") {
            let _ = verify(&format!("vapid t={t}, k={k}"), NOW);
        }

        #[test]
        fn subject_never_panics(s in "\\PC{0,100}") {
            let _ = Subject::parse(&s);
        }
    }
}

#[cfg(feature = "aesgcm")]
#[test]
fn legacy_webpush_scheme_verifies_with_the_crypto_key_key() {
    let key = VapidKey::generate().unwrap();
    let aud = Audience::parse("https://push.example.net").unwrap();
    let sub = Subject::parse("mailto:ops@example.com").unwrap();
    let now = 1_700_000_000;
    let jwt = sign(&key, &aud, &sub, now + 3600, now).unwrap();
    let (authorization, crypto_key) = legacy_headers(&jwt, &key.public_key_base64());
    let k = crypto_key.strip_prefix("p256ecdsa=").unwrap();
    let verified = verify_legacy(&authorization, k, now).unwrap();
    assert_eq!(verified.claims.aud, "https://push.example.net");
    assert_eq!(verified.public_key[..], b64::decode_vec(k).unwrap()[..]);
    // Another key, another scheme, an expired token: refused.
    let other = VapidKey::generate().unwrap().public_key_base64();
    assert_eq!(
        verify_legacy(&authorization, &other, now),
        Err(VapidError::BadSignature)
    );
    assert!(matches!(
        verify_legacy(&format!("vapid {jwt}"), k, now),
        Err(VapidError::Malformed(_))
    ));
    assert_eq!(
        verify_legacy(&authorization, k, now + 3600),
        Err(VapidError::Expired)
    );
}
