//! The HTTPS push endpoint of [`LocalPushService`](super::LocalPushService):
//! the accept loop and connections (hyper over tokio-rustls), and the checks
//! of a push request, in the order the [module documentation](super) lists.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName,
    HeaderValue, LOCATION,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use super::faults::{Fault, Filler, fault_response, tamper as tamper_body};
use super::websocket::{ChannelTarget, Relay};
use super::{MAX_RECEIVED, ReceivedMessage, State, random_id, subscription_id};
use crate::message::{self, AuthSecret, MAX_BODY_LEN, UaKeyPair};
use crate::request::ContentEncoding;
use crate::vapid::token::{self, Subject, VapidError};

/// Connections served at once; more are closed as soon as accepted.
const MAX_CONNECTIONS: usize = 256;
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for an HTTP/1.1 request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- server

pub(super) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut stop: watch::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    while let Some(tcp) = next_tcp(&listener, &mut stop).await {
        state.connections.fetch_add(1, Ordering::Relaxed);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue; // Too many connections: close this one.
        };
        tokio::spawn(connection(
            tcp,
            acceptor.clone(),
            Arc::clone(&state),
            stop.clone(),
            permit,
        ));
    }
}

/// The next TCP connection (`TCP_NODELAY` set), or `None` once `stop`
/// fires; shared by the HTTPS and the WebSocket accept loops.
pub(super) async fn next_tcp(
    listener: &TcpListener,
    stop: &mut watch::Receiver<()>,
) -> Option<TcpStream> {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return None,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, _)) => {
                let _ = tcp.set_nodelay(true);
                return Some(tcp);
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
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

pub(super) type ResBody = Either<Full<Bytes>, Filler>;

/// Counts a request in `State::in_flight` while its handler lives.
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicU64) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(state: &State, kill: &Notify, req: Request<Incoming>) -> Response<ResBody> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight::enter(&state.in_flight);
    *state
        .last_request_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    if let Some(id) = req.uri().path().strip_prefix("/message/") {
        return message_resource(state, req.method(), id);
    }
    let Some(id) = subscription_id(req.uri().path()).map(str::to_owned) else {
        return refuse(StatusCode::NOT_FOUND, "UnknownSubscription", "no such path");
    };
    let found = state
        .subs()
        .get(&id)
        .map(|s| (s.ua.clone(), s.auth.clone(), s.vapid_key, s.fault.clone()));
    let (target, fault) = match found {
        Some((ua, auth, vapid_key, fault)) => (
            Target::Local {
                ua,
                auth,
                vapid_key,
            },
            fault,
        ),
        None => match state.browsers().target(&id) {
            Some(ChannelTarget::Active { vapid_key, fault }) => {
                (Target::Browser { vapid_key }, fault)
            }
            Some(ChannelTarget::Unregistered) => {
                return refuse(StatusCode::GONE, "Unregistered", "the browser unsubscribed");
            }
            None => {
                return refuse(
                    StatusCode::NOT_FOUND,
                    "UnknownSubscription",
                    "no such subscription",
                );
            }
        },
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
    let mut tamper = false;
    match fault {
        None => {}
        Some(Fault::TamperInTransit) => tamper = true,
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::DropConnection) => {
            kill.notify_one();
            return std::future::pending().await;
        }
        Some(fault) => return fault_response(fault),
    }
    let accepted = match target {
        Target::Local {
            ua,
            auth,
            vapid_key,
        } => accept(state, &id, &ua, &auth, &vapid_key, req, tamper).await,
        Target::Browser { vapid_key } => relay(state, &id, vapid_key.as_ref(), req, tamper).await,
    };
    accepted.unwrap_or_else(Refusal::into_response)
}

/// Who decrypts a subscription's pushes.
enum Target {
    /// The service: it made the subscription and holds its keys.
    Local {
        ua: UaKeyPair,
        auth: AuthSecret,
        vapid_key: [u8; 65],
    },
    /// A browser, over the WebSocket: the service relays the body.
    Browser { vapid_key: Option<[u8; 65]> },
}

/// A request body: as it arrives, or read already.
type ReqBody = Either<Incoming, Full<Bytes>>;

/// A push request that passed the checks before VAPID.
struct Checked {
    ttl: u32,
    urgency: Option<String>,
    topic: Option<String>,
    body: Bytes,
    content_encoding: Option<String>,
    encoding: Option<ContentEncoding>,
    #[cfg(feature = "aesgcm")]
    legacy_params: Option<crate::aesgcm::Params>,
}

/// The checks of a push request up to VAPID, in order; `Err` is the refusal.
async fn check_request(req: Request<ReqBody>) -> Result<(HeaderMap, Checked), Refusal> {
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

    Ok((
        parts.headers.clone(),
        Checked {
            ttl,
            urgency,
            topic,
            body,
            content_encoding,
            encoding,
            #[cfg(feature = "aesgcm")]
            legacy_params,
        },
    ))
}

/// The checks of a push request, in order; `Err` is the refusal.
#[allow(clippy::too_many_arguments)]
async fn accept(
    state: &State,
    id: &str,
    ua: &UaKeyPair,
    auth: &AuthSecret,
    vapid_key: &[u8; 65],
    req: Request<ReqBody>,
    tamper: bool,
) -> Result<Response<ResBody>, Refusal> {
    let (headers, checked) = check_request(req).await?;
    check_vapid(&headers, &state.origin, Some(vapid_key))?;
    let body = if tamper {
        tamper_body(&checked.body)
    } else {
        checked.body
    };

    let payload = match checked.encoding {
        None => Vec::new(),
        Some(ContentEncoding::Aes128Gcm) => message::decrypt(ua, auth, &body).map_err(|e| {
            Refusal::new(StatusCode::BAD_REQUEST, "DecryptionFailed", e.to_string())
        })?,
        #[cfg(feature = "aesgcm")]
        Some(ContentEncoding::Aesgcm) => {
            let params = checked.legacy_params.ok_or_else(|| {
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

    let message_id = new_id()?;
    {
        let mut subs = state.subs();
        if let Some(s) = subs.get_mut(id) {
            if s.received.len() >= MAX_RECEIVED {
                s.received.pop_front();
            }
            s.received.push_back(ReceivedMessage {
                payload,
                ttl: checked.ttl,
                urgency: checked.urgency,
                topic: checked.topic,
                body_len: body.len(),
                content_encoding: checked.content_encoding,
                encoding: checked.encoding,
                received_at: Instant::now(),
            });
        }
    }
    remember(state, &message_id);
    Ok(created(state, &message_id, checked.ttl))
}

/// A fresh message id, or the refusal when the random number generator
/// fails.
fn new_id() -> Result<String, Refusal> {
    random_id().map_err(|_| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "random number generator failed",
        )
    })
}

/// Records a message resource for `DELETE` (the newest [`MAX_RECEIVED`]).
fn remember(state: &State, message_id: &str) {
    let mut messages = state
        .messages
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if messages.len() >= MAX_RECEIVED {
        messages.pop_front();
    }
    messages.push_back(message_id.to_owned());
}

/// `201 Created` for an accepted push: `Location` names the message
/// resource (RFC 8030, Section 5), `TTL` echoes the TTL kept (Section 5.2).
fn created(state: &State, message_id: &str, ttl: u32) -> Response<ResBody> {
    let mut resp = response(StatusCode::CREATED, Either::Left(Full::new(Bytes::new())));
    let location = format!("{}/message/{message_id}", state.origin);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp.headers_mut()
        .insert(HeaderName::from_static("ttl"), HeaderValue::from(ttl));
    resp
}

/// `DELETE /message/<id>` (RFC 8030, Section 6.2): 204 for a message
/// resource this service made and has not deleted yet (a relayed message
/// still held for an absent browser is dropped, never delivered), 404
/// otherwise; 405 for any other method.
fn message_resource(state: &State, method: &Method, id: &str) -> Response<ResBody> {
    if method != Method::DELETE {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "a message resource takes DELETE",
        );
    }
    let mut messages = state
        .messages
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match messages.iter().position(|m| m == id) {
        Some(at) => {
            messages.remove(at);
            drop(messages);
            state.browsers().forget(id);
            response(
                StatusCode::NO_CONTENT,
                Either::Left(Full::new(Bytes::new())),
            )
        }
        None => refuse(StatusCode::NOT_FOUND, "UnknownMessage", "no such message"),
    }
}

/// The checks for a browser's subscription, then the relay over the
/// WebSocket: everything [`accept`] checks but decryption (the browser holds
/// the keys).
async fn relay(
    state: &State,
    id: &str,
    vapid_key: Option<&[u8; 65]>,
    req: Request<ReqBody>,
    tamper: bool,
) -> Result<Response<ResBody>, Refusal> {
    let (headers, checked) = check_request(req).await?;
    check_vapid(&headers, &state.origin, vapid_key)?;
    let body = if tamper {
        tamper_body(&checked.body)
    } else {
        checked.body
    };
    let mut relay_headers = Vec::new();
    if let Some(encoding) = checked.encoding {
        relay_headers.push(("encoding", encoding.as_str().to_owned()));
    }
    #[cfg(feature = "aesgcm")]
    if checked.encoding == Some(ContentEncoding::Aesgcm) {
        for (name, key) in [("crypto-key", "crypto_key"), ("encryption", "encryption")] {
            if let Ok(Some(value)) = optional_header(&headers, name) {
                relay_headers.push((key, value));
            }
        }
    }
    let version = new_id()?;
    let relayed = state.browsers().relay(
        id,
        &version,
        &Relay {
            ttl: checked.ttl,
            body: &body,
            headers: relay_headers,
        },
    );
    if !relayed {
        return Err(Refusal::new(
            StatusCode::GONE,
            "Unregistered",
            "the browser unsubscribed",
        ));
    }
    remember(state, &version);
    Ok(created(state, &version, checked.ttl))
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
///
/// `vapid_key` is the subscription's `applicationServerKey`; a browser may
/// subscribe without one, and then pushes need no VAPID (as with autopush),
/// but a VAPID header that is sent must verify.
fn check_vapid(
    headers: &HeaderMap,
    origin: &str,
    vapid_key: Option<&[u8; 65]>,
) -> Result<(), Refusal> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        if vapid_key.is_none() {
            return Ok(());
        }
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
    if vapid_key.is_some_and(|k| &verified.public_key != k) {
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

pub(super) fn response(status: StatusCode, body: ResBody) -> Response<ResBody> {
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
pub(super) fn refuse(status: StatusCode, reason: &str, detail: &str) -> Response<ResBody> {
    let body = serde_json::json!({ "reason": reason, "detail": detail }).to_string();
    let mut resp = response(status, Either::Left(Full::new(body.into())));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
