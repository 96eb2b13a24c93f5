//! `qt capture` for Binance USD-M, KuCoin and Firi against the venue simulator (in-process, TLS
//! on loopback), then `qt feed-check` replays each recording through the same decoder and book
//! and finds it clean: no gap, no parse error, every book valid at the end. A capture with a
//! line that is not UTF-8 is replayed to the end with that line counted.

mod util;

use qt_venue_sim::protocol::Protocol;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// Captures `symbol` of `venue` from a simulator speaking `protocol` for 3 s, then feed-checks
/// the capture; returns feed-check's output.
fn capture_and_check(venue: &str, symbol: &str, protocol: Arc<dyn Protocol>) -> String {
    let (dir, mut server) = util::sim::capture_sim(venue, symbol, protocol, 2000.0, 5);
    let ca = server.ca_file.clone();
    let addr = server.addrs[0].1;
    let out_dir = dir.join("cap");
    let status = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["capture", "--venue", venue, "--symbols", symbol, "--duration", "3s", "--poll-interval", "100ms"])
        .args([
            "--server-name",
            "localhost",
            "--ws-url",
            &format!("wss://{addr}"),
            "--rest-url",
            &format!("https://{addr}"),
        ])
        .arg("--ca-file")
        .arg(&ca)
        .arg("--out")
        .arg(&out_dir)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success(), "capture of {venue}");
    server.shutdown();
    let snapshot = out_dir.join(format!("snapshot_{symbol}.json"));
    let mut check = Command::new(env!("CARGO_BIN_EXE_qt"));
    // Firi's bodies do not name their market: --symbols says which it is.
    check.args(["feed-check", "--venue", venue, "--symbols", symbol, "--quiet", "--price-decimals", "2"]);
    check.args(["--qty-decimals", "5"]);
    if Path::new(&snapshot).exists() {
        check.arg("--snapshot").arg(format!("{symbol}={}", snapshot.display()));
    }
    let out = check.arg(out_dir.join("frames.jsonl")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    text
}

fn assert_clean(venue: &str, text: &str) {
    assert!(
        text.contains(" gaps 0") && text.contains("parse errors 0") && text.contains("valid books 1/1"),
        "{venue}: {text}"
    );
    let messages: u64 =
        text.split("messages ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(messages >= 10, "{venue}: only {messages} messages recorded: {text}");
}

#[test]
fn binance_usdm_capture_checks_clean() {
    let text =
        capture_and_check("binance_usdm", "BTCUSDT", Arc::new(qt_venue_sim::binance_usdm::BinanceUsdm::default()));
    assert_clean("binance_usdm", &text);
}

#[test]
fn kucoin_capture_through_the_bullet_flow_checks_clean() {
    let text = capture_and_check("kucoin", "BTC-USDT", Arc::new(qt_venue_sim::kucoin::KucoinSpot::default()));
    assert_clean("kucoin", &text);
}

#[test]
fn firi_capture_of_polled_depth_checks_clean() {
    let text = capture_and_check("firi", "BTCNOK", Arc::new(qt_venue_sim::firi::FiriPublic::default()));
    assert_clean("firi", &text);
}

/// `qt feed-check` on a recorded capture with one invalid UTF-8 byte: the line is a parse error,
/// the replay goes on and the counts are reported.
#[test]
fn feed_check_counts_a_line_that_is_not_utf8_and_goes_on() {
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/bybit/orderbook_spot.jsonl");
    let mut bytes = std::fs::read(&capture).unwrap();
    let lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    // Into the last line (a delta no later line depends on).
    let last = bytes[..bytes.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    bytes.insert(last + 3, 0xff);
    let path = std::env::temp_dir().join(format!("qt-feed-check-not-utf8-{}.jsonl", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["feed-check", "--venue", "bybit", "--quiet"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with(&format!("messages {} ", lines - 1)), "{text}");
    assert!(text.contains("parse errors 1 ") && text.contains("(not UTF-8 1)"), "{text}");
    assert!(text.contains("valid books 2/2"), "both books of the capture: {text}");
}
