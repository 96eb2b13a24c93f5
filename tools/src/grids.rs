//! Each venue's instruments endpoint and what it says of our instruments' grids (tick and lot
//! size): `qt preflight` reports it (`instruments <v>`), and `qt run` refuses to start a live
//! run on a mismatch, naming both values — an order on the wrong grid is rejected by the venue
//! or, worse, rounded by us to a price the strategy did not mean.
//!
//! | venue | request | tick / lot |
//! |---|---|---|
//! | Binance spot | `GET /api/v3/exchangeInfo?symbol=S` | `PRICE_FILTER.tickSize` / `LOT_SIZE.stepSize` |
//! | Binance USD-M | `GET /fapi/v1/exchangeInfo` | the same filters |
//! | Bybit spot, linear | `GET /v5/market/instruments-info?category=C&symbol=S` | `priceFilter.tickSize` / `lotSizeFilter.basePrecision` (spot), `qtyStep` (linear) |
//! | OKX spot | `GET /api/v5/public/instruments?instType=SPOT&instId=S` | `tickSz` / `lotSz` |
//! | KuCoin spot | `GET /api/v2/symbols` | `priceIncrement` / `baseIncrement` |
//! | Kraken spot | `GET /0/public/AssetPairs?pair=S` | `tick_size` / 10^−`lot_decimals` |
//! | Firi, OKX swaps | not checked (no verified grid fields; OKX swaps count lots in contracts) | — |
//!
//! Main thread, at start: allocates, blocks on the venues.

use crate::config::{Plan, VenuePlan};
use qt_core::{InstrumentKind, Price, Qty, Venue};
use serde_json::Value;

/// What a venue's instruments endpoint said of our instruments there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GridCheck {
    /// Symbols whose tick and lot match.
    pub matched: Vec<String>,
    /// Symbols with no known endpoint.
    pub unchecked: Vec<String>,
    /// Symbols listed with another tick or lot: `SYM: venue tick T lot L, ours tick t lot l`.
    pub mismatches: Vec<String>,
    /// Symbols the venue did not answer for, or did not list: `SYM: why`.
    pub unanswered: Vec<String>,
}

/// Checks every instrument of `v` against its venue's answer, fetched with `get` (a request
/// target → the JSON answer, or why not).
pub fn compare(plan: &Plan, v: &VenuePlan, get: impl Fn(&str) -> Result<Value, String>) -> GridCheck {
    let mut out = GridCheck::default();
    for id in &v.instruments {
        let Some(inst) = plan.instruments.get(*id) else { continue };
        let sym = inst.symbol();
        let Some(endpoint) = grid_endpoint(v.venue, inst.kind()) else {
            out.unchecked.push(sym.to_string());
            continue;
        };
        let target = (endpoint.path)(sym);
        let info = match get(&target) {
            Ok(info) => info,
            Err(why) => {
                out.unanswered.push(format!("{sym}: {why}"));
                continue;
            }
        };
        let Some((tick, lot)) = (endpoint.read)(&info, sym) else {
            out.unanswered.push(format!("{sym}: not listed with a tick and lot in GET {target}"));
            continue;
        };
        let same_tick = Price::parse(&tick, inst.price_scale()).is_ok_and(|t| t == inst.tick());
        let same_lot = Qty::parse(&lot, inst.qty_scale()).is_ok_and(|l| l == inst.lot());
        if same_tick && same_lot {
            out.matched.push(sym.to_string());
        } else {
            let ours = |units: i64, scale: u8| {
                qt_core::decimal::format_scaled(i128::from(units), scale, qt_core::DecimalStyle::Trimmed)
            };
            out.mismatches.push(format!(
                "{sym}: venue tick {tick} lot {lot}, ours tick {} lot {}",
                ours(inst.tick().units(), inst.price_scale()).as_str(),
                ours(inst.lot().units(), inst.qty_scale()).as_str()
            ));
        }
    }
    out
}

/// A live run's start: every venue's grids against the configuration. A mismatch is an error
/// naming the venue, the symbol and both values; a venue that cannot be asked is logged at warn
/// (its feed and gateway will say more when they connect).
pub fn verify_at_start(plan: &Plan) -> Result<(), String> {
    let mut refused = Vec::new();
    for v in &plan.venues {
        let found = match crate::preflight::venues::client(v) {
            Ok(client) => compare(plan, v, |target| crate::preflight::venues::get_json(&client, target)),
            Err(why) => {
                log::warn!("instruments: cannot ask {} for its grids: {why}", v.venue);
                continue;
            }
        };
        for m in &found.mismatches {
            refused.push(format!("{} {m}", v.venue));
        }
        for u in &found.unanswered {
            log::warn!("instruments: {} {u}", v.venue);
        }
        if !found.matched.is_empty() {
            log::info!("instruments: {} tick and lot match for {}", v.venue, found.matched.join(", "));
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!("[[instruments]] disagree with the venues' grids: {}", refused.join("; ")))
    }
}

/// Where a venue lists its instruments' grids, and how to read one symbol's `(tick, lot)`.
#[derive(Debug, Clone, Copy)]
pub struct GridEndpoint {
    /// The request for `symbol`.
    pub path: fn(&str) -> String,
    /// `(tick, lot)` of `symbol` in the answer, as the venue writes them.
    pub read: fn(&Value, &str) -> Option<(String, String)>,
}

/// The instruments endpoint of `venue` for instruments of `kind` (`None`: not checked).
pub fn grid_endpoint(venue: Venue, kind: InstrumentKind) -> Option<GridEndpoint> {
    Some(match (venue, kind) {
        // exchangeInfo: filters PRICE_FILTER.tickSize and LOT_SIZE.stepSize.
        (Venue::Binance, InstrumentKind::Spot) => {
            GridEndpoint { path: |s| format!("/api/v3/exchangeInfo?symbol={s}"), read: binance_grid }
        }
        (Venue::BinanceUsdm, _) => GridEndpoint { path: |_| "/fapi/v1/exchangeInfo".into(), read: binance_grid },
        // instruments: tickSz and lotSz.
        (Venue::Okx, InstrumentKind::Spot) => GridEndpoint {
            path: |s| format!("/api/v5/public/instruments?instType=SPOT&instId={s}"),
            read: |v, s| {
                let i = v["data"].as_array()?.iter().find(|i| i["instId"] == s)?;
                Some((i["tickSz"].as_str()?.to_string(), i["lotSz"].as_str()?.to_string()))
            },
        },
        // symbols: priceIncrement and baseIncrement.
        (Venue::Kucoin, InstrumentKind::Spot) => GridEndpoint {
            path: |_| "/api/v2/symbols".into(),
            read: |v, s| {
                let i = v["data"].as_array()?.iter().find(|i| i["symbol"] == s)?;
                Some((i["priceIncrement"].as_str()?.to_string(), i["baseIncrement"].as_str()?.to_string()))
            },
        },
        // instruments-info: priceFilter.tickSize; spot lotSizeFilter.basePrecision, linear
        // lotSizeFilter.qtyStep.
        (Venue::Bybit, InstrumentKind::Spot) => GridEndpoint {
            path: |s| format!("/v5/market/instruments-info?category=spot&symbol={s}"),
            read: |v, s| bybit_grid(v, s, "basePrecision"),
        },
        (Venue::Bybit, InstrumentKind::LinearPerpetual) => GridEndpoint {
            path: |s| format!("/v5/market/instruments-info?category=linear&symbol={s}"),
            read: |v, s| bybit_grid(v, s, "qtyStep"),
        },
        // AssetPairs: tick_size, and the lot from lot_decimals (Kraken's volume precision).
        (Venue::Kraken, InstrumentKind::Spot) => GridEndpoint {
            path: |s| format!("/0/public/AssetPairs?pair={s}"),
            read: |v, s| {
                let pairs = v["result"].as_object()?;
                let p = pairs.get(s).or_else(|| pairs.values().find(|p| p["wsname"] == s || p["altname"] == s))?;
                let lot_decimals = p["lot_decimals"].as_u64()?.min(18) as usize;
                let lot =
                    if lot_decimals == 0 { "1".to_string() } else { format!("0.{}1", "0".repeat(lot_decimals - 1)) };
                Some((p["tick_size"].as_str()?.to_string(), lot))
            },
        },
        _ => return None,
    })
}

/// `(priceFilter.tickSize, lotSizeFilter.<lot_key>)` of `symbol` in a Bybit `instruments-info`
/// answer.
fn bybit_grid(info: &Value, symbol: &str, lot_key: &str) -> Option<(String, String)> {
    let i = info["result"]["list"].as_array()?.iter().find(|i| i["symbol"] == symbol)?;
    Some((i["priceFilter"]["tickSize"].as_str()?.to_string(), i["lotSizeFilter"][lot_key].as_str()?.to_string()))
}

/// `(tickSize, stepSize)` of `symbol` in a Binance (spot or USD-M) `exchangeInfo` answer, as
/// the venue writes them.
pub fn binance_grid(info: &Value, symbol: &str) -> Option<(String, String)> {
    let s = info["symbols"].as_array()?.iter().find(|s| s["symbol"] == symbol)?;
    let filter = |kind: &str, key: &str| {
        s["filters"].as_array()?.iter().find(|f| f["filterType"] == kind)?[key].as_str().map(str::to_string)
    };
    Some((filter("PRICE_FILTER", "tickSize")?, filter("LOT_SIZE", "stepSize")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binance_grids_are_read_from_the_filters() {
        let info = json!({"symbols": [{"symbol": "BTCUSDT", "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "stepSize": "0.00001000"}
        ]}]});
        let (tick, lot) = binance_grid(&info, "BTCUSDT").unwrap();
        assert_eq!((tick.as_str(), lot.as_str()), ("0.01000000", "0.00001000"));
        assert!(binance_grid(&info, "ETHUSDT").is_none());
    }

    #[test]
    fn okx_and_kucoin_grids_are_read() {
        let okx = json!({"code": "0", "data": [{"instId": "BTC-USDT", "tickSz": "0.1", "lotSz": "0.00000001"}]});
        let e = grid_endpoint(Venue::Okx, InstrumentKind::Spot).unwrap();
        assert_eq!((e.path)("BTC-USDT"), "/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT");
        assert_eq!((e.read)(&okx, "BTC-USDT"), Some(("0.1".into(), "0.00000001".into())));
        let kucoin = json!({"code": "200000", "data": [{"symbol": "BTC-USDT", "priceIncrement": "0.1", "baseIncrement": "0.00000001"}]});
        let e = grid_endpoint(Venue::Kucoin, InstrumentKind::Spot).unwrap();
        assert_eq!((e.read)(&kucoin, "BTC-USDT"), Some(("0.1".into(), "0.00000001".into())));
        assert_eq!((e.read)(&kucoin, "ETH-USDT"), None);
        assert!(grid_endpoint(Venue::Firi, InstrumentKind::Spot).is_none());
    }

    #[test]
    fn bybit_and_kraken_grids_are_read() {
        let bybit = json!({"retCode": 0, "result": {"category": "spot", "list": [{"symbol": "BTCUSDT",
            "priceFilter": {"tickSize": "0.01"}, "lotSizeFilter": {"basePrecision": "0.000001", "qtyStep": "0.001"}}]}});
        let e = grid_endpoint(Venue::Bybit, InstrumentKind::Spot).unwrap();
        assert_eq!((e.path)("BTCUSDT"), "/v5/market/instruments-info?category=spot&symbol=BTCUSDT");
        assert_eq!((e.read)(&bybit, "BTCUSDT"), Some(("0.01".into(), "0.000001".into())));
        let e = grid_endpoint(Venue::Bybit, InstrumentKind::LinearPerpetual).unwrap();
        assert_eq!((e.read)(&bybit, "BTCUSDT"), Some(("0.01".into(), "0.001".into())));
        // Kraken keys the pair by the name asked for; the lot is 10^-lot_decimals.
        let kraken = json!({"error": [], "result": {"XBT/USDT": {"altname": "XBTUSDT", "wsname": "XBT/USDT",
            "tick_size": "0.1", "lot_decimals": 8, "pair_decimals": 1}}});
        let e = grid_endpoint(Venue::Kraken, InstrumentKind::Spot).unwrap();
        assert_eq!((e.read)(&kraken, "XBT/USDT"), Some(("0.1".into(), "0.00000001".into())));
        assert_eq!((e.read)(&kraken, "XBTUSDT"), Some(("0.1".into(), "0.00000001".into())));
        assert_eq!((e.read)(&kraken, "ETH/USDT"), None);
    }
}
