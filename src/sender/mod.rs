//! The I/O layer: a [`Sender`] carries a built `http::Request` to the push
//! service and brings back its response. Nothing else in the crate does I/O.
//!
//! The default implementation is [`ReqwestSender`] (feature `client`);
//! plug in any other HTTP client by implementing [`Sender`].

use core::fmt;
use core::future::Future;
use core::pin::Pin;

use http::{HeaderMap, StatusCode};

#[cfg(feature = "__sender")]
mod reqwest_sender;
#[cfg(feature = "__sender")]
pub use reqwest_sender::{BuildError, ReqwestSender, ReqwestSenderBuilder};

/// The largest response body kept; the rest is dropped unread or discarded.
/// Push services answer with a few hundred octets at most.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The most response header fields the default sender (`ReqwestSender`,
/// feature `client`) accepts over HTTP/1.1; a response with more fails as a
/// transport error. Push services send a dozen or two. Over HTTP/1.1 the
/// whole response head is also bounded by hyper's read buffer (about
/// 400 KiB).
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// The largest response header list (decoded names and values plus 32
/// octets per field, RFC 9113 `SETTINGS_MAX_HEADER_LIST_SIZE`) the default
/// sender accepts over HTTP/2; a larger one fails the request.
pub const MAX_RESPONSE_HEADER_LIST_SIZE: u32 = 16 * 1024;

/// A boxed, `Send` future: what [`Sender::send`] returns, so that the trait
/// works both as a generic bound and as `dyn Sender`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The push service's answer: status, headers and at most
/// [`MAX_RESPONSE_BODY`] octets of body.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, truncated to [`MAX_RESPONSE_BODY`] octets.
    pub body: Vec<u8>,
    /// Whether the body was longer than what is kept.
    pub body_truncated: bool,
}

impl PushResponse {
    /// A response with the given parts; `body` is truncated to the limit.
    #[must_use]
    pub fn new(status: StatusCode, headers: HeaderMap, mut body: Vec<u8>) -> Self {
        let body_truncated = body.len() > MAX_RESPONSE_BODY;
        body.truncate(MAX_RESPONSE_BODY);
        Self {
            status,
            headers,
            body,
            body_truncated,
        }
    }
}

/// Headers whose values `Debug` never prints: they may carry URLs at the
/// push service (the message's `Location`) or session state. Values of any
/// header that contain `://` are not printed either.
const REDACTED_HEADERS: &[http::header::HeaderName] = &[
    http::header::LOCATION,
    http::header::CONTENT_LOCATION,
    http::header::LINK,
    http::header::SET_COOKIE,
];

struct HeadersDebug<'a>(&'a HeaderMap);

impl fmt::Debug for HeadersDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, value) in self.0 {
            // Any other header may echo the endpoint too (WNS's
            // `X-WNS-Error-Description` does): values holding a URL are
            // redacted as well.
            if REDACTED_HEADERS.contains(name) || contains_url(value.as_bytes()) {
                m.entry(name, &format_args!("<redacted>"));
            } else {
                m.entry(name, value);
            }
        }
        m.finish()
    }
}

/// Whether `value` holds `://`, the mark of an absolute URL.
fn contains_url(value: &[u8]) -> bool {
    value.windows(3).any(|w| w == b"://")
}

impl fmt::Debug for PushResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushResponse")
            .field("status", &self.status)
            .field("headers", &HeadersDebug(&self.headers))
            .field("body_len", &self.body.len())
            .field("body_truncated", &self.body_truncated)
            .finish()
    }
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connect or total timeout elapsed.
    Timeout,
    /// Connecting failed (refused, reset, unreachable, DNS).
    Connect,
    /// The TLS handshake or certificate verification failed.
    Tls,
    /// The endpoint policy refused an address at connect time.
    Policy,
    /// The connection dropped or the response was malformed.
    Other,
}

/// A failure to get any HTTP response. `Display` never contains the URL.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A transport error of `kind`, with its cause (which must not carry the
    /// endpoint URL: strip it first, e.g. with reqwest's `without_url`).
    #[must_use]
    pub fn new(
        kind: TransportErrorKind,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self { kind, source }
    }

    /// What kind of failure.
    #[must_use]
    pub const fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether a timeout elapsed.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.kind == TransportErrorKind::Timeout
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Tls => "TLS failed",
            TransportErrorKind::Policy => "endpoint address refused by policy",
            TransportErrorKind::Other => "transport error",
        };
        f.write_str(what)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Carries a built push request to the push service.
///
/// Implement it to use your own HTTP client. The request is a standard
/// `http::Request` with the body already encrypted and every header set; an
/// implementation must not follow redirects, and should read at most
/// [`MAX_RESPONSE_BODY`] octets of the response body.
///
/// ```
/// use webpush::sender::{BoxFuture, PushResponse, Sender, TransportError};
///
/// /// A sender that accepts everything, for a dry run.
/// struct DryRun;
///
/// impl Sender for DryRun {
///     fn send(&self, _request: http::Request<Vec<u8>>) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
///         Box::pin(async { Ok(PushResponse::new(http::StatusCode::CREATED, Default::default(), Vec::new())) })
///     }
/// }
///
/// let _boxed: Box<dyn Sender> = Box::new(DryRun);
/// ```
pub trait Sender: Send + Sync {
    /// Sends one request and returns the response.
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>>;
}

impl<S: Sender + ?Sized> Sender for std::sync::Arc<S> {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        (**self).send(request)
    }
}

impl<S: Sender + ?Sized> Sender for Box<S> {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        (**self).send(request)
    }
}
