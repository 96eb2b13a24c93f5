//! The Kraken gateway thread `qt-gw-kraken`: [`spawn`], and Kraken's side of the kit's gateway
//! shell ([`crate::kit::shell`]: the accounts, order state, REST link, loop and start-up are the
//! kit's) — [`OrderCommand`]s become signed `/0/private/*` requests, and the private stream's
//! `executions` become [`ExecutionReport`]s.
//!
//! - Every request goes through the kit's [`RestLink`] (pacing, health, the answer's lessons)
//!   with Kraken's [`NonceHook`]: each account's nonce comes from its key's [`NonceLane`],
//!   journalled in `GatewayConfig::state_dir` (`qt run`: the journal directory), so a restart
//!   can never send a nonce below the last run's ([`crate::kraken::nonce`]). Without a
//!   `state_dir` the gateway refuses to start. A refused nonce (`EAPI:Invalid nonce`, checked
//!   before anything is done) is sent once more with the next nonce.
//! - New orders: AddOrder ([`write_order_body`]: limit; market; IOC as `timeinforce=IOC`;
//!   post-only as `oflags=post`; FOK is not offered by REST AddOrder and is rejected here).
//!   The answer's txid is the ack (`Accepted`); an error text is `Rejected(reason)`
//!   ([`crate::kraken::errors`]); an unknown fate (a timeout, HTTP 5xx, `EService:*`) is
//!   queried by `cl_ord_id`.
//! - Cancel: CancelOrder with our `cl_ord_id` as `txid` (the docs allow either); cancel-all:
//!   CancelAll (the account's every order), or for one instrument its open orders cancelled
//!   one by one. The stream's `canceled` reports them.
//! - The dead-man's switch: CancelAllOrdersAfter [`DEAD_MAN_TIMEOUT`], refreshed every third of
//!   it by the running loop ([`DeadMan`]); a crashed or hung engine stops refreshing and Kraken
//!   cancels the account's orders. A clean stop (the stop flag) disarms it, leaving on purpose
//!   what the engine left resting.
//! - Clock skew: Kraken signs no timestamp — the nonce is our own increasing counter, checked
//!   only against the key's previous nonce — so a venue clock off by any amount refuses
//!   nothing; the venue's time (`/0/public/Time`) is estimated only for logs and the limiter.
//!
//! Files: this (start-up, commands), `gateway/events.rs` (the `executions` channel),
//! `gateway/reconcile.rs` (queries). Allocates per request and per frame; never panics on
//! venue input.

mod events;
mod reconcile;

use crate::kit::config::GatewayConfig;
use crate::kit::http::{Endpoint, HttpsClient, Response, TransportError};
use crate::kit::order_state::{QueryReason, ReportsClosed};
use crate::kit::rate_limit::Cost;
use crate::kit::rest_link::{NonceHook, Req, signed_resyncing};
use crate::kit::shell::{self, AccountKey, GatewayCore, LinkSpec, SessionArgs, ShellGateway, Startup};
use crate::kit::stats::GatewayStats;
use crate::kraken::dead_man::DeadMan;
use crate::kraken::errors::{is_auth_refusal, is_nonce_refusal, is_rate_limit, is_unknown_order, reject_reason};
use crate::kraken::limits;
use crate::kraken::nonce::NonceLane;
use crate::kraken::private_stream::{PrivateStream, SIM_PRIVATE_PATH};
use crate::kraken::rest::{
    self, ADD_ORDER_PATH, CANCEL_AFTER_PATH, CANCEL_ALL_PATH, CANCEL_ORDER_PATH, ClOrdId, OPEN_ORDERS_PATH, envelope,
    write_order_body,
};
use crate::sign::kraken::KrakenSigner;
use crate::sign::{Credentials, RequestSigner, Secret};
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, Clock as _, ExecutionReport, Instrument, InstrumentId, InstrumentKind, OrderCommand, OrderId,
    OrderRequest, RejectReason, ReportKind, WallClock,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::kit::error::GatewayError;

/// The venue's name in messages.
pub(crate) const VENUE_NAME: &str = "Kraken";
/// The dead-man's switch's timeout (Kraken's advice: 60 s, refreshed every 15–30 s).
pub const DEAD_MAN_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the Kraken gateway thread ([`crate::kit::shell::start`]). Before it returns:
/// validates `cfg` (all problems at once), opens each key's nonce journal, estimates the
/// venue's clock, opens each account's private stream (a token, subscribed to `executions`)
/// and starts one stream thread per account. The thread runs until `stop` is set, the order
/// ring is abandoned (and drained) or the report ring's consumer is gone.
pub fn spawn(
    cfg: GatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let (rest_ep, ws, ws_path) = validate(&cfg)?;
    let up = Startup { cfg: &cfg, venue_name: VENUE_NAME, endpoints: (rest_ep.clone(), ws) };
    let session = |g: &Gateway, a: SessionArgs<'_>| {
        let Some((_, key)) = g.core.accounts.get(a.index) else { return Ok(None) };
        let (signer, lane) = (key.signer.clone(), key.lane.clone());
        PrivateStream::new(a.account, signer, lane, rest_ep.clone(), a.target.clone(), ws_path)
            .map(Some)
            .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })
    };
    let stream_error = |account, ws_url: &str, reason| stream_error(account, &rest_ep.url, ws_url, ws_path, reason);
    let make = |http| Gateway::new(&cfg, http, reports, stop.clone());
    shell::start(up, make, session, stream_error, orders, stop.clone())
}

/// A private stream that would not open: a refused token request is the account's credentials.
fn stream_error(account: AccountId, rest_url: &str, ws_url: &str, path: &str, reason: String) -> GatewayError {
    let refused = reason.split("refused: ").nth(1).unwrap_or("");
    if is_auth_refusal(refused) {
        let url = format!("{rest_url}{}", rest::WS_TOKEN_PATH);
        GatewayError::AuthRejected { account, method: "POST", url, status: 200, code: 0, msg: refused.to_owned() }
    } else {
        GatewayError::Connect { url: format!("{ws_url}{path}"), reason }
    }
}

/// Checks every field (the kit's checks, then Kraken's: spot only, `BASE/QUOTE` pairs, base64
/// secrets, a `state_dir` for the nonce journal); returns the REST endpoint, the private
/// stream's endpoint and its path after it.
pub(crate) fn validate(cfg: &GatewayConfig) -> Result<(Endpoint, Endpoint, &'static str), GatewayError> {
    let mut problems = Vec::new();
    let endpoints = cfg.problems(&mut problems);
    for (i, inst) in cfg.instruments.iter().enumerate() {
        let sym = inst.symbol();
        if inst.kind() != InstrumentKind::Spot {
            problems.push(format!("instruments[{i}]: {sym:?} is {:?}; Kraken trades spot here", inst.kind()));
        }
        if !sym.contains('/') || sym.starts_with('/') || sym.ends_with('/') {
            problems.push(format!("instruments[{i}].symbol: {sym:?} is not a Kraken pair (BTC/USD)"));
        }
    }
    for (i, (_, _, secret)) in cfg.accounts.iter().enumerate() {
        if !secret.is_empty() && signer(secret, "k").is_err() {
            problems.push(format!("accounts[{i}].secret: Kraken secrets are base64 text"));
        }
    }
    if cfg.state_dir.is_none() {
        problems.push(
            "state_dir: Kraken needs a directory for its nonce journal (qt run uses the journal directory; \
             journaling must be on)"
                .into(),
        );
    }
    let private = match &cfg.private_stream_url {
        Some(url) => match Endpoint::parse(url, &["wss"]) {
            Ok(e) => Some((e, "")),
            Err(m) => {
                problems.push(format!("private_stream_url: {m}"));
                None
            }
        },
        None => endpoints.as_ref().map(|(_, ws)| (ws.clone(), SIM_PRIVATE_PATH)),
    };
    match (endpoints, private) {
        (Some((rest, _)), Some((ws, path))) if problems.is_empty() => Ok((rest, ws, path)),
        _ => Err(GatewayError::Config { venue: VENUE_NAME, problems }),
    }
}

fn signer(secret: &str, key: &str) -> Result<KrakenSigner, crate::sign::SignError> {
    KrakenSigner::new(Credentials { key: Some(key.to_owned()), secret: Secret::new(secret), passphrase: None })
}

/// One account's credentials: its signer and its key's nonce lane.
pub(crate) struct KrakenKey {
    signer: Arc<KrakenSigner>,
    lane: NonceLane,
}

impl AccountKey for KrakenKey {
    fn signer(&self) -> &dyn RequestSigner {
        self.signer.as_ref()
    }
}

/// The accounts' nonce lanes as the link's [`NonceHook`].
struct Lanes(Vec<NonceLane>);

impl NonceHook for Lanes {
    fn with_nonce(
        &self,
        acct: usize,
        send: &mut dyn FnMut(u64) -> Result<Response, TransportError>,
    ) -> Result<Response, TransportError> {
        let Some(lane) = self.0.get(acct) else {
            return Err(TransportError { sent: false, timed_out: false, reason: "no such account".into() });
        };
        lane.with_next(send).unwrap_or_else(|e| {
            log::error!("kraken gateway: {e}; the request was not sent");
            Err(TransportError { sent: false, timed_out: false, reason: e.to_string() })
        })
    }
}

/// The gateway thread's state.
pub(crate) struct Gateway {
    instruments: Vec<Instrument>,
    by_id: HashMap<InstrumentId, usize>,
    /// Accounts, orders, the REST link with its nonce hook (the kit's shell).
    pub(crate) core: GatewayCore<KrakenKey>,
    /// Each account's dead-man's switch schedule.
    dead_men: Vec<DeadMan>,
    /// The request body being written (reused).
    body: String,
    /// Set on a clean stop: the dead-man's switch is disarmed at the end.
    stop: Arc<AtomicBool>,
}

impl ShellGateway for Gateway {
    type Key = KrakenKey;
    const VENUE: &'static str = "kraken";

    fn core(&mut self) -> &mut GatewayCore<KrakenKey> {
        &mut self.core
    }

    fn core_ref(&self) -> &GatewayCore<KrakenKey> {
        &self.core
    }

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        let account = self.core.account(request.account);
        let inst = self.by_id.get(&request.instrument).copied();
        let local_reject = match (account, inst) {
            (_, None) => Some(RejectReason::UnknownInstrument),
            (None, _) => Some(RejectReason::Other),
            (Some(_), _) if !self.core.state.may_send(request.account) => Some(RejectReason::PrivateStreamDown),
            (Some(acct), _) if !self.admit(acct, limits::NEW_ORDER) => Some(RejectReason::RateLimited),
            _ => None,
        };
        let (Some(acct), Some(idx), None) = (account, inst, local_reject) else {
            let reason = local_reject.unwrap_or(RejectReason::Other);
            log::warn!("kraken gateway: order {order_id} refused before sending: {reason:?}");
            return self.core.state.reject_unsent(order_id, &request, reason);
        };
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        if let Err(e) = write_order_body(&mut body, &self.instruments[idx], order_id, self.core.run_id, &request) {
            self.body = body;
            log::warn!("kraken gateway: order {order_id} refused before sending: {e}");
            return self.core.state.reject_unsent(order_id, &request, RejectReason::Other);
        }
        self.core.state.insert(order_id, request);
        self.core.state.stats.orders_sent += 1;
        let sent = self.post(acct, ADD_ORDER_PATH, &body, limits::NEW_ORDER);
        self.body = body;
        match sent {
            Ok(resp) if resp.status == 200 => match envelope(&resp.body) {
                Ok(result) => match rest::add_order_txid(&result) {
                    Some(txid) => {
                        self.core.state.ensure_accepted(order_id, rest::venue_order_id(txid), WallClock.now())
                    }
                    None => self.unknown_fate(order_id, &resp),
                },
                Err(text) if is_unknown_fate(&text) => self.unknown_fate(order_id, &resp),
                Err(text) => {
                    let reason = reject_reason(&text);
                    log::info!("kraken gateway: order {order_id} rejected: {text:?}");
                    self.core.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
                }
            },
            // A rate limit (Kraken's answers say so in the error text; a proxy says 429) placed
            // nothing; the limiter backs off (`note_answer`).
            Ok(resp) if resp.status == 429 => {
                let kind = ReportKind::Rejected(RejectReason::RateLimited);
                self.core.state.finish_order(order_id, kind, WallClock.now())
            }
            Ok(resp) if resp.status >= 500 => self.unknown_fate(order_id, &resp),
            Ok(resp) => {
                log::info!("kraken gateway: order {order_id} rejected: HTTP {}: {}", resp.status, resp.body_excerpt());
                self.core.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            Err(e) if !e.sent => {
                self.core.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            Err(_) => {
                self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
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
        let reject = |g: &mut Self, reason| g.core.state.reject_cancel(order_id, account, instrument, reason);
        let Some(acct) = self.core.account(account) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if !self.admit(acct, limits::CANCEL) {
            return reject(self, RejectReason::RateLimited);
        }
        let body = format!("txid={}", ClOrdId::new(self.core.run_id, order_id).as_str());
        self.core.state.stats.cancel_requests += 1;
        let unknown = |g: &mut Self| {
            if g.core.state.contains(&order_id) {
                g.core.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                Ok(())
            } else {
                g.core.state.reject_cancel(order_id, account, instrument, RejectReason::Other)
            }
        };
        match self.post(acct, CANCEL_ORDER_PATH, &body, limits::CANCEL) {
            Ok(resp) if resp.status == 200 => match envelope(&resp.body) {
                Ok(_) => Ok(()),
                Err(text) if is_unknown_fate(&text) => unknown(self),
                Err(text) => {
                    log::info!("kraken gateway: cancel of {order_id} refused: {text:?}");
                    let reason =
                        if is_unknown_order(&text) { RejectReason::UnknownOrder } else { reject_reason(&text) };
                    reject(self, reason)
                }
            },
            Ok(_) => unknown(self),
            Err(e) if e.sent => unknown(self),
            Err(_) => reject(self, RejectReason::Other),
        }
    }

    /// Cancel-all: CancelAll for the account's every order; for one instrument, its open
    /// orders (OpenOrders) cancelled one by one. The stream's `canceled` reports them.
    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(acct) = self.core.account(account) else {
            log::warn!("kraken gateway: cancel-all for unknown account {account}");
            return;
        };
        if !self.admit(acct, limits::QUERY) {
            log::warn!("kraken gateway: cancel-all of account {account} skipped: rate limited");
            return;
        }
        self.core.state.stats.cancel_requests += 1;
        let Some(idx) = instrument.and_then(|id| self.by_id.get(&id).copied()) else {
            if let Ok(resp) = self.post(acct, CANCEL_ALL_PATH, "", limits::QUERY)
                && let Err(e) = envelope(&resp.body)
            {
                log::warn!("kraken gateway: cancel-all of account {account} refused: {e}");
            }
            return;
        };
        let symbol = self.instruments[idx].symbol().to_owned();
        let open = match self.post(acct, OPEN_ORDERS_PATH, "", limits::QUERY).map(|r| envelope(&r.body)) {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => {
                log::warn!("kraken gateway: cancel-all of {symbol}: open orders refused: {e}");
                return;
            }
            Err(_) => return,
        };
        let txids: Vec<String> = open
            .get("open")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(_, o)| o.pointer("/descr/pair").and_then(Value::as_str) == Some(symbol.as_str()))
                    .map(|(txid, _)| txid.clone())
                    .collect()
            })
            .unwrap_or_default();
        for txid in txids {
            if !self.admit(acct, limits::CANCEL) {
                log::warn!("kraken gateway: cancel-all of {symbol}: {txid} skipped: rate limited");
                continue;
            }
            if let Ok(Err(e)) =
                self.post(acct, CANCEL_ORDER_PATH, &format!("txid={txid}"), limits::CANCEL).map(|r| envelope(&r.body))
                && !is_unknown_order(&e)
            {
                log::warn!("kraken gateway: cancel-all of {symbol}: {txid} refused: {e}");
            }
        }
    }

    fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        Gateway::on_frame(self, acct, text)
    }

    fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        Gateway::run_due_reconciles(self, now)
    }

    /// A rate-limit error text backs the limiter off as a 429 would.
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, _req: Req<'_>) {
        let limited = envelope(&resp.body).err().as_deref().is_some_and(is_rate_limit);
        let status = if limited { 429 } else { resp.status };
        let core = &mut self.core;
        core.link.note(acct, venue_ms, resp, status, |_| None, (0, false), limits::ORDER_RULE, &mut core.state.stats);
    }

    /// A refused nonce: nothing was done, and the next try carries the next nonce.
    fn is_timestamp_reject(resp: &Response) -> bool {
        envelope(&resp.body).err().is_some_and(|e| is_nonce_refusal(&e))
    }

    /// The dead-man's switch, refreshed while the loop runs.
    fn on_venue_timers(&mut self, now: Instant) -> usize {
        self.refresh_dead_man(now)
    }

    /// A clean stop disarms the switch: what rests, rests on purpose.
    fn on_finish(&mut self) {
        if self.stop.load(Ordering::Relaxed) {
            for acct in 0..self.dead_men.len() {
                self.arm_dead_man(acct, 0);
            }
        }
    }
}

impl Gateway {
    pub(crate) fn new(
        cfg: &GatewayConfig,
        http: HttpsClient,
        reports: Producer<ExecutionReport>,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, GatewayError> {
        let mut accounts = Vec::with_capacity(cfg.accounts.len());
        for (id, key, secret) in &cfg.accounts {
            let lane = NonceLane::open(cfg.state_dir.as_deref(), key)
                .map_err(|e| GatewayError::Config { venue: VENUE_NAME, problems: vec![e.to_string()] })?;
            accounts.push((*id, KrakenKey { signer: Arc::new(signer(secret, key)?), lane }));
        }
        let lanes = Lanes(accounts.iter().map(|(_, k)| k.lane.clone()).collect());
        let dead_men = vec![DeadMan::new(DEAD_MAN_TIMEOUT); accounts.len()];
        let spec = LinkSpec { venue: "kraken", rules: limits::RULES, server_time: rest::server_time };
        let mut core = GatewayCore::new(cfg, accounts, http, reports, spec);
        core.link.set_nonces(Box::new(lanes));
        Ok(Self {
            instruments: cfg.instruments.clone(),
            by_id: cfg.instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect(),
            core,
            dead_men,
            body: String::with_capacity(256),
            stop,
        })
    }

    fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.core.link.admit(acct, cost)
    }

    fn signed_resyncing(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        signed_resyncing(self, acct, req)
    }

    /// A POST of `body` to `path` for account `acct` (the nonce is put first by the link).
    fn post(&mut self, acct: usize, path: &'static str, body: &str, cost: Cost) -> Result<Response, TransportError> {
        self.signed_resyncing(acct, Req { method: "POST", path, query: "", body, cost })
    }

    /// Arms account `acct`'s dead-man's switch for `timeout_s` seconds (0 disarms); whether the
    /// venue took it.
    fn arm_dead_man(&mut self, acct: usize, timeout_s: u64) -> bool {
        let body = format!("timeout={timeout_s}");
        match self.post(acct, CANCEL_AFTER_PATH, &body, limits::QUERY) {
            Ok(resp) => match envelope(&resp.body) {
                Ok(_) => true,
                Err(e) => {
                    log::warn!("kraken gateway: dead-man's switch ({timeout_s} s) refused: {e}");
                    false
                }
            },
            Err(_) => false,
        }
    }

    /// Refreshes every account's dead-man's switch that is due (the loop runs: the engine is
    /// alive); returns how many were sent.
    fn refresh_dead_man(&mut self, now: Instant) -> usize {
        let mut sent = 0;
        for acct in 0..self.dead_men.len() {
            if !self.dead_men[acct].due(now, true) || self.core.link.limits.backing_off(now) {
                continue;
            }
            sent += 1;
            let timeout = self.dead_men[acct].timeout_s();
            let ok = self.arm_dead_man(acct, timeout);
            let d = &mut self.dead_men[acct];
            if ok { d.refreshed(now) } else { d.failed() }
        }
        sent
    }

    /// An answer that does not say what became of order `order_id`: it is queried.
    fn unknown_fate(&mut self, order_id: OrderId, resp: &Response) -> Result<(), ReportsClosed> {
        log::warn!("kraken gateway: order {order_id}: answer without a verdict (HTTP {}): querying", resp.status);
        self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
        Ok(())
    }
}

/// Whether an error text leaves an order's fate unknown (the service was busy or failed inside:
/// the order may or may not be placed), so it is queried rather than reported rejected.
fn is_unknown_fate(text: &str) -> bool {
    let head = crate::kraken::errors::head(text);
    head.starts_with("EService:") || head == "EGeneral:Internal error"
}
