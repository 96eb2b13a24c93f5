//! The Bybit gateway thread `qt-gw-bybit`: [`spawn`], and Bybit's side of the kit's gateway
//! loop ([`crate::kit::thread`]) — [`OrderCommand`]s become signed v5 REST requests, and the
//! private stream's `order` / `execution` pushes become [`ExecutionReport`]s.
//!
//! The loop, the per-order record with its fill de-duplication, the reports and the
//! reconciliation schedule are the kit's; the stream threads are the kit's too, driven by
//! [`PrivateStream`]. Each REST request blocks the thread for at most the configured timeout.
//! Allocates per request and per frame (JSON). Never panics on venue input.
//!
//! Split by role: this file holds start-up, requests and commands; `gateway/stream_events.rs`
//! the private stream's pushes and the order-state logic they share with queries;
//! `gateway/reconcile.rs` the order queries.

mod reconcile;
mod stream_events;

use crate::bybit::errors::{GatewayError, is_auth_refusal, is_unknown_order, reject_reason};
use crate::bybit::limits;
use crate::bybit::private_stream::PrivateStream;
use crate::bybit::rest::{BybitKey, api_error, envelope, is_timestamp_reject, venue_order_id};
use crate::bybit::server_time::server_time;
use crate::bybit::{BybitGatewayConfig, GatewayStats, VENUE_NAME};
use crate::kit::http::{Endpoint, HttpsClient, Response, TransportError};
use crate::kit::order_state::{QueryReason, ReportsClosed};
use crate::kit::rate_limit::Cost;
use crate::kit::rest_link::{Req, signed_resyncing};
use crate::kit::shell::{self, GatewayCore, LinkSpec, SessionArgs, ShellGateway, Startup, ms_to_nanos};
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

const CREATE_PATH: &str = "/v5/order/create";
const CANCEL_PATH: &str = "/v5/order/cancel";
const CANCEL_ALL_PATH: &str = "/v5/order/cancel-all";
pub(crate) const REALTIME_PATH: &str = "/v5/order/realtime";
/// After an ack of a post-only or FOK order (whose `Accepted` waits for the stream), when the
/// order is queried if the stream has not said what became of it.
const ACK_QUERY_DELAY: Duration = Duration::from_secs(2);

/// A Bybit product category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Category {
    Spot,
    Linear,
}

impl Category {
    pub(crate) fn of(kind: InstrumentKind) -> Option<Self> {
        match kind {
            InstrumentKind::Spot => Some(Category::Spot),
            InstrumentKind::LinearPerpetual => Some(Category::Linear),
            InstrumentKind::InversePerpetual => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Category::Spot => "spot",
            Category::Linear => "linear",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "spot" => Some(Category::Spot),
            "linear" => Some(Category::Linear),
            _ => None,
        }
    }
}

/// Starts the Bybit gateway thread ([`crate::kit::shell::start`]). Before it returns:
/// validates `cfg` (all problems at once), estimates the venue's clock, opens each account's
/// private stream (authenticated and subscribed) and starts one stream thread per account. The
/// returned thread runs until `stop` is set, the order ring is abandoned (and drained) or the
/// report ring's consumer is gone.
pub fn spawn(
    cfg: BybitGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let endpoints = validate(&cfg)?;
    let up = Startup { cfg: &cfg, venue_name: VENUE_NAME, endpoints };
    let session = |g: &Gateway, a: SessionArgs<'_>| {
        let (_, api_key, secret) = &cfg.accounts[a.index];
        let key = BybitKey::new(api_key, secret, cfg.recv_window_ms);
        Ok(Some(PrivateStream::new(a.account, key, a.target.clone(), cfg.clock.clone(), g.core.link.offset.clone())))
    };
    shell::start(up, |http| Ok(Gateway::new(&cfg, http, reports)), session, stream_error, orders, stop)
}

/// A private stream that would not open: a refused login is the account's credentials.
fn stream_error(account: AccountId, ws_url: &str, reason: String) -> GatewayError {
    let url = format!("{ws_url}{}", crate::bybit::private_stream::PRIVATE_PATH);
    if reason.starts_with("auth refused") {
        // The private stream's auth answer has no code; 10004 stands for "refused".
        GatewayError::Venue { method: "GET", url, status: 200, code: crate::bybit::errors::CODE_BAD_SIGN, msg: reason }
            .for_account(account, is_auth_refusal)
    } else {
        GatewayError::Connect { url, reason }
    }
}

/// Checks every field (the kit's checks, then Bybit's: categories and symbols); returns the
/// parsed REST and WebSocket endpoints.
pub(crate) fn validate(cfg: &BybitGatewayConfig) -> Result<(Endpoint, Endpoint), GatewayError> {
    let mut problems = Vec::new();
    let endpoints = cfg.problems(&mut problems);
    for (i, inst) in cfg.instruments.iter().enumerate() {
        let sym = inst.symbol();
        let cat = Category::of(inst.kind());
        if cat.is_none() {
            problems.push(format!("instruments[{i}]: {sym:?} is {:?}; Bybit trades spot and linear here", inst.kind()));
        }
        if sym.is_empty() || !sym.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} is not a Bybit symbol (^[A-Z0-9]+$)"));
        }
        if cfg.instruments[..i].iter().any(|o| o.symbol() == sym && Category::of(o.kind()) == cat) {
            problems.push(format!("instruments[{i}].symbol: {sym:?} appears twice in one category"));
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
    categories: Vec<Category>,
    by_id: HashMap<InstrumentId, usize>,
    by_symbol: HashMap<(Category, String), usize>,
    /// Accounts, orders, the REST link (the kit's shell; the link's clock offset is shared
    /// with the stream threads: their auth `expires`).
    pub(crate) core: GatewayCore<BybitKey>,
}

impl ShellGateway for Gateway {
    type Key = BybitKey;
    const VENUE: &'static str = "bybit";

    fn core(&mut self) -> &mut GatewayCore<BybitKey> {
        &mut self.core
    }

    fn core_ref(&self) -> &GatewayCore<BybitKey> {
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

    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, req: Req<'_>) {
        let order_entry = req.path == CREATE_PATH;
        let used = limits::used_from_headers(resp.header("x-bapi-limit"), resp.header("x-bapi-limit-status"));
        let (code, _) = api_error(resp);
        // 10006 arrives with HTTP 200 and no Retry-After: back off as for a 429.
        let status = if code == crate::bybit::errors::CODE_TOO_MANY_VISITS { 429 } else { resp.status };
        let header = |name: &str| match name {
            limits::USED_HEADER if order_entry => used.map(|u| u.to_string()),
            _ => resp.header(name).map(str::to_string),
        };
        let timestamp_reject = code == crate::bybit::errors::CODE_TIMESTAMP;
        let stats = &mut self.core.state.stats;
        self.core.link.note(acct, venue_ms, resp, status, header, (code, timestamp_reject), limits::ORDER_RULE, stats);
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
            log::warn!("bybit gateway: order {order_id} refused before sending: {reason:?}");
            return self.core.state.reject_unsent(order_id, &request, reason);
        };
        let mut body = String::with_capacity(256);
        write_create_body(&mut body, &self.instruments[idx], self.core.client_order_id(order_id).as_str(), &request);
        let deferred_accept = matches!(request.tif, TimeInForce::PostOnly | TimeInForce::Fok);
        self.core.state.insert(order_id, request);
        self.core.state.stats.orders_sent += 1;
        let req = Req { method: "POST", path: CREATE_PATH, query: "", body: &body, cost: limits::NEW_ORDER };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if resp.status == 200 => match envelope(&resp) {
                Some(env) if env.code == 0 => {
                    let id = env.result.get("orderId").and_then(Value::as_str).map(venue_order_id).unwrap_or(0);
                    if deferred_accept {
                        // The venue may still refuse it (post-only crossing, FOK unfillable):
                        // `Accepted` waits for the stream to show it working.
                        if let Some(o) = self.core.state.get_mut(&order_id) {
                            o.venue_order_id = id;
                        }
                        self.core.state.schedule(order_id, QueryReason::Gap, ACK_QUERY_DELAY);
                        Ok(())
                    } else {
                        self.core.state.ensure_accepted(order_id, id, ms_to_nanos(env.time))
                    }
                }
                Some(env) => {
                    let reason = reject_reason(resp.status, env.code, &env.msg);
                    log::info!("bybit gateway: order {order_id} rejected: retCode {}, {:?}", env.code, env.msg);
                    self.core.state.finish_order(order_id, ReportKind::Rejected(reason), ms_to_nanos(env.time))
                }
                None => {
                    self.core.state.stats.malformed += 1;
                    log::warn!("bybit gateway: order {order_id}: unreadable answer: {}", resp.body_excerpt());
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
                let reason = reject_reason(resp.status, code, &msg);
                log::info!("bybit gateway: order {order_id} rejected: HTTP {}, code {code}, {msg:?}", resp.status);
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
            "category": self.categories[idx].name(),
            "symbol": self.instruments[idx].symbol(),
            "orderLinkId": self.core.client_order_id(order_id).as_str(),
        })
        .to_string();
        self.core.state.stats.cancel_requests += 1;
        let req = Req { method: "POST", path: CANCEL_PATH, query: "", body: &body, cost: limits::CANCEL };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if resp.status == 200 && envelope(&resp).is_some_and(|e| e.code == 0) => Ok(()),
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
                log::info!("bybit gateway: cancel of {order_id} refused: HTTP {}, code {code}, {msg:?}", resp.status);
                let reason = if is_unknown_order(code) {
                    RejectReason::UnknownOrder
                } else {
                    reject_reason(resp.status, code, &msg)
                };
                reject(self, reason)
            }
            Err(e) if e.sent && self.core.state.contains(&order_id) => {
                self.core.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                Ok(())
            }
            Err(_) => reject(self, RejectReason::Other),
        }
    }

    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(acct) = self.core.account(account) else {
            log::warn!("bybit gateway: cancel-all for unknown account {account}");
            return;
        };
        let targets: Vec<usize> = match instrument {
            Some(id) => self.by_id.get(&id).copied().into_iter().collect(),
            None => (0..self.instruments.len()).collect(),
        };
        for idx in targets {
            let symbol = self.instruments[idx].symbol().to_string();
            if !self.admit(acct, limits::CANCEL) {
                log::warn!("bybit gateway: cancel-all of {symbol} skipped: rate limited");
                continue;
            }
            self.core.state.stats.cancel_requests += 1;
            let body = serde_json::json!({ "category": self.categories[idx].name(), "symbol": symbol }).to_string();
            let req = Req { method: "POST", path: CANCEL_ALL_PATH, query: "", body: &body, cost: limits::CANCEL };
            if let Ok(resp) = self.signed_resyncing(acct, req) {
                let (code, msg) = api_error(&resp);
                if resp.status != 200 || code != 0 {
                    log::warn!("bybit gateway: cancel-all of {symbol}: HTTP {}, code {code}, {msg:?}", resp.status);
                }
            }
        }
    }
}

impl Gateway {
    fn new(cfg: &BybitGatewayConfig, http: HttpsClient, reports: Producer<ExecutionReport>) -> Self {
        let instruments = cfg.instruments.clone();
        let categories: Vec<Category> =
            instruments.iter().map(|i| Category::of(i.kind()).unwrap_or(Category::Linear)).collect();
        let by_id = instruments.iter().enumerate().map(|(i, inst)| (inst.id(), i)).collect();
        let by_symbol =
            instruments.iter().enumerate().map(|(i, inst)| ((categories[i], inst.symbol().to_string()), i)).collect();
        let accounts = cfg
            .accounts
            .iter()
            .map(|(id, key, secret)| (*id, BybitKey::new(key, secret, cfg.recv_window_ms)))
            .collect();
        let core = GatewayCore::new(
            cfg,
            accounts,
            http,
            reports,
            LinkSpec { venue: "bybit", rules: limits::RULES, server_time },
        );
        Self { instruments, categories, by_id, by_symbol, core }
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

/// Appends the `order/create` JSON body (`order/create-order.mdx`) of `request` on `inst` under
/// our client order id `order_link_id` to `out`: a spot market order is sized in base coin
/// (`marketUnit`), a linear one is one-way (`positionIdx` 0) and carries `reduceOnly` when
/// asked.
///
/// Pure and allocation-free once `out` has capacity (the live path and the order-encoding
/// benchmark both call it). The symbol is one [`validate`] accepted (upper-case letters and
/// digits) and `order_link_id` is alphanumeric, so nothing needs JSON escaping.
pub fn write_create_body(out: &mut String, inst: &Instrument, order_link_id: &str, request: &OrderRequest) {
    let cat = Category::of(inst.kind()).unwrap_or(Category::Linear);
    let field = |out: &mut String, key: &str, value: &str| {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":\"");
        out.push_str(value);
        out.push('"');
    };
    out.push_str("{\"category\":\"");
    out.push_str(cat.name());
    out.push('"');
    field(out, "symbol", inst.symbol());
    field(out, "side", if request.side == Side::Buy { "Buy" } else { "Sell" });
    field(out, "orderType", if request.order_type == OrderType::Market { "Market" } else { "Limit" });
    field(out, "qty", inst.qty_text(request.qty).as_str());
    if request.order_type == OrderType::Limit {
        field(out, "price", inst.price_text(request.price).as_str());
        let tif = match request.tif {
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
            TimeInForce::PostOnly => "PostOnly",
            _ => "GTC",
        };
        field(out, "timeInForce", tif);
    } else if cat == Category::Spot {
        field(out, "marketUnit", "baseCoin");
    }
    field(out, "orderLinkId", order_link_id);
    if cat == Category::Linear {
        out.push_str(",\"positionIdx\":0");
        if request.reduce_only {
            out.push_str(",\"reduceOnly\":true");
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::http::{server_name, tls_config};
    use qt_core::ClientOrderId;
    use qt_core::queue::spsc;
    use qt_core::{InstrumentSpec, Liquidity, Notional, Price, Qty, StrategyId, Venue};

    const RUN: u32 = 9;

    fn gateway() -> (Gateway, Consumer<ExecutionReport>) {
        let spec = InstrumentSpec {
            venue: Venue::Bybit,
            symbol: "SOLUSDT".into(),
            base: "SOL".into(),
            quote: "USDT".into(),
            kind: InstrumentKind::LinearPerpetual,
            tick_size: "0.001".into(),
            lot_size: "0.1".into(),
            min_qty: None,
            min_notional: None,
            multiplier: None,
            price_scale: None,
            qty_scale: None,
        };
        let cfg = BybitGatewayConfig {
            instruments: vec![Instrument::from_spec(InstrumentId(0), &spec).unwrap()],
            accounts: vec![(AccountId(0), "k".into(), "s".into())],
            run_id: RUN,
            ..BybitGatewayConfig::default()
        };
        // Never contacted: these tests feed frames only (queries are scheduled, not run).
        let endpoint = Endpoint::parse("https://127.0.0.1:1", &["https"]).unwrap();
        let name = server_name(&endpoint, None).unwrap();
        let http = HttpsClient::new(endpoint, name, tls_config(None).unwrap(), Duration::from_millis(10));
        let (reports_tx, reports_rx) = spsc(64);
        (Gateway::new(&cfg, http, reports_tx), reports_rx)
    }

    fn live(g: &mut Gateway, id: u64, qty: &str) {
        let qty = g.instruments[0].parse_qty(qty).unwrap();
        let request = OrderRequest {
            account: AccountId(0),
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side: Side::Sell,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: g.instruments[0].parse_price("150").unwrap(),
            qty,
            reduce_only: false,
            stop_price: None,
        };
        g.core.state.insert(OrderId(id), request);
    }

    fn link(id: u64) -> String {
        ClientOrderId::new(RUN, OrderId(id)).to_string()
    }

    fn execution(id: u64, exec_id: &str, qty: &str, leaves: &str, fee: &str) -> String {
        format!(
            r#"{{"topic":"execution","creationTime":1,"data":[{{"category":"linear","symbol":"SOLUSDT","execFee":"{fee}","execId":"{exec_id}","execPrice":"150.000","execQty":"{qty}","execType":"Trade","isMaker":true,"leavesQty":"{leaves}","orderId":"9aac161b-8ed6-450d-9cab-c5cc67c21784","orderLinkId":"{}","orderQty":"1.0","execTime":"1700000000000","feeCurrency":"USDT"}}]}}"#,
            link(id)
        )
    }

    fn order(id: u64, status: &str, cum: &str, value: &str, fee: &str) -> String {
        format!(
            r#"{{"topic":"order","creationTime":1,"data":[{{"category":"linear","symbol":"SOLUSDT","orderId":"9aac161b-8ed6-450d-9cab-c5cc67c21784","orderLinkId":"{}","orderStatus":"{status}","cumExecQty":"{cum}","cumExecValue":"{value}","cumExecFee":"{fee}","rejectReason":"EC_NoError","updatedTime":"1700000000001"}}]}}"#,
            link(id)
        )
    }

    fn drain(rx: &mut Consumer<ExecutionReport>) -> Vec<ExecutionReport> {
        std::iter::from_fn(|| rx.pop().ok()).collect()
    }

    #[test]
    fn executions_are_reported_once_by_exec_id_and_cumulative_quantity() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, "1.0");
        let first = execution(1, "e-1", "0.4", "0.6", "0.006");
        g.on_frame(0, &first).unwrap();
        g.on_frame(0, &first).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].kind, ReportKind::Accepted);
        assert_eq!(
            (r[1].kind, r[1].liquidity, r[1].fee),
            (ReportKind::Fill, Liquidity::Maker, Notional::parse("0.006").unwrap())
        );
        assert_eq!((r[1].last_qty, r[1].cum_qty), (Qty::from_units(4), Qty::from_units(4)));
        assert_eq!(g.core.state.stats.duplicate_fills, 1);
        // The same trade under another id but a cumulative already reported: still a duplicate.
        g.on_frame(0, &execution(1, "e-1b", "0.4", "0.6", "0.006")).unwrap();
        assert!(drain(&mut rx).is_empty());
        assert_eq!(g.core.state.stats.duplicate_fills, 2);
        // A fee in another coin is booked as zero and counted.
        let bnb =
            execution(1, "e-2", "0.1", "0.5", "0.001").replace(r#""feeCurrency":"USDT""#, r#""feeCurrency":"BNB""#);
        g.on_frame(0, &bnb).unwrap();
        let r = drain(&mut rx);
        assert_eq!((r[0].fee, r[0].cum_qty), (Notional::ZERO, Qty::from_units(5)));
        assert_eq!(g.core.state.stats.fees_not_in_quote, 1);
        // Other runs' and foreign orders are ignored; funding executions are not fills.
        g.on_frame(0, &first.replace(&link(1), &ClientOrderId::new(RUN + 1, OrderId(1)).to_string())).unwrap();
        g.on_frame(0, &first.replace(&link(1), "web-order")).unwrap();
        g.on_frame(
            0,
            &execution(1, "e-3", "0.1", "0.4", "0").replace(r#""execType":"Trade""#, r#""execType":"Funding""#),
        )
        .unwrap();
        assert!(drain(&mut rx).is_empty());
    }

    #[test]
    fn a_filled_order_push_books_what_the_executions_missed_with_its_fee() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, "1.0");
        g.on_frame(0, &execution(1, "e-1", "0.4", "0.6", "0.006")).unwrap();
        // 0.6 more filled at 150 unseen: cumExecValue 150, cumExecFee 0.015 in all.
        g.on_frame(0, &order(1, "Filled", "1.0", "150", "0.015")).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 3, "{r:?}");
        let last = &r[2];
        assert_eq!(
            (last.kind, last.last_qty, last.cum_qty, last.leaves_qty),
            (ReportKind::Fill, Qty::from_units(6), Qty::from_units(10), Qty::ZERO)
        );
        assert_eq!(last.last_price, Price::from_units(150_000));
        assert_eq!(last.fee, Notional::parse("0.009").unwrap(), "the missing part of the order's fee");
        assert!(g.core.state.is_empty());
        assert_eq!(g.core.state.stats.fills_fee_from_trades, 1);
    }

    #[test]
    fn malformed_frames_are_counted_and_queue_a_query_never_a_report() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, "1.0");
        for bad in [
            r#"{"topic":"execution","data":[{"s":"#.to_string(),
            "[]".to_string(),
            execution(1, "e-1", "0.4x", "0.6", "0.006"),
            execution(1, "e-1", "0.4", "0.6", "1e99999"),
            execution(1, "e-1", "0.4", "0.6", "0.006").replace(r#""symbol":"SOLUSDT""#, r#""symbol":"BTCUSDT""#),
            r#"{"topic":"order","data":[{"orderLinkId":1}]}"#.to_string(),
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
    fn a_post_only_refused_after_its_ack_is_rejected_not_cancelled() {
        let (mut g, mut rx) = gateway();
        live(&mut g, 1, "1.0");
        let refused = order(1, "Cancelled", "0", "0", "0").replace("EC_NoError", "EC_PostOnlyWillTakeLiquidity");
        g.on_frame(0, &refused).unwrap();
        let r = drain(&mut rx);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::WouldTakeLiquidity));
        // A plain cancel of a working order is a cancel.
        live(&mut g, 2, "1.0");
        g.on_frame(0, &order(2, "New", "0", "0", "0")).unwrap();
        g.on_frame(0, &order(2, "Cancelled", "0", "0", "0")).unwrap();
        let kinds: Vec<ReportKind> = drain(&mut rx).iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [ReportKind::Accepted, ReportKind::Canceled]);
    }

    #[test]
    fn the_create_body_is_bybits_with_one_way_reduce_only() {
        let (mut g, _rx) = gateway();
        live(&mut g, 3, "0.5");
        let mut request = g.core.state.get(&OrderId(3)).unwrap().request;
        request.reduce_only = true;
        let mut text = String::new();
        write_create_body(&mut text, &g.instruments[0], link(3).as_str(), &request);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["category"], "linear");
        assert_eq!(body["symbol"], "SOLUSDT");
        assert_eq!((body["side"].as_str(), body["orderType"].as_str()), (Some("Sell"), Some("Limit")));
        assert_eq!((body["qty"].as_str(), body["price"].as_str()), (Some("0.5"), Some("150.000")));
        assert_eq!((body["positionIdx"].as_i64(), body["reduceOnly"].as_bool()), (Some(0), Some(true)));
        assert_eq!(body["orderLinkId"].as_str(), Some(link(3).as_str()));
        assert!(link(3).len() <= 36, "Bybit's orderLinkId limit");
    }
}
