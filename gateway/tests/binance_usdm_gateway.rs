//! Integration tests of the Binance USD-M gateway against the venue simulator (`qt-venue-sim`'s
//! `BinanceUsdm` protocol) over real TLS sockets on loopback: the gateway thread is driven
//! through real rings exactly as the core drives it; another account trades the venue's market
//! directly to fill our resting orders; funding is booked on the venue's market.
//!
//! Runs on the test thread; every wait is bounded, each test well under 10 s.

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use util::{Ends, GW, MAKER_FEE_BPS, TAKER, TAKER_FEE_BPS, WAIT, check_fills};

use crossbeam_channel::Receiver;
use qt_core::engine::ControlCommand;
use qt_core::{
    ExecutionReport, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Liquidity, Notional, OrderCommand,
    OrderId, OrderType, Price, Qty, Rate, RejectReason, ReportKind, Side, TimeInForce, Venue, VenueId,
};
use qt_gateway::binance_usdm::{UsdmGatewayConfig, query_account, query_balances, spawn};
use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{Market, OrderRef};
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::Duration;

const RUN_ID: u32 = 0x5eed_0002;

fn spec() -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::BinanceUsdm,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::LinearPerpetual,
        tick_size: "0.1".into(),
        lot_size: "0.001".into(),
        min_qty: Some("0.001".into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    }
}

/// A simulator, a USD-M gateway in front of it, the core's ends of the rings and its funding
/// channel.
struct Harness {
    server: RunningServer,
    /// BTCUSDT perpetual (tick 0.1, lot 0.001, min notional 5, mid 65000).
    inst: Instrument,
    cfg: UsdmGatewayConfig,
    ends: Ends,
    funding: Receiver<ControlCommand>,
}

impl Harness {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut UsdmGatewayConfig)) -> Self {
        let inst = Instrument::from_spec(InstrumentId(0), &spec()).unwrap();
        let market = util::market(inst.clone(), 20.0, &[("USDT", "100000000")], 11);
        let server = util::start_sim(market, Arc::new(BinanceUsdm::default()), "qt-gateway-binance-usdm-tests");
        let (funding_tx, funding) = crossbeam_channel::bounded(16);
        let base = UsdmGatewayConfig::default().binance;
        let mut cfg = UsdmGatewayConfig {
            binance: util::gateway_config(&server, "binance_usdm", base, &inst, VenueId(4), RUN_ID),
            funding: Some(funding_tx),
        };
        tweak(&mut cfg);
        let gateway_cfg = cfg.clone();
        let ends = Ends::spawn(|orders, reports, stop| spawn(gateway_cfg, orders, reports, stop).unwrap());
        Self { server, inst, cfg, ends, funding }
    }

    fn market(&self) -> &Market {
        &self.server.market
    }

    fn faults(&self) -> &Faults {
        &self.server.faults
    }

    fn best(&self) -> ((Price, Qty), (Price, Qty)) {
        let snap = self.market().snapshot(0, 1).unwrap();
        (snap.bids[0], snap.asks[0])
    }

    /// Buys `qty` at once (IOC through the ask) and waits for it to be filled or finished.
    fn buy_now(&mut self, qty: Qty) -> Vec<ExecutionReport> {
        let (_, ask) = self.best();
        let price = Price::from_units(ask.0.units() + 50);
        let id = self.ends.send(Side::Buy, OrderType::Limit, TimeInForce::Ioc, price, qty, false);
        self.ends.reports_until(id, |r| {
            matches!(r.kind, ReportKind::Canceled | ReportKind::Rejected(_))
                || (r.kind == ReportKind::Fill && r.leaves_qty.is_zero())
        })
    }

    /// Places a resting sell of `qty` a few ticks above the best ask; returns its id and price.
    fn rest_sell(&mut self, qty: Qty) -> (OrderId, Price) {
        let (_, ask) = self.best();
        let price = Price::from_units(ask.0.units() + 5);
        let id = self.ends.send(Side::Sell, OrderType::Limit, TimeInForce::Gtc, price, qty, false);
        let r = self.ends.reports_until(id, |_| true);
        assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
        (id, price)
    }
}

fn client_id(order_id: OrderId) -> String {
    qt_core::ClientOrderId::new(RUN_ID, order_id).to_string()
}

#[test]
fn orders_are_placed_filled_and_canceled_with_real_commission() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.003").unwrap();
    // A marketable IOC buy: accepted, filled as taker with the venue's commission.
    let reports = h.buy_now(qty);
    assert_eq!(reports[0].kind, ReportKind::Accepted, "{reports:?}");
    assert_eq!((reports[0].venue, reports[0].account), (VenueId(4), GW));
    let fills: Vec<&ExecutionReport> = reports.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert!(!fills.is_empty() && fills.iter().all(|f| f.liquidity == Liquidity::Taker), "{reports:?}");
    let bought = check_fills(&h.inst, qty, &fills, TAKER_FEE_BPS);
    // A resting order, canceled on request; again: unknown to the venue.
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let id = h.ends.send(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty, false);
    let accepted = h.ends.reports_until(id, |_| true);
    assert_eq!(accepted[0].kind, ReportKind::Accepted);
    assert_eq!(h.market().open_orders(GW, Some(0)).len(), 1);
    h.ends.cancel(id);
    let canceled = h.ends.reports_until(id, |_| true);
    assert_eq!((canceled[0].kind, canceled[0].leaves_qty), (ReportKind::Canceled, Qty::ZERO), "{canceled:?}");
    assert!(h.market().open_orders(GW, Some(0)).is_empty());
    h.ends.cancel(id);
    assert_eq!(h.ends.reports_until(id, |_| true)[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));
    // Post-only (GTX) that would take: -5022.
    let (_, ask) = h.best();
    let id = h.ends.send(Side::Buy, OrderType::Limit, TimeInForce::PostOnly, ask.0, qty, false);
    let r = h.ends.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::WouldTakeLiquidity), "{r:?}");
    // Cancel-all takes a resting order down; the stream reports it.
    let id = h.ends.send(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty, false);
    assert_eq!(h.ends.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
    h.ends.orders.push(OrderCommand::CancelAll { account: GW, instrument: None }).unwrap();
    assert_eq!(h.ends.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    // The account query sees the long position the fills made.
    let accounts = query_account(&h.cfg).unwrap();
    let pos = accounts[0].positions.iter().find(|p| p.symbol == "BTCUSDT").unwrap();
    assert_eq!(pos.amount, Notional::parse(h.inst.qty_text(bought).as_str()).unwrap());
    let balances = query_balances(&h.cfg).unwrap();
    assert!(balances[0].balances.iter().any(|b| b.asset == "USDT" && b.total() > Notional::ZERO));
    let stats = h.ends.stop();
    assert_eq!((stats.transport_errors, stats.malformed, stats.duplicate_fills), (0, 0, 0), "{stats:?}");
    assert!(stats.max_used_weight > 0, "{stats:?}");
}

#[test]
fn a_reduce_only_order_that_would_increase_the_position_is_refused_and_mapped() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    // Flat: a reduce-only sell would open a short: -2022.
    let (bid, _) = h.best();
    let id = h.ends.send(Side::Sell, OrderType::Market, TimeInForce::Ioc, bid.0, qty, true);
    let r = h.ends.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::Other), "{r:?}");
    assert!(h.market().order(GW, 0, &OrderRef::Client(client_id(id))).is_none());
    // Long 0.002: a reduce-only market sell of it closes it.
    let bought = h.buy_now(qty);
    assert!(bought.iter().any(|r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero()), "{bought:?}");
    let id = h.ends.send(Side::Sell, OrderType::Market, TimeInForce::Ioc, bid.0, qty, true);
    let r = h.ends.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(h.market().positions(GW).iter().all(|p| p.qty == 0), "flat again");
    let stats = h.ends.stop();
    assert_eq!(stats.rejected.get(RejectReason::Other), 1, "{stats:?}");
}

#[test]
fn funding_on_an_open_position_is_sent_to_the_core_as_realized_pnl() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.010").unwrap();
    let r = h.buy_now(qty);
    assert!(r.iter().any(|r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero()), "{r:?}");
    // Let the fill's ACCOUNT_UPDATE (the position) reach the gateway first.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.market().book_funding(0, Rate::from_bps(1)), 1);
    let booked = h.funding.recv_timeout(WAIT).expect("a funding payment");
    let venue_funding = h.market().positions(GW)[0].funding;
    let ControlCommand::Funding { account, instrument, amount } = booked else { panic!("{booked:?}") };
    assert_eq!((account, instrument), (GW, InstrumentId(0)));
    assert!(amount.is_negative(), "a long pays positive funding: {amount:?}");
    assert_eq!(amount, venue_funding, "exactly what the venue booked");
    assert!(h.funding.recv_timeout(Duration::from_millis(300)).is_err(), "booked once");
    let stats = h.ends.stop();
    assert_eq!((stats.funding_payments, stats.funding_unbooked), (1, 0), "{stats:?}");
}

#[test]
fn dropped_user_stream_reconnects_and_no_fill_is_lost_or_doubled() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (id, price) = h.rest_sell(qty);
    h.faults().drop_ws_connections();
    util::take_through(h.market(), GW, TAKER, price, &client_id(id));
    // From the stream or, if it happened while disconnected, from the query after the reconnect
    // (userTrades): each lot once, with its real commission.
    let reports = h.ends.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty);
    // After the reconnect and its query, nothing more for it; a later fill comes on the stream.
    std::thread::sleep(Duration::from_millis(600));
    assert!(h.ends.next_report(Duration::from_millis(100)).is_none(), "no duplicate");
    let (id, price) = h.rest_sell(qty);
    util::take_through(h.market(), GW, TAKER, price, &client_id(id));
    let reports = h.ends.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty);
    assert!(h.ends.next_report(Duration::from_millis(300)).is_none());
    let stats = h.ends.stop();
    assert!(stats.reconnects >= 1, "{stats:?}");
}

#[test]
fn fills_the_stream_missed_are_reported_before_a_new_order_goes_out() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (id, price) = h.rest_sell(qty);
    // Filled while the stream is down: only the query after the reconnect (due 250 ms after it)
    // can report it.
    h.faults().drop_ws_connections();
    util::take_through(h.market(), GW, TAKER, price, &client_id(id));
    // Reconnected (50 ms backoff), its queries not yet due: a new order now waits for them.
    std::thread::sleep(Duration::from_millis(200));
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let new_id = h.ends.send(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty, false);
    let mut seen = Vec::new();
    while seen.last().is_none_or(|r: &ExecutionReport| r.order_id != new_id) {
        seen.push(h.ends.next_report(WAIT).expect("a report"));
    }
    let fills: Vec<&ExecutionReport> = seen.iter().filter(|r| r.order_id == id).collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty, "missed fills first: {seen:?}");
    assert_eq!(seen.last().unwrap().kind, ReportKind::Accepted, "{seen:?}");
    let stats = h.ends.stop();
    assert!(stats.reconnects >= 1 && stats.reconciliations >= 1, "{stats:?}");
}

#[test]
fn a_refused_key_fails_the_start_naming_the_account() {
    let inst = Instrument::from_spec(InstrumentId(0), &spec()).unwrap();
    let market = util::market(inst.clone(), 20.0, &[("USDT", "1000")], 3);
    let server = util::start_sim(market, Arc::new(BinanceUsdm::default()), "qt-gateway-binance-usdm-tests");
    let base = UsdmGatewayConfig::default().binance;
    let mut binance = util::gateway_config(&server, "binance_usdm", base, &inst, VenueId(4), RUN_ID);
    binance.accounts = vec![(GW, "gw-key".into(), "not-the-secret".into())];
    let cfg = UsdmGatewayConfig { binance, funding: None };
    let (_orders, orders_rx) = qt_core::queue::spsc(4);
    let (reports_tx, _reports) = qt_core::queue::spsc(4);
    let err = spawn(cfg, orders_rx, reports_tx, Arc::new(std::sync::atomic::AtomicBool::new(false))).unwrap_err();
    assert!(err.is_auth_rejected(), "{err}");
    assert!(err.to_string().contains("/fapi/v1/positionSide/dual"), "the first signed request: {err}");
}

#[test]
fn a_malformed_frame_is_counted_and_its_fill_recovered_with_its_commission() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (id, price) = h.rest_sell(qty);
    std::thread::sleep(Duration::from_millis(200));
    // The next stream message — our fill's ORDER_TRADE_UPDATE — arrives as invalid JSON.
    h.faults().malformed_account_frames(1);
    util::take_through(h.market(), GW, TAKER, price, &client_id(id));
    let reports = h.ends.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty, "every lot once, real fee");
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Maker), "{fills:?}");
    assert!(h.ends.next_report(Duration::from_millis(300)).is_none());
    let stats = h.ends.stop();
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert_eq!(stats.fills_without_fee, 0, "{stats:?}");
}

#[test]
fn a_gateway_whose_clock_is_off_syncs_with_the_venue_and_trades() {
    // 3 s ahead and 6 s behind (beyond the 5000 ms recvWindow): unsynced, every signed request
    // (the position-mode check first) would get -1021.
    for skew_ms in [3_000, -6_000] {
        let mut h = Harness::start_with(|c| c.binance.clock = Arc::new(util::SkewedClock(skew_ms)));
        let qty = h.inst.parse_qty("0.002").unwrap();
        let reports = h.buy_now(qty);
        assert_eq!(reports[0].kind, ReportKind::Accepted, "skew {skew_ms} ms: {reports:?}");
        assert!(reports.iter().any(|r| r.kind == ReportKind::Fill), "skew {skew_ms} ms: {reports:?}");
        let stats = h.ends.stop();
        assert_eq!(stats.timestamp_rejects, 0, "synced before the first order: {stats:?}");
        assert!((stats.clock_offset_ms + skew_ms).abs() < 500, "skew {skew_ms} ms: {stats:?}");
    }
}
