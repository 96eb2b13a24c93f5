//! A writer process killed with SIGKILL at arbitrary moments loses no committed record: a reader
//! in this process tails it through the shared mapping while it runs, and after each kill a
//! reopened writer recovers the tail and the whole journal reads back with consecutive sequences
//! and the payload each sequence was written with. The child is this test binary, re-run with
//! `--ignored --exact child_writer` and the journal directory in `QT_JOURNAL_CHILD_DIR`.

mod util;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qt_recorder::{Entry, JournalReader, JournalWriter, RecordType};

const CHILD_DIR: &str = "QT_JOURNAL_CHILD_DIR";
/// Large enough that rolls (which commit, and are syscall-heavy) are rare, small enough to roll.
const SEGMENT: u64 = 64 << 10;

/// The payload record `sequence` carries: its length and bytes both follow from the sequence.
fn payload_for(sequence: u64, buf: &mut [u8; 64]) -> &[u8] {
    let len = (sequence % 61) as usize;
    for (i, b) in buf[..len].iter_mut().enumerate() {
        *b = (sequence as u8).wrapping_add(i as u8);
    }
    &buf[..len]
}

#[test]
#[ignore = "the child half of a_writer_killed_with_sigkill_loses_no_committed_record"]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    let mut w = JournalWriter::open(&dir, util::config(SEGMENT)).unwrap();
    let mut buf = [0u8; 64];
    let stop = Instant::now() + Duration::from_secs(20);
    while Instant::now() < stop {
        for _ in 0..(w.next_sequence() % 199 + 1) {
            let sequence = w.next_sequence();
            let entry = Entry {
                kind: RecordType::MarketEvent,
                payload_version: 1,
                domain_ts_ns: sequence as i64,
                mono_ts_ns: 0,
                payload: payload_for(sequence, &mut buf),
            };
            w.append(entry).unwrap();
        }
        w.commit().unwrap();
    }
}

/// Kills the child if the test fails before it does, so no writer outlives the test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn check(sequence: u64, payload: &[u8]) {
    let mut buf = [0u8; 64];
    assert_eq!(payload, payload_for(sequence, &mut buf), "payload of sequence {sequence}");
}

/// Read what the writer committed since the last call, checking order and payloads.
fn tail(reader: Option<&mut JournalReader>, seen: &mut u64) {
    if let Some(r) = reader {
        r.poll(|rec| {
            assert_eq!(rec.sequence, *seen + 1);
            check(rec.sequence, rec.entry.payload);
            *seen += 1;
        })
        .unwrap();
    }
}

#[test]
fn a_writer_killed_with_sigkill_loses_no_committed_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0u64;
    let mut reader: Option<JournalReader> = None;
    for round in 1..=4u64 {
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().unwrap())
                .args(["--ignored", "--exact", "child_writer", "--test-threads=1"])
                .env(CHILD_DIR, dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Tail the running writer until it has committed a round-dependent number more records,
        // then kill it wherever it is.
        let target = seen + 700 * round + 13 * round * round;
        let deadline = Instant::now() + Duration::from_secs(15);
        while seen < target {
            assert!(Instant::now() < deadline, "round {round}: the child committed only up to {seen}");
            if reader.is_none() {
                reader = JournalReader::open(dir.path()).ok();
            }
            tail(reader.as_mut(), &mut seen);
            std::thread::yield_now();
        }
        // Let it run on unobserved for a round-dependent moment, so the kill lands mid-batch.
        std::thread::sleep(Duration::from_micros(700 * (round - 1)));
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        // Whatever was committed before the kill is still there for the tailing reader.
        tail(reader.as_mut(), &mut seen);
        let w = JournalWriter::open(dir.path(), util::config(SEGMENT)).unwrap();
        let next = w.next_sequence();
        eprintln!("round {round}: seen {seen}, next {next}, torn {:?}", w.open_report().torn_tail);
        assert!(next > seen, "round {round}: recovery ended at {next}, but {seen} were committed");
        drop(w);
        let (all, err) = util::read_all(dir.path());
        assert!(err.is_none(), "round {round}: {err:?}");
        assert_eq!(all.len() as u64, next - 1, "round {round}");
        for (i, rec) in all.iter().enumerate() {
            assert_eq!(rec.sequence, i as u64 + 1);
            check(rec.sequence, &rec.payload);
        }
    }
}
