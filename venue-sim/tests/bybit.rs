//! Bybit v5 over real TLS sockets on loopback: the simulator's `BybitV5` protocol against the
//! shared test client (`tests/util`). Each test starts its own simulator and stays well under
//! ten seconds; every wait has a deadline.

mod util;

use qt_core::{Instrument, Qty, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::{MarketBuilder, flow};
use qt_venue_sim::bybit::{BybitV5, string_to_sign};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use qt_venue_sim::signing::hmac_sha256_hex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{API_KEY, API_SECRET, TestClient, WsClient};

const WAIT: Duration = Duration::from_secs(30);
const KEY_B: &str = "key-b";
const SECRET_B: &str = "secret-b";

/// BTCUSDT (tick 0.01, lot 0.00001) and ETHUSDT (tick 0.05, lot 0.0005, held at 2 and 4
/// decimals so off-grid values reach the matching engine), background flow at
/// `events_per_sec`, and two accounts.
fn market(events_per_sec: f64) -> Arc<Market> {
    let btc = TestInstrument::spot(Venue::Bybit, "BTCUSDT").assets("BTC", "USDT").lot("0.00001");
    let eth = TestInstrument::spot(Venue::Bybit, "ETHUSDT").assets("ETH", "USDT").tick("0.05").lot("0.0005");
    let (btc, eth) = (btc.minimums("0.00001", "5").build(0), eth.minimums("0.001", "5").qty_scale(4).build(1));
    let seeded = |inst: &Instrument, mid: &str| FlowParams { seed_levels: 80, ..flow(inst, mid, events_per_sec) };
    let (btc_flow, eth_flow) = (seeded(&btc, "65000"), seeded(&eth, "3200"));
    let balances = [("USDT", "1000000"), ("BTC", "10"), ("ETH", "100")];
    MarketBuilder::new()
        .symbol_with_flow(btc, btc_flow)
        .symbol_with_flow(eth, eth_flow)
        .account(API_KEY, API_SECRET, &balances)
        .account(KEY_B, SECRET_B, &balances)
        .seed(5)
        .build()
}

fn start(events_per_sec: f64) -> RunningServer {
    util::start_sim_with(market(events_per_sec), vec![Arc::new(BybitV5::new())])
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A signed `POST` as the docs describe it (`X-BAPI-*` headers over `ts + key + 5000 + body`).
fn signed_post(
    client: &mut TestClient,
    server: &RunningServer,
    key: &str,
    secret: &str,
    path: &str,
    body: &str,
) -> Value {
    let ts = server.market.now_ms().to_string();
    let sign = hmac_sha256_hex(secret, string_to_sign(&ts, key, "5000", body).as_bytes());
    let headers = [
        ("X-BAPI-API-KEY", key),
        ("X-BAPI-TIMESTAMP", ts.as_str()),
        ("X-BAPI-RECV-WINDOW", "5000"),
        ("X-BAPI-SIGN", sign.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body) = client.post(path, &headers, body);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn signed_get(client: &mut TestClient, server: &RunningServer, path: &str, query: &str) -> Value {
    let ts = server.market.now_ms().to_string();
    let sign = hmac_sha256_hex(API_SECRET, string_to_sign(&ts, API_KEY, "5000", query).as_bytes());
    let headers = [
        ("X-BAPI-API-KEY", API_KEY),
        ("X-BAPI-TIMESTAMP", &ts),
        ("X-BAPI-RECV-WINDOW", "5000"),
        ("X-BAPI-SIGN", &sign),
    ];
    let (status, _, body) = client.get(&format!("{path}?{query}"), &headers);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn ret_code(v: &Value) -> i64 {
    v["retCode"].as_i64().unwrap_or(-1)
}

/// The next JSON message on `ws` for which `f` holds.
fn recv_where(ws: &mut WsClient, f: impl Fn(&Value) -> bool) -> Value {
    ws.recv_json_where(WAIT, f).expect("the awaited message before the deadline")
}

type Side = BTreeMap<i64, i64>;
/// Bids and asks (price, size units), best first.
type View = (Vec<(i64, i64)>, Vec<(i64, i64)>);

fn apply(book: &mut (Side, Side), inst: &Instrument, m: &Value) {
    if m["type"] == "snapshot" {
        book.0.clear();
        book.1.clear();
    }
    for (side, key) in [(&mut book.0, "b"), (&mut book.1, "a")] {
        for l in m["data"][key].as_array().expect("levels") {
            let p = inst.parse_price(l[0].as_str().unwrap()).unwrap().units();
            let q = inst.parse_qty(l[1].as_str().unwrap()).unwrap().units();
            if q == 0 {
                side.remove(&p);
            } else {
                side.insert(p, q);
            }
        }
    }
}

fn levels(inst: &Instrument, v: &Value) -> Vec<(i64, i64)> {
    v.as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                inst.parse_price(l[0].as_str().unwrap()).unwrap().units(),
                inst.parse_qty(l[1].as_str().unwrap()).unwrap().units(),
            )
        })
        .collect()
}

/// `orderbook.50.BTCUSDT` rebuilt from the snapshot and deltas equals the top 50 of
/// `/_sim/book` at a matching point.
///
/// Alignment: every push carries `seq`, the market update id its view reflects, and
/// `/_sim/book` answers with `updateId`. After each message the test records the rebuilt view
/// under its `seq`; it then polls `/_sim/book` until an `updateId` equals a recorded `seq`
/// (with flow at 50 events/s most pushes carry the latest id, so a match comes within a few
/// polls) and compares that view with the polled levels.
#[test]
fn ws_orderbook_rebuilds_the_top_50_of_the_sim_book() {
    let server = start(50.0);
    let client = TestClient::of(&server, "bybit");
    let mut http = TestClient::of(&server, "bybit");
    let inst = server.market.instruments()[0].clone();
    let mut ws = client.ws_connect("/v5/public/spot");
    ws.send_text(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"],"req_id":"r1"}"#).unwrap();
    let ack = ws.recv_json(WAIT).expect("ack");
    assert_eq!(
        (ack["success"].as_bool(), ack["ret_msg"].as_str(), ack["req_id"].as_str()),
        (Some(true), Some("subscribe"), Some("r1"))
    );
    let mut book = (Side::new(), Side::new());
    let mut history: BTreeMap<u64, View> = BTreeMap::new();
    let mut last_u = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut matched = false;
    let mut polls = 0;
    while !matched && Instant::now() < deadline {
        // Take in what arrives for a moment, then poll the simulator's own book once.
        let read_until = Instant::now() + Duration::from_millis(60);
        while let Some(m) = ws.recv_json(read_until.saturating_duration_since(Instant::now())) {
            assert_eq!(m["topic"], "orderbook.50.BTCUSDT");
            let u = m["data"]["u"].as_u64().unwrap();
            if let Some(prev) = last_u {
                assert_eq!(u, prev + 1, "u grows by exactly one");
            } else {
                assert_eq!(m["type"], "snapshot");
            }
            last_u = Some(u);
            apply(&mut book, &inst, &m);
            let view =
                (book.0.iter().rev().map(|(p, q)| (*p, *q)).collect(), book.1.iter().map(|(p, q)| (*p, *q)).collect());
            history.insert(m["data"]["seq"].as_u64().unwrap(), view);
        }
        let (status, _, body) = http.get("/_sim/book?symbol=BTCUSDT&depth=50", &[]);
        assert_eq!(status, 200, "{body}");
        polls += 1;
        let sim = json(&body);
        let id = sim["updateId"].as_u64().expect("updateId");
        // The push reflecting `id` may still be on its way.
        let deadline_for_id = Instant::now() + Duration::from_millis(100);
        while !history.contains_key(&id) && Instant::now() < deadline_for_id {
            let Some(m) = ws.recv_json(Duration::from_millis(20)) else { continue };
            let u = m["data"]["u"].as_u64().unwrap();
            assert_eq!(Some(u), last_u.map(|p| p + 1));
            last_u = Some(u);
            apply(&mut book, &inst, &m);
            let view =
                (book.0.iter().rev().map(|(p, q)| (*p, *q)).collect(), book.1.iter().map(|(p, q)| (*p, *q)).collect());
            history.insert(m["data"]["seq"].as_u64().unwrap(), view);
        }
        if let Some((bids, asks)) = history.get(&id) {
            assert_eq!(*bids, levels(&inst, &sim["bids"]), "bids at update {id}");
            assert_eq!(*asks, levels(&inst, &sim["asks"]), "asks at update {id}");
            assert_eq!(bids.len(), 50);
            matched = true;
        }
    }
    assert!(matched, "no /_sim/book updateId matched a pushed seq in {polls} polls");
}

/// Signed create, listing and cancel over HTTPS; a wrong signature is 10004; an off-tick price
/// (on the decimal grid, refused by the engine's price filter) is 170134.
#[test]
fn rest_orders_signatures_and_filters() {
    let server = start(20.0);
    let mut http = TestClient::of(&server, "bybit");
    let bid = server.market.snapshot(0, 1).unwrap().bids[0].0;
    let inst = server.market.instruments()[0].clone();
    let price = inst.price_text(qt_core::Price::from_units(bid.units() - 10_000));
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"{price}","orderLinkId":"it-1"}}"#
    );
    let r = signed_post(&mut http, &server, API_KEY, API_SECRET, "/v5/order/create", &body);
    assert_eq!(ret_code(&r), 0, "{r}");
    let order_id = r["result"]["orderId"].as_str().unwrap().to_owned();
    assert_eq!(r["result"]["orderLinkId"], "it-1");
    let open = signed_get(&mut http, &server, "/v5/order/realtime", "category=spot&symbol=BTCUSDT");
    assert_eq!(open["result"]["list"][0]["orderId"], order_id.as_str());
    assert_eq!(open["result"]["list"][0]["orderStatus"], "New");
    let cancel = format!(r#"{{"category":"spot","symbol":"BTCUSDT","orderId":"{order_id}"}}"#);
    let r = signed_post(&mut http, &server, API_KEY, API_SECRET, "/v5/order/cancel", &cancel);
    assert_eq!(ret_code(&r), 0, "{r}");
    assert_eq!(r["result"]["orderLinkId"], "it-1");
    let r = signed_post(&mut http, &server, API_KEY, API_SECRET, "/v5/order/cancel", &cancel);
    assert_eq!(ret_code(&r), 170213, "already cancelled: {r}");

    // Signed with another secret.
    let r = signed_post(&mut http, &server, API_KEY, "not-the-secret", "/v5/order/create", &body);
    assert_eq!(ret_code(&r), 10004, "{r}");

    // ETHUSDT ticks are 0.05: a price ending in .01 parses but is off the tick.
    let eth_bid = server.market.snapshot(1, 1).unwrap().bids[0].0;
    let whole = server.market.instruments()[1].price_text(eth_bid);
    let off_tick = format!("{}.01", whole.as_str().split('.').next().unwrap());
    let body = format!(
        r#"{{"category":"spot","symbol":"ETHUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{off_tick}"}}"#
    );
    let r = signed_post(&mut http, &server, API_KEY, API_SECRET, "/v5/order/create", &body);
    assert_eq!((ret_code(&r), r["retMsg"].as_str()), (170134, Some("Order price decimal too long.")), "{r}");
}

fn private_auth(ws: &mut WsClient, server: &RunningServer) {
    let expires = server.market.now_ms() + 10_000;
    let sign = hmac_sha256_hex(API_SECRET, format!("GET/realtime{expires}").as_bytes());
    ws.send_text(&format!(r#"{{"op":"auth","args":["{API_KEY}",{expires},"{sign}"]}}"#)).unwrap();
    let reply = ws.recv_json(WAIT).expect("auth reply");
    assert_eq!((reply["success"].as_bool(), reply["op"].as_str()), (Some(true), Some("auth")), "{reply}");
}

/// Private stream: a buy that takes the best ask level and rests the remainder, which another
/// account then fills. The stream shows New, then each execution before the order state it
/// produced, PartiallyFilled on the way, Filled at the end. The background flow is nearly
/// still (one event per 1000 s) so nothing else trades with the order.
#[test]
fn private_stream_orders_and_executions_in_sequence() {
    let server = start(0.001);
    let client = TestClient::of(&server, "bybit");
    let mut http = TestClient::of(&server, "bybit");
    let mut ws = client.ws_connect("/v5/private");
    // A bad signature first.
    let expires = server.market.now_ms() + 10_000;
    ws.send_text(&format!(r#"{{"op":"auth","args":["{API_KEY}",{expires},"00"]}}"#)).unwrap();
    assert_eq!(ws.recv_json(WAIT).expect("reply")["success"], false);
    private_auth(&mut ws, &server);
    ws.send_text(r#"{"op":"subscribe","args":["order","execution"]}"#).unwrap();
    assert_eq!(ws.recv_json(WAIT).expect("ack")["success"], true);

    let inst = server.market.instruments()[0].clone();
    let (ask, ask_qty) = server.market.snapshot(0, 1).unwrap().asks[0];
    let qty = Qty::from_units(ask_qty.units() + 500);
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"{}","price":"{}","orderLinkId":"pf-1"}}"#,
        inst.qty_text(qty),
        inst.price_text(ask)
    );
    assert_eq!(ret_code(&signed_post(&mut http, &server, API_KEY, API_SECRET, "/v5/order/create", &body)), 0);
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Sell","orderType":"Limit","qty":"{}","price":"{}","timeInForce":"IOC"}}"#,
        inst.qty_text(Qty::from_units(500)),
        inst.price_text(ask)
    );
    assert_eq!(ret_code(&signed_post(&mut http, &server, KEY_B, SECRET_B, "/v5/order/create", &body)), 0);

    let mut seen = Vec::new();
    let mut executed = 0;
    loop {
        let m = recv_where(&mut ws, |m| m.get("topic").is_some());
        let d = &m["data"][0];
        match m["topic"].as_str() {
            Some("execution") => {
                executed += inst.parse_qty(d["execQty"].as_str().unwrap()).unwrap().units();
                seen.push("exec".to_owned());
            }
            Some("order") => {
                assert_eq!(d["orderLinkId"], "pf-1");
                assert_eq!(d["category"], "spot");
                let status = d["orderStatus"].as_str().unwrap().to_owned();
                seen.push(status.clone());
                if status == "Filled" {
                    assert_eq!(inst.parse_qty(d["cumExecQty"].as_str().unwrap()).unwrap(), qty);
                    break;
                }
            }
            other => panic!("unexpected topic {other:?}"),
        }
    }
    assert_eq!(executed, qty.units());
    assert_eq!(seen[0], "New", "{seen:?}");
    assert!(seen.iter().any(|s| s == "PartiallyFilled"), "{seen:?}");
    for (i, s) in seen.iter().enumerate().skip(1) {
        if s != "exec" {
            assert_eq!(seen[i - 1], "exec", "each state after New follows its execution: {seen:?}");
        }
    }
}

/// A `skip_sequence` fault set through `/_sim/faults` shows as a `u` gap of two.
#[test]
fn injected_skip_sequence_is_a_u_gap() {
    let server = start(500.0);
    let client = TestClient::of(&server, "bybit");
    let mut http = TestClient::of(&server, "bybit");
    let mut ws = client.ws_connect("/v5/public/spot");
    ws.send_text(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#).unwrap();
    assert_eq!(ws.recv_json(WAIT).expect("ack")["success"], true);
    let snap = recv_where(&mut ws, |m| m["type"] == "snapshot");
    let mut u = snap["data"]["u"].as_u64().unwrap();
    let delta = recv_where(&mut ws, |m| m["type"] == "delta");
    assert_eq!(delta["data"]["u"].as_u64(), Some(u + 1));
    u += 1;
    let (status, _, body) =
        http.post("/_sim/faults", &[("Content-Type", "application/json")], r#"{"skip_sequence":1}"#);
    assert_eq!(status, 200, "{body}");
    let mut steps = Vec::new();
    while steps.len() < 5 {
        let m = recv_where(&mut ws, |m| m["type"] == "delta");
        let next = m["data"]["u"].as_u64().unwrap();
        steps.push(next - u);
        u = next;
    }
    assert_eq!(steps.iter().filter(|s| **s == 2).count(), 1, "exactly one gap: {steps:?}");
    assert!(steps.iter().all(|s| *s == 1 || *s == 2), "{steps:?}");
}

/// A book image keyed by price units: `(bids, asks)`, each price -> (price text, size text).
type Image = (BTreeMap<i64, (String, String)>, BTreeMap<i64, (String, String)>);

/// Applies a stream message's levels (`"snapshot"` resets first) to `book`.
fn apply_levels(book: &mut Image, inst: &Instrument, m: &Value) {
    if m["type"] == "snapshot" {
        book.0.clear();
        book.1.clear();
    }
    for (key, side) in [("b", &mut book.0), ("a", &mut book.1)] {
        for level in m["data"][key].as_array().expect("levels") {
            let text = level[0].as_str().expect("price");
            let price = inst.parse_price(text).expect("price on the grid").units();
            let size = level[1].as_str().expect("size");
            if size.parse::<f64>().expect("size") == 0.0 {
                side.remove(&price);
            } else {
                side.insert(price, (text.to_string(), size.to_string()));
            }
        }
    }
}

/// `(price text, size text)` levels best first, as REST and the image list them.
fn image_levels(side: &BTreeMap<i64, (String, String)>, descending: bool) -> Vec<(String, String)> {
    if descending { side.values().rev().cloned().collect() } else { side.values().cloned().collect() }
}

/// The states a stream passed through: `u` -> (`seq`, bids, asks), levels best first.
type States = BTreeMap<u64, (u64, Vec<(String, String)>, Vec<(String, String)>)>;

fn rest_levels(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("levels")
        .iter()
        .map(|l| (l[0].as_str().expect("price").to_string(), l[1].as_str().expect("size").to_string()))
        .collect()
}

/// Issue #14 item 13: `market/orderbook.mdx` says the spot REST book's `u` "is corresponding to
/// `u` in the wss 200-level orderbook" and `seq` compares depths. The REST `u` used to be the
/// market's update id, which no stream's `u` matched. Now a client aligning the documented way
/// finds, for every REST book, the `orderbook.200` message with the same `u`, and the book it
/// rebuilt from the stream at that `u` is the REST book, `seq` included; a session that joins
/// later is on the same numbering.
#[test]
fn spot_rest_book_u_is_the_200_level_streams_u() {
    let server = start(2000.0);
    let inst = server.market.instruments()[0].clone();
    let client = TestClient::of(&server, "bybit");
    let mut http = TestClient::of(&server, "bybit");
    let mut ws = client.ws_connect("/v5/public/spot");
    ws.send_text(r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#).unwrap();
    assert_eq!(ws.recv_json(WAIT).expect("ack")["success"], true);
    let mut book: Image = (BTreeMap::new(), BTreeMap::new());
    let mut states = States::new();
    let read_one = |ws: &mut WsClient, book: &mut Image, states: &mut States| {
        let m = recv_where(ws, |m| m["topic"] == "orderbook.200.BTCUSDT");
        apply_levels(book, &inst, &m);
        let u = m["data"]["u"].as_u64().expect("u");
        let seq = m["data"]["seq"].as_u64().expect("seq");
        states.insert(u, (seq, image_levels(&book.0, true), image_levels(&book.1, false)));
    };
    read_one(&mut ws, &mut book, &mut states);
    let mut rest_us = Vec::new();
    for _ in 0..4 {
        let (status, _, body) = http.get("/v5/market/orderbook?category=spot&symbol=BTCUSDT&limit=200", &[]);
        assert_eq!(status, 200, "{body}");
        let r = json(&body)["result"].clone();
        let u = r["u"].as_u64().expect("u");
        let deadline = Instant::now() + WAIT;
        while states.keys().next_back().is_none_or(|last| *last < u) {
            assert!(Instant::now() < deadline, "the stream never reached the REST book's u {u}");
            read_one(&mut ws, &mut book, &mut states);
        }
        let (seq, bids, asks) = states.get(&u).unwrap_or_else(|| panic!("no stream message with u {u}"));
        assert_eq!(r["seq"].as_u64(), Some(*seq), "seq at u {u}");
        assert_eq!(&rest_levels(&r["b"]), bids, "bids at u {u}");
        assert_eq!(&rest_levels(&r["a"]), asks, "asks at u {u}");
        rest_us.push(u);
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(rest_us.windows(2).any(|w| w[0] < w[1]), "the book moved between REST calls: {rest_us:?}");

    // A second session's snapshot carries a u of the same numbering, with the same book.
    let mut late = client.ws_connect("/v5/public/spot");
    late.send_text(r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#).unwrap();
    assert_eq!(late.recv_json(WAIT).expect("ack")["success"], true);
    let snap = recv_where(&mut late, |m| m["type"] == "snapshot");
    let mut late_book: Image = (BTreeMap::new(), BTreeMap::new());
    apply_levels(&mut late_book, &inst, &snap);
    let u = snap["data"]["u"].as_u64().expect("u");
    let deadline = Instant::now() + WAIT;
    while states.keys().next_back().is_none_or(|last| *last < u) {
        assert!(Instant::now() < deadline, "the first session never reached u {u}");
        read_one(&mut ws, &mut book, &mut states);
    }
    let (seq, bids, asks) = states.get(&u).unwrap_or_else(|| panic!("first session has no u {u}"));
    assert_eq!(snap["data"]["seq"].as_u64(), Some(*seq));
    assert_eq!(&image_levels(&late_book.0, true), bids);
    assert_eq!(&image_levels(&late_book.1, false), asks);
}

/// SOLUSDT as a linear perpetual (tick 0.01, lot 0.1), slow flow, the two accounts.
fn start_linear() -> RunningServer {
    let sol = TestInstrument::spot(Venue::Bybit, "SOLUSDT").assets("SOL", "USDT").lot("0.1");
    let sol = sol.kind(qt_core::InstrumentKind::LinearPerpetual).minimums("0.1", "5").build(0);
    let flow = FlowParams { seed_levels: 80, ..flow(&sol, "150", 20.0) };
    let market = MarketBuilder::new()
        .symbol_with_flow(sol, flow)
        .account(API_KEY, API_SECRET, &[("USDT", "100000")])
        .account(KEY_B, SECRET_B, &[("USDT", "100000")])
        .seed(9)
        .build();
    util::start_sim_with(market, vec![Arc::new(BybitV5::new())])
}

fn linear_order(http: &mut TestClient, server: &RunningServer, side: &str, qty: &str, extra: &str) -> Value {
    let body = format!(
        r#"{{"category":"linear","symbol":"SOLUSDT","side":"{side}","orderType":"Market","qty":"{qty}","positionIdx":0{extra}}}"#
    );
    signed_post(http, server, API_KEY, API_SECRET, "/v5/order/create", &body)
}

fn notional(text: &str) -> qt_core::Notional {
    qt_core::Notional::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A linear market buy opens a one-way long: the private `position` topic and
/// `GET /v5/position/list` show it (side Buy, positionIdx 0, size, entry), the wallet pays the fee;
/// a reduce-only sell larger than the position is trimmed to it and closes it; a reduce-only
/// order with no position is refused with 110017; at the end the USDT wallet is the start plus
/// the position's cumulative realized PnL (closed PnL less fees), on REST and the `wallet` topic.
#[test]
fn linear_orders_open_and_close_a_position() {
    let server = start_linear();
    let client = TestClient::of(&server, "bybit");
    let mut http = TestClient::of(&server, "bybit");
    let mut ws = client.ws_connect("/v5/private");
    private_auth(&mut ws, &server);
    ws.send_text(r#"{"op":"subscribe","args":["order","execution","position","wallet"]}"#).unwrap();
    assert_eq!(ws.recv_json(WAIT).expect("ack")["success"], true);

    let refused = linear_order(&mut http, &server, "Sell", "1", r#","reduceOnly":true"#);
    assert_eq!(
        (ret_code(&refused), refused["retMsg"].as_str()),
        (110017, Some("current position is zero, cannot fix reduce-only order qty")),
        "{refused}"
    );
    assert_eq!(ret_code(&linear_order(&mut http, &server, "Buy", "2", "")), 0);
    let pos = recv_where(&mut ws, |m| m["topic"] == "position" && m["data"][0]["size"] == "2.0");
    let d = &pos["data"][0];
    assert_eq!(
        (d["symbol"].as_str(), d["side"].as_str(), d["positionIdx"].as_i64()),
        (Some("SOLUSDT"), Some("Buy"), Some(0))
    );
    assert_eq!(d["category"], "linear");
    let listed = signed_get(&mut http, &server, "/v5/position/list", "category=linear&symbol=SOLUSDT");
    let p = &listed["result"]["list"][0];
    assert_eq!(
        (p["side"].as_str(), p["size"].as_str(), p["positionIdx"].as_i64()),
        (Some("Buy"), Some("2.0"), Some(0)),
        "{listed}"
    );
    assert_eq!(p["avgPrice"], d["entryPrice"]);
    let doc = |name: &str| -> Value {
        json(
            &std::fs::read_to_string(format!("{}/../testdata/bybit/orders/{name}", env!("CARGO_MANIFEST_DIR")))
                .unwrap(),
        )
    };
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(keys(p), keys(&doc("rest_position_list_response.json")["result"]["list"][0]), "REST keys as documented");
    assert_eq!(keys(d), keys(&doc("ws_private_position.json")["data"][0]), "stream keys as documented");
    let same_side = linear_order(&mut http, &server, "Buy", "1", r#","reduceOnly":true"#);
    assert_eq!(ret_code(&same_side), 110017, "{same_side}");

    let close = linear_order(&mut http, &server, "Sell", "5", r#","reduceOnly":true,"orderLinkId":"close-1""#);
    assert_eq!(ret_code(&close), 0, "{close}");
    let done = recv_where(&mut ws, |m| {
        m["topic"] == "order" && m["data"][0]["orderLinkId"] == "close-1" && m["data"][0]["orderStatus"] == "Filled"
    });
    assert_eq!(
        (done["data"][0]["qty"].as_str(), done["data"][0]["reduceOnly"].as_bool()),
        (Some("2.0"), Some(true)),
        "trimmed to the position: {done}"
    );
    let flat = recv_where(&mut ws, |m| m["topic"] == "position" && m["data"][0]["size"] == "0");
    assert_eq!(flat["data"][0]["side"], "");
    let wallet = recv_where(&mut ws, |m| m["topic"] == "wallet");
    assert!(wallet["data"][0]["coin"].as_array().is_some_and(|c| c.iter().any(|c| c["coin"] == "USDT")), "{wallet}");

    let listed = signed_get(&mut http, &server, "/v5/position/list", "category=linear&settleCoin=USDT");
    assert_eq!(listed["result"]["list"], Value::Array(Vec::new()), "settleCoin lists open positions only: {listed}");
    let p = signed_get(&mut http, &server, "/v5/position/list", "category=linear&symbol=SOLUSDT");
    let realised = notional(p["result"]["list"][0]["cumRealisedPnl"].as_str().unwrap());
    let balance = signed_get(&mut http, &server, "/v5/account/wallet-balance", "accountType=UNIFIED&coin=USDT");
    let usdt = &balance["result"]["list"][0]["coin"][0];
    let start = notional("100000");
    assert_eq!(
        notional(usdt["walletBalance"].as_str().unwrap()),
        start.checked_add(realised).unwrap(),
        "{balance} {p}"
    );
    assert_eq!(usdt["cumRealisedPnl"], p["result"]["list"][0]["cumRealisedPnl"]);
    assert!(!realised.is_zero(), "fees at least: {realised:?}");
    let spot = signed_get(&mut http, &server, "/v5/position/list", "category=spot&symbol=SOLUSDT");
    assert_eq!(ret_code(&spot), 10001, "{spot}");
}
