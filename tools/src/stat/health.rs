//! Liveness and readiness of the engine behind a stats [`Snapshot`], for `/health/live` and
//! `/health/ready` (the stats thread) and `qt stat`. Plain functions of the snapshot and the
//! time; each check names itself and says why it failed.
//!
//! - live: the core's heartbeat is recent (the process and its loop run);
//! - ready: live, and the configuration loaded (the file is described), every book valid,
//!   every gateway connected, the journal writing, the emergency stop not latched.

use qt_core::stats::{Liveness, Snapshot};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Its name (`heartbeat`, `books_valid`, …).
    pub name: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

fn check(name: &'static str, ok: bool, detail: String) -> Check {
    Check { name, ok, detail }
}

fn heartbeat(snap: &Snapshot, now_ns: u64) -> Check {
    match snap.liveness(now_ns) {
        Liveness::Live if snap.header.heartbeat_ns == 0 => check("heartbeat", true, "starting".into()),
        Liveness::Live => {
            check("heartbeat", true, format!("{} ms ago", now_ns.saturating_sub(snap.header.heartbeat_ns) / 1_000_000))
        }
        Liveness::Stale { since_ns } => check(
            "heartbeat",
            false,
            format!(
                "none for {} ms (limit {} ms)",
                now_ns.saturating_sub(since_ns) / 1_000_000,
                snap.stale_after_ns() / 1_000_000
            ),
        ),
    }
}

/// `/health/live`: (all passed, the checks).
pub fn live(snap: &Snapshot, now_ns: u64) -> (bool, Vec<Check>) {
    let c = heartbeat(snap, now_ns);
    (c.ok, vec![c])
}

/// Names (label sets) of the series of gauge `name` whose value is not 1.
fn not_one(snap: &Snapshot, name: &str) -> (usize, Vec<String>) {
    let all: Vec<_> = snap.named(name).collect();
    let bad = all.iter().filter(|s| s.raw != 1).map(|s| s.desc.labels.clone()).collect();
    (all.len(), bad)
}

fn all_one(name: &'static str, snap: &Snapshot, metric: &str, what: &str) -> Check {
    let (n, bad) = not_one(snap, metric);
    if bad.is_empty() {
        check(name, true, format!("{n} {what}"))
    } else {
        check(name, false, format!("{} of {n} {what} not: {}", bad.len(), bad.join("; ")))
    }
}

/// `/health/ready`: (all passed, the checks).
pub fn ready(snap: &Snapshot, now_ns: u64) -> (bool, Vec<Check>) {
    let mut checks = vec![heartbeat(snap, now_ns)];
    checks.push(check("config_loaded", !snap.samples.is_empty(), format!("{} metrics described", snap.samples.len())));
    checks.push(all_one("books_valid", snap, "book_valid", "book(s) valid"));
    checks.push(all_one("gateways_connected", snap, "gateway_connected", "gateway(s) connected"));
    let failed: u64 = snap.named("journal_write_failed").map(|s| s.raw).sum();
    let journals = snap.named("journal_write_failed").count();
    checks.push(match (journals, failed) {
        (0, _) => check("journal_writable", true, "no journal in this run".into()),
        (_, 0) => check("journal_writable", true, "writing".into()),
        _ => check("journal_writable", false, "the journal failed to write; orders are refused".into()),
    });
    let latched = snap.named("ess_latched").any(|s| s.raw != 0);
    checks.push(check(
        "ess_not_latched",
        !latched,
        if latched { "emergency stop latched".into() } else { "armed or triggered".into() },
    ));
    (checks.iter().all(|c| c.ok), checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::stats::blocks::{BookStats, RiskStats, VenueStats};
    use qt_core::stats::{Capacity, Owner, StatsRegion, unix_now_ns};

    #[test]
    fn readiness_follows_books_gateways_and_the_latch() {
        let region = StatsRegion::anonymous(Capacity { slots: 256 }).unwrap();
        let book = region.block::<BookStats>(Owner::Core, &[("instrument", "BTCUSDT")]).unwrap();
        let venue = region.block::<VenueStats>(Owner::Core, &[("venue", "sim")]).unwrap();
        let risk = region.block::<RiskStats>(Owner::Core, &[]).unwrap();
        let now = unix_now_ns();
        region.heartbeat().beat(now);
        let ready_now = || {
            let snap = Snapshot::parse(&region.snapshot_bytes()).unwrap();
            let (ok, checks) = ready(&snap, now);
            (ok, checks.into_iter().filter(|c| !c.ok).map(|c| c.name).collect::<Vec<_>>())
        };
        book.valid.set(1);
        venue.connected.set(1);
        assert_eq!(ready_now(), (true, vec![]));
        book.valid.set(0);
        assert_eq!(ready_now(), (false, vec!["books_valid"]), "an invalid book");
        book.valid.set(1);
        risk.ess_latched.set(1);
        venue.connected.set(0);
        assert_eq!(ready_now(), (false, vec!["gateways_connected", "ess_not_latched"]));
        risk.ess_latched.set(0);
        venue.connected.set(1);
        assert_eq!(ready_now(), (true, vec![]), "back once resolved");
        let snap = Snapshot::parse(&region.snapshot_bytes()).unwrap();
        assert!(live(&snap, now).0);
        let (ok, checks) = live(&snap, now + 60_000_000_000);
        assert!(!ok && checks[0].detail.contains("none for"), "{checks:?}");
    }
}
