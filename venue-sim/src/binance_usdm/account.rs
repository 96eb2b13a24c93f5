//! Binance USD-M's account endpoints: `GET /fapi/v2|v3/balance`, `/fapi/v2|v3/account`,
//! `/fapi/v2|v3/positionRisk`, `/fapi/v1/userTrades`, `/fapi/v1/positionSide/dual` (one-way
//! mode: `{"dualSidePosition":false}`) and the listen key (`POST`/`PUT`/`DELETE
//! /fapi/v1/listenKey`, API key only; `PUT` and `DELETE` act on the account's live key, -1125
//! when there is none).
//!
//! The futures wallet is the account's one set of balances in the market (a guess, README lists
//! it): every asset is listed; the margin asset of a position carries its unrealized PnL
//! (`crossUnPnl`) at the mark (the mid). v2 `positionRisk` lists every contract, v3 only those
//! with a position ("only symbols with position or open orders will be returned"). Margin is not
//! modelled: initial and maintenance margins read zero, the available balance is the wallet.
//!
//! Runs on the server's connection threads; allocates per request.

use super::BinanceUsdm;
use super::private_wire::{entry_text, is_usdm, quote_text, signed_qty_text, usdm_symbol, wallet};
use super::wire::{price_text, qty_text};
use crate::kit::binance_errors::BinanceError;
use crate::kit::binance_params::{Params, api_key, authenticate, with_signed};
use crate::kit::binance_text::{amount_text, side_text};
use crate::kit::binance_trades::{TRADE_LIST_PARAMS, TradeListRules, select_trades};
use crate::kit::decimal_text::ms;
use crate::market::positions::{Position, scaled_text};
use crate::protocol::{Ctx, HttpRequest};
use qt_core::{AccountId, Notional, Rounding, Side};
use serde_json::{Value, json};

/// `userTrades`' rules: at most 7 days between `startTime` and `endTime` (the docs give no code
/// for a longer span: -1130 on `endTime` is a guess), `orderId` with a time range allowed.
const TRADE_RULES: TradeListRules = TradeListRules {
    max_span_ms: 7 * 24 * 60 * 60 * 1000,
    order_id_with_time: true,
    bad_span: BinanceError::InvalidParamData("endTime"),
};
/// The account alias the docs' sample shows (the simulator has one per account, this one).
const ACCOUNT_ALIAS: &str = "SgsR";

/// One position with its mark, notional and unrealized PnL.
struct Marked {
    position: Position,
    mark: Option<(i128, u8)>,
}

impl BinanceUsdm {
    /// The account's positions on USD-M contracts (all of them, or only open ones), marked.
    fn marked(ctx: &Ctx, account: AccountId, all: bool, only: Option<usize>) -> Vec<Marked> {
        let market = &ctx.market;
        let held = market.positions(account);
        (0..market.instruments().len())
            .filter(|i| is_usdm(&market.instruments()[*i]) && only.is_none_or(|o| o == *i))
            .map(|i| held.iter().find(|p| p.symbol == i).copied().unwrap_or_else(|| Position::flat(i)))
            .filter(|p| all || p.qty != 0)
            .map(|position| Marked { position, mark: market.mark_price(position.symbol) })
            .collect()
    }

    /// Unrealized PnL per margin asset over `marked`.
    fn unrealized_in(ctx: &Ctx, marked: &[Marked], asset: &str) -> Notional {
        marked
            .iter()
            .filter(|m| ctx.market.instruments()[m.position.symbol].quote() == asset)
            .map(|m| {
                m.mark.map_or(Notional::ZERO, |mark| {
                    m.position.unrealized(&ctx.market.instruments()[m.position.symbol], mark)
                })
            })
            .fold(Notional::ZERO, |a, b| a.checked_add(b).unwrap_or(a))
    }

    pub(super) fn balance(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&[]))?;
        let marked = Self::marked(ctx, account, false, None);
        let now = ctx.market.now_ms();
        Ok(Value::Array(
            ctx.market
                .balances(account)
                .iter()
                .map(|b| {
                    let w = amount_text(wallet(b));
                    json!({
                        "accountAlias": ACCOUNT_ALIAS,
                        "asset": b.asset,
                        "balance": w,
                        "crossWalletBalance": w,
                        "crossUnPnl": amount_text(Self::unrealized_in(ctx, &marked, &b.asset)),
                        "availableBalance": amount_text(b.free),
                        "maxWithdrawAmount": amount_text(b.free),
                        "marginAvailable": true,
                        "updateTime": now,
                    })
                })
                .collect(),
        ))
    }

    pub(super) fn account(&self, ctx: &Ctx, req: &HttpRequest, p: &Params, v2: bool) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&[]))?;
        let market = &ctx.market;
        let marked = Self::marked(ctx, account, v2, None);
        let now = market.now_ms();
        let mut total_wallet = Notional::ZERO;
        let mut total_up = Notional::ZERO;
        let mut available = Notional::ZERO;
        let assets: Vec<Value> = market
            .balances(account)
            .iter()
            .map(|b| {
                let up = Self::unrealized_in(ctx, &marked, &b.asset);
                let w = wallet(b);
                // The totals are in the first margin asset only (USDT in practice), as Binance
                // sums them in USD.
                if marked.iter().any(|m| market.instruments()[m.position.symbol].quote() == b.asset)
                    || b.asset == "USDT"
                {
                    total_wallet = total_wallet.checked_add(w).unwrap_or(total_wallet);
                    total_up = total_up.checked_add(up).unwrap_or(total_up);
                    available = available.checked_add(b.free).unwrap_or(available);
                }
                json!({
                    "asset": b.asset,
                    "walletBalance": amount_text(w),
                    "unrealizedProfit": amount_text(up),
                    "marginBalance": amount_text(w.checked_add(up).unwrap_or(w)),
                    "maintMargin": "0.00000000",
                    "initialMargin": "0.00000000",
                    "positionInitialMargin": "0.00000000",
                    "openOrderInitialMargin": "0.00000000",
                    "crossWalletBalance": amount_text(w),
                    "crossUnPnl": amount_text(up),
                    "availableBalance": amount_text(b.free),
                    "maxWithdrawAmount": amount_text(b.free),
                    "updateTime": now,
                })
            })
            .collect();
        let positions: Vec<Value> = marked
            .iter()
            .map(|m| {
                let inst = &market.instruments()[m.position.symbol];
                let up = m.mark.map_or(Notional::ZERO, |mark| m.position.unrealized(inst, mark));
                let notional = m.mark.map_or(Notional::ZERO, |mark| m.position.notional_at(inst, mark));
                let mut v = json!({
                    "symbol": inst.symbol(),
                    "positionSide": "BOTH",
                    "positionAmt": signed_qty_text(inst, m.position.qty),
                    "unrealizedProfit": amount_text(up),
                    "isolatedMargin": "0",
                    "notional": amount_text(notional),
                    "isolatedWallet": "0",
                    "initialMargin": "0",
                    "maintMargin": "0",
                    "updateTime": ms(m.position.updated),
                });
                if v2 && let Some(obj) = v.as_object_mut() {
                    obj.insert("entryPrice".into(), Value::from(entry_text(inst, &m.position)));
                    obj.insert("leverage".into(), Value::from("20"));
                    obj.insert("isolated".into(), Value::from(false));
                    obj.insert("maxNotional".into(), Value::from("0"));
                }
                v
            })
            .collect();
        let margin = total_wallet.checked_add(total_up).unwrap_or(total_wallet);
        let mut v = json!({
            "totalInitialMargin": "0.00000000",
            "totalMaintMargin": "0.00000000",
            "totalWalletBalance": amount_text(total_wallet),
            "totalUnrealizedProfit": amount_text(total_up),
            "totalMarginBalance": amount_text(margin),
            "totalPositionInitialMargin": "0.00000000",
            "totalOpenOrderInitialMargin": "0.00000000",
            "totalCrossWalletBalance": amount_text(total_wallet),
            "totalCrossUnPnl": amount_text(total_up),
            "availableBalance": amount_text(available),
            "maxWithdrawAmount": amount_text(available),
            "assets": assets,
            "positions": positions,
        });
        if v2 && let Some(obj) = v.as_object_mut() {
            for (k, val) in [
                ("feeTier", json!(0)),
                ("canTrade", json!(true)),
                ("canDeposit", json!(true)),
                ("canWithdraw", json!(true)),
                ("updateTime", json!(0)),
                ("multiAssetsMargin", json!(false)),
            ] {
                obj.insert(k.into(), val);
            }
        }
        Ok(v)
    }

    pub(super) fn position_risk(
        &self,
        ctx: &Ctx,
        req: &HttpRequest,
        p: &Params,
        v2: bool,
    ) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&["symbol"]))?;
        let market = &ctx.market;
        let only = p.get("symbol").map(|s| usdm_symbol(market, s).map(|(i, _)| i)).transpose()?;
        let marked = Self::marked(ctx, account, v2, only);
        Ok(Value::Array(
            marked
                .iter()
                .map(|m| {
                    let inst = &market.instruments()[m.position.symbol];
                    let up = m.mark.map_or(Notional::ZERO, |mark| m.position.unrealized(inst, mark));
                    let notional = m.mark.map_or(Notional::ZERO, |mark| m.position.notional_at(inst, mark));
                    let mark_text = m.mark.map_or_else(|| price_text(inst, 0), scaled_text);
                    json!({
                        "symbol": inst.symbol(),
                        "positionSide": "BOTH",
                        "positionAmt": signed_qty_text(inst, m.position.qty),
                        "entryPrice": entry_text(inst, &m.position),
                        "breakEvenPrice": entry_text(inst, &m.position),
                        "markPrice": mark_text,
                        "unRealizedProfit": amount_text(up),
                        "liquidationPrice": "0",
                        "isolatedMargin": "0",
                        "notional": amount_text(notional),
                        "marginAsset": inst.quote(),
                        "isolatedWallet": "0",
                        "initialMargin": "0",
                        "maintMargin": "0",
                        "positionInitialMargin": "0",
                        "openOrderInitialMargin": "0",
                        "adl": 0,
                        "bidNotional": "0",
                        "askNotional": "0",
                        "updateTime": ms(m.position.updated),
                    })
                })
                .collect(),
        ))
    }

    pub(super) fn user_trades(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let account = authenticate(ctx, req, p)?;
        p.only(&with_signed(&TRADE_LIST_PARAMS))?;
        let market = &ctx.market;
        let (symbol, inst) = usdm_symbol(market, p.required("symbol")?)?;
        let trades = select_trades(market, account, symbol, p, &TRADE_RULES)?;
        Ok(Value::Array(
            trades
                .iter()
                .map(|t| {
                    let f = &t.fill;
                    let quote = inst.notional(f.price, f.qty, Rounding::Nearest).unwrap_or_default();
                    let realized = market.trade_realized(account, symbol, f.trade_id).unwrap_or(Notional::ZERO);
                    json!({
                        "buyer": t.side == Side::Buy,
                        "commission": amount_text(f.fee),
                        "commissionAsset": inst.quote(),
                        "id": f.trade_id,
                        "maker": f.is_maker,
                        "orderId": t.venue_order_id,
                        "price": price_text(inst, f.price.units()),
                        "qty": qty_text(inst, f.qty.units()),
                        "quoteQty": quote_text(inst, quote),
                        "realizedPnl": amount_text(realized),
                        "side": side_text(t.side),
                        "positionSide": "BOTH",
                        "symbol": inst.symbol(),
                        "time": ms(f.ts),
                    })
                })
                .collect(),
        ))
    }

    pub(super) fn position_mode(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        authenticate(ctx, req, p)?;
        p.only(&with_signed(&[]))?;
        Ok(json!({ "dualSidePosition": false }))
    }

    pub(super) fn listen_key_start(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, secret) = api_key(ctx, req)?;
        p.only(&[])?;
        Ok(json!({ "listenKey": self.listen_keys.start(account, &secret, ctx.market.now_ms()) }))
    }

    /// The caller's live key (a `listenKey` parameter, if sent, must be it).
    fn live_key(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<(AccountId, String, i64), BinanceError> {
        let (account, _) = api_key(ctx, req)?;
        p.only(&["listenKey"])?;
        let now = ctx.market.now_ms();
        let key = self.listen_keys.key_of(account, now).ok_or(BinanceError::InvalidListenKey)?;
        if p.get("listenKey").is_some_and(|k| k != key) {
            return Err(BinanceError::InvalidListenKey);
        }
        Ok((account, key, now))
    }

    pub(super) fn listen_key_keepalive(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, key, now) = self.live_key(ctx, req, p)?;
        self.listen_keys.keepalive(&key, account, now);
        Ok(json!({ "listenKey": key }))
    }

    pub(super) fn listen_key_close(&self, ctx: &Ctx, req: &HttpRequest, p: &Params) -> Result<Value, BinanceError> {
        let (account, key, now) = self.live_key(ctx, req, p)?;
        self.listen_keys.close(&key, account, now);
        Ok(json!({}))
    }
}
