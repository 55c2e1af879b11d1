//! The whole send path's CPU cost per notification, against an HTTPS sink in
//! another process (issue 13's method): 5,000 notifications (1,000
//! subscriptions × 5, 1,024-octet payload), 64 in flight, by
//! `PushClient::send` on 64 tasks and by `BatchSender`.
//!
//! - The sink (`--sink`, this binary again) is pinned with `taskset -c 1`:
//!   HTTP/2 and HTTP/1.1 over TLS (hyper + tokio-rustls, a self-signed
//!   certificate), it reads every body, answers 201 and never decrypts. It
//!   counts TLS handshakes; `GET /stats` returns them.
//! - Each measurement is a sender child (`--sender`) pinned with `taskset`
//!   to core `0` (1 core) or `0,1` (2 cores, the second shared with the
//!   sink), with that many runtime worker threads, on a **fresh** client:
//!   the cold start (handshakes, one VAPID signature) is part of the cost.
//! - CPU time is the sender process's: the sum over its threads of
//!   `/proc/self/task/*/schedstat` (nanoseconds; blocking threads are kept
//!   alive so none takes its time with it). The floor (one ephemeral P-256
//!   key + ECDH with the build's backend, done with the crypto crate
//!   directly) is timed the same way in the same child, before the run.
//!
//! `cargo bench --bench send_path --features testing -- --bench` (add
//! `ring` for the ring backend). To compare with another build of this
//! bench (e.g. the previous release's code), set `SEND_PATH_COMPARE` to its
//! binary: each row then runs both, alternately, against the same sink.
//! Without `--bench` (as under `cargo test --benches`) a tiny version runs.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ring::rand::SystemRandom;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use webpush::batch::{BatchSender, RetryPolicy};
use webpush::message::{AuthSecret, UaKeyPair};
use webpush::policy::EndpointPolicy;
use webpush::request::PushOptions;
use webpush::sender::{ReqwestSender, Sender};
use webpush::subscription::Endpoint;
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{PushClient, Subscription};

mod common;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const IN_FLIGHT: usize = 64;
const PAYLOAD: [u8; 1024] = [0x42; 1024];

// ------------------------------------------------------------------ sink

/// Serves until stdin closes (the parent is gone). Prints
/// `SINK <port> <certificate DER in hex>`.
fn sink_main() -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
        let der = certified.cert.der().to_vec();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = listener.local_addr()?.port();
        println!("SINK {port} {}", hex(&der));
        std::io::stdout().flush()?;
        // The parent holds our stdin: EOF means it is gone.
        let gone = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
        });
        let handshakes = Arc::new(AtomicU64::new(0));
        let serve = async {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, handshakes) = (acceptor.clone(), Arc::clone(&handshakes));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    handshakes.fetch_add(1, Ordering::Relaxed);
                    let service = service_fn(move |req| {
                        let handshakes = Arc::clone(&handshakes);
                        async move { Ok::<_, hyper::Error>(answer(req, &handshakes).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        };
        tokio::select! {
            _ = gone => {}
            () = serve => {}
        }
        Ok(())
    })
}

/// 201 for a push (body read, never decrypted); the handshake count for
/// `GET /stats`.
async fn answer(
    req: hyper::Request<Incoming>,
    handshakes: &AtomicU64,
) -> hyper::Response<Full<Bytes>> {
    if req.uri().path() == "/stats" {
        let body = handshakes.load(Ordering::Relaxed).to_string();
        return hyper::Response::new(Full::new(Bytes::from(body)));
    }
    let _ = req.into_body().collect().await;
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = http::StatusCode::CREATED;
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, BoxError> {
    (0..s.len())
        .step_by(2)
        .map(|i| Ok(u8::from_str_radix(s.get(i..i + 2).ok_or("odd hex")?, 16)?))
        .collect()
}

// ------------------------------------------------------------------ sender

/// CPU nanoseconds of each thread of this process, from schedstat.
fn thread_cpu_ns_by_tid() -> std::collections::HashMap<String, u64> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return std::collections::HashMap::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse::<u64>().ok()?;
            Some((t.file_name().to_string_lossy().into_owned(), ns))
        })
        .collect()
}

/// (user, system) CPU seconds of the whole process so far, from
/// `/proc/self/stat` (clock ticks of 10 ms, exited threads included).
fn user_sys_s() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // Fields 14 and 15 of proc_pid_stat(5); the first after ")" is field 3.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// CPU nanoseconds of the calling thread.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU µs per ephemeral keygen + ECDH with this build's backend.
fn floor_us(iterations: u32) -> Result<f64, BoxError> {
    let ua = UaKeyPair::generate()?;
    let point = p256::PublicKey::from_sec1_bytes(ua.public_key().as_bytes())?;
    let rng = SystemRandom::new();
    let before = thread_cpu_ns();
    for _ in 0..iterations {
        common::active_floor(&rng, &point, ua.public_key().as_bytes());
    }
    Ok((thread_cpu_ns() - before) as f64 / 1e3 / f64::from(iterations))
}

fn sender(der: &[u8], policy: &EndpointPolicy) -> Result<ReqwestSender, BoxError> {
    Ok(ReqwestSender::builder()
        .policy(policy.clone())
        .tls_builtin_roots(false)
        .tls_root_certificate_der(der.to_vec())
        .build()?)
}

async fn handshakes(stats: &ReqwestSender, port: u16) -> Result<u64, BoxError> {
    let mut request = http::Request::new(Vec::new());
    *request.method_mut() = http::Method::GET;
    *request.uri_mut() = format!("https://127.0.0.1:{port}/stats").parse()?;
    let response = stats.send(request).await?;
    Ok(std::str::from_utf8(&response.body)?.parse()?)
}

/// One measurement; prints `RESULT <floor µs> <cpu µs/notif> <notif/s>
/// <handshakes>`.
fn sender_main(
    mode: &str,
    cores: usize,
    port: u16,
    der: &[u8],
    total: usize,
) -> Result<(), BoxError> {
    let floor = floor_us(if cfg!(feature = "ring") { 3000 } else { 600 })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()?;
    let policy = EndpointPolicy::new().danger_allow_loopback(true);
    let key = VapidKey::generate()?;
    let signer = VapidSigner::new(key, Subject::parse("mailto:bench@example.com")?);
    let client = PushClient::with_sender(sender(der, &policy)?, signer).policy(policy.clone());
    let stats = sender(der, &policy)?;
    let ua = UaKeyPair::generate()?;
    let subs = (0..1000)
        .map(|i| {
            let endpoint = Endpoint::parse(&format!("https://127.0.0.1:{port}/push/{i}"))?;
            Ok(Arc::new(Subscription::new(
                endpoint,
                ua.public_key().clone(),
                AuthSecret::generate()?,
            )))
        })
        .collect::<Result<Vec<_>, BoxError>>()?;
    rt.block_on(async {
        let before_handshakes = handshakes(&stats, port).await?;
        let threads0 = thread_cpu_ns_by_tid();
        let (user0, sys0) = user_sys_s();
        let started = Instant::now();
        let delivered = match mode {
            "client" => {
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|t| {
                        let (client, subs) = (client.clone(), subs.clone());
                        tokio::spawn(async move {
                            let mut ok = 0usize;
                            for i in (t..total).step_by(IN_FLIGHT) {
                                let sub = &subs[i % subs.len()];
                                ok += usize::from(
                                    client
                                        .send(sub, &PAYLOAD, &PushOptions::new())
                                        .await
                                        .is_ok(),
                                );
                            }
                            ok
                        })
                    })
                    .collect();
                let mut ok = 0;
                for task in tasks {
                    ok += task.await?;
                }
                ok
            }
            _ => {
                let jobs = common::jobs(&subs, total, &PAYLOAD);
                let batch = BatchSender::new(client.clone())
                    .concurrency(IN_FLIGHT)
                    .retry(RetryPolicy::none());
                batch
                    .send_iter(jobs)
                    .filter(|r| std::future::ready(r.is_delivered()))
                    .count()
                    .await
            }
        };
        let wall = started.elapsed().as_secs_f64();
        let threads1 = thread_cpu_ns_by_tid();
        let deltas: Vec<u64> = threads1
            .iter()
            .map(|(tid, ns)| ns - threads0.get(tid).copied().unwrap_or(0))
            .collect();
        let spent: u64 = deltas.iter().sum();
        let cpu = spent as f64 / 1e3 / total as f64;
        // How the work spread: the busiest thread's share (1.0 = one thread).
        let busiest = deltas.iter().max().copied().unwrap_or(0) as f64 / spent as f64;
        let (user1, sys1) = user_sys_s();
        let sys_share = (sys1 - sys0) / (user1 - user0 + sys1 - sys0);
        let opened = handshakes(&stats, port).await? - before_handshakes;
        if delivered != total {
            return Err(format!("{delivered} of {total} delivered").into());
        }
        println!(
            "RESULT {floor} {cpu} {} {opened} {sys_share} {busiest}",
            total as f64 / wall
        );
        Ok(())
    })
}

// ------------------------------------------------------------------ parent

struct Measured {
    floor: f64,
    cpu: f64,
    rate: f64,
    handshakes: u64,
    /// Share of the CPU time spent in the kernel (absent from older builds).
    sys_share: Option<f64>,
    /// The busiest thread's share of it (absent from older builds).
    busiest: Option<f64>,
}

fn pinned(cpus: Option<&str>, exe: &std::path::Path) -> Command {
    match cpus {
        Some(list) => {
            let mut c = Command::new("taskset");
            c.args(["-c", list]).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

fn measure(
    exe: &std::path::Path,
    mode: &str,
    cores: usize,
    pin: bool,
    port: u16,
    der: &str,
    total: usize,
) -> Result<Measured, BoxError> {
    let list = if cores == 1 { "0" } else { "0,1" };
    let output = pinned(pin.then_some(list), exe)
        .args([
            "--sender",
            mode,
            &cores.to_string(),
            &port.to_string(),
            der,
            &total.to_string(),
        ])
        .output()
        .map_err(|e| format!("running the sender (taskset from util-linux pins it): {e}"))?;
    let out = String::from_utf8_lossy(&output.stdout);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| {
            format!(
                "sender {mode}/{cores} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let mut words = line.split_whitespace();
    let mut next = || words.next().ok_or_else(|| format!("bad result: {line}"));
    Ok(Measured {
        floor: next()?.parse()?,
        cpu: next()?.parse()?,
        rate: next()?.parse()?,
        handshakes: next()?.parse()?,
        sys_share: next().ok().and_then(|v| v.parse().ok()),
        busiest: next().ok().and_then(|v| v.parse().ok()),
    })
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--sink") {
        return sink_main();
    }
    if args.get(1).map(String::as_str) == Some("--sender") {
        let [_, _, mode, cores, port, der, total] = &args[..] else {
            return Err("--sender MODE CORES PORT CERT TOTAL".into());
        };
        return sender_main(
            mode,
            cores.parse()?,
            port.parse()?,
            &unhex(der)?,
            total.parse()?,
        );
    }
    let full = args.iter().any(|a| a == "--bench");
    let two = std::thread::available_parallelism().map_or(1, usize::from) >= 2;
    let pin = full && two;
    let total = if full { 5000 } else { 200 };
    let exe = std::env::current_exe()?;
    let mut builds = vec![("this build".to_owned(), exe.clone())];
    if let Ok(other) = std::env::var("SEND_PATH_COMPARE") {
        builds.push((format!("compare ({other})"), other.into()));
    }

    let mut sink: Child = pinned(pin.then_some("1"), &exe)
        .arg("--sink")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    BufReader::new(sink.stdout.take().ok_or("sink stdout")?).read_line(&mut first)?;
    let mut words = first.split_whitespace().skip(1);
    let (port, der) = (
        words.next().ok_or("no sink port")?.parse::<u16>()?,
        words.next().ok_or("no sink certificate")?.to_owned(),
    );

    println!(
        "send path: {total} notifications (1000 subscriptions), {} octets, {IN_FLIGHT} in flight, \
         backend {}, sink on core 1, fresh client per row",
        PAYLOAD.len(),
        common::BACKEND
    );
    println!(
        "{:<10} {:>5} {:<40} {:>9} {:>12} {:>8} {:>9} {:>10} {:>7} {:>10}",
        "sender",
        "cores",
        "build",
        "floor us",
        "CPU us/notif",
        "x floor",
        "notif/s",
        "handshakes",
        "sys %",
        "busiest %"
    );
    let cores_list: &[usize] = if two { &[1, 2] } else { &[1] };
    let mut rates = Vec::new();
    for mode in ["client", "batch"] {
        for &cores in cores_list {
            for (label, build) in &builds {
                let m = measure(build, mode, cores, pin, port, &der, total)?;
                println!(
                    "{:<10} {:>5} {:<40} {:>9.1} {:>12.1} {:>8.2} {:>9.0} {:>10} {:>7} {:>10}",
                    mode,
                    cores,
                    label,
                    m.floor,
                    m.cpu,
                    m.cpu / m.floor,
                    m.rate,
                    m.handshakes,
                    m.sys_share
                        .map_or_else(|| "-".to_owned(), |s| format!("{:.0}", s * 100.0)),
                    m.busiest
                        .map_or_else(|| "-".to_owned(), |s| format!("{:.0}", s * 100.0))
                );
                rates.push((mode, cores, label.clone(), m.rate));
            }
        }
    }
    for (mode, cores, label, rate) in &rates {
        if *cores == 2
            && let Some((.., one)) = rates
                .iter()
                .find(|(m, c, l, _)| m == mode && *c == 1 && l == label)
        {
            println!(
                "{mode} {label}: 2 cores / 1 core throughput {:.2}x",
                rate / one
            );
        }
    }
    drop(sink.stdin.take());
    let _ = sink.wait();
    Ok(())
}
