//! The browser test (`--firefox-check`, a step of `.ci/run`): the web app
//! against [`LocalPushService`]'s WebSocket, with one headless Firefox whose
//! profile points its push service there and turns off every background
//! service that would leave loopback. The page subscribes by itself; each
//! case sends through the app's "send to all" and compares, byte for byte,
//! what Firefox decrypted (the service worker reports it) with what was
//! sent. Fails (exit status 1) on the first case that does not hold; Firefox
//! is killed by its PID at the end either way.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use webpush::request::{ContentEncoding, PushOptions};
use webpush::testing::{Fault, LocalPushService};
use webpush::{Padding, Subscription};

use crate::{App, lock};

/// The whole test, Firefox start-up included.
const DEADLINE: Duration = Duration::from_secs(240);

/// What the check asks of the page, and what the page answered.
#[derive(Debug, Default)]
pub(crate) struct Channel {
    command: Mutex<Option<String>>,
    unsubscribed: Mutex<Option<bool>>,
    page_error: Mutex<Option<String>>,
}

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/api/check/command", get(command))
        .route("/api/check/unsubscribed", post(unsubscribed))
        .route("/api/check/error", post(page_error))
}

async fn command(State(app): State<App>) -> (StatusCode, String) {
    match lock(&app.check.command).take() {
        Some(c) => (StatusCode::OK, c),
        None => (StatusCode::NO_CONTENT, String::new()),
    }
}

async fn unsubscribed(
    State(app): State<App>,
    axum::Json(v): axum::Json<serde_json::Value>,
) -> StatusCode {
    *lock(&app.check.unsubscribed) = Some(v["done"] == true);
    StatusCode::NO_CONTENT
}

async fn page_error(
    State(app): State<App>,
    axum::Json(v): axum::Json<serde_json::Value>,
) -> StatusCode {
    *lock(&app.check.page_error) = Some(v["error"].to_string());
    StatusCode::NO_CONTENT
}

/// The prefs that make Firefox use `ws_url` as its push server.
pub(crate) fn push_prefs(ws_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("dom.push.serverURL", format!("{ws_url:?}")),
        ("dom.push.testing.allowInsecureServerURL", "true".into()),
        ("dom.push.testing.ignorePermission", "true".into()),
        ("dom.push.connection.enabled", "true".into()),
        ("dom.serviceWorkers.testing.enabled", "true".into()),
        ("network.manage-offline-status", "false".into()),
    ]
}

/// Prefs for a profile that contacts nothing but 127.0.0.1.
const OFFLINE_PREFS: &[(&str, &str)] = &[
    // Anything that is not loopback goes to the check's dead-end proxy
    // (its port is added by `write_profile`), which records and refuses it.
    ("network.proxy.type", "1"),
    ("network.proxy.http", "\"127.0.0.1\""),
    ("network.proxy.ssl", "\"127.0.0.1\""),
    ("network.proxy.share_proxy_settings", "true"),
    ("network.proxy.socks_remote_dns", "true"),
    ("network.proxy.no_proxies_on", "\"127.0.0.1,localhost\""),
    ("network.proxy.allow_hijacking_localhost", "false"),
    ("network.trr.mode", "5"),
    ("network.dns.disablePrefetch", "true"),
    ("network.prefetch-next", "false"),
    ("network.http.speculative-parallel-limit", "0"),
    ("network.captive-portal-service.enabled", "false"),
    ("network.connectivity-service.enabled", "false"),
    ("browser.safebrowsing.malware.enabled", "false"),
    ("browser.safebrowsing.phishing.enabled", "false"),
    ("browser.safebrowsing.downloads.enabled", "false"),
    ("browser.safebrowsing.downloads.remote.enabled", "false"),
    ("browser.safebrowsing.blockedURIs.enabled", "false"),
    ("browser.safebrowsing.update.enabled", "false"),
    ("services.settings.server", "\"http://127.0.0.1:9/v1\""),
    ("datareporting.healthreport.uploadEnabled", "false"),
    ("datareporting.policy.dataSubmissionEnabled", "false"),
    ("toolkit.telemetry.enabled", "false"),
    ("toolkit.telemetry.unified", "false"),
    ("toolkit.telemetry.archive.enabled", "false"),
    ("toolkit.telemetry.server", "\"\""),
    ("app.update.enabled", "false"),
    ("app.update.auto", "false"),
    ("app.normandy.enabled", "false"),
    ("app.shield.optoutstudies.enabled", "false"),
    ("extensions.update.enabled", "false"),
    ("extensions.getAddons.cache.enabled", "false"),
    ("extensions.blocklist.enabled", "false"),
    ("extensions.systemAddon.update.enabled", "false"),
    ("media.gmp-manager.url", "\"\""),
    ("media.gmp-provider.enabled", "false"),
    ("browser.region.update.enabled", "false"),
    ("browser.region.network.url", "\"\""),
    ("browser.search.update", "false"),
    ("geo.enabled", "false"),
    ("browser.newtabpage.enabled", "false"),
    ("browser.aboutwelcome.enabled", "false"),
    ("browser.startup.homepage_override.mstone", "\"ignore\""),
    ("startup.homepage_welcome_url", "\"\""),
    ("browser.shell.checkDefaultBrowser", "false"),
    ("browser.sessionstore.resume_from_crash", "false"),
    ("browser.ping-centre.telemetry", "false"),
    (
        "browser.newtabpage.activity-stream.feeds.telemetry",
        "false",
    ),
    ("browser.newtabpage.activity-stream.telemetry", "false"),
    ("network.cookie.cookieBehavior", "0"),
    // Glean (FOG) pings, the deletion-request one included: -1 means
    // "do not upload, pretend it was sent".
    ("telemetry.fog.test.localhost_port", "-1"),
    ("datareporting.usage.uploadEnabled", "false"),
    ("toolkit.telemetry.shutdownPingSender.enabled", "false"),
    ("toolkit.telemetry.newProfilePing.enabled", "false"),
    ("toolkit.telemetry.firstShutdownPing.enabled", "false"),
    ("toolkit.telemetry.updatePing.enabled", "false"),
    ("toolkit.telemetry.bhrPing.enabled", "false"),
    // New-tab sponsored content (ads.mozilla.org) and Pocket.
    ("browser.newtabpage.activity-stream.feeds.topsites", "false"),
    (
        "browser.newtabpage.activity-stream.feeds.section.topstories",
        "false",
    ),
    (
        "browser.newtabpage.activity-stream.feeds.system.topstories",
        "false",
    ),
    ("browser.newtabpage.activity-stream.showSponsored", "false"),
    (
        "browser.newtabpage.activity-stream.showSponsoredTopSites",
        "false",
    ),
    (
        "browser.newtabpage.activity-stream.unifiedAds.tiles.enabled",
        "false",
    ),
    (
        "browser.newtabpage.activity-stream.unifiedAds.spocs.enabled",
        "false",
    ),
    (
        "browser.newtabpage.activity-stream.unifiedAds.endpoint",
        "\"http://127.0.0.1:9/\"",
    ),
    ("browser.topsites.contile.enabled", "false"),
    ("extensions.pocket.enabled", "false"),
    ("browser.urlbar.quicksuggest.enabled", "false"),
    ("permissions.default.desktop-notification", "1"),
    ("dom.push.loglevel", "\"debug\""),
];

/// Firefox, killed by its PID when dropped.
struct Firefox(Child);

impl Drop for Firefox {
    fn drop(&mut self) {
        let pid = self.0.id();
        let _ = self.0.kill();
        let _ = self.0.wait();
        println!("firefox (pid {pid}) killed");
    }
}

fn fail(msg: impl Into<String>) -> Box<dyn std::error::Error> {
    msg.into().into()
}

/// Polls `ready` every 50 ms until it gives `Some`, or fails after `limit`.
async fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> Option<T>,
) -> Result<T, Box<dyn std::error::Error>> {
    let started = Instant::now();
    loop {
        if let Some(v) = ready() {
            return Ok(v);
        }
        if started.elapsed() > limit {
            return Err(fail(format!(
                "timed out after {limit:?} waiting for {what}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write_profile(dir: &Path, ws_url: &str, proxy_port: u16) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut user_js = std::fs::File::create(dir.join("user.js"))?;
    for name in ["network.proxy.http_port", "network.proxy.ssl_port"] {
        writeln!(user_js, "user_pref({name:?}, {proxy_port});")?;
    }
    for (name, value) in push_prefs(ws_url) {
        writeln!(user_js, "user_pref({name:?}, {value});")?;
    }
    for (name, value) in OFFLINE_PREFS {
        writeln!(user_js, "user_pref({name:?}, {value});")?;
    }
    Ok(())
}

/// One payload case: sent with `options`, expected back byte for byte.
struct Case {
    name: &'static str,
    payload: Vec<u8>,
    options: PushOptions,
}

pub(crate) async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    match tokio::time::timeout(DEADLINE, check(started)).await {
        Ok(result) => result,
        Err(_) => Err(fail(format!("the browser test took over {DEADLINE:?}"))),
    }
}

async fn check(started: Instant) -> Result<(), Box<dyn std::error::Error>> {
    let work = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/firefox-check");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let service = Arc::new(LocalPushService::start().await?);
    let app = App::new(&work.join("web_app.sqlite3"), Some(Arc::clone(&service)))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!(
        "http://127.0.0.1:{}/?check=1",
        listener.local_addr()?.port()
    );
    let router = app.router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    // The dead-end proxy: the first line of every request Firefox tries to
    // send off loopback, then the connection is closed.
    let proxy = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let proxy_port = proxy.local_addr()?.port();
    let escapes: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let escapes = Arc::clone(&escapes);
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = proxy.accept().await {
                let escapes = Arc::clone(&escapes);
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt as _;
                    let mut head = [0u8; 512];
                    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut head))
                        .await
                        .map_or(0, |r| r.unwrap_or(0));
                    let text = String::from_utf8_lossy(&head[..n]);
                    let line = text
                        .lines()
                        .next()
                        .unwrap_or("(no request line)")
                        .to_owned();
                    lock(&escapes).push(line);
                });
            }
        });
    }
    let profile = work.join("profile");
    write_profile(&profile, &service.websocket_url(), proxy_port)?;
    let firefox_bin = std::env::var("FIREFOX").unwrap_or_else(|_| "firefox-esr".to_owned());
    let log = std::fs::File::create(work.join("firefox.log"))?;
    let child = Command::new(&firefox_bin)
        .args(["--headless", "--no-remote", "--profile"])
        .arg(&profile)
        .arg(&url)
        .env("MOZ_CRASHREPORTER_DISABLE", "1")
        // Release builds ignore `services.settings.server` without this.
        .env("MOZ_REMOTE_SETTINGS_DEVTOOLS", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| fail(format!("could not start {firefox_bin}: {e}")))?;
    let firefox = Firefox(child);
    println!("firefox (pid {}) started: {url}", firefox.0.id());

    let result = cases(&app, &service, started).await;
    if let Some(e) = lock(&app.check.page_error).take() {
        println!("the page reported: {e}");
    }
    drop(firefox);
    let escapes = lock(&escapes).clone();
    println!(
        "requests Firefox tried to send off loopback (refused by the dead-end proxy): {}",
        escapes.len()
    );
    for line in &escapes {
        println!("  {line}");
    }
    let result = result.and_then(|()| {
        if escapes.is_empty() {
            Ok(())
        } else {
            Err(fail(
                "Firefox tried to leave loopback: a background service is still on",
            ))
        }
    });
    if result.is_err() {
        println!("firefox's log: {}", work.join("firefox.log").display());
    }
    result
}

async fn cases(
    app: &App,
    service: &LocalPushService,
    started: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let step = Instant::now();
    wait_for(
        "Firefox's hello on the WebSocket",
        Duration::from_secs(90),
        || (service.hello_count() > 0).then_some(()),
    )
    .await?;
    println!("{:<34} {:>7.2?}", "firefox said hello", step.elapsed());
    let step = Instant::now();
    wait_for("the page's subscription", Duration::from_secs(90), || {
        (app.subscription_count().ok()? == 1).then_some(())
    })
    .await?;
    let subscription: Subscription = {
        let db = lock(&app.db);
        let json: String = db.query_row("SELECT json FROM subscriptions", [], |r| r.get(0))?;
        Subscription::from_json(&json)?
    };
    println!(
        "{:<34} {:>7.2?}",
        "page subscribed, row stored",
        step.elapsed()
    );

    let utf8 = "Grüße aus Zürich — 日本語のテキスト — emoji 🚀🎉 — ünïcödé";
    let max: Vec<u8> = (0..3993u32)
        .map(|i| u8::try_from(i * 7 % 256).unwrap_or(0))
        .collect();
    let cases = [
        Case {
            name: "aes128gcm ASCII",
            payload: b"Hello from webpush, decrypted by Firefox".to_vec(),
            options: PushOptions::new().ttl(60),
        },
        Case {
            name: "aes128gcm UTF-8",
            payload: utf8.as_bytes().to_vec(),
            options: PushOptions::new().ttl(60),
        },
        Case {
            name: "aes128gcm 3993 octets (binary)",
            payload: max,
            options: PushOptions::new().ttl(60),
        },
        Case {
            name: "aes128gcm padded to 4096",
            payload: b"short, padded to a 4096-octet body".to_vec(),
            options: PushOptions::new().ttl(60).padding(Padding::MAX),
        },
        Case {
            name: "legacy aesgcm",
            payload: b"legacy aesgcm, decrypted by Firefox".to_vec(),
            options: PushOptions::new()
                .ttl(60)
                .content_encoding(ContentEncoding::Aesgcm),
        },
        Case {
            name: "declarative web push JSON",
            payload: br#"{"web_push":8030,"notification":{"title":"Declarative","body":"shown by the service worker","navigate":"/"}}"#.to_vec(),
            options: PushOptions::new().ttl(60),
        },
    ];
    for case in cases {
        let step = Instant::now();
        let before = app.reports().len();
        let summary = app.send_to_all(case.payload.clone(), case.options).await?;
        if summary.delivered != 1 {
            return Err(fail(format!("{}: not delivered: {summary:?}", case.name)));
        }
        let got = wait_for(case.name, Duration::from_secs(20), || {
            app.reports().get(before).cloned()
        })
        .await?;
        let bytes = webpush_b64(&got.data)?;
        if bytes != case.payload {
            return Err(fail(format!(
                "{}: Firefox decrypted {} octets that differ from the {} sent",
                case.name,
                bytes.len(),
                case.payload.len()
            )));
        }
        println!(
            "{:<34} {:>7.2?}  ok: {} octets identical, shown as {:?}",
            case.name,
            step.elapsed(),
            bytes.len(),
            got.title
        );
    }

    // Tampered in transit: the push service accepts it, Firefox refuses it.
    let step = Instant::now();
    let before = app.reports().len();
    let acks_before = service.browser_acks(&subscription).len();
    service.set_fault(&subscription, Fault::TamperInTransit);
    let summary = app
        .send_to_all(
            b"tampered: never shown".to_vec(),
            PushOptions::new().ttl(60),
        )
        .await?;
    service.clear_fault(&subscription);
    if summary.delivered != 1 {
        return Err(fail(format!("tampered: not accepted: {summary:?}")));
    }
    let code = wait_for(
        "Firefox's ack of the tampered push",
        Duration::from_secs(20),
        || {
            service
                .browser_acks(&subscription)
                .get(acks_before)
                .copied()
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    if code != 101 || app.reports().len() != before {
        return Err(fail(format!(
            "tampered: Firefox acked with {code} (101 = decryption error) and the service worker reported {} message(s)",
            app.reports().len() - before
        )));
    }
    println!(
        "{:<34} {:>7.2?}  ok: Firefox acked 101 (decryption error), nothing shown",
        "tampered body (last octet flipped)",
        step.elapsed()
    );

    // Unsubscribed in the page: the next send is Gone and the row goes.
    let step = Instant::now();
    *lock(&app.check.command) = Some("unsubscribe".to_owned());
    let done = wait_for("the page's unsubscribe()", Duration::from_secs(20), || {
        lock(&app.check.unsubscribed).take()
    })
    .await?;
    if !done {
        return Err(fail("unsubscribe() resolved false"));
    }
    let summary = app
        .send_to_all(b"after unsubscribe".to_vec(), PushOptions::new().ttl(60))
        .await?;
    let rows = app.subscription_count()?;
    if summary.deleted_gone != 1 || rows != 0 {
        return Err(fail(format!(
            "unsubscribe: {summary:?}, {rows} row(s) left"
        )));
    }
    println!(
        "{:<34} {:>7.2?}  ok: send was Gone (410), row deleted",
        "unsubscribe in the page",
        step.elapsed()
    );
    println!(
        "browser test passed in {:.1?} (Firefox start-up included)",
        started.elapsed()
    );
    Ok(())
}

/// base64url (the service worker's report) to octets.
fn webpush_b64(s: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use base64ct::Encoding as _;
    Ok(base64ct::Base64UrlUnpadded::decode_vec(s)?)
}
