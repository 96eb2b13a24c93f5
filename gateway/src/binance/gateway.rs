//! The Binance gateway thread `qt-gw-binance`: [`spawn`], and Binance's side of the kit's
//! gateway loop ([`crate::kit::thread`]) — [`OrderCommand`]s become signed REST requests and the
//! user data stream's `executionReport`s become [`ExecutionReport`]s.
//!
//! The loop, the per-order record with its fill de-duplication, the reports and the
//! reconciliation schedule are the kit's ([`crate::kit::order_state`]); the private-stream
//! threads are the kit's too ([`crate::kit::private_stream`], driven by
//! [`UserStream`](crate::binance::user_stream::UserStream)). What is here is Binance's: its
//! order parameters, answers and error codes. Each REST request blocks the thread for at most
//! the configured timeout. Allocates per request and per frame (JSON, text). Never panics on
//! venue input: every malformed answer or frame is logged at warn with its text, counted, and —
//! when it could hide a fill — followed by a query of the orders it may concern.
//!
//! Split by role: this file holds start-up, requests and commands; `gateway/stream_events.rs`
//! the user data stream's events; `gateway/reconcile.rs` the order queries and the catch-up of
//! fills the stream did not show.

mod reconcile;
mod stream_events;

use crate::binance::dialect::{Dialect, EventSink, IgnoreEvents, SPOT};
use crate::binance::errors::{CODE_CANCEL_REJECTED, CODE_INVALID_TIMESTAMP, GatewayError};
use crate::binance::limits;
use crate::binance::server_time::server_time;
use crate::binance::signer::{Signer, append_signed_tail, push_encoded};
use crate::binance::user_stream::{UserStream, api_error};
use crate::binance::ws_api_stream::WsApiStream;
use crate::binance::{BinanceGatewayConfig, GatewayStats, UserData};
use crate::kit::health::{HealthReporter, RequestOutcomes};
use crate::kit::http::{Endpoint, HttpsClient, Response, TransportError, server_name, tls_config};
use crate::kit::order_state::{OrderState, QueryReason, ReportsClosed};
use crate::kit::private_stream::{self, StreamMsg, StreamThreads, WsTarget};
use crate::kit::rate_limit::{Cost, Decision, RateLimiter};
use crate::kit::thread::{self, Inputs, VenueGateway};
use crate::kit::time_sync::TimeSync;
use qt_core::queue::{Consumer, Producer};
use qt_core::stats::StatsHandle;
use qt_core::stats::blocks::GatewayClockStats;
use qt_core::{
    AccountId, ClientOrderId, Clock as _, ExecutionReport, Instrument, InstrumentId, Nanos, Notional, OrderCommand,
    OrderId, OrderRequest, OrderType, Price, Qty, RejectReason, ReportKind, Rounding, Side, WallClock,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::kit::thread::IDLE_SLEEP;
/// Delay of the query of a stream's live orders after it reconnects: the server subscribes the
/// session to account events only after the upgrade answer, so an immediate query could miss
/// a fill that happens in between.
pub const RECONNECT_QUERY_DELAY: Duration = Duration::from_millis(250);
pub use crate::kit::order_state::{NOT_FOUND_LIMIT, NOT_FOUND_RETRY, QUERY_BACKOFF_MAX};

/// Starts the Binance gateway thread. Before it returns: validates `cfg` (all problems at
/// once), creates each account's listen key and opens its user data stream, and starts one
/// stream thread per account. The returned thread runs until `stop` is set, the order ring is
/// abandoned (and drained) or the report ring's consumer is gone; it then closes the streams,
/// deletes the listen keys and returns its [`GatewayStats`].
pub fn spawn(
    cfg: BinanceGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    spawn_with(cfg, &SPOT, Box::new(IgnoreEvents), orders, reports, stop)
}

/// [`spawn`] for the Binance API `d` speaks, its stream's other events going to `events`.
pub(crate) fn spawn_with(
    cfg: BinanceGatewayConfig,
    d: &'static Dialect,
    events: Box<dyn EventSink>,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let venue = d.venue_name;
    let (rest, ws, ws_api) = validate_for(&cfg, venue)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let rest_name = server_name(&rest, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue, problems: vec![format!("server_name: {m}")] })?;
    let ws_name = server_name(&ws, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue, problems: vec![format!("server_name: {m}")] })?;
    let ws_api_name = server_name(&ws_api, cfg.server_name.as_deref())
        .map_err(|m| GatewayError::Config { venue, problems: vec![format!("server_name: {m}")] })?;
    let target = WsTarget { endpoint: ws, name: ws_name, tls: tls.clone(), timeout: cfg.request_timeout };
    let ws_api = WsTarget { endpoint: ws_api, name: ws_api_name, tls: tls.clone(), timeout: cfg.request_timeout };
    let new_rest = || HttpsClient::new(rest.clone(), rest_name.clone(), tls.clone(), cfg.request_timeout);

    // Listen keys and streams first: nothing is traded before every stream is open.
    let (tx, rx) = private_stream::channel();
    let mut streams = StreamThreads::new();
    for (i, (account, api_key, secret)) in cfg.accounts.iter().enumerate() {
        let name = format!("{}-us{i}", d.thread);
        let spawned = match cfg.user_data {
            UserData::WsApi if d.ws_api_user_data => {
                let (key, clock) = (api_key.clone(), cfg.clock.clone());
                let mut session = WsApiStream::new(*account, key, secret, cfg.recv_window_ms, clock, ws_api.clone());
                match session.start() {
                    Ok(ws) => {
                        log::info!(
                            "{} gateway: account {account} user data subscribed on the WebSocket API",
                            d.log_name
                        );
                        Some(streams.spawn(name.clone(), session, i, ws, tx.clone()))
                    }
                    Err(e) if e.is_auth_rejected() => {
                        streams.stop(venue);
                        return Err(e);
                    }
                    Err(e) => {
                        log::warn!(
                            "{} gateway: account {account}: WebSocket API user data unavailable ({e}); using the \
                             listen-key stream",
                            d.log_name
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let spawned = match spawned {
            Some(s) => s,
            None => {
                let mut session =
                    UserStream::new(*account, api_key.clone(), new_rest(), target.clone(), d.listen_key_path);
                let ws = match session.start() {
                    Ok(ws) => ws,
                    Err(e) => {
                        private_stream::close_unstarted(session, None);
                        streams.stop(venue);
                        return Err(e);
                    }
                };
                log::info!("{} gateway: account {account} listen-key user data stream open", d.log_name);
                streams.spawn(name.clone(), session, i, ws, tx.clone())
            }
        };
        if let Err(source) = spawned {
            streams.stop(venue);
            return Err(GatewayError::Spawn { name, source });
        }
    }
    drop(tx);

    let mut gateway = Gateway::new(&cfg, d, events, new_rest(), reports);
    // The venue's clock before the first order: every signed timestamp uses it.
    gateway.sync_time(Instant::now());
    let health = HealthReporter::new(cfg.venue, d.log_name, cfg.control.clone());
    let mut inputs = Inputs { orders, stream: rx, health };
    let idle = cfg.idle;
    let spawned = std::thread::Builder::new().name(d.thread.into()).spawn(move || {
        thread::run(&mut gateway, &mut inputs, &stop, venue, idle);
        streams.stop(venue);
        log::info!("{} gateway: stopped; {:?}", d.log_name, gateway.state.stats);
        gateway.state.stats
    });
    spawned.map_err(|source| GatewayError::Spawn { name: d.thread.into(), source })
}

/// Checks every field; returns the parsed REST, stream and WebSocket API endpoints.
pub(crate) fn validate(cfg: &BinanceGatewayConfig) -> Result<(Endpoint, Endpoint, Endpoint), GatewayError> {
    validate_for(cfg, SPOT.venue_name)
}

/// [`validate`], naming `venue` in the error.
pub(crate) fn validate_for(
    cfg: &BinanceGatewayConfig,
    venue: &'static str,
) -> Result<(Endpoint, Endpoint, Endpoint), GatewayError> {
    let mut problems = Vec::new();
    let rest = Endpoint::parse(&cfg.rest_url, &["https"]).map_err(|m| problems.push(format!("rest_url: {m}"))).ok();
    let ws = Endpoint::parse(&cfg.ws_url, &["wss"]).map_err(|m| problems.push(format!("ws_url: {m}"))).ok();
    let ws_api = Endpoint::parse(cfg.effective_ws_api_url(), &["wss"])
        .map_err(|m| problems.push(format!("ws_api_url: {m}")))
        .ok();
    if !(1..=60_000).contains(&cfg.recv_window_ms) {
        problems.push(format!("recv_window_ms: {} is outside Binance's 1..=60000", cfg.recv_window_ms));
    }
    if cfg.request_timeout.is_zero() {
        problems.push("request_timeout: must be greater than zero".into());
    }
    if cfg.instruments.is_empty() {
        problems.push("instruments: at least one instrument is needed".into());
    }
    for (i, inst) in cfg.instruments.iter().enumerate() {
        let sym = inst.symbol();
        if sym.is_empty()
            || sym.len() > 20
            || !sym.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            problems.push(format!("instruments[{i}].symbol: {sym:?} is not a Binance symbol (^[A-Z0-9-_.]{{1,20}}$)"));
        }
        if cfg.instruments[..i].iter().any(|o| o.symbol() == sym) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} appears twice"));
        }
        if cfg.instruments[..i].iter().any(|o| o.id() == inst.id()) {
            problems.push(format!("instruments[{i}]: id {} appears twice", inst.id()));
        }
    }
    if cfg.accounts.is_empty() {
        problems.push("accounts: at least one account is needed".into());
    }
    for (i, (account, key, secret)) in cfg.accounts.iter().enumerate() {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            problems.push(format!("accounts[{i}].api_key: must be non-empty printable ASCII"));
        }
        if secret.is_empty() {
            problems.push(format!("accounts[{i}].secret: must not be empty"));
        }
        if cfg.accounts[..i].iter().any(|(a, _, _)| a == account) {
            problems.push(format!("accounts[{i}]: account {account} appears twice"));
        }
    }
    if let Some(name) = &cfg.server_name
        && rustls_pki_types::ServerName::try_from(name.as_str()).is_err()
    {
        problems.push(format!("server_name: {name:?} is not a DNS name or IP address"));
    }
    match (rest, ws, ws_api) {
        (Some(rest), Some(ws), Some(ws_api)) if problems.is_empty() => Ok((rest, ws, ws_api)),
        _ => Err(GatewayError::Config { venue, problems }),
    }
}

/// One account of the gateway.
struct Account {
    id: AccountId,
    api_key: String,
    signer: Signer,
}

/// `POST /api/v3/order` ACK answer.
#[derive(Debug, Deserialize)]
struct AckAnswer {
    #[serde(rename = "orderId")]
    order_id: u64,
    #[serde(rename = "transactTime", default)]
    transact_time: Option<i64>,
}

/// `GET /api/v3/order` answer (the fields used).
#[derive(Debug, Deserialize)]
struct QueryAnswer {
    #[serde(rename = "orderId")]
    order_id: u64,
    status: String,
    #[serde(rename = "executedQty")]
    executed_qty: String,
    /// Spot's `cummulativeQuoteQty`, USD-M's `cumQuote`.
    #[serde(rename = "cummulativeQuoteQty", alias = "cumQuote")]
    cum_quote: String,
    #[serde(rename = "updateTime", default)]
    update_time: Option<i64>,
}

fn ms_to_nanos(ms: Option<i64>) -> Nanos {
    ms.map_or_else(|| WallClock.now(), |m| Nanos(m.saturating_mul(1_000_000)))
}

pub(crate) fn now_ms() -> i64 {
    WallClock.now().0 / 1_000_000
}

/// The gateway thread's state.
struct Gateway {
    /// The Binance API spoken.
    d: &'static Dialect,
    /// The stream's events other than order events.
    events: Box<dyn EventSink>,
    run_id: u32,
    recv_window: String,
    instruments: Vec<Instrument>,
    by_id: HashMap<InstrumentId, usize>,
    by_symbol: HashMap<String, usize>,
    accounts: Vec<Account>,
    account_index: HashMap<AccountId, usize>,
    http: HttpsClient,
    state: OrderState,
    limits: RateLimiter,
    time: TimeSync,
    clock_stats: Option<StatsHandle<GatewayClockStats>>,
}

impl VenueGateway for Gateway {
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
        Gateway::on_stream(self, msg)
    }

    fn on_timers(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        let synced = self.time.due(now) && self.sync_time(now);
        Ok(usize::from(synced) + self.run_due_reconciles(now)?)
    }

    fn requests(&self) -> &RequestOutcomes {
        &self.http.outcomes
    }

    /// One `GET` of the venue's time (unsigned, the smallest weight), when the limiter allows.
    fn probe(&mut self) {
        let (now, venue_ms, cost) = (Instant::now(), self.time.venue_ms(), self.d.costs.time);
        if self.limits.check(now, 0, venue_ms, cost) == Decision::Refuse {
            return;
        }
        self.limits.spend(0, venue_ms, cost);
        if let Err(e) = server_time(&mut self.http, self.d.time_path) {
            log::debug!("{} gateway: health probe: {e}", self.d.log_name);
        }
    }

    fn stats(&mut self) -> &mut GatewayStats {
        &mut self.state.stats
    }

    /// Logs orders whose fate is still unknown at exit.
    fn finish(&mut self) {
        for r in self.state.pending() {
            log::error!(
                "{} gateway: order {} left unreconciled at exit ({:?} after {} queries)",
                self.d.log_name,
                r.order_id,
                r.reason,
                r.attempts
            );
        }
    }
}

impl Gateway {
    fn new(
        cfg: &BinanceGatewayConfig,
        d: &'static Dialect,
        events: Box<dyn EventSink>,
        http: HttpsClient,
        reports: Producer<ExecutionReport>,
    ) -> Self {
        let instruments = cfg.instruments.clone();
        let by_id = instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect();
        let by_symbol = instruments.iter().enumerate().map(|(i, inst)| (inst.symbol().to_string(), i)).collect();
        let accounts: Vec<Account> = cfg
            .accounts
            .iter()
            .map(|(id, key, secret)| Account { id: *id, api_key: key.clone(), signer: Signer::new(secret) })
            .collect();
        let account_index = accounts.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        Self {
            d,
            events,
            run_id: cfg.run_id,
            recv_window: cfg.recv_window_ms.to_string(),
            instruments,
            by_id,
            by_symbol,
            accounts,
            account_index,
            http,
            state: OrderState::new(cfg.venue, reports),
            limits: RateLimiter::new(d.rules, cfg.accounts.len()),
            time: TimeSync::new(cfg.clock.clone(), cfg.time_sync_every),
            clock_stats: cfg.clock_stats.clone(),
        }
    }

    // ---- requests ------------------------------------------------------------------------

    /// Estimates the venue's clock (`GET /api/v3/time`, best of several samples); on failure
    /// the last estimate stays and the next try is due later. False when the rate limiter
    /// refused the requests (backing off): the estimate stays due.
    #[cold]
    fn sync_time(&mut self, now: Instant) -> bool {
        let venue_ms = self.time.venue_ms();
        let (cost, path) = (self.d.costs.time, self.d.time_path);
        if self.limits.check(now, 0, venue_ms, cost) == Decision::Refuse {
            return false;
        }
        let (http, rate) = (&mut self.http, &mut self.limits);
        let result = self.time.sync(now, || {
            rate.spend(0, venue_ms, cost);
            server_time(http, path)
        });
        match result {
            Ok(e) => {
                let stats = &mut self.state.stats;
                stats.time_syncs += 1;
                stats.clock_offset_ms = e.offset_ms;
                if e.offset_ms.unsigned_abs() > stats.max_clock_offset_ms.unsigned_abs() {
                    stats.max_clock_offset_ms = e.offset_ms;
                }
                if let Some(block) = &self.clock_stats {
                    // Two's complement: the gauge is read as signed.
                    block.offset_ms.set(e.offset_ms as u64);
                    block.syncs.incr();
                }
                log::debug!(
                    "{} gateway: venue clock offset {} ms (round trip {} ms)",
                    self.d.log_name,
                    e.offset_ms,
                    e.rtt_ms
                );
            }
            Err(e) => log::warn!("{} gateway: venue clock not re-estimated: {e}", self.d.log_name),
        }
        true
    }

    /// Whether a request of `cost` for account `acct` may be sent now (false: past a limit, or
    /// backing off after a 429/418).
    fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.limits.check(Instant::now(), acct, self.time.venue_ms(), cost) != Decision::Refuse
    }

    /// Sends a signed request of `cost` for account `acct` (paced near a limit), timestamped
    /// with the venue's clock, and notes the rate-limit headers; a timestamp reject (-1021)
    /// makes the clock due for a re-estimate.
    fn signed(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        let Req { method, path, encoded, params, cost } = req;
        if let Decision::Pace(wait) = self.limits.check(Instant::now(), acct, self.time.venue_ms(), cost) {
            std::thread::sleep(wait);
        }
        let Some(account) = self.accounts.get(acct) else {
            return Err(TransportError { sent: false, timed_out: false, reason: "no such account".into() });
        };
        let venue_ms = self.time.venue_ms();
        let mut query = String::with_capacity(encoded.len() + 256);
        query.push_str(encoded);
        for (k, v) in params {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(k);
            query.push('=');
            push_encoded(&mut query, v);
        }
        let mut signature = String::with_capacity(64);
        append_signed_tail(&account.signer, &mut query, &mut signature, &self.recv_window, venue_ms);
        let key = account.api_key.clone();
        self.limits.spend(acct, venue_ms, cost);
        let result = self.http.request(method, path, &query, &[("X-MBX-APIKEY", &key)]);
        match &result {
            Ok(resp) => self.note_answer(acct, venue_ms, resp),
            Err(e) => {
                self.state.stats.transport_errors += 1;
                log::warn!("{} gateway: {method} {}{path}: {e}", self.d.log_name, self.http.endpoint().url);
            }
        }
        result
    }

    /// [`Self::signed`], sent once more after a re-estimate of the venue's clock if the venue
    /// refused its timestamp (-1021). Safe for a new order: Binance checks the timestamp before
    /// it processes the request, so the refused one was not placed (see
    /// [`CODE_INVALID_TIMESTAMP`]); the second try carries the same client order id.
    fn signed_resyncing(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        let first = self.signed(acct, req);
        match &first {
            Ok(resp) if is_timestamp_reject(resp) => {
                self.sync_time(Instant::now());
                let second = self.signed(acct, req);
                if let Ok(resp) = &second
                    && is_timestamp_reject(resp)
                {
                    log::error!(
                        "{} gateway: {} {}: the venue refused the timestamp again after a re-sync \
                         (offset {} ms, recvWindow {} ms): {}",
                        self.d.log_name,
                        req.method,
                        req.path,
                        self.time.offset_ms(),
                        self.recv_window,
                        resp.body_excerpt()
                    );
                }
                second
            }
            _ => first,
        }
    }

    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response) {
        let header = |name: &str| resp.header(name).map(str::to_string);
        if let Some(wait) = self.limits.on_response(Instant::now(), acct, venue_ms, resp.status, header) {
            self.state.stats.rate_limited += 1;
            log::warn!("{} gateway: HTTP {} from the venue; not sending for {wait:?}", self.d.log_name, resp.status);
        } else if resp.status >= 500 {
            self.state.stats.transport_errors += 1;
            log::warn!("{} gateway: HTTP {} from the venue: {}", self.d.log_name, resp.status, resp.body_excerpt());
        }
        self.state.stats.max_used_weight = self.limits.max_used(limits::WEIGHT_RULE);
        if is_timestamp_reject(resp) {
            self.state.stats.timestamp_rejects += 1;
            if let Some(block) = &self.clock_stats {
                block.timestamp_rejects.incr();
            }
            self.time.expire();
        }
    }

    // ---- commands ------------------------------------------------------------------------

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        if self.d.settle_gaps_before_new_orders {
            self.settle_gaps(request.account)?;
        }
        let account = self.account_index.get(&request.account).copied();
        let inst = self.by_id.get(&request.instrument).copied();
        let local_reject = match (account, inst) {
            (_, None) => Some(RejectReason::UnknownInstrument),
            (None, _) => Some(RejectReason::Other),
            (Some(_), _) if !self.state.may_send(request.account) => Some(RejectReason::PrivateStreamDown),
            (Some(acct), _) if !self.admit(acct, self.d.costs.new_order) => Some(RejectReason::RateLimited),
            _ => None,
        };
        let (Some(acct), Some(idx), None) = (account, inst, local_reject) else {
            let reason = local_reject.unwrap_or(RejectReason::Other);
            log::warn!("{} gateway: order {order_id} refused before sending: {reason:?}", self.d.log_name);
            let r = self.state.blank(
                order_id,
                request.account,
                request.instrument,
                request.side,
                ReportKind::Rejected(reason),
            );
            return self.state.emit(r);
        };
        let client_id = ClientOrderId::new(self.run_id, order_id);
        let mut encoded = String::with_capacity(256);
        write_order_params(self.d, &mut encoded, &self.instruments[idx], client_id.as_str(), &request);
        self.state.insert(order_id, request);
        self.state.stats.orders_sent += 1;
        let result = self.signed_resyncing(
            acct,
            Req {
                method: "POST",
                path: self.d.order_path,
                encoded: &encoded,
                params: &[],
                cost: self.d.costs.new_order,
            },
        );
        match result {
            Ok(resp) if resp.status == 200 => match serde_json::from_slice::<AckAnswer>(&resp.body) {
                Ok(ack) => self.state.ensure_accepted(order_id, ack.order_id, ms_to_nanos(ack.transact_time)),
                Err(e) => {
                    self.state.stats.malformed += 1;
                    log::warn!(
                        "{} gateway: order {order_id}: unreadable answer ({e}): {}",
                        self.d.log_name,
                        resp.body_excerpt()
                    );
                    self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                    Ok(())
                }
            },
            Ok(resp) if resp.status >= 500 => {
                // "The execution status is UNKNOWN and could have been a success" (Binance).
                self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp.body);
                let reason = (self.d.reject_reason)(resp.status, code, &msg);
                log::info!(
                    "{} gateway: order {order_id} rejected: HTTP {}, code {code}, {msg:?}",
                    self.d.log_name,
                    resp.status
                );
                self.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
            }
            Err(e) if !e.sent => {
                // Never reached the venue (no connection): certainly not placed.
                self.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            Err(_) => {
                self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
        }
    }

    fn on_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
    ) -> Result<(), ReportsClosed> {
        let side = self.state.get(&order_id).map_or(Side::Buy, |o| o.request.side);
        let reject = |g: &mut Self, reason: RejectReason| {
            let mut r = g.state.blank(order_id, account, instrument, side, ReportKind::CancelRejected(reason));
            if let Some(o) = g.state.get(&order_id) {
                r.venue_order_id = o.venue_order_id;
                r.cum_qty = o.cum_qty;
                r.leaves_qty = o.request.qty.checked_sub(o.cum_qty).unwrap_or(Qty::ZERO);
            }
            g.state.emit(r)
        };
        let (Some(&acct), Some(&idx)) = (self.account_index.get(&account), self.by_id.get(&instrument)) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if !self.admit(acct, self.d.costs.cancel) {
            return reject(self, RejectReason::RateLimited);
        }
        let symbol = self.instruments[idx].symbol().to_string();
        let client_id = ClientOrderId::new(self.run_id, order_id);
        self.state.stats.cancel_requests += 1;
        let params = [("symbol", symbol.as_str()), ("origClientOrderId", client_id.as_str())];
        match self.signed_resyncing(
            acct,
            Req { method: "DELETE", path: self.d.order_path, encoded: "", params: &params, cost: self.d.costs.cancel },
        ) {
            // The stream's CANCELED event reports it.
            Ok(resp) if resp.status == 200 => Ok(()),
            Ok(resp) if resp.status >= 500 => {
                if self.state.contains(&order_id) {
                    self.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                    Ok(())
                } else {
                    reject(self, RejectReason::Other)
                }
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp.body);
                log::info!(
                    "{} gateway: cancel of {order_id} refused: HTTP {}, code {code}, {msg:?}",
                    self.d.log_name,
                    resp.status
                );
                let reason = if matches!(resp.status, 418 | 429) {
                    RejectReason::RateLimited
                } else if code == CODE_CANCEL_REJECTED {
                    RejectReason::UnknownOrder
                } else {
                    (self.d.reject_reason)(resp.status, code, &msg)
                };
                reject(self, reason)
            }
            Err(e) if e.sent && self.state.contains(&order_id) => {
                self.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                Ok(())
            }
            Err(_) => reject(self, RejectReason::Other),
        }
    }

    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(&acct) = self.account_index.get(&account) else {
            log::warn!("{} gateway: cancel-all for unknown account {account}", self.d.log_name);
            return;
        };
        let symbols: Vec<String> = match instrument {
            Some(id) => self.by_id.get(&id).map(|&i| self.instruments[i].symbol().to_string()).into_iter().collect(),
            None => self.instruments.iter().map(|i| i.symbol().to_string()).collect(),
        };
        for symbol in symbols {
            if !self.admit(acct, self.d.costs.cancel) {
                log::warn!("{} gateway: cancel-all of {symbol} skipped: rate limited", self.d.log_name);
                continue;
            }
            self.state.stats.cancel_requests += 1;
            match self.signed_resyncing(
                acct,
                Req {
                    method: "DELETE",
                    path: self.d.cancel_all_path,
                    encoded: "",
                    params: &[("symbol", symbol.as_str())],
                    cost: self.d.costs.cancel,
                },
            ) {
                Ok(resp) if resp.status == 200 => {}
                Ok(resp) => {
                    let (code, msg) = api_error(&resp.body);
                    if code != CODE_CANCEL_REJECTED {
                        log::warn!(
                            "{} gateway: cancel-all of {symbol}: HTTP {}, code {code}, {msg:?}",
                            self.d.log_name,
                            resp.status
                        );
                    }
                }
                Err(_) => {}
            }
        }
    }
}

/// Appends the encoded parameters of a new order (`symbol`, `side`, the dialect's `type` /
/// `timeInForce` / `reduceOnly`, `quantity`, `price`, `newClientOrderId`, `newOrderRespType`)
/// to `out`: what [`append_signed_tail`] then signs. Pure and allocation-free once `out` has
/// capacity; symbols, decimal texts and client order ids are unreserved characters, so nothing
/// needs percent-encoding.
pub(crate) fn write_order_params(
    d: &Dialect,
    out: &mut String,
    inst: &Instrument,
    client_id: &str,
    request: &OrderRequest,
) {
    out.push_str("symbol=");
    out.push_str(inst.symbol());
    out.push_str(if request.side == Side::Buy { "&side=BUY" } else { "&side=SELL" });
    (d.order_type_params)(request, out);
    out.push_str("&quantity=");
    out.push_str(inst.qty_text(request.qty).as_str());
    if request.order_type == OrderType::Limit {
        out.push_str("&price=");
        out.push_str(inst.price_text(request.price).as_str());
    }
    out.push_str("&newClientOrderId=");
    out.push_str(client_id);
    out.push_str("&newOrderRespType=ACK");
}

/// [`write_order_params`] for Binance spot (`POST /api/v3/order`).
pub fn write_order_query(out: &mut String, inst: &Instrument, client_id: &str, request: &OrderRequest) {
    write_order_params(&crate::binance::dialect::SPOT, out, inst, client_id, request);
}

/// One signed request: what [`Gateway::signed`] sends.
#[derive(Debug, Clone, Copy)]
struct Req<'a> {
    method: &'static str,
    path: &'a str,
    /// Parameters already encoded (`k=v&…`, a new order's), sent before `params`.
    encoded: &'a str,
    params: &'a [(&'a str, &'a str)],
    /// Its weight and orders, for the rate limiter.
    cost: Cost,
}

/// Whether an answer is Binance refusing the request's timestamp (-1021).
fn is_timestamp_reject(resp: &Response) -> bool {
    resp.status == 400 && api_error(&resp.body).0 == CODE_INVALID_TIMESTAMP
}

fn inst_notional(inst: &Instrument, price: Price, qty: Qty) -> Notional {
    inst.notional(price, qty, Rounding::Nearest).unwrap_or(Notional::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::http::tls_config;
    use qt_core::Liquidity;
    use qt_core::queue::spsc;
    use qt_core::{InstrumentKind, InstrumentSpec, StrategyId, TimeInForce, Venue};

    const RUN: u32 = 7;

    fn gateway() -> (Gateway, Producer<OrderCommand>, Consumer<ExecutionReport>) {
        gateway_for(&SPOT, Box::new(IgnoreEvents))
    }

    fn gateway_for(
        d: &'static Dialect,
        events: Box<dyn EventSink>,
    ) -> (Gateway, Producer<OrderCommand>, Consumer<ExecutionReport>) {
        let spec = InstrumentSpec {
            venue: Venue::Binance,
            symbol: "BTCUSDT".into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::Spot,
            tick_size: "0.01".into(),
            lot_size: "0.00001".into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        let cfg = BinanceGatewayConfig {
            instruments: vec![Instrument::from_spec(InstrumentId(0), &spec).unwrap()],
            accounts: vec![(AccountId(0), "k".into(), "s".into())],
            run_id: RUN,
            ..BinanceGatewayConfig::default()
        };
        // Never contacted: these tests feed frames only.
        let endpoint = Endpoint::parse("https://127.0.0.1:1", &["https"]).unwrap();
        let name = server_name(&endpoint, None).unwrap();
        let http = HttpsClient::new(endpoint, name, tls_config(None).unwrap(), Duration::from_millis(10));
        let (orders_tx, _orders_rx) = spsc(8);
        let (reports_tx, reports_rx) = spsc(64);
        (Gateway::new(&cfg, d, events, http, reports_tx), orders_tx, reports_rx)
    }

    fn live(g: &mut Gateway, id: u64, qty: i64) {
        let request = OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side: Side::Sell,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Price::from_units(6_500_000),
            qty: Qty::from_units(qty),
            reduce_only: false,
            stop_price: None,
        };
        g.state.insert(OrderId(id), request);
    }

    #[allow(clippy::too_many_arguments, reason = "the fields of a test frame")]
    fn frame(id: u64, x: &str, t: i64, l: &str, z: &str, px: &str, n: &str, asset: &str, cancel_c: &str) -> String {
        let c = ClientOrderId::new(RUN, OrderId(id)).to_string();
        let (c, big_c) = if cancel_c.is_empty() { (c, String::new()) } else { (cancel_c.to_string(), c) };
        format!(
            r#"{{"e":"executionReport","E":1,"s":"BTCUSDT","c":"{c}","S":"SELL","o":"LIMIT","f":"GTC","q":"0.00100000","p":"65000.00000000","C":"{big_c}","x":"{x}","X":"PARTIALLY_FILLED","i":99,"l":"{l}","z":"{z}","L":"{px}","n":"{n}","N":"{asset}","T":1700000000000,"t":{t},"m":true,"Z":"0"}}"#
        )
    }

    fn drain(rx: &mut Consumer<ExecutionReport>) -> Vec<ExecutionReport> {
        std::iter::from_fn(|| rx.pop().ok()).collect()
    }

    #[test]
    fn stream_events_become_reports_once_each() {
        let (mut g, _orders, mut rx) = gateway();
        live(&mut g, 1, 100);
        let fill = frame(1, "TRADE", 11, "0.00040000", "0.00040000", "65000.00000000", "0.00260000", "USDT", "");
        g.on_frame(0, &fill).unwrap();
        g.on_frame(0, &fill).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].kind, r[0].venue_order_id, r[0].leaves_qty), (ReportKind::Accepted, 99, Qty::from_units(100)));
        assert_eq!(r[1].kind, ReportKind::Fill);
        assert_eq!(
            (r[1].last_qty, r[1].cum_qty, r[1].leaves_qty),
            (Qty::from_units(40), Qty::from_units(40), Qty::from_units(60))
        );
        assert_eq!((r[1].last_price, r[1].liquidity), (Price::from_units(6_500_000), Liquidity::Maker));
        assert_eq!(r[1].fee, Notional::parse("0.0026").unwrap());
        assert_eq!(r[1].exchange_ns, Nanos(1_700_000_000_000_000_000));
        assert_eq!(g.state.stats.duplicate_fills, 1);
        // A fee in another asset is recorded as zero and counted.
        let bnb = frame(1, "TRADE", 12, "0.00010000", "0.00050000", "65000.00000000", "0.00001", "BNB", "");
        g.on_frame(0, &bnb).unwrap();
        let r = drain(&mut rx);
        assert_eq!((r[0].fee, r[0].cum_qty), (Notional::ZERO, Qty::from_units(50)));
        assert_eq!(g.state.stats.fees_not_in_quote, 1);
        // A cancel names the order in C.
        let cancel = frame(1, "CANCELED", -1, "0.00000000", "0.00050000", "0.00000000", "0", "", "web_cancel_1");
        g.on_frame(0, &cancel).unwrap();
        let r = drain(&mut rx);
        assert_eq!((r[0].kind, r[0].cum_qty, r[0].leaves_qty), (ReportKind::Canceled, Qty::from_units(50), Qty::ZERO));
        assert!(g.state.is_empty());
        // Events of finished, foreign and other runs' orders are ignored.
        g.on_frame(0, &fill).unwrap();
        let foreign = fill.replace(&ClientOrderId::new(RUN, OrderId(1)).to_string(), "web_abc");
        g.on_frame(0, &foreign).unwrap();
        let other_run = fill
            .replace(&ClientOrderId::new(RUN, OrderId(1)).to_string(), &ClientOrderId::new(8, OrderId(1)).to_string());
        g.on_frame(0, &other_run).unwrap();
        g.on_frame(0, r#"{"e":"outboundAccountPosition","E":1,"u":1,"B":[]}"#).unwrap();
        assert!(drain(&mut rx).is_empty());
        assert_eq!(g.state.stats.unknown_order_events, 1);
    }

    #[test]
    fn malformed_frames_are_counted_and_trigger_a_query_never_a_report() {
        let (mut g, _orders, mut rx) = gateway();
        live(&mut g, 1, 100);
        for bad in [
            "{\"e\":\"executionReport\",\"E\":,]".to_string(),
            "{\"e\":\"execution".to_string(),
            frame(1, "TRADE", 11, "0.0004x", "0.00040000", "65000.00000000", "0", "USDT", ""),
            frame(1, "TRADE", 11, "0.00040000", "0.00040000", "65000.001", "0", "USDT", ""),
            frame(1, "TRADE", 11, "0.00040000", "0.00030000", "65000.00", "0", "USDT", ""),
            frame(1, "TRADE", 11, "0.00040000", "0.00040000", "65000.00", "1e999999", "USDT", ""),
            r#"{"e":"executionReport","s":"BTCUSDT"}"#.to_string(),
            "[]".to_string(),
        ] {
            g.on_frame(0, &bad).unwrap();
        }
        let reports = drain(&mut rx);
        // Only the Accepted of the frames whose order could be identified before the bad field.
        assert!(reports.iter().all(|r| r.kind == ReportKind::Accepted), "{reports:?}");
        assert_eq!(g.state.stats.malformed, 8);
        assert_eq!(g.state.stats.fills, 0);
        assert_eq!(g.state.pending().len(), 1, "the live order is queried");
        assert_eq!(g.state.pending()[0].reason, QueryReason::Gap);
    }

    #[test]
    fn a_trade_after_missed_trades_reports_the_gap_first() {
        let (mut g, _orders, mut rx) = gateway();
        live(&mut g, 1, 100);
        // z says 70 filled, this trade is 30 of them: 40 were missed (Z = 0.7 × 65000 = 45.5).
        let f = frame(1, "TRADE", 13, "0.00030000", "0.00070000", "65000.00000000", "0.001", "USDT", "")
            .replace(r#""Z":"0""#, r#""Z":"45.50000000""#);
        g.on_frame(0, &f).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!(
            (r[1].kind, r[1].last_qty, r[1].last_price, r[1].fee),
            (ReportKind::Fill, Qty::from_units(40), Price::from_units(6_500_000), Notional::ZERO)
        );
        assert_eq!(
            (r[2].last_qty, r[2].cum_qty, r[2].fee),
            (Qty::from_units(30), Qty::from_units(70), Notional::parse("0.001").unwrap())
        );
        assert_eq!(g.state.stats.fills_without_fee, 1);
    }

    /// The USD-M docs' `ORDER_TRADE_UPDATE` sample (`testdata/binance_usdm/orders/`), as ours.
    fn usdm_sample(x: &str, l: &str, z: &str, px: &str, n: &str, t: i64) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/binance_usdm/orders/uds_order_trade_update.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let o = &mut v["o"];
        o["c"] = ClientOrderId::new(RUN, OrderId(1)).to_string().into();
        (o["x"], o["l"], o["z"], o["L"], o["n"], o["t"]) =
            (x.into(), l.into(), z.into(), px.into(), n.into(), t.into());
        v.to_string()
    }

    #[test]
    fn usdm_order_trade_updates_become_reports_and_account_updates_go_to_the_sink() {
        struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);
        impl EventSink for Count {
            fn on_event(&mut self, _: AccountId, e: &str, _: &str, _: &mut GatewayStats) -> Result<(), String> {
                if e == "ACCOUNT_UPDATE" {
                    self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(())
            }
        }
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (mut g, _orders, mut rx) = gateway_for(&crate::binance_usdm::dialect::USDM, Box::new(Count(seen.clone())));
        live(&mut g, 1, 100);
        g.on_frame(0, &usdm_sample("NEW", "0", "0", "0", "0", 0)).unwrap();
        let fill = usdm_sample("TRADE", "0.00040", "0.00040", "65000.00", "0.0026", 21);
        g.on_frame(0, &fill).unwrap();
        g.on_frame(0, &fill).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].kind, r[0].venue_order_id), (ReportKind::Accepted, 8_886_774));
        assert_eq!(
            (r[1].kind, r[1].last_qty, r[1].cum_qty),
            (ReportKind::Fill, Qty::from_units(40), Qty::from_units(40))
        );
        assert_eq!((r[1].fee, r[1].liquidity), (Notional::parse("0.0026").unwrap(), Liquidity::Taker));
        assert_eq!(g.state.stats.duplicate_fills, 1);
        let cancel = usdm_sample("CANCELED", "0", "0.00040", "0", "0", 0);
        g.on_frame(0, &cancel).unwrap();
        assert_eq!(drain(&mut rx)[0].kind, ReportKind::Canceled);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/binance_usdm/orders/uds_account_update.json");
        g.on_frame(0, &std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Spot's event name is not an order event on USD-M: the sink's, never a report.
        g.on_frame(0, r#"{"e":"executionReport"}"#).unwrap();
        assert!(drain(&mut rx).is_empty());
        assert_eq!((seen.load(std::sync::atomic::Ordering::SeqCst), g.state.stats.malformed), (1, 0));
    }
}
