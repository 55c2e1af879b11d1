//! Fuzzing entry points for response classification (internal feature
//! `__fuzz`; not part of the API). The targets in `fuzz/` call these.

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::header::{HeaderName, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::{MAX_REASON_CHARS, MAX_RETRY_AFTER, MAX_RETRY_AFTER_LEN, classify, parse_retry_after};
use crate::push_service::ServiceReason;
use crate::sender::{MAX_RESPONSE_BODY, PushResponse};

/// A `Location` header value that must never be printed.
const LOCATION_MARK: &str = "https://push.invalid/m/LocationCapability7f3a";

/// A push service's response, as the fuzzer makes it up.
#[derive(Debug, Arbitrary)]
pub struct Response {
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    /// Seconds from the Unix epoch (negative: before it).
    now: i64,
    with_location: bool,
}

/// Target `push_response`: any status, headers and body through
/// [`classify`] and every question a caller asks the outcome. Nothing may
/// panic; a key mismatch is a 4xx whose typed reason says so, and only
/// then; the reason is escaped printable ASCII of at most 200 characters;
/// the retry delay is at most [`MAX_RETRY_AFTER`]; and `Display` / `Debug`
/// never show the `Location` header.
///
/// # Panics
/// When a check fails.
pub fn response(input: &Response) {
    let Ok(status) = StatusCode::from_u16(input.status) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    if input.with_location {
        headers.insert(LOCATION, HeaderValue::from_static(LOCATION_MARK));
    }
    // The mark may appear in what is printed only if the fuzzer put it into
    // the body or another header itself.
    let planted = input.with_location
        && !contains(&input.body, LOCATION_MARK.as_bytes())
        && !input
            .headers
            .iter()
            .any(|(_, v)| contains(v, LOCATION_MARK.as_bytes()));
    let now = match u64::try_from(input.now) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::from_secs(secs)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(input.now.unsigned_abs())),
    }
    .unwrap_or(UNIX_EPOCH);
    let response = PushResponse::new(status, headers, input.body.clone());
    assert!(response.body.len() <= MAX_RESPONSE_BODY);

    match classify(response, now) {
        Ok(delivered) => {
            assert!(status.is_success());
            let debug = format!("{delivered:?}");
            assert!(!planted || !debug.contains(LOCATION_MARK));
        }
        Err(error) => {
            assert!(!status.is_success());
            let _ = (error.is_gone(), error.is_timeout(), error.is_retryable());
            // A service code reinterprets only 4xx statuses, and the
            // variant agrees with the typed reason.
            let typed = error.service_reason();
            assert!(typed.is_none() || error.response().is_some());
            if error.is_key_mismatch() {
                assert!(status.is_client_error());
                assert!(typed.is_some_and(ServiceReason::is_key_mismatch));
                assert!(!error.is_retryable() && !error.is_gone());
            } else if status.is_client_error() {
                assert!(!typed.is_some_and(ServiceReason::is_key_mismatch));
            }
            if error.is_caller_bug() {
                assert!(status.is_client_error() && !error.is_gone());
            }
            assert!(error.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER));
            if let Some(reason) = error.reason() {
                assert!(!reason.is_empty() && reason.len() <= MAX_REASON_CHARS);
                assert!(reason.bytes().all(|b| (b' '..=b'~').contains(&b)));
                // URLs became `<url>`: no scheme character before `://`.
                assert!(!reason.match_indices("://").any(|(at, _)| {
                    reason[..at]
                        .bytes()
                        .next_back()
                        .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                }));
            }
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!planted || !text.contains(LOCATION_MARK));
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Target `retry_after`: any header value through [`parse_retry_after`],
/// measured from two fixed times. Nothing may panic; delays are at most
/// [`MAX_RETRY_AFTER`]; delta-seconds are read exactly; values over
/// [`MAX_RETRY_AFTER_LEN`] octets are refused.
///
/// # Panics
/// When a check fails.
pub fn retry_after(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    // RFC 9110's example date, Sun, 06 Nov 1994 08:49:37 GMT, and the epoch.
    for now in [UNIX_EPOCH + Duration::from_secs(784_111_777), UNIX_EPOCH] {
        let delay = parse_retry_after(&value, now);
        assert!(delay.is_none_or(|d| d <= MAX_RETRY_AFTER));
        if data.len() > MAX_RETRY_AFTER_LEN {
            assert_eq!(delay, None);
            continue;
        }
        let trimmed = value
            .to_str()
            .map(|s| s.trim_matches([' ', '\t']))
            .unwrap_or_default();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let secs = trimmed
                .parse::<u64>()
                .map_or(MAX_RETRY_AFTER, Duration::from_secs);
            assert_eq!(delay, Some(secs.min(MAX_RETRY_AFTER)));
        }
    }
}
