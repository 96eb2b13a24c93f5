//! What the gateway integration tests against the venue simulator share (Binance spot's,
//! USD-M's and OKX's): the simulator's market and server, a gateway configuration pointing at it, the
//! core's ends of the gateway's rings ([`Ends`], bounded waits), a taker filling our resting
//! order on the venue's market, fee and fill-sequence checks, and a clock that is off.

#![allow(dead_code, reason = "each test binary uses its part")]

use qt_core::queue::{Consumer, Producer, spsc};
use qt_core::{
    AccountId, ExecutionReport, Instrument, InstrumentId, Nanos, Notional, OrderCommand, OrderId, OrderRequest,
    OrderType, Price, Qty, Rate, ReportKind, Rounding, Side, StrategyId, TimeInForce, VenueId, WallClock,
};
use qt_gateway::binance::{BinanceGatewayConfig, GatewayStats};
use qt_venue_sim::exchange::flow::FlowParams;
use qt_venue_sim::exchange::matching::FeeSchedule;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{AccountConfig, ClientOrderRequest, Market, MarketConfig, OrderRef, SymbolConfig};
use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::{RunningServer, ServerConfig, VenueSimServer};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The gateway's account on the venue.
pub(crate) const GW: AccountId = AccountId(0);
/// Another account, trading the venue's market directly.
pub(crate) const TAKER: AccountId = AccountId(1);
/// The venue's taker commission.
pub(crate) const TAKER_FEE_BPS: i64 = 5;
/// The venue's maker commission.
pub(crate) const MAKER_FEE_BPS: i64 = 1;

/// The simulator's market of one symbol, `instrument`, at mid 65000 with light background flow
/// (`lots` the median size); accounts [`GW`] and [`TAKER`] each hold `balances`.
pub(crate) fn market(instrument: Instrument, lots: f64, balances: &[(&str, &str)], seed: u64) -> Arc<Market> {
    let flow = FlowParams {
        events_per_sec: 300.0,
        start_mid: Some(instrument.parse_price("65000").unwrap()),
        size_median_lots: lots,
        ..FlowParams::default()
    };
    let account = |key: &str, secret: &str| AccountConfig {
        api_key: key.into(),
        secret: secret.into(),
        balances: balances.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
    };
    Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(MAKER_FEE_BPS), taker: Rate::from_bps(TAKER_FEE_BPS) },
        accounts: vec![account("gw-key", "gw-secret"), account("taker-key", "taker-secret")],
        seed,
    })
    .unwrap()
}

/// A simulator serving `market` with `protocol` on loopback (its CA in the temp folder `dir`).
pub(crate) fn start_sim(market: Arc<Market>, protocol: Arc<dyn Protocol>, dir: &str) -> RunningServer {
    VenueSimServer::start(ServerConfig {
        market,
        faults: Faults::new(),
        protocols: vec![(protocol, "127.0.0.1:0".parse().unwrap())],
        ca_file: fresh_ca_path(dir),
    })
    .unwrap()
}

/// A Binance gateway configuration for `server`'s protocol `name`: account [`GW`], instrument
/// `inst`, our venue id `venue`, run `run_id`, a 10 s request timeout.
pub(crate) fn gateway_config(
    server: &RunningServer,
    name: &str,
    base: BinanceGatewayConfig,
    inst: &Instrument,
    venue: VenueId,
    run_id: u32,
) -> BinanceGatewayConfig {
    let addr = server.addr_of(name).unwrap();
    BinanceGatewayConfig {
        rest_url: format!("https://{addr}"),
        ws_url: format!("wss://{addr}"),
        ca_file: Some(server.ca_file.clone()),
        server_name: Some("localhost".into()),
        recv_window_ms: 5000,
        venue,
        instruments: vec![inst.clone()],
        accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
        run_id,
        request_timeout: Duration::from_secs(10),
        ..base
    }
}

/// The core's ends of a gateway thread's rings, its stop flag and its handle (stopped and
/// joined on drop).
pub(crate) struct Ends {
    pub(crate) orders: Producer<OrderCommand>,
    pub(crate) reports: Consumer<ExecutionReport>,
    stop: Arc<AtomicBool>,
    gateway: Option<JoinHandle<GatewayStats>>,
    next_id: u64,
}

impl Ends {
    /// Rings and a stop flag, handed to `spawn`, which starts the gateway.
    pub(crate) fn spawn(
        spawn: impl FnOnce(Consumer<OrderCommand>, Producer<ExecutionReport>, Arc<AtomicBool>) -> JoinHandle<GatewayStats>,
    ) -> Self {
        let (orders, orders_rx) = spsc(64);
        let (reports_tx, reports) = spsc(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let gateway = spawn(orders_rx, reports_tx, stop.clone());
        Self { orders, reports, stop, gateway: Some(gateway), next_id: 1 }
    }

    /// Sends a new order of [`GW`] on instrument 0; returns its id.
    pub(crate) fn send(
        &mut self,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Price,
        qty: Qty,
        reduce_only: bool,
    ) -> OrderId {
        self.send_on(InstrumentId(0), side, order_type, tif, price, qty, reduce_only)
    }

    /// Sends a new order of [`GW`] on `instrument`; returns its id.
    #[allow(clippy::too_many_arguments, reason = "the fields of an order")]
    pub(crate) fn send_on(
        &mut self,
        instrument: InstrumentId,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Price,
        qty: Qty,
        reduce_only: bool,
    ) -> OrderId {
        let order_id = OrderId(self.next_id);
        self.next_id += 1;
        let request = OrderRequest {
            account: GW,
            strategy: StrategyId(0),
            instrument,
            side,
            order_type,
            tif,
            price,
            qty,
            reduce_only,
            stop_price: None,
        };
        self.orders.push(OrderCommand::New { order_id, request, sent_local_ns: Nanos(0) }).unwrap();
        order_id
    }

    /// Sends a cancel of `order_id`.
    pub(crate) fn cancel(&mut self, order_id: OrderId) {
        self.cancel_on(order_id, InstrumentId(0));
    }

    /// Sends a cancel of `order_id` on `instrument`.
    pub(crate) fn cancel_on(&mut self, order_id: OrderId, instrument: InstrumentId) {
        self.orders.push(OrderCommand::Cancel { order_id, account: GW, instrument }).unwrap();
    }

    /// The next report within `timeout`.
    pub(crate) fn next_report(&mut self, timeout: Duration) -> Option<ExecutionReport> {
        next_report(&mut self.reports, timeout)
    }

    /// Reports of `order_id` until one satisfies `done` (included); fails after [`WAIT`].
    pub(crate) fn reports_until(
        &mut self,
        order_id: OrderId,
        done: impl Fn(&ExecutionReport) -> bool,
    ) -> Vec<ExecutionReport> {
        reports_until(&mut self.reports, order_id, done)
    }

    /// Stops the gateway; its stats.
    pub(crate) fn stop(&mut self) -> GatewayStats {
        self.stop.store(true, Ordering::SeqCst);
        self.gateway.take().unwrap().join().unwrap()
    }
}

impl Drop for Ends {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(g) = self.gateway.take() {
            let _ = g.join();
        }
    }
}

/// Longest wait for a report.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A CA file path of its own in the temp folder `dir`.
pub(crate) fn fresh_ca_path(dir: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("ca-{}-{}.pem", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// The next report within `timeout`.
pub(crate) fn next_report(reports: &mut Consumer<ExecutionReport>, timeout: Duration) -> Option<ExecutionReport> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(r) = reports.pop() {
            return Some(r);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reports of `order_id` until one satisfies `done` (included); fails after [`WAIT`] or on a
/// report of another order.
pub(crate) fn reports_until(
    reports: &mut Consumer<ExecutionReport>,
    order_id: OrderId,
    done: impl Fn(&ExecutionReport) -> bool,
) -> Vec<ExecutionReport> {
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let Some(r) = next_report(reports, Duration::from_millis(50)) else { continue };
        assert_eq!(r.order_id, order_id, "a report of another order: {r:?} (so far {out:?})");
        let finished = done(&r);
        out.push(r);
        if finished {
            return out;
        }
    }
    panic!("order {order_id}: no final report within {WAIT:?}; got {out:?}");
}

/// Buys, as `taker` trading the market directly, everything offered up to `price` until
/// `ours`' sell order with client id `client_id` is filled.
pub(crate) fn take_through(market: &Market, ours: AccountId, taker: AccountId, price: Price, client_id: &str) {
    take_through_on(market, 0, ours, taker, price, client_id);
}

/// [`take_through`] on the market's symbol `symbol`.
pub(crate) fn take_through_on(
    market: &Market,
    symbol: usize,
    ours: AccountId,
    taker: AccountId,
    price: Price,
    client_id: &str,
) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let snap = market.snapshot(symbol, 1000).unwrap();
        let qty: i64 = snap.asks.iter().filter(|(p, _)| *p <= price).map(|(_, q)| q.units()).sum();
        if qty > 0 {
            market.submit(taker, symbol, ioc_buy(price, Qty::from_units(qty))).unwrap();
        }
        let order = market.order(ours, symbol, &OrderRef::Client(client_id.to_string())).unwrap();
        if order.cum_qty == order.qty {
            return;
        }
    }
    panic!("could not fill {client_id}");
}

/// Buys, as `taker`, what is offered below `price` on `symbol` and `part` more, until some of
/// `ours`' sell `client_id` resting at `price` is taken (orders ahead of it fill first); returns
/// what of it is filled (at most `part`, never all of it unless `part` is).
pub(crate) fn take_part_on(
    market: &Market,
    symbol: usize,
    (ours, taker): (AccountId, AccountId),
    price: Price,
    part: Qty,
    client_id: &str,
) -> Qty {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "{client_id} never partly filled");
        let snap = market.snapshot(symbol, 1000).unwrap();
        let below: i64 = snap.asks.iter().filter(|(p, _)| *p < price).map(|(_, q)| q.units()).sum();
        let req = ClientOrderRequest {
            client_order_id: None,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
            price: Some(price),
            qty: Qty::from_units(below + part.units()),
        };
        let _ = market.submit(taker, symbol, req);
        let order = market.order(ours, symbol, &OrderRef::Client(client_id.to_string())).unwrap();
        if order.cum_qty.is_positive() {
            return order.cum_qty;
        }
    }
}

/// The venue's commission on `qty` at `price`: `bps` of the notional, rounded up.
pub(crate) fn fee_of(inst: &Instrument, price: Price, qty: Qty, bps: i64) -> Notional {
    inst.notional(price, qty, Rounding::Nearest).unwrap().checked_mul_rate(Rate::from_bps(bps), Rounding::Up).unwrap()
}

/// Checks a fill sequence: cumulative quantities add up, leaves follow, fees are exact; returns
/// the total.
pub(crate) fn check_fills(inst: &Instrument, order_qty: Qty, fills: &[&ExecutionReport], fee_bps: i64) -> Qty {
    let mut cum = Qty::ZERO;
    for f in fills {
        assert_eq!(f.kind, ReportKind::Fill, "{f:?}");
        assert!(f.last_qty.is_positive(), "{f:?}");
        cum = cum.checked_add(f.last_qty).unwrap();
        assert_eq!(f.cum_qty, cum, "{f:?}");
        assert_eq!(f.leaves_qty, order_qty.checked_sub(cum).unwrap(), "{f:?}");
        assert_eq!(f.fee, fee_of(inst, f.last_price, f.last_qty, fee_bps), "exact fee: {f:?}");
    }
    cum
}

/// Our clock, `.0` ms off the wall clock (the simulator's clock is the wall clock).
#[derive(Debug)]
pub(crate) struct SkewedClock(pub(crate) i64);

impl qt_core::Clock for SkewedClock {
    fn now(&self) -> Nanos {
        Nanos(qt_core::Clock::now(&WallClock).0 + self.0 * 1_000_000)
    }
}

/// Buys, as [`TAKER`] trading the market's symbol `symbol` directly, what is offered below
/// `price` and `part` more, until some of [`GW`]'s resting sell `client_id` at `price` is taken
/// (orders at the price ahead of ours fill first); returns what of ours is filled then (at most
/// `part`).
pub(crate) fn take_part(market: &Market, symbol: usize, price: Price, part: Qty, client_id: &str) -> Qty {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "never partly filled");
        let snap = market.snapshot(symbol, 1000).unwrap();
        let below: i64 = snap.asks.iter().filter(|(p, _)| *p < price).map(|(_, q)| q.units()).sum();
        let _ = market.submit(TAKER, symbol, ioc_buy(price, Qty::from_units(below + part.units())));
        let ours = market.order(GW, symbol, &OrderRef::Client(client_id.to_string())).unwrap();
        if ours.cum_qty.is_positive() {
            return ours.cum_qty;
        }
    }
}

/// The orders reported `Canceled` (nothing else may be reported) until `n` are, within [`WAIT`];
/// sorted by id.
pub(crate) fn canceled_reports(reports: &mut Consumer<ExecutionReport>, n: usize) -> Vec<OrderId> {
    let mut canceled = Vec::new();
    let deadline = Instant::now() + WAIT;
    while canceled.len() < n && Instant::now() < deadline {
        if let Some(r) = next_report(reports, Duration::from_millis(50)) {
            assert_eq!(r.kind, ReportKind::Canceled, "{r:?}");
            canceled.push(r.order_id);
        }
    }
    canceled.sort_by_key(|o| o.0);
    canceled
}

/// An IOC buy of `qty` at `price` (a taker's order on the venue's market).
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
