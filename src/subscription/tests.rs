use super::*;
use crate::message::{KeyError, UaKeyPair};

const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const ENDPOINT: &str = "https://fcm.googleapis.com/fcm/send/cap-token-123";

fn json(endpoint: &str, exp: &str, p256dh: &str, auth: &str) -> String {
    format!(
        r#"{{"endpoint":{endpoint},"expirationTime":{exp},"keys":{{"p256dh":{p256dh},"auth":{auth}}}}}"#
    )
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

#[test]
fn reads_what_browsers_write() {
    let sub = Subscription::from_json(&json(&q(ENDPOINT), "null", &q(P256DH), &q(AUTH))).unwrap();
    assert_eq!(sub.endpoint().uri().to_string(), ENDPOINT);
    assert_eq!(sub.endpoint().origin(), "https://fcm.googleapis.com");
    assert_eq!(sub.p256dh().to_base64(), P256DH);
    assert_eq!(&*sub.auth().expose_base64(), AUTH);
    assert_eq!(sub.expiration_time_ms(), None);

    let with_exp =
        Subscription::from_json(&json(&q(ENDPOINT), "1700000000000.5", &q(P256DH), &q(AUTH)))
            .unwrap();
    assert_eq!(with_exp.expiration_time_ms(), Some(1_700_000_000_000));
    // `expirationTime` may be missing entirely, and unknown fields are ignored.
    let minimal = format!(
        r#"{{"endpoint":"{ENDPOINT}","keys":{{"p256dh":"{P256DH}","auth":"{AUTH}"}},"extra":1}}"#
    );
    assert_eq!(Subscription::from_json(&minimal).unwrap(), sub);
}

#[test]
fn round_trips_through_json_and_serde() {
    let sub = Subscription::from_json(&json(&q(ENDPOINT), "42", &q(P256DH), &q(AUTH))).unwrap();
    let back = Subscription::from_json(&sub.to_json()).unwrap();
    assert_eq!(back, sub);
    let via_serde: Subscription = serde_json::from_str(&sub.to_json()).unwrap();
    assert_eq!(via_serde, sub);
    assert_eq!(
        sub.to_json(),
        format!(
            r#"{{"endpoint":"{ENDPOINT}","expirationTime":42.0,"keys":{{"p256dh":"{P256DH}","auth":"{AUTH}"}}}}"#
        )
    );
}

#[test]
fn accepts_standard_base64_padded_or_not() {
    let std_p256dh = P256DH.replace('-', "+").replace('_', "/");
    let std_auth = AUTH.replace('-', "+").replace('_', "/");
    let reference =
        Subscription::from_json(&json(&q(ENDPOINT), "null", &q(P256DH), &q(AUTH))).unwrap();
    for (p, a) in [
        (std_p256dh.clone(), std_auth.clone()),
        (format!("{std_p256dh}="), format!("{std_auth}==")),
        (format!("{P256DH}="), format!("{AUTH}==")),
    ] {
        let sub = Subscription::from_json(&json(&q(ENDPOINT), "null", &q(&p), &q(&a))).unwrap();
        assert_eq!(sub, reference, "{p} {a}");
    }
}

#[test]
fn table_of_malformed_subscriptions() {
    let mut off_curve = *UaKeyPair::generate().unwrap().public_key().as_bytes();
    off_curve[64] ^= 1;
    let off_curve = crate::b64::encode(&off_curve);
    let key64 = crate::b64::encode(&[4; 64]);
    let auth15 = crate::b64::encode(&[1; 15]);
    let auth17 = crate::b64::encode(&[1; 17]);
    let huge = "A".repeat(MAX_KEY_STRING_LEN + 1);
    let huge_endpoint = format!("https://a.example/{}", "x".repeat(MAX_ENDPOINT_LEN));
    let e = q(ENDPOINT);
    let p = q(P256DH);
    let a = q(AUTH);
    use SubscriptionError as E;
    let cases: Vec<(String, SubscriptionError)> = vec![
        (
            "".into(),
            E::Json {
                category: "unexpected end",
                line: 1,
                column: 0,
            },
        ),
        (
            "[]".into(),
            E::Json {
                category: "wrong type or value",
                line: 1,
                column: 2,
            },
        ),
        (
            "{".into(),
            E::Json {
                category: "unexpected end",
                line: 1,
                column: 1,
            },
        ),
        (
            json(&e, "null", &p, "7"),
            E::Json {
                category: "wrong type or value",
                line: 1,
                column: 201,
            },
        ),
        (
            json(&e, "\"soon\"", &p, &a),
            E::Json {
                category: "wrong type or value",
                line: 1,
                column: 87,
            },
        ),
        (r#"{"keys":{}}"#.into(), E::Missing("endpoint")),
        (format!(r#"{{"endpoint":{e}}}"#), E::Missing("keys")),
        (
            format!(r#"{{"endpoint":{e},"keys":{{"auth":{a}}}}}"#),
            E::Missing("keys.p256dh"),
        ),
        (
            format!(r#"{{"endpoint":{e},"keys":{{"p256dh":{p}}}}}"#),
            E::Missing("keys.auth"),
        ),
        (json("null", "null", &p, &a), E::Missing("endpoint")),
        (json(&e, "null", "null", &a), E::Missing("keys.p256dh")),
        (
            json(&e, "null", &q("not base64!"), &a),
            E::P256dh(KeyError::Base64),
        ),
        (
            json(&e, "null", &q(&key64), &a),
            E::P256dh(KeyError::Length {
                expected: 65,
                actual: 64,
            }),
        ),
        (
            json(&e, "null", &q(&off_curve), &a),
            E::P256dh(KeyError::NotOnCurve),
        ),
        (json(&e, "null", &p, &q("%%%")), E::Auth(KeyError::Base64)),
        (
            json(&e, "null", &p, &q(&auth15)),
            E::Auth(KeyError::Length {
                expected: 16,
                actual: 15,
            }),
        ),
        (
            json(&e, "null", &p, &q(&auth17)),
            E::Auth(KeyError::Length {
                expected: 16,
                actual: 17,
            }),
        ),
        (
            json(&e, "null", &q(&huge), &a),
            E::TooLong {
                field: "keys.p256dh",
                len: 257,
                max: 256,
            },
        ),
        (
            json(&e, "null", &p, &q(&huge)),
            E::TooLong {
                field: "keys.auth",
                len: 257,
                max: 256,
            },
        ),
        (
            json(&q("not a url"), "null", &p, &a),
            E::Endpoint("does not parse as a URL"),
        ),
        (
            json(&q("/relative/path"), "null", &p, &a),
            E::Endpoint("not absolute (no scheme)"),
        ),
        (
            json(&q("ftp://push.example/x"), "null", &p, &a),
            E::Endpoint("scheme is not http or https"),
        ),
        (
            json(&q(&huge_endpoint), "null", &p, &a),
            E::TooLong {
                field: "endpoint",
                len: huge_endpoint.len(),
                max: MAX_ENDPOINT_LEN,
            },
        ),
        (json(&e, "-1", &p, &a), E::ExpirationTime),
        (json(&e, "1e300", &p, &a), E::ExpirationTime),
        (
            "x".repeat(MAX_JSON_LEN + 1),
            E::JsonTooLarge(MAX_JSON_LEN + 1),
        ),
    ];
    for (i, (input, want)) in cases.iter().enumerate() {
        let got = Subscription::from_json(input);
        assert_eq!(
            got.as_ref().err(),
            Some(want),
            "case {i}: {}",
            input.get(..120).unwrap_or(input)
        );
        let msg = want.to_string();
        assert!(!msg.contains("cap-token"), "case {i}: {msg}");
    }
}

#[test]
fn endpoint_debug_and_errors_hide_the_capability_path() {
    let sub = Subscription::from_json(&json(&q(ENDPOINT), "null", &q(P256DH), &q(AUTH))).unwrap();
    let dbg = format!("{sub:?}");
    assert!(!dbg.contains("cap-token"), "{dbg}");
    assert!(!dbg.contains(AUTH), "{dbg}");
    assert!(dbg.contains("fcm.googleapis.com"), "{dbg}");
    // A serde error message would quote this string; ours does not.
    let bad = json(&q(ENDPOINT), "\"cap-token\"", &q(P256DH), &q(AUTH));
    let err = Subscription::from_json(&bad).unwrap_err().to_string();
    assert!(!err.contains("cap-token"), "{err}");
}

#[test]
fn origin_keeps_non_default_ports() {
    for (url, origin) in [
        ("https://push.example:8443/x", "https://push.example:8443"),
        ("https://push.example:443/x", "https://push.example"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("http://push.example:80/x", "http://push.example"),
        ("https://[::1]:9000/x", "https://[::1]:9000"),
    ] {
        assert_eq!(Endpoint::parse(url).unwrap().origin(), origin, "{url}");
    }
}

/// Fuzz finding (target `subscription`, input
/// `fuzz/corpus/subscription/seed-regress-auth-text-in-host`): an endpoint
/// host may contain the text of `auth`. `Debug` shows the origin, so the text
/// appears there, but the `auth` field itself stays redacted.
#[test]
fn auth_text_inside_the_endpoint_host_shows_only_as_part_of_the_origin() {
    let input = r#"{"endpoint": "https://updates.pBZMHBqTH6r4Tts7J_aSIggA", "eionTime": null, "keys": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4", "auth": "BZMHBqTH6r4Tts7J_aSIgg"}}"#;
    let sub = Subscription::from_json(input).unwrap();
    let auth = sub.auth().expose_base64();
    let debug = format!("{sub:?}");
    assert_eq!(debug.matches(auth.as_str()).count(), 1, "{debug}");
    assert!(debug.contains("auth: AuthSecret(..)"), "{debug}");
    #[cfg(feature = "__fuzz")]
    super::fuzz::json(input.as_bytes());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_json_never_panics(s in "\\PC{0,300}") {
            let _ = Subscription::from_json(&s);
        }

        #[test]
        fn arbitrary_key_strings_never_panic(p in "[A-Za-z0-9+/=_-]{0,100}", a in "[A-Za-z0-9+/=_-]{0,30}") {
            let _ = Subscription::from_json(&json(&q(ENDPOINT), "null", &q(&p), &q(&a)));
        }
    }
}

fn doc(extra: &str) -> String {
    format!(
        r#"{{"endpoint":"{ENDPOINT}","expirationTime":null,"keys":{{"p256dh":"{P256DH}","auth":"{AUTH}"}}{extra}}}"#
    )
}

#[test]
fn serde_deserialize_validates_like_from_json() {
    let direct: Subscription = serde_json::from_str(&doc("")).unwrap();
    assert_eq!(direct, Subscription::from_json(&doc("")).unwrap());
    // Round trip through Serialize.
    let back: Subscription =
        serde_json::from_str(&serde_json::to_string(&direct).unwrap()).unwrap();
    assert_eq!(back, direct);
    let bad = doc("").replace(AUTH, "AAAA");
    assert!(serde_json::from_str::<Subscription>(&bad).is_err());
    // Duplicate members are refused, as from_json refuses them.
    let dup = doc(&format!(r#","endpoint":"{ENDPOINT}""#));
    assert!(Subscription::from_json(&dup).is_err());
    let err = serde_json::from_str::<Subscription>(&dup).unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
}

#[test]
fn serde_deserialize_has_a_document_size_limit() {
    // Unknown members count too.
    let big = format!(r#","pad":"{}""#, "x".repeat(MAX_JSON_LEN));
    let err = serde_json::from_str::<Subscription>(&doc(&big)).unwrap_err();
    assert!(err.to_string().contains("over the limit of 16384"), "{err}");
    let many = format!(r#","pad":[{}0]"#, "0,".repeat(MAX_JSON_LEN / 8));
    assert!(serde_json::from_str::<Subscription>(&doc(&many)).is_err());
    // Under the limit, unknown members are fine.
    let small = format!(r#","pad":"{}""#, "x".repeat(1000));
    assert!(serde_json::from_str::<Subscription>(&doc(&small)).is_ok());
    // Deep nesting is refused early.
    let deep = format!(r#","pad":{}{}"#, "[".repeat(40), "]".repeat(40));
    let err = serde_json::from_str::<Subscription>(&doc(&deep)).unwrap_err();
    assert!(err.to_string().contains("nested too deeply"), "{err}");
    // The limit is the subscription's, not the surrounding document's.
    #[derive(serde::Deserialize)]
    struct Row {
        sub: Subscription,
        note: String,
    }
    let row = format!(r#"{{"note":"{}","sub":{}}}"#, "n".repeat(100_000), doc(""));
    let row: Row = serde_json::from_str(&row).unwrap();
    assert_eq!(row.note.len(), 100_000);
    assert_eq!(row.sub.endpoint().uri(), ENDPOINT);
}
