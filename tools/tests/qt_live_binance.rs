//! `qt run` trading over real sockets against the venue simulator's Binance spot protocol:
//! TLS WebSocket market data synced by Binance's procedure, signed REST orders, fills from the
//! user data stream — and the engine's position reconciles with the venue's balance.

use qt_core::{Instrument, InstrumentId, InstrumentSpec, Notional, Price, Rate, Venue};
use qt_gateway::sim::flow::FlowParams;
use qt_gateway::sim::matching::FeeSchedule;
use qt_venue_sim::binance::BinanceSpot;
use qt_venue_sim::faults::Faults;
use qt_venue_sim::market::{AccountConfig, Market, MarketConfig, SymbolConfig};
use qt_venue_sim::server::{ServerConfig, VenueSimServer};
use std::process::Command;
use std::sync::Arc;

#[test]
fn trades_against_the_simulated_binance_and_reconciles() {
    let dir = std::env::temp_dir().join(format!("qt-live-binance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001").with_min_notional("5");
    let instrument = Instrument::from_spec(InstrumentId(0), &spec).unwrap();
    let flow = FlowParams {
        start_mid: Some(Price::from_units(6_500_000)),
        events_per_sec: 2000.0,
        fair_vol_ticks: 60.0,
        size_median_lots: 2000.0,
        ..FlowParams::default()
    };
    let market = Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::from_bps(2), taker: Rate::from_bps(5) },
        accounts: vec![AccountConfig {
            api_key: "live-test-key".into(),
            secret: "live-test-secret".into(),
            balances: vec![("USDT".into(), "1000000".into()), ("BTC".into(), "10".into())],
        }],
        seed: 11,
    })
    .unwrap();
    let mut server = VenueSimServer::start(ServerConfig {
        market: market.clone(),
        faults: Faults::new(),
        protocols: vec![(Arc::new(BinanceSpot::default()), "127.0.0.1:0".parse().unwrap())],
        ca_file: ca.clone(),
    })
    .unwrap();
    let addr = server.addr_of("binance").unwrap();

    let config = include_str!("../../examples/binance-venue-sim.toml")
        .replace("https://127.0.0.1:9443", &format!("https://{addr}"))
        .replace("wss://127.0.0.1:9443", &format!("wss://{addr}"))
        .replace("ca_file = \"venue-sim-ca.pem\"", &format!("ca_file = {:?}", ca.display().to_string()))
        .replace("qt-sim-key-1", "live-test-key")
        .replace("qt-sim-secret-1", "live-test-secret")
        .replace("cooldown = \"200ms\"", "cooldown = \"50ms\"");
    let path = dir.join("live.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["run", "--duration", "6s", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("live venues: binance"), "{stdout}");

    let figure = |line: &str, label: &str| -> u64 {
        let l = stdout.lines().find(|l| l.trim_start().starts_with(line)).unwrap();
        let rest = l.split_once(&format!(" {label} ")).unwrap().1;
        rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
    };
    assert!(figure("market", "events") > 1000, "{stdout}");
    assert!(figure("orders", "sent") > 0, "{stdout}");
    assert!(figure("orders", "fills") > 0, "{stdout}");
    assert_eq!(figure("orders", "rejects"), 0, "{stdout}");

    // Reconciliation: the engine's position equals the venue's BTC balance change.
    let pos_text = stdout
        .lines()
        .find(|l| l.contains("BTCUSDT") && l.contains(" pos "))
        .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .unwrap();
    let position = Notional::parse(&pos_text).unwrap();
    let balances = market.balances(qt_core::AccountId(0));
    let btc = balances.iter().find(|b| b.asset == "BTC").unwrap();
    let venue_change = btc.free.checked_add(btc.locked).unwrap().checked_sub(Notional::parse("10").unwrap()).unwrap();
    assert_eq!(position, venue_change, "engine position {pos_text} vs venue balance change\n{stdout}");
    server.shutdown();
}
