//! Two simulated runs with the same seed, journal on by default: the same fills, and the same
//! journal record for record, apart from what a run cannot reproduce.
//!
//! What legitimately differs, and is cleared before comparing: monotonic times — every frame's
//! monotonic timestamp, a market record's `local_ns`, a decision's `local_ns` and a new order's
//! `sent_local_ns` (receive and send times of this process).
//!
//! Everything else — record types and their order, the housekeeping timer's records among them
//! (a simulated run's timer follows simulated time, `TimerClock::Domain`), domain times and every
//! payload, the Config record's text and hash included — must be identical. The timer runs the
//! risk component's tick, so when the tick acts (a level change, an automatic emergency stop, a
//! flatten retry) same-seed runs still trade identically
//! (`same_seed_runs_whose_risk_tick_trips_the_stop_give_the_same_fills`; with the timer on
//! monotonic time, four same-seed 20 s runs gave four digests).

use qt_core::journal::JournalEvent;
use qt_core::{Nanos, OrderCommand};
use qt_recorder::payload::{core_record, text};
use qt_recorder::{JournalReader, RecordType};
use std::path::{Path, PathBuf};

mod util;

/// A record with its monotonic times cleared: (type, domain time, content).
#[derive(Debug, Clone, PartialEq)]
struct Normalized {
    kind: RecordType,
    domain_ns: i64,
    content: Content,
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "a test's read-back records; size does not matter")]
enum Content {
    Text(text::TextRecord),
    Core(core_record::CoreEntry),
}

/// What a run journaled: the records normalized, the number of timer records, and
/// the number of records whose monotonic frame time was not zero.
struct Journal {
    records: Vec<Normalized>,
    timers: u64,
    mono_stamped: u64,
}

fn read(dir: &Path) -> Journal {
    let mut reader = JournalReader::open(dir).unwrap();
    let mut j = Journal { records: Vec::new(), timers: 0, mono_stamped: 0 };
    while let Some(r) = reader.next().unwrap() {
        let e = r.entry;
        j.mono_stamped += u64::from(e.mono_ts_ns != 0);
        j.timers += u64::from(e.kind == RecordType::Timer);
        let content = match core_record::decode(&r).unwrap() {
            None => Content::Text(text::decode(e.kind, e.payload, e.payload_version).unwrap()),
            Some(mut c) => {
                c.record.mono_ns = Nanos(0);
                match &mut c.record.event {
                    JournalEvent::Market(ev) => ev.local_ns = Nanos(0),
                    JournalEvent::Command(OrderCommand::New { sent_local_ns, .. }) => *sent_local_ns = Nanos(0),
                    _ => {}
                }
                Content::Core(c)
            }
        };
        j.records.push(Normalized { kind: e.kind, domain_ns: e.domain_ts_ns, content });
    }
    j
}

/// `qt run --pace max --duration 20s --seed 42` with the default journal: its summary and its
/// journal folder (under the scratch working directory, kept alive by the returned guard).
fn run() -> (String, PathBuf, util::Scratch) {
    let (mut cmd, cwd) = util::qt_command();
    let out = cmd.args(["run", "--duration", "20s", "--pace", "max", "--seed", "42"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut folders =
        std::fs::read_dir(cwd.0.join("journal")).expect("the default journal directory").map(|e| e.unwrap().path());
    let dir = folders.next().expect("a run folder");
    assert!(folders.next().is_none());
    (String::from_utf8_lossy(&out.stdout).into_owned(), dir, cwd)
}

#[test]
fn same_seed_runs_journal_the_same_records_apart_from_monotonic_times() {
    let (a_out, a_dir, _a) = run();
    let (b_out, b_dir, _b) = run();
    assert_eq!(util::fills_digest(&a_out), util::fills_digest(&b_out), "same seed, same fills:\n{a_out}\n{b_out}");
    let (a, b) = (read(&a_dir), read(&b_dir));
    eprintln!(
        "records {} and {}; timer records {} and {}; records with a monotonic stamp {} and {}",
        a.records.len(),
        b.records.len(),
        a.timers,
        b.timers,
        a.mono_stamped,
        b.mono_stamped
    );
    assert!(a.records.len() > 100_000, "{}", a.records.len());
    assert!(a.timers > 0 && a.timers == b.timers, "the timer is journaled, as often in both runs");
    assert_eq!(a.records[0].kind, RecordType::Config);
    let fills = a.records.iter().filter(|r| matches!(&r.content, Content::Core(c) if matches!(c.record.event, JournalEvent::Report(rep) if rep.kind == qt_core::ReportKind::Fill))).count();
    assert!(fills > 50, "the runs trade: {fills} fills");
    if let Some(i) = (0..a.records.len().min(b.records.len())).find(|&i| a.records[i] != b.records[i]) {
        panic!("record {i} differs:\n  {:?}\n  {:?}", a.records[i], b.records[i]);
    }
    assert_eq!(a.records.len(), b.records.len());
}

/// When the risk tick acts during the run — here a global drawdown threshold low enough that
/// the first fills' fees take the level to CRITICAL, which trips the emergency stop — same-seed
/// runs still give the same fills: the tick falls at the same input in every run.
#[test]
fn same_seed_runs_whose_risk_tick_trips_the_stop_give_the_same_fills() {
    let dir = util::temp_dir("determinism-tick");
    let line = r#"drawdown = { warning = "0.05", critical = "0.10", band = "0.01" }"#;
    assert!(qt_tools::config::EMBEDDED_DEFAULT.contains(line), "the embedded default changed: update this test");
    let config = qt_tools::config::EMBEDDED_DEFAULT
        .replace(line, r#"drawdown = { warning = "0.00002", critical = "0.00004", band = "0.00001" }"#);
    let path = dir.join("tick.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap();
    let run = || {
        let (code, out, err) =
            util::qt(&["run", "--config", path, "--duration", "20s", "--pace", "max", "--seed", "42", "--no-journal"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("latched (global_risk_critical)"), "the tick must trip the stop:\n{out}");
        util::fills_digest(&out).to_string()
    };
    let digests: Vec<String> = (0..3).map(|_| run()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(digests.iter().all(|d| *d == digests[0]), "same seed, different fills: {digests:?}");
}
