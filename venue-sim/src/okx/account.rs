//! OKX's account endpoints over the shared market: `GET /api/v5/account/balance` and
//! `GET /api/v5/account/positions`.
//!
//! Facts: the balance sample `testdata/okx/orders/rest_balance_response.json` ([MIRROR]):
//! `data[0]` the account (`totalEq`, `uTime`, …) with `details[]` per currency — `cashBal` the
//! balance, `availBal` what is free, `frozenBal` / `ordFrozen` what open orders hold, `eq`
//! the balance plus the currency's unrealized PnL. Positions [RECALL; no sample in NOTES]: net
//! mode (`posSide` "net", `pos` signed: positive long), `mgnMode` "cross", `avgPx`, `upl`,
//! `realizedPnl`, `fee` (negative: paid), `fundingFee`, `markPx`, `ccy` the settle currency.
//! Guesses (README): no margin figures (`imr`, `mmr`, `liqPx` empty or "0"), `lever` "1";
//! `eqUsd` counts USDT/USDC/USD one for one and other currencies at the `{ccy}-USDT` best bid.
//!
//! Runs on connection threads; allocates per request.

use super::OkxV5;
use super::auth::{ApiError, Caller, Params};
use super::order_doc::fee_text;
use super::trade::instrument;
use super::wire::inst_id;
use crate::kit::decimal_text::ms;
use crate::market::positions::scaled_text;
use crate::market::{Market, Position};
use crate::protocol::Ctx;
use crate::public_stream::symbol_by_pair;
use qt_core::decimal::format_scaled;
use qt_core::{DecimalStyle, InstrumentKind, Notional};
use serde_json::{Value, json};

fn text(n: Notional) -> String {
    n.to_text(DecimalStyle::Trimmed).as_str().to_owned()
}

/// `amount` of `ccy` in USD (see the module doc).
fn usd(market: &Market, ccy: &str, amount: Notional) -> Notional {
    if matches!(ccy, "USDT" | "USDC" | "USD") {
        return amount;
    }
    let Some(idx) = symbol_by_pair(market, &format!("{ccy}-USDT"), '-') else { return Notional::ZERO };
    let Some(inst) = market.instruments().get(idx) else { return Notional::ZERO };
    let Some((bid, _)) = market.snapshot(idx, 1).and_then(|s| s.bids.first().copied()) else { return Notional::ZERO };
    amount
        .units()
        .checked_mul(i128::from(bid.units()))
        .map_or(Notional::ZERO, |v| Notional::from_units(v / 10i128.pow(u32::from(inst.price_scale()))))
}

fn unrealized(market: &Market, p: &Position) -> Notional {
    let Some(inst) = market.instruments().get(p.symbol) else { return Notional::ZERO };
    market.mark_price(p.symbol).map_or(Notional::ZERO, |m| p.unrealized(inst, m))
}

impl OkxV5 {
    /// `GET /api/v5/account/balance[?ccy=BTC,ETH]`: every currency with a balance, or the named
    /// ones (zero included).
    pub(super) fn balance(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Vec<Value>, ApiError> {
        let market = &ctx.market;
        let wanted: Option<Vec<String>> = p.get("ccy")?.map(|c| c.split(',').map(|s| s.trim().to_owned()).collect());
        let positions = market.positions(caller.account);
        let now = market.now_ms().to_string();
        let (mut total, mut details) = (Notional::ZERO, Vec::new());
        for b in market.balances(caller.account) {
            let keep = match &wanted {
                Some(w) => w.contains(&b.asset),
                None => !(b.free.is_zero() && b.locked.is_zero()),
            };
            if !keep {
                continue;
            }
            let cash = b.free.checked_add(b.locked).unwrap_or(b.free);
            let upl = positions
                .iter()
                .filter(|x| market.instruments().get(x.symbol).is_some_and(|i| i.quote() == b.asset))
                .fold(Notional::ZERO, |a, x| a.checked_add(unrealized(market, x)).unwrap_or(a));
            let eq = cash.checked_add(upl).unwrap_or(cash);
            let eq_usd = usd(market, &b.asset, eq);
            total = total.checked_add(eq_usd).unwrap_or(total);
            details.push(json!({
                "ccy": b.asset, "eq": text(eq), "cashBal": text(cash), "uTime": now,
                "isoEq": "0", "availEq": text(b.free), "disEq": text(eq_usd), "fixedBal": "0",
                "availBal": text(b.free), "frozenBal": text(b.locked), "ordFrozen": text(b.locked),
                "liab": "0", "upl": text(upl), "uplLiab": "0", "crossLiab": "0", "isoLiab": "0",
                "mgnRatio": "", "interest": "0", "twap": "0", "maxLoan": "0", "eqUsd": text(eq_usd),
                "borrowFroz": "0", "notionalLever": "", "stgyEq": "0", "isoUpl": "0", "spotInUseAmt": "",
                "rewardBal": "0", "spotIsoBal": "0", "imr": "", "mmr": "",
            }));
        }
        Ok(vec![json!({
            "adjEq": "", "availEq": "", "borrowFroz": "0", "details": details, "imr": "0", "isoEq": "0",
            "mgnRatio": "", "mmr": "0", "notionalUsd": "0", "ordFroz": "", "totalEq": text(total),
            "uTime": now, "upl": "0",
        })])
    }

    /// `GET /api/v5/account/positions[?instType=SWAP&instId=..]`: open positions (net mode).
    pub(super) fn positions(&self, ctx: &Ctx, caller: Caller, p: &Params) -> Result<Vec<Value>, ApiError> {
        let market = &ctx.market;
        match p.get("instType")?.as_deref() {
            None | Some("SWAP") => {}
            Some("MARGIN" | "FUTURES" | "OPTION") => return Ok(Vec::new()),
            Some(_) => return Err(ApiError::param("instType")),
        }
        let only = match p.get("instId")? {
            Some(id) => Some(instrument(market, &id)?.0),
            None => None,
        };
        let mut out = Vec::new();
        for pos in market.positions(caller.account) {
            let Some(inst) = market.instruments().get(pos.symbol) else { continue };
            if pos.qty == 0 || inst.kind() == InstrumentKind::Spot || only.is_some_and(|o| o != pos.symbol) {
                continue;
            }
            let signed = format_scaled(i128::from(pos.qty), inst.qty_scale(), DecimalStyle::Trimmed);
            let avg = pos.entry_price(inst, inst.price_scale() + 4).map_or_else(String::new, |e| {
                let t = scaled_text(e);
                if t.contains('.') { t.trim_end_matches('0').trim_end_matches('.').to_owned() } else { t }
            });
            let mark = market.mark_price(pos.symbol).map_or_else(String::new, scaled_text);
            out.push(json!({
                "instType": "SWAP", "instId": inst_id(inst), "mgnMode": "cross", "posId": pos.symbol.to_string(),
                "posSide": "net", "pos": signed.as_str(), "availPos": "", "posCcy": "", "ccy": inst.quote(),
                "avgPx": avg, "markPx": mark, "upl": text(unrealized(market, &pos)), "uplRatio": "",
                "lever": "1", "liqPx": "", "imr": "", "margin": "", "mgnRatio": "", "mmr": "",
                "liab": "", "liabCcy": "", "interest": "0", "tradeId": "", "notionalUsd": "", "adl": "",
                "realizedPnl": text(pos.realized.checked_sub(pos.fees).unwrap_or(pos.realized)),
                "pnl": text(pos.realized), "fee": fee_text(pos.fees), "fundingFee": text(pos.funding),
                "cTime": ms(pos.updated).to_string(), "uTime": ms(pos.updated).to_string(),
            }));
        }
        Ok(out)
    }
}
