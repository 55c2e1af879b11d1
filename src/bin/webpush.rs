//! `webpush`: send Web Push notifications from the command line, and the
//! pieces of it (VAPID keys and headers, RFC 8291 encryption) on their own.
//!
//! ```text
//! webpush generate-vapid-keys [--out key.pem [--force] [--json]]
//! webpush send --subscription sub.json --vapid-key key.pem --subject mailto:you@example.com \
//!              (--payload TEXT | --payload-file FILE | --title T --navigate URL [--body B]) [--ttl S] [--urgency U] [--topic T] \
//!              [--encoding aes128gcm|aesgcm] [--ca-cert FILE] [--allow-http] \
//!              [--allow-loopback] [--timeout S] [--json]
//! webpush send-batch --subscriptions subs.jsonl ...send options... \
//!              [--concurrency N] [--retries N] [--report report.jsonl]
//! webpush encrypt --p256dh KEY --auth SECRET [--pad N]    < plaintext > body
//! webpush decrypt --private-key-file FILE --auth SECRET  < body > plaintext
//! webpush vapid-header --vapid-key key.pem --audience ORIGIN --subject SUB
//! webpush enqueue --nats URL --subscriptions subs.jsonl (--payload TEXT | --payload-file FILE) \
//!              [--ttl S] [--urgency U] [--topic T] [--id-prefix P] [--max-in-flight N]
//! webpush worker --nats URL --vapid-key key.pem --subject SUB [--concurrency N] \
//!              [--ca-cert FILE] [--allow-http] [--allow-loopback] [--timeout S] [--stats-interval S]
//! webpush feedback --nats URL [--follow]
//! ```
//!
//! `enqueue`, `worker` and `feedback` are there when the binary is built with
//! feature `jetstream` as well as `cli`.
//!
//! Exit statuses: see [`EXIT_STATUS_HELP`].

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "webpush/batch.rs"]
mod batch;
#[path = "webpush/keys.rs"]
mod keys;
#[cfg(feature = "jetstream")]
#[path = "webpush/queue.rs"]
mod queue;
#[path = "webpush/send.rs"]
mod send;
#[path = "webpush/util.rs"]
mod util;

/// The exit statuses, as `--help` shows them.
const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  delivered (send-batch: every line delivered), or the command succeeded
  1  failed: refused by the push service (VAPID, 400, 413, ...), TLS, I/O;
     send-batch: at least one line not delivered (see the report)
  2  usage error or bad input: unreadable file, bad JSON, bad key, bad
     subject, payload too large, endpoint refused by policy; nothing sent
  3  gone (404/410): delete the subscription
  4  retry later: rate limited (429), 5xx, timeout or connection failure";

/// What `--version` says: the version, then the crypto this build runs on
/// this CPU (the CI checks the C-free binary by it).
static LONG_VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}\nmessage crypto: {}\nTLS: rustls, {} provider",
        env!("CARGO_PKG_VERSION"),
        webpush::message::crypto_backend(),
        webpush::sender::ReqwestSender::tls_provider_name()
    )
});

/// Send Web Push notifications (RFC 8030, RFC 8291 aes128gcm, VAPID RFC
/// 8292).
#[derive(Debug, Parser)]
#[command(name = "webpush", version, long_version = LONG_VERSION.as_str(), after_help = EXIT_STATUS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a VAPID key pair: the private key as PKCS#8 PEM and the
    /// public key (applicationServerKey, base64url).
    GenerateVapidKeys(keys::GenerateArgs),
    /// Send one notification to one subscription.
    #[command(after_help = EXIT_STATUS_HELP)]
    Send(send::SendArgs),
    /// Send one notification to every subscription of a JSON-lines file,
    /// writing a JSON report line per input line.
    #[command(after_help = EXIT_STATUS_HELP)]
    SendBatch(batch::BatchArgs),
    /// Encrypt stdin for a subscription's keys (RFC 8291); the raw
    /// aes128gcm body goes to stdout.
    Encrypt(keys::EncryptArgs),
    /// Decrypt an aes128gcm body from stdin with a receiver's keys; the
    /// plaintext goes to stdout.
    Decrypt(keys::DecryptArgs),
    /// Print a VAPID `Authorization` header value for a push service origin.
    VapidHeader(keys::VapidHeaderArgs),
    /// Queue one notification per subscription of a JSON-lines file as
    /// jobs on NATS JetStream, for `worker` processes to send.
    #[cfg(feature = "jetstream")]
    Enqueue(queue::EnqueueArgs),
    /// Send the jobs of the NATS JetStream queue, alongside any number of
    /// other workers, until SIGTERM or SIGINT; stats lines on stderr.
    #[cfg(feature = "jetstream")]
    Worker(queue::WorkerArgs),
    /// Print the workers' gone, failed and dead events as JSON lines;
    /// exits once drained (or keeps waiting with --follow).
    #[cfg(feature = "jetstream")]
    Feedback(queue::FeedbackArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    util::finish(match &cli.command {
        Command::GenerateVapidKeys(args) => keys::generate(args),
        Command::Send(args) => send::send(args),
        Command::SendBatch(args) => batch::send_batch(args),
        Command::Encrypt(args) => keys::encrypt(args),
        Command::Decrypt(args) => keys::decrypt(args),
        Command::VapidHeader(args) => keys::vapid_header(args),
        #[cfg(feature = "jetstream")]
        Command::Enqueue(args) => queue::enqueue(args),
        #[cfg(feature = "jetstream")]
        Command::Worker(args) => queue::worker(args),
        #[cfg(feature = "jetstream")]
        Command::Feedback(args) => queue::feedback(args),
    })
}
