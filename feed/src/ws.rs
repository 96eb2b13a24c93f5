//! [`WsClient`]: one non-blocking WebSocket-over-TLS connection driven by the core thread.
//!
//! Owned and polled by the core thread through its feed. The TCP socket is a
//! `mio::net::TcpStream` registered (readable | writable, edge-triggered) with the loop's
//! registry; connect, the TLS handshake (rustls) and the WebSocket upgrade (tungstenite) are
//! each advanced a step per poll and resumed on readiness — tungstenite's
//! `HandshakeError::Interrupted(mid)` is kept and resumed. Once open, every poll with readiness
//! drains `read()` until `WouldBlock` (tolerating spurious readiness) and flushes queued pongs.
//! On EOF or any error the connection is dropped and retried after an exponential backoff with
//! jitter ([`Backoff`]).
//!
//! Contract: never blocks. Syscalls: `connect`/`getsockopt` while connecting, `recv`/`send`
//! on readiness, `epoll_ctl` on (re)connect. Allocation: connecting allocates (TLS state,
//! buffers); the steady-state read path allocates only inside rustls and tungstenite (measured
//! in `tests/no_alloc.rs`: about one allocation per frame) — this layer adds none.

use crate::endpoint::Endpoint;
use qt_core::Nanos;
use qt_core::log_ring::FieldValue;
use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use tungstenite::handshake::MidHandshake;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::{HandshakeError, Message, WebSocket};

/// Longest a connect + TLS + WebSocket handshake may take before it is abandoned.
pub const HANDSHAKE_TIMEOUT: Nanos = Nanos(10_000_000_000);
/// Without a readiness event, an open connection is still read this often (a safety net against
/// a lost edge; costs one `recv` returning `EAGAIN`).
pub const IDLE_READ_INTERVAL: Nanos = Nanos(50_000_000);

/// A TLS session over a non-blocking mio socket, as a `Read + Write` stream for tungstenite.
///
/// `read` first pushes out whatever TLS wants to send (handshake flights, alerts), then returns
/// buffered plaintext or reads and decrypts more; `write` buffers plaintext in rustls (before the
/// handshake completes too) and sends what the socket takes; `flush` reports `WouldBlock` until
/// every TLS byte is on the wire.
#[derive(Debug)]
pub struct TlsStream {
    tls: ClientConnection,
    tcp: mio::net::TcpStream,
}

impl TlsStream {
    /// Starts a TLS client session over a (connected or connecting) socket.
    pub fn new(config: Arc<ClientConfig>, name: ServerName<'static>, tcp: mio::net::TcpStream) -> io::Result<Self> {
        let tls = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(Self { tls, tcp })
    }

    /// The socket (to register or deregister it).
    pub fn tcp_mut(&mut self) -> &mut mio::net::TcpStream {
        &mut self.tcp
    }

    fn write_tls(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.tcp)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }
}

fn is_would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.write_tls() {
                Ok(()) => {}
                Err(e) if is_would_block(&e) => {}
                Err(e) => return Err(e),
            }
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if is_would_block(&e) => {}
                Err(e) => return Err(e),
            }
            // No plaintext buffered: read more records. `Ok(0)` is TCP EOF; the next
            // `reader().read` then reports a clean (`Ok(0)`) or unclean (`UnexpectedEof`) end.
            self.tls.read_tls(&mut self.tcp)?;
            if let Err(e) = self.tls.process_new_packets() {
                let _ = self.write_tls(); // best effort: send the alert
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tls.writer().write(buf)?;
        match self.write_tls() {
            Ok(()) => Ok(n),
            Err(e) if is_would_block(&e) => Ok(n),
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tls.writer().flush()?;
        self.write_tls()
    }
}

/// Exponential backoff with jitter: `base`, `2·base`, … capped at `cap`, each scaled by a
/// random factor in [0.75, 1.25). No allocation, no syscall (xorshift PRNG).
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Nanos,
    cap: Nanos,
    current: Nanos,
    rng: u64,
}

impl Backoff {
    /// A backoff starting at `base` and never above `cap` (before jitter).
    pub fn new(base: Nanos, cap: Nanos, seed: u64) -> Self {
        Self { base, cap, current: base, rng: seed | 1 }
    }

    /// The next delay (and doubles the following one).
    #[cold]
    pub fn next_delay(&mut self) -> Nanos {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let jitter_permille = 750 + (self.rng % 500) as i64;
        let delay = Nanos(self.current.0 / 1000 * jitter_permille);
        self.current = Nanos(self.current.0.saturating_mul(2).min(self.cap.0));
        delay
    }

    /// Back to `base` (after a connection proved healthy).
    pub fn reset(&mut self) {
        self.current = self.base;
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// TCP connect failed or timed out.
    Connect,
    /// TLS or WebSocket handshake failed or timed out.
    Handshake,
    /// The server closed (close frame, TLS close or TCP EOF).
    Eof,
    /// A read or write error on an open connection.
    Io,
    /// tungstenite refused the stream (protocol violation, oversized message).
    Protocol,
}

impl CloseReason {
    /// Its name, for logs.
    pub const fn name(self) -> &'static str {
        match self {
            CloseReason::Connect => "connect",
            CloseReason::Handshake => "handshake",
            CloseReason::Eof => "eof",
            CloseReason::Io => "io",
            CloseReason::Protocol => "protocol",
        }
    }
}

/// What one [`WsClient::poll`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WsProgress {
    /// The WebSocket became open during this poll.
    pub opened: bool,
    /// The connection ended during this poll (a reconnect is scheduled).
    pub closed: Option<CloseReason>,
    /// Data frames handed to the callback.
    pub frames: usize,
}

enum ConnState {
    /// Not connected; (re)connect at `retry_at`.
    Idle { retry_at: Nanos },
    /// TCP connect in progress.
    Connecting { tcp: mio::net::TcpStream, since: Nanos },
    /// TLS + WebSocket handshake in progress.
    Handshaking { mid: Box<MidHandshake<ClientHandshake<TlsStream>>>, since: Nanos },
    /// Open.
    Open { ws: Box<WebSocket<TlsStream>>, last_read: Nanos },
}

/// A reconnecting WebSocket client over TLS on a mio socket.
pub struct WsClient {
    addrs: Vec<SocketAddr>,
    next_addr: usize,
    url: String,
    server_name: ServerName<'static>,
    tls: Arc<ClientConfig>,
    registry: Option<mio::Registry>,
    token: mio::Token,
    state: ConnState,
    backoff: Backoff,
    ready: bool,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            ConnState::Idle { .. } => "idle",
            ConnState::Connecting { .. } => "connecting",
            ConnState::Handshaking { .. } => "handshaking",
            ConnState::Open { .. } => "open",
        };
        f.debug_struct("WsClient").field("url", &self.url).field("state", &state).finish()
    }
}

impl WsClient {
    /// A client for `endpoint` (resolved to `addrs`) with `target` as the request path; nothing
    /// is connected until [`Self::register`] and the first [`Self::poll`].
    pub fn new(
        endpoint: &Endpoint,
        addrs: Vec<SocketAddr>,
        target: &str,
        server_name: ServerName<'static>,
        tls: Arc<ClientConfig>,
        backoff: Backoff,
    ) -> Self {
        Self {
            addrs,
            next_addr: 0,
            url: endpoint.url_with_target(target),
            server_name,
            tls,
            registry: None,
            token: mio::Token(0),
            state: ConnState::Idle { retry_at: Nanos::ZERO },
            backoff,
            ready: false,
        }
    }

    /// Keeps a handle on the loop's registry; every socket this client opens is registered
    /// with `token`.
    pub fn register(&mut self, registry: &mio::Registry, token: usize) -> io::Result<()> {
        self.registry = Some(registry.try_clone()?);
        self.token = mio::Token(token);
        Ok(())
    }

    /// The socket is ready (readable or writable).
    #[inline]
    pub fn on_ready(&mut self) {
        self.ready = true;
    }

    /// Whether the WebSocket is open.
    #[inline]
    pub fn is_open(&self) -> bool {
        matches!(self.state, ConnState::Open { .. })
    }

    /// Healthy traffic seen: the next failure starts the backoff from its base again.
    pub fn reset_backoff(&mut self) {
        self.backoff.reset();
    }

    /// Queues one text frame (a subscription, an application-level ping) on the open connection
    /// and sends what the socket takes now; the rest goes out with the next polls' flush.
    /// `Ok(false)`: not open, nothing sent. On a write error the connection is dropped (as
    /// [`Self::disconnect`]) and the reason returned. Allocates the frame: cold paths only.
    #[cold]
    pub fn send_text(&mut self, text: &str, now: Nanos) -> Result<bool, CloseReason> {
        let ConnState::Open { ws, .. } = &mut self.state else { return Ok(false) };
        let result = match ws.write(Message::text(text.to_owned())) {
            Ok(()) => ws.flush(),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(true),
            Err(tungstenite::Error::Io(e)) if is_would_block(&e) => Ok(true),
            Err(e) => {
                let reason = classify(e);
                self.disconnect(now);
                Err(reason)
            }
        }
    }

    /// Drops the connection (if any) and schedules a reconnect after the backoff.
    #[cold]
    pub fn disconnect(&mut self, now: Nanos) {
        let old = std::mem::replace(&mut self.state, ConnState::Idle { retry_at: Nanos::ZERO });
        if let Some(reg) = &self.registry {
            match old {
                ConnState::Connecting { mut tcp, .. } => {
                    let _ = reg.deregister(&mut tcp);
                }
                ConnState::Handshaking { mut mid, .. } => {
                    let _ = reg.deregister(mid.get_mut().get_mut().tcp_mut());
                }
                ConnState::Open { mut ws, .. } => {
                    let _ = reg.deregister(ws.get_mut().tcp_mut());
                }
                ConnState::Idle { .. } => {}
            }
        }
        self.state = ConnState::Idle { retry_at: now.saturating_add(self.backoff.next_delay()) };
    }

    /// Advances the connection: connects when due, resumes handshakes, and when open drains
    /// every available frame into `on_frame(payload)` and flushes queued control frames.
    pub fn poll(&mut self, now: Nanos, on_frame: &mut impl FnMut(&[u8])) -> WsProgress {
        let mut progress = WsProgress::default();
        if let ConnState::Open { ws, last_read } = &mut self.state {
            // Hot path: only touch the socket on readiness (or the rare safety sweep).
            if !self.ready && now.saturating_sub(*last_read) < IDLE_READ_INTERVAL {
                return progress;
            }
            self.ready = false;
            *last_read = now;
            match drain(ws, on_frame, &mut progress.frames) {
                Ok(()) => return progress,
                Err(reason) => {
                    progress.closed = Some(reason);
                    self.disconnect(now);
                    return progress;
                }
            }
        }
        self.advance_connection(now, &mut progress);
        progress
    }

    #[cold]
    fn advance_connection(&mut self, now: Nanos, progress: &mut WsProgress) {
        let Some(registry) = &self.registry else { return };
        let state = std::mem::replace(&mut self.state, ConnState::Idle { retry_at: Nanos::ZERO });
        self.state = match state {
            ConnState::Idle { retry_at } if now < retry_at => ConnState::Idle { retry_at },
            ConnState::Idle { .. } => {
                let addr = self.addrs[self.next_addr % self.addrs.len()];
                self.next_addr = self.next_addr.wrapping_add(1);
                match mio::net::TcpStream::connect(addr) {
                    Ok(mut tcp) => {
                        let _ = tcp.set_nodelay(true);
                        match registry.register(&mut tcp, self.token, mio::Interest::READABLE | mio::Interest::WRITABLE)
                        {
                            Ok(()) => ConnState::Connecting { tcp, since: now },
                            Err(e) => {
                                qt_core::core_log!(
                                    Warn, "ws: registering the socket failed", 0;
                                    url = FieldValue::text(&self.url), error = FieldValue::display(&e)
                                );
                                self.fail(now, CloseReason::Connect, progress)
                            }
                        }
                    }
                    Err(e) => {
                        qt_core::core_log!(
                            Warn, "ws: connect failed", 0;
                            url = FieldValue::text(&self.url), addr = FieldValue::display(&addr),
                            error = FieldValue::display(&e)
                        );
                        self.fail(now, CloseReason::Connect, progress)
                    }
                }
            }
            ConnState::Connecting { mut tcp, since } => match connect_status(&tcp) {
                Ok(true) => match TlsStream::new(self.tls.clone(), self.server_name.clone(), tcp) {
                    Ok(stream) => match tungstenite::client::client(self.url.as_str(), stream) {
                        Ok((ws, _)) => self.opened(ws, now, progress),
                        Err(HandshakeError::Interrupted(mid)) => {
                            ConnState::Handshaking { mid: Box::new(mid), since: now }
                        }
                        Err(HandshakeError::Failure(e)) => {
                            qt_core::core_log!(
                                Warn, "ws: WebSocket handshake failed", 0;
                                url = FieldValue::text(&self.url), error = FieldValue::display(&e)
                            );
                            self.fail(now, CloseReason::Handshake, progress)
                        }
                    },
                    Err(e) => {
                        qt_core::core_log!(
                            Warn, "ws: TLS setup failed", 0;
                            url = FieldValue::text(&self.url), error = FieldValue::display(&e)
                        );
                        self.fail(now, CloseReason::Handshake, progress)
                    }
                },
                Ok(false) if now.saturating_sub(since) < HANDSHAKE_TIMEOUT => ConnState::Connecting { tcp, since },
                Ok(false) => {
                    let _ = registry.deregister(&mut tcp);
                    qt_core::core_log!(Warn, "ws: connect timed out", 0; url = FieldValue::text(&self.url));
                    self.fail(now, CloseReason::Connect, progress)
                }
                Err(e) => {
                    let _ = registry.deregister(&mut tcp);
                    qt_core::core_log!(
                        Warn, "ws: connect failed", 0;
                        url = FieldValue::text(&self.url), error = FieldValue::display(&e)
                    );
                    self.fail(now, CloseReason::Connect, progress)
                }
            },
            ConnState::Handshaking { mid, since } => {
                if !self.ready && now.saturating_sub(since) < HANDSHAKE_TIMEOUT {
                    // Nothing new on the socket; the handshake cannot progress.
                    ConnState::Handshaking { mid, since }
                } else {
                    self.ready = false;
                    match mid.handshake() {
                        Ok((ws, _)) => self.opened(ws, now, progress),
                        Err(HandshakeError::Interrupted(mut mid)) => {
                            if now.saturating_sub(since) < HANDSHAKE_TIMEOUT {
                                ConnState::Handshaking { mid: Box::new(mid), since }
                            } else {
                                let _ = registry.deregister(mid.get_mut().get_mut().tcp_mut());
                                qt_core::core_log!(Warn, "ws: handshake timed out", 0; url = FieldValue::text(&self.url));
                                self.fail(now, CloseReason::Handshake, progress)
                            }
                        }
                        Err(HandshakeError::Failure(e)) => {
                            qt_core::core_log!(
                                Warn, "ws: handshake failed", 0;
                                url = FieldValue::text(&self.url), error = FieldValue::display(&e)
                            );
                            self.fail(now, CloseReason::Handshake, progress)
                        }
                    }
                }
            }
            open @ ConnState::Open { .. } => open,
        };
    }

    #[cold]
    fn opened(&mut self, ws: WebSocket<TlsStream>, now: Nanos, progress: &mut WsProgress) -> ConnState {
        qt_core::core_log!(Info, "ws: connected", 0; url = FieldValue::text(&self.url));
        progress.opened = true;
        // Data may already sit in rustls' buffers: read on the next poll regardless of edges.
        self.ready = true;
        ConnState::Open { ws: Box::new(ws), last_read: now }
    }

    #[cold]
    fn fail(&mut self, now: Nanos, reason: CloseReason, progress: &mut WsProgress) -> ConnState {
        progress.closed = Some(reason);
        ConnState::Idle { retry_at: now.saturating_add(self.backoff.next_delay()) }
    }
}

/// Whether a non-blocking connect finished (`Ok(false)`: still in progress).
fn connect_status(tcp: &mio::net::TcpStream) -> io::Result<bool> {
    if let Some(e) = tcp.take_error()? {
        return Err(e);
    }
    match tcp.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads frames until `WouldBlock`, handing data frames to `on_frame`; then flushes pongs.
#[inline]
fn drain(
    ws: &mut WebSocket<TlsStream>,
    on_frame: &mut impl FnMut(&[u8]),
    frames: &mut usize,
) -> Result<(), CloseReason> {
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                *frames += 1;
                on_frame(text.as_bytes());
            }
            Ok(Message::Binary(bytes)) => {
                *frames += 1;
                on_frame(&bytes);
            }
            // Pings are answered by tungstenite (queued, flushed below); a close frame is
            // answered too, and the next read reports the end.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_)) => {}
            Err(tungstenite::Error::Io(e)) if is_would_block(&e) => break,
            Err(e) => return Err(classify(e)),
        }
    }
    match ws.flush() {
        Ok(()) => Ok(()),
        Err(tungstenite::Error::Io(e)) if is_would_block(&e) => Ok(()),
        Err(e) => Err(classify(e)),
    }
}

#[cold]
fn classify(e: tungstenite::Error) -> CloseReason {
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => CloseReason::Eof,
        tungstenite::Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => CloseReason::Eof,
        tungstenite::Error::Io(_) | tungstenite::Error::Tls(_) => CloseReason::Io,
        _ => CloseReason::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(Nanos(100_000_000), Nanos(5_000_000_000), 7);
        let mut nominal = 100_000_000i64;
        for _ in 0..12 {
            let d = b.next_delay().0;
            assert!(d >= nominal / 1000 * 750 && d < nominal / 1000 * 1250, "{d} vs {nominal}");
            nominal = (nominal * 2).min(5_000_000_000);
        }
        b.reset();
        assert!(b.next_delay().0 < 125_000_000);
    }
}
