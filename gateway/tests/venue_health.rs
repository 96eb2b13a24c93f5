//! The kit's venue health reports (`kit::health`) end to end, per gateway, against the venue
//! simulator over real TLS: an `outage_ms` fault (requests dropped unanswered, streams closed)
//! makes the gateway report its venue unhealthy on the control channel, and healthy again once
//! the outage is over; HTTP 5xx answers to requests (the streams staying up) do the same.
//!
//! Runs on the test thread; every wait is bounded.

#![allow(clippy::unwrap_used, reason = "tests")]

mod util;

use util::{Ends, GW};

use crossbeam_channel::Receiver;
use qt_core::engine::ControlCommand;
use qt_core::{Instrument, InstrumentId, InstrumentKind, InstrumentSpec, OrderType, Side, TimeInForce, Venue, VenueId};
use qt_gateway::binance::BinanceGatewayConfig;
use qt_gateway::bybit::BybitGatewayConfig;
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::bybit::BybitV5;
use qt_venue_sim::server::RunningServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN_ID: u32 = 0x5eed_0019;
const VENUE: VenueId = VenueId(5);
/// Bound on each expected report (the stream reconnect backoff reaches 5 s).
const WAIT: Duration = Duration::from_secs(20);

fn instrument(venue: Venue) -> Instrument {
    let spec = InstrumentSpec {
        venue,
        symbol: "BTCUSDT".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        kind: InstrumentKind::Spot,
        tick_size: "0.01".into(),
        lot_size: "0.00001".into(),
        min_qty: Some("0.00001".into()),
        min_notional: Some("5".into()),
        multiplier: None,
        price_scale: None,
        qty_scale: None,
    };
    Instrument::from_spec(InstrumentId(0), &spec).unwrap()
}

/// A simulator, a gateway with a control channel, and the core's ends.
struct Rig {
    server: RunningServer,
    ends: Ends,
    control: Receiver<ControlCommand>,
    inst: Instrument,
}

fn binance() -> Rig {
    let inst = instrument(Venue::Binance);
    let market = util::market(inst.clone(), 200.0, &[("USDT", "100000000"), ("BTC", "1000")], 7);
    let server = util::start_sim(market, Arc::new(BinanceSpot::default()), "qt-gateway-health-tests");
    let (tx, control) = crossbeam_channel::bounded(64);
    let base = BinanceGatewayConfig { control: Some(tx), ..BinanceGatewayConfig::default() };
    let cfg = util::gateway_config(&server, "binance", base, &inst, VENUE, RUN_ID);
    let ends = Ends::spawn(|orders, reports, stop| qt_gateway::binance::spawn(cfg, orders, reports, stop).unwrap());
    Rig { server, ends, control, inst }
}

fn bybit() -> Rig {
    let inst = instrument(Venue::Bybit);
    let market = util::market(inst.clone(), 200.0, &[("USDT", "100000000"), ("BTC", "1000")], 7);
    let server = util::start_sim(market, Arc::new(BybitV5::new()), "qt-gateway-health-tests");
    let addr = server.addr_of("bybit").unwrap();
    let (tx, control) = crossbeam_channel::bounded(64);
    let cfg = BybitGatewayConfig {
        rest_url: format!("https://{addr}"),
        ws_url: format!("wss://{addr}"),
        ca_file: Some(server.ca_file.clone()),
        server_name: Some("localhost".into()),
        venue: VENUE,
        instruments: vec![inst.clone()],
        accounts: vec![(GW, "gw-key".into(), "gw-secret".into())],
        run_id: RUN_ID,
        request_timeout: Duration::from_secs(10),
        control: Some(tx),
        ..BybitGatewayConfig::default()
    };
    let ends = Ends::spawn(|orders, reports, stop| qt_gateway::bybit::spawn(cfg, orders, reports, stop).unwrap());
    Rig { server, ends, control, inst }
}

impl Rig {
    /// The next health report; fails after [`WAIT`] or on any other command.
    fn next_health(&self) -> bool {
        match self.control.recv_timeout(WAIT) {
            Ok(ControlCommand::VenueHealth { venue, healthy }) => {
                assert_eq!(venue, VENUE);
                healthy
            }
            other => panic!("expected a health report within {WAIT:?}, got {other:?}"),
        }
    }

    /// A resting buy far below the market (never fills).
    fn send_order(&mut self) {
        let price = self.inst.parse_price("30000").unwrap();
        let qty = self.inst.parse_qty("0.001").unwrap();
        self.ends.send(Side::Buy, OrderType::Limit, TimeInForce::Gtc, price, qty, false);
    }
}

/// An outage: down (the order's request and the streams fail), then up again after it.
fn outage_down_then_up(mut rig: Rig) {
    assert!(rig.control.try_recv().is_err(), "a healthy start reports nothing");
    let outage = Duration::from_secs(3);
    rig.server.faults.outage_for(outage);
    let start = Instant::now();
    rig.send_order();
    assert!(!rig.next_health(), "the outage is reported");
    assert!(start.elapsed() < outage, "reported during the outage, not after it: {:?}", start.elapsed());
    assert!(rig.next_health(), "healthy again after the outage");
    assert!(start.elapsed() >= outage, "not healthy before the outage ended");
    std::thread::sleep(Duration::from_millis(300));
    assert!(rig.control.try_recv().is_err(), "each change is sent once");
    let stats = rig.ends.stop();
    assert_eq!((stats.health_reports, stats.health_reports_blocked), (2, 0));
}

/// HTTP 503s with the streams up: down, then up once requests are answered.
fn server_errors_down_then_up(mut rig: Rig) {
    rig.server.faults.fail_http(3, 503);
    rig.send_order();
    assert!(!rig.next_health(), "5xx answers are reported");
    assert!(rig.next_health(), "healthy again once requests are answered");
    let stats = rig.ends.stop();
    assert!(stats.transport_errors >= 1, "{stats:?}");
}

#[test]
fn binance_reports_an_outage_and_the_recovery() {
    outage_down_then_up(binance());
}

#[test]
fn bybit_reports_an_outage_and_the_recovery() {
    outage_down_then_up(bybit());
}

#[test]
fn binance_reports_5xx_answers_and_the_recovery() {
    server_errors_down_then_up(binance());
}

#[test]
fn bybit_reports_5xx_answers_and_the_recovery() {
    server_errors_down_then_up(bybit());
}
