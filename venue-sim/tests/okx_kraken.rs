//! The simulator's OKX v5 (`OkxV5`) and Kraken WS v2 (`KrakenV2`) market data over real TLS on
//! loopback, checked with the shared test client (`tests/util`) against the venue rules rather
//! than against our feed: REST instruments and books, subscribe acks and error events, the
//! ping/pong heartbeats, and snapshots whose checksums are recomputed here from the levels as
//! sent (OKX: top 25 interleaved `px:sz` strings, signed; Kraken: top 10 asks then bids, digits
//! without point and leading zeros, unsigned). Every wait has a deadline.

mod util;

use qt_venue_sim::kraken::KrakenV2;
use qt_venue_sim::okx::OkxV5;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{TestClient, WsClient};

const WAIT: Duration = Duration::from_secs(5);

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The next JSON frame satisfying `want`, skipping others.
fn recv_where(ws: &mut WsClient, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = ws.recv_json(left).unwrap_or_else(|| panic!("no {what} within {WAIT:?}"));
        if want(&v) {
            return v;
        }
    }
}

fn okx_checksum(data: &Value) -> i32 {
    let side = |k: &str| data[k].as_array().unwrap().iter().take(25).cloned().collect::<Vec<_>>();
    let (bids, asks) = (side("bids"), side("asks"));
    let mut parts = Vec::new();
    for i in 0..bids.len().max(asks.len()) {
        for l in [bids.get(i), asks.get(i)].into_iter().flatten() {
            parts.push(format!("{}:{}", l[0].as_str().unwrap(), l[1].as_str().unwrap()));
        }
    }
    crc32fast::hash(parts.join(":").as_bytes()) as i32
}

#[test]
fn okx_rest_instruments_and_books() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new())]);
    let mut c = TestClient::of(&server, "okx");
    let (status, _, body) = c.get("/api/v5/public/instruments", &[]);
    assert_eq!((status, json_of(&body)["code"].as_str()), (400, Some("50014")), "{body}");
    let (status, _, body) = c.get("/api/v5/public/instruments?instType=SPOT", &[]);
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    let btc = v["data"].as_array().unwrap().iter().find(|i| i["instId"] == "BTC-USDT").expect("BTC-USDT").clone();
    assert_eq!(
        (btc["tickSz"].as_str(), btc["lotSz"].as_str(), btc["minSz"].as_str()),
        (Some("0.01"), Some("0.00001"), Some("0.00001"))
    );
    assert_eq!(
        (btc["baseCcy"].as_str(), btc["quoteCcy"].as_str(), btc["state"].as_str()),
        (Some("BTC"), Some("USDT"), Some("live"))
    );
    let (status, _, body) = c.get("/api/v5/public/instruments?instType=SPOT&instId=NOPE-USDT", &[]);
    assert_eq!((status, json_of(&body)["code"].as_str()), (400, Some("51001")), "{body}");
    let (status, _, body) = c.get("/api/v5/market/books?instId=ETH-USDT&sz=5", &[]);
    assert_eq!(status, 200, "{body}");
    let book = &json_of(&body)["data"][0];
    for side in ["bids", "asks"] {
        let levels = book[side].as_array().unwrap();
        assert_eq!(levels.len(), 5, "{body}");
        assert!(levels.iter().all(|l| l.as_array().is_some_and(|l| l.len() == 4)), "[px, sz, \"0\", count]: {body}");
    }
    // The corrupt-level fault is reachable through the control endpoint too.
    let (status, _, body) = c.post("/_sim/faults", &[], r#"{"corrupt_levels":1}"#);
    assert_eq!(status, 200, "{body}");
    assert!(server.faults.take_corrupt_level() && !server.faults.take_corrupt_level());
    let (status, _, body) = c.get("/api/v5/market/books?instId=ETH-USDT&sz=401", &[]);
    assert_eq!((status, json_of(&body)["code"].as_str()), (400, Some("51000")), "{body}");
}

#[test]
fn okx_ws_acks_errors_ping_and_checksummed_books() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new())]);
    let mut ws = util::ws_connect_to(&server, "okx", "/ws/v5/public");
    ws.send_text("ping").unwrap();
    assert_eq!(ws.recv_text(WAIT).as_deref(), Some("pong"));
    ws.send_text("{not json").unwrap();
    let e = recv_where(&mut ws, "an error event", |v| v["event"] == "error");
    assert_eq!(e["code"], "60012", "{e}");
    ws.send_text(r#"{"op":"subscribe","args":[{"channel":"books","instId":"NOPE-USDT"}]}"#).unwrap();
    let e = recv_where(&mut ws, "an error event", |v| v["event"] == "error");
    assert_eq!(e["code"], "60018", "{e}");
    assert!(e["msg"].as_str().is_some_and(|m| m.contains("NOPE-USDT")), "{e}");
    ws.send_text(r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]}"#)
        .unwrap();
    // Each arg is acknowledged; the books ack comes before its snapshot.
    let ack = recv_where(&mut ws, "the books ack", |v| v["event"] == "subscribe" || v["action"] == "snapshot");
    assert_eq!((ack["arg"]["channel"].as_str(), ack["arg"]["instId"].as_str()), (Some("books"), Some("BTC-USDT")));
    let snap = recv_where(&mut ws, "the snapshot", |v| v["action"] == "snapshot");
    recv_where(&mut ws, "the trades ack", |v| v["event"] == "subscribe" && v["arg"]["channel"] == "trades");
    let data = &snap["data"][0];
    assert_eq!(data["prevSeqId"], -1);
    assert_eq!(data["checksum"].as_i64(), Some(i64::from(okx_checksum(data))), "snapshot checksum");
    let mut last_seq = data["seqId"].as_i64().unwrap();
    for _ in 0..5 {
        let up = recv_where(&mut ws, "an update", |v| v["action"] == "update");
        let data = &up["data"][0];
        assert_eq!(data["prevSeqId"].as_i64(), Some(last_seq), "prevSeqId chains: {up}");
        last_seq = data["seqId"].as_i64().unwrap();
    }
    ws.send_text(r#"{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#).unwrap();
    recv_where(&mut ws, "the unsubscribe ack", |v| v["event"] == "unsubscribe");
}

#[test]
fn okx_closes_a_connection_without_traffic() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new().with_idle_timeout(Duration::from_millis(300)))]);
    let mut ws = util::ws_connect_to(&server, "okx", "/ws/v5/public");
    assert!(ws.wait_closed(WAIT), "no subscription and no ping: closed");
}

/// Kraken's v2 checksum of a book item, formatting every number at the pair's precision (here
/// the instrument's scales), from the values: it holds whether or not the text is printed at that
/// precision (the text itself is checked by `kraken::tests` in the crate).
fn kraken_checksum(inst: &qt_core::Instrument, item: &Value) -> u32 {
    let at = |n: &Value, scale: u8| {
        let units = qt_core::decimal::parse_scaled(&n.to_string(), scale).unwrap();
        let text = qt_core::decimal::format_scaled(i128::from(units), scale, qt_core::DecimalStyle::Fixed);
        text.as_str().replace('.', "").trim_start_matches('0').to_string()
    };
    let mut text = String::new();
    for side in ["asks", "bids"] {
        for l in item[side].as_array().unwrap().iter().take(10) {
            text.push_str(&at(&l["price"], inst.price_scale()));
            text.push_str(&at(&l["qty"], inst.qty_scale()));
        }
    }
    crc32fast::hash(text.as_bytes())
}

#[test]
fn kraken_ws_status_acks_errors_ping_and_checksummed_book() {
    let server = util::start_sim(vec![Arc::new(KrakenV2::new())]);
    let mut ws = util::ws_connect_to(&server, "kraken", "/v2");
    let status = recv_where(&mut ws, "the status", |v| v["channel"] == "status");
    assert_eq!(status["data"][0]["system"], "online");
    ws.send_text(r#"{"method":"ping","req_id":7}"#).unwrap();
    let pong = recv_where(&mut ws, "a pong", |v| v["method"] == "pong");
    assert_eq!(pong["req_id"], 7);
    ws.send_text(r#"{"method":"subscribe","params":{"channel":"book","symbol":["NOPE/USD"]}}"#).unwrap();
    let e = recv_where(&mut ws, "a refusal", |v| v["success"] == false);
    assert_eq!(e["symbol"], "NOPE/USD", "{e}");
    ws.send_text(r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT"],"depth":7}}"#).unwrap();
    recv_where(&mut ws, "a depth refusal", |v| v["success"] == false && v["error"] == "Invalid depth");
    ws.send_text(r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USDT","ETH/USDT"],"depth":10}}"#)
        .unwrap();
    let doc: Value = json_of(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/kraken/v2_doc_subscribe_ack.json"))
            .unwrap(),
    );
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    for symbol in ["BTC/USDT", "ETH/USDT"] {
        let ack = recv_where(&mut ws, "an ack", |v| v["success"] == true && v["result"]["symbol"] == symbol);
        assert_eq!(ack["result"]["depth"], 10);
        assert_eq!((keys(&ack), keys(&ack["result"])), (keys(&doc), keys(&doc["result"])), "shaped as the doc's ack");
    }
    let snap = recv_where(&mut ws, "a snapshot", |v| v["channel"] == "book" && v["type"] == "snapshot");
    let item = &snap["data"][0];
    assert_eq!(item["bids"].as_array().map(Vec::len), Some(10));
    let inst = server.market.instruments().iter().find(|i| item["symbol"] == format!("{}/USDT", i.base())).unwrap();
    assert_eq!(item["checksum"].as_u64(), Some(u64::from(kraken_checksum(inst, item))), "snapshot checksum: {snap}");
    recv_where(&mut ws, "an update", |v| {
        v["channel"] == "book" && v["type"] == "update" && v["data"][0]["timestamp"].is_string()
    });
    recv_where(&mut ws, "a heartbeat", |v| v["channel"] == "heartbeat");
}

#[test]
fn okx_and_kraken_serve_their_public_time_with_the_clock_skew_fault() {
    let server = util::start_sim(vec![Arc::new(OkxV5::new()), Arc::new(KrakenV2::new())]);
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut okx = TestClient::of(&server, "okx");
    let mut kraken = TestClient::of(&server, "kraken");
    let okx_ts = |c: &mut TestClient| {
        let (status, _, body) = c.get("/api/v5/public/time", &[]);
        assert_eq!(status, 200, "{body}");
        let v = json_of(&body);
        assert_eq!(v["code"], "0", "{body}");
        v["data"][0]["ts"].as_str().expect("ts is text").parse::<i64>().unwrap()
    };
    let kraken_s = |c: &mut TestClient| {
        let (status, _, body) = c.get("/0/public/Time", &[]);
        assert_eq!(status, 200, "{body}");
        let v = json_of(&body);
        assert_eq!(v["error"], serde_json::json!([]), "{body}");
        let rfc = v["result"]["rfc1123"].as_str().unwrap();
        assert!(rfc.ends_with(" +0000") && rfc.len() == "Thu, 06 Jul 23 18:50:48 +0000".len(), "{rfc}");
        v["result"]["unixtime"].as_i64().unwrap()
    };
    assert!((okx_ts(&mut okx) - now_ms()).abs() < 5_000);
    assert!((kraken_s(&mut kraken) * 1000 - now_ms()).abs() < 5_000);
    // The clock-skew fault moves both (the market's clock).
    let (status, _, body) = okx.post("/_sim/faults", &[], r#"{"clock_skew_ms":-60000}"#);
    assert_eq!(status, 200, "{body}");
    assert!((okx_ts(&mut okx) - now_ms() + 60_000).abs() < 5_000);
    assert!((kraken_s(&mut kraken) * 1000 - now_ms() + 60_000).abs() < 5_000);
    let (status, _, _) = kraken.get("/0/public/NoSuchMethod", &[]);
    assert_eq!(status, 404);
}
