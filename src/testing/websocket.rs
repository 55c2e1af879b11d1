//! The WebSocket side of [`LocalPushService`](super::LocalPushService):
//! Mozilla's Web Push protocol, the one Firefox speaks to its push service
//! (autopush), on `ws://127.0.0.1:<port>/`, so that a real Firefox can use
//! the service as its push server (pref `dom.push.serverURL`).
//!
//! Messages are JSON text frames; every client message has a `messageType`
//! (a bare `{}` is a ping):
//!
//! | client sends | service answers |
//! |---|---|
//! | `{"messageType":"hello","uaid"?,"use_webpush":true,"broadcasts":{…}}` | `{"messageType":"hello","status":200,"uaid":…,"use_webpush":true,"broadcasts":{}}`, then every held message of that UAID |
//! | `{"messageType":"register","channelID":…,"key"?:…}` (`key`: the `applicationServerKey`, padded base64url) | `{"messageType":"register","channelID":…,"status":200,"pushEndpoint":"https://127.0.0.1:<port>/push/<id>"}` (`status` 400 for a bad `channelID` or `key`) |
//! | `{"messageType":"unregister","channelID":…,"code":200}` | `{"messageType":"unregister","channelID":…,"status":200}`; later pushes to the endpoint get `410 Gone` |
//! | `{"messageType":"ack","updates":[{"channelID","version","code"}]}` | nothing; the message is no longer held (`code` 100 delivered, 101 decryption failed, 102 not delivered) |
//! | `{"messageType":"nack","version","code"}` | nothing; the message is no longer held (`code` 301–303: the service worker failed) |
//! | `{}` or `{"messageType":"ping"}` | `{}` |
//!
//! and, for each accepted push, the service sends
//! `{"messageType":"notification","channelID":…,"version":…,"ttl":…,"data":<base64url body>,"headers":{"encoding":"aes128gcm"}}`
//! (`aesgcm`: `headers` also carries `crypto_key` and `encryption`, the
//! request's `Crypto-Key` and `Encryption`; a tickle push has neither `data`
//! nor `headers`). A message is held until the browser acknowledges it or its
//! TTL runs out, and sent again when the browser says `hello` again; a push
//! with TTL 0 is dropped when no browser is connected. Anything else a client
//! sends (unknown types, invalid JSON, a `register` before `hello`) is
//! ignored; a message over 64 KiB closes the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::faults::Fault;
use super::http_service::next_tcp;
use super::{State, random_id};
use crate::b64;
use crate::message::UaPublicKey;

/// WebSocket connections served at once; more are closed as soon as accepted.
const MAX_CONNECTIONS: usize = 64;
/// Time allowed for the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest client message; Firefox's are a few hundred octets.
const MAX_MESSAGE: usize = 64 * 1024;
/// Channels (browser subscriptions) the service keeps, over all browsers.
const MAX_CHANNELS: usize = 10_000;
/// Messages held per channel; older ones are dropped first.
const MAX_HELD: usize = 1_000;
/// Acknowledgement codes kept per channel; older ones are dropped first.
const MAX_ACKS: usize = 10_000;
/// Messages queued for one connection; more wait for the next `hello`.
const OUTBOX: usize = 256;
/// The WebSocket subprotocol Firefox asks for.
const SUBPROTOCOL: &str = "push-notification";

/// The channels browsers registered and the browsers connected now.
#[derive(Default)]
pub(super) struct Browsers {
    /// Channels by the id in their push endpoint's path.
    channels: HashMap<String, Channel>,
    /// Connected browsers by UAID.
    connections: HashMap<String, Connection>,
    /// Every UAID handed out.
    uaids: std::collections::HashSet<String>,
    /// Connection ids, to tell a replaced connection from its successor.
    next_connection: u64,
}

/// One browser subscription (a `register`).
struct Channel {
    uaid: String,
    channel_id: String,
    vapid_key: Option<[u8; 65]>,
    unregistered: bool,
    fault: Option<Fault>,
    held: VecDeque<Held>,
    acks: VecDeque<u16>,
}

/// A message waiting for the browser's `ack`.
struct Held {
    version: String,
    expires: Instant,
    text: String,
}

/// Where a connected browser's messages go.
struct Connection {
    id: u64,
    outbox: mpsc::Sender<String>,
}

/// What the HTTPS endpoint needs of a browser channel.
pub(super) enum ChannelTarget {
    /// Pushes are validated and relayed; VAPID must use this key (when the
    /// browser gave one).
    Active {
        vapid_key: Option<[u8; 65]>,
        fault: Option<Fault>,
    },
    /// The browser unsubscribed: `410 Gone`.
    Unregistered,
}

/// An accepted push, ready to relay.
pub(super) struct Relay<'a> {
    pub(super) ttl: u32,
    pub(super) body: &'a [u8],
    /// `(name, value)` pairs for the `headers` object (e.g. `encoding`).
    pub(super) headers: Vec<(&'static str, String)>,
}

impl Browsers {
    /// The channel whose endpoint path ends in `id`.
    pub(super) fn target(&self, id: &str) -> Option<ChannelTarget> {
        self.channels.get(id).map(|c| {
            if c.unregistered {
                ChannelTarget::Unregistered
            } else {
                ChannelTarget::Active {
                    vapid_key: c.vapid_key,
                    fault: c.fault.clone(),
                }
            }
        })
    }

    /// Sets or clears the fault of a channel; `false` when there is none.
    pub(super) fn set_fault(&mut self, id: &str, fault: Option<Fault>) -> bool {
        self.channels.get_mut(id).is_some_and(|c| {
            c.fault = fault;
            true
        })
    }

    /// The `ack` and `nack` codes the browser sent for a channel, oldest first.
    pub(super) fn acks(&self, id: &str) -> Vec<u16> {
        self.channels
            .get(id)
            .map(|c| c.acks.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Messages of a channel not yet acknowledged and not expired.
    pub(super) fn held(&mut self, id: &str) -> usize {
        let now = Instant::now();
        self.channels.get_mut(id).map_or(0, |c| {
            c.held.retain(|h| h.expires > now);
            c.held.len()
        })
    }

    /// Whether a browser is connected (has said `hello`) now.
    /// Drops the held message `version` (its push was cancelled, RFC 8030
    /// Section 6.2), wherever it is held.
    pub(super) fn forget(&mut self, version: &str) {
        for channel in self.channels.values_mut() {
            channel.held.retain(|h| h.version != version);
        }
    }

    pub(super) fn connected(&self) -> bool {
        !self.connections.is_empty()
    }

    /// Holds the message of an accepted push for channel `id` and sends it
    /// to the browser when connected. `false` when the channel is gone.
    pub(super) fn relay(&mut self, id: &str, version: &str, relay: &Relay<'_>) -> bool {
        let Some(channel) = self.channels.get_mut(id) else {
            return false;
        };
        if channel.unregistered {
            return false;
        }
        let mut message = json!({
            "messageType": "notification",
            "channelID": channel.channel_id,
            "version": version,
            "ttl": relay.ttl,
        });
        if !relay.body.is_empty() {
            message["data"] = b64::encode(relay.body).into();
            let headers: serde_json::Map<String, serde_json::Value> = relay
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone().into()))
                .collect();
            message["headers"] = headers.into();
        }
        let text = message.to_string();
        let sent = self
            .connections
            .get(&channel.uaid)
            .is_some_and(|c| c.outbox.try_send(text.clone()).is_ok());
        if relay.ttl == 0 && !sent {
            return true; // "Deliver now or drop" (RFC 8030, section 5.2).
        }
        let now = Instant::now();
        channel.held.retain(|h| h.expires > now);
        if channel.held.len() >= MAX_HELD {
            channel.held.pop_front();
        }
        channel.held.push_back(Held {
            version: version.to_owned(),
            expires: now + Duration::from_secs(relay.ttl.max(1).into()),
            text,
        });
        true
    }
}

/// Accepts WebSocket connections until `stop` fires.
pub(super) async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    while let Some(tcp) = next_tcp(&listener, &mut stop).await {
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue; // Too many connections: close this one.
        };
        let mut stop = stop.clone();
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.changed() => {}
                () = connection(tcp, state, permit) => {}
            }
        });
    }
}

/// Echoes the `push-notification` subprotocol when the client asks for it,
/// as autopush does. Firefox asks for it (and, as tried with Firefox ESR 153,
/// also connects when the answer leaves it out).
// The signature is tungstenite's `Callback`; its error type is its own.
#[allow(clippy::result_large_err)]
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let asked = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL));
    if asked {
        response.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    Ok(response)
}

/// One browser's connection: the handshake, then messages both ways.
async fn connection(tcp: TcpStream, state: Arc<State>, _permit: OwnedSemaphorePermit) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(tcp, choose_subprotocol, Some(config));
    let Ok(Ok(ws)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (outbox, mut inbox) = mpsc::channel::<String>(OUTBOX);
    let mut session = Session::default();
    loop {
        tokio::select! {
            queued = inbox.recv() => {
                let Some(text) = queued else { break };
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => continue, // Binary, ping, pong: nothing to answer here.
                };
                let replies = session.on_message(&state, &outbox, text.as_str());
                for reply in replies {
                    if sink.send(Message::text(reply)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    session.close(&state);
}

/// What one connection has said so far.
#[derive(Default)]
struct Session {
    /// The UAID and connection id, once `hello` is answered.
    hello: Option<(String, u64)>,
}

/// A client message, by `messageType`.
#[derive(Deserialize)]
#[serde(tag = "messageType", rename_all = "snake_case")]
enum ClientMessage {
    Hello {
        #[serde(default)]
        uaid: Option<String>,
    },
    Register {
        #[serde(rename = "channelID")]
        channel_id: String,
        #[serde(default)]
        key: Option<String>,
    },
    Unregister {
        #[serde(rename = "channelID")]
        channel_id: String,
    },
    Ack {
        #[serde(default)]
        updates: Vec<AckUpdate>,
    },
    Nack {
        version: String,
        #[serde(default)]
        code: Option<u16>,
    },
}

#[derive(Deserialize)]
struct AckUpdate {
    #[serde(rename = "channelID")]
    channel_id: String,
    version: String,
    #[serde(default)]
    code: Option<u16>,
}

impl Session {
    /// The replies to one client message (possibly none).
    fn on_message(
        &mut self,
        state: &State,
        outbox: &mpsc::Sender<String>,
        text: &str,
    ) -> Vec<String> {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Vec::new();
        };
        let Some(object) = value.as_object() else {
            return Vec::new();
        };
        match object.get("messageType") {
            None => return vec!["{}".to_owned()],
            Some(t) if t == "ping" => return vec!["{}".to_owned()],
            Some(_) => {}
        }
        let Ok(message) = serde_json::from_value::<ClientMessage>(value) else {
            return Vec::new(); // Broadcasts and unknown types: nothing to do.
        };
        match message {
            ClientMessage::Hello { uaid } => self.hello(state, outbox, uaid),
            _ if self.hello.is_none() => Vec::new(),
            ClientMessage::Register { channel_id, key } => {
                vec![self.register(state, &channel_id, key.as_deref())]
            }
            ClientMessage::Unregister { channel_id } => vec![self.unregister(state, &channel_id)],
            ClientMessage::Ack { updates } => {
                let mut browsers = state.browsers();
                for update in updates {
                    if let Some(c) = self.channel_mut(&mut browsers, &update.channel_id) {
                        ack(c, &update.version, update.code.unwrap_or(100));
                    }
                }
                Vec::new()
            }
            ClientMessage::Nack { version, code } => {
                let uaid = self.uaid();
                let mut browsers = state.browsers();
                if let Some(c) = browsers
                    .channels
                    .values_mut()
                    .find(|c| c.uaid == uaid && c.held.iter().any(|h| h.version == version))
                {
                    ack(c, &version, code.unwrap_or(0));
                }
                Vec::new()
            }
        }
    }

    fn uaid(&self) -> &str {
        self.hello.as_ref().map_or("", |(uaid, _)| uaid)
    }

    fn channel_mut<'a>(
        &self,
        browsers: &'a mut Browsers,
        channel_id: &str,
    ) -> Option<&'a mut Channel> {
        let uaid = self.uaid();
        browsers
            .channels
            .values_mut()
            .find(|c| c.uaid == uaid && c.channel_id.eq_ignore_ascii_case(channel_id))
    }

    /// `hello`: keeps a UAID this service issued, else issues one; replays
    /// the held messages.
    fn hello(
        &mut self,
        state: &State,
        outbox: &mpsc::Sender<String>,
        uaid: Option<String>,
    ) -> Vec<String> {
        if self.hello.is_some() {
            return Vec::new(); // One hello per connection.
        }
        let mut browsers = state.browsers();
        let uaid = match uaid {
            Some(u) if browsers.uaids.contains(&u) => u,
            _ => {
                let Ok(fresh) = random_id() else {
                    return Vec::new();
                };
                browsers.uaids.insert(fresh.clone());
                fresh
            }
        };
        browsers.next_connection += 1;
        let id = browsers.next_connection;
        // A second connection of the same browser replaces the first.
        browsers.connections.insert(
            uaid.clone(),
            Connection {
                id,
                outbox: outbox.clone(),
            },
        );
        state.hellos.fetch_add(1, Ordering::Relaxed);
        let mut replies = vec![
            json!({
                "messageType": "hello",
                "status": 200,
                "uaid": uaid,
                "use_webpush": true,
                "broadcasts": {},
            })
            .to_string(),
        ];
        let now = Instant::now();
        for channel in browsers.channels.values_mut().filter(|c| c.uaid == uaid) {
            channel.held.retain(|h| h.expires > now);
            replies.extend(channel.held.iter().map(|h| h.text.clone()));
        }
        self.hello = Some((uaid, id));
        replies
    }

    /// `register`: a new channel and its push endpoint.
    fn register(&self, state: &State, channel_id: &str, key: Option<&str>) -> String {
        let refuse = |status: u16| {
            json!({"messageType": "register", "channelID": channel_id, "status": status})
                .to_string()
        };
        let valid_id = !channel_id.is_empty()
            && channel_id.len() <= 64
            && channel_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid_id {
            return refuse(400);
        }
        // Firefox pads the key's base64url; ours is unpadded.
        let vapid_key = match key.map(|k| UaPublicKey::from_base64(k.trim_end_matches('='))) {
            None => None,
            Some(Ok(k)) => Some(*k.as_bytes()),
            Some(Err(_)) => return refuse(400),
        };
        let Ok(id) = random_id() else {
            return refuse(500);
        };
        let mut browsers = state.browsers();
        if browsers.channels.len() >= MAX_CHANNELS {
            return refuse(503);
        }
        let endpoint = format!("{}/push/{id}", state.origin);
        browsers.channels.insert(
            id,
            Channel {
                uaid: self.uaid().to_owned(),
                channel_id: channel_id.to_owned(),
                vapid_key,
                unregistered: false,
                fault: None,
                held: VecDeque::new(),
                acks: VecDeque::new(),
            },
        );
        json!({
            "messageType": "register",
            "channelID": channel_id,
            "status": 200,
            "pushEndpoint": endpoint,
        })
        .to_string()
    }

    /// `unregister`: later pushes to the channel get `410 Gone`.
    fn unregister(&self, state: &State, channel_id: &str) -> String {
        let mut browsers = state.browsers();
        let status = match self.channel_mut(&mut browsers, channel_id) {
            Some(c) => {
                c.unregistered = true;
                c.held.clear();
                200
            }
            None => 404,
        };
        json!({"messageType": "unregister", "channelID": channel_id, "status": status}).to_string()
    }

    /// The connection ended: the browser is no longer reachable (its held
    /// messages wait for the next `hello`).
    fn close(&self, state: &State) {
        if let Some((uaid, id)) = &self.hello {
            let mut browsers = state.browsers();
            if browsers.connections.get(uaid).is_some_and(|c| c.id == *id) {
                browsers.connections.remove(uaid);
            }
        }
    }
}

/// Records an `ack` or `nack` and stops holding the message.
fn ack(channel: &mut Channel, version: &str, code: u16) {
    let before = channel.held.len();
    channel.held.retain(|h| h.version != version);
    if channel.held.len() == before {
        return; // Not ours, or acknowledged already.
    }
    if channel.acks.len() >= MAX_ACKS {
        channel.acks.pop_front();
    }
    channel.acks.push_back(code);
}

#[cfg(test)]
#[path = "websocket_tests.rs"]
mod tests;
