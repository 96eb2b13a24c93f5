//! One live WebSocket session: [`ReadySession`], where to connect (resolved off the core
//! thread: at start-up for a fixed URL, on the snapshot thread for a session opened over REST),
//! and [`Session`], the open (or opening) connection with its subscription state and its
//! heartbeat/silence clock.
//!
//! Resolving blocks on DNS (start-up or snapshot thread only); a [`Session`] is owned and
//! polled by the core thread and never blocks.

use super::heartbeat::{Heartbeat, Liveness};
use super::venue::SessionPlan;
use crate::endpoint::Endpoint;
use crate::ws::{Backoff, WsClient};
use qt_core::Nanos;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;

/// A session ready to connect: its endpoint resolved.
#[derive(Debug, Clone)]
pub(crate) struct ReadySession {
    endpoint: Endpoint,
    addrs: Vec<SocketAddr>,
    server_name: ServerName<'static>,
    heartbeat: Heartbeat,
    silence_timeout: Option<Nanos>,
}

impl ReadySession {
    /// Parses and resolves `plan.url` (blocks on DNS); `server_name` overrides the URL's host
    /// for TLS.
    #[cold]
    pub(crate) fn resolve(plan: SessionPlan, server_name: Option<&str>) -> Result<Self, crate::error::FeedError> {
        let endpoint = Endpoint::parse(&plan.url, "session url")?;
        let addrs = endpoint.resolve()?;
        let server_name = endpoint.server_name(server_name)?;
        Ok(Self { endpoint, addrs, server_name, heartbeat: plan.heartbeat, silence_timeout: plan.silence_timeout })
    }

    /// The resolved addresses (they seed the reconnect jitter).
    pub(crate) fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
}

/// One open (or opening) session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) ws: WsClient,
    pub(crate) live: Liveness,
    /// Subscriptions sent (false while waiting for the open or the venue's greeting).
    pub(crate) subscribed: bool,
    /// The WebSocket opened (a loss is a disconnect, not a failed connect).
    pub(crate) was_open: bool,
}

impl Session {
    /// A session to `ready`, registered with `registry` under `token`; it connects on its
    /// first poll.
    #[cold]
    pub(crate) fn start(
        ready: ReadySession,
        tls: Arc<ClientConfig>,
        backoff: Backoff,
        registry: &mio::Registry,
        token: usize,
    ) -> std::io::Result<Self> {
        let mut ws =
            WsClient::new(&ready.endpoint, ready.addrs, &ready.endpoint.target, ready.server_name, tls, backoff);
        ws.register(registry, token)?;
        Ok(Self { ws, live: Liveness::new(ready.heartbeat, ready.silence_timeout), subscribed: false, was_open: false })
    }
}
