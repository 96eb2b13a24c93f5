//! Binance USD-M futures over real TLS loopback sockets: the routed stream paths the USD-M docs
//! describe (`/public`, `/market`, `/private`, each as `/ws…` and `/stream…`; bare `/ws` and
//! `/stream`), connect-then-`SUBSCRIBE`, and the public market REST endpoints with their
//! documented fields (Binance "Market Data Streams" and the USD-M REST "Market Data" pages).

mod util;

use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::RunningServer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{TestClient, WsClient, start_sim};

const NAME: &str = "binance_usdm";
/// Long enough for a 100 ms depth window or a trade at 2000 events/s, many times over.
const WAIT: Duration = Duration::from_secs(5);

fn usdm() -> Vec<Arc<dyn Protocol>> {
    vec![Arc::new(BinanceUsdm::default())]
}

/// Sends `SUBSCRIBE` for `streams` with id 7 and returns the reply (the first text frame).
fn subscribe(ws: &mut WsClient, streams: &[&str]) -> Value {
    ws.send_text(&json!({ "method": "SUBSCRIBE", "params": streams, "id": 7 }).to_string()).unwrap();
    ws.recv_json(WAIT).expect("a reply to SUBSCRIBE")
}

/// The first message within `within` whose (raw or combined) payload is event `e`.
fn next_event(ws: &mut WsClient, e: &str, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    while let Some(v) = ws.recv_json(deadline.saturating_duration_since(Instant::now())) {
        let payload = v.get("data").cloned().unwrap_or(v);
        if payload["e"] == e {
            return Some(payload);
        }
    }
    None
}

fn connect(server: &RunningServer, path: &str) -> WsClient {
    TestClient::of(server, NAME).ws_connect(path)
}

/// ccxt's pattern on the routed path (`/public/ws/<n>`, then `SUBSCRIBE`) and the official SDK's
/// (`/public/stream`): the connection stays open and the book streams flow.
#[test]
fn public_route_serves_depth_and_book_ticker_after_subscribe() {
    let server = start_sim(usdm());
    for path in ["/public/ws/0", "/public/ws", "/public/stream"] {
        let mut ws = connect(&server, path);
        let reply = subscribe(&mut ws, &["btcusdt@depth@100ms", "btcusdt@bookTicker"]);
        assert_eq!(reply, json!({ "result": null, "id": 7 }), "{path}");
        let depth = next_event(&mut ws, "depthUpdate", WAIT).unwrap_or_else(|| panic!("{path}: no depthUpdate"));
        assert!(depth["pu"].is_u64() && depth["s"] == "BTCUSDT", "{path}: {depth}");
        assert!(next_event(&mut ws, "bookTicker", WAIT).is_some(), "{path}: no bookTicker");
    }
}

/// `/market` carries aggTrade; a book stream subscribed there is accepted and never delivered
/// ("fails silently"), and `/public` does the same with aggTrade.
#[test]
fn each_route_delivers_only_its_own_streams() {
    let server = start_sim(usdm());
    let mut market = connect(&server, "/market/stream");
    assert_eq!(subscribe(&mut market, &["btcusdt@aggTrade", "btcusdt@depth"])["result"], Value::Null);
    let mut saw_trade = false;
    let deadline = Instant::now() + WAIT;
    while let Some(v) = market.recv_json(deadline.saturating_duration_since(Instant::now())) {
        assert_eq!(v["stream"], "btcusdt@aggTrade", "only aggTrade on /market: {v}");
        saw_trade |= v["data"]["e"] == "aggTrade";
    }
    assert!(saw_trade, "aggTrade flows on /market");

    let mut public = connect(&server, "/public/ws");
    assert_eq!(subscribe(&mut public, &["btcusdt@aggTrade"])["result"], Value::Null);
    assert_eq!(next_event(&mut public, "aggTrade", Duration::from_secs(2)), None, "aggTrade is not on /public");
}

/// Bare `/ws` and `/stream` and `/ws/<n>` stay open for `SUBSCRIBE`; `/private/stream` (which
/// the official SDK opens beside the other two) stays open too.
#[test]
fn bare_paths_and_private_accept_a_connection_without_streams() {
    let server = start_sim(usdm());
    for path in ["/ws", "/stream", "/ws/1"] {
        let mut ws = connect(&server, path);
        assert_eq!(subscribe(&mut ws, &["ethusdt@depth"]), json!({ "result": null, "id": 7 }), "{path}");
        assert!(next_event(&mut ws, "depthUpdate", WAIT).is_some(), "{path}: no depthUpdate");
    }
    let mut private = connect(&server, "/private/stream");
    assert!(!private.wait_closed(Duration::from_millis(500)), "/private/stream stays open");
    for path in ["/wss", "/public", "/pm/ws"] {
        assert!(TestClient::of(&server, NAME).try_ws_connect(path).is_err(), "{path} is not a stream path");
    }
}

/// The keys of a JSON object, sorted.
fn keys(text: &str) -> Vec<String> {
    let v: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
    let mut keys: Vec<String> = v.keys().cloned().collect();
    keys.sort();
    keys
}

/// `fields`, sorted.
fn sorted(fields: &[&str]) -> Vec<String> {
    let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    f.sort();
    f
}

/// The text of the first object of a JSON array body.
fn first_object(body: &str) -> String {
    let start = body.find('{').expect("an object");
    let end = start + body[start..].find('}').expect("its end");
    body[start..=end].to_string()
}

/// `trades`, `aggTrades`, `ticker/24hr`, `ticker/bookTicker` and `premiumIndex` answer 200 with
/// the documented fields (key order is not compared: JSON clients do not depend on it).
#[test]
fn market_rest_endpoints_have_the_documented_fields() {
    let server = start_sim(usdm());
    let mut c = TestClient::of(&server, NAME);
    let get = |c: &mut TestClient, path: &str| {
        let (status, _, body) = c.get(path, &[]);
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let ticker = get(&mut c, "/fapi/v1/ticker/bookTicker?symbol=BTCUSDT");
    assert_eq!(keys(&ticker), sorted(&["symbol", "bidPrice", "bidQty", "askPrice", "askQty", "time", "lastUpdateId"]));
    let premium = get(&mut c, "/fapi/v1/premiumIndex?symbol=BTCUSDT");
    let fields = [
        "symbol",
        "markPrice",
        "indexPrice",
        "estimatedSettlePrice",
        "lastFundingRate",
        "interestRate",
        "nextFundingTime",
        "time",
    ];
    assert_eq!(keys(&premium), sorted(&fields));
    let mark: Value = serde_json::from_str(&premium).unwrap();
    assert!(mark["markPrice"].as_str().unwrap().parse::<f64>().unwrap() > 60_000.0, "{premium}");
    // The tape starts at the first call; trades arrive within a moment at 2000 events/s.
    get(&mut c, "/fapi/v1/trades?symbol=BTCUSDT");
    std::thread::sleep(Duration::from_millis(500));
    let trades = get(&mut c, "/fapi/v1/trades?symbol=BTCUSDT&limit=5");
    let rows: Vec<Value> = serde_json::from_str(&trades).unwrap();
    assert!(!rows.is_empty() && rows.len() <= 5, "{trades}");
    assert_eq!(keys(&first_object(&trades)), sorted(&["id", "price", "qty", "quoteQty", "time", "isBuyerMaker"]));
    let agg = get(&mut c, "/fapi/v1/aggTrades?symbol=BTCUSDT");
    assert_eq!(keys(&first_object(&agg)), sorted(&["a", "p", "q", "f", "l", "T", "m"]));
    let day = get(&mut c, "/fapi/v1/ticker/24hr?symbol=BTCUSDT");
    let fields = [
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "lastPrice",
        "lastQty",
        "openPrice",
        "highPrice",
        "lowPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    ];
    assert_eq!(keys(&day), sorted(&fields));
    let all: Vec<Value> = serde_json::from_str(&get(&mut c, "/fapi/v1/ticker/24hr")).unwrap();
    assert_eq!(all.len(), 2, "every symbol without `symbol`");
    assert_eq!(c.get("/fapi/v1/trades?symbol=NOPE", &[]).0, 400);
}
