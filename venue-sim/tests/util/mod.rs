//! The test client every `qt-venue-sim` integration test uses: HTTPS requests and WebSocket
//! sessions against a running simulator, over real TLS on real loopback sockets, trusting the
//! CA file the simulator wrote. Plus [`start_sim`], which starts a simulator on 127.0.0.1 with
//! a small two-symbol market and one account.
//!
//! Runs on the test's thread and blocks; every read has a timeout, so a test that waits on a
//! silent server fails instead of hanging. Transport failures panic with context in the plain
//! helpers (`get`, `post`, `ws_connect`, ...) and are returned by the `try_*` forms, which tests
//! of outages and refusals use.
//!
//! The WebSocket client does its own upgrade request and then reads frames with tungstenite's
//! [`FrameSocket`], so it hands back exactly what the server put in a frame — text frames with
//! invalid JSON or invalid UTF-8 included — and sees a close frame and an EOF as distinct.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each integration-test binary uses a different part of this shared module"
)]

use qt_core::{InstrumentKind, Venue};
use qt_test_support::market::two_symbols;
use qt_venue_sim::market::Market;
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::{ConnectionLimits, RunningServer};
use rustls::{ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameSocket};

pub use qt_test_support::market::{API_KEY, API_SECRET};

/// Default time a request or handshake may take before the helper gives up.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A TLS connection to the simulator.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// `(status, headers with lower-cased names, body)`.
pub type Reply = (u16, Vec<(String, String)>, String);

/// The first header `name` (case-insensitive) of a reply's headers.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `body` as JSON; panics with the body when it is not.
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The market every integration test starts from: BTCUSDT (tick 0.01, lot 0.00001, min qty
/// 0.00001, min notional 5, mid 65000) and ETHUSDT (tick 0.01, lot 0.0001, min notional 5, mid
/// 3200), background flow at about 2000 events/s each, one account `test-key`/`test-secret`
/// holding 1,000,000 USDT, 10 BTC and 100 ETH.
pub fn test_market() -> Arc<Market> {
    two_symbols(Venue::Sim, InstrumentKind::Spot, 2000.0, 2000.0)
        .account(API_KEY, API_SECRET, &[("USDT", "1000000"), ("BTC", "10"), ("ETH", "100")])
        .build()
}

/// Starts a simulator with [`test_market`], one listener per protocol on 127.0.0.1 (ephemeral
/// ports), and the CA written to a fresh path.
pub fn start_sim(protocols: Vec<Arc<dyn Protocol>>) -> RunningServer {
    start_sim_with(test_market(), protocols)
}

/// [`start_sim`] with a market of the test's own.
pub fn start_sim_with(market: Arc<Market>, protocols: Vec<Arc<dyn Protocol>>) -> RunningServer {
    qt_test_support::sim::start_sim_serving(market, protocols)
}

/// [`start_sim`] with connection limits of the test's own.
pub fn start_sim_limited(protocols: Vec<Arc<dyn Protocol>>, limits: ConnectionLimits) -> RunningServer {
    qt_test_support::sim::start_sim_limited(test_market(), protocols, limits)
}

/// This process's soft limit on open files, from `/proc/self/limits` (`None` where that file
/// does not exist or says "unlimited").
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// Opens a TLS connection to `addr` (server name `localhost`) and completes the handshake.
pub fn tls_connect(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, timeout: Duration) -> io::Result<TlsStream> {
    let sock = TcpStream::connect_timeout(&addr, timeout)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(timeout))?;
    sock.set_write_timeout(Some(timeout))?;
    let name = ServerName::try_from("localhost").map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let conn = ClientConnection::new(tls.clone(), name).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        let (rd, wr) = stream.conn.complete_io(&mut stream.sock)?;
        if rd == 0 && wr == 0 && stream.conn.is_handshaking() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed during the TLS handshake"));
        }
    }
    Ok(stream)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// An HTTPS client for one simulator listener. Requests reuse one keep-alive connection while
/// the server keeps it open.
#[derive(Debug)]
pub struct TestClient {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    conn: Option<TlsStream>,
    /// Bytes read past the last response (none in practice: one request in flight at a time).
    pending: Vec<u8>,
    connections_opened: u64,
    timeout: Duration,
}

impl TestClient {
    /// A client of `addr` trusting the CA in `ca_file`.
    pub fn new(addr: SocketAddr, ca_file: &Path) -> Self {
        let tls = qt_venue_sim::tls::client_config_from_ca_file(ca_file).expect("CA file loads");
        Self { addr, tls, conn: None, pending: Vec::new(), connections_opened: 0, timeout: IO_TIMEOUT }
    }

    /// A client of the listener of protocol `name` of `server`.
    pub fn of(server: &RunningServer, name: &str) -> Self {
        let addr = server.addr_of(name).unwrap_or_else(|| panic!("no listener for protocol {name}"));
        Self::new(addr, &server.ca_file)
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client TLS configuration (trusting the simulator's CA).
    pub fn tls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.tls
    }

    /// How many TCP+TLS connections this client has opened.
    pub fn connections_opened(&self) -> u64 {
        self.connections_opened
    }

    /// Drops the keep-alive connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        self.conn = None;
        self.pending.clear();
    }

    /// `GET`; panics on a transport failure.
    pub fn get(&mut self, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path_and_query, headers, b"")
    }

    /// `POST`; panics on a transport failure.
    pub fn post(&mut self, path_and_query: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.request("POST", path_and_query, headers, body.as_bytes())
    }

    /// `PUT`; panics on a transport failure.
    pub fn put(&mut self, path_and_query: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.request("PUT", path_and_query, headers, body.as_bytes())
    }

    /// `DELETE`; panics on a transport failure.
    pub fn delete(&mut self, path_and_query: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.request("DELETE", path_and_query, headers, body.as_bytes())
    }

    /// Any method; panics on a transport failure.
    pub fn request(&mut self, method: &str, path_and_query: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.try_request(method, path_and_query, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path_and_query} to {}: {e}", self.addr))
    }

    /// `GET`, returning transport failures.
    pub fn try_get(&mut self, path_and_query: &str, headers: &[(&str, &str)]) -> io::Result<Reply> {
        self.try_request("GET", path_and_query, headers, b"")
    }

    /// One request. A request on a reused connection that the server had already closed (no
    /// byte of a response arrived) is retried once on a new connection; nothing else is retried.
    pub fn try_request(
        &mut self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Reply> {
        let mut raw = format!("{method} {path_and_query} HTTP/1.1\r\nHost: localhost:{}\r\n", self.addr.port());
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        if !has("content-length") && (!body.is_empty() || matches!(method, "POST" | "PUT" | "DELETE")) {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if !has("content-type") && !body.is_empty() {
            raw.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes)
    }

    /// Writes `bytes` as they are (a whole request, well-formed or not) and reads one response.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<Reply> {
        let reused = self.conn.is_some();
        match self.exchange(bytes) {
            Err(Exchange::NothingBack(_)) if reused => {
                self.disconnect();
                self.exchange(bytes).map_err(Exchange::into_io)
            }
            other => other.map_err(Exchange::into_io),
        }
    }

    fn exchange(&mut self, bytes: &[u8]) -> Result<Reply, Exchange> {
        if self.conn.is_none() {
            let conn = tls_connect(self.addr, &self.tls, self.timeout).map_err(Exchange::Failed)?;
            self.connections_opened += 1;
            self.conn = Some(conn);
            self.pending.clear();
        }
        let timeout = self.timeout;
        let Some(conn) = self.conn.as_mut() else { return Err(Exchange::Failed(io::ErrorKind::NotConnected.into())) };
        if let Err(e) = conn.write_all(bytes).and_then(|()| conn.flush()) {
            self.disconnect();
            return Err(Exchange::NothingBack(e));
        }
        let result = read_response(conn, &mut self.pending, timeout);
        match &result {
            Ok((_, headers, _)) if header(headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) => {
                self.disconnect()
            }
            Ok(_) => {}
            Err(_) => self.disconnect(),
        }
        result
    }
}

enum Exchange {
    /// The connection failed before any byte of a response arrived.
    NothingBack(io::Error),
    /// Anything else.
    Failed(io::Error),
}

impl Exchange {
    fn into_io(self) -> io::Error {
        match self {
            Exchange::NothingBack(e) | Exchange::Failed(e) => e,
        }
    }
}

/// Reads one HTTP/1.1 response (`Content-Length` body, or up to EOF without one).
fn read_response(conn: &mut TlsStream, buf: &mut Vec<u8>, timeout: Duration) -> Result<Reply, Exchange> {
    let deadline = Instant::now() + timeout;
    let mut chunk = [0u8; 16 * 1024];
    let mut read_more = |conn: &mut TlsStream, buf: &mut Vec<u8>| -> io::Result<usize> {
        loop {
            match conn.read(&mut chunk) {
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if is_timeout(&e) && Instant::now() < deadline => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    };
    let head_end = loop {
        if let Some(end) = find_head_end(buf) {
            break end;
        }
        match read_more(conn, buf) {
            Ok(0) if buf.is_empty() => {
                return Err(Exchange::NothingBack(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")));
            }
            Ok(0) => return Err(Exchange::Failed(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF inside headers"))),
            Ok(_) => {}
            Err(e) if buf.is_empty() && !is_timeout(&e) => return Err(Exchange::NothingBack(e)),
            Err(e) => return Err(Exchange::Failed(e)),
        }
    };
    let bad = |m: String| Exchange::Failed(io::Error::new(io::ErrorKind::InvalidData, m));
    let mut header_buf = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut header_buf);
    match resp.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("partial response head".into())),
        Err(e) => return Err(bad(format!("bad response head: {e}"))),
    }
    let status = resp.code.unwrap_or(0);
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    let content_length = match header(&headers, "content-length") {
        Some(v) => Some(v.trim().parse::<usize>().map_err(|_| bad(format!("bad Content-Length {v:?}")))?),
        None => None,
    };
    buf.drain(..head_end);
    match content_length {
        Some(n) => {
            while buf.len() < n {
                match read_more(conn, buf) {
                    Ok(0) => return Err(bad(format!("EOF after {} of {n} body bytes", buf.len()))),
                    Ok(_) => {}
                    Err(e) => return Err(Exchange::Failed(e)),
                }
            }
        }
        None => loop {
            match read_more(conn, buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(Exchange::Failed(e)),
            }
        },
    }
    let n = content_length.unwrap_or(buf.len());
    let body: Vec<u8> = buf.drain(..n).collect();
    Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
}

/// One thing a WebSocket client received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A text frame's payload, exactly as sent (not checked for UTF-8 or JSON).
    Text(Vec<u8>),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A ping (already answered with a pong unless auto-pong is off).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame: code and reason.
    Close(Option<u16>, String),
    /// The connection ended without a close frame (EOF, reset, TLS error): why.
    Eof(String),
}

/// A WebSocket client session over TLS.
#[derive(Debug)]
pub struct WsClient {
    socket: FrameSocket<TlsStream>,
    /// Set once a close frame or an EOF was seen.
    closed: Option<WsEvent>,
    auto_pong: bool,
    /// A fragmented message being collected: (is text, payload so far).
    partial: Option<(bool, Vec<u8>)>,
    mask_state: u32,
}

impl WsClient {
    /// Opens `path_and_query` on `addr`; panics unless the server answers `101`.
    pub fn connect(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, path_and_query: &str) -> Self {
        Self::try_connect(addr, tls, path_and_query).unwrap_or_else(|e| panic!("ws {path_and_query} at {addr}: {e}"))
    }

    /// Opens `path_and_query` on `addr`; a refusal (any status but 101) is an error naming the
    /// status and body.
    pub fn try_connect(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, path_and_query: &str) -> io::Result<Self> {
        let mut stream = tls_connect(addr, tls, IO_TIMEOUT)?;
        let key = tungstenite::handshake::client::generate_key();
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            addr.port()
        );
        stream.write_all(request.as_bytes())?;
        stream.flush()?;
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = find_head_end(&buf) {
                break end;
            }
            if buf.len() > 16 * 1024 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "upgrade response head over 16 KiB"));
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF before the upgrade response")),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
        };
        let mut header_buf = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut header_buf);
        resp.parse(&buf[..head_end]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let status = resp.code.unwrap_or(0);
        if status != 101 {
            let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("upgrade refused with status {status}: {body}"),
            ));
        }
        let accept = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned());
        let expected = tungstenite::handshake::derive_accept_key(key.as_bytes());
        if accept.as_deref() != Some(expected.as_str()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("Sec-WebSocket-Accept {accept:?}, expected {expected:?}"),
            ));
        }
        let leftover = buf[head_end..].to_vec();
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.subsec_nanos()) | 1;
        Ok(Self {
            socket: FrameSocket::from_partially_read(stream, leftover),
            closed: None,
            auto_pong: true,
            partial: None,
            mask_state: seed,
        })
    }

    /// Whether pings are answered automatically (the default).
    pub fn set_auto_pong(&mut self, on: bool) {
        self.auto_pong = on;
    }

    /// Whether a close frame or an EOF has been seen.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The close frame or EOF that ended the session, if any.
    pub fn closed_by(&self) -> Option<&WsEvent> {
        self.closed.as_ref()
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift32: masks only need to be unpredictable to intermediaries, not secure.
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_state = x;
        x.to_le_bytes()
    }

    fn send_frame(&mut self, mut frame: Frame) -> io::Result<()> {
        frame.header_mut().mask = Some(self.next_mask());
        self.socket.send(frame).map_err(ws_io)
    }

    /// Sends a text frame.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send_frame(Frame::message(text.as_bytes().to_vec(), OpCode::Data(Data::Text), true))
    }

    /// Sends a binary frame.
    pub fn send_binary(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send_frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Binary), true))
    }

    /// Sends a ping.
    pub fn send_ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send_frame(Frame::ping(payload.to_vec()))
    }

    /// Sends a pong.
    pub fn send_pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send_frame(Frame::pong(payload.to_vec()))
    }

    /// Sends a close frame (normal closure).
    pub fn send_close(&mut self) -> io::Result<()> {
        self.send_frame(Frame::close(None))
    }

    /// The next frame within `timeout` (pings are answered first when auto-pong is on);
    /// `None` on timeout or once the session has ended (see [`WsClient::closed_by`]).
    pub fn recv_raw(&mut self, timeout: Duration) -> Option<WsEvent> {
        if self.closed.is_some() {
            return None;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Err(e) = self.socket.get_mut().sock.set_read_timeout(Some(left.max(Duration::from_millis(1)))) {
                return Some(self.end(WsEvent::Eof(format!("set_read_timeout: {e}"))));
            }
            let frame = match self.socket.read(None) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Some(self.end(WsEvent::Eof("EOF".into()))),
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => continue,
                Err(e) => return Some(self.end(WsEvent::Eof(e.to_string()))),
            };
            let fin = frame.header().is_final;
            let opcode = frame.header().opcode;
            let payload = frame.into_payload().to_vec();
            let event = match opcode {
                OpCode::Data(Data::Text) | OpCode::Data(Data::Binary) if !fin => {
                    self.partial = Some((opcode == OpCode::Data(Data::Text), payload));
                    continue;
                }
                OpCode::Data(Data::Text) => WsEvent::Text(payload),
                OpCode::Data(Data::Binary) => WsEvent::Binary(payload),
                OpCode::Data(Data::Continue) => {
                    let Some((is_text, mut data)) = self.partial.take() else {
                        return Some(self.end(WsEvent::Eof("continuation frame without a start".into())));
                    };
                    data.extend_from_slice(&payload);
                    if !fin {
                        self.partial = Some((is_text, data));
                        continue;
                    }
                    if is_text { WsEvent::Text(data) } else { WsEvent::Binary(data) }
                }
                OpCode::Control(Control::Ping) => {
                    if self.auto_pong
                        && let Err(e) = self.send_pong(&payload)
                    {
                        return Some(self.end(WsEvent::Eof(format!("pong failed: {e}"))));
                    }
                    WsEvent::Ping(payload)
                }
                OpCode::Control(Control::Pong) => WsEvent::Pong(payload),
                OpCode::Control(Control::Close) => {
                    let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
                    // Echo the close as the protocol asks; the server may already be gone.
                    let _ = self.send_close();
                    return Some(self.end(WsEvent::Close(code, reason)));
                }
                other => return Some(self.end(WsEvent::Eof(format!("unexpected opcode {other:?}")))),
            };
            return Some(event);
        }
    }

    fn end(&mut self, why: WsEvent) -> WsEvent {
        self.closed = Some(why.clone());
        why
    }

    /// The next text frame within `timeout`, as text (lossy only if it is not UTF-8), skipping
    /// pings, pongs and binary frames; `None` on timeout or once the session has ended.
    pub fn recv_text(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_raw(left)? {
                WsEvent::Text(bytes) => return Some(String::from_utf8_lossy(&bytes).into_owned()),
                WsEvent::Close(..) | WsEvent::Eof(_) => return None,
                WsEvent::Binary(_) | WsEvent::Ping(_) | WsEvent::Pong(_) => {}
            }
        }
    }

    /// The next text frame parsed as JSON, skipping frames that are not JSON; `None` on timeout
    /// or end of session.
    pub fn recv_json(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.recv_text(deadline.saturating_duration_since(Instant::now()))?;
            if let Ok(v) = serde_json::from_str(&text) {
                return Some(v);
            }
        }
    }

    /// The next JSON message within `timeout` for which `f` holds (others are skipped); `None` on
    /// timeout or end of session.
    pub fn recv_json_where(
        &mut self,
        timeout: Duration,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.recv_json(deadline.saturating_duration_since(Instant::now()))?;
            if f(&v) {
                return Some(v);
            }
        }
    }

    /// Reads and discards frames until the session ends or `timeout` passes; whether it ended.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self.recv_raw(left);
        }
        true
    }
}

fn ws_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

/// Opens a WebSocket on the listener of protocol `name` of `server`.
pub fn ws_connect_to(server: &RunningServer, name: &str, path_and_query: &str) -> WsClient {
    TestClient::of(server, name).ws_connect(path_and_query)
}

impl TestClient {
    /// Opens a WebSocket session at `path_and_query` on this client's listener (a new
    /// connection); panics unless the upgrade succeeds.
    pub fn ws_connect(&self, path_and_query: &str) -> WsClient {
        WsClient::connect(self.addr, &self.tls, path_and_query)
    }

    /// [`TestClient::ws_connect`], returning failures.
    pub fn try_ws_connect(&self, path_and_query: &str) -> io::Result<WsClient> {
        WsClient::try_connect(self.addr, &self.tls, path_and_query)
    }
}
