//! The kit's private-stream layer: one reader thread per account holding that account's
//! private WebSocket (orders, fills), feeding the gateway thread over a bounded crossbeam
//! channel. What is venue-specific — how the connection is opened (a listen key, a login),
//! which frames end it, what keeps it alive — is a [`StreamSession`] the venue implements.
//!
//! Each thread reads with a short socket timeout ([`READ_POLL`]) so it sees the stop flag and
//! its session's timers promptly; forwards every text frame, and every connect and drop, as a
//! [`StreamMsg`]; answers the server's pings (tungstenite queues the pong; the loop flushes it);
//! reconnects with exponential backoff ([`BACKOFF_MIN`]..[`BACKOFF_MAX`]) after a drop; and on
//! stop closes the socket and lets its session clean up ([`StreamSession::close`]). When the
//! channel is full ([`CHANNEL_CAPACITY`] messages the gateway has not taken) it waits for room,
//! looking at the stop flag: a frame is never dropped, and a gateway far behind slows its
//! readers rather than growing a queue without bound. Allocates per frame (the text it forwards).

use crate::kit::http::{Endpoint, TlsStream, connect_tls, is_timeout};
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

/// Socket read timeout of an open stream: the longest a thread goes without looking at the
/// stop flag and its timers.
pub(crate) const READ_POLL: Duration = Duration::from_millis(50);
/// First reconnect delay.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest reconnect delay.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Messages the stream threads may have queued for the gateway thread before they wait.
pub(crate) const CHANNEL_CAPACITY: usize = 65_536;
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

/// The channel between the stream threads and the gateway thread.
pub(crate) fn channel() -> (Sender<StreamMsg>, Receiver<StreamMsg>) {
    crossbeam_channel::bounded(CHANNEL_CAPACITY)
}

/// Where a stream lives and how to reach it.
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

/// Opens `<endpoint><path>`: TCP, TLS, WebSocket upgrade; then sets the short read timeout
/// the stream thread polls with. `path` starts with `/` (it may carry a secret-ish token: it is
/// never put in the error).
pub(crate) fn connect(target: &WsTarget, path: &str) -> Result<Ws, String> {
    let e = &target.endpoint;
    let stream = connect_tls(e, &target.name, &target.tls, target.timeout).map_err(|err| err.to_string())?;
    let host = if e.host.contains(':') { format!("[{}]", e.host) } else { e.host.clone() };
    let url = format!("wss://{host}:{}{}{path}", e.port, e.prefix);
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

/// Sends `text` (a login, a subscription) on a stream being opened and reads until the frame
/// `answer` recognises as its answer — `Some(Ok(()))` accepted, `Some(Err(why))` refused —
/// within `timeout`; other frames are skipped (nothing is subscribed yet). `what` names the
/// request in errors.
pub(crate) fn exchange(
    ws: &mut Ws,
    text: String,
    what: &str,
    timeout: Duration,
    answer: impl Fn(&str) -> Option<Result<(), String>>,
) -> Result<(), String> {
    ws.send(Message::text(text)).map_err(|e| format!("sending {what}: {e}"))?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(t)) => {
                if let Some(result) = answer(t.as_str()) {
                    return result;
                }
            }
            Ok(Message::Close(f)) => return Err(format!("closed during {what}: {f:?}")),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(e) => return Err(format!("during {what}: {e}")),
        }
    }
    Err(format!("no answer to {what} within {timeout:?}"))
}

/// What a text frame means to the stream ([`StreamSession::classify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameAction {
    /// Hand it to the gateway thread.
    Forward,
    /// The venue ended the session (e.g. Binance's `listenKeyExpired`): drop and reconnect.
    Reconnect(String),
    /// Session housekeeping (an auth answer, a pong): nothing for the gateway.
    Ignore,
}

/// A venue's private stream of one account, driven by [`run`] on the account's thread.
pub(crate) trait StreamSession: Send + 'static {
    /// Opens a connection: authenticates (a listen key, a login) and connects. Called to
    /// reconnect after a drop.
    fn open(&mut self) -> Result<Ws, String>;
    /// What a text frame means.
    fn classify(&mut self, text: &str) -> FrameAction;
    /// Upkeep on every pass (a keepalive when due); an error drops the connection (when
    /// `connected`) so it is opened again.
    fn maintain(&mut self, now: Instant, connected: bool) -> Result<(), String>;
    /// A text frame to send now on the open connection (an application-level heartbeat such as
    /// Bybit's `{"op":"ping"}`), or `None`. Called on every pass while connected; a failed send
    /// drops the connection. Default: nothing to send.
    fn heartbeat(&mut self, _now: Instant) -> Option<String> {
        None
    }
    /// Cleans up once the socket is closed at the end (e.g. deletes the listen key).
    fn close(&mut self);
    /// Where the stream is, for logs (never a secret).
    fn describe(&self) -> String;
}

/// The stream threads of one gateway.
#[derive(Debug)]
pub(crate) struct StreamThreads {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl StreamThreads {
    /// No thread yet.
    pub(crate) fn new() -> Self {
        Self { stop: Arc::new(AtomicBool::new(false)), threads: Vec::new() }
    }

    /// Starts thread `name` running `session` for account index `account`, whose first
    /// connection `ws` is already open.
    pub(crate) fn spawn<S: StreamSession>(
        &mut self,
        name: String,
        session: S,
        account: usize,
        ws: Ws,
        tx: Sender<StreamMsg>,
    ) -> std::io::Result<()> {
        let stop = self.stop.clone();
        let h = std::thread::Builder::new().name(name).spawn(move || run(session, account, Some(ws), &stop, &tx))?;
        self.threads.push(h);
        Ok(())
    }

    /// Stops every thread and waits for it (each closes its socket and session).
    pub(crate) fn stop(self, venue: &str) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            if t.join().is_err() {
                log::error!("{venue} gateway: a private stream thread panicked");
            }
        }
    }
}

/// Closes a session whose thread never started (a failed start): its socket, then the session.
#[cold]
pub(crate) fn close_unstarted<S: StreamSession>(mut session: S, ws: Option<Ws>) {
    if let Some(mut ws) = ws {
        let _ = ws.close(None);
        let _ = ws.flush();
    }
    session.close();
}

/// Sends `msg`, waiting for room while the channel is full; false when the gateway is gone or
/// `stop` is set meanwhile.
fn send(tx: &Sender<StreamMsg>, stop: &AtomicBool, mut msg: StreamMsg) -> bool {
    loop {
        match tx.send_timeout(msg, READ_POLL) {
            Ok(()) => return true,
            Err(SendTimeoutError::Timeout(m)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                msg = m;
            }
            Err(SendTimeoutError::Disconnected(_)) => return false,
        }
    }
}

/// The thread body: read, forward, keep alive, reconnect, until `stop`; then close.
pub(crate) fn run<S: StreamSession>(
    mut session: S,
    account: usize,
    mut ws: Option<Ws>,
    stop: &AtomicBool,
    tx: &Sender<StreamMsg>,
) {
    let tell = |event| send(tx, stop, StreamMsg { account, event });
    let mut backoff = BACKOFF_MIN;
    let mut next_attempt = Instant::now();
    if ws.is_some() && !tell(StreamEvent::Connected { reconnect: false }) {
        return close_unstarted(session, ws);
    }
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if let Err(reason) = session.maintain(now, ws.is_some())
            && ws.is_some()
        {
            log::warn!("private stream {}: {reason}; reconnecting", session.describe());
            ws = None;
            if !tell(StreamEvent::Disconnected { reason }) {
                break;
            }
        }
        let Some(conn) = ws.as_mut() else {
            if now < next_attempt {
                std::thread::sleep((next_attempt - now).min(READ_POLL));
                continue;
            }
            match session.open() {
                Ok(conn) => {
                    ws = Some(conn);
                    backoff = BACKOFF_MIN;
                    log::info!("private stream {}: reconnected", session.describe());
                    if !tell(StreamEvent::Connected { reconnect: true }) {
                        break;
                    }
                }
                Err(e) => {
                    log::warn!("private stream {}: reconnect failed: {e}", session.describe());
                    next_attempt = Instant::now() + backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
            continue;
        };
        // A heartbeat due goes out first; a failed send drops the connection like a failed read.
        let beat = match session.heartbeat(now).map(|text| conn.send(Message::text(text))) {
            Some(Err(tungstenite::Error::Io(e))) if is_timeout(&e) => Ok(()),
            Some(Err(e)) => Err(format!("sending a heartbeat: {e}")),
            Some(Ok(())) | None => Ok(()),
        };
        let outcome = if let Err(reason) = beat {
            Err(reason)
        } else {
            match conn.read() {
                Ok(Message::Text(text)) => match session.classify(text.as_str()) {
                    FrameAction::Forward => {
                        if tell(StreamEvent::Frame(text.as_str().to_string())) {
                            Ok(())
                        } else {
                            break;
                        }
                    }
                    FrameAction::Reconnect(reason) => Err(reason),
                    FrameAction::Ignore => Ok(()),
                },
                Ok(Message::Binary(_) | Message::Pong(_) | Message::Frame(_)) => Ok(()),
                // The pong is queued by tungstenite; send it now.
                Ok(Message::Ping(_)) => match conn.flush() {
                    Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(()),
                    Err(e) => Err(format!("answering a ping: {e}")),
                    Ok(()) => Ok(()),
                },
                Ok(Message::Close(frame)) => Err(format!("closed by the server ({frame:?})")),
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => match conn.flush() {
                    Err(tungstenite::Error::Io(e)) if is_timeout(&e) => Ok(()),
                    Err(e) => Err(format!("flushing: {e}")),
                    Ok(()) => Ok(()),
                },
                Err(e) => Err(e.to_string()),
            }
        };
        if let Err(reason) = outcome {
            log::warn!("private stream {}: {reason}; reconnecting", session.describe());
            ws = None;
            if !tell(StreamEvent::Disconnected { reason }) {
                break;
            }
            next_attempt = Instant::now() + backoff;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
    close_unstarted(session, ws);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> StreamMsg {
        StreamMsg { account: 0, event: StreamEvent::Frame(n.to_string()) }
    }

    #[test]
    fn a_full_channel_waits_for_room_and_never_drops_a_frame() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let stop = AtomicBool::new(false);
        assert!(send(&tx, &stop, frame(0)));
        std::thread::scope(|s| {
            // The gateway takes its frames late (after a few poll periods of the sender).
            let taker = s.spawn(|| {
                std::thread::sleep(READ_POLL * 3);
                (0..3).map(|_| rx.recv().unwrap()).collect::<Vec<_>>()
            });
            assert!(send(&tx, &stop, frame(1)), "waited, then delivered");
            assert!(send(&tx, &stop, frame(2)));
            let got: Vec<String> = taker
                .join()
                .unwrap()
                .into_iter()
                .map(|m| match m.event {
                    StreamEvent::Frame(t) => t,
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(got, ["0", "1", "2"]);
        });
        // Full and stopping: gives up instead of waiting forever.
        assert!(send(&tx, &stop, frame(3)));
        stop.store(true, Ordering::Relaxed);
        assert!(!send(&tx, &stop, frame(4)));
        drop(rx);
        assert!(!send(&tx, &AtomicBool::new(false), frame(5)), "the gateway is gone");
    }
}
