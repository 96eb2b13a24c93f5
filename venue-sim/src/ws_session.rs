//! WebSocket connections: the upgrade of an HTTP/1.1 connection (replaying the request bytes
//! already read into tungstenite's handshake) and [`ServerWsSession`], the [`WsSession`] a
//! protocol's `run_ws` drives over the simulator's TLS socket.
//!
//! Runs on the connection's own thread. Reads wait in slices of at most [`READ_POLL`] so the
//! session notices shutdown, outages and [`Faults::drop_ws_connections`](crate::faults::Faults::drop_ws_connections) promptly; allocates per
//! message; never panics on client input (a panicking protocol costs the client its session).

use crate::conn::TlsStream;
use crate::http::{HttpConnection, RequestHead};
use crate::protocol::{Ctx, WsIncoming, WsSession};
use crate::server::{HANDSHAKE_TIMEOUT, ListenerCtx, MAX_WS_MESSAGE, READ_POLL};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

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
pub(crate) fn serve_websocket(http: HttpConnection<TlsStream>, head: RequestHead, peer: SocketAddr, lc: &ListenerCtx) {
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
/// ([`Faults::drop_ws_connections`](crate::faults::Faults::drop_ws_connections)); from then on `recv` returns [`WsIncoming::Closed`] and
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
                Err(tungstenite::Error::Io(e)) if crate::conn::is_timeout(&e) => {}
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
                        Err(tungstenite::Error::Io(e)) if crate::conn::is_timeout(&e) => {}
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
