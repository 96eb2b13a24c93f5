//! KuCoin's private `/spotMarket/tradeOrdersV2` push (subject `orderChange`) read into an
//! [`OrderChange`]: which order (`orderId`, `clientOid`), what happened ([`ChangeKind`] from
//! `type`), the cumulative figures (`filledSize`, `remainSize`, `canceledSize`) and, on a
//! `match`, the fill (`matchPrice`, `matchSize`, `tradeId`, `liquidity`).
//!
//! Facts (`NOTES-orders.md` §4; samples `testdata/kucoin/order_update.json` (`received`),
//! `testdata/kucoin/orders/ws_trade_orders_v2_open.json` (`open`) [DOC] and the legacy V1
//! `match`/`filled`/`canceled` samples [MIRROR, weak], whose fields V2 keeps): numbers are
//! strings; `type` received / open / match / update / filled / canceled; the push carries no
//! fee amount (each fill's fee is read from `GET /api/v1/hf/fills`). Decimals are kept as the
//! venue's text; the gateway parses them on the instrument's grid.
//!
//! Allocates the strings it keeps; never panics on bad input ([`parse`] returns `None`).

use serde::Deserialize;

/// What one push reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `received`: the venue has the order (not yet in the book).
    Received,
    /// `open`: working in the book.
    Open,
    /// `match`: a fill.
    Match,
    /// `update`: the size changed (a partial cancel or self-trade prevention).
    Update,
    /// `filled`: done, fully filled.
    Filled,
    /// `canceled`: done, the rest cancelled (`filledSize` may be non-zero).
    Canceled,
}

/// One fill of a `match` push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFill {
    /// `tradeId`.
    pub trade_id: String,
    /// `matchPrice`.
    pub price: String,
    /// `matchSize`.
    pub size: String,
    /// `liquidity` is `maker`.
    pub maker: bool,
}

/// One `orderChange` push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderChange {
    /// `symbol`, e.g. `BTC-USDT`.
    pub symbol: String,
    /// `orderId`.
    pub order_id: String,
    /// `clientOid` (empty if absent).
    pub client_oid: String,
    /// `type`.
    pub kind: ChangeKind,
    /// `filledSize` (absent on `received`: "0").
    pub filled_size: String,
    /// `remainSize` ("0" when absent).
    pub remain_size: String,
    /// The fill of a `match`.
    pub fill: Option<MatchFill>,
    /// `ts`, ns.
    pub ts_ns: i64,
}

#[derive(Deserialize)]
struct Push {
    topic: String,
    subject: String,
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    symbol: String,
    order_id: String,
    #[serde(default)]
    client_oid: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    filled_size: Option<String>,
    #[serde(default)]
    remain_size: Option<String>,
    #[serde(default)]
    match_price: Option<String>,
    #[serde(default)]
    match_size: Option<String>,
    #[serde(default)]
    trade_id: Option<String>,
    #[serde(default)]
    liquidity: Option<String>,
    #[serde(default)]
    ts: i64,
}

/// The topic.
pub const TOPIC: &str = "/spotMarket/tradeOrdersV2";

/// The push in `text`, or `None` if it is not a well-formed `orderChange` of [`TOPIC`] (a
/// `match` without its fill fields included).
pub fn parse(text: &str) -> Option<OrderChange> {
    let p: Push = serde_json::from_str(text).ok()?;
    if p.topic != TOPIC || p.subject != "orderChange" {
        return None;
    }
    let d = p.data;
    let kind = match d.kind.as_str() {
        "received" => ChangeKind::Received,
        "open" => ChangeKind::Open,
        "match" => ChangeKind::Match,
        "update" => ChangeKind::Update,
        "filled" => ChangeKind::Filled,
        "canceled" => ChangeKind::Canceled,
        _ => return None,
    };
    let fill = match kind {
        ChangeKind::Match => Some(MatchFill {
            trade_id: d.trade_id?,
            price: d.match_price?,
            size: d.match_size?,
            maker: d.liquidity.as_deref() == Some("maker"),
        }),
        _ => None,
    };
    Some(OrderChange {
        symbol: d.symbol,
        order_id: d.order_id,
        client_oid: d.client_oid,
        kind,
        filled_size: d.filled_size.unwrap_or_else(|| "0".into()),
        remain_size: d.remain_size.unwrap_or_else(|| "0".into()),
        fill,
        ts_ns: d.ts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_pushes_parse_to_their_values() {
        let received = parse(include_str!("../../../testdata/kucoin/order_update.json").trim()).unwrap();
        assert_eq!(received.kind, ChangeKind::Received);
        assert_eq!(
            (received.order_id.as_str(), received.client_oid.as_str()),
            ("6720da3fa30a360007f5f832", "5c52e11203aa677f33e493fc")
        );
        assert_eq!((received.filled_size.as_str(), received.fill.as_ref()), ("0", None));
        assert_eq!(received.ts_ns, 1_730_206_271_616_000_000);
        let open = parse(include_str!("../../../testdata/kucoin/orders/ws_trade_orders_v2_open.json").trim()).unwrap();
        assert_eq!(
            (open.kind, open.remain_size.as_str(), open.symbol.as_str()),
            (ChangeKind::Open, "0.00001", "BTC-USDT")
        );
        // The legacy V1 match sample carries V2's fill fields; under V2's topic it parses so.
        let legacy = include_str!("../../../testdata/kucoin/orders/ws_legacy_v1_match_taker.json").trim();
        let v2 = legacy.replace("\"/spotMarket/tradeOrders\"", "\"/spotMarket/tradeOrdersV2\"");
        let m = parse(&v2).unwrap();
        let fill = MatchFill {
            trade_id: "5efab07a4ee4c7000a82d6d9".into(),
            price: "0.96738".into(),
            size: "0.1".into(),
            maker: false,
        };
        assert_eq!((m.kind, m.fill, m.filled_size.as_str()), (ChangeKind::Match, Some(fill), "0.1"));
        assert_eq!(parse(legacy), None, "the V1 topic is not the one subscribed");
    }

    #[test]
    fn malformed_pushes_are_none() {
        for bad in [
            "",
            "{",
            r#"{"topic":"/spotMarket/tradeOrdersV2","subject":"orderChange","data":{"symbol":"B","orderId":"1","type":"match"}}"#,
            r#"{"topic":"/spotMarket/tradeOrdersV2","subject":"orderChange","data":{"symbol":"B","orderId":"1","type":"what"}}"#,
            r#"{"topic":"/spotMarket/tradeOrdersV2","subject":"other","data":{"symbol":"B","orderId":"1","type":"open"}}"#,
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
