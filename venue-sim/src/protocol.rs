//! The seam between the simulator's server (TLS, HTTP, WebSocket, faults) and a venue's wire
//! protocol (each of the seven venue folders implements it): [`Protocol`], and the request/response/session types it uses.
//!
//! The server owns sockets and threads; a protocol owns paths, JSON shapes, signing rules,
//! error codes and stream semantics. One connection thread calls one protocol.

use crate::faults::Faults;
use crate::market::Market;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// A parsed HTTP/1.1 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: String,
    /// Path without the query, e.g. `/api/v3/order`.
    pub path: String,
    /// Raw query string without `?` (still percent-encoded; signatures cover it as sent).
    pub query: String,
    /// Headers with lower-cased names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Client address.
    pub peer: SocketAddr,
}

impl HttpRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Extra headers (the server adds `Content-Length`, `Content-Type` if absent, `Connection`).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json;charset=UTF-8".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A message received on a WebSocket session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIncoming {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The client closed the connection.
    Closed,
}

/// One WebSocket connection as a protocol sees it. Pings from the client are answered by the
/// server; the protocol decides its own application-level heartbeats.
pub trait WsSession {
    /// Sends a text frame.
    fn send_text(&mut self, text: &str) -> std::io::Result<()>;
    /// Sends raw bytes as a text frame *without* UTF-8/JSON checks (fault injection: malformed or
    /// truncated frames).
    fn send_raw_text(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Sends a WebSocket ping with `payload`.
    fn send_ping(&mut self, payload: &[u8]) -> std::io::Result<()>;
    /// Waits up to `timeout` for a client message; `Ok(None)` on timeout.
    fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<WsIncoming>>;
    /// Closes the connection (with a close frame when `graceful`, else by dropping the socket).
    fn close(&mut self, graceful: bool);
}

/// What every protocol handler can reach.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The exchange state.
    pub market: Arc<Market>,
    /// Injected faults.
    pub faults: Arc<Faults>,
    /// Set when the simulator shuts down; sessions must return soon after.
    pub stop: Arc<AtomicBool>,
}

/// A venue's wire protocol.
pub trait Protocol: Send + Sync + std::fmt::Debug + 'static {
    /// Lower-case venue name (`binance`, `bybit`).
    fn name(&self) -> &'static str;

    /// Whether a GET to `path` asking for a WebSocket upgrade is one of this venue's streams.
    fn is_ws_path(&self, path: &str) -> bool;

    /// Answers one REST request (never panics on a bad request: the venue's error shape).
    fn handle_http(&self, ctx: &Ctx, req: &HttpRequest) -> HttpResponse;

    /// Called on the connection's thread as soon as a request's head is parsed (before its
    /// body is read): the bench probe's timestamp of an order's arrival
    /// ([`crate::bench_probe`]). Nothing by default.
    fn on_request_head(&self, _method: &str, _path: &str) {}

    /// Runs one WebSocket session until the client leaves, a fault drops it, or `ctx.stop`.
    /// `path` and `query` are from the upgrade request.
    fn run_ws(&self, ctx: &Ctx, path: &str, query: &str, ws: &mut dyn WsSession);
}
