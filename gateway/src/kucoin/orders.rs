//! KuCoin's HF order documents as the gateway writes and reads them: the body of
//! `POST /api/v1/hf/orders` ([`order_body`]), its ack ([`parse_ack`]), and the fills of
//! `GET /api/v1/hf/fills` with their real fees ([`parse_fills`]) — how the gateway books each
//! fill's fee (the private push has none) and recovers fills it missed.
//!
//! Facts: `testdata/kucoin/orders/rest_hf_add_order_request.json` and
//! `rest_hf_add_order_response.json` ([DOC]); the `hf/fills` item fields (`tradeId`, `orderId`,
//! `price`, `size`, `fee`, `feeCurrency`, `liquidity`, `createdAt` ms, in `data.items`) are
//! [RECALL] of the docs' "Get Trade History" — no sample is stored (`NOTES-orders.md` §4); the
//! simulator writes the same fields (`venue-sim/src/kucoin/order_doc.rs`). `tradeId` is read
//! as a number or a string.
//!
//! Pure functions; allocate the body and the parsed strings.

use qt_core::{Instrument, Notional, OrderType, Price, Qty, Side, TimeInForce};
use serde_json::{Value, json};

/// One new order as the gateway sends it.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    /// Our client order id (`clientOid`).
    pub client_oid: &'a str,
    /// Side.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Time in force (post-only is `postOnly: true` with GTC).
    pub tif: TimeInForce,
    /// Limit price (ignored for a market order).
    pub price: Price,
    /// Quantity in base units.
    pub qty: Qty,
}

/// The JSON body of `POST /api/v1/hf/orders` for `order` on `inst` (symbol as listed,
/// `BASE-QUOTE`). A market order is sized in base (`size`) and carries no price or time in
/// force.
pub fn order_body(inst: &Instrument, order: &NewOrder<'_>) -> String {
    let side = if order.side == Side::Buy { "buy" } else { "sell" };
    let size = inst.qty_text(order.qty);
    match order.order_type {
        OrderType::Market => json!({
            "clientOid": order.client_oid, "side": side, "symbol": inst.symbol(), "type": "market",
            "size": size.as_ref(),
        }),
        OrderType::Limit => {
            let (tif, post_only) = match order.tif {
                TimeInForce::Gtc => ("GTC", false),
                TimeInForce::PostOnly => ("GTC", true),
                TimeInForce::Ioc => ("IOC", false),
                TimeInForce::Fok => ("FOK", false),
            };
            json!({
                "clientOid": order.client_oid, "side": side, "symbol": inst.symbol(), "type": "limit",
                "price": inst.price_text(order.price).as_ref(), "size": size.as_ref(),
                "timeInForce": tif, "postOnly": post_only,
            })
        }
    }
    .to_string()
}

/// `(orderId, clientOid)` of an ack's `data`.
pub fn parse_ack(data: &Value) -> Option<(String, String)> {
    let id = data.get("orderId")?.as_str().filter(|s| !s.is_empty())?.to_string();
    let cl = data.get("clientOid").and_then(Value::as_str).unwrap_or("").to_string();
    Some((id, cl))
}

/// One fill of `hf/fills`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRow {
    /// `tradeId` (the de-duplication key, as the push writes it).
    pub trade_id: String,
    /// `orderId`.
    pub order_id: String,
    /// `price` (venue text).
    pub price: String,
    /// `size` (venue text).
    pub size: String,
    /// `fee`, in `fee_currency`, positive when charged.
    pub fee: Notional,
    /// `feeCurrency`.
    pub fee_currency: String,
    /// `liquidity` is `maker`.
    pub maker: bool,
    /// `createdAt`, ms.
    pub time_ms: i64,
}

/// The fills of an `hf/fills` answer's `data` (`{"items":[..],"lastId":..}`); the error names
/// the field.
pub fn parse_fills(data: &Value) -> Result<Vec<FillRow>, String> {
    let items = data.get("items").and_then(Value::as_array).ok_or("data.items missing")?;
    let mut out = Vec::with_capacity(items.len());
    for (i, f) in items.iter().enumerate() {
        let at = format!("data.items[{i}]");
        let text = |k: &str| -> Result<String, String> {
            match f.get(k) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(format!("{at}.{k} missing")),
            }
        };
        let fee_text = text("fee")?;
        out.push(FillRow {
            trade_id: text("tradeId")?,
            order_id: text("orderId")?,
            price: text("price")?,
            size: text("size")?,
            fee: Notional::parse(&fee_text).map_err(|e| format!("{at}.fee {fee_text:?}: {e}"))?,
            fee_currency: text("feeCurrency")?,
            maker: f.get("liquidity").and_then(Value::as_str) == Some("maker"),
            time_ms: f.get("createdAt").and_then(Value::as_i64).unwrap_or(0),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::Venue;
    use qt_test_support::TestInstrument;

    fn btc_usdt() -> Instrument {
        TestInstrument::spot(Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.00001").build(0)
    }

    /// The documented request's fields and values (less its `remark`), plus the documented
    /// optional `timeInForce` / `postOnly`; the documented ack reads.
    #[test]
    fn the_body_has_the_documented_fields_and_the_documented_ack_reads() {
        let inst = btc_usdt();
        let order = NewOrder {
            client_oid: "5c52e11203aa677f33e493fb",
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: inst.parse_price("50000").unwrap(),
            qty: inst.parse_qty("0.00001").unwrap(),
        };
        let ours: Value = serde_json::from_str(&order_body(&inst, &order)).unwrap();
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/kucoin/orders/rest_hf_add_order_request.json"))
                .unwrap();
        for k in ["type", "symbol", "side", "clientOid"] {
            assert_eq!(ours[k], doc[k], "{k}");
        }
        let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!((num(&ours["price"]), num(&ours["size"])), (num(&doc["price"]), num(&doc["size"])));
        assert_eq!((ours["timeInForce"].as_str(), ours["postOnly"].as_bool()), (Some("GTC"), Some(false)));
        let post = NewOrder { tif: TimeInForce::PostOnly, ..order };
        let post: Value = serde_json::from_str(&order_body(&inst, &post)).unwrap();
        assert_eq!((post["timeInForce"].as_str(), post["postOnly"].as_bool()), (Some("GTC"), Some(true)));
        let market = NewOrder { order_type: OrderType::Market, ..order };
        let market: Value = serde_json::from_str(&order_body(&inst, &market)).unwrap();
        assert!(market.get("price").is_none() && market.get("timeInForce").is_none(), "{market}");
        let ack: Value =
            serde_json::from_str(include_str!("../../../testdata/kucoin/orders/rest_hf_add_order_response.json"))
                .unwrap();
        assert_eq!(
            parse_ack(&ack["data"]),
            Some(("670fd33bf9406e0007ab3945".into(), "5c52e11203aa677f33e493fb".into()))
        );
        assert_eq!(parse_ack(&serde_json::json!({})), None);
    }

    #[test]
    fn fills_read_with_their_fees_and_bad_ones_are_named() {
        let data = serde_json::json!({"items": [
            {"id": 1, "orderId": "0000000000000000000000a1", "tradeId": 11116472408358913_i64, "price": "67717.6",
             "size": "0.00001", "fee": "0.000677176", "feeCurrency": "USDT", "liquidity": "taker", "createdAt": 1729577515473_i64},
            {"id": 2, "orderId": "0000000000000000000000a1", "tradeId": "17", "price": "1", "size": "2",
             "fee": "0", "feeCurrency": "USDT", "liquidity": "maker", "createdAt": 5},
        ], "lastId": 17});
        let f = parse_fills(&data).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].trade_id.as_str(), f[0].fee), ("11116472408358913", Notional::parse("0.000677176").unwrap()));
        assert_eq!(
            (f[0].maker, f[1].maker, f[1].trade_id.as_str(), f[0].time_ms),
            (false, true, "17", 1_729_577_515_473)
        );
        let bad = serde_json::json!({"items": [{"orderId": "x", "tradeId": "1", "price": "1", "size": "1", "fee": "1x", "feeCurrency": "USDT"}]});
        assert!(parse_fills(&bad).unwrap_err().contains("fee"));
        assert!(parse_fills(&serde_json::json!([])).is_err());
    }
}
