//! End to end over TLS: the default sender against the local push service.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::time::Duration;

use webpush::outcome::SendError;
use webpush::policy::{EndpointPolicy, PolicyError};
use webpush::request::PushOptions;
use webpush::sender::{ReqwestSender, TransportErrorKind};
use webpush::testing::{Fault, LocalPushService};
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{Endpoint, PushClient, Subscription};

struct Fixture {
    service: LocalPushService,
    client: PushClient<ReqwestSender>,
    key: VapidKey,
    sub: Subscription,
}

async fn fixture_with(timeout: Duration) -> Fixture {
    let service = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let signer = VapidSigner::new(
        key.clone(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    );
    let sender = service.sender_builder().timeout(timeout).build().unwrap();
    let client = PushClient::with_sender(sender, signer).policy(service.policy());
    let sub = service.subscribe(&key.public_key_base64()).unwrap();
    Fixture {
        service,
        client,
        key,
        sub,
    }
}

async fn fixture() -> Fixture {
    fixture_with(Duration::from_secs(10)).await
}

#[tokio::test]
async fn payloads_of_0_1_and_3993_octets_are_delivered_and_decrypted() {
    let f = fixture().await;
    for len in [0usize, 1, 3993] {
        let payload = vec![b'a'; len];
        let delivered = f
            .client
            .send(&f.sub, &payload, &PushOptions::new().ttl(30))
            .await
            .unwrap();
        assert_eq!(delivered.status(), http::StatusCode::CREATED);
        assert!(delivered.location().is_some());
    }
    let received = f.service.received(&f.sub);
    assert_eq!(received.len(), 3);
    for (m, len) in received.iter().zip([0usize, 1, 3993]) {
        assert_eq!(m.payload, vec![b'a'; len]);
        assert_eq!(m.ttl, 30);
    }
    assert_eq!(received[2].body_len, 4096);
    // One VAPID signature served all three pushes.
    assert_eq!(f.client.signer().signatures(), 1);
}

#[tokio::test]
async fn payload_of_3994_octets_is_refused_before_any_request() {
    let f = fixture().await;
    let err = f
        .client
        .send(&f.sub, &[1; 3994], &PushOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Encryption(_)), "{err}");
    assert_eq!(f.service.request_count(), 0);
}

/// `Fault::Status` with this status and body.
fn status(status: u16, body: &str) -> Fault {
    Fault::Status {
        status,
        body: body.to_owned(),
    }
}

async fn outcome_for(fault: Fault) -> SendError {
    let f = fixture().await;
    f.service.set_fault(&f.sub, fault);
    f.client
        .send(&f.sub, b"x", &PushOptions::new())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn every_outcome_from_a_real_response() {
    let gone = outcome_for(Fault::Gone).await;
    assert!(
        gone.is_gone() && gone.status() == Some(http::StatusCode::GONE),
        "{gone}"
    );
    let not_found = outcome_for(Fault::NotFound).await;
    assert!(not_found.is_gone() && not_found.status() == Some(http::StatusCode::NOT_FOUND));

    let limited = outcome_for(Fault::RateLimited {
        retry_after: "30".into(),
    })
    .await;
    assert!(
        matches!(limited, SendError::RateLimited { .. }),
        "{limited}"
    );
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
    let date = httpdate_in(120);
    let limited = outcome_for(Fault::RateLimited { retry_after: date }).await;
    let wait = limited.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );

    let wns = outcome_for(status(406, "")).await;
    assert!(matches!(wns, SendError::RateLimited { .. }), "{wns}");

    let server = outcome_for(Fault::ServerError {
        retry_after: Some("5".into()),
    })
    .await;
    assert!(matches!(server, SendError::ServerError { .. }), "{server}");
    assert_eq!(server.retry_after(), Some(Duration::from_secs(5)));

    let big = outcome_for(status(413, "")).await;
    assert!(matches!(big, SendError::PayloadTooLarge { .. }), "{big}");

    let bad = outcome_for(status(
        400,
        r#"{"code":400,"errno":110,"error":"Bad Request","message":"Missing TTL"}"#,
    ))
    .await;
    assert!(matches!(bad, SendError::BadRequest { .. }), "{bad}");
    assert!(
        bad.reason().unwrap().contains("Missing TTL"),
        "{:?}",
        bad.reason()
    );

    let apple = outcome_for(status(403, r#"{"reason":"BadJwtToken"}"#)).await;
    assert!(matches!(apple, SendError::VapidRejected { .. }), "{apple}");
    assert_eq!(apple.reason().as_deref(), Some("BadJwtToken"));
}

fn httpdate_in(secs: u64) -> String {
    // IMF-fixdate, computed by hand to keep the test free of date crates.
    let t = std::time::SystemTime::now() + Duration::from_secs(secs);
    let s = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = (s / 86_400, s % 86_400);
    let (h, m, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {d:02} {name} {year} {h:02}:{m:02}:{sec:02} GMT")
}

#[tokio::test]
async fn vapid_rejection_invalidates_the_cached_token() {
    let f = fixture().await;
    f.client
        .send(&f.sub, b"1", &PushOptions::new())
        .await
        .unwrap();
    assert_eq!(f.client.signer().signatures(), 1);
    f.service.set_fault(&f.sub, status(401, ""));
    let err = f
        .client
        .send(&f.sub, b"2", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::VapidRejected { .. }), "{err}");
    f.service.clear_fault(&f.sub);
    f.client
        .send(&f.sub, b"3", &PushOptions::new())
        .await
        .unwrap();
    assert_eq!(
        f.client.signer().signatures(),
        2,
        "a fresh token after the 401"
    );
}

#[tokio::test]
async fn a_subscription_bound_to_another_vapid_key_is_rejected_by_the_service() {
    let f = fixture().await;
    let other = VapidKey::generate().unwrap();
    let sub = f.service.subscribe(&other.public_key_base64()).unwrap();
    let err = f
        .client
        .send(&sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::VapidRejected { .. }), "{err}");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    let _ = f.key;
}

#[tokio::test]
async fn timeouts_and_dropped_connections_are_transport_errors() {
    let f = fixture_with(Duration::from_millis(300)).await;
    f.service
        .set_fault(&f.sub, Fault::Delay(Duration::from_secs(5)));
    let err = f
        .client
        .send(&f.sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    f.service.set_fault(&f.sub, Fault::DropConnection);
    let err = f
        .client
        .send(&f.sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Transport(_)) && !err.is_timeout(),
        "{err}"
    );
}

#[tokio::test]
async fn response_bodies_are_capped() {
    let f = fixture().await;
    f.service.set_fault(
        &f.sub,
        Fault::OversizedBody {
            status: 400,
            len: 1 << 20,
        },
    );
    let err = f
        .client
        .send(&f.sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    let response = err.response().unwrap();
    assert_eq!(response.body.len(), webpush::sender::MAX_RESPONSE_BODY);
    assert!(response.body_truncated);
}

#[tokio::test]
async fn errors_never_show_the_endpoint() {
    let f = fixture().await;
    let path = f.sub.endpoint().uri().path().to_owned();
    for fault in [Fault::Gone, Fault::DropConnection, status(400, &path)] {
        f.service.set_fault(&f.sub, fault);
        let err = f
            .client
            .send(&f.sub, b"secret payload", &PushOptions::new())
            .await
            .unwrap_err();
        let shown = format!("{err}");
        let id = path.rsplit('/').next().unwrap();
        assert!(!shown.contains("secret payload"), "{shown}");
        if !matches!(err, SendError::BadRequest { .. }) {
            assert!(!shown.contains(id), "{shown}");
        }
    }
}

#[tokio::test]
async fn default_policy_refuses_http_loopback_and_names_resolving_to_loopback() {
    let f = fixture().await;
    let strict = PushClient::with_policy(
        VapidSigner::new(
            f.key.clone(),
            Subject::parse("mailto:ops@example.com").unwrap(),
        ),
        EndpointPolicy::new(),
    )
    .unwrap();
    let with_endpoint = |url: &str| {
        Subscription::new(
            Endpoint::parse(url).unwrap(),
            f.sub.p256dh().clone(),
            f.sub.auth().clone(),
        )
    };
    let port = f.service.origin().rsplit(':').next().unwrap().to_owned();
    let cases = [
        (
            "http://push.example/x".to_owned(),
            Some(PolicyError::HttpNotAllowed),
        ),
        (
            format!("https://127.0.0.1:{port}/push/x"),
            Some(PolicyError::IpLiteral),
        ),
        (
            "https://10.0.0.8/push/x".to_owned(),
            Some(PolicyError::IpLiteral),
        ),
        // A name that resolves to 127.0.0.1: refused at connect time.
        (format!("https://localhost:{port}/push/x"), None),
    ];
    for (url, want) in cases {
        let err = strict
            .send(&with_endpoint(&url), b"x", &PushOptions::new())
            .await
            .unwrap_err();
        match (want, &err) {
            (Some(want), SendError::Policy(got)) => assert_eq!(*got, want, "{url}"),
            (None, SendError::Transport(t)) => {
                assert_eq!(t.kind(), TransportErrorKind::Policy, "{url}")
            }
            _ => panic!("{url}: {err}"),
        }
    }
    assert_eq!(f.service.request_count(), 0, "nothing reached the service");
}

/// The legacy `aesgcm` coding through `PushClient`, end to end: the service
/// checks the `Encryption`/`Crypto-Key` headers and the `WebPush` VAPID
/// scheme, then decrypts with the subscription's keys.
#[cfg(feature = "aesgcm")]
mod aesgcm {
    use super::*;
    use webpush::Padding;
    use webpush::request::ContentEncoding;

    fn legacy() -> PushOptions {
        PushOptions::new()
            .ttl(30)
            .content_encoding(ContentEncoding::Aesgcm)
    }

    #[tokio::test]
    async fn payloads_of_0_1_and_4078_octets_are_delivered_and_decrypted() {
        let f = fixture().await;
        for len in [0usize, 1, 4078] {
            let delivered = f
                .client
                .send(&f.sub, &vec![b'l'; len], &legacy())
                .await
                .unwrap();
            assert_eq!(delivered.status(), http::StatusCode::CREATED);
        }
        let received = f.service.received(&f.sub);
        assert_eq!(received.len(), 3);
        for (m, len) in received.iter().zip([0usize, 1, 4078]) {
            assert_eq!(m.payload, vec![b'l'; len]);
            assert_eq!(m.ttl, 30);
        }
        // A tickle push has no body and no coding.
        assert_eq!(received[0].encoding, None);
        assert_eq!(received[0].body_len, 0);
        assert_eq!(received[1].encoding, Some(ContentEncoding::Aesgcm));
        assert_eq!(received[1].content_encoding.as_deref(), Some("aesgcm"));
        assert_eq!(received[2].body_len, 4096);
        // The legacy scheme reuses the cached token: one signature for all.
        assert_eq!(f.client.signer().signatures(), 1);
    }

    #[tokio::test]
    async fn padded_legacy_and_modern_messages_to_one_subscription() {
        let f = fixture().await;
        let padded = legacy().padding(Padding::FixedSize(1000));
        f.client.send(&f.sub, b"legacy", &padded).await.unwrap();
        f.client
            .send(&f.sub, b"modern", &PushOptions::new())
            .await
            .unwrap();
        let received = f.service.received(&f.sub);
        assert_eq!(received[0].payload, b"legacy");
        assert_eq!(received[0].body_len, 1000 + 18);
        assert_eq!(received[0].encoding, Some(ContentEncoding::Aesgcm));
        assert_eq!(received[1].payload, b"modern");
        assert_eq!(received[1].encoding, Some(ContentEncoding::Aes128Gcm));
    }

    #[tokio::test]
    async fn payload_of_4079_octets_is_refused_before_any_request() {
        let f = fixture().await;
        let err = f
            .client
            .send(&f.sub, &[1; 4079], &legacy())
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Encryption(_)), "{err}");
        assert_eq!(f.service.request_count(), 0);
    }

    /// Sends a legacy request after `edit` changed its headers.
    async fn refused_after(edit: impl FnOnce(&mut http::HeaderMap)) -> SendError {
        let f = fixture().await;
        let mut request = f.client.prepare(&f.sub, b"tamper", &legacy()).unwrap();
        edit(request.headers_mut());
        let err = f.client.send_request(request).await.unwrap_err();
        assert!(f.service.received(&f.sub).is_empty());
        err
    }

    fn set(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
        headers.insert(name, http::HeaderValue::from_str(value).unwrap());
    }

    #[tokio::test]
    async fn the_service_refuses_broken_legacy_requests() {
        // Another salt: the body no longer decrypts.
        let salt = refused_after(|h| set(h, "encryption", "salt=AAAAAAAAAAAAAAAAAAAAAA")).await;
        assert_eq!(salt.status(), Some(http::StatusCode::BAD_REQUEST), "{salt}");
        assert_eq!(salt.reason().as_deref(), Some("DecryptionFailed"));
        // No Encryption header, or one without a salt.
        let missing = refused_after(|h| {
            h.remove("encryption");
        })
        .await;
        assert_eq!(missing.reason().as_deref(), Some("InvalidEncryptionHeader"));
        let no_salt = refused_after(|h| set(h, "encryption", "rs=4096")).await;
        assert_eq!(no_salt.reason().as_deref(), Some("InvalidEncryptionHeader"));
        // A dh that is not a point.
        let bad_dh = refused_after(|h| set(h, "crypto-key", "dh=AAAA;p256ecdsa=AAAA")).await;
        assert_eq!(bad_dh.reason().as_deref(), Some("InvalidCryptoKeyHeader"));
        // The VAPID key dropped from Crypto-Key: WebPush cannot be checked.
        let no_key = refused_after(|h| {
            let dh = h["crypto-key"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            set(h, "crypto-key", &dh);
        })
        .await;
        assert!(
            matches!(no_key, SendError::VapidRejected { .. }),
            "{no_key}"
        );
        // Another VAPID key in Crypto-Key: the signature does not verify.
        let other = VapidKey::generate().unwrap().public_key_base64();
        let wrong_key = refused_after(|h| {
            let dh = h["crypto-key"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            set(h, "crypto-key", &format!("{dh};p256ecdsa={other}"));
        })
        .await;
        assert!(
            matches!(wrong_key, SendError::VapidRejected { .. }),
            "{wrong_key}"
        );
        // Labelled aes128gcm: the body is not an aes128gcm body.
        let relabelled = refused_after(|h| set(h, "content-encoding", "aes128gcm")).await;
        assert_eq!(
            relabelled.reason().as_deref(),
            Some("DecryptionFailed"),
            "{relabelled}"
        );
    }
}

#[tokio::test]
async fn cancel_deletes_the_message_resource_once() {
    use webpush::client::CancelOutcome;
    let f = fixture().await;
    let delivered = f
        .client
        .send(&f.sub, b"withdraw me", &PushOptions::new().ttl(600))
        .await
        .unwrap();
    assert_eq!(
        delivered.endpoint_origin(),
        Some(f.service.origin().as_str())
    );
    let before = f.service.request_count();
    assert_eq!(
        f.client.cancel(&delivered).await.unwrap(),
        CancelOutcome::Cancelled
    );
    // Deleted already: the service answers 404.
    assert_eq!(
        f.client.cancel(&delivered).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert_eq!(f.service.request_count(), before + 2);
}

/// A sender that forwards to the real one and replaces the `Location` of
/// every answer, counting the requests it forwards.
struct HostileLocation {
    inner: ReqwestSender,
    location: &'static str,
    sent: std::sync::atomic::AtomicUsize,
}

impl webpush::sender::Sender for HostileLocation {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> webpush::sender::BoxFuture<
        '_,
        Result<webpush::sender::PushResponse, webpush::sender::TransportError>,
    > {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            let mut response = self.inner.send(request).await?;
            response.headers.insert(
                http::header::LOCATION,
                http::HeaderValue::from_static(self.location),
            );
            Ok(response)
        })
    }
}

#[tokio::test]
async fn cancel_refuses_hostile_locations_before_connecting() {
    use webpush::client::CancelError;
    let service = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let sub = service.subscribe(&key.public_key_base64()).unwrap();
    let port = service.local_addr().port();
    let other_port: &'static str =
        Box::leak(format!("https://127.0.0.1:{}/message/x", port.wrapping_add(1)).into_boxed_str());
    let userinfo: &'static str =
        Box::leak(format!("https://u:p@127.0.0.1:{port}/message/x").into_boxed_str());
    let http: &'static str =
        Box::leak(format!("http://127.0.0.1:{port}/message/x").into_boxed_str());
    let long: &'static str = Box::leak(
        format!("https://127.0.0.1:{port}/message/{}", "a".repeat(5000)).into_boxed_str(),
    );
    for (i, location) in [
        "https://evil.example/message/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/message/x",
        other_port,
        userinfo,
        http,
        long,
        "javascript:alert(1)",
    ]
    .into_iter()
    .enumerate()
    {
        let signer = VapidSigner::new(
            key.clone(),
            Subject::parse("mailto:ops@example.com").unwrap(),
        );
        let sender = HostileLocation {
            inner: service.sender_builder().build().unwrap(),
            location,
            sent: std::sync::atomic::AtomicUsize::new(0),
        };
        let client = PushClient::with_sender(sender, signer).policy(service.policy());
        let delivered = client
            .send(&sub, b"x", &PushOptions::new().ttl(60))
            .await
            .unwrap();
        let before = service.request_count();
        let err = client.cancel(&delivered).await.unwrap_err();
        assert!(
            matches!(
                err,
                CancelError::LocationRefused(_) | CancelError::Policy(_)
            ),
            "case {i}: {err:?}"
        );
        assert!(!err.to_string().contains("evil"), "case {i}: {err}");
        assert_eq!(service.request_count(), before, "case {i}: nothing sent");
        assert_eq!(
            client
                .sender()
                .sent
                .load(std::sync::atomic::Ordering::SeqCst),
            1,
            "case {i}: only the push went through the sender"
        );
    }
}

#[tokio::test]
async fn service_codes_over_tls_key_mismatch_and_caller_bug() {
    let f = fixture().await;
    f.service
        .set_fault(&f.sub, status(400, r#"{"reason":"VapidPkHashMismatch"}"#));
    let err = f
        .client
        .send(&f.sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_key_mismatch(), "{err:?}");
    assert!(!err.is_retryable() && !err.is_gone());
    assert!(err.to_string().contains("resubscribe"), "{err}");
    f.service.set_fault(
        &f.sub,
        status(
            400,
            r#"{"code":400,"errno":113,"error":"Bad Request","message":"topic: Topic must be no greater than 32 characters","more_info":"http://autopush.readthedocs.io/en/latest/http.html#error-codes"}"#,
        ),
    );
    let err = f
        .client
        .send(&f.sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::BadRequest { .. }) && err.is_caller_bug(),
        "{err:?}"
    );
    assert_eq!(
        err.service_reason(),
        Some(webpush::push_service::ServiceReason::Autopush(
            webpush::push_service::AutopushErrno::INVALID_TOPIC
        ))
    );
}
