//! Third-party OKX clients against `qt venue-sim` (issue #18), each unmodified apart from its
//! base URL and CA file: ccxt (`clients/okx_ccxt.py`: load_markets, fetch_time, fetch_ticker(s),
//! fetch_trades, fetch_order_book, then watch_order_book on `books`) and OKX's own python-okx
//! (`clients/okx_python_okx.py`: its public REST and WsPublicAsync `books`). Each streams the
//! book for `QT_CLIENT_SECONDS` (default 30) of background flow and must see messages, no
//! checksum mismatch, no sequence break, no HTTP error and no resubscribe. Skips (with a SKIP
//! line) where Python or the clients are not installed (`tools/tests/clients/requirements.txt`).

mod util;

use util::pyclients;
use util::venue_sim::VenueSimProcess;

/// How long each client streams.
fn seconds() -> u64 {
    std::env::var("QT_CLIENT_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30)
}

/// `qt venue-sim` on `examples/venue-sim-all.toml` with free ports and its CA in `dir`.
fn start_sim(dir: &std::path::Path) -> VenueSimProcess {
    let mut text = include_str!("../../examples/venue-sim-all.toml")
        .replace("ca_file = \"venue-sim-ca.pem\"", "ca_file = \"ca.pem\"");
    for port in 9443..=9449 {
        text = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:0");
    }
    VenueSimProcess::start(dir, &text)
}

fn run_client(test: &str, module: &str, script: &str) {
    let Some(python) = pyclients::python(test, &[module]) else { return };
    let dir = util::temp_dir(test);
    let sim = start_sim(&dir);
    let report = pyclients::run(&python, script, sim.addrs["okx"], &sim.ca, seconds());
    let out = &report.output;
    assert!(report.n("messages") > 0, "{script} saw no book messages:\n{out}");
    for key in ["checksum_mismatches", "sequence_breaks", "http_errors", "resubscribes", "errors"] {
        assert_eq!(report.n(key), 0, "{script}: {key}:\n{out}");
    }
}

#[test]
fn ccxt_streams_okx_books_with_verified_checksums() {
    run_client("clients_okx_ccxt", "ccxt", "okx_ccxt.py");
}

#[test]
fn python_okx_streams_okx_books_with_verified_checksums() {
    run_client("clients_okx_python_okx", "okx", "okx_python_okx.py");
}
