//! `qt venue-sim` as a user starts it: binds loopback ports, writes the CA file, serves, stops.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn starts_serves_https_with_its_ca_and_stops() {
    let dir = std::env::temp_dir().join(format!("qt-venue-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args(["venue-sim", "--binance", "127.0.0.1:0", "--bybit", "127.0.0.1:0", "--duration", "20s", "--ca-file"])
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

/// `qt capture` records the simulator's Binance streams and snapshot; `qt feed-check` replays the
/// recording through the same decoder and book and finds it clean.
#[test]
fn capture_then_feed_check_is_clean() {
    use qt_core::{Instrument, InstrumentId, InstrumentSpec, Price, Rate, Venue};
    use qt_gateway::sim::flow::FlowParams;
    use qt_gateway::sim::matching::FeeSchedule;
    use qt_venue_sim::market::{Market, MarketConfig, SymbolConfig};
    use qt_venue_sim::server::{ServerConfig, VenueSimServer};

    let dir = std::env::temp_dir().join(format!("qt-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001");
    let instrument = Instrument::from_spec(InstrumentId(0), &spec).unwrap();
    let flow =
        FlowParams { start_mid: Some(Price::from_units(6_500_000)), events_per_sec: 3000.0, ..FlowParams::default() };
    let market = Market::new(MarketConfig {
        symbols: vec![SymbolConfig { instrument, flow }],
        fees: FeeSchedule { maker: Rate::ZERO, taker: Rate::ZERO },
        accounts: vec![],
        seed: 3,
    })
    .unwrap();
    let mut server = VenueSimServer::start(ServerConfig {
        market,
        faults: qt_venue_sim::faults::Faults::new(),
        protocols: vec![(
            std::sync::Arc::new(qt_venue_sim::binance::BinanceSpot::default()),
            "127.0.0.1:0".parse().unwrap(),
        )],
        ca_file: ca.clone(),
    })
    .unwrap();
    let addr = server.addr_of("binance").unwrap();
    let out_dir = dir.join("cap");
    let status = Command::new(env!("CARGO_BIN_EXE_qt"))
        .args([
            "capture",
            "--venue",
            "binance",
            "--symbols",
            "BTCUSDT",
            "--duration",
            "3s",
            "--server-name",
            "localhost",
        ])
        .args(["--ws-url", &format!("wss://{addr}"), "--rest-url", &format!("https://{addr}"), "--ca-file"])
        .arg(&ca)
        .arg("--out")
        .arg(&out_dir)
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
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
