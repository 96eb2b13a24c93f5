//! Third-party Binance USD-M clients against a real `qt venue-sim` serving USD-M futures (issue
//! #18): ccxt's `binanceusdm` (`tools/tests/clients/binance_usdm_ccxt.py`) and Binance's official
//! `binance-sdk-derivatives-trading-usds-futures` WebSocket streams client
//! (`binance_usdm_sdk.py`), each unmodified apart from its endpoints and CA file. ccxt loads the
//! markets, calls the public REST endpoints (time, ticker, bookTicker, trades, aggTrades,
//! premiumIndex) and keeps BTCUSDT's book from `/public/ws/<n>` + `SUBSCRIBE` and the depth
//! snapshot under the `pu` rule; the SDK opens its `/market`, `/public` and `/private` streams and
//! subscribes to depth, bookTicker (public) and aggTrade (market), checking `pu` itself. Each
//! streams for `QT_CLIENT_SECONDS` (default 30) seconds: messages must arrive, with no sequence
//! break, no HTTP error (a 404 counts), no resubscription. Skips (passing, with a SKIP line)
//! where the pinned Python clients are not installed.

mod util;

use util::pyclients;
use util::venue_sim::VenueSimProcess;

/// `qt venue-sim` serving Binance USD-M alone on a free port, BTCUSDT with a steady background
/// flow, its CA file in `dir`.
fn start_sim(dir: &std::path::Path) -> VenueSimProcess {
    let config = r#"
seed = 7
ca_file = "ca.pem"
binance_usdm_listen = "127.0.0.1:0"
maker_fee = "0.0002"
taker_fee = "0.0005"

[[symbols]]
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
kind = "linear_perpetual"
tick_size = "0.1"
lot_size = "0.001"
min_qty = "0.001"
min_notional = "5"
start_price = "65000.0"
[symbols.flow]
events_per_sec = 100.0
fair_vol_ticks = 60.0
size_median_lots = 20.0

[[accounts]]
api_key = "qt-sim-key-1"
secret = "qt-sim-secret-1"
balances = { USDT = "1000000", BTC = "10" }
"#;
    VenueSimProcess::start(dir, config)
}

fn seconds() -> u64 {
    std::env::var("QT_CLIENT_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30)
}

fn run_client(test: &str, script: &str, modules: &[&str]) {
    let Some(python) = pyclients::python(test, modules) else { return };
    let dir = util::temp_dir(test);
    let sim = start_sim(&dir);
    let report = pyclients::run(&python, script, sim.addrs["binance_usdm"], &sim.ca, seconds());
    let out = &report.output;
    assert!(report.n("messages") > 0, "{script} saw no depth update:\n{out}");
    for key in ["sequence_breaks", "http_errors", "resubscribes", "errors"] {
        assert_eq!(report.n(key), 0, "{script}: {key}:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ccxt_streams_binance_usdm_books() {
    run_client("clients_binance_usdm_ccxt", "binance_usdm_ccxt.py", &["ccxt", "ccxt.pro"]);
}

#[test]
fn the_official_usdm_sdk_streams_books_and_trades() {
    run_client(
        "clients_binance_usdm_sdk",
        "binance_usdm_sdk.py",
        &["binance_sdk_derivatives_trading_usds_futures", "binance_common"],
    );
}
