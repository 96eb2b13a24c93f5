//! `qt run` trading over real sockets against the venue simulator's Kraken protocol, on
//! BTC/USDT spot: TLS WebSocket v2 market data (`/v2`), signed private REST orders with each
//! key's journalled nonce, order states and fills from the WebSocket v2 `executions` channel —
//! and the product's reconciliation (balances at start and stop) finds no difference. A second
//! run on the same journal (a restart) trades too: its nonces continue the first run's.

mod util;
use util::binance::{figure_of, position_of, qt_run, reconcile_line, serve_example, spot_market};

use qt_core::{AccountId, Notional, Venue};
use qt_venue_sim::kraken::KrakenV2;
use qt_venue_sim::market::Market;
use qt_venue_sim::server::RunningServer;
use std::path::PathBuf;
use std::sync::Arc;

const POSITIONS: &str = "positions vs venue base-asset balances";
const BALANCES: &str = "balances vs venue";

/// The simulated Kraken (one account: 1 000 000 USDT, 10 BTC; BTCUSDT served as `BTC/USDT`)
/// and `examples/kraken-venue-sim.toml` pointing at it, its secret the account's in base64.
fn venue(tag: &str) -> (RunningServer, Arc<Market>, PathBuf) {
    let market = spot_market(Venue::Kraken, &[("USDT", "1000000"), ("BTC", "10")], 19);
    let example = include_str!("../../examples/kraken-venue-sim.toml");
    // base64("qt-sim-secret-1") → base64("live-test-secret"), the market's secret.
    let more = [("cXQtc2ltLXNlY3JldC0x", "bGl2ZS10ZXN0LXNlY3JldA==")];
    let (server, path) = serve_example(tag, &market, Arc::new(KrakenV2::new()), "kraken", example, &more);
    (server, market, path)
}

fn btc(market: &Market) -> Notional {
    let b = market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    b.free.checked_add(b.locked).unwrap()
}

#[test]
fn trades_on_the_simulated_kraken_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("live venues: kraken"), "{stdout}");
    assert!(figure_of(&stdout, "orders", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");
    assert!(figure_of(&stdout, "gateway", "fills") > 0, "{stdout}");
    // The venue's BTC balance moved as the engine's position did.
    let pos = position_of(&stdout, "BTC/USDT");
    assert_eq!(pos, btc(&market).checked_sub(Notional::parse("10").unwrap()).unwrap(), "{stdout}");
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 0), "{stdout}");
    let (compared, differences) = reconcile_line(&stdout, BALANCES);
    assert!(compared >= 2 && differences == 0, "{stdout}");
    // The nonce ceiling lives in the run's journal directory.
    let journal = cwd.0.join("journal");
    let nonce_files = std::fs::read_dir(&journal)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("kraken-nonce-"))
        .count();
    assert_eq!(nonce_files, 1, "{journal:?}");
    // A restart on the same journal trades again (its nonces continue the first run's).
    let (mut again, _scratch) = qt_run(&path);
    again.arg("--journal").arg(&journal);
    let out = again.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(figure_of(&stdout, "orders", "sent") > 0, "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");
    server.shutdown();
}
