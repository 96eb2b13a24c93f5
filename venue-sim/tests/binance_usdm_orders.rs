//! Binance USD-M order entry, account and user data stream over real TLS loopback sockets:
//! signed `/fapi/v1/order` (LIMIT/MARKET, GTC/IOC/FOK/GTX, `reduceOnly`, `newClientOrderId`,
//! `newOrderRespType`), cancel, cancel-all, queries, `positionRisk`, `balance`, `account`,
//! `userTrades`, one-way mode, the listen key and its stream (`ORDER_TRADE_UPDATE`,
//! `ACCOUNT_UPDATE` with reasons `ORDER` and `FUNDING_FEE`), with the documented codes and texts
//! (NOTES-orders.md §1b; samples in `testdata/binance_usdm/orders/`).

mod util;

use qt_core::{InstrumentKind, Notional, Venue};
use qt_test_support::market::two_symbol_market;
use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use qt_venue_sim::signing::hmac_sha256_hex;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use util::{API_KEY, API_SECRET, TestClient, WsClient};

const NAME: &str = "binance_usdm";
const WAIT: Duration = Duration::from_secs(10);

/// BTCUSDT and ETHUSDT linear perpetuals (tick 0.01; lots 0.00001 and 0.0001), slow background
/// flow, one account with 1,000,000 USDT; fees 1 bp maker, 5 bp taker.
fn market() -> Arc<Market> {
    two_symbol_market(Venue::BinanceUsdm, InstrumentKind::LinearPerpetual, 50.0, 50.0)
}

fn start(usdm: BinanceUsdm) -> (RunningServer, TestClient) {
    let server = util::start_sim_with(market(), vec![Arc::new(usdm)]);
    let client = TestClient::of(&server, NAME);
    (server, client)
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// `params&timestamp=..&signature=..`: HMAC-SHA256 hex of the parameters as sent.
fn sign(params: &str) -> String {
    let sep = if params.is_empty() { "" } else { "&" };
    let payload = format!("{params}{sep}timestamp={}", now_ms());
    format!("{payload}&signature={}", hmac_sha256_hex(API_SECRET, payload.as_bytes()))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A signed request; `(status, body)`.
fn signed(c: &mut TestClient, method: &str, path: &str, params: &str) -> (u16, Value) {
    let q = sign(params);
    let headers = [("X-MBX-APIKEY", API_KEY)];
    let (status, _, body) = match method {
        "GET" => c.get(&format!("{path}?{q}"), &headers),
        "DELETE" => c.delete(&format!("{path}?{q}"), &headers, ""),
        _ => c.post(path, &[("X-MBX-APIKEY", API_KEY), ("Content-Type", "application/x-www-form-urlencoded")], &q),
    };
    (status, json(&body))
}

fn ok(c: &mut TestClient, method: &str, path: &str, params: &str) -> Value {
    let (status, v) = signed(c, method, path, params);
    assert_eq!(status, 200, "{method} {path} {params}: {v}");
    v
}

fn refused(c: &mut TestClient, method: &str, path: &str, params: &str) -> (i64, String) {
    let (status, v) = signed(c, method, path, params);
    assert_eq!(status, 400, "{method} {path} {params}: {v}");
    (v["code"].as_i64().unwrap_or(0), v["msg"].as_str().unwrap_or("").to_string())
}

fn n(text: &str) -> Notional {
    Notional::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn best(server: &RunningServer, symbol: usize) -> (String, String) {
    let snap = server.market.snapshot(symbol, 1).expect("book");
    let inst = &server.market.instruments()[symbol];
    (inst.price_text(snap.bids[0].0).as_ref().to_owned(), inst.price_text(snap.asks[0].0).as_ref().to_owned())
}

/// The next payload on the stream for which `f` holds.
fn next_where(ws: &mut WsClient, f: impl Fn(&Value) -> bool) -> Value {
    ws.recv_json_where(WAIT, f).expect("the awaited event before the deadline")
}

/// A listen key's stream on `route` (`/ws`, `/private/ws`), given time to subscribe before the
/// test trades.
fn user_stream(server: &RunningServer, c: &mut TestClient, route: &str) -> WsClient {
    let key = listen_key(c);
    let ws = TestClient::of(server, NAME).ws_connect(&format!("{route}/{key}"));
    std::thread::sleep(Duration::from_millis(100));
    ws
}

fn listen_key(c: &mut TestClient) -> String {
    let (status, _, body) = c.post("/fapi/v1/listenKey", &[("X-MBX-APIKEY", API_KEY)], "");
    assert_eq!(status, 200, "{body}");
    json(&body)["listenKey"].as_str().expect("listenKey").to_string()
}

/// A market buy opens a long; the stream shows the NEW and TRADE updates and an ORDER account
/// update with the position; `positionRisk`, `balance` and `userTrades` agree; a reduce-only
/// market sell closes it, realizing PnL; the wallet is the start plus realized PnL less every
/// commission, exactly.
#[test]
fn a_position_opens_and_closes_with_exact_pnl_and_fees() {
    let (server, mut c) = start(BinanceUsdm::default());
    let mut ws = user_stream(&server, &mut c, "/ws");

    let buy = ok(
        &mut c,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=open1&newOrderRespType=RESULT",
    );
    assert_eq!((buy["status"].as_str(), buy["clientOrderId"].as_str()), (Some("FILLED"), Some("open1")), "{buy}");
    assert_eq!((buy["positionSide"].as_str(), buy["reduceOnly"].as_bool()), (Some("BOTH"), Some(false)));
    assert_eq!(buy["executedQty"], "0.01000");
    let order_id = buy["orderId"].as_u64().expect("orderId");

    let new = next_where(&mut ws, |v| v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["x"] == "NEW");
    assert_eq!((new["o"]["i"].as_u64(), new["o"]["c"].as_str()), (Some(order_id), Some("open1")));
    let trade = next_where(&mut ws, |v| v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["X"] == "FILLED");
    assert_eq!((trade["o"]["x"].as_str(), trade["o"]["N"].as_str()), (Some("TRADE"), Some("USDT")), "{trade}");
    assert_eq!((trade["o"]["ps"].as_str(), trade["o"]["R"].as_bool()), (Some("BOTH"), Some(false)));
    let update = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE" && v["a"]["P"][0]["pa"] == "0.01000");
    assert_eq!(update["a"]["m"], "ORDER");
    let p = &update["a"]["P"][0];
    assert_eq!((p["s"].as_str(), p["pa"].as_str(), p["ps"].as_str()), (Some("BTCUSDT"), Some("0.01000"), Some("BOTH")));
    assert_eq!(update["a"]["B"][0]["a"], "USDT");

    let risk = ok(&mut c, "GET", "/fapi/v3/positionRisk", "symbol=BTCUSDT");
    assert_eq!(risk.as_array().map(Vec::len), Some(1), "{risk}");
    assert_eq!((risk[0]["positionAmt"].as_str(), risk[0]["positionSide"].as_str()), (Some("0.01000"), Some("BOTH")));
    assert_eq!(n(risk[0]["entryPrice"].as_str().unwrap()), n(buy["avgPrice"].as_str().unwrap()));

    // A reduce-only buy would grow the long: refused, with the venue's code and text.
    let (code, msg) =
        refused(&mut c, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&reduceOnly=true");
    assert_eq!((code, msg.as_str()), (-2022, "ReduceOnly Order is rejected."));
    let close = ok(
        &mut c,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01&reduceOnly=true&newOrderRespType=RESULT",
    );
    assert_eq!((close["status"].as_str(), close["reduceOnly"].as_bool()), (Some("FILLED"), Some(true)), "{close}");
    let closed = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE" && v["a"]["P"][0]["pa"] == "0.00000");
    let after_stream = n(closed["a"]["B"][0]["wb"].as_str().unwrap());

    let trades = ok(&mut c, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT");
    let trades = trades.as_array().expect("trades");
    assert!(trades.len() >= 2, "{trades:?}");
    let mut expected = n("1000000");
    for t in trades {
        expected = expected.checked_add(n(t["realizedPnl"].as_str().unwrap())).unwrap();
        expected = expected.checked_sub(n(t["commission"].as_str().unwrap())).unwrap();
        assert_eq!((t["commissionAsset"].as_str(), t["positionSide"].as_str()), (Some("USDT"), Some("BOTH")));
    }
    // Opening realized nothing; closing realized (sell value - buy value) on 0.01.
    let opened: Vec<&Value> = trades.iter().filter(|t| t["side"] == "BUY").collect();
    assert!(opened.iter().all(|t| t["realizedPnl"] == "0.00000000"), "{opened:?}");
    let balance = ok(&mut c, "GET", "/fapi/v2/balance", "");
    let usdt = balance.as_array().unwrap().iter().find(|b| b["asset"] == "USDT").expect("USDT").clone();
    assert_eq!(n(usdt["balance"].as_str().unwrap()), expected, "{usdt}");
    assert_eq!(after_stream, expected, "the stream's wallet balance is the REST one");
    let risk = ok(&mut c, "GET", "/fapi/v3/positionRisk", "");
    assert_eq!(risk, Value::Array(Vec::new()), "v3 lists only open positions");
    let all = ok(&mut c, "GET", "/fapi/v2/positionRisk", "");
    assert_eq!(all.as_array().map(Vec::len), Some(2), "v2 lists every contract: {all}");
    let account = ok(&mut c, "GET", "/fapi/v3/account", "");
    assert_eq!(n(account["totalWalletBalance"].as_str().unwrap()), expected, "{account}");
    assert_eq!(ok(&mut c, "GET", "/fapi/v1/positionSide/dual", "")["dualSidePosition"], false);
}

/// Resting orders are listed, queried, cancelled one by one and all at once with the documented
/// answers; unknown ones get -2011 and -2013.
#[test]
fn cancel_cancel_all_and_queries() {
    let (server, mut c) = start(BinanceUsdm::default());
    let (bid, _) = best(&server, 1);
    let low = format!("{:.2}", (bid.parse::<f64>().unwrap() * 0.9).floor());
    let ack = ok(
        &mut c,
        "POST",
        "/fapi/v1/order",
        &format!("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price={low}&newClientOrderId=rest1"),
    );
    // ACK (the default): the order as accepted.
    assert_eq!(
        (ack["status"].as_str(), ack["type"].as_str(), ack["timeInForce"].as_str()),
        (Some("NEW"), Some("LIMIT"), Some("GTC"))
    );
    ok(
        &mut c,
        "POST",
        "/fapi/v1/order",
        &format!("symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=2&price={low}"),
    );
    let open = ok(&mut c, "GET", "/fapi/v1/openOrders", "symbol=ETHUSDT");
    assert_eq!(open.as_array().map(Vec::len), Some(2), "{open}");
    assert!(open[0]["time"].is_u64());

    let q = ok(&mut c, "GET", "/fapi/v1/order", "symbol=ETHUSDT&origClientOrderId=rest1");
    assert_eq!((q["status"].as_str(), q["origQty"].as_str()), (Some("NEW"), Some("1.0000")), "{q}");
    let cancelled = ok(&mut c, "DELETE", "/fapi/v1/order", "symbol=ETHUSDT&origClientOrderId=rest1");
    assert_eq!(cancelled["status"], "CANCELED");
    let all = ok(&mut c, "DELETE", "/fapi/v1/allOpenOrders", "symbol=ETHUSDT");
    assert_eq!(all, serde_json::json!({ "code": 200, "msg": "The operation of cancel all open order is done." }));
    assert_eq!(ok(&mut c, "GET", "/fapi/v1/openOrders", ""), Value::Array(Vec::new()));
    assert_eq!(ok(&mut c, "GET", "/fapi/v1/order", "symbol=ETHUSDT&origClientOrderId=rest1")["status"], "CANCELED");

    let (code, msg) = refused(&mut c, "DELETE", "/fapi/v1/order", "symbol=ETHUSDT&orderId=999999999");
    assert_eq!((code, msg.as_str()), (-2011, "Unknown order sent."));
    let (code, msg) = refused(&mut c, "GET", "/fapi/v1/order", "symbol=ETHUSDT&orderId=999999999");
    assert_eq!((code, msg.as_str()), (-2013, "Order does not exist."));
}

/// Refusals with USD-M's own codes and texts.
#[test]
fn refusals_carry_the_venues_codes() {
    let (server, mut c) = start(BinanceUsdm::default());
    let (bid, ask) = best(&server, 0);
    let cases = [
        (format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.001&price={ask}"), -5022),
        (format!("symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=FOK&quantity=500&price={bid}"), -5021),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=100.001".to_string(), -4014),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000001".to_string(), -4023),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&positionSide=LONG".to_string(), -4061),
        ("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.001&reduceOnly=true".to_string(), -2022),
        ("symbol=SOLUSDT&side=BUY&type=MARKET&quantity=1".to_string(), -1121),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=100".to_string(), -1102),
    ];
    for (params, want) in cases {
        let (code, msg) = refused(&mut c, "POST", "/fapi/v1/order", &params);
        assert_eq!(code, want, "{params}: {msg}");
    }
    let (code, msg) = refused(
        &mut c,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.001&price=1",
    );
    assert_eq!(code, -4164, "below the minimum notional: {msg}");
    // A bad signature is the shared Binance check.
    let q = format!("symbol=BTCUSDT&timestamp={}&signature=00", now_ms());
    let (status, _, body) = c.get(&format!("/fapi/v1/openOrders?{q}"), &[("X-MBX-APIKEY", API_KEY)]);
    assert_eq!((status, json(&body)["code"].as_i64()), (400, Some(-1022)), "{body}");
}

/// With a one-second funding interval, a long pays `rate × value at the mark` at the next
/// funding time: an `ACCOUNT_UPDATE` with reason `FUNDING_FEE` carrying only the balance, which
/// `balance` then shows.
#[test]
fn funding_is_booked_and_streamed() {
    let (server, mut c) = start(BinanceUsdm::with_funding_interval(Duration::from_secs(1)));
    let mut ws = user_stream(&server, &mut c, "/private/ws");
    let buy = ok(
        &mut c,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newOrderRespType=RESULT",
    );
    let held = buy["executedQty"].clone();
    let before = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE" && v["a"]["P"][0]["pa"] == held);
    let wallet_before = n(before["a"]["B"][0]["wb"].as_str().unwrap());
    let funding = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE" && v["a"]["m"] == "FUNDING_FEE");
    assert_eq!(funding["a"]["P"], Value::Array(Vec::new()), "cross margin: balance only");
    let wallet_after = n(funding["a"]["B"][0]["wb"].as_str().unwrap());
    let paid = wallet_before.checked_sub(wallet_after).unwrap();
    // 0.01 % of about 650 USDT.
    assert!(paid > n("0.05") && paid < n("0.08"), "a long pays at a positive rate: {paid}");
    let premium: Value = {
        let (status, _, body) = c.get("/fapi/v1/premiumIndex?symbol=BTCUSDT", &[]);
        assert_eq!(status, 200);
        json(&body)
    };
    let next = premium["nextFundingTime"].as_i64().unwrap();
    let now = i64::try_from(now_ms()).unwrap();
    assert!(next > now && next <= now + 1000, "premiumIndex names the configured next funding time: {premium}");
}

/// The listen key answers as documented: the same live key again, a keepalive that names it,
/// and after a close the stream says `listenKeyExpired` (its `E` a string) and ends.
#[test]
fn listen_key_lifecycle() {
    let (server, mut c) = start(BinanceUsdm::default());
    let key = listen_key(&mut c);
    assert_eq!(listen_key(&mut c), key, "the live key again");
    let (status, _, body) = c.put("/fapi/v1/listenKey", &[("X-MBX-APIKEY", API_KEY)], "");
    assert_eq!((status, json(&body)["listenKey"].as_str()), (200, Some(key.as_str())));
    let mut ws = TestClient::of(&server, NAME).ws_connect(&format!("/stream?streams={key}"));
    std::thread::sleep(Duration::from_millis(100));
    let (status, _, body) = c.delete("/fapi/v1/listenKey", &[("X-MBX-APIKEY", API_KEY)], "");
    assert_eq!(status, 200, "{body}");
    let expired = next_where(&mut ws, |v| v["data"]["e"] == "listenKeyExpired");
    assert_eq!(expired["stream"], key.as_str());
    assert!(expired["data"]["E"].is_string(), "{expired}");
    assert!(ws.wait_closed(WAIT), "the stream ends");
    let (status, _, body) = c.put("/fapi/v1/listenKey", &[("X-MBX-APIKEY", API_KEY)], "");
    assert_eq!((status, json(&body)["code"].as_i64()), (400, Some(-1125)), "{body}");
}

/// The docs' sample (from `testdata/binance_usdm/orders/`) parsed.
fn sample(name: &str) -> Value {
    let path = format!("{}/../testdata/binance_usdm/orders/{name}", env!("CARGO_MANIFEST_DIR"));
    json(&std::fs::read_to_string(path).expect("sample"))
}

fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// `positionRisk` v3 (one-way), `balance` v3 and the listen key carry the docs' fields.
#[test]
fn account_answers_carry_the_documented_fields() {
    let (_server, mut c) = start(BinanceUsdm::default());
    ok(&mut c, "POST", "/fapi/v1/order", "symbol=ETHUSDT&side=SELL&type=MARKET&quantity=0.01");
    let risk = ok(&mut c, "GET", "/fapi/v3/positionRisk", "symbol=ETHUSDT");
    assert_eq!(keys(&risk[0]), keys(&sample("rest_position_risk_v3_oneway_response.json")[0]), "{risk}");
    assert!(risk[0]["positionAmt"].as_str().is_some_and(|a| a.starts_with('-')), "a short: {risk}");
    let balance = ok(&mut c, "GET", "/fapi/v3/balance", "");
    assert_eq!(keys(&balance[0]), keys(&sample("rest_balance_v3_response.json")[0]));
    assert_eq!(
        keys(&json(&format!("{{\"listenKey\":\"{}\"}}", listen_key(&mut c)))),
        keys(&sample("rest_listen_key_response.json"))
    );
}

/// `POST /_sim/funding` books funding at once (the test trigger beside the funding clock): a
/// short receives at a positive rate, and the stream says so with `FUNDING_FEE`.
#[test]
fn sim_funding_trigger_pays_a_short() {
    let (server, mut c) = start(BinanceUsdm::default());
    let mut ws = user_stream(&server, &mut c, "/ws");
    let sell = ok(
        &mut c,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01&newOrderRespType=RESULT",
    );
    let held = format!("-{}", sell["executedQty"].as_str().unwrap());
    let opened = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE" && v["a"]["P"][0]["pa"] == held.as_str());
    let before = n(opened["a"]["B"][0]["wb"].as_str().unwrap());
    let (status, _, body) = c.post("/_sim/funding", &[], r#"{"symbol":"BTCUSDT","rate":"0.001"}"#);
    assert_eq!((status, json(&body)["positions"].as_u64()), (200, Some(1)), "{body}");
    let funding = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE" && v["a"]["m"] == "FUNDING_FEE");
    let received = n(funding["a"]["B"][0]["wb"].as_str().unwrap()).checked_sub(before).unwrap();
    // 0.1 % of about 650 USDT.
    assert!(received > n("0.5") && received < n("0.8"), "a short receives at a positive rate: {received}");
    let (status, _, body) = c.post("/_sim/funding", &[], r#"{"symbol":"NOPE"}"#);
    assert_eq!(status, 404, "{body}");
}
