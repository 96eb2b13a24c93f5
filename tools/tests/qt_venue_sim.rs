//! `qt venue-sim` as a user starts it: binds loopback ports, writes the CA file, serves, stops;
//! and `qt capture` (binance, okx, kraken) against the simulator, checked by `qt feed-check`.

mod util;

use qt_venue_sim::protocol::Protocol;
use qt_venue_sim::server::RunningServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A simulator serving `protocol` for one symbol (BTCUSDT, tick 0.01, lot 0.00001) with flow at
/// `rate` events/s: its temp folder, CA file and the running server.
fn capture_sim(tag: &str, protocol: Arc<dyn Protocol>, rate: f64) -> (PathBuf, PathBuf, RunningServer) {
    let (dir, server) = util::sim::capture_sim(tag, "BTCUSDT", protocol, rate, 3);
    let ca = server.ca_file.clone();
    (dir, ca, server)
}

/// `qt capture --venue venue --symbols symbol` for 3 s against the simulator at `addr`.
fn run_capture(venue: &str, symbol: &str, addr: std::net::SocketAddr, ca: &Path, out: &Path, extra: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["capture", "--venue", venue, "--symbols", symbol, "--duration", "3s", "--server-name", "localhost"])
        .args(["--ws-url", &format!("wss://{addr}"), "--ca-file"])
        .arg(ca)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success(), "qt capture --venue {venue}");
}

#[test]
fn starts_serves_https_with_its_ca_and_stops() {
    let dir = std::env::temp_dir().join(format!("qt-venue-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["venue-sim", "--binance", "127.0.0.1:0", "--bybit", "127.0.0.1:0", "--okx", "127.0.0.1:0"])
        .args(["--kraken", "127.0.0.1:0", "--duration", "20s", "--ca-file"])
        .arg(&ca)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.contains("ca_file") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "exited early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    for venue in ["binance", "bybit", "okx", "kraken"] {
        assert!(text.lines().any(|l| l.starts_with(venue) && l.contains("wss://127.0.0.1:")), "{venue}: {text}");
    }
    let addr: std::net::SocketAddr = text
        .lines()
        .find(|l| l.starts_with("binance"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.strip_prefix("https://"))
        .unwrap()
        .parse()
        .unwrap();

    // A plain HTTPS request trusting only the written CA.
    let config = qt_venue_sim::tls::client_config_from_ca_file(&ca).unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"GET /api/v3/time HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"serverTime\":"), "{response}");

    child.kill().unwrap();
    let _ = child.wait();
}

/// A second `qt venue-sim` that cannot bind (the first holds its port) fails without touching
/// the CA file the first one wrote and its clients trust; the path is printed absolute. Before,
/// the CA file was written before binding, so the failed start replaced it with a certificate
/// nothing served.
#[test]
fn a_start_that_cannot_bind_leaves_the_running_simulators_ca_file_alone() {
    let dir = std::env::temp_dir().join(format!("qt-venue-sim-ca-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let start = |binance: &str, duration: &str| {
        Command::new(env!("CARGO_BIN_EXE_qt"))
            .args(["venue-sim", "--binance", binance, "--bybit", "127.0.0.1:0", "--duration", duration])
            .args(["--ca-file", "ca.pem"])
            .current_dir(&dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = start("127.0.0.1:0", "60s");
    let mut out = first.stdout.take().unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    while !text.lines().any(|l| l.starts_with("ca_file")) || !text.ends_with('\n') {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "exited early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let printed = text.lines().find_map(|l| l.strip_prefix("ca_file")).unwrap().trim();
    assert_eq!(Path::new(printed), dir.join("ca.pem"), "the CA file's absolute path: {text}");
    let binance = text.lines().find(|l| l.starts_with("binance ")).and_then(|l| l.split_whitespace().nth(1)).unwrap();
    let addr = binance.strip_prefix("https://").unwrap().to_string();
    let written = std::fs::read(dir.join("ca.pem")).unwrap();

    let second = start(&addr, "5s").wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "the second start bound {addr}: {err}");
    assert!(err.contains("binding the binance listener"), "{err}");
    assert!(std::fs::read(dir.join("ca.pem")).unwrap() == written, "the running simulator's CA file was replaced");

    // The first simulator still serves, trusted through the file it wrote.
    let config = qt_venue_sim::tls::client_config_from_ca_file(&dir.join("ca.pem")).unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).unwrap();
    let sock = TcpStream::connect(&addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"GET /api/v3/time HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response);
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"));
    first.kill().unwrap();
    let _ = first.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `qt capture` records the simulator's Binance streams and snapshot; `qt feed-check` replays the
/// recording through the same decoder and book and finds it clean.
#[test]
fn capture_then_feed_check_is_clean() {
    let (dir, ca, mut server) = capture_sim("binance", Arc::new(qt_venue_sim::binance::BinanceSpot::default()), 3000.0);
    let addr = server.addr_of("binance").unwrap();
    let out_dir = dir.join("cap");
    run_capture("binance", "BTCUSDT", addr, &ca, &out_dir, &["--rest-url", &format!("https://{addr}")]);
    server.shutdown();
    let out = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args([
            "feed-check",
            "--venue",
            "binance",
            "--quiet",
            "--price-decimals",
            "2",
            "--qty-decimals",
            "5",
            "--snapshot",
        ])
        .arg(format!("BTCUSDT={}", out_dir.join("snapshot_BTCUSDT.json").display()))
        .arg(out_dir.join("frames.jsonl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("gaps 0") && text.contains("parse errors 0") && text.contains("valid books 1/1"), "{text}");
    let messages: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(messages > 20, "{text}");
}

/// Captures `symbol` from a simulator serving `protocol` for 3 s, then feed-checks the file with
/// `decimals` (price, qty); returns feed-check's summary line.
fn capture_and_check(protocol: Arc<dyn Protocol>, venue: &str, symbol: &str, decimals: (&str, &str)) -> String {
    let name = protocol.name();
    let (dir, ca, mut server) = capture_sim(venue, protocol, 300.0);
    let addr = server.addr_of(name).unwrap();
    let out_dir = dir.join("cap");
    run_capture(venue, symbol, addr, &ca, &out_dir, &["--price-decimals", decimals.0, "--qty-decimals", decimals.1]);
    server.shutdown();
    let frames = out_dir.join("frames.jsonl");
    let text = std::fs::read_to_string(&frames).unwrap();
    assert!(text.lines().all(|l| !l.is_empty() && !l.contains('\n')), "one message per line");
    let out = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["feed-check", "--venue", venue, "--quiet", "--price-decimals", decimals.0, "--qty-decimals", decimals.1])
        .arg(&frames)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{summary}{}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| -> u64 {
        let at = summary.find(name).unwrap_or_else(|| panic!("no {name:?} in {summary}"));
        summary[at + name.len()..].split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(field("messages ") > 20, "{summary}");
    assert!(field("checksum ok ") > 10, "{summary}");
    assert_eq!((field("gaps "), field("checksum failures "), field("parse errors ")), (0, 0, 0), "{summary}");
    assert!(summary.contains("valid books 1/1"), "{summary}");
    summary
}

#[test]
fn okx_capture_then_feed_check_is_clean() {
    capture_and_check(Arc::new(qt_venue_sim::okx::OkxV5::new()), "okx", "BTC-USDT", ("8", "8"));
}

#[test]
fn kraken_capture_then_feed_check_is_clean() {
    // Kraken's checksum formats at the pair's precision, here the instrument's 2 and 5 decimals.
    capture_and_check(Arc::new(qt_venue_sim::kraken::KrakenV2::new()), "kraken", "BTC/USDT", ("2", "5"));
}
