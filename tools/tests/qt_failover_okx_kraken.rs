//! Health-based failover between two of the later venues (issue #20): `qt run` on
//! `examples/failover-okx-kraken-venue-sim.toml` — one account whose chain is [okx, kraken],
//! trading BTC/USDT spot listed at both, its strategy reading Bybit's book — against one
//! simulator serving OKX v5, Kraken and Bybit v5 over one market (in this process, real TLS
//! sockets). The account's OKX and Kraken keys are two accounts of the simulator's market, so
//! where each order went is seen at the venue.
//!
//! - An `outage_ms` fault on OKX alone mid-run: new orders go to Kraken within one health period
//!   and `exchange_failover_events_total{selected="kraken"}` moves (`/metrics`).
//! - Nothing is sent twice: every order id (OKX's `clOrdId` and Kraken's `cl_ord_id` both name
//!   our run and order id) is accepted at one venue, once; and nothing is lost: what the engine
//!   holds open at the end is what the venues hold open, and no gateway left an order
//!   unreconciled.
//!
//! The return to the primary after `return_after` and the whole chain's outage are the router's
//! policy, venue-blind; `qt_failover.rs` checks them on Binance → Bybit.

mod util;
use util::binance::{figure_of, stop};
use util::failover::{accepted, between_orders, metric, record, start_run, wait_for};

use qt_core::{AccountId, ClientOrderId, OrderId, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::bybit::BybitV5;
use qt_venue_sim::kraken::KrakenV2;
use qt_venue_sim::market::Market;
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The simulator's account behind the engine's OKX key, and behind its Kraken key.
const AT_OKX: AccountId = AccountId(0);
const AT_KRAKEN: AccountId = AccountId(1);
/// The primary's outage.
const OUTAGE: Duration = Duration::from_secs(5);
/// One health period (`[failover] ack_timeout` plus the housekeeping timer; as `qt_failover.rs`).
const HEALTH_PERIOD: Duration = Duration::from_secs(3);

/// The simulator (OKX, Kraken and Bybit over one BTCUSDT market with brisk flow; two
/// accounts) and the run's configuration, from the example.
fn venue(dir: &std::path::Path) -> (RunningServer, Arc<Market>, PathBuf) {
    let instrument =
        TestInstrument::spot(Venue::Okx, "BTCUSDT").assets("BTC", "USDT").lot("0.00001").min_notional("5").build(0);
    let balances = [("USDT", "1000000"), ("BTC", "10")];
    let market = MarketBuilder::new()
        .symbol_with_flow(instrument, util::binance::brisk_flow())
        .fees_bps(2, 5)
        .account("fo-okx-key", "fo-okx-secret", &balances)
        .account("fo-kraken-key", "fo-kraken-secret", &balances)
        .seed(23)
        .build();
    let protocols: Vec<Arc<dyn qt_venue_sim::protocol::Protocol>> =
        vec![Arc::new(OkxV5::new()), Arc::new(KrakenV2::new()), Arc::new(BybitV5::new())];
    let mut sim = sim_config(market.clone(), protocols);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let addr = |name: &str| server.addr_of(name).unwrap().to_string();
    let config = include_str!("../../examples/failover-okx-kraken-venue-sim.toml")
        .replace("127.0.0.1:9448", &addr("okx"))
        .replace("127.0.0.1:9449", &addr("kraken"))
        .replace("127.0.0.1:9444", &addr("bybit"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", server.ca_file.display().to_string()))
        .replace("return_after = \"10s\"", "return_after = \"3s\"")
        // A second between a strategy's orders: the outage starts just after the engine saw an
        // order end, so the next one is decided during the outage (an order in flight when the
        // venue goes dark has an unknown fate until it is back, and holds the strategy).
        .replace("cooldown = \"200ms\"", "cooldown = \"1s\"")
        // The strategy trades on most signals.
        .replace("threshold = \"0.6\"", "threshold = \"0.1\"")
        // Room to keep trading one way for the whole run.
        .replace("max_position = \"0.01000\"", "max_position = \"1.00000\"")
        .replace("max_position_notional = \"10000\"", "max_position_notional = \"100000\"")
        .replace("starting_equity = \"10000\"", "starting_equity = \"1000000\"")
        .replace("qt-sim-key-1", "fo-okx-key")
        .replace("qt-sim-secret-1", "fo-okx-secret")
        .replace("qt-sim-key-2", "fo-kraken-key")
        // base64("fo-kraken-secret")
        .replace("cXQtc2ltLXNlY3JldC0y", "Zm8ta3Jha2VuLXNlY3JldA==");
    assert!(!config.contains("qt-sim-key") && !config.contains("9448"), "{config}");
    let path = dir.join("failover-okx-kraken.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path)
}

/// Our (run, order id) behind a venue's client order id: OKX's is our `ClientOrderId`,
/// Kraken's its 32-hex-digit `cl_ord_id` form.
fn order_of(venue: &str, id: &str) -> (u32, OrderId) {
    let parsed = match venue {
        "kraken" => qt_gateway::kraken::rest::ClOrdId::parse(id),
        _ => ClientOrderId::parse(id),
    };
    parsed.unwrap_or_else(|| panic!("{venue}: {id:?} is not one of our client order ids"))
}

#[test]
fn an_outage_of_okx_moves_new_orders_to_kraken_with_nothing_sent_twice() {
    let dir = util::temp_dir("failover-okx-kraken");
    let (mut server, market, path) = venue(&dir);
    let (at_okx, at_kraken) = (record(&market, AT_OKX), record(&market, AT_KRAKEN));
    let (child, metrics, log, _cwd) = start_run(&path);
    let to_kraken = || metric(metrics, "exchange_failover_events_total", &["selected=\"kraken\""]);
    let log_text = || log.lock().unwrap().join("\n");

    assert!(
        wait_for(Duration::from_secs(30), || {
            let recent = Instant::now() - Duration::from_millis(500);
            accepted(&at_okx).iter().any(|(t, _)| *t > recent)
        }),
        "orders reach OKX; log:\n{}",
        log_text()
    );
    let failovers_before = to_kraken();

    // The primary goes dark between orders: the venue's last order ended and the engine holds
    // none open.
    between_orders(&at_okx);
    assert!(wait_for(Duration::from_secs(5), || metric(metrics, "open_orders", &[]) == 0.0), "an order stays open");
    let outage_start = Instant::now();
    server.faults_of("okx").unwrap().outage_for(OUTAGE);
    let moved = wait_for(HEALTH_PERIOD, || accepted(&at_kraken).iter().any(|(t, _)| *t > outage_start));
    assert!(
        moved,
        "no order reached Kraken within {HEALTH_PERIOD:?} of OKX's outage; metrics:\n{}\nlog:\n{}",
        util::prometheus::http_get(metrics, "/metrics")
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && (l.contains("order") || l.contains("risk_gate") || l.contains("venue_")))
            .collect::<Vec<_>>()
            .join("\n"),
        log_text()
    );
    assert!(to_kraken() > failovers_before, "exchange_failover_events_total{{selected=\"kraken\"}} moved");

    // OKX back; let the answers of the last orders come in before the run stops.
    std::thread::sleep(OUTAGE + Duration::from_secs(2));
    let out = stop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = log_text();
    assert!(out.status.success(), "stdout:\n{stdout}\nlog:\n{log}");
    assert!(figure_of(&stdout, "gateway   okx:", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "gateway   kraken:", "sent") > 0, "{stdout}");

    // Nothing sent twice: each order accepted once, at one venue.
    let mut seen: HashMap<(u32, OrderId), &str> = HashMap::new();
    for (venue, events) in [("okx", &at_okx), ("kraken", &at_kraken)] {
        for (_, id) in accepted(events) {
            if let Some(other) = seen.insert(order_of(venue, &id), venue) {
                panic!("order {id} accepted at {other} and again at {venue}");
            }
        }
    }
    // Nothing lost.
    assert!(!log.contains("left unreconciled"), "{log}");
    let venue_open = market.open_orders(AT_OKX, None).len() + market.open_orders(AT_KRAKEN, None).len();
    assert_eq!(figure_of(&stdout, "orders", "open at end") as usize, venue_open, "{stdout}");
    server.shutdown();
}
