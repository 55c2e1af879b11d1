use super::*;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use std::time::UNIX_EPOCH;

/// Sun, 06 Nov 1994 08:49:37 GMT.
const DATE_SECS: u64 = 784_111_777;
/// 30 s before [`DATE_SECS`].
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(DATE_SECS - 30)
}

const ENDPOINT: &str = "https://fcm.googleapis.com/fcm/send/cSECRETtoken:APA91bSECRET";
const LOCATION: &str = "https://push.example.net/message/qDIYHNcfAIPP_5ITvURr-d6BGt";

fn resp(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> PushResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    PushResponse::new(StatusCode::from_u16(status).unwrap(), map, body.to_vec())
}

fn err(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> SendError {
    classify(resp(status, headers, body), now()).unwrap_err()
}

fn kind(e: &SendError) -> &'static str {
    match e {
        SendError::Gone { .. } => "Gone",
        SendError::PayloadTooLarge { .. } => "PayloadTooLarge",
        SendError::RateLimited { .. } => "RateLimited",
        SendError::VapidRejected { .. } => "VapidRejected",
        SendError::KeyMismatch { .. } => "KeyMismatch",
        SendError::BadRequest { .. } => "BadRequest",
        SendError::Rejected { .. } => "Rejected",
        SendError::ServerError { .. } => "ServerError",
        SendError::UnexpectedStatus { .. } => "UnexpectedStatus",
        SendError::Transport(_) => "Transport",
        SendError::Policy(_) => "Policy",
        SendError::Encryption(_) => "Encryption",
        SendError::Vapid(_) => "Vapid",
        SendError::InvalidMessage(_) => "InvalidMessage",
        SendError::Cancelled => "Cancelled",
    }
}

const MOZILLA_400: &[u8] = br#"{"code": 400, "errno": 111, "error": "Bad Request", "message": "Missing TTL header", "more_info": "http://autopush.readthedocs.io/en/latest/http.html#error-codes"}"#;
const MOZILLA_410: &[u8] = br#"{"code":410,"errno":106,"error":"Gone","message":"Request did not validate No such subscription","more_info":"http://autopush.readthedocs.io/en/latest/http.html#error-codes"}"#;
const APPLE_403: &[u8] = br#"{"reason":"BadJwtToken"}"#;
const FCM_HTML: &[u8] = b"<HTML>\n<HEAD>\n<TITLE>InvalidTokenFormat</TITLE>\n</HEAD>\n<BODY BGCOLOR=\"#FFFFFF\" TEXT=\"#000000\">\n<H1>InvalidTokenFormat</H1>\n<H2>Error 400</H2>\n</BODY>\n</HTML>\n";

#[test]
fn delivered_statuses() {
    for status in [200, 201, 202, 204] {
        let d = classify(resp(status, &[], b""), now()).unwrap();
        assert_eq!(d.status().as_u16(), status);
        assert_eq!(d.location(), None);
        assert!(!format!("{d:?}").contains("redacted"));
    }
    let d = classify(resp(201, &[("location", LOCATION.as_bytes())], b""), now()).unwrap();
    assert_eq!(d.location(), Some(LOCATION));
    assert_eq!(d.response().status, StatusCode::CREATED);
    let debug = format!("{d:?}");
    assert!(debug.contains("location: Some(<redacted>)"), "{debug}");
    assert!(!debug.contains("push.example.net"), "{debug}");
    assert_eq!(d.into_response().status, StatusCode::CREATED);
}

/// status, headers, body, variant, retry-after seconds, retryable, `Display`.
type StatusCase<'a> = (
    u16,
    &'a [(&'a str, &'a [u8])],
    &'a [u8],
    &'a str,
    Option<u64>,
    bool,
    &'a str,
);

#[test]
fn status_table() {
    let date = b"Sun, 06 Nov 1994 08:49:37 GMT".as_slice();
    #[rustfmt::skip]
    let cases: &[StatusCase<'_>] = &[
        (400, &[], MOZILLA_400, "BadRequest", None, false,
            "push service refused the request as malformed (400 Bad Request): Missing TTL header"),
        (400, &[], FCM_HTML, "BadRequest", None, false,
            "push service refused the request as malformed (400 Bad Request): InvalidTokenFormat"),
        (401, &[], b"", "VapidRejected", None, false,
            "VAPID rejected by the push service (401 Unauthorized)"),
        (403, &[], APPLE_403, "VapidRejected", None, false,
            "VAPID rejected by the push service (403 Forbidden): BadJwtToken"),
        (404, &[], b"", "Gone", None, false,
            "push service says the subscription is gone (404 Not Found)"),
        (406, &[], b"", "RateLimited", None, true,
            "rate limited by the push service (406 Not Acceptable)"),
        (408, &[], b"", "Rejected", None, true,
            "push service refused the request (408 Request Timeout)"),
        (410, &[], MOZILLA_410, "Gone", None, false,
            "push service says the subscription is gone (410 Gone): Request did not validate No such subscription"),
        (413, &[], b"", "PayloadTooLarge", None, false,
            "push service refused the payload as too large (413 Payload Too Large)"),
        (415, &[], b"Unsupported Content-Encoding", "Rejected", None, false,
            "push service refused the request (415 Unsupported Media Type): Unsupported Content-Encoding"),
        (429, &[("retry-after", b"30")], b"", "RateLimited", Some(30), true,
            "rate limited by the push service (429 Too Many Requests), retry after 30 s"),
        (429, &[("retry-after", date)], b"", "RateLimited", Some(30), true,
            "rate limited by the push service (429 Too Many Requests), retry after 30 s"),
        (429, &[("retry-after", b"soon")], b"", "RateLimited", None, true,
            "rate limited by the push service (429 Too Many Requests)"),
        (500, &[], b"", "ServerError", None, true,
            "push service failed (500 Internal Server Error)"),
        (502, &[], b"upstream connect error", "ServerError", None, true,
            "push service failed (502 Bad Gateway): upstream connect error"),
        (503, &[("retry-after", b"120")], b"", "ServerError", Some(120), true,
            "push service failed (503 Service Unavailable), retry after 120 s"),
        (301, &[("location", LOCATION.as_bytes())], b"", "UnexpectedStatus", None, false,
            "unexpected status from the push service (301 Moved Permanently)"),
        (302, &[("location", LOCATION.as_bytes())], b"", "UnexpectedStatus", None, false,
            "unexpected status from the push service (302 Found)"),
        (100, &[], b"", "UnexpectedStatus", None, false,
            "unexpected status from the push service (100 Continue)"),
        (600, &[], b"", "UnexpectedStatus", None, false,
            "unexpected status from the push service (600)"),
        (999, &[("retry-after", b"5")], b"", "UnexpectedStatus", None, false,
            "unexpected status from the push service (999)"),
    ];
    for &(status, headers, body, want_kind, want_retry, retryable, display) in cases {
        let e = err(status, headers, body);
        assert_eq!(kind(&e), want_kind, "{status}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(e.response().map(|r| r.status.as_u16()), Some(status));
        assert_eq!(
            e.retry_after(),
            want_retry.map(Duration::from_secs),
            "{status}"
        );
        assert_eq!(e.is_retryable(), retryable, "{status}");
        assert_eq!(e.is_gone(), want_kind == "Gone", "{status}");
        assert!(!e.is_timeout());
        assert_eq!(e.to_string(), display);
        let debug = format!("{e:?}");
        assert!(debug.starts_with(want_kind), "{debug}");
        assert!(!debug.contains(LOCATION), "{debug}");
    }
}

#[test]
fn gone_keeps_which_status() {
    assert_eq!(err(404, &[], b"").status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err(410, &[], b"").status(), Some(StatusCode::GONE));
}

#[test]
fn wrapped_errors() {
    let t = SendError::from(TransportError::new(TransportErrorKind::Timeout, None));
    assert!(t.is_timeout() && t.is_retryable());
    assert_eq!(t.to_string(), "timed out");
    assert!(t.status().is_none() && t.response().is_none() && t.reason().is_none());

    for (k, retryable) in [
        (TransportErrorKind::Connect, true),
        (TransportErrorKind::Other, true),
        (TransportErrorKind::Tls, false),
        (TransportErrorKind::Policy, false),
    ] {
        let e = SendError::from(TransportError::new(k, None));
        assert_eq!(e.is_retryable(), retryable, "{k:?}");
        assert!(!e.is_timeout(), "{k:?}");
    }

    // A timeout further down the chain counts too.
    let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
    let e = SendError::from(TransportError::new(
        TransportErrorKind::Other,
        Some(Box::new(io)),
    ));
    assert!(e.is_timeout());
    let inner = TransportError::new(TransportErrorKind::Timeout, None);
    let e = SendError::from(TransportError::new(
        TransportErrorKind::Other,
        Some(Box::new(inner)),
    ));
    assert!(e.is_timeout());
    assert!(std::error::Error::source(&e).is_some());

    let p = SendError::from(PolicyError::IpLiteral);
    assert_eq!(p.to_string(), PolicyError::IpLiteral.to_string());
    assert!(!p.is_retryable() && kind(&p) == "Policy");
    let c = SendError::from(CryptoError::PayloadTooLarge {
        len: 5000,
        max: 3993,
    });
    assert_eq!(kind(&c), "Encryption");
    assert!(c.to_string().contains("5000"));
    let v = SendError::from(VapidError::Validity);
    assert_eq!(kind(&v), "Vapid");
    let m = SendError::InvalidMessage("topic longer than 32 characters");
    assert_eq!(
        m.to_string(),
        "invalid push message: topic longer than 32 characters"
    );
    assert!(!m.is_retryable() && m.retry_after().is_none());
    assert_eq!(
        format!("{m:?}"),
        r#"InvalidMessage("topic longer than 32 characters")"#
    );
}

#[test]
fn send_sync_and_small() {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<SendError>();
    assert_send_sync::<Delivered>();
    let size = core::mem::size_of::<SendError>();
    assert!(size <= 48, "{size}");
}

// ---------------------------------------------------------------------------
// Retry-After

#[test]
fn retry_after_table() {
    let secs = Duration::from_secs;
    #[rustfmt::skip]
    let cases: &[(&[u8], Option<Duration>)] = &[
        (b"120", Some(secs(120))),
        (b"0", Some(Duration::ZERO)),
        (b"00030", Some(secs(30))),
        (b"  30 ", Some(secs(30))),
        (b"\t30\t", Some(secs(30))),
        (b"86400", Some(secs(86_400))),
        (b"86401", Some(secs(86_401))),
        (b"4294967295", Some(UNCAPPED_MAX)),
        (b"100000000000000000000", Some(UNCAPPED_MAX)),
        (b"4294967296", Some(UNCAPPED_MAX)),
        (b"99999999999999999999999999999999999999999", Some(UNCAPPED_MAX)),
        (b"-1", None),
        (b"+1", None),
        (b"1.5", None),
        (b"1e3", None),
        (b"3 0", None),
        (b"", None),
        (b"   ", None),
        (b"soon", None),
        (b"\xff\xfe", None),
        (b"30\xff", None),
        // The three HTTP-date formats, 30 s after `now`.
        (b"Sun, 06 Nov 1994 08:49:37 GMT", Some(secs(30))),
        (b"Sunday, 06-Nov-94 08:49:37 GMT", Some(secs(30))),
        (b"Sun Nov  6 08:49:37 1994", Some(secs(30))),
        (b"Sun Nov 06 08:49:37 1994", Some(secs(30))),
        // Lenient about case and repeated spaces.
        (b"sun,  06 NOV 1994 08:49:37 GMT", Some(secs(30))),
        // Future and past.
        (b"Mon, 07 Nov 1994 08:49:07 GMT", Some(secs(86_400))),
        (b"Sun, 06 Nov 1994 08:49:07 GMT", Some(Duration::ZERO)),
        (b"Sat, 05 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
        (b"Thu, 01 Jan 1970 00:00:00 GMT", Some(Duration::ZERO)),
        (b"Mon, 01 Jan 0001 00:00:00 GMT", Some(Duration::ZERO)),
        (b"Fri, 31 Dec 9999 23:59:59 GMT", Some(UNCAPPED_MAX)),
        (b"Fri, 18 Jan 2030 00:00:00 GMT", Some(secs(1_894_924_800 - (DATE_SECS - 30)))),
        (b"Sun, 06 Nov 1994 08:49:60 GMT", Some(secs(53))),
        (b"Tue, 29 Feb 2000 00:00:00 GMT", Some(secs(951_782_400 - (DATE_SECS - 30)))),
        // Malformed dates.
        (b"Sun, 06 Nov 1994 08:49:37", None),
        (b"Sun, 06 Nov 1994 08:49:37 UTC", None),
        (b"Sun, 06 Nov 1994 08:49:37 GMT x", None),
        (b"Sun, 06 Nov 94 08:49:37 GMT", None),
        (b"Sun, 31 Nov 1994 08:49:37 GMT", None),
        (b"Sun, 29 Feb 1900 08:49:37 GMT", None),
        (b"Sun, 00 Nov 1994 08:49:37 GMT", None),
        (b"Sun, 06 Nov 1994 24:00:00 GMT", None),
        (b"Sun, 06 Nov 1994 08:60:00 GMT", None),
        (b"Sun, 06 Nov 1994 8:49:37 GMT", None),
        (b"Sun, 06 Nov 1994 08:49:37:00 GMT", None),
        (b"Xyz, 06 Nov 1994 08:49:37 GMT", None),
        (b"Sunday, 06 Nov 1994 08:49:37 GMT", None),
        (b"Sun, 06-Nov-94 08:49:37 GMT", None),
        (b"Sunday, 06-Nov-1994 08:49:37 GMT", None),
        (b"Sunday, 06-Nov-94-1 08:49:37 GMT", None),
        (b"Sun Nov  6 08:49:37 1994 GMT", None),
        (b"Sun Nov  6 08:49:37", None),
        (b"Sun, 06 N\xc3\xb6v 1994 08:49:37 GMT", None),
        (b"Sun,", None),
        (b",", None),
    ];
    for (raw, want) in cases {
        let value = HeaderValue::from_bytes(raw).unwrap();
        assert_eq!(
            parse_retry_after(&value, now()),
            want.map(|d| d.min(MAX_RETRY_AFTER)),
            "capped: {}",
            String::from_utf8_lossy(raw)
        );
        assert_eq!(
            parse_uncapped(&value, now()),
            *want,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn retry_after_longer_than_the_limit_is_not_read() {
    let at_limit = format!("{:0>1$}", 30, MAX_RETRY_AFTER_LEN);
    let value = HeaderValue::from_str(&at_limit).unwrap();
    assert_eq!(
        parse_retry_after(&value, now()),
        Some(Duration::from_secs(30))
    );
    let over = format!("0{at_limit}");
    let value = HeaderValue::from_str(&over).unwrap();
    assert_eq!(parse_retry_after(&value, now()), None);
    let spaced = format!("{}30", " ".repeat(MAX_RETRY_AFTER_LEN));
    let value = HeaderValue::from_str(&spaced).unwrap();
    assert_eq!(parse_retry_after(&value, now()), None);
}

#[test]
fn retry_after_subsecond_now() {
    let now = UNIX_EPOCH + Duration::from_millis((DATE_SECS - 30) * 1000 + 250);
    let v = HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(
        parse_retry_after(&v, now),
        Some(Duration::from_millis(29_750))
    );
    let before_epoch = UNIX_EPOCH - Duration::from_millis(1500);
    let v = HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        parse_retry_after(&v, before_epoch),
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn absurd_retry_after_is_capped_to_a_day() {
    for raw in [
        "100000000000000000000",
        "86401",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let v = HeaderValue::from_str(raw).unwrap();
        assert_eq!(
            parse_retry_after(&v, now()),
            Some(Duration::from_secs(86_400)),
            "{raw}"
        );
    }
    let e = err(429, &[("retry-after", b"100000000000000000000")], b"");
    assert_eq!(e.retry_after(), Some(MAX_RETRY_AFTER));
    assert!(e.to_string().contains("retry after 86400 s"), "{e}");
}

#[test]
fn rfc850_two_digit_years() {
    // 2025-06-01: up to 50 years ahead is the future, beyond that the past.
    let now = UNIX_EPOCH + Duration::from_secs(1_748_736_000);
    let v = HeaderValue::from_static("Monday, 01-Jan-75 00:00:00 GMT");
    let to_2075 = 3_313_526_400 - 1_748_736_000;
    assert_eq!(parse_uncapped(&v, now), Some(Duration::from_secs(to_2075)));
    let v = HeaderValue::from_static("Monday, 01-Jan-76 00:00:00 GMT");
    assert_eq!(parse_uncapped(&v, now), Some(Duration::ZERO));
    let v = HeaderValue::from_static("Monday, 01-Jun-25 00:00:30 GMT");
    assert_eq!(parse_uncapped(&v, now), Some(Duration::from_secs(30)));
    // In 2060, "05" is 2105 (45 years ahead), not 2005.
    let now = UNIX_EPOCH + Duration::from_secs(2_840_140_800);
    let v = HeaderValue::from_static("Thursday, 01-Jan-05 00:00:00 GMT");
    assert_eq!(
        parse_uncapped(&v, now),
        Some(Duration::from_secs(4_260_211_200 - 2_840_140_800))
    );
}

// ---------------------------------------------------------------------------
// Reasons

fn reason(status: u16, body: &[u8]) -> Option<String> {
    err(status, &[], body).reason()
}

#[test]
fn reason_sources() {
    #[rustfmt::skip]
    let cases: &[(&[u8], Option<&str>)] = &[
        (APPLE_403, Some("BadJwtToken")),
        (MOZILLA_400, Some("Missing TTL header")),
        (br#"{"code":404,"errno":102,"error":"Not Found"}"#, Some("Not Found")),
        (br#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND"}}"#,
            Some("Requested entity was not found.")),
        (br#"{"error":{"code":404,"status":"NOT_FOUND"}}"#, Some("NOT_FOUND")),
        (br#"{"reason":"","message":"fallback"}"#, Some("fallback")),
        (br#"{"reason":42}"#, Some(r#"{"reason":42}"#)),
        (br#""quoted""#, Some("quoted")),
        (FCM_HTML, Some("InvalidTokenFormat")),
        (b"<html><body><h1>Oops</h1><p>Try later</p></body></html>", Some("Oops Try later")),
        (b"<html><title>  </title><b>x</b></html>", Some("x")),
        (b"the key in the authorization header does not correspond to the sender used to subscribe this user\n",
            Some("the key in the authorization header does not correspond to the sender used to subscribe this user")),
        (b"", None),
        (b" \r\n\t ", None),
        (b"{}", Some("{}")),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None),
        (b"text\0with nul", None),
        (b"\xc3\x28 invalid", None),
        (b"back\\slash", Some("back\\\\slash")),
        (b"caf\xc3\xa9", Some("caf\\u{e9}")),
    ];
    for (body, want) in cases {
        assert_eq!(
            reason(400, body).as_deref(),
            *want,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn reason_escapes_control_characters() {
    let body = b"\x1b[31mEVIL\x1b[0m\r\nforged: log line\x07\x08 \xe2\x80\xae gnp.exe";
    let e = err(400, &[], body);
    let r = e.reason().unwrap();
    assert_eq!(
        r,
        "\\u{1b}[31mEVIL\\u{1b}[0m forged: log line\\u{7}\\u{8} \\u{202e} gnp.exe"
    );
    let shown = e.to_string();
    for s in [&r, &shown] {
        assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s:?}");
    }
    assert!(!shown.contains('\x1b') && !shown.contains('\n'));

    let json = br#"{"reason":"Bad\u001b[2J\u0000Jwt\nToken"}"#;
    assert_eq!(
        reason(403, json).as_deref(),
        Some("Bad\\u{1b}[2J\\u{0}Jwt Token")
    );
}

#[test]
fn reason_is_short() {
    let long = "a".repeat(1000);
    let r = reason(400, long.as_bytes()).unwrap();
    assert_eq!(r.len(), 200);
    assert!(r.ends_with("..."));
    // Escapes are never split.
    let escapes = "\u{1}".repeat(100);
    let r = reason(400, escapes.as_bytes()).unwrap();
    assert!(r.len() <= 200 && r.ends_with("\\u{1}..."), "{r}");
    let shown = err(400, &[], long.as_bytes()).to_string();
    assert!(shown.len() < 300, "{shown}");
}

#[test]
fn reason_of_truncated_body() {
    // JSON cut short: the text is shown as it is.
    let mut r = resp(400, &[], br#"{"reason":"BadJwtTok"#);
    r.body_truncated = true;
    let e = classify(r, now()).unwrap_err();
    assert_eq!(e.reason().as_deref(), Some(r#"{"reason":"BadJwtTok"#));

    // Over the limit, with a multi-byte character cut at the end.
    let mut body = "é".repeat(crate::sender::MAX_RESPONSE_BODY).into_bytes();
    body.push(b'!');
    let r = PushResponse::new(StatusCode::BAD_REQUEST, HeaderMap::new(), body);
    assert!(r.body_truncated);
    let e = classify(r, now()).unwrap_err();
    assert!(e.reason().unwrap().starts_with("\\u{e9}\\u{e9}"));

    // A head limit that cuts a character is not binary.
    let mut body = vec![b'a'; TEXT_HEAD - 1];
    body.extend_from_slice("é".as_bytes());
    assert!(reason(400, &body).is_some());
}

#[test]
fn wns_header_reason() {
    let e = err(
        406,
        &[("x-wns-error-description", b"Throttle limit exceeded\xff")],
        b"",
    );
    assert_eq!(
        e.reason().as_deref(),
        Some("Throttle limit exceeded\\u{fffd}")
    );
    assert_eq!(
        e.to_string(),
        "rate limited by the push service (406 Not Acceptable): Throttle limit exceeded\\u{fffd}"
    );
}

#[test]
fn urls_never_shown() {
    // The message's URL in Location, the endpoint echoed in the body.
    let body = format!("No such subscription: {ENDPOINT}\n(see \"{LOCATION}\")");
    for status in [301, 400, 404, 410, 429, 500] {
        let e = err(
            status,
            &[
                ("location", LOCATION.as_bytes()),
                ("content-location", LOCATION.as_bytes()),
                ("link", format!("<{ENDPOINT}>").as_bytes()),
            ],
            body.as_bytes(),
        );
        let shown = e.to_string();
        let debug = format!("{e:?}");
        for s in [&shown, &debug] {
            assert!(!s.contains("SECRET"), "{s}");
            assert!(!s.contains("push.example.net"), "{s}");
            assert!(!s.contains("://"), "{s}");
        }
        assert!(
            shown.ends_with(": No such subscription: <url> (see \"<url>\")"),
            "{shown}"
        );
        assert!(debug.contains("\"location\": <redacted>"), "{debug}");
    }
    assert_eq!(
        redact_urls("a http://x b+c-1.d://y/z'q :// e"),
        "a <url> <url>'q :// e"
    );
    assert_eq!(redact_urls("://://x"), "://://x");
    assert_eq!(redact_urls("é://x"), "é://x");
}

// ---------------------------------------------------------------------------
// Properties

/// Inverse of `days_from_civil`: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `secs` in the three formats: IMF-fixdate, RFC 850, asctime.
fn http_dates(secs: i64) -> [String; 3] {
    const SHORT: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const LONG: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = usize::try_from((days + 3).rem_euclid(7)).unwrap();
    let mon = MON[usize::try_from(m - 1).unwrap()];
    let hms = format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
    [
        format!("{}, {d:02} {mon} {y:04} {hms} GMT", SHORT[wd]),
        format!("{}, {d:02}-{mon}-{:02} {hms} GMT", LONG[wd], y % 100),
        format!("{} {mon} {d:>2} {hms} {y:04}", SHORT[wd]),
    ]
}

#[test]
fn http_date_formatter_matches_rfc_example() {
    assert_eq!(
        http_dates(i64::try_from(DATE_SECS).unwrap()),
        [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ]
    );
}

fn system_time(secs: i64) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

fn arb_now() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        (0i64..4_102_444_800).prop_map(|s| system_time(s).unwrap()),
        (any::<i64>(), 0u32..1_000_000_000).prop_map(|(s, n)| {
            system_time(s)
                .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(n))))
                .unwrap_or(UNIX_EPOCH)
        }),
    ]
}

fn arb_header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[0-9 \t]{0,30}".prop_map(String::into_bytes),
        "[A-Za-z]{3,9},? [0-9]{1,2}[ -][A-Za-z]{3}[ -][0-9]{2,4} [0-9:]{8} (GMT|[0-9]{4})?"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn parse_retry_after_is_total(raw in arb_header_bytes(), now in arb_now()) {
        if let Ok(value) = HeaderValue::from_bytes(&raw)
            && let Some(d) = parse_retry_after(&value, now)
        {
            prop_assert!(d <= MAX_RETRY_AFTER);
        }
    }

    #[test]
    fn delta_seconds_parse(n in any::<u128>(), pad in "[ \t]{0,3}") {
        let value = HeaderValue::from_str(&format!("{pad}{n}{pad}")).unwrap();
        let want = Duration::from_secs(u64::try_from(n.min(u128::from(u32::MAX))).unwrap());
        prop_assert_eq!(parse_uncapped(&value, now()), Some(want));
        prop_assert_eq!(parse_retry_after(&value, now()), Some(want.min(MAX_RETRY_AFTER)));
    }

    #[test]
    fn http_dates_round_trip(target in 0i64..253_402_300_800, offset in -1_000_000_000i64..1_000_000_000) {
        let now_secs = target - offset;
        let Some(now) = system_time(now_secs) else { return Ok(()) };
        let want = Duration::from_secs(offset.max(0).unsigned_abs()).min(UNCAPPED_MAX);
        let [imf, rfc850, asctime] = http_dates(target);
        for s in [&imf, &asctime] {
            prop_assert_eq!(parse_uncapped(&HeaderValue::from_str(s).unwrap(), now), Some(want), "{}", s);
        }
        // Two-digit years only name the right century within ±50 years.
        if offset.abs() < 49 * 365 * 86_400 && (100..9899).contains(&civil_from_days(now_secs.div_euclid(86_400)).0) {
            prop_assert_eq!(parse_uncapped(&HeaderValue::from_str(&rfc850).unwrap(), now), Some(want), "{}", rfc850);
        }
    }

    #[test]
    fn classify_is_total(
        status in 100u16..1000,
        headers in proptest::collection::vec(
            (prop_oneof![
                Just("retry-after"), Just("location"), Just("x-wns-error-description"),
                Just("content-type"), Just("link"),
            ], arb_header_bytes()),
            0..4,
        ),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            any::<String>().prop_map(String::into_bytes),
            "\\{\"(reason|message|error)\":\"[^\"]{0,300}\"\\}".prop_map(String::into_bytes),
            "<[a-zA-Z]{0,6}>[^<]{0,40}(</?[tT][iI][tT][lL][eE]>)?[^<]{0,40}".prop_map(String::into_bytes),
        ],
        truncated in any::<bool>(),
        now in arb_now(),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in &headers {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                map.append(*name, v);
            }
        }
        map.append(header::LOCATION, HeaderValue::from_static("https://loc.example/SECRETMARK"));
        let mut response = PushResponse::new(StatusCode::from_u16(status).unwrap(), map, body);
        response.body_truncated = truncated;
        match classify(response, now) {
            Ok(d) => {
                prop_assert!((200..300).contains(&status));
                let debug = format!("{d:?}");
                prop_assert!(!debug.contains("SECRETMARK"));
            }
            Err(e) => {
                prop_assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
                let shown = e.to_string();
                let debug = format!("{e:?}");
                prop_assert!(shown.chars().all(|c| (' '..='~').contains(&c)), "{:?}", shown);
                prop_assert!(!shown.contains("SECRETMARK") && !debug.contains("SECRETMARK"));
                if let Some(r) = e.reason() {
                    prop_assert!(!r.is_empty() && r.len() <= 200);
                    prop_assert!(r.chars().all(|c| (' '..='~').contains(&c)), "{:?}", r);
                }
                let _ = (e.is_retryable(), e.is_gone(), e.is_timeout(), e.retry_after());
            }
        }
    }
}
