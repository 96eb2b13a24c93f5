//! Integration tests of the Firi gateway against the venue simulator (`qt-venue-sim`'s Firi
//! protocol) over real TLS sockets on loopback: the gateway thread is driven through real rings
//! exactly as the core drives it, on BTCNOK, and the venue's market is also traded directly
//! (another account's orders) to fill ours. Firi has no private stream: every report after an
//! order's ack comes from the gateway's polls.
//!
//! Runs on the test thread; every wait is bounded (a test that waits on a silent gateway fails
//! instead of hanging).

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use qt_core::{
    ExecutionReport, Instrument, InstrumentId, Liquidity, Notional, OrderCommand, OrderId, OrderType, Price, Qty,
    RejectReason, ReportKind, Side, TimeInForce, Venue, VenueId,
};
use qt_gateway::firi::account::query_balances;
use qt_gateway::firi::{FiriGatewayConfig, GatewayStats, spawn};
use qt_gateway::kit::config::GatewayConfig;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::firi::FiriPublic;
use qt_venue_sim::market::{ClientOrderRequest, Market, OrderRef};
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use util::{Ends, GW, MAKER_FEE_BPS, SkewedClock, TAKER, TAKER_FEE_BPS, WAIT, check_fills};

const RUN_ID: u32 = 0x5eed_0020;
const BTCNOK: InstrumentId = InstrumentId(0);

fn instrument() -> Instrument {
    let t = qt_test_support::TestInstrument::spot(Venue::Firi, "BTCNOK").assets("BTC", "NOK").tick("1");
    t.lot("0.0001").minimums("0.0001", "50").build(BTCNOK.0)
}

struct Harness {
    server: RunningServer,
    cfg: FiriGatewayConfig,
    ends: Ends,
}

impl Harness {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut FiriGatewayConfig)) -> Self {
        let market = util::market(instrument(), 20.0, &[("NOK", "100000000"), ("BTC", "1000")], 20);
        let server = util::start_sim(market, Arc::new(FiriPublic::default()), "qt-gateway-firi-tests");
        let addr = server.addr_of("firi").unwrap();
        let kit = GatewayConfig {
            rest_url: format!("https://{addr}"),
            ca_file: Some(server.ca_file.clone()),
            server_name: Some("localhost".into()),
            venue: VenueId(6),
            instruments: vec![instrument()],
            accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
            run_id: RUN_ID,
            request_timeout: Duration::from_secs(10),
            ..GatewayConfig::default()
        };
        let mut cfg = FiriGatewayConfig { poll_every: Duration::from_millis(100), ..FiriGatewayConfig::new(kit) };
        tweak(&mut cfg);
        let ends = Ends::spawn(|orders, reports, stop| spawn(cfg.clone(), orders, reports, stop).unwrap());
        Self { server, cfg, ends }
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

    fn limit(&mut self, side: Side, tif: TimeInForce, price: Price, qty: Qty) -> OrderId {
        self.ends.send_on(BTCNOK, side, OrderType::Limit, tif, price, qty, false)
    }

    fn reports_until(&mut self, order_id: OrderId, done: impl Fn(&ExecutionReport) -> bool) -> Vec<ExecutionReport> {
        self.ends.reports_until(order_id, done)
    }

    /// Buys, as the taker, what is offered up to `price` until our order `venue_id` is filled.
    fn take_through(&self, price: Price, venue_id: u64) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let snap = self.market().snapshot(0, 1000).unwrap();
            let qty: i64 = snap.asks.iter().filter(|(p, _)| *p <= price).map(|(_, q)| q.units()).sum();
            if qty > 0 {
                let _ = self.market().submit(TAKER, 0, ioc_buy(price, Qty::from_units(qty)));
            }
            let ours = self.market().order(GW, 0, &OrderRef::Venue(venue_id)).unwrap();
            if ours.cum_qty == ours.qty {
                return;
            }
        }
        panic!("could not fill {venue_id}");
    }

    fn stop(mut self) -> GatewayStats {
        self.ends.stop()
    }
}

fn ioc_buy(price: Price, qty: Qty) -> ClientOrderRequest {
    ClientOrderRequest {
        client_order_id: None,
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Ioc,
        price: Some(price),
        qty,
    }
}

fn qty(text: &str) -> Qty {
    instrument().parse_qty(text).unwrap()
}

/// A resting sell just above the ask: accepted with its venue id.
fn rest_sell(h: &mut Harness, q: Qty) -> (OrderId, Price, u64) {
    let (_, ask) = h.best();
    let price = Price::from_units(ask.0.units() + 5);
    let id = h.limit(Side::Sell, TimeInForce::Gtc, price, q);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(r[0].venue_order_id > 0);
    (id, price, r[0].venue_order_id)
}

/// Place → ack → partial fill → fill (a resting sell taken in two parts by another account,
/// maker fees), and a marketable bid filled as a taker: exact quantities and fees, each fill
/// once.
#[test]
fn firi_orders_ack_partially_fill_and_fill_with_exact_fees() {
    let mut h = Harness::start();
    let q = qty("0.0020");
    let (id, price, venue_id) = rest_sell(&mut h, q);
    // A first part: what is below our price and a part of ours, until some of ours is taken.
    let deadline = Instant::now() + WAIT;
    let part = loop {
        assert!(Instant::now() < deadline, "never partly filled");
        let snap = h.market().snapshot(0, 1000).unwrap();
        let below: i64 = snap.asks.iter().filter(|(p, _)| *p < price).map(|(_, q)| q.units()).sum();
        let _ = h.market().submit(TAKER, 0, ioc_buy(price, Qty::from_units(below + qty("0.0007").units())));
        let ours = h.market().order(GW, 0, &OrderRef::Venue(venue_id)).unwrap();
        if ours.cum_qty.is_positive() {
            break ours.cum_qty;
        }
    };
    assert!(part < q);
    let first = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.cum_qty == part);
    assert!(first.iter().all(|f| f.kind == ReportKind::Fill && f.leaves_qty.is_positive()), "{first:?}");
    h.take_through(price, venue_id);
    let rest = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = first.iter().chain(rest.iter()).collect();
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Maker && f.last_price == price), "{fills:?}");
    assert!(fills.iter().all(|f| f.venue_order_id == venue_id && f.side == Side::Sell));
    assert_eq!(check_fills(&instrument(), q, &fills, MAKER_FEE_BPS), q);

    // A bid through the ask: accepted, then taker fills with the venue's fees.
    let (_, ask) = h.best();
    let q = Qty::from_units(ask.1.units().min(qty("0.0050").units()));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, Price::from_units(ask.0.units() + 50), q);
    let r = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    let fills: Vec<&ExecutionReport> = r[1..].iter().collect();
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Taker), "{fills:?}");
    assert_eq!(check_fills(&instrument(), q, &fills, TAKER_FEE_BPS), q);

    assert!(h.ends.next_report(Duration::from_millis(300)).is_none(), "every fill once");
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.accepted), (2, 2), "{stats:?}");
    assert_eq!((stats.fills_without_fee, stats.malformed, stats.transport_errors), (0, 0, 0), "{stats:?}");
}

/// An IOC (Firi has none): placed, and what did not fill at once cancelled — accepted, its
/// taker fills with the venue's fees, the rest cancelled; one that cannot fill is just
/// cancelled. Nothing is left working at the venue.
#[test]
fn firi_ioc_is_emulated_by_cancelling_the_rest() {
    let mut h = Harness::start();
    let (bid, ask) = h.best();
    let q = Qty::from_units(ask.1.units() + qty("0.0100").units());
    let id = h.limit(Side::Buy, TimeInForce::Ioc, ask.0, q);
    let r = h.reports_until(id, |r| matches!(r.kind, ReportKind::Canceled | ReportKind::Rejected(_)));
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    let fills: Vec<&ExecutionReport> = r.iter().filter(|r| r.kind == ReportKind::Fill).collect();
    assert!(!fills.is_empty(), "{r:?}");
    let filled = check_fills(&instrument(), q, &fills, TAKER_FEE_BPS);
    assert!(filled.is_positive() && filled < q, "{r:?}");
    let last = r.last().unwrap();
    assert_eq!((last.kind, last.cum_qty, last.leaves_qty), (ReportKind::Canceled, filled, Qty::ZERO), "{r:?}");
    let id = h.limit(Side::Buy, TimeInForce::Ioc, Price::from_units(bid.0.units() * 9 / 10), qty("0.0010"));
    let kinds: Vec<ReportKind> =
        h.reports_until(id, |r| r.kind == ReportKind::Canceled).iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ReportKind::Accepted, ReportKind::Canceled]);
    assert!(h.market().open_orders(GW, None).is_empty());
    assert!(h.ends.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.cancels, stats.cancel_rejects), (2, 2, 0), "{stats:?}");
}

/// Cancel, a second cancel refused, cancel-all of the market (another account's order stays),
/// and the refusals: Firi's own, a 429, and what Firi cannot take (never sent).
#[test]
fn firi_cancel_cancel_all_and_rejects() {
    let mut h = Harness::start();
    let (bid, ask) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    let accepted = h.reports_until(id, |_| true);
    assert_eq!(accepted[0].kind, ReportKind::Accepted);
    h.ends.cancel_on(id, BTCNOK);
    let canceled = h.reports_until(id, |_| true);
    assert_eq!(canceled[0].kind, ReportKind::Canceled, "{canceled:?}");
    assert_eq!(canceled[0].venue_order_id, accepted[0].venue_order_id);
    h.ends.cancel_on(id, BTCNOK);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));

    let mut ids = Vec::new();
    for i in 0..3 {
        let id = h.limit(Side::Buy, TimeInForce::Gtc, Price::from_units(far.units() - i), qty("0.0010"));
        assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
        ids.push(id);
    }
    let other = ClientOrderRequest { tif: TimeInForce::Gtc, ..ioc_buy(far, qty("0.0010")) };
    h.market().submit(TAKER, 0, other).unwrap();
    h.ends.orders.push(OrderCommand::CancelAll { account: GW, instrument: Some(BTCNOK) }).unwrap();
    let mut canceled = Vec::new();
    let deadline = Instant::now() + WAIT;
    while canceled.len() < ids.len() && Instant::now() < deadline {
        if let Some(r) = h.ends.next_report(Duration::from_millis(50)) {
            assert_eq!(r.kind, ReportKind::Canceled, "{r:?}");
            canceled.push(r.order_id);
        }
    }
    canceled.sort_by_key(|o| o.0);
    assert_eq!(canceled, ids);
    assert!(h.market().open_orders(GW, None).is_empty());
    assert_eq!(h.market().open_orders(TAKER, None).len(), 1, "not ours to cancel");

    // Firi's refusals, mapped.
    let id = h.limit(Side::Sell, TimeInForce::Gtc, ask.0, qty("5000"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::InsufficientBalance));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, Price::from_units(100), qty("0.0001"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::MinNotional));
    // Rate limited by the venue: rejected, and nothing sent until its Retry-After passed.
    h.faults().fail_http(1, 429);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::RateLimited));
    // What Firi documents no flag for is refused here, never sent.
    let id = h.limit(Side::Buy, TimeInForce::PostOnly, far, qty("0.0010"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    let id = h.ends.send_on(BTCNOK, Side::Buy, OrderType::Market, TimeInForce::Ioc, Price::ZERO, qty("0.001"), false);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    std::thread::sleep(Duration::from_millis(1100));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted, "after the back-off");
    let stats = h.stop();
    assert_eq!(stats.orders_sent, 8, "the post-only and market orders were not sent: {stats:?}");
    assert_eq!((stats.cancels, stats.cancel_rejects, stats.rate_limited), (4, 1, 1), "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::InsufficientBalance), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::MinNotional), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::RateLimited), 1, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::Other), 2, "{stats:?}");
}

/// A disconnect with the order in flight (the answer comes after the gateway gave up): the
/// order is found by the poll — resting, or already filled — accepted once, never sent twice;
/// an order the venue never saw (HTTP 503 before it) is declared rejected after the polls.
#[test]
fn firi_orders_in_flight_across_a_disconnect_are_found_not_duplicated() {
    // A TLS connect on a loaded machine may take a good part of a second: the timeout leaves
    // room for it, the late answer comes well after it.
    let mut h = Harness::start_with(|c| c.kit.request_timeout = Duration::from_millis(1000));
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    h.faults().fail_http(1, 503);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Rejected(RejectReason::Other));
    assert!(h.market().open_orders(GW, None).is_empty());

    h.faults().set_ack_latency(Duration::from_millis(2500));
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(r[0].venue_order_id > 0);
    // Filled at once while its answer is late: found in the history, with its fills.
    let (_, ask) = h.best();
    let q = Qty::from_units(ask.1.units().min(qty("0.0030").units()));
    let taker = h.limit(Side::Buy, TimeInForce::Gtc, Price::from_units(ask.0.units() + 50), q);
    let r = h.reports_until(taker, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    let fills: Vec<&ExecutionReport> = r[1..].iter().collect();
    assert_eq!(check_fills(&instrument(), q, &fills, TAKER_FEE_BPS), q);
    h.faults().set_ack_latency(Duration::ZERO);
    assert!(h.ends.next_report(Duration::from_millis(2500)).is_none(), "nothing twice");
    assert_eq!(h.market().open_orders(GW, None).len(), 1, "no duplicate at the venue");
    h.ends.cancel_on(id, BTCNOK);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.orders_sent, stats.accepted, stats.cancels), (3, 2, 1), "{stats:?}");
    assert!(stats.reconciliations >= 2 && stats.transport_errors >= 2, "{stats:?}");
    assert_eq!(stats.rejected.get(RejectReason::Other), 1, "{stats:?}");
}

/// Our clock 40 s off the venue's: synced before the first order; the venue's clock jumping
/// later: one `Expired Signature`, re-synced and sent once more.
#[test]
fn firi_clock_skew_is_absorbed() {
    let mut h = Harness::start_with(|c| c.kit.clock = Arc::new(SkewedClock(40_000)));
    let (bid, _) = h.best();
    let far = Price::from_units(bid.0.units() * 9 / 10);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
    h.ends.cancel_on(id, BTCNOK);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!(stats.timestamp_rejects, 0, "synced before the first order: {stats:?}");
    assert!((stats.clock_offset_ms + 40_000).abs() < 1000, "{stats:?}");

    let mut h = Harness::start();
    h.market().set_clock_skew_ms(-40_000);
    let id = h.limit(Side::Buy, TimeInForce::Gtc, far, qty("0.0010"));
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted, "re-synced and sent once more");
    h.ends.cancel_on(id, BTCNOK);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    let stats = h.stop();
    assert_eq!((stats.timestamp_rejects, stats.orders_sent, stats.accepted), (1, 1, 1), "{stats:?}");
}

/// A poll's body cut short (the malformed-account-frame fault): counted, and the fills it
/// hid recovered by the next poll, each once with its fee.
#[test]
fn firi_malformed_poll_body_is_counted_and_the_fill_recovered() {
    let mut h = Harness::start();
    let q = qty("0.0020");
    let (id, price, venue_id) = rest_sell(&mut h, q);
    h.faults().malformed_account_frames(1);
    h.take_through(price, venue_id);
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&instrument(), q, &fills, MAKER_FEE_BPS), q, "every lot once: {reports:?}");
    assert!(h.ends.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert_eq!((stats.malformed, stats.fills_without_fee), (1, 0), "{stats:?}");
}

#[test]
fn firi_balances_are_queried_and_a_wrong_secret_is_the_accounts() {
    let h = Harness::start();
    let b = query_balances(&h.cfg).unwrap();
    assert_eq!((b.len(), b[0].account), (1, GW));
    let nok = b[0].balances.iter().find(|b| b.asset == "NOK").unwrap();
    assert_eq!(nok.total(), Notional::parse("100000000").unwrap());
    let mut bad = h.cfg.clone();
    bad.kit.accounts[0].2 = "wrong".into();
    assert!(query_balances(&bad).unwrap_err().is_auth_rejected());
    h.stop();
}
