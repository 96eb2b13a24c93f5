//! `qt journal stats|dump` on a journal written with the real writer: counts, JSON lines,
//! filters, and damage reported (where) instead of hidden.

use qt_core::{EventKind, InstrumentId, MarketEvent, Price, Qty, Side};
use qt_recorder::{Entry, JournalConfig, JournalWriter, Payload, RecordType};
use std::path::Path;

mod util;
use util::{qt, temp_dir};

/// 40 market events (payload v1) and 2 config records (raw text), committed; returns the
/// sequence of the first market event.
fn write_journal(dir: &Path) -> u64 {
    let config = JournalConfig { segment_size: 4096, ..JournalConfig::default() };
    let mut w = JournalWriter::open(dir, config).unwrap();
    let mut first = 0;
    let raw = |text: &'static [u8], ts: i64| Entry {
        kind: RecordType::Config,
        payload_version: 1,
        domain_ts_ns: ts,
        mono_ts_ns: ts,
        payload: text,
    };
    w.append(raw(b"[engine]\ncpu = 1\n", 1)).unwrap();
    for k in 0..40i64 {
        let mut ev = MarketEvent::new(
            InstrumentId(0),
            EventKind::BookDelta,
            if k % 2 == 0 { Side::Buy } else { Side::Sell },
            Price::from_units(65_000 + k),
            Qty::from_units(k + 1),
        );
        ev.local_ns = qt_core::Nanos(1_000 + k);
        let mut buf = [0u8; qt_recorder::payload::MAX_LEN];
        let len = ev.encode(&mut buf).unwrap();
        let seq = w
            .append(Entry {
                kind: RecordType::MarketEvent,
                payload_version: MarketEvent::VERSION,
                domain_ts_ns: 1_000 + k,
                mono_ts_ns: 2_000 + k,
                payload: &buf[..len],
            })
            .unwrap();
        if k == 0 {
            first = seq;
        }
    }
    w.append(raw(b"bye", 9_999)).unwrap();
    w.commit().unwrap();
    first
}

#[test]
fn stats_and_dump_read_what_the_writer_committed() {
    let dir = temp_dir("journal-read");
    let first = write_journal(&dir);
    let d = dir.to_str().unwrap();
    let (code, out, err) = qt(&["journal", "stats", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("records 42") && out.contains("market_event") && out.contains("intact"), "{out}");
    assert!(out.contains("segments 2") || out.contains("segments 3"), "4 KiB segments roll: {out}");
    assert!(out.contains("time      1 .. 9999 ns"), "{out}");

    let (code, out, err) = qt(&["journal", "dump", d, "--json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 42);
    assert_eq!(lines[1]["type"], "market_event");
    assert!(lines[1]["payload"].as_str().unwrap().contains("65000"), "decoded: {}", lines[1]);
    assert!(lines[0]["payload"].as_str().unwrap().starts_with("hex "), "{}", lines[0]);

    let from = (first + 10).to_string();
    let to = (first + 14).to_string();
    let (code, out, _) = qt(&["journal", "dump", d, "--type", "market_event", "--from", &from, "--to", &to]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 5, "{out}");
    let (code, _, err) = qt(&["journal", "dump", d, "--type", "trades"]);
    assert!(code != 0 && err.contains("unknown record type \"trades\"") && err.contains("market_event"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flipped_byte_is_reported_with_its_place_and_nothing_after_it_is_shown() {
    let dir = temp_dir("journal-flip");
    write_journal(&dir);
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "qtj"))
        .collect();
    segments.sort();
    // A byte inside the tenth frame's payload of the first segment.
    let mut bytes = std::fs::read(&segments[0]).unwrap();
    let at = 128 + 10 * 104 + 50;
    bytes[at] ^= 0x40;
    std::fs::write(&segments[0], &bytes).unwrap();
    let d = dir.to_str().unwrap();
    let (code, out, err) = qt(&["journal", "stats", d]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("DAMAGE") && out.contains("segment 0") && out.contains("offset"), "{out}");
    assert!(err.contains("damaged"), "{err}");
    let (code, out, err) = qt(&["journal", "dump", d]);
    assert_ne!(code, 0);
    assert!(out.lines().count() < 42 && err.contains("corrupt"), "{out}{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_checked_in_v1_journal_reads_intact() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recorder/testdata/journal-v1");
    let (code, out, err) = qt(&["journal", "stats", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact"), "{out}");
}
