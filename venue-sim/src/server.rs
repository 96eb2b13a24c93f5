//! [`VenueSimServer`]: the simulator's sockets and threads. One TLS listener per protocol on
//! loopback; each accepted connection gets its own thread, which does the TLS handshake, reads
//! HTTP/1.1 requests and either serves them (the protocol's REST handler, or the simulator's
//! own `/_sim/` control endpoints) or upgrades the connection to a WebSocket session that the
//! protocol runs.
//!
//! Threads: `vsim-<protocol>-accept` per listener (non-blocking accept polled every
//! [`ACCEPT_POLL`]), `vsim-<protocol>-conn` per connection, and the market's flow thread. All
//! watch one stop flag; [`RunningServer::shutdown`] (also run on drop) sets it and joins them.
//! Blocking: every socket read has a short timeout ([`READ_POLL`]) so a connection thread
//! notices shutdown, outages and dropped sessions promptly; writes time out after
//! [`WRITE_TIMEOUT`]. Allocates freely; never panics on client input (a panicking protocol
//! handler costs the client a 500 or its session, not the server).
//!
//! Faults applied here rather than by the protocols: an outage ([`Faults::in_outage`]) drops
//! new connections right after accept and open ones at their next check; a pending REST failure
//! ([`Faults::take_http_failure`]) answers the next REST request with its status (429 and 418
//! with `Retry-After: 1`); a WebSocket session ends without a close frame when the fault
//! generation changes ([`Faults::drop_ws_connections`]).
//!
//! Control endpoints, on every listener, never subject to injected REST failures:
//! - `POST /_sim/faults` with a JSON object of any of `drop_ws` (bool), `stall_ws_ms`,
//!   `skip_sequence`, `malformed_frames`, `truncated_frames`, `corrupt_levels`, `fail_http`
//!   (`{"count":n,"status":s}`), `ack_latency_ms`, `outage_ms`, `clock_skew_ms` (signed),
//!   `clear` (bool, applied first). All fields are checked before any is applied.
//! - `GET /_sim/book?symbol=BTCUSDT&depth=N` → `{"symbol","updateId","bids":[["price","qty"],..],
//!   "asks":[..]}` with the instrument's exact decimal text, best levels first (depth defaults
//!   to 100).

use crate::faults::Faults;
use crate::http::{HttpConnection, RequestHead, error_response};
use crate::market::Market;
use crate::protocol::{Ctx, HttpRequest, HttpResponse, Protocol, WsIncoming, WsSession};
use crate::tls::{SimCertificates, TlsError};
use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

/// How often an idle accept loop looks for a new connection or the stop flag.
pub const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// Read timeout of connection sockets: the longest a connection thread goes without checking
/// the stop flag and faults.
pub const READ_POLL: Duration = Duration::from_millis(50);
/// Write timeout of connection sockets (a client that stops reading loses its connection).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a TLS handshake or WebSocket upgrade may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection idle this long between requests is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most connections open at once per listener; more are dropped at accept.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long shutdown waits for connection threads before leaving them behind.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest WebSocket message accepted from a client.
pub const MAX_WS_MESSAGE: usize = 1024 * 1024;
/// Depth of `/_sim/book` when the query gives none.
pub const DEFAULT_BOOK_DEPTH: usize = 100;

/// What can stop the simulator from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Certificates or TLS configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener could not be bound.
    #[error("binding the {protocol} listener to {addr}: {source}")]
    Bind {
        /// Protocol name.
        protocol: &'static str,
        /// Requested address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("starting thread {name}: {source}")]
    Spawn {
        /// Thread name.
        name: String,
        /// The cause.
        source: io::Error,
    },
    /// Two protocols share a name (addresses are looked up by name).
    #[error("protocols[{index}]: the name {name:?} is already used by another protocol")]
    DuplicateProtocol {
        /// Position in `ServerConfig::protocols`.
        index: usize,
        /// The name.
        name: &'static str,
    },
}

/// What the simulator serves, and where.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The exchange state behind every protocol.
    pub market: Arc<Market>,
    /// Injected faults.
    pub faults: Arc<Faults>,
    /// Each protocol with the address its listener binds (usually `127.0.0.1:0`).
    pub protocols: Vec<(Arc<dyn Protocol>, SocketAddr)>,
    /// Where the CA certificate's PEM is written for clients to trust.
    pub ca_file: PathBuf,
}

/// Starts simulators.
#[derive(Debug, Clone, Copy)]
pub struct VenueSimServer;

impl VenueSimServer {
    /// Makes the certificates, writes the CA file, binds every listener, then starts the
    /// market's flow thread and the accept loops. Nothing is left running on an error.
    pub fn start(cfg: ServerConfig) -> Result<RunningServer, SimError> {
        for (i, (p, _)) in cfg.protocols.iter().enumerate() {
            if cfg.protocols[..i].iter().any(|(q, _)| q.name() == p.name()) {
                return Err(SimError::DuplicateProtocol { index: i, name: p.name() });
            }
        }
        let certs = SimCertificates::generate()?;
        let tls = certs.server_config()?;
        certs.write_ca_pem(&cfg.ca_file)?;

        let mut listeners = Vec::new();
        for (protocol, addr) in &cfg.protocols {
            let bind = |source| SimError::Bind { protocol: protocol.name(), addr: *addr, source };
            let listener = TcpListener::bind(addr).map_err(bind)?;
            listener.set_nonblocking(true).map_err(bind)?;
            let local = listener.local_addr().map_err(bind)?;
            listeners.push((protocol.clone(), listener, local));
        }

        let stop = Arc::new(AtomicBool::new(false));
        let mut server = RunningServer {
            addrs: listeners.iter().map(|(p, _, a)| (p.name(), *a)).collect(),
            ca_file: cfg.ca_file,
            market: cfg.market.clone(),
            faults: cfg.faults.clone(),
            stop: stop.clone(),
            accept_threads: Vec::new(),
            flow_thread: None,
        };
        let flow = cfg
            .market
            .start_flow(stop.clone())
            .map_err(|source| SimError::Spawn { name: "venue-sim-flow".into(), source })?;
        server.flow_thread = Some(flow);
        let ctx = Ctx { market: cfg.market, faults: cfg.faults, stop };
        for (protocol, listener, addr) in listeners {
            let venue = protocol.name();
            let name = format!("vsim-{venue}-accept");
            let listener_ctx = ListenerCtx { protocol, ctx: ctx.clone(), tls: tls.clone() };
            // On error, `server` drops here, which stops and joins what already started.
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || accept_loop(listener, listener_ctx))
                .map_err(|source| SimError::Spawn { name, source })?;
            log::info!("venue-sim: {venue} listening on https://{addr}");
            server.accept_threads.push(handle);
        }
        Ok(server)
    }
}

/// A started simulator. Dropping it shuts it down.
#[derive(Debug)]
pub struct RunningServer {
    /// Each protocol's name and the address its listener is bound to.
    pub addrs: Vec<(&'static str, SocketAddr)>,
    /// The CA certificate PEM file clients trust.
    pub ca_file: PathBuf,
    /// The exchange state.
    pub market: Arc<Market>,
    /// Injected faults (a test may set them directly instead of through `/_sim/faults`).
    pub faults: Arc<Faults>,
    /// The stop flag every simulator thread watches.
    pub stop: Arc<AtomicBool>,
    accept_threads: Vec<JoinHandle<()>>,
    flow_thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The address of protocol `name`'s listener.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// Stops accepting, ends every session and joins the threads (connection threads that
    /// outlive [`SHUTDOWN_GRACE`] are left behind with a warning). Idempotent.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.accept_threads.drain(..) {
            if t.join().is_err() {
                log::warn!("venue-sim: an accept thread panicked");
            }
        }
        if let Some(t) = self.flow_thread.take()
            && t.join().is_err()
        {
            log::warn!("venue-sim: the flow thread panicked");
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What a listener's threads share.
#[derive(Debug, Clone)]
struct ListenerCtx {
    protocol: Arc<dyn Protocol>,
    ctx: Ctx,
    tls: Arc<rustls::ServerConfig>,
}

fn accept_loop(listener: TcpListener, lc: ListenerCtx) {
    let name = lc.protocol.name();
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !lc.ctx.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((sock, peer)) => {
                conns.retain(|t| !t.is_finished());
                if lc.ctx.faults.in_outage() {
                    log::debug!("venue-sim {name}: outage, dropping connection from {peer}");
                    drop(sock);
                    continue;
                }
                if conns.len() >= MAX_CONNECTIONS {
                    log::warn!("venue-sim {name}: {MAX_CONNECTIONS} connections open, dropping {peer}");
                    continue;
                }
                let lc = lc.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("vsim-{name}-conn"))
                    .spawn(move || serve_connection(sock, peer, &lc));
                match spawned {
                    Ok(t) => conns.push(t),
                    Err(e) => log::warn!("venue-sim {name}: no thread for {peer}: {e}"),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // EMFILE, ECONNABORTED and the like: transient for a simulator; back off.
                log::debug!("venue-sim {name}: accept: {e}");
                std::thread::sleep(ACCEPT_POLL * 10);
            }
        }
    }
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while conns.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(ACCEPT_POLL);
    }
    let mut left = 0;
    for t in conns {
        if t.is_finished() {
            let _ = t.join();
        } else {
            left += 1;
        }
    }
    if left > 0 {
        log::warn!("venue-sim {name}: {left} connection threads still running at shutdown; left behind");
    }
}

type TlsStream = StreamOwned<ServerConnection, TcpStream>;

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// One connection, start to end.
fn serve_connection(sock: TcpStream, peer: SocketAddr, lc: &ListenerCtx) {
    let name = lc.protocol.name();
    let setup = sock
        .set_nonblocking(false)
        .and_then(|()| sock.set_nodelay(true))
        .and_then(|()| sock.set_read_timeout(Some(READ_POLL)))
        .and_then(|()| sock.set_write_timeout(Some(WRITE_TIMEOUT)));
    if let Err(e) = setup {
        log::debug!("venue-sim {name}: socket setup for {peer}: {e}");
        return;
    }
    let conn = match ServerConnection::new(lc.tls.clone()) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("venue-sim {name}: TLS session for {peer}: {e}");
            return;
        }
    };
    let mut stream = StreamOwned::new(conn, sock);
    if let Err(e) = tls_handshake(&mut stream, &lc.ctx) {
        log::debug!("venue-sim {name}: TLS handshake with {peer}: {e}");
        return;
    }
    let mut http = HttpConnection::new(stream);
    loop {
        let started = Instant::now();
        let ctx = &lc.ctx;
        let mut keep_waiting =
            || !ctx.stop.load(Ordering::Relaxed) && !ctx.faults.in_outage() && started.elapsed() < IDLE_TIMEOUT;
        let head = match http.read_head(&mut keep_waiting) {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(e) => {
                log::debug!("venue-sim {name}: bad request from {peer}: {e}");
                if let Some(resp) = e.response() {
                    let _ = http.write_response(&resp, false, false);
                }
                break;
            }
        };
        if ctx.faults.in_outage() || ctx.stop.load(Ordering::Relaxed) {
            // Dropped without an answer, as a venue in an outage would.
            return;
        }
        if head.is_websocket_upgrade() && lc.protocol.is_ws_path(&head.path) {
            // tungstenite drops a bad upgrade without a word; say what was missing instead.
            if let Some(problem) = upgrade_problem(&head) {
                log::debug!("venue-sim {name}: bad WebSocket upgrade from {peer}: {problem}");
                let _ = http.write_response(&error_response(400, &problem), false, false);
                break;
            }
            serve_websocket(http, head, peer, lc);
            return;
        }
        let body = match http.read_body(&head, &mut keep_waiting) {
            Ok(b) => b,
            Err(e) => {
                log::debug!("venue-sim {name}: body of {} {} from {peer}: {e}", head.method, head.path);
                if let Some(resp) = e.response() {
                    let _ = http.write_response(&resp, false, false);
                }
                break;
            }
        };
        let keep_alive = !head.wants_close();
        let head_only = head.method == "HEAD";
        let req = head.into_request(body, peer);
        let resp = route(&req, lc);
        log::debug!("venue-sim {name}: {} {} from {peer} -> {}", req.method, req.path, resp.status);
        if let Err(e) = http.write_response(&resp, keep_alive, head_only) {
            log::debug!("venue-sim {name}: writing to {peer}: {e}");
            return;
        }
        if !keep_alive {
            break;
        }
    }
    let (stream, _) = http.into_parts();
    close_lingering(stream, &lc.ctx);
}

/// What makes an upgrade request unacceptable to RFC 6455 §4.2.1, if anything.
fn upgrade_problem(head: &RequestHead) -> Option<String> {
    let connection_upgrade = head
        .headers
        .iter()
        .filter(|(k, _)| k == "connection")
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Some("WebSocket upgrade without `Connection: Upgrade`".into());
    }
    if head.header("sec-websocket-key").is_none_or(str::is_empty) {
        return Some("WebSocket upgrade without Sec-WebSocket-Key".into());
    }
    match head.header("sec-websocket-version") {
        Some("13") => None,
        other => Some(format!("WebSocket upgrade with Sec-WebSocket-Version {other:?}; expected 13")),
    }
}

/// Drives the TLS handshake to completion, giving up on stop or after [`HANDSHAKE_TIMEOUT`].
fn tls_handshake(stream: &mut TlsStream, ctx: &Ctx) -> io::Result<()> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    while stream.conn.is_handshaking() {
        match stream.conn.complete_io(&mut stream.sock) {
            Ok((0, 0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
        if ctx.stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
    }
    Ok(())
}

/// Ends a connection politely: TLS close_notify, half-close, then reads (briefly) whatever the
/// client still sends, so unread request bytes do not turn the close into a reset that could
/// destroy the last response in flight.
fn close_lingering(mut stream: TlsStream, ctx: &Ctx) {
    stream.conn.send_close_notify();
    let _ = stream.flush();
    let _ = stream.sock.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline && !ctx.stop.load(Ordering::Relaxed) {
        match stream.sock.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

/// Answers one HTTP request: control endpoints, then injected failures, then the protocol.
fn route(req: &HttpRequest, lc: &ListenerCtx) -> HttpResponse {
    if req.path.starts_with("/_sim/") {
        return control(req, &lc.ctx);
    }
    if let Some(status) = lc.ctx.faults.take_http_failure() {
        let resp = error_response(status, &format!("simulated HTTP {status} (injected fault)"));
        return if matches!(status, 418 | 429) { resp.with_header("Retry-After", "1") } else { resp };
    }
    match std::panic::catch_unwind(AssertUnwindSafe(|| lc.protocol.handle_http(&lc.ctx, req))) {
        Ok(resp) => resp,
        Err(_) => {
            log::error!("venue-sim {}: handler panicked on {} {}", lc.protocol.name(), req.method, req.path);
            error_response(500, "internal error in the simulator's protocol handler")
        }
    }
}

/// The simulator's own endpoints.
fn control(req: &HttpRequest, ctx: &Ctx) -> HttpResponse {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/_sim/faults") => match apply_faults(&req.body, ctx) {
            Ok(applied) => HttpResponse::json(200, &json!({ "ok": true, "applied": applied })),
            Err(problems) => error_response(400, &problems.join("; ")),
        },
        ("GET", "/_sim/book") => book(&req.query, ctx),
        (_, "/_sim/faults") => error_response(405, "use POST /_sim/faults with a JSON object"),
        (_, "/_sim/book") => error_response(405, "use GET /_sim/book?symbol=SYMBOL&depth=N"),
        _ => error_response(404, &format!("no simulator endpoint {}; there are /_sim/faults and /_sim/book", req.path)),
    }
}

/// One validated fault setting.
enum FaultSetting {
    Clear,
    DropWs,
    StallWs(Duration),
    SkipSequence(u32),
    MalformedFrames(u32),
    TruncatedFrames(u32),
    CorruptLevels(u32),
    FailHttp { count: u32, status: u16 },
    AckLatency(Duration),
    Outage(Duration),
    ClockSkewMs(i64),
}

/// Checks every field of a `/_sim/faults` body, then applies them all (`clear` first); returns
/// the names applied, or every problem found.
fn apply_faults(body: &[u8], ctx: &Ctx) -> Result<Vec<String>, Vec<String>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| vec![format!("body is not JSON: {e}")])?;
    let Value::Object(fields) = value else {
        return Err(vec![format!("body must be a JSON object, got {value}")]);
    };
    let mut problems = Vec::new();
    let mut settings = Vec::new();
    let u32_of = |k: &str, v: &Value| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{k}: expected an integer 0..=4294967295, got {v}"))
    };
    let ms_of = |k: &str, v: &Value| {
        v.as_u64()
            .map(Duration::from_millis)
            .ok_or_else(|| format!("{k}: expected milliseconds (a non-negative integer), got {v}"))
    };
    let flag_of = |k: &str, v: &Value| v.as_bool().ok_or_else(|| format!("{k}: expected true or false, got {v}"));
    for (k, v) in &fields {
        let setting = match k.as_str() {
            "clear" => flag_of(k, v).map(|on| on.then_some(FaultSetting::Clear)),
            "drop_ws" => flag_of(k, v).map(|on| on.then_some(FaultSetting::DropWs)),
            "stall_ws_ms" => ms_of(k, v).map(|d| Some(FaultSetting::StallWs(d))),
            "skip_sequence" => u32_of(k, v).map(|n| Some(FaultSetting::SkipSequence(n))),
            "malformed_frames" => u32_of(k, v).map(|n| Some(FaultSetting::MalformedFrames(n))),
            "truncated_frames" => u32_of(k, v).map(|n| Some(FaultSetting::TruncatedFrames(n))),
            "corrupt_levels" => u32_of(k, v).map(|n| Some(FaultSetting::CorruptLevels(n))),
            "ack_latency_ms" => ms_of(k, v).map(|d| Some(FaultSetting::AckLatency(d))),
            "outage_ms" => ms_of(k, v).map(|d| Some(FaultSetting::Outage(d))),
            "clock_skew_ms" => v
                .as_i64()
                .map(|ms| Some(FaultSetting::ClockSkewMs(ms)))
                .ok_or_else(|| format!("{k}: expected an integer, got {v}")),
            "fail_http" => fail_http_of(v).map(|(count, status)| Some(FaultSetting::FailHttp { count, status })),
            other => Err(format!(
                "unknown field {other:?} (expected clear, drop_ws, stall_ws_ms, skip_sequence, malformed_frames, \
                 truncated_frames, corrupt_levels, fail_http, ack_latency_ms, outage_ms, clock_skew_ms)"
            )),
        };
        match setting {
            Ok(Some(s)) => settings.push((k.clone(), s)),
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    settings.sort_by_key(|(_, s)| !matches!(s, FaultSetting::Clear));
    let f = &ctx.faults;
    for (_, s) in &settings {
        match *s {
            FaultSetting::Clear => {
                f.clear();
                ctx.market.set_clock_skew_ms(0);
            }
            FaultSetting::DropWs => f.drop_ws_connections(),
            FaultSetting::StallWs(d) => f.stall_ws_for(d),
            FaultSetting::SkipSequence(n) => f.skip_sequence(n),
            FaultSetting::MalformedFrames(n) => f.malformed_frames(n),
            FaultSetting::TruncatedFrames(n) => f.truncated_frames(n),
            FaultSetting::CorruptLevels(n) => f.corrupt_levels(n),
            FaultSetting::FailHttp { count, status } => f.fail_http(count, status),
            FaultSetting::AckLatency(d) => f.set_ack_latency(d),
            FaultSetting::Outage(d) => f.outage_for(d),
            FaultSetting::ClockSkewMs(ms) => ctx.market.set_clock_skew_ms(ms),
        }
    }
    Ok(settings.into_iter().map(|(k, _)| k).collect())
}

fn fail_http_of(v: &Value) -> Result<(u32, u16), String> {
    let count = v.get("count").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
        format!("fail_http.count: expected a non-negative integer, got {}", v.get("count").unwrap_or(&Value::Null))
    })?;
    let status = match v.get("status") {
        None => 503,
        Some(s) => s
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| (400..=599).contains(n))
            .ok_or_else(|| format!("fail_http.status: expected an HTTP error status 400..=599, got {s}"))?,
    };
    Ok((count, status))
}

/// `GET /_sim/book`.
fn book(query: &str, ctx: &Ctx) -> HttpResponse {
    let mut symbol = None;
    let mut depth = DEFAULT_BOOK_DEPTH;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "symbol" => symbol = Some(v),
            "depth" | "limit" => match v.parse::<usize>() {
                Ok(n) if n > 0 => depth = n,
                _ => return error_response(400, &format!("depth: expected a positive integer, got {v:?}")),
            },
            _ => {}
        }
    }
    let Some(symbol) = symbol else { return error_response(400, "symbol: missing (GET /_sim/book?symbol=BTCUSDT)") };
    let market = &ctx.market;
    let Some(index) = market.symbol_index(symbol).or_else(|| market.symbol_index(&symbol.to_ascii_uppercase())) else {
        let known: Vec<&str> = market.instruments().iter().map(|i| i.symbol()).collect();
        return error_response(404, &format!("symbol {symbol:?} is not listed (listed: {})", known.join(", ")));
    };
    let (Some(snap), Some(inst)) = (market.snapshot(index, depth), market.instruments().get(index)) else {
        return error_response(404, &format!("symbol {symbol:?} has no book"));
    };
    let levels = |side: &[(qt_core::Price, qt_core::Qty)]| -> Vec<Value> {
        side.iter().map(|(p, q)| json!([inst.price_text(*p).as_ref(), inst.qty_text(*q).as_ref()])).collect()
    };
    HttpResponse::json(
        200,
        &json!({
            "symbol": inst.symbol(),
            "updateId": snap.update_id,
            "bids": levels(&snap.bids),
            "asks": levels(&snap.asks),
        }),
    )
}

/// A stream that first replays bytes already read from `inner` (the upgrade request, and
/// whatever came behind it), then reads `inner`.
#[derive(Debug)]
struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: Read> Read for Prefixed<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.pos);
            buf[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

impl<S: Write> Write for Prefixed<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type WsStream = Prefixed<TlsStream>;

/// Completes the upgrade and runs the protocol's session.
fn serve_websocket(http: HttpConnection<TlsStream>, head: RequestHead, peer: SocketAddr, lc: &ListenerCtx) {
    let name = lc.protocol.name();
    let (stream, rest) = http.into_parts();
    let mut prefix = head.raw.clone();
    prefix.extend_from_slice(&rest);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
        .write_buffer_size(0);
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    #[allow(clippy::result_large_err, reason = "tungstenite's Callback fixes the error type")]
    let echo_request = |req: &tungstenite::handshake::server::Request, resp| {
        log::debug!("venue-sim {name}: WebSocket upgrade of {} from {peer}", req.uri());
        Ok(resp)
    };
    let mut attempt =
        tungstenite::accept_hdr_with_config(Prefixed { prefix, pos: 0, inner: stream }, echo_request, Some(config));
    let ws = loop {
        match attempt {
            Ok(ws) => break ws,
            Err(HandshakeError::Interrupted(mid)) => {
                if lc.ctx.stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    log::debug!("venue-sim {name}: WebSocket upgrade from {peer} timed out");
                    return;
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(e)) => {
                log::debug!("venue-sim {name}: WebSocket upgrade from {peer} failed: {e}");
                return;
            }
        }
    };
    let mut session = ServerWsSession::new(ws, lc.ctx.clone(), peer);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        lc.protocol.run_ws(&lc.ctx, &head.path, &head.query, &mut session);
    }));
    if outcome.is_err() {
        log::error!("venue-sim {name}: WebSocket session {} panicked", head.path);
    }
    session.finish();
}

/// A [`WsSession`] over the simulator's TLS socket.
///
/// The session ends itself — without a close frame, as a dropped TCP connection would — when
/// the simulator stops, an outage starts, or the fault generation moves on
/// ([`Faults::drop_ws_connections`]); from then on `recv` returns [`WsIncoming::Closed`] and
/// sends fail with `ConnectionAborted`.
struct ServerWsSession {
    ws: WebSocket<WsStream>,
    ctx: Ctx,
    generation: u64,
    peer: SocketAddr,
    closed: bool,
}

impl std::fmt::Debug for ServerWsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerWsSession")
            .field("peer", &self.peer)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl ServerWsSession {
    fn new(ws: WebSocket<WsStream>, ctx: Ctx, peer: SocketAddr) -> Self {
        let generation = ctx.faults.ws_generation();
        Self { ws, ctx, generation, peer, closed: false }
    }

    fn sock(&self) -> &TcpStream {
        &self.ws.get_ref().inner.sock
    }

    /// Drops the connection without a close frame.
    fn abort(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = self.sock().shutdown(Shutdown::Both);
        }
    }

    /// Whether the session may go on; aborts it if a fault or shutdown says otherwise.
    fn alive(&mut self) -> bool {
        if self.closed {
            return false;
        }
        if self.ctx.stop.load(Ordering::Relaxed) {
            // Shutdown: a close frame with 1001 "going away", as a venue restarting would send.
            self.close(true);
            return false;
        }
        let faults = &self.ctx.faults;
        if faults.in_outage() || faults.ws_generation() != self.generation {
            log::debug!("venue-sim: dropping WebSocket session of {} (injected fault)", self.peer);
            self.abort();
            return false;
        }
        true
    }

    fn send(&mut self, msg: Message) -> io::Result<()> {
        if !self.alive() {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "WebSocket session ended"));
        }
        self.ws.send(msg).map_err(|e| {
            self.abort();
            ws_to_io(e)
        })
    }

    /// Ends the session after the protocol returned: a close frame unless it is already gone
    /// (1001 "going away" on shutdown), then TLS close_notify.
    fn finish(&mut self) {
        if self.closed {
            return;
        }
        let faults = &self.ctx.faults;
        if faults.in_outage() || faults.ws_generation() != self.generation {
            self.abort();
        } else {
            self.close(true);
        }
    }
}

fn ws_to_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::NotConnected, "WebSocket closed")
        }
        other => io::Error::other(other),
    }
}

impl WsSession for ServerWsSession {
    fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(Message::Text(Utf8Bytes::from(text)))
    }

    fn send_raw_text(&mut self, bytes: &[u8]) -> io::Result<()> {
        // A text frame built by hand: tungstenite checks UTF-8 only on `Utf8Bytes`, not on raw
        // frames, so a malformed payload goes out as it is.
        self.send(Message::Frame(Frame::message(bytes.to_vec(), OpCode::Data(Data::Text), true)))
    }

    fn send_ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send(Message::Ping(payload.to_vec().into()))
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<WsIncoming>> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.alive() {
                return Ok(Some(WsIncoming::Closed));
            }
            // Wait in slices so faults and shutdown are noticed within READ_POLL.
            let slice = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), READ_POLL);
            if let Err(e) = self.sock().set_read_timeout(Some(slice)) {
                self.abort();
                return Err(e);
            }
            match self.ws.read() {
                Ok(Message::Text(t)) => return Ok(Some(WsIncoming::Text(t.as_str().to_owned()))),
                Ok(Message::Binary(b)) => return Ok(Some(WsIncoming::Binary(b.to_vec()))),
                Ok(Message::Ping(_)) => {
                    // tungstenite queued the pong; send it now rather than on the next write.
                    if let Err(e) = self.ws.flush() {
                        log::debug!("venue-sim: pong to {}: {e}", self.peer);
                        self.abort();
                        return Ok(Some(WsIncoming::Closed));
                    }
                }
                Ok(Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_)) => {
                    // tungstenite queued the close reply; flush it, then the connection is done.
                    let _ = self.ws.flush();
                    self.closed = true;
                    let _ = self.sock().shutdown(Shutdown::Both);
                    return Ok(Some(WsIncoming::Closed));
                }
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(e) => {
                    log::debug!("venue-sim: WebSocket from {} ended: {e}", self.peer);
                    self.abort();
                    return Ok(Some(WsIncoming::Closed));
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    fn close(&mut self, graceful: bool) {
        if self.closed {
            return;
        }
        if graceful {
            let code = if self.ctx.stop.load(Ordering::Relaxed) {
                tungstenite::protocol::frame::coding::CloseCode::Away
            } else {
                tungstenite::protocol::frame::coding::CloseCode::Normal
            };
            let frame = tungstenite::protocol::CloseFrame { code, reason: Utf8Bytes::from_static("") };
            if self.ws.close(Some(frame)).and_then(|()| self.ws.flush()).is_ok() {
                // Give the client a moment to answer the close, as the protocol asks.
                let _ = self.sock().set_read_timeout(Some(READ_POLL));
                let deadline = Instant::now() + Duration::from_millis(200);
                while Instant::now() < deadline {
                    match self.ws.read() {
                        Ok(_) => {}
                        Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                        Err(_) => break,
                    }
                }
            }
            let tls = &mut self.ws.get_mut().inner;
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        self.abort();
    }
}
