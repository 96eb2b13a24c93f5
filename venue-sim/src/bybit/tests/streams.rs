//! WebSocket sessions through an in-memory socket: book, trade and ticker streams, faults and the
//! private stream.

use super::*;

// ---- WebSocket sessions through an in-memory socket ----

struct MockWs {
    inbox: Receiver<WsIncoming>,
    outbox: Sender<Vec<u8>>,
    closed: Arc<Mutex<Option<bool>>>,
}

impl WsSession for MockWs {
    fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.outbox.send(text.as_bytes().to_vec()).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
    fn send_raw_text(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.outbox.send(bytes.to_vec()).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
    fn send_ping(&mut self, _payload: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn recv(&mut self, timeout: Duration) -> std::io::Result<Option<WsIncoming>> {
        match self.inbox.recv_timeout(timeout) {
            Ok(m) => Ok(Some(m)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Ok(Some(WsIncoming::Closed)),
        }
    }
    fn close(&mut self, graceful: bool) {
        *self.closed.lock().unwrap() = Some(graceful);
    }
}

struct Client {
    to_server: Option<Sender<WsIncoming>>,
    from_server: Receiver<Vec<u8>>,
    closed: Arc<Mutex<Option<bool>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Client {
    fn open(venue: &Arc<BybitV5>, ctx: &Ctx, path: &str, query: &str) -> Self {
        let (to_server, inbox) = crossbeam_channel::unbounded();
        let (outbox, from_server) = crossbeam_channel::unbounded();
        let closed = Arc::new(Mutex::new(None));
        let mut ws = MockWs { inbox, outbox, closed: closed.clone() };
        let (venue, ctx, path, query) = (venue.clone(), ctx.clone(), path.to_owned(), query.to_owned());
        let thread = std::thread::spawn(move || venue.run_ws(&ctx, &path, &query, &mut ws));
        Self { to_server: Some(to_server), from_server, closed, thread: Some(thread) }
    }

    fn send(&self, text: &str) {
        self.to_server.as_ref().unwrap().send(WsIncoming::Text(text.into())).unwrap();
    }

    fn recv(&self, timeout: Duration) -> Option<String> {
        self.from_server.recv_timeout(timeout).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn recv_json(&self) -> Value {
        let text = self.recv(Duration::from_secs(5)).expect("a message within 5 s");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// The next message for which `f` holds, within 5 s.
    fn recv_where(&self, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let text = self.recv(left).expect("the awaited message within 5 s");
            if let Ok(v) = serde_json::from_str::<Value>(&text)
                && f(&v)
            {
                return v;
            }
        }
    }

    fn closed(&self) -> Option<bool> {
        *self.closed.lock().unwrap()
    }

    fn finish(mut self) {
        self.to_server.take();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// Background flow until the returned flag is set (its own flag: `ctx.stop` would also end
/// the sessions under test before their last push).
struct Flow(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Flow {
    fn stop(mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.1.take() {
            t.join().unwrap();
        }
    }
}

fn flowing(ctx: &Ctx) -> Flow {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = ctx.market.start_flow(stop.clone()).unwrap();
    Flow(stop, Some(handle))
}

/// Applies an orderbook message to a local book (snapshot resets it; size 0 deletes).
fn apply(book: &mut (BTreeMap<i64, i64>, BTreeMap<i64, i64>), inst: &Instrument, m: &Value) {
    if m["type"] == "snapshot" {
        book.0.clear();
        book.1.clear();
    }
    for (side, key) in [(&mut book.0, "b"), (&mut book.1, "a")] {
        for l in m["data"][key].as_array().unwrap() {
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

/// Position of each key's first `"key":` in a JSON text, for field-order checks.
fn key_order(text: &str, keys: &[&str]) -> Vec<usize> {
    keys.iter().map(|k| text.find(&format!("\"{k}\"")).unwrap_or(usize::MAX)).collect()
}

fn ascending(v: &[usize]) -> bool {
    v.windows(2).all(|w| w[0] < w[1]) && !v.contains(&usize::MAX)
}

#[test]
fn spot_book_stream_snapshot_then_deltas_rebuild_the_top_50() {
    let ctx = ctx_of(market(3000.0));
    let venue = Arc::new(BybitV5::new());
    let flow = flowing(&ctx);
    let c = Client::open(&venue, &ctx, SPOT_WS_PATH, "");
    c.send(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"],"req_id":"sub-1"}"#);
    let ack = c.recv_json();
    assert_eq!(keys(&ack), set(&["success", "ret_msg", "conn_id", "req_id", "op"]));
    assert_eq!(
        (ack["success"].as_bool(), ack["ret_msg"].as_str(), ack["req_id"].as_str()),
        (Some(true), Some("subscribe"), Some("sub-1"))
    );
    let inst = ctx.market.instruments()[0].clone();
    let mut book = (BTreeMap::new(), BTreeMap::new());
    let snap_text = c.recv(Duration::from_secs(5)).unwrap();
    let snap: Value = serde_json::from_str(&snap_text).unwrap();
    assert_eq!((snap["topic"].as_str(), snap["type"].as_str()), (Some("orderbook.50.BTCUSDT"), Some("snapshot")));
    assert!(ascending(&key_order(&snap_text, &["topic", "ts", "type", "data", "cts"])), "spot order: {snap_text}");
    apply(&mut book, &inst, &snap);
    let doc = sample_json("depth_update.json");
    let mut u = snap["data"]["u"].as_u64().unwrap();
    let mut deltas = 0;
    let mut trades = 0;
    let mut last_seq = snap["data"]["seq"].as_u64();
    let spot_trade_keys = keys(
        &serde_json::from_str::<Value>(sample("publicTrade_spot.jsonl").lines().next().unwrap()).unwrap()["data"][0],
    );
    while deltas < 100 {
        let text = c.recv(Duration::from_secs(5)).expect("deltas keep coming");
        let m: Value = serde_json::from_str(&text).unwrap();
        if m["topic"] == "publicTrade.BTCUSDT" {
            trades += 1;
            assert_eq!(keys(&m["data"][0]), spot_trade_keys);
            continue;
        }
        assert_eq!(m["type"], "delta");
        assert_eq!(keys(&m), keys(&doc), "{text}");
        assert_eq!(keys(&m["data"]), keys(&doc["data"]));
        assert_eq!(m["data"]["u"].as_u64(), Some(u + 1), "u grows by one per message");
        u += 1;
        let seq = m["data"]["seq"].as_u64();
        assert!(seq >= last_seq, "seq never decreases");
        last_seq = seq;
        apply(&mut book, &inst, &m);
        assert!(book.0.len() <= 50 && book.1.len() <= 50);
        deltas += 1;
    }
    // Align: stop the flow, let the last pushes out, then the view equals the market's top 50
    // at the update id the last message carried as `seq`.
    flow.stop();
    while let Some(text) = c.recv(Duration::from_millis(300)) {
        let m: Value = serde_json::from_str(&text).unwrap();
        if m["topic"] == "orderbook.50.BTCUSDT" {
            apply(&mut book, &inst, &m);
            last_seq = m["data"]["seq"].as_u64();
        }
    }
    let snap = ctx.market.snapshot(0, 50).unwrap();
    // The last push reflects the last update that changed the top 50 (later ones, deeper in
    // the book, produce no delta).
    assert!(last_seq.is_some_and(|s| s <= snap.update_id));
    let bids: Vec<(i64, i64)> = snap.bids.iter().map(|(p, q)| (p.units(), q.units())).collect();
    let asks: Vec<(i64, i64)> = snap.asks.iter().map(|(p, q)| (p.units(), q.units())).collect();
    assert_eq!(book.0.iter().rev().map(|(p, q)| (*p, *q)).collect::<Vec<_>>(), bids);
    assert_eq!(book.1.iter().map(|(p, q)| (*p, *q)).collect::<Vec<_>>(), asks);
    assert!(trades > 0, "trades were pushed too");
    c.finish();
}

#[test]
fn linear_stream_shapes_follow_the_docs() {
    let ctx = ctx_of(market(3000.0));
    let venue = Arc::new(BybitV5::new());
    let flow = flowing(&ctx);
    let c = Client::open(&venue, &ctx, LINEAR_WS_PATH, "");
    c.send(r#"{"op":"subscribe","args":["orderbook.50.SOLUSDT","publicTrade.SOLUSDT","tickers.SOLUSDT"]}"#);
    let ack = c.recv_json();
    let recorded: Value = serde_json::from_str(sample("control.jsonl").lines().next().unwrap()).unwrap();
    assert_eq!(keys(&ack), keys(&recorded), "linear ack as recorded");
    assert_eq!((ack["ret_msg"].as_str(), ack["req_id"].as_str()), (Some(""), Some("")));
    let snap_text = c.recv(Duration::from_secs(5)).unwrap();
    let doc_snapshot = sample("snapshot_ws_orderbook50.json.txt");
    let order = ["topic", "type", "ts", "data", "cts"];
    assert!(ascending(&key_order(&doc_snapshot, &order)));
    assert!(ascending(&key_order(&snap_text, &order)), "futures order: {snap_text}");
    let ticker = c.recv_where(|m| m["topic"] == "tickers.SOLUSDT");
    let doc_ticker = sample_json("ticker_linear.json");
    assert_eq!(keys(&ticker), keys(&doc_ticker));
    assert_eq!(keys(&ticker["data"]), keys(&doc_ticker["data"]));
    let delta_text = loop {
        let t = c.recv(Duration::from_secs(5)).unwrap();
        if t.contains("\"orderbook.50.SOLUSDT\"") {
            break t;
        }
    };
    assert!(ascending(&key_order(&delta_text, &order)));
    let trade = c.recv_where(|m| m["topic"] == "publicTrade.SOLUSDT");
    let doc_trade = sample_json("trade.json");
    let mut expected = keys(&doc_trade["data"][0]);
    expected.insert("RPI".into()); // in the current trade page and every recorded frame
    assert_eq!(keys(&trade["data"][0]), expected);
    let recorded: Value = serde_json::from_str(sample("publicTrade_linear.jsonl").lines().next().unwrap()).unwrap();
    assert_eq!(keys(&trade["data"][0]), keys(&recorded["data"][0]));
    assert_eq!(keys(&trade), keys(&doc_trade));
    assert_eq!(trade["data"][0]["i"].as_str().unwrap().len(), 36);
    c.send(r#"{"op":"ping"}"#);
    let pong = c.recv_where(|m| m["op"] == "ping");
    assert_eq!(keys(&pong), set(&["success", "ret_msg", "conn_id", "req_id", "op"]));
    assert_eq!(pong["ret_msg"], "pong");
    flow.stop();
    c.finish();
}

#[test]
fn subscribe_errors_ping_and_idle_close() {
    let ctx = ctx_of(market(1.0));
    let venue = Arc::new(BybitV5::new().with_idle_timeout(Duration::from_millis(300)));
    let c = Client::open(&venue, &ctx, SPOT_WS_PATH, "");
    c.send(r#"{"op":"subscribe","args":["orderbook.40.BTCUSDT"]}"#);
    assert_eq!(c.recv_json()["success"], false);
    c.send(r#"{"op":"subscribe","args":["orderbook.1.SOLUSDT"]}"#);
    assert_eq!(c.recv_json()["success"], false, "a linear symbol on the spot stream");
    c.send(r#"{"req_id":"100001","op":"ping"}"#);
    let pong = c.recv_json();
    assert_eq!(
        (pong["op"].as_str(), pong["ret_msg"].as_str(), pong["success"].as_bool()),
        (Some("ping"), Some("pong"), Some(true))
    );
    c.send("{not json");
    assert_eq!(c.recv_json()["success"], false);
    c.send(r#"{"op":"subscribe","args":["orderbook.1.BTCUSDT"]}"#);
    assert_eq!(c.recv_json()["success"], true);
    let l1 = c.recv_json();
    assert_eq!(l1["type"], "snapshot");
    assert_eq!(l1["data"]["b"].as_array().unwrap().len(), 1);
    let deadline = Instant::now() + Duration::from_secs(3);
    while c.closed().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.closed(), Some(true), "an idle client is closed");
    c.finish();
}

#[test]
fn faults_skip_a_sequence_and_corrupt_frames() {
    let ctx = ctx_of(market(3000.0));
    let venue = Arc::new(BybitV5::new());
    let flow = flowing(&ctx);
    let c = Client::open(&venue, &ctx, SPOT_WS_PATH, "");
    c.send(r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#);
    c.recv_json();
    let mut u = c.recv_json()["data"]["u"].as_u64().unwrap();
    let next = |c: &Client| c.recv_where(|m| m["type"] == "delta");
    let m = next(&c);
    assert_eq!(m["data"]["u"].as_u64(), Some(u + 1));
    u += 1;
    ctx.faults.skip_sequence(1);
    let m = next(&c);
    assert_eq!(m["data"]["u"].as_u64(), Some(u + 2), "the injected gap");
    u += 2;
    assert_eq!(next(&c)["data"]["u"].as_u64(), Some(u + 1), "then back to steps of one");
    ctx.faults.malformed_frames(1);
    let bad = loop {
        let t = c.recv(Duration::from_secs(5)).unwrap();
        if serde_json::from_str::<Value>(&t).is_err() {
            break t;
        }
    };
    assert!(bad.starts_with('{'));
    ctx.faults.truncated_frames(1);
    loop {
        let t = c.recv(Duration::from_secs(5)).unwrap();
        if serde_json::from_str::<Value>(&t).is_err() {
            assert!(t.starts_with("{\"topic\":\"orderbook.50.BTCUSDT\""), "the first half of a real message: {t}");
            break;
        }
    }
    let g = ctx.faults.ws_generation();
    ctx.faults.drop_ws_connections();
    assert_ne!(g, ctx.faults.ws_generation());
    let deadline = Instant::now() + Duration::from_secs(3);
    while c.closed().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.closed(), Some(false), "a dropped generation closes without a close frame");
    flow.stop();
    c.finish();
}

fn private_auth(c: &Client, ctx: &Ctx, key: &str, secret: &str, expires: i64) -> Value {
    let sig = signing::hmac_sha256_hex(secret, format!("GET/realtime{expires}").as_bytes());
    let _ = ctx;
    c.send(&format!(r#"{{"req_id":"a1","op":"auth","args":["{key}",{expires},"{sig}"]}}"#));
    c.recv_json()
}

#[test]
fn private_stream_reports_a_partial_then_full_fill_in_order() {
    let ctx = ctx_of(market(1.0));
    let venue = Arc::new(BybitV5::new());
    let c = Client::open(&venue, &ctx, PRIVATE_WS_PATH, "");
    c.send(r#"{"op":"subscribe","args":["order"]}"#);
    assert_eq!(c.recv_json()["success"], false, "not before auth");
    let now = ctx.market.now_ms();
    assert_eq!(private_auth(&c, &ctx, KEY, "wrong", now + 10_000)["success"], false);
    assert_eq!(private_auth(&c, &ctx, KEY, SECRET, now - 1)["success"], false, "expired");
    let ok = private_auth(&c, &ctx, KEY, SECRET, now + 10_000);
    assert_eq!(
        (ok["success"].as_bool(), ok["op"].as_str(), ok["req_id"].as_str()),
        (Some(true), Some("auth"), Some("a1"))
    );
    c.send(r#"{"op":"subscribe","args":["order","execution"],"req_id":"s1"}"#);
    let ack = c.recv_json();
    assert_eq!(ack["success"], true, "{ack}");
    c.send(r#"{"req_id":"p1","op":"ping"}"#);
    let pong = c.recv_json();
    assert_eq!(keys(&pong), set(&["req_id", "op", "args", "conn_id"]));
    assert_eq!(pong["op"], "pong");

    // A buys through the best ask level and rests the rest; B then sells into it.
    let snap = ctx.market.snapshot(0, 1).unwrap();
    let (ask, ask_qty) = snap.asks[0];
    let inst = ctx.market.instruments()[0].clone();
    let qty = Qty::from_units(ask_qty.units() + 1000);
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"{}","price":"{}","orderLinkId":"fill-me"}}"#,
        inst.qty_text(qty),
        inst.price_text(ask)
    );
    let r = post(&venue, &ctx, "/v5/order/create", &body);
    assert_eq!(code(&r), 0, "{r}");
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Sell","orderType":"Limit","qty":"{}","price":"{}","timeInForce":"IOC"}}"#,
        inst.qty_text(Qty::from_units(1000)),
        inst.price_text(ask)
    );
    let r = post_as(&venue, &ctx, KEY_B, SECRET_B, "/v5/order/create", &body);
    assert_eq!(code(&r), 0, "{r}");

    let doc_order = sample_json("order_update.json");
    let doc_exec = set(&[
        "category",
        "symbol",
        "execFee",
        "execId",
        "execPrice",
        "execQty",
        "execType",
        "execValue",
        "isMaker",
        "feeRate",
        "tradeIv",
        "markIv",
        "blockTradeId",
        "markPrice",
        "indexPrice",
        "underlyingPrice",
        "leavesQty",
        "orderId",
        "orderLinkId",
        "orderPrice",
        "orderQty",
        "orderType",
        "stopOrderType",
        "side",
        "execTime",
        "isLeverage",
    ]);
    let mut seen = Vec::new();
    let mut exec_qty = 0i64;
    loop {
        let m = c.recv_json();
        let topic = m["topic"].as_str().unwrap().to_owned();
        assert_eq!(keys(&m), keys(&doc_order), "{m}");
        let d = &m["data"][0];
        match topic.as_str() {
            "order" => {
                let mut expected = keys(&doc_order["data"][0]);
                expected.insert("isLeverage".into()); // documented for spot
                assert_eq!(keys(d), expected);
                assert_eq!(d["orderLinkId"], "fill-me");
                seen.push(d["orderStatus"].as_str().unwrap().to_owned());
                if d["orderStatus"] == "Filled" {
                    assert_eq!(d["cumExecQty"].as_str().map(|s| inst.parse_qty(s).unwrap()), Some(qty));
                    assert_eq!(d["leavesQty"], "0");
                    assert_ne!(d["cumExecFee"], "0");
                    break;
                }
            }
            "execution" => {
                assert_eq!(keys(d), doc_exec);
                exec_qty += inst.parse_qty(d["execQty"].as_str().unwrap()).unwrap().units();
                seen.push(format!("exec:{}", d["isMaker"]));
            }
            other => panic!("unexpected topic {other}"),
        }
    }
    assert_eq!(exec_qty, qty.units(), "executions add up to the order");
    assert_eq!(seen.first().map(String::as_str), Some("New"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "PartiallyFilled"), "{seen:?}");
    assert_eq!(seen.iter().rev().nth(1).map(String::as_str), Some("exec:true"), "the last fill is as maker: {seen:?}");
    // Every order state after New follows its execution.
    for (i, s) in seen.iter().enumerate().skip(1) {
        if !s.starts_with("exec") {
            assert!(seen[i - 1].starts_with("exec"), "{seen:?}");
        }
    }
    c.finish();
}

#[test]
fn refused_post_only_reaches_the_private_stream() {
    let ctx = ctx_of(market(1.0));
    let venue = Arc::new(BybitV5::new());
    let c = Client::open(&venue, &ctx, PRIVATE_WS_PATH, "max_active_time=1m");
    assert_eq!(private_auth(&c, &ctx, KEY, SECRET, ctx.market.now_ms() + 5000)["success"], true);
    c.send(r#"{"op":"subscribe","args":["order.spot"]}"#);
    assert_eq!(c.recv_json()["success"], true);
    let (_, ask) = best(&ctx, 0);
    let body = format!(
        r#"{{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"{}","timeInForce":"PostOnly"}}"#,
        px(&ctx, 0, ask)
    );
    assert_eq!(code(&post(&venue, &ctx, "/v5/order/create", &body)), 0);
    let m = c.recv_json();
    assert_eq!(m["data"][0]["orderStatus"], "Rejected");
    assert_eq!(m["data"][0]["rejectReason"], "EC_PostOnlyWillTakeLiquidity");
    c.finish();
}

#[test]
fn helpers_round_trip() {
    assert_eq!(parse_uuid(ORDER_UUID_SALT, &uuid_text(ORDER_UUID_SALT, 123_456_789_012)), Some(123_456_789_012));
    assert_eq!(parse_uuid(ORDER_UUID_SALT, "not-a-uuid"), None);
    assert_eq!(percent_decode("a%2Cb+c%zz"), "a,b c%zz");
    assert_eq!(parse_active_time("1m"), Some(Duration::from_secs(60)));
    assert_eq!(parse_active_time("29s"), None);
    assert_eq!(parse_active_time("x"), None);
    assert_eq!(json_str("a\"b\\\n"), r#""a\"b\\\n""#);
}
