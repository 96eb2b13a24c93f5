//! Issue #18, Kraken: third-party clients, unmodified apart from their base URLs and the CA
//! file, against a real `qt venue-sim` serving Kraken (`examples/venue-sim-all.toml`'s symbols
//! and flow, Kraken's listener alone, on a free port). Each streams the v2 order book for 30 s
//! (`QT_CLIENT_SECONDS` to shorten it while developing) and must see messages, no checksum
//! mismatch, no crossed book, no REST error and no resubscription:
//! - ccxt (`kraken_ccxt.py`): load_markets (AssetPairs, Assets), Time, SystemStatus, Ticker,
//!   Depth, Trades, then `watch_order_book`, its kept book checked against every checksum;
//! - python-kraken-sdk (`kraken_sdk.py`): its Market REST calls, then `SpotOrderBookClient`,
//!   which truncates after each level and resubscribes on any checksum mismatch.
//!
//! Skips (passing, with a SKIP line) where the Python clients are not installed.

mod util;

use util::pyclients;
use util::venue_sim::VenueSimProcess;

/// `examples/venue-sim-all.toml` serving Kraken alone, on a free port.
fn kraken_sim(tag: &str) -> (VenueSimProcess, std::path::PathBuf) {
    let dir = util::temp_dir(tag);
    let text: String = include_str!("../../examples/venue-sim-all.toml")
        .lines()
        .filter(|l| !l.contains("_listen =") || l.starts_with("kraken_listen"))
        .map(|l| if l.starts_with("kraken_listen") { "kraken_listen = \"127.0.0.1:0\"" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    (VenueSimProcess::start(&dir, &text), dir)
}

fn seconds() -> u64 {
    std::env::var("QT_CLIENT_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30)
}

fn run_client(test: &str, script: &str, modules: &[&str]) {
    let Some(python) = pyclients::python(test, modules) else { return };
    let (sim, _dir) = kraken_sim(&test.replace("::", "-"));
    let report = pyclients::run(&python, script, sim.addrs["kraken"], &sim.ca, seconds());
    assert!(report.n("messages") > 0, "{script}: no book messages\n{}", report.output);
    for key in ["checksum_mismatches", "sequence_breaks", "http_errors", "resubscribes"] {
        assert_eq!(report.n(key), 0, "{script}: {key}\n{}", report.output);
    }
}

#[test]
fn ccxt_kraken_loads_markets_and_streams_the_book_with_every_checksum_verified() {
    run_client("clients_kraken::ccxt", "kraken_ccxt.py", &["ccxt"]);
}

#[test]
fn python_kraken_sdk_order_book_client_streams_without_checksum_mismatch_or_resubscribe() {
    run_client("clients_kraken::sdk", "kraken_sdk.py", &["kraken"]);
}
