//! Faults of [`LocalPushService`](super::LocalPushService): the misbehaviours
//! a test sets on one subscription ([`Fault`]), the memory of first attempts
//! for [`Fault::FirstAttempt`], and the responses a fault answers with.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, SizeHint};
use sha2::{Digest, Sha256};

use super::http_service::{ResBody, refuse, response};

/// Message digests remembered per subscription for [`Fault::FirstAttempt`];
/// older ones are forgotten first.
const MAX_FIRST_ATTEMPTS: usize = 10_000;

/// A misbehaviour to answer one subscription's pushes with, from
/// [`LocalPushService::set_fault`](super::LocalPushService::set_fault) until [`LocalPushService::clear_fault`](super::LocalPushService::clear_fault).
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
    /// Accept the push (`201 Created`) after every check, but flip the last
    /// octet of its body (part of the last record's AEAD tag) on the way to
    /// the user agent, as a corrupting network or push service would. A
    /// browser subscription's browser then fails to decrypt it (Firefox
    /// acknowledges it with code 101). For a subscription made by
    /// [`LocalPushService::subscribe`](super::LocalPushService::subscribe),
    /// whose user agent is the service itself, the push is refused `400
    /// DecryptionFailed`. An empty body (a tickle) goes through unchanged.
    TamperInTransit,
}

/// The digests of the bodies that met a [`Fault::FirstAttempt`], oldest
/// first, at most [`MAX_FIRST_ATTEMPTS`].
#[derive(Default)]
pub(super) struct FirstAttempts {
    order: VecDeque<[u8; 32]>,
    seen: HashSet<[u8; 32]>,
}

impl FirstAttempts {
    /// Whether `body` comes for the first time; remembers it.
    pub(super) fn first(&mut self, body: &[u8]) -> bool {
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

pub(super) fn fault_response(fault: Fault) -> Response<ResBody> {
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
        Fault::Delay(_)
        | Fault::DropConnection
        | Fault::FirstAttempt(_)
        | Fault::TamperInTransit => refuse(
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

/// A body of `remaining` octets of `x`, produced in chunks.
#[derive(Debug)]
pub(super) struct Filler {
    remaining: usize,
}

/// `body` with its last octet flipped (for [`Fault::TamperInTransit`]).
pub(super) fn tamper(body: &Bytes) -> Bytes {
    let mut tampered = body.to_vec();
    if let Some(last) = tampered.last_mut() {
        *last ^= 0x01;
    }
    tampered.into()
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
