//! The outcome → action table of issue 12, one case per line.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;
use crate::outcome::classify;
use crate::sender::{PushResponse, TransportError, TransportErrorKind};

const EP: &str = "https://push.example.net/p/token";

fn status(code: u16, retry_after: Option<&str>) -> Result<Delivered, SendError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = retry_after {
        headers.insert("retry-after", HeaderValue::from_str(v).unwrap());
    }
    let response = PushResponse::new(StatusCode::from_u16(code).unwrap(), headers, Vec::new());
    classify(response, SystemTime::now())
}

fn transport(kind: TransportErrorKind) -> Result<Delivered, SendError> {
    Err(SendError::Transport(TransportError::new(kind, None)))
}

/// What a case expects, without the event's exact reason text.
#[derive(Debug, PartialEq)]
enum Want {
    Ack,
    Gone,
    /// A retry no earlier than this, no later than the second.
    Retry(Duration, Duration, RetryReason),
    Failed,
    Dead,
}

fn shape(action: &Action) -> (Want, Option<&FeedbackEvent>) {
    match action {
        Action::Ack => (Want::Ack, None),
        Action::AckAfterEvent(e) => (Want::Gone, Some(e)),
        Action::Retry { delay, reason } => (Want::Retry(*delay, *delay, *reason), None),
        Action::Terminate(e) => (Want::Failed, Some(e)),
        Action::DeadLetter(e) => (Want::Dead, Some(e)),
    }
}

#[test]
fn outcome_to_action_table() {
    use RetryReason::*;
    use TransportErrorKind as T;
    let s = Duration::from_secs;
    let p = ActionPolicy::default(); // max_deliver 5, 1 s .. 300 s, VAPID 300 s
    #[rustfmt::skip]
    let cases: Vec<(&str, Result<Delivered, SendError>, u32, Want)> = vec![
        ("201",                   status(201, None), 1, Want::Ack),
        ("202 at last delivery",  status(202, None), 5, Want::Ack),
        ("410",                   status(410, None), 1, Want::Gone),
        ("404",                   status(404, None), 3, Want::Gone),
        ("410 at last delivery",  status(410, None), 5, Want::Gone),
        ("429 + Retry-After 30",  status(429, Some("30")), 1, Want::Retry(s(30), s(31), Transient)),
        ("429, no Retry-After",   status(429, None), 1, Want::Retry(Duration::from_millis(500), s(1), Transient)),
        ("503 + Retry-After 120", status(503, Some("120")), 2, Want::Retry(s(120), s(121), Transient)),
        ("500, delivery 3",       status(500, None), 3, Want::Retry(s(2), s(4), Transient)),
        ("500, delivery 4",       status(500, None), 4, Want::Retry(s(4), s(8), Transient)),
        ("500 at last delivery",  status(500, None), 5, Want::Dead),
        ("429 at last delivery",  status(429, Some("5")), 5, Want::Dead),
        ("408",                   status(408, None), 1, Want::Retry(Duration::from_millis(500), s(1), Transient)),
        ("timeout",               transport(T::Timeout), 1, Want::Retry(Duration::from_millis(500), s(1), Transient)),
        ("connection refused",    transport(T::Connect), 2, Want::Retry(s(1), s(2), Transient)),
        ("TLS failure",           transport(T::Tls), 1, Want::Failed),
        ("401",                   status(401, None), 1, Want::Retry(s(150), s(300), VapidRejected)),
        ("403",                   status(403, None), 4, Want::Retry(s(150), s(300), VapidRejected)),
        ("403 at last delivery",  status(403, None), 5, Want::Dead),
        ("400",                   status(400, None), 1, Want::Failed),
        ("413",                   status(413, None), 1, Want::Failed),
        ("405",                   status(405, None), 1, Want::Failed),
        ("301",                   status(301, None), 1, Want::Failed),
        ("cancelled",             Err(SendError::Cancelled), 1, Want::Retry(Duration::ZERO, Duration::ZERO, NotStarted)),
        ("cancelled at last",     Err(SendError::Cancelled), 5, Want::Dead),
        ("batch panic",           Err(SendError::InvalidMessage("internal error: the push task panicked")), 1, Want::Retry(Duration::from_millis(500), s(1), Transient)),
        ("invalid message",       Err(SendError::InvalidMessage("TTL out of range")), 1, Want::Failed),
    ];
    for (i, (name, result, delivered, want)) in cases.iter().enumerate() {
        for random in [0, 1, u64::MAX / 3, u64::MAX] {
            let action = decide("job-7", EP, result, *delivered, &p, random);
            let (got, event) = shape(&action);
            match (want, &got) {
                (Want::Retry(lo, hi, reason), Want::Retry(d, _, r)) => assert!(
                    d >= lo && d <= hi && r == reason,
                    "case {i} ({name}), random {random}: {action:?}, want {want:?}"
                ),
                _ => assert_eq!(&got, want, "case {i} ({name}): {action:?}"),
            }
            if let Some(e) = event {
                assert_eq!(e.job_id, "job-7", "case {i} ({name})");
                assert_eq!(e.endpoint.as_deref(), Some(EP), "case {i} ({name})");
                assert_eq!(e.attempts, *delivered, "case {i} ({name})");
                assert_eq!(
                    e.status,
                    result
                        .as_ref()
                        .err()
                        .and_then(|e| e.status())
                        .map(|s| s.as_u16())
                );
                assert!(
                    !e.reason.is_empty() && !e.reason.contains(EP),
                    "case {i} ({name})"
                );
            }
        }
    }
}

#[test]
fn dead_letter_says_how_many_deliveries() {
    let p = ActionPolicy::default();
    let Action::DeadLetter(e) = decide("j", EP, &status(500, None), 5, &p, 0) else {
        panic!("not a dead letter");
    };
    assert_eq!(
        (e.kind, e.attempts, e.status),
        (EventKind::Dead, 5, Some(500))
    );
    assert!(e.reason.contains("5 deliveries"), "{}", e.reason);
}

#[test]
fn huge_retry_after_is_capped() {
    let p = ActionPolicy::default();
    let action = decide("j", EP, &status(429, Some("999999999")), 1, &p, 0);
    // `Retry-After` is read capped at `outcome::MAX_RETRY_AFTER` (a day);
    // the nak waits that (plus jitter), never more than `MAX_NAK_DELAY`.
    let Action::Retry { delay, reason } = action else {
        panic!("not a retry: {action:?}");
    };
    assert_eq!(reason, RetryReason::Transient);
    assert!(
        delay >= crate::outcome::MAX_RETRY_AFTER && delay <= MAX_NAK_DELAY,
        "{delay:?}"
    );
}

#[test]
fn bad_job_is_a_failed_event_without_endpoint() {
    let Action::Terminate(e) = bad_job("seq:4", &JobError::TooLong { len: 1 << 20 }, 1) else {
        panic!("not terminate");
    };
    assert_eq!(
        (e.kind, e.endpoint, e.attempts),
        (EventKind::Failed, None, 1)
    );
    assert!(e.reason.contains("1048576"), "{}", e.reason);
}

#[test]
fn key_mismatch_asks_for_a_resubscribe_and_is_not_retried() {
    let p = ActionPolicy::default();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let response = PushResponse::new(
        StatusCode::FORBIDDEN,
        headers,
        br#"{"reason":"VapidPkHashMismatch"}"#.to_vec(),
    );
    let result = classify(response, SystemTime::now());
    assert!(
        matches!(result, Err(SendError::KeyMismatch { .. })),
        "{result:?}"
    );
    for delivered in [1, 5] {
        let Action::Terminate(e) = decide("j", EP, &result, delivered, &p, 0) else {
            panic!("not terminated at delivery {delivered}");
        };
        assert_eq!((e.kind, e.status), (EventKind::Resubscribe, Some(403)));
        assert_eq!(e.message_id(), "resubscribe:j");
    }
}
