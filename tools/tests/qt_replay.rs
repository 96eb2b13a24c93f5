//! `qt replay` end to end: a simulated run's journal of over a million market events replays
//! with every decision equal; a journal whose recorded decision was altered is caught at that
//! record and shown side by side; a damaged record stops the replay unless `--skip-corrupt`.

mod util;

use qt_core::journal::JournalEvent;
use qt_recorder::payload::MAX_LEN;
use qt_recorder::payload::core_record::{self, CoreEncoder};
use qt_recorder::{JournalConfig, JournalReader, JournalWriter, RecordType};
use std::path::{Path, PathBuf};
use util::qt;

/// Runs a simulated `qt run` with its journal under `parent`; returns the run's journal folder.
fn simulated_run(parent: &Path, duration: &str, seed: &str) -> PathBuf {
    let (code, out, err) =
        qt(&["run", "--pace", "max", "--duration", duration, "--seed", seed, "--journal", parent.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut runs: Vec<_> = std::fs::read_dir(parent).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs.pop().unwrap()
}

/// The number just before `label` on the replay's first line.
fn before(out: &str, label: &str) -> u64 {
    let line = out.lines().next().unwrap();
    let head = line.split_once(label).unwrap_or_else(|| panic!("no {label:?} in {line}")).0;
    head.rsplit([' ', '(']).next().unwrap().parse().unwrap()
}

#[test]
fn a_million_event_simulated_run_replays_with_every_decision_equal() {
    let parent = util::temp_dir("replay-million");
    let run = simulated_run(&parent, "100s", "7");
    let (code, out, err) = qt(&["replay", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("every intent, risk decision and order matches the journal"), "{out}");
    assert!(before(&out, " market events") >= 1_000_000, "at least a million market events: {out}");
    // Every record but the configuration and the closing reconciliation was compared (the
    // inputs' echoes and the outputs).
    assert_eq!(before(&out, " records compared equal") + 2, before(&out, " records,"), "{out}");
    std::fs::remove_dir_all(&parent).unwrap();
}

/// Copies `from` to `to` record by record, changing the `nth` risk decision's allowed quantity.
fn copy_with_altered_decision(from: &Path, to: &Path, nth: usize) -> u64 {
    let mut reader = JournalReader::open(from).unwrap();
    let cfg = JournalConfig { segment_size: 64 << 20, ..JournalConfig::default() };
    let mut writer = JournalWriter::open(to, cfg).unwrap();
    let mut encoder = CoreEncoder::default();
    let mut buf = [0u8; MAX_LEN];
    let (mut decisions, mut altered) = (0, 0);
    while let Some(record) = reader.next().unwrap() {
        let sequence = record.sequence;
        if record.entry.kind == RecordType::RiskDecision {
            decisions += 1;
            if decisions == nth {
                let mut e = core_record::decode(&record).unwrap().unwrap();
                let JournalEvent::Decision(d) = &mut e.record.event else { unreachable!() };
                d.final_qty += 1;
                let entry = encoder.encode(&e.record, None, &mut buf).unwrap();
                assert_eq!(writer.append(entry).unwrap(), sequence);
                altered = sequence;
                continue;
            }
        }
        assert_eq!(writer.append(record.entry).unwrap(), sequence);
    }
    writer.commit().unwrap();
    assert!(altered > 0, "the run made at least {nth} decisions");
    altered
}

#[test]
fn an_altered_decision_is_caught_at_its_record_and_shown_side_by_side() {
    let parent = util::temp_dir("replay-altered");
    let run = simulated_run(&parent, "10s", "3");
    let altered_dir = parent.join("altered");
    let sequence = copy_with_altered_decision(&run, &altered_dir, 5);
    let (code, out, err) = qt(&["replay", altered_dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains(&format!("DIVERGENCE at journal sequence {sequence}")), "{out}");
    assert!(err.contains("diverged"), "{err}");
    // Both records, field by field; the differing line is marked.
    assert!(out.contains("journal") && out.contains("| replay"), "{out}");
    let marked: Vec<&str> = out.lines().filter(|l| l.starts_with('≠')).collect();
    assert!(marked.iter().any(|l| l.contains("final_qty")), "{out}");
    // Untouched, the same run replays cleanly; --until stops early and still matches.
    util::assert_replays(&run);
    // The run's last record is its reconciliation, as the summary showed it.
    let (code, out, _) = qt(&["journal", "dump", run.to_str().unwrap(), "--type", "reconciliation"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("reconcile positions vs venue ledger:") && out.contains(" 0 differences"), "{out}");
    let (code, out, _) = qt(&["replay", altered_dir.to_str().unwrap(), "--until", &(sequence - 1).to_string()]);
    assert_eq!(code, 0, "before the altered record all matches: {out}");
    assert!(out.contains(&format!("stopped at --until {}", sequence - 1)), "{out}");
    std::fs::remove_dir_all(&parent).unwrap();
}

/// The offset of the first frame at or past the middle of the committed data of `bytes`.
fn middle_frame(bytes: &[u8]) -> usize {
    let committed = u64::from_le_bytes(bytes[64..72].try_into().unwrap()) as usize;
    let mut at = 128;
    while at < committed / 2 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += len.div_ceil(8) * 8;
    }
    at
}

#[test]
fn a_damaged_record_stops_the_replay_unless_skipping_is_asked_for() {
    let parent = util::temp_dir("replay-damaged");
    let run = simulated_run(&parent, "5s", "5");
    let segment = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "qtj"))
        .unwrap();
    let mut reader = JournalReader::open(&run).unwrap();
    let mut count = 0u64;
    while reader.next().unwrap().is_some() {
        count += 1;
    }
    let original = std::fs::read(&segment).unwrap();
    let frame = middle_frame(&original);
    // A flipped payload byte (the CRC fails; the length still steps over the frame), then a
    // flipped length byte (the reader must find the next intact frame by itself).
    for (what, at, skipped) in [("payload", frame + 40, "one record"), ("length", frame + 2, "records ")] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x40;
        std::fs::write(&segment, &bytes).unwrap();

        let (code, out, err) = qt(&["replay", run.to_str().unwrap()]);
        assert_ne!(code, 0, "{what}: {out}\n{err}");
        assert!(err.contains("damaged") && err.contains("segment 0"), "{what}: {err}");
        assert!(err.contains("--skip-corrupt"), "says how to go on: {err}");

        let (_, out, err) = qt(&["replay", run.to_str().unwrap(), "--skip-corrupt"]);
        let line = out
            .lines()
            .find(|l| l.starts_with("SKIPPED damaged records"))
            .unwrap_or_else(|| panic!("{what}: {out}\n{err}"));
        assert!(line.contains(skipped), "{what}: {line}");
        // It read past the damaged record (what follows may then diverge: a record is missing).
        let damaged: u64 = line.split_once("expected sequence ").unwrap().1.split(')').next().unwrap().parse().unwrap();
        assert!(before(&out, " records,") > damaged && damaged < count, "{what}: went on past the damage: {out}");
    }
    std::fs::remove_dir_all(&parent).unwrap();
}

/// The summary's `orders` line figure after `label`.
fn orders_figure(out: &str, label: &str) -> u64 {
    let l = out.lines().find(|l| l.trim_start().starts_with("orders")).unwrap_or_else(|| panic!("{out}"));
    let rest = l.split_once(&format!(" {label} ")).unwrap().1;
    rest.split_whitespace().next().unwrap().replace(',', "").parse().unwrap()
}

#[test]
fn a_backtest_runs_other_settings_over_the_recorded_market() {
    let parent = util::temp_dir("replay-backtest");
    let run = simulated_run(&parent, "10s", "11");
    let same = parent.join("same.toml");
    std::fs::write(&same, qt_tools::config::EMBEDDED_DEFAULT).unwrap();
    let (code, out, err) = qt(&["replay", run.to_str().unwrap(), "--config", same.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("Backtest: the market data recorded in"), "{out}");
    assert!(out.contains("reconcile positions vs venue ledger:") && out.contains(" 0 differences"), "{out}");
    let (sent, fills) = (orders_figure(&out, "sent"), orders_figure(&out, "fills"));
    assert!(sent > 0 && fills > 0, "the strategies traded against the recorded book: {out}");

    // A stricter signal threshold trades less over the same market.
    let strict = parent.join("strict.toml");
    let text = qt_tools::config::EMBEDDED_DEFAULT.replace("threshold = \"0.6\"", "threshold = \"0.9\"");
    assert_ne!(text, qt_tools::config::EMBEDDED_DEFAULT);
    std::fs::write(&strict, text).unwrap();
    let (code, out2, err) = qt(&["replay", run.to_str().unwrap(), "--config", strict.to_str().unwrap()]);
    assert_eq!(code, 0, "{out2}\n{err}");
    assert!(orders_figure(&out2, "requests") < orders_figure(&out, "requests"), "{out}\n{out2}");

    // Other instruments than the journal's are refused, by name.
    let other = parent.join("other.toml");
    std::fs::write(&other, qt_tools::config::EMBEDDED_DEFAULT.replace("ETHUSDT", "SOLUSDT")).unwrap();
    let (code, _, err) = qt(&["replay", run.to_str().unwrap(), "--config", other.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("SOLUSDT") && err.contains("not the journal's"), "{err}");
    std::fs::remove_dir_all(&parent).unwrap();
}
