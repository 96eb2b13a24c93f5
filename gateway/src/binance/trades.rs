//! Binance's account trade list, `GET /api/v3/myTrades?symbol=&orderId=` (SIGNED, weight 5 with
//! `orderId`): the trades of one order with their real commission, for fills the gateway finds
//! by a REST query instead of the user data stream (whose `executionReport` carries `n`/`N`).
//!
//! [`recovered_fills`] picks, from the venue's list, the trades not reported yet that make up
//! exactly the quantity a query found missing, and reads each one's price, quantity, commission
//! and maker flag on the instrument's grid. The commission is booked like the stream's `n`/`N`:
//! in the instrument's quote asset it is the fee; in another asset (BNB) the fee is recorded as
//! zero and flagged ([`TradeFill::fee_in_other_asset`]). Any inconsistency (an unknown field, a
//! trade straddling the missing quantity, too few trades) is an error: the caller then reports
//! the fill with its fee unknown.
//!
//! Pure functions on the gateway thread (its cold reconciliation path); allocate per answer.

use crate::kit::order_state::TradeId;
use qt_core::{Instrument, Nanos, Notional, Price, Qty};
use serde::Deserialize;

/// The account trade list endpoint.
pub(crate) const MY_TRADES_PATH: &str = "/api/v3/myTrades";

/// One element of the `myTrades` answer (the fields used; names as Binance sends them).
#[derive(Debug, Deserialize)]
pub(crate) struct AccountTrade {
    /// Trade id (the stream's `t`).
    pub(crate) id: i64,
    #[serde(rename = "orderId")]
    pub(crate) order_id: u64,
    pub(crate) price: String,
    pub(crate) qty: String,
    pub(crate) commission: String,
    #[serde(rename = "commissionAsset")]
    pub(crate) commission_asset: String,
    pub(crate) time: i64,
    /// Spot's `isMaker`, USD-M's `maker` (`GET /fapi/v1/userTrades`).
    #[serde(rename = "isMaker", alias = "maker")]
    pub(crate) is_maker: bool,
}

/// A trade to report as a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeFill {
    /// The venue's trade id.
    pub trade_id: i64,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// The commission in the quote asset (zero when [`Self::fee_in_other_asset`]).
    pub fee: Notional,
    /// The commission was charged in another asset (BNB): recorded as zero, counted.
    pub fee_in_other_asset: bool,
    /// We were the maker.
    pub maker: bool,
    /// Trade time.
    pub ts: Nanos,
}

/// Parses a `myTrades` answer.
pub(crate) fn parse_trades(body: &[u8]) -> Result<Vec<AccountTrade>, String> {
    serde_json::from_slice(body).map_err(|e| format!("myTrades answer: {e}"))
}

/// One trade of the list on the instrument's grid, its commission booked like the stream's `n`/`N`.
pub(crate) fn to_fill(inst: &Instrument, t: &AccountTrade) -> Result<TradeFill, String> {
    let qty = inst.parse_qty(&t.qty).map_err(|e| format!("trade {} qty {:?}: {e}", t.id, t.qty))?;
    let price = inst.parse_price(&t.price).map_err(|e| format!("trade {} price {:?}: {e}", t.id, t.price))?;
    let commission =
        Notional::parse(&t.commission).map_err(|e| format!("trade {} commission {:?}: {e}", t.id, t.commission))?;
    if !qty.is_positive() || !price.is_positive() {
        return Err(format!("trade {}: qty {} / price {} out of range", t.id, t.qty, t.price));
    }
    let in_quote = t.commission_asset == inst.quote();
    Ok(TradeFill {
        trade_id: t.id,
        price,
        qty,
        fee: if in_quote { commission } else { Notional::ZERO },
        fee_in_other_asset: !in_quote && !commission.is_zero(),
        maker: t.is_maker,
        ts: Nanos(t.time.saturating_mul(1_000_000)),
    })
}

/// The trades of venue order `venue_order_id` not in `seen`, oldest first, that add up to
/// exactly `missing`; an error says why they cannot (then the fee is unknown).
pub(crate) fn recovered_fills(
    inst: &Instrument,
    mut trades: Vec<AccountTrade>,
    venue_order_id: u64,
    seen: &[TradeId],
    missing: Qty,
) -> Result<Vec<TradeFill>, String> {
    trades.retain(|t| t.order_id == venue_order_id && !seen.contains(&TradeId::Num(t.id)));
    trades.sort_by_key(|t| t.id);
    let mut out = Vec::new();
    let mut total = Qty::ZERO;
    for t in &trades {
        if total >= missing {
            // Later trades (after the query that found the gap) are the stream's to report.
            break;
        }
        let fill = to_fill(inst, t)?;
        total = total.checked_add(fill.qty).map_err(|e| format!("trade {}: {e}", t.id))?;
        out.push(fill);
    }
    if total != missing {
        return Err(format!(
            "the venue lists {} of the order's unreported trades as {}, the query found {} missing",
            out.len(),
            inst.qty_text(total),
            inst.qty_text(missing)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentId, InstrumentSpec, Venue};

    fn inst() -> Instrument {
        let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001");
        Instrument::from_spec(InstrumentId(0), &spec).unwrap()
    }

    /// Binance's documented example element, with our ids and amounts.
    fn trade(id: i64, order: u64, qty: &str, commission: &str, asset: &str) -> String {
        format!(
            r#"{{"symbol":"BTCUSDT","id":{id},"orderId":{order},"orderListId":-1,"price":"65000.01000000","qty":"{qty}","quoteQty":"0","commission":"{commission}","commissionAsset":"{asset}","time":1499865549590,"isBuyer":true,"isMaker":false,"isBestMatch":true}}"#
        )
    }

    fn list(items: &[String]) -> Vec<AccountTrade> {
        parse_trades(format!("[{}]", items.join(",")).as_bytes()).unwrap()
    }

    #[test]
    fn the_unreported_trades_of_the_missing_quantity_carry_their_commission() {
        let i = inst();
        let trades = list(&[
            trade(12, 99, "0.00030000", "0.00975000", "USDT"),
            trade(11, 99, "0.00020000", "0.00650000", "USDT"),
            trade(10, 99, "0.00010000", "0.00325000", "USDT"),
            trade(13, 99, "0.00040000", "0.00001000", "BNB"),
            trade(9, 98, "0.00010000", "0.1", "USDT"),
        ]);
        // Trade 10 was reported by the stream; 50 lots are missing: trades 11 and 12.
        let fills = recovered_fills(&i, trades, 99, &[TradeId::Num(10)], Qty::from_units(50)).unwrap();
        assert_eq!(fills.len(), 2, "{fills:?}");
        assert_eq!((fills[0].trade_id, fills[0].qty), (11, Qty::from_units(20)));
        assert_eq!(fills[0].fee, Notional::parse("0.0065").unwrap());
        assert_eq!((fills[1].price, fills[1].maker), (i.parse_price("65000.01").unwrap(), false));
        assert_eq!(fills[1].ts, Nanos(1_499_865_549_590_000_000));
        // A commission in BNB: zero in the quote asset, flagged.
        let trades = list(&[trade(13, 99, "0.00040000", "0.00001000", "BNB")]);
        let fills = recovered_fills(&i, trades, 99, &[], Qty::from_units(40)).unwrap();
        assert_eq!((fills[0].fee, fills[0].fee_in_other_asset), (Notional::ZERO, true));
    }

    #[test]
    fn trades_that_do_not_add_up_leave_the_fee_unknown() {
        let i = inst();
        let two = || list(&[trade(1, 7, "0.00010000", "0.1", "USDT"), trade(2, 7, "0.00030000", "0.1", "USDT")]);
        // Too few (the venue's list lags) and straddling (a trade larger than the gap).
        assert!(recovered_fills(&i, two(), 7, &[], Qty::from_units(50)).is_err());
        assert!(recovered_fills(&i, two(), 7, &[], Qty::from_units(20)).is_err());
        assert!(recovered_fills(&i, Vec::new(), 7, &[], Qty::from_units(10)).is_err());
        let bad = list(&[trade(1, 7, "0.00010000", "0.1x", "USDT")]);
        assert!(recovered_fills(&i, bad, 7, &[], Qty::from_units(10)).unwrap_err().contains("commission"));
        assert!(parse_trades(b"{\"code\":-1000}").is_err());
        // Exactly the gap, the later trade left to the stream.
        let fills = recovered_fills(&i, two(), 7, &[], Qty::from_units(10)).unwrap();
        assert_eq!(fills.len(), 1);
    }
}
