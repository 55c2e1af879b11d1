//! The WebSocket protocol against a scripted browser: a tungstenite client
//! that speaks as Firefox does, and decrypts with keys of its own.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

use super::super::{Fault, LocalPushService};
use crate::message::{self, AuthSecret, UaKeyPair};
use crate::request::PushOptions;
use crate::subscription::{Endpoint, Subscription};
use crate::vapid::{Subject, VapidKey, VapidSigner};

type Ws = WebSocketStream<TcpStream>;

async fn connect(svc: &LocalPushService) -> Ws {
    let url = svc.websocket_url();
    let tcp = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
        .await
        .unwrap();
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "push-notification".parse().unwrap(),
    );
    let (ws, response) = client_async(request, tcp).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "push-notification"
    );
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Value {
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next());
    match next.await.unwrap().unwrap().unwrap() {
        Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("unexpected frame {other:?}"),
    }
}

async fn hello(ws: &mut Ws, uaid: Option<&str>) -> String {
    let mut m = json!({"messageType": "hello", "use_webpush": true, "broadcasts": {}});
    if let Some(uaid) = uaid {
        m["uaid"] = uaid.into();
    }
    send(ws, m).await;
    let reply = recv(ws).await;
    assert_eq!(reply["messageType"], "hello");
    assert_eq!(reply["status"], 200);
    assert_eq!(reply["use_webpush"], true);
    reply["uaid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn browser_subscription_relays_acks_holds_and_unregisters() {
    let svc = LocalPushService::start().await.unwrap();
    let key = VapidKey::generate().unwrap();
    let client = svc
        .client(VapidSigner::new(
            key.clone(),
            Subject::parse("mailto:t@example.com").unwrap(),
        ))
        .unwrap();
    let mut ws = connect(&svc).await;
    assert_eq!(svc.hello_count(), 0);
    // A ping before anything else.
    send(&mut ws, json!({})).await;
    assert_eq!(recv(&mut ws).await, json!({}));
    let uaid = hello(&mut ws, None).await;
    assert_eq!(svc.hello_count(), 1);
    assert!(svc.browser_connected());

    // Firefox pads the key's base64url.
    let padded = format!("{}=", key.public_key_base64());
    let channel = "5e1a3d2c-0000-4000-8000-0123456789ab";
    send(
        &mut ws,
        json!({"messageType": "register", "channelID": channel, "key": padded}),
    )
    .await;
    let reply = recv(&mut ws).await;
    assert_eq!(reply["status"], 200);
    assert_eq!(reply["channelID"], channel);
    let endpoint = reply["pushEndpoint"].as_str().unwrap().to_owned();

    // The browser's own keys, as it would give them to the page.
    let ua = UaKeyPair::generate().unwrap();
    let auth = AuthSecret::generate().unwrap();
    let sub = Subscription::new(
        Endpoint::parse(&endpoint).unwrap(),
        ua.public_key().clone(),
        auth.clone(),
    );
    client
        .send(&sub, b"hello browser", &PushOptions::new().ttl(60))
        .await
        .unwrap();
    let note = recv(&mut ws).await;
    assert_eq!(note["messageType"], "notification");
    assert_eq!(note["channelID"], channel);
    assert_eq!(note["headers"]["encoding"], "aes128gcm");
    let body = crate::b64::decode_vec(note["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        message::decrypt(&ua, &auth, &body).unwrap(),
        b"hello browser"
    );
    assert_eq!(svc.browser_held(&sub), 1);
    let version = note["version"].clone();
    send(
        &mut ws,
        json!({"messageType": "ack", "updates": [{"channelID": channel, "version": version, "code": 100}]}),
    )
    .await;

    // Tampered in transit: the browser cannot decrypt it.
    svc.set_fault(&sub, Fault::TamperInTransit);
    client
        .send(&sub, b"tampered", &PushOptions::new().ttl(60))
        .await
        .unwrap();
    let note = recv(&mut ws).await;
    let body = crate::b64::decode_vec(note["data"].as_str().unwrap()).unwrap();
    assert!(message::decrypt(&ua, &auth, &body).is_err());
    send(
        &mut ws,
        json!({"messageType": "ack", "updates": [{"channelID": channel, "version": note["version"], "code": 101}]}),
    )
    .await;
    svc.clear_fault(&sub);

    // Another key's VAPID is refused as for any subscription.
    let other = svc
        .client(VapidSigner::new(
            VapidKey::generate().unwrap(),
            Subject::parse("mailto:t@example.com").unwrap(),
        ))
        .unwrap();
    let err = other
        .send(&sub, b"x", &PushOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));

    // Disconnected: held until the browser says hello again.
    drop(ws);
    for _ in 0..100 {
        if !svc.browser_connected() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!svc.browser_connected());
    client
        .send(&sub, b"while away", &PushOptions::new().ttl(60))
        .await
        .unwrap();
    // TTL 0 with no browser: dropped.
    client
        .send(&sub, b"now or never", &PushOptions::new().ttl(0))
        .await
        .unwrap();
    assert_eq!(svc.browser_acks(&sub), vec![100, 101]);
    assert_eq!(svc.browser_held(&sub), 1);
    // A held push that is cancelled (DELETE on its Location) is never
    // delivered; a second DELETE finds nothing.
    let cancelled = client
        .send(&sub, b"cancelled", &PushOptions::new().ttl(60))
        .await
        .unwrap();
    assert_eq!(svc.browser_held(&sub), 2);
    assert_eq!(
        client.cancel(&cancelled).await.unwrap(),
        crate::client::CancelOutcome::Cancelled
    );
    assert_eq!(
        client.cancel(&cancelled).await.unwrap(),
        crate::client::CancelOutcome::NotFound
    );
    assert_eq!(svc.browser_held(&sub), 1);
    let mut ws = connect(&svc).await;
    assert_eq!(hello(&mut ws, Some(&uaid)).await, uaid);
    let note = recv(&mut ws).await;
    let body = crate::b64::decode_vec(note["data"].as_str().unwrap()).unwrap();
    assert_eq!(message::decrypt(&ua, &auth, &body).unwrap(), b"while away");

    // Unregistered: later pushes are 410.
    send(
        &mut ws,
        json!({"messageType": "unregister", "channelID": channel, "code": 200}),
    )
    .await;
    assert_eq!(recv(&mut ws).await["status"], 200);
    let err = client
        .send(&sub, b"gone", &PushOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_gone(), "{err}");
}

#[tokio::test]
async fn bad_register_and_garbage_are_answered_or_ignored() {
    let svc = LocalPushService::start().await.unwrap();
    let mut ws = connect(&svc).await;
    // Before hello, a register is ignored; garbage is ignored.
    send(
        &mut ws,
        json!({"messageType": "register", "channelID": "a"}),
    )
    .await;
    ws.send(Message::text("not json")).await.unwrap();
    send(&mut ws, json!([1, 2])).await;
    send(&mut ws, json!({"messageType": 7})).await;
    hello(&mut ws, Some("not-issued-by-us")).await;
    for (channel, key) in [("", None), ("a b", None), ("ok", Some("AAAA"))] {
        let mut m = json!({"messageType": "register", "channelID": channel});
        if let Some(key) = key {
            m["key"] = key.into();
        }
        send(&mut ws, m).await;
        assert_eq!(recv(&mut ws).await["status"], 400, "{channel:?}");
    }
    send(
        &mut ws,
        json!({"messageType": "unregister", "channelID": "nope"}),
    )
    .await;
    assert_eq!(recv(&mut ws).await["status"], 404);
}

/// Whatever a browser sends, in any order: no panic, every reply is a JSON
/// object the browser can parse, and a `register` is answered 200 with an
/// endpoint this crate accepts or refused with 400, 500 or 503.
#[test]
fn any_sequence_of_browser_messages_is_answered_or_ignored_never_a_panic() {
    use proptest::prelude::*;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let svc = rt.block_on(LocalPushService::start()).unwrap();
    let state = std::sync::Arc::clone(&svc.state);
    // A short, mostly-valid vocabulary, so that sequences reach deep states
    // (hello, then register, ack, nack, unregister of the same channel).
    let word = prop_oneof![
        Just(String::new()),
        Just("a".to_owned()),
        Just("0b5e".to_owned()),
        "[ -~]{0,12}",
    ];
    let message = prop_oneof![
        proptest::option::of(word.clone())
            .prop_map(|uaid| json!({"messageType": "hello", "uaid": uaid}).to_string()),
        (word.clone(), proptest::option::of(word.clone())).prop_map(|(c, key)| {
            json!({"messageType": "register", "channelID": c, "key": key}).to_string()
        }),
        word.clone()
            .prop_map(|c| json!({"messageType": "unregister", "channelID": c}).to_string()),
        (word.clone(), word.clone(), proptest::option::of(any::<u16>())).prop_map(|(c, v, code)| {
            json!({"messageType": "ack", "updates": [{"channelID": c, "version": v, "code": code}]})
                .to_string()
        }),
        (word.clone(), proptest::option::of(any::<u16>())).prop_map(|(v, code)| {
            json!({"messageType": "nack", "version": v, "code": code}).to_string()
        }),
        Just(r#"{"messageType":"ping"}"#.to_owned()),
        Just(r#"{"messageType":7}"#.to_owned()),
        Just("[1,2]".to_owned()),
        ".{0,40}",
    ];
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // Sequences must reach a registered channel, or the deep states go untested.
    let registered = std::cell::Cell::new(0u32);
    proptest!(config, |(messages in proptest::collection::vec(message, 1..24))| {
        let (outbox, _inbox) = tokio::sync::mpsc::channel::<String>(64);
        let mut session = super::Session::default();
        for text in &messages {
            for reply in session.on_message(&state, &outbox, text) {
                let value: Value = serde_json::from_str(&reply).expect("replies are JSON");
                prop_assert!(value.is_object(), "{reply}");
                if value["messageType"] == "register" {
                    match value["status"].as_u64() {
                        Some(200) => {
                            registered.set(registered.get() + 1);
                            let endpoint = value["pushEndpoint"].as_str().unwrap_or_default();
                            prop_assert!(Endpoint::parse(endpoint).is_ok(), "{reply}");
                        }
                        Some(400 | 500 | 503) => {}
                        other => prop_assert!(false, "register status {other:?}: {reply}"),
                    }
                }
            }
        }
        session.close(&state);
    });
    assert!(registered.get() > 0, "no sequence registered a channel");
    rt.block_on(svc.shutdown());
}
