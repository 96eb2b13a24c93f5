//! The simulator's KuCoin spot market data (`KucoinSpot`) over real TLS on loopback, checked
//! against the official SDK's spec (`kucoin-universal-sdk`, NOTES.md §4): the bullet token is
//! accepted percent-encoded (as the SDK and ccxt send it) and as issued, symbols are `BASE-QUOTE`,
//! and the REST endpoints clients call first answer with the documented fields. Every wait has a
//! deadline.

mod util;

use qt_venue_sim::kucoin::KucoinSpot;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::TestClient;

const WAIT: Duration = Duration::from_secs(5);

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn get_ok(c: &mut TestClient, path: &str) -> Value {
    let (status, _, body) = c.get(path, &[]);
    assert_eq!(status, 200, "{path}: {body}");
    let v = json_of(&body);
    assert_eq!(v["code"], "200000", "{path}: {body}");
    v["data"].clone()
}

fn has_keys(v: &Value, keys: &[&str], what: &str) {
    for k in keys {
        assert!(v.get(k).is_some(), "{what} lacks {k:?}: {v}");
    }
}

fn token(c: &mut TestClient) -> String {
    let (status, _, body) = c.post("/api/v1/bullet-public", &[], "");
    assert_eq!(status, 200, "{body}");
    json_of(&body)["data"]["token"].as_str().unwrap().to_owned()
}

/// Both the SDK and ccxt send the token through Python's `urlencode` (`==` → `%3D%3D`); the
/// documented examples show it raw. Both connect; an unknown token gets `401 token is invalid`.
#[test]
fn the_bullet_token_is_accepted_percent_encoded_and_raw() {
    let server = util::start_sim(vec![Arc::new(KucoinSpot::default())]);
    let mut c = TestClient::of(&server, "kucoin");
    let raw = token(&mut c);
    assert!(raw.ends_with("=="), "the simulator's tokens carry base64 padding: {raw}");
    let encoded = raw.replace('=', "%3D");
    for (what, t) in [("encoded", encoded), ("raw", token(&mut c))] {
        let mut ws = c.ws_connect(&format!("/?token={t}&connectId=c1"));
        let first = ws.recv_json(WAIT).unwrap_or_else(|| panic!("{what}: no first message"));
        assert_eq!((first["type"].as_str(), first["id"].as_str()), (Some("welcome"), Some("c1")), "{what}: {first}");
    }
    let mut ws = c.ws_connect("/?token=nope%3D%3D&connectId=c2");
    let first = ws.recv_json(WAIT).expect("an error");
    assert_eq!((first["type"].as_str(), first["code"].as_i64()), (Some("error"), Some(401)), "{first}");
}

/// `/api/v1/symbols`, `/api/v2/symbols`, `/api/v2/symbols/{symbol}`: KuCoin's `BASE-QUOTE`
/// names with the SDK's `GetAllSymbols`/`GetSymbol` fields; `/api/v3/currencies` lists each asset.
#[test]
fn symbols_and_currencies_have_the_documented_fields() {
    let server = util::start_sim(vec![Arc::new(KucoinSpot::default())]);
    let mut c = TestClient::of(&server, "kucoin");
    let fields = [
        "symbol",
        "name",
        "baseCurrency",
        "quoteCurrency",
        "feeCurrency",
        "market",
        "baseMinSize",
        "quoteMinSize",
        "baseMaxSize",
        "quoteMaxSize",
        "baseIncrement",
        "quoteIncrement",
        "priceIncrement",
        "priceLimitRate",
        "minFunds",
        "isMarginEnabled",
        "enableTrading",
        "feeCategory",
        "makerFeeCoefficient",
        "takerFeeCoefficient",
        "st",
        "callauctionIsEnabled",
        "tradingStartTime",
    ];
    for path in ["/api/v1/symbols", "/api/v2/symbols"] {
        let list = get_ok(&mut c, path);
        let names: Vec<&str> = list.as_array().unwrap().iter().filter_map(|s| s["symbol"].as_str()).collect();
        assert_eq!(names, ["BTC-USDT", "ETH-USDT"], "{path}");
        has_keys(&list[0], &fields, path);
    }
    let btc = get_ok(&mut c, "/api/v2/symbols/BTC-USDT");
    has_keys(&btc, &fields, "/api/v2/symbols/BTC-USDT");
    assert_eq!(
        (btc["symbol"].as_str(), btc["priceIncrement"].as_str(), btc["baseIncrement"].as_str()),
        (Some("BTC-USDT"), Some("0.01"), Some("0.00001"))
    );
    let (status, _, body) = c.get("/api/v2/symbols/BTCUSDT", &[]);
    assert_eq!((status, json_of(&body)["code"].as_str()), (400, Some("400100")), "{body}");
    let currencies = get_ok(&mut c, "/api/v3/currencies");
    let names: Vec<&str> = currencies.as_array().unwrap().iter().filter_map(|c| c["currency"].as_str()).collect();
    assert_eq!(names, ["BTC", "USDT", "ETH"]);
    has_keys(
        &currencies[0],
        &["currency", "name", "fullName", "precision", "confirms", "contractAddress", "isMarginEnabled", "chains"],
        "currency",
    );
    assert_eq!(currencies[0]["precision"], 5, "BTC is traded in 0.00001");
}

/// `orderbook/level1`, `stats`, `allTickers` and `histories` with the SDK's `GetTicker`,
/// `Get24hrStats`, `GetAllTickers` and `GetTradeHistory` fields; histories fill as the flow trades.
#[test]
fn tickers_stats_and_histories_have_the_documented_fields() {
    let server = util::start_sim(vec![Arc::new(KucoinSpot::default())]);
    let mut c = TestClient::of(&server, "kucoin");
    let l1 = get_ok(&mut c, "/api/v1/market/orderbook/level1?symbol=BTC-USDT");
    has_keys(&l1, &["time", "sequence", "price", "size", "bestBid", "bestBidSize", "bestAsk", "bestAskSize"], "level1");
    let (bid, ask) = (l1["bestBid"].as_str().unwrap(), l1["bestAsk"].as_str().unwrap());
    assert!(bid.parse::<f64>().unwrap() < ask.parse::<f64>().unwrap(), "{l1}");
    let stats_fields = [
        "symbol",
        "buy",
        "sell",
        "changeRate",
        "changePrice",
        "high",
        "low",
        "vol",
        "volValue",
        "last",
        "averagePrice",
        "takerFeeRate",
        "makerFeeRate",
        "takerCoefficient",
        "makerCoefficient",
    ];
    let stats = get_ok(&mut c, "/api/v1/market/stats?symbol=ETH-USDT");
    has_keys(&stats, &stats_fields, "stats");
    assert_eq!((stats["symbol"].as_str(), stats["time"].is_i64()), (Some("ETH-USDT"), true), "{stats}");
    let all = get_ok(&mut c, "/api/v1/market/allTickers");
    assert!(all["time"].is_i64(), "{all}");
    let tickers = all["ticker"].as_array().unwrap();
    assert_eq!(tickers.len(), 2, "{all}");
    has_keys(&tickers[0], &stats_fields, "allTickers entry");
    has_keys(&tickers[0], &["symbolName", "bestBidSize", "bestAskSize"], "allTickers entry");
    // The background flow trades; histories lists them, oldest first, time in nanoseconds.
    let deadline = Instant::now() + WAIT;
    let trades = loop {
        let t = get_ok(&mut c, "/api/v1/market/histories?symbol=BTC-USDT");
        if t.as_array().is_some_and(|a| a.len() >= 2) || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let trades = trades.as_array().expect("a list");
    assert!(trades.len() >= 2 && trades.len() <= 100, "{trades:?}");
    for t in trades {
        has_keys(t, &["sequence", "price", "size", "side", "time"], "trade");
        assert!(matches!(t["side"].as_str(), Some("buy" | "sell")), "{t}");
        assert!(t["time"].as_i64().unwrap() > 1_600_000_000_000_000_000, "nanoseconds: {t}");
    }
    let seq = |t: &Value| t["sequence"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(trades.windows(2).all(|w| seq(&w[0]) < seq(&w[1])), "oldest first");
    let l1 = get_ok(&mut c, "/api/v1/market/orderbook/level1?symbol=BTC-USDT");
    assert!(l1["price"].is_string() && l1["size"].is_string(), "a last trade once one is seen: {l1}");
    let stats = get_ok(&mut c, "/api/v1/market/stats?symbol=BTC-USDT");
    assert!(stats["vol"].as_str().unwrap().parse::<f64>().unwrap() > 0.0, "{stats}");
    let (status, _, body) = c.get("/api/v1/market/stats?symbol=BTCUSDT", &[]);
    assert_eq!((status, json_of(&body)["code"].as_str()), (400, Some("400100")), "{body}");
}
