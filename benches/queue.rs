//! The broker path (feature `jetstream`) against `BatchSender` alone, side
//! by side in one run: the same notifications (32-octet payloads, each
//! encrypted, VAPID-signed from the cache, sent over HTTPS/HTTP/2 to the
//! local push service, which decrypts them) sent
//!
//! 1. by `BatchSender` alone, from an in-memory list;
//! 2. enqueued on a real nats-server (JetStream, file storage) with the
//!    `Publisher` (the enqueue rate), then sent by one `Worker`;
//! 3. enqueued again and sent by two `Worker`s (two connections) at once.
//!
//! CPU time per notification comes from `/proc` (Linux; 10 ms ticks): the
//! sending side (the threads of the client runtime; the push service has a
//! runtime of its own) and, for the broker rows, nats-server's process too.
//! "added" is the broker row's client CPU minus the `BatchSender` row's.
//!
//! `cargo bench --bench queue --features jetstream,testing -- --bench`
//! (nats-server on PATH, or `NATS_SERVER`); without `--bench` (as under
//! `cargo test --benches`) a small version runs.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use webpush::batch::{BatchSender, RetryPolicy};
use webpush::queue::{JetStream, JetStreamConfig, PushJob};
use webpush::request::PushOptions;
use webpush::sender::ReqwestSender;
use webpush::testing::LocalPushService;
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{PushClient, Subscription};

mod common;

type BoxError = Box<dyn std::error::Error>;

/// Thread name (and `/proc` comm prefix) of the sending runtime.
const CLIENT_THREADS: &str = "queue-client";
const CONCURRENCY: usize = 64;
const PAYLOAD: [u8; 32] = [0x42; 32];

/// A nats-server with JetStream on a free loopback port; killed on drop.
struct Nats {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Nats {
    fn start() -> Result<Self, BoxError> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("webpush-bench-queue-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let bin = std::env::var_os("NATS_SERVER").unwrap_or_else(|| "nats-server".into());
        let child = Command::new(&bin)
            .arg("-js")
            .arg("-sd")
            .arg(&dir)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e} (install nats-server)", bin.display()))?;
        let nats = Self { child, port, dir };
        let started = Instant::now();
        loop {
            if let Ok(s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
                use std::io::Read;
                s.set_read_timeout(Some(Duration::from_secs(1)))?;
                let mut buf = [0u8; 4];
                if (&s).read_exact(&mut buf).is_ok() && &buf == b"INFO" {
                    return Ok(nats);
                }
            }
            if started.elapsed() > Duration::from_secs(15) {
                return Err("nats-server did not come up in 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Row {
    what: String,
    rate: f64,
    client_us: f64,
    nats_us: Option<f64>,
}

fn baseline(
    rt: &tokio::runtime::Runtime,
    client: &PushClient<ReqwestSender>,
    subs: &[Arc<Subscription>],
    total: usize,
) -> Result<Row, BoxError> {
    let batch = BatchSender::new(client.clone())
        .concurrency(CONCURRENCY)
        .retry(RetryPolicy::none());
    let jobs = common::jobs(subs, total, &PAYLOAD);
    let cpu0 = common::thread_ticks(CLIENT_THREADS);
    let started = Instant::now();
    let delivered = rt.block_on(async {
        let mut reports = batch.send_iter(jobs);
        let mut delivered = 0;
        while let Some(r) = reports.next_report().await {
            delivered += usize::from(r.result.is_ok());
        }
        delivered
    });
    let wall = started.elapsed().as_secs_f64();
    if delivered != total {
        return Err(format!("BatchSender: {delivered} of {total} delivered").into());
    }
    Ok(Row {
        what: "BatchSender alone".into(),
        rate: total as f64 / wall,
        client_us: common::us_per(common::thread_ticks(CLIENT_THREADS) - cpu0, total),
        nats_us: None,
    })
}

/// Enqueues `total` jobs with ids `<prefix><n>`; the enqueue rate.
fn enqueue(
    rt: &tokio::runtime::Runtime,
    js: &JetStream,
    subs: &[Arc<Subscription>],
    prefix: &str,
    total: usize,
) -> Result<f64, BoxError> {
    let jobs = (0..total)
        .map(|i| {
            PushJob::new(
                format!("{prefix}{i}"),
                Arc::clone(&subs[i % subs.len()]),
                PAYLOAD,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let stored = rt.block_on(async {
        use futures_util::StreamExt;
        let publisher = js.publisher().max_in_flight(256);
        let mut results = std::pin::pin!(publisher.publish_iter(jobs));
        let mut stored = 0;
        while let Some((_, r)) = results.next().await {
            stored += usize::from(r.is_ok_and(|e| !e.duplicate));
        }
        stored
    });
    if stored != total {
        return Err(format!("enqueue: {stored} of {total} stored").into());
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Runs `workers` workers until `total` more notifications are delivered.
fn workers(
    rt: &tokio::runtime::Runtime,
    nats: &Nats,
    config: &JetStreamConfig,
    client: &PushClient<ReqwestSender>,
    workers: usize,
    total: usize,
) -> Result<Row, BoxError> {
    let cpu0 = common::thread_ticks(CLIENT_THREADS);
    let nats0 = common::process_ticks(nats.child.id());
    let started = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::new();
        let mut stats = Vec::new();
        let mut shutdowns = Vec::new();
        for _ in 0..workers {
            let js = JetStream::connect(&nats.url(), config.clone()).await?;
            let worker = js
                .worker(BatchSender::new(client.clone()))
                .concurrency(CONCURRENCY);
            stats.push(worker.stats_handle());
            shutdowns.push(worker.shutdown_handle());
            handles.push(tokio::spawn(worker.run()));
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let delivered: u64 = stats.iter().map(|s| s.get().delivered).sum();
            if delivered >= total as u64 {
                break;
            }
            if Instant::now() > deadline {
                return Err::<(), BoxError>(format!("{delivered} of {total} in 600 s").into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for s in &shutdowns {
            s.shutdown();
        }
        for h in handles {
            h.await??;
        }
        Ok(())
    })?;
    let wall = started.elapsed().as_secs_f64();
    Ok(Row {
        what: format!("{workers} worker(s) over JetStream"),
        rate: total as f64 / wall,
        client_us: common::us_per(common::thread_ticks(CLIENT_THREADS) - cpu0, total),
        nats_us: Some(common::us_per(
            common::process_ticks(nats.child.id()) - nats0,
            total,
        )),
    })
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let (total, n_subs) = if full { (20_000, 1000) } else { (500, 50) };
    let nats = Nats::start()?;
    let (service_rt, rt) = common::runtimes(2, CLIENT_THREADS)?;
    let service = service_rt.block_on(LocalPushService::start())?;
    let key = VapidKey::generate()?;
    let signer = VapidSigner::new(key.clone(), Subject::parse("mailto:bench@example.com")?);
    let client = {
        let _guard = rt.enter();
        service.client(signer)?
    };
    let subs = (0..n_subs)
        .map(|_| service.subscribe(&key.public_key_base64()).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    rt.block_on(client.send(&subs[0], b"warm-up", &PushOptions::new()))?;

    let config = JetStreamConfig::new();
    let js = rt.block_on(JetStream::connect(&nats.url(), config.clone()))?;
    let mut rows = vec![baseline(&rt, &client, &subs, total)?];
    let enqueue_1 = enqueue(&rt, &js, &subs, "one-", total)?;
    rows.push(workers(&rt, &nats, &config, &client, 1, total)?);
    let enqueue_2 = enqueue(&rt, &js, &subs, "two-", total)?;
    rows.push(workers(&rt, &nats, &config, &client, 2, total)?);

    println!(
        "queue: {total} notifications ({n_subs} subscriptions), 32-octet payload, {CONCURRENCY} \
         in flight per sender, HTTPS to the local push service, nats-server with file storage"
    );
    println!(
        "enqueue (Publisher, 256 PubAcks in flight): {enqueue_1:.0} and {enqueue_2:.0} jobs/s"
    );
    println!(
        "{:<28} | {:>15} | {:>20} | {:>22} | {:>20}",
        "sender",
        "notifications/s",
        "client CPU us/notif",
        "added over BatchSender",
        "nats-server us/notif"
    );
    let base = rows[0].client_us;
    for r in &rows {
        println!(
            "{:<28} | {:>15.0} | {:>20.1} | {:>22} | {:>20}",
            r.what,
            r.rate,
            r.client_us,
            r.nats_us
                .map_or("-".to_owned(), |_| format!("{:+.1}", r.client_us - base)),
            r.nats_us.map_or("-".to_owned(), |n| format!("{n:.1}")),
        );
    }
    drop(service);
    Ok(())
}
