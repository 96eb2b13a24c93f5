//! Integration tests of the Binance USD-M gateway against the venue simulator (`qt-venue-sim`'s
//! `BinanceUsdm` protocol) over real TLS sockets on loopback: the gateway thread is driven
//! through real rings exactly as the core drives it; another account trades the venue's market
//! directly to fill our resting orders; funding is booked on the venue's market.
//!
//! Runs on the test thread; every wait is bounded, each test well under 10 s.

#![allow(clippy::unwrap_used, reason = "tests")]

use crossbeam_channel::Receiver;
use qt_core::engine::ControlCommand;
use qt_core::queue::{Consumer, Producer, spsc};
use qt_core::{
    AccountId, ExecutionReport, Instrument, InstrumentId, InstrumentKind, InstrumentSpec, Liquidity, Nanos, Notional,
    OrderCommand, OrderId, OrderRequest, OrderType, Price, Qty, Rate, RejectReason, ReportKind, Rounding, Side,
    StrategyId, TimeInForce, Venue, VenueId, WallClock,
};
use qt_gateway::binance::GatewayStats;
use qt_gateway::binance_usdm::{UsdmGatewayConfig, query_account, query_balances, spawn};
use qt_venue_sim::binance_usdm::BinanceUsdm;
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, OrderRef, SymbolConfig};
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const GW: AccountId = AccountId(0);
const TAKER: AccountId = AccountId(1);
const RUN_ID: u32 = 0x5eed_0002;
const WAIT: Duration = Duration::from_secs(30);
const TAKER_FEE_BPS: i64 = 5;
const MAKER_FEE_BPS: i64 = 1;

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

/// BTCUSDT perpetual (tick 0.1, lot 0.001, min notional 5, mid 65000) with light background
/// flow; account 0 is the gateway's, account 1 a taker trading directly.
fn market() -> Arc<Market> {
    let instrument = Instrument::from_spec(InstrumentId(0), &spec()).unwrap();
    let flow = FlowParams {
        events_per_sec: 300.0,
        start_mid: Some(instrument.parse_price("65000").unwrap()),
        size_median_lots: 20.0,
        ..FlowParams::default()
    };
    let account = |key: &str, secret: &str| AccountConfig {
        api_key: key.into(),
        secret: secret.into(),
        balances: vec![("USDT".into(), "100000000".into())],
    };
    Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(MAKER_FEE_BPS), taker: Rate::from_bps(TAKER_FEE_BPS) },
        accounts: vec![account("gw-key", "gw-secret"), account("taker-key", "taker-secret")],
        seed: 11,
    })
    .unwrap()
}

fn fresh_ca_path() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join("qt-gateway-binance-usdm-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("ca-{}-{}.pem", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

struct Harness {
    server: RunningServer,
    inst: Instrument,
    cfg: UsdmGatewayConfig,
    orders: Producer<OrderCommand>,
    reports: Consumer<ExecutionReport>,
    funding: Receiver<ControlCommand>,
    stop: Arc<AtomicBool>,
    gateway: Option<JoinHandle<GatewayStats>>,
    next_id: u64,
}

impl Harness {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(tweak: impl FnOnce(&mut UsdmGatewayConfig)) -> Self {
        let server = VenueSimServer::start(ServerConfig {
            market: market(),
            faults: Faults::new(),
            protocols: vec![(Arc::new(BinanceUsdm::default()), "127.0.0.1:0".parse().unwrap())],
            ca_file: fresh_ca_path(),
        })
        .unwrap();
        let addr = server.addr_of("binance_usdm").unwrap();
        let inst = Instrument::from_spec(InstrumentId(0), &spec()).unwrap();
        let (funding_tx, funding) = crossbeam_channel::bounded(16);
        let mut cfg = UsdmGatewayConfig::default();
        cfg.binance.rest_url = format!("https://{addr}");
        cfg.binance.ws_url = format!("wss://{addr}");
        cfg.binance.ca_file = Some(server.ca_file.clone());
        cfg.binance.server_name = Some("localhost".into());
        cfg.binance.venue = VenueId(4);
        cfg.binance.instruments = vec![inst.clone()];
        cfg.binance.accounts = vec![(GW, "gw-key".into(), "gw-secret".into())];
        cfg.binance.run_id = RUN_ID;
        cfg.binance.request_timeout = Duration::from_secs(10);
        cfg.funding = Some(funding_tx);
        tweak(&mut cfg);
        let (orders, orders_rx) = spsc(64);
        let (reports_tx, reports) = spsc(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let gateway = spawn(cfg.clone(), orders_rx, reports_tx, stop.clone()).unwrap();
        Self { server, inst, cfg, orders, reports, funding, stop, gateway: Some(gateway), next_id: 1 }
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

    #[allow(clippy::too_many_arguments, reason = "the fields of an order")]
    fn send(
        &mut self,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Price,
        qty: Qty,
        ro: bool,
    ) -> OrderId {
        let order_id = OrderId(self.next_id);
        self.next_id += 1;
        let request = OrderRequest {
            account: GW,
            strategy: StrategyId(0),
            instrument: InstrumentId(0),
            side,
            order_type,
            tif,
            price,
            qty,
            reduce_only: ro,
            stop_price: None,
        };
        self.orders.push(OrderCommand::New { order_id, request, sent_local_ns: Nanos(0) }).unwrap();
        order_id
    }

    fn send_cancel(&mut self, order_id: OrderId) {
        self.orders.push(OrderCommand::Cancel { order_id, account: GW, instrument: InstrumentId(0) }).unwrap();
    }

    fn next_report(&mut self, timeout: Duration) -> Option<ExecutionReport> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(r) = self.reports.pop() {
                return Some(r);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn reports_until(&mut self, order_id: OrderId, done: impl Fn(&ExecutionReport) -> bool) -> Vec<ExecutionReport> {
        let mut out = Vec::new();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let Some(r) = self.next_report(Duration::from_millis(50)) else { continue };
            assert_eq!(r.order_id, order_id, "a report of another order: {r:?} (so far {out:?})");
            let finished = done(&r);
            out.push(r);
            if finished {
                return out;
            }
        }
        panic!("order {order_id}: no final report within {WAIT:?}; got {out:?}");
    }

    /// Buys `qty` at once (IOC through the ask) and waits for it to be filled or finished.
    fn buy_now(&mut self, qty: Qty) -> Vec<ExecutionReport> {
        let (_, ask) = self.best();
        let price = Price::from_units(ask.0.units() + 50);
        let id = self.send(Side::Buy, OrderType::Limit, TimeInForce::Ioc, price, qty, false);
        self.reports_until(id, |r| {
            matches!(r.kind, ReportKind::Canceled | ReportKind::Rejected(_))
                || (r.kind == ReportKind::Fill && r.leaves_qty.is_zero())
        })
    }

    /// Buys, as the taker account, everything offered up to `price` until our sell order
    /// `client_id` is filled.
    fn take_through(&self, price: Price, client_id: &str) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let snap = self.market().snapshot(0, 1000).unwrap();
            let qty: i64 = snap.asks.iter().filter(|(p, _)| *p <= price).map(|(_, q)| q.units()).sum();
            if qty > 0 {
                let req = ClientOrderRequest {
                    client_order_id: None,
                    side: Side::Buy,
                    order_type: OrderType::Limit,
                    tif: TimeInForce::Ioc,
                    price: Some(price),
                    qty: Qty::from_units(qty),
                };
                self.market().submit(TAKER, 0, req).unwrap();
            }
            let ours = self.market().order(GW, 0, &OrderRef::Client(client_id.to_string())).unwrap();
            if ours.cum_qty == ours.qty {
                return;
            }
        }
        panic!("could not fill {client_id}");
    }

    /// Places a resting sell of `qty` a few ticks above the best ask; returns its id and price.
    fn rest_sell(&mut self, qty: Qty) -> (OrderId, Price) {
        let (_, ask) = self.best();
        let price = Price::from_units(ask.0.units() + 5);
        let id = self.send(Side::Sell, OrderType::Limit, TimeInForce::Gtc, price, qty, false);
        let r = self.reports_until(id, |_| true);
        assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
        (id, price)
    }

    fn stop(mut self) -> GatewayStats {
        self.stop.store(true, Ordering::SeqCst);
        self.gateway.take().unwrap().join().unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(g) = self.gateway.take() {
            let _ = g.join();
        }
    }
}

fn client_id(order_id: OrderId) -> String {
    qt_core::ClientOrderId::new(RUN_ID, order_id).to_string()
}

fn fee_of(inst: &Instrument, price: Price, qty: Qty, bps: i64) -> Notional {
    inst.notional(price, qty, Rounding::Nearest).unwrap().checked_mul_rate(Rate::from_bps(bps), Rounding::Up).unwrap()
}

/// Checks a fill sequence (cumulative quantities, leaves, exact fees); returns the total.
fn check_fills(inst: &Instrument, order_qty: Qty, fills: &[&ExecutionReport], fee_bps: i64) -> Qty {
    let mut cum = Qty::ZERO;
    for f in fills {
        assert_eq!(f.kind, ReportKind::Fill, "{f:?}");
        cum = cum.checked_add(f.last_qty).unwrap();
        assert_eq!(f.cum_qty, cum, "{f:?}");
        assert_eq!(f.leaves_qty, order_qty.checked_sub(cum).unwrap(), "{f:?}");
        assert_eq!(f.fee, fee_of(inst, f.last_price, f.last_qty, fee_bps), "exact fee: {f:?}");
    }
    cum
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
    let id = h.send(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty, false);
    let accepted = h.reports_until(id, |_| true);
    assert_eq!(accepted[0].kind, ReportKind::Accepted);
    assert_eq!(h.market().open_orders(GW, Some(0)).len(), 1);
    h.send_cancel(id);
    let canceled = h.reports_until(id, |_| true);
    assert_eq!((canceled[0].kind, canceled[0].leaves_qty), (ReportKind::Canceled, Qty::ZERO), "{canceled:?}");
    assert!(h.market().open_orders(GW, Some(0)).is_empty());
    h.send_cancel(id);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::CancelRejected(RejectReason::UnknownOrder));
    // Post-only (GTX) that would take: -5022.
    let (_, ask) = h.best();
    let id = h.send(Side::Buy, OrderType::Limit, TimeInForce::PostOnly, ask.0, qty, false);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::WouldTakeLiquidity), "{r:?}");
    // Cancel-all takes a resting order down; the stream reports it.
    let id = h.send(Side::Buy, OrderType::Limit, TimeInForce::Gtc, far, qty, false);
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Accepted);
    h.orders.push(OrderCommand::CancelAll { account: GW, instrument: None }).unwrap();
    assert_eq!(h.reports_until(id, |_| true)[0].kind, ReportKind::Canceled);
    // The account query sees the long position the fills made.
    let accounts = query_account(&h.cfg).unwrap();
    let pos = accounts[0].positions.iter().find(|p| p.symbol == "BTCUSDT").unwrap();
    assert_eq!(pos.amount, Notional::parse(h.inst.qty_text(bought).as_str()).unwrap());
    let balances = query_balances(&h.cfg).unwrap();
    assert!(balances[0].balances.iter().any(|b| b.asset == "USDT" && b.total() > Notional::ZERO));
    let stats = h.stop();
    assert_eq!((stats.transport_errors, stats.malformed, stats.duplicate_fills), (0, 0, 0), "{stats:?}");
    assert!(stats.max_used_weight > 0, "{stats:?}");
}

#[test]
fn a_reduce_only_order_that_would_increase_the_position_is_refused_and_mapped() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    // Flat: a reduce-only sell would open a short: -2022.
    let (bid, _) = h.best();
    let id = h.send(Side::Sell, OrderType::Market, TimeInForce::Ioc, bid.0, qty, true);
    let r = h.reports_until(id, |_| true);
    assert_eq!(r[0].kind, ReportKind::Rejected(RejectReason::Other), "{r:?}");
    assert!(h.market().order(GW, 0, &OrderRef::Client(client_id(id))).is_none());
    // Long 0.002: a reduce-only market sell of it closes it.
    let bought = h.buy_now(qty);
    assert!(bought.iter().any(|r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero()), "{bought:?}");
    let id = h.send(Side::Sell, OrderType::Market, TimeInForce::Ioc, bid.0, qty, true);
    let r = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    assert_eq!(r[0].kind, ReportKind::Accepted, "{r:?}");
    assert!(h.market().positions(GW).iter().all(|p| p.qty == 0), "flat again");
    let stats = h.stop();
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
    let stats = h.stop();
    assert_eq!((stats.funding_payments, stats.funding_unbooked), (1, 0), "{stats:?}");
}

#[test]
fn dropped_user_stream_reconnects_and_no_fill_is_lost_or_doubled() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (id, price) = h.rest_sell(qty);
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
    // After the reconnect and its query, nothing more for it; a later fill comes on the stream.
    std::thread::sleep(Duration::from_millis(600));
    assert!(h.next_report(Duration::from_millis(100)).is_none(), "no duplicate");
    let (id, price) = h.rest_sell(qty);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty);
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert!(stats.reconnects >= 1, "{stats:?}");
}

#[test]
fn a_malformed_frame_is_counted_and_its_fill_recovered_with_its_commission() {
    let mut h = Harness::start();
    let qty = h.inst.parse_qty("0.002").unwrap();
    let (id, price) = h.rest_sell(qty);
    std::thread::sleep(Duration::from_millis(200));
    // The next stream message — our fill's ORDER_TRADE_UPDATE — arrives as invalid JSON.
    h.faults().malformed_frames(1);
    h.take_through(price, &client_id(id));
    let reports = h.reports_until(id, |r| r.kind == ReportKind::Fill && r.leaves_qty.is_zero());
    let fills: Vec<&ExecutionReport> = reports.iter().collect();
    assert_eq!(check_fills(&h.inst, qty, &fills, MAKER_FEE_BPS), qty, "every lot once, real fee");
    assert!(fills.iter().all(|f| f.liquidity == Liquidity::Maker), "{fills:?}");
    assert!(h.next_report(Duration::from_millis(300)).is_none());
    let stats = h.stop();
    assert_eq!(stats.malformed, 1, "{stats:?}");
    assert_eq!(stats.fills_without_fee, 0, "{stats:?}");
}

/// Our clock, `skew_ms` off the wall clock (the simulator's clock is the wall clock).
#[derive(Debug)]
struct SkewedClock(i64);

impl qt_core::Clock for SkewedClock {
    fn now(&self) -> Nanos {
        Nanos(qt_core::Clock::now(&WallClock).0 + self.0 * 1_000_000)
    }
}

#[test]
fn a_gateway_whose_clock_is_off_syncs_with_the_venue_and_trades() {
    // 3 s ahead and 6 s behind (beyond the 5000 ms recvWindow): unsynced, every signed request
    // (the position-mode check first) would get -1021.
    for skew_ms in [3_000, -6_000] {
        let mut h = Harness::start_with(|c| c.binance.clock = Arc::new(SkewedClock(skew_ms)));
        let qty = h.inst.parse_qty("0.002").unwrap();
        let reports = h.buy_now(qty);
        assert_eq!(reports[0].kind, ReportKind::Accepted, "skew {skew_ms} ms: {reports:?}");
        assert!(reports.iter().any(|r| r.kind == ReportKind::Fill), "skew {skew_ms} ms: {reports:?}");
        let stats = h.stop();
        assert_eq!(stats.timestamp_rejects, 0, "synced before the first order: {stats:?}");
        assert!((stats.clock_offset_ms + skew_ms).abs() < 500, "skew {skew_ms} ms: {stats:?}");
    }
}
