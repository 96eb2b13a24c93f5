//! The user data stream of one account: its listen key (`POST`/`PUT`/`DELETE
//! /api/v3/userDataStream`, API key only) and the WebSocket `<ws_url>/ws/<listenKey>` that
//! carries `executionReport`s.
//!
//! Threads: [`connect`] runs on the caller of [`crate::binance::spawn`] (so the stream is open
//! before the gateway takes orders); [`UserStream::run`] then owns the connection on its own
//! thread `qt-gw-binance-us<N>`, reading with a short socket timeout ([`READ_POLL`]) so it sees
//! the stop flag promptly, and forwards every text frame, connect and drop to the gateway thread
//! over an unbounded crossbeam channel (it never blocks on the gateway and never drops a frame).
//! It answers the server's pings (tungstenite queues the pong; the loop flushes it), keeps the
//! listen key alive every [`KEEPALIVE_EVERY`], reconnects with exponential backoff
//! ([`BACKOFF_MIN`]..[`BACKOFF_MAX`]) after a drop or a `listenKeyExpired` event — asking for
//! the key again first, which returns the live key or a new one if it expired — and on stop
//! closes the socket and deletes the listen key. Allocates per frame (the text it forwards).

use crate::binance::errors::{CODE_INVALID_LISTEN_KEY, GatewayError};
use crate::binance::https::{Endpoint, HttpsClient, TlsStream, connect_tls, is_timeout};
use crossbeam_channel::Sender;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// Socket read timeout of an open stream: the longest the thread goes without looking at the
/// stop flag and its timers.
pub(crate) const READ_POLL: Duration = Duration::from_millis(50);
/// Listen key keepalive interval (Binance: keys live 60 minutes; "ping it every 30 minutes").
pub(crate) const KEEPALIVE_EVERY: Duration = Duration::from_secs(30 * 60);
/// First reconnect delay.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest reconnect delay.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Largest message accepted from the server.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The open WebSocket.
pub(crate) type Ws = WebSocket<TlsStream>;

/// What a stream thread tells the gateway thread.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    /// The stream is (re)connected; `reconnect` is false only for the first connection.
    Connected {
        /// Whether this follows a drop (events may have been missed).
        reconnect: bool,
    },
    /// One text frame, as received.
    Frame(String),
    /// The connection dropped; events until the next `Connected` are missed.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// One event and the index (in the gateway's account table) of the account it is about.
#[derive(Debug)]
pub(crate) struct StreamMsg {
    /// Account index.
    pub(crate) account: usize,
    /// What happened.
    pub(crate) event: StreamEvent,
}

/// How a listen key request failed.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// No answer.
    Transport(String),
    /// The venue refused it.
    Venue {
        /// HTTP status.
        status: u16,
        /// Binance code.
        code: i64,
        /// Message.
        msg: String,
    },
    /// The answer had no listen key.
    BadAnswer(String),
}

impl KeyError {
    pub(crate) fn into_gateway_error(self, method: &'static str, url: String) -> GatewayError {
        match self {
            KeyError::Transport(reason) => GatewayError::Connect { url, reason },
            KeyError::Venue { status, code, msg } => GatewayError::Venue { method, url, status, code, msg },
            KeyError::BadAnswer(body) => GatewayError::BadAnswer { method, url, body },
        }
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Transport(r) => write!(f, "{r}"),
            KeyError::Venue { status, code, msg } => write!(f, "HTTP {status}, code {code}, msg {msg:?}"),
            KeyError::BadAnswer(b) => write!(f, "unexpected answer {b:?}"),
        }
    }
}

/// Binance's error body.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiError {
    /// Error code.
    pub(crate) code: i64,
    /// Message.
    pub(crate) msg: String,
}

/// The `(code, msg)` of an error body; `(0, body excerpt)` if it is not Binance's shape.
pub(crate) fn api_error(body: &[u8]) -> (i64, String) {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => (e.code, e.msg),
        Err(_) => {
            let end = body.len().min(200);
            (0, String::from_utf8_lossy(&body[..end]).into_owned())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListenKeyAnswer {
    #[serde(rename = "listenKey")]
    listen_key: String,
}

/// The user-data-stream path.
pub(crate) const USER_DATA_STREAM: &str = "/api/v3/userDataStream";

/// `method /api/v3/userDataStream` with the API key; for PUT/DELETE the listen key as a parameter.
pub(crate) fn listen_key_request(
    http: &mut HttpsClient,
    method: &str,
    api_key: &str,
    key: Option<&str>,
) -> Result<Option<String>, KeyError> {
    let query = key.map(|k| format!("listenKey={k}")).unwrap_or_default();
    let resp = http
        .request(method, USER_DATA_STREAM, &query, &[("X-MBX-APIKEY", api_key)])
        .map_err(|e| KeyError::Transport(e.to_string()))?;
    if resp.status != 200 {
        let (code, msg) = api_error(&resp.body);
        return Err(KeyError::Venue { status: resp.status, code, msg });
    }
    if method != "POST" {
        return Ok(None);
    }
    match serde_json::from_slice::<ListenKeyAnswer>(&resp.body) {
        Ok(a) if !a.listen_key.is_empty() && a.listen_key.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Ok(Some(a.listen_key))
        }
        _ => Err(KeyError::BadAnswer(resp.body_excerpt())),
    }
}

/// Where the stream lives and how to reach it.
#[derive(Clone)]
pub(crate) struct WsTarget {
    /// The WebSocket endpoint.
    pub(crate) endpoint: Endpoint,
    /// TLS name to verify.
    pub(crate) name: ServerName<'static>,
    /// TLS configuration.
    pub(crate) tls: Arc<ClientConfig>,
    /// Connect/handshake timeout.
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for WsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTarget").field("url", &self.endpoint.url).finish_non_exhaustive()
    }
}

impl WsTarget {
    /// The stream URL of `listen_key`, for messages (the key is secret-ish: only its start).
    pub(crate) fn describe(&self, listen_key: &str) -> String {
        let shown: String = listen_key.chars().take(8).collect();
        format!("{}/ws/{shown}…", self.endpoint.url)
    }
}

/// Opens `<ws_url>/ws/<listen_key>`: TCP, TLS, WebSocket upgrade; then sets the short read
/// timeout the stream thread polls with.
pub(crate) fn connect(target: &WsTarget, listen_key: &str) -> Result<Ws, String> {
    let e = &target.endpoint;
    let stream = connect_tls(e, &target.name, &target.tls, target.timeout).map_err(|err| err.to_string())?;
    let host = if e.host.contains(':') { format!("[{}]", e.host) } else { e.host.clone() };
    let url = format!("wss://{host}:{}{}/ws/{listen_key}", e.port, e.prefix);
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let deadline = Instant::now() + target.timeout;
    let mut attempt = tungstenite::client::client_with_config(url.as_str(), stream, Some(config));
    let mut ws = loop {
        match attempt {
            Ok((ws, _)) => break ws,
            Err(HandshakeError::Interrupted(mid)) => {
                if Instant::now() > deadline {
                    return Err("WebSocket upgrade timed out".into());
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(err)) => return Err(format!("WebSocket upgrade: {err}")),
        }
    };
    ws.get_mut().sock.set_read_timeout(Some(READ_POLL)).map_err(|err| err.to_string())?;
    Ok(ws)
}

#[derive(Debug, Deserialize)]
struct EventProbe {
    #[serde(default)]
    e: Option<String>,
}

/// Whether a frame is Binance's `listenKeyExpired` event.
fn is_listen_key_expired(text: &str) -> bool {
    text.contains("listenKeyExpired")
        && serde_json::from_str::<EventProbe>(text).is_ok_and(|p| p.e.as_deref() == Some("listenKeyExpired"))
}

/// One account's stream, run on its own thread.
pub(crate) struct UserStream {
    /// Index of the account in the gateway's table.
    pub(crate) account: usize,
    /// API key (for the listen key endpoints).
    pub(crate) api_key: String,
    /// REST client for the listen key endpoints.
    pub(crate) rest: HttpsClient,
    /// Where the stream is.
    pub(crate) target: WsTarget,
    /// The current listen key.
    pub(crate) listen_key: String,
    /// The open connection, if any.
    pub(crate) ws: Option<Ws>,
}

impl std::fmt::Debug for UserStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStream")
            .field("account", &self.account)
            .field("target", &self.target)
            .field("connected", &self.ws.is_some())
            .finish_non_exhaustive()
    }
}

impl UserStream {
    fn send(&self, tx: &Sender<StreamMsg>, event: StreamEvent) -> bool {
        tx.send(StreamMsg { account: self.account, event }).is_ok()
    }

    #[cold]
    fn drop_connection(&mut self, tx: &Sender<StreamMsg>, reason: String) -> bool {
        log::warn!("binance user stream {}: {reason}; reconnecting", self.target.describe(&self.listen_key));
        self.ws = None;
        self.send(tx, StreamEvent::Disconnected { reason })
    }

    /// Asks for the listen key (the live one, or a new one if it expired) and reconnects.
    #[cold]
    fn reconnect(&mut self) -> Result<(), String> {
        match listen_key_request(&mut self.rest, "POST", &self.api_key, None) {
            Ok(Some(key)) => self.listen_key = key,
            Ok(None) => return Err("no listen key in the answer".into()),
            Err(e) => return Err(format!("creating the listen key: {e}")),
        }
        self.ws = Some(connect(&self.target, &self.listen_key)?);
        Ok(())
    }

    /// The thread body: read, forward, keep alive, reconnect, until `stop`; then close and
    /// delete the listen key.
    pub(crate) fn run(mut self, stop: Arc<AtomicBool>, tx: Sender<StreamMsg>) {
        let mut next_keepalive = Instant::now() + KEEPALIVE_EVERY;
        let mut backoff = BACKOFF_MIN;
        let mut next_attempt = Instant::now();
        if self.ws.is_some() && !self.send(&tx, StreamEvent::Connected { reconnect: false }) {
            return self.finish();
        }
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next_keepalive {
                next_keepalive = now + KEEPALIVE_EVERY;
                match listen_key_request(&mut self.rest, "PUT", &self.api_key, Some(&self.listen_key)) {
                    Ok(_) => {}
                    Err(KeyError::Venue { code: CODE_INVALID_LISTEN_KEY, .. }) => {
                        if self.ws.is_some()
                            && !self.drop_connection(&tx, "listen key expired (keepalive refused)".into())
                        {
                            break;
                        }
                    }
                    Err(e) => log::warn!("binance user stream: listen key keepalive failed: {e}"),
                }
            }
            let Some(ws) = self.ws.as_mut() else {
                if now < next_attempt {
                    std::thread::sleep((next_attempt - now).min(READ_POLL));
                    continue;
                }
                match self.reconnect() {
                    Ok(()) => {
                        backoff = BACKOFF_MIN;
                        log::info!("binance user stream {}: reconnected", self.target.describe(&self.listen_key));
                        if !self.send(&tx, StreamEvent::Connected { reconnect: true }) {
                            break;
                        }
                    }
                    Err(e) => {
                        log::warn!("binance user stream {}: reconnect failed: {e}", self.target.endpoint.url);
                        next_attempt = Instant::now() + backoff;
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
                continue;
            };
            let outcome = match ws.read() {
                Ok(Message::Text(text)) => {
                    let text = text.as_str();
                    if is_listen_key_expired(text) {
                        Err("listenKeyExpired".to_string())
                    } else if self.send(&tx, StreamEvent::Frame(text.to_string())) {
                        Ok(())
                    } else {
                        break;
                    }
                }
                Ok(Message::Binary(_) | Message::Pong(_) | Message::Frame(_)) => Ok(()),
                // The pong is queued by tungstenite; send it now.
                Ok(Message::Ping(_)) => match ws.flush() {
                    Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(()),
                    Err(e) => Err(format!("answering a ping: {e}")),
                    Ok(()) => Ok(()),
                },
                Ok(Message::Close(frame)) => Err(format!("closed by the server ({frame:?})")),
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => match ws.flush() {
                    Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(()),
                    Err(e) => Err(format!("flushing: {e}")),
                    Ok(()) => Ok(()),
                },
                Err(e) => Err(e.to_string()),
            };
            if let Err(reason) = outcome {
                if !self.drop_connection(&tx, reason) {
                    break;
                }
                next_attempt = Instant::now() + backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
        self.finish();
    }

    /// Closes the socket (best effort) and deletes the listen key.
    fn finish(mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        if let Err(e) = listen_key_request(&mut self.rest, "DELETE", &self.api_key, Some(&self.listen_key)) {
            log::debug!("binance user stream: deleting the listen key: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_listen_key_expiry_and_error_bodies() {
        assert!(is_listen_key_expired(r#"{"e":"listenKeyExpired","E":"1699596037418","listenKey":"abc"}"#));
        assert!(!is_listen_key_expired(r#"{"e":"executionReport","c":"listenKeyExpired"}"#));
        assert!(!is_listen_key_expired("{not json listenKeyExpired"));
        assert_eq!(api_error(br#"{"code":-1125,"msg":"This listenKey does not exist."}"#).0, -1125);
        assert_eq!(api_error(b"<html>bad gateway</html>"), (0, "<html>bad gateway</html>".to_string()));
    }
}
