//! The `webpush` binary, each subcommand run as a process; sends go to a
//! `LocalPushService` on loopback.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use webpush::message::{self, AuthSecret, HEADER_LEN, UaKeyPair};
use webpush::request::ContentEncoding;
use webpush::testing::{Fault, LocalPushService};
use webpush::vapid::VapidKey;
use webpush::{Endpoint, Subscription};

const EXIT_FAILED: i32 = 1;
const EXIT_INPUT: i32 = 2;
const EXIT_GONE: i32 = 3;
const EXIT_RETRY: i32 = 4;

/// The binary under test: this build's, or the one `WEBPUSH_BIN` names
/// (CI runs these tests again against the static C-free build).
fn webpush() -> assert_cmd::Command {
    match std::env::var_os("WEBPUSH_BIN") {
        Some(bin) => assert_cmd::Command::new(bin),
        None => assert_cmd::Command::new(env!("CARGO_BIN_EXE_webpush")),
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "webpush-cli-{}-{name}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(file);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Failed with `code`, one `error:` line on stderr, no panic.
fn assert_clean_failure(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
    let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    errors[0].to_owned()
}

/// Like [`assert_clean_failure`], and stderr is that one line only (the
/// binary's own errors, as opposed to clap's, which add a usage hint).
fn assert_one_line_failure(out: &Output, code: i32) -> String {
    let line = assert_clean_failure(out, code);
    assert_eq!(stderr(out).lines().count(), 1, "{}", stderr(out));
    line
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------
// generate-vapid-keys

/// `--version` names the crypto the binary runs: this build's when it is
/// the binary under test (against `WEBPUSH_BIN`, CI checks the C-free one
/// names graviola itself).
#[test]
fn version_names_the_crypto_of_the_build() {
    let out = webpush().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("webpush {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {text}"))
            .to_owned()
    };
    let (messages, tls) = (line("message crypto: "), line("TLS: rustls, "));
    if std::env::var_os("WEBPUSH_BIN").is_none() {
        assert_eq!(messages, webpush::message::crypto_backend());
        let provider = webpush::sender::ReqwestSender::tls_provider_name();
        assert_eq!(tls, format!("{provider} provider"));
    } else {
        assert!(
            ["ring", "graviola", "RustCrypto"]
                .iter()
                .any(|b| messages.starts_with(b)),
            "{messages}"
        );
        assert!(tls.ends_with(" provider"), "{tls}");
    }
}

#[test]
fn generate_vapid_keys_writes_a_0600_file_and_refuses_to_overwrite_it() {
    let dir = TempDir::new("gen");
    let key_path = dir.path("key.pem");
    let out = webpush()
        .args(["generate-vapid-keys", "--out"])
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let public = stdout(&out).trim().to_owned();
    let pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(VapidKey::parse(&pem).unwrap().public_key_base64(), public);
    assert!(!stdout(&out).contains("PRIVATE"));
    #[cfg(unix)]
    assert_eq!(mode(&key_path), 0o600);

    // Again: refused, the file untouched.
    let out = webpush()
        .args(["generate-vapid-keys", "--out"])
        .arg(&key_path)
        .output()
        .unwrap();
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("already exists"), "{line}");
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), pem);

    // --force replaces it, even over a world-readable file, with mode 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = webpush()
        .args(["generate-vapid-keys", "--force", "--out"])
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let replaced = std::fs::read_to_string(&key_path).unwrap();
    assert_ne!(replaced, pem);
    assert_eq!(
        VapidKey::parse(&replaced).unwrap().public_key_base64(),
        stdout(&out).trim()
    );
    #[cfg(unix)]
    assert_eq!(mode(&key_path), 0o600);
}

#[test]
fn generate_vapid_keys_json_and_stdout() {
    let dir = TempDir::new("genjson");
    let key_path = dir.path("k.pem");
    let out = webpush()
        .args(["generate-vapid-keys", "--json", "--out"])
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let key = VapidKey::parse(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(json["public_key"], key.public_key_base64().as_str());
    assert_eq!(json["private_key_file"], key_path.to_str().unwrap());
    assert_eq!(json.as_object().unwrap().len(), 2);

    // Without --out the PEM (only) goes to stdout, the public key to stderr.
    let out = webpush().arg("generate-vapid-keys").output().unwrap();
    assert!(out.status.success());
    let key = VapidKey::parse(&stdout(&out)).unwrap();
    assert!(
        stdout(&out)
            .trim_end()
            .ends_with("-----END PRIVATE KEY-----")
    );
    assert!(stderr(&out).contains(&key.public_key_base64()));

    // --json needs --out: a usage error.
    let out = webpush()
        .args(["generate-vapid-keys", "--json"])
        .output()
        .unwrap();
    assert_clean_failure(&out, EXIT_INPUT);
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------
// encrypt / decrypt

struct Receiver {
    p256dh: String,
    auth: String,
    private: String,
    ua: UaKeyPair,
    secret: AuthSecret,
}

fn receiver() -> Receiver {
    let ua = UaKeyPair::generate().unwrap();
    let secret = AuthSecret::generate().unwrap();
    Receiver {
        p256dh: ua.public_key().to_base64(),
        auth: secret.expose_base64().to_string(),
        private: ua.expose_private_base64().to_string(),
        ua,
        secret,
    }
}

fn encrypt(r: &Receiver, plaintext: &[u8], pad: Option<&str>) -> Output {
    let mut cmd = webpush();
    cmd.args(["encrypt", "--p256dh", &r.p256dh, "--auth", &r.auth]);
    if let Some(pad) = pad {
        cmd.args(["--pad", pad]);
    }
    cmd.write_stdin(plaintext).output().unwrap()
}

fn decrypt(r: &Receiver, body: &[u8]) -> Output {
    webpush()
        .args(["decrypt", "--private-key", &r.private, "--auth", &r.auth])
        .write_stdin(body)
        .output()
        .unwrap()
}

/// Octets a body adds to the padded plaintext: header, delimiter, tag.
const OVERHEAD: usize = message::MAX_BODY_LEN - message::MAX_PLAINTEXT_LEN;

#[test]
fn encrypt_then_decrypt_round_trips_through_two_processes() {
    let r = receiver();
    let plaintext = b"Hello from the command line";

    let out = encrypt(&r, plaintext, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), plaintext.len() + OVERHEAD);
    assert_eq!(
        message::decrypt(&r.ua, &r.secret, &out.stdout).unwrap(),
        plaintext
    );
    let back = decrypt(&r, &out.stdout);
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(back.stdout, plaintext);

    // --pad 100: the padded plaintext is 100 octets.
    let out = encrypt(&r, plaintext, Some("100"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 100 + OVERHEAD);
    assert!(out.stdout.len() > HEADER_LEN + 100);
    assert_eq!(decrypt(&r, &out.stdout).stdout, plaintext);

    // A block larger than a message: capped at the 4096-octet body.
    let big = vec![b'x'; message::MAX_PLAINTEXT_LEN];
    let out = encrypt(&r, &big, Some("5000"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), message::MAX_BODY_LEN);
    assert_eq!(decrypt(&r, &out.stdout).stdout, big);

    // Empty stdin is a valid (empty) message.
    let out = encrypt(&r, b"", None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(decrypt(&r, &out.stdout).stdout, b"");
}

#[test]
fn decrypt_reads_the_private_key_from_a_file() {
    let r = receiver();
    let dir = TempDir::new("decrypt-key-file");
    let key = dir.write("key.txt", format!("{}\n", r.private));
    let out = encrypt(&r, b"from a key file", None);
    assert!(out.status.success(), "{}", stderr(&out));
    let back = webpush()
        .args([
            "decrypt",
            "--private-key-file",
            key.to_str().unwrap(),
            "--auth",
            &r.auth,
        ])
        .write_stdin(out.stdout.clone())
        .output()
        .unwrap();
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(back.stdout, b"from a key file");
    // A missing file fails cleanly without echoing anything secret.
    let missing = dir.path("nope.txt");
    let back = webpush()
        .args([
            "decrypt",
            "--private-key-file",
            missing.to_str().unwrap(),
            "--auth",
            &r.auth,
        ])
        .write_stdin(out.stdout)
        .output()
        .unwrap();
    let err = assert_one_line_failure(&back, 2);
    assert!(!err.contains(&r.auth), "{err}");
    // The help says why a file is better.
    let help = webpush().args(["decrypt", "--help"]).output().unwrap();
    assert!(
        stdout(&help).contains("visible to other local users"),
        "{}",
        stdout(&help)
    );
}

#[test]
fn keys_starting_with_a_hyphen_are_values_not_flags() {
    // base64url uses `-`: 0xf8 encodes as a leading `-`.
    let ua = UaKeyPair::from_private_bytes(&[0xf8; 32]).unwrap();
    let secret = AuthSecret::from_bytes([0xf8; 16]);
    let r = Receiver {
        p256dh: ua.public_key().to_base64(),
        auth: secret.expose_base64().to_string(),
        private: ua.expose_private_base64().to_string(),
        ua,
        secret,
    };
    assert!(r.auth.starts_with('-') && r.private.starts_with('-'));
    let out = encrypt(&r, b"-n", Some("8"));
    assert!(out.status.success(), "{}", stderr(&out));
    let back = decrypt(&r, &out.stdout);
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(back.stdout, b"-n");
}

#[test]
fn encrypt_refuses_too_much_input_and_bad_keys() {
    let r = receiver();
    let out = encrypt(&r, &vec![b'x'; message::MAX_PLAINTEXT_LEN + 1], Some("16"));
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("exceeds the limit"), "{line}");
    assert!(out.stdout.is_empty());

    let out = encrypt(&r, &vec![b'x'; 100 * 1024], None);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("stdin is larger than 65536"), "{line}");

    let out = webpush()
        .args(["encrypt", "--p256dh", "AAAA", "--auth", &r.auth])
        .write_stdin("hi")
        .output()
        .unwrap();
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("--p256dh"), "{line}");

    let out = webpush()
        .args(["encrypt", "--p256dh", &r.p256dh, "--auth", "not base64!"])
        .write_stdin("hi")
        .output()
        .unwrap();
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("--auth"), "{line}");

    let out = webpush()
        .args([
            "encrypt", "--p256dh", &r.p256dh, "--auth", &r.auth, "--pad", "0",
        ])
        .write_stdin("hi")
        .output()
        .unwrap();
    assert_clean_failure(&out, EXIT_INPUT);
}

#[test]
fn decrypt_of_garbage_fails_cleanly() {
    let r = receiver();
    for body in [
        &b""[..],
        b"garbage",
        &[0u8; 200],
        &[0xffu8; 5000],
        &vec![7u8; 70 * 1024],
    ] {
        let out = decrypt(&r, body);
        let line = assert_one_line_failure(&out, EXIT_INPUT);
        assert!(out.stdout.is_empty(), "{line}");
    }

    // A body for someone else does not authenticate.
    let other = receiver();
    let body = encrypt(&other, b"secret", None).stdout;
    let out = decrypt(&r, &body);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.starts_with("error: cannot decrypt"), "{line}");
    assert!(out.stdout.is_empty());

    // A bad private key is named, and not echoed.
    let out = webpush()
        .args([
            "decrypt",
            "--private-key",
            "c2VjcmV0LWlzaA",
            "--auth",
            &r.auth,
        ])
        .write_stdin(body)
        .output()
        .unwrap();
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("--private-key"), "{line}");
    assert!(!line.contains("c2VjcmV0LWlzaA"), "{line}");
}

// ---------------------------------------------------------------------------
// vapid-header

#[test]
fn vapid_header_verifies() {
    let dir = TempDir::new("hdr");
    let key = VapidKey::generate().unwrap();
    let key_path = dir.write("key.pem", key.to_pkcs8_pem().as_bytes());
    let out = webpush()
        .args(["vapid-header", "--vapid-key"])
        .arg(&key_path)
        .args([
            "--audience",
            "https://push.example.net",
            "--subject",
            "mailto:ops@example.com",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let header = stdout(&out);
    assert_eq!(header.lines().count(), 1);
    assert!(header.starts_with("vapid t="), "{header}");
    let verified = webpush::vapid::token::verify(header.trim(), now()).unwrap();
    assert_eq!(verified.claims.aud, "https://push.example.net");
    assert_eq!(verified.claims.sub, "mailto:ops@example.com");
    assert_eq!(&verified.public_key, key.public_key_bytes());
    assert!(verified.claims.exp > now());

    // A bad audience and a bad subject are usage errors.
    for (aud, sub) in [
        ("not an origin", "mailto:ops@example.com"),
        ("https://push.example.net", "http://example.com"),
    ] {
        let out = webpush()
            .args(["vapid-header", "--vapid-key"])
            .arg(&key_path)
            .args(["--audience", aud, "--subject", sub])
            .output()
            .unwrap();
        assert_clean_failure(&out, EXIT_INPUT);
    }
}

// ---------------------------------------------------------------------------
// send and send-batch, against a local push service

struct Service {
    // Field order: the service stops before its runtime.
    service: LocalPushService,
    _rt: tokio::runtime::Runtime,
    dir: TempDir,
    key: VapidKey,
    key_path: PathBuf,
    ca_path: PathBuf,
}

impl Service {
    fn start(name: &str) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let service = rt.block_on(LocalPushService::start()).unwrap();
        let dir = TempDir::new(name);
        let key = VapidKey::generate().unwrap();
        let key_path = dir.write("vapid.pem", key.to_pkcs8_pem().as_bytes());
        let ca_path = dir.write("ca.pem", service.root_certificate_pem());
        Self {
            service,
            _rt: rt,
            dir,
            key,
            key_path,
            ca_path,
        }
    }

    fn subscribe(&self) -> Subscription {
        self.service
            .subscribe(&self.key.public_key_base64())
            .unwrap()
    }

    /// `send` or `send-batch` with the key, subject, CA and loopback set.
    fn command(&self, subcommand: &str) -> assert_cmd::Command {
        let mut cmd = webpush();
        cmd.arg(subcommand)
            .arg("--vapid-key")
            .arg(&self.key_path)
            .args(["--subject", "mailto:you@example.com", "--ca-cert"])
            .arg(&self.ca_path)
            .args(["--allow-loopback", "--timeout", "10"]);
        cmd
    }

    fn send(&self, sub: &Subscription, extra: &[&str]) -> Output {
        let sub_path = self.dir.write("sub.json", sub.to_json());
        self.command("send")
            .arg("--subscription")
            .arg(sub_path)
            .args(extra)
            .output()
            .unwrap()
    }

    fn payloads(&self, sub: &Subscription) -> Vec<Vec<u8>> {
        self.service
            .received(sub)
            .into_iter()
            .map(|m| m.payload)
            .collect()
    }
}

/// The path part of an endpoint: the capability that must not leak.
fn secret_path(sub: &Subscription) -> String {
    sub.endpoint().uri().path().to_owned()
}

#[test]
fn send_delivers() {
    let s = Service::start("send");
    let sub = s.subscribe();
    let out = s.send(
        &sub,
        &[
            "--payload",
            "Hello, push!",
            "--ttl",
            "60",
            "--urgency",
            "high",
            "--topic",
            "news",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "delivered (201 Created)");
    let received = s.service.received(&sub);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].payload, b"Hello, push!");
    assert_eq!(received[0].ttl, 60);
    assert_eq!(received[0].urgency.as_deref(), Some("high"));
    assert_eq!(received[0].topic.as_deref(), Some("news"));

    // From a file, with JSON output.
    let payload_path = s.dir.write("payload.bin", [0u8, 1, 2, 255]);
    let out = s.send(
        &sub,
        &["--payload-file", payload_path.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["outcome"], "delivered");
    assert_eq!(json["status"], 201);
    assert_eq!(json["attempts"], 1);
    assert_eq!(s.payloads(&sub)[1], [0u8, 1, 2, 255]);
}

#[test]
fn send_title_builds_a_declarative_payload() {
    let s = Service::start("declarative");
    let sub = s.subscribe();
    let out = s.send(
        &sub,
        &[
            "--title",
            "Build finished",
            "--body",
            "All tests passed",
            "--navigate",
            "https://ci.example.com/runs/42",
            "--app-badge",
            "3",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let payload = s.payloads(&sub).pop().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(json["web_push"], 8030);
    assert_eq!(json["notification"]["title"], "Build finished");
    assert_eq!(json["notification"]["body"], "All tests passed");
    assert_eq!(
        json["notification"]["navigate"],
        "https://ci.example.com/runs/42"
    );
    assert_eq!(json["notification"]["app_badge"], 3);
    webpush::notification::parse_declarative(std::str::from_utf8(&payload).unwrap()).unwrap();

    // WebKit's rules are checked before anything is sent.
    let before = s.service.request_count();
    let out = s.send(&sub, &["--title", "t", "--navigate", "/relative"]);
    let err = assert_one_line_failure(&out, 2);
    assert!(err.contains("navigate"), "{err}");
    let out = s.send(&sub, &["--title", "", "--navigate", "https://e.example/"]);
    assert_one_line_failure(&out, 2);
    // --navigate is required with --title, and --body needs --title.
    let out = s.send(&sub, &["--title", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = s.send(&sub, &["--payload", "x", "--body", "b"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(s.service.request_count(), before);
}

#[test]
fn send_with_encoding_aesgcm_delivers_the_legacy_coding() {
    let s = Service::start("send-aesgcm");
    let sub = s.subscribe();
    let out = s.send(
        &sub,
        &["--payload", "Hello, legacy!", "--encoding", "aesgcm"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "delivered (201 Created)");
    let received = s.service.received(&sub);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].payload, b"Hello, legacy!");
    assert_eq!(received[0].encoding, Some(ContentEncoding::Aesgcm));
    assert_eq!(received[0].content_encoding.as_deref(), Some("aesgcm"));
    assert_eq!(received[0].body_len, 14 + 18);

    // 4078 octets fit aesgcm (not aes128gcm); 4079 do not.
    let max = s.dir.write("max.bin", [b'a'; 4078]);
    let max = max.to_str().unwrap();
    let out = s.send(&sub, &["--payload-file", max, "--encoding", "aesgcm"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s.payloads(&sub)[1], [b'a'; 4078]);
    let out = s.send(&sub, &["--payload-file", max]);
    let err = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(
        err.contains("aes128gcm push message carries at most 3993"),
        "{err}"
    );
    let over = s.dir.write("over.bin", [b'a'; 4079]);
    let out = s.send(
        &sub,
        &[
            "--payload-file",
            over.to_str().unwrap(),
            "--encoding",
            "aesgcm",
        ],
    );
    let err = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(
        err.contains("aesgcm push message carries at most 4078"),
        "{err}"
    );

    // The default is aes128gcm; unknown codings are usage errors.
    let out = s.send(&sub, &["--payload", "modern"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let last = s.service.received(&sub).pop().unwrap();
    assert_eq!(last.encoding, Some(ContentEncoding::Aes128Gcm));
    let out = s.send(&sub, &["--payload", "x", "--encoding", "gzip"]);
    assert_eq!(out.status.code(), Some(EXIT_INPUT));
    assert!(
        stderr(&out).contains("aes128gcm, aesgcm"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.service.received(&sub).len(), 3);
}

#[test]
fn send_batch_with_encoding_aesgcm() {
    let s = Service::start("batch-aesgcm");
    let subs: Vec<_> = (0..3).map(|_| s.subscribe()).collect();
    let text: String = subs.iter().map(|sub| sub.to_json() + "\n").collect();
    let out = s
        .command("send-batch")
        .args([
            "--subscriptions",
            "-",
            "--payload",
            "legacy batch",
            "--encoding",
            "aesgcm",
        ])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for sub in &subs {
        let received = s.service.received(sub);
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].payload, b"legacy batch");
        assert_eq!(received[0].encoding, Some(ContentEncoding::Aesgcm));
    }
}

#[test]
fn send_reports_gone_and_rate_limited_with_their_exit_codes() {
    let s = Service::start("gone");
    let sub = s.subscribe();
    s.service.set_fault(&sub, Fault::Gone);
    let out = s.send(&sub, &["--payload", "hi"]);
    let line = assert_one_line_failure(&out, EXIT_GONE);
    assert!(line.contains("gone (410"), "{line}");
    assert!(!line.contains(&secret_path(&sub)), "{line}");
    assert!(out.stdout.is_empty());

    s.service.set_fault(
        &sub,
        Fault::RateLimited {
            retry_after: "30".to_owned(),
        },
    );
    let out = s.send(&sub, &["--payload", "hi", "--json"]);
    let line = assert_one_line_failure(&out, EXIT_RETRY);
    assert!(line.contains("retry after 30 s"), "{line}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["outcome"], "rate_limited");
    assert_eq!(json["status"], 429);
    assert_eq!(json["retry_after_secs"], 30);
    assert_eq!(json["retryable"], true);

    s.service.set_fault(
        &sub,
        Fault::Status {
            status: 403,
            body: "no".to_owned(),
        },
    );
    let out = s.send(&sub, &["--payload", "hi"]);
    assert_one_line_failure(&out, EXIT_FAILED);
    assert!(s.payloads(&sub).is_empty());

    // A key mismatch says to resubscribe, in the report too.
    s.service.set_fault(
        &sub,
        Fault::Status {
            status: 400,
            body: r#"{"reason":"VapidPkHashMismatch"}"#.to_owned(),
        },
    );
    let out = s.send(&sub, &["--payload", "hi", "--json"]);
    let line = assert_clean_failure(&out, EXIT_FAILED);
    assert!(line.contains("resubscribe"), "{line}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["outcome"], "key_mismatch");
    assert_eq!(json["retryable"], false);
}

#[test]
fn send_refuses_loopback_unless_allowed() {
    let s = Service::start("policy");
    let sub = s.subscribe();
    let sub_path = s.dir.write("sub.json", sub.to_json());
    let out = webpush()
        .arg("send")
        .arg("--subscription")
        .arg(&sub_path)
        .arg("--vapid-key")
        .arg(&s.key_path)
        .args(["--subject", "mailto:you@example.com", "--payload", "hi"])
        .arg("--ca-cert")
        .arg(&s.ca_path)
        .output()
        .unwrap();
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("endpoint refused"), "{line}");
    assert!(!line.contains(&secret_path(&sub)), "{line}");
    assert_eq!(s.service.request_count(), 0);
}

#[test]
fn send_batch_reports_every_line() {
    let s = Service::start("batch");
    let good1 = s.subscribe();
    let gone = s.subscribe();
    let good2 = s.subscribe();
    s.service.set_fault(&gone, Fault::Gone);
    let lines = [
        good1.to_json(),
        gone.to_json(),
        String::new(),
        "{not json".to_owned(),
        "   ".to_owned(),
        good2.to_json(),
        r#"{"endpoint":"https://push.example.net/x"}"#.to_owned(),
    ];
    let subs_path = s.dir.write("subs.jsonl", lines.join("\n") + "\n");
    let report_path = s.dir.path("report.jsonl");
    let out = s
        .command("send-batch")
        .arg("--subscriptions")
        .arg(&subs_path)
        .arg("--report")
        .arg(&report_path)
        .args(["--payload", "batch!", "--concurrency", "2"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(EXIT_FAILED), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("summary: 5 lines: 2 delivered, 1 gone, 0 rate limited, 0 failed, 2 invalid"),
        "{err}"
    );

    let report = std::fs::read_to_string(&report_path).unwrap();
    for sub in [&good1, &gone, &good2] {
        assert!(!report.contains(&secret_path(sub)), "{report}");
    }
    let mut rows: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    rows.sort_by_key(|r| r["line"].as_u64().unwrap());
    let summary: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "delivered"),
            (2, "gone"),
            (4, "invalid"),
            (6, "delivered"),
            (7, "invalid")
        ]
    );
    assert_eq!(rows[0]["status"], 201);
    assert_eq!(rows[0]["attempts"], 1);
    assert_eq!(rows[1]["status"], 410);
    assert_eq!(rows[1]["attempts"], 1);
    assert!(rows[2]["error"].as_str().unwrap().contains("malformed"));
    assert_eq!(rows[2]["attempts"], 0);
    assert!(rows[4]["error"].as_str().unwrap().contains("missing field"));

    assert_eq!(s.payloads(&good1), [b"batch!".to_vec()]);
    assert_eq!(s.payloads(&good2), [b"batch!".to_vec()]);
    assert!(s.payloads(&gone).is_empty());
}

#[test]
fn send_batch_all_delivered_exits_0_with_the_report_on_stdout() {
    let s = Service::start("batchok");
    let subs: Vec<_> = (0..5).map(|_| s.subscribe()).collect();
    let text: String = subs.iter().map(|sub| sub.to_json() + "\n").collect();
    let out = s
        .command("send-batch")
        .args(["--subscriptions", "-", "--payload", "all", "--retries", "0"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut lines: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["outcome"], "delivered");
            v["line"].as_u64().unwrap()
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, [1, 2, 3, 4, 5]);
    assert!(stderr(&out).contains("5 lines: 5 delivered"));
    for sub in &subs {
        assert_eq!(s.payloads(sub), [b"all".to_vec()]);
    }
}

// ---------------------------------------------------------------------------
// Error paths

/// A subscription at a public-looking host (nothing is sent to it: every
/// error below stops before).
fn offline_subscription(dir: &TempDir) -> PathBuf {
    let r = receiver();
    let sub = Subscription::new(
        Endpoint::parse("https://push.example.net/wpush/secret-token").unwrap(),
        r.ua.public_key().clone(),
        r.secret.clone(),
    );
    dir.write("offline.json", sub.to_json())
}

#[test]
fn bad_input_fails_with_one_error_line() {
    let dir = TempDir::new("errors");
    let sub_path = offline_subscription(&dir);
    let key = VapidKey::generate().unwrap();
    let key_path = dir.write("key.pem", key.to_pkcs8_pem().as_bytes());
    let bad_key_path = dir.write(
        "bad.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let bad_json_path = dir.write("bad.json", "{\"endpoint\": 12");
    let big_payload = dir.write("big.bin", vec![b'x'; message::MAX_PLAINTEXT_LEN + 1]);
    let missing = dir.path("missing.json");

    let send = |sub: &Path, key: &Path, extra: &[&str]| {
        webpush()
            .arg("send")
            .arg("--subscription")
            .arg(sub)
            .arg("--vapid-key")
            .arg(key)
            .args(extra)
            .output()
            .unwrap()
    };
    let ok = ["--subject", "mailto:you@example.com", "--payload", "hi"];
    // A good subscription, key and subject, and `extra` flags.
    let send_good = |extra: &[&str]| {
        let subject = ["--subject", "mailto:you@example.com"];
        send(&sub_path, &key_path, &[&subject[..], extra].concat())
    };

    let out = send(&missing, &key_path, &ok);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("missing.json"), "{line}");

    let out = send(&bad_json_path, &key_path, &ok);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("malformed"), "{line}");

    let out = send(&sub_path, &bad_key_path, &ok);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("VAPID key file"), "{line}");

    let out = send(&sub_path, &missing, &ok);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("VAPID key file"), "{line}");

    let out = send(
        &sub_path,
        &key_path,
        &["--subject", "http://example.com", "--payload", "hi"],
    );
    let line = assert_clean_failure(&out, EXIT_INPUT);
    assert!(line.contains("--subject"), "{line}");

    let too_long = "x".repeat(message::MAX_PLAINTEXT_LEN + 1);
    let out = send_good(&["--payload", &too_long]);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("3993"), "{line}");

    let big_payload = big_payload.to_str().unwrap();
    let out = send_good(&["--payload-file", big_payload]);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("3993"), "{line}");

    let out = send_good(&["--payload", "hi", "--payload-file", big_payload]);
    let line = assert_clean_failure(&out, EXIT_INPUT);
    assert!(line.contains("cannot be used with"), "{line}");

    let out = send_good(&[]);
    assert_clean_failure(&out, EXIT_INPUT);

    let bad_ca = dir.write("ca.pem", "not a certificate");
    let out = send_good(&["--payload", "hi", "--ca-cert", bad_ca.to_str().unwrap()]);
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("--ca-cert"), "{line}");

    // The endpoint never shows, whatever fails.
    let out = send(&sub_path, &bad_key_path, &ok);
    assert!(!stderr(&out).contains("secret-token"));

    // send-batch: a missing file, and a report that would overwrite it.
    let out = webpush()
        .arg("send-batch")
        .arg("--subscriptions")
        .arg(&missing)
        .arg("--vapid-key")
        .arg(&key_path)
        .args(ok)
        .output()
        .unwrap();
    let line = assert_one_line_failure(&out, EXIT_INPUT);
    assert!(line.contains("missing.json"), "{line}");
    let out = webpush()
        .arg("send-batch")
        .arg("--subscriptions")
        .arg(&sub_path)
        .arg("--report")
        .arg(&sub_path)
        .arg("--vapid-key")
        .arg(&key_path)
        .args(ok)
        .output()
        .unwrap();
    assert_one_line_failure(&out, EXIT_INPUT);
    assert!(std::fs::read_to_string(&sub_path).unwrap().contains("keys"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "generate-vapid-keys",
        "send",
        "send-batch",
        "encrypt",
        "decrypt",
        "vapid-header",
    ] {
        let out = webpush().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub}");
        assert!(stdout(&out).contains("Usage: webpush"), "{sub}");
    }
    let out = webpush().arg("--help").output().unwrap();
    assert!(stdout(&out).contains("Exit status:"));
    // No subcommand: the help, on stderr, as a usage error.
    let out = webpush().output().unwrap();
    assert_eq!(out.status.code(), Some(EXIT_INPUT));
    assert!(stderr(&out).contains("Usage: webpush"));
}
