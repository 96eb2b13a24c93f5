//! One accepted connection, start to end, on its own thread: the TLS handshake, then HTTP/1.1
//! requests served in turn (control endpoints, injected failures, the protocol) until the client
//! leaves, a limit ends it, or it upgrades to a WebSocket ([`crate::ws_session`]) — or, for a
//! connection over the listener's cap, the short refusal ([`refuse`]).
//!
//! Deadlines ([`ConnectionLimits`]), all checked after every read and every read timeout, so a
//! client trickling bytes faster than [`READ_POLL`] is held to them as well as a silent one:
//! - the TLS handshake and the whole first request (head and body) within `request_deadline`
//!   of accept;
//! - each later request within `request_deadline` of its first byte, answered `408` (and the
//!   connection closed) when it is not complete by then;
//! - a keep-alive connection idle for `idle_timeout` between requests is closed.
//!
//! Faults applied here: in an outage a request is dropped unanswered (and an idle keep-alive
//! connection closed) unless it is for the simulator's own `/_sim/` endpoints, which stay
//! reachable so `{"clear":true}` can end the outage; a pending REST failure
//! ([`Faults::take_http_failure`](crate::faults::Faults::take_http_failure)) answers the next
//! protocol request with its status (429 and 418 with `Retry-After: 1`).
//!
//! Blocking: socket reads time out after [`READ_POLL`], writes after [`WRITE_TIMEOUT`].
//! Allocates per request; never panics on client input (a panicking protocol handler costs the
//! client a 500, not the server).

use crate::control::{control, is_control_path};
use crate::http::{HttpConnection, RequestHead, Waiting, error_response};
use crate::protocol::{Ctx, HttpRequest, HttpResponse};
use crate::server::{ConnectionLimits, ListenerCtx, READ_POLL, WRITE_TIMEOUT};
use crate::ws_session::serve_websocket;
use rustls::{ServerConnection, StreamOwned};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The server side of a TLS connection.
pub(crate) type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// Whether a socket error is a read or write timeout (or an interrupted call) rather than a
/// failure.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// Blocking mode, no Nagle, the read poll and the write timeout.
fn set_up_socket(sock: &TcpStream) -> io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(READ_POLL))?;
    sock.set_write_timeout(Some(WRITE_TIMEOUT))
}

/// Sets the socket up and completes the TLS handshake by `deadline`; `None` (logged) if either
/// fails.
fn open(sock: TcpStream, peer: SocketAddr, lc: &ListenerCtx, deadline: Instant) -> Option<TlsStream> {
    let name = lc.protocol.name();
    if let Err(e) = set_up_socket(&sock) {
        log::debug!("venue-sim {name}: socket setup for {peer}: {e}");
        return None;
    }
    let conn = match ServerConnection::new(lc.tls.clone()) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("venue-sim {name}: TLS session for {peer}: {e}");
            return None;
        }
    };
    let mut stream = StreamOwned::new(conn, sock);
    match tls_handshake(&mut stream, deadline, &lc.ctx.stop) {
        Ok(()) => Some(stream),
        Err(e) => {
            log::debug!("venue-sim {name}: TLS handshake with {peer}: {e}");
            None
        }
    }
}

/// Drives the TLS handshake record by record, giving up on stop or at `deadline` — checked
/// after every read, so a client trickling its hello cannot stretch it (rustls' `complete_io`
/// keeps reading while bytes arrive and would only notice the deadline on a read timeout).
fn tls_handshake(stream: &mut TlsStream, deadline: Instant, stop: &AtomicBool) -> io::Result<()> {
    let StreamOwned { conn, sock } = stream;
    loop {
        while conn.wants_write() {
            conn.write_tls(sock)?;
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake not complete by the deadline"));
        }
        match conn.read_tls(sock) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    // Send the alert rustls queued, then give up.
                    let _ = conn.write_tls(sock);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// When a connection stops waiting for its client: the policy behind `keep_waiting`.
struct WaitPolicy<'a> {
    ctx: &'a Ctx,
    limits: ConnectionLimits,
    /// Whether this is a kept-alive connection waiting for a later request (idle limit, and an
    /// outage closes it) rather than a new one waiting for its first (the accept deadline).
    kept_alive: bool,
    idle_since: Instant,
    /// The request's deadline: set at accept for the first request, at its first byte for a
    /// later one.
    deadline: Cell<Option<Instant>>,
    /// Set when the request deadline (not shutdown, an outage or idleness) ended the wait.
    timed_out: Cell<bool>,
}

impl WaitPolicy<'_> {
    fn keep_waiting(&self, w: Waiting) -> bool {
        if self.ctx.stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if w == Waiting::Idle && self.kept_alive {
            return !self.ctx.faults.in_outage() && now.duration_since(self.idle_since) < self.limits.idle_timeout;
        }
        let deadline = self.deadline.get().unwrap_or(now + self.limits.request_deadline);
        self.deadline.set(Some(deadline));
        if now >= deadline {
            self.timed_out.set(w == Waiting::Request);
            return false;
        }
        true
    }
}

/// The `408` for a request that missed its deadline.
fn too_slow(limits: &ConnectionLimits) -> HttpResponse {
    error_response(
        408,
        &format!(
            "request not complete within {} ms (of connecting, or of its first byte); closing",
            limits.request_deadline.as_millis()
        ),
    )
}

/// Serves one connection under the cap, start to end.
pub(crate) fn serve_connection(sock: TcpStream, peer: SocketAddr, accepted: Instant, lc: &ListenerCtx) {
    let name = lc.protocol.name();
    let limits = lc.limits;
    let first_deadline = accepted + limits.request_deadline;
    let Some(stream) = open(sock, peer, lc, first_deadline) else { return };
    let ctx = &lc.ctx;
    let mut http = HttpConnection::new(stream);
    let mut served = 0u64;
    loop {
        let policy = WaitPolicy {
            ctx,
            limits,
            kept_alive: served > 0,
            idle_since: Instant::now(),
            deadline: Cell::new((served == 0).then_some(first_deadline)),
            timed_out: Cell::new(false),
        };
        let mut keep_waiting = |w| policy.keep_waiting(w);
        let head = match http.read_head(&mut keep_waiting) {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(e) => {
                log::debug!("venue-sim {name}: bad request from {peer}: {e}");
                let resp = if policy.timed_out.get() { Some(too_slow(&limits)) } else { e.response() };
                if let Some(resp) = resp {
                    let _ = http.write_response(&resp, false, false);
                }
                break;
            }
        };
        lc.protocol.on_request_head(&head.method, &head.path);
        if ctx.stop.load(Ordering::Relaxed) {
            return;
        }
        let to_control = is_control_path(&head.path);
        if ctx.faults.in_outage() && !to_control {
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
                let resp = if policy.timed_out.get() { Some(too_slow(&limits)) } else { e.response() };
                if let Some(resp) = resp {
                    let _ = http.write_response(&resp, false, false);
                }
                break;
            }
        };
        let keep_alive = !head.wants_close();
        let head_only = head.method == "HEAD";
        let req = head.into_request(body, peer);
        let resp = if to_control { control(&req, ctx) } else { route(&req, lc) };
        log::debug!("venue-sim {name}: {} {} from {peer} -> {}", req.method, req.path, resp.status);
        if let Err(e) = http.write_response(&resp, keep_alive, head_only) {
            log::debug!("venue-sim {name}: writing to {peer}: {e}");
            return;
        }
        served += 1;
        if !keep_alive {
            break;
        }
    }
    let (stream, _) = http.into_parts();
    close_lingering(stream, &ctx.stop);
}

/// A connection over the listener's cap: within `refusal_deadline` of accept, the TLS handshake
/// and one request head, answered `503 Service Unavailable` with `Retry-After: 1` and
/// `Connection: close` — a refusal any HTTP or WebSocket client reports as such, rather than a
/// reset in the middle of its handshake. A request for the simulator's own `/_sim/` endpoints is
/// served instead, so the operator gets through even at the cap. A client that does not make
/// the deadline is dropped.
pub(crate) fn refuse(sock: TcpStream, peer: SocketAddr, accepted: Instant, lc: &ListenerCtx) {
    let name = lc.protocol.name();
    let deadline = accepted + lc.limits.refusal_deadline;
    let Some(stream) = open(sock, peer, lc, deadline) else { return };
    let stop = &lc.ctx.stop;
    let mut http = HttpConnection::new(stream);
    let mut keep_waiting = |_| !stop.load(Ordering::Relaxed) && Instant::now() < deadline;
    let head = match http.read_head(&mut keep_waiting) {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(e) => {
            if let Some(resp) = e.response() {
                let _ = http.write_response(&resp, false, false);
            }
            return;
        }
    };
    let resp = if is_control_path(&head.path) {
        match http.read_body(&head, &mut keep_waiting) {
            Ok(body) => control(&head.into_request(body, peer), &lc.ctx),
            Err(_) => return,
        }
    } else {
        log::debug!("venue-sim {name}: refusing {} {} from {peer} (connection cap)", head.method, head.path);
        error_response(
            503,
            &format!(
                "the simulator's {name} listener has {} connections open, its limit; connection refused, \
                 retry later",
                lc.limits.max_connections
            ),
        )
        .with_header("Retry-After", "1")
    };
    if http.write_response(&resp, false, false).is_ok() {
        let (stream, _) = http.into_parts();
        close_lingering(stream, stop);
    }
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

/// Ends a connection politely: TLS close_notify, half-close, then reads (briefly) whatever the
/// client still sends, so unread request bytes do not turn the close into a reset that could
/// destroy the last response in flight.
fn close_lingering(mut stream: TlsStream, stop: &Arc<AtomicBool>) {
    stream.conn.send_close_notify();
    let _ = stream.flush();
    let _ = stream.sock.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        match stream.sock.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

/// Answers one protocol request: injected failures, then the protocol.
fn route(req: &HttpRequest, lc: &ListenerCtx) -> HttpResponse {
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
