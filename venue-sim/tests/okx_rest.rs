//! The simulator's OKX v5 REST beyond books (issue #18) over real TLS on loopback, checked
//! against OKX's v5 reference: "Get instruments" carries every documented field with its
//! documented type (strings, `instIdCode` a number, `tradeQuoteCcyList` an array), "Get
//! ticker(s)" the documented ticker fields, and "Get trades" the trades the market made, newest
//! first, with the documented fields and parameter errors. Every wait has a deadline.

mod util;

use qt_venue_sim::okx::OkxV5;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::TestClient;

fn data(c: &mut TestClient, path: &str) -> Vec<Value> {
    let (status, _, body) = c.get(path, &[]);
    assert_eq!(status, 200, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!((v["code"].as_str(), v["msg"].as_str()), (Some("0"), Some("")), "{body}");
    v["data"].as_array().unwrap_or_else(|| panic!("data array: {body}")).clone()
}

fn error_code(c: &mut TestClient, path: &str) -> (u16, String) {
    let (status, _, body) = c.get(path, &[]);
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, v["code"].as_str().unwrap_or_default().to_owned())
}

/// A decimal string (digits with at most one point).
fn is_decimal(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty() && s.parse::<f64>().is_ok() && !s.contains(['e', 'E']))
}

#[test]
fn okx_instruments_carry_every_documented_field() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new())]);
    let mut c = TestClient::of(&server, "okx");
    let list = data(&mut c, "/api/v5/public/instruments?instType=SPOT");
    let btc = list.iter().find(|i| i["instId"] == "BTC-USDT").expect("BTC-USDT");
    for key in [
        "instType",
        "instId",
        "uly",
        "instFamily",
        "category",
        "baseCcy",
        "quoteCcy",
        "settleCcy",
        "ctVal",
        "ctMult",
        "ctValCcy",
        "optType",
        "stk",
        "listTime",
        "expTime",
        "lever",
        "tickSz",
        "lotSz",
        "minSz",
        "ctType",
        "alias",
        "state",
        "ruleType",
        "maxLmtSz",
        "maxMktSz",
        "maxLmtAmt",
        "maxMktAmt",
        "maxTwapSz",
        "maxIcebergSz",
        "maxTriggerSz",
        "maxStopSz",
    ] {
        assert!(btc[key].is_string(), "{key} must be a string: {btc}");
    }
    // Spot: the derivative fields are empty, the family too ("Only applicable to
    // FUTURES/SWAP/OPTION"); listTime is Unix ms.
    for key in ["uly", "instFamily", "settleCcy", "ctVal", "ctMult", "ctValCcy", "ctType", "expTime"] {
        assert_eq!(btc[key], "", "{key}: {btc}");
    }
    assert!(btc["listTime"].as_str().unwrap().parse::<u64>().is_ok_and(|t| t > 1_000_000_000_000), "{btc}");
    for key in ["maxLmtSz", "maxMktSz", "maxLmtAmt", "maxMktAmt"] {
        assert!(is_decimal(&btc[key]), "{key}: {btc}");
    }
    assert_eq!((btc["state"].as_str(), btc["ruleType"].as_str()), (Some("live"), Some("normal")));
    assert!(btc["instIdCode"].is_u64(), "{btc}");
    assert_eq!(btc["tradeQuoteCcyList"], serde_json::json!(["USDT"]), "{btc}");
}

#[test]
fn okx_ticker_and_tickers_have_the_documented_fields() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new())]);
    let mut c = TestClient::of(&server, "okx");
    let one = data(&mut c, "/api/v5/market/ticker?instId=BTC-USDT");
    assert_eq!(one.len(), 1);
    let t = &one[0];
    assert_eq!((t["instType"].as_str(), t["instId"].as_str()), (Some("SPOT"), Some("BTC-USDT")));
    for key in [
        "last",
        "lastSz",
        "askPx",
        "askSz",
        "bidPx",
        "bidSz",
        "open24h",
        "high24h",
        "low24h",
        "volCcy24h",
        "vol24h",
        "sodUtc0",
        "sodUtc8",
    ] {
        assert!(is_decimal(&t[key]), "{key} must be a decimal string: {t}");
    }
    let (bid, ask): (f64, f64) =
        (t["bidPx"].as_str().unwrap().parse().unwrap(), t["askPx"].as_str().unwrap().parse().unwrap());
    assert!(bid < ask, "{t}");
    assert!(t["ts"].as_str().unwrap().parse::<i64>().is_ok(), "ts is a ms string: {t}");
    let all = data(&mut c, "/api/v5/market/tickers?instType=SPOT");
    let ids: Vec<_> = all.iter().map(|t| t["instId"].as_str().unwrap_or_default()).collect();
    assert_eq!(ids, ["BTC-USDT", "ETH-USDT"]);
    assert_eq!(error_code(&mut c, "/api/v5/market/tickers"), (400, "50014".to_owned()));
    assert_eq!(error_code(&mut c, "/api/v5/market/ticker"), (400, "50014".to_owned()));
    assert_eq!(error_code(&mut c, "/api/v5/market/ticker?instId=NOPE-USDT"), (400, "51001".to_owned()));
}

#[test]
fn okx_trades_lists_the_market_trades_newest_first() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new())]);
    let mut c = TestClient::of(&server, "okx");
    // The log starts with the first request; the test market trades continuously.
    assert!(data(&mut c, "/api/v5/market/trades?instId=BTC-USDT").len() <= 100);
    let deadline = Instant::now() + Duration::from_secs(10);
    let trades = loop {
        let t = data(&mut c, "/api/v5/market/trades?instId=BTC-USDT&limit=3");
        if t.len() == 3 || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(trades.len(), 3, "three trades within 10 s");
    for t in &trades {
        assert_eq!(t["instId"], "BTC-USDT", "{t}");
        assert!(is_decimal(&t["px"]) && is_decimal(&t["sz"]), "{t}");
        assert!(t["side"] == "buy" || t["side"] == "sell", "{t}");
        assert!(t["tradeId"].as_str().unwrap().parse::<u64>().is_ok(), "{t}");
        assert!(t["ts"].as_str().unwrap().parse::<i64>().is_ok(), "{t}");
    }
    let ts: Vec<i64> = trades.iter().map(|t| t["ts"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first: {ts:?}");
    assert_eq!(error_code(&mut c, "/api/v5/market/trades?instId=BTC-USDT&limit=501"), (400, "51000".to_owned()));
    assert_eq!(error_code(&mut c, "/api/v5/market/trades"), (400, "50014".to_owned()));
}

#[test]
fn okx_treats_empty_parameters_as_absent() {
    // A client may send every optional parameter, empty when unset (a guess: README).
    let server = util::start_sim(vec![Arc::new(OkxV5::new())]);
    let mut c = TestClient::of(&server, "okx");
    assert_eq!(data(&mut c, "/api/v5/public/instruments?instType=SPOT&uly=&instId=&instFamily=").len(), 2);
    let book = data(&mut c, "/api/v5/market/books?instId=BTC-USDT&sz=");
    assert_eq!(book[0]["bids"].as_array().map(Vec::len), Some(1), "default sz 1");
    assert_eq!(data(&mut c, "/api/v5/market/tickers?instType=SPOT&uly=&instFamily=").len(), 2);
    assert!(data(&mut c, "/api/v5/market/trades?instId=BTC-USDT&limit=").len() <= 100);
    assert_eq!(error_code(&mut c, "/api/v5/market/books?instId=&sz=5"), (400, "51001".to_owned()));
}
