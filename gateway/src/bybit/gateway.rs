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
use crate::kit::health::{HealthReporter, RequestOutcomes};
use crate::kit::http::{Endpoint, HttpsClient, Response, TransportError, server_name, tls_config};
use crate::kit::order_state::{OrderState, QueryReason, ReportsClosed};
use crate::kit::private_stream::{self, StreamMsg, StreamThreads, WsTarget};
use crate::kit::rate_limit::Cost;
use crate::kit::rest_link::{Req, RestLink, SignedRest, signed_resyncing};
use crate::kit::thread::{self, Inputs, VenueGateway};
use crate::sign::RequestSigner;
use qt_core::queue::{Consumer, Producer};
use qt_core::{
    AccountId, ClientOrderId, Clock as _, ExecutionReport, Instrument, InstrumentId, InstrumentKind, Nanos,
    OrderCommand, OrderId, OrderRequest, OrderType, RejectReason, ReportKind, Side, TimeInForce, WallClock,
};
use serde_json::{Map, Value};
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

/// Starts the Bybit gateway thread. Before it returns: validates `cfg` (all problems at once),
/// estimates the venue's clock, opens each account's private stream (authenticated and
/// subscribed) and starts one stream thread per account. The returned thread runs until `stop`
/// is set, the order ring is abandoned (and drained) or the report ring's consumer is gone.
pub fn spawn(
    cfg: BybitGatewayConfig,
    orders: Consumer<OrderCommand>,
    reports: Producer<ExecutionReport>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<GatewayStats>, GatewayError> {
    let (rest, ws) = validate(&cfg)?;
    let tls = tls_config(cfg.ca_file.as_deref())?;
    let config_error =
        |m: String| GatewayError::Config { venue: VENUE_NAME, problems: vec![format!("server_name: {m}")] };
    let rest_name = server_name(&rest, cfg.server_name.as_deref()).map_err(config_error)?;
    let ws_name = server_name(&ws, cfg.server_name.as_deref()).map_err(config_error)?;
    let ws_url = ws.url.clone();
    let target = WsTarget { endpoint: ws, name: ws_name, tls: tls.clone(), timeout: cfg.request_timeout };
    let http = HttpsClient::new(rest, rest_name, tls, cfg.request_timeout);

    // The venue's clock first: the stream's auth `expires` and every signature use it.
    let mut gateway = Gateway::new(&cfg, http, reports);
    gateway.sync_time(Instant::now());

    let (tx, rx) = private_stream::channel();
    let mut streams = StreamThreads::new();
    for (i, (account, api_key, secret)) in cfg.accounts.iter().enumerate() {
        let key = BybitKey::new(api_key, secret, cfg.recv_window_ms);
        let mut session =
            PrivateStream::new(*account, key, target.clone(), cfg.clock.clone(), gateway.link.offset.clone());
        let ws = match crate::kit::private_stream::StreamSession::open(&mut session) {
            Ok(ws) => ws,
            Err(reason) => {
                streams.stop(VENUE_NAME);
                return Err(stream_error(*account, &ws_url, reason));
            }
        };
        log::info!("bybit gateway: account {account} private stream open");
        let name = format!("qt-gw-bybit-ps{i}");
        if let Err(source) = streams.spawn(name.clone(), session, i, ws, tx.clone()) {
            streams.stop(VENUE_NAME);
            return Err(GatewayError::Spawn { name, source });
        }
    }
    drop(tx);

    let health = HealthReporter::new(cfg.venue, VENUE_NAME, cfg.control.clone());
    let mut inputs = Inputs { orders, stream: rx, health };
    let spawned = std::thread::Builder::new().name("qt-gw-bybit".into()).spawn(move || {
        thread::run(&mut gateway, &mut inputs, &stop, VENUE_NAME);
        streams.stop(VENUE_NAME);
        log::info!("bybit gateway: stopped; {:?}", gateway.state.stats);
        gateway.state.stats
    });
    spawned.map_err(|source| GatewayError::Spawn { name: "qt-gw-bybit".into(), source })
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

/// One account of the gateway.
struct Account {
    id: AccountId,
    key: BybitKey,
}

pub(crate) fn ms_to_nanos(ms: Option<i64>) -> Nanos {
    ms.map_or_else(|| WallClock.now(), |m| Nanos(m.saturating_mul(1_000_000)))
}

/// The gateway thread's state.
pub(crate) struct Gateway {
    run_id: u32,
    instruments: Vec<Instrument>,
    categories: Vec<Category>,
    by_id: HashMap<InstrumentId, usize>,
    by_symbol: HashMap<(Category, String), usize>,
    accounts: Vec<Account>,
    account_index: HashMap<AccountId, usize>,
    pub(crate) state: OrderState,
    /// The REST client, limits and the venue's clock (its offset shared with the stream
    /// threads: their auth `expires`).
    pub(crate) link: RestLink,
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
        let synced = self.link.time.due(now) && self.sync_time(now);
        Ok(usize::from(synced) + self.run_due_reconciles(now)?)
    }

    fn finish(&mut self) {
        self.state.log_unreconciled("bybit");
    }

    fn requests(&self) -> &RequestOutcomes {
        self.link.outcomes()
    }

    /// One `GET /v5/market/time` (unsigned), unless the limiter is backing off.
    fn probe(&mut self) {
        self.link.probe();
    }

    fn stats(&mut self) -> &mut GatewayStats {
        &mut self.state.stats
    }
}

impl SignedRest for Gateway {
    const VENUE: &'static str = "bybit";

    fn parts(&mut self, acct: usize) -> Option<(&mut RestLink, &mut GatewayStats, &dyn RequestSigner)> {
        let signer = self.accounts.get(acct)?.key.signer();
        Some((&mut self.link, &mut self.state.stats, signer))
    }

    fn link_stats(&mut self) -> (&mut RestLink, &mut GatewayStats) {
        (&mut self.link, &mut self.state.stats)
    }

    fn note_answer(&mut self, acct: usize, venue_ms: i64, resp: &Response, req: Req<'_>) {
        Gateway::note_answer(self, acct, venue_ms, resp, req);
    }

    fn is_timestamp_reject(resp: &Response) -> bool {
        is_timestamp_reject(resp)
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
        let accounts: Vec<Account> = cfg
            .accounts
            .iter()
            .map(|(id, key, secret)| Account { id: *id, key: BybitKey::new(key, secret, cfg.recv_window_ms) })
            .collect();
        let account_index = accounts.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        Self {
            run_id: cfg.run_id,
            instruments,
            categories,
            by_id,
            by_symbol,
            accounts,
            account_index,
            state: OrderState::new(cfg.venue, reports),
            link: RestLink::new(cfg, http, limits::RULES, "bybit", server_time),
        }
    }

    // ---- requests ------------------------------------------------------------------------

    /// Whether a request of `cost` for account `acct` may be sent now.
    fn admit(&mut self, acct: usize, cost: Cost) -> bool {
        self.link.admit(acct, cost)
    }

    fn signed_resyncing(&mut self, acct: usize, req: Req<'_>) -> Result<Response, TransportError> {
        signed_resyncing(self, acct, req)
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
        let stats = &mut self.state.stats;
        self.link.note(acct, venue_ms, resp, status, header, (code, timestamp_reject), limits::ORDER_RULE, stats);
    }

    // ---- commands ------------------------------------------------------------------------

    fn on_new(&mut self, order_id: OrderId, request: OrderRequest) -> Result<(), ReportsClosed> {
        let account = self.account_index.get(&request.account).copied();
        let inst = self.by_id.get(&request.instrument).copied();
        let local_reject = match (account, inst) {
            (_, None) => Some(RejectReason::UnknownInstrument),
            (None, _) => Some(RejectReason::Other),
            (Some(_), _) if !self.state.may_send(request.account) => Some(RejectReason::PrivateStreamDown),
            (Some(acct), _) if !self.admit(acct, limits::NEW_ORDER) => Some(RejectReason::RateLimited),
            _ => None,
        };
        let (Some(acct), Some(idx), None) = (account, inst, local_reject) else {
            let reason = local_reject.unwrap_or(RejectReason::Other);
            log::warn!("bybit gateway: order {order_id} refused before sending: {reason:?}");
            return self.state.reject_unsent(order_id, &request, reason);
        };
        let body = self.create_body(order_id, idx, &request);
        let deferred_accept = matches!(request.tif, TimeInForce::PostOnly | TimeInForce::Fok);
        self.state.insert(order_id, request);
        self.state.stats.orders_sent += 1;
        let req = Req { method: "POST", path: CREATE_PATH, query: "", body: &body, cost: limits::NEW_ORDER };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if resp.status == 200 => match envelope(&resp) {
                Some(env) if env.code == 0 => {
                    let id = env.result.get("orderId").and_then(Value::as_str).map(venue_order_id).unwrap_or(0);
                    if deferred_accept {
                        // The venue may still refuse it (post-only crossing, FOK unfillable):
                        // `Accepted` waits for the stream to show it working.
                        if let Some(o) = self.state.get_mut(&order_id) {
                            o.venue_order_id = id;
                        }
                        self.state.schedule(order_id, QueryReason::Gap, ACK_QUERY_DELAY);
                        Ok(())
                    } else {
                        self.state.ensure_accepted(order_id, id, ms_to_nanos(env.time))
                    }
                }
                Some(env) => {
                    let reason = reject_reason(resp.status, env.code, &env.msg);
                    log::info!("bybit gateway: order {order_id} rejected: retCode {}, {:?}", env.code, env.msg);
                    self.state.finish_order(order_id, ReportKind::Rejected(reason), ms_to_nanos(env.time))
                }
                None => {
                    self.state.stats.malformed += 1;
                    log::warn!("bybit gateway: order {order_id}: unreadable answer: {}", resp.body_excerpt());
                    self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                    Ok(())
                }
            },
            Ok(resp) if resp.status >= 500 => {
                self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
            Ok(resp) => {
                let (code, msg) = api_error(&resp);
                let reason = reject_reason(resp.status, code, &msg);
                log::info!("bybit gateway: order {order_id} rejected: HTTP {}, code {code}, {msg:?}", resp.status);
                self.state.finish_order(order_id, ReportKind::Rejected(reason), WallClock.now())
            }
            Err(e) if !e.sent => {
                self.state.finish_order(order_id, ReportKind::Rejected(RejectReason::Other), WallClock.now())
            }
            Err(_) => {
                self.state.schedule(order_id, QueryReason::UnknownFate, Duration::ZERO);
                Ok(())
            }
        }
    }

    /// The `order/create` JSON body (`order/create-order.mdx`): a spot market order is sized in
    /// base coin (`marketUnit`), a linear one is one-way (`positionIdx` 0) and carries
    /// `reduceOnly` when asked.
    fn create_body(&self, order_id: OrderId, idx: usize, request: &OrderRequest) -> String {
        let inst = &self.instruments[idx];
        let cat = self.categories[idx];
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("category", cat.name().into());
        put("symbol", inst.symbol().into());
        put("side", if request.side == Side::Buy { "Buy" } else { "Sell" }.into());
        put("orderType", if request.order_type == OrderType::Market { "Market" } else { "Limit" }.into());
        put("qty", inst.qty_text(request.qty).as_str().into());
        if request.order_type == OrderType::Limit {
            put("price", inst.price_text(request.price).as_str().into());
            let tif = match request.tif {
                TimeInForce::Ioc => "IOC",
                TimeInForce::Fok => "FOK",
                TimeInForce::PostOnly => "PostOnly",
                _ => "GTC",
            };
            put("timeInForce", tif.into());
        } else if cat == Category::Spot {
            put("marketUnit", "baseCoin".into());
        }
        put("orderLinkId", ClientOrderId::new(self.run_id, order_id).as_str().into());
        if cat == Category::Linear {
            put("positionIdx", 0.into());
            if request.reduce_only {
                put("reduceOnly", true.into());
            }
        }
        Value::Object(m).to_string()
    }

    fn on_cancel(
        &mut self,
        order_id: OrderId,
        account: AccountId,
        instrument: InstrumentId,
    ) -> Result<(), ReportsClosed> {
        let reject = |g: &mut Self, reason| g.state.reject_cancel(order_id, account, instrument, reason);
        let (Some(&acct), Some(&idx)) = (self.account_index.get(&account), self.by_id.get(&instrument)) else {
            return reject(self, RejectReason::UnknownOrder);
        };
        if !self.admit(acct, limits::CANCEL) {
            return reject(self, RejectReason::RateLimited);
        }
        let body = serde_json::json!({
            "category": self.categories[idx].name(),
            "symbol": self.instruments[idx].symbol(),
            "orderLinkId": ClientOrderId::new(self.run_id, order_id).as_str(),
        })
        .to_string();
        self.state.stats.cancel_requests += 1;
        let req = Req { method: "POST", path: CANCEL_PATH, query: "", body: &body, cost: limits::CANCEL };
        match self.signed_resyncing(acct, req) {
            Ok(resp) if resp.status == 200 && envelope(&resp).is_some_and(|e| e.code == 0) => Ok(()),
            Ok(resp) if resp.status >= 500 || (resp.status == 200 && envelope(&resp).is_none()) => {
                if self.state.contains(&order_id) {
                    self.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
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
            Err(e) if e.sent && self.state.contains(&order_id) => {
                self.state.schedule(order_id, QueryReason::CancelUnknown, Duration::ZERO);
                Ok(())
            }
            Err(_) => reject(self, RejectReason::Other),
        }
    }

    fn on_cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        let Some(&acct) = self.account_index.get(&account) else {
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
            self.state.stats.cancel_requests += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
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
        g.state.insert(OrderId(id), request);
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
        assert_eq!(g.state.stats.duplicate_fills, 1);
        // The same trade under another id but a cumulative already reported: still a duplicate.
        g.on_frame(0, &execution(1, "e-1b", "0.4", "0.6", "0.006")).unwrap();
        assert!(drain(&mut rx).is_empty());
        assert_eq!(g.state.stats.duplicate_fills, 2);
        // A fee in another coin is booked as zero and counted.
        let bnb =
            execution(1, "e-2", "0.1", "0.5", "0.001").replace(r#""feeCurrency":"USDT""#, r#""feeCurrency":"BNB""#);
        g.on_frame(0, &bnb).unwrap();
        let r = drain(&mut rx);
        assert_eq!((r[0].fee, r[0].cum_qty), (Notional::ZERO, Qty::from_units(5)));
        assert_eq!(g.state.stats.fees_not_in_quote, 1);
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
        assert!(g.state.is_empty());
        assert_eq!(g.state.stats.fills_fee_from_trades, 1);
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
        assert_eq!(g.state.stats.malformed, 6);
        assert_eq!(g.state.stats.fills, 0);
        assert_eq!(g.state.pending().len(), 1, "the live order is queried");
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
        let mut request = g.state.get(&OrderId(3)).unwrap().request;
        request.reduce_only = true;
        let body: Value = serde_json::from_str(&g.create_body(OrderId(3), 0, &request)).unwrap();
        assert_eq!(body["category"], "linear");
        assert_eq!(body["symbol"], "SOLUSDT");
        assert_eq!((body["side"].as_str(), body["orderType"].as_str()), (Some("Sell"), Some("Limit")));
        assert_eq!((body["qty"].as_str(), body["price"].as_str()), (Some("0.5"), Some("150.000")));
        assert_eq!((body["positionIdx"].as_i64(), body["reduceOnly"].as_bool()), (Some(0), Some(true)));
        assert_eq!(body["orderLinkId"].as_str(), Some(link(3).as_str()));
        assert!(link(3).len() <= 36, "Bybit's orderLinkId limit");
    }
}
