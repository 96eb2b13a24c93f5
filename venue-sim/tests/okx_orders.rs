//! OKX v5 order entry over real TLS on loopback (issue #20): the `OK-ACCESS-*` signing check
//! with OKX's codes, `POST /api/v5/trade/order` / `cancel-order` / `cancel-batch-orders`,
//! `GET /api/v5/trade/order` / `orders-pending` / `fills`, `GET /api/v5/account/balance` /
//! `positions`, and the private `/ws/v5/private` `login` with the `orders` channel, on the one
//! matching engine. Every wait has a deadline.

mod util;

use qt_core::{InstrumentKind, Notional, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::{MarketBuilder, flow};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::okx::{LOGIN_PATH, OkxV5, sign_base64, string_to_sign, timestamp_text};
use qt_venue_sim::server::RunningServer;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use util::{API_KEY, API_SECRET, TestClient, WsClient};

const WAIT: Duration = Duration::from_secs(30);
const PASSPHRASE: &str = "test-pass";

/// BTC-USDT spot (tick 0.1, lot 0.0001, min 0.0001 / 5 USDT) and BTC-USDT-SWAP (tick 0.1, lot
/// 0.01), slow flow, one account with 100,000 USDT and 2 BTC.
fn start(rate_limits: bool) -> RunningServer {
    let spot = TestInstrument::spot(Venue::Okx, "BTC-USDT").assets("BTC", "USDT").tick("0.1").lot("0.0001");
    let spot = spot.minimums("0.0001", "5").build(0);
    let swap = TestInstrument::spot(Venue::Okx, "BTC-USDT-SWAP").assets("BTC", "USDT").tick("0.1").lot("0.01");
    let swap = swap.kind(InstrumentKind::LinearPerpetual).minimums("0.01", "5").build(1);
    let seeded = |i: &qt_core::Instrument| FlowParams { seed_levels: 40, ..flow(i, "60000", 5.0) };
    let (f0, f1) = (seeded(&spot), seeded(&swap));
    let market = MarketBuilder::new()
        .symbol_with_flow(spot, f0)
        .symbol_with_flow(swap, f1)
        .account(API_KEY, API_SECRET, &[("USDT", "100000"), ("BTC", "2")])
        .seed(3)
        .build();
    let okx = OkxV5::new().with_passphrase(API_KEY, PASSPHRASE).with_rate_limits(rate_limits);
    util::start_sim_with(market, vec![Arc::new(okx)])
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A signed request as the docs describe it, at venue time `ts_ms` with `passphrase`.
fn signed_at(
    c: &mut TestClient,
    method: &str,
    path_and_query: &str,
    body: &str,
    ts_ms: i64,
    passphrase: &str,
) -> (u16, Value) {
    let ts = timestamp_text(ts_ms);
    let sign = sign_base64(API_SECRET, string_to_sign(&ts, method, path_and_query, body).as_bytes());
    let headers = [
        ("OK-ACCESS-KEY", API_KEY),
        ("OK-ACCESS-SIGN", sign.as_str()),
        ("OK-ACCESS-TIMESTAMP", ts.as_str()),
        ("OK-ACCESS-PASSPHRASE", passphrase),
        ("Content-Type", "application/json"),
    ];
    let (status, _, text) =
        if method == "GET" { c.get(path_and_query, &headers) } else { c.post(path_and_query, &headers, body) };
    (status, json(&text))
}

fn post(c: &mut TestClient, s: &RunningServer, path: &str, body: &str) -> Value {
    let (status, v) = signed_at(c, "POST", path, body, s.market.now_ms(), PASSPHRASE);
    assert_eq!(status, 200, "{v}");
    v
}

fn get(c: &mut TestClient, s: &RunningServer, path_and_query: &str) -> Value {
    let (status, v) = signed_at(c, "GET", path_and_query, "", s.market.now_ms(), PASSPHRASE);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["code"], "0", "{v}");
    v
}

fn place(c: &mut TestClient, s: &RunningServer, body: &str) -> Value {
    let v = post(c, s, "/api/v5/trade/order", body);
    assert!(v["inTime"].is_string() && v["outTime"].is_string(), "{v}");
    v
}

/// The best ask and bid of BTC-USDT now (public REST), as decimal text.
fn top(c: &mut TestClient, inst: &str) -> (String, String) {
    let (_, _, body) = c.get(&format!("/api/v5/market/books?instId={inst}&sz=1"), &[]);
    let v = json(&body);
    let side = |k: &str| v["data"][0][k][0][0].as_str().unwrap_or_else(|| panic!("{k}: {v}")).to_owned();
    (side("asks"), side("bids"))
}

fn login(ws: &mut WsClient, s: &RunningServer) {
    let ts = s.market.now_ms().div_euclid(1000).to_string();
    let sign = sign_base64(API_SECRET, format!("{ts}GET{LOGIN_PATH}").as_bytes());
    let m = format!(
        r#"{{"op":"login","args":[{{"apiKey":"{API_KEY}","passphrase":"{PASSPHRASE}","timestamp":"{ts}","sign":"{sign}"}}]}}"#
    );
    ws.send_text(&m).unwrap();
    let ack = ws.recv_json(WAIT).expect("login answer");
    assert_eq!((ack["event"].as_str(), ack["code"].as_str()), (Some("login"), Some("0")), "{ack}");
    ws.send_text(r#"{"id":"s1","op":"subscribe","args":[{"channel":"orders","instType":"ANY"}]}"#).unwrap();
    let sub = ws.recv_json(WAIT).expect("subscribe answer");
    assert_eq!((sub["event"].as_str(), sub["arg"]["channel"].as_str()), (Some("subscribe"), Some("orders")), "{sub}");
}

/// The next `orders` push of order `ord_id`.
fn next_push(ws: &mut WsClient, ord_id: &str) -> Value {
    let m = ws
        .recv_json_where(WAIT, |m| m["arg"]["channel"] == "orders" && m["data"][0]["ordId"] == ord_id)
        .unwrap_or_else(|| panic!("an orders push of {ord_id}"));
    m["data"][0].clone()
}

fn dec(v: &Value) -> Notional {
    Notional::parse(v.as_str().unwrap_or_else(|| panic!("a string: {v}"))).unwrap_or_else(|e| panic!("{e}: {v}"))
}

#[test]
fn okx_signing_is_checked_with_okx_codes_in_order() {
    let server = start(false);
    let mut c = TestClient::of(&server, "okx");
    let now = server.market.now_ms();
    let path = "/api/v5/account/balance";
    let expect = |(status, v): (u16, Value), code: &str| {
        assert_eq!((status, v["code"].as_str()), (401, Some(code)), "{v}");
    };
    expect(signed_at(&mut c, "GET", path, "", now, "wrong-pass"), "50105");
    expect(signed_at(&mut c, "GET", path, "", now - 31_000, PASSPHRASE), "50102");
    expect(signed_at(&mut c, "GET", path, "", now + 31_000, PASSPHRASE), "50102");
    let (status, v) = signed_at(&mut c, "GET", path, "", now - 20_000, PASSPHRASE);
    assert_eq!((status, v["code"].as_str()), (200, Some("0")), "within 30 s: {v}");
    // A signature over another path.
    let ts = timestamp_text(now);
    let sign = sign_base64(API_SECRET, string_to_sign(&ts, "GET", "/api/v5/account/positions", "").as_bytes());
    let h = [
        ("OK-ACCESS-KEY", API_KEY),
        ("OK-ACCESS-SIGN", &sign),
        ("OK-ACCESS-TIMESTAMP", &ts),
        ("OK-ACCESS-PASSPHRASE", PASSPHRASE),
    ];
    let (status, _, body) = c.get(path, &h);
    assert_eq!((status, json(&body)["code"].as_str()), (401, Some("50113")), "{body}");
    let h = [
        ("OK-ACCESS-KEY", "nobody"),
        ("OK-ACCESS-SIGN", &sign),
        ("OK-ACCESS-TIMESTAMP", &ts),
        ("OK-ACCESS-PASSPHRASE", PASSPHRASE),
    ];
    let (status, _, body) = c.get(path, &h);
    assert_eq!((status, json(&body)["code"].as_str()), (401, Some("50111")), "{body}");
    // A skewed venue clock moves the window: the client's own clock is now 40 s off.
    server.market.set_clock_skew_ms(40_000);
    let (status, v) = signed_at(&mut c, "GET", path, "", now, PASSPHRASE);
    assert_eq!((status, v["code"].as_str()), (401, Some("50102")), "{v}");
    let (status, v) = signed_at(&mut c, "GET", path, "", server.market.now_ms(), PASSPHRASE);
    assert_eq!((status, v["code"].as_str()), (200, Some("0")), "{v}");
}

/// A resting buy, then a marketable one that fills across levels: the ack, the `orders`
/// pushes (live, then one per fill with `fillSz`/`fillPx`/`tradeId`/`fillFee` and the running
/// `accFillSz` / `fee`), the order query, `fills` and `orders-pending`, all agreeing exactly.
#[test]
fn okx_spot_orders_fill_and_report_exact_quantities_and_fees() {
    let server = start(false);
    let mut c = TestClient::of(&server, "okx");
    let mut ws = c.ws_connect("/ws/v5/private");
    login(&mut ws, &server);

    // Resting: far below the market.
    let ack = place(
        &mut c,
        &server,
        r#"{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"rest1","side":"buy","ordType":"limit","px":"30000","sz":"0.01"}"#,
    );
    assert_eq!((ack["code"].as_str(), ack["data"][0]["sCode"].as_str()), (Some("0"), Some("0")), "{ack}");
    assert_eq!(ack["data"][0]["clOrdId"], "rest1");
    let rest_id = ack["data"][0]["ordId"].as_str().unwrap().to_owned();
    let live = next_push(&mut ws, &rest_id);
    assert_eq!(
        (live["state"].as_str(), live["fillSz"].as_str(), live["tdMode"].as_str()),
        (Some("live"), Some("0"), Some("cash"))
    );
    let pending = get(&mut c, &server, "/api/v5/trade/orders-pending?instType=SPOT");
    assert!(
        pending["data"].as_array().unwrap().iter().any(|o| o["ordId"] == rest_id.as_str() && o["state"] == "live"),
        "{pending}"
    );
    let bal = get(&mut c, &server, "/api/v5/account/balance?ccy=USDT");
    let usdt = &bal["data"][0]["details"][0];
    assert_eq!(usdt["ccy"], "USDT");
    assert!(dec(&usdt["frozenBal"]) > Notional::ZERO, "{usdt}");
    assert_eq!(dec(&usdt["cashBal"]), dec(&usdt["availBal"]).checked_add(dec(&usdt["frozenBal"])).unwrap());

    // Marketable: 0.5 BTC at 2 % over the ask takes several resting levels.
    let (ask, _) = top(&mut c, "BTC-USDT");
    let limit = (ask.parse::<f64>().unwrap() * 1.02).round();
    let body = format!(
        r#"{{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"take1","side":"buy","ordType":"limit","px":"{limit}","sz":"0.5"}}"#
    );
    let ack = place(&mut c, &server, &body);
    assert_eq!(ack["data"][0]["sCode"], "0", "{ack}");
    let id = ack["data"][0]["ordId"].as_str().unwrap().to_owned();
    let (mut qty, mut fees, mut trades) = (Notional::ZERO, Notional::ZERO, Vec::new());
    loop {
        let p = next_push(&mut ws, &id);
        if p["tradeId"] != "" {
            qty = qty.checked_add(dec(&p["fillSz"])).unwrap();
            fees = fees.checked_add(dec(&p["fillFee"])).unwrap();
            trades.push(p["tradeId"].as_str().unwrap().to_owned());
            assert_eq!(dec(&p["accFillSz"]), qty, "{p}");
            assert_eq!(dec(&p["fee"]), fees, "the running fee: {p}");
            assert!(dec(&p["fillFee"]) < Notional::ZERO, "a charged fee is negative: {p}");
            assert_eq!((p["feeCcy"].as_str(), p["fillFeeCcy"].as_str()), (Some("USDT"), Some("USDT")));
            assert!(matches!(p["execType"].as_str(), Some("T" | "M")), "{p}");
        }
        if p["state"] == "filled" {
            break;
        }
        assert!(matches!(p["state"].as_str(), Some("live" | "partially_filled")), "{p}");
    }
    assert_eq!(qty, Notional::parse("0.5").unwrap());
    let order = get(&mut c, &server, &format!("/api/v5/trade/order?instId=BTC-USDT&ordId={id}"));
    let o = &order["data"][0];
    assert_eq!(
        (o["state"].as_str(), o["clOrdId"].as_str(), o["accFillSz"].as_str()),
        (Some("filled"), Some("take1"), Some("0.5"))
    );
    assert_eq!(dec(&o["fee"]), fees);
    let by_cl = get(&mut c, &server, "/api/v5/trade/order?instId=BTC-USDT&clOrdId=take1");
    assert_eq!(by_cl["data"][0]["ordId"], id.as_str());
    let fills = get(&mut c, &server, &format!("/api/v5/trade/fills?instId=BTC-USDT&ordId={id}"));
    let list = fills["data"].as_array().unwrap();
    let mut listed: Vec<String> = list.iter().map(|f| f["tradeId"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    trades.sort();
    assert_eq!(listed, trades);
    let fee_sum = list.iter().fold(Notional::ZERO, |a, f| a.checked_add(dec(&f["fee"])).unwrap());
    assert_eq!(fee_sum, fees);

    // Cancel the resting one: the ack, then `canceled` (cancelSource 1) on the channel.
    let cancel =
        post(&mut c, &server, "/api/v5/trade/cancel-order", &format!(r#"{{"instId":"BTC-USDT","ordId":"{rest_id}"}}"#));
    assert_eq!((cancel["code"].as_str(), cancel["data"][0]["sCode"].as_str()), (Some("0"), Some("0")), "{cancel}");
    let done = next_push(&mut ws, &rest_id);
    assert_eq!((done["state"].as_str(), done["cancelSource"].as_str()), (Some("canceled"), Some("1")), "{done}");
    let again =
        post(&mut c, &server, "/api/v5/trade/cancel-order", &format!(r#"{{"instId":"BTC-USDT","ordId":"{rest_id}"}}"#));
    assert_eq!((again["code"].as_str(), again["data"][0]["sCode"].as_str()), (Some("1"), Some("51400")), "{again}");
}

#[test]
fn okx_refusals_carry_their_scodes_and_venue_cancels_their_source() {
    let server = start(false);
    let mut c = TestClient::of(&server, "okx");
    let mut ws = c.ws_connect("/ws/v5/private");
    login(&mut ws, &server);
    let s_code = |v: &Value| {
        (v["code"].as_str().unwrap_or("").to_owned(), v["data"][0]["sCode"].as_str().unwrap_or("").to_owned())
    };
    let o = |px: &str, sz: &str, t: &str| {
        format!(r#"{{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"{t}","px":"{px}","sz":"{sz}"}}"#)
    };
    assert_eq!(s_code(&place(&mut c, &server, &o("30000", "100", "limit"))), ("1".into(), "51008".into()));
    assert_eq!(s_code(&place(&mut c, &server, &o("30000", "0.00015", "limit"))), ("1".into(), "51121".into()));
    let bad = post(&mut c, &server, "/api/v5/trade/order", &o("30000", "0.01", "stop"));
    assert_eq!((bad["code"].as_str(), bad["msg"].as_str()), (Some("51000"), Some("Parameter ordType error")), "{bad}");
    let swap_cash = post(
        &mut c,
        &server,
        "/api/v5/trade/order",
        r#"{"instId":"BTC-USDT-SWAP","tdMode":"cash","side":"buy","ordType":"market","sz":"1"}"#,
    );
    assert_eq!(swap_cash["code"], "51000", "{swap_cash}");
    let unknown = post(
        &mut c,
        &server,
        "/api/v5/trade/order",
        r#"{"instId":"DOGE-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"1"}"#,
    );
    assert_eq!(unknown["code"], "51001", "{unknown}");

    // Post-only that would take: acknowledged, then canceled with cancelSource 31.
    let (ask, _) = top(&mut c, "BTC-USDT");
    let ack = place(&mut c, &server, &o(&ask, "0.001", "post_only"));
    assert_eq!(s_code(&ack), ("0".into(), "0".into()), "{ack}");
    let id = ack["data"][0]["ordId"].as_str().unwrap().to_owned();
    let p = next_push(&mut ws, &id);
    assert_eq!(
        (p["state"].as_str(), p["cancelSource"].as_str(), p["ordType"].as_str()),
        (Some("canceled"), Some("31"), Some("post_only"))
    );
    let q = get(&mut c, &server, &format!("/api/v5/trade/order?instId=BTC-USDT&ordId={id}"));
    assert_eq!((q["data"][0]["state"].as_str(), q["data"][0]["cancelSource"].as_str()), (Some("canceled"), Some("31")));
    // FOK that cannot fill: cancelSource 13.
    let ack = place(&mut c, &server, &o("30000", "0.01", "fok"));
    let id = ack["data"][0]["ordId"].as_str().unwrap().to_owned();
    assert_eq!(next_push(&mut ws, &id)["cancelSource"], "13");

    let (status, v) = signed_at(
        &mut c,
        "GET",
        "/api/v5/trade/order?instId=BTC-USDT&ordId=42",
        "",
        server.market.now_ms(),
        PASSPHRASE,
    );
    assert_eq!((status, v["code"].as_str()), (200, Some("51603")), "{v}");

    // A batch cancel of two live orders and an unknown one: code 2, items in order.
    let a = place(&mut c, &server, &o("30000", "0.01", "limit"))["data"][0]["ordId"].as_str().unwrap().to_owned();
    let b = place(&mut c, &server, &o("30001", "0.01", "limit"))["data"][0]["ordId"].as_str().unwrap().to_owned();
    let batch = format!(
        r#"[{{"instId":"BTC-USDT","ordId":"{a}"}},{{"instId":"BTC-USDT","ordId":"{b}"}},{{"instId":"BTC-USDT","ordId":"7"}}]"#
    );
    let v = post(&mut c, &server, "/api/v5/trade/cancel-batch-orders", &batch);
    let codes: Vec<&str> = v["data"].as_array().unwrap().iter().map(|i| i["sCode"].as_str().unwrap()).collect();
    assert_eq!((v["code"].as_str(), codes), (Some("2"), vec!["0", "0", "51400"]), "{v}");
    let pending = get(&mut c, &server, "/api/v5/trade/orders-pending?instId=BTC-USDT");
    assert_eq!(pending["data"].as_array().unwrap().len(), 0, "{pending}");
}

#[test]
fn okx_swap_orders_move_a_net_position_and_honour_reduce_only() {
    let server = start(false);
    let mut c = TestClient::of(&server, "okx");
    let m = |side: &str, sz: &str, extra: &str| {
        format!(
            r#"{{"instId":"BTC-USDT-SWAP","tdMode":"cross","side":"{side}","ordType":"market","sz":"{sz}"{extra}}}"#
        )
    };
    let refused = place(&mut c, &server, &m("sell", "0.1", r#","reduceOnly":true"#));
    assert_eq!(
        (refused["code"].as_str(), refused["data"][0]["sCode"].as_str()),
        (Some("1"), Some("51169")),
        "{refused}"
    );
    assert_eq!(place(&mut c, &server, &m("buy", "0.3", ""))["data"][0]["sCode"], "0");
    let pos = get(&mut c, &server, "/api/v5/account/positions?instType=SWAP");
    let p = &pos["data"][0];
    assert_eq!(
        (p["instId"].as_str(), p["pos"].as_str(), p["posSide"].as_str(), p["mgnMode"].as_str()),
        (Some("BTC-USDT-SWAP"), Some("0.3"), Some("net"), Some("cross")),
        "{pos}"
    );
    assert!(dec(&p["avgPx"]) > Notional::ZERO, "{p}");
    let close = place(&mut c, &server, &m("sell", "0.3", r#","reduceOnly":true"#));
    assert_eq!(close["data"][0]["sCode"], "0", "{close}");
    let id = close["data"][0]["ordId"].as_str().unwrap().to_owned();
    let o = get(&mut c, &server, &format!("/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId={id}"));
    assert_eq!((o["data"][0]["reduceOnly"].as_str(), o["data"][0]["tdMode"].as_str()), (Some("true"), Some("cross")));
    let pos = get(&mut c, &server, "/api/v5/account/positions?instType=SWAP");
    assert_eq!(pos["data"].as_array().unwrap().len(), 0, "flat: {pos}");
}

#[test]
fn okx_private_stream_refuses_bad_logins_and_counts_nothing_before_login() {
    let server = start(false);
    let c = TestClient::of(&server, "okx");
    let mut ws = c.ws_connect("/ws/v5/private");
    ws.send_text(r#"{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}"#).unwrap();
    assert_eq!(ws.recv_json(WAIT).expect("answer")["code"], "60011");
    let ts = server.market.now_ms().div_euclid(1000).to_string();
    let m = format!(
        r#"{{"op":"login","args":[{{"apiKey":"{API_KEY}","passphrase":"{PASSPHRASE}","timestamp":"{ts}","sign":"AAAA"}}]}}"#
    );
    ws.send_text(&m).unwrap();
    let e = ws.recv_json(WAIT).expect("answer");
    assert_eq!(
        (e["event"].as_str(), e["code"].as_str(), e["msg"].as_str()),
        (Some("error"), Some("60009"), Some("Login failed."))
    );
    ws.send_text("ping").unwrap();
    assert_eq!(ws.recv_text(WAIT).as_deref(), Some("pong"));
}

#[test]
fn okx_rate_limits_answer_50011_and_faults_reach_the_private_stream() {
    let server = start(true);
    let mut c = TestClient::of(&server, "okx");
    let mut ws = c.ws_connect("/ws/v5/private");
    login(&mut ws, &server);
    let now = server.market.now_ms();
    let codes: Vec<(u16, String)> = (0..11)
        .map(|_| {
            let (s, v) = signed_at(&mut c, "GET", "/api/v5/account/balance", "", now, PASSPHRASE);
            (s, v["code"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    assert!(codes[..10].iter().all(|(s, code)| *s == 200 && code == "0"), "{codes:?}");
    assert_eq!(codes[10], (429, "50011".to_string()));
    // A malformed account frame: the next push is cut.
    server.faults_of("okx").unwrap().malformed_account_frames(1);
    place(
        &mut c,
        &server,
        r#"{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":"30000","sz":"0.01"}"#,
    );
    let raw = ws.recv_text(WAIT).expect("a frame");
    assert!(serde_json::from_str::<Value>(&raw).is_err(), "cut: {raw}");
}
