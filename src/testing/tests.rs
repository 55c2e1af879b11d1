use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};

use p256::ecdsa::Signature;
use p256::ecdsa::signature::Signer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use super::*;
use crate::b64;
use crate::message::{self, AuthSecret, MAX_BODY_LEN, Padding, UaKeyPair};
use crate::vapid::token::{self, Subject};
use crate::vapid::{Audience, VapidKey, VapidSigner};

const H2: &[&[u8]] = &[b"h2"];
const H1: &[&[u8]] = &[b"http/1.1"];

fn tls_config(svc: &LocalPushService, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            svc.root_certificate_der(),
        ))
        .unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    cfg
}

fn client_with(svc: &LocalPushService, alpn: &[&[u8]], timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(svc, alpn))
        .timeout(timeout)
        .build()
        .unwrap()
}

struct Fixture {
    svc: LocalPushService,
    key: VapidKey,
    sub: Subscription,
    client: reqwest::Client,
}

async fn fixture() -> Fixture {
    let svc = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let sub = svc.subscribe(&key.public_key_base64()).unwrap();
    let client = client_with(&svc, H2, Duration::from_secs(10));
    Fixture {
        svc,
        key,
        sub,
        client,
    }
}

/// A push request, valid unless changed.
struct Push {
    method: reqwest::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Push {
    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    fn with(self, name: &'static str, value: &str) -> Self {
        let mut p = self.without(name);
        p.headers.push((name, value.to_owned()));
        p
    }

    fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    async fn send(self, client: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
        let mut req = client.request(self.method, &self.url).body(self.body);
        for (name, value) in self.headers {
            req = req.header(name, value);
        }
        req.send().await
    }
}

impl Fixture {
    fn authorization(&self, key: &VapidKey, aud: &str) -> String {
        VapidSigner::new(
            key.clone(),
            Subject::parse("mailto:ops@example.com").unwrap(),
        )
        .header_for(&Audience::parse(aud).unwrap())
        .unwrap()
        .authorization()
        .to_owned()
    }

    fn push(&self, plaintext: &[u8]) -> Push {
        let body =
            message::encrypt(self.sub.p256dh(), self.sub.auth(), plaintext, Padding::None).unwrap();
        Push {
            method: reqwest::Method::POST,
            url: self.sub.endpoint().uri().to_string(),
            headers: vec![
                ("ttl", "60".to_owned()),
                ("content-encoding", "aes128gcm".to_owned()),
                (
                    "authorization",
                    self.authorization(&self.key, &self.svc.origin()),
                ),
            ],
            body,
        }
    }

    async fn send(&self, push: Push) -> reqwest::Response {
        push.send(&self.client).await.unwrap()
    }
}

/// Status and `reason` of a refusal.
async fn refusal(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        "application/json",
        "status {status}"
    );
    let json: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    (status, json["reason"].as_str().unwrap().to_owned())
}

/// A JWT with these claims, signed by `key`.
fn jwt(key: &VapidKey, claims: &serde_json::Value) -> String {
    let mut t = b64::encode(token::JWT_HEADER.as_bytes());
    t.push('.');
    t.push_str(&b64::encode(claims.to_string().as_bytes()));
    let sig: Signature = key.signing_key().sign(t.as_bytes());
    t.push('.');
    t.push_str(&b64::encode(&sig.to_bytes()));
    t
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn starts_and_subscribes() {
    let fx = fixture().await;
    let origin = fx.svc.origin();
    assert_eq!(
        origin,
        format!("https://127.0.0.1:{}", fx.svc.local_addr().port())
    );
    assert_eq!(fx.sub.endpoint().origin(), origin);
    let path = fx.sub.endpoint().uri().path().to_owned();
    assert!(path.starts_with("/push/") && path.len() > "/push/".len() + 16);
    // Round-trips through the browser's JSON.
    assert_eq!(Subscription::from_json(&fx.sub.to_json()).unwrap(), fx.sub);
    // Two subscriptions never share an endpoint.
    let other = fx.svc.subscribe(&fx.key.public_key_base64()).unwrap();
    assert_ne!(other.endpoint(), fx.sub.endpoint());

    let pem = fx.svc.root_certificate_pem();
    let b64_body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        b64::decode_vec(&b64_body).unwrap(),
        fx.svc.root_certificate_der()
    );

    assert!(matches!(
        fx.svc.subscribe("not a key"),
        Err(TestingError::VapidKey(_))
    ));
    assert!(format!("{:?}", fx.svc).contains(&origin));
    assert_eq!(fx.svc.request_count(), 0);
}

async fn valid_push_over(alpn: &[&[u8]], version: reqwest::Version) {
    let fx = fixture().await;
    let client = client_with(&fx.svc, alpn, Duration::from_secs(10));
    let push = fx
        .push(b"hello world")
        .with("urgency", "high")
        .with("topic", "news_1");
    let body_len = push.body.len();
    let resp = push.send(&client).await.unwrap();
    assert_eq!(resp.version(), version);
    assert_eq!(resp.status(), 201);
    let location = resp.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{}/message/", fx.svc.origin())),
        "{location}"
    );
    assert_eq!(resp.headers()["ttl"], "60");

    let received = fx.svc.received(&fx.sub);
    assert_eq!(received.len(), 1);
    let msg = &received[0];
    assert_eq!(msg.payload, b"hello world");
    assert_eq!(msg.ttl, 60);
    assert_eq!(msg.urgency.as_deref(), Some("high"));
    assert_eq!(msg.topic.as_deref(), Some("news_1"));
    assert_eq!(msg.content_encoding.as_deref(), Some("aes128gcm"));
    assert_eq!(msg.body_len, body_len);
    // The payload's length, never its octets (b"hello world" would print as
    // "[104, 101, 108, ..."; a bare "104" can be part of the timestamp).
    let debug = format!("{msg:?}");
    assert!(
        debug.contains("payload_len: 11") && !debug.contains("104, 101, 108"),
        "{debug}"
    );
}

#[tokio::test]
async fn valid_push_is_received_over_h2() {
    valid_push_over(H2, reqwest::Version::HTTP_2).await;
}

#[tokio::test]
async fn valid_push_is_received_over_http1() {
    valid_push_over(H1, reqwest::Version::HTTP_11).await;
}

#[tokio::test]
async fn messages_are_kept_in_order_per_subscription() {
    let fx = fixture().await;
    let other = fx.svc.subscribe(&fx.key.public_key_base64()).unwrap();
    for i in 0..3u8 {
        let resp = fx.send(fx.push(&[i])).await;
        assert_eq!(resp.status(), 201);
    }
    let payloads: Vec<_> = fx
        .svc
        .received(&fx.sub)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, [vec![0], vec![1], vec![2]]);
    assert!(fx.svc.received(&other).is_empty());
}

#[tokio::test]
async fn take_received_drains_what_was_delivered() {
    let fx = fixture().await;
    for i in 0..3u8 {
        assert_eq!(fx.send(fx.push(&[i])).await.status(), 201);
    }
    let taken: Vec<_> = fx
        .svc
        .take_received(&fx.sub)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(taken, [vec![0], vec![1], vec![2]]);
    assert!(fx.svc.received(&fx.sub).is_empty());
    assert!(fx.svc.take_received(&fx.sub).is_empty());
    assert_eq!(fx.send(fx.push(b"next")).await.status(), 201);
    let taken = fx.svc.take_received(&fx.sub);
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].payload, b"next");
    // Another service's subscription: nothing, and nothing taken here.
    let other = LocalPushService::start().await.unwrap();
    let foreign = other.subscribe(&fx.key.public_key_base64()).unwrap();
    assert!(fx.svc.take_received(&foreign).is_empty());
}

#[tokio::test]
async fn first_attempt_fault_fails_each_message_once() {
    let fx = fixture().await;
    fx.svc.set_fault(
        &fx.sub,
        Fault::FirstAttempt(Box::new(Fault::RateLimited {
            retry_after: "7".to_owned(),
        })),
    );
    let first = fx.push(b"one");
    let body = first.body.clone();
    let resp = fx.send(first).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()[RETRY_AFTER], "7");
    assert!(fx.svc.received(&fx.sub).is_empty());
    // The same message again, as a retry sends it: handled normally, and
    // so is any later copy.
    for _ in 0..2 {
        assert_eq!(fx.send(fx.push(b"").body(body.clone())).await.status(), 201);
    }
    // A new message meets the fault again.
    assert_eq!(fx.send(fx.push(b"two")).await.status(), 429);
    let payloads: Vec<_> = fx
        .svc
        .take_received(&fx.sub)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, [b"one".to_vec(), b"one".to_vec()]);

    // Nested: the innermost fault applies, once.
    fx.svc.set_fault(
        &fx.sub,
        Fault::FirstAttempt(Box::new(Fault::FirstAttempt(Box::new(Fault::Gone)))),
    );
    let push = fx.push(b"three");
    let body = push.body.clone();
    assert_eq!(
        refusal(fx.send(push).await).await,
        (410, "Unregistered".to_owned())
    );
    assert_eq!(fx.send(fx.push(b"").body(body)).await.status(), 201);

    // The checks after the fault still apply to the retry.
    fx.svc
        .set_fault(&fx.sub, Fault::FirstAttempt(Box::new(Fault::Gone)));
    let push = fx.push(b"four").without("ttl");
    let body = push.body.clone();
    assert_eq!(fx.send(push).await.status(), 410);
    let retry = fx.push(b"").body(body).without("ttl");
    assert_eq!(
        refusal(fx.send(retry).await).await,
        (400, "InvalidTTL".to_owned())
    );
    // A body over the limit is refused before the fault.
    let big = fx.push(b"x").body(vec![0; MAX_BODY_LEN + 1]);
    assert_eq!(
        refusal(fx.send(big).await).await,
        (413, "PayloadTooLarge".to_owned())
    );
    assert_eq!(fx.svc.received(&fx.sub).len(), 1);
}

#[tokio::test]
async fn first_attempt_fault_with_delay_and_dropped_connection() {
    let fx = fixture().await;
    let impatient = client_with(&fx.svc, H2, Duration::from_millis(200));
    fx.svc.set_fault(
        &fx.sub,
        Fault::FirstAttempt(Box::new(Fault::Delay(Duration::from_secs(2)))),
    );
    let push = fx.push(b"slow");
    let body = push.body.clone();
    let err = push.send(&impatient).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let resp = fx.push(b"").body(body).send(&impatient).await.unwrap();
    assert_eq!(resp.status(), 201);

    fx.svc.set_fault(
        &fx.sub,
        Fault::FirstAttempt(Box::new(Fault::DropConnection)),
    );
    let push = fx.push(b"dropped");
    let body = push.body.clone();
    let err = push.send(&fx.client).await.unwrap_err();
    assert!(err.is_request() && !err.is_timeout(), "{err:?}");
    assert_eq!(fx.send(fx.push(b"").body(body)).await.status(), 201);

    // The timed-out first attempt was abandoned with its stream, never
    // recorded, even once its delay has passed.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let payloads: Vec<_> = fx
        .svc
        .received(&fx.sub)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(payloads, [b"slow".to_vec(), b"dropped".to_vec()]);
}

#[tokio::test]
async fn tickle_push_needs_no_encryption_headers() {
    let fx = fixture().await;
    let push = fx.push(b"").body(Vec::new()).without("content-encoding");
    let resp = fx.send(push).await;
    assert_eq!(resp.status(), 201);
    let received = fx.svc.received(&fx.sub);
    assert_eq!(received.len(), 1);
    assert!(received[0].payload.is_empty());
    assert_eq!(received[0].body_len, 0);
    assert_eq!(received[0].content_encoding, None);
}

#[tokio::test]
async fn ttl_urgency_and_topic_are_checked() {
    let fx = fixture().await;
    let cases = [
        (fx.push(b"x").without("ttl"), "InvalidTTL"),
        (fx.push(b"x").with("ttl", "-1"), "InvalidTTL"),
        (fx.push(b"x").with("ttl", "1.5"), "InvalidTTL"),
        (fx.push(b"x").with("ttl", "ten"), "InvalidTTL"),
        (fx.push(b"x").with("ttl", ""), "InvalidTTL"),
        (fx.push(b"x").with("urgency", "urgent"), "InvalidUrgency"),
        (fx.push(b"x").with("topic", &"a".repeat(33)), "InvalidTopic"),
        (fx.push(b"x").with("topic", "a b"), "InvalidTopic"),
    ];
    for (push, reason) in cases {
        assert_eq!(refusal(fx.send(push).await).await, (400, reason.to_owned()));
    }
    // Zero and huge TTLs are fine (the latter clamps).
    assert_eq!(fx.send(fx.push(b"x").with("ttl", "0")).await.status(), 201);
    let huge = fx.push(b"x").with("ttl", "99999999999999999999999");
    assert_eq!(fx.send(huge).await.status(), 201);
    let ttls: Vec<_> = fx.svc.received(&fx.sub).iter().map(|m| m.ttl).collect();
    assert_eq!(ttls, [0, u32::MAX]);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let fx = fixture().await;
    let big = fx.push(b"x").body(vec![0; MAX_BODY_LEN + 1]);
    assert_eq!(
        refusal(fx.send(big).await).await,
        (413, "PayloadTooLarge".to_owned())
    );
    // Exactly 4096 octets passes the size check (and the largest plaintext
    // encrypts to exactly that).
    let full = fx.push(&vec![7; message::MAX_PLAINTEXT_LEN]);
    assert_eq!(full.body.len(), MAX_BODY_LEN);
    assert_eq!(fx.send(full).await.status(), 201);
}

/// Sends raw octets over TLS (HTTP/1.1) and returns what comes back.
async fn raw_http1(svc: &LocalPushService, request: &[u8]) -> String {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(svc, H1)));
    let tcp = TcpStream::connect(svc.local_addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(request).await.unwrap();
    let mut out = Vec::new();
    // The server may close without close_notify; keep what was read.
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn chunked_body_is_counted_while_read() {
    let fx = fixture().await;
    let path = fx.sub.endpoint().uri().path().to_owned();
    let auth = fx.authorization(&fx.key, &fx.svc.origin());
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nttl: 60\r\ncontent-encoding: aes128gcm\r\n\
         authorization: {auth}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..5 {
        req.extend_from_slice(b"400\r\n");
        req.extend_from_slice(&[0u8; 0x400]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let resp = raw_http1(&fx.svc, &req).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("PayloadTooLarge"), "{resp}");

    // A declared length over the limit is refused before reading.
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nttl: 60\r\ncontent-length: 1000000\r\n\
         connection: close\r\n\r\n"
    );
    let resp = raw_http1(&fx.svc, req.as_bytes()).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
}

#[tokio::test]
async fn garbage_requests_do_not_break_the_service() {
    let fx = fixture().await;
    for junk in [
        &b"\x00\x01\x02 nonsense\r\n\r\n"[..],
        b"POST /push/x HTTP/1.1\r\ncontent-length: -5\r\n\r\n",
        b"POST /push/x HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
    ] {
        let _ = raw_http1(&fx.svc, junk).await;
    }
    assert_eq!(fx.send(fx.push(b"still up")).await.status(), 201);
}

#[tokio::test]
async fn body_needs_aes128gcm() {
    let fx = fixture().await;
    for push in [
        fx.push(b"x").without("content-encoding"),
        #[cfg(not(feature = "aesgcm"))]
        fx.push(b"x").with("content-encoding", "aesgcm"),
        fx.push(b"x").with("content-encoding", "gzip"),
        fx.push(b"x").with("content-encoding", "aes128gcm, gzip"),
    ] {
        assert_eq!(
            refusal(fx.send(push).await).await,
            (415, "UnsupportedContentEncoding".to_owned())
        );
    }
}

/// With feature `aesgcm`, an `aesgcm` label makes the service look for the
/// legacy headers, and the body must decrypt as `aesgcm`.
#[cfg(feature = "aesgcm")]
#[tokio::test]
async fn aesgcm_label_needs_the_legacy_headers_and_body() {
    let fx = fixture().await;
    let no_headers = fx.push(b"x").with("content-encoding", "aesgcm");
    assert_eq!(
        refusal(fx.send(no_headers).await).await,
        (400, "InvalidEncryptionHeader".to_owned())
    );
    let params = crate::aesgcm::encrypt(fx.sub.p256dh(), fx.sub.auth(), b"y", Padding::None)
        .unwrap()
        .params()
        .clone();
    // Well-formed headers, but the body is an aes128gcm one.
    let wrong_body = fx
        .push(b"x")
        .with("content-encoding", "aesgcm")
        .with("encryption", &params.encryption_header())
        .with("crypto-key", &params.crypto_key_header());
    assert_eq!(
        refusal(fx.send(wrong_body).await).await,
        (400, "DecryptionFailed".to_owned())
    );
    let no_dh = fx
        .push(b"x")
        .with("content-encoding", "aesgcm")
        .with("encryption", &params.encryption_header())
        .with("crypto-key", "keyid=a");
    assert_eq!(
        refusal(fx.send(no_dh).await).await,
        (400, "InvalidCryptoKeyHeader".to_owned())
    );
}

#[tokio::test]
async fn vapid_is_checked() {
    let fx = fixture().await;
    let origin = fx.svc.origin();
    let k = fx.key.public_key_base64();
    let auth = |t: &str| token::authorization(t, &k);
    let claims =
        |aud: &str, exp: u64, sub: &str| serde_json::json!({"aud": aud, "exp": exp, "sub": sub});
    let valid = fx.authorization(&fx.key, &origin);
    let (t, _) = valid
        .strip_prefix("vapid t=")
        .unwrap()
        .split_once(", k=")
        .unwrap();
    let mut tampered = t.to_owned();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let other_key = VapidKey::generate().unwrap();
    let in_an_hour = now() + 3600;

    let cases = [
        (
            fx.push(b"x").without("authorization"),
            401,
            "MissingAuthorization",
        ),
        (
            fx.push(b"x").with("authorization", "vapid nonsense"),
            401,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with("authorization", &format!("WebPush {t}")),
            401,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with("authorization", &auth(&tampered)),
            401,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &auth(&jwt(
                    &fx.key,
                    &claims(&origin, now() - 10, "mailto:ops@example.com"),
                )),
            ),
            401,
            "ExpiredJwtToken",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &auth(&jwt(
                    &fx.key,
                    &claims(&origin, now() + 25 * 3600, "mailto:ops@example.com"),
                )),
            ),
            401,
            "BadJwtToken",
        ),
        // Signed by another key: k does not match the subscription.
        (
            fx.push(b"x")
                .with("authorization", &fx.authorization(&other_key, &origin)),
            403,
            "VapidKeyMismatch",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &fx.authorization(&fx.key, "https://push.example.net"),
            ),
            403,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &auth(&jwt(
                    &fx.key,
                    &claims(&format!("{origin}/"), in_an_hour, "mailto:ops@example.com"),
                )),
            ),
            403,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &auth(&jwt(
                    &fx.key,
                    &claims(&origin, in_an_hour, "ops@example.com"),
                )),
            ),
            403,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &auth(&jwt(
                    &fx.key,
                    &claims(&origin, in_an_hour, "mailto:admin@localhost"),
                )),
            ),
            403,
            "BadJwtToken",
        ),
        (
            fx.push(b"x").with(
                "authorization",
                &auth(&jwt(
                    &fx.key,
                    &claims(&origin, in_an_hour, "http://example.com"),
                )),
            ),
            403,
            "BadJwtToken",
        ),
    ];
    for (i, (push, status, reason)) in cases.into_iter().enumerate() {
        assert_eq!(
            refusal(fx.send(push).await).await,
            (status, reason.to_owned()),
            "case {i}"
        );
    }
    // A hand-made token with good claims passes.
    let good = auth(&jwt(
        &fx.key,
        &claims(&origin, in_an_hour, "https://example.com/contact"),
    ));
    assert_eq!(
        fx.send(fx.push(b"x").with("authorization", &good))
            .await
            .status(),
        201
    );
    assert_eq!(fx.svc.received(&fx.sub).len(), 1);
}

#[tokio::test]
async fn undecryptable_body_is_400() {
    let fx = fixture().await;
    let stranger = UaKeyPair::generate().unwrap();
    let wrong_key =
        message::encrypt(stranger.public_key(), fx.sub.auth(), b"x", Padding::None).unwrap();
    let wrong_auth = message::encrypt(
        fx.sub.p256dh(),
        &AuthSecret::generate().unwrap(),
        b"x",
        Padding::None,
    )
    .unwrap();
    for body in [wrong_key, wrong_auth, vec![1; 100], vec![0]] {
        assert_eq!(
            refusal(fx.send(fx.push(b"x").body(body)).await).await,
            (400, "DecryptionFailed".to_owned())
        );
    }
    assert!(fx.svc.received(&fx.sub).is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let fx = fixture().await;
    for url in [
        format!("{}/push/nosuchid", fx.svc.origin()),
        format!("{}/push/", fx.svc.origin()),
        format!("{}/", fx.svc.origin()),
        format!("{}/other", fx.svc.origin()),
        format!("{}/x", fx.sub.endpoint().uri()),
    ] {
        let push = Push {
            url,
            ..fx.push(b"x")
        };
        assert_eq!(
            refusal(fx.send(push).await).await,
            (404, "UnknownSubscription".to_owned())
        );
    }
    let get = Push {
        method: reqwest::Method::GET,
        ..fx.push(b"x")
    };
    let resp = fx.send(get).await;
    assert_eq!(resp.headers()[http::header::ALLOW], "POST");
    assert_eq!(refusal(resp).await, (405, "MethodNotAllowed".to_owned()));

    // A subscription of another service is unknown here.
    let elsewhere = LocalPushService::start().await.unwrap();
    let foreign = elsewhere.subscribe(&fx.key.public_key_base64()).unwrap();
    fx.svc.set_fault(&foreign, Fault::Gone);
    assert!(fx.svc.received(&foreign).is_empty());
}

#[tokio::test]
async fn status_faults() {
    let fx = fixture().await;

    fx.svc.set_fault(&fx.sub, Fault::Gone);
    assert_eq!(refusal(fx.send(fx.push(b"x")).await).await.0, 410);
    // Faults come before validation.
    assert_eq!(
        refusal(fx.send(fx.push(b"x").without("ttl")).await).await.0,
        410
    );

    fx.svc.set_fault(&fx.sub, Fault::NotFound);
    assert_eq!(refusal(fx.send(fx.push(b"x")).await).await.0, 404);

    for retry_after in ["120", "Wed, 21 Oct 2037 07:28:00 GMT"] {
        fx.svc.set_fault(
            &fx.sub,
            Fault::RateLimited {
                retry_after: retry_after.to_owned(),
            },
        );
        let resp = fx.send(fx.push(b"x")).await;
        assert_eq!(resp.headers()[RETRY_AFTER], retry_after);
        assert_eq!(refusal(resp).await.0, 429);
    }

    fx.svc
        .set_fault(&fx.sub, Fault::ServerError { retry_after: None });
    let resp = fx.send(fx.push(b"x")).await;
    assert!(resp.headers().get(RETRY_AFTER).is_none());
    assert_eq!(refusal(resp).await.0, 500);
    fx.svc.set_fault(
        &fx.sub,
        Fault::ServerError {
            retry_after: Some("3".to_owned()),
        },
    );
    let resp = fx.send(fx.push(b"x")).await;
    assert_eq!(resp.headers()[RETRY_AFTER], "3");
    assert_eq!(resp.status(), 500);

    fx.svc.set_fault(
        &fx.sub,
        Fault::Status {
            status: 400,
            body: r#"{"reason":"BadWebPushTopic"}"#.to_owned(),
        },
    );
    assert_eq!(
        refusal(fx.send(fx.push(b"x")).await).await,
        (400, "BadWebPushTopic".to_owned())
    );
    fx.svc.set_fault(
        &fx.sub,
        Fault::Status {
            status: 503,
            body: "try later".to_owned(),
        },
    );
    let resp = fx.send(fx.push(b"x")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text().await.unwrap(), "try later");
    // Nonsense statuses become 500 rather than breaking the connection.
    for status in [0, 42, 101, 1000] {
        fx.svc.set_fault(
            &fx.sub,
            Fault::Status {
                status,
                body: String::new(),
            },
        );
        assert_eq!(fx.send(fx.push(b"x")).await.status(), 500);
    }
    // An invalid Retry-After value is left out.
    fx.svc.set_fault(
        &fx.sub,
        Fault::RateLimited {
            retry_after: "bad\nvalue".to_owned(),
        },
    );
    let resp = fx.send(fx.push(b"x")).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get(RETRY_AFTER).is_none());

    fx.svc.clear_fault(&fx.sub);
    assert_eq!(fx.send(fx.push(b"ok")).await.status(), 201);
    assert_eq!(fx.svc.received(&fx.sub).len(), 1);
}

#[tokio::test]
async fn oversized_body_fault() {
    let fx = fixture().await;
    let len = 3 * 1024 * 1024 + 5;
    fx.svc
        .set_fault(&fx.sub, Fault::OversizedBody { status: 400, len });
    for alpn in [H1, H2] {
        let client = client_with(&fx.svc, alpn, Duration::from_secs(10));
        let resp = fx.push(b"x").send(&client).await.unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.content_length(), Some(len as u64));
        let body = resp.bytes().await.unwrap();
        assert_eq!(body.len(), len);
        assert!(body.iter().all(|&b| b == b'x'));
    }
}

#[tokio::test]
async fn delay_fault() {
    let fx = fixture().await;
    fx.svc
        .set_fault(&fx.sub, Fault::Delay(Duration::from_millis(300)));
    let start = Instant::now();
    assert_eq!(fx.send(fx.push(b"late")).await.status(), 201);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(fx.svc.received(&fx.sub).len(), 1);

    // A client with a shorter timeout gives up.
    fx.svc
        .set_fault(&fx.sub, Fault::Delay(Duration::from_secs(3600)));
    let impatient = client_with(&fx.svc, H2, Duration::from_millis(200));
    let err = fx.push(b"x").send(&impatient).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The service still answers others.
    fx.svc.clear_fault(&fx.sub);
    assert_eq!(fx.send(fx.push(b"x")).await.status(), 201);
}

#[tokio::test]
async fn a_held_request_its_client_abandons_is_dropped_unrecorded() {
    let fx = fixture().await;
    fx.svc
        .set_fault(&fx.sub, Fault::Delay(Duration::from_secs(3600)));
    for alpn in [H2, H1] {
        let impatient = client_with(&fx.svc, alpn, Duration::from_millis(200));
        let err = fx.push(b"held").send(&impatient).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        // The client reset the stream (h2) or closed the connection
        // (HTTP/1.1): the service drops the handler, which never records.
        for _ in 0..500 {
            if fx.svc.requests_in_flight() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(fx.svc.requests_in_flight(), 0, "{alpn:?}");
    }
    assert!(fx.svc.received(&fx.sub).is_empty());
    assert_eq!(fx.svc.request_count(), 2);
}

#[tokio::test]
async fn drop_connection_fault() {
    let fx = fixture().await;
    fx.svc.set_fault(&fx.sub, Fault::DropConnection);
    for alpn in [H1, H2] {
        let client = client_with(&fx.svc, alpn, Duration::from_secs(10));
        let start = Instant::now();
        let err = fx.push(b"x").send(&client).await.unwrap_err();
        assert!(
            err.is_request() && !err.is_timeout() && err.status().is_none(),
            "{err:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    fx.svc.clear_fault(&fx.sub);
    assert_eq!(fx.send(fx.push(b"x")).await.status(), 201);
}

#[tokio::test]
async fn request_count_counts_everything() {
    let fx = fixture().await;
    assert_eq!(fx.svc.request_count(), 0);
    fx.send(fx.push(b"ok")).await;
    fx.send(fx.push(b"x").without("ttl")).await;
    let unknown = Push {
        url: format!("{}/nowhere", fx.svc.origin()),
        ..fx.push(b"x")
    };
    fx.send(unknown).await;
    fx.svc.set_fault(&fx.sub, Fault::Gone);
    fx.send(fx.push(b"x")).await;
    assert_eq!(fx.svc.request_count(), 4);
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let fx = fixture().await;
    let addr = fx.svc.local_addr();
    assert_eq!(fx.send(fx.push(b"x")).await.status(), 201);
    fx.svc.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn drop_closes_the_port() {
    let svc = LocalPushService::start().await.unwrap();
    let addr = svc.local_addr();
    drop(svc);
    // The accept task ends at its next poll.
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still listening after drop");
}
