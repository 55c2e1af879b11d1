//! Loopback-only tests: nothing here contacts a non-loopback address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// A self-signed CA certificate, only ever used as a trust anchor that
/// verifies nothing the tests connect to (so that builds need no system
/// store).
const UNRELATED_ROOT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBojCCAUmgAwIBAgIUL+Vn5VqAeJ+R24jkM6SqRXpUj64wCgYIKoZIzj0EAwIw
JjEkMCIGA1UEAwwbd2VicHVzaCB1bnJlbGF0ZWQgdGVzdCByb290MCAXDTI2MTEy
NjIwMjcxOVoYDzIxMjYxMTAyMjAyNzE5WjAmMSQwIgYDVQQDDBt3ZWJwdXNoIHVu
cmVsYXRlZCB0ZXN0IHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAS8AOK8
BGY2ebXw180TSs4FOBZi0f55g/UwjX4fbb+XPiPy5AX035S/jXuiFw01i64sF9Hu
7YHpG7btKMZ5kuGjo1MwUTAdBgNVHQ4EFgQUkq3kxaXpWmxS9cFiadgjlaHiLSEw
HwYDVR0jBBgwFoAUkq3kxaXpWmxS9cFiadgjlaHiLSEwDwYDVR0TAQH/BAUwAwEB
/zAKBggqhkjOPQQDAgNHADBEAiACP0SqrXPSLWkrSyJr5yk0qOe8fhpRbDNqO0bu
/5FOYAIgIg6Ok60qCV72dEF7HyK8t+/rJMxfPai1p2U7+AerGDI=
-----END CERTIFICATE-----
";

fn loopback_policy() -> EndpointPolicy {
    EndpointPolicy::new()
        .danger_allow_http(true)
        .danger_allow_loopback(true)
}

/// A sender that needs no system store.
fn sender_with(policy: EndpointPolicy, timeout: Duration) -> ReqwestSender {
    ReqwestSender::builder()
        .policy(policy)
        .tls_builtin_roots(false)
        .tls_root_certificate_pem(UNRELATED_ROOT_PEM)
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .unwrap()
}

fn request(url: &str) -> http::Request<Vec<u8>> {
    http::Request::post(url)
        .header("ttl", "60")
        .header("content-length", "5")
        .body(b"hello".to_vec())
        .unwrap()
}

fn resolver(policy: EndpointPolicy, exempt: Option<&str>) -> PolicyResolver {
    PolicyResolver {
        policy: Arc::new(policy),
        exempt_host: exempt.map(Arc::from),
    }
}

// ---- static properties ----------------------------------------------------

#[test]
fn sender_is_send_sync_clone_and_errors_are_send_sync() {
    const fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_traits::<ReqwestSender>();
    assert_send_sync::<ReqwestSenderBuilder>();
    assert_send_sync::<BuildError>();
    let _: &dyn Sender = &sender_with(EndpointPolicy::new(), DEFAULT_TIMEOUT);
}

/// The C-free build (`client-graviola` without `client`) on a CPU without
/// what `graviola` needs: building the sender is a typed error, where
/// `rustls-graviola` would panic at the first handshake.
#[cfg(not(feature = "client"))]
#[test]
fn graviola_tls_on_a_cpu_without_its_features_is_an_error_not_a_panic() {
    let build = || {
        ReqwestSender::builder()
            .tls_builtin_roots(false)
            .tls_root_certificate_pem(UNRELATED_ROOT_PEM)
            .build()
    };
    let refused = crate::backend::graviola::tests::with_fallback(build);
    assert!(matches!(refused, Err(BuildError::CpuUnsupported)));
    assert_eq!(
        build().is_ok(),
        graviola::util::is_cpu_supported(),
        "builds wherever graviola runs"
    );
}

#[test]
fn user_agent_names_the_crate() {
    assert!(USER_AGENT.starts_with("webpush-rs/"));
    assert!(http::HeaderValue::from_static(USER_AGENT).to_str().is_ok());
}

#[test]
fn debug_never_shows_the_proxy_url() {
    let builder = ReqwestSender::builder().proxy_url("http://user:hunter2@proxy.test:3128");
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("proxy.test"),
        "{shown}"
    );
    let sender = builder
        .tls_builtin_roots(false)
        .tls_root_certificate_pem(UNRELATED_ROOT_PEM)
        .build()
        .unwrap();
    let shown = format!("{sender:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("proxy.test"),
        "{shown}"
    );
    assert!(shown.contains("proxied: true"), "{shown}");
}

// ---- builder ----------------------------------------------------------------

#[test]
fn builder_defaults() {
    let b = ReqwestSender::builder();
    assert_eq!(b.connect_timeout, Duration::from_secs(10));
    assert_eq!(b.timeout, Duration::from_secs(30));
    assert!(b.builtin_roots);
    assert_eq!(b.policy, EndpointPolicy::new());
}

#[test]
fn new_fails_only_for_want_of_system_roots() {
    // The test machine may have no system store; either way, no panic.
    match ReqwestSender::new() {
        Ok(sender) => assert_eq!(*sender.policy(), EndpointPolicy::new()),
        Err(e) => assert!(matches!(e, BuildError::Tls(_)), "{e:?}"),
    }
}

#[test]
fn builder_rejects_bad_certificates() {
    let pem_err = |pem: &str| {
        ReqwestSender::builder()
            .tls_root_certificate_pem(pem)
            .build()
            .unwrap_err()
    };
    assert!(matches!(pem_err(""), BuildError::NoCertificateInPem));
    assert!(matches!(
        pem_err("not a certificate"),
        BuildError::NoCertificateInPem
    ));
    assert!(matches!(
        pem_err("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
        BuildError::InvalidCertificate(_)
    ));
    assert!(matches!(
        pem_err("-----BEGIN CERTIFICATE-----\nAAAA\n"),
        BuildError::InvalidCertificate(_)
    ));
    // Valid base64, not a certificate.
    assert!(matches!(
        pem_err("-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n"),
        BuildError::InvalidCertificate(_)
    ));
    for builtin in [true, false] {
        let err = ReqwestSender::builder()
            .tls_builtin_roots(builtin)
            .tls_root_certificate_der(vec![0x30, 0x03, 0x02, 0x01, 0x00])
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::InvalidCertificate(_)), "{err:?}");
    }
}

#[test]
fn builder_needs_some_root() {
    let err = ReqwestSender::builder()
        .tls_builtin_roots(false)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::NoRootCertificates), "{err:?}");
}

#[test]
fn builder_accepts_der_roots() {
    let der = CertificateDer::from_pem_slice(UNRELATED_ROOT_PEM.as_bytes()).unwrap();
    ReqwestSender::builder()
        .tls_builtin_roots(false)
        .tls_root_certificate_der(der.to_vec())
        .build()
        .unwrap();
}

#[test]
fn builder_rejects_bad_proxies_without_echoing_them() {
    for url in [
        "not a url",
        "proxy.test:3128",
        "ftp://proxy.test/",
        "socks5://proxy.test:1080",
        "http://",
        "http://user:hunter2@/",
    ] {
        let err = ReqwestSender::builder()
            .tls_builtin_roots(false)
            .tls_root_certificate_pem(UNRELATED_ROOT_PEM)
            .proxy_url(url)
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::InvalidProxy(_)), "{url}: {err:?}");
        let mut shown = format!("{err} {err:?}");
        let mut source = StdError::source(&err);
        while let Some(s) = source {
            shown.push_str(&s.to_string());
            source = s.source();
        }
        assert!(
            !shown.contains("hunter2") && !shown.contains("proxy.test"),
            "{shown}"
        );
    }
    ReqwestSender::builder()
        .tls_builtin_roots(false)
        .tls_root_certificate_pem(UNRELATED_ROOT_PEM)
        .proxy_url("https://user:pw@Proxy.Test.:3128")
        .build()
        .unwrap();
}

#[cfg(feature = "webpki-roots")]
#[test]
fn bundled_roots_need_no_system_store() {
    let sender = ReqwestSender::builder().tls_webpki_roots(true).build();
    assert!(sender.is_ok(), "{sender:?}");
    // Built-in roots off wins over the bundled ones.
    let err = ReqwestSender::builder()
        .tls_webpki_roots(true)
        .tls_builtin_roots(false)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::NoRootCertificates), "{err:?}");
}

// ---- resolver ---------------------------------------------------------------

#[tokio::test]
async fn resolver_refuses_loopback_by_default() {
    let name: reqwest::dns::Name = "localhost".parse().unwrap();
    let err = reqwest::dns::Resolve::resolve(&resolver(EndpointPolicy::new(), None), name)
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.downcast_ref::<PolicyError>(),
        Some(&PolicyError::ForbiddenAddress("loopback"))
    );
}

#[tokio::test]
async fn resolver_allows_loopback_when_asked() {
    let name: reqwest::dns::Name = "localhost".parse().unwrap();
    let addrs: Vec<_> = reqwest::dns::Resolve::resolve(&resolver(loopback_policy(), None), name)
        .await
        .unwrap()
        .collect();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
}

#[tokio::test]
async fn resolver_exempts_only_the_proxy_host() {
    let r = resolver(EndpointPolicy::new(), Some("localhost"));
    assert!(r.lookup("localhost").await.is_ok());
    assert!(r.lookup("LOCALHOST").await.is_ok());
    let err = resolver(EndpointPolicy::new(), Some("proxy.test"))
        .lookup("localhost")
        .await
        .unwrap_err();
    assert!(err.is::<PolicyError>(), "{err:?}");
}

#[test]
fn resolver_keeps_only_permitted_addresses() {
    let sa = |ip: IpAddr| SocketAddr::new(ip, 0);
    let public = sa(IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)));
    let public6 = sa(IpAddr::V6(Ipv6Addr::new(
        0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111,
    )));
    let private = sa(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let metadata = sa(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)));
    let loopback = sa(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mapped = sa(IpAddr::V6(Ipv4Addr::new(192, 168, 1, 1).to_ipv6_mapped()));

    let strict = resolver(EndpointPolicy::new(), None);
    assert_eq!(
        strict.permitted("h", [private, public, loopback, public6, metadata, mapped]),
        Ok(vec![public, public6])
    );
    assert_eq!(
        strict.permitted("h", [metadata, private]),
        Err(PolicyError::ForbiddenAddress("link-local"))
    );
    assert_eq!(strict.permitted("h", []), Err(PolicyError::NoAddress));

    let lo = resolver(loopback_policy(), None);
    assert_eq!(lo.permitted("h", [private, loopback]), Ok(vec![loopback]));

    let proxied = resolver(EndpointPolicy::new(), Some("proxy.test"));
    assert_eq!(
        proxied.permitted("Proxy.Test", [private]),
        Ok(vec![private])
    );
    assert_eq!(
        proxied.permitted("proxy.test", []),
        Err(PolicyError::NoAddress)
    );
    assert_eq!(
        proxied.permitted("other.test", [private]),
        Err(PolicyError::ForbiddenAddress("private"))
    );
}

// ---- error classification ---------------------------------------------------

#[test]
fn chain_search_looks_inside_io_errors() {
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
    assert!(chain_has::<rustls::Error>(&io));
    let nested = std::io::Error::other(std::io::Error::other(PolicyError::NoAddress));
    assert!(chain_has::<PolicyError>(&nested));
    assert!(!chain_has::<rustls::Error>(&nested));
}

// ---- end to end over plain TCP on 127.0.0.1 ----------------------------------

async fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Reads one request (head and `content-length` body).
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Answers one request with `response`, then closes; returns the request.
fn serve_once(listener: TcpListener, response: Vec<u8>) -> tokio::task::JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let req = read_request(&mut stream).await;
        // The client may hang up after the cap: ignore write errors.
        let _ = stream.write_all(&response).await;
        let _ = stream.shutdown().await;
        req
    })
}

fn assert_no_url(err: &TransportError, secret: &str) {
    let mut shown = format!("{err} {err:?}");
    let mut source = StdError::source(err);
    while let Some(s) = source {
        shown.push_str(&format!("{s} {s:?}"));
        source = s.source();
    }
    assert!(!shown.contains(secret), "{shown}");
}

#[tokio::test]
async fn plain_exchange_goes_through_the_resolver() {
    let (listener, port) = listener().await;
    let server = serve_once(
        listener,
        b"HTTP/1.1 201 Created\r\nlocation: /m/1\r\ncontent-length: 2\r\n\r\nok".to_vec(),
    );
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let response = sender
        .send(request(&format!(
            "http://localhost:{port}/push/secret-token"
        )))
        .await
        .unwrap();
    assert_eq!(response.status, http::StatusCode::CREATED);
    assert_eq!(response.headers["location"], "/m/1");
    assert_eq!(response.body, b"ok");
    assert!(!response.body_truncated);

    let req = String::from_utf8(server.await.unwrap()).unwrap();
    assert!(
        req.starts_with("POST /push/secret-token HTTP/1.1\r\n"),
        "{req}"
    );
    let lower = req.to_ascii_lowercase();
    assert!(lower.contains("\r\nttl: 60\r\n"), "{req}");
    assert!(
        lower.contains(&format!("\r\nuser-agent: {USER_AGENT}\r\n")),
        "{req}"
    );
    assert!(!lower.contains("accept-encoding"), "{req}");
    assert!(req.ends_with("\r\n\r\nhello"), "{req}");
}

#[tokio::test]
async fn response_body_is_capped() {
    let (listener, port) = listener().await;
    let mut response = b"HTTP/1.1 200 OK\r\ncontent-length: 204800\r\n\r\n".to_vec();
    response.extend(std::iter::repeat_n(b'x', 200 * 1024));
    let server = serve_once(listener, response);
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let response = sender
        .send(request(&format!("http://localhost:{port}/")))
        .await
        .unwrap();
    assert_eq!(response.status, http::StatusCode::OK);
    assert_eq!(response.body.len(), MAX_RESPONSE_BODY);
    assert!(response.body_truncated);
    server.await.unwrap();
}

/// An HTTP/1.1 response with `n` extra header fields.
fn response_with_headers(n: usize) -> Vec<u8> {
    let mut response = b"HTTP/1.1 201 Created\r\n".to_vec();
    for i in 0..n {
        response.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    response.extend_from_slice(b"content-length: 0\r\n\r\n");
    response
}

#[tokio::test]
async fn response_headers_up_to_the_limit_are_read() {
    let (listener, port) = listener().await;
    // With content-length, exactly the limit.
    let server = serve_once(listener, response_with_headers(MAX_RESPONSE_HEADERS - 1));
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let response = sender
        .send(request(&format!("http://localhost:{port}/p/secret-token")))
        .await
        .unwrap();
    assert_eq!(response.status, http::StatusCode::CREATED);
    assert_eq!(response.headers.len(), MAX_RESPONSE_HEADERS);
    server.await.unwrap();
}

#[tokio::test]
async fn too_many_response_headers_fail_without_a_panic_or_the_url() {
    let (listener, port) = listener().await;
    let server = serve_once(listener, response_with_headers(MAX_RESPONSE_HEADERS));
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let err = sender
        .send(request(&format!("http://localhost:{port}/p/secret-token")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Other);
    assert_no_url(&err, "secret-token");
    server.await.unwrap();
}

#[tokio::test]
async fn body_at_exactly_the_cap_is_not_truncated() {
    let (listener, port) = listener().await;
    let mut response =
        format!("HTTP/1.1 400 Bad Request\r\ncontent-length: {MAX_RESPONSE_BODY}\r\n\r\n")
            .into_bytes();
    response.extend(std::iter::repeat_n(b'y', MAX_RESPONSE_BODY));
    let server = serve_once(listener, response);
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let response = sender
        .send(request(&format!("http://localhost:{port}/")))
        .await
        .unwrap();
    assert_eq!(response.body.len(), MAX_RESPONSE_BODY);
    assert!(!response.body_truncated);
    server.await.unwrap();
}

#[tokio::test]
async fn body_cut_short_keeps_the_status() {
    let (listener, port) = listener().await;
    let server = serve_once(
        listener,
        b"HTTP/1.1 201 Created\r\ncontent-length: 100\r\n\r\npartial".to_vec(),
    );
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let response = sender
        .send(request(&format!("http://localhost:{port}/")))
        .await
        .unwrap();
    assert_eq!(response.status, http::StatusCode::CREATED);
    assert_eq!(response.body, b"partial");
    assert!(response.body_truncated);
    server.await.unwrap();
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (listener, port) = listener().await;
    let location = format!("http://localhost:{port}/elsewhere");
    let server = serve_once(
        listener,
        format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n")
            .into_bytes(),
    );
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let response = sender
        .send(request(&format!("http://localhost:{port}/")))
        .await
        .unwrap();
    assert_eq!(response.status, http::StatusCode::FOUND);
    assert_eq!(response.headers["location"], location.as_str());
    server.await.unwrap();
}

#[tokio::test]
async fn silent_server_times_out() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(stream);
    });
    let sender = sender_with(loopback_policy(), Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = sender
        .send(request(&format!("http://localhost:{port}/secret-token")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err:?}");
    assert!(err.is_timeout());
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_no_url(&err, "secret-token");
    server.abort();
}

#[tokio::test]
async fn dropped_connection_is_an_error_not_a_panic() {
    let (listener, port) = listener().await;
    let server = tokio::spawn(async move {
        for _ in 0..3 {
            // Once per attempt: reqwest may retry a connection closed
            // before any response.
            let Ok(Ok((stream, _))) =
                tokio::time::timeout(Duration::from_secs(2), listener.accept()).await
            else {
                return;
            };
            drop(stream);
        }
    });
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let err = sender
        .send(request(&format!("http://localhost:{port}/secret-token")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            TransportErrorKind::Other | TransportErrorKind::Connect
        ),
        "{err:?}"
    );
    assert_no_url(&err, "secret-token");
    server.abort();
}

#[tokio::test]
async fn refused_connection_is_connect() {
    let (listener, port) = listener().await;
    drop(listener);
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let err = sender
        .send(request(&format!("http://localhost:{port}/secret-token")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err:?}");
    assert_no_url(&err, "secret-token");
}

#[tokio::test]
async fn policy_refuses_before_connecting() {
    let (listener, port) = listener().await;
    let sender = sender_with(EndpointPolicy::new(), Duration::from_secs(10));
    for url in [
        format!("https://localhost:{port}/secret-token"),
        format!("http://localhost:{port}/secret-token"),
    ] {
        let err = sender.send(request(&url)).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Policy, "{err:?}");
        assert_no_url(&err, "secret-token");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "a connection was opened");
}

#[tokio::test]
async fn malformed_request_uri_is_other() {
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    // A relative URI: what reqwest cannot turn into a URL.
    let request = http::Request::post("/secret-token")
        .body(Vec::new())
        .unwrap();
    let err = sender.send(request).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Other, "{err:?}");
    assert_no_url(&err, "secret-token");
}

// ---- TLS ------------------------------------------------------------------------

#[cfg(feature = "testing")]
mod tls {
    use std::sync::Mutex;

    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    use super::*;

    struct Pki {
        root_pem: String,
        chain: Vec<CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    }

    fn pki() -> Pki {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "webpush test root");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        Pki {
            root_pem: ca.pem(),
            chain: vec![leaf.der().clone()],
            key: rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        }
    }

    /// What the server saw of one connection.
    #[derive(Debug, Default, Clone)]
    struct Seen {
        alpn: Option<Vec<u8>>,
        version: Option<http::Version>,
        handshake_failed: bool,
    }

    /// A one-connection HTTPS server (HTTP/1.1 and HTTP/2) answering 201.
    async fn tls_server(pki: &Pki) -> (u16, Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (listener, port) = listener().await;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen2 = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let Ok(tls) = acceptor.accept(stream).await else {
                seen2.lock().unwrap().handshake_failed = true;
                return;
            };
            seen2.lock().unwrap().alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            let service = hyper::service::service_fn(move |req: http::Request<_>| {
                let seen = Arc::clone(&seen2);
                async move {
                    seen.lock().unwrap().version = Some(req.version());
                    http::Response::builder()
                        .status(201)
                        .body(Full::new(bytes::Bytes::from_static(b"created")))
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
        (port, seen, task)
    }

    #[tokio::test]
    async fn unknown_root_fails_with_tls() {
        let pki = pki();
        let (port, seen, server) = tls_server(&pki).await;
        let sender = sender_with(loopback_policy(), Duration::from_secs(10));
        let err = sender
            .send(request(&format!("https://localhost:{port}/secret-token")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Tls, "{err:?}");
        assert_no_url(&err, "secret-token");
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(seen.lock().unwrap().handshake_failed);
    }

    #[tokio::test]
    async fn added_root_succeeds_over_http2() {
        let pki = pki();
        let (port, seen, server) = tls_server(&pki).await;
        let sender = ReqwestSender::builder()
            .policy(loopback_policy())
            .tls_builtin_roots(false)
            .tls_root_certificate_pem(&pki.root_pem)
            .build()
            .unwrap();
        let response = sender
            .send(request(&format!("https://localhost:{port}/push/abc")))
            .await
            .unwrap();
        assert_eq!(response.status, http::StatusCode::CREATED);
        assert_eq!(response.body, b"created");
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
            assert_eq!(seen.version, Some(http::Version::HTTP_2));
        }
        drop(sender);
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }

    #[tokio::test]
    async fn added_root_works_alongside_the_system_store() {
        let pki = pki();
        let (port, _seen, server) = tls_server(&pki).await;
        // With extra roots the platform verifier builds even where the
        // system store is empty.
        let sender = ReqwestSender::builder()
            .policy(loopback_policy())
            .tls_root_certificate_pem(&pki.root_pem)
            .build()
            .unwrap();
        let response = sender
            .send(request(&format!("https://localhost:{port}/push/abc")))
            .await
            .unwrap();
        assert_eq!(response.status, http::StatusCode::CREATED);
        drop(sender);
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
}

/// Answers every request on every connection with a keep-alive 201, after
/// `delay`; counts the connections accepted.
fn serve_keep_alive(listener: TcpListener, delay: Duration) -> Arc<std::sync::atomic::AtomicUsize> {
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                loop {
                    if read_request(&mut stream).await.is_empty() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    let ok = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    accepted
}

/// One wave of concurrent requests over HTTP/1.1 (no ALPN, plain TCP): the
/// gate lets the first go alone, then the others run in parallel on
/// connections of their own, never more than one each. (Successive waves
/// can exceed it by a few: hyper-util returns a connection to the pool
/// asynchronously, and a request starting just then dials.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_opens_at_most_one_connection_per_request_in_flight() {
    const IN_FLIGHT: usize = 16;
    let (listener, port) = listener().await;
    let accepted = serve_keep_alive(listener, Duration::from_millis(20));
    let sender = sender_with(loopback_policy(), Duration::from_secs(10));
    let url = format!("http://localhost:{port}/push/x");
    let sends: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let sender = sender.clone();
            let url = url.clone();
            tokio::spawn(async move { sender.send(request(&url)).await.map(|r| r.status) })
        })
        .collect();
    let mut results = Vec::new();
    for send in sends {
        results.push(send.await.unwrap());
    }
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(s) if *s == http::StatusCode::CREATED)),
        "{results:?}"
    );
    let accepted = accepted.load(std::sync::atomic::Ordering::SeqCst);
    // More than one: HTTP/1.1 is not serialised behind the first request.
    assert!(
        (2..=IN_FLIGHT).contains(&accepted),
        "{accepted} connections"
    );
}
