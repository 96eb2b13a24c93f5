//! The OKX gateway thread `qt-gw-okx`: [`spawn`], and OKX's side of the kit's gateway loop
//! ([`crate::kit::thread`]) — [`OrderCommand`]s become signed v5 REST requests, and the private
//! stream's `orders` pushes become [`ExecutionReport`]s.
//!
//! The loop, the per-order record with its fill de-duplication, the reports and the
//! reconciliation schedule are the kit's; the stream threads are the kit's too, driven by
//! [`PrivateStream`]. Each REST request blocks the thread for at most the configured timeout.
//! Allocates per request and per frame (JSON). Never panics on venue input.
//!
//! Split by role: this file holds start-up, requests and commands; `gateway/stream_events.rs`
//! the `orders` pushes and the order-state logic they share with queries;
//! `gateway/reconcile.rs` the order and fill queries.

mod reconcile;
mod stream_events;

use crate::kit::http::{Endpoint, HttpsClient, Response, TransportError};
use crate::kit::order_state::{QueryReason, ReportsClosed};
use crate::kit::rate_limit::Cost;
use crate::kit::rest_link::{Req, signed_resyncing};
use crate::kit::shell::{self, GatewayCore, LinkSpec, SessionArgs, ShellGateway, Startup, ms_to_nanos};
use crate::okx::errors::{CODE_LOGIN_FAILED, GatewayError, is_auth_refusal, is_unknown_order, reject_reason};
use crate::okx::limits;
use crate::okx::private_stream::PrivateStream;
use crate::okx::rest::{OkxKey, api_error, envelope, is_timestamp_reject, item_error, venue_order_id};
use crate::okx::server_time::server_time;
use crate::okx::{GatewayStats, OkxGatewayConfig, VENUE_NAME};
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, Clock as _, ExecutionReport, Instrument, InstrumentId, InstrumentKind, OrderCommand, OrderId,
    OrderRequest, OrderType, RejectReason, ReportKind, Side, TimeInForce, WallClock,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const ORDER_PATH: &str = "/api/v5/trade/order";
const CANCEL_PATH: &str = "/api/v5/trade/cancel-order";
const CANCEL_BATCH_PATH: &str = "/api/v5/trade/cancel-batch-orders";
const PENDING_PATH: &str = "/api/v5/trade/orders-pending";
pub(crate) const FILLS_PATH: &str = "/api/v5/trade/fills";
/// Cancels per `cancel-batch-orders` request (OKX's maximum).
const BATCH_MAX: usize = 20;
/// After an ack of a post-only or FOK order (whose `Accepted` waits for the stream), when the
/// order is queried if the stream has not said what became of it.
const ACK_QUERY_DELAY: Duration = Duration::from_secs(2);

/// Starts the OKX gateway thread ([`crate::kit::shell::start`]). Before it returns: validates
/// `cfg` (all problems at once), estimates the venue's clock, opens each account's private
/// stream (logged in and subscribed) and starts one stream thread per account. The returned
/// thread runs until `stop` is set, the order ring is abandoned (and drained) or the report
/// ring's consumer is gone.
pub fn spawn(
    cfg: OkxGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let endpoints = validate(&cfg)?;
    let up = Startup { cfg: &cfg, venue_name: VENUE_NAME, endpoints };
    let session = |g: &Gateway, a: SessionArgs<'_>| {
        let key = okx_key(&cfg, a.account, a.index)?;
        Ok(Some(PrivateStream::new(a.account, key, a.target.clone(), cfg.clock.clone(), g.core.link.offset.clone())))
    };
    shell::start(up, |http| Gateway::new(&cfg, http, reports), session, stream_error, orders, stop)
}

/// Account `index`'s OKX key (its key, secret and passphrase).
fn okx_key(cfg: &OkxGatewayConfig, account: AccountId, index: usize) -> Result<OkxKey, GatewayError> {
    let (_, api_key, secret) = &cfg.accounts[index];
    OkxKey::new(api_key, secret, crate::okx::passphrase(cfg, account))
        .map_err(|m| GatewayError::Config { venue: VENUE_NAME, problems: vec![m] })
}

/// A private stream that would not open: a refused login is the account's credentials.
fn stream_error(account: AccountId, ws_url: &str, reason: String) -> GatewayError {
    let url = format!("{ws_url}{}", crate::okx::private_stream::PRIVATE_PATH);
    if reason.starts_with("login refused") {
        GatewayError::Venue { method: "GET", url, status: 200, code: CODE_LOGIN_FAILED, msg: reason }
            .for_account(account, is_auth_refusal)
    } else {
        GatewayError::Connect { url, reason }
    }
}

/// Whether `s` is an OKX instrument id (`BTC-USDT`, `BTC-USDT-SWAP`).
fn is_inst_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

/// Checks every field (the kit's checks, then OKX's: kinds, instrument ids, passphrases);
/// returns the parsed REST and WebSocket endpoints.
pub(crate) fn validate(cfg: &OkxGatewayConfig) -> Result<(Endpoint, Endpoint), GatewayError> {
    let mut problems = Vec::new();
    let endpoints = cfg.problems(&mut problems);
    for (i, inst) in cfg.instruments.iter().enumerate() {
        let sym = inst.symbol();
        if !matches!(inst.kind(), InstrumentKind::Spot | InstrumentKind::LinearPerpetual) {
            problems.push(format!("instruments[{i}]: {sym:?} is {:?}; OKX trades spot and SWAP here", inst.kind()));
        }
        if !is_inst_id(sym) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} is not an OKX instId (BTC-USDT, BTC-USDT-SWAP)"));
        }
        if cfg.instruments[..i].iter().any(|o| o.symbol() == sym) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} appears twice"));
        }
    }
    for (account, _, _) in &cfg.accounts {
        if crate::okx::passphrase(cfg, *account).is_empty() {
            problems.push(format!("passphrases: account {account} has none (OKX keys need their passphrase)"));
        }
    }
    match endpoints {
        Some(endpoints) if problems.is_empty() => Ok(endpoints),
        _ => Err(GatewayError::Config { venue: VENUE_NAME, problems }),
    }
}

/// The gateway thread's state.
pub(crate) struct Gateway {
    instruments: Vec<Instrument>,
    by_id: HashMap<InstrumentId, usize>,
    by_inst_id: HashMap<String, usize>,
    /// Accounts, orders, the REST link (the kit's shell).
    pub(crate) core: GatewayCore<OkxKey>,
}

impl ShellGateway for Gateway {
    type Key = OkxKey;
    const VENUE: &'static str = "okx";

    fn core(&mut self) -> &mut GatewayCore<OkxKey> {
        &mut self.core
    }

    fn core_ref(&self) -> &GatewayCore<OkxKey> {
        &self.core
    }

    fn on_frame(&mut self, acct: usize, text: &str) -> Result<(), ReportsClosed> {
        Gateway::on_frame(self, acct, text)
    }

    fn run_due_reconciles(&mut self, now: Instant) -> Result<usize, ReportsClosed> {
        Gateway::run_due_reconciles(self, now)
    }

    fn is_timestamp_reject(resp: &Response) -> bool {
        is_timestamp_reject(resp)
    }

    /// OKX's answers carry no usage headers; 50011 may come with HTTP 200 and no Retry-After:
    /// back off as for a 429.
    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, _req: Req<'_>) {
        let code = envelope(resp).map_or(0, |e| e.code_num());
        let status = if code == crate::okx::errors::CODE_RATE_LIMIT { 429 } else { resp.status };
        let header = |name: &str| resp.header(name).map(str::to_string);
        let timestamp_reject = code == crate::okx::errors::CODE_TIMESTAMP;
        self.core.link.note(
            acct,
            venue_ms,
            resp,
            status,
            header,
            (code, timestamp_reject),
            limits::ORDER_RULE,
            &mut self.core.state.stats,
        );
    }

    // ---- commands ------------------------------------------------------------------------

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
            log::warn!("okx gateway: order {order_id} refused before sending: {reason:?}");
            return self.core.state.reject_unsent(order_id, &request, reason);
        };
        let mut body = String::with_capacity(256);
        write_order_body(&mut body, &self.instruments[idx], self.core.client_order_id(order_id).as_str(), &request);
        let deferred_accept = matches!(request.tif, TimeInForce::PostOnly | TimeInForce::Fok);
        self.core.state.insert(order_id, request);
        self.core.state.stats.orders_sent += 1;
        let req = Req { method: "POST", path: ORDER_PATH, query: "", body: &body, cost: limits::NEW_ORDER };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if resp.status == 200 => match envelope(&resp) {
                Some(env) if env.code == "0" => {
                    let item = env.data.first();
                    let id = item.and_then(|i| i.get("ordId")).and_then(Value::as_str).map_or(0, venue_order_id);
                    let ts = item.and_then(|i| i.get("ts")).and_then(Value::as_str).and_then(|t| t.parse().ok());
                    if deferred_accept {
                        // OKX may still cancel it (post-only crossing, FOK unfillable):
                        // `Accepted` waits for the stream to show it working.
                        if let Some(o) = self.core.state.get_mut(&order_id) {
                            o.venue_order_id = id;
                        }
                        self.core.state.schedule(order_id, QueryReason::Gap, ACK_QUERY_DELAY);
                        Ok(())
                    } else {
                        self.core.state.ensure_accepted(order_id, id, ms_to_nanos(ts))
                    }
                }
                Some(env) => {
                    let (code, msg) = item_error(env.data.first()).unwrap_or((env.code_num(), env.msg.clone()));
                    let reason = reject_reason(resp.status, code);
                    log::info!("okx gateway: order {order_id} rejected: code {code}, {msg:?}");
                    self.core.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
                }
                None => {
                    self.core.state.stats.malformed += 1;
                    log::warn!("okx gateway: order {order_id}: unreadable answer: {}", resp.body_excerpt());
                    self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                    Ok(())
                }
            },
            Ok(resp) if resp.status >= 500 => {
                self.core.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp);
                let reason = reject_reason(resp.status, code);
                log::info!("okx gateway: order {order_id} rejected: HTTP {}, code {code}, {msg:?}", resp.status);
                self.core.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
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
        let (Some(acct), Some(&idx)) = (self.core.account(account), self.by_id.get(&instrument)) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if !self.admit(acct, limits::CANCEL) {
            return reject(self, RejectReason::RateLimited);
        }
        let body = serde_json::json!({
            "instId": self.instruments[idx].symbol(),
            "clOrdId": self.core.client_order_id(order_id).as_str(),
        })
        .to_string();
        self.core.state.stats.cancel_requests += 1;
        let req = Req { method: "POST", path: CANCEL_PATH, query: "", body: &body, cost: limits::CANCEL };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if resp.status == 200 && envelope(&resp).is_some_and(|e| e.code == "0") => Ok(()),
            Ok(resp) if resp.status >= 500 || (resp.status == 200 && envelope(&resp).is_none()) => {
                if self.core.state.contains(&order_id) {
                    self.core.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                    Ok(())
                } else {
                    reject(self, RejectReason::Other)
                }
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp);
                log::info!("okx gateway: cancel of {order_id} refused: HTTP {}, code {code}, {msg:?}", resp.status);
                let reason =
                    if is_unknown_order(code) { RejectReason::UnknownOrder } else { reject_reason(resp.status, code) };
                reject(self, reason)
            }
            Err(e) if e.sent && self.core.state.contains(&order_id) => {
                self.core.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                Ok(())
            }
            Err(_) => reject(self, RejectReason::Other),
        }
    }

    /// Cancel-all (OKX has none for spot or SWAP): the account's pending orders on each
    /// instrument, from `orders-pending`, cancelled with `cancel-batch-orders` 20 at a time.
    /// Their `canceled` pushes report them.
    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(acct) = self.core.account(account) else {
            log::warn!("okx gateway: cancel-all for unknown account {account}");
            return;
        };
        let targets: Vec<usize> = match instrument {
            Some(id) => self.by_id.get(&id).copied().into_iter().collect(),
            None => (0..self.instruments.len()).collect(),
        };
        for idx in targets {
            let inst_id = self.instruments[idx].symbol().to_string();
            if !self.admit(acct, limits::QUERY) {
                log::warn!("okx gateway: cancel-all of {inst_id} skipped: rate limited");
                continue;
            }
            let query = format!("instId={inst_id}");
            let req = Req { method: "GET", path: PENDING_PATH, query: &query, body: "", cost: limits::QUERY };
            let pending: Vec<String> = match self.signed_resyncing(acct, req) {
                Ok(resp) => match envelope(&resp).filter(|e| resp.status == 200 && e.code == "0") {
                    Some(env) => env
                        .data
                        .iter()
                        .filter_map(|o| o.get("ordId").and_then(Value::as_str).map(str::to_string))
                        .collect(),
                    None => {
                        let (code, msg) = api_error(&resp);
                        log::warn!(
                            "okx gateway: cancel-all of {inst_id}: pending orders: HTTP {}, code {code}, {msg:?}",
                            resp.status
                        );
                        continue;
                    }
                },
                Err(_) => continue,
            };
            for chunk in pending.chunks(BATCH_MAX) {
                let cost = Cost::weight(chunk.len() as u32);
                if !self.admit(acct, cost) {
                    log::warn!("okx gateway: cancel-all of {inst_id}: {} orders skipped: rate limited", chunk.len());
                    continue;
                }
                let list: Vec<Value> =
                    chunk.iter().map(|id| serde_json::json!({"instId": inst_id, "ordId": id})).collect();
                let body = Value::Array(list).to_string();
                self.core.state.stats.cancel_requests += 1;
                let req = Req { method: "POST", path: CANCEL_BATCH_PATH, query: "", body: &body, cost };
                if let Ok(resp) = self.signed_resyncing(acct, req) {
                    let code = envelope(&resp).map(|e| e.code);
                    if resp.status != 200 || code.as_deref() != Some("0") {
                        let (code, msg) = api_error(&resp);
                        log::warn!("okx gateway: cancel-all of {inst_id}: HTTP {}, code {code}, {msg:?}", resp.status);
                    }
                }
            }
        }
    }
}

impl Gateway {
    fn new(
        cfg: &OkxGatewayConfig,
        http: HttpsClient,
        reports: Producer<ExecutionReport>,
    ) -> Result<Self, GatewayError> {
        let instruments = cfg.instruments.clone();
        let by_id = instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect();
        let by_inst_id = instruments.iter().enumerate().map(|(i, inst)| (inst.symbol().to_string(), i)).collect();
        let mut accounts = Vec::new();
        for (i, (id, _, _)) in cfg.accounts.iter().enumerate() {
            accounts.push((*id, okx_key(cfg, *id, i)?));
        }
        let core = GatewayCore::new(
            cfg,
            accounts,
            http,
            reports,
            LinkSpec { venue: "okx", rules: limits::RULES, server_time },
        );
        Ok(Self { instruments, by_id, by_inst_id, core })
    }

    // ---- requests ------------------------------------------------------------------------

    /// Whether a request of `cost` for account `acct` may be sent now.
    fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.core.link.admit(acct, cost)
    }

    fn signed_resyncing(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        signed_resyncing(self, acct, req)
    }
}

/// Appends the `trade/order` JSON body of `request` on `inst` under our client order id
/// `cl_ord_id` to `out`: spot `tdMode=cash` (a market order sized in base,
/// `tgtCcy=base_ccy`), SWAP `tdMode=cross` in net mode with `reduceOnly` when asked.
///
/// Pure and allocation-free once `out` has capacity (the live path and the order-encoding
/// benchmark both call it). The instrument id is one [`validate`] accepted (upper-case letters,
/// digits and `-`) and `cl_ord_id` is alphanumeric, so nothing needs JSON escaping.
pub fn write_order_body(out: &mut String, inst: &Instrument, cl_ord_id: &str, request: &OrderRequest) {
    let spot = inst.kind() == InstrumentKind::Spot;
    let field = |out: &mut String, key: &str, value: &str| {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":\"");
        out.push_str(value);
        out.push('"');
    };
    out.push_str("{\"instId\":\"");
    out.push_str(inst.symbol());
    out.push('"');
    field(out, "tdMode", if spot { "cash" } else { "cross" });
    field(out, "clOrdId", cl_ord_id);
    field(out, "side", if request.side == Side::Buy { "buy" } else { "sell" });
    let ord_type = match (request.order_type, request.tif) {
        (OrderType::Market, _) => "market",
        (_, TimeInForce::Ioc) => "ioc",
        (_, TimeInForce::Fok) => "fok",
        (_, TimeInForce::PostOnly) => "post_only",
        _ => "limit",
    };
    field(out, "ordType", ord_type);
    field(out, "sz", inst.qty_text(request.qty).as_str());
    if request.order_type == OrderType::Limit {
        field(out, "px", inst.price_text(request.price).as_str());
    } else if spot {
        field(out, "tgtCcy", "base_ccy");
    }
    if !spot && request.reduce_only {
        out.push_str(",\"reduceOnly\":true");
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::config::GatewayConfig;
    use crate::kit::http::{server_name, tls_config};
    use qt_core::ClientOrderId;
    use qt_core::queue::spsc;
    use qt_core::{InstrumentSpec, Liquidity, Notional, Price, Qty, StrategyId, Venue};

    const RUN: u32 = 9;

    /// A gateway trading BTC-USDT spot (tick 0.01, lot 0.00001) and BTC-USDT-SWAP.
    fn gateway() -> (Gateway, Consumer<ExecutionReport>) {
        let spec = |symbol: &str, kind| InstrumentSpec {
            venue: Venue::Okx,
            symbol: symbol.into(),
            base: "BTC".into(),
            quote: "USDT".into(),
            kind,
            tick_size: "0.01".into(),
            lot_size: "0.00001".into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        let kit = GatewayConfig {
            instruments: vec![
                Instrument::from_spec(InstrumentId(0), &spec("BTC-USDT", InstrumentKind::Spot)).unwrap(),
                Instrument::from_spec(InstrumentId(1), &spec("BTC-USDT-SWAP", InstrumentKind::LinearPerpetual))
                    .unwrap(),
            ],
            accounts: vec![(AccountId(0), "k".into(), "s".into())],
            run_id: RUN,
            ..GatewayConfig::default()
        };
        let cfg = OkxGatewayConfig { passphrases: vec![(AccountId(0), "p".into())], ..kit };
        // Never contacted: these tests feed frames only (queries are scheduled, not run).
        let endpoint = Endpoint::parse("https://127.0.0.1:1", &["https"]).unwrap();
        let name = server_name(&endpoint, None).unwrap();
        let http = HttpsClient::new(endpoint, name, tls_config(None).unwrap(), Duration::from_millis(10));
        let (reports_tx, reports_rx) = spsc(64);
        (Gateway::new(&cfg, http, reports_tx).unwrap(), reports_rx)
    }

    fn live(g: &mut Gateway, id: u64, inst: u32, side: Side, qty: &str, price: &str) {
        let i = &g.instruments[inst as usize];
        let request = OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(inst),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: i.parse_price(price).unwrap(),
            qty: i.parse_qty(qty).unwrap(),
            reduce_only: false,
            stop_price: None,
        };
        g.core.state.insert(OrderId(id), request);
    }

    fn link(id: u64) -> String {
        ClientOrderId::new(RUN, OrderId(id)).to_string()
    }

    fn body_of(g: &Gateway, id: u64, inst: usize, request: &OrderRequest) -> String {
        let mut body = String::new();
        write_order_body(&mut body, &g.instruments[inst], link(id).as_str(), request);
        body
    }

    fn drain(rx: &mut Consumer<ExecutionReport>) -> Vec<ExecutionReport> {
        std::iter::from_fn(|| rx.pop().ok()).collect()
    }

    /// `testdata/okx/order_update.json` (the docs' `orders` push) with our `clOrdId`.
    fn documented_push(id: u64) -> String {
        let doc = include_str!("../../../testdata/okx/order_update.json");
        doc.replace(r#""clOrdId": """#, &format!(r#""clOrdId": "{}""#, link(id)))
    }

    #[test]
    fn the_documented_orders_push_parses_to_a_maker_fill_with_its_fee() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, 0, Side::Sell, "0.001", "31527.1");
        let push = documented_push(1);
        g.on_frame(0, &push).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].kind, r[0].venue_order_id), (ReportKind::Accepted, 452_197_707_845_865_472));
        let f = &r[1];
        assert_eq!((f.kind, f.liquidity, f.side), (ReportKind::Fill, Liquidity::Maker, Side::Sell));
        assert_eq!((f.last_qty, f.cum_qty, f.leaves_qty), (Qty::from_units(100), Qty::from_units(100), Qty::ZERO));
        assert_eq!(f.last_price, Price::from_units(3_152_710));
        assert_eq!(f.fee, Notional::parse("0.02522168").unwrap(), "fillFee -0.02522168: a charged fee");
        assert_eq!(f.exchange_ns.0, 1_654_084_353_263 * 1_000_000, "fillTime");
        assert!(g.core.state.is_empty(), "filled");
        // The same push again (a replay after a reconnect): nothing more.
        live(&mut g, 2, 0, Side::Sell, "0.001", "31527.1");
        g.on_frame(0, &documented_push(2)).unwrap();
        g.on_frame(0, &documented_push(2)).unwrap();
        assert_eq!(drain(&mut rx).len(), 2);
    }

    #[test]
    fn fills_are_reported_once_by_trade_id_and_cumulative_size() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, 1, Side::Buy, "0.01", "60000");
        let push = |trade: &str, sz: &str, acc: &str, state: &str| {
            format!(
                r#"{{"arg":{{"channel":"orders","instType":"SWAP"}},"data":[{{"instId":"BTC-USDT-SWAP","ordId":"7","clOrdId":"{}","state":"{state}","accFillSz":"{acc}","avgPx":"60000","fee":"-0.1","feeCcy":"USDT","tradeId":"{trade}","fillSz":"{sz}","fillPx":"60000","fillFee":"-0.03","fillFeeCcy":"USDT","fillTime":"1","execType":"T","uTime":"1"}}]}}"#,
                link(1)
            )
        };
        let first = push("t1", "0.004", "0.004", "partially_filled");
        g.on_frame(0, &first).unwrap();
        g.on_frame(0, &first).unwrap();
        g.on_frame(0, &push("t1b", "0.004", "0.004", "partially_filled")).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            (r[1].kind, r[1].fee, r[1].liquidity),
            (ReportKind::Fill, Notional::parse("0.03").unwrap(), Liquidity::Taker)
        );
        assert_eq!(g.core.state.stats.duplicate_fills, 2);
        g.on_frame(0, &push("t2", "0.006", "0.01", "filled")).unwrap();
        let r = drain(&mut rx);
        assert_eq!((r.len(), r[0].cum_qty, r[0].leaves_qty), (1, Qty::from_units(1000), Qty::ZERO));
    }

    #[test]
    fn malformed_frames_are_counted_and_queue_a_query_never_a_report() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, 0, Side::Sell, "0.001", "31527.1");
        let good = documented_push(1);
        for bad in [
            r#"{"arg":{"channel":"orders","instType":"SPOT"},"data":[{"accFillSz":"#.to_string(),
            "[]".to_string(),
            good.replace(r#""fillSz": "0.001""#, r#""fillSz": "0.001x""#),
            good.replace(r#""fillFee": "-0.02522168""#, r#""fillFee": "1e99999""#),
            good.replace(r#""instId": "BTC-USDT","#, r#""instId": "ETH-USDT","#),
            r#"{"arg":{"channel":"orders"},"data":[{"clOrdId":1}]}"#.to_string(),
        ] {
            g.on_frame(0, &bad).unwrap();
        }
        let reports = drain(&mut rx);
        assert!(reports.iter().all(|r| r.kind == ReportKind::Accepted), "{reports:?}");
        assert_eq!(g.core.state.stats.malformed, 6);
        assert_eq!(g.core.state.stats.fills, 0);
        assert_eq!(g.core.state.pending().len(), 1, "the live order is queried");
    }

    #[test]
    fn a_post_only_cancelled_by_the_venue_is_rejected_not_cancelled() {
        let (mut g, mut rx) = gateway();
        let state = |id: u64, state: &str, source: &str| {
            format!(
                r#"{{"arg":{{"channel":"orders","instType":"SPOT"}},"data":[{{"instId":"BTC-USDT","ordId":"5","clOrdId":"{}","state":"{state}","accFillSz":"0","cancelSource":"{source}","tradeId":"","fillSz":"0","uTime":"1"}}]}}"#,
                link(id)
            )
        };
        live(&mut g, 1, 0, Side::Buy, "0.001", "60000");
        g.on_frame(0, &state(1, "canceled", "31")).unwrap();
        let r = drain(&mut rx);
        assert_eq!(
            r.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [ReportKind::Rejected(RejectReason::WouldTakeLiquidity)]
        );
        // A user's cancel of a working order is a cancel.
        live(&mut g, 2, 0, Side::Buy, "0.001", "60000");
        g.on_frame(0, &state(2, "live", "")).unwrap();
        g.on_frame(0, &state(2, "canceled", "1")).unwrap();
        let kinds: Vec<ReportKind> = drain(&mut rx).iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [ReportKind::Accepted, ReportKind::Canceled]);
    }

    #[test]
    fn the_order_body_has_the_documented_fields_and_the_documented_ack_reads() {
        let (mut g, _rx) = gateway();
        live(&mut g, 3, 0, Side::Buy, "2", "2.15");
        let request = g.core.state.get(&OrderId(3)).unwrap().request;
        let body: Value = serde_json::from_str(&body_of(&g, 3, 0, &request)).unwrap();
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/okx/orders/rest_place_order_request.json")).unwrap();
        for key in ["instId", "tdMode", "side", "ordType"] {
            assert_eq!(body[key], doc[key], "{key}: {body} vs the docs' {doc}");
        }
        let num = |v: &Value| Notional::parse(v.as_str().unwrap()).unwrap();
        assert_eq!((num(&body["px"]), num(&body["sz"])), (num(&doc["px"]), num(&doc["sz"])), "{body}");
        assert_eq!(body["clOrdId"].as_str(), Some(link(3).as_str()));
        assert!(link(3).len() <= 32 && link(3).bytes().all(|b| b.is_ascii_alphanumeric()), "OKX's clOrdId rule");
        // SWAP: cross margin, reduce-only when asked; a spot market order is base-sized.
        let mut swap = request;
        swap.instrument = InstrumentId(1);
        swap.reduce_only = true;
        let body: Value = serde_json::from_str(&body_of(&g, 4, 1, &swap)).unwrap();
        assert_eq!((body["tdMode"].as_str(), body["reduceOnly"].as_bool()), (Some("cross"), Some(true)));
        let mut market = request;
        market.order_type = OrderType::Market;
        let body: Value = serde_json::from_str(&body_of(&g, 5, 0, &market)).unwrap();
        assert_eq!((body["ordType"].as_str(), body["tgtCcy"].as_str()), (Some("market"), Some("base_ccy")));
        assert!(body.get("px").is_none());
        // The documented acks: the order id, and a refusal's sCode.
        let ack: crate::okx::rest::Envelope =
            serde_json::from_str(include_str!("../../../testdata/okx/orders/rest_place_order_response.json")).unwrap();
        assert_eq!(ack.code, "0");
        assert_eq!(ack.data[0]["ordId"].as_str().map(venue_order_id), Some(312_269_865_356_374_016));
        assert_eq!(item_error(ack.data.first()), None);
        let refused =
            serde_json::json!({"sCode": "51008", "sMsg": "Order failed. Insufficient USDT balance in account"});
        assert_eq!(item_error(Some(&refused)).map(|e| e.0), Some(51008));
        assert_eq!(reject_reason(200, 51008), RejectReason::InsufficientBalance);
    }
}
