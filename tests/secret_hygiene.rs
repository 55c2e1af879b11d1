//! Secret hygiene: `Debug` and `Display` of every type that holds a secret,
//! and of every error, show no secret octets (in hex, base64, base64url or
//! as a Rust byte list), no endpoint path (a capability URL), no VAPID token
//! and no payload.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use http::{HeaderMap, HeaderValue, StatusCode};
use webpush::batch::{BatchSender, Job, RetryPolicy};
use webpush::ece::{self, Encryptor, Header, Ikm, RecordSize, Salt};
use webpush::message::{self, AuthSecret, Padding, UaKeyPair, hazmat};
use webpush::outcome::{self, SendError};
use webpush::policy::EndpointPolicy;
use webpush::request::PushOptions;
use webpush::sender::{PushResponse, ReqwestSender};
use webpush::subscription::SubscriptionJson;
use webpush::testing::{Fault, LocalPushService};
use webpush::vapid::{Audience, Subject, VapidKey, VapidSigner};
use webpush::{Endpoint, PushClient, Subscription};

/// A capability token in endpoint paths; must never be printed.
const TOKEN: &str = "gAAAAABcapabilityTOKEN0123456789";
/// A payload that must never be printed.
const PAYLOAD: &[u8] = b"top secret payload: the launch code is 0000";

const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

fn b64(s: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(s).unwrap()
}

/// Every way the octets could show up in text: hex (both cases, and any
/// 6-octet window of it), the four base64 forms, and `Debug` of a byte slice
/// (also any 4-octet window of it).
fn forms(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        hex.clone(),
        hex.to_uppercase(),
        Base64::encode_string(secret),
        Base64Unpadded::encode_string(secret),
        Base64Url::encode_string(secret),
        Base64UrlUnpadded::encode_string(secret),
        format!("{secret:?}"),
    ];
    for w in secret.windows(6) {
        let h: String = w.iter().map(|b| format!("{b:02x}")).collect();
        out.push(h.to_uppercase());
        out.push(h);
    }
    for w in secret.windows(4) {
        let list = format!("{w:?}");
        out.push(list.trim_end_matches(']').to_owned());
    }
    out
}

#[track_caller]
fn assert_clean(what: &str, text: &str, secrets: &[&[u8]], strings: &[&str]) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} shows secret octets as {form:?}: {text}"
            );
        }
    }
    for s in strings {
        assert!(!text.contains(s), "{what} shows {s:?}: {text}");
    }
}

fn endpoint_url(origin: &str) -> String {
    format!("{origin}/wpush/v2/{TOKEN}")
}

fn subscription(origin: &str) -> Subscription {
    Subscription::new(
        Endpoint::parse(&endpoint_url(origin)).unwrap(),
        webpush::UaPublicKey::from_base64(UA_PUBLIC).unwrap(),
        AuthSecret::from_base64(AUTH).unwrap(),
    )
}

fn vapid_key() -> VapidKey {
    VapidKey::parse(include_str!("data/vapid/pkcs8.pem")).unwrap()
}

#[test]
fn auth_secret_and_key_pairs_show_no_private_octets() {
    let auth = AuthSecret::from_base64(AUTH).unwrap();
    let ua = UaKeyPair::from_private_base64(UA_PRIVATE).unwrap();
    let sender = hazmat::SenderKeyPair::from_private_bytes(&b64(AS_PRIVATE)).unwrap();
    let secrets: &[&[u8]] = &[&b64(AUTH), &b64(UA_PRIVATE), &b64(AS_PRIVATE)];
    assert_clean("AuthSecret", &format!("{auth:?}"), secrets, &[]);
    assert_clean("UaKeyPair", &format!("{ua:?} {ua:#?}"), secrets, &[]);
    assert_clean("SenderKeyPair", &format!("{sender:?}"), secrets, &[]);
    // The public key is fine to show, and the check above would see it.
    assert!(format!("{ua:?}").contains(UA_PUBLIC));
}

#[test]
fn vapid_key_signer_builder_and_header_show_no_private_key_or_token() {
    let key = vapid_key();
    let scalar = Base64UrlUnpadded::decode_vec(&key.expose_private_base64()).unwrap();
    let subject = Subject::parse("mailto:ops@example.com").unwrap();
    let builder = VapidSigner::builder(key.clone(), subject.clone());
    let signer = VapidSigner::new(key.clone(), subject);
    let header = signer
        .header_for(&Audience::parse("https://push.example.net").unwrap())
        .unwrap();
    let jwt = header.jwt().to_owned();
    let signature = jwt.rsplit('.').next().unwrap().to_owned();
    let texts = [
        ("VapidKey", format!("{key:?} {key:#?}")),
        ("VapidSignerBuilder", format!("{builder:?}")),
        ("VapidSigner", format!("{signer:?}")),
        ("VapidHeader", format!("{header:?}")),
    ];
    for (what, text) in &texts {
        assert_clean(what, text, &[&scalar], &[&jwt, &signature]);
    }
}

#[test]
fn ikm_and_encryptor_show_no_keying_material() {
    let ikm_bytes = *b"sixteen byte key";
    let ikm = Ikm::new(&ikm_bytes);
    let header = Header::new(Salt::from_bytes([7; 16]), RecordSize::new(64).unwrap(), b"").unwrap();
    let mut enc = Encryptor::new(&ikm, &header, 256);
    enc.push_record(&PAYLOAD[..40], 7).unwrap();
    let text = format!("{ikm:?} {enc:?}");
    assert_clean("Ikm/Encryptor", &text, &[&ikm_bytes, PAYLOAD], &[]);
    let body = enc.finish(b"", 0).unwrap();
    // Errors of the record layer say nothing of the key or the plaintext.
    let err = ece::decrypt(&Ikm::new(b"another key here"), &body).unwrap_err();
    assert_clean(
        "RecordError",
        &format!("{err} {err:?}"),
        &[&ikm_bytes, PAYLOAD],
        &[],
    );
}

#[test]
fn subscription_endpoint_and_wire_json_show_no_auth_or_endpoint_path() {
    let sub = subscription("https://updates.push.services.mozilla.com");
    let wire: SubscriptionJson = serde_json::from_str(&sub.to_json()).unwrap();
    let texts = [
        ("Subscription", format!("{sub:?} {sub:#?}")),
        ("Endpoint", format!("{:?}", sub.endpoint())),
        ("SubscriptionJson", format!("{wire:?} {wire:#?}")),
        ("KeysJson", format!("{:?}", wire.keys)),
    ];
    for (what, text) in &texts {
        assert_clean(what, text, &[&b64(AUTH)], &[TOKEN, "/wpush/"]);
    }
    // Origins are not capabilities and help debugging.
    assert!(
        texts[0]
            .1
            .contains("https://updates.push.services.mozilla.com")
    );
}

#[test]
fn key_and_subscription_errors_never_echo_their_input() {
    let origin = "https://fcm.googleapis.com";
    let url = endpoint_url(origin);
    let auth_wrong_len = Base64UrlUnpadded::encode_string(&[0x5a; 17]);
    let cases = [
        format!(
            r#"{{"endpoint":"ftp://h/{TOKEN}","keys":{{"p256dh":"{UA_PUBLIC}","auth":"{AUTH}"}}}}"#
        ),
        format!(
            r#"{{"endpoint":"{url}","keys":{{"p256dh":"{UA_PUBLIC}","auth":"{auth_wrong_len}"}}}}"#
        ),
        format!(r#"{{"endpoint":"{url}","keys":{{"p256dh":"{AUTH}","auth":"{AUTH}"}}}}"#),
        format!(r#"{{"endpoint":"{url}","keys":{{"p256dh":"{UA_PUBLIC}","auth":"{AUTH}!"}}}}"#),
        format!(r#"{{"endpoint":"{url}","keys":{{"p256dh":"{UA_PUBLIC}","auth":{AUTH}}}}}"#),
        format!(r#"{{"endpoint":"{url}/{}","keys":{{}}}}"#, "x".repeat(5000)),
        format!(r#"{{"endpoint":"{url}"}}"#),
        format!(r#"{{"endpoint":{url}}}"#),
    ];
    for json in &cases {
        let err = Subscription::from_json(json).unwrap_err();
        let err = webpush::Error::from(err);
        assert_clean(
            "SubscriptionError",
            &format!("{err} {err:?}"),
            &[&b64(AUTH), &[0x5a; 17]],
            &[TOKEN, AUTH],
        );
    }
    for s in [
        format!("{AUTH}="),
        format!("{UA_PRIVATE}A"),
        format!("{AUTH}#"),
    ] {
        let errs = [
            webpush::UaPublicKey::from_base64(&s).unwrap_err(),
            AuthSecret::from_base64(&s).unwrap_err(),
            UaKeyPair::from_private_base64(&s).unwrap_err(),
        ];
        for err in errs {
            assert_clean("KeyError", &format!("{err} {err:?}"), &[&b64(AUTH)], &[&s]);
        }
    }
}

#[test]
fn vapid_key_errors_show_no_key_material() {
    let pem = include_str!("data/vapid/pkcs8.pem");
    let der = include_bytes!("data/vapid/pkcs8.der");
    let scalar = Base64UrlUnpadded::decode_vec(&vapid_key().expose_private_base64()).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut broken = der.to_vec();
    broken.pop();
    let mismatched = format!(
        r#"{{"kty":"EC","crv":"P-256","d":"{}","x":"{}","y":"{}"}}"#,
        vapid_key().expose_private_base64().as_str(),
        Base64UrlUnpadded::encode_string(&[1; 32]),
        Base64UrlUnpadded::encode_string(&[2; 32]),
    );
    let errors = [
        VapidKey::parse(&pem.replace("END PRIVATE", "END EC PRIVATE")).unwrap_err(),
        VapidKey::parse(&pem.replace('M', "!")).unwrap_err(),
        VapidKey::from_der(&broken).unwrap_err(),
        VapidKey::parse(&mismatched).unwrap_err(),
        VapidKey::parse(&format!("{body}!")).unwrap_err(),
        VapidKey::parse(&format!("{pem}{pem}")).unwrap_err(),
    ];
    for err in errors {
        assert_clean(
            "VapidKeyError",
            &format!("{err} {err:?}"),
            &[&scalar, der],
            &[&body[..40]],
        );
    }
}

fn response(status: u16, headers: &[(&'static str, String)], body: &[u8]) -> PushResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    PushResponse::new(StatusCode::from_u16(status).unwrap(), map, body.to_vec())
}

#[test]
fn responses_and_send_errors_hide_location_endpoints_and_payloads() {
    let url = endpoint_url("https://fcm.googleapis.com");
    let location = format!("https://fcm.googleapis.com/m/{TOKEN}");
    let headers = [
        ("location", location.clone()),
        ("content-location", location.clone()),
        (
            "link",
            format!("<{location}>; rel=\"urn:ietf:params:push\""),
        ),
        ("set-cookie", format!("session={TOKEN}")),
        ("retry-after", "30".to_owned()),
        ("x-wns-error-description", format!("bad channel {url}")),
    ];
    let bodies: [Vec<u8>; 5] = [
        format!(r#"{{"reason":"unknown endpoint {url}"}}"#).into_bytes(),
        format!("<html><title>404 {url}</title></html>").into_bytes(),
        format!("no such subscription: {url}\n").into_bytes(),
        Vec::new(),
        PAYLOAD.to_vec(),
    ];
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for status in [201, 400, 401, 404, 406, 410, 413, 415, 429, 500, 503, 302] {
        for body in &bodies {
            let r = response(status, &headers, body);
            assert_clean("PushResponse", &format!("{r:?}"), &[PAYLOAD], &[TOKEN]);
            let text = match outcome::classify(r, now) {
                Ok(delivered) => format!("{delivered:?} {delivered:#?}"),
                Err(e) => format!("{e} {e:?} {e:#?} {:?}", e.reason()),
            };
            // The server may echo a payload back in a body (which `reason`
            // shows, escaped); ours never did here except in the last body.
            let payloads: &[&[u8]] = if body.as_slice() == PAYLOAD {
                &[]
            } else {
                &[PAYLOAD]
            };
            assert_clean(&format!("outcome of {status}"), &text, payloads, &[TOKEN]);
        }
    }
}

#[test]
fn sender_builder_and_its_errors_hide_proxy_credentials() {
    let proxy = "http://user:hunter2secret@proxy.invalid:3128";
    let builder = ReqwestSender::builder()
        .proxy_url(proxy)
        .tls_builtin_roots(false)
        .tls_root_certificate_pem("not a certificate");
    assert_clean(
        "ReqwestSenderBuilder",
        &format!("{builder:?}"),
        &[],
        &["hunter2"],
    );
    for bad in [
        "ftp://user:hunter2secret@proxy.invalid",
        "http://user:hunter2secret@[::1",
    ] {
        let err = ReqwestSender::builder()
            .proxy_url(bad)
            .tls_builtin_roots(false)
            .tls_root_certificate_der(vec![0x30, 0x03, 0x02, 0x01, 0x00])
            .build();
        let text = match err {
            Ok(s) => format!("{s:?}"),
            Err(e) => format!("{e} {e:?} {:?}", std::error::Error::source(&e)),
        };
        assert_clean("sender BuildError", &text, &[], &["hunter2"]);
    }
}

/// Everything printed about a push that failed in each way a real exchange
/// can fail, and about batch jobs and reports.
#[tokio::test]
async fn transport_policy_and_batch_outcomes_show_no_endpoint_token_or_payload() {
    let service = LocalPushService::start().await.unwrap();
    let key = vapid_key();
    let signer = VapidSigner::new(
        key.clone(),
        Subject::parse("mailto:ops@example.com").unwrap(),
    );
    let sender = service
        .sender_builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let client = PushClient::with_sender(sender.clone(), signer.clone()).policy(service.policy());
    let sub = service.subscribe(&key.public_key_base64()).unwrap();
    let path = sub.endpoint().uri().path().to_owned();
    let auth = sub.auth().expose_secret().to_vec();
    let secrets: &[&[u8]] = &[&auth, PAYLOAD];
    let strings: &[&str] = &[&path];
    assert_clean("PushClient", &format!("{client:?}"), secrets, strings);
    assert_clean("ReqwestSender", &format!("{sender:?}"), secrets, strings);
    assert_clean(
        "LocalPushService",
        &format!("{service:?}"),
        secrets,
        strings,
    );

    let faults = [
        Fault::DropConnection,
        Fault::Delay(Duration::from_secs(5)),
        Fault::Status {
            status: 400,
            body: format!(r#"{{"reason":"bad endpoint {}"}}"#, sub.endpoint().uri()),
        },
        Fault::RateLimited {
            retry_after: "7".to_owned(),
        },
    ];
    for fault in faults {
        service.set_fault(&sub, fault.clone());
        let err = client
            .send(&sub, PAYLOAD, &PushOptions::new())
            .await
            .unwrap_err();
        let mut text = format!("{err} {err:?}");
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&format!(" / {s} {s:?}"));
            source = s.source();
        }
        assert_clean(&format!("{fault:?}"), &text, secrets, strings);
    }
    service.clear_fault(&sub);

    // The strict default policy refuses the loopback endpoint.
    let strict = PushClient::with_sender(sender.clone(), signer.clone());
    let err = strict
        .send(&sub, PAYLOAD, &PushOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Policy(_)));
    assert_clean(
        "policy SendError",
        &format!("{err} {err:?}"),
        secrets,
        strings,
    );
    let err = EndpointPolicy::new()
        .check_endpoint(sub.endpoint())
        .unwrap_err();
    assert_clean("PolicyError", &format!("{err} {err:?}"), secrets, strings);

    // Encryption refused: too large. The payload must not be echoed.
    let big = [PAYLOAD, &[b'x'; 4000][..]].concat();
    let err = client
        .send(&sub, &big, &PushOptions::new())
        .await
        .unwrap_err();
    assert_clean(
        "encryption SendError",
        &format!("{err} {err:?}"),
        secrets,
        strings,
    );
    let err = message::encrypt(sub.p256dh(), sub.auth(), &big, Padding::None).unwrap_err();
    assert_clean("CryptoError", &format!("{err} {err:?}"), secrets, strings);

    // Batch: the job, and the reports of a delivered and a failed job.
    let sub = Arc::new(sub);
    let job = Job::new(1u32, Arc::clone(&sub), PAYLOAD.to_vec(), PushOptions::new());
    assert_clean("Job", &format!("{job:?} {job:#?}"), secrets, strings);
    let gone = service.subscribe(&key.public_key_base64()).unwrap();
    service.set_fault(&gone, Fault::Gone);
    let batch = BatchSender::new(client).retry(RetryPolicy::none());
    let mut reports = batch.send_iter(vec![
        job,
        Job::new(2u32, gone.clone(), PAYLOAD.to_vec(), PushOptions::new()),
    ]);
    let mut seen = 0;
    while let Some(report) = reports.next_report().await {
        seen += 1;
        let text = format!("{report:?} {report:#?}");
        let gone_path = gone.endpoint().uri().path().to_owned();
        assert_clean("Report", &text, secrets, &[&path, &gone_path]);
    }
    assert_eq!(seen, 2);
    // The message that went through arrived intact: the checks above looked
    // at real outcomes.
    assert_eq!(service.received(&sub)[0].payload, PAYLOAD);
}
