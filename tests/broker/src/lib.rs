//! The harness of the broker suite: a real `nats-server` (JetStream, file
//! storage in a temporary directory, on a free loopback port; stopped,
//! killed or restarted on the same store), the in-process
//! [`LocalPushService`], and `webpush enqueue` / `worker` / `feedback`
//! processes of the real CLI binary, killed by PID (SIGKILL through
//! [`Child::kill`], SIGTERM through `kill -TERM <pid>`).
//!
//! Everything fails loudly: a missing binary, a server that does not come
//! up, a wait that runs past its bound. Every child process is killed when
//! its handle is dropped, so a failing test leaves nothing running.

#![forbid(unsafe_code)]

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use webpush::Subscription;
use webpush::testing::LocalPushService;
use webpush::vapid::VapidKey;

/// The stream, consumer and subjects the CLI uses by default.
pub const STREAM: &str = "WEBPUSH";
/// The workers' durable consumer.
pub const CONSUMER: &str = "webpush-workers";
/// Where raw job messages go.
pub const JOBS_SUBJECT: &str = "webpush.jobs";

/// Runs the tests of one binary one at a time: each starts a server and
/// processes of its own, and two cores do not run two such tests at once
/// in the time their bounds allow.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

// ------------------------------------------------------------ binaries

/// The `webpush` CLI binary: `WEBPUSH_BIN`, else `debug/webpush` under
/// `CARGO_TARGET_DIR` or this repository's `target/`.
///
/// # Panics
/// When it does not exist (build it with `cargo build --bin webpush
/// --features cli,jetstream`).
#[must_use]
pub fn webpush_bin() -> PathBuf {
    let path = std::env::var_os("WEBPUSH_BIN").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                PathBuf::from,
            );
            target.join("debug/webpush")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the webpush CLI binary is missing at {}: build it first with \
         `cargo build --locked --bin webpush --features cli,jetstream`, or set WEBPUSH_BIN",
        path.display()
    );
    path
}

/// `NATS_SERVER`, else `nats-server` on PATH.
///
/// # Panics
/// When it cannot be run (install it: Debian package `nats-server`).
#[must_use]
pub fn nats_server_bin() -> PathBuf {
    let path = std::env::var_os("NATS_SERVER").map_or_else(|| "nats-server".into(), PathBuf::from);
    let ok = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot run {}: the broker suite needs nats-server (Debian: apt-get install nats-server), \
         or set NATS_SERVER to its path",
        path.display()
    );
    path
}

// ------------------------------------------------------------ temp dir

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    ///
    /// # Panics
    /// When it cannot be created.
    #[must_use]
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "webpush-broker-{}-{name}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }

    /// A path inside it.
    #[must_use]
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    /// Writes a file inside it.
    ///
    /// # Panics
    /// When writing fails.
    pub fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(file);
        std::fs::write(&path, contents).expect("write a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends SIGTERM to a process.
///
/// # Panics
/// When `kill` cannot be run or fails.
pub fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill -TERM");
    assert!(status.success(), "kill -TERM {pid} failed");
}

/// Waits for a child to exit, at most `bound`; kills it and panics after.
///
/// # Panics
/// When it is still running after `bound`.
pub fn wait_exit(child: &mut Child, bound: Duration, what: &str) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free loopback port (bound then released).
///
/// # Panics
/// When binding fails.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

// ------------------------------------------------------------ nats-server

/// A `nats-server -js` on `127.0.0.1:<port>` with its store in a temp
/// directory; killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    starts: u32,
}

impl NatsServer {
    /// Starts it and waits until it accepts clients (at most 15 s).
    ///
    /// # Panics
    /// When nats-server is missing or does not come up.
    #[must_use]
    pub fn start() -> Self {
        let mut server = Self {
            child: None,
            port: free_port(),
            dir: TempDir::new("nats"),
            starts: 0,
        };
        server.spawn();
        server
    }

    /// `nats://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its PID, while running.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path(&format!("server-{}.log", self.starts))
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = File::create(self.log_path()).expect("create the nats-server log");
        let child = Command::new(nats_server_bin())
            .arg("-js")
            .arg("-sd")
            .arg(self.dir.path("store"))
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn nats-server");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(15));
    }

    /// Waits until the server sends its `INFO` line to a new client.
    fn wait_ready(&mut self, bound: Duration) {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().expect("try_wait nats-server")
            {
                panic!(
                    "nats-server exited ({status}) while starting: {}",
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                );
            }
            if let Ok(stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) {
                use std::io::Read;
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 5];
                if (&stream).read_exact(&mut buf).is_ok() && &buf == b"INFO " {
                    return;
                }
            }
            assert!(
                started.elapsed() < bound,
                "nats-server did not accept clients on port {} within {bound:?}: {}",
                self.port,
                std::fs::read_to_string(self.log_path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops it with SIGTERM (a clean shutdown: the store is flushed) and
    /// waits for it to exit (at most 15 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigterm(child.id());
            let _ = wait_exit(&mut child, Duration::from_secs(15), "nats-server");
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ------------------------------------------------------------ processes

/// A running `webpush` process (a worker, or `feedback --follow`) with its
/// output in files; killed on drop.
#[derive(Debug)]
pub struct Process {
    child: Option<Child>,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Process {
    /// Spawns `webpush <args>` with stdout and stderr to files of `dir`.
    ///
    /// # Panics
    /// When the binary is missing or cannot be spawned.
    #[must_use]
    pub fn spawn(dir: &TempDir, name: &str, args: &[String]) -> Self {
        let stdout = dir.path(&format!("{name}.stdout"));
        let stderr = dir.path(&format!("{name}.stderr"));
        let child = Command::new(webpush_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("create stdout file"))
            .stderr(File::create(&stderr).expect("create stderr file"))
            .spawn()
            .expect("spawn webpush");
        Self {
            child: Some(child),
            name: name.to_owned(),
            stdout,
            stderr,
        }
    }

    /// Its PID.
    ///
    /// # Panics
    /// After it was waited for.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What it wrote to stderr so far.
    #[must_use]
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What it wrote to stdout so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Panics with its stderr if it exited or ever panicked.
    ///
    /// # Panics
    /// See above.
    pub fn assert_alive(&mut self) {
        let err = self.stderr();
        assert!(!err.contains("panicked"), "{} panicked: {err}", self.name);
        assert!(self.is_running(), "{} exited: {err}", self.name);
    }

    /// SIGKILL (`kill -9`), then reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM.
    pub fn sigterm(&self) {
        sigterm(self.pid());
    }

    /// Waits for it to exit, at most `bound`.
    ///
    /// # Panics
    /// When it runs past `bound` (it is killed then).
    pub fn wait(&mut self, bound: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        wait_exit(&mut child, bound, &self.name)
    }

    /// `VmRSS` in KiB, from `/proc/<pid>/status`.
    ///
    /// # Panics
    /// When it is not running or `/proc` cannot be read.
    #[must_use]
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Open file descriptors, from `/proc/<pid>/fd`.
    ///
    /// # Panics
    /// When it is not running or `/proc` cannot be read.
    #[must_use]
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("read /proc/<pid>/fd")
            .count()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ------------------------------------------------------------ the fixture

/// Broker and worker settings, passed to every command as flags: small
/// ones, so that redeliveries and dead letters come in seconds.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// `--max-deliver`.
    pub max_deliver: u32,
    /// `--ack-wait`, seconds.
    pub ack_wait: f64,
    /// `--backoff-min`, seconds.
    pub backoff_min: f64,
    /// `--backoff-max`, seconds.
    pub backoff_max: f64,
    /// `--concurrency` of each worker.
    pub concurrency: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            max_deliver: 5,
            ack_wait: 5.0,
            backoff_min: 0.2,
            backoff_max: 1.0,
            concurrency: 16,
        }
    }
}

/// A server, a push service, a VAPID key and the files the CLI reads.
#[derive(Debug)]
pub struct Broker {
    /// The nats-server.
    pub nats: NatsServer,
    /// The push service (on the test's runtime).
    pub service: LocalPushService,
    /// The VAPID key the workers sign with.
    pub vapid: VapidKey,
    /// Files: key, CA certificate, subscriptions, process output.
    pub dir: TempDir,
    /// The settings.
    pub knobs: Knobs,
    workers: u32,
}

impl Broker {
    /// Starts nats-server and the push service; checks the CLI binary.
    ///
    /// # Panics
    /// When a binary is missing or a server does not start.
    pub async fn start(knobs: Knobs) -> Self {
        let _ = webpush_bin();
        let nats = NatsServer::start();
        let service = LocalPushService::start()
            .await
            .expect("start the local push service");
        let vapid = VapidKey::generate().expect("generate a VAPID key");
        let dir = TempDir::new("broker");
        dir.write("vapid.pem", vapid.to_pkcs8_pem().as_bytes());
        dir.write("ca.pem", service.root_certificate_pem());
        Self {
            nats,
            service,
            vapid,
            dir,
            knobs,
            workers: 0,
        }
    }

    /// `n` fresh subscriptions of the push service for this VAPID key.
    ///
    /// # Panics
    /// When subscribing fails.
    #[must_use]
    pub fn subscribe(&self, n: usize) -> Vec<Subscription> {
        (0..n)
            .map(|_| {
                self.service
                    .subscribe(&self.vapid.public_key_base64())
                    .expect("subscribe")
            })
            .collect()
    }

    /// Writes subscriptions as a JSON-lines file.
    #[must_use]
    pub fn subscriptions_file(&self, name: &str, subs: &[Subscription]) -> PathBuf {
        let mut text = String::new();
        for s in subs {
            text.push_str(&s.to_json());
            text.push('\n');
        }
        self.dir.write(name, text)
    }

    /// The flags every queue command takes.
    #[must_use]
    pub fn broker_args(&self) -> Vec<String> {
        vec![
            "--nats".into(),
            self.nats.url(),
            "--max-deliver".into(),
            self.knobs.max_deliver.to_string(),
            "--ack-wait".into(),
            self.knobs.ack_wait.to_string(),
        ]
    }

    /// `webpush enqueue` of a subscriptions file with `extra` flags (a
    /// payload among them); returns its output once it exits (at most
    /// 120 s).
    ///
    /// # Panics
    /// When it cannot run or runs past its bound.
    #[must_use]
    pub fn enqueue(&self, subscriptions: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["enqueue".to_owned()];
        args.extend(self.broker_args());
        args.push("--subscriptions".into());
        args.push(subscriptions.display().to_string());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut p = Process::spawn(&self.dir, "enqueue", &args);
        let status = p.wait(Duration::from_secs(120));
        Output {
            status,
            stdout: p.stdout().into_bytes(),
            stderr: p.stderr().into_bytes(),
        }
    }

    /// Like [`enqueue`](Self::enqueue), and asserts exit 0 and no panic.
    ///
    /// # Panics
    /// When it fails.
    pub fn enqueue_ok(&self, subscriptions: &Path, extra: &[&str]) -> String {
        let out = self.enqueue(subscriptions, extra);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "enqueue failed ({}): {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{err}");
        err
    }

    /// Spawns a `webpush worker` with the knobs and `extra` flags.
    #[must_use]
    pub fn worker(&mut self, extra: &[&str]) -> Process {
        self.workers += 1;
        let mut args = vec!["worker".to_owned()];
        args.extend(self.broker_args());
        for (flag, value) in [
            (
                "--vapid-key",
                self.dir.path("vapid.pem").display().to_string(),
            ),
            ("--subject", "mailto:broker-tests@example.com".to_owned()),
            ("--ca-cert", self.dir.path("ca.pem").display().to_string()),
            ("--concurrency", self.knobs.concurrency.to_string()),
            ("--backoff-min", self.knobs.backoff_min.to_string()),
            ("--backoff-max", self.knobs.backoff_max.to_string()),
            ("--timeout", "10".to_owned()),
            ("--stats-interval", "1".to_owned()),
        ] {
            args.push(flag.into());
            args.push(value);
        }
        args.push("--allow-loopback".into());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Process::spawn(&self.dir, &format!("worker-{}", self.workers), &args)
    }

    /// `webpush feedback` (drain mode): every event not read before, as
    /// JSON values; asserts exit 0 within 60 s.
    ///
    /// # Panics
    /// When it fails or a line is not JSON.
    #[must_use]
    pub fn feedback(&self) -> Vec<Value> {
        let mut args = vec!["feedback".to_owned()];
        args.extend(self.broker_args());
        let mut p = Process::spawn(&self.dir, "feedback", &args);
        let status = p.wait(Duration::from_secs(60));
        assert!(
            status.success(),
            "feedback failed ({status}): {}",
            p.stderr()
        );
        p.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("feedback line {l:?}: {e}")))
            .collect()
    }

    /// A NATS client of the server (for raw publishes and consumer state).
    ///
    /// # Panics
    /// When connecting fails.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.nats.url())
            .await
            .expect("connect to nats-server")
    }

    /// (pending, ack pending) of the workers' consumer.
    ///
    /// # Panics
    /// When the stream or consumer does not exist.
    pub async fn consumer_state(&self, js: &async_nats::jetstream::Context) -> (u64, usize) {
        let stream = js.get_stream(STREAM).await.expect("the jobs stream");
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .get_consumer(CONSUMER)
            .await
            .expect("the workers' consumer");
        let info = consumer.info().await.expect("consumer info");
        (info.num_pending, info.num_ack_pending)
    }

    /// Waits until the consumer has nothing pending and nothing unacked,
    /// twice in a row 300 ms apart, at most `bound`.
    ///
    /// # Panics
    /// After `bound`, with the state it saw.
    pub async fn wait_drained(&self, bound: Duration) {
        let js = async_nats::jetstream::new(self.client().await);
        let started = Instant::now();
        let mut quiet = 0;
        loop {
            let state = self.consumer_state(&js).await;
            quiet = if state == (0, 0) { quiet + 1 } else { 0 };
            if quiet >= 2 {
                return;
            }
            assert!(
                started.elapsed() < bound,
                "the consumer was not drained within {bound:?}: (pending, ack pending) = {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Every message the service accepted for each subscription, taken out
    /// of it, added to `into` (one list per subscription, same order).
    pub fn take_received(
        &self,
        subs: &[Subscription],
        into: &mut Vec<Vec<webpush::testing::ReceivedMessage>>,
    ) -> usize {
        into.resize_with(subs.len(), Vec::new);
        let mut total = 0;
        for (sub, list) in subs.iter().zip(into.iter_mut()) {
            list.extend(self.service.take_received(sub));
            total += list.len();
        }
        total
    }
}

/// The endpoint URL of a subscription, as its JSON has it (and as
/// feedback events carry it).
///
/// # Panics
/// Never for a valid subscription.
#[must_use]
pub fn endpoint(sub: &Subscription) -> String {
    let v: Value = serde_json::from_str(&sub.to_json()).expect("subscription JSON");
    v["endpoint"].as_str().expect("endpoint").to_owned()
}

/// Polls `done` every 50 ms until it returns true, at most `bound`.
///
/// # Panics
/// After `bound`, with `what` and the last `state` text.
pub async fn wait_until(bound: Duration, what: &str, mut done: impl FnMut() -> (bool, String)) {
    let started = Instant::now();
    loop {
        let (ok, state) = done();
        if ok {
            return;
        }
        assert!(
            started.elapsed() < bound,
            "{what}: not reached within {bound:?} ({state})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
