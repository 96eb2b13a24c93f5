//! Third-party KuCoin clients against a real `qt venue-sim` serving KuCoin spot (issue #18):
//! ccxt (`tools/tests/clients/kucoin_ccxt.py`) and the official SDK, kucoin-universal-sdk
//! (`kucoin_sdk.py`), each unmodified apart from its endpoint and CA file. Each loads the symbols
//! and calls the public REST endpoints it calls first, then streams BTC-USDT's level-2
//! increments over a bullet-public token it sends percent-encoded, for `QT_CLIENT_SECONDS`
//! (default 30) seconds: messages must arrive, with no sequence break, no HTTP error (a 404 or
//! a 401 counts), no resubscription and no crossed book. Skips (passing, with a SKIP line) where
//! the pinned Python clients are not installed.

mod util;

use util::pyclients;
use util::venue_sim::VenueSimProcess;

/// `qt venue-sim` serving KuCoin alone on a free port, BTCUSDT (`BTC-USDT` on KuCoin) with a
/// steady background flow, its CA file in `dir`.
fn start_sim(dir: &std::path::Path) -> VenueSimProcess {
    let config = r#"
seed = 7
ca_file = "ca.pem"
kucoin_listen = "127.0.0.1:0"
maker_fee = "0.0002"
taker_fee = "0.0005"

[[symbols]]
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
kind = "spot"
tick_size = "0.01"
lot_size = "0.00001"
min_qty = "0.00001"
min_notional = "5"
start_price = "65000.00"
[symbols.flow]
events_per_sec = 100.0
fair_vol_ticks = 60.0
size_median_lots = 2000.0

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
    let report = pyclients::run(&python, script, sim.addrs["kucoin"], &sim.ca, seconds());
    let out = &report.output;
    assert!(report.n("messages") > 0, "{script} saw no level-2 increment:\n{out}");
    for key in ["sequence_breaks", "http_errors", "resubscribes", "crossed_books", "checksum_mismatches"] {
        assert_eq!(report.n(key), 0, "{script}: {key}:\n{out}");
    }
    assert_eq!(report.json["errors"].as_array().map_or(0, Vec::len), 0, "{script} reported errors:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ccxt_streams_kucoin_books() {
    run_client("clients_kucoin_ccxt", "kucoin_ccxt.py", &["ccxt", "ccxt.pro"]);
}

#[test]
fn the_official_kucoin_sdk_streams_kucoin_books() {
    run_client("clients_kucoin_sdk", "kucoin_sdk.py", &["kucoin_universal_sdk", "websocket"]);
}
