//! The kit's gateway shell: what every signed-REST gateway with per-account private streams
//! (OKX, Bybit, and the venues built after them) shares, so a venue's gateway holds only its
//! requests, its answers and its stream events.
//!
//! - [`GatewayCore`]: the state such a gateway embeds — the accounts with their keys, the
//!   order state with its reports and reconciliation schedule, the REST link (client, limiter,
//!   clock) and the run id that names our orders.
//! - [`ShellGateway`]: what a venue implements — its commands, its stream frames, its queries,
//!   what its answers say about limits and timestamps. Blanket impls turn it into the kit
//!   loop's [`VenueGateway`] and the signed sending of [`SignedRest`].
//! - [`start`]: the one start-up — TLS and server names, the venue's clock, each account's
//!   private stream opened (logged in and subscribed) before it returns so no order can fill
//!   unseen, then the gateway thread on the kit loop.
//!
//! ```text
//!  venue::spawn ─validate─► start(cfg, endpoints, make gateway, make session)
//!     links: HttpsClient (REST) + WsTarget (private stream)
//!     gateway = make(http) ─► sync_time
//!     per account i: session(i) ─open─► StreamThreads "qt-gw-<venue>-ps<i>"
//!     thread "qt-gw-<venue>": kit::thread::run(gateway) until stop / rings gone
//! ```
//!
//! Start-up allocates; the thread's per-request costs are the venue's.

use crate::kit::config::GatewayConfig;
use crate::kit::error::GatewayError;
use crate::kit::health::{HealthReporter, RequestOutcomes};
use crate::kit::http::{Endpoint, HttpsClient, Response, server_name, tls_config};
use crate::kit::order_state::{OrderState, ReportsClosed};
use crate::kit::private_stream::{self, StreamEvent, StreamMsg, StreamSession, StreamThreads, WsTarget};
use crate::kit::rate_limit::LimitRule;
use crate::kit::rest_link::{Req, RestLink, SignedRest};
use crate::kit::stats::GatewayStats;
use crate::kit::thread::{self, Inputs, VenueGateway};
use crate::sign::RequestSigner;
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, ClientOrderId, Clock as _, ExecutionReport, InstrumentId, Nanos, OrderCommand, OrderId, OrderRequest,
    WallClock,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// An account's credentials as a venue's gateway holds them.
pub(crate) trait AccountKey: Send + 'static {
    /// The signer of the account's REST requests.
    fn signer(&self) -> &dyn RequestSigner;
}

/// What a venue's REST link is.
#[derive(Clone, Copy)]
pub(crate) struct LinkSpec {
    /// The venue's name in logs (`okx`).
    pub(crate) venue: &'static str,
    /// Its rate-limit rules.
    pub(crate) rules: &'static [LimitRule],
    /// Its time endpoint (unsigned; also the health probe).
    pub(crate) server_time: fn(&mut HttpsClient) -> Result<i64, String>,
}

/// The state a shell gateway embeds (as its `core` field).
pub(crate) struct GatewayCore<K> {
    /// Run id for [`ClientOrderId`]; events of other runs' orders are ignored.
    pub(crate) run_id: u32,
    /// `(account, key)`, in the configuration's order (the index is the stream threads').
    pub(crate) accounts: Vec<(AccountId, K)>,
    account_index: HashMap<AccountId, usize>,
    /// The orders, their reports and reconciliation schedule.
    pub(crate) state: OrderState,
    /// The REST client, limits and the venue's clock (its offset shared with the stream
    /// threads: their logins).
    pub(crate) link: RestLink,
}

impl<K: AccountKey> GatewayCore<K> {
    /// The core of a gateway for `cfg` whose accounts sign with `accounts`' keys, its REST link
    /// as `spec` says.
    pub(crate) fn new(
        cfg: &GatewayConfig,
        accounts: Vec<(AccountId, K)>,
        http: HttpsClient,
        reports: Producer<ExecutionReport>,
        spec: LinkSpec,
    ) -> Self {
        let account_index = accounts.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
        Self {
            run_id: cfg.run_id,
            accounts,
            account_index,
            state: OrderState::new(cfg.venue, reports),
            link: RestLink::new(cfg, http, spec.rules, spec.venue, spec.server_time),
        }
    }

    /// The index of `account`, if this gateway trades for it.
    pub(crate) fn account(&self, account: AccountId) -> Option<usize> {
        self.account_index.get(&account).copied()
    }

    /// The id of the account at index `acct`.
    pub(crate) fn account_id(&self, acct: usize) -> Option<AccountId> {
        self.accounts.get(acct).map(|(id, _)| *id)
    }

    /// Our client order id of `order_id` at the venue.
    pub(crate) fn client_order_id(&self, order_id: OrderId) -> ClientOrderId {
        ClientOrderId::new(self.run_id, order_id)
    }

    /// Counts a private-stream frame that could not be read and queries the account's live
    /// orders at once (what the frame said is recovered from the venue).
    #[cold]
    pub(crate) fn malformed(&mut self, venue: &str, acct: usize, what: &str, text: &str) {
        self.state.stats.malformed += 1;
        let end = text.char_indices().nth(500).map_or(text.len(), |(i, _)| i);
        log::warn!("{venue} gateway: malformed private stream frame ({what}); querying live orders: {}", &text[..end]);
        if let Some(id) = self.account_id(acct) {
            self.state.schedule_account(id, Duration::ZERO);
        }
    }
}

/// What a venue's shell gateway implements; the kit's loop and signed sending come with it.
pub(crate) trait ShellGateway: Send + 'static {
    /// The account key type.
    type Key: AccountKey;
    /// The venue's name in logs (`okx`).
    const VENUE: &'static str;
    /// The embedded core.
    fn core(&mut self) -> &mut GatewayCore<Self::Key>;
    /// The embedded core, shared.
    fn core_ref(&self) -> &GatewayCore<Self::Key>;
    /// Places a new order.
    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed>;
    /// Cancels one order.
    fn on_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
    ) -> Result<(), ReportsClosed>;
    /// Cancels an account's orders (on one instrument, or all).
    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>);
    /// One text frame of account index `acct`'s private stream.
    fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed>;
    /// Runs the order queries due at `now`; returns how many ran.
    fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed>;
    /// Learns from the answer to `req` signed at `venue_ms` (limits, a refused timestamp:
    /// [`RestLink::note`]).
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, req: Req<'_>);
    /// Whether the venue refused the request's timestamp.
    fn is_timestamp_reject(resp: &Response) -> bool;
    /// The venue's own timed work at `now`, after the kit's (Kraken refreshes its dead-man's
    /// switch); returns how many things it did. Default: none.
    fn on_venue_timers(&mut self, _now: Instant) -> usize {
        0
    }
    /// The venue's own end, after the kit's (Kraken disarms its dead-man's switch on a clean
    /// stop). Default: nothing.
    fn on_finish(&mut self) {}
}

impl<G: ShellGateway> VenueGateway for G {
    fn on_command(&mut self, cmd: OrderCommand) -> Result<(), ReportsClosed> {
        match cmd {
            OrderCommand::New { order_id, request, .. } => self.on_new(order_id, request),
            OrderCommand::Cancel { order_id, account, instrument } => self.on_cancel(order_id, account, instrument),
            OrderCommand::CancelAll { account, instrument } => {
                self.on_cancel_all(account, instrument);
                Ok(())
            }
        }
    }

    fn on_stream(&mut self, msg: StreamMsg) -> Result<(), ReportsClosed> {
        if let StreamEvent::Frame(text) = &msg.event {
            return self.on_frame(msg.account, text);
        }
        let core = self.core();
        let id = core.account_id(msg.account);
        if core.state.on_stream_status(id, msg.account, &msg.event, G::VENUE) {
            self.run_due_reconciles(Instant::now())?;
        }
        Ok(())
    }

    fn on_timers(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let synced = self.core().link.time.due(now) && SignedRest::sync_time(self, now);
        let reconciled = self.run_due_reconciles(now)?;
        Ok(usize::from(synced) + reconciled + self.on_venue_timers(now))
    }

    fn finish(&mut self) {
        self.core_ref().state.log_unreconciled(G::VENUE);
        self.on_finish();
    }

    fn requests(&self) -> &RequestOutcomes {
        self.core_ref().link.outcomes()
    }

    /// One unsigned request to the venue's time endpoint, unless the limiter is backing off.
    fn probe(&mut self) {
        self.core().link.probe();
    }

    fn stats(&mut self) -> &mut GatewayStats {
        &mut self.core().state.stats
    }
}

impl<G: ShellGateway> SignedRest for G {
    const VENUE: &'static str = <G as ShellGateway>::VENUE;

    fn parts(&mut self, acct: usize) -> Option<(&mut RestLink, &mut GatewayStats, &dyn RequestSigner)> {
        let core = self.core();
        let signer = core.accounts.get(acct)?.1.signer();
        Some((&mut core.link, &mut core.state.stats, signer))
    }

    fn link_stats(&mut self) -> (&mut RestLink, &mut GatewayStats) {
        let core = self.core();
        (&mut core.link, &mut core.state.stats)
    }

    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, req: Req<'_>) {
        ShellGateway::note_answer(self, acct, venue_ms, resp, req);
    }

    fn is_timestamp_reject(resp: &Response) -> bool {
        <G as ShellGateway>::is_timestamp_reject(resp)
    }
}

/// A venue's epoch-milliseconds time as [`Nanos`]; our clock's now when the venue gave none.
pub(crate) fn ms_to_nanos(ms: Option<i64>) -> Nanos {
    ms.map_or_else(|| WallClock.now(), |m| Nanos(m.saturating_mul(1_000_000)))
}

/// How a venue's gateway is started by [`start`].
pub(crate) struct Startup<'a> {
    /// The configuration (already validated by the venue).
    pub(crate) cfg: &'a GatewayConfig,
    /// The venue's name in messages (`OKX`).
    pub(crate) venue_name: &'static str,
    /// The validated REST and private-stream endpoints.
    pub(crate) endpoints: (Endpoint, Endpoint),
}

/// What [`start`] gives a venue to open account `i`'s private stream session.
pub(crate) struct SessionArgs<'a> {
    /// The account's index in the configuration.
    pub(crate) index: usize,
    /// The account.
    pub(crate) account: AccountId,
    /// Where the private stream is (endpoint, TLS, timeout).
    pub(crate) target: &'a WsTarget,
}

/// Starts a shell gateway: builds the REST client, makes the gateway (`make`), estimates the
/// venue's clock, opens each account's private stream session (`session`; `None` for a venue
/// without one, e.g. a polling gateway with [`NoStream`]; an open refused is
/// `stream_error(account, ws_url, reason)`) and starts its thread, then the gateway thread
/// `qt-gw-<venue>`. Every stream is open before this returns; on any failure the streams
/// already started are stopped.
pub(crate) fn start<G, S>(
    up: Startup<'_>,
    make: impl FnOnce(HttpsClient) -> Result<G, GatewayError>,
    mut session: impl FnMut(&G, SessionArgs<'_>) -> Result<Option<S>, GatewayError>,
    stream_error: impl Fn(AccountId, &str, String) -> GatewayError,
    orders: Consumer<OrderCommand>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError>
where
    G: ShellGateway,
    S: StreamSession,
{
    let Startup { cfg, venue_name, endpoints: (rest, ws) } = up;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let config_error =
        |m: String| GatewayError::Config { venue: venue_name, problems: vec![format!("server_name: {m}")] };
    let rest_name = server_name(&rest, cfg.server_name.as_deref()).map_err(config_error)?;
    let ws_name = server_name(&ws, cfg.server_name.as_deref()).map_err(config_error)?;
    let ws_url = ws.url.clone();
    let target = WsTarget { endpoint: ws, name: ws_name, tls: tls.clone(), timeout: cfg.request_timeout };
    let http = HttpsClient::new(rest, rest_name, tls, cfg.request_timeout);

    // The venue's clock first: the logins' timestamps and every signature use it.
    let mut gateway = make(http)?;
    SignedRest::sync_time(&mut gateway, Instant::now());

    let (tx, rx) = private_stream::channel();
    let mut streams = StreamThreads::new();
    for (index, (account, _, _)) in cfg.accounts.iter().enumerate() {
        let opened = session(&gateway, SessionArgs { index, account: *account, target: &target }).and_then(|s| {
            s.map(|mut s| s.open().map(|ws| (s, ws)).map_err(|reason| stream_error(*account, &ws_url, reason)))
                .transpose()
        });
        let (s, ws) = match opened {
            Ok(Some(opened)) => opened,
            Ok(None) => continue,
            Err(e) => {
                streams.stop(venue_name);
                return Err(e);
            }
        };
        log::info!("{} gateway: account {account} private stream open", G::VENUE);
        let name = format!("qt-gw-{}-ps{index}", G::VENUE);
        if let Err(source) = streams.spawn(name.clone(), s, index, ws, tx.clone()) {
            streams.stop(venue_name);
            return Err(GatewayError::Spawn { name, source });
        }
    }
    drop(tx);

    let health = HealthReporter::new(cfg.venue, venue_name, cfg.control.clone());
    let mut inputs = Inputs { orders, stream: rx, health };
    let name = format!("qt-gw-{}", G::VENUE);
    let idle = cfg.idle;
    let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
        thread::run(&mut gateway, &mut inputs, &stop, venue_name, idle);
        streams.stop(venue_name);
        let stats = gateway.core_ref().state.stats;
        log::info!("{} gateway: stopped; {stats:?}", G::VENUE);
        stats
    });
    spawned.map_err(|source| GatewayError::Spawn { name, source })
}

/// The session type of a gateway without private streams (its `session` returns `None`).
pub(crate) enum NoStream {}

impl StreamSession for NoStream {
    fn open(&mut self) -> Result<private_stream::Ws, String> {
        match *self {}
    }
    fn classify(&mut self, _text: &str) -> private_stream::FrameAction {
        match *self {}
    }
    fn maintain(&mut self, _now: Instant, _connected: bool) -> Result<(), String> {
        match *self {}
    }
    fn close(&mut self) {
        match *self {}
    }
    fn describe(&self) -> String {
        match *self {}
    }
}
