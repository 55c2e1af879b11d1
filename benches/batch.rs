//! Batch throughput to the local push service over HTTPS (HTTP/2): 10,000
//! notifications (1,000 subscriptions × 10, 32-octet payloads, each
//! encrypted, VAPID-signed from the cache, and decrypted by the service) at
//! 1, 16 and 256 in flight, on one core and on two.
//!
//! Each core count runs in a child process pinned with `taskset` (Linux,
//! util-linux) to cores `0` or `0,1`, with that many worker threads in each
//! runtime, so the two rows compare the same code on one and on two cores.
//!
//! CPU time per notification is measured from `/proc` (Linux; clock ticks
//! of 10 ms): for the sending side alone (the threads of the client's
//! runtime, blocking pool included; the service runs on a runtime of its
//! own) and for the whole process, against the floor every message costs:
//! an ephemeral P-256 key and an ECDH with the build's backend, measured
//! with the crypto crate directly.
//!
//! `cargo bench --bench batch --features testing -- --bench` (add `ring` to
//! the features for the `ring` backend); without `--bench` (as under
//! `cargo test --benches`) a tiny in-process version runs.

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ring::rand::SystemRandom;
use webpush::batch::{BatchSender, RetryPolicy};
use webpush::message::{self, AuthSecret, Padding, UaKeyPair};
use webpush::request::PushOptions;
use webpush::sender::ReqwestSender;
use webpush::testing::LocalPushService;
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{PushClient, Subscription};

mod common;

type BoxError = Box<dyn std::error::Error>;

/// Thread name (and `/proc` comm) of the sending runtime's threads.
const CLIENT_THREADS: &str = "batch-client";

/// (client threads, whole process) CPU ticks so far.
fn cpu_ticks() -> (u64, u64) {
    let process = common::process_ticks(std::process::id());
    (common::thread_ticks(CLIENT_THREADS), process)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Microseconds per (ephemeral keygen + ECDH), and per whole 32-octet
/// message encryption.
fn encryption_floor(iterations: u32) -> Result<(f64, f64), BoxError> {
    let ua = UaKeyPair::generate()?;
    let auth = AuthSecret::generate()?;
    let point = p256::PublicKey::from_sec1_bytes(ua.public_key().as_bytes())?;
    let rng = SystemRandom::new();
    let started = Instant::now();
    for _ in 0..iterations {
        common::active_floor(&rng, &point, ua.public_key().as_bytes());
    }
    let floor = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(message::encrypt(
            ua.public_key(),
            &auth,
            black_box(&[0x42; 32]),
            Padding::None,
        )?);
    }
    let whole = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    Ok((floor, whole))
}

struct Row {
    concurrency: usize,
    rate: f64,
    client_us: f64,
    process_us: f64,
    peak_mib: f64,
}

fn run(
    client_rt: &tokio::runtime::Runtime,
    client: &PushClient<ReqwestSender>,
    subs: &[Arc<Subscription>],
    per_sub: usize,
    concurrency: usize,
) -> Result<Row, BoxError> {
    let batch = BatchSender::new(client.clone())
        .concurrency(concurrency)
        .retry(RetryPolicy::none());
    let total = subs.len() * per_sub;
    let jobs = common::jobs(subs, total, &[0x42; 32]);
    let (client0, process0) = cpu_ticks();
    let started = Instant::now();
    let delivered = client_rt.block_on(async {
        let mut reports = batch.send_iter(jobs);
        let mut delivered = 0;
        while let Some(r) = reports.next_report().await {
            if let Err(e) = &r.result {
                eprintln!("job {}: {e}", r.key);
            } else {
                delivered += 1;
            }
        }
        delivered
    });
    let wall = started.elapsed().as_secs_f64();
    let (client1, process1) = cpu_ticks();
    if delivered != total {
        return Err(format!("{delivered} of {total} delivered").into());
    }
    Ok(Row {
        concurrency,
        rate: total as f64 / wall,
        client_us: common::us_per(client1 - client0, total),
        process_us: common::us_per(process1 - process0, total),
        peak_mib: peak_rss_mib(),
    })
}

/// One core count: both runtimes with `cores` worker threads. Prints one
/// `ROW` line per concurrency for the parent to collect.
fn measure(
    cores: usize,
    subscriptions: usize,
    per_sub: usize,
    floor_iterations: u32,
) -> Result<(f64, f64, Vec<Row>), BoxError> {
    let (service_rt, client_rt) = common::runtimes(cores, CLIENT_THREADS)?;
    let service = service_rt.block_on(LocalPushService::start())?;
    let key = VapidKey::generate()?;
    let signer = VapidSigner::new(key.clone(), Subject::parse("mailto:bench@example.com")?);
    let client = service.client(signer)?;
    let subs = (0..subscriptions)
        .map(|_| service.subscribe(&key.public_key_base64()).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    // Warm up: connection, TLS handshake, VAPID token.
    client_rt.block_on(client.send(&subs[0], b"warm-up", &PushOptions::new()))?;

    let (floor_us, encrypt_us) = encryption_floor(floor_iterations)?;
    let mut rows = Vec::new();
    for concurrency in [1, 16, 256] {
        rows.push(run(&client_rt, &client, &subs, per_sub, concurrency)?);
    }
    drop(service);
    Ok((floor_us, encrypt_us, rows))
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let (subscriptions, per_sub, floor_iterations) =
        if full { (1000, 10, 2000) } else { (20, 2, 20) };
    let total = subscriptions * per_sub;

    // Child: measure with this many cores and print the figures.
    if let Some(cores) = args
        .iter()
        .position(|a| a == "--child-cores")
        .and_then(|i| args.get(i + 1)?.parse::<usize>().ok())
    {
        let (floor_us, encrypt_us, rows) =
            measure(cores, subscriptions, per_sub, floor_iterations)?;
        println!("FLOOR {floor_us} {encrypt_us}");
        for r in rows {
            println!(
                "ROW {} {} {} {} {}",
                r.concurrency, r.rate, r.client_us, r.process_us, r.peak_mib
            );
        }
        return Ok(());
    }

    let available = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "batch: {total} notifications ({subscriptions} subscriptions x {per_sub}), 32-octet payload, \
         HTTPS to the local push service, backend {}",
        common::BACKEND
    );
    if !full {
        let (floor_us, _, rows) = measure(available, subscriptions, per_sub, floor_iterations)?;
        print_table(available, floor_us, &rows);
        return Ok(());
    }

    let mut results = Vec::new();
    for cores in [1usize, 2].into_iter().filter(|&c| c <= available) {
        let cpu_list = (0..cores)
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let output = Command::new("taskset")
            .args(["-c", &cpu_list])
            .arg(std::env::current_exe()?)
            .args(["--bench", "--child-cores", &cores.to_string()])
            .output()
            .map_err(|e| format!("running taskset (util-linux) to pin the benchmark: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "child on {cores} core(s) failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let (floor_us, rows) = parse_child(&String::from_utf8_lossy(&output.stdout))?;
        print_table(cores, floor_us, &rows);
        results.push(rows);
    }
    if let [one, two] = &results[..] {
        println!("throughput on 2 cores / on 1 core:");
        for (a, b) in one.iter().zip(two) {
            println!("  {:>3} in flight: {:.2}x", a.concurrency, b.rate / a.rate);
        }
    }
    Ok(())
}

fn parse_child(out: &str) -> Result<(f64, Vec<Row>), BoxError> {
    let mut floor = None;
    let mut rows = Vec::new();
    for line in out.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("FLOOR") => floor = f.next().map(str::parse).transpose()?,
            Some("ROW") => {
                let concurrency: usize = f.next().ok_or("empty row")?.parse()?;
                let v: Vec<f64> = f.map(str::parse).collect::<Result<_, _>>()?;
                let [rate, client_us, process_us, peak_mib] = v[..] else {
                    return Err(format!("bad row: {line}").into());
                };
                rows.push(Row {
                    concurrency,
                    rate,
                    client_us,
                    process_us,
                    peak_mib,
                });
            }
            _ => {}
        }
    }
    Ok((floor.ok_or("no FLOOR line from the child")?, rows))
}

fn print_table(cores: usize, floor_us: f64, rows: &[Row]) {
    println!(
        "{cores} core(s); encryption floor (ephemeral keygen + ECDH, {}): {floor_us:.1} us",
        common::BACKEND
    );
    println!(
        "{:>11} | {:>15} | {:>18} | {:>14} | {:>19} | {:>13}",
        "in flight",
        "notifications/s",
        "sender CPU us/notif",
        "x floor",
        "process CPU us/notif",
        "peak RSS MiB"
    );
    for r in rows {
        println!(
            "{:>11} | {:>15.0} | {:>19.1} | {:>14.2} | {:>20.1} | {:>13.1}",
            r.concurrency,
            r.rate,
            r.client_us,
            r.client_us / floor_us,
            r.process_us,
            r.peak_mib
        );
    }
}
