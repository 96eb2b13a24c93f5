//! Binance spot over real TLS loopback sockets: a client that follows Binance's documented
//! procedures (signing, "How to manage a local order book correctly", listen keys) against a
//! running simulator with [`BinanceSpot`].
//!
//! The local order book procedure is first checked against production data captured from
//! Binance (`testdata/binance_spot/`), so a failure against the simulator points at the
//! simulator, not at the test's client.

mod util;

use qt_core::{InstrumentKind, Venue};
use qt_test_support::market::{MarketBuilder, flow, usdt_instrument};
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::market::Market;
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::RunningServer;
use qt_venue_sim::signing::hmac_sha256_hex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use util::{API_KEY, API_SECRET, TestClient, WsClient, header, start_sim, start_sim_with};

/// The second account of [`quiet_market`], the taker in fill tests.
const TAKER_KEY: &str = "taker-key";
const TAKER_SECRET: &str = "taker-secret";

const CAPTURED_SNAPSHOT: &str = include_str!("../../testdata/binance_spot/snapshot_NKNUSDT.json");
const CAPTURED_DEPTH: &str = include_str!("../../testdata/binance_spot/depth.jsonl");

fn binance() -> Vec<Arc<dyn Protocol>> {
    vec![Arc::new(BinanceSpot::default())]
}

/// BTCUSDT like the shared test market but with slow background flow (`events_per_sec`) and
/// no background taker orders, and two accounts (`API_KEY`, `TAKER_KEY`).
fn quiet_market(events_per_sec: f64) -> Arc<Market> {
    let instrument = usdt_instrument(Venue::Binance, 0, "BTCUSDT", "BTC", "0.00001", InstrumentKind::Spot);
    let flow = FlowParams { market_weight: 0.0, ..flow(&instrument, "65000", events_per_sec) };
    let balances = [("USDT", "1000000"), ("BTC", "10")];
    MarketBuilder::new()
        .symbol_with_flow(instrument, flow)
        .account(API_KEY, API_SECRET, &balances)
        .account(TAKER_KEY, TAKER_SECRET, &balances)
        .seed(5)
        .build()
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// `params&timestamp=..&signature=..`, signed as Binance documents (HMAC-SHA256 hex of the
/// parameters as sent).
fn sign(params: &str, secret: &str) -> String {
    let sep = if params.is_empty() { "" } else { "&" };
    let payload = format!("{params}{sep}timestamp={}", now_ms());
    format!("{payload}&signature={}", hmac_sha256_hex(secret, payload.as_bytes()))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A decimal string as an integer count of 1e-8 (Binance's 8 decimals; the simulator's own
/// endpoint uses the instrument's decimals, so texts are compared by value).
fn units(text: &str) -> i128 {
    qt_core::decimal::parse_scaled_i128(text.as_bytes(), 8).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn levels(v: &Value) -> BTreeMap<i128, i128> {
    v.as_array()
        .expect("levels")
        .iter()
        .map(|l| (units(l[0].as_str().expect("price")), units(l[1].as_str().expect("qty"))))
        .collect()
}

/// A local order book kept by Binance's documented procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LocalBook {
    bids: BTreeMap<i128, i128>,
    asks: BTreeMap<i128, i128>,
    update_id: u64,
}

impl LocalBook {
    /// "Set your local order book to the snapshot. Its update ID is lastUpdateId."
    fn from_snapshot(snap: &Value) -> Self {
        Self {
            bids: levels(&snap["bids"]),
            asks: levels(&snap["asks"]),
            update_id: snap["lastUpdateId"].as_u64().expect("lastUpdateId"),
        }
    }

    /// Applies one `depthUpdate`: "each level carries the absolute quantity; 0 removes it", then
    /// "set your order book update ID to u".
    fn apply(&mut self, ev: &Value) {
        for (key, book) in [("b", &mut self.bids), ("a", &mut self.asks)] {
            for (p, q) in levels(&ev[key]) {
                if q == 0 {
                    book.remove(&p);
                } else {
                    book.insert(p, q);
                }
            }
        }
        self.update_id = ev["u"].as_u64().expect("u");
    }

    fn crossed(&self) -> bool {
        matches!((self.bids.keys().next_back(), self.asks.keys().next()), (Some(b), Some(a)) if b >= a)
    }
}

/// What happened to an event offered to a synchronised book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Applied,
    /// "If the event's last update ID (u) is < your local order book's update ID, ignore it."
    Ignored,
    /// "If the event's first update ID (U) is > your local order book's update ID + 1 ...
    /// discard your local order book and restart."
    Gap,
}

fn step(book: &mut LocalBook, ev: &Value) -> Step {
    let (first, last) = (ev["U"].as_u64().expect("U"), ev["u"].as_u64().expect("u"));
    if last <= book.update_id {
        return Step::Ignored;
    }
    if first > book.update_id + 1 {
        return Step::Gap;
    }
    book.apply(ev);
    Step::Applied
}

/// Bridges a snapshot with buffered events: drop `u <= lastUpdateId`; the first remaining one
/// must have `lastUpdateId` within `[U; u]` (in update ids: `U <= lastUpdateId + 1 <= u`); apply
/// the rest in order. Returns the book and the bridging event's `(U, u)`.
fn bridge(snapshot: &Value, buffered: &[Value]) -> Result<(LocalBook, (u64, u64)), String> {
    let mut book = LocalBook::from_snapshot(snapshot);
    let start = book.update_id;
    let mut rest = buffered.iter().filter(|ev| ev["u"].as_u64().is_some_and(|u| u > start));
    let first = rest.next().ok_or("no event after the snapshot yet")?;
    let (fu, lu) = (first["U"].as_u64().unwrap_or(0), first["u"].as_u64().unwrap_or(0));
    if !(fu <= start + 1 && start < lu) {
        return Err(format!("snapshot {start} does not bridge into the first event {fu}..{lu}"));
    }
    book.apply(first);
    for ev in rest {
        match step(&mut book, ev) {
            Step::Applied | Step::Ignored => {}
            Step::Gap => return Err(format!("gap at U={} after {}", ev["U"], book.update_id)),
        }
    }
    Ok((book, (fu, lu)))
}

#[test]
fn the_local_book_procedure_holds_on_captured_binance_data() {
    // Production frames of `nknusdt@depth@100ms` and the REST snapshot taken during them
    // (testdata/binance_spot/README.md); the capture's own verification says the snapshot
    // bridges at 499869753..499869754 and no event after it gaps.
    let snapshot = json(CAPTURED_SNAPSHOT);
    let events: Vec<Value> = CAPTURED_DEPTH
        .lines()
        .map(json)
        .filter(|f| f["stream"] == "nknusdt@depth@100ms")
        .map(|f| f["data"].clone())
        .collect();
    assert_eq!(events.len(), 150);
    let (book, bridge_ids) = bridge(&snapshot, &events).expect("the captured snapshot bridges");
    assert_eq!(bridge_ids, (499_869_753, 499_869_754));
    assert_eq!(book.update_id, events.last().and_then(|e| e["u"].as_u64()).unwrap_or(0));
    assert!(!book.crossed());
    // The gap check fires when an event is missing.
    let mut missing = events.clone();
    missing.remove(10);
    assert!(bridge(&snapshot, &missing).is_err_and(|e| e.starts_with("gap")));
}

/// Reads frames until `deadline`, buffering `depthUpdate` events.
fn read_diffs(ws: &mut WsClient, buffer: &mut Vec<Value>, deadline: Instant) {
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.recv_json(left.min(Duration::from_millis(50))) {
            Some(v) if v["e"] == "depthUpdate" => buffer.push(v),
            Some(_) => {}
            None if ws.is_closed() => panic!("stream ended: {:?}", ws.closed_by()),
            None => {}
        }
    }
}

#[test]
fn rest_snapshot_and_diffs_rebuild_the_simulators_book() {
    let server = start_sim_with(quiet_market(50.0), binance());
    let mut rest = TestClient::of(&server, "binance");
    let mut ws = rest.ws_connect("/ws/btcusdt@depth@100ms");
    // 1. Buffer the stream; 2. take the snapshot once the first event is known.
    let mut buffer = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    while buffer.is_empty() && Instant::now() < give_up {
        read_diffs(&mut ws, &mut buffer, Instant::now() + Duration::from_millis(100));
    }
    let first_u = buffer.first().and_then(|e| e["U"].as_u64()).expect("a first diff");
    let snapshot = loop {
        let (status, headers, body) = rest.get("/api/v3/depth?symbol=BTCUSDT&limit=5000", &[]);
        assert_eq!(status, 200, "{body}");
        assert!(header(&headers, "x-mbx-used-weight-1m").is_some());
        let snap = json(&body);
        // "If the snapshot's lastUpdateId is strictly less than U from step 2, go back to step 3."
        if snap["lastUpdateId"].as_u64().is_some_and(|id| id >= first_u) {
            break snap;
        }
        read_diffs(&mut ws, &mut buffer, Instant::now() + Duration::from_millis(50));
    };
    let mut book = loop {
        match bridge(&snapshot, &buffer) {
            Ok((book, _)) => break book,
            Err(e) if e.starts_with("no event") => {
                read_diffs(&mut ws, &mut buffer, Instant::now() + Duration::from_millis(100));
            }
            Err(e) => panic!("{e}"),
        }
    };
    // Keep applying; right after each diff, ask the simulator for its book and compare when
    // its update id is the diff's `u`.
    let mut compared = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while compared < 3 && Instant::now() < deadline {
        let Some(ev) = ws.recv_json(Duration::from_millis(500)) else { continue };
        if ev["e"] != "depthUpdate" {
            continue;
        }
        assert_eq!(ev["U"].as_u64(), Some(book.update_id + 1), "consecutive diffs");
        assert_eq!(step(&mut book, &ev), Step::Applied);
        assert!(!book.crossed(), "crossed after {ev}");
        let (status, _, body) = rest.get("/_sim/book?symbol=BTCUSDT&depth=5000", &[]);
        assert_eq!(status, 200, "{body}");
        let sim = json(&body);
        if sim["updateId"].as_u64() == Some(book.update_id) {
            assert_eq!(levels(&sim["bids"]), book.bids, "bids at update {}", book.update_id);
            assert_eq!(levels(&sim["asks"]), book.asks, "asks at update {}", book.update_id);
            compared += 1;
        }
    }
    assert!(compared >= 1, "never caught the simulator at a diff boundary");
}

fn place(rest: &mut TestClient, params: &str, key: &str, secret: &str) -> (u16, Value) {
    let (status, headers, body) = rest.post("/api/v3/order", &[("X-MBX-APIKEY", key)], &sign(params, secret));
    assert!(header(&headers, "x-mbx-used-weight-1m").is_some(), "weight header on {body}");
    (status, json(&body))
}

/// The best bid and ask of BTCUSDT, as Binance's price texts and values.
fn top(rest: &mut TestClient) -> ((String, i128), (String, i128)) {
    let (_, _, body) = rest.get("/api/v3/depth?symbol=BTCUSDT&limit=5", &[]);
    let v = json(&body);
    let side = |k: &str| {
        let l = &v[k][0];
        (l[0].as_str().expect("price").to_string(), units(l[1].as_str().expect("qty")))
    };
    (side("bids"), side("asks"))
}

/// `units` (1e-8) as a BTCUSDT price text (2 decimals).
fn price_2dp(u: i128) -> String {
    qt_core::decimal::format_scaled(u / 1_000_000, 2, qt_core::DecimalStyle::Fixed).to_string()
}

#[test]
fn a_signed_limit_order_is_placed_and_cancelled() {
    let server = start_sim(binance());
    let mut rest = TestClient::of(&server, "binance");
    let ((bid, _), _) = top(&mut rest);
    let price = price_2dp(units(&bid) - 100_000_000_000);
    let (status, placed) = place(
        &mut rest,
        &format!(
            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price={price}&newClientOrderId=it-1"
        ),
        API_KEY,
        API_SECRET,
    );
    assert_eq!(status, 200, "{placed}");
    assert_eq!((placed["status"].as_str(), placed["clientOrderId"].as_str()), (Some("NEW"), Some("it-1")));
    let id = placed["orderId"].as_u64().expect("orderId");
    let auth = [("X-MBX-APIKEY", API_KEY)];
    let (status, _, body) = rest.get(&format!("/api/v3/openOrders?{}", sign("symbol=BTCUSDT", API_SECRET)), &auth);
    assert_eq!(status, 200, "{body}");
    assert!(json(&body).as_array().expect("orders").iter().any(|o| o["orderId"].as_u64() == Some(id)));
    let (status, _, body) =
        rest.delete(&format!("/api/v3/order?{}", sign(&format!("symbol=BTCUSDT&orderId={id}"), API_SECRET)), &auth, "");
    assert_eq!(status, 200, "{body}");
    let cancelled = json(&body);
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["origClientOrderId"].as_str()),
        (Some("CANCELED"), Some("it-1"))
    );
    let (status, _, body) =
        rest.get(&format!("/api/v3/order?{}", sign("symbol=BTCUSDT&origClientOrderId=it-1", API_SECRET)), &auth);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["status"], "CANCELED");
    let (status, _, body) =
        rest.delete(&format!("/api/v3/order?{}", sign(&format!("symbol=BTCUSDT&orderId={id}"), API_SECRET)), &auth, "");
    assert_eq!((status, json(&body)["code"].as_i64()), (400, Some(-2011)));
}

#[test]
fn a_wrongly_signed_order_is_400_1022() {
    let server = start_sim(binance());
    let mut rest = TestClient::of(&server, "binance");
    let signed = sign("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=60000", "not-the-secret");
    let (status, headers, body) = rest.post("/api/v3/order", &[("X-MBX-APIKEY", API_KEY)], &signed);
    assert_eq!(status, 400);
    assert_eq!(json(&body), serde_json::json!({ "code": -1022, "msg": "Signature for this request is not valid." }));
    assert_eq!(header(&headers, "x-mbx-used-weight-1m"), Some("1"));
}

#[test]
fn an_off_tick_price_is_1013_price_filter() {
    let server = start_sim(binance());
    let mut rest = TestClient::of(&server, "binance");
    let (status, v) = place(
        &mut rest,
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=60000.005",
        API_KEY,
        API_SECRET,
    );
    assert_eq!((status, v), (400, serde_json::json!({ "code": -1013, "msg": "Filter failure: PRICE_FILTER" })));
}

/// Opens the listen key stream of `key` and waits until the session answers (so it is
/// subscribed before the test trades).
fn user_stream(server: &RunningServer, rest: &mut TestClient, key: &str) -> WsClient {
    let (status, _, body) = rest.post("/api/v3/userDataStream", &[("X-MBX-APIKEY", key)], "");
    assert_eq!(status, 200, "{body}");
    let listen_key = json(&body)["listenKey"].as_str().expect("listenKey").to_string();
    let mut ws = TestClient::of(server, "binance").ws_connect(&format!("/ws/{listen_key}"));
    ws.send_text(r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#).expect("send");
    let reply = ws.recv_json(Duration::from_secs(30)).expect("the session answers");
    assert_eq!(reply["result"][0], listen_key.as_str());
    ws
}

fn next_report(ws: &mut WsClient) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = ws.recv_json(deadline.saturating_duration_since(Instant::now())).expect("an executionReport");
        if v["e"] == "executionReport" {
            return v;
        }
    }
}

#[test]
fn a_partial_then_complete_fill_streams_new_trade_trade_and_my_trades_lists_both() {
    let server = start_sim_with(quiet_market(1.0), binance());
    let mut rest = TestClient::of(&server, "binance");
    let mut ws = user_stream(&server, &mut rest, API_KEY);
    let ((bid, _), (ask, ask_qty)) = top(&mut rest);
    let tick = 1_000_000; // 0.01 in 1e-8 units
    // Alone at a new best ask inside the spread if there is room, else behind the ask queue.
    let (price, ahead) = if units(&ask) - units(&bid) >= 2 * tick {
        (price_2dp(units(&ask) - tick), 0)
    } else {
        (price_2dp(units(&ask)), ask_qty)
    };
    let (status, placed) = place(
        &mut rest,
        &format!("symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={price}"),
        API_KEY,
        API_SECRET,
    );
    assert_eq!(status, 200, "{placed}");
    let new = next_report(&mut ws);
    assert_eq!((new["x"].as_str(), new["X"].as_str()), (Some("NEW"), Some("NEW")), "{new}");
    assert_eq!(new["i"], placed["orderId"]);
    // The taker buys what is ahead of us plus 40 of our 100 lots, then the other 60.
    let qty = |u: i128| qt_core::decimal::format_scaled(u, 8, qt_core::DecimalStyle::Fixed).to_string();
    for lots in [ahead + 40_000, 60_000] {
        let params = format!("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity={}&price={price}", qty(lots));
        let (status, v) = place(&mut rest, &params, TAKER_KEY, TAKER_SECRET);
        assert_eq!((status, v["status"].as_str()), (200, Some("FILLED")), "{v}");
    }
    let partial = next_report(&mut ws);
    let filled = next_report(&mut ws);
    let px = format!("{price}000000");
    let fields = |v: &Value| {
        (
            v["x"].as_str().map(String::from),
            v["X"].as_str().map(String::from),
            v["l"].clone(),
            v["z"].clone(),
            v["L"].clone(),
        )
    };
    let s = |t: &str| Some(t.to_string());
    assert_eq!(
        fields(&partial),
        (s("TRADE"), s("PARTIALLY_FILLED"), "0.00040000".into(), "0.00040000".into(), px.clone().into())
    );
    assert_eq!(fields(&filled), (s("TRADE"), s("FILLED"), "0.00060000".into(), "0.00100000".into(), px.into()));
    assert_eq!((partial["m"].as_bool(), filled["m"].as_bool()), (Some(true), Some(true)));
    assert!(filled["t"].as_i64() > partial["t"].as_i64());
    my_trades_match_the_stream(&server, &mut rest, &placed, &[partial, filled]);
}

/// `GET /api/v3/myTrades` lists the order's trades as the stream reported them (same ids,
/// quantities, commission), weight 5 with `orderId` and 20 without; bad combinations are -1128.
fn my_trades_match_the_stream(server: &RunningServer, rest: &mut TestClient, placed: &Value, stream: &[Value]) {
    let auth = [("X-MBX-APIKEY", API_KEY)];
    let id = placed["orderId"].as_u64().expect("orderId");
    let query = |rest: &mut TestClient, params: &str| {
        let (status, headers, body) = rest.get(&format!("/api/v3/myTrades?{}", sign(params, API_SECRET)), &auth);
        let weight: u32 = header(&headers, "x-mbx-used-weight-1m").and_then(|w| w.parse().ok()).unwrap_or(0);
        (status, weight, json(&body))
    };
    let (status, w1, trades) = query(rest, &format!("symbol=BTCUSDT&orderId={id}"));
    assert_eq!(status, 200, "{trades}");
    let trades = trades.as_array().expect("a list").clone();
    assert_eq!(trades.len(), stream.len(), "{trades:?}");
    for (t, ev) in trades.iter().zip(stream) {
        assert_eq!((&t["id"], &t["orderId"], &t["qty"], &t["price"]), (&ev["t"], &ev["i"], &ev["l"], &ev["L"]), "{t}");
        assert_eq!((&t["commission"], &t["commissionAsset"]), (&ev["n"], &ev["N"]), "{t}");
        assert_eq!(
            (t["isMaker"].as_bool(), t["isBuyer"].as_bool(), t["time"].as_i64()),
            (Some(true), Some(false), ev["T"].as_i64())
        );
        assert!(t["commission"].as_str().is_some_and(|c| c != "0.00000000"), "maker fee charged: {t}");
    }
    // All the account's trades on the symbol: weight 20 (5 above); fromId selects from an id.
    let (status, w2, all) = query(rest, "symbol=BTCUSDT");
    assert_eq!((status, all.as_array().map(Vec::len)), (200, Some(2)), "{all}");
    assert!(w2 == w1 + 20 || w2 == 20, "weight {w1} then {w2} (a new minute may start between)");
    let from = format!("symbol=BTCUSDT&fromId={}", stream[1]["t"]);
    assert_eq!(query(rest, &from).2.as_array().map(Vec::len), Some(1));
    let (status, _, bad) = query(rest, &format!("symbol=BTCUSDT&orderId={id}&startTime=1"));
    assert_eq!((status, bad["code"].as_i64()), (400, Some(-1128)), "{bad}");
    let (status, _, bad) = query(rest, "symbol=BTCUSDT&startTime=1&endTime=86400002");
    assert_eq!((status, bad["code"].as_i64()), (400, Some(-1127)), "{bad}");
    // An injected failure of this path only, in process and through `/_sim/faults`.
    server.faults.fail_http_path("/api/v3/myTrades", 1, 503);
    assert_eq!(query(rest, &format!("symbol=BTCUSDT&orderId={id}")).0, 503);
    assert_eq!(query(rest, &format!("symbol=BTCUSDT&orderId={id}")).0, 200);
    let body = r#"{"fail_http":{"count":1,"status":502,"path":"/api/v3/myTrades"}}"#;
    assert_eq!(rest.post("/_sim/faults", &[], body).0, 200);
    assert_eq!(rest.get("/api/v3/time", &[]).0, 200, "other paths are untouched");
    assert_eq!(query(rest, &format!("symbol=BTCUSDT&orderId={id}")).0, 502);
    assert_eq!(query(rest, &format!("symbol=BTCUSDT&orderId={id}")).0, 200);
    let bad = r#"{"fail_http":{"count":1,"path":"api"}}"#;
    assert_eq!(rest.post("/_sim/faults", &[], bad).0, 400, "a path must start with /");
}

#[test]
fn an_injected_sequence_skip_is_detected_as_a_gap() {
    let server = start_sim(binance());
    let mut ws = TestClient::of(&server, "binance").ws_connect("/ws/btcusdt@depth@100ms");
    let mut prev_u = None;
    let mut gap = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut diffs = 0;
    while gap.is_none() && Instant::now() < deadline {
        let Some(ev) = ws.recv_json(Duration::from_millis(500)) else { continue };
        if ev["e"] != "depthUpdate" {
            continue;
        }
        let (first, last) = (ev["U"].as_u64().expect("U"), ev["u"].as_u64().expect("u"));
        if let Some(p) = prev_u
            && first != p + 1
        {
            gap = Some((p, first));
        }
        prev_u = Some(last);
        diffs += 1;
        if diffs == 3 {
            server.faults.skip_sequence(1);
        }
    }
    let (prev, first) = gap.expect("the client saw U != previous u + 1");
    assert_eq!(first, prev + 2, "exactly one update id lost");
    assert!(diffs > 3, "no gap before the fault was injected");
}
