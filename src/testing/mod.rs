//! An in-process Web Push service for tests and demos (feature `testing`).
//!
//! [`LocalPushService`] is real server code, not a mock: hyper over
//! tokio-rustls, HTTPS with a self-signed certificate, HTTP/2 and HTTP/1.1
//! (ALPN), bound to `127.0.0.1` only. It plays both parts a browser relies on:
//! the push service, which checks requests as FCM, Mozilla's autopush and
//! Apple's service do, and the user agent, which holds the subscription keys
//! and decrypts what arrives.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use webpush::testing::{Fault, LocalPushService};
//! use webpush::vapid::VapidKey;
//!
//! let service = LocalPushService::start().await?;
//! let vapid = VapidKey::generate()?;
//! let sub = service.subscribe(&vapid.public_key_base64())?;
//! // Trust `service.root_certificate_pem()` in your sender, push to `sub`, then:
//! for msg in service.received(&sub) {
//!     println!("{} octets, TTL {}", msg.payload.len(), msg.ttl);
//! }
//! service.set_fault(&sub, Fault::Gone); // the next pushes get 410
//! // A transient failure: each message's first request gets 429, a retry
//! // (the same encrypted body again) goes through.
//! service.set_fault(
//!     &sub,
//!     Fault::FirstAttempt(Box::new(Fault::RateLimited { retry_after: "1".into() })),
//! );
//! # Ok(()) }
//! ```
//!
//! # What a push request must pass
//!
//! `POST /push/<id>`, checked in this order; every refusal carries a JSON body
//! `{"reason": "<Token>", "detail": "<text>"}`:
//!
//! | check | status | reason |
//! |---|---|---|
//! | the path names a subscription of this service | 404 | `UnknownSubscription` |
//! | (a [`Fault`] set for that subscription answers here; [`Fault::FirstAttempt`] reads the body first, answering 413 `PayloadTooLarge` when it is too long) | | |
//! | method is `POST` | 405 | `MethodNotAllowed` |
//! | `TTL` present, a non-negative integer | 400 | `InvalidTTL` |
//! | `Urgency`, if present, is `very-low`, `low`, `normal` or `high` | 400 | `InvalidUrgency` |
//! | `Topic`, if present, is at most 32 base64url characters | 400 | `InvalidTopic` |
//! | body at most [`MAX_BODY_LEN`](crate::message::MAX_BODY_LEN) octets (`Content-Length` and as read) | 413 | `PayloadTooLarge` |
//! | a non-empty body has `Content-Encoding: aes128gcm` (or, with feature `aesgcm`, `aesgcm`) | 415 | `UnsupportedContentEncoding` |
//! | `aesgcm` only: `Encryption` has one `salt` (16 octets) and a valid `rs` | 400 | `InvalidEncryptionHeader` |
//! | `aesgcm` only: `Crypto-Key` has one `dh` that is a P-256 point | 400 | `InvalidCryptoKeyHeader` |
//! | `Authorization` present | 401 | `MissingAuthorization` |
//! | `vapid t=…, k=…` verifies ([`token::verify`](crate::vapid::token::verify)): signature, `exp` in the future and at most 24 h ahead; with feature `aesgcm` also `WebPush <jwt>` with the key in `Crypto-Key: p256ecdsa=…`, checked the same way | 401 | `BadJwtToken` (`ExpiredJwtToken` when expired) |
//! | `k` is the key given to [`LocalPushService::subscribe`] | 403 | `VapidKeyMismatch` |
//! | `aud` is exactly [`LocalPushService::origin`] | 403 | `BadJwtToken` |
//! | `sub` is a `mailto:` address or an `https:` URL ([`Subject::parse`](crate::vapid::token::Subject::parse), unchanged) | 403 | `BadJwtToken` |
//! | the body decrypts with the subscription's keys (`aesgcm`: with the salt, record size and `dh` of its headers) | 400 | `DecryptionFailed` |
//!
//! A request that passes is recorded (see [`LocalPushService::received`] and
//! [`LocalPushService::take_received`]) and
//! answered `201 Created` with `Location: https://127.0.0.1:<port>/message/<id>`
//! and the `TTL` echoed. An empty body is a valid "tickle" push and needs no
//! encryption headers. `DELETE` of that `Location` (RFC 8030, Section 6.2)
//! answers 204 once, then 404; other methods on it get 405. Any other path
//! gets 404.
//!
//! # Firefox
//!
//! The service also listens on [`LocalPushService::websocket_url`] and speaks
//! Mozilla's Web Push protocol there (hello, register, unregister,
//! notification, ack, nack, ping; the table is in `websocket.rs`), so that a
//! real Firefox can use it as its push server: set `dom.push.serverURL` to
//! that URL and `dom.push.testing.allowInsecureServerURL` to `true`. A
//! subscription the browser makes this way gets an endpoint on the HTTPS
//! side like any other, and its pushes pass the same checks except
//! decryption (the browser holds the keys): the body is relayed to the
//! browser, held until its TTL while no browser is connected, and once the
//! browser unsubscribes, pushes get `410 Gone`. `examples/web_app` drives
//! Firefox this way in CI.
//!
//! # Files
//!
//! This file holds the handle ([`LocalPushService`]), its errors and the
//! shared state; `http_service.rs` the HTTPS endpoint and its checks;
//! `faults.rs` the [`Fault`]s; `certs.rs` the certificate and TLS setup;
//! `websocket.rs` the WebSocket protocol and the browser channels.

use core::fmt;
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::b64;
use crate::client::PushClient;
use crate::message::{AuthSecret, CryptoError, KeyError, UaKeyPair, UaPublicKey};
use crate::policy::EndpointPolicy;
use crate::request::ContentEncoding;
use crate::sender::{ReqwestSender, ReqwestSenderBuilder};
use crate::subscription::{Endpoint, Subscription, SubscriptionError};
use crate::vapid::VapidSigner;

/// Messages kept per subscription; older ones are dropped first.
const MAX_RECEIVED: usize = 10_000;

/// Errors of [`LocalPushService`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestingError {
    /// [`LocalPushService::start`] was not called inside a tokio runtime.
    #[error("LocalPushService must be started inside a tokio runtime")]
    NoRuntime,
    /// Binding `127.0.0.1:0` failed.
    #[error("could not bind 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// Generating the certificate or the TLS configuration failed.
    #[error("could not set up TLS: {0}")]
    Tls(String),
    /// The VAPID public key given to [`LocalPushService::subscribe`] is not
    /// a P-256 point (65 octets, base64url).
    #[error("invalid VAPID public key: {0}")]
    VapidKey(#[source] KeyError),
    /// Generating the subscription's keys failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The subscription could not be built.
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
}

/// A push message delivered to a subscription, decrypted as the browser
/// would. `Debug` shows the payload's length, not its content.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedMessage {
    /// The decrypted payload (empty for a tickle push).
    pub payload: Vec<u8>,
    /// The `TTL` header (values above `u32::MAX` are clamped).
    pub ttl: u32,
    /// The `Urgency` header, if sent.
    pub urgency: Option<String>,
    /// The `Topic` header, if sent.
    pub topic: Option<String>,
    /// Octets of the encrypted body.
    pub body_len: usize,
    /// The `Content-Encoding` header, if sent.
    pub content_encoding: Option<String>,
    /// The content coding the body was decrypted with (`None` for a tickle
    /// push).
    pub encoding: Option<ContentEncoding>,
    /// When the service accepted it (after decrypting, before answering
    /// `201`): for tests of redelivery delays.
    pub received_at: Instant,
}

impl fmt::Debug for ReceivedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("payload_len", &self.payload.len())
            .field("ttl", &self.ttl)
            .field("urgency", &self.urgency)
            .field("topic", &self.topic)
            .field("body_len", &self.body_len)
            .field("content_encoding", &self.content_encoding)
            .field("encoding", &self.encoding)
            .field("received_at", &self.received_at)
            .finish()
    }
}

/// What the push service knows of one subscription.
struct SubState {
    ua: UaKeyPair,
    auth: AuthSecret,
    vapid_key: [u8; 65],
    fault: Option<Fault>,
    received: VecDeque<ReceivedMessage>,
    first_attempts: FirstAttempts,
}

/// State shared between the handle and the server tasks.
struct State {
    origin: String,
    requests: AtomicU64,
    /// When the latest request arrived.
    last_request_at: Mutex<Option<Instant>>,
    /// TCP connections accepted (each then a TLS handshake).
    connections: AtomicU64,
    /// Requests whose handler is running (see `http_service::InFlight`).
    in_flight: AtomicU64,
    subs: Mutex<HashMap<String, SubState>>,
    /// Ids of the message resources (`Location`) not yet deleted, oldest
    /// first, at most [`MAX_RECEIVED`].
    messages: Mutex<VecDeque<String>>,
    browsers: Mutex<websocket::Browsers>,
    hellos: AtomicU64,
}

impl State {
    fn subs(&self) -> MutexGuard<'_, HashMap<String, SubState>> {
        // Nothing panics while holding the lock; recover anyway.
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn browsers(&self) -> MutexGuard<'_, websocket::Browsers> {
        // Nothing panics while holding the lock; recover anyway.
        self.browsers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An HTTPS push service on `127.0.0.1`, running on the current tokio
/// runtime until dropped or [`shutdown`](Self::shutdown). See the
/// [module documentation](self) for what it checks.
pub struct LocalPushService {
    state: Arc<State>,
    addr: SocketAddr,
    ws_addr: SocketAddr,
    cert_der: Vec<u8>,
    cert_pem: String,
    shutdown: Option<watch::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for LocalPushService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalPushService")
            .field("origin", &self.state.origin)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl LocalPushService {
    /// Binds `127.0.0.1` on a free port, generates a self-signed certificate
    /// for `localhost` and `127.0.0.1`, and serves HTTPS (ALPN `h2` and
    /// `http/1.1`) on a task of the current tokio runtime.
    ///
    /// # Errors
    /// [`TestingError::NoRuntime`] outside a tokio runtime,
    /// [`TestingError::Bind`] or [`TestingError::Tls`].
    pub async fn start() -> Result<Self, TestingError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| TestingError::NoRuntime)?;
        let certs::Certified {
            acceptor,
            cert_der,
            cert_pem,
        } = certs::generate()?;

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(TestingError::Bind)?;
        let addr = listener.local_addr().map_err(TestingError::Bind)?;
        let state = Arc::new(State {
            origin: format!("https://127.0.0.1:{}", addr.port()),
            requests: AtomicU64::new(0),
            last_request_at: Mutex::new(None),
            connections: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            subs: Mutex::new(HashMap::new()),
            messages: Mutex::new(VecDeque::new()),
            browsers: Mutex::new(websocket::Browsers::default()),
            hellos: AtomicU64::new(0),
        });
        let ws_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(TestingError::Bind)?;
        let ws_addr = ws_listener.local_addr().map_err(TestingError::Bind)?;
        let (shutdown, stop) = watch::channel(());
        let https = http_service::accept_loop(listener, acceptor, Arc::clone(&state), stop.clone());
        let ws = websocket::accept_loop(ws_listener, Arc::clone(&state), stop);
        let task = runtime.spawn(async move {
            tokio::join!(https, ws);
        });
        Ok(Self {
            state,
            addr,
            ws_addr,
            cert_der,
            cert_pem,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// Stops accepting, closes every connection, and waits until the
    /// listening socket is closed. Dropping the service does the same
    /// without waiting.
    pub async fn shutdown(mut self) {
        drop(self.shutdown.take());
        if let Some(task) = self.task.take() {
            // The task returns (or was cancelled); either way it is over.
            let _ = task.await;
        }
    }

    /// `https://127.0.0.1:<port>`: the VAPID audience for its subscriptions.
    #[must_use]
    pub fn origin(&self) -> String {
        self.state.origin.clone()
    }

    /// The address it listens on.
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The self-signed certificate, PEM: add it to a sender's trusted roots.
    #[must_use]
    pub fn root_certificate_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The self-signed certificate, DER.
    #[must_use]
    pub fn root_certificate_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    /// The endpoint policy that admits this service: the strict default
    /// plus loopback addresses.
    #[must_use]
    pub fn policy(&self) -> EndpointPolicy {
        EndpointPolicy::new().danger_allow_loopback(true)
    }

    /// A sender builder that trusts this service's certificate and admits
    /// loopback; set timeouts on it, then build.
    pub fn sender_builder(&self) -> ReqwestSenderBuilder {
        ReqwestSender::builder()
            .policy(self.policy())
            .tls_root_certificate_pem(&self.cert_pem)
    }

    /// A ready client for this service, signing with `signer`.
    ///
    /// # Errors
    /// [`TestingError::Tls`] when the sender cannot be built.
    pub fn client(&self, signer: VapidSigner) -> Result<PushClient<ReqwestSender>, TestingError> {
        let sender = self
            .sender_builder()
            .build()
            .map_err(|e| TestingError::Tls(e.to_string()))?;
        Ok(PushClient::with_sender(sender, signer).policy(self.policy()))
    }

    /// Subscribes as a browser does with `applicationServerKey` set to
    /// `vapid_public_key_b64` (65 octets, base64url or standard base64):
    /// fresh user agent keys and auth secret, and an endpoint
    /// `https://127.0.0.1:<port>/push/<random id>` that accepts only pushes
    /// signed by that VAPID key.
    ///
    /// # Errors
    /// [`TestingError::VapidKey`] for a key that is not a P-256 point;
    /// [`TestingError::Crypto`] when the system RNG fails.
    pub fn subscribe(&self, vapid_public_key_b64: &str) -> Result<Subscription, TestingError> {
        let vapid =
            UaPublicKey::from_base64(vapid_public_key_b64).map_err(TestingError::VapidKey)?;
        let ua = UaKeyPair::generate()?;
        let auth = AuthSecret::generate()?;
        let id = random_id()?;
        let endpoint = Endpoint::parse(&format!("{}/push/{id}", self.state.origin))?;
        let sub = Subscription::new(endpoint, ua.public_key().clone(), auth.clone());
        self.state.subs().insert(
            id,
            SubState {
                ua,
                auth,
                vapid_key: *vapid.as_bytes(),
                fault: None,
                received: VecDeque::new(),
                first_attempts: FirstAttempts::default(),
            },
        );
        Ok(sub)
    }

    /// The messages delivered to `sub`, oldest first (empty for a
    /// subscription of another service).
    #[must_use]
    pub fn received(&self, sub: &Subscription) -> Vec<ReceivedMessage> {
        self.id_of(sub)
            .and_then(|id| {
                self.state
                    .subs()
                    .get(id)
                    .map(|s| s.received.iter().cloned().collect())
            })
            .unwrap_or_default()
    }

    /// The messages delivered to `sub` since the last call, oldest first,
    /// removed from the service: for long runs, whose messages would
    /// otherwise pile up (up to 10,000 per subscription).
    pub fn take_received(&self, sub: &Subscription) -> Vec<ReceivedMessage> {
        self.id_of(sub)
            .and_then(|id| {
                self.state
                    .subs()
                    .get_mut(id)
                    .map(|s| s.received.drain(..).collect())
            })
            .unwrap_or_default()
    }

    /// Answers every push to `sub` with `fault` until
    /// [`clear_fault`](Self::clear_fault). Does nothing for a subscription of
    /// another service.
    ///
    /// `sub` may also be a browser's subscription (made over the
    /// [WebSocket](Self::websocket_url)), whose JSON the browser gave you:
    /// [`Fault::TamperInTransit`] is for those, and [`Fault::FirstAttempt`]
    /// applies only to subscriptions made by [`subscribe`](Self::subscribe).
    pub fn set_fault(&self, sub: &Subscription, fault: Fault) {
        self.set_fault_to(sub, Some(fault));
    }

    /// Serves `sub` normally again.
    pub fn clear_fault(&self, sub: &Subscription) {
        self.set_fault_to(sub, None);
    }

    fn set_fault_to(&self, sub: &Subscription, fault: Option<Fault>) {
        let Some(id) = self.id_of(sub) else { return };
        if let Some(s) = self.state.subs().get_mut(id) {
            s.fault = fault;
            return;
        }
        self.state.browsers().set_fault(id, fault);
    }

    /// `ws://127.0.0.1:<port>/`: the WebSocket on which the service speaks
    /// Mozilla's Web Push protocol (see [Firefox](self#firefox)),
    /// for Firefox's `dom.push.serverURL`. Plain `ws:` on loopback.
    #[must_use]
    pub fn websocket_url(&self) -> String {
        format!("ws://{}/", self.ws_addr)
    }

    /// How many `hello` handshakes browsers have made on the WebSocket. Firefox
    /// connects late after it starts; a `pushManager.subscribe()` made before
    /// its `hello` never settles, so wait for this to be non-zero.
    #[must_use]
    pub fn hello_count(&self) -> u64 {
        self.state.hellos.load(Ordering::Relaxed)
    }

    /// Whether a browser is connected to the WebSocket (and has said `hello`).
    #[must_use]
    pub fn browser_connected(&self) -> bool {
        self.state.browsers().connected()
    }

    /// The codes with which the browser acknowledged the messages relayed to
    /// the browser subscription `sub`, oldest first: `ack` 100 (delivered),
    /// 101 (decryption failed), 102 (not delivered), `nack` 301–303 (the
    /// service worker failed). Empty for other subscriptions.
    #[must_use]
    pub fn browser_acks(&self, sub: &Subscription) -> Vec<u16> {
        self.id_of(sub)
            .map(|id| self.state.browsers().acks(id))
            .unwrap_or_default()
    }

    /// How many messages for the browser subscription `sub` are held:
    /// relayed or waiting for a browser, not yet acknowledged, TTL not over.
    #[must_use]
    pub fn browser_held(&self, sub: &Subscription) -> usize {
        self.id_of(sub)
            .map_or(0, |id| self.state.browsers().held(id))
    }

    /// Every request seen so far, whatever its path or outcome.
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// When the latest request arrived (before any fault or check): for
    /// tests of retry delays.
    #[must_use]
    pub fn last_request_at(&self) -> Option<Instant> {
        *self
            .state
            .last_request_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections accepted so far on the HTTPS side (TCP, each then a TLS
    /// handshake).
    #[must_use]
    pub fn connection_count(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Requests being handled now: counted from when a request reaches the
    /// service until its response is handed over or its handler is
    /// dropped. A request held by [`Fault::Delay`] and abandoned by its
    /// client (a timeout resets its HTTP/2 stream or closes its HTTP/1.1
    /// connection) is dropped by the service, unanswered and unrecorded, so
    /// once every client has given up this is 0: a test can wait for that
    /// rather than for a delay to pass.
    #[must_use]
    pub fn requests_in_flight(&self) -> u64 {
        self.state.in_flight.load(Ordering::Relaxed)
    }

    /// The subscription id, when `sub` belongs to this service.
    fn id_of<'a>(&self, sub: &'a Subscription) -> Option<&'a str> {
        if sub.endpoint().origin() != self.state.origin {
            return None;
        }
        subscription_id(sub.endpoint().uri().path())
    }
}

impl Drop for LocalPushService {
    fn drop(&mut self) {
        // Dropping the sender ends the accept loop and every connection.
        drop(self.shutdown.take());
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// 16 random octets, base64url.
fn random_id() -> Result<String, CryptoError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Rng)?;
    Ok(b64::encode(&bytes))
}

fn subscription_id(path: &str) -> Option<&str> {
    path.strip_prefix("/push/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

mod certs;
mod faults;
mod http_service;
#[cfg(test)]
mod tests;
mod websocket;

pub use faults::Fault;
use faults::FirstAttempts;
