//! Health-based exchange failover end to end (issue #19 item 6, docs/FAILOVER.md): `qt run` on
//! `examples/failover-venue-sim.toml` — one account whose chain is [binance, bybit], trading
//! BTC/USDT spot listed at both, its strategy reading OKX's book — against one simulator
//! serving Binance spot, Bybit v5 and OKX over one market (in this process, real TLS sockets).
//! The account's Binance and Bybit keys are two accounts of the simulator's market, so where
//! each order went is seen at the venue.
//!
//! - An `outage_ms` fault on Binance alone mid-run: new orders go to Bybit within one health
//!   period and `exchange_failover_events_total{selected="bybit"}` moves (`/metrics`).
//! - Binance back: no order reaches it before `return_after` has passed, then orders do.
//! - Nothing is sent twice (each client order id reaches one venue, once) and nothing is lost
//!   (the orders the engine holds open at the end are the venues' open orders, and no gateway
//!   left an order unreconciled).
//! - The whole chain unhealthy (both venues answering orders after 3 s, their books valid):
//!   orders are refused (`no_healthy_venue`) and, after `risk.outage_after`, the emergency
//!   stop trips (`exchange_outage`).

mod util;
use util::binance::{figure_of, stop};
use util::failover::{accepted, between_orders, metric, record, start_run, wait_for};
use util::prometheus::http_get;

use qt_core::{AccountId, Venue};
use qt_test_support::TestInstrument;
use qt_test_support::market::MarketBuilder;
use qt_test_support::sim::{sim_config, start_sim_config};
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::bybit::BybitV5;
use qt_venue_sim::market::Market;
use qt_venue_sim::okx::OkxV5;
use qt_venue_sim::server::RunningServer;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The simulator's account behind the engine's Binance key, and behind its Bybit key.
const AT_BINANCE: AccountId = AccountId(0);
const AT_BYBIT: AccountId = AccountId(1);
/// `[failover] return_after` of the test run.
const RETURN_AFTER: Duration = Duration::from_secs(3);
/// The primary's outage.
const OUTAGE: Duration = Duration::from_secs(5);
/// One health period: the slowest signal that moves the router (`[failover] ack_timeout`; the
/// feed's drop and the gateway's failed requests are faster) plus the housekeeping timer.
const HEALTH_PERIOD: Duration = Duration::from_secs(3);

/// The simulator (Binance spot, Bybit v5, OKX over one BTCUSDT market with brisk flow; two
/// accounts) and the run's configuration, from the example.
fn venue(dir: &std::path::Path) -> (RunningServer, Arc<Market>, PathBuf) {
    let instrument =
        TestInstrument::spot(Venue::Binance, "BTCUSDT").assets("BTC", "USDT").lot("0.00001").min_notional("5").build(0);
    let balances = [("USDT", "1000000"), ("BTC", "10")];
    let market = MarketBuilder::new()
        .symbol_with_flow(instrument, util::binance::brisk_flow())
        .fees_bps(2, 5)
        .account("fo-binance-key", "fo-binance-secret", &balances)
        .account("fo-bybit-key", "fo-bybit-secret", &balances)
        .seed(19)
        .build();
    let protocols: Vec<Arc<dyn qt_venue_sim::protocol::Protocol>> =
        vec![Arc::new(BinanceSpot::default()), Arc::new(BybitV5::new()), Arc::new(OkxV5::new())];
    let mut sim = sim_config(market.clone(), protocols);
    sim.ca_file = dir.join("ca.pem");
    let server = start_sim_config(sim);
    let addr = |name: &str| server.addr_of(name).unwrap().to_string();
    let mut config = include_str!("../../examples/failover-venue-sim.toml")
        .replace("127.0.0.1:9443", &addr("binance"))
        .replace("127.0.0.1:9444", &addr("bybit"))
        .replace("127.0.0.1:9448", &addr("okx"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", server.ca_file.display().to_string()))
        .replace("return_after = \"10s\"", "return_after = \"3s\"")
        .replace("outage_after = \"10s\"", "outage_after = \"3s\"")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"")
        // Room to keep trading one way for the whole run.
        .replace("max_position = \"0.01000\"", "max_position = \"1.00000\"")
        .replace("max_position_notional = \"10000\"", "max_position_notional = \"100000\"")
        .replace("starting_equity = \"10000\"", "starting_equity = \"1000000\"");
    // Binance's key first, Bybit's second, as the example lists them.
    config = config.replacen("qt-sim-key-1", "fo-binance-key", 1).replacen("qt-sim-secret-1", "fo-binance-secret", 1);
    config = config.replacen("qt-sim-key-1", "fo-bybit-key", 1).replacen("qt-sim-secret-1", "fo-bybit-secret", 1);
    assert!(!config.contains("qt-sim-key-1") && !config.contains("9443"), "{config}");
    let path = dir.join("failover.toml");
    std::fs::write(&path, config).unwrap();
    (server, market, path)
}

#[test]
fn an_outage_of_the_primary_moves_new_orders_to_the_secondary_and_back_after_return_after() {
    let dir = util::temp_dir("failover");
    let (mut server, market, path) = venue(&dir);
    let (at_binance, at_bybit) = (record(&market, AT_BINANCE), record(&market, AT_BYBIT));
    let (child, metrics, log, _cwd) = start_run(&path);
    let to_bybit = || metric(metrics, "exchange_failover_events_total", &["selected=\"bybit\""]);
    let log_text = || log.lock().unwrap().join("\n");

    // Trading on the primary (start-up may pass through Bybit while Binance's book is not yet
    // valid; the router returns `return_after` later).
    assert!(
        wait_for(Duration::from_secs(30), || {
            let recent = Instant::now() - Duration::from_millis(500);
            accepted(&at_binance).iter().any(|(t, _)| *t > recent)
        }),
        "orders reach Binance; log:\n{}",
        log_text()
    );
    let failovers_before = to_bybit();
    let ess_before = metric(metrics, "ess_triggers_total", &["exchange_outage"]);
    assert_eq!(ess_before, 0.0);

    // The primary goes dark.
    between_orders(&at_binance);
    let outage_start = Instant::now();
    server.faults_of("binance").unwrap().outage_for(OUTAGE);
    let moved = wait_for(HEALTH_PERIOD, || accepted(&at_bybit).iter().any(|(t, _)| *t > outage_start));
    assert!(
        moved,
        "no order reached Bybit within {HEALTH_PERIOD:?} of Binance's outage; metrics:\n{}\nlog:\n{}",
        http_get(metrics, "/metrics")
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#')
                && (l.contains("order")
                    || l.contains("fill")
                    || l.contains("strateg")
                    || l.contains("risk_gate")
                    || l.contains("venue_")))
            .collect::<Vec<_>>()
            .join("\n"),
        log_text()
    );
    assert!(to_bybit() > failovers_before, "exchange_failover_events_total{{selected=\"bybit\"}} moved");

    // Binance back: not before `return_after` of health, then its orders again.
    let outage_end = outage_start + OUTAGE;
    let back = wait_for(OUTAGE + RETURN_AFTER + Duration::from_secs(12), || {
        accepted(&at_binance).iter().any(|(t, _)| *t > outage_start)
    });
    assert!(back, "orders never returned to Binance; log:\n{}", log_text());
    let first_back = accepted(&at_binance).iter().find(|(t, _)| *t > outage_start).map(|(t, _)| *t).unwrap();
    assert!(
        first_back >= outage_end + RETURN_AFTER,
        "an order reached Binance {:?} after its outage ended, before return_after ({RETURN_AFTER:?})",
        first_back.saturating_duration_since(outage_end)
    );

    // The whole chain unhealthy while its books stay valid: both venues answer orders only
    // after 3 s (past `ack_timeout` and `max_ack_p99`). The strategy keeps deciding; once
    // neither venue is healthy its orders are refused (`no_healthy_venue`) and, after
    // `risk.outage_after`, the emergency stop trips (`exchange_outage`).
    let blocked_before = metric(metrics, "risk_gate_decisions_total", &["no_healthy_venue"]);
    for venue in ["binance", "bybit"] {
        server.faults_of(venue).unwrap().set_ack_latency(Duration::from_secs(3));
    }
    let refused = wait_for(Duration::from_secs(15), || {
        metric(metrics, "risk_gate_decisions_total", &["no_healthy_venue"]) > blocked_before
    });
    assert!(refused, "no order refused with no_healthy_venue; log:\n{}", log_text());
    assert!(log_text().contains("no venue of the account's chain is healthy"), "{}", log_text());
    let tripped =
        wait_for(Duration::from_secs(6), || metric(metrics, "ess_triggers_total", &["exchange_outage"]) >= 1.0);
    assert!(tripped, "the chain's outage tripped the ESS; log:\n{}", log_text());
    for venue in ["binance", "bybit"] {
        server.faults_of(venue).unwrap().set_ack_latency(Duration::ZERO);
    }
    // Time for the last slow answers to come back before the run stops.
    std::thread::sleep(Duration::from_secs(4));

    let out = stop(child);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = log_text();
    assert!(out.status.success(), "stdout:\n{stdout}\nlog:\n{log}");
    assert!(figure_of(&stdout, "gateway   binance:", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "gateway   bybit:", "sent") > 0, "{stdout}");

    // Nothing sent twice: each client order id accepted once, at one venue.
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (venue, events) in [("binance", &at_binance), ("bybit", &at_bybit)] {
        for (_, id) in accepted(events) {
            if let Some(other) = seen.insert(id.clone(), venue) {
                panic!("order {id} accepted at {other} and again at {venue}");
            }
        }
    }
    // Nothing lost: every order the gateways sent has a known fate, and what the engine holds
    // open is what the venues hold open.
    assert!(!log.contains("left unreconciled"), "{log}");
    let venue_open = market.open_orders(AT_BINANCE, None).len() + market.open_orders(AT_BYBIT, None).len();
    assert_eq!(figure_of(&stdout, "orders", "open at end") as usize, venue_open, "{stdout}");
    server.shutdown();
}
