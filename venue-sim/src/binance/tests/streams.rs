//! Streams through an in-memory socket ([`FakeWs`]): diff depth, partial books, live subscriptions, frame faults and execution reports.

use super::*;

/// What a [`FakeWs`] was asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Text(String),
    Raw(Vec<u8>),
    Ping,
    Close(bool),
}

/// A [`WsSession`] on channels: the test feeds client messages and reads what was sent.
struct FakeWs {
    incoming: Receiver<WsIncoming>,
    sent: Sender<Sent>,
    ready: Option<Sender<()>>,
}

impl WsSession for FakeWs {
    fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.sent.send(Sent::Text(text.into())).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
    fn send_raw_text(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sent.send(Sent::Raw(bytes.into())).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
    fn send_ping(&mut self, _payload: &[u8]) -> std::io::Result<()> {
        self.sent.send(Sent::Ping).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
    fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<WsIncoming>> {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        match self.incoming.recv_timeout(timeout) {
            Ok(m) => Ok(Some(m)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(Some(WsIncoming::Closed)),
        }
    }
    fn close(&mut self, graceful: bool) {
        let _ = self.sent.send(Sent::Close(graceful));
    }
}

/// A running session on `path?query`: send client frames with `to_server`, read with
/// `from_server`; it has subscribed its initial streams once `new` returns.
struct Client {
    to_server: Sender<WsIncoming>,
    from_server: Receiver<Sent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Client {
    fn new(venue: &Arc<BinanceSpot>, ctx: &Ctx, path: &str, query: &str) -> Self {
        let (to_server, incoming) = unbounded();
        let (sent, from_server) = unbounded();
        let (ready_tx, ready_rx) = unbounded();
        let (venue, ctx, path, query) = (venue.clone(), ctx.clone(), path.to_string(), query.to_string());
        let thread = std::thread::spawn(move || {
            let mut ws = FakeWs { incoming, sent, ready: Some(ready_tx) };
            venue.run_ws(&ctx, &path, &query, &mut ws);
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        Self { to_server, from_server, thread: Some(thread) }
    }

    fn next(&self, timeout: Duration) -> Option<Sent> {
        self.from_server.recv_timeout(timeout).ok()
    }

    /// The next text frame as JSON (skipping pings).
    fn json(&self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next(deadline.saturating_duration_since(Instant::now()))? {
                Sent::Text(t) => return Some(serde_json::from_str(&t).expect("valid JSON")),
                Sent::Ping => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next text frame whose JSON satisfies `pred`.
    fn json_where(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.json(deadline.saturating_duration_since(Instant::now()))?;
            if pred(&v) {
                return Some(v);
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.to_server.send(WsIncoming::Closed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const WAIT: Duration = Duration::from_secs(3);

fn submit(ctx: &Ctx, account: u16, side: Side, tif: TimeInForce, price: Price, units: i64) -> OrderOutcome {
    ctx.market
        .submit(
            AccountId(account),
            0,
            ClientOrderRequest {
                client_order_id: None,
                side,
                order_type: OrderType::Limit,
                tif,
                price: Some(price),
                qty: Qty::from_units(units),
            },
        )
        .unwrap()
}

#[test]
fn diff_depth_messages_are_consecutive_and_shaped_like_the_docs() {
    let ctx = ctx();
    let venue = Arc::new(BinanceSpot::default());
    let client = Client::new(&venue, &ctx, "/ws/btcusdt@depth@100ms", "");
    let (bid, _) = best(&ctx, 0);
    let sample: Value = serde_json::from_str(DEPTH_UPDATE).unwrap();
    let mut prev_u = None;
    let mut covered = 0;
    for i in 0..6 {
        // Two operations on one new price within the window: the diff carries the last.
        let px = Price::from_units(bid.0.units() - 10_000 - i * 100);
        submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, px, 100);
        submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, px, 50);
        let v = client.json(WAIT).expect("a diff");
        assert_eq!(keys(&v), keys(&sample));
        assert_eq!((v["e"].as_str(), v["s"].as_str()), (Some("depthUpdate"), Some("BTCUSDT")));
        let (first, last) = (v["U"].as_u64().unwrap(), v["u"].as_u64().unwrap());
        if let Some(p) = prev_u {
            assert_eq!(first, p + 1, "consecutive: {v}");
        }
        prev_u = Some(last);
        covered += last - first + 1;
        let level = v["b"].as_array().unwrap().iter().find(|l| l[0] == price_text(&ctx.market.instruments()[0], px));
        if last - first == 1 {
            assert_eq!(level.unwrap()[1], "0.00150000", "aggregated to the final quantity: {v}");
        }
    }
    assert_eq!(covered, 12);
    // A skipped sequence number: the next diff starts two past the last one and lacks the
    // lost operation's level.
    ctx.faults.skip_sequence(1);
    let lost = Price::from_units(bid.0.units() - 20_000);
    let kept = Price::from_units(bid.0.units() - 20_100);
    submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, lost, 100);
    submit(&ctx, 0, Side::Buy, TimeInForce::Gtc, kept, 100);
    let v = client.json(WAIT).expect("a diff after the skip");
    let inst = &ctx.market.instruments()[0];
    let prices: Vec<&str> = v["b"].as_array().unwrap().iter().filter_map(|l| l[0].as_str()).collect();
    assert_eq!(v["U"].as_u64(), Some(prev_u.unwrap() + 2), "{v}");
    assert!(!prices.contains(&price_text(inst, lost).as_str()), "{v}");
    if v["u"] != v["U"] || prices.contains(&price_text(inst, kept).as_str()) {
        assert!(prices.contains(&price_text(inst, kept).as_str()), "{v}");
    }
}

#[test]
fn diff_json_keeps_the_last_quantity_per_price_and_orders_sides() {
    let ctx = ctx();
    let p = |u: i64| Price::from_units(u);
    let op = |id: u64, levels: Vec<(Side, Price, Qty)>| {
        Arc::new(BookUpdate {
            symbol: 0,
            update_id: id,
            ts: Nanos(0),
            levels,
            trades: Vec::new(),
            best_bid: None,
            best_ask: None,
        })
    };
    let q = Qty::from_units;
    let ops = vec![
        op(7, vec![(Side::Buy, p(100), q(5)), (Side::Sell, p(300), q(1))]),
        op(8, vec![(Side::Buy, p(100), q(0)), (Side::Buy, p(200), q(2))]),
        op(9, vec![(Side::Sell, p(250), q(4)), (Side::Sell, p(300), q(3))]),
    ];
    let v: Value = serde_json::from_str(&diff_json(&ctx.market, 0, &ops).unwrap()).unwrap();
    assert_eq!((v["U"].as_u64(), v["u"].as_u64()), (Some(7), Some(9)));
    assert_eq!(v["b"], json!([["2.00000000", "0.00002000"], ["1.00000000", "0.00000000"]]));
    assert_eq!(v["a"], json!([["2.50000000", "0.00004000"], ["3.00000000", "0.00003000"]]));
}

#[test]
fn streams_match_the_documented_and_captured_shapes() {
    let ctx = ctx();
    let venue = Arc::new(BinanceSpot::default());
    let client = Client::new(&venue, &ctx, "/stream", "streams=btcusdt@bookTicker/btcusdt@trade/btcusdt@depth5@100ms");
    let (bid, ask) = best(&ctx, 0);
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
    let ticker = client.json_where(WAIT, |v| v["stream"] == "btcusdt@bookTicker").expect("bookTicker");
    let trade = client.json_where(WAIT, |v| v["stream"] == "btcusdt@trade").expect("trade");
    let partial = client.json_where(WAIT, |v| v["stream"] == "btcusdt@depth5@100ms").expect("partial depth");
    assert_eq!(keys(&ticker), ["data", "stream"].map(String::from).into());
    assert_eq!(keys(&ticker["data"]), keys(&serde_json::from_str(BOOK_TICKER).unwrap()));
    assert_eq!(keys(&trade["data"]), keys(&serde_json::from_str(TRADE).unwrap()));
    assert_eq!(keys(&partial["data"]), keys(&serde_json::from_str(PARTIAL_DEPTH).unwrap()));
    assert_eq!(partial["data"]["bids"].as_array().map(Vec::len), Some(5));
    assert_eq!(trade["data"]["m"], false, "the buyer took liquidity");
    assert_eq!(trade["data"]["p"], price_text(&ctx.market.instruments()[0], ask.0));
    assert_eq!(ticker["data"]["b"], price_text(&ctx.market.instruments()[0], bid.0));
    // The captured production frames have the same keys (bookTicker, depthUpdate).
    let captured: Value = serde_json::from_str(CAPTURED_BOOK_TICKER.lines().next().unwrap()).unwrap();
    assert_eq!(keys(&captured), keys(&ticker));
    assert_eq!(keys(&captured["data"]), keys(&ticker["data"]));
    let captured: Value = serde_json::from_str(CAPTURED_DEPTH.lines().next().unwrap()).unwrap();
    assert_eq!(keys(&captured["data"]), keys(&serde_json::from_str(DEPTH_UPDATE).unwrap()));
}

#[test]
fn live_subscriptions_and_control_errors() {
    let ctx = ctx();
    let venue = Arc::new(BinanceSpot::default());
    let client = Client::new(&venue, &ctx, "/ws", "");
    let send = |t: &str| client.to_server.send(WsIncoming::Text(t.into())).unwrap();
    send(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@depth"],"id":1}"#);
    assert_eq!(client.json(WAIT), Some(json!({ "result": null, "id": 1 })));
    send(r#"{"method":"LIST_SUBSCRIPTIONS","id":"ab3"}"#);
    assert_eq!(client.json(WAIT), Some(json!({ "result": ["btcusdt@trade", "ethusdt@depth"], "id": "ab3" })));
    send(r#"{"method":"UNSUBSCRIBE","params":["ethusdt@depth"],"id":2}"#);
    assert_eq!(client.json(WAIT), Some(json!({ "result": null, "id": 2 })));
    send(r#"{"method":"GET_PROPERTY","params":["combined"],"id":3}"#);
    assert_eq!(client.json(WAIT), Some(json!({ "result": false, "id": 3 })));
    send(r#"{"method":"SET_PROPERTY","params":["combined",true],"id":4}"#);
    assert_eq!(client.json(WAIT), Some(json!({ "result": null, "id": 4 })));
    send(r#"{"method":"SET_PROPERTY","params":["combined","yes"],"id":5}"#);
    assert_eq!(client.json(WAIT), Some(json!({ "code": 1, "msg": "Invalid value type: expected Boolean", "id": 5 })));
    send(r#"{"method":"SUBSCRIBE","params":["BTCUSDT@trade"],"id":6}"#);
    assert_eq!(client.json(WAIT).unwrap()["code"], 2);
    send("{not json");
    let v = client.json(WAIT).unwrap();
    assert_eq!(v["code"], 3);
    assert!(v["msg"].as_str().unwrap().starts_with("Invalid JSON: "), "{v}");
    send(r#"{"method":"FETCH","id":7}"#);
    let v = client.json(WAIT).unwrap();
    assert_eq!(v["code"], 2);
    assert!(v["msg"].as_str().unwrap().starts_with("Invalid request: unknown variant `FETCH`"), "{v}");
    send(r#"{"method":"LIST_SUBSCRIPTIONS"}"#);
    assert_eq!(
        client.json(WAIT),
        Some(json!({ "code": 2, "msg": "Invalid request: request ID must be an unsigned integer" }))
    );
    // Now combined: a trade arrives wrapped.
    let (_, ask) = best(&ctx, 0);
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
    let v = client.json(WAIT).unwrap();
    assert_eq!(v["stream"], "btcusdt@trade");
    assert_eq!(v["data"]["e"], "trade");
}

#[test]
fn frame_faults_pings_and_drops() {
    let ctx = ctx();
    let venue = Arc::new(BinanceSpot::new(BinanceLimits {
        ws_ping_interval: Duration::from_millis(50),
        ..BinanceLimits::default()
    }));
    let client = Client::new(&venue, &ctx, "/ws/btcusdt@trade", "");
    let (_, ask) = best(&ctx, 0);
    let next_data = |client: &Client| loop {
        match client.next(WAIT).expect("a frame") {
            Sent::Ping => continue,
            other => return other,
        }
    };
    ctx.faults.malformed_frames(1);
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
    let Sent::Raw(bytes) = next_data(&client) else { panic!("a raw frame") };
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    ctx.faults.truncated_frames(1);
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
    let Sent::Raw(bytes) = next_data(&client) else { panic!("a raw frame") };
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    assert!(bytes.starts_with(b"{\"E\":") || bytes.starts_with(b"{\""), "{}", String::from_utf8_lossy(&bytes));
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
    let Sent::Text(t) = next_data(&client) else { panic!("a text frame") };
    assert_eq!(serde_json::from_str::<Value>(&t).unwrap()["e"], "trade");
    // Pings keep coming.
    let pinged = (0..20).any(|_| client.next(Duration::from_millis(200)) == Some(Sent::Ping));
    assert!(pinged);
    // A stall holds everything back (pings included); once it ends, the trade arrives.
    ctx.faults.stall_ws_for(Duration::from_secs(60));
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 10);
    while client.next(Duration::ZERO).is_some() {}
    assert_eq!(client.next(Duration::from_millis(200)), None);
    ctx.faults.clear();
    let Sent::Text(t) = next_data(&client) else { panic!("a text frame") };
    assert_eq!(serde_json::from_str::<Value>(&t).unwrap()["e"], "trade");
    // Dropping connections closes the session without a close frame.
    ctx.faults.drop_ws_connections();
    let closed = (0..100).find_map(|_| match client.next(Duration::from_millis(100)) {
        Some(Sent::Close(graceful)) => Some(graceful),
        _ => None,
    });
    assert_eq!(closed, Some(false));
}

#[test]
fn execution_reports_follow_a_partial_then_complete_fill() {
    let ctx = ctx();
    let venue = Arc::new(BinanceSpot::default());
    let (_, key) = call(&venue, &ctx, &request("POST", "/api/v3/userDataStream", "", "", Some(DOC_KEY)));
    let key = key["listenKey"].as_str().unwrap().to_string();
    let client = Client::new(&venue, &ctx, &format!("/ws/{key}"), "");
    let inst = ctx.market.instruments()[0].clone();
    let (_, ask) = best(&ctx, 0);
    // Our sell joins the best ask behind the background orders there.
    let params =
        format!("symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={}", btc_text(ask.0));
    let (status, placed) = call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", &params));
    assert_eq!(status, 200, "{placed}");
    let is_report = |v: &Value| v["e"] == "executionReport";
    let new = client.json_where(WAIT, is_report).expect("NEW");
    let sample: Value = serde_json::from_str(ORDER_UPDATE).unwrap();
    let mut expected = keys(&sample["event"]);
    // `v` (prevented match id) only appears when self-trade prevention expired the order.
    expected.remove("v");
    assert_eq!(keys(&new), expected);
    assert_eq!((new["x"].as_str(), new["X"].as_str(), new["w"].as_bool()), (Some("NEW"), Some("NEW"), Some(true)));
    assert_eq!(new["i"], placed["orderId"]);
    assert_eq!(new["c"], placed["clientOrderId"]);
    assert_eq!(new["q"], "0.00100000");
    // The taker account takes the background quantity plus 40 of our 100 lots, then the rest.
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, ask.1.units() + 40);
    submit(&ctx, 1, Side::Buy, TimeInForce::Ioc, ask.0, 60);
    let first = client.json_where(WAIT, is_report).expect("first TRADE");
    let second = client.json_where(WAIT, is_report).expect("second TRADE");
    let px = price_text(&inst, ask.0);
    let fields =
        |v: &Value| [v["x"].clone(), v["X"].clone(), v["l"].clone(), v["z"].clone(), v["L"].clone(), v["m"].clone()];
    assert_eq!(
        fields(&first),
        [json!("TRADE"), json!("PARTIALLY_FILLED"), json!("0.00040000"), json!("0.00040000"), json!(px), json!(true)]
    );
    assert_eq!(
        fields(&second),
        [json!("TRADE"), json!("FILLED"), json!("0.00060000"), json!("0.00100000"), json!(px), json!(true)]
    );
    assert_eq!(keys(&first), expected);
    assert_eq!(first["N"], "USDT");
    assert!(first["t"].as_i64().unwrap() > 0);
    assert_eq!(second["w"], false);
    // Z is the cumulative quote: price × filled.
    let z = inst.notional(ask.0, Qty::from_units(100), qt_core::Rounding::Nearest).unwrap();
    assert_eq!(second["Z"], amount_text(z));
    // Balances follow on the same stream.
    let pos = client.json_where(WAIT, |v| v["e"] == "outboundAccountPosition").expect("balances");
    assert_eq!(keys(&pos), ["B", "E", "e", "u"].map(String::from).into());
    assert_eq!(keys(&pos["B"][0]), ["a", "f", "l"].map(String::from).into());
    // A user cancel carries the cancel's client id as c and the order's as C.
    let (bid_now, _) = best(&ctx, 0);
    let params = format!(
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.00100&price={}&newClientOrderId=rest1",
        btc_text(Price::from_units(bid_now.0.units() - 1000))
    );
    call(&venue, &ctx, &signed(&ctx, "POST", "/api/v3/order", &params));
    call(
        &venue,
        &ctx,
        &signed(&ctx, "DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=rest1&newClientOrderId=kill1"),
    );
    let cancel = client.json_where(WAIT, |v| is_report(v) && v["x"] == "CANCELED").expect("CANCELED");
    assert_eq!(
        (cancel["c"].as_str(), cancel["C"].as_str(), cancel["X"].as_str()),
        (Some("kill1"), Some("rest1"), Some("CANCELED"))
    );
    // A closed listen key ends the stream with listenKeyExpired.
    call(&venue, &ctx, &request("DELETE", "/api/v3/userDataStream", &format!("listenKey={key}"), "", Some(DOC_KEY)));
    let expired = client.json_where(WAIT, |v| v["e"] == "listenKeyExpired").expect("listenKeyExpired");
    assert_eq!(expired["listenKey"], key.as_str());
}

#[test]
fn unknown_streams_and_listen_keys_close_the_session() {
    let ctx = ctx();
    let venue = Arc::new(BinanceSpot::default());
    for path in ["/ws/btcusdt@kline_1m", "/ws/notakey", "/ws/BTCUSDT@trade", "/ws/xrpusdt@trade"] {
        let client = Client::new(&venue, &ctx, path, "");
        assert_eq!(client.next(WAIT), Some(Sent::Close(true)), "{path}");
    }
    assert!(venue.is_ws_path("/ws/btcusdt@trade") && venue.is_ws_path("/stream") && !venue.is_ws_path("/api/v3/time"));
}
