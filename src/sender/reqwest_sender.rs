//! [`ReqwestSender`]: the default [`Sender`], on reqwest with rustls (the
//! `ring` provider, or `rustls-graviola` in the C-free build), HTTP/2 where the push service offers it, one connection per
//! origin on a cold start (`origin_gate`), and the [`EndpointPolicy`]
//! enforced on every resolved address.

use core::fmt;
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{
    BoxFuture, MAX_RESPONSE_BODY, MAX_RESPONSE_HEADER_LIST_SIZE, MAX_RESPONSE_HEADERS,
    PushResponse, Sender, TransportError, TransportErrorKind,
};
use crate::policy::{EndpointPolicy, PolicyError};

mod origin_gate;
use origin_gate::OriginGates;

type BoxError = Box<dyn StdError + Send + Sync>;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 32;
const USER_AGENT: &str = concat!("webpush-rs/", env!("CARGO_PKG_VERSION"));

/// Why a [`ReqwestSender`] could not be built. Never contains a proxy URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An extra root certificate (DER or PEM) does not parse.
    #[error("invalid root certificate")]
    InvalidCertificate(#[source] BoxError),
    /// PEM input given as a root certificate holds no `CERTIFICATE` section.
    #[error("no certificate found in the PEM input")]
    NoCertificateInPem,
    /// Built-in roots are off and no extra root was given: nothing would
    /// ever verify.
    #[error("no trusted root certificates: built-in roots are off and none were added")]
    NoRootCertificates,
    /// The proxy URL does not parse or is not `http://` / `https://` with a
    /// host.
    #[error("invalid proxy URL")]
    InvalidProxy(#[source] Option<BoxError>),
    /// The TLS configuration could not be built, e.g. no certificate could
    /// be loaded from the system store.
    #[error("TLS configuration failed")]
    Tls(#[source] BoxError),
    /// The HTTP client could not be built.
    #[error("HTTP client construction failed")]
    Client(#[source] BoxError),
    /// The C-free build's TLS (`rustls-graviola`, feature `client-graviola`
    /// without `client`) cannot run on this CPU: it lacks a feature
    /// `graviola` needs (x86_64: `aes`, `pclmulqdq`, `avx`, `avx2`, `bmi1`,
    /// `adx`; aarch64: `aes`, `pmull`, `sha2`, `neon`). Build with `client`
    /// (TLS on `ring`) for such machines. Message encryption needs no such
    /// check: it falls back to `p256` by itself.
    #[error("this CPU lacks features the graviola TLS provider needs; build with feature `client`")]
    CpuUnsupported,
}

/// The default [`Sender`]: reqwest + rustls (`ring`; `rustls-graviola` with
/// feature `client-graviola` and not `client`), no OpenSSL.
///
/// - TLS with the system's roots (rustls-platform-verifier), or the bundled
///   Mozilla roots (feature `webpki-roots`), plus any extra roots; HTTP/2
///   negotiated by ALPN, HTTP/1.1 otherwise.
/// - Every address a host name resolves to is checked against the
///   [`EndpointPolicy`] at connect time, so DNS rebinding cannot reach an
///   internal address. IP-literal hosts are not resolved and so are not
///   checked here: the URL rules ([`EndpointPolicy::check_endpoint`], applied
///   by the client before sending) refuse them.
/// - No redirects, no cookies, no decompression, no proxy from the
///   environment; at most [`MAX_RESPONSE_BODY`] octets of body are read, and
///   at most [`MAX_RESPONSE_HEADERS`] header fields (HTTP/1.1) or
///   [`MAX_RESPONSE_HEADER_LIST_SIZE`] octets of headers (HTTP/2) accepted.
/// - Errors never contain the endpoint URL.
/// - One connection per origin on a cold start: while the pool has no
///   connection to an origin, one request goes first and the others wait
///   for its answer (at most the total timeout), then share its HTTP/2
///   connection; over HTTP/1.1 there is at most one connection per request
///   in flight.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct ReqwestSender {
    client: reqwest::Client,
    policy: Arc<EndpointPolicy>,
    connect_timeout: Duration,
    timeout: Duration,
    proxied: bool,
    gates: Arc<OriginGates>,
}

impl fmt::Debug for ReqwestSender {
    // Not derived: reqwest's `Debug` would print the proxy URL and its
    // credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestSender")
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("proxied", &self.proxied)
            .finish_non_exhaustive()
    }
}

impl ReqwestSender {
    /// A sender with the defaults: strict [`EndpointPolicy`], system roots,
    /// 10 s connect timeout, 30 s total timeout.
    ///
    /// # Errors
    /// [`BuildError::Tls`] when no root certificate can be loaded from the
    /// system (e.g. a scratch container: use the `webpki-roots` feature and
    /// `ReqwestSenderBuilder::tls_webpki_roots`).
    pub fn new() -> Result<Self, BuildError> {
        Self::builder().build()
    }

    /// The rustls crypto provider of this build, for logs: `"ring"` (feature
    /// `client`) or `"rustls-graviola"` (feature `client-graviola` without
    /// `client`).
    #[must_use]
    pub const fn tls_provider_name() -> &'static str {
        if cfg!(feature = "client") {
            "ring"
        } else {
            "rustls-graviola"
        }
    }

    /// A builder, to set the policy, timeouts, proxy and TLS roots.
    pub fn builder() -> ReqwestSenderBuilder {
        ReqwestSenderBuilder::new()
    }

    /// The policy checked on resolved addresses.
    #[must_use]
    pub fn policy(&self) -> &EndpointPolicy {
        &self.policy
    }

    async fn send_request(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<PushResponse, TransportError> {
        #[cfg(feature = "tracing")]
        let (origin, started) = (origin(request.uri()), std::time::Instant::now());

        let result = self.exchange(request).await;

        #[cfg(feature = "tracing")]
        match &result {
            Ok(response) => tracing::debug!(
                origin = %origin,
                status = response.status.as_u16(),
                body_len = response.body.len(),
                elapsed_ms = started.elapsed().as_millis(),
                "push request answered"
            ),
            Err(error) => tracing::debug!(
                origin = %origin,
                kind = ?error.kind(),
                elapsed_ms = started.elapsed().as_millis(),
                "push request failed"
            ),
        }
        result
    }

    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<PushResponse, TransportError> {
        let started = tokio::time::Instant::now();
        let first = match request.uri().authority() {
            Some(authority) => {
                tokio::time::timeout(self.timeout, self.gates.enter(authority.as_str()))
                    .await
                    .map_err(|_| TransportError::new(TransportErrorKind::Timeout, None))?
            }
            None => None,
        };
        let mut request = reqwest::Request::try_from(request).map_err(transport_error)?;
        // The wait at the gate counts against the total timeout.
        *request.timeout_mut() = Some(self.timeout.saturating_sub(started.elapsed()));
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(transport_error)?;
        if let Some(first) = first {
            first.open();
        }
        let status = response.status();
        let headers = core::mem::take(response.headers_mut());
        let (body, complete) = read_capped(&mut response).await;
        drop(response);
        let mut response = PushResponse::new(status, headers, body);
        // The status is in hand, and it is what decides the outcome: a body
        // cut short by a reset or the total timeout is reported as
        // truncated rather than turning a delivered push into an error.
        response.body_truncated |= !complete;
        Ok(response)
    }
}

impl Sender for ReqwestSender {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<PushResponse, TransportError>> {
        Box::pin(self.send_request(request))
    }
}

/// Reads at most `MAX_RESPONSE_BODY + 1` octets (one more than kept, so that
/// [`PushResponse::new`] sees the truncation) and stops there; the rest is
/// never read. Returns the octets and whether the body ended cleanly or at
/// the cap (`false`: a read error cut it short).
async fn read_capped(response: &mut reqwest::Response) -> (Vec<u8>, bool) {
    let limit = MAX_RESPONSE_BODY.saturating_add(1);
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(body.len());
                body.extend(chunk.iter().take(room));
                if body.len() >= limit {
                    return (body, true);
                }
            }
            Ok(None) => return (body, true),
            Err(_) => return (body, false),
        }
    }
}

/// A reqwest error as a [`TransportError`], with the URL stripped.
fn transport_error(error: reqwest::Error) -> TransportError {
    let error = error.without_url();
    let kind = classify(&error);
    TransportError::new(kind, Some(Box::new(error)))
}

fn classify(error: &reqwest::Error) -> TransportErrorKind {
    if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if chain_has::<PolicyError>(error) {
        TransportErrorKind::Policy
    } else if chain_has::<rustls::Error>(error) {
        TransportErrorKind::Tls
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    }
}

/// Whether an error of type `T` is anywhere in the source chain, looking
/// inside `io::Error`s too (whose `source()` skips the wrapped error).
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(err) = next {
        if err.is::<T>() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            next = Some(inner as &(dyn StdError + 'static));
            continue;
        }
        next = err.source();
    }
    false
}

/// `scheme://host:port`, never the path (a capability).
#[cfg(feature = "tracing")]
fn origin(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("?");
    let host = uri.host().unwrap_or("?");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    format!("{scheme}://{host}:{port}")
}

/// The DNS resolver that enforces the [`EndpointPolicy`] on addresses.
///
/// Names are resolved with the system resolver (`tokio::net::lookup_host`),
/// and only the addresses the policy permits
/// ([`EndpointPolicy::filter_addrs`]) are handed to the connector, so the
/// check happens on exactly the addresses connected to. When none is
/// permitted, resolution fails with the [`PolicyError`] and no socket is
/// opened.
///
/// reqwest does **not** call a resolver for IP-literal hosts
/// (`https://10.0.0.1/`): those are refused by the URL rules,
/// [`EndpointPolicy::check_endpoint`], which the client layer applies before
/// sending (it allows a literal only where it is loopback and loopback is
/// allowed). A custom caller of [`ReqwestSender`] must do the same.
///
/// With a proxy, the push service's name is resolved by the proxy, not here:
/// the only name resolved locally is the proxy's own, which is operator
/// configuration and is exempt from the address rules (it is typically on a
/// private network). Address checks on push services are then up to the
/// proxy.
#[derive(Clone, Debug)]
struct PolicyResolver {
    policy: Arc<EndpointPolicy>,
    /// The proxy's host name (lowercase, no trailing dot), if any.
    exempt_host: Option<Arc<str>>,
}

impl PolicyResolver {
    async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, BoxError> {
        // Port 0: reqwest puts the URL's (or the scheme's) port in.
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(self.permitted(host, addrs)?)
    }

    /// The addresses of `host` that may be connected to.
    fn permitted<I>(&self, host: &str, addrs: I) -> Result<Vec<SocketAddr>, PolicyError>
    where
        I: IntoIterator<Item = SocketAddr>,
    {
        let exempt = self
            .exempt_host
            .as_deref()
            .is_some_and(|exempt| host.trim_end_matches('.').eq_ignore_ascii_case(exempt));
        if exempt {
            let addrs: Vec<_> = addrs.into_iter().collect();
            if addrs.is_empty() {
                return Err(PolicyError::NoAddress);
            }
            return Ok(addrs);
        }
        self.policy.filter_addrs(addrs)
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An extra root certificate, parsed at [`ReqwestSenderBuilder::build`].
enum ExtraRoot {
    Der(Vec<u8>),
    Pem(String),
}

/// Builds a [`ReqwestSender`]. Setters take and return the builder; errors
/// (bad certificate, bad proxy URL) are reported by
/// [`build`](Self::build).
#[must_use]
pub struct ReqwestSenderBuilder {
    policy: EndpointPolicy,
    connect_timeout: Duration,
    timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    proxy_url: Option<String>,
    extra_roots: Vec<ExtraRoot>,
    builtin_roots: bool,
    #[cfg(feature = "webpki-roots")]
    webpki_roots: bool,
}

impl fmt::Debug for ReqwestSenderBuilder {
    // Not derived: the proxy URL may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ReqwestSenderBuilder");
        s.field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("proxy", &self.proxy_url.is_some())
            .field("extra_roots", &self.extra_roots.len())
            .field("builtin_roots", &self.builtin_roots);
        #[cfg(feature = "webpki-roots")]
        s.field("webpki_roots", &self.webpki_roots);
        s.finish()
    }
}

impl Default for ReqwestSenderBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReqwestSenderBuilder {
    /// The defaults: strict policy, system roots, connect timeout 10 s,
    /// total timeout 30 s, idle connections kept 90 s, at most 32 per host.
    pub fn new() -> Self {
        Self {
            policy: EndpointPolicy::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
            proxy_url: None,
            extra_roots: Vec::new(),
            builtin_roots: true,
            #[cfg(feature = "webpki-roots")]
            webpki_roots: false,
        }
    }

    /// The policy every resolved address is checked against (default: the
    /// strict [`EndpointPolicy::new`]). Use the same policy for the client's
    /// URL checks.
    pub fn policy(mut self, policy: EndpointPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Timeout for establishing a connection, TLS included (default 10 s).
    pub const fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Timeout for the whole exchange, from connecting to the end of the
    /// response body (default 30 s).
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub const fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections are kept per host (default 32).
    pub const fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Sends every request through this proxy (`http://host:port` or
    /// `https://host:port`, credentials as `user:pass@`). Without it no proxy
    /// is used, whatever `HTTP(S)_PROXY` say.
    ///
    /// The proxy then resolves push services' names itself, so the
    /// [`EndpointPolicy`]'s address rules cannot be enforced here; the
    /// proxy's own address is exempt from them.
    pub fn proxy_url(mut self, url: &str) -> Self {
        self.proxy_url = Some(url.to_owned());
        self
    }

    /// Trusts this root certificate (DER) in addition to the built-in ones,
    /// e.g. for a self-hosted push service.
    pub fn tls_root_certificate_der(mut self, der: Vec<u8>) -> Self {
        self.extra_roots.push(ExtraRoot::Der(der));
        self
    }

    /// Trusts the root certificates in this PEM text (every `CERTIFICATE`
    /// section; other sections are ignored) in addition to the built-in ones.
    pub fn tls_root_certificate_pem(mut self, pem: &str) -> Self {
        self.extra_roots.push(ExtraRoot::Pem(pem.to_owned()));
        self
    }

    /// Whether to trust the built-in roots (default `true`): the system's
    /// store through rustls-platform-verifier, or the bundled Mozilla roots
    /// with `tls_webpki_roots` (feature `webpki-roots`). With `false`, only
    /// the extra roots are trusted.
    pub const fn tls_builtin_roots(mut self, enabled: bool) -> Self {
        self.builtin_roots = enabled;
        self
    }

    /// Uses the Mozilla roots bundled in the binary (webpki-roots) as the
    /// built-in roots instead of the system store (default `false`), for
    /// static binaries in images with no certificate files.
    #[cfg(feature = "webpki-roots")]
    pub const fn tls_webpki_roots(mut self, enabled: bool) -> Self {
        self.webpki_roots = enabled;
        self
    }

    /// Builds the sender.
    ///
    /// # Errors
    /// - [`BuildError::InvalidCertificate`] / [`BuildError::NoCertificateInPem`]
    ///   for an extra root that does not parse;
    /// - [`BuildError::NoRootCertificates`] with built-in roots off and no
    ///   extra root;
    /// - [`BuildError::InvalidProxy`] for a proxy URL that does not parse;
    /// - [`BuildError::Tls`] when the system store cannot be loaded;
    /// - [`BuildError::Client`] when reqwest refuses the configuration;
    /// - [`BuildError::CpuUnsupported`] in the C-free build (TLS on
    ///   `rustls-graviola`) on a CPU graviola cannot run on.
    pub fn build(self) -> Result<ReqwestSender, BuildError> {
        let tls = self.tls_config()?;
        let proxy = self.proxy_url.as_deref().map(parse_proxy).transpose()?;
        let policy = Arc::new(self.policy);
        let resolver = PolicyResolver {
            policy: Arc::clone(&policy),
            exempt_host: proxy.as_ref().map(|(_, host)| Arc::clone(host)),
        };

        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(resolver)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(USER_AGENT)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            // Explicit, so that a dependency update cannot loosen them.
            .http1_max_headers(MAX_RESPONSE_HEADERS)
            .http2_max_header_list_size(MAX_RESPONSE_HEADER_LIST_SIZE);
        builder = match &proxy {
            Some((proxy, _)) => builder.proxy(proxy.clone()),
            None => builder.no_proxy(),
        };
        let client = builder
            .build()
            .map_err(|e| BuildError::Client(Box::new(e.without_url())))?;

        Ok(ReqwestSender {
            client,
            policy,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            proxied: proxy.is_some(),
            gates: Arc::new(OriginGates::new(self.pool_idle_timeout)),
        })
    }

    /// Our own rustls configuration, with the build's provider given
    /// explicitly (never the process default, which may be unset).
    fn tls_config(&self) -> Result<rustls::ClientConfig, BuildError> {
        let extra = self.parse_extra_roots()?;
        let provider = tls_provider()?;
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError::Tls(Box::new(e)))?;

        #[cfg(feature = "webpki-roots")]
        let platform = self.builtin_roots && !self.webpki_roots;
        #[cfg(not(feature = "webpki-roots"))]
        let platform = self.builtin_roots;

        let mut config = if platform {
            let verifier = platform_verifier(extra, provider)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        } else {
            let mut store = RootCertStore::empty();
            #[cfg(feature = "webpki-roots")]
            if self.builtin_roots {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            for cert in extra {
                store
                    .add(cert)
                    .map_err(|e| BuildError::InvalidCertificate(Box::new(e)))?;
            }
            if store.is_empty() {
                return Err(BuildError::NoRootCertificates);
            }
            builder.with_root_certificates(store).with_no_client_auth()
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The extra roots as DER, each checked to parse as a trust anchor.
    fn parse_extra_roots(&self) -> Result<Vec<CertificateDer<'static>>, BuildError> {
        let mut certs = Vec::new();
        for root in &self.extra_roots {
            match root {
                ExtraRoot::Der(der) => certs.push(CertificateDer::from(der.clone())),
                ExtraRoot::Pem(pem) => {
                    let before = certs.len();
                    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                        certs.push(cert.map_err(|e| BuildError::InvalidCertificate(Box::new(e)))?);
                    }
                    if certs.len() == before {
                        return Err(BuildError::NoCertificateInPem);
                    }
                }
            }
        }
        // Checked here so that a bad certificate is reported as such, not as
        // a failure of the system store.
        let mut check = RootCertStore::empty();
        for cert in &certs {
            check
                .add(cert.clone())
                .map_err(|e| BuildError::InvalidCertificate(Box::new(e)))?;
        }
        Ok(certs)
    }
}

/// The TLS crypto of this build: rustls' `ring` provider with feature
/// `client`, else (`client-graviola`) `rustls-graviola`, after checking that
/// the CPU can run it (`graviola` would panic otherwise).
fn tls_provider() -> Result<Arc<rustls::crypto::CryptoProvider>, BuildError> {
    #[cfg(feature = "client")]
    let provider = rustls::crypto::ring::default_provider();
    #[cfg(not(feature = "client"))]
    let provider = if crate::backend::graviola::cpu_supported() {
        rustls_graviola::default_provider()
    } else {
        return Err(BuildError::CpuUnsupported);
    };
    Ok(Arc::new(provider))
}

/// The platform verifier (system store) with the extra roots.
fn platform_verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<rustls_platform_verifier::Verifier>, BuildError> {
    #[cfg(target_os = "android")]
    let verifier = if extra.is_empty() {
        rustls_platform_verifier::Verifier::new(provider)
    } else {
        return Err(BuildError::Tls(
            "extra roots with the system store are not supported on Android".into(),
        ));
    };
    #[cfg(not(target_os = "android"))]
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider);
    verifier
        .map(Arc::new)
        .map_err(|e| BuildError::Tls(Box::new(e)))
}

/// The proxy and its host name (for the resolver's exemption). The URL is
/// never put into an error.
fn parse_proxy(url: &str) -> Result<(reqwest::Proxy, Arc<str>), BuildError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| BuildError::InvalidProxy(Some(Box::new(e))))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BuildError::InvalidProxy(None));
    }
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host.trim_end_matches('.').to_ascii_lowercase(),
        _ => return Err(BuildError::InvalidProxy(None)),
    };
    let proxy = reqwest::Proxy::all(parsed)
        .map_err(|e| BuildError::InvalidProxy(Some(Box::new(e.without_url()))))?;
    Ok((proxy, host.into()))
}

#[cfg(test)]
mod tests;
