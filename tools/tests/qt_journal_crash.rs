//! `qt run` killed with SIGKILL at random moments leaves a journal that reads back and continues.
//!
//! Each round starts a simulated run (`--pace max`, journal on, 64 KiB segments so the kill can
//! land around a segment roll too) and SIGKILLs it after a random 0.3–2 s. Then the run's folder
//! must hold: every committed record intact (the reader checks length and CRC of each), with
//! consecutive sequences from 1, the Config record (this run's exact configuration text, hash
//! checked) first, and every later record a core record that decodes. Opening it for writing
//! (recovery) must report any torn tail at or past the committed position only, keep every
//! committed record, and take a new record after them that reads back.
//!
//! The delays come from a seed printed at the start; `QT_CRASH_SEED=<seed>` replays them.

use qt_recorder::payload::{core_record, text};
use qt_recorder::{Entry, JournalConfig, JournalReader, JournalWriter, RecordType};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

mod util;

const ROUNDS: u64 = 5;

/// SplitMix64: enough randomness for kill delays, reproducible from the printed seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn seed() -> u64 {
    match std::env::var("QT_CRASH_SEED") {
        Ok(s) => s.parse().expect("QT_CRASH_SEED is a u64"),
        Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    }
}

/// The single run folder (`sim-…`) a simulated run created under `dir`.
fn run_folder(dir: &Path) -> PathBuf {
    let folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "one run folder in {}: {folders:?}", dir.display());
    let name = folders[0].file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("sim-"), "{name}");
    folders[0].clone()
}

/// One record read back, owned.
#[derive(Debug, PartialEq)]
struct Read {
    sequence: u64,
    kind: RecordType,
    payload: Vec<u8>,
}

/// Reads the whole committed journal, asserting what every committed record must be.
fn read_committed(dir: &Path, config_text: &str) -> Vec<Read> {
    let mut reader = JournalReader::open(dir).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()));
    let mut out: Vec<Read> = Vec::new();
    loop {
        let record = match reader.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => panic!("after {} intact records: {e}", out.len()),
        };
        let e = &record.entry;
        assert_eq!(record.sequence, out.len() as u64 + 1, "sequences are consecutive from 1");
        if record.sequence == 1 {
            assert_eq!(e.kind, RecordType::Config, "the first record is the configuration");
            let config = text::decode(e.kind, e.payload, e.payload_version).expect("the Config record decodes");
            assert_eq!(config.text, config_text, "the run's own configuration");
        } else if e.kind != RecordType::Reconciliation {
            match core_record::decode(&record) {
                Ok(Some(_)) => {}
                other => panic!("sequence {} ({:?}): {other:?}", record.sequence, e.kind),
            }
        }
        out.push(Read { sequence: record.sequence, kind: e.kind, payload: e.payload.to_vec() });
    }
    out
}

#[test]
fn a_run_killed_with_sigkill_leaves_a_journal_that_reads_back_and_continues() {
    let seed = seed();
    eprintln!("crash test seed {seed} (QT_CRASH_SEED={seed} reproduces the kill delays)");
    let mut rng = seed;
    let scratch = util::temp_dir("journal-crash");
    let config_text =
        qt_tools::config::EMBEDDED_DEFAULT.replace("segment_size = \"64MiB\"", "segment_size = \"64KiB\"");
    assert_ne!(config_text, qt_tools::config::EMBEDDED_DEFAULT);
    let config_path = scratch.join("crash.toml");
    std::fs::write(&config_path, &config_text).unwrap();
    let mut rolled = false;
    for round in 1..=ROUNDS {
        let journal = scratch.join(format!("round-{round}"));
        let delay = Duration::from_millis(300 + next(&mut rng) % 1701);
        let (mut cmd, _cwd) = util::qt_command();
        let mut child = cmd
            .args(["run", "--pace", "max", "--duration", "600s", "--config"])
            .arg(&config_path)
            .arg("--journal")
            .arg(&journal)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qt runs");
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "round {round}: the run ended on its own before the kill: {status}");

        let dir = run_folder(&journal);
        let committed = read_committed(&dir, &config_text);
        assert!(committed.len() > 1, "round {round}: only {} records after {delay:?}", committed.len());
        let segments = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "qtj"))
            .count();
        rolled |= segments > 1;

        // Recovery: a torn tail is cut where the crash left it, never below what was committed.
        let mut writer =
            JournalWriter::open(&dir, JournalConfig { segment_size: 64 << 10, ..JournalConfig::default() })
                .unwrap_or_else(|e| panic!("round {round}: recovery refused: {e}"));
        let report = writer.open_report();
        assert!(report.continued);
        if let Some(torn) = report.torn_tail {
            assert!(!torn.committed_lost && !torn.durable_lost, "round {round}: {torn:?}");
            assert!(torn.sequence > committed.len() as u64, "round {round}: cut at {torn:?}");
        }
        let next = writer.next_sequence();
        assert!(next > committed.len() as u64, "round {round}: recovery resumes at {next}");
        eprintln!(
            "round {round}: killed after {delay:?}: {} committed, {} more complete frames kept, {segments} segment(s), \
             torn tail {:?}",
            committed.len(),
            next - 1 - committed.len() as u64,
            report.torn_tail
        );
        let note = text::encode(RecordType::Reconciliation, &format!("after the kill of round {round}"));
        let entry = Entry {
            kind: RecordType::Reconciliation,
            payload_version: text::VERSION,
            domain_ts_ns: 0,
            mono_ts_ns: 0,
            payload: &note,
        };
        assert_eq!(writer.append(entry).unwrap(), next);
        writer.commit().unwrap();
        drop(writer);

        let after = read_committed(&dir, &config_text);
        assert_eq!(after.len() as u64, next, "round {round}: every record through the new one");
        assert_eq!(after[..committed.len()], committed[..], "round {round}: the committed records are unchanged");
        let last = after.last().unwrap();
        assert_eq!((last.sequence, last.kind, &last.payload), (next, RecordType::Reconciliation, &note));
        if round == ROUNDS {
            // What a killed run left replays: every record it has matches (the outputs it had
            // not written yet are noted, not a difference).
            util::assert_replays(&dir);
        }
        std::fs::remove_dir_all(&journal).unwrap();
    }
    assert!(rolled, "no round ran long enough to roll a 64 KiB segment");
    let _ = std::fs::remove_dir_all(&scratch);
}
