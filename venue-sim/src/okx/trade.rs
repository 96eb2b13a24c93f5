//! OKX's trade endpoints over the shared market: `POST /api/v5/trade/order`, `cancel-order`,
//! `cancel-batch-orders`, `GET /api/v5/trade/order`, `orders-pending` and `fills`.
//!
//! Facts (`NOTES-orders.md` §3, samples in `testdata/okx/orders/`, [MIRROR] of the docs):
//! - The ack `{"code","msg","data":[{"clOrdId","ordId","tag","ts","sCode","sMsg","subCode"}],
//!   "inTime","outTime"}` (`inTime`/`outTime` µs); `code` "0" all succeeded, "1" all failed
//!   ("All operations failed"), "2" some (batch). A refused order is an item with its `sCode`.
//!   A request that cannot be read at all (a missing or malformed parameter) is refused whole:
//!   `{"code":"51000","msg":"Parameter sz error","data":[]}` — the docs show both forms; which
//!   one OKX uses for which parameter is not documented (a guess, README).
//! - Order `sCode`s: 51008 insufficient balance, 51121 not a multiple of the lot size, 51020
//!   below the minimum amount, 51016 duplicate `clOrdId`, 51001 unknown instrument, 51000
//!   parameter (an off-tick price: `px`), 51169 a reduce-only order with nothing to reduce
//!   (recalled, not in NOTES). Cancel: 51400 ("filled, canceled or does not exist"); query:
//!   51603 "Order does not exist.".
//! - Post-only that would take and FOK that cannot fill: acknowledged (`sCode` 0), then
//!   `canceled` on the `orders` channel with `cancelSource` 31 / 13 (`desk.rs`).
//! - `tdMode`: spot `cash`; SWAP `cross` (isolated margin and long/short mode are not simulated:
//!   refused as a parameter error). A spot market order is sized in base (`tgtCcy=base_ccy`);
//!   OKX's default for a market buy is quote — refused here with 51000 `tgtCcy`, as the
//!   simulator does not size orders in quote (README).
//!
//! Runs on connection threads; allocates per request; never panics on client input.

use super::OkxV5;
use super::auth::{ApiError, Caller, Params};
use super::desk::{Refused, Route};
use super::order_doc::{OrderDoc, fill_json, ord_type};
use super::wire::inst_type;
use super::wire::instrument_index;
use crate::market::{ClientOrderRequest, Market, OrderRef, OrderReject, OrderStatus, OrderView};
use crate::protocol::Ctx;
use qt_core::{
    DecimalErrorKind, Instrument, InstrumentKind, Nanos, Notional, OrderType, Price, Qty, RejectReason, Side,
    TimeInForce,
};
use serde_json::{Value, json};

/// `clOrdId`: "a combination of case-sensitive alphanumerics … up to 32 characters".
const MAX_CL_ORD_ID: usize = 32;
/// Cancels per `cancel-batch-orders` request.
pub(super) const MAX_BATCH: usize = 20;
/// Venue ids of acknowledged-then-cancelled orders live above this, far from the market's.
const SYNTHETIC_ID_BASE: u64 = 1 << 60;

/// The `data` items of a trade answer and the top-level code they give.
#[derive(Debug)]
pub(super) struct Items {
    pub(super) items: Vec<Value>,
    pub(super) failed: usize,
}

impl Items {
    /// `code` "0" / "1" / "2" and its `msg`.
    pub(super) fn code(&self) -> (&'static str, &'static str) {
        match self.failed {
            0 => ("0", ""),
            n if n == self.items.len() => ("1", "All operations failed"),
            _ => ("2", "Batch operation partially succeeded"),
        }
    }
}

/// One item of an ack: ok, or refused with `code` and `msg`.
fn item(cl: &str, ord_id: &str, now: i64, code: &str, msg: &str) -> Value {
    json!({"clOrdId": cl, "ordId": ord_id, "tag": "", "ts": now.to_string(), "sCode": code, "sMsg": msg, "subCode": ""})
}

/// The instrument `instId` names.
pub(super) fn instrument(market: &Market, id: &str) -> Result<(usize, Instrument), ApiError> {
    let idx = instrument_index(market, id);
    let found = idx.and_then(|i| Some((i, market.instruments().get(i)?.clone())));
    found.ok_or_else(|| ApiError::new(200, "51001", "Instrument ID or Spread ID doesn't exist."))
}

/// The order `sCode` and `sMsg` of a market refusal.
fn reject_code(inst: &Instrument, qty: Qty, e: &OrderReject) -> (&'static str, String) {
    match e {
        OrderReject::Reason(RejectReason::InsufficientBalance) | OrderReject::InsufficientBalance => {
            let ccy = inst.quote();
            ("51008", format!("Order failed. Insufficient {ccy} balance in account"))
        }
        OrderReject::Reason(RejectReason::LotSize) if inst.is_on_lot(qty) => {
            ("51020", "Your order should meet or exceed the minimum order amount.".into())
        }
        OrderReject::Reason(RejectReason::LotSize) => {
            ("51121", "Order quantity must be a multiple of the lot size.".into())
        }
        OrderReject::Reason(RejectReason::MinNotional) => {
            ("51020", "Your order should meet or exceed the minimum order amount.".into())
        }
        OrderReject::Reason(RejectReason::PriceFilter) => ("51000", "Parameter px error".into()),
        OrderReject::DuplicateClientOrderId => ("51016", "Duplicated client order ID".into()),
        OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => {
            ("51001", "Instrument ID or Spread ID doesn't exist.".into())
        }
        OrderReject::ReduceOnly => (
            "51169",
            "Order failed because you don't have any positions in this direction for this contract to reduce or close."
                .into(),
        ),
        OrderReject::Reason(RejectReason::RateLimited) => ("50011", "Rate limit reached.".into()),
        OrderReject::UnknownOrder | OrderReject::Reason(_) => ("51000", "Parameter error".into()),
    }
}

fn parse_decimal<T>(
    text: &str,
    name: &str,
    f: impl Fn(&str) -> Result<T, qt_core::DecimalError>,
) -> Result<T, ApiError> {
    f(text).map_err(|_| ApiError::param(name))
}

/// A readable place-order request: the instrument and the market's request.
#[derive(Debug)]
struct Placing {
    idx: usize,
    inst: Instrument,
    request: ClientOrderRequest,
    reduce_only: bool,
}

fn read_order(market: &Market, p: &Params) -> Result<Placing, ApiError> {
    let (idx, inst) = instrument(market, &p.need("instId")?)?;
    let spot = inst.kind() == InstrumentKind::Spot;
    match (p.need("tdMode")?.as_str(), spot) {
        ("cash", true) | ("cross", false) => {}
        _ => return Err(ApiError::param("tdMode")),
    }
    if p.get("posSide")?.is_some_and(|s| s != "net") {
        return Err(ApiError::param("posSide"));
    }
    let side = match p.need("side")?.as_str() {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return Err(ApiError::param("side")),
    };
    let (order_type, tif) = match p.need("ordType")?.as_str() {
        "limit" => (OrderType::Limit, TimeInForce::Gtc),
        "market" => (OrderType::Market, TimeInForce::Ioc),
        "post_only" => (OrderType::Limit, TimeInForce::PostOnly),
        "fok" => (OrderType::Limit, TimeInForce::Fok),
        "ioc" => (OrderType::Limit, TimeInForce::Ioc),
        _ => return Err(ApiError::param("ordType")),
    };
    if spot && order_type == OrderType::Market {
        let base_sized = match p.get("tgtCcy")?.as_deref() {
            Some("base_ccy") => true,
            Some("quote_ccy") => false,
            None => side == Side::Sell,
            Some(_) => return Err(ApiError::param("tgtCcy")),
        };
        if !base_sized {
            return Err(ApiError::new(200, "51000", "Parameter tgtCcy error (quote_ccy sizing is not simulated)"));
        }
    }
    // More decimals than the lot has: off the lot, which OKX refuses per order (51121).
    let qty: Qty = match inst.parse_qty(&p.need("sz")?) {
        Ok(q) => q,
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => {
            return Err(ApiError::item("51121", "Order quantity must be a multiple of the lot size."));
        }
        Err(_) => return Err(ApiError::param("sz")),
    };
    if !qty.is_positive() {
        return Err(ApiError::param("sz"));
    }
    let price: Option<Price> = match order_type {
        OrderType::Market => None,
        OrderType::Limit => {
            let px: Price = parse_decimal(&p.need("px")?, "px", |t| inst.parse_price(t))?;
            if !px.is_positive() {
                return Err(ApiError::param("px"));
            }
            Some(px)
        }
    };
    let cl = p.get("clOrdId")?;
    if cl.as_deref().is_some_and(|c| c.len() > MAX_CL_ORD_ID || !c.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(ApiError::param("clOrdId"));
    }
    let reduce_only = p.flag("reduceOnly")?;
    Ok(Placing {
        idx,
        inst,
        request: ClientOrderRequest { client_order_id: cl, side, order_type, tif, price, qty },
        reduce_only: reduce_only && !spot,
    })
}

impl OkxV5 {
    /// `POST /api/v5/trade/order`.
    pub(super) fn place(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Items, ApiError> {
        let now = ctx.market.now_ms();
        let placing = match read_order(&ctx.market, p) {
            Ok(placing) => placing,
            Err(e) if e.per_item => {
                let cl = p.get("clOrdId")?.unwrap_or_default();
                return Ok(Items { items: vec![item(&cl, "", now, e.code, &e.msg)], failed: 1 });
            }
            Err(e) => return Err(e),
        };
        let Placing { idx, inst, mut request, reduce_only } = placing;
        // OKX answers `clOrdId` "" when none was sent; the market needs one to name the order.
        let sent_cl = request.client_order_id.clone().unwrap_or_default();
        if request.client_order_id.is_none() {
            request.client_order_id = Some(format!("okxsim{}", self.next_serial()));
        }
        let refuse = |code: &str, msg: &str| Items { items: vec![item(&sent_cl, "", now, code, msg)], failed: 1 };
        match ctx.market.submit_with(caller.account, idx, request.clone(), reduce_only) {
            Ok(outcome) => {
                let id = outcome.order.venue_order_id;
                if reduce_only {
                    self.desk.reduce_only.mark((caller.account, idx, id));
                }
                Ok(Items { items: vec![item(&sent_cl, &id.to_string(), now, "0", "Order placed")], failed: 0 })
            }
            Err(OrderReject::Reason(reason @ (RejectReason::WouldTakeLiquidity | RejectReason::FokUnfillable))) => {
                let source = if reason == RejectReason::WouldTakeLiquidity { "31" } else { "13" };
                let id = SYNTHETIC_ID_BASE + self.next_serial();
                let ts = Nanos(now.saturating_mul(1_000_000));
                let view = OrderView {
                    symbol: idx,
                    venue_order_id: id,
                    client_order_id: sent_cl.clone(),
                    side: request.side,
                    order_type: request.order_type,
                    tif: request.tif,
                    price: request.price.unwrap_or(Price::ZERO),
                    qty: request.qty,
                    cum_qty: Qty::ZERO,
                    cum_quote: Notional::ZERO,
                    status: OrderStatus::Canceled,
                    created: ts,
                    updated: ts,
                };
                self.desk.refuse(caller.account, Refused { view, cancel_source: source });
                Ok(Items { items: vec![item(&sent_cl, &id.to_string(), now, "0", "Order placed")], failed: 0 })
            }
            Err(e) => {
                let (code, msg) = reject_code(&inst, request.qty, &e);
                Ok(refuse(code, &msg))
            }
        }
    }

    /// One cancel (`instId` with `ordId` or `clOrdId`; `ordId` wins): an ok item, or 51400.
    fn cancel_one(&self, ctx: &Ctx, caller: Caller, p: &Params, now: i64) -> Result<(Value, bool), ApiError> {
        let (idx, _) = instrument(&ctx.market, &p.need("instId")?)?;
        let r = match (p.get("ordId")?, p.get("clOrdId")?) {
            (Some(id), _) => id.parse::<u64>().map(OrderRef::Venue).map_err(|_| ApiError::param("ordId"))?,
            (None, Some(cl)) => OrderRef::Client(cl),
            (None, None) => return Err(ApiError::missing("ordId or clOrdId")),
        };
        let (cl_sent, id_sent) = (p.get("clOrdId")?.unwrap_or_default(), p.get("ordId")?.unwrap_or_default());
        Ok(match ctx.market.cancel(caller.account, idx, &r) {
            Ok(v) => (item(&v.client_order_id, &v.venue_order_id.to_string(), now, "0", ""), true),
            Err(_) => {
                let msg = "Order cancellation failed as the order has been filled, canceled or does not exist.";
                (item(&cl_sent, &id_sent, now, "51400", msg), false)
            }
        })
    }

    /// `POST /api/v5/trade/cancel-order`.
    pub(super) fn cancel(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Items, ApiError> {
        let (it, ok) = self.cancel_one(ctx, caller, p, ctx.market.now_ms())?;
        Ok(Items { items: vec![it], failed: usize::from(!ok) })
    }

    /// `POST /api/v5/trade/cancel-batch-orders`: a JSON array of at most [`MAX_BATCH`] cancels.
    pub(super) fn cancel_batch(&self, ctx: &Ctx, caller: Caller, list: &[Value]) -> Result<Items, ApiError> {
        if list.is_empty() || list.len() > MAX_BATCH {
            return Err(ApiError::new(200, "51000", "Parameter batch orders error (1 to 20 orders)"));
        }
        let now = ctx.market.now_ms();
        let mut out = Items { items: Vec::new(), failed: 0 };
        for v in list {
            let Value::Object(map) = v else { return Err(ApiError::param("batch orders")) };
            let (it, ok) = self.cancel_one(ctx, caller, &Params::Body(map.clone()), now)?;
            out.items.push(it);
            out.failed += usize::from(!ok);
        }
        Ok(out)
    }

    /// The fills of one order, oldest first (all, or up to trade id `upto`).
    pub(super) fn order_fills(
        &self,
        market: &Market,
        caller: Caller,
        v: &OrderView,
        upto: Option<u64>,
    ) -> Vec<crate::market::FillView> {
        market
            .account_trades(caller.account, v.symbol)
            .into_iter()
            .filter(|t| t.venue_order_id == v.venue_order_id && upto.is_none_or(|u| t.fill.trade_id <= u))
            .map(|t| t.fill)
            .collect()
    }

    fn order_json(&self, market: &Market, caller: Caller, v: &OrderView, source: &'static str) -> Option<Value> {
        let inst = market.instruments().get(v.symbol)?;
        let fills = self.order_fills(market, caller, v, None);
        let reduce_only = self.desk.reduce_only.contains((caller.account, v.symbol, v.venue_order_id));
        let doc = OrderDoc { inst, view: v, fills: &fills, reduce_only, cancel_source: source };
        Some(Value::Object(doc.rest()))
    }

    /// `GET /api/v5/trade/order?instId=..&ordId=..|clOrdId=..`.
    pub(super) fn get_order(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Vec<Value>, ApiError> {
        let (idx, _) = instrument(&ctx.market, &p.need("instId")?)?;
        let not_found = || ApiError::new(200, "51603", "Order does not exist.");
        let (ord_id, cl) = (p.get("ordId")?, p.get("clOrdId")?);
        let ord_num = match &ord_id {
            Some(t) => Some(t.parse::<u64>().map_err(|_| not_found())?),
            None => None,
        };
        let r = match (ord_num, &cl) {
            (Some(id), _) => OrderRef::Venue(id),
            (None, Some(c)) => OrderRef::Client(c.clone()),
            (None, None) => return Err(ApiError::missing("ordId or clOrdId")),
        };
        let market = &ctx.market;
        if let Some(v) = market.order(caller.account, idx, &r) {
            return self.order_json(market, caller, &v, "").map(|o| vec![o]).ok_or_else(not_found);
        }
        let refused = self.desk.find(caller.account, idx, ord_num, cl.as_deref()).ok_or_else(not_found)?;
        self.order_json(market, caller, &refused.view, refused.cancel_source).map(|o| vec![o]).ok_or_else(not_found)
    }

    /// `GET /api/v5/trade/orders-pending[?instType=&instId=&ordType=&state=&limit=]`, newest
    /// first, at most `limit` (1..=100, default 100).
    pub(super) fn pending(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Vec<Value>, ApiError> {
        let market = &ctx.market;
        let only = match p.get("instId")? {
            Some(id) => Some(instrument(market, &id)?.0),
            None => None,
        };
        let kind = p.get("instType")?;
        let (want_type, want_state) = (p.get("ordType")?, p.get("state")?);
        let limit = limit_param(p)?;
        let mut open: Vec<OrderView> = market
            .open_orders(caller.account, only)
            .into_iter()
            .filter(|v| {
                market.instruments().get(v.symbol).is_some_and(|i| kind.as_deref().is_none_or(|k| k == inst_type(i)))
            })
            .filter(|v| want_type.as_deref().is_none_or(|t| t == ord_type(v)))
            .filter(|v| want_state.as_deref().is_none_or(|s| s == super::order_doc::state(v.status)))
            .collect();
        open.sort_by_key(|v| std::cmp::Reverse((v.created, v.venue_order_id)));
        Ok(open.iter().take(limit).filter_map(|v| self.order_json(market, caller, v, "")).collect())
    }

    /// `GET /api/v5/trade/fills[?instType=&instId=&ordId=&limit=]`: the account's fills, newest
    /// first, at most `limit` (1..=100, default 100). Paging (`after`/`before` bill ids) is not
    /// simulated: the newest page only.
    pub(super) fn fills(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Vec<Value>, ApiError> {
        let market = &ctx.market;
        let kind = p.get("instType")?;
        let symbols: Vec<usize> = match p.get("instId")? {
            Some(id) => vec![instrument(market, &id)?.0],
            None => (0..market.instruments().len())
                .filter(|i| kind.as_deref().is_none_or(|k| inst_type(&market.instruments()[*i]) == k))
                .collect(),
        };
        let ord_id = match p.get("ordId")? {
            Some(t) => Some(t.parse::<u64>().map_err(|_| ApiError::param("ordId"))?),
            None => None,
        };
        let limit = limit_param(p)?;
        let mut all = Vec::new();
        for idx in symbols {
            for t in market.account_trades(caller.account, idx) {
                if ord_id.is_none_or(|o| o == t.venue_order_id) {
                    all.push((idx, t));
                }
            }
        }
        all.sort_by_key(|(_, t)| std::cmp::Reverse((t.fill.ts, t.fill.trade_id)));
        let mut out = Vec::new();
        for (idx, t) in all.into_iter().take(limit) {
            let Some(inst) = market.instruments().get(idx) else { continue };
            let Some(order) = market.order(caller.account, idx, &OrderRef::Venue(t.venue_order_id)) else { continue };
            out.push(fill_json(inst, &order, &t.fill));
        }
        Ok(out)
    }

    /// The rate-limit check of `route` (cancel-batch counts its orders).
    pub(super) fn within_limit(&self, caller: Caller, route: Route, n: usize, now: i64) -> Result<(), ApiError> {
        if !self.rate_limits || self.desk.admit(caller.account, route, n, now) {
            return Ok(());
        }
        let msg = "Rate limit reached. Please refer to API documentation and throttle requests accordingly.";
        Err(ApiError::new(429, "50011", msg))
    }
}

fn limit_param(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit")? {
        None => Ok(100),
        Some(t) => t.parse::<usize>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| ApiError::param("limit")),
    }
}
