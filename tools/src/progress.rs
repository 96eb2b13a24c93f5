//! The live status line of a long run: every few seconds, on stderr, one line read from the
//! run's own stats region — domain (simulated) and wall time, market events and their rate,
//! orders sent, fills, each account's PnL net of fees, the emergency stop and how many books are
//! valid:
//!
//! ```text
//! qt  sim 25.0s/60s  wall 25.1s  events 268,512 (10,741/s)  orders 412  fills 398  pnl alpha -1.23 beta +0.40  ess ok  books 2/2 valid
//! ```
//!
//! Shown only when stderr is a terminal (or forced with `--progress EVERY`) and never with
//! `--quiet`. Runs on its own thread (`qt-progress`), reading copies of the region like
//! `qt stat` does: it never touches the core thread.

use qt_core::Nanos;
use qt_core::stats::{Sample, Snapshot, StatsRegion};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The running `qt-progress` thread; [`ProgressThread::finish`] stops and joins it.
#[derive(Debug)]
pub struct ProgressThread {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl ProgressThread {
    /// Prints a status line of `region` every `every` until finished; `sim` is a simulated
    /// run's start and duration in domain time (`None`: a live run, which shows wall time only).
    pub fn spawn(region: StatsRegion, every: Duration, sim: Option<SimSpan>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("qt-progress".into()).spawn(move || {
            let start = Instant::now();
            let mut last: Option<(Instant, u64)> = None;
            let mut next = start + every;
            while !flag.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(50)));
                    continue;
                }
                next += every;
                let Ok(snap) = Snapshot::parse(&region.snapshot_bytes()) else { continue };
                let events = sum(&snap, "market_events_total");
                let rate = last.map(|(t, n)| rate_per_s(events.saturating_sub(n), now - t));
                last = Some((now, events));
                eprintln!("{}", line(&snap, now - start, rate, sim));
            }
        })?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread and waits for it (within one 50 ms nap).
    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// A simulated run's span in domain time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimSpan {
    /// Domain time the run starts at.
    pub start: Nanos,
    /// How long it runs.
    pub duration: Nanos,
}

fn rate_per_s(n: u64, over: Duration) -> u64 {
    let ns = over.as_nanos().max(1);
    u64::try_from(u128::from(n) * 1_000_000_000 / ns).unwrap_or(u64::MAX)
}

/// Sum of every series named `name` (raw values; counters have scale 0).
fn sum(snap: &Snapshot, name: &str) -> u64 {
    snap.named(name).map(|s| s.raw).fold(0u64, u64::saturating_add)
}

/// The value of label `key` in a sample's `k="v",…` labels.
fn label<'a>(s: &'a Sample, key: &str) -> Option<&'a str> {
    s.desc.labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.trim_matches('"'))
    })
}

/// Groups digits by thousands (`268512` → `268,512`).
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One status line of `snap`, `wall` into the run, with the event rate since the last line.
pub fn line(snap: &Snapshot, wall: Duration, rate: Option<u64>, sim: Option<SimSpan>) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("qt ");
    if let Some(span) = sim {
        let domain = snap.named("engine_domain_time_seconds").next().map_or(0, |s| s.raw);
        let elapsed = Nanos(i64::try_from(domain).unwrap_or(i64::MAX)).saturating_sub(span.start).0.max(0);
        let _ = write!(out, " sim {:.1}s/{}s", elapsed as f64 / 1e9, span.duration.0 / 1_000_000_000);
    }
    let _ = write!(out, "  wall {:.1}s", wall.as_secs_f64());
    let events = sum(snap, "market_events_total");
    let _ = write!(out, "  events {}", thousands(events));
    if let Some(r) = rate {
        let _ = write!(out, " ({}/s)", thousands(r));
    }
    let _ = write!(
        out,
        "  orders {}  fills {}",
        thousands(sum(snap, "orders_sent_total")),
        thousands(sum(snap, "fills_total"))
    );
    // PnL net of fees per account (display only; the exact values are in the file).
    let mut accounts: Vec<(&str, f64)> = Vec::new();
    for s in snap.named("account_pnl") {
        let (Some(account), Some(kind)) = (label(s, "account"), label(s, "kind")) else { continue };
        let signed = if kind == "fees" { -s.as_f64() } else { s.as_f64() };
        match accounts.iter_mut().find(|(a, _)| *a == account) {
            Some((_, v)) => *v += signed,
            None => accounts.push((account, signed)),
        }
    }
    if !accounts.is_empty() {
        out.push_str("  pnl");
        for (a, v) in &accounts {
            let _ = write!(out, " {a} {v:+.2}");
        }
    }
    let latched = sum(snap, "ess_latched") > 0;
    out.push_str(if latched { "  ess LATCHED" } else { "  ess ok" });
    let books: Vec<u64> = snap.named("book_valid").map(|s| s.raw).collect();
    let valid = books.iter().filter(|v| **v > 0).count();
    let _ = write!(out, "  books {valid}/{} valid", books.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(268_512), "268,512");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn rate_is_per_second() {
        assert_eq!(rate_per_s(500, Duration::from_millis(500)), 1000);
        assert_eq!(rate_per_s(0, Duration::ZERO), 0);
    }
}
