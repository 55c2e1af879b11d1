//! The job wire format: round trips, defaults, and one case per refusal.

use super::*;

const SUB: &str = r#"{"endpoint":"https://push.example.net/p/SECRETPATH","expirationTime":null,"keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}}"#;

fn sub() -> Subscription {
    Subscription::from_json(SUB).unwrap()
}

fn b(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

fn wire(rest: &str) -> String {
    format!(r#"{{"v":1,"id":"j1","subscription":{SUB},"payload":"SGk"{rest}}}"#)
}

#[test]
fn job_round_trips_with_every_option() {
    let job = PushJob::new("campaign:1", sub(), b"Hello".to_vec())
        .unwrap()
        .ttl(60)
        .urgency(Urgency::Low)
        .topic(Topic::new("news").unwrap())
        .padding(Padding::BlockSize(NonZeroUsize::new(64).unwrap()));
    let again = PushJob::from_json(job.to_json().as_bytes()).unwrap();
    assert_eq!(again, job);
    assert_eq!(again.push_options().ttl_secs(), 60);
    assert_eq!(again.effective_topic().as_str(), "news");
    let fixed = PushJob::new("f", sub(), Vec::new())
        .unwrap()
        .padding(Padding::FixedSize(100));
    assert_eq!(
        PushJob::from_json(fixed.to_json().as_bytes()).unwrap(),
        fixed
    );
}

#[test]
fn minimal_job_has_defaults() {
    let job = PushJob::from_json(wire("").as_bytes()).unwrap();
    assert_eq!(job.id(), "j1");
    assert_eq!(job.payload(), b"Hi");
    let options = job.push_options();
    assert_eq!(options.ttl_secs(), crate::request::DEFAULT_TTL);
    assert_eq!(options.encoding(), ContentEncoding::Aes128Gcm);
    assert_eq!(options.topic_ref(), Some(&job.effective_topic()));
}

#[test]
fn unknown_fields_are_ignored() {
    assert!(PushJob::from_json(wire(r#","future":{"x":[1,2]}"#).as_bytes()).is_ok());
}

#[test]
fn derived_topic_is_stable_and_distinct() {
    let a = PushJob::new("a", sub(), Vec::new()).unwrap();
    let b = PushJob::new("b", sub(), Vec::new()).unwrap();
    assert_eq!(a.effective_topic(), a.clone().effective_topic());
    assert_ne!(a.effective_topic(), b.effective_topic());
    // SHA-256("a") = ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs (base64url)
    assert_eq!(
        a.effective_topic().as_str(),
        "ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5y"
    );
}

#[test]
fn debug_hides_payload_keys_and_path() {
    let job = PushJob::new("j", sub(), b"TOPSECRET".to_vec()).unwrap();
    let debug = format!("{job:?}");
    assert!(debug.contains("https://push.example.net"), "{debug}");
    for hidden in [
        "SECRETPATH",
        "TOPSECRET",
        "BTBZMqHH6r4Tts7J_aSIgg",
        "BCVxsr7N",
    ] {
        assert!(!debug.contains(hidden), "{hidden} in {debug}");
    }
}

#[test]
fn new_refuses_bad_ids_and_large_payloads() {
    let cases: &[(&str, usize, JobError)] = &[
        ("", 0, JobError::BadId("empty")),
        (
            "a b",
            0,
            JobError::BadId("not visible ASCII (0x21 to 0x7E)"),
        ),
        ("é", 0, JobError::BadId("not visible ASCII (0x21 to 0x7E)")),
        (
            &"x".repeat(129),
            0,
            JobError::BadId("longer than 128 octets"),
        ),
        (
            "ok",
            3994,
            JobError::PayloadTooLarge {
                len: 3994,
                max: 3993,
            },
        ),
    ];
    for (i, (id, len, want)) in cases.iter().enumerate() {
        assert_eq!(
            PushJob::new(*id, sub(), vec![0; *len]).as_ref(),
            Err(want),
            "case {i}"
        );
    }
    assert!(PushJob::new("x".repeat(128), sub(), vec![0; 3993]).is_ok());
}

#[test]
fn parser_names_each_refusal() {
    let big = vec![b' '; MAX_JOB_LEN + 1];
    let bad_sub =
        r#"{"v":1,"id":"j","subscription":{"endpoint":"ftp://x","keys":{}},"payload":""}"#;
    let huge_payload = wire("").replace("SGk", &"A".repeat(5400));
    #[rustfmt::skip]
    let cases: Vec<(Vec<u8>, JobError)> = vec![
        (b(&big), JobError::TooLong { len: MAX_JOB_LEN + 1 }),
        (b(b"{}"), JobError::UnsupportedVersion(None)),
        (b(b"{\"v\":2,\"payload\":7}"), JobError::UnsupportedVersion(Some(2))),
        (b(b"{\"v\":1}"), JobError::Missing("id")),
        (b(b"{\"v\":1,\"id\":\"\"}"), JobError::BadId("empty")),
        (b(b"{\"v\":1,\"id\":\"j\"}"), JobError::Missing("subscription")),
        (b(bad_sub), JobError::BadSubscription(SubscriptionError::Endpoint("scheme is not http or https"))),
        (b(wire(r#","ttl":1"#).replace(r#""payload":"SGk""#, r#""x":1"#)), JobError::Missing("payload")),
        (b(wire("").replace("SGk", "S*k")), JobError::BadPayload),
        (b(huge_payload), JobError::PayloadTooLarge { len: 4050, max: 3993 }),
        (b(wire(r#","urgency":"now""#)), JobError::BadOption { field: "urgency", reason: "not very-low, low, normal or high" }),
        (b(wire(r#","topic":"a b""#)), JobError::BadOption { field: "topic", reason: "not 1 to 32 characters of the base64url alphabet" }),
        (b(wire(r#","padding":{"block":0}"#)), JobError::BadOption { field: "padding", reason: "block size 0" }),
        (b(wire(r#","padding":{"block":1,"fixed":2}"#)), JobError::BadOption { field: "padding", reason: "not {\"block\":n} or {\"fixed\":n}" }),
        (b(wire(r#","padding":{"fixed":1}"#)), JobError::PayloadTooLarge { len: 2, max: 1 }),
        (b(wire(r#","encoding":"gzip""#)), JobError::BadOption { field: "encoding", reason: "not a content coding this build supports" }),
    ];
    for (i, (input, want)) in cases.iter().enumerate() {
        assert_eq!(
            PushJob::from_json(input).as_ref(),
            Err(want),
            "case {i}: {}",
            String::from_utf8_lossy(&input[..input.len().min(120)])
        );
    }
    for garbage in [
        &b"\xff\xfe"[..],
        b"not json",
        b"[1,2]",
        b"{\"v\":\"1\"}",
        b"{\"v\":1,\"id\":5}",
    ] {
        assert!(
            matches!(PushJob::from_json(garbage), Err(JobError::NotJson { .. })),
            "{}",
            String::from_utf8_lossy(garbage)
        );
    }
}

#[test]
fn errors_never_echo_the_endpoint() {
    let err = PushJob::from_json(
        br#"{"v":1,"id":"j","subscription":{"endpoint":"https://push.example.net/SECRETPATH"},"payload":""}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        JobError::BadSubscription(SubscriptionError::Missing("keys"))
    );
    assert!(!err.to_string().contains("SECRETPATH"));
}

#[test]
fn a_mebibyte_is_refused_before_parsing() {
    let mib = vec![b'{'; 1 << 20];
    assert_eq!(
        PushJob::from_json(&mib),
        Err(JobError::TooLong { len: 1 << 20 })
    );
}
