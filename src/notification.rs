//! Notification payloads: Declarative Web Push (WebKit, Safari 18.4 / iOS
//! 18.4) and the plain JSON a service worker shows. No I/O; builds for
//! `wasm32-unknown-unknown`.
//!
//! A declarative push message is JSON with the top-level member
//! `"web_push": 8030` (a number) and a `notification` object. Safari shows
//! it without running a service worker; Chrome and Firefox deliver it to
//! the service worker's `push` handler unchanged, which shows it itself:
//!
//! ```json
//! {"web_push": 8030,
//!  "notification": {"title": "Build finished", "navigate": "https://ci.example.com/runs/42",
//!                   "body": "All 812 tests passed", "app_badge": 3}}
//! ```
//!
//! The rules are WebKit's (`Source/WebCore/Modules/notifications/NotificationJSONParser.cpp`),
//! checked by [`NotificationBuilder::build`] and by [`parse_declarative`]:
//!
//! | member | rule |
//! |---|---|
//! | `web_push` | the number 8030 |
//! | `notification` | an object |
//! | `notification.navigate` | required; a string that is an absolute URL |
//! | `notification.title` | required; a non-empty string |
//! | `notification.app_badge` | a non-negative integer (WebKit reads numbers as a 32-bit `int`), or a string of ASCII digits up to `u64::MAX` |
//! | `notification.dir` | `auto`, `ltr` or `rtl` |
//! | `notification.lang`, `body`, `tag` | strings |
//! | `notification.icon` | a string that is an absolute URL |
//! | `notification.silent`, `mutable` | booleans |
//! | `notification.data` | any JSON |
//!
//! This crate is stricter than WebKit in one way: `navigate` and `icon`
//! must be `https` or `http` URLs that parse as an `http::Uri` (ASCII, with
//! a host); WebKit's URL parser also takes other schemes and non-ASCII
//! text. A payload built here is therefore always one WebKit accepts.
//!
//! # The service worker
//!
//! One `push` handler shows both forms (declarative, and the plain form of
//! [`Notification::to_plain_payload`]) in browsers that run it; Safari
//! shows declarative messages itself, or hands them to this handler as
//! `event.notification` when `mutable` is true:
//!
//! ```js
//! self.addEventListener("push", (event) => {
//!   let msg = {};
//!   try { msg = event.data ? event.data.json() : {}; } catch { return; }
//!   const n = msg.notification;
//!   if (!n || !n.title) return;
//!   const options = { body: n.body, tag: n.tag, icon: n.icon, lang: n.lang,
//!                     dir: n.dir, silent: n.silent,
//!                     data: { navigate: n.navigate, data: n.data } };
//!   const badge = "app_badge" in n && navigator.setAppBadge
//!     ? navigator.setAppBadge(Number(n.app_badge)) : Promise.resolve();
//!   event.waitUntil(Promise.all([self.registration.showNotification(n.title, options), badge]));
//! });
//! self.addEventListener("notificationclick", (event) => {
//!   event.notification.close();
//!   const url = event.notification.data && event.notification.data.navigate;
//!   if (url) event.waitUntil(clients.openWindow(url));
//! });
//! ```
//!
//! # Example
//!
//! ```
//! use webpush::notification::Notification;
//! use webpush::Padding;
//!
//! let n = Notification::builder("Build finished", "https://ci.example.com/runs/42")
//!     .body("All 812 tests passed")
//!     .app_badge(3)
//!     .build()?;
//! let payload = n.to_payload(Padding::None)?;
//! let json: serde_json::Value = serde_json::from_slice(&payload)?;
//! assert_eq!(json["web_push"], 8030);
//! assert_eq!(json["notification"]["title"], "Build finished");
//! // WebKit's rules hold for what was built:
//! webpush::notification::parse_declarative(std::str::from_utf8(&payload)?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use serde_json::{Map, Value};

use crate::message::{MAX_PLAINTEXT_LEN, Padding};

/// The value of the top-level `web_push` member that marks a declarative
/// push message (RFC 8030's number).
pub const DECLARATIVE_WEB_PUSH: u16 = 8030;

/// The largest JSON text [`parse_declarative`] reads: a push message's
/// plaintext is at most [`MAX_PLAINTEXT_LEN`] octets, so anything longer
/// could never be sent.
pub const MAX_NOTIFICATION_JSON_LEN: usize = MAX_PLAINTEXT_LEN;

/// The largest `app_badge` WebKit reads as a JSON number (its JSON numbers
/// are read with `asInteger()`, a 32-bit `int`); larger badges are written
/// as a string of digits, which WebKit reads up to `u64::MAX`.
pub const MAX_NUMERIC_APP_BADGE: u64 = i32::MAX as u64;

/// Why a notification payload is invalid. `Display` names the member and
/// the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// The text is not a JSON object.
    #[error("notification payload is not a JSON object")]
    NotAnObject,
    /// `web_push` is missing or is not the number 8030.
    #[error("notification payload has no \"web_push\": 8030 member")]
    NotDeclarative,
    /// `notification` is missing or not an object.
    #[error("notification payload has no \"notification\" object")]
    MissingNotification,
    /// `title` is missing, not a string, or empty.
    #[error("notification \"title\" must be a non-empty string")]
    Title,
    /// A member breaks its rule (see the [module table](self)).
    #[error("notification {member:?} {rule}")]
    Member {
        /// The member's name.
        member: &'static str,
        /// What it must be.
        rule: &'static str,
    },
    /// The JSON text, padded, does not fit in one push message.
    #[error("notification payload is {len} octets with its padding, over the limit of {max}")]
    TooLarge {
        /// The payload's length (padded, when known).
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The text direction of a notification (`dir`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// `auto` (the default).
    #[default]
    Auto,
    /// `ltr`.
    Ltr,
    /// `rtl`.
    Rtl,
}

impl Direction {
    /// The JSON value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Ltr => "ltr",
            Self::Rtl => "rtl",
        }
    }

    /// Parses `auto`, `ltr` or `rtl` (exactly, as WebKit's enumeration
    /// parser does).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Auto, Self::Ltr, Self::Rtl]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A validated notification: what a declarative push message shows, or
/// what a service worker passes to `showNotification`. Build one with
/// [`Notification::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    object: Map<String, Value>,
}

/// Builds a [`Notification`]; errors are kept and returned by
/// [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct NotificationBuilder {
    object: Map<String, Value>,
    error: Option<NotificationError>,
}

impl Notification {
    /// A builder with the two required members: a non-empty `title` and
    /// `navigate`, the absolute URL opened when the notification is
    /// clicked.
    pub fn builder(title: &str, navigate: &str) -> NotificationBuilder {
        let mut b = NotificationBuilder {
            object: Map::new(),
            error: None,
        };
        if title.is_empty() {
            b.error = Some(NotificationError::Title);
        }
        b.object.insert("title".into(), Value::from(title));
        b.url("navigate", navigate)
    }

    /// The declarative JSON text: `{"web_push":8030,"notification":{…}}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut outer = Map::new();
        outer.insert("web_push".into(), Value::from(DECLARATIVE_WEB_PUSH));
        outer.insert("notification".into(), Value::Object(self.object.clone()));
        Value::Object(outer).to_string()
    }

    /// The plain JSON text, for pushes a service worker shows:
    /// `{"notification":{…}}`, the same object without the `web_push`
    /// marker, so that Safari hands it to the service worker rather than
    /// showing it itself.
    #[must_use]
    pub fn to_plain_json(&self) -> String {
        let mut outer = Map::new();
        outer.insert("notification".into(), Value::Object(self.object.clone()));
        Value::Object(outer).to_string()
    }

    /// [`to_json`](Self::to_json) as a push payload, checked to fit in one
    /// message with `padding` (the padding you will send with: pass the
    /// same [`Padding`] to [`crate::request::PushOptions::padding`]).
    ///
    /// # Errors
    /// [`NotificationError::TooLarge`] when the padded JSON is over
    /// [`MAX_PLAINTEXT_LEN`] (or the fixed padding size).
    pub fn to_payload(&self, padding: Padding) -> Result<Vec<u8>, NotificationError> {
        fits(self.to_json().into_bytes(), padding)
    }

    /// [`to_plain_json`](Self::to_plain_json) as a push payload, checked
    /// as [`to_payload`](Self::to_payload) is.
    ///
    /// # Errors
    /// As [`to_payload`](Self::to_payload).
    pub fn to_plain_payload(&self, padding: Padding) -> Result<Vec<u8>, NotificationError> {
        fits(self.to_plain_json().into_bytes(), padding)
    }

    /// The `notification` object.
    #[must_use]
    pub const fn as_json_object(&self) -> &Map<String, Value> {
        &self.object
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

fn fits(bytes: Vec<u8>, padding: Padding) -> Result<Vec<u8>, NotificationError> {
    let len = bytes.len();
    match padding.padded_len(len) {
        Ok(_) => Ok(bytes),
        Err(crate::message::CryptoError::PayloadTooLarge { max, .. }) => {
            Err(NotificationError::TooLarge { len, max })
        }
        Err(_) => Err(NotificationError::TooLarge {
            len,
            max: MAX_PLAINTEXT_LEN,
        }),
    }
}

impl NotificationBuilder {
    fn set(mut self, key: &str, value: Value) -> Self {
        self.object.insert(key.to_owned(), value);
        self
    }

    fn url(mut self, member: &'static str, url: &str) -> Self {
        if !is_absolute_web_url(url) && self.error.is_none() {
            self.error = Some(NotificationError::Member {
                member,
                rule: "must be an absolute https or http URL",
            });
        }
        self.set(member, Value::from(url))
    }

    /// The text below the title (`body`).
    pub fn body(self, body: &str) -> Self {
        self.set("body", Value::from(body))
    }

    /// The text direction (`dir`).
    pub fn dir(self, dir: Direction) -> Self {
        self.set("dir", Value::from(dir.as_str()))
    }

    /// The language tag (`lang`), such as `en-GB`.
    pub fn lang(self, lang: &str) -> Self {
        self.set("lang", Value::from(lang))
    }

    /// A tag (`tag`): a newer notification with the same tag replaces the
    /// older one where the platform supports it.
    pub fn tag(self, tag: &str) -> Self {
        self.set("tag", Value::from(tag))
    }

    /// An icon (`icon`): an absolute `https` or `http` URL.
    pub fn icon(self, url: &str) -> Self {
        self.url("icon", url)
    }

    /// Whether to show it without sound or vibration (`silent`).
    pub fn silent(self, silent: bool) -> Self {
        self.set("silent", Value::from(silent))
    }

    /// Any JSON for the page (`data`).
    pub fn data(self, data: Value) -> Self {
        self.set("data", data)
    }

    /// The application badge (`app_badge`). Up to
    /// [`MAX_NUMERIC_APP_BADGE`] it is written as a number, above as a
    /// string of digits (what WebKit reads).
    pub fn app_badge(self, badge: u64) -> Self {
        let value = if badge <= MAX_NUMERIC_APP_BADGE {
            Value::from(badge)
        } else {
            Value::from(badge.to_string())
        };
        self.set("app_badge", value)
    }

    /// Whether Safari first hands the message to the service worker's
    /// `push` handler, which may change it (`mutable`).
    pub fn mutable(self, mutable: bool) -> Self {
        self.set("mutable", Value::from(mutable))
    }

    /// The notification.
    ///
    /// # Errors
    /// [`NotificationError::Title`] for an empty title,
    /// [`NotificationError::Member`] for a `navigate` or `icon` that is not
    /// an absolute `https`/`http` URL.
    pub fn build(self) -> Result<Notification, NotificationError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(Notification {
                object: self.object,
            }),
        }
    }
}

/// An absolute `https`/`http` URL with a host, as `http::Uri` parses it.
fn is_absolute_web_url(s: &str) -> bool {
    s.parse::<http::Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("https" | "http")) && u.host().is_some_and(|h| !h.is_empty())
    })
}

/// Checks a JSON text against WebKit's rules for declarative push messages
/// (the [module table](self)), as Safari would before showing it; returns
/// the `notification` object. URLs are checked as WebKit does (absolute);
/// unlike [`NotificationBuilder`], any scheme is accepted here.
///
/// ```
/// use webpush::notification::{parse_declarative, NotificationError};
///
/// let ok = r#"{"web_push":8030,"notification":{"title":"Hi","navigate":"https://example.com/"}}"#;
/// assert!(parse_declarative(ok).is_ok());
/// let string_marker = r#"{"web_push":"8030","notification":{"title":"Hi","navigate":"https://example.com/"}}"#;
/// assert_eq!(parse_declarative(string_marker), Err(NotificationError::NotDeclarative));
/// ```
///
/// # Errors
/// The first rule broken, as a [`NotificationError`]; texts over
/// [`MAX_NOTIFICATION_JSON_LEN`] octets are [`NotificationError::TooLarge`]
/// unread.
pub fn parse_declarative(json: &str) -> Result<Map<String, Value>, NotificationError> {
    if json.len() > MAX_NOTIFICATION_JSON_LEN {
        return Err(NotificationError::TooLarge {
            len: json.len(),
            max: MAX_NOTIFICATION_JSON_LEN,
        });
    }
    let Ok(Value::Object(outer)) = serde_json::from_str::<Value>(json) else {
        return Err(NotificationError::NotAnObject);
    };
    // WebKit: an Integer or Double whose `asInteger()` is 8030 (taken
    // here as exactly 8030).
    let marker = outer
        .get("web_push")
        .and_then(Value::as_number)
        .and_then(serde_json::Number::as_f64);
    if marker != Some(f64::from(DECLARATIVE_WEB_PUSH)) {
        return Err(NotificationError::NotDeclarative);
    }
    let Some(Value::Object(n)) = outer.get("notification") else {
        return Err(NotificationError::MissingNotification);
    };
    let member = |member, rule| NotificationError::Member { member, rule };
    match n.get("navigate") {
        Some(Value::String(s)) if is_absolute_url(s) => {}
        Some(Value::String(_)) | None => {
            return Err(member("navigate", "must be an absolute URL"));
        }
        Some(_) => return Err(member("navigate", "must be a string")),
    }
    match n.get("title") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(NotificationError::Title),
    }
    match n.get("app_badge") {
        None => {}
        // WebKit reads "" as 0.
        Some(Value::String(s))
            if s.is_empty()
                || (s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u64>().is_ok()) => {}
        Some(Value::String(_)) => {
            return Err(member(
                "app_badge",
                "must be a string of digits up to u64::MAX",
            ));
        }
        Some(Value::Number(v)) if v.as_u64().is_some_and(|b| b <= MAX_NUMERIC_APP_BADGE) => {}
        Some(_) => {
            return Err(member(
                "app_badge",
                "must be a non-negative 32-bit integer or a string of digits",
            ));
        }
    }
    match n.get("dir") {
        None => {}
        Some(Value::String(s)) if Direction::parse(s).is_some() => {}
        Some(_) => return Err(member("dir", "must be \"auto\", \"ltr\" or \"rtl\"")),
    }
    for key in ["lang", "body", "tag"] {
        if n.get(key).is_some_and(|v| !v.is_string()) {
            return Err(member(static_key(key), "must be a string"));
        }
    }
    match n.get("icon") {
        None => {}
        Some(Value::String(s)) if is_absolute_url(s) => {}
        Some(_) => return Err(member("icon", "must be a string that is an absolute URL")),
    }
    for key in ["silent", "mutable"] {
        if n.get(key).is_some_and(|v| !v.is_boolean()) {
            return Err(member(static_key(key), "must be a boolean"));
        }
    }
    Ok(n.clone())
}

fn static_key(key: &str) -> &'static str {
    match key {
        "lang" => "lang",
        "body" => "body",
        "tag" => "tag",
        "silent" => "silent",
        _ => "mutable",
    }
}

/// An absolute URL in WebKit's sense, approximated: a scheme (a letter,
/// then letters, digits, `+`, `-`, `.`), a colon and something after it,
/// no whitespace or control characters.
fn is_absolute_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && (!matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
            || rest.strip_prefix("//").is_some_and(|r| {
                !r.is_empty() && !r.starts_with('/') && !r.starts_with('?') && !r.starts_with('#')
            }))
}

#[cfg(test)]
mod tests;
