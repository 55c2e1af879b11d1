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
//! | body at most [`MAX_BODY_LEN`] octets (`Content-Length` and as read) | 413 | `PayloadTooLarge` |
//! | a non-empty body has `Content-Encoding: aes128gcm` (or, with feature `aesgcm`, `aesgcm`) | 415 | `UnsupportedContentEncoding` |
//! | `aesgcm` only: `Encryption` has one `salt` (16 octets) and a valid `rs` | 400 | `InvalidEncryptionHeader` |
//! | `aesgcm` only: `Crypto-Key` has one `dh` that is a P-256 point | 400 | `InvalidCryptoKeyHeader` |
//! | `Authorization` present | 401 | `MissingAuthorization` |
//! | `vapid t=…, k=…` verifies ([`token::verify`]): signature, `exp` in the future and at most 24 h ahead; with feature `aesgcm` also `WebPush <jwt>` with the key in `Crypto-Key: p256ecdsa=…`, checked the same way | 401 | `BadJwtToken` (`ExpiredJwtToken` when expired) |
//! | `k` is the key given to [`LocalPushService::subscribe`] | 403 | `VapidKeyMismatch` |
//! | `aud` is exactly [`LocalPushService::origin`] | 403 | `BadJwtToken` |
//! | `sub` is a `mailto:` address or an `https:` URL ([`Subject::parse`], unchanged) | 403 | `BadJwtToken` |
//! | the body decrypts with the subscription's keys (`aesgcm`: with the salt, record size and `dh` of its headers) | 400 | `DecryptionFailed` |
//!
//! A request that passes is recorded (see [`LocalPushService::received`] and
//! [`LocalPushService::take_received`]) and
//! answered `201 Created` with `Location: https://127.0.0.1:<port>/message/<id>`
//! and the `TTL` echoed. An empty body is a valid "tickle" push and needs no
//! encryption headers. Any other path gets 404.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName,
    HeaderValue, LOCATION, RETRY_AFTER,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::b64;
use crate::client::PushClient;
use crate::message::{
    self, AuthSecret, CryptoError, KeyError, MAX_BODY_LEN, UaKeyPair, UaPublicKey,
};
use crate::policy::EndpointPolicy;
use crate::request::ContentEncoding;
use crate::sender::{ReqwestSender, ReqwestSenderBuilder};
use crate::subscription::{Endpoint, Subscription, SubscriptionError};
use crate::vapid::VapidSigner;
use crate::vapid::token::{self, Subject, VapidError};

/// Connections served at once; more are closed as soon as accepted.
const MAX_CONNECTIONS: usize = 256;
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for an HTTP/1.1 request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages kept per subscription; older ones are dropped first.
const MAX_RECEIVED: usize = 10_000;
/// Message digests remembered per subscription for [`Fault::FirstAttempt`];
/// older ones are forgotten first.
const MAX_FIRST_ATTEMPTS: usize = 10_000;

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

/// A misbehaviour to answer one subscription's pushes with, from
/// [`LocalPushService::set_fault`] until [`LocalPushService::clear_fault`].
/// Faults apply once the subscription is found, before any validation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `410 Gone`: the subscription has expired or was unsubscribed.
    Gone,
    /// `404 Not Found`.
    NotFound,
    /// `429 Too Many Requests` with this `Retry-After` value, as given
    /// (delta-seconds or an HTTP-date). A value that is not a valid header
    /// value is left out.
    RateLimited {
        /// The `Retry-After` value.
        retry_after: String,
    },
    /// `500 Internal Server Error`, with a `Retry-After` when given.
    ServerError {
        /// The `Retry-After` value, if any.
        retry_after: Option<String>,
    },
    /// Any status with this body (e.g. 413, 400 with a JSON reason, 406,
    /// 503). A status outside 200..=999 is answered as 500. The body is sent
    /// as `application/json` when it parses as JSON, else `text/plain`.
    Status {
        /// The status code.
        status: u16,
        /// The response body.
        body: String,
    },
    /// Handle the request normally, but only after this delay.
    Delay(Duration),
    /// Close the connection without answering.
    DropConnection,
    /// Answer with this status and a body of `len` octets (`x`s), for tests
    /// of response size limits. A status outside 200..=999 is answered as 500.
    OversizedBody {
        /// The status code.
        status: u16,
        /// The body length.
        len: usize,
    },
    /// A transient failure: the first request carrying a given body (a
    /// message: each has its own salt and ephemeral key) gets the inner
    /// fault, and every later request with the same body, such as a retry,
    /// is handled normally. The last 10,000 bodies are remembered (as
    /// SHA-256 digests) per subscription. Empty bodies (tickles) are all
    /// the same message.
    FirstAttempt(Box<Fault>),
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

/// The digests of the bodies that met a [`Fault::FirstAttempt`], oldest
/// first, at most [`MAX_FIRST_ATTEMPTS`].
#[derive(Default)]
struct FirstAttempts {
    order: VecDeque<[u8; 32]>,
    seen: HashSet<[u8; 32]>,
}

impl FirstAttempts {
    /// Whether `body` comes for the first time; remembers it.
    fn first(&mut self, body: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(body).into();
        if !self.seen.insert(digest) {
            return false;
        }
        self.order.push_back(digest);
        while self.order.len() > MAX_FIRST_ATTEMPTS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// State shared between the handle and the server tasks.
struct State {
    origin: String,
    requests: AtomicU64,
    last_request_at: Mutex<Option<Instant>>,
    subs: Mutex<HashMap<String, SubState>>,
}

impl State {
    fn subs(&self) -> MutexGuard<'_, HashMap<String, SubState>> {
        // Nothing panics while holding the lock; recover anyway.
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An HTTPS push service on `127.0.0.1`, running on the current tokio
/// runtime until dropped or [`shutdown`](Self::shutdown). See the
/// [module documentation](self) for what it checks.
pub struct LocalPushService {
    state: Arc<State>,
    addr: SocketAddr,
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
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .map_err(|e| TestingError::Tls(e.to_string()))?;
        let cert_der = certified.cert.der().to_vec();
        let cert_pem = certified.cert.pem();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TestingError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .map_err(|e| TestingError::Tls(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(TestingError::Bind)?;
        let addr = listener.local_addr().map_err(TestingError::Bind)?;
        let state = Arc::new(State {
            origin: format!("https://127.0.0.1:{}", addr.port()),
            requests: AtomicU64::new(0),
            last_request_at: Mutex::new(None),
            subs: Mutex::new(HashMap::new()),
        });
        let (shutdown, stop) = watch::channel(());
        let task = runtime.spawn(accept_loop(listener, acceptor, Arc::clone(&state), stop));
        Ok(Self {
            state,
            addr,
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
    pub fn set_fault(&self, sub: &Subscription, fault: Fault) {
        if let Some(id) = self.id_of(sub)
            && let Some(s) = self.state.subs().get_mut(id)
        {
            s.fault = Some(fault);
        }
    }

    /// Serves `sub` normally again.
    pub fn clear_fault(&self, sub: &Subscription) {
        if let Some(id) = self.id_of(sub)
            && let Some(s) = self.state.subs().get_mut(id)
        {
            s.fault = None;
        }
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

// ---------------------------------------------------------------- server

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut stop: watch::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue; // Too many connections: close this one.
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            acceptor.clone(),
            Arc::clone(&state),
            stop.clone(),
            permit,
        ));
    }
}

async fn connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut stop: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
) {
    let exec = Exec(stop.clone());
    let serve = async move {
        let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
        else {
            return;
        };
        // A `Fault::DropConnection` handler wakes this to drop the connection.
        let kill = Arc::new(Notify::new());
        let service = {
            let kill = Arc::clone(&kill);
            service_fn(move |req| {
                let state = Arc::clone(&state);
                let kill = Arc::clone(&kill);
                async move { Ok::<_, Infallible>(handle(&state, &kill, req).await) }
            })
        };
        let mut builder = auto::Builder::new(exec);
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection(TokioIo::new(tls), service);
        tokio::select! {
            biased;
            () = kill.notified() => {}
            _ = conn => {}
        }
        // Dropping the connection closes the socket without an answer.
    };
    tokio::select! {
        _ = stop.changed() => {}
        () = serve => {}
    }
}

/// Spawns hyper's HTTP/2 stream tasks so that they end with the service.
#[derive(Clone)]
struct Exec(watch::Receiver<()>);

impl<F> hyper::rt::Executor<F> for Exec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let mut stop = self.0.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.changed() => {}
                _ = fut => {}
            }
        });
    }
}

type ResBody = Either<Full<Bytes>, Filler>;

async fn handle(state: &State, kill: &Notify, req: Request<Incoming>) -> Response<ResBody> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    *state
        .last_request_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    let Some(id) = subscription_id(req.uri().path()).map(str::to_owned) else {
        return refuse(StatusCode::NOT_FOUND, "UnknownSubscription", "no such path");
    };
    let (ua, auth, vapid_key, fault) = {
        let subs = state.subs();
        let Some(s) = subs.get(&id) else {
            return refuse(
                StatusCode::NOT_FOUND,
                "UnknownSubscription",
                "no such subscription",
            );
        };
        (s.ua.clone(), s.auth.clone(), s.vapid_key, s.fault.clone())
    };
    let (fault, req) = match fault {
        Some(Fault::FirstAttempt(inner)) => {
            let (parts, body) = req.into_parts();
            let body = match read_body(&parts.headers, body).await {
                Ok(body) => body,
                Err(refusal) => return refusal.into_response(),
            };
            let first = state
                .subs()
                .get_mut(&id)
                .is_some_and(|s| s.first_attempts.first(&body));
            let mut inner = *inner;
            while let Fault::FirstAttempt(next) = inner {
                inner = *next;
            }
            let req = Request::from_parts(parts, Either::Right(Full::new(body)));
            (first.then_some(inner), req)
        }
        fault => (fault, req.map(Either::Left)),
    };
    match fault {
        None => {}
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::DropConnection) => {
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(fault) => return fault_response(fault),
    }
    accept(state, &id, &ua, &auth, &vapid_key, req)
        .await
        .unwrap_or_else(Refusal::into_response)
}

/// A request body: as it arrives, or read already.
type ReqBody = Either<Incoming, Full<Bytes>>;

/// The checks of a push request, in order; `Err` is the refusal.
async fn accept(
    state: &State,
    id: &str,
    ua: &UaKeyPair,
    auth: &AuthSecret,
    vapid_key: &[u8; 65],
    req: Request<ReqBody>,
) -> Result<Response<ResBody>, Refusal> {
    if req.method() != Method::POST {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "push with POST",
        ));
    }
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;

    let ttl = parse_ttl(headers).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidTTL",
            "the TTL header is required and must be a non-negative integer",
        )
    })?;
    let urgency = optional_header(headers, "urgency").map_err(bad_header("InvalidUrgency"))?;
    if urgency
        .as_deref()
        .is_some_and(|u| !matches!(u, "very-low" | "low" | "normal" | "high"))
    {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidUrgency",
            "Urgency must be very-low, low, normal or high",
        ));
    }
    let topic = optional_header(headers, "topic").map_err(bad_header("InvalidTopic"))?;
    if topic.as_deref().is_some_and(|t| {
        t.is_empty()
            || t.len() > 32
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidTopic",
            "Topic must be 1 to 32 characters of the base64url alphabet",
        ));
    }

    let body = read_body(headers, body).await?;

    let content_encoding = optional_header(headers, CONTENT_ENCODING)
        .map_err(bad_header("UnsupportedContentEncoding"))?;
    let encoding = if body.is_empty() {
        None
    } else {
        Some(
            content_encoding
                .as_deref()
                .and_then(ContentEncoding::parse)
                .ok_or_else(|| {
                    Refusal::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "UnsupportedContentEncoding",
                        SUPPORTED_ENCODINGS,
                    )
                })?,
        )
    };
    #[cfg(feature = "aesgcm")]
    let legacy_params = match encoding {
        Some(ContentEncoding::Aesgcm) => Some(legacy_params(headers)?),
        _ => None,
    };

    check_vapid(headers, &state.origin, vapid_key)?;

    let payload = match encoding {
        None => Vec::new(),
        Some(ContentEncoding::Aes128Gcm) => message::decrypt(ua, auth, &body).map_err(|e| {
            Refusal::new(StatusCode::BAD_REQUEST, "DecryptionFailed", e.to_string())
        })?,
        #[cfg(feature = "aesgcm")]
        Some(ContentEncoding::Aesgcm) => {
            let params = legacy_params.ok_or_else(|| {
                Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "aesgcm parameters missing",
                )
            })?;
            crate::aesgcm::decrypt(ua, auth, &params, &body).map_err(|e| {
                Refusal::new(StatusCode::BAD_REQUEST, "DecryptionFailed", e.to_string())
            })?
        }
    };

    let message_id = random_id().map_err(|_| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "random number generator failed",
        )
    })?;
    {
        let mut subs = state.subs();
        if let Some(s) = subs.get_mut(id) {
            if s.received.len() >= MAX_RECEIVED {
                s.received.pop_front();
            }
            s.received.push_back(ReceivedMessage {
                payload,
                ttl,
                urgency,
                topic,
                body_len: body.len(),
                content_encoding,
                encoding,
                received_at: Instant::now(),
            });
        }
    }
    let mut resp = response(StatusCode::CREATED, Either::Left(Full::new(Bytes::new())));
    let location = format!("{}/message/{message_id}", state.origin);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp.headers_mut()
        .insert(HeaderName::from_static("ttl"), HeaderValue::from(ttl));
    Ok(resp)
}

/// The body, at most [`MAX_BODY_LEN`] octets (413 past that, declared or
/// read).
async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Bytes, Refusal>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "the body is over 4096 octets",
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = u64::try_from(MAX_BODY_LEN).unwrap_or(u64::MAX);
    if declared.is_some_and(|n| n > limit) || body.size_hint().lower() > limit {
        return Err(too_large());
    }
    // Never holds more than the limit: the read stops at the frame past it.
    match Limited::new(body, MAX_BODY_LEN).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadBody",
            "the body could not be read",
        )),
    }
}

/// What a `415` names as supported.
#[cfg(feature = "aesgcm")]
const SUPPORTED_ENCODINGS: &str = "a body needs Content-Encoding: aes128gcm (or the legacy aesgcm)";
#[cfg(not(feature = "aesgcm"))]
const SUPPORTED_ENCODINGS: &str = "a body needs Content-Encoding: aes128gcm";

/// The `Encryption` and `Crypto-Key` headers of an `aesgcm` request.
#[cfg(feature = "aesgcm")]
fn legacy_params(headers: &HeaderMap) -> Result<crate::aesgcm::Params, Refusal> {
    let header = |name: &'static str, reason: &'static str| {
        optional_header(headers, name)
            .map_err(bad_header(reason))?
            .ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    reason,
                    format!("an aesgcm body needs the {name} header"),
                )
            })
    };
    let encryption = header("encryption", "InvalidEncryptionHeader")?;
    let crypto_key = header("crypto-key", "InvalidCryptoKeyHeader")?;
    crate::aesgcm::Params::from_headers(&encryption, &crypto_key).map_err(|e| {
        let reason = match e {
            crate::aesgcm::AesgcmError::Header {
                header: "Encryption",
                ..
            }
            | crate::aesgcm::AesgcmError::RecordSizeTooSmall(_) => "InvalidEncryptionHeader",
            _ => "InvalidCryptoKeyHeader",
        };
        Refusal::new(StatusCode::BAD_REQUEST, reason, e.to_string())
    })
}

/// The VAPID checks: `Authorization: vapid t=…, k=…`, or with feature
/// `aesgcm` the legacy `Authorization: WebPush <jwt>` with the key in
/// `Crypto-Key: p256ecdsa=…`.
fn check_vapid(headers: &HeaderMap, origin: &str, vapid_key: &[u8; 65]) -> Result<(), Refusal> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "MissingAuthorization",
            "Authorization: vapid t=..., k=... is required",
        ));
    };
    let value = value.to_str().map_err(|_| {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "BadJwtToken",
            "Authorization is not visible ASCII",
        )
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let token_refused = |e: VapidError| {
        let reason = if e == VapidError::Expired {
            "ExpiredJwtToken"
        } else {
            "BadJwtToken"
        };
        Refusal::new(StatusCode::UNAUTHORIZED, reason, e.to_string())
    };
    #[cfg(feature = "aesgcm")]
    let legacy = value
        .trim_start()
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("webpush "));
    #[cfg(not(feature = "aesgcm"))]
    let legacy = false;
    let verified = if legacy {
        verify_legacy_vapid(headers, value, now)?.map_err(token_refused)?
    } else {
        token::verify(value, now).map_err(token_refused)?
    };
    if &verified.public_key != vapid_key {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "VapidKeyMismatch",
            "k is not the applicationServerKey of the subscription",
        ));
    }
    if verified.claims.aud != origin {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "BadJwtToken",
            "aud is not the origin of the push service",
        ));
    }
    let sub = &verified.claims.sub;
    if !Subject::parse(sub).is_ok_and(|s| s.as_str() == sub) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "BadJwtToken",
            "sub must be a mailto: address or an https: URL, not a local one",
        ));
    }
    Ok(())
}

/// `Authorization: WebPush <jwt>` with the key from `Crypto-Key:
/// p256ecdsa=…`; the outer `Err` is a refusal about `Crypto-Key`.
#[cfg(feature = "aesgcm")]
fn verify_legacy_vapid(
    headers: &HeaderMap,
    authorization: &str,
    now: u64,
) -> Result<Result<token::Verified, VapidError>, Refusal> {
    let refuse = |detail: String| Refusal::new(StatusCode::UNAUTHORIZED, "BadJwtToken", detail);
    let crypto_key = optional_header(headers, "crypto-key")
        .map_err(|()| refuse("Crypto-Key is not visible ASCII".to_owned()))?
        .unwrap_or_default();
    let k = crate::aesgcm::crypto_key_p256ecdsa(&crypto_key)
        .map_err(|e| refuse(e.to_string()))?
        .ok_or_else(|| {
            refuse("Authorization: WebPush needs Crypto-Key: p256ecdsa=...".to_owned())
        })?;
    Ok(token::verify_legacy(authorization, k, now))
}

#[cfg(not(feature = "aesgcm"))]
fn verify_legacy_vapid(
    _: &HeaderMap,
    _: &str,
    _: u64,
) -> Result<Result<token::Verified, VapidError>, Refusal> {
    Err(Refusal::new(
        StatusCode::UNAUTHORIZED,
        "BadJwtToken",
        "auth scheme is not vapid",
    ))
}

/// `Some(ttl)` for a header of ASCII digits; values past `u32::MAX` clamp.
fn parse_ttl(headers: &HeaderMap) -> Option<u32> {
    let value = headers.get("ttl")?.to_str().ok()?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        value
            .parse::<u64>()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(u32::MAX),
    )
}

/// A header as text; `Err` when present but not visible ASCII.
fn optional_header(
    headers: &HeaderMap,
    name: impl http::header::AsHeaderName,
) -> Result<Option<String>, ()> {
    headers
        .get(name)
        .map(|v| v.to_str().map(|s| s.trim().to_owned()).map_err(|_| ()))
        .transpose()
}

fn bad_header(reason: &'static str) -> impl Fn(()) -> Refusal {
    move |()| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            reason,
            "header is not visible ASCII",
        )
    }
}

fn fault_response(fault: Fault) -> Response<ResBody> {
    match fault {
        Fault::Gone => refuse(
            StatusCode::GONE,
            "Unregistered",
            "the subscription has expired or was unsubscribed",
        ),
        Fault::NotFound => refuse(
            StatusCode::NOT_FOUND,
            "UnknownSubscription",
            "no such subscription",
        ),
        Fault::RateLimited { retry_after } => {
            let mut resp = refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "too many requests",
            );
            set_retry_after(&mut resp, &retry_after);
            resp
        }
        Fault::ServerError { retry_after } => {
            let mut resp = refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "internal server error",
            );
            if let Some(retry_after) = retry_after {
                set_retry_after(&mut resp, &retry_after);
            }
            resp
        }
        Fault::Status { status, body } => {
            let json = serde_json::from_str::<serde_json::Value>(&body).is_ok();
            let mut resp = response(status_or_500(status), Either::Left(Full::new(body.into())));
            let content_type = if json {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            resp
        }
        Fault::OversizedBody { status, len } => response(
            status_or_500(status),
            Either::Right(Filler { remaining: len }),
        ),
        // Handled before answering; never reached with these.
        Fault::Delay(_) | Fault::DropConnection | Fault::FirstAttempt(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "unexpected fault",
        ),
    }
}

fn set_retry_after(resp: &mut Response<ResBody>, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(RETRY_AFTER, v);
    }
}

/// Informational (1xx) statuses would confuse the protocol layer.
fn status_or_500(status: u16) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn response(status: StatusCode, body: ResBody) -> Response<ResBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp
}

/// Why a push request is refused.
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    detail: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            detail: detail.into(),
        }
    }

    fn into_response(self) -> Response<ResBody> {
        let mut resp = refuse(self.status, self.reason, &self.detail);
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            resp.headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        }
        resp
    }
}

/// A refusal: `{"reason": …, "detail": …}`.
fn refuse(status: StatusCode, reason: &str, detail: &str) -> Response<ResBody> {
    let body = serde_json::json!({ "reason": reason, "detail": detail }).to_string();
    let mut resp = response(status, Either::Left(Full::new(body.into())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A body of `remaining` octets of `x`, produced in chunks.
#[derive(Debug)]
struct Filler {
    remaining: usize,
}

static FILL: [u8; 16 * 1024] = [b'x'; 16 * 1024];

impl Body for Filler {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(FILL.len());
        self.remaining -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&FILL[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(u64::try_from(self.remaining).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests;
