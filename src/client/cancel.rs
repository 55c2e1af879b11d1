//! Cancelling an undelivered message (RFC 8030, Section 6.2): `DELETE` on
//! the push message resource, the `Location` of the 201 Created.
//!
//! The `Location` comes from the push service, so it is untrusted input: it
//! is used only when it is an absolute `https` URL (or `http` when the
//! policy allows it), or a path on the endpoint's origin; at most
//! [`MAX_LOCATION_LEN`] octets; without userinfo; on exactly the origin
//! (scheme, host, port) of the subscription's endpoint; and passes the
//! client's [`EndpointPolicy`](crate::policy::EndpointPolicy). Anything
//! else is refused before any connection is made.

use core::fmt;
use std::time::SystemTime;

use http::StatusCode;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderValue};

use super::PushClient;
use crate::outcome::{self, Delivered, SendError};
use crate::policy::PolicyError;
use crate::sender::{PushResponse, Sender};
use crate::subscription::Endpoint;
use crate::vapid::Audience;

/// The longest `Location` used for [`PushClient::cancel`], in octets (the
/// endpoint limit, [`crate::subscription::MAX_ENDPOINT_LEN`]).
pub const MAX_LOCATION_LEN: usize = crate::subscription::MAX_ENDPOINT_LEN;

/// What the push service said to a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// 2xx (autopush answers 204 No Content): the message was deleted
    /// before delivery.
    Cancelled,
    /// 404 or 410: no such message any more: delivered, expired, or
    /// cancelled already. Nothing to do.
    NotFound,
    /// 405 Method Not Allowed or 501 Not Implemented: this push service
    /// does not support cancelling.
    NotSupported,
}

/// Why a cancel failed. `Display` never shows the `Location` or the
/// endpoint.
#[derive(Debug)]
#[non_exhaustive]
pub enum CancelError {
    /// The 201 carried no usable `Location` (absent, not visible ASCII), or
    /// the [`Delivered`] did not come from a [`PushClient`], so there is no
    /// endpoint origin to check it against.
    NoLocation,
    /// The `Location` was refused before any connection: the reason names
    /// the rule broken.
    LocationRefused(&'static str),
    /// The `Location` broke the client's endpoint policy.
    Policy(PolicyError),
    /// The `DELETE` failed: no response, or a status other than those of
    /// [`CancelOutcome`].
    Send(SendError),
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoLocation => f.write_str("cannot cancel: no push message resource (Location)"),
            Self::LocationRefused(why) => write!(f, "cannot cancel: Location refused: {why}"),
            Self::Policy(e) => write!(f, "cannot cancel: {e}"),
            Self::Send(e) => write!(f, "cancel failed: {e}"),
        }
    }
}

impl std::error::Error for CancelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Policy(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::NoLocation | Self::LocationRefused(_) => None,
        }
    }
}

/// The message resource to `DELETE`, checked as the [module](self) says.
fn message_resource(delivered: &Delivered) -> Result<Endpoint, CancelError> {
    let origin = delivered.endpoint_origin().ok_or(CancelError::NoLocation)?;
    let location = delivered.location().ok_or(CancelError::NoLocation)?;
    if location.len() > MAX_LOCATION_LEN {
        return Err(CancelError::LocationRefused("longer than 4096 octets"));
    }
    let absolute;
    let location = if location.starts_with('/') && !location.starts_with("//") {
        absolute = format!("{origin}{location}");
        absolute.as_str()
    } else {
        location
    };
    let resource = Endpoint::parse(location)
        .map_err(|_| CancelError::LocationRefused("not an absolute http or https URL"))?;
    if resource
        .uri()
        .authority()
        .is_some_and(|a| a.as_str().contains('@'))
    {
        return Err(CancelError::LocationRefused("carries userinfo"));
    }
    if !resource.origin().eq_ignore_ascii_case(origin) {
        return Err(CancelError::LocationRefused(
            "not on the origin of the subscription's endpoint",
        ));
    }
    Ok(resource)
}

impl<S: Sender> PushClient<S> {
    /// Cancels a message the push service accepted but has not delivered
    /// yet: `DELETE` on its `Location` (RFC 8030, Section 6.2), signed with
    /// VAPID for the endpoint's origin. Mozilla autopush supports it; other
    /// services may answer [`CancelOutcome::NotFound`] or
    /// [`CancelOutcome::NotSupported`].
    ///
    /// The `Location` is checked first (see the module docs): it must be
    /// on the origin of the endpoint the message was sent to and pass this
    /// client's policy, or nothing is sent.
    ///
    /// ```no_run
    /// # async fn run(client: webpush::PushClient, sub: webpush::Subscription) -> Result<(), Box<dyn std::error::Error>> {
    /// use webpush::client::CancelOutcome;
    /// use webpush::request::PushOptions;
    ///
    /// let delivered = client.send(&sub, b"meeting at 3", &PushOptions::new().ttl(3600)).await?;
    /// // The meeting was called off before the phone came online:
    /// match client.cancel(&delivered).await? {
    ///     CancelOutcome::Cancelled => println!("withdrawn"),
    ///     CancelOutcome::NotFound => println!("already delivered or expired"),
    ///     CancelOutcome::NotSupported | _ => println!("this push service cannot cancel"),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`CancelError::NoLocation`], [`CancelError::LocationRefused`] or
    /// [`CancelError::Policy`] before any connection;
    /// [`CancelError::Send`] when the request fails or the service answers
    /// another status.
    pub async fn cancel(&self, delivered: &Delivered) -> Result<CancelOutcome, CancelError> {
        let resource = message_resource(delivered)?;
        self.policy
            .check_endpoint(&resource)
            .map_err(CancelError::Policy)?;
        let header = self
            .signer
            .header_for(&Audience::from_endpoint(&resource))
            .map_err(|e| CancelError::Send(SendError::Vapid(e)))?;
        let mut authorization = HeaderValue::from_str(header.authorization())
            .map_err(|_| CancelError::Send(SendError::InvalidMessage("VAPID header value")))?;
        authorization.set_sensitive(true);
        let request = http::Request::delete(resource.uri().clone())
            .header(CONTENT_LENGTH, 0)
            .header(AUTHORIZATION, authorization)
            .body(Vec::new())
            .map_err(|_| CancelError::Send(SendError::InvalidMessage("cancel request")))?;
        let response = self
            .sender
            .send(request)
            .await
            .map_err(|e| CancelError::Send(SendError::Transport(e)))?;
        outcome_of(response)
    }
}

fn outcome_of(response: PushResponse) -> Result<CancelOutcome, CancelError> {
    match response.status {
        s if s.is_success() => Ok(CancelOutcome::Cancelled),
        StatusCode::NOT_FOUND | StatusCode::GONE => Ok(CancelOutcome::NotFound),
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {
            Ok(CancelOutcome::NotSupported)
        }
        _ => match outcome::classify(response, SystemTime::now()) {
            Err(e) => Err(CancelError::Send(e)),
            // 2xx was matched above.
            Ok(_) => Ok(CancelOutcome::Cancelled),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn delivered(location: &str) -> Delivered {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::LOCATION,
            HeaderValue::from_str(location).unwrap(),
        );
        outcome::classify(
            PushResponse::new(StatusCode::CREATED, headers, Vec::new()),
            SystemTime::now(),
        )
        .unwrap()
        .with_origin(Some("https://push.example.net".to_owned()))
    }

    #[test]
    fn hostile_locations_are_refused() {
        let long = format!(
            "https://push.example.net/m/{}",
            "a".repeat(MAX_LOCATION_LEN)
        );
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("https://push.example.net/m/abc", None),
            ("/m/abc", None),
            ("https://PUSH.example.net/m/abc", None),
            ("https://push.example.net:443/m/abc", None),
            ("https://evil.example/m/abc", Some("not on the origin of the subscription's endpoint")),
            ("https://push.example.net.evil.example/m/abc", Some("not on the origin of the subscription's endpoint")),
            ("https://push.example.net:8443/m/abc", Some("not on the origin of the subscription's endpoint")),
            ("http://push.example.net/m/abc", Some("not on the origin of the subscription's endpoint")),
            ("https://user:pw@push.example.net/m/abc", Some("carries userinfo")),
            ("https://169.254.169.254/latest/meta-data", Some("not on the origin of the subscription's endpoint")),
            ("//evil.example/m/abc", Some("not an absolute http or https URL")),
            ("file:///etc/passwd", Some("not an absolute http or https URL")),
            ("m/abc", Some("not an absolute http or https URL")),
            (&long, Some("longer than 4096 octets")),
        ];
        for (i, (location, want)) in cases.iter().enumerate() {
            let got = message_resource(&delivered(location));
            match (got, want) {
                (Ok(r), None) => assert!(
                    r.origin().eq_ignore_ascii_case("https://push.example.net"),
                    "case {i}"
                ),
                (Err(CancelError::LocationRefused(why)), Some(w)) => {
                    assert_eq!(why, *w, "case {i}")
                }
                (other, _) => panic!("case {i} {location}: {other:?}"),
            }
        }
    }

    #[test]
    fn no_location_or_no_origin() {
        let bare = outcome::classify(
            PushResponse::new(StatusCode::CREATED, HeaderMap::new(), Vec::new()),
            SystemTime::now(),
        )
        .unwrap();
        assert!(matches!(
            message_resource(&bare),
            Err(CancelError::NoLocation)
        ));
        let no_origin = delivered("https://push.example.net/m/abc").with_origin(None);
        assert!(matches!(
            message_resource(&no_origin),
            Err(CancelError::NoLocation)
        ));
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let r = |s: u16| {
            PushResponse::new(
                StatusCode::from_u16(s).unwrap(),
                HeaderMap::new(),
                Vec::new(),
            )
        };
        assert_eq!(outcome_of(r(204)).unwrap(), CancelOutcome::Cancelled);
        assert_eq!(outcome_of(r(200)).unwrap(), CancelOutcome::Cancelled);
        assert_eq!(outcome_of(r(404)).unwrap(), CancelOutcome::NotFound);
        assert_eq!(outcome_of(r(410)).unwrap(), CancelOutcome::NotFound);
        assert_eq!(outcome_of(r(405)).unwrap(), CancelOutcome::NotSupported);
        assert_eq!(outcome_of(r(501)).unwrap(), CancelOutcome::NotSupported);
        assert!(matches!(
            outcome_of(r(401)),
            Err(CancelError::Send(SendError::VapidRejected { .. }))
        ));
        assert!(matches!(
            outcome_of(r(503)),
            Err(CancelError::Send(SendError::ServerError { .. }))
        ));
    }

    #[test]
    fn error_display_never_shows_the_location() {
        let e = message_resource(&delivered("https://evil.example/m/SECRETCAP")).unwrap_err();
        assert!(!e.to_string().contains("SECRETCAP"), "{e}");
        assert!(!e.to_string().contains("evil"), "{e}");
    }
}
