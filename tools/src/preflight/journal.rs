//! The journal checks of `qt preflight`: the directory a run will journal into is writable with
//! enough room (`journal-dir`), and the state the journal leaves the next run in — the emergency
//! stop (`ess`) and the global risk level (`global-risk`) — allows trading.
//!
//! The state is the journal's last `RiskState` record (the core journals one at every change,
//! a restart replays them: docs/JOURNAL.md "Restart"); a stop journaled as triggered or latched
//! stays latched at the next start until `qt ess reset` ([`crate::restore::check_risk_state`]).

use super::Check;
use crate::config::Plan;
use qt_core::journal::JournalEvent;
use qt_core::risk_api::RiskState;
use qt_recorder::JournalReader;
use qt_recorder::payload::core_record;
use qt_risk::ess::TriggerSource;
use qt_risk::global_level::GlobalRiskLevel;
use std::path::{Path, PathBuf};

/// `journal-dir`: writable (a probe file is created and removed) with at least `min_free`
/// bytes available; a directory that does not exist yet is judged by the folder it will be
/// created in.
pub fn check_dir(plan: &Plan, min_free: u64) -> Check {
    const NAME: &str = "journal-dir";
    let Some(j) = &plan.journal else { return Check::skip(NAME, "journaling is off ([journal] enabled = false)") };
    let (dir, note) = match existing(&j.dir) {
        Some(d) if d == j.dir => (d, String::new()),
        Some(d) => {
            let note = format!(" ({} will be created there)", j.dir.display());
            (d, note)
        }
        None => return Check::fail(NAME, format!("{}: no existing folder on its path", j.dir.display())),
    };
    if !dir.is_dir() {
        return Check::fail(NAME, format!("{} is not a directory", dir.display()));
    }
    if let Err(e) = probe_write(&dir) {
        return Check::fail(NAME, format!("{} is not writable: {e}", dir.display()));
    }
    match fs4::available_space(&dir) {
        Ok(free) if free >= min_free => Check::pass(
            NAME,
            format!("{} writable, {} free (at least {} wanted){note}", dir.display(), bytes(free), bytes(min_free)),
        ),
        Ok(free) => Check::fail(
            NAME,
            format!(
                "{}: only {} free, at least {} wanted (--min-free){note}",
                dir.display(),
                bytes(free),
                bytes(min_free)
            ),
        ),
        Err(e) => Check::fail(NAME, format!("{}: free space unknown: {e}", dir.display())),
    }
}

/// `dir` itself if it exists, else its nearest existing ancestor.
fn existing(dir: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dir).ok()?;
    abs.ancestors().find(|p| p.exists()).map(Path::to_path_buf)
}

fn probe_write(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".qt-preflight-{}", std::process::id()));
    std::fs::write(&probe, b"preflight")?;
    std::fs::remove_file(&probe)
}

fn bytes(n: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    if n >= 1 << 30 { format!("{:.1} GiB", n as f64 / GIB) } else { format!("{:.1} MiB", n as f64 / MIB) }
}

/// `ess` and `global-risk`, from the last risk state in the journal a live run continues.
pub fn check_risk_state(plan: &Plan) -> Vec<Check> {
    let skip = |why: &str| vec![Check::skip("ess", why), Check::skip("global-risk", why)];
    let Some(j) = &plan.journal else { return skip("journaling is off: no journaled state") };
    if !plan.is_live() {
        return skip("a simulated run journals into a fresh folder of its own: no state carries over");
    }
    if !j.dir.exists() {
        return skip("no journal yet: the first run starts armed");
    }
    match last_risk_state(&j.dir) {
        Ok(None) => vec![
            Check::pass("ess", format!("armed (no risk state change journaled in {})", j.dir.display())),
            Check::pass("global-risk", "info (no change journaled)"),
        ],
        Ok(Some(s)) => vec![ess(&s, &j.dir), global_risk(&s)],
        Err(e) => {
            let why = format!("cannot read the journal in {}: {e:#}", j.dir.display());
            vec![Check::fail("ess", why.clone()), Check::fail("global-risk", why)]
        }
    }
}

/// The last `RiskState` record in the journal in `dir` (`None`: none written).
pub fn last_risk_state(dir: &Path) -> anyhow::Result<Option<RiskState>> {
    let mut reader = JournalReader::open(dir)?;
    let mut last = None;
    while let Some(record) = reader.next()? {
        if let Ok(Some(entry)) = core_record::decode(&record)
            && let JournalEvent::RiskState(s) = entry.record.event
        {
            last = Some(s);
        }
    }
    Ok(last)
}

fn ess(s: &RiskState, dir: &Path) -> Check {
    let source = TriggerSource::ALL.iter().find(|t| **t as u8 == s.ess_source).map_or("unknown", |t| t.name());
    let since = humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_nanos(s.ess_since.0.max(0) as u64),
    );
    match s.ess {
        RiskState::ARMED => Check::pass("ess", format!("armed (journal {})", dir.display())),
        RiskState::TRIGGERED => Check::fail(
            "ess",
            format!(
                "the emergency stop is triggered ({source}, since {since}) and will be latched at start: run `qt ess reset`"
            ),
        ),
        _ => Check::fail(
            "ess",
            format!("the emergency stop is LATCHED ({source}, since {since}): run `qt ess reset` before going live"),
        ),
    }
}

fn global_risk(s: &RiskState) -> Check {
    let level = [GlobalRiskLevel::Info, GlobalRiskLevel::Warning, GlobalRiskLevel::Critical]
        .into_iter()
        .find(|l| *l as u8 == s.level);
    match level {
        Some(GlobalRiskLevel::Critical) => {
            Check::fail("global-risk", "the journal's last global risk level is CRITICAL: new risk is blocked")
        }
        Some(l) => Check::pass("global-risk", format!("last journaled level {}", l.name())),
        None => Check::fail("global-risk", format!("unknown level code {} in the journal", s.level)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Status;
    use qt_core::Nanos;

    #[test]
    fn latched_triggered_and_critical_fail_armed_passes() {
        let dir = Path::new("/j");
        let armed = RiskState::default();
        assert_eq!(ess(&armed, dir).status, Status::Pass);
        let latched = RiskState { ess: RiskState::LATCHED, ess_source: 1, ess_since: Nanos(1_000_000_000), level: 0 };
        let c = ess(&latched, dir);
        assert_eq!(c.status, Status::Fail);
        assert!(c.why.contains("LATCHED (manual, since 1970-01-01T00:00:01.000Z)"), "{c}");
        assert_eq!(ess(&RiskState { ess: RiskState::TRIGGERED, ..latched }, dir).status, Status::Fail);
        assert_eq!(global_risk(&RiskState { level: 2, ..armed }).status, Status::Fail);
        assert_eq!(global_risk(&RiskState { level: 1, ..armed }).status, Status::Pass);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(1 << 30), "1.0 GiB");
        assert_eq!(bytes(3 << 19), "1.5 MiB");
    }
}
