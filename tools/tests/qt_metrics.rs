//! The stats thread of a real `qt run` (issue #17 item 3): `/metrics` scraped over HTTP during a
//! simulated run parses as the Prometheus text format, holds every metric the deploy kit's alert
//! rules and dashboard query, and moves as events flow; `/health/live` and `/health/ready`
//! answer; readiness flips to 503 naming the check while the emergency stop is latched and back
//! to 200 once it is reset; a taken address is refused at start naming it (or, configured, only
//! warned about); and a real Prometheus (where installed) scrapes the run and answers a query.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod util;
use util::prometheus::http_get;

/// A `qt run` serving its metrics on a port of its own, killed when dropped.
struct Run {
    child: Child,
    addr: SocketAddr,
    _cwd: util::Scratch,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `qt run args… --metrics 127.0.0.1:0` and reads the bound address from its log.
fn start(args: &[&str]) -> Run {
    let (mut cmd, cwd) = util::qt_command();
    let mut child = cmd
        .env("RUST_LOG", "info")
        .args(["run", "--pace", "realtime", "--no-journal", "--metrics", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qt runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.split("on http://").nth(1) {
                let _ = tx.send(at.trim().to_string());
            }
        }
    });
    let at = rx.recv_timeout(Duration::from_secs(60)).expect("the run logs where it serves /metrics");
    Run { child, addr: at.parse().expect("an address"), _cwd: cwd }
}

/// `(status code, body)` of `GET path`.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let code = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// Sum of every sample of `name` (without suffixes) in an exposition text.
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(['{', ' '])))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metrics_parse_hold_every_queried_name_and_move_as_events_flow() {
    let run = start(&["--duration", "60s"]);
    let first = http_get(run.addr, "/metrics").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let second = http_get(run.addr, "/metrics").unwrap();
    let families = util::exposition::parse(&second).unwrap_or_else(|e| panic!("not the text format: {e}\n{second}"));
    let series: std::collections::BTreeSet<&str> =
        second.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();
    for name in util::prometheus::METRICS.iter().filter(|n| **n != "up") {
        assert!(series.contains(name), "{name} (queried by the deploy kit) is not in /metrics; families: {families:?}");
    }
    util::exposition::promtool_accepts(&second);
    for name in ["market_events_total", "risk_gate_decisions_total", "loop_iteration_seconds_count"] {
        assert!(
            total(&second, name) > total(&first, name),
            "{name} did not move: {} → {}",
            total(&first, name),
            total(&second, name)
        );
    }
    assert!(total(&second, "engine_heartbeat_age_seconds") < 1.0, "heartbeat fresh");
    // One failover series per account × venue of its chain, labelled (docs/FAILOVER.md).
    for account in ["alpha", "beta"] {
        let series =
            format!("exchange_failover_events_total{{account=\"{account}\",primary=\"sim\",selected=\"sim\"}} 0");
        assert!(second.lines().any(|l| l == series), "{series} missing:\n{second}");
        let healthy = format!("account_venue_healthy{{account=\"{account}\",venue=\"sim\"}} 1");
        assert!(second.lines().any(|l| l == healthy), "{healthy} missing");
    }
    for series in ["venue_health_score{venue=\"sim\"} 100", "venue_healthy{venue=\"sim\"} 1"] {
        assert!(second.lines().any(|l| l == series), "{series} missing");
    }
    let (code, body) = get(run.addr, "/health/live");
    assert_eq!(code, 200, "{body}");
    let (code, body) = get(run.addr, "/health/ready");
    assert_eq!(code, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "ok", "{body}");
    assert_eq!(get(run.addr, "/nope").0, 404);
    // The stats thread counts itself in the same file.
    let third = http_get(run.addr, "/metrics").unwrap();
    assert!(total(&third, "stats_bad_requests_total") >= 1.0, "the 404 is counted");
    assert!(total(&third, "stats_scrapes_total") >= 3.0 && total(&third, "stats_health_probes_total") >= 2.0);
}

#[test]
fn readiness_names_a_latched_emergency_stop_and_recovers_after_the_reset() {
    let dir = util::temp_dir("metrics-ess");
    let (config, _socket) = util::ess_config(&dir, "a-reset-secret-for-the-metrics-test");
    let c = config.to_str().unwrap();
    let run = start(&["--config", c, "--duration", "120s"]);
    let ready = |want: u16| {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, body) = get(run.addr, "/health/ready");
            if code == want {
                return body;
            }
            assert!(Instant::now() < until, "readiness stayed {code}, wanted {want}: {body}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    ready(200);
    let (code, out, err) = util::qt(&["ess", "trigger", "--reason", "metrics test", "--config", c]);
    assert!(code == 0, "{out}{err}");
    let body = ready(503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let failing: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(failing.contains(&"ess_not_latched"), "{body}");
    assert_eq!(total(&http_get(run.addr, "/metrics").unwrap(), "ess_latched"), 1.0);
    let (code, out, err) = util::qt(&["ess", "reset", "--operator", "alice", "--config", c]);
    assert!(code == 0, "{out}{err}");
    ready(200);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_taken_metrics_address_is_refused_naming_it_or_only_warned_about() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = util::qt(&["run", "--duration", "1s", "--no-journal", "--metrics", &addr]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains(&addr), "the error names the address: {err}");
    let dir = util::temp_dir("metrics-warn");
    let config = dir.join("qt.toml");
    let text =
        format!("{}\n[stats]\nlisten = {addr:?}\non_listen_error = \"warn\"\n", qt_tools::config::EMBEDDED_DEFAULT);
    std::fs::write(&config, text).unwrap();
    let (code, out, err) =
        util::qt(&["run", "--config", config.to_str().unwrap(), "--duration", "1s", "--pace", "max", "--no-journal"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&addr) && err.contains("off for this run"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// deploy/prometheus/prometheus.yml pointed at a running `qt run`: a real Prometheus scrapes
/// it and answers a query for `risk_gate_decisions_total` through its HTTP API.
#[test]
fn a_real_prometheus_scrapes_a_running_engine() {
    let Some(prometheus) = util::prometheus::tool("prometheus", "a real Prometheus scraping qt run") else { return };
    let run = start(&["--duration", "120s"]);
    let dir = util::temp_dir("metrics-prometheus");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let config = std::fs::read_to_string(root.join("deploy/prometheus/prometheus.yml")).unwrap();
    assert!(config.contains("\"127.0.0.1:9187\""), "prometheus.yml's target moved; update this test");
    let config = config
        .replace("\"127.0.0.1:9187\"", &format!("\"{}\"", run.addr))
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("scrape_timeout: 4s", "scrape_timeout: 1s");
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    std::fs::write(dir.join("alerts.yml"), std::fs::read(root.join("deploy/prometheus/alerts.yml")).unwrap()).unwrap();
    let mut server = util::prometheus::Prometheus::start(&prometheus, &dir);
    let sample = server.wait_for("sum(risk_gate_decisions_total) > 0");
    assert!(sample["value"][1].as_str().unwrap().parse::<f64>().unwrap() > 0.0, "{sample}");
    let up = server.wait_for("up{job=\"quantum-trader\"}");
    assert_eq!(up["value"][1], "1", "{up}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue #17 item 6: `--progress EVERY` prints the status line (forced here: stderr is a pipe);
/// without it, off a terminal, and with `--quiet`, nothing extra is printed.
#[test]
fn the_status_line_shows_the_run_moving_and_only_when_asked_off_a_terminal() {
    let status =
        |err: &str| -> Vec<String> { err.lines().filter(|l| l.starts_with("qt  sim ")).map(String::from).collect() };
    let (code, _, err) =
        util::qt(&["run", "--duration", "3s", "--pace", "realtime", "--no-journal", "--progress", "500ms"]);
    assert_eq!(code, 0, "{err}");
    let lines = status(&err);
    assert!(lines.len() >= 4, "a line every 500 ms over 3 s: {err}");
    for want in ["wall ", "events ", "orders ", "fills ", "pnl alpha ", "ess ok", "books 2/2 valid"] {
        assert!(lines.last().unwrap().contains(want), "{want:?} missing: {}", lines.last().unwrap());
    }
    let events = |l: &str| -> u64 {
        l.split("events ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().replace(',', "").parse().unwrap()
    };
    assert!(events(lines.last().unwrap()) > events(&lines[0]), "events grow: {lines:?}");
    let sim = |l: &str| -> f64 { l.split("sim ").nth(1).and_then(|r| r.split('s').next()).unwrap().parse().unwrap() };
    assert!(
        sim(lines.last().unwrap()) > sim(&lines[0]) && sim(lines.last().unwrap()) <= 3.5,
        "simulated time: {lines:?}"
    );
    let (code, _, err) = util::qt(&["run", "--duration", "2s", "--pace", "realtime", "--no-journal"]);
    assert_eq!(code, 0, "{err}");
    assert!(status(&err).is_empty(), "not a terminal, not asked: {err}");
    let (code, _, err) = util::qt(&["run", "--duration", "1s", "--no-journal", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert!(status(&err).is_empty(), "--quiet: {err}");
}
