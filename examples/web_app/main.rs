//! The quickstart in a browser: an axum app that serves a page and its
//! service worker, stores the subscriptions the page POSTs in SQLite, sends
//! to all of them with [`BatchSender`] from a form, and deletes a
//! subscription when the push service says it is gone.
//!
//! ```text
//! cargo run --example web_app --features testing,aesgcm            # http://localhost:3000
//! cargo run --example web_app --features testing,aesgcm -- --local # LocalPushService as push server
//! cargo run --example web_app --features testing,aesgcm -- --firefox-check
//! ```
//!
//! Without flags, pushes go to the browser's own push service (FCM,
//! Mozilla's autopush, Apple's). `--local` starts [`LocalPushService`] and
//! prints the Firefox prefs that make it Firefox's push server.
//! `--firefox-check` is the CI browser test (`check.rs`): it runs headless
//! Firefox against the local service and checks what Firefox decrypted.
//!
//! Files: `main.rs` the app (routes, SQLite, sending), `check.rs` the
//! browser test, `page.html` and `sw.js` what the browser runs.

mod check;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use tokio::sync::Notify;
use webpush::batch::BatchSender;
use webpush::request::PushOptions;
use webpush::sender::ReqwestSender;
use webpush::testing::LocalPushService;
use webpush::vapid::{Subject, VapidKey, VapidSigner};
use webpush::{PushClient, Subscription};

const PAGE: &str = include_str!("page.html");
const SERVICE_WORKER: &str = include_str!("sw.js");

/// The app's state: the database, the sender, and what the service worker
/// reported.
#[derive(Clone)]
pub(crate) struct App {
    db: Arc<Mutex<Connection>>,
    batch: Arc<BatchSender<ReqwestSender>>,
    vapid_public_key: String,
    local: Option<Arc<LocalPushService>>,
    reports: Arc<Mutex<Vec<Received>>>,
    reported: Arc<Notify>,
    check: Arc<check::Channel>,
}

/// What the service worker said it got.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Received {
    /// The decrypted payload, base64url.
    pub(crate) data: String,
    /// The notification's title.
    pub(crate) title: String,
}

/// The result of "send to all".
#[derive(Debug, Default)]
pub(crate) struct SendSummary {
    pub(crate) delivered: usize,
    pub(crate) deleted_gone: usize,
    pub(crate) failed: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl App {
    /// Opens (or creates) the database and its VAPID key.
    fn new(
        db_path: &std::path::Path,
        local: Option<Arc<LocalPushService>>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let db = Connection::open(db_path)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS subscriptions (
                 id INTEGER PRIMARY KEY,
                 endpoint TEXT NOT NULL UNIQUE,
                 json TEXT NOT NULL,
                 created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
             CREATE TABLE IF NOT EXISTS vapid (id INTEGER PRIMARY KEY CHECK (id = 1), pem TEXT NOT NULL);",
        )?;
        // One VAPID key for the app's life: subscriptions are bound to it.
        let pem: Option<String> = db
            .query_row("SELECT pem FROM vapid WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        let key = match pem {
            Some(pem) => VapidKey::from_pem(&pem)?,
            None => {
                let key = VapidKey::generate()?;
                db.execute(
                    "INSERT INTO vapid (id, pem) VALUES (1, ?1)",
                    params![key.to_pkcs8_pem().as_str()],
                )?;
                key
            }
        };
        let signer = VapidSigner::new(key.clone(), Subject::parse("mailto:webapp@example.com")?);
        let client = match &local {
            Some(service) => service.client(signer)?,
            None => PushClient::new(signer)?,
        };
        Ok(Self {
            db: Arc::new(Mutex::new(db)),
            batch: Arc::new(BatchSender::new(client)),
            vapid_public_key: key.public_key_base64(),
            local,
            reports: Arc::default(),
            reported: Arc::default(),
            check: Arc::default(),
        })
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route("/sw.js", get(service_worker))
            .route("/api/vapid-public-key", get(vapid_public_key))
            .route("/api/push-ready", get(push_ready))
            .route("/api/subscriptions", post(add_subscription).get(count))
            .route("/api/received", post(received))
            .route("/send", post(send_form))
            .merge(check::routes())
            .with_state(self.clone())
    }

    /// The stored subscriptions, by row id. Rows that no longer parse are
    /// skipped.
    fn subscriptions(&self) -> Result<Vec<(i64, Subscription)>, rusqlite::Error> {
        let db = lock(&self.db);
        let mut stmt = db.prepare("SELECT id, json FROM subscriptions ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut subs = Vec::new();
        for row in rows {
            let (id, json) = row?;
            if let Ok(sub) = Subscription::from_json(&json) {
                subs.push((id, sub));
            }
        }
        Ok(subs)
    }

    pub(crate) fn subscription_count(&self) -> Result<i64, rusqlite::Error> {
        lock(&self.db).query_row("SELECT count(*) FROM subscriptions", [], |r| r.get(0))
    }

    /// Sends `payload` to every subscription; deletes those that are gone.
    pub(crate) async fn send_to_all(
        &self,
        payload: Vec<u8>,
        options: PushOptions,
    ) -> Result<SendSummary, rusqlite::Error> {
        let subs = self.subscriptions()?;
        let mut batch = self.batch.send_to_many(subs, payload, options);
        let mut summary = SendSummary::default();
        while let Some(report) = batch.next_report().await {
            if report.is_gone() {
                lock(&self.db).execute("DELETE FROM subscriptions WHERE id = ?1", [report.key])?;
                summary.deleted_gone += 1;
            } else if let Some(e) = report.error() {
                summary.failed.push(e.to_string());
            } else {
                summary.delivered += 1;
            }
        }
        Ok(summary)
    }

    pub(crate) fn reports(&self) -> Vec<Received> {
        lock(&self.reports).clone()
    }
}

async fn service_worker() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript")], SERVICE_WORKER)
}

async fn vapid_public_key(State(app): State<App>) -> String {
    app.vapid_public_key.clone()
}

/// With the local push service: whether Firefox has said `hello` to it.
/// With a browser's own push service the app cannot know: `true`.
async fn push_ready(State(app): State<App>) -> Json<serde_json::Value> {
    let ready = app.local.as_ref().is_none_or(|s| s.hello_count() > 0);
    Json(serde_json::json!({ "ready": ready }))
}

async fn add_subscription(State(app): State<App>, body: String) -> Response {
    // Validates the endpoint, the P-256 key and the auth secret.
    let sub = match Subscription::from_json(&body) {
        Ok(sub) => sub,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let stored = lock(&app.db).execute(
        "INSERT INTO subscriptions (endpoint, json) VALUES (?1, ?2)
         ON CONFLICT(endpoint) DO UPDATE SET json = excluded.json",
        params![sub.endpoint().uri().to_string(), sub.to_json()],
    );
    match stored {
        Ok(_) => {
            println!("stored a subscription for {}", sub.endpoint().origin());
            StatusCode::CREATED.into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn count(State(app): State<App>) -> Response {
    match app.subscription_count() {
        Ok(n) => Json(serde_json::json!({ "subscriptions": n })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn received(State(app): State<App>, Json(report): Json<Received>) -> StatusCode {
    println!("service worker showed {:?}", report.title);
    lock(&app.reports).push(report);
    app.reported.notify_waiters();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SendForm {
    title: String,
    #[serde(default)]
    body: String,
}

/// "Send to all": a Declarative Web Push message, which the service worker
/// shows (and browsers that implement Declarative Web Push show by
/// themselves).
async fn send_form(State(app): State<App>, Form(form): Form<SendForm>) -> Response {
    let payload = serde_json::json!({
        "web_push": 8030,
        "notification": { "title": form.title, "body": form.body, "navigate": "/" },
    })
    .to_string();
    match app.send_to_all(payload.into_bytes(), PushOptions::new().ttl(3600)).await {
        Ok(s) => Html(format!(
            "<p>Delivered to {} subscription(s); deleted {} that were gone; {} failed{}.</p><p><a href=\"/\">Back</a></p>",
            s.delivered,
            s.deleted_gone,
            s.failed.len(),
            if s.failed.is_empty() { String::new() } else { format!(": {}", s.failed.join("; ")) },
        ))
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--firefox-check") {
        return check::run().await;
    }
    let local = if args.iter().any(|a| a == "--local") {
        let service = LocalPushService::start().await?;
        println!("local push service: Firefox prefs (about:config) for it:");
        for (name, value) in check::push_prefs(&service.websocket_url()) {
            println!("  {name} = {value}");
        }
        Some(Arc::new(service))
    } else {
        None
    };
    let db_path = PathBuf::from("web_app.sqlite3");
    let app = App::new(&db_path, local)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 3000)).await?;
    println!(
        "open http://localhost:3000 (subscriptions in {})",
        db_path.display()
    );
    axum::serve(listener, app.router()).await?;
    Ok(())
}
