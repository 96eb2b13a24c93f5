//! Kraken's private REST endpoints over the shared market: `AddOrder`, `CancelOrder`,
//! `CancelAll`, `CancelAllOrdersAfter`, `OpenOrders`, `QueryOrders`, `TradesHistory`, `Balance`
//! and `GetWebSocketsToken` (all `POST /0/private/<method>`).
//!
//! Facts (`NOTES-orders.md` §5, samples in `testdata/kraken/orders/`, krakenfx/api-specs):
//! - AddOrder: `pair`, `type` buy/sell, `ordertype` limit/market, `volume`, `price`,
//!   `oflags` (`post`), `timeinforce` GTC/IOC, `cl_ord_id`, `userref` →
//!   `{"descr":{"order":"buy 1.25 BTCUSDT @ limit 27500"},"txid":["O…"]}`.
//! - Errors: `EOrder:Insufficient funds`, `EOrder:Order minimum not met`, `EOrder:Cost minimum
//!   not met`, `EQuery:Unknown asset pair`, `EGeneral:Invalid arguments[:field]`,
//!   `EOrder:Unknown order`, `EOrder:Post only order` (a post-only order that would take:
//!   refused rather than acknowledged-and-cancelled — [RECALL], README).
//! - CancelOrder `txid` (a txid or a `cl_ord_id`) → `{"count":1}`; CancelAll → `{"count":n}`;
//!   CancelAllOrdersAfter `timeout` seconds (0 disarms) → `{"currentTime","triggerTime"}`
//!   [RECALL]; the switch cancels every order of the account when it fires (`desk.rs`).
//! - OpenOrders → `{"open":{txid:{status,opentm,descr,vol,vol_exec,cost,fee,price,oflags,
//!   userref,cl_ord_id,…}}}` (`cl_ord_id` filters); ClosedOrders with `cl_ord_id` → `{"closed":
//!   {txid:{…,closetm,reason}},"count"}`; QueryOrders `txid` (comma list) → `{txid:{…}}` open or closed;
//!   TradesHistory → `{"trades":{tradetxid:{ordertxid,pair,time,type,ordertype,price,cost,fee,
//!   vol,maker,trade_id}},"count"}` (newest first, the last 50).
//! - Balance → `{asset: "amount"}` with the market's asset names (no `XXBT`/`ZUSD`, as the
//!   public REST here); GetWebSocketsToken → `{"token","expires":900}`.
//! - Ids: txids are the market's u64 ids written in Kraken's `OUF4EM-FRGI2-MQMWZD` shape
//!   ([`txid`], [`parse_txid`]); trade txids the same with `T`.
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use super::KrakenV2;
use super::auth::{KrakenError, Params, Signed, ok};
use super::wire::ws_symbol;
use crate::kit::decimal_text::average_price;
use crate::market::{ClientOrderRequest, FillView, Market, OrderRef, OrderReject, OrderStatus, OrderView};
use crate::protocol::Ctx;
use qt_core::decimal::format_scaled;
use qt_core::{
    AccountId, DecimalStyle, Instrument, Nanos, Notional, OrderType, Price, Qty, RejectReason, Side, TimeInForce,
};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// `cl_ord_id` length limit (a UUID is 36).
const MAX_CL_ORD_ID: usize = 36;
/// TradesHistory's page.
const TRADES_PAGE: usize = 50;
/// GetWebSocketsToken's `expires` ([RECALL] 900 s).
const TOKEN_EXPIRES: u64 = 900;
/// CancelAllOrdersAfter's largest timeout ([RECALL] 86400 s).
const MAX_TIMEOUT: u64 = 86_400;

/// A market id in Kraken's txid shape: `prefix` + 5, 5 and 6 hex digits (64 bits).
pub fn txid(prefix: char, id: u64) -> String {
    format!("{prefix}{:05X}-{:05X}-{:06X}", (id >> 44) & 0xF_FFFF, (id >> 24) & 0xF_FFFF, id & 0xFF_FFFF)
}

/// The market id of a txid written by [`txid`] with `prefix`.
pub fn parse_txid(prefix: char, text: &str) -> Option<u64> {
    let rest = text.strip_prefix(prefix)?;
    let parts: Vec<&str> = rest.split('-').collect();
    let [a, b, c] = parts.as_slice() else { return None };
    if a.len() != 5 || b.len() != 5 || c.len() != 6 {
        return None;
    }
    let n = |s: &str| u64::from_str_radix(s, 16).ok();
    Some((n(a)? << 44) | (n(b)? << 24) | n(c)?)
}

pub(super) fn qty_text(inst: &Instrument, q: Qty) -> String {
    format_scaled(i128::from(q.units()), inst.qty_scale(), DecimalStyle::Fixed).as_str().to_owned()
}

pub(super) fn price_text(inst: &Instrument, p: Price) -> String {
    format_scaled(i128::from(p.units()), inst.price_scale(), DecimalStyle::Fixed).as_str().to_owned()
}

pub(super) fn money(n: Notional) -> String {
    n.to_text(DecimalStyle::Trimmed).as_str().to_owned()
}

fn secs(t: Nanos) -> f64 {
    // Kraken's `opentm` / `time` are fractional epoch seconds (JSON numbers).
    (t.0 / 1000) as f64 / 1e6
}

fn side_text(s: Side) -> &'static str {
    if s == Side::Buy { "buy" } else { "sell" }
}

fn order_type_text(v: &OrderView) -> &'static str {
    if v.order_type == OrderType::Market { "market" } else { "limit" }
}

/// The pair `pair` names (REST name, v2 symbol or `BASE/QUOTE`).
pub(super) fn pair(market: &Market, name: &str) -> Result<(usize, Instrument), KrakenError> {
    crate::public_stream::symbol_by_pair(market, name, '/')
        .and_then(|i| Some((i, market.instruments().get(i)?.clone())))
        .ok_or_else(|| KrakenError::new("EQuery:Unknown asset pair"))
}

fn reject_text(e: &OrderReject, inst: &Instrument, qty: Qty) -> &'static str {
    match e {
        OrderReject::InsufficientBalance | OrderReject::Reason(RejectReason::InsufficientBalance) => {
            "EOrder:Insufficient funds"
        }
        OrderReject::Reason(RejectReason::LotSize) if inst.is_on_lot(qty) => "EOrder:Order minimum not met",
        OrderReject::Reason(RejectReason::MinNotional) => "EOrder:Cost minimum not met",
        OrderReject::Reason(RejectReason::WouldTakeLiquidity) => "EOrder:Post only order",
        OrderReject::Reason(RejectReason::RateLimited) => "EOrder:Rate limit exceeded",
        OrderReject::Reason(RejectReason::TooManyOpenOrders) => "EOrder:Orders limit exceeded",
        OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => {
            "EQuery:Unknown asset pair"
        }
        // Not documented: a reused `cl_ord_id` is an argument error here (README).
        OrderReject::DuplicateClientOrderId => "EGeneral:Invalid arguments:cl_ord_id",
        OrderReject::Reason(RejectReason::PriceFilter) => "EGeneral:Invalid arguments:price",
        OrderReject::Reason(RejectReason::LotSize) => "EGeneral:Invalid arguments:volume",
        _ => "EGeneral:Invalid arguments",
    }
}

/// AddOrder's request for the market.
fn read_order(market: &Market, p: &Params) -> Result<(usize, Instrument, ClientOrderRequest), KrakenError> {
    let (idx, inst) = pair(market, p.need("pair")?)?;
    let side = match p.need("type")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return Err(KrakenError::invalid("type")),
    };
    let order_type = match p.need("ordertype")? {
        "limit" => OrderType::Limit,
        "market" => OrderType::Market,
        _ => return Err(KrakenError::invalid("ordertype")),
    };
    let post = p.get("oflags").is_some_and(|f| f.split(',').any(|x| x == "post"));
    let tif = match (order_type, p.get("timeinforce").unwrap_or("GTC"), post) {
        (OrderType::Market, _, false) => TimeInForce::Ioc,
        (OrderType::Limit, "GTC", true) => TimeInForce::PostOnly,
        (OrderType::Limit, "GTC", false) => TimeInForce::Gtc,
        (OrderType::Limit, "IOC", false) => TimeInForce::Ioc,
        _ => return Err(KrakenError::invalid("timeinforce")),
    };
    let qty = inst.parse_qty(p.need("volume")?).map_err(|_| KrakenError::invalid("volume"))?;
    if !qty.is_positive() {
        return Err(KrakenError::invalid("volume"));
    }
    let price = match order_type {
        OrderType::Market => None,
        OrderType::Limit => {
            let px = inst.parse_price(p.need("price")?).map_err(|_| KrakenError::invalid("price"))?;
            if !px.is_positive() {
                return Err(KrakenError::invalid("price"));
            }
            Some(px)
        }
    };
    let cl = p.get("cl_ord_id").map(str::to_owned);
    if cl.as_deref().is_some_and(|c| c.len() > MAX_CL_ORD_ID || !c.bytes().all(|b| b.is_ascii_graphic())) {
        return Err(KrakenError::invalid("cl_ord_id"));
    }
    Ok((idx, inst, ClientOrderRequest { client_order_id: cl, side, order_type, tif, price, qty }))
}

/// `descr.order`: `buy 1.25000000 BTCUSDT @ limit 27500.0`.
fn descr(inst: &Instrument, v: &OrderView) -> String {
    let head = format!("{} {} {}", side_text(v.side), qty_text(inst, v.qty), inst.symbol());
    match v.order_type {
        OrderType::Market => format!("{head} @ market"),
        OrderType::Limit => format!("{head} @ limit {}", price_text(inst, v.price)),
    }
}

fn status_text(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New | OrderStatus::PartiallyFilled => "open",
        OrderStatus::Filled => "closed",
        OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected => "canceled",
    }
}

impl KrakenV2 {
    fn fills_of(&self, market: &Market, account: AccountId, v: &OrderView) -> Vec<FillView> {
        market
            .account_trades(account, v.symbol)
            .into_iter()
            .filter(|t| t.venue_order_id == v.venue_order_id)
            .map(|t| t.fill)
            .collect()
    }

    /// One order as OpenOrders / QueryOrders write it.
    fn order_doc(&self, market: &Market, account: AccountId, v: &OrderView) -> Option<Value> {
        let inst = market.instruments().get(v.symbol)?;
        let fee =
            self.fills_of(market, account, v).iter().fold(Notional::ZERO, |a, f| a.checked_add(f.fee).unwrap_or(a));
        let avg = if v.cum_qty.is_positive() { average_price(inst, v.cum_quote, v.cum_qty) } else { "0".into() };
        let mut doc = json!({
            "refid": null, "userref": self.desk.userref(account, v.venue_order_id),
            "cl_ord_id": v.client_order_id, "status": status_text(v.status),
            "opentm": secs(v.created), "starttm": 0, "expiretm": 0,
            "descr": {
                "pair": inst.symbol(), "type": side_text(v.side), "ordertype": order_type_text(v),
                "price": if v.order_type == OrderType::Market { "0".into() } else { price_text(inst, v.price) },
                "price2": "0", "leverage": "none", "order": descr(inst, v), "close": "",
            },
            "vol": qty_text(inst, v.qty), "vol_exec": qty_text(inst, v.cum_qty), "cost": money(v.cum_quote),
            "fee": money(fee), "price": avg, "stopprice": "0", "limitprice": "0", "misc": "",
            "oflags": if v.tif == TimeInForce::PostOnly { "post,fciq" } else { "fciq" },
        });
        if status_text(v.status) != "open" {
            doc["closetm"] = json!(secs(v.updated));
            let reason = match v.status {
                OrderStatus::Canceled => Value::from("User requested"),
                OrderStatus::Expired => Value::from("Insufficient liquidity"),
                _ => Value::Null,
            };
            doc["reason"] = reason;
        }
        Some(doc)
    }

    /// `AddOrder`.
    pub(super) fn add_order(&self, ctx: &Ctx, s: &Signed) -> Result<Value, KrakenError> {
        let (idx, inst, req) = read_order(&ctx.market, &s.params)?;
        let userref: Option<i64> = match s.params.get("userref") {
            Some(t) => Some(t.parse().map_err(|_| KrakenError::invalid("userref"))?),
            None => None,
        };
        let qty = req.qty;
        if s.params.get("validate").is_some_and(|v| v == "true") {
            return Ok(
                json!({"descr": {"order": format!("{} {} {}", side_text(req.side), qty_text(&inst, qty), inst.symbol())}}),
            );
        }
        let outcome = ctx
            .market
            .submit_with(s.account, idx, req, false)
            .map_err(|e| KrakenError::new(reject_text(&e, &inst, qty)))?;
        let v = outcome.order;
        if let Some(u) = userref {
            self.desk.set_userref(s.account, v.venue_order_id, u);
        }
        Ok(json!({"descr": {"order": descr(&inst, &v)}, "txid": [txid('O', v.venue_order_id)]}))
    }

    /// The open or closed order a `txid` parameter names (a txid, else a `cl_ord_id`).
    fn find(&self, market: &Market, account: AccountId, name: &str) -> Option<OrderView> {
        let r = match parse_txid('O', name) {
            Some(id) => OrderRef::Venue(id),
            None => OrderRef::Client(name.to_owned()),
        };
        (0..market.instruments().len()).find_map(|i| market.order(account, i, &r))
    }

    /// `CancelOrder`.
    pub(super) fn cancel_order(&self, ctx: &Ctx, s: &Signed) -> Result<Value, KrakenError> {
        let name =
            s.params.get("txid").or_else(|| s.params.get("cl_ord_id")).ok_or_else(|| KrakenError::invalid("txid"))?;
        let unknown = || KrakenError::new("EOrder:Unknown order");
        let v = self.find(&ctx.market, s.account, name).ok_or_else(unknown)?;
        ctx.market.cancel(s.account, v.symbol, &OrderRef::Venue(v.venue_order_id)).map_err(|_| unknown())?;
        Ok(json!({"count": 1}))
    }

    /// `CancelAll`.
    pub(super) fn cancel_all(&self, ctx: &Ctx, s: &Signed) -> Value {
        json!({"count": ctx.market.cancel_all(s.account, None).len()})
    }

    /// `CancelAllOrdersAfter`: arms (or with 0 disarms) the dead-man's switch.
    pub(super) fn cancel_after(&self, ctx: &Ctx, s: &Signed) -> Result<Value, KrakenError> {
        let timeout: u64 = s.params.need("timeout")?.parse().map_err(|_| KrakenError::invalid("timeout"))?;
        if timeout > MAX_TIMEOUT {
            return Err(KrakenError::invalid("timeout"));
        }
        let at = (timeout > 0).then(|| Instant::now() + Duration::from_secs(timeout));
        self.desk.arm(s.account, at, &ctx.market, &ctx.stop);
        let now = ctx.market.now_ms();
        let text = |ms: i64| crate::public_stream::rfc3339_micros(ms.saturating_mul(1_000_000));
        let trigger = if timeout == 0 { "0".to_owned() } else { text(now + (timeout * 1000) as i64) };
        Ok(json!({"currentTime": text(now), "triggerTime": trigger}))
    }

    /// `OpenOrders`.
    pub(super) fn open_orders(&self, ctx: &Ctx, s: &Signed) -> Value {
        let market = &ctx.market;
        let mut open = market.open_orders(s.account, None);
        if let Some(cl) = s.params.get("cl_ord_id") {
            open.retain(|v| v.client_order_id == cl);
        }
        let map: Map<String, Value> = open
            .iter()
            .filter_map(|v| Some((txid('O', v.venue_order_id), self.order_doc(market, s.account, v)?)))
            .collect();
        json!({"open": map})
    }

    /// `ClosedOrders` of one `cl_ord_id` (the filter Kraken documents; the gateway looks an
    /// order of unknown fate up by it): `{"closed":{txid:{…}},"count":n}`. Without the filter
    /// the simulator lists nothing (it keeps no history list to page; README).
    pub(super) fn closed_orders(&self, ctx: &Ctx, s: &Signed) -> Value {
        let market = &ctx.market;
        let mut closed = Map::new();
        if let Some(cl) = s.params.get("cl_ord_id")
            && let Some(v) = self.find(market, s.account, cl).filter(|v| status_text(v.status) != "open")
            && let Some(doc) = self.order_doc(market, s.account, &v)
        {
            closed.insert(txid('O', v.venue_order_id), doc);
        }
        let count = closed.len();
        json!({"closed": closed, "count": count})
    }

    /// `QueryOrders`: `txid` a comma list of txids (or `cl_ord_id`s); unknown ones are
    /// `EOrder:Unknown order` [RECALL: Kraken answers `EOrder:Invalid order` for some; README].
    pub(super) fn query_orders(&self, ctx: &Ctx, s: &Signed) -> Result<Value, KrakenError> {
        let market = &ctx.market;
        let mut out = Map::new();
        for name in s.params.need("txid")?.split(',') {
            let v = self.find(market, s.account, name).ok_or_else(|| KrakenError::new("EOrder:Unknown order"))?;
            if let Some(doc) = self.order_doc(market, s.account, &v) {
                out.insert(txid('O', v.venue_order_id), doc);
            }
        }
        Ok(Value::Object(out))
    }

    /// `TradesHistory`: the newest [`TRADES_PAGE`] fills (paging not simulated).
    pub(super) fn trades_history(&self, ctx: &Ctx, s: &Signed) -> Value {
        let market = &ctx.market;
        let mut all = Vec::new();
        for idx in 0..market.instruments().len() {
            all.extend(market.account_trades(s.account, idx).into_iter().map(|t| (idx, t)));
        }
        let count = all.len();
        all.sort_by_key(|(_, t)| std::cmp::Reverse((t.fill.ts, t.fill.trade_id)));
        let mut trades = Map::new();
        for (idx, t) in all.into_iter().take(TRADES_PAGE) {
            let Some(inst) = market.instruments().get(idx) else { continue };
            let order = market.order(s.account, idx, &OrderRef::Venue(t.venue_order_id));
            let f = t.fill;
            let cost = inst.notional(f.price, f.qty, qt_core::Rounding::Nearest).unwrap_or(Notional::ZERO);
            trades.insert(
                txid('T', f.trade_id),
                json!({
                    "ordertxid": txid('O', t.venue_order_id), "postxid": "", "pair": inst.symbol(),
                    "time": secs(f.ts), "type": side_text(t.side),
                    "ordertype": order.as_ref().map_or("limit", order_type_text),
                    "price": price_text(inst, f.price), "cost": money(cost), "fee": money(f.fee),
                    "vol": qty_text(inst, f.qty), "margin": "0", "leverage": "0", "misc": "",
                    "maker": f.is_maker, "trade_id": f.trade_id, "symbol": ws_symbol(inst),
                }),
            );
        }
        json!({"trades": trades, "count": count})
    }

    /// `Balance`: free plus locked of every asset.
    pub(super) fn balance(&self, ctx: &Ctx, s: &Signed) -> Value {
        let map: Map<String, Value> = ctx
            .market
            .balances(s.account)
            .into_iter()
            .map(|b| (b.asset, Value::String(money(b.free.checked_add(b.locked).unwrap_or(b.free)))))
            .collect();
        Value::Object(map)
    }

    /// `GetWebSocketsToken`.
    pub(super) fn ws_token(&self, s: &Signed) -> Value {
        let token = format!(
            "KrSim{:016x}{:08x}",
            rand_u64(),
            self.next_conn.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.desk.add_token(token.clone(), s.account);
        json!({"token": token, "expires": TOKEN_EXPIRES})
    }

    /// Answers `POST /0/private/<method>`.
    pub(super) fn private(
        &self,
        ctx: &Ctx,
        method: &str,
        req: &crate::protocol::HttpRequest,
    ) -> crate::protocol::HttpResponse {
        // A path's injected failure: answered before the venue sees the request.
        if let Some(status) = ctx.faults.take_http_path_failure(&req.path) {
            return crate::protocol::HttpResponse::json(status, &json!({"error": ["EService:Unavailable"]}));
        }
        let s = match self.authenticate(ctx, req) {
            Ok(s) => s,
            Err(e) => return e.into_response(),
        };
        let result = match method {
            "AddOrder" => self.add_order(ctx, &s),
            "CancelOrder" => self.cancel_order(ctx, &s),
            "CancelAll" => Ok(self.cancel_all(ctx, &s)),
            "CancelAllOrdersAfter" => self.cancel_after(ctx, &s),
            "OpenOrders" => Ok(self.open_orders(ctx, &s)),
            "ClosedOrders" => Ok(self.closed_orders(ctx, &s)),
            "QueryOrders" => self.query_orders(ctx, &s),
            "TradesHistory" => Ok(self.trades_history(ctx, &s)),
            "Balance" => Ok(self.balance(ctx, &s)),
            "GetWebSocketsToken" => Ok(self.ws_token(&s)),
            _ => Err(KrakenError::new("EGeneral:Unknown method")),
        };
        if matches!(method, "AddOrder" | "CancelOrder" | "CancelAll") {
            let delay = ctx.faults.ack_latency();
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        result.map_or_else(KrakenError::into_response, ok)
    }
}

/// Token entropy: the clock's nanoseconds mixed (tokens need only be unguessable by tests).
fn rand_u64() -> u64 {
    let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    ns.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txids_round_trip_in_krakens_shape() {
        for id in [0, 1, 42, 1 << 40, u64::MAX] {
            let t = txid('O', id);
            assert_eq!(t.len(), 19, "{t}");
            assert_eq!(parse_txid('O', &t), Some(id));
            assert_eq!(parse_txid('T', &t), None);
        }
        assert_eq!(parse_txid('O', "OUF4EM-FRGI2-MQMWZD"), None, "not one of ours");
        assert_eq!(parse_txid('O', "my-client-id"), None);
    }
}
