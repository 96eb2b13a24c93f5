//! Integration tests of the OKX gateway against the venue simulator (`qt-venue-sim`'s `OkxV5`
//! protocol) over real TLS sockets on loopback: the gateway thread is driven through real rings
//! exactly as the core drives it, on BTC-USDT spot and BTC-USDT-SWAP, and the venue's market is
//! also traded directly (another account's orders) to fill ours. The documented order, ack and
//! push samples (`testdata/okx/`) are checked against what the gateway sends and reads.
//!
//! Runs on the test thread; every wait is bounded (a test that waits on a silent gateway fails
//! instead of hanging).

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use qt_core::{
    ExecutionReport, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Liquidity, Notional, OrderCommand,
    OrderId, OrderType, Price, Qty, Rate, RejectReason, ReportKind, Side, TimeInForce, Venue, VenueId,
};
use qt_gateway::kit::config::GatewayConfig;
use qt_gateway::okx::account::query_account;
use qt_gateway::okx::{GatewayStats, OkxGatewayConfig, spawn};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, OrderRef, SymbolConfig};
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::Duration;
use util::{Ends, GW, MAKER_FEE_BPS, SkewedClock, TAKER, TAKER_FEE_BPS, check_fills};

const RUN_ID: u32 = 0x5eed_0005;
const SPOT: InstrumentId = InstrumentId(0);
const SWAP: InstrumentId = InstrumentId(1);
const PASSPHRASE: &str = "gw-pass";

fn spec(symbol: &str, kind: InstrumentKind, tick: &str, lot: &str) -> InstrumentSpec {
    InstrumentSpec {
        venue: Venue::Okx,
        symbol: symbol.into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind,
        tick_size: tick.into(),
        lot_size: lot.into(),
        min_qty: Some(lot.into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    }
}

fn instruments() -> Vec<Instrument> {
    vec![
        Instrument::from_spec(SPOT, &spec("BTC-USDT", InstrumentKind::Spot, "0.1", "0.00001")).unwrap(),
        Instrument::from_spec(SWAP, &spec("BTC-USDT-SWAP", InstrumentKind::LinearPerpetual, "0.1", "0.01")).unwrap(),
    ]
}

/// BTC-USDT spot and BTC-USDT-SWAP (mid 65000) with light background flow; account 0 is the
/// gateway's, account 1 a taker trading directly.
fn market() -> Arc<Market> {
    let symbols = instruments()
        .into_iter()
        .map(|instrument| {
            let flow = FlowParams {
                events_per_sec: 300.0,
                start_mid: Some(instrument.parse_price("65000").unwrap()),
                size_median_lots: 200.0,
                ..FlowParams::default()
            };
            SymbolConfig { instrument, flow }
        })
        .collect();
    let account = |key: &str, secret: &str| AccountConfig {
        api_key: key.into(),
        secret: secret.into(),
        balances: vec![("USDT".into(), "100000000".into()), ("BTC".into(), "1000".into())],
    };
    Market::new(MarketConfig {
        symbols,
        fees: FeeSchedule { maker: Rate::from_bps(MAKER_FEE_BPS), taker: Rate::from_bps(TAKER_FEE_BPS) },
        accounts: vec![account("gw-key", "gw-secret"), account("taker-key", "taker-secret")],
        seed: 11,
    })
    .unwrap()
}

struct Harness {
    server: RunningServer,
    cfg: OkxGatewayConfig,
    ends: Ends,
}

impl Harness {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut GatewayConfig)) -> Self {
        let okx = OkxV5::new().with_passphrase("gw-key", PASSPHRASE);
        let server = util::start_sim(market(), Arc::new(okx), "qt-gateway-okx-tests");
        let addr = server.addr_of("okx").unwrap();
        let mut kit = GatewayConfig {
            rest_url: format!("https://{addr}"),
            ws_url: format!("wss://{addr}"),
            ca_file: Some(server.ca_file.clone()),
            server_name: Some("localhost".into()),
            venue: VenueId(5),
            instruments: instruments(),
            accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
            run_id: RUN_ID,
            request_timeout: Duration::from_secs(10),
            ..GatewayConfig::default()
        };
        tweak(&mut kit);
        let cfg = OkxGatewayConfig { passphrases: vec![(GW, PASSPHRASE.into())], ..kit };
        let ends = Ends::spawn(|orders, reports, stop| spawn(cfg.clone(), orders, reports, stop).unwrap());
        Self { server, cfg, ends }
    }

    fn market(&self) -> &Market {
        &self.server.market
    }

    fn faults(&self) -> &Faults {
        &self.server.faults
    }

    fn inst(&self, id: InstrumentId) -> Instrument {
        self.market().instruments()[id.0 as usize].clone()
    }

    fn best(&self, id: InstrumentId) -> ((Price, Qty), (Price, Qty)) {
        let snap = self.market().snapshot(id.0 as usize, 1).unwrap();
        (snap.bids[0], snap.asks[0])
    }

    #[allow(clippy::too_many_arguments, reason = "an order's fields")]
    fn send(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Price,
        qty: Qty,
        reduce_only: bool,
    ) -> OrderId {
        self.ends.send_on(instrument, side, order_type, tif, price, qty, reduce_only)
    }

    fn limit(&mut self, instrument: InstrumentId, side: Side, tif: TimeInForce, price: Price, qty: Qty) -> OrderId {
        self.send(instrument, side, OrderType::Limit, tif, price, qty, false)
    }

    fn send_cancel(&mut self, order_id: OrderId, instrument: InstrumentId) {
        self.ends.cancel_on(order_id, instrument);
    }

    fn next_report(&mut self, timeout: Duration) -> Option<ExecutionReport> {
        self.ends.next_report(timeout)
    }

    fn reports_until(&mut self, order_id: OrderId, done: impl Fn(&ExecutionReport) -> bool) -> Vec<ExecutionReport> {
        self.ends.reports_until(order_id, done)
    }

    /// Buys, as the taker, everything offered up to `price` until our sell `client_id` on
    /// `instrument` is filled.
    fn take_through(&self, instrument: InstrumentId, price: Price, client_id: &str) {
        util::take_through_on(self.market(), instrument.0 as usize, GW, TAKER, price, client_id);
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

/// A marketable IOC on `instrument` for `qty`: accepted, filled as a taker with the venue's
/// exact fees, the rest (if any) cancelled. Returns the filled quantity.
fn ioc_fills(h: &mut Harness, instrument: InstrumentId, side: Side, qty: Qty, reduce_only: bool) -> Qty {
    let (bid, ask) = h.best(instrument);
    let price = if side == Side::Buy { ask.0 } else { bid.0 };
    let id = h.send(instrument, side, OrderType::Limit, TimeInForce::Ioc, price, qty, reduce_only);
    let reports = h.reports_until(id, is_final);
    assert_eq!(reports[0].kind, ReportKind::Accepted, "{reports:?}");
    assert_eq!((reports[0].venue, reports[0].account), (VenueId(5), GW));
    assert!(reports[0].venue_order_id > 0);
    let fills: Vec<&ExecutionReport> = reports.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert!(!fills.is_empty(), "{reports:?}");
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Taker && f.side == side), "{fills:?}");
    check_fills(&h.inst(instrument), qty, &fills, TAKER_FEE_BPS)
}

#[test]
fn spot_and_swap_orders_fill_and_cancel() {
    let mut h = Harness::start();
    // Spot: more than the best level holds, at its price: ack, fills with exact fees, the rest
    // cancelled.
    let (_, ask) = h.best(SPOT);
    let qty = Qty::from_units(ask.1.units() + 500);
    let filled = ioc_fills(&mut h, SPOT, Side::Buy, qty, false);
    let venue = h.market().order(GW, 0, &OrderRef::Client(client_id(OrderId(1)))).unwrap();
    assert_eq!(venue.cum_qty, filled);
    // SWAP: a buy at the ask opens a net long.
    let swap_qty = h.inst(SWAP).parse_qty("0.5").unwrap();
    let swap_filled = ioc_fills(&mut h, SWAP, Side::Buy, swap_qty, false);
    assert_eq!(h.market().position(GW, 1).size(), swap_filled);
    // Resting orders on both, cancelled on request; a second cancel is refused (51400).
    for (inst, q) in [(SPOT, "0.001"), (SWAP, "0.2")] {
        let (bid, _) = h.best(inst);
        let far = Price::from_units(bid.0.units() * 9 / 10);
        let q = h.inst(inst).parse_qty(q).unwrap();
        let id = h.limit(inst, Side::Buy, TimeInForce::Gtc, far, q);
        let accepted = h.reports_until(id, |_| true);
        assert_eq!((accepted[0].kind, accepted[0].leaves_qty), (ReportKind::Accepted, q));
        h.send_cancel(id, inst);
        let canceled = h.reports_until(id, |_| true);
        assert_eq!(canceled[0].kind, ReportKind::Canceled, "{canceled:?}");
        assert_eq!(canceled[0].venue_order_id, accepted[0].venue_order_id);
        h.send_cancel(id, inst);
        assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));
    }
    assert!(h.market().open_orders(GW, None).is_empty());
    let stats = h.stop();
    let ioc_cancels = u64::from(filled < qty) + u64::from(swap_filled < swap_qty);
    assert_eq!((stats.orders_sent, stats.accepted, stats.cancels, stats.cancel_rejects), (4, 4, 2 + ioc_cancels, 2));
    assert_eq!((stats.transport_errors, stats.malformed, stats.duplicate_fills), (0, 0, 0));
}

#[test]
fn cancel_all_lists_pending_orders_and_cancels_them_in_batches() {
    let mut h = Harness::start();
    let (bid, _) = h.best(SPOT);
    let q = h.inst(SPOT).parse_qty("0.001").unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = h.limit(SPOT, Side::Buy, TimeInForce::Gtc, Price::from_units(bid.0.units() * 9 / 10 - i), q);
        assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
        ids.push(id);
    }
    // Another account's order on the same book is not ours to cancel.
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
    assert_eq!(canceled, ids);
    assert!(h.market().open_orders(GW, None).is_empty());
    assert_eq!(h.market().open_orders(TAKER, None).len(), 1);
    h.stop();
}

#[test]
fn venue_refusals_are_mapped_reduce_only_included() {
    let mut h = Harness::start();
    let swap = h.inst(SWAP);
    // Reduce-only with no position: the venue refuses it (51169).
    let (bid, _) = h.best(SWAP);
    let id = h.send(SWAP, Side::Sell, OrderType::Limit, TimeInForce::Ioc, bid.0, swap.parse_qty("0.3").unwrap(), true);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    // With a long open, a reduce-only sell closes it.
    let long = ioc_fills(&mut h, SWAP, Side::Buy, swap.parse_qty("0.3").unwrap(), false);
    let closed = ioc_fills(&mut h, SWAP, Side::Sell, long, true);
    assert_eq!(closed, long);
    assert!(h.market().position(GW, 1).size().is_zero());
    // Post-only crossing: acked, then cancelled by the venue (cancelSource 31); never accepted.
    let (_, spot_ask) = h.best(SPOT);
    let id = h.limit(SPOT, Side::Buy, TimeInForce::PostOnly, spot_ask.0, h.inst(SPOT).parse_qty("0.001").unwrap());
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::WouldTakeLiquidity), "{r:?}");
    // A FOK larger than the book: cancelled by the venue (cancelSource 13).
    let id = h.limit(SPOT, Side::Buy, TimeInForce::Fok, spot_ask.0, h.inst(SPOT).parse_qty("900").unwrap());
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::FokUnfillable), "{r:?}");
    // Below the minimum amount (51020), more than the balance (51008).
    let id = h.limit(SPOT, Side::Buy, TimeInForce::Gtc, Price::from_units(spot_ask.0.units() / 2), Qty::from_units(1));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::MinNotional));
    let id = h.limit(SPOT, Side::Sell, TimeInForce::Gtc, spot_ask.0, h.inst(SPOT).parse_qty("5000").unwrap());
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::InsufficientBalance));
    let stats = h.stop();
    assert_eq!(stats.rejected.get(RejectReason::Other), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::WouldTakeLiquidity), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::FokUnfillable), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::MinNotional), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::InsufficientBalance), 1, "{stats:?}");
}

fn rest_sell(h: &mut Harness, instrument: InstrumentId, qty: Qty) -> (OrderId, Price) {
    let (_, ask) = h.best(instrument);
    let price = Price::from_units(ask.0.units() + 5);
    let id = h.limit(instrument, Side::Sell, TimeInForce::Gtc, price, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    (id, price)
}

/// Place → ack → partial fill → fill: a resting sell taken in two parts by another account.
#[test]
fn resting_orders_filled_in_parts_report_maker_fills_with_exact_fees() {
    let mut h = Harness::start();
    for (inst, q, part) in [(SPOT, "0.002", "0.0007"), (SWAP, "1.0", "0.4")] {
        let qty = h.inst(inst).parse_qty(q).unwrap();
        let part = h.inst(inst).parse_qty(part).unwrap();
        let (id, price) = rest_sell(&mut h, inst, qty);
        // A first part: some of ours taken, never all of it.
        let part_filled = util::take_part(h.market(), inst.0 as usize, price, part, &client_id(id));
        assert!(part_filled <= part && part_filled < qty);
        let first = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.cum_qty == part_filled);
        assert!(first.iter().all(|f| f.kind == ReportKind::Fill && f.leaves_qty.is_positive()), "{first:?}");
        h.take_through(inst, price, &client_id(id));
        let rest = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
        let fills: Vec<&ExecutionReport> = first.iter().chain(rest.iter()).collect();
        assert!(fills.iter().all(|f| f.kind == ReportKind::Fill && f.liquidity == Liquidity::Maker), "{fills:?}");
        assert!(fills.iter().all(|f| f.last_price == price && f.side == Side::Sell));
        assert_eq!(check_fills(&h.inst(inst), qty, &fills, MAKER_FEE_BPS), qty);
    }
    assert!(h.next_report(Duration::from_millis(200)).is_none());
    let stats = h.stop();
    assert_eq!((stats.duplicate_fills, stats.fills_without_fee, stats.malformed), (0, 0, 0));
}

#[test]
fn dropped_stream_with_a_fill_in_between_is_recovered_once_with_each_trades_fee() {
    let mut h = Harness::start();
    let qty = h.inst(SWAP).parse_qty("1.0").unwrap();
    let (id, price) = rest_sell(&mut h, SWAP, qty);
    // Drop the stream and fill at once: the fill lands while the stream is down (or just
    // back); the query on reconnect (`/trade/fills`), or the stream, reports it — exactly once.
    h.faults().drop_ws_connections();
    h.take_through(SWAP, price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst(SWAP), qty, &fills, MAKER_FEE_BPS), qty, "each trade with its own fee");
    std::thread::sleep(Duration::from_millis(400));
    assert!(h.next_report(Duration::from_millis(300)).is_none(), "nothing reported twice");
    // A later fill arrives on the reconnected stream.
    let (id, price) = rest_sell(&mut h, SWAP, qty);
    h.take_through(SWAP, price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst(SWAP), qty, &fills, MAKER_FEE_BPS), qty);
    let stats = h.stop();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert_eq!((stats.fills_without_fee, stats.fills_fee_from_trades), (0, 0), "trade by trade: {stats:?}");
}

#[test]
fn malformed_private_frame_is_counted_and_the_fill_recovered() {
    let mut h = Harness::start();
    let qty = h.inst(SPOT).parse_qty("0.002").unwrap();
    let (id, price) = rest_sell(&mut h, SPOT, qty);
    // The order's own push is out; the next push — our first fill — arrives cut.
    std::thread::sleep(Duration::from_millis(200));
    h.faults().malformed_account_frames(1);
    h.take_through(SPOT, price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst(SPOT), qty, &fills, MAKER_FEE_BPS), qty, "every lot once: {reports:?}");
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert_eq!(stats.fills_without_fee, 0, "{stats:?}");
}

#[test]
fn orders_of_unknown_fate_are_queried_before_they_are_declared_either_way() {
    let mut h = Harness::start_with(|cfg| cfg.request_timeout = Duration::from_millis(400));
    let (bid, _) = h.best(SWAP);
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let qty = h.inst(SWAP).parse_qty("0.2").unwrap();
    // HTTP 503 before the venue saw it: the query finds nothing, twice → rejected.
    h.faults().fail_http(1, 503);
    let id = h.limit(SWAP, Side::Buy, TimeInForce::Gtc, far, qty);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    assert!(h.market().open_orders(GW, Some(1)).is_empty());
    // Placed, but answered after the gateway gave up (a disconnect with the order in flight):
    // shown working, accepted once, never sent twice.
    h.faults().set_ack_latency(Duration::from_millis(1200));
    let id = h.limit(SWAP, Side::Buy, TimeInForce::Gtc, far, qty);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    h.faults().set_ack_latency(Duration::ZERO);
    assert!(h.next_report(Duration::from_millis(1500)).is_none(), "not accepted twice");
    assert_eq!(h.market().open_orders(GW, Some(1)).len(), 1, "no duplicate at the venue");
    h.send_cancel(id, SWAP);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.accepted, stats.cancels), (1, 1), "{stats:?}");
    assert!(stats.reconciliations >= 2 && stats.transport_errors >= 2, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::Other), 1, "{stats:?}");
}

#[test]
fn clock_skew_is_absorbed_at_start_and_after_a_venue_clock_jump() {
    // 40 s ahead and 45 s behind: beyond OKX's 30 s window, so unsynced every signed request
    // (and the login) would fail.
    for skew_ms in [40_000, -45_000] {
        let mut h = Harness::start_with(|c| c.clock = Arc::new(SkewedClock(skew_ms)));
        let (_, ask) = h.best(SPOT);
        let filled = ioc_fills(&mut h, SPOT, Side::Buy, ask.1, false);
        assert!(filled.is_positive());
        let stats = h.stop();
        assert_eq!(stats.timestamp_rejects, 0, "synced before the first order: {stats:?}");
        assert!((stats.clock_offset_ms + skew_ms).abs() < 500, "skew {skew_ms} ms: {stats:?}");
    }
    let mut h = Harness::start();
    h.market().set_clock_skew_ms(-40_000);
    let (bid, _) = h.best(SWAP);
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let id = h.limit(SWAP, Side::Buy, TimeInForce::Gtc, far, h.inst(SWAP).parse_qty("0.2").unwrap());
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted, "re-synced and sent once more");
    h.send_cancel(id, SWAP);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.timestamp_rejects, stats.orders_sent, stats.accepted), (1, 1, 1), "{stats:?}");
}

#[test]
fn account_query_returns_balances_and_the_swap_position() {
    let mut h = Harness::start();
    let swap_qty = h.inst(SWAP).parse_qty("0.4").unwrap();
    let filled = ioc_fills(&mut h, SWAP, Side::Buy, swap_qty, false);
    let snap = query_account(&h.cfg).unwrap();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].balances.account, GW);
    let btc = snap[0].balances.balances.iter().find(|b| b.asset == "BTC").unwrap();
    assert_eq!(btc.total(), Notional::parse("1000").unwrap());
    assert_eq!(snap[0].positions.len(), 1, "{snap:?}");
    let inst = h.inst(SWAP);
    assert_eq!(snap[0].positions[0].symbol, "BTC-USDT-SWAP");
    assert_eq!(snap[0].positions[0].size, Notional::parse(inst.qty_text(filled).as_str()).unwrap());
    // A wrong secret, or a wrong passphrase, is refused as the account's credentials.
    let mut bad = h.cfg.clone();
    bad.accounts[0].2 = "wrong".into();
    assert!(query_account(&bad).unwrap_err().is_auth_rejected());
    let mut bad = h.cfg.clone();
    bad.passphrases[0].1 = "wrong".into();
    assert!(query_account(&bad).unwrap_err().is_auth_rejected());
    h.stop();
}
