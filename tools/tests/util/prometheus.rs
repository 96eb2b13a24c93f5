//! A real Prometheus in the tests (Debian's `prometheus` package; tests skip with a message
//! where it is missing): the metric names the deploy kit's alert rules and dashboard may query,
//! a server started on a scratch folder, and queries through its HTTP API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every metric name of issue #17 item 4 (histograms as their three series), plus
/// `engine_heartbeat_age_seconds` and `reconciliation_difference`, plus Prometheus' own `up`.
/// `tools/tests/qt_metrics.rs` checks each is in a running `qt run`'s `/metrics`.
pub(crate) const METRICS: &[&str] = &[
    "risk_gate_decisions_total",
    "ess_triggers_total",
    "ess_latched",
    "exchange_failover_events_total",
    "stress_scenario_runs_total",
    "trades_executed_total",
    "positions_open",
    "signals_generated_total",
    "global_risk_level",
    "account_equity",
    "account_pnl",
    "feed_messages_total",
    "feed_gaps_total",
    "feed_checksum_failures_total",
    "feed_parse_errors_total",
    "book_resyncs_total",
    "book_valid",
    "tick_to_order_seconds_bucket",
    "tick_to_order_seconds_sum",
    "tick_to_order_seconds_count",
    "order_ack_seconds_bucket",
    "order_ack_seconds_sum",
    "order_ack_seconds_count",
    "loop_iteration_seconds_bucket",
    "loop_iteration_seconds_sum",
    "loop_iteration_seconds_count",
    "engine_heartbeat_age_seconds",
    "reconciliation_difference",
    "up",
];

/// Says why a test skips, on the real stderr (not the test harness' captured one), so the
/// line shows in a plain `cargo test`.
pub(crate) fn skip(why: &str) {
    // One write, so parallel tests' lines do not interleave.
    let _ = std::io::stderr().write_all(format!("SKIP: {why}\n").as_bytes());
}

/// `tool` on PATH, or `None` after printing why the caller skips.
pub(crate) fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        skip(&format!("{test}: `{name}` is not on PATH (install it to run this check)"));
    }
    found
}

/// `GET target` on `addr` (HTTP/1.0, read to the end): the body.
pub(crate) fn http_get(addr: SocketAddr, target: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    Ok(raw.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default())
}

pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A Prometheus server on a scratch folder (its `prometheus.yml` and rule files already there),
/// killed when dropped, however the test ends.
pub(crate) struct Prometheus {
    child: Child,
    web: SocketAddr,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts `binary` with `dir/prometheus.yml`, its data in `dir/data`, on a free port.
    pub(crate) fn start(binary: &Path, dir: &Path) -> Self {
        let web = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={web}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus starts");
        Self { child, web, log }
    }

    /// The first result of instant query `q`, if any.
    pub(crate) fn query(&self, q: &str) -> Option<serde_json::Value> {
        let body = http_get(self.web, &format!("/api/v1/query?query={}", percent_encode(q))).ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"].as_array()?.first().cloned()
    }

    /// Waits (up to 60 s) for `q` to have a result; fails with the server's log if it exits or
    /// never answers.
    pub(crate) fn wait_for(&mut self, q: &str) -> serde_json::Value {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(sample) = self.query(q) {
                return sample;
            }
            let exited = self.child.try_wait().ok().flatten();
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            assert!(exited.is_none(), "Prometheus exited ({exited:?}); its log:\n{log}");
            assert!(Instant::now() < until, "Prometheus never answered {q} with a result; its log:\n{log}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
