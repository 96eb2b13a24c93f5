//! [`VenueSimServer`]: the simulator's sockets and threads. One TLS listener per protocol on
//! loopback; each accepted connection gets its own thread (`conn`), which does the TLS
//! handshake, reads HTTP/1.1 requests and either serves them (the protocol's REST handler, or
//! the simulator's own `/_sim/` control endpoints, [`crate::control`]) or upgrades the
//! connection to a WebSocket session that the protocol runs (`ws_session`).
//!
//! Threads: `vsim-<protocol>-accept` per listener (non-blocking accept polled every
//! [`ACCEPT_POLL`]; it never touches a client's bytes, so no client can hold it up),
//! `vsim-<protocol>-conn` per connection and `vsim-<protocol>-refuse` per refused one (both with
//! a [`CONN_STACK`] stack), and the market's flow thread. All watch one stop flag;
//! [`RunningServer::shutdown`] (also run on drop) sets it and joins them.
//!
//! Limits ([`ConnectionLimits`], per listener): at most `max_connections` connections are
//! served at once; past that, up to `max_refusals` more are each answered a fast `503` (or, for
//! `/_sim/`, served) on a short deadline, and any beyond those are closed at accept. Each
//! connection has a whole-request deadline (TLS handshake and first request within
//! `request_deadline` of accept, every later request within `request_deadline` of its first
//! byte) and an idle limit between requests, so slow or idle clients free their slots instead
//! of holding them.
//!
//! Faults applied by the server rather than the protocols: an outage drops requests and open
//! connections (`conn`; `/_sim/` stays reachable); a pending REST failure answers the
//! next REST request with its status; a WebSocket session ends without a close frame when the
//! fault generation changes ([`Faults::drop_ws_connections`]).

use crate::conn::{refuse, serve_connection};
use crate::faults::Faults;
use crate::market::Market;
use crate::protocol::{Ctx, Protocol};
use crate::tls::{SimCertificates, TlsError};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::control::DEFAULT_BOOK_DEPTH;

/// How often an idle accept loop looks for a new connection or the stop flag.
pub const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// Read timeout of connection sockets: the longest a connection thread goes without checking
/// the stop flag and faults.
pub const READ_POLL: Duration = Duration::from_millis(50);
/// Write timeout of connection sockets (a client that stops reading loses its connection).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a WebSocket upgrade may take once its request has been read.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ConnectionLimits::request_deadline`].
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Default [`ConnectionLimits::idle_timeout`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`ConnectionLimits::max_connections`].
pub const MAX_CONNECTIONS: usize = 4096;
/// Default [`ConnectionLimits::max_refusals`].
pub const MAX_REFUSALS: usize = 64;
/// Default [`ConnectionLimits::refusal_deadline`].
pub const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);
/// Stack size of connection and refusal threads: a few thousand of them stay cheap. The
/// deepest users (TLS, JSON, a protocol handler) need far less.
pub const CONN_STACK: usize = 512 * 1024;
/// How long shutdown waits for connection threads before leaving them behind.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest WebSocket message accepted from a client.
pub const MAX_WS_MESSAGE: usize = 1024 * 1024;

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

/// How many connections a listener serves and how long it waits for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once per listener (the slots a slow client could take).
    pub max_connections: usize,
    /// The TLS handshake and the whole first request (head and body) must arrive within this of
    /// accept, and every later request within this of its first byte; a request still
    /// incomplete then is answered `408` and the connection closed.
    pub request_deadline: Duration,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections past the cap answered `503` at once (each on its own short-lived thread);
    /// past this many as well, a connection is closed at accept.
    pub max_refusals: usize,
    /// How long a refused connection has for its handshake and request head.
    pub refusal_deadline: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            request_deadline: REQUEST_DEADLINE,
            idle_timeout: IDLE_TIMEOUT,
            max_refusals: MAX_REFUSALS,
            refusal_deadline: REFUSAL_DEADLINE,
        }
    }
}

/// Starts simulators.
#[derive(Debug, Clone, Copy)]
pub struct VenueSimServer;

impl VenueSimServer {
    /// [`VenueSimServer::start_with_limits`] with the default [`ConnectionLimits`].
    pub fn start(cfg: ServerConfig) -> Result<RunningServer, SimError> {
        Self::start_with_limits(cfg, ConnectionLimits::default())
    }

    /// Makes the certificates, binds every listener, writes the CA file (only once every
    /// listener is bound), then starts the market's flow thread and the accept loops, each
    /// listener held to `limits`. Nothing is left running (and no CA file written) on a bind
    /// error.
    pub fn start_with_limits(cfg: ServerConfig, limits: ConnectionLimits) -> Result<RunningServer, SimError> {
        for (i, (p, _)) in cfg.protocols.iter().enumerate() {
            if cfg.protocols[..i].iter().any(|(q, _)| q.name() == p.name()) {
                return Err(SimError::DuplicateProtocol { index: i, name: p.name() });
            }
        }
        let certs = SimCertificates::generate()?;
        let tls = certs.server_config()?;

        let mut listeners = Vec::new();
        for (protocol, addr) in &cfg.protocols {
            let bind = |source| SimError::Bind { protocol: protocol.name(), addr: *addr, source };
            let listener = TcpListener::bind(addr).map_err(bind)?;
            listener.set_nonblocking(true).map_err(bind)?;
            let local = listener.local_addr().map_err(bind)?;
            listeners.push((protocol.clone(), listener, local));
        }
        // Only now that every listener is ours: a start that cannot bind (another simulator
        // holds the port) must leave that simulator's CA file, which its clients trust, alone.
        certs.write_ca_pem(&cfg.ca_file)?;

        let stop = Arc::new(AtomicBool::new(false));
        let mut server = RunningServer {
            addrs: listeners.iter().map(|(p, _, a)| (p.name(), *a)).collect(),
            ca_file: cfg.ca_file,
            market: cfg.market.clone(),
            faults: cfg.faults.clone(),
            listener_faults: Vec::new(),
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
            // Each listener its own scope of the shared faults (`/_sim/faults` with
            // `"only_here": true` sets them).
            let faults = Faults::scoped(&ctx.faults);
            server.listener_faults.push((venue, faults.clone()));
            let ctx = Ctx { faults, ..ctx.clone() };
            let listener_ctx = ListenerCtx { protocol, ctx, tls: tls.clone(), limits };
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
    /// Injected faults of every protocol (a test may set them directly instead of through
    /// `/_sim/faults`).
    pub faults: Arc<Faults>,
    /// Each protocol's own faults (a scope of [`RunningServer::faults`]), by protocol name.
    pub listener_faults: Vec<(&'static str, Arc<Faults>)>,
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

    /// Protocol `name`'s own faults (they reach its listener alone).
    pub fn faults_of(&self, name: &str) -> Option<&Arc<Faults>> {
        self.listener_faults.iter().find(|(n, _)| *n == name).map(|(_, f)| f)
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
pub(crate) struct ListenerCtx {
    pub(crate) protocol: Arc<dyn Protocol>,
    pub(crate) ctx: Ctx,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    pub(crate) limits: ConnectionLimits,
}

/// Starts a connection or refusal thread named `vsim-<protocol>-<role>` with a [`CONN_STACK`]
/// stack.
fn spawn_for(
    role: &str,
    sock: TcpStream,
    peer: SocketAddr,
    lc: &ListenerCtx,
    run: fn(TcpStream, SocketAddr, Instant, &ListenerCtx),
) -> io::Result<JoinHandle<()>> {
    let accepted = Instant::now();
    let lc = lc.clone();
    std::thread::Builder::new()
        .name(format!("vsim-{}-{role}", lc.protocol.name()))
        .stack_size(CONN_STACK)
        .spawn(move || run(sock, peer, accepted, &lc))
}

fn accept_loop(listener: TcpListener, lc: ListenerCtx) {
    let name = lc.protocol.name();
    let limits = lc.limits;
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    let mut refusals: Vec<JoinHandle<()>> = Vec::new();
    while !lc.ctx.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((sock, peer)) => {
                conns.retain(|t| !t.is_finished());
                refusals.retain(|t| !t.is_finished());
                let spawned = if conns.len() < limits.max_connections {
                    spawn_for("conn", sock, peer, &lc, serve_connection).map(|t| conns.push(t))
                } else if refusals.len() < limits.max_refusals {
                    log::debug!("venue-sim {name}: {} connections open, refusing {peer}", conns.len());
                    spawn_for("refuse", sock, peer, &lc, refuse).map(|t| refusals.push(t))
                } else {
                    log::warn!(
                        "venue-sim {name}: {} connections open and {} refusals under way; closing {peer} at accept",
                        conns.len(),
                        refusals.len()
                    );
                    Ok(())
                };
                if let Err(e) = spawned {
                    log::warn!("venue-sim {name}: no thread for {peer}: {e}");
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
    conns.append(&mut refusals);
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
