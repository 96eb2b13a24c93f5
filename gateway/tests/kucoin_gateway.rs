//! Integration tests of the KuCoin gateway against the venue simulator (`qt-venue-sim`'s
//! `KucoinSpot`) over real TLS sockets on loopback: the gateway thread is driven through real
//! rings exactly as the core drives it, on BTC-USDT spot, and the venue's market is also traded
//! directly (another account's orders) to fill ours. Account snapshots through the signed
//! `GET /api/v1/accounts` and refusals of the account's credentials are checked too.
//!
//! Runs on the test thread; every wait is bounded (a test that waits on a silent gateway fails
//! instead of hanging).

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use qt_core::{
    ExecutionReport, Instrument, InstrumentId, Liquidity, Notional, OrderCommand, OrderId, OrderType, Price, Qty, Rate,
    RejectReason, ReportKind, Side, TimeInForce, Venue, VenueId,
};
use qt_gateway::kit::config::GatewayConfig;
use qt_gateway::kucoin::account::query_account;
use qt_gateway::kucoin::{GatewayStats, KucoinGatewayConfig, spawn};
use qt_test_support::TestInstrument;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::kucoin::KucoinSpot;
use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, OrderRef, SymbolConfig};
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::Duration;
use util::{Ends, GW, MAKER_FEE_BPS, SkewedClock, TAKER, TAKER_FEE_BPS, check_fills};

const RUN_ID: u32 = 0x5eed_0007;
const SPOT: InstrumentId = InstrumentId(0);
const PASSPHRASE: &str = "gw-pass";

fn instrument() -> Instrument {
    TestInstrument::spot(Venue::Kucoin, "BTC-USDT")
        .assets("BTC", "USDT")
        .tick("0.1")
        .lot("0.00001")
        .minimums("0.00001", "5")
        .build(0)
}

fn market() -> Arc<Market> {
    let instrument = instrument();
    let flow = FlowParams {
        events_per_sec: 100.0,
        start_mid: Some(instrument.parse_price("65000").unwrap()),
        ..FlowParams::default()
    };
    Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(MAKER_FEE_BPS), taker: Rate::from_bps(TAKER_FEE_BPS) },
        accounts: vec![AccountConfig {
            api_key: "gw-key".into(),
            secret: "gw-secret".into(),
            balances: vec![("USDT".into(), "100000".into()), ("BTC".into(), "2".into())],
        }],
        seed: 13,
    })
    .unwrap()
}

/// BTC-USDT at mid 65000 with background flow; account 0 is the gateway's, account 1 a taker
/// trading directly.
fn trading_market() -> Arc<Market> {
    util::market(instrument(), 200.0, &[("USDT", "100000000"), ("BTC", "1000")], 17)
}

struct Harness {
    server: RunningServer,
    ends: Ends,
}

impl Harness {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut GatewayConfig)) -> Self {
        let kucoin = KucoinSpot::default().with_passphrase("gw-key", PASSPHRASE);
        let server = util::start_sim(trading_market(), Arc::new(kucoin), "qt-gateway-kucoin-gw-tests");
        let addr = server.addr_of("kucoin").unwrap();
        let mut kit = GatewayConfig {
            rest_url: format!("https://{addr}"),
            ws_url: format!("wss://{addr}"),
            ca_file: Some(server.ca_file.clone()),
            server_name: Some("localhost".into()),
            venue: VenueId(7),
            instruments: vec![instrument()],
            accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
            run_id: RUN_ID,
            request_timeout: Duration::from_secs(10),
            ..GatewayConfig::default()
        };
        tweak(&mut kit);
        let cfg = KucoinGatewayConfig { passphrases: vec![(GW, PASSPHRASE.into())], ..kit };
        let ends = Ends::spawn(|orders, reports, stop| spawn(cfg, orders, reports, stop).unwrap());
        Self { server, ends }
    }

    fn market(&self) -> &Market {
        &self.server.market
    }

    fn faults(&self) -> &Faults {
        &self.server.faults
    }

    fn inst(&self) -> Instrument {
        self.market().instruments()[0].clone()
    }

    fn qty(&self, text: &str) -> Qty {
        self.inst().parse_qty(text).unwrap()
    }

    fn best(&self) -> ((Price, Qty), (Price, Qty)) {
        let snap = self.market().snapshot(0, 1).unwrap();
        (snap.bids[0], snap.asks[0])
    }

    fn send(&mut self, side: Side, order_type: OrderType, tif: TimeInForce, price: Price, qty: Qty) -> OrderId {
        self.ends.send_on(SPOT, side, order_type, tif, price, qty, false)
    }

    fn limit(&mut self, side: Side, tif: TimeInForce, price: Price, qty: Qty) -> OrderId {
        self.send(side, OrderType::Limit, tif, price, qty)
    }

    fn next_report(&mut self, timeout: Duration) -> Option<ExecutionReport> {
        self.ends.next_report(timeout)
    }

    fn reports_until(&mut self, order_id: OrderId, done: impl Fn(&ExecutionReport) -> bool) -> Vec<ExecutionReport> {
        self.ends.reports_until(order_id, done)
    }

    /// Buys, as the taker, everything offered up to `price` until our sell `client_id` is
    /// filled.
    fn take_through(&self, price: Price, client_id: &str) {
        util::take_through_on(self.market(), 0, GW, TAKER, price, client_id);
    }

    /// A resting buy far below the market, accepted; its id.
    fn rest_far_buy(&mut self, qty: Qty) -> OrderId {
        let (bid, _) = self.best();
        let far = Price::from_units(bid.0.units() * 9 / 10);
        let id = self.limit(Side::Buy, TimeInForce::Gtc, far, qty);
        let r = self.reports_until(id, |_| true);
        assert_eq!((r[0].kind, r[0].leaves_qty), (ReportKind::Accepted, qty), "{r:?}");
        id
    }

    /// A resting sell just above the best ask, accepted; its id and price.
    fn rest_sell(&mut self, qty: Qty) -> (OrderId, Price) {
        let (_, ask) = self.best();
        let price = Price::from_units(ask.0.units() + 5);
        let id = self.limit(Side::Sell, TimeInForce::Gtc, price, qty);
        let r = self.reports_until(id, |_| true);
        assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
        (id, price)
    }

    fn stop(mut self) -> GatewayStats {
        self.ends.stop()
    }
}

fn client_id(order_id: OrderId) -> String {
    qt_core::ClientOrderId::new(RUN_ID, order_id).to_string()
}

fn is_final(r: &ExecutionReport) -> bool {
    matches!(r.kind, ReportKind::Canceled | ReportKind::Rejected(_))
        || (r.kind == ReportKind::Fill && r.leaves_qty.is_zero())
}

/// A marketable order (`order_type` / `tif`) for `qty`: accepted, filled as a taker with the
/// venue's exact fees (each from `hf/fills`), the rest (if any) cancelled. Returns the filled
/// quantity.
fn taker_fills(h: &mut Harness, side: Side, order_type: OrderType, tif: TimeInForce, qty: Qty) -> Qty {
    let (bid, ask) = h.best();
    let price = if side == Side::Buy { ask.0 } else { bid.0 };
    let id = h.send(side, order_type, tif, price, qty);
    let reports = h.reports_until(id, is_final);
    assert_eq!(reports[0].kind, ReportKind::Accepted, "{reports:?}");
    assert_eq!((reports[0].venue, reports[0].account), (VenueId(7), GW));
    assert!(reports[0].venue_order_id > 0, "the simulator's ids fit 64 bits");
    let fills: Vec<&ExecutionReport> = reports.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert!(!fills.is_empty(), "{reports:?}");
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Taker && f.side == side), "{fills:?}");
    let filled = check_fills(&h.inst(), qty, &fills, TAKER_FEE_BPS);
    let venue = h.market().order(GW, 0, &OrderRef::Client(client_id(id))).unwrap();
    assert_eq!(venue.cum_qty, filled);
    filled
}

#[test]
fn orders_fill_as_takers_and_cancel() {
    let mut h = Harness::start();
    // An IOC for more than the best level holds, at its price: ack, fills with exact fees,
    // the rest cancelled.
    let (_, ask) = h.best();
    let qty = Qty::from_units(ask.1.units() + 500);
    let ioc = taker_fills(&mut h, Side::Buy, OrderType::Limit, TimeInForce::Ioc, qty);
    // A market sell (sized in base) fills whole.
    let market_qty = h.qty("0.001");
    assert_eq!(taker_fills(&mut h, Side::Sell, OrderType::Market, TimeInForce::Ioc, market_qty), market_qty);
    // A resting order, cancelled by clientOid; a second cancel is refused (unknown order).
    let q = h.qty("0.001");
    let id = h.rest_far_buy(q);
    h.ends.cancel_on(id, SPOT);
    let canceled = h.reports_until(id, |_| true);
    assert_eq!((canceled[0].kind, canceled[0].leaves_qty), (ReportKind::Canceled, Qty::ZERO), "{canceled:?}");
    h.ends.cancel_on(id, SPOT);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));
    assert!(h.market().open_orders(GW, None).is_empty());
    let stats = h.stop();
    let ioc_cancels = u64::from(ioc < qty);
    assert_eq!((stats.orders_sent, stats.accepted, stats.cancels, stats.cancel_rejects), (3, 3, 1 + ioc_cancels, 1));
    assert_eq!((stats.transport_errors, stats.malformed, stats.duplicate_fills), (0, 0, 0), "{stats:?}");
    assert_eq!((stats.fills_without_fee, stats.fills_fee_from_trades), (0, 0), "every fee listed: {stats:?}");
    assert!(stats.trade_queries >= 2, "each taker fill's fee from hf/fills: {stats:?}");
}

#[test]
fn cancel_all_cancels_the_symbols_orders_of_the_account_only() {
    let mut h = Harness::start();
    let q = h.qty("0.001");
    let mut ids: Vec<OrderId> = (0..3).map(|_| h.rest_far_buy(q)).collect();
    // Another account's order on the same book is not ours to cancel.
    let (bid, _) = h.best();
    let other = ClientOrderRequest {
        client_order_id: Some("other1".into()),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: Some(Price::from_units(bid.0.units() * 9 / 10)),
        qty: q,
    };
    h.market().submit(TAKER, 0, other).unwrap();
    h.ends.orders.push(OrderCommand::CancelAll { account: GW, instrument: Some(SPOT) }).unwrap();
    let canceled = util::canceled_reports(&mut h.ends.reports, ids.len());
    ids.sort_by_key(|o| o.0);
    assert_eq!(canceled, ids);
    assert!(h.market().open_orders(GW, None).is_empty());
    assert_eq!(h.market().open_orders(TAKER, None).len(), 1);
    h.stop();
}

#[test]
fn venue_refusals_are_mapped_and_counted() {
    let mut h = Harness::start();
    let (_, ask) = h.best();
    // Post-only crossing, an FOK larger than the book (the simulator refuses both at
    // placement with 400100 and its text).
    let id = h.limit(Side::Buy, TimeInForce::PostOnly, ask.0, h.qty("0.001"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::WouldTakeLiquidity));
    let id = h.limit(Side::Buy, TimeInForce::Fok, ask.0, h.qty("900"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::FokUnfillable));
    // Below the minimum funds, more than the balance.
    let id = h.limit(Side::Buy, TimeInForce::Gtc, Price::from_units(ask.0.units() / 2), Qty::from_units(1));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::MinNotional));
    let id = h.limit(Side::Sell, TimeInForce::Gtc, ask.0, h.qty("5000"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::InsufficientBalance));
    // A post-only that rests is accepted.
    let (bid, _) = h.best();
    let id = h.limit(Side::Buy, TimeInForce::PostOnly, Price::from_units(bid.0.units() - 50), h.qty("0.001"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
    let stats = h.stop();
    for reason in [
        RejectReason::WouldTakeLiquidity,
        RejectReason::FokUnfillable,
        RejectReason::MinNotional,
        RejectReason::InsufficientBalance,
    ] {
        assert_eq!(stats.rejected.get(reason), 1, "{reason:?}: {stats:?}");
    }
    assert_eq!(stats.accepted, 1, "{stats:?}");
}

/// Place → ack → partial fill → fill: a resting sell taken in two parts by another account.
#[test]
fn a_resting_order_filled_in_parts_reports_maker_fills_with_exact_fees() {
    let mut h = Harness::start();
    let qty = h.qty("0.002");
    let part = h.qty("0.0007");
    let (id, price) = h.rest_sell(qty);
    // A first part: some of ours taken, never all of it.
    let part_filled = util::take_part(h.market(), 0, price, part, &client_id(id));
    assert!(part_filled <= part && part_filled < qty);
    let first = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.cum_qty == part_filled);
    assert!(first.iter().all(|f| f.kind == ReportKind::Fill && f.leaves_qty.is_positive()), "{first:?}");
    h.take_through(price, &client_id(id));
    let rest = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = first.iter().chain(rest.iter()).collect();
    assert!(fills.iter().all(|f| f.kind == ReportKind::Fill && f.liquidity == Liquidity::Maker), "{fills:?}");
    assert!(fills.iter().all(|f| f.last_price == price && f.side == Side::Sell));
    assert_eq!(check_fills(&h.inst(), qty, &fills, MAKER_FEE_BPS), qty);
    assert!(h.next_report(Duration::from_millis(300)).is_none(), "no report after the last fill");
    let stats = h.stop();
    assert_eq!((stats.duplicate_fills, stats.fills_without_fee, stats.malformed), (0, 0, 0), "{stats:?}");
}

#[test]
fn a_dropped_stream_with_a_fill_in_between_is_recovered_once_with_each_trades_fee() {
    let mut h = Harness::start();
    let qty = h.qty("0.002");
    let (id, price) = h.rest_sell(qty);
    // Drop the stream and fill at once: the fill lands while the stream is down (or just
    // back); the query on reconnect (`hf/fills`), or the stream, reports it — exactly once.
    h.faults().drop_ws_connections();
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst(), qty, &fills, MAKER_FEE_BPS), qty, "each trade with its own fee");
    std::thread::sleep(Duration::from_millis(400));
    assert!(h.next_report(Duration::from_millis(300)).is_none(), "nothing reported twice");
    // A later fill arrives on the reconnected stream.
    let (id, price) = h.rest_sell(qty);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst(), qty, &fills, MAKER_FEE_BPS), qty);
    let stats = h.stop();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert_eq!((stats.fills_without_fee, stats.fills_fee_from_trades), (0, 0), "trade by trade: {stats:?}");
}

#[test]
fn a_malformed_private_push_is_counted_and_the_fill_recovered() {
    let mut h = Harness::start();
    let qty = h.qty("0.002");
    let (id, price) = h.rest_sell(qty);
    // The order's own push is out; the next push — our first fill — arrives cut.
    std::thread::sleep(Duration::from_millis(200));
    h.faults().malformed_account_frames(1);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst(), qty, &fills, MAKER_FEE_BPS), qty, "every lot once: {reports:?}");
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert_eq!(stats.fills_without_fee, 0, "{stats:?}");
}

#[test]
fn orders_of_unknown_fate_are_queried_never_sent_twice() {
    let mut h = Harness::start_with(|cfg| cfg.request_timeout = Duration::from_millis(400));
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let qty = h.qty("0.001");
    // HTTP 503 before the venue saw it: the query finds nothing, twice → rejected.
    h.faults().fail_http(1, 503);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    assert!(h.market().open_orders(GW, Some(0)).is_empty());
    // Placed, but answered after the gateway gave up (a disconnect with the order in flight):
    // shown working, accepted once, never sent twice.
    h.faults().set_ack_latency(Duration::from_millis(1200));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    h.faults().set_ack_latency(Duration::ZERO);
    assert!(h.next_report(Duration::from_millis(1500)).is_none(), "not accepted twice");
    assert_eq!(h.market().open_orders(GW, Some(0)).len(), 1, "no duplicate at the venue");
    h.ends.cancel_on(id, SPOT);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.accepted, stats.cancels), (2, 1, 1), "{stats:?}");
    assert!(stats.reconciliations >= 2 && stats.transport_errors >= 2, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::Other), 1, "{stats:?}");
}

/// A 429 (with `Retry-After: 1`): the order is refused `RateLimited`, nothing is sent until the
/// back-off has passed (a second order is refused locally), then orders go again — none twice.
#[test]
fn a_rate_limit_refusal_backs_off_and_nothing_is_duplicated() {
    let mut h = Harness::start();
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let qty = h.qty("0.001");
    h.faults().fail_http(1, 429);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::RateLimited));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::RateLimited));
    assert!(h.market().open_orders(GW, None).is_empty());
    std::thread::sleep(Duration::from_millis(1100));
    let id = h.rest_far_buy(qty);
    assert_eq!(h.market().open_orders(GW, None).len(), 1, "placed once");
    h.ends.cancel_on(id, SPOT);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.accepted, stats.rate_limited), (2, 1, 1), "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::RateLimited), 2, "{stats:?}");
}

#[test]
fn clock_skew_is_absorbed_at_start_and_after_a_venue_clock_jump() {
    // 40 s ahead and 45 s behind: far beyond KuCoin's 5 s window, so unsynced every signed
    // request (and the stream's token) would fail.
    for skew_ms in [40_000, -45_000] {
        let mut h = Harness::start_with(|c| c.clock = Arc::new(SkewedClock(skew_ms)));
        let (_, ask) = h.best();
        let filled = taker_fills(&mut h, Side::Buy, OrderType::Limit, TimeInForce::Ioc, ask.1);
        assert!(filled.is_positive());
        let stats = h.stop();
        assert_eq!(stats.timestamp_rejects, 0, "synced before the first order: {stats:?}");
        assert!((stats.clock_offset_ms + skew_ms).abs() < 500, "skew {skew_ms} ms: {stats:?}");
    }
    // The venue's clock jumps after start: 400002, re-synced, sent once more.
    let mut h = Harness::start();
    h.market().set_clock_skew_ms(-40_000);
    let id = h.rest_far_buy(h.qty("0.001"));
    h.ends.cancel_on(id, SPOT);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.timestamp_rejects, stats.orders_sent, stats.accepted), (1, 1, 1), "{stats:?}");
}

#[test]
fn account_query_returns_exact_balances_and_refuses_bad_credentials() {
    let kucoin = KucoinSpot::default().with_passphrase("gw-key", PASSPHRASE);
    let server = util::start_sim(market(), Arc::new(kucoin), "qt-gateway-kucoin-tests");
    let addr = server.addr_of("kucoin").unwrap();
    // A resting order holds 0.01 × 30000 USDT plus the fee reserve.
    let inst = instrument();
    let req = ClientOrderRequest {
        client_order_id: Some("hold1".into()),
        side: qt_core::Side::Buy,
        order_type: qt_core::OrderType::Limit,
        tif: qt_core::TimeInForce::Gtc,
        price: Some(inst.parse_price("30000").unwrap()),
        qty: inst.parse_qty("0.01").unwrap(),
    };
    server.market.submit(qt_core::AccountId(0), 0, req).unwrap();
    let cfg = GatewayConfig {
        rest_url: format!("https://{addr}"),
        ws_url: format!("wss://{addr}"),
        ca_file: Some(server.ca_file.clone()),
        server_name: Some("localhost".into()),
        venue: VenueId(7),
        instruments: vec![inst],
        accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
        passphrases: vec![(GW, PASSPHRASE.into())],
        request_timeout: Duration::from_secs(10),
        ..GatewayConfig::default()
    };
    // The venue's clock is 20 s ahead: the synced clock signs inside KuCoin's 5 s window.
    server.market.set_clock_skew_ms(20_000);
    let snap = query_account(&cfg).unwrap();
    assert_eq!((snap.len(), snap[0].balances.account), (1, GW));
    let b = &snap[0].balances.balances;
    let usdt = b.iter().find(|x| x.asset == "USDT").unwrap();
    let btc = b.iter().find(|x| x.asset == "BTC").unwrap();
    assert_eq!(usdt.total(), Notional::parse("100000").unwrap());
    assert!(usdt.locked >= Notional::parse("300").unwrap(), "{usdt:?}");
    assert_eq!((btc.free, btc.locked), (Notional::parse("2").unwrap(), Notional::ZERO));
    // A wrong secret, or a wrong passphrase, is refused as the account's credentials.
    let mut bad = cfg.clone();
    bad.accounts[0].2 = "wrong".into();
    assert!(query_account(&bad).unwrap_err().is_auth_rejected());
    let mut bad = cfg.clone();
    bad.passphrases[0].1 = "wrong".into();
    assert!(query_account(&bad).unwrap_err().is_auth_rejected());
    // No passphrase at all is a configuration problem, named.
    let mut bad = cfg;
    bad.passphrases.clear();
    let e = query_account(&bad).unwrap_err().to_string();
    assert!(e.contains("passphrase"), "{e}");
}
