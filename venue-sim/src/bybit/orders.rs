//! Bybit's order endpoints (`order/create`, `cancel`, `cancel-all`, `realtime`) and the wallet
//! balance, over the shared [`Market`](crate::market::Market) and this venue's ledgers.

use super::errors::{
    ApiError, duplicate_link_id, insufficient_balance, invalid_value, missing, order_not_found, order_too_large,
    param_error, price_too_precise, qty_below_min, qty_too_precise, symbol_invalid, value_below_min,
};
use super::ledger::{AccountLedger, OrderRecord};
use super::params::{Caller, Params, category_param, symbol_of};
use super::rest::{Reply, quote_precision_decimals};
use super::wire::{
    AUTO_LINK_PREFIX, Category, Obj, json_array, link_id_text, order_id_text, parse_order_id, rest_order_json,
    value_text,
};
use super::{BybitV5, MAX_ORDER_LINK_ID, SYNTHETIC_ID_BASE};
use crate::market::{BalanceView, ClientOrderRequest, Market, OrderRef, OrderReject, OrderStatus, OrderView, Position};
use crate::protocol::Ctx;
use crossbeam_channel::Receiver;
use qt_core::{
    AccountId, DecimalErrorKind, Instrument, Nanos, Notional, OrderType, Price, Qty, RejectReason, Rounding, Side,
    TimeInForce,
};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// REST: orders
// ---------------------------------------------------------------------------------------------

/// `price` text → a positive price on the instrument's scale; too many decimals is Bybit's
/// "decimal too long", anything else unreadable is "not valid". An off-tick price that parses
/// goes on to the engine, whose `PriceFilter` answers.
pub(super) fn parse_price(inst: &Instrument, cat: Category, text: &str) -> Result<Price, ApiError> {
    match inst.parse_price(text) {
        Ok(p) if p.is_positive() => Ok(p),
        Ok(_) => Err(invalid_value(cat, "price")),
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => Err(price_too_precise(cat)),
        Err(e) if e.kind() == DecimalErrorKind::Overflow => Err(order_too_large(cat)),
        Err(_) => Err(invalid_value(cat, "price")),
    }
}

/// `qty` text → a positive quantity; off-step quantities that parse go on to the engine.
pub(super) fn parse_qty(inst: &Instrument, cat: Category, text: &str) -> Result<Qty, ApiError> {
    match inst.parse_qty(text) {
        Ok(q) if q.is_positive() => Ok(q),
        Ok(_) => Err(invalid_value(cat, "qty")),
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => Err(qty_too_precise(cat)),
        Err(e) if e.kind() == DecimalErrorKind::Overflow => Err(order_too_large(cat)),
        Err(_) => Err(invalid_value(cat, "qty")),
    }
}

/// A spot market order sized in quote coin (`marketUnit=quoteCoin`, the default for a market
/// buy): the base quantity, on the lot, that the amount buys (or sells for) walking the
/// opposite side of the book now.
pub(super) fn qty_for_quote(
    market: &Market,
    idx: usize,
    inst: &Instrument,
    side: Side,
    text: &str,
) -> Result<Qty, ApiError> {
    let cat = Category::Spot;
    let amount = match Notional::parse(text) {
        Ok(a) if a > Notional::ZERO => a,
        Err(e) if e.kind() == DecimalErrorKind::TooPrecise => {
            return Err(ApiError::new(170148, "Market order amount decimal too long"));
        }
        _ => return Err(invalid_value(cat, "qty")),
    };
    let step = 10i128.pow(u32::from(18 - quote_precision_decimals(inst)));
    if amount.units() % step != 0 {
        return Err(ApiError::new(170148, "Market order amount decimal too long"));
    }
    if amount < inst.min_notional() {
        return Err(value_below_min(cat));
    }
    let snap = market.snapshot(idx, usize::MAX).ok_or_else(|| symbol_invalid(cat))?;
    let levels = if side == Side::Buy { &snap.asks } else { &snap.bids };
    let mut left = amount;
    let mut units: i64 = 0;
    for (p, q) in levels {
        let whole = inst.notional(*p, *q, Rounding::Up).map_err(|_| order_too_large(cat))?;
        if whole <= left {
            units = units.saturating_add(q.units());
            left = left.checked_sub(whole).unwrap_or(Notional::ZERO);
        } else {
            let part = inst.qty_for_notional(*p, left).map_err(|_| order_too_large(cat))?;
            units = units.saturating_add(part.units());
            break;
        }
    }
    Ok(Qty::from_units(units))
}

/// The quantity of a linear reduce-only order against `position`: Bybit trims an order larger
/// than the position to it ("cannot fix reduce-only order qty" is its text when there is nothing
/// to trim to); an order on the position's own side is refused (110017).
pub(super) fn reduce_only_qty(position: &Position, side: Side, qty: Qty) -> Result<Qty, ApiError> {
    match position.side() {
        None => Err(ApiError::new(110017, "current position is zero, cannot fix reduce-only order qty")),
        Some(s) if s == side => Err(ApiError::new(110017, "Reduce-only rule not satisfied")),
        Some(_) => Ok(qty.min(position.size())),
    }
}

/// The documented code of a refusal by the market (see the module doc for the choices).
pub(super) fn reject_error(cat: Category, inst: &Instrument, qty: Qty, e: &OrderReject) -> ApiError {
    match e {
        // Bybit's spot tick sizes are powers of ten, where an off-tick price is one with too
        // many decimals: 170134 is the code the docs give for it.
        OrderReject::Reason(RejectReason::PriceFilter) => price_too_precise(cat),
        OrderReject::Reason(RejectReason::LotSize) if inst.is_on_lot(qty) => qty_below_min(cat),
        OrderReject::Reason(RejectReason::LotSize) => qty_too_precise(cat),
        OrderReject::Reason(RejectReason::MinNotional) => value_below_min(cat),
        OrderReject::Reason(RejectReason::InsufficientBalance) | OrderReject::InsufficientBalance => {
            insufficient_balance(cat)
        }
        OrderReject::Reason(RejectReason::RateLimited) => ApiError::new(10006, "Too many visits!"),
        OrderReject::DuplicateClientOrderId => duplicate_link_id(cat),
        OrderReject::UnknownSymbol | OrderReject::Reason(RejectReason::UnknownInstrument) => symbol_invalid(cat),
        OrderReject::ReduceOnly => ApiError::new(110017, "Reduce-only rule not satisfied"),
        OrderReject::UnknownOrder | OrderReject::Reason(_) => match cat {
            Category::Spot => ApiError::new(170149, "Create order failed"),
            Category::Linear => param_error("order rejected"),
        },
    }
}

pub(super) fn valid_link_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ORDER_LINK_ID
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl BybitV5 {
    /// `POST /v5/order/create` (`order/create-order.mdx`).
    pub(super) fn create_order(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let symbol = p.get("symbol")?.ok_or_else(|| missing("symbol"))?;
        let (idx, inst) = symbol_of(&ctx.market, cat, &symbol)?;
        let side = match p.get("side")?.as_deref() {
            Some("Buy") => Side::Buy,
            Some("Sell") => Side::Sell,
            None => return Err(missing("side")),
            Some(_) => {
                return Err(match cat {
                    Category::Spot => ApiError::new(170117, "Invalid side."),
                    Category::Linear => param_error("side invalid"),
                });
            }
        };
        let order_type = match p.get("orderType")?.as_deref() {
            Some("Limit") => OrderType::Limit,
            Some("Market") => OrderType::Market,
            None => return Err(missing("orderType")),
            Some(_) => {
                return Err(match cat {
                    Category::Spot => ApiError::new(170116, "Invalid orderType."),
                    Category::Linear => param_error("orderType invalid"),
                });
            }
        };
        let tif = match p.get("timeInForce")?.as_deref() {
            None | Some("GTC") => TimeInForce::Gtc,
            Some("IOC") => TimeInForce::Ioc,
            Some("FOK") => TimeInForce::Fok,
            Some("PostOnly") => TimeInForce::PostOnly,
            Some(_) => {
                return Err(match cat {
                    Category::Spot => ApiError::new(170115, "Invalid timeInForce."),
                    Category::Linear => param_error("timeInForce invalid"),
                });
            }
        };
        // "Market order will always use IOC".
        let tif = if order_type == OrderType::Market { TimeInForce::Ioc } else { tif };
        let link = p.get("orderLinkId")?;
        if link.as_deref().is_some_and(|l| !valid_link_id(l)) {
            return Err(param_error("orderLinkId invalid"));
        }
        match cat {
            Category::Spot => {
                if p.int("isLeverage")?.unwrap_or(0) != 0 {
                    return Err(param_error("isLeverage: margin trading is not simulated"));
                }
                if p.get("orderFilter")?.is_some_and(|f| f != "Order") {
                    return Err(param_error("orderFilter: only Order is simulated"));
                }
            }
            Category::Linear => {
                if p.int("positionIdx")?.unwrap_or(0) != 0 {
                    return Err(param_error("position idx not match position mode"));
                }
                if p.flag("closeOnTrigger")? {
                    return Err(param_error("closeOnTrigger: conditional orders are not simulated"));
                }
            }
        }
        if p.get("triggerPrice")?.is_some() || p.get("takeProfit")?.is_some() || p.get("stopLoss")?.is_some() {
            return Err(param_error("conditional and TP/SL orders are not simulated"));
        }
        let qty_text = p.get("qty")?.ok_or_else(|| missing("qty"))?;
        let price = match order_type {
            OrderType::Limit => Some(parse_price(&inst, cat, &p.get("price")?.ok_or_else(|| missing("price"))?)?),
            OrderType::Market => None,
        };
        let quote_sized = cat == Category::Spot
            && order_type == OrderType::Market
            && match p.get("marketUnit")?.as_deref() {
                None => side == Side::Buy,
                Some("quoteCoin") => true,
                Some("baseCoin") => false,
                Some(_) => return Err(invalid_value(cat, "marketUnit")),
            };
        let qty = if quote_sized {
            qty_for_quote(&ctx.market, idx, &inst, side, &qty_text)?
        } else {
            parse_qty(&inst, cat, &qty_text)?
        };
        let reduce_only = cat == Category::Linear && p.flag("reduceOnly")?;
        let qty =
            if reduce_only { reduce_only_qty(&ctx.market.position(caller.account, idx), side, qty)? } else { qty };
        let client_order_id = link.unwrap_or_else(|| format!("{AUTO_LINK_PREFIX}{}", self.next_serial()));
        let request =
            ClientOrderRequest { client_order_id: Some(client_order_id.clone()), side, order_type, tif, price, qty };
        let ack = |venue_order_id: u64| {
            Reply::ok(
                Obj::new()
                    .s("orderId", &order_id_text(cat, venue_order_id))
                    .s("orderLinkId", link_id_text(&client_order_id))
                    .done(),
            )
        };
        match ctx.market.submit_with(caller.account, idx, request.clone(), reduce_only) {
            Ok(outcome) => {
                if reduce_only {
                    self.reduce_only.mark((caller.account, idx, outcome.order.venue_order_id));
                }
                Ok(ack(outcome.order.venue_order_id))
            }
            // Acknowledged, then closed by the matching engine: a spot post-only order that
            // would take shows `Rejected` (observed live on spot), a linear one `Cancelled`
            // (observed live on linear, and the create-order page: "it will be cancelled").
            Err(OrderReject::Reason(RejectReason::WouldTakeLiquidity)) => {
                let status = if cat == Category::Spot { "Rejected" } else { "Cancelled" };
                let id =
                    self.record_refused(ctx, caller.account, idx, &request, "EC_PostOnlyWillTakeLiquidity", status);
                Ok(ack(id))
            }
            Err(OrderReject::Reason(RejectReason::FokUnfillable)) => {
                let id = self.record_refused(ctx, caller.account, idx, &request, "EC_CancelForNoFullFill", "Cancelled");
                Ok(ack(id))
            }
            Err(e) => Err(reject_error(cat, &inst, qty, &e)),
        }
    }

    /// Records an acknowledged order the engine refused, and tells the account's private
    /// streams. Returns its venue order id.
    pub(super) fn record_refused(
        &self,
        ctx: &Ctx,
        account: AccountId,
        idx: usize,
        req: &ClientOrderRequest,
        reason: &'static str,
        status: &'static str,
    ) -> u64 {
        let id = SYNTHETIC_ID_BASE + self.next_serial();
        let now = Nanos(ctx.market.now_ms().saturating_mul(1_000_000));
        let view = OrderView {
            symbol: idx,
            venue_order_id: id,
            client_order_id: req.client_order_id.clone().unwrap_or_default(),
            side: req.side,
            order_type: req.order_type,
            tif: req.tif,
            price: req.price.unwrap_or(Price::ZERO),
            qty: req.qty,
            cum_qty: Qty::ZERO,
            cum_quote: Notional::ZERO,
            status: if status == "Rejected" { OrderStatus::Rejected } else { OrderStatus::Canceled },
            created: now,
            updated: now,
        };
        let rec = OrderRecord { view, reject_reason: reason, status_override: Some(status), reduce_only: false };
        let mut st = self.lock();
        let ledger = st.ledgers.entry(account).or_default();
        ledger.close(ctx.market.instruments(), rec.clone());
        let rec = Arc::new(rec);
        st.listeners.retain(|(a, tx)| *a != account || tx.send(rec.clone()).is_ok());
        id
    }

    /// `POST /v5/order/cancel` (`order/cancel-order.mdx`): `orderId` wins over `orderLinkId`.
    pub(super) fn cancel_order(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let symbol = p.get("symbol")?.ok_or_else(|| missing("symbol"))?;
        let (idx, _) = symbol_of(&ctx.market, cat, &symbol)?;
        let r = match (p.get("orderId")?, p.get("orderLinkId")?) {
            (Some(id), _) => OrderRef::Venue(parse_order_id(cat, &id).ok_or_else(|| order_not_found(cat))?),
            (None, Some(link)) => OrderRef::Client(link),
            (None, None) => return Err(missing("orderId or orderLinkId")),
        };
        let view = ctx.market.cancel(caller.account, idx, &r).map_err(|_| order_not_found(cat))?;
        Ok(Reply::ok(
            Obj::new()
                .s("orderId", &order_id_text(cat, view.venue_order_id))
                .s("orderLinkId", link_id_text(&view.client_order_id))
                .done(),
        ))
    }

    /// `POST /v5/order/cancel-all` (`order/cancel-all.mdx`): spot may name nothing (all spot
    /// orders); linear needs `symbol`, `baseCoin` or `settleCoin`. The result carries `list` and
    /// `success` (current page; older revisions gave spot only `success`).
    pub(super) fn cancel_all(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let scope = scope_symbols(&ctx.market, cat, p, true)?;
        let only_orders = p.get("orderFilter")?.is_none_or(|f| f == "Order");
        let mut list = Vec::new();
        if only_orders {
            for idx in scope {
                for view in ctx.market.cancel_all(caller.account, Some(idx)) {
                    list.push(
                        Obj::new()
                            .s("orderId", &order_id_text(cat, view.venue_order_id))
                            .s("orderLinkId", link_id_text(&view.client_order_id))
                            .done(),
                    );
                }
            }
        }
        Ok(Reply::ok(Obj::new().raw("list", &json_array(list)).s("success", "1").done()))
    }

    /// `GET /v5/order/realtime` (`order/open-order.mdx`): open orders (`openOnly=0`, default),
    /// recent closed ones (`openOnly=1`, up to 500 per category), or one order by `orderId` /
    /// `orderLinkId` whatever its state; newest first; `limit` [1, 50], default 20; the cursor is
    /// an offset.
    pub(super) fn realtime(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
        let cat = category_param(p)?;
        let order_id = p.get("orderId")?;
        let link = p.get("orderLinkId")?;
        let scope = scope_symbols(&ctx.market, cat, p, order_id.is_none() && link.is_none())?;
        let open_only = p.int("openOnly")?.unwrap_or(0);
        let limit = p.int("limit")?.unwrap_or(20);
        if !(1..=50).contains(&limit) {
            return Err(param_error("limit invalid"));
        }
        let offset: usize = match p.get("cursor")? {
            None => 0,
            Some(c) => c.parse().map_err(|_| param_error("cursor invalid"))?,
        };
        let account = caller.account;
        let mut records: Vec<OrderRecord> = Vec::new();
        if order_id.is_some() || link.is_some() {
            let wanted = |r: &OrderRecord| match (&order_id, &link) {
                (Some(id), _) => parse_order_id(cat, id) == Some(r.view.venue_order_id),
                (None, Some(l)) => r.view.client_order_id == *l,
                (None, None) => false,
            };
            let r = match (&order_id, &link) {
                (Some(id), _) => parse_order_id(cat, id).map(OrderRef::Venue),
                (None, Some(l)) => Some(OrderRef::Client(l.clone())),
                (None, None) => None,
            };
            if let Some(r) = r {
                records.extend(
                    scope
                        .iter()
                        .filter_map(|idx| ctx.market.order(account, *idx, &r))
                        .map(|v| self.marked(account, OrderRecord::plain(v)))
                        .take(1),
                );
            }
            if records.is_empty() {
                records.extend(self.with_ledger(ctx, account, |l| {
                    l.closed
                        .iter()
                        .rev()
                        .filter(|r| scope.contains(&r.view.symbol) && wanted(r))
                        .take(1)
                        .cloned()
                        .collect::<Vec<_>>()
                }));
            }
        } else if open_only == 0 {
            records.extend(
                ctx.market
                    .open_orders(account, None)
                    .into_iter()
                    .filter(|o| scope.contains(&o.symbol))
                    .map(|v| self.marked(account, OrderRecord::plain(v))),
            );
        } else {
            records.extend(self.with_ledger(ctx, account, |l| {
                l.closed.iter().filter(|r| scope.contains(&r.view.symbol)).cloned().collect::<Vec<_>>()
            }));
        }
        let mut records: Vec<OrderRecord> = records.into_iter().map(|r| self.marked(account, r)).collect();
        records.sort_by_key(|r| std::cmp::Reverse((r.view.created, r.view.venue_order_id)));
        let total = records.len();
        let page: Vec<OrderRecord> = records.into_iter().skip(offset).take(limit as usize).collect();
        let next = if offset + page.len() < total { (offset + page.len()).to_string() } else { String::new() };
        let instruments = ctx.market.instruments();
        let list: Vec<String> = self.with_ledger(ctx, account, |l| {
            page.iter()
                .filter_map(|r| {
                    let inst = instruments.get(r.view.symbol)?;
                    let fee = l.fee(r.view.symbol, r.view.venue_order_id, None);
                    Some(rest_order_json(inst, cat, r, fee))
                })
                .collect()
        });
        Ok(Reply::ok(
            Obj::new().raw("list", &json_array(list)).s("nextPageCursor", &next).s("category", cat.name()).done(),
        ))
    }

    /// The account's ledger, created (and subscribed) on first use.
    pub(super) fn ensure_ledger(&self, ctx: &Ctx, account: AccountId) {
        let mut st = self.lock();
        let ledger = st.ledgers.entry(account).or_default();
        if ledger.events.is_none() {
            ledger.events = ctx.market.subscribe_account(account);
        }
    }

    /// Runs `f` on the account's ledger after taking in every event published so far.
    pub(super) fn with_ledger<R>(&self, ctx: &Ctx, account: AccountId, f: impl FnOnce(&mut AccountLedger) -> R) -> R {
        let mut st = self.lock();
        let ledger = st.ledgers.entry(account).or_default();
        ledger.drain(&ctx.market, account);
        f(ledger)
    }

    /// A channel of the acknowledged-then-refused orders of `account`, for its private streams.
    pub(super) fn listen_refused(&self, account: AccountId) -> Receiver<Arc<OrderRecord>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.lock().listeners.push((account, tx));
        rx
    }
}

/// The symbols a cancel-all or order query covers: `symbol`, else `baseCoin` / `settleCoin`
/// (linear needs one of them when `required`), else every symbol of the category.
pub(super) fn scope_symbols(
    market: &Market,
    cat: Category,
    p: &Params,
    required: bool,
) -> Result<Vec<usize>, ApiError> {
    if let Some(symbol) = p.get("symbol")? {
        return Ok(vec![symbol_of(market, cat, &symbol)?.0]);
    }
    let base = p.get("baseCoin")?;
    let settle = p.get("settleCoin")?;
    if cat == Category::Linear && required && base.is_none() && settle.is_none() {
        return Err(missing("symbol or settleCoin or baseCoin"));
    }
    Ok(market
        .instruments()
        .iter()
        .enumerate()
        .filter(|(_, i)| Category::of(i.kind()) == Some(cat))
        .filter(|(_, i)| base.as_deref().is_none_or(|b| b == i.base()))
        .filter(|(_, i)| settle.as_deref().is_none_or(|s| s == i.quote()))
        .map(|(idx, _)| idx)
        .collect())
}

/// `GET /v5/account/wallet-balance?accountType=UNIFIED[&coin=A,B]` (`account/wallet-balance.mdx`):
/// one unified account; coins with a zero balance only when asked for by name. USD values use
/// the coin's `…USDT` spot best bid (stablecoins count one for one; others without a market 0).
pub(super) fn wallet_balance(ctx: &Ctx, caller: Caller, p: &Params) -> Result<Reply, ApiError> {
    match p.get("accountType")?.as_deref() {
        Some("UNIFIED") => {}
        Some(_) => return Err(param_error("accountType only support UNIFIED")),
        None => return Err(missing("accountType")),
    }
    let wanted: Option<Vec<String>> = p.get("coin")?.map(|c| c.split(',').map(|s| s.trim().to_owned()).collect());
    let account = wallet_json(ctx, caller.account, wanted.as_deref());
    Ok(Reply::ok(Obj::new().raw("list", &json_array([account])).done()))
}

/// The unified account's wallet as `wallet-balance` and the private `wallet` topic show it: the
/// coins `wanted` (all non-zero ones without a list), each linear position's unrealized PnL (at
/// the mid) and cumulative realized PnL (after fees and funding) on its settle coin.
pub(super) fn wallet_json(ctx: &Ctx, account: AccountId, wanted: Option<&[String]>) -> String {
    let market = &ctx.market;
    let positions = market.positions(account);
    let balances: Vec<BalanceView> = market
        .balances(account)
        .into_iter()
        .filter(|b| match wanted {
            Some(w) => w.contains(&b.asset),
            None => !(b.free.is_zero() && b.locked.is_zero()),
        })
        .collect();
    let (mut total, mut total_upl) = (Notional::ZERO, Notional::ZERO);
    let mut coins = Vec::new();
    for b in &balances {
        let wallet = b.free.checked_add(b.locked).unwrap_or(b.free);
        let (mut upl, mut realized) = (Notional::ZERO, Notional::ZERO);
        for pos in positions.iter().filter(|p| market.instruments().get(p.symbol).is_some_and(|i| i.quote() == b.asset))
        {
            let inst = &market.instruments()[pos.symbol];
            let u = market.mark_price(pos.symbol).map_or(Notional::ZERO, |m| pos.unrealized(inst, m));
            upl = upl.checked_add(u).unwrap_or(upl);
            realized = realized.checked_add(cum_realised(pos)).unwrap_or(realized);
        }
        let usd = usd_value(market, &b.asset, wallet);
        total = total.checked_add(usd).unwrap_or(total);
        total_upl = total_upl.checked_add(usd_value(market, &b.asset, upl)).unwrap_or(total_upl);
        let w = value_text(wallet);
        coins.push(
            Obj::new()
                .s("coin", &b.asset)
                .s("equity", &value_text(wallet.checked_add(upl).unwrap_or(wallet)))
                .s("usdValue", usd.display_rounded(8).as_str())
                .s("walletBalance", &w)
                .s("locked", &value_text(b.locked))
                .s("borrowAmount", "0")
                .s("availableToBorrow", "")
                .s("availableToWithdraw", &value_text(b.free))
                .s("accruedInterest", "0")
                .s("totalOrderIM", "0")
                .s("totalPositionIM", "0")
                .s("totalPositionMM", "0")
                .s("unrealisedPnl", &value_text(upl))
                .s("cumRealisedPnl", &value_text(realized))
                .done(),
        );
    }
    let equity = total.checked_add(total_upl).unwrap_or(total);
    let (total, equity) = (total.display_rounded(8), equity.display_rounded(8));
    Obj::new()
        .s("accountType", "UNIFIED")
        .s("accountIMRate", "0")
        .s("accountMMRate", "0")
        .s("totalEquity", equity.as_str())
        .s("totalWalletBalance", total.as_str())
        .s("totalMarginBalance", equity.as_str())
        .s("totalAvailableBalance", total.as_str())
        .s("totalPerpUPL", total_upl.display_rounded(8).as_str())
        .s("totalInitialMargin", "0")
        .s("totalMaintenanceMargin", "0")
        .raw("coin", &json_array(coins))
        .done()
}

/// Bybit's cumulative realized PnL of a position: closed PnL less commission, plus funding.
pub(super) fn cum_realised(p: &Position) -> Notional {
    p.realized.checked_sub(p.fees).and_then(|r| r.checked_add(p.funding)).unwrap_or(p.realized)
}

pub(super) fn usd_value(market: &Market, asset: &str, amount: Notional) -> Notional {
    if matches!(asset, "USDT" | "USDC" | "USD") {
        return amount;
    }
    let symbol = format!("{asset}USDT");
    let Some(idx) = market.symbol_index(&symbol) else { return Notional::ZERO };
    let Some(inst) = market.instruments().get(idx) else { return Notional::ZERO };
    let Some((bid, _)) = market.snapshot(idx, 1).and_then(|s| s.bids.first().copied()) else { return Notional::ZERO };
    amount
        .units()
        .checked_mul(i128::from(bid.units()))
        .map(|v| Notional::from_units(v / 10i128.pow(u32::from(inst.price_scale()))))
        .unwrap_or(Notional::ZERO)
}
