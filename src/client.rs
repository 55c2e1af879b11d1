//! The push client: subscription + payload in, an outcome the caller can act
//! on out. Ties the layers together: endpoint policy, request building
//! (encryption and VAPID), the [`Sender`], and response classification.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::outcome::{self, Delivered, SendError};
use crate::policy::EndpointPolicy;
use crate::request::{self, BuildError, PushOptions};
use crate::sender::Sender;
use crate::subscription::Subscription;
use crate::vapid::{Audience, VapidSigner};

mod cancel;
pub use cancel::{CancelError, CancelOutcome, MAX_LOCATION_LEN};

/// Sends push messages. `Clone` and cheap to share: clones share the
/// sender's connection pool and the VAPID cache.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use webpush::request::PushOptions;
/// use webpush::vapid::{Subject, VapidKey, VapidSigner};
/// use webpush::{PushClient, Subscription};
///
/// let key = VapidKey::parse(&std::fs::read_to_string("vapid-key.pem")?)?;
/// let signer = VapidSigner::new(key, Subject::parse("mailto:ops@example.com")?);
/// let client = PushClient::new(signer)?;
///
/// let sub = Subscription::from_json(&std::fs::read_to_string("subscription.json")?)?;
/// match client.send(&sub, b"Hello!", &PushOptions::new().ttl(3600)).await {
///     Ok(_) => println!("delivered"),
///     Err(e) if e.is_gone() => println!("subscription expired: delete it"),
///     Err(e) => println!("failed: {e} (retry after {:?})", e.retry_after()),
/// }
/// # Ok(())
/// # }
/// ```
pub struct PushClient<S = DefaultSender> {
    sender: Arc<S>,
    signer: VapidSigner,
    policy: EndpointPolicy,
}

/// The default sender: [`crate::sender::ReqwestSender`] with feature
/// `client`.
#[cfg(feature = "__sender")]
pub type DefaultSender = crate::sender::ReqwestSender;
/// Without feature `client` there is no default sender: use
/// [`PushClient::with_sender`].
#[cfg(not(feature = "__sender"))]
pub type DefaultSender = Box<dyn Sender>;

impl<S> Clone for PushClient<S> {
    fn clone(&self) -> Self {
        Self {
            sender: Arc::clone(&self.sender),
            signer: self.signer.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S> core::fmt::Debug for PushClient<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PushClient")
            .field("signer", &self.signer)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "__sender")]
impl PushClient<crate::sender::ReqwestSender> {
    /// A client on the default [`crate::sender::ReqwestSender`] with the
    /// strict default [`EndpointPolicy`].
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS roots).
    pub fn new(signer: VapidSigner) -> Result<Self, crate::sender::BuildError> {
        Self::with_policy(signer, EndpointPolicy::new())
    }

    /// A client on the default sender, enforcing `policy` both on the URL
    /// (before anything is sent) and on every resolved address.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS roots).
    pub fn with_policy(
        signer: VapidSigner,
        policy: EndpointPolicy,
    ) -> Result<Self, crate::sender::BuildError> {
        let sender = crate::sender::ReqwestSender::builder()
            .policy(policy.clone())
            .build()?;
        Ok(Self::with_sender(sender, signer).policy(policy))
    }
}

impl<S: Sender> PushClient<S> {
    /// A client on any [`Sender`]. The URL rules of the policy (default:
    /// strict) are checked here; checking resolved addresses is up to the
    /// sender.
    pub fn with_sender(sender: S, signer: VapidSigner) -> Self {
        Self {
            sender: Arc::new(sender),
            signer,
            policy: EndpointPolicy::new(),
        }
    }

    /// Replaces the URL policy checked before each send.
    #[must_use]
    pub fn policy(mut self, policy: EndpointPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The VAPID signer.
    #[must_use]
    pub const fn signer(&self) -> &VapidSigner {
        &self.signer
    }

    /// The sender.
    #[must_use]
    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// Builds the request for one push without sending it: policy check,
    /// encryption and VAPID. CPU work only.
    ///
    /// # Errors
    /// [`SendError::Policy`], [`SendError::Encryption`], [`SendError::Vapid`]
    /// or [`SendError::InvalidMessage`].
    pub fn prepare(
        &self,
        subscription: &Subscription,
        payload: &[u8],
        options: &PushOptions,
    ) -> Result<http::Request<Vec<u8>>, SendError> {
        self.policy.check_endpoint(subscription.endpoint())?;
        request::build_request(subscription, payload, options, Some(&self.signer)).map_err(|e| {
            match e {
                BuildError::Encryption(e) => SendError::Encryption(e),
                BuildError::Vapid(e) => SendError::Vapid(e),
                other @ (BuildError::Invalid(_) | BuildError::TtlTooLong { .. }) => {
                    SendError::InvalidMessage(other.phrase())
                }
            }
        })
    }

    /// Sends a prepared request and classifies the answer. A 401 or 403
    /// drops the cached VAPID token for that origin, so the next push signs
    /// a fresh one.
    ///
    /// # Errors
    /// Every failure, as a [`SendError`] the caller can act on.
    pub async fn send_request(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<Delivered, SendError> {
        let aud = crate::subscription::Endpoint::from_uri(request.uri().clone())
            .map(|e| Audience::from_endpoint(&e))
            .ok();
        let started = Instant::now();
        let response = self.sender.send(request).await;
        let result = response
            .map_err(SendError::Transport)
            .and_then(|r| outcome::classify(r, SystemTime::now()))
            .map(|d| d.with_origin(aud.as_ref().map(|a| a.as_str().to_owned())));
        if let (Err(SendError::VapidRejected { .. }), Some(aud)) = (&result, &aud) {
            self.signer.invalidate(aud);
        }
        log_result(aud.as_ref(), &result, started);
        result
    }

    /// Encrypts, signs and sends one push.
    ///
    /// # Errors
    /// Every failure, as a [`SendError`] the caller can act on.
    pub async fn send(
        &self,
        subscription: &Subscription,
        payload: &[u8],
        options: &PushOptions,
    ) -> Result<Delivered, SendError> {
        let request = self.prepare(subscription, payload, options)?;
        self.send_request(request).await
    }
}

#[cfg(feature = "tracing")]
fn log_result(aud: Option<&Audience>, result: &Result<Delivered, SendError>, started: Instant) {
    let origin = aud.map_or("?", Audience::as_str);
    let elapsed_ms = started.elapsed().as_millis();
    match result {
        Ok(d) => tracing::debug!(
            origin,
            status = d.status().as_u16(),
            elapsed_ms,
            "push delivered"
        ),
        Err(e) => tracing::debug!(
            origin,
            status = e.status().map(|s| s.as_u16()),
            elapsed_ms,
            error = %e,
            "push failed"
        ),
    }
}

#[cfg(not(feature = "tracing"))]
fn log_result(_: Option<&Audience>, _: &Result<Delivered, SendError>, _: Instant) {}
