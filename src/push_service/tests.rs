use super::*;

#[test]
fn service_from_endpoint_host_table() {
    let cases: &[(&str, PushService)] = &[
        (
            "https://fcm.googleapis.com/fcm/send/abc:APA91",
            PushService::Fcm,
        ),
        ("https://fcm.googleapis.com/wp/abc", PushService::Fcm),
        ("https://FCM.googleapis.com./wp/abc", PushService::Fcm),
        (
            "https://fcm.googleapis.com/v1/projects/x",
            PushService::Other,
        ),
        (
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
            PushService::Mozilla,
        ),
        (
            "https://push.services.mozilla.com/wpush/v2/gAAAA",
            PushService::Other,
        ),
        ("https://web.push.apple.com/QGx", PushService::Apple),
        ("https://WEB.PUSH.APPLE.COM/QGx", PushService::Apple),
        ("https://push.apple.com/QGx", PushService::Other),
        (
            "https://web.push.apple.com.evil.example/QGx",
            PushService::Other,
        ),
        ("https://evilpush.apple.com/QGx", PushService::Other),
        (
            "https://wns2-by3p.notify.windows.com/w/?token=x",
            PushService::Wns,
        ),
        ("https://notify.windows.com/w/?token=x", PushService::Other),
        ("https://push.example.net/push/abc", PushService::Other),
        ("https://127.0.0.1:8443/push/abc", PushService::Other),
    ];
    for (i, (url, want)) in cases.iter().enumerate() {
        let uri: http::Uri = url.parse().unwrap();
        assert_eq!(PushService::from_uri(&uri), *want, "case {i}: {url}");
    }
}

#[test]
fn max_ttl_and_wns_cache_policy() {
    assert_eq!(PushService::Fcm.max_ttl(), Some(2_419_200));
    assert_eq!(PushService::Mozilla.max_ttl(), Some(2_592_000));
    assert_eq!(PushService::Other.max_ttl(), None);
    assert_eq!(PushService::Wns.wns_cache_policy(0), Some("no-cache"));
    assert_eq!(PushService::Wns.wns_cache_policy(1), Some("cache"));
    assert_eq!(PushService::Fcm.wns_cache_policy(60), None);
}

#[test]
fn apple_reason_names_round_trip() {
    for (reason, name) in AppleReason::ALL {
        assert_eq!(AppleReason::parse(name), Some(reason));
        assert_eq!(reason.as_str(), name);
    }
    assert_eq!(AppleReason::parse("badjwttoken"), None);
}

#[test]
fn parse_is_total_on_odd_bodies() {
    let h = HeaderMap::new();
    let s = StatusCode::BAD_REQUEST;
    for body in [
        &b""[..],
        b"{",
        b"{\"errno\": -1}",
        b"{\"errno\": 70000}",
        b"{\"errno\": \"109\"}",
        b"{\"reason\": 5}",
        b"{\"reason\": \"Nope\"}",
        b"[1,2]",
        b"\xff\xfe",
        b"   ",
    ] {
        assert_eq!(ServiceReason::parse(s, &h, body), None, "{body:?}");
    }
    assert_eq!(
        ServiceReason::parse(StatusCode::CREATED, &h, br#"{"reason":"BadTtl"}"#),
        None
    );
}

#[test]
fn fcm_sender_id_text_only_on_403() {
    let h = HeaderMap::new();
    let body = b"the key in the authorization header does not correspond to the sender ID used to subscribe this user.\n";
    assert_eq!(
        ServiceReason::parse(StatusCode::FORBIDDEN, &h, body),
        Some(ServiceReason::Fcm(FcmReason::SenderIdMismatch))
    );
    assert_eq!(
        ServiceReason::parse(StatusCode::BAD_REQUEST, &h, body),
        None
    );
}

/// One recorded-shape refusal (`tests/data/responses.json`).
#[derive(Debug, serde::Deserialize)]
struct Case {
    name: String,
    source: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    outcome: String,
    typed: Option<String>,
    retryable: bool,
    caller_bug: bool,
    text: Option<String>,
    #[serde(default)]
    retry_after: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Table {
    cases: Vec<Case>,
}

fn variant(e: &crate::outcome::SendError) -> String {
    // The variant name is the start of `Debug`.
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn recorded_responses_table() {
    let table: Table =
        serde_json::from_str(include_str!("../../tests/data/responses.json")).unwrap();
    assert!(table.cases.len() >= 25);
    for (i, case) in table.cases.iter().enumerate() {
        assert!(!case.source.is_empty(), "case {i} has no source");
        let mut headers = HeaderMap::new();
        for (name, value) in &case.headers {
            headers.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let status = StatusCode::from_u16(case.status).unwrap();
        let response =
            crate::sender::PushResponse::new(status, headers, case.body.as_bytes().to_vec());
        let err = crate::outcome::classify(response, std::time::SystemTime::now())
            .expect_err("a refusal");
        let ctx = format!("case {i} {case:#?}");
        assert_eq!(variant(&err), case.outcome, "{ctx}");
        assert_eq!(
            err.service_reason().map(|r| format!("{r:?}")),
            case.typed,
            "{ctx}"
        );
        assert_eq!(err.is_retryable(), case.retryable, "{ctx}");
        assert_eq!(err.is_caller_bug(), case.caller_bug, "{ctx}");
        assert_eq!(
            err.is_key_mismatch(),
            case.outcome == "KeyMismatch",
            "{ctx}"
        );
        assert_eq!(err.is_gone(), case.outcome == "Gone", "{ctx}");
        assert_eq!(err.reason(), case.text, "{ctx}");
        assert_eq!(
            err.retry_after().map(|d| d.as_secs()),
            case.retry_after,
            "{ctx}"
        );
        // The autopush `more_info` URL never shows.
        assert!(!err.to_string().contains("http://"), "{ctx}");
        let _ = &case.name;
    }
}
