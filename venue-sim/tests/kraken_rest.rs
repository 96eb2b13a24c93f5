//! The simulator's Kraken public REST market data (`/0/public/*`) over real TLS on loopback,
//! checked against docs.kraken.com's REST reference (Get System Status, Get Asset Info, Get
//! Tradable Asset Pairs, Get Order Book, Get Recent Trades, Get Ticker Information): the
//! `{"error":[],"result":..}` envelope, the documented fields, prices and volumes as strings at
//! the pair's precision, and Kraken's in-body errors. Issue #18: clients (ccxt's
//! `load_markets`, python-kraken-sdk's order-book client) call these before the WebSocket.

mod util;

use qt_venue_sim::kraken::KrakenV2;
use serde_json::Value;
use std::sync::Arc;
use util::TestClient;

fn get(c: &mut TestClient, path: &str) -> Value {
    let (status, _, body) = c.get(path, &[]);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn result(c: &mut TestClient, path: &str) -> Value {
    let v = get(c, path);
    assert_eq!(v["error"], serde_json::json!([]), "{path}: {v}");
    v["result"].clone()
}

/// A decimal string with exactly `decimals` digits after the point.
fn assert_fixed(text: &Value, decimals: usize, what: &str) {
    let s = text.as_str().unwrap_or_else(|| panic!("{what}: not a string: {text}"));
    let (_, frac) = s.split_once('.').unwrap_or_else(|| panic!("{what}: no point in {s}"));
    assert_eq!(frac.len(), decimals, "{what}: {s}");
    assert!(s.parse::<f64>().is_ok(), "{what}: {s}");
}

fn client() -> (qt_venue_sim::server::RunningServer, TestClient) {
    let server = util::start_sim(vec![Arc::new(KrakenV2::new())]);
    let c = TestClient::of(&server, "kraken");
    (server, c)
}

#[test]
fn system_status_assets_and_asset_pairs_carry_the_documented_fields() {
    let (_server, mut c) = client();
    let status = result(&mut c, "/0/public/SystemStatus");
    assert_eq!(status["status"], "online");
    let ts = status["timestamp"].as_str().unwrap();
    assert!(ts.len() == "2024-07-22T16:34:44Z".len() && ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");

    let assets = result(&mut c, "/0/public/Assets");
    for name in ["BTC", "USDT", "ETH"] {
        let a = &assets[name];
        assert_eq!(a["aclass"], "currency", "{name}: {a}");
        assert_eq!(a["altname"], name);
        assert!(a["decimals"].as_u64().is_some() && a["display_decimals"].as_u64().is_some(), "{a}");
        assert_eq!(a["status"], "enabled");
    }
    let one = result(&mut c, "/0/public/Assets?asset=BTC");
    assert_eq!(one.as_object().unwrap().len(), 1, "{one}");

    let pairs = result(&mut c, "/0/public/AssetPairs");
    let p = &pairs["BTCUSDT"];
    for field in [
        "altname",
        "wsname",
        "aclass_base",
        "base",
        "aclass_quote",
        "quote",
        "cost_decimals",
        "pair_decimals",
        "lot_decimals",
        "lot_multiplier",
        "leverage_buy",
        "leverage_sell",
        "fees",
        "fees_maker",
        "ordermin",
        "costmin",
        "tick_size",
        "status",
    ] {
        assert!(!p[field].is_null(), "AssetPairs lacks {field}: {p}");
    }
    assert_eq!((p["altname"].as_str(), p["wsname"].as_str()), (Some("BTCUSDT"), Some("BTC/USDT")));
    assert_eq!((p["base"].as_str(), p["quote"].as_str()), (Some("BTC"), Some("USDT")));
    // Tick 0.01 and lot 0.00001: 2 price and 5 volume decimals.
    assert_eq!((p["pair_decimals"].as_u64(), p["lot_decimals"].as_u64()), (Some(2), Some(5)), "{p}");
    assert_eq!((p["tick_size"].as_str(), p["ordermin"].as_str()), (Some("0.01"), Some("0.00001")), "{p}");
    assert_eq!(p["status"], "online");
    assert!(p["fees"][0][1].as_f64().is_some(), "fee tiers are [volume, percent]: {p}");

    // Asked by the v2 symbol, the answer is keyed by that name (python-kraken-sdk reads it so).
    let by_ws = result(&mut c, "/0/public/AssetPairs?pair=BTC/USDT");
    assert_eq!(by_ws["BTC/USDT"]["wsname"], "BTC/USDT", "{by_ws}");
    let both = result(&mut c, "/0/public/AssetPairs?pair=BTCUSDT,ETHUSDT");
    assert_eq!(both.as_object().unwrap().len(), 2, "{both}");
    let unknown = get(&mut c, "/0/public/AssetPairs?pair=NOPE");
    assert_eq!(unknown["error"][0], "EQuery:Unknown asset pair", "{unknown}");
}

#[test]
fn depth_ticker_and_trades_print_the_pairs_precision() {
    let (_server, mut c) = client();
    let depth = result(&mut c, "/0/public/Depth?pair=BTCUSDT&count=5");
    let book = &depth["BTCUSDT"];
    let side = |k: &str| book[k].as_array().unwrap_or_else(|| panic!("{k}: {book}")).clone();
    let (bids, asks) = (side("bids"), side("asks"));
    assert!(!bids.is_empty() && bids.len() <= 5 && !asks.is_empty() && asks.len() <= 5, "{book}");
    let price = |l: &Value| l[0].as_str().unwrap().parse::<f64>().unwrap();
    for l in bids.iter().chain(&asks) {
        assert_fixed(&l[0], 2, "Depth price");
        assert_fixed(&l[1], 5, "Depth volume");
        assert!(l[2].as_i64().is_some_and(|t| t > 1_600_000_000), "Depth timestamp in seconds: {l}");
    }
    assert!(bids.windows(2).all(|w| price(&w[0]) > price(&w[1])), "bids best first: {book}");
    assert!(asks.windows(2).all(|w| price(&w[0]) < price(&w[1])), "asks best first: {book}");
    assert!(price(&bids[0]) < price(&asks[0]), "{book}");
    // By the v2 symbol too, keyed by the pair's REST name.
    assert!(result(&mut c, "/0/public/Depth?pair=BTC/USDT")["BTCUSDT"]["bids"].is_array());

    let t = &result(&mut c, "/0/public/Ticker?pair=BTCUSDT")["BTCUSDT"];
    for field in ["a", "b", "c", "v", "p", "t", "l", "h", "o"] {
        assert!(!t[field].is_null(), "Ticker lacks {field}: {t}");
    }
    assert_eq!((t["a"].as_array().unwrap().len(), t["c"].as_array().unwrap().len()), (3, 2), "{t}");
    assert_fixed(&t["a"][0], 2, "ask price");
    assert_fixed(&t["a"][2], 5, "ask lot volume");
    assert_fixed(&t["c"][0], 2, "last price");
    assert!(price(&t["b"]) < price(&t["a"]), "{t}");

    let trades = result(&mut c, "/0/public/Trades?pair=BTCUSDT");
    assert!(trades["BTCUSDT"].is_array(), "{trades}");
    assert!(
        trades["last"].as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())),
        "{trades}"
    );

    let missing = get(&mut c, "/0/public/Depth");
    assert_eq!(missing["error"][0], "EGeneral:Invalid arguments", "{missing}");
    let (status, _, _) = c.get("/0/public/NoSuchMethod", &[]);
    assert_eq!(status, 404);
}
