//! `send` and what `send-batch` shares with it: options, the client, and
//! how outcomes map to report fields and exit statuses.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;
use webpush::Padding;
use webpush::notification::Notification;
use webpush::outcome::{Delivered, SendError};
use webpush::policy::EndpointPolicy;
use webpush::request::{ContentEncoding, DEFAULT_TTL, PushOptions, Topic, Urgency};
use webpush::sender::ReqwestSender;
use webpush::subscription::MAX_JSON_LEN;
use webpush::vapid::{Subject, VapidSigner};
use webpush::{PushClient, Subscription};

use crate::keys::{load_vapid_key, parse_subject};
use crate::util::{
    EXIT_FAILED, EXIT_GONE, EXIT_INPUT, EXIT_OK, EXIT_RETRY, Fail, error_chain, print_error,
    println_stdout, read_file_capped, read_text_capped,
};

/// The largest CA certificate file read.
const MAX_CA_FILE: usize = 1024 * 1024;

/// Options common to `send` and `send-batch`: the client and the message.
#[derive(Debug, Args)]
pub(crate) struct SendOptions {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(flatten)]
    pub(crate) message: MessageArgs,
}

/// How to reach push services: the VAPID key and subject, the endpoint
/// policy, TLS roots and the request timeout (also taken by `worker`).
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// VAPID private key file: PKCS#8 or SEC1 PEM, JWK, or base64url scalar.
    #[arg(long, value_name = "FILE")]
    pub(crate) vapid_key: PathBuf,
    /// Contact for the push service: mailto:you@example.com or an https: URL.
    #[arg(long, value_name = "SUB", value_parser = parse_subject)]
    pub(crate) subject: Subject,
    /// Also trust the root certificate(s) in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Allow plain http endpoints (tests and trusted networks only).
    #[arg(long)]
    pub(crate) allow_http: bool,
    /// Allow endpoints on loopback addresses (tests only).
    #[arg(long)]
    pub(crate) allow_loopback: bool,
    /// Timeout for each request, in seconds.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    pub(crate) timeout: Duration,
}

/// What to send: the payload and the push options (also taken by
/// `enqueue`).
#[derive(Debug, Args)]
pub(crate) struct MessageArgs {
    #[command(flatten)]
    pub(crate) payload: PayloadArgs,
    #[command(flatten)]
    pub(crate) notification: NotificationArgs,
    /// How long the push service keeps an undelivered message, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TTL)]
    pub(crate) ttl: u32,
    /// Urgency header.
    #[arg(long, value_name = "U")]
    pub(crate) urgency: Option<UrgencyArg>,
    /// Topic: a newer message with the same topic replaces an undelivered
    /// one (1 to 32 characters of A-Z a-z 0-9 - _).
    #[arg(long, value_name = "T", value_parser = parse_topic, allow_hyphen_values = true)]
    pub(crate) topic: Option<Topic>,
    /// Content coding: aes128gcm (RFC 8291, what every current browser
    /// accepts), or the legacy aesgcm (draft-ietf-webpush-encryption-04) for
    /// subscriptions that still need it.
    #[arg(long, value_name = "ENCODING", default_value = "aes128gcm")]
    pub(crate) encoding: EncodingArg,
}

/// The payload: text, a file, or a declarative notification (`--title`),
/// exactly one. `Debug` shows the text's length only.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub(crate) struct PayloadArgs {
    /// The message text.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    payload: Option<String>,
    /// Read the message from this file.
    #[arg(long, value_name = "FILE")]
    payload_file: Option<PathBuf>,
    /// Send a Declarative Web Push notification (`"web_push": 8030`) with
    /// this title, which Safari shows without a service worker and other
    /// browsers pass to it; needs --navigate.
    #[arg(
        long,
        value_name = "TEXT",
        requires = "navigate",
        allow_hyphen_values = true
    )]
    title: Option<String>,
}

impl std::fmt::Debug for PayloadArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadArgs")
            .field("payload_len", &self.payload.as_ref().map(String::len))
            .field("payload_file", &self.payload_file)
            .field("title_len", &self.title.as_ref().map(String::len))
            .finish()
    }
}

/// The members of a declarative notification besides its title (with
/// `--title` only). `Debug` shows lengths only.
#[derive(Args)]
pub(crate) struct NotificationArgs {
    /// The absolute https URL opened when the notification is clicked.
    #[arg(long, value_name = "URL", requires = "title")]
    navigate: Option<String>,
    /// The notification's text.
    #[arg(
        long,
        value_name = "TEXT",
        requires = "title",
        allow_hyphen_values = true
    )]
    body: Option<String>,
    /// An icon: an absolute https URL.
    #[arg(long, value_name = "URL", requires = "title")]
    icon: Option<String>,
    /// A tag: a newer notification with the same tag replaces the older.
    #[arg(long, value_name = "TAG", requires = "title")]
    tag: Option<String>,
    /// The application badge number.
    #[arg(long, value_name = "N", requires = "title")]
    app_badge: Option<u64>,
}

impl std::fmt::Debug for NotificationArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationArgs")
            .field("navigate", &self.navigate.as_ref().map(|_| "<set>"))
            .field("body_len", &self.body.as_ref().map(String::len))
            .field("icon", &self.icon.as_ref().map(|_| "<set>"))
            .field("tag", &self.tag.as_ref().map(|_| "<set>"))
            .field("app_badge", &self.app_badge)
            .finish()
    }
}

impl NotificationArgs {
    /// The declarative payload for `title`.
    fn payload(&self, title: &str) -> Result<Vec<u8>, Fail> {
        let mut b = Notification::builder(title, self.navigate.as_deref().unwrap_or_default());
        if let Some(body) = &self.body {
            b = b.body(body);
        }
        if let Some(icon) = &self.icon {
            b = b.icon(icon);
        }
        if let Some(tag) = &self.tag {
            b = b.tag(tag);
        }
        if let Some(badge) = self.app_badge {
            b = b.app_badge(badge);
        }
        b.build()
            .and_then(|n| n.to_payload(Padding::None))
            .map_err(|e| Fail::input(format!("notification: {e}")))
    }
}

/// `--urgency` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum UrgencyArg {
    VeryLow,
    Low,
    Normal,
    High,
}

impl From<UrgencyArg> for Urgency {
    fn from(u: UrgencyArg) -> Self {
        match u {
            UrgencyArg::VeryLow => Self::VeryLow,
            UrgencyArg::Low => Self::Low,
            UrgencyArg::Normal => Self::Normal,
            UrgencyArg::High => Self::High,
        }
    }
}

/// `--encoding` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum EncodingArg {
    Aes128gcm,
    Aesgcm,
}

impl From<EncodingArg> for ContentEncoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Aes128gcm => Self::Aes128Gcm,
            EncodingArg::Aesgcm => Self::Aesgcm,
        }
    }
}

fn parse_topic(s: &str) -> Result<Topic, String> {
    Topic::new(s).map_err(|e| e.to_string())
}

pub(crate) fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| "not a number of seconds".to_owned())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be more than 0".to_owned());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| "too large".to_owned())
}

impl SendOptions {
    /// See [`MessageArgs::load_payload`].
    pub(crate) fn load_payload(&self) -> Result<Vec<u8>, Fail> {
        self.message.load_payload()
    }

    /// See [`MessageArgs::push_options`].
    pub(crate) fn push_options(&self) -> PushOptions {
        self.message.push_options()
    }

    /// See [`ClientArgs::client`].
    pub(crate) fn client(&self) -> Result<PushClient<ReqwestSender>, Fail> {
        self.client.client()
    }
}

impl MessageArgs {
    /// The payload, checked against what one message carries in the chosen
    /// content coding.
    pub(crate) fn load_payload(&self) -> Result<Vec<u8>, Fail> {
        let max = ContentEncoding::from(self.encoding).max_plaintext_len();
        let payload = match (&self.payload.payload, &self.payload.payload_file) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, None) if self.payload.title.is_some() => self
                .notification
                .payload(self.payload.title.as_deref().unwrap_or_default())?,
            (None, Some(path)) => read_file_capped(path, "payload file", max).map_err(|f| {
                Fail::input(format!(
                    "{}; one {} push message carries at most {max} octets",
                    f.message,
                    ContentEncoding::from(self.encoding)
                ))
            })?,
            (None, None) => Vec::new(),
        };
        if payload.len() > max {
            return Err(Fail::input(format!(
                "payload is {} octets; one {} push message carries at most {max}",
                payload.len(),
                ContentEncoding::from(self.encoding)
            )));
        }
        Ok(payload)
    }

    /// TTL, urgency, topic and content coding.
    pub(crate) fn push_options(&self) -> PushOptions {
        let mut options = PushOptions::new()
            .ttl(self.ttl)
            .content_encoding(self.encoding.into());
        if let Some(u) = self.urgency {
            options = options.urgency(u.into());
        }
        if let Some(t) = &self.topic {
            options = options.topic(t.clone());
        }
        options
    }
}

impl ClientArgs {
    /// The client: VAPID key, policy, extra roots and timeout. Must be
    /// called inside the tokio runtime.
    pub(crate) fn client(&self) -> Result<PushClient<ReqwestSender>, Fail> {
        let key = load_vapid_key(&self.vapid_key)?;
        let signer = VapidSigner::new(key, self.subject.clone());
        let policy = EndpointPolicy::new()
            .danger_allow_http(self.allow_http)
            .danger_allow_loopback(self.allow_loopback);
        let mut builder = ReqwestSender::builder()
            .policy(policy.clone())
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)));
        if let Some(path) = &self.ca_cert {
            let pem = read_text_capped(path, "CA certificate file", MAX_CA_FILE)?;
            builder = builder.tls_root_certificate_pem(&pem);
        }
        let sender = builder.build().map_err(|e| {
            let what = self
                .ca_cert
                .as_ref()
                .map_or(String::new(), |p| format!(" (--ca-cert {})", p.display()));
            Fail::input(format!("cannot set up HTTPS{what}: {}", error_chain(&e)))
        })?;
        Ok(PushClient::with_sender(sender, signer).policy(policy))
    }
}

/// The `outcome` of a report line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// 2xx.
    Delivered,
    /// 404/410: delete the subscription.
    Gone,
    /// 429 (or WNS 406): retry after `retry_after_secs`.
    RateLimited,
    /// The subscription was made with another VAPID key: ask the browser
    /// to resubscribe.
    KeyMismatch,
    /// Anything else (see `error` and `retryable`).
    Failed,
    /// The line is not a valid subscription; nothing was sent.
    Invalid,
}

/// One outcome as JSON: a line of the `send-batch` report, or `send --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// 1-based line number in the subscriptions file (batch only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u64>,
    pub(crate) outcome: Outcome,
    /// The push service's HTTP status, if it answered.
    pub(crate) status: Option<u16>,
    /// Requests made.
    pub(crate) attempts: u32,
    /// Whether trying again later may succeed.
    pub(crate) retryable: bool,
    /// What went wrong; never contains the endpoint URL.
    pub(crate) error: Option<String>,
    /// The push service's `Retry-After`, in seconds.
    pub(crate) retry_after_secs: Option<u64>,
    /// Time taken, retries included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) elapsed_ms: Option<u64>,
}

impl Report {
    /// The report of a send.
    pub(crate) fn of(result: &Result<Delivered, SendError>, attempts: u32) -> Self {
        match result {
            Ok(d) => Self {
                line: None,
                outcome: Outcome::Delivered,
                status: Some(d.status().as_u16()),
                attempts,
                retryable: false,
                error: None,
                retry_after_secs: None,
                elapsed_ms: None,
            },
            Err(e) => Self {
                line: None,
                outcome: if e.is_gone() {
                    Outcome::Gone
                } else if matches!(e, SendError::RateLimited { .. }) {
                    Outcome::RateLimited
                } else if e.is_key_mismatch() {
                    Outcome::KeyMismatch
                } else {
                    Outcome::Failed
                },
                status: e.status().map(|s| s.as_u16()),
                attempts,
                retryable: e.is_retryable(),
                error: Some(error_chain(e)),
                retry_after_secs: e.retry_after().map(|d| d.as_secs()),
                elapsed_ms: None,
            },
        }
    }

    /// The report of a line that is not a subscription.
    pub(crate) fn invalid(line: u64, error: String) -> Self {
        Self {
            line: Some(line),
            outcome: Outcome::Invalid,
            status: None,
            attempts: 0,
            retryable: false,
            error: Some(crate::util::one_line(&error)),
            retry_after_secs: None,
            elapsed_ms: None,
        }
    }

    /// As one line of JSON.
    pub(crate) fn to_json(&self) -> String {
        // Serializing plain fields cannot fail; fall back to a valid line anyway.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"outcome":"failed"}"#.to_owned())
    }
}

/// The exit status for a failed send.
pub(crate) fn exit_code(e: &SendError) -> u8 {
    match e {
        SendError::Gone { .. } => EXIT_GONE,
        e if e.is_retryable() => EXIT_RETRY,
        SendError::Policy(_)
        | SendError::Encryption(_)
        | SendError::Vapid(_)
        | SendError::InvalidMessage(_) => EXIT_INPUT,
        _ => EXIT_FAILED,
    }
}

/// Arguments of `send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The subscription: the JSON of `PushSubscription.toJSON()`.
    #[arg(long, value_name = "FILE")]
    subscription: PathBuf,
    #[command(flatten)]
    options: SendOptions,
    /// Print the outcome as JSON on stdout (as a send-batch report line).
    #[arg(long)]
    json: bool,
}

/// Builds the runtime the sends run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Fail> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::failed(format!("cannot start the async runtime: {e}")))
}

/// `send`: one notification.
pub(crate) fn send(args: &SendArgs) -> Result<u8, Fail> {
    let text = read_text_capped(&args.subscription, "subscription file", MAX_JSON_LEN)?;
    let sub = Subscription::from_json(&text).map_err(|e| {
        Fail::input(format!(
            "subscription file {}: {e}",
            args.subscription.display()
        ))
    })?;
    let payload = args.options.load_payload()?;
    let options = args.options.push_options();
    let rt = runtime()?;
    let client = {
        let _guard = rt.enter();
        args.options.client()?
    };
    let result = rt.block_on(client.send(&sub, &payload, &options));
    let report = Report::of(&result, 1);
    if args.json {
        println_stdout(&report.to_json())?;
    }
    match result {
        Ok(delivered) => {
            if !args.json {
                let status = delivered.status();
                println_stdout(&format!(
                    "delivered ({} {})",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default()
                ))?;
            }
            Ok(EXIT_OK)
        }
        Err(e) => {
            let hint = if e.is_gone() {
                "; delete this subscription"
            } else {
                ""
            };
            print_error(&format!("{}{hint}", error_chain(&e)));
            Ok(exit_code(&e))
        }
    }
}
