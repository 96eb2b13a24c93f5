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
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
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
