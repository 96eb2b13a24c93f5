//! Firi order entry over real TLS on loopback (issue #20): the HMAC check
//! (`miraiex-user-clientid` / `miraiex-user-signature`, `timestamp` and `validity` in the query)
//! and the static `miraiex-access-key`, with Firi's refusal texts; `POST /v2/orders`, cancel one,
//! cancel per market and all, active orders, one order, order history, the account's fills and
//! balances, on the one matching engine; clock skew and a malformed-body fault. Every wait has
//! a deadline.

mod util;

use qt_core::{Notional, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::{MarketBuilder, flow};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::firi::{FiriPublic, signed_payload};
use qt_venue_sim::server::RunningServer;
use qt_venue_sim::signing::hmac_sha256_hex;
use serde_json::{Value, json};
use std::sync::Arc;
use util::TestClient;

const KEY: &str = "firi-client";
const SECRET: &str = "firi-example-secret";

/// BTCNOK (tick 1, lot 0.0001, min 0.0001 / 50 NOK) with almost no flow, fees 1 / 5 bps, one
/// account with 10,000,000 NOK and 2 BTC.
fn start() -> RunningServer {
    let spot = TestInstrument::spot(Venue::Firi, "BTCNOK").assets("BTC", "NOK").tick("1").lot("0.0001");
    let spot = spot.minimums("0.0001", "50").build(0);
    let f = FlowParams { seed_levels: 40, ..flow(&spot, "700000", 0.01) };
    let market = MarketBuilder::new()
        .symbol_with_flow(spot, f)
        .account(KEY, SECRET, &[("NOK", "10000000"), ("BTC", "2")])
        .seed(5)
        .build();
    util::start_sim_with(market, vec![Arc::new(FiriPublic::default())])
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The venue's clock, epoch seconds (`GET /time`).
fn server_time(c: &mut TestClient) -> i64 {
    let (_, _, body) = c.get("/time", &[]);
    json(&body)["time"].as_i64().unwrap_or_else(|| panic!("{body}"))
}

/// A request signed at epoch second `ts` with `validity` ms: `(status, body)`.
fn signed_at(c: &mut TestClient, method: &str, path: &str, body: &str, ts: i64, secret: &str) -> (u16, Value) {
    let (ts, validity) = (ts.to_string(), "5000");
    let payload = signed_payload(&ts, validity, body.as_bytes()).expect("an object body");
    let sig = hmac_sha256_hex(secret, &payload);
    let sep = if path.contains('?') { '&' } else { '?' };
    let url = format!("{path}{sep}timestamp={ts}&validity={validity}");
    let h = [
        ("miraiex-user-clientid", KEY),
        ("miraiex-user-signature", sig.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, text) = c.request(method, &url, &h, body.as_bytes());
    (status, json(&text))
}

/// A signed request at the venue's time that must succeed.
fn call(c: &mut TestClient, method: &str, path: &str, body: &str) -> Value {
    let ts = server_time(c);
    let (status, v) = signed_at(c, method, path, body, ts, SECRET);
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

fn place(c: &mut TestClient, side: &str, price: i64, amount: &str) -> u64 {
    let body = format!(r#"{{"market":"BTCNOK","type":"{side}","price":"{price}","amount":"{amount}"}}"#);
    let v = call(c, "POST", "/v2/orders", &body);
    v["id"].as_u64().unwrap_or_else(|| panic!("an id: {v}"))
}

fn dec(v: &Value) -> Notional {
    Notional::parse(v.as_str().unwrap_or_else(|| panic!("a decimal string: {v}"))).unwrap()
}

/// Best ask `(price, amount)` from the public depth.
fn best_ask(c: &mut TestClient) -> (i64, Notional) {
    let (_, _, body) = c.get("/v2/markets/BTCNOK/depth?asks=1&bids=1", &[]);
    let v = json(&body);
    let px = v["asks"][0][0].as_str().unwrap().parse::<f64>().unwrap() as i64;
    (px, dec(&v["asks"][0][1]))
}

fn ids(list: &Value) -> Vec<u64> {
    list.as_array().unwrap_or_else(|| panic!("a list: {list}")).iter().map(|o| o["id"].as_u64().unwrap()).collect()
}

#[test]
fn firi_orders_rest_partially_fill_fill_and_cancel_with_exact_fees() {
    let server = start();
    let mut c = TestClient::of(&server, "firi");
    let balances = call(&mut c, "GET", "/v2/balances", "");
    let nok = balances.as_array().unwrap().iter().find(|b| b["currency"] == "NOK").cloned().unwrap();
    assert_eq!(nok, json!({"currency": "NOK", "balance": "10000000", "hold": "0", "available": "10000000"}));

    // A resting bid: active, matched 0, its whole amount remaining.
    let resting = place(&mut c, "bid", 600_000, "0.01");
    let active = call(&mut c, "GET", "/v2/orders", "");
    assert_eq!(ids(&active), [resting], "{active}");
    let doc = &active[0];
    assert_eq!(
        (doc["market"].as_str(), doc["type"].as_str(), doc["price"].as_str(), doc["amount"].as_str()),
        (Some("BTCNOK"), Some("bid"), Some("600000"), Some("0.0100")),
        "{doc}"
    );
    assert_eq!((doc["matched"].as_str(), doc["remaining"].as_str()), (Some("0.0000"), Some("0.0100")));
    assert_eq!(call(&mut c, "GET", &format!("/v2/order/{resting}"), "")["id"], resting);
    let hold = call(&mut c, "GET", "/v2/balances", "");
    let nok = hold.as_array().unwrap().iter().find(|b| b["currency"] == "NOK").cloned().unwrap();
    assert!(dec(&nok["hold"]) > Notional::parse("6000").unwrap(), "the bid holds its cost: {nok}");

    // A bid at the best ask for more than it offers: the level fills, the rest rests (partial).
    let (ask, level) = best_ask(&mut c);
    let extra = Notional::parse("0.0100").unwrap();
    let amount = level.checked_add(extra).unwrap().to_text(qt_core::DecimalStyle::Trimmed).as_str().to_owned();
    let taker = place(&mut c, "bid", ask, &amount);
    let doc = call(&mut c, "GET", &format!("/v2/order/{taker}"), "");
    assert_eq!(dec(&doc["matched"]), level, "{doc}");
    assert_eq!(dec(&doc["remaining"]), extra, "{doc}");
    assert!(ids(&call(&mut c, "GET", "/v2/orders/BTCNOK", "")).contains(&taker), "partly filled stays active");

    // Its fills: exact amounts and fees (taker, 5 bps of price × amount), in the quote currency.
    let trades = call(&mut c, "GET", "/v2/history/trades", "");
    let mine: Vec<&Value> = trades.as_array().unwrap().iter().filter(|t| t["order_id"] == taker).collect();
    assert!(!mine.is_empty(), "{trades}");
    let mut sum = Notional::ZERO;
    for t in &mine {
        let (px, qty, fee) = (dec(&t["price"]), dec(&t["amount"]), dec(&t["fee"]));
        let f = |n: Notional| n.to_text(qt_core::DecimalStyle::Trimmed).as_str().parse::<f64>().unwrap();
        assert!((f(fee) - f(px) * f(qty) * 0.0005).abs() <= 0.01, "{t}");
        assert_eq!(
            (t["type"].as_str(), t["fee_currency"].as_str(), t["maker"].as_bool()),
            (Some("bid"), Some("NOK"), Some(false))
        );
        assert!(t["id"].as_str().is_some_and(|s| !s.is_empty()), "{t}");
        sum = sum.checked_add(qty).unwrap();
    }
    assert_eq!(sum, level, "the fills add up to what matched");

    // Cancel one (detailed): the order after it; gone from the active list, in the history.
    let cancelled = call(&mut c, "DELETE", &format!("/v2/orders/{taker}/detailed"), "");
    assert_eq!((cancelled["id"].as_u64(), dec(&cancelled["remaining"])), (Some(taker), extra), "{cancelled}");
    assert!(!ids(&call(&mut c, "GET", "/v2/orders", "")).contains(&taker));
    let history = call(&mut c, "GET", "/v2/orders/history?count=10", "");
    assert_eq!(ids(&history), [taker], "{history}");
    assert_eq!(ids(&call(&mut c, "GET", "/v2/history/orders/BTCNOK", "")), [taker]);

    // A bid through the book fills completely: matched = amount, remaining 0, not active.
    let (ask, _) = best_ask(&mut c);
    let full = place(&mut c, "bid", ask + 5_000, "0.0010");
    let doc = call(&mut c, "GET", &format!("/v2/order/{full}"), "");
    assert_eq!((doc["matched"].as_str(), doc["remaining"].as_str()), (Some("0.0010"), Some("0.0000")), "{doc}");
    assert!(!ids(&call(&mut c, "GET", "/v2/orders", "")).contains(&full));

    // Cancel per market, then all: each answers the orders it cancelled.
    let a = place(&mut c, "bid", 600_001, "0.001");
    let gone = call(&mut c, "DELETE", "/v2/orders/BTCNOK", "");
    let mut got = ids(&gone);
    got.sort_unstable();
    assert_eq!(got, [resting, a], "{gone}");
    let b = place(&mut c, "ask", 900_000, "0.001");
    assert_eq!(ids(&call(&mut c, "DELETE", "/v2/orders", "")), [b]);
    assert_eq!(call(&mut c, "GET", "/v2/orders", ""), json!([]));
    // Cancel-one of the cancelled order: not found.
    let ts = server_time(&mut c);
    let (status, v) = signed_at(&mut c, "DELETE", &format!("/v2/orders/{b}/BTCNOK/detailed"), "", ts, SECRET);
    assert_eq!((status, v["name"].as_str()), (404, Some("NotFound")), "{v}");
}

#[test]
fn firi_refuses_with_its_texts() {
    let server = start();
    let mut c = TestClient::of(&server, "firi");
    let ts = server_time(&mut c);
    let refusal = |v: &Value| (v["name"].as_str().map(str::to_owned), v["message"].as_str().map(str::to_owned));

    let (status, v) = signed_at(&mut c, "GET", "/v2/balances", "", ts, "another-secret");
    assert_eq!((status, refusal(&v).1.as_deref()), (401, Some("Invalid Signature")), "{v}");
    let (status, v) = signed_at(&mut c, "GET", "/v2/balances", "", ts - 60, SECRET);
    assert_eq!((status, refusal(&v).1.as_deref()), (401, Some("Expired Signature")), "{v}");
    let (status, v) = signed_at(&mut c, "GET", "/v2/balances", "", ts + 60, SECRET);
    assert_eq!((status, refusal(&v).1.as_deref()), (401, Some("Expired Signature")), "ahead: {v}");
    let (status, _, text) = c.get("/v2/balances", &[("miraiex-user-clientid", "nobody")]);
    assert_eq!((status, refusal(&json(&text)).0.as_deref()), (401, Some("ApiKeyNotFound")), "{text}");
    // No timestamp/validity: an invalid signature.
    let (status, _, text) = c.get("/v2/balances", &[("miraiex-user-clientid", KEY), ("miraiex-user-signature", "00")]);
    assert_eq!((status, refusal(&json(&text)).1.as_deref()), (401, Some("Invalid Signature")), "{text}");
    // The static key scheme.
    let (status, _, text) = c.get("/v2/balances", &[("miraiex-access-key", KEY)]);
    assert_eq!(status, 200, "{text}");

    // A body changed after signing.
    let signed_body = r#"{"market":"BTCNOK","type":"bid","price":"600000","amount":"0.001"}"#;
    let payload = signed_payload(&ts.to_string(), "5000", signed_body.as_bytes()).unwrap();
    let sig = hmac_sha256_hex(SECRET, &payload);
    let h = [("miraiex-user-clientid", KEY), ("miraiex-user-signature", sig.as_str())];
    let sent = signed_body.replace("0.001", "0.002");
    let (status, _, text) = c.post(&format!("/v2/orders?timestamp={ts}&validity=5000"), &h, &sent);
    assert_eq!((status, refusal(&json(&text)).1.as_deref()), (401, Some("Invalid Signature")), "{text}");

    let order = |c: &mut TestClient, body: &str| {
        let ts = server_time(c);
        signed_at(c, "POST", "/v2/orders", body, ts, SECRET)
    };
    let (status, v) = order(&mut c, r#"{"market":"BTCNOK","type":"bid","price":"600000","amount":"100"}"#);
    assert_eq!((status, refusal(&v)), (400, (Some("InsufficientFunds".into()), Some("Insufficient funds".into()))));
    let (status, v) = order(&mut c, r#"{"market":"BTCNOK","type":"bid","price":"600000.5","amount":"0.001"}"#);
    assert_eq!((status, v["name"].as_str()), (400, Some("BadRequest")), "off the tick grid: {v}");
    let (status, v) = order(&mut c, r#"{"market":"NOPE","type":"bid","price":"1","amount":"1"}"#);
    assert_eq!((status, v["name"].as_str()), (404, Some("NotFound")), "{v}");
    let (status, v) = order(&mut c, r#"{"market":"BTCNOK","type":"buy","price":"600000","amount":"0.001"}"#);
    assert_eq!((status, v["name"].as_str()), (400, Some("BadRequest")), "{v}");
    let (status, v) = order(&mut c, r#"{"market":"BTCNOK","type":"bid","price":600000,"amount":"0.001"}"#);
    assert_eq!((status, v["name"].as_str()), (400, Some("BadRequest")), "numbers must be strings: {v}");
    let ts = server_time(&mut c);
    let (status, v) = signed_at(&mut c, "GET", "/v2/order/999999", "", ts, SECRET);
    assert_eq!((status, v["name"].as_str()), (404, Some("NotFound")), "{v}");
    assert_eq!(call(&mut c, "GET", "/v2/orders", ""), json!([]), "nothing was placed");
}

/// The venue's clock skewed 30 s: a request timestamped by the local clock is expired, one
/// timestamped by `GET /time` passes. A malformed-account-frame fault cuts one query body.
#[test]
fn firi_skew_and_malformed_bodies() {
    let server = start();
    let mut c = TestClient::of(&server, "firi");
    server.market.set_clock_skew_ms(30_000);
    let local = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (status, v) = signed_at(&mut c, "GET", "/v2/orders", "", local, SECRET);
    assert_eq!((status, v["message"].as_str()), (401, Some("Expired Signature")), "{v}");
    assert!((server_time(&mut c) - local - 30).abs() <= 2);
    assert_eq!(call(&mut c, "GET", "/v2/orders", ""), json!([]));

    server.faults.malformed_account_frames(1);
    let ts = server_time(&mut c);
    let payload = signed_payload(&ts.to_string(), "5000", b"").unwrap();
    let sig = hmac_sha256_hex(SECRET, &payload);
    let h = [("miraiex-user-clientid", KEY), ("miraiex-user-signature", sig.as_str())];
    let (status, _, text) = c.get(&format!("/v2/history/trades?timestamp={ts}&validity=5000"), &h);
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&text).is_err(), "cut: {text}");
    assert_eq!(call(&mut c, "GET", "/v2/history/trades", ""), json!([]), "one body only");
}
