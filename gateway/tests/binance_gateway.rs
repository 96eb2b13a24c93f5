//! Integration tests of the Binance gateway against the venue simulator (`qt-venue-sim`'s
//! `BinanceSpot` protocol) over real TLS sockets on loopback: the gateway thread is driven
//! through real rings exactly as the core drives it, and the venue's market is also traded
//! directly (another account's orders) to produce fills on the user data stream.
//!
//! Runs on the test thread; every wait is bounded (a test that waits on a silent gateway fails
//! instead of hanging), each test well under 10 s.

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use util::{Ends, GW, MAKER_FEE_BPS, TAKER, TAKER_FEE_BPS, WAIT, check_fills};

use qt_core::queue::spsc;
use qt_core::{
    ExecutionReport, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Liquidity, Notional, OrderId, OrderType,
    Price, Qty, RejectReason, ReportKind, Side, TimeInForce, Venue, VenueId,
};
use qt_gateway::binance::account::query_balances;
use qt_gateway::binance::{BinanceGatewayConfig, GatewayStats, UserData, spawn};
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{Market, OrderRef};
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const RUN_ID: u32 = 0x5eed_0001;

fn spec(price_scale: Option<u8>, qty_scale: Option<u8>) -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Binance,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01".into(),
        lot_size: "0.00001".into(),
        min_qty: Some("0.00001".into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale,
        qty_scale,
    }
}

/// The simulator's market: BTCUSDT (tick 0.01, lot 0.00001, min notional 5, mid 65000) with
/// light background flow; account 0 is the gateway's, account 1 a taker trading directly.
fn market() -> Arc<Market> {
    let instrument = Instrument::from_spec(InstrumentId(0), &spec(None, None)).unwrap();
    util::market(instrument, 200.0, &[("USDT", "100000000"), ("BTC", "1000")], 7)
}

/// A simulator, a gateway in front of it, and the core's ends of the rings.
struct Harness {
    server: RunningServer,
    /// The gateway's view of BTCUSDT: Binance's 8 decimals, so off-tick prices can be sent.
    inst: Instrument,
    ends: Ends,
}

impl Harness {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut BinanceGatewayConfig)) -> Self {
        let server = util::start_sim(market(), Arc::new(BinanceSpot::default()), "qt-gateway-binance-tests");
        let inst = Instrument::from_spec(InstrumentId(0), &spec(Some(8), Some(8))).unwrap();
        let mut cfg =
            util::gateway_config(&server, "binance", BinanceGatewayConfig::default(), &inst, VenueId(3), RUN_ID);
        tweak(&mut cfg);
        let ends = Ends::spawn(|orders, reports, stop| spawn(cfg, orders, reports, stop).unwrap());
        Self { server, inst, ends }
    }

    fn market(&self) -> &Market {
        &self.server.market
    }

    fn faults(&self) -> &Faults {
        &self.server.faults
    }

    /// The market's instrument (scale 2 prices) — for direct trading and book reads.
    fn venue_inst(&self) -> Instrument {
        self.market().instruments()[0].clone()
    }

    /// A market price converted to the gateway instrument's scale.
    fn gw_price(&self, p: Price) -> Price {
        self.inst.parse_price(self.venue_inst().price_text(p).as_str()).unwrap()
    }

    fn best(&self) -> ((Price, Qty), (Price, Qty)) {
        let snap = self.market().snapshot(0, 1).unwrap();
        (snap.bids[0], snap.asks[0])
    }

    fn send_new(&mut self, side: Side, order_type: OrderType, tif: TimeInForce, price: Price, qty: Qty) -> OrderId {
        self.ends.send(side, order_type, tif, price, qty, false)
    }

    fn send_cancel(&mut self, order_id: OrderId) {
        self.ends.cancel(order_id);
    }

    fn next_report(&mut self, timeout: Duration) -> Option<ExecutionReport> {
        self.ends.next_report(timeout)
    }

    /// Reports of `order_id` until one satisfies `done` (included); fails after [`WAIT`].
    fn reports_until(&mut self, order_id: OrderId, done: impl Fn(&ExecutionReport) -> bool) -> Vec<ExecutionReport> {
        self.ends.reports_until(order_id, done)
    }

    /// Buys, as the taker account, everything offered up to `price` until our sell order with
    /// client id `client_id` is filled.
    fn take_through(&self, price: Price, client_id: &str) {
        util::take_through(self.market(), GW, TAKER, price, client_id);
    }

    fn stop(mut self) -> GatewayStats {
        self.ends.stop()
    }
}

fn client_id(order_id: OrderId) -> String {
    qt_core::ClientOrderId::new(RUN_ID, order_id).to_string()
}

#[test]
fn marketable_ioc_buy_is_accepted_filled_and_the_rest_canceled() {
    let mut h = Harness::start();
    let (_, ask) = h.best();
    // More than the best level holds, at its price: part fills, the rest expires.
    let qty = h.inst.parse_qty(h.venue_inst().qty_text(Qty::from_units(ask.1.units() + 500)).as_str()).unwrap();
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Ioc, h.gw_price(ask.0), qty);
    let reports = h.reports_until(id, |r| {
        r.kind == ReportKind::Canceled || (r.kind == ReportKind::Fill && r.leaves_qty.is_zero())
    });
    assert_eq!(reports[0].kind, ReportKind::Accepted, "{reports:?}");
    assert_eq!((reports[0].leaves_qty, reports[0].venue, reports[0].account), (qty, VenueId(3), GW));
    assert!(reports[0].venue_order_id > 0);
    let fills: Vec<&ExecutionReport> = reports.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert!(!fills.is_empty(), "{reports:?}");
    for f in &fills {
        assert_eq!((f.side, f.liquidity, f.venue_order_id), (Side::Buy, Liquidity::Taker, reports[0].venue_order_id));
        assert!(f.last_price <= h.gw_price(ask.0), "{f:?}");
    }
    let cum = check_fills(&h.inst, qty, &fills, TAKER_FEE_BPS);
    let last = reports.last().unwrap();
    if last.kind == ReportKind::Canceled {
        assert_eq!((last.cum_qty, last.leaves_qty), (cum, Qty::ZERO));
        assert!(cum < qty);
    } else {
        assert_eq!(cum, qty);
    }
    // What the venue says matches.
    let venue = h.market().order(GW, 0, &OrderRef::Client(client_id(id))).unwrap();
    assert_eq!(h.inst.parse_qty(h.venue_inst().qty_text(venue.cum_qty).as_str()).unwrap(), cum);
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.accepted, stats.fills), (1, 1, fills.len() as u64));
    assert_eq!(stats.transport_errors, 0);
    assert!(stats.max_used_weight > 0);
}

#[test]
fn resting_order_is_accepted_then_canceled_on_request() {
    let mut h = Harness::start();
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let qty = h.inst.parse_qty("0.001").unwrap();
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, h.gw_price(far), qty);
    let accepted = h.reports_until(id, |_| true);
    assert_eq!(accepted[0].kind, ReportKind::Accepted);
    assert_eq!(accepted[0].leaves_qty, qty);
    assert_eq!(h.market().open_orders(GW, Some(0)).len(), 1);
    h.send_cancel(id);
    let canceled = h.reports_until(id, |_| true);
    assert_eq!(canceled[0].kind, ReportKind::Canceled, "{canceled:?}");
    assert_eq!((canceled[0].cum_qty, canceled[0].leaves_qty), (Qty::ZERO, Qty::ZERO));
    assert_eq!(canceled[0].venue_order_id, accepted[0].venue_order_id);
    assert!(h.market().open_orders(GW, Some(0)).is_empty());
    // Cancelling it again: the venue no longer knows it.
    h.send_cancel(id);
    let again = h.reports_until(id, |_| true);
    assert_eq!(again[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));
    // A post-only order that would cross is refused by the venue.
    let (_, ask) = h.best();
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::PostOnly, h.gw_price(ask.0), qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::WouldTakeLiquidity));
    let stats = h.stop();
    assert_eq!((stats.accepted, stats.cancels, stats.cancel_rejects), (1, 1, 1));
    assert_eq!(stats.rejected.get(RejectReason::WouldTakeLiquidity), 1);
}

#[test]
fn filter_failures_are_rejected_with_their_reason() {
    let mut h = Harness::start();
    let (bid, _) = h.best();
    let far = h.gw_price(Price::from_units(bid.0.units() * 9 / 10));
    let qty = h.inst.parse_qty("0.001").unwrap();
    // Half a tick off the grid.
    let off_tick = Price::from_units(far.units() + h.inst.parse_price("0.005").unwrap().units());
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, off_tick, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::PriceFilter));
    // One lot at 58 500 is 0.585 USDT: under the 5 USDT minimum notional.
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, h.inst.parse_qty("0.00001").unwrap());
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::MinNotional));
    // A tenth of a lot.
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, h.inst.parse_qty("0.00100001").unwrap());
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::LotSize));
    let stats = h.stop();
    assert_eq!(stats.rejected.total(), 3);
    assert_eq!(stats.accepted, 0);
    assert!(no_fills_or_errors(&stats));
}

fn no_fills_or_errors(stats: &GatewayStats) -> bool {
    stats.fills == 0 && stats.transport_errors == 0 && stats.malformed == 0
}

/// Places a resting sell of `qty` a few ticks above the best ask; returns its id and price
/// (market scale).
fn rest_sell(h: &mut Harness, qty: Qty) -> (OrderId, Price) {
    let (_, ask) = h.best();
    let price = Price::from_units(ask.0.units() + 5);
    let id = h.send_new(Side::Sell, OrderType::Limit, TimeInForce::Gtc, h.gw_price(price), qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    (id, price)
}

#[test]
fn resting_sell_filled_by_another_account_reports_fills_from_the_stream() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (id, price) = rest_sell(&mut h, qty);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert!(fills.iter().all(|f| f.kind == ReportKind::Fill && f.liquidity == Liquidity::Maker), "{reports:?}");
    assert!(fills.iter().all(|f| f.last_price == h.gw_price(price) && f.side == Side::Sell));
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty);
    // Nothing more arrives for it.
    assert!(h.next_report(Duration::from_millis(200)).is_none());
    let stats = h.stop();
    assert_eq!(stats.fills, fills.len() as u64);
    assert_eq!((stats.duplicate_fills, stats.fills_without_fee, stats.malformed), (0, 0, 0));
}

#[test]
fn dropped_user_stream_reconnects_and_no_fill_is_lost() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    // Fill while the stream is being dropped: the fill comes from the stream or, if it
    // happened while disconnected, from the query after the reconnect — exactly once.
    let (id, price) = rest_sell(&mut h, qty);
    h.faults().drop_ws_connections();
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let mut cum = Qty::ZERO;
    for r in &reports {
        assert_eq!(r.kind, ReportKind::Fill, "{reports:?}");
        cum = cum.checked_add(r.last_qty).unwrap();
        assert_eq!(r.cum_qty, cum);
    }
    assert_eq!(cum, qty);
    // After the reconnect (backoff 50 ms, then the query 250 ms later) a later fill arrives on
    // the stream, fee and all.
    std::thread::sleep(Duration::from_millis(600));
    let (id, price) = rest_sell(&mut h, qty);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty);
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert!(stats.reconnects >= 1, "{stats:?}");
}

#[test]
fn order_with_a_failed_answer_is_reconciled_before_it_is_declared_rejected() {
    let mut h = Harness::start();
    let (bid, _) = h.best();
    let far = h.gw_price(Price::from_units(bid.0.units() * 9 / 10));
    let qty = h.inst.parse_qty("0.001").unwrap();
    // HTTP 503 before the venue saw it: the query finds nothing, twice → rejected.
    h.faults().fail_http(1, 503);
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::Other), "{r:?}");
    assert!(h.market().open_orders(GW, Some(0)).is_empty());
    // A normal order still goes through afterwards.
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
    let stats = h.stop();
    assert!(stats.transport_errors >= 1, "{stats:?}");
    assert!(stats.reconciliations >= 2, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::Other), 1);
}

#[test]
fn order_whose_answer_times_out_is_found_by_the_query_and_accepted_once() {
    let mut h = Harness::start_with(|cfg| cfg.request_timeout = Duration::from_millis(400));
    let (bid, _) = h.best();
    let far = h.gw_price(Price::from_units(bid.0.units() * 9 / 10));
    let qty = h.inst.parse_qty("0.001").unwrap();
    // The venue places the order, then answers after the gateway gave up waiting.
    h.faults().set_ack_latency(Duration::from_millis(1200));
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(r[0].venue_order_id > 0);
    h.faults().set_ack_latency(Duration::ZERO);
    // Not accepted twice; cancel ends it.
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    h.send_cancel(id);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Canceled, "{r:?}");
    let stats = h.stop();
    assert_eq!(stats.accepted, 1);
    assert!(stats.transport_errors >= 1, "{stats:?}");
}

#[test]
fn bad_configuration_names_every_problem() {
    let cfg = BinanceGatewayConfig {
        rest_url: "http://x".into(),
        ws_url: "wss://".into(),
        recv_window_ms: 0,
        ..BinanceGatewayConfig::default()
    };
    let (_tx, rx) = spsc(1);
    let (tx2, _rx2) = spsc(1);
    let err = spawn(cfg, rx, tx2, Arc::new(AtomicBool::new(false))).unwrap_err().to_string();
    for field in ["rest_url", "ws_url", "recv_window_ms", "instruments", "accounts"] {
        assert!(err.contains(field), "{field} missing from {err}");
    }
}

#[test]
fn account_query_returns_exact_balances_and_follows_a_trade() {
    let mut h = Harness::start();
    let cfg = BinanceGatewayConfig {
        rest_url: format!("https://{}", h.server.addr_of("binance").unwrap()),
        ca_file: Some(h.server.ca_file.clone()),
        server_name: Some("localhost".into()),
        instruments: vec![h.inst.clone()],
        accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
        ..BinanceGatewayConfig::default()
    };
    let total = |asset: &str| {
        let snap = query_balances(&cfg).unwrap();
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].account, GW);
        snap[0].balances.iter().find(|b| b.asset == asset).unwrap().total()
    };
    let btc_before = total("BTC");
    assert_eq!(btc_before, Notional::parse("1000").unwrap());
    // A marketable IOC buy of 0.01 BTC through the gateway moves the BTC balance by exactly that.
    let ((_, _), (ask, _)) = h.best();
    let qty = h.inst.parse_qty("0.01").unwrap();
    let price = h.gw_price(ask.checked_add(h.venue_inst().tick().checked_mul_int(50).unwrap()).unwrap());
    h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Ioc, price, qty);
    let deadline = Instant::now() + WAIT;
    let mut filled = Notional::ZERO;
    while filled != Notional::parse("0.01").unwrap() && Instant::now() < deadline {
        filled = total("BTC").checked_sub(btc_before).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let venue_btc: Vec<_> = h.market().balances(GW).into_iter().filter(|b| b.asset == "BTC").collect();
    assert_eq!(total("BTC"), venue_btc[0].free.checked_add(venue_btc[0].locked).unwrap());
    assert_eq!(filled, Notional::parse("0.01").unwrap());
    // A wrong key is a typed venue error naming the endpoint, never a panic.
    let bad = BinanceGatewayConfig { accounts: vec![(GW, "no-such-key".into(), "x".into())], ..cfg.clone() };
    let err = query_balances(&bad).unwrap_err().to_string();
    assert!(err.contains("/api/v3/account") && err.contains("-2015"), "{err}");
}

/// A refused key stops the start, naming the request that was refused: the WebSocket API
/// subscription by default, the listen key when only that is configured (a refused key never
/// falls back to the listen-key stream).
#[test]
fn wrong_api_key_fails_at_start_naming_the_venue_error() {
    for (user_data, request) in
        [(UserData::WsApi, "userDataStream.subscribe.signature"), (UserData::ListenKey, "/api/v3/userDataStream")]
    {
        let server = VenueSimServer::start(ServerConfig {
            market: market(),
            faults: Faults::new(),
            protocols: vec![(Arc::new(BinanceSpot::default()), "127.0.0.1:0".parse().unwrap())],
            ca_file: util::fresh_ca_path("qt-gateway-binance-tests"),
        })
        .unwrap();
        let addr = server.addr_of("binance").unwrap();
        let cfg = BinanceGatewayConfig {
            rest_url: format!("https://{addr}"),
            ws_url: format!("wss://{addr}"),
            ca_file: Some(server.ca_file.clone()),
            server_name: Some("localhost".into()),
            instruments: vec![Instrument::from_spec(InstrumentId(0), &spec(None, None)).unwrap()],
            accounts: vec![(GW, "no-such-key".into(), "x".into())],
            user_data,
            ..BinanceGatewayConfig::default()
        };
        let (_tx, rx) = spsc(1);
        let (tx2, _rx2) = spsc(1);
        let err = spawn(cfg, rx, tx2, Arc::new(AtomicBool::new(false))).unwrap_err().to_string();
        assert!(err.contains(request) && err.contains("-2015") && err.contains("credentials"), "{err}");
    }
}

/// A resting sell of 0.002 filled while its fill's `executionReport` is lost (sent as invalid
/// JSON), so the gateway learns of the fill by querying the order. `lost_answer`: the order's own
/// REST answer comes after the gateway gave up waiting, so the order's fate is unknown too.
/// `trades_fail`: `GET /api/v3/myTrades` answers 500. Returns the instrument, the order size,
/// the order's reports through its last fill (checked to add up to the order), and the stats.
fn fill_found_by_query(lost_answer: bool, trades_fail: bool) -> (Instrument, Qty, Vec<ExecutionReport>, GatewayStats) {
    let mut h = Harness::start_with(|cfg| cfg.request_timeout = Duration::from_millis(400));
    if trades_fail {
        h.faults().fail_http_path("/api/v3/myTrades", 100, 500);
    }
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (_, ask) = h.best();
    let price = Price::from_units(ask.0.units() + 5);
    if lost_answer {
        h.faults().set_ack_latency(Duration::from_millis(1200));
    }
    let id = h.send_new(Side::Sell, OrderType::Limit, TimeInForce::Gtc, h.gw_price(price), qty);
    let deadline = Instant::now() + WAIT;
    while h.market().order(GW, 0, &OrderRef::Client(client_id(id))).is_none() {
        assert!(Instant::now() < deadline, "the order never reached the venue");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let the order's own stream messages (NEW, balances) go out first; then the next stream
    // message — our first fill's executionReport — arrives as invalid JSON.
    std::thread::sleep(Duration::from_millis(200));
    h.faults().malformed_account_frames(1);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    h.faults().set_ack_latency(Duration::ZERO);
    assert_eq!(reports[0].kind, ReportKind::Accepted, "{reports:?}");
    let mut cum = Qty::ZERO;
    for r in &reports[1..] {
        assert_eq!((r.kind, r.last_price), (ReportKind::Fill, h.gw_price(price)), "{reports:?}");
        cum = cum.checked_add(r.last_qty).unwrap();
        assert_eq!(r.cum_qty, cum);
    }
    assert_eq!(cum, qty, "every lot reported exactly once: {reports:?}");
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    let inst = h.inst.clone();
    let stats = h.stop();
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert!(stats.reconciliations >= 1 && stats.trade_queries >= 1, "{stats:?}");
    (inst, qty, reports, stats)
}

#[test]
fn malformed_stream_frame_is_skipped_and_the_fill_recovered_with_its_commission() {
    let (inst, qty, reports, stats) = fill_found_by_query(false, false);
    let fills: Vec<&ExecutionReport> = reports[1..].iter().collect();
    assert_eq!(check_fills(&inst, qty, &fills, MAKER_FEE_BPS), qty);
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Maker), "{fills:?}");
    assert!(stats.fills_fee_from_trades >= 1, "the lost fill came from myTrades: {stats:?}");
    assert_eq!(stats.fills_without_fee, 0, "{stats:?}");
}

#[test]
fn order_with_a_lost_answer_filled_unseen_is_booked_with_the_real_commission() {
    let (inst, qty, reports, stats) = fill_found_by_query(true, false);
    // Every fill carries the venue's own commission (the maker fee of its trade), none zero.
    let fills: Vec<&ExecutionReport> = reports[1..].iter().collect();
    assert_eq!(check_fills(&inst, qty, &fills, MAKER_FEE_BPS), qty);
    assert!(fills.iter().all(|f| f.fee > Notional::ZERO), "{fills:?}");
    assert!(stats.transport_errors >= 1, "the order's answer was lost: {stats:?}");
    assert!(stats.fills_fee_from_trades >= 1 && stats.fills_without_fee == 0, "{stats:?}");
    assert_eq!((stats.accepted, stats.fills), (1, fills.len() as u64));
}

#[test]
fn fill_found_by_query_without_a_trade_list_is_marked_fee_unknown() {
    let (_, _, reports, stats) = fill_found_by_query(true, true);
    assert!(reports[1..].iter().any(|f| f.fee.is_zero()), "{reports:?}");
    assert!(stats.fills_without_fee >= 1, "the fill's fee is unknown and counted: {stats:?}");
    assert_eq!(stats.fills_fee_from_trades, 0, "{stats:?}");
}

#[test]
fn rate_limit_answer_stops_sending_for_its_retry_after() {
    let mut h = Harness::start();
    let (bid, _) = h.best();
    let far = h.gw_price(Price::from_units(bid.0.units() * 9 / 10));
    let qty = h.inst.parse_qty("0.001").unwrap();
    // 429 with Retry-After: 1 — that order is refused, and so is the next one, locally.
    h.faults().fail_http(1, 429);
    let first = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(first, |_| true)[0].kind, ReportKind::Rejected(RejectReason::RateLimited));
    let second = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(second, |_| true)[0].kind, ReportKind::Rejected(RejectReason::RateLimited));
    std::thread::sleep(Duration::from_millis(1100));
    let third = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(third, |_| true)[0].kind, ReportKind::Accepted);
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.rate_limited), (2, 1), "the second was never sent: {stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::RateLimited), 2);
}

#[test]
fn a_gateway_whose_clock_is_off_syncs_with_the_venue_and_trades() {
    // 3 s ahead (the venue refuses a timestamp 1000 ms ahead) and 6 s behind (beyond the
    // 5000 ms recvWindow): unsynced, every signed request would get -1021.
    for skew_ms in [3_000, -6_000] {
        let block = qt_core::stats::private_block::<qt_core::stats::blocks::GatewayClockStats>();
        let mut h = Harness::start_with(|c| {
            c.clock = Arc::new(util::SkewedClock(skew_ms));
            c.clock_stats = Some(block.clone());
        });
        let (_, ask) = h.best();
        let qty = h.inst.parse_qty(h.venue_inst().qty_text(ask.1).as_str()).unwrap();
        let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Ioc, h.gw_price(ask.0), qty);
        let reports = h.reports_until(id, |r| {
            matches!(r.kind, ReportKind::Canceled | ReportKind::Rejected(_))
                || (r.kind == ReportKind::Fill && r.leaves_qty.is_zero())
        });
        assert_eq!(reports[0].kind, ReportKind::Accepted, "skew {skew_ms} ms: {reports:?}");
        assert!(reports.iter().any(|r| r.kind == ReportKind::Fill), "skew {skew_ms} ms: {reports:?}");
        let stats = h.stop();
        assert_eq!(stats.timestamp_rejects, 0, "synced before the first order: {stats:?}");
        assert!(stats.time_syncs >= 1, "{stats:?}");
        // The venue's clock minus ours is minus our skew (within loopback round trips).
        assert!((stats.clock_offset_ms + skew_ms).abs() < 500, "skew {skew_ms} ms: {stats:?}");
        assert_eq!(stats.max_clock_offset_ms, stats.clock_offset_ms, "{stats:?}");
        // The stats file's gauge says the same (signed, two's complement).
        assert_eq!(block.offset_ms.get() as i64, stats.clock_offset_ms);
        assert_eq!((block.syncs.get(), block.timestamp_rejects.get()), (stats.time_syncs, 0));
    }
}

#[test]
fn a_venue_clock_jump_is_absorbed_by_a_resync_and_one_retry() {
    let mut h = Harness::start();
    // After the gateway synced, the venue's clock steps 3 s back: our next timestamp is 3 s
    // ahead of it and refused (-1021) — before the order is placed.
    h.market().set_clock_skew_ms(-3_000);
    let (bid, _) = h.best();
    let far = h.gw_price(Price::from_units(bid.0.units() * 9 / 10));
    let qty = h.inst.parse_qty("0.001").unwrap();
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "re-synced and sent once more: {r:?}");
    h.send_cancel(id);
    let r = h.reports_until(id, |r| r.kind == ReportKind::Canceled);
    assert_eq!(r.len(), 1, "{r:?}");
    // One order at the venue, under our client id.
    assert!(h.market().order(GW, 0, &OrderRef::Client(client_id(id))).is_some());
    let stats = h.stop();
    assert_eq!(stats.timestamp_rejects, 1, "{stats:?}");
    assert_eq!((stats.orders_sent, stats.accepted, stats.cancels), (1, 1, 1), "{stats:?}");
    assert!(stats.time_syncs >= 2, "at start and after the reject: {stats:?}");
    assert!((stats.clock_offset_ms + 3_000).abs() < 500, "{stats:?}");
}

#[test]
fn orders_past_the_venue_order_limit_are_refused_locally_never_sent() {
    // Binance (and the simulator): 50 orders per account per 10 s window. 110 orders in a
    // burst span at most two windows, so at least 10 are past the limit; each of those must be
    // refused here (`RateLimited`) without being sent, so every order sent is accepted.
    let mut h = Harness::start();
    let (bid, _) = h.best();
    let far = h.gw_price(Price::from_units(bid.0.units() * 9 / 10));
    let qty = h.inst.parse_qty("0.001").unwrap();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let ids: Vec<OrderId> =
            (0..55).map(|_| h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty)).collect();
        for id in ids {
            kinds.push(h.reports_until(id, |_| true)[0].kind);
        }
    }
    let refused = kinds.iter().filter(|k| **k == ReportKind::Rejected(RejectReason::RateLimited)).count();
    assert!(refused >= 10, "{kinds:?}");
    assert!(kinds.iter().all(|k| matches!(k, ReportKind::Accepted | ReportKind::Rejected(RejectReason::RateLimited))));
    let stats = h.stop();
    assert_eq!(stats.orders_sent, stats.accepted, "a refused order was sent: {stats:?}");
    assert_eq!(stats.accepted + refused as u64, 110, "{stats:?}");
}

/// Fills reach the gateway on each user data path, from the stream itself (no order query):
/// the WebSocket API subscription (the listen-key stream's URL made unreachable, so nothing else
/// could carry them), the listen-key stream when configured, and the listen-key stream as the
/// fallback when the WebSocket API cannot be reached at start.
#[test]
fn user_data_arrives_through_the_websocket_api_the_listen_key_stream_or_the_fallback() {
    // A port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("wss://{a}")
    };
    type Tweak = Box<dyn Fn(&mut BinanceGatewayConfig)>;
    let paths: [(&str, Tweak); 3] = [
        ("websocket api", {
            let dead = dead.clone();
            Box::new(move |c: &mut BinanceGatewayConfig| {
                c.ws_api_url = Some(c.ws_url.clone());
                c.ws_url = dead.clone();
            })
        }),
        ("listen key", Box::new(|c: &mut BinanceGatewayConfig| c.user_data = UserData::ListenKey)),
        ("fallback", {
            let dead = dead.clone();
            Box::new(move |c: &mut BinanceGatewayConfig| c.ws_api_url = Some(dead.clone()))
        }),
    ];
    for (path, tweak) in paths {
        let mut h = Harness::start_with(|c| tweak(c));
        let qty = h.inst.parse_qty("0.002").unwrap();
        let (id, price) = rest_sell(&mut h, qty);
        h.take_through(price, &client_id(id));
        let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
        let fills: Vec<&ExecutionReport> = reports.iter().collect();
        assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty, "{path}");
        let stats = h.stop();
        assert_eq!((stats.reconciliations, stats.trade_queries, stats.malformed), (0, 0, 0), "{path}: {stats:?}");
    }
}

/// After the user data stream drops, no new order goes out (refused `PrivateStreamDown`, never
/// sent) until the stream is back and the account's live orders have been queried; then
/// orders go out again.
#[test]
fn new_orders_are_held_while_the_user_stream_is_down_and_go_out_once_reconciled() {
    let mut h = Harness::start_with(|c| c.user_data = UserData::ListenKey);
    let qty = h.inst.parse_qty("0.002").unwrap();
    // A live order, to be reconciled after the reconnect.
    let (resting, _) = rest_sell(&mut h, qty);
    // The stream cannot come back while the listen key cannot be had.
    h.faults().fail_http_path("/api/v3/userDataStream", 1_000_000, 503);
    h.faults().drop_ws_connections();
    let bid = h.best().0.0;
    let buy_price = h.gw_price(Price::from_units(bid.units() - 5));
    // Orders sent before the gateway saw the drop may go out: they rest, cancelled at the end.
    let mut working = vec![resting];
    let send_until = |h: &mut Harness, working: &mut Vec<OrderId>, want: ReportKind| {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no {want:?} within {WAIT:?}");
            let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, buy_price, qty);
            let first = h.reports_until(id, |_| true)[0].kind;
            match first {
                ReportKind::Accepted => working.push(id),
                ReportKind::Rejected(RejectReason::PrivateStreamDown) => {}
                other => panic!("order {id}: {other:?}"),
            }
            if first == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    send_until(&mut h, &mut working, ReportKind::Rejected(RejectReason::PrivateStreamDown));
    // Still held a while later: the stream is still down.
    std::thread::sleep(Duration::from_millis(300));
    let id = h.send_new(Side::Buy, OrderType::Limit, TimeInForce::Gtc, buy_price, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::PrivateStreamDown));
    h.faults().clear();
    send_until(&mut h, &mut working, ReportKind::Accepted);
    for id in &working {
        h.send_cancel(*id);
    }
    let mut canceled = Vec::new();
    let deadline = Instant::now() + WAIT;
    while canceled.len() < working.len() && Instant::now() < deadline {
        if let Some(r) = h.next_report(Duration::from_millis(50))
            && r.kind == ReportKind::Canceled
        {
            canceled.push(r.order_id);
        }
    }
    canceled.sort();
    working.sort();
    assert_eq!(canceled, working, "every working order cancelled once the stream is back");
    let stats = h.stop();
    assert!(stats.reconnects >= 1 && stats.reconciliations >= 1, "{stats:?}");
    assert!(stats.rejected.get(RejectReason::PrivateStreamDown) >= 2, "{stats:?}");
}
