//! KuCoin HF spot order entry over real TLS on loopback (issue #20): the `KC-API-*` signing
//! check with KuCoin's codes, `POST /api/v1/hf/orders`, the cancels (by order id, by
//! `clientOid`, all of a symbol), open orders, one order by `clientOid`, `hf/fills`,
//! `accounts`, and the private bullet token with `/spotMarket/tradeOrdersV2` pushes, on the
//! one matching engine. Every wait has a deadline.

mod util;

use qt_core::{Notional, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::{MarketBuilder, flow};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::kucoin::{KucoinSpot, TRADE_ORDERS_TOPIC, sign_base64, string_to_sign};
use qt_venue_sim::server::RunningServer;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use util::{API_KEY, API_SECRET, TestClient, WsClient, json};

const WAIT: Duration = Duration::from_secs(30);
const PASSPHRASE: &str = "test-pass";

/// BTC-USDT spot (tick 0.1, lot 0.0001, min 0.0001 / 5 USDT), slow flow, one account with
/// 100,000 USDT and 2 BTC.
fn start() -> RunningServer {
    let spot = TestInstrument::spot(Venue::Kucoin, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.0001");
    let spot = spot.minimums("0.0001", "5").build(0);
    let f = FlowParams { seed_levels: 40, ..flow(&spot, "60000", 5.0) };
    let market = MarketBuilder::new()
        .symbol_with_flow(spot, f)
        .account(API_KEY, API_SECRET, &[("USDT", "100000"), ("BTC", "2")])
        .seed(3)
        .build();
    let kucoin = KucoinSpot::default().with_passphrase(API_KEY, PASSPHRASE);
    util::start_sim_with(market, vec![Arc::new(kucoin)])
}

/// How a test request is signed: venue time (ms), passphrase, `KC-API-KEY-VERSION`.
type Auth<'a> = (i64, &'a str, &'a str);

/// A signed request as the docs describe it.
fn signed_with(c: &mut TestClient, method: &str, path_and_query: &str, body: &str, auth: Auth<'_>) -> (u16, Value) {
    let (ts_ms, passphrase, version) = auth;
    let ts = ts_ms.to_string();
    let sign = sign_base64(API_SECRET, string_to_sign(&ts, method, path_and_query, body).as_bytes());
    let pass = sign_base64(API_SECRET, passphrase.as_bytes());
    let headers = [
        ("KC-API-KEY", API_KEY),
        ("KC-API-SIGN", sign.as_str()),
        ("KC-API-TIMESTAMP", ts.as_str()),
        ("KC-API-PASSPHRASE", pass.as_str()),
        ("KC-API-KEY-VERSION", version),
        ("Content-Type", "application/json"),
    ];
    let (status, _, text) = c.request(method, path_and_query, &headers, body.as_bytes());
    (status, json(&text))
}

fn call(c: &mut TestClient, s: &RunningServer, method: &str, path: &str, body: &str) -> (u16, Value) {
    signed_with(c, method, path, body, (s.market.now_ms(), PASSPHRASE, "2"))
}

/// A call that succeeds; its `data`.
fn ok(c: &mut TestClient, s: &RunningServer, method: &str, path: &str, body: &str) -> Value {
    let (status, v) = call(c, s, method, path, body);
    assert_eq!((status, v["code"].as_str()), (200, Some("200000")), "{method} {path}: {v}");
    v["data"].clone()
}

/// The best ask of BTC-USDT now (public REST).
fn best_ask(c: &mut TestClient) -> f64 {
    let (_, _, body) = c.get("/api/v1/market/orderbook/level2_20?symbol=BTC-USDT", &[]);
    let v = json(&body);
    v["data"]["asks"][0][0].as_str().unwrap_or_else(|| panic!("{v}")).parse().unwrap()
}

/// A private session subscribed to the order topic.
fn private_ws(c: &mut TestClient, s: &RunningServer) -> WsClient {
    let bullet = ok(c, s, "POST", "/api/v1/bullet-private", "");
    assert_eq!(bullet["instanceServers"][0]["pingInterval"], 18000, "{bullet}");
    let token = bullet["token"].as_str().unwrap().to_owned();
    let mut ws = c.ws_connect(&format!("/?token={token}&connectId=c1"));
    let welcome = ws.recv_json(WAIT).expect("welcome");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    ws.send_text(&format!(
        r#"{{"id":"s1","type":"subscribe","topic":"{TRADE_ORDERS_TOPIC}","privateChannel":true,"response":true}}"#
    ))
    .unwrap();
    let ack = ws.recv_json(WAIT).expect("ack");
    assert_eq!((ack["type"].as_str(), ack["id"].as_str()), (Some("ack"), Some("s1")), "{ack}");
    ws
}

/// The next `orderChange` push of order `id`.
fn next_push(ws: &mut WsClient, id: &str) -> Value {
    let m = ws
        .recv_json_where(WAIT, |m| m["subject"] == "orderChange" && m["data"]["orderId"] == id)
        .unwrap_or_else(|| panic!("an orderChange push of {id}"));
    assert_eq!((m["topic"].as_str(), m["channelType"].as_str()), (Some(TRADE_ORDERS_TOPIC), Some("private")), "{m}");
    m["data"].clone()
}

fn dec(v: &Value) -> Notional {
    Notional::parse(v.as_str().unwrap_or_else(|| panic!("a string: {v}"))).unwrap_or_else(|e| panic!("{e}: {v}"))
}

#[test]
fn kucoin_signing_is_checked_with_kucoin_codes_in_order() {
    let server = start();
    let mut c = TestClient::of(&server, "kucoin");
    let now = server.market.now_ms();
    let path = "/api/v1/accounts";
    let code = |(status, v): (u16, Value)| (status, v["code"].as_str().unwrap_or("").to_owned());
    let (status, _, body) = c.get(path, &[("KC-API-KEY", API_KEY)]);
    assert_eq!((status, json(&body)["code"].as_str()), (401, Some("400001")), "{body}");
    assert_eq!(code(signed_with(&mut c, "GET", path, "", (now, "wrong-pass", "2"))), (401, "400004".into()));
    assert_eq!(code(signed_with(&mut c, "GET", path, "", (now, PASSPHRASE, "1"))), (401, "400004".into()));
    assert_eq!(code(signed_with(&mut c, "GET", path, "", (now - 6_000, PASSPHRASE, "2"))), (401, "400002".into()));
    assert_eq!(code(signed_with(&mut c, "GET", path, "", (now + 6_000, PASSPHRASE, "2"))), (401, "400002".into()));
    assert_eq!(code(signed_with(&mut c, "GET", path, "", (now - 3_000, PASSPHRASE, "3"))), (200, "200000".into()));
    // A signature over another path.
    let ts = now.to_string();
    let sign = sign_base64(API_SECRET, string_to_sign(&ts, "GET", "/api/v1/hf/fills", "").as_bytes());
    let pass = sign_base64(API_SECRET, PASSPHRASE.as_bytes());
    let mut h = vec![
        ("KC-API-KEY", API_KEY),
        ("KC-API-SIGN", sign.as_str()),
        ("KC-API-TIMESTAMP", ts.as_str()),
        ("KC-API-PASSPHRASE", pass.as_str()),
        ("KC-API-KEY-VERSION", "2"),
    ];
    let (status, _, body) = c.get(path, &h);
    assert_eq!((status, json(&body)["code"].as_str()), (401, Some("400005")), "{body}");
    h[0].1 = "nobody";
    let (status, _, body) = c.get(path, &h);
    assert_eq!((status, json(&body)["code"].as_str()), (401, Some("400003")), "{body}");
    // A skewed venue clock moves the window.
    server.market.set_clock_skew_ms(10_000);
    assert_eq!(code(signed_with(&mut c, "GET", path, "", (now, PASSPHRASE, "2"))), (401, "400002".into()));
    assert_eq!(code(call(&mut c, &server, "GET", path, "")), (200, "200000".into()));
    // A public token does not open the private topic.
    let (_, _, body) = c.post("/api/v1/bullet-public", &[], "");
    let token = json(&body)["data"]["token"].as_str().unwrap().to_owned();
    let mut ws = c.ws_connect(&format!("/?token={token}&connectId=p1"));
    assert_eq!(ws.recv_json(WAIT).expect("welcome")["type"], "welcome");
    ws.send_text(&format!(r#"{{"id":"x","type":"subscribe","topic":"{TRADE_ORDERS_TOPIC}","response":true}}"#))
        .unwrap();
    let err = ws.recv_json(WAIT).expect("an answer");
    assert_eq!(err["type"], "error", "{err}");
}

/// A resting buy, then a marketable one that fills across levels: the ack, the pushes (open,
/// then one `match` per fill with `matchSize`/`matchPrice`/`tradeId`, then `filled`), the order
/// query by `clientOid`, `hf/fills` with the fees, open orders and accounts, all agreeing
/// exactly; cancels by id, by `clientOid` and all of a symbol.
#[test]
fn kucoin_orders_fill_cancel_and_report_exact_quantities_and_fees() {
    let server = start();
    let mut c = TestClient::of(&server, "kucoin");
    let mut ws = private_ws(&mut c, &server);

    let ack = ok(
        &mut c,
        &server,
        "POST",
        "/api/v1/hf/orders",
        r#"{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"30000","size":"0.01","clientOid":"rest1"}"#,
    );
    assert_eq!(ack["clientOid"], "rest1", "{ack}");
    let rest_id = ack["orderId"].as_str().unwrap().to_owned();
    assert_eq!(rest_id.len(), 24, "{ack}");
    let open = next_push(&mut ws, &rest_id);
    assert_eq!(
        (open["type"].as_str(), open["status"].as_str(), open["remainSize"].as_str(), open["clientOid"].as_str()),
        (Some("open"), Some("open"), Some("0.01"), Some("rest1"))
    );
    let active = ok(&mut c, &server, "GET", "/api/v1/hf/orders/active?symbol=BTC-USDT", "");
    let listed = active.as_array().unwrap().iter().find(|o| o["id"] == rest_id.as_str()).expect("listed");
    assert_eq!((listed["active"].as_bool(), listed["inOrderBook"].as_bool()), (Some(true), Some(true)), "{listed}");
    let accounts = ok(&mut c, &server, "GET", "/api/v1/accounts?currency=USDT", "");
    let usdt = &accounts[0];
    assert_eq!((usdt["currency"].as_str(), usdt["type"].as_str()), (Some("USDT"), Some("trade")), "{usdt}");
    // The hold is the order's value plus the market's fee reserve.
    assert!(dec(&usdt["holds"]) >= Notional::parse("300").unwrap(), "{usdt}");
    assert_eq!(dec(&usdt["balance"]), dec(&usdt["available"]).checked_add(dec(&usdt["holds"])).unwrap());

    // Marketable: 0.5 BTC at 2 % over the ask takes several resting levels.
    let limit = (best_ask(&mut c) * 1.02).round();
    let body = format!(
        r#"{{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"{limit}","size":"0.5","clientOid":"take1"}}"#
    );
    let id = ok(&mut c, &server, "POST", "/api/v1/hf/orders", &body)["orderId"].as_str().unwrap().to_owned();
    let (mut qty, mut trades) = (Notional::ZERO, Vec::new());
    loop {
        let p = next_push(&mut ws, &id);
        match p["type"].as_str() {
            Some("open") => assert!(trades.is_empty(), "open comes first: {p}"),
            Some("match") => {
                qty = qty.checked_add(dec(&p["matchSize"])).unwrap();
                assert!(dec(&p["matchPrice"]) > Notional::ZERO, "{p}");
                assert_eq!(dec(&p["filledSize"]), qty, "the running fill: {p}");
                assert_eq!((p["status"].as_str(), p["liquidity"].as_str()), (Some("match"), Some("taker")), "{p}");
                assert_eq!(p["feeType"], "takerFee");
                trades.push(p["tradeId"].as_str().unwrap().to_owned());
            }
            Some("filled") => {
                assert_eq!((p["status"].as_str(), p["remainSize"].as_str()), (Some("done"), Some("0")), "{p}");
                break;
            }
            other => panic!("unexpected {other:?}: {p}"),
        }
    }
    assert!(trades.len() > 1, "several levels: {trades:?}");
    assert_eq!(qty, Notional::parse("0.5").unwrap());
    let o = ok(&mut c, &server, "GET", "/api/v1/hf/orders/client-order/take1?symbol=BTC-USDT", "");
    assert_eq!(
        (o["id"].as_str(), o["dealSize"].as_str(), o["active"].as_bool(), o["feeCurrency"].as_str()),
        (Some(id.as_str()), Some("0.5"), Some(false), Some("USDT")),
        "{o}"
    );
    let fills = ok(&mut c, &server, "GET", &format!("/api/v1/hf/fills?symbol=BTC-USDT&orderId={id}&limit=100"), "");
    let items = fills["items"].as_array().unwrap();
    let mut listed: Vec<String> = items.iter().map(|f| f["tradeId"].to_string()).collect();
    listed.sort();
    trades.sort();
    assert_eq!(listed, trades);
    let fee_sum = items.iter().fold(Notional::ZERO, |a, f| a.checked_add(dec(&f["fee"])).unwrap());
    assert!(fee_sum > Notional::ZERO, "{fills}");
    assert_eq!(dec(&o["fee"]), fee_sum, "the order's fee is its fills' fees");

    // Cancel by id: the answer, then `canceled` on the topic; again: not found.
    let path = format!("/api/v1/hf/orders/{rest_id}?symbol=BTC-USDT");
    assert_eq!(ok(&mut c, &server, "DELETE", &path, "")["orderId"], rest_id.as_str());
    let done = next_push(&mut ws, &rest_id);
    assert_eq!(
        (done["type"].as_str(), done["status"].as_str(), done["canceledSize"].as_str()),
        (Some("canceled"), Some("done"), Some("0.01"))
    );
    let (status, again) = call(&mut c, &server, "DELETE", &path, "");
    assert_eq!((status, again["code"].as_str()), (200, Some("400100")), "{again}");

    // Cancel by clientOid, and all of a symbol.
    for cl in ["a1", "a2", "a3"] {
        let body = format!(
            r#"{{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"30000","size":"0.001","clientOid":"{cl}"}}"#
        );
        ok(&mut c, &server, "POST", "/api/v1/hf/orders", &body);
    }
    let by_cl = ok(&mut c, &server, "DELETE", "/api/v1/hf/orders/client-order/a1?symbol=BTC-USDT", "");
    assert_eq!(by_cl["clientOid"], "a1");
    assert_eq!(ok(&mut c, &server, "DELETE", "/api/v1/hf/orders?symbol=BTC-USDT", ""), "success");
    let active = ok(&mut c, &server, "GET", "/api/v1/hf/orders/active?symbol=BTC-USDT", "");
    assert_eq!(active.as_array().map(Vec::len), Some(0), "{active}");
}

#[test]
fn kucoin_refusals_carry_their_codes() {
    let server = start();
    let mut c = TestClient::of(&server, "kucoin");
    let place = |c: &mut TestClient, body: &str| {
        let (status, v) = call(c, &server, "POST", "/api/v1/hf/orders", body);
        (status, v["code"].as_str().unwrap_or("").to_owned())
    };
    let limit = |price: &str, size: &str| {
        format!(r#"{{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"{price}","size":"{size}"}}"#)
    };
    assert_eq!(place(&mut c, &limit("30000", "100")), (200, "200004".into()), "balance");
    assert_eq!(place(&mut c, &limit("30000", "0.00015")), (400, "400100".into()), "size increment");
    assert_eq!(place(&mut c, &limit("30000.05", "0.01")), (400, "400100".into()), "price increment");
    assert_eq!(place(&mut c, r#"{"type":"stop","symbol":"BTC-USDT","side":"buy","size":"1"}"#), (400, "400100".into()));
    assert_eq!(
        place(&mut c, r#"{"type":"market","symbol":"DOGE-USDT","side":"buy","size":"1"}"#),
        (400, "900001".into())
    );
    let ask = best_ask(&mut c);
    let post_only = format!(
        r#"{{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"{ask}","size":"0.001","postOnly":true}}"#
    );
    assert_eq!(place(&mut c, &post_only), (400, "400100".into()), "post-only that would take");
    let dup = r#"{"type":"limit","symbol":"BTC-USDT","side":"buy","price":"30000","size":"0.001","clientOid":"d1"}"#;
    assert_eq!(place(&mut c, dup), (200, "200000".into()));
    assert_eq!(place(&mut c, dup), (400, "400100".into()), "duplicate clientOid");
    let (status, v) = call(&mut c, &server, "GET", "/api/v1/hf/orders/client-order/nope?symbol=BTC-USDT", "");
    assert_eq!((status, v["code"].as_str()), (200, Some("400100")), "{v}");
    let (status, v) = call(&mut c, &server, "POST", "/api/v1/hf/orders", "not json");
    assert_eq!((status, v["code"].as_str()), (400, Some("400100")), "{v}");
}
