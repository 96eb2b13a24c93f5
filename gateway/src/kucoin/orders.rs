//! KuCoin's HF order documents as the gateway writes and reads them: the body of
//! `POST /api/v1/hf/orders` ([`write_order_body`], no allocation, which the live path and the
//! order-encoding benchmark share), its ack ([`parse_ack`]), and the fills of
//! `GET /api/v1/hf/fills` with their real fees ([`parse_fills`]) — how the gateway books each
//! fill's fee (the private push has none) and recovers fills it missed.
//!
//! Facts: `testdata/kucoin/orders/rest_hf_add_order_request.json` and
//! `rest_hf_add_order_response.json` ([DOC]); the `hf/fills` item fields (`tradeId`, `orderId`,
//! `price`, `size`, `fee`, `feeCurrency`, `liquidity`, `createdAt` ms, in `data.items`) are
//! [DOC, legacy] `rest_hf_fills_response.json` (KuCoin's HF docs repository, `SOURCES.md`); the
//! simulator writes the same fields (`venue-sim/src/kucoin/order_doc.rs`). `tradeId` is read
//! as a number or a string.
//!
//! Pure functions; the readers allocate the parsed strings.

use qt_core::{Instrument, Notional, OrderRequest, OrderType, Side, TimeInForce};
use serde_json::Value;

/// Appends the JSON body of `POST /api/v1/hf/orders` for `req` on `inst` under our client
/// order id `client_oid` to `out`: `clientOid` is a [`qt_core::ClientOrderId`] (26
/// alphanumerics, within KuCoin's 40), the symbol as listed (`BASE-QUOTE`), size and price on the
/// instrument's grid through `qt_core`'s decimal text. A market order is sized in base
/// (`size`) and carries no price or time in force; a limit order carries `timeInForce`
/// (GTC / IOC / FOK) and `postOnly` (true for our post-only, with GTC: KuCoin refuses it with
/// IOC or FOK).
///
/// Pure and allocation-free once `out` has the capacity (about 200 bytes): the live path
/// calls it, and it is the order-encoding benchmark's KuCoin writer. The symbol is written as is: a KuCoin symbol
/// has no character JSON escapes (the gateway's validation checks it), nor has `client_oid`.
pub fn write_order_body(out: &mut String, inst: &Instrument, client_oid: &str, req: &OrderRequest) {
    out.push_str(r#"{"clientOid":""#);
    out.push_str(client_oid);
    out.push_str(r#"","side":""#);
    out.push_str(if req.side == Side::Buy { "buy" } else { "sell" });
    out.push_str(r#"","symbol":""#);
    out.push_str(inst.symbol());
    match req.order_type {
        OrderType::Market => {
            out.push_str(r#"","type":"market","size":""#);
            out.push_str(inst.qty_text(req.qty).as_ref());
            out.push_str(r#""}"#);
        }
        OrderType::Limit => {
            let (tif, post_only) = match req.tif {
                TimeInForce::Gtc => ("GTC", false),
                TimeInForce::PostOnly => ("GTC", true),
                TimeInForce::Ioc => ("IOC", false),
                TimeInForce::Fok => ("FOK", false),
            };
            out.push_str(r#"","type":"limit","price":""#);
            out.push_str(inst.price_text(req.price).as_ref());
            out.push_str(r#"","size":""#);
            out.push_str(inst.qty_text(req.qty).as_ref());
            out.push_str(r#"","timeInForce":""#);
            out.push_str(tif);
            out.push_str(if post_only { r#"","postOnly":true}"# } else { r#"","postOnly":false}"# });
        }
    }
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
    use qt_core::{ClientOrderId, OrderId, Venue};
    use qt_test_support::TestInstrument;

    fn body_of(inst: &Instrument, order_id: OrderId, run_id: u32, req: &OrderRequest) -> String {
        let mut out = String::new();
        write_order_body(&mut out, inst, ClientOrderId::new(run_id, order_id).as_str(), req);
        out
    }

    fn btc_usdt() -> Instrument {
        TestInstrument::spot(Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.00001").build(0)
    }

    fn request(inst: &Instrument, order_type: OrderType, tif: TimeInForce) -> OrderRequest {
        OrderRequest {
            account: qt_core::AccountId(0),
            strategy: qt_core::StrategyId(0),
            instrument: inst.id(),
            side: Side::Buy,
            order_type,
            tif,
            price: inst.parse_price("50000").unwrap(),
            qty: inst.parse_qty("0.00001").unwrap(),
            reduce_only: false,
            stop_price: None,
        }
    }

    /// The documented request's fields and values (less its `remark`; our `clientOid`), plus
    /// the documented optional `timeInForce` / `postOnly`; the documented ack reads.
    #[test]
    fn the_body_has_the_documented_fields_and_the_documented_ack_reads() {
        let inst = btc_usdt();
        let gtc = request(&inst, OrderType::Limit, TimeInForce::Gtc);
        let ours: Value = serde_json::from_str(&body_of(&inst, OrderId(7), 9, &gtc)).unwrap();
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/kucoin/orders/rest_hf_add_order_request.json"))
                .unwrap();
        for k in ["type", "symbol", "side"] {
            assert_eq!(ours[k], doc[k], "{k}");
        }
        assert_eq!(ours["clientOid"].as_str(), Some(ClientOrderId::new(9, OrderId(7)).as_str()));
        let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!((num(&ours["price"]), num(&ours["size"])), (num(&doc["price"]), num(&doc["size"])));
        assert_eq!((ours["timeInForce"].as_str(), ours["postOnly"].as_bool()), (Some("GTC"), Some(false)));
        for (tif, text, post_only) in
            [(TimeInForce::PostOnly, "GTC", true), (TimeInForce::Ioc, "IOC", false), (TimeInForce::Fok, "FOK", false)]
        {
            let body: Value =
                serde_json::from_str(&body_of(&inst, OrderId(8), 9, &request(&inst, OrderType::Limit, tif))).unwrap();
            assert_eq!((body["timeInForce"].as_str(), body["postOnly"].as_bool()), (Some(text), Some(post_only)));
        }
        let market = request(&inst, OrderType::Market, TimeInForce::Ioc);
        let market: Value = serde_json::from_str(&body_of(&inst, OrderId(9), 9, &market)).unwrap();
        assert_eq!((market["type"].as_str(), market["size"].as_str()), (Some("market"), Some("0.00001")));
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

    /// The body is appended to the caller's buffer without growing it once it has the room.
    #[test]
    fn the_body_is_written_into_the_callers_buffer() {
        let inst = btc_usdt();
        let req = request(&inst, OrderType::Limit, TimeInForce::PostOnly);
        let mut out = String::with_capacity(256);
        out.push('>');
        let (cap, ptr) = (out.capacity(), out.as_ptr());
        write_order_body(&mut out, &inst, ClientOrderId::new(2, OrderId(1)).as_str(), &req);
        assert_eq!((out.capacity(), out.as_ptr()), (cap, ptr), "no reallocation");
        assert_eq!(&out[1..], body_of(&inst, OrderId(1), 2, &req));
    }

    /// KuCoin's documented `hf/fills` answer (`testdata/kucoin/orders/SOURCES.md`): its trade,
    /// with the fee, read exactly (`tradeId` a number there).
    #[test]
    fn the_documented_fills_read_with_their_fee() {
        let doc: Value =
            serde_json::from_str(include_str!("../../../testdata/kucoin/orders/rest_hf_fills_response.json")).unwrap();
        let f = parse_fills(&doc["data"]).unwrap();
        let want = FillRow {
            trade_id: "616179312641".into(),
            order_id: "6306cf6e27ecbe0001e1e03a".into(),
            price: "1".into(),
            size: "1".into(),
            fee: Notional::parse("0.00021").unwrap(),
            fee_currency: "USDT".into(),
            maker: false,
            time_ms: 1_661_390_702_919,
        };
        assert_eq!(f, [want]);
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
