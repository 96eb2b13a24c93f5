//! What the failover tests share: each simulator account's order events as the test sees them,
//! waits, `/metrics` samples, and `qt run` with `/metrics` on a free port and its log kept.

use super::prometheus::http_get;
use qt_core::AccountId;
use qt_venue_sim::market::{AccountEvent, ExecKind, Market, OrderStatus};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every order event of one simulator account, with when the test saw it.
pub(crate) type Events = Arc<Mutex<Vec<(Instant, ExecKind, String, OrderStatus)>>>;

pub(crate) fn record(market: &Arc<Market>, account: AccountId) -> Events {
    let events: Events = Arc::default();
    let rx = market.subscribe_account(account).unwrap();
    let sink = events.clone();
    std::thread::spawn(move || {
        for e in rx {
            if let AccountEvent::Order { exec, order } = &*e {
                sink.lock().unwrap().push((Instant::now(), *exec, order.client_order_id.clone(), order.status));
            }
        }
    });
    events
}

/// When orders were accepted at a venue (`New`), and their client ids.
pub(crate) fn accepted(events: &Events) -> Vec<(Instant, String)> {
    let events = events.lock().unwrap();
    events.iter().filter(|(_, k, _, _)| matches!(k, ExecKind::New)).map(|(t, _, c, _)| (*t, c.clone())).collect()
}

/// Waits (up to 10 s) for a moment between orders at a venue: its last order event is final and
/// 100 ms old. The strategy keeps one order in flight; one sent as an outage starts has an
/// unknown fate until the venue answers again (it is never re-sent elsewhere), and holds the
/// strategy meanwhile — so the test starts its outages between orders.
pub(crate) fn between_orders(events: &Events) {
    let quiet = wait_for(Duration::from_secs(10), || {
        let events = events.lock().unwrap();
        events.last().is_some_and(|(t, _, _, status)| {
            t.elapsed() >= Duration::from_millis(100)
                && matches!(
                    status,
                    OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected
                )
        })
    });
    assert!(quiet, "no pause between orders in 10 s");
}

/// Waits up to `limit` for `cond`; whether it held (the stress scenarios' own wait).
pub(crate) use qt_tools::stress::live_run::wait_for;

/// Sum of the samples of `name` whose labels contain every one of `labels`.
pub(crate) fn metric(addr: SocketAddr, name: &str, labels: &[&str]) -> f64 {
    let text = http_get(addr, "/metrics").unwrap();
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(['{', ' '])))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `qt run` with `/metrics` on a free port: the child, the address, and its log lines.
pub(crate) fn start_run(path: &PathBuf) -> (Child, SocketAddr, Arc<Mutex<Vec<String>>>, super::Scratch) {
    let (mut cmd, cwd) = super::qt_command();
    let mut child = cmd
        .env("RUST_LOG", "info")
        .args(["run", "--duration", "90s", "--metrics", "127.0.0.1:0", "--config"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.split("on http://").nth(1) {
                let _ = tx.send(at.trim().to_string());
            }
            sink.lock().unwrap().push(line);
        }
    });
    let at = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| {
        std::thread::sleep(Duration::from_millis(200));
        panic!("the run logs where it serves /metrics ({e}); its stderr:\n{}", lines.lock().unwrap().join("\n"))
    });
    (child, at.parse().unwrap(), lines, cwd)
}
