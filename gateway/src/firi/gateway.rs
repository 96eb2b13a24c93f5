//! The Firi gateway thread `qt-gw-firi`: [`spawn`], and Firi's side of the kit's shell
//! ([`crate::kit::shell`]) — [`OrderCommand`]s become signed REST requests; Firi has no private
//! stream, so what becomes of the orders is polled (`poll.rs`).
//!
//! - New order: `POST /v2/orders` with [`write_order_body`]; the answer's `id` is the venue's
//!   order id and `Accepted` is reported on it. A refusal (4xx) is `Rejected(reason)` from
//!   [`crate::firi::errors`]; a 429 `Rejected(RateLimited)` (and the kit backs off). An unknown
//!   fate (5xx, a timeout or a dropped connection after sending, an unreadable answer) is never
//!   re-sent: the order is found by the poll (`poll.rs`, "claims").
//! - Only limit orders are sent: Firi documents no market, IOC, FOK or post-only order and no
//!   reduce-only flag. An IOC is emulated — placed as a limit order, its remainder cancelled at
//!   once (`Gateway::cancel_ioc`; in the moment between, the rest could be taken as a maker);
//!   the others are refused here (`Rejected(Other)`, logged) before sending.
//! - Cancel: `DELETE /v2/orders/{id}/{market}/detailed`; its answer (the order after the
//!   cancel) ends the order once its fills are booked. 404: `CancelRejected(UnknownOrder)` and
//!   the order is polled (it probably filled). No answer: the order is polled and, if still
//!   working, `CancelRejected(Other)`.
//! - Cancel-all: `DELETE /v2/orders/{market}` per instrument (Firi's per-market cancel), or
//!   `DELETE /v2/orders` for all of the account's markets when every instrument is asked; the
//!   orders are then settled by polling at once.
//!
//! Runs on the gateway thread; each request blocks it for at most the request timeout.
//! Allocates per request (JSON). Never panics on venue input.

use crate::firi::errors::{GatewayError, is_unknown_order, reject_reason};
use crate::firi::rest::{self, FiriKey, NEW_ORDER, REQUEST, is_timestamp_reject, refusal, server_time};
use crate::firi::wire::{placed_id, write_order_body};
use crate::firi::{FiriGatewayConfig, GatewayStats, VENUE_NAME};
use crate::kit::http::{Endpoint, HttpsClient, Response};
use crate::kit::order_state::{QueryReason, ReportsClosed};
use crate::kit::rest_link::{Req, signed_resyncing};
use crate::kit::shell::{self, GatewayCore, LinkSpec, NoStream, SessionArgs, ShellGateway, Startup};
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, Clock as _, ExecutionReport, Instrument, InstrumentId, InstrumentKind, OrderCommand, OrderId,
    OrderRequest, OrderType, RejectReason, ReportKind, TimeInForce, WallClock,
};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const ORDERS_PATH: &str = "/v2/orders";
/// Venue ids of orders this gateway finished, kept so the poll never claims one again.
const DONE_KEPT: usize = 4096;

/// Starts the Firi gateway thread ([`crate::kit::shell::start`], with no private stream).
/// Before it returns: validates `cfg` (all problems at once) and estimates the venue's clock.
/// The returned thread runs until `stop` is set, the order ring is abandoned (and drained) or
/// the report ring's consumer is gone.
pub fn spawn(
    cfg: FiriGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let endpoints = validate(&cfg)?;
    let up = Startup { cfg: &cfg.kit, venue_name: VENUE_NAME, endpoints };
    let no_stream = |_: &Gateway, _: SessionArgs<'_>| Ok(None::<NoStream>);
    let unused = |_: AccountId, url: &str, reason: String| GatewayError::Connect { url: url.into(), reason };
    shell::start(up, |http| Ok(Gateway::new(&cfg, http, reports)), no_stream, unused, orders, stop)
}

/// Whether `s` is a Firi market name (`BTCNOK`: upper-case letters and digits).
fn is_market(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Checks every field (the kit's checks, then Firi's: spot markets, the poll interval);
/// returns the REST endpoint twice (Firi has no WebSocket; `ws_url` may be empty).
pub(crate) fn validate(cfg: &FiriGatewayConfig) -> Result<(Endpoint, Endpoint), GatewayError> {
    let mut problems = Vec::new();
    let mut kit = cfg.kit.clone();
    // No private stream: the kit's WebSocket check is given the REST host.
    kit.ws_url = kit.rest_url.replacen("https://", "wss://", 1);
    let endpoints = kit.problems(&mut problems);
    for (i, inst) in kit.instruments.iter().enumerate() {
        let sym = inst.symbol();
        if inst.kind() != InstrumentKind::Spot {
            problems.push(format!("instruments[{i}]: {sym:?} is {:?}; Firi trades spot only", inst.kind()));
        }
        if !is_market(sym) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} is not a Firi market (BTCNOK)"));
        }
        if kit.instruments[..i].iter().any(|o| o.symbol() == sym) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} appears twice"));
        }
    }
    if cfg.poll_every.is_zero() {
        problems.push("poll_every: must be greater than zero".into());
    }
    if !(1..=1000).contains(&cfg.fills_page) {
        problems.push(format!("fills_page: {} is outside 1..=1000", cfg.fills_page));
    }
    match endpoints {
        Some((rest, _)) if problems.is_empty() => Ok((rest.clone(), rest)),
        _ => Err(GatewayError::Config { venue: VENUE_NAME, problems }),
    }
}

/// The gateway thread's state.
pub(crate) struct Gateway {
    pub(crate) instruments: Vec<Instrument>,
    pub(crate) by_id: HashMap<InstrumentId, usize>,
    /// Accounts, orders, the REST link (the kit's shell).
    pub(crate) core: GatewayCore<FiriKey>,
    /// Time between two polls of an account with live orders.
    pub(crate) poll_every: Duration,
    /// Fills asked for per poll (`count`).
    pub(crate) fills_page: usize,
    /// When each account is next polled.
    pub(crate) next_poll: Vec<Instant>,
    /// Venue ids of orders finished here (never claimed again), oldest first.
    pub(crate) done: VecDeque<u64>,
    /// IOC orders whose remainder is still to be cancelled.
    pub(crate) ioc: Vec<OrderId>,
}

impl ShellGateway for Gateway {
    type Key = FiriKey;
    const VENUE: &'static str = "firi";

    fn core(&mut self) -> &mut GatewayCore<FiriKey> {
        &mut self.core
    }

    fn core_ref(&self) -> &GatewayCore<FiriKey> {
        &self.core
    }

    fn on_frame(&mut self, _acct: usize, _text: &str) -> Result<(), ReportsClosed> {
        // No private stream.
        Ok(())
    }

    fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        Gateway::run_polls(self, now)
    }

    fn is_timestamp_reject(resp: &Response) -> bool {
        is_timestamp_reject(resp)
    }

    /// Firi sends no usage headers: the rules count locally; a 429 backs off.
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, _req: Req<'_>) {
        let header = |name: &str| resp.header(name).map(str::to_string);
        let expired = is_timestamp_reject(resp);
        self.core.link.note(
            acct,
            venue_ms,
            resp,
            resp.status,
            header,
            (0, expired),
            rest::ORDER_RULE,
            &mut self.core.state.stats,
        );
    }

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        let account = self.core.account(request.account);
        let inst = self.by_id.get(&request.instrument).copied();
        let supported =
            request.order_type == OrderType::Limit && matches!(request.tif, TimeInForce::Gtc | TimeInForce::Ioc);
        let local_reject = match (account, inst) {
            (_, None) => Some(RejectReason::UnknownInstrument),
            (None, _) => Some(RejectReason::Other),
            // Firi documents limit orders only, without flags (an IOC is emulated).
            _ if !supported || request.reduce_only => Some(RejectReason::Other),
            (Some(acct), _) if !self.core.link.admit(acct, NEW_ORDER) => Some(RejectReason::RateLimited),
            _ => None,
        };
        let (Some(acct), Some(idx), None) = (account, inst, local_reject) else {
            let reason = local_reject.unwrap_or(RejectReason::Other);
            log::warn!(
                "firi gateway: order {order_id} ({:?} {:?}) refused before sending: {reason:?}",
                request.order_type,
                request.tif
            );
            return self.core.state.reject_unsent(order_id, &request, reason);
        };
        let mut body = String::with_capacity(128);
        write_order_body(&mut body, &self.instruments[idx], &request);
        let ioc = request.tif == TimeInForce::Ioc;
        self.core.state.insert(order_id, request);
        if ioc {
            // Its remainder is cancelled as soon as its venue id is known (here, or by a claim).
            self.ioc.push(order_id);
        }
        self.core.state.stats.orders_sent += 1;
        let req = Req { method: "POST", path: ORDERS_PATH, query: "", body: &body, cost: NEW_ORDER };
        match signed_resyncing(self, acct, req) {
            Ok(resp) if resp.status == 200 => {
                match serde_json::from_slice(&resp.body).ok().as_ref().and_then(placed_id) {
                    Some(id) => {
                        self.core.state.ensure_accepted(order_id, id, WallClock.now())?;
                        if ioc {
                            self.cancel_ioc(acct, order_id)?;
                        }
                        Ok(())
                    }
                    None => {
                        self.core.state.stats.malformed += 1;
                        log::warn!("firi gateway: order {order_id}: unreadable answer: {}", resp.body_excerpt());
                        self.unknown_fate(order_id);
                        Ok(())
                    }
                }
            }
            Ok(resp) if resp.status >= 500 => {
                self.unknown_fate(order_id);
                Ok(())
            }
            Ok(resp) => {
                let r = refusal(&resp);
                let reason = reject_reason(resp.status, &r);
                log::info!("firi gateway: order {order_id} rejected: HTTP {}, {} {:?}", resp.status, r.name, r.message);
                self.core.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
            }
            Err(e) if !e.sent => {
                self.core.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            Err(_) => {
                self.unknown_fate(order_id);
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
        let (Some(acct), Some(&idx)) = (self.core.account(account), self.by_id.get(&instrument)) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        let Some(venue_id) = self.core.state.get(&order_id).map(|o| o.venue_order_id) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if venue_id == 0 {
            // Its fate is being settled by the poll; no id to cancel by yet.
            log::warn!("firi gateway: cancel of {order_id} refused: its venue id is not known yet");
            return reject(self, RejectReason::Other);
        }
        match self.send_cancel(acct, order_id, idx, venue_id)? {
            Cancel::Done => Ok(()),
            Cancel::Unknown => {
                self.core.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                Ok(())
            }
            Cancel::GoneAlready => reject(self, RejectReason::UnknownOrder),
            Cancel::Refused(reason) => reject(self, reason),
        }
    }

    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(acct) = self.core.account(account) else {
            log::warn!("firi gateway: cancel-all for unknown account {account}");
            return;
        };
        let paths: Vec<String> = match instrument {
            Some(id) => match self.by_id.get(&id) {
                Some(&idx) => vec![format!("{ORDERS_PATH}/{}", self.instruments[idx].symbol())],
                None => return,
            },
            None => self.instruments.iter().map(|i| format!("{ORDERS_PATH}/{}", i.symbol())).collect(),
        };
        for path in paths {
            if !self.core.link.admit(acct, REQUEST) {
                log::warn!("firi gateway: cancel-all {path} skipped: rate limited");
                continue;
            }
            self.core.state.stats.cancel_requests += 1;
            let req = Req { method: "DELETE", path: &path, query: "", body: "", cost: REQUEST };
            match signed_resyncing(self, acct, req) {
                Ok(resp) if resp.status == 200 => {}
                Ok(resp) => {
                    let r = refusal(&resp);
                    log::warn!("firi gateway: cancel-all {path}: HTTP {}, {} {:?}", resp.status, r.name, r.message);
                }
                Err(e) => log::warn!("firi gateway: cancel-all {path}: {e}"),
            }
        }
        // What was cancelled (and filled before) is settled by a poll now.
        self.core.state.schedule_account(account, Duration::ZERO);
    }
}

/// What became of a cancel request.
enum Cancel {
    /// Answered: the order is ended (or polled at once when fills are still to be booked).
    Done,
    /// No usable answer (5xx, a timeout after sending).
    Unknown,
    /// Firi does not have it working (probably filled meanwhile: it is polled at once).
    GoneAlready,
    /// Refused (a local rate limit, a refusal, not sent).
    Refused(RejectReason),
}

/// `DELETE /v2/orders/{id}/{market}/detailed`.
fn cancel_path(venue_id: u64, market: &str) -> String {
    format!("{ORDERS_PATH}/{venue_id}/{market}/detailed")
}

impl Gateway {
    pub(crate) fn new(cfg: &FiriGatewayConfig, http: HttpsClient, reports: Producer<ExecutionReport>) -> Self {
        let kit = &cfg.kit;
        let instruments = kit.instruments.clone();
        let by_id = instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect();
        let accounts = kit.accounts.iter().map(|(id, key, secret)| (*id, FiriKey::new(key, secret))).collect();
        let spec = LinkSpec { venue: "firi", rules: rest::RULES, server_time };
        let core = GatewayCore::new(kit, accounts, http, reports, spec);
        let now = Instant::now();
        Self {
            instruments,
            by_id,
            core,
            poll_every: cfg.poll_every,
            fills_page: cfg.fills_page,
            next_poll: vec![now; kit.accounts.len()],
            done: VecDeque::new(),
            ioc: Vec::new(),
        }
    }

    /// Sends `DELETE /v2/orders/{id}/{market}/detailed` for live order `order_id` (venue id
    /// `venue_id` on instrument `idx`); a `200` ends the order ([`Gateway::after_cancel`]).
    fn send_cancel(
        &mut self,
        acct: usize,
        order_id: OrderId,
        idx: usize,
        venue_id: u64,
    ) -> Result<Cancel, ReportsClosed> {
        if !self.core.link.admit(acct, REQUEST) {
            return Ok(Cancel::Refused(RejectReason::RateLimited));
        }
        let path = cancel_path(venue_id, self.instruments[idx].symbol());
        self.core.state.stats.cancel_requests += 1;
        let req = Req { method: "DELETE", path: &path, query: "", body: "", cost: REQUEST };
        Ok(match signed_resyncing(self, acct, req) {
            Ok(resp) if resp.status == 200 => {
                self.after_cancel(acct, order_id, &resp)?;
                Cancel::Done
            }
            Ok(resp) if resp.status >= 500 => Cancel::Unknown,
            Ok(resp) => {
                let r = refusal(&resp);
                log::info!(
                    "firi gateway: cancel of {order_id} refused: HTTP {}, {} {:?}",
                    resp.status,
                    r.name,
                    r.message
                );
                if is_unknown_order(resp.status, &r) {
                    // Probably filled meanwhile: the poll books it.
                    self.core.state.schedule(order_id, QueryReason::Gap, Duration::ZERO);
                    Cancel::GoneAlready
                } else {
                    Cancel::Refused(reject_reason(resp.status, &r))
                }
            }
            Err(e) if e.sent => Cancel::Unknown,
            Err(_) => Cancel::Refused(RejectReason::Other),
        })
    }

    /// An IOC's emulation (Firi has no IOC): what did not fill when it was placed is cancelled
    /// at once. Until a cancel is answered the order stays marked, and each poll that finds it
    /// working cancels it again; the reports are an IOC's (accepted, fills, cancelled rest).
    pub(crate) fn cancel_ioc(&mut self, acct: usize, order_id: OrderId) -> Result<(), ReportsClosed> {
        let Some(o) = self.core.state.get(&order_id) else {
            self.ioc.retain(|id| *id != order_id);
            return Ok(());
        };
        let (venue_id, inst) = (o.venue_order_id, self.by_id.get(&o.request.instrument).copied());
        let Some(idx) = inst.filter(|_| venue_id != 0) else { return Ok(()) };
        match self.send_cancel(acct, order_id, idx, venue_id)? {
            Cancel::Done | Cancel::GoneAlready => self.ioc.retain(|id| *id != order_id),
            Cancel::Unknown | Cancel::Refused(_) => {
                log::warn!(
                    "firi gateway: the rest of IOC order {order_id} is not cancelled yet; the next poll tries again"
                );
                self.core.state.schedule(order_id, QueryReason::Gap, self.poll_every);
            }
        }
        Ok(())
    }

    /// A new order without a usable answer: the poll looks for it (never re-sent).
    fn unknown_fate(&mut self, order_id: OrderId) {
        self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
    }

    /// Remembers that venue order `id` was finished here.
    pub(crate) fn mark_done(&mut self, id: u64) {
        if id == 0 {
            return;
        }
        if self.done.len() == DONE_KEPT {
            self.done.pop_front();
        }
        self.done.push_back(id);
    }
}
