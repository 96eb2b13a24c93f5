//! Writer/reader behaviour of the journal: round trips across rolls, crash prefixes and torn
//! tails, flipped bytes, the writer lock, version refusal, live tailing.

mod util;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use qt_recorder::format::header;
use qt_recorder::{Corruption, JournalError, JournalReader, JournalWriter, PersistMode, RecordType, RecoveryMode};
use util::{Owned, SMALL_SEGMENT, config, layout, make, read_all, set_committed, write_bytes};

/// Appends records with `payload_len`-byte payloads until the writer is at `segment`; returns
/// the last sequence appended (the one that made it roll there).
fn fill_to_segment(w: &mut JournalWriter, segment: u64, payload_len: usize) -> u64 {
    let mut seq = w.next_sequence() - 1;
    while w.segment() < segment {
        seq += 1;
        w.append(make(seq, 1, vec![5; payload_len]).entry()).unwrap();
    }
    seq
}

fn records(spec: &[(usize, Vec<u8>)], first: u64) -> Vec<Owned> {
    spec.iter().enumerate().map(|(i, (k, p))| make(first + i as u64, *k, p.clone())).collect()
}

type Frames = Vec<(u64, usize, usize)>;

/// A journal of these records in one committed batch, with the payload lengths and the frame
/// layout the format predicts for them.
fn written_journal(spec: &[(usize, Vec<u8>)]) -> (tempfile::TempDir, Vec<Owned>, Vec<usize>, Frames) {
    let dir = tempfile::tempdir().unwrap();
    let recs = records(spec, 1);
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    for r in &recs {
        w.append(r.entry()).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let lens: Vec<usize> = recs.iter().map(|r| r.payload.len()).collect();
    let frames = layout(SMALL_SEGMENT, &lens);
    (dir, recs, lens, frames)
}

fn stream() -> impl Strategy<Value = Vec<(usize, Vec<u8>)>> {
    prop::collection::vec((0usize..15, prop::collection::vec(any::<u8>(), 0..300)), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Encode → decode is the identity for any (type, payload) stream, across segment rolls and
    /// any commit batching, and a reopened writer continues the sequence.
    #[test]
    fn what_is_written_is_read_back_exactly(spec in stream(), batch in 1usize..8) {
        let dir = tempfile::tempdir().unwrap();
        let recs = records(&spec, 1);
        let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
        for (i, r) in recs.iter().enumerate() {
            prop_assert_eq!(w.append(r.entry()).unwrap(), r.sequence);
            if i % batch == batch - 1 { w.commit().unwrap(); }
        }
        w.commit().unwrap();
        let lens: Vec<usize> = recs.iter().map(|r| r.payload.len()).collect();
        prop_assert_eq!(w.segment(), layout(SMALL_SEGMENT, &lens).last().unwrap().0);
        drop(w);
        let (read, err) = read_all(dir.path());
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(&read, &recs);

        let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
        let report = w.open_report();
        prop_assert!(report.continued && report.torn_tail.is_none());
        prop_assert_eq!(report.next_sequence, recs.len() as u64 + 1);
        let extra = make(recs.len() as u64 + 1, 3, vec![7; 11]);
        prop_assert_eq!(w.append(extra.entry()).unwrap(), extra.sequence);
        w.commit().unwrap();
        let (read, err) = read_all(dir.path());
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(read.len(), recs.len() + 1);
        prop_assert_eq!(read.last(), Some(&extra));
    }

    /// Any byte prefix of a valid journal (cut in any segment; later segments gone) with either
    /// a committed position at or below the cut (a process crash: the page cache was intact) or
    /// the committed position as it was (a power loss that kept the header page). A reader
    /// returns exactly the committed records and, if committed frames are missing, then an error
    /// naming where, never a garbage record. A reopened writer keeps every complete frame,
    /// reports a torn tail exactly when bytes of a cut frame remain, refuses damage below the
    /// committed position unless told to drop it, and continues with the next sequence.
    #[test]
    fn any_prefix_reads_exactly_the_committed_records_and_the_writer_continues_after_it(
        spec in stream(), seg_pick in any::<prop::sample::Index>(), cut_frac in 0.0f64..=1.0,
        committed_pick in any::<prop::sample::Index>(), header_kept in any::<bool>(),
    ) {
        let (dir, recs, lens, frames) = written_journal(&spec);
        let last_seg = frames.last().unwrap().0;
        let seg = seg_pick.index(last_seg as usize + 1) as u64;
        let in_seg: Vec<usize> = (0..recs.len()).filter(|&i| frames[i].0 == seg).collect();
        let first_in_seg = in_seg[0];
        let last = *in_seg.last().unwrap();
        let records_end = frames[last].1 + frames[last].2;
        // A sealed segment ends with a 40-byte end-of-segment frame.
        let eos = (seg < last_seg).then_some(records_end);
        let seg_end = eos.map_or(records_end, |e| e + 40);
        let cut = header::LEN + ((seg_end - header::LEN) as f64 * cut_frac) as usize;
        // A frame survives the cut if none of the bytes it lost were non-zero (zeroing a zero
        // changes nothing; the CRC cannot tell and need not).
        let original = util::read_bytes(dir.path(), seg, 0, SMALL_SEGMENT as usize);
        let intact = |off: usize, len: usize| original[cut.max(off)..(off + len).max(cut)].iter().all(|&b| b == 0);
        for later in seg + 1..=last_seg {
            std::fs::remove_file(util::segment_file(dir.path(), later)).unwrap();
        }
        write_bytes(dir.path(), seg, cut as u64, &vec![0u8; SMALL_SEGMENT as usize - cut]);
        let complete = in_seg.iter().filter(|&&i| intact(frames[i].1, 40 + lens[i])).count();
        let survivors = first_in_seg + complete;
        let sealed = eos.is_some_and(|e| complete == in_seg.len() && intact(e, 40));
        // Where the first incomplete frame starts, if any, and whether any of its bytes remain.
        let damage_at = if complete < in_seg.len() { Some(frames[survivors].1) } else if sealed { None } else { eos };
        let torn_bytes_remain = damage_at.is_some_and(|d| {
            d < cut && util::read_bytes(dir.path(), seg, d as u64, cut - d).iter().any(|&b| b != 0)
        });

        let (read, err) = read_all(dir.path());
        if header_kept {
            // The header still claims everything: the missing frames are damage, reported once.
            prop_assert_eq!(&read[..], &recs[..survivors]);
            match (damage_at, err) {
                (None, None) => {}
                (Some(d), Some(JournalError::Corrupt { segment, offset, sequence, .. })) => {
                    prop_assert_eq!((segment, offset, sequence), (seg, d as u64, survivors as u64 + 1));
                }
                (d, e) => prop_assert!(false, "damage at {:?}, reader said {:?}; cut {} seg {}/{} seg_end {} complete {}/{} read {}", d, e, cut, seg, last_seg, seg_end, complete, in_seg.len(), read.len()),
            }
        } else {
            let mut boundaries = vec![header::LEN];
            boundaries.extend(in_seg[..complete].iter().map(|&i| frames[i].1 + frames[i].2));
            if sealed { boundaries.push(seg_end); }
            let k = committed_pick.index(boundaries.len());
            set_committed(dir.path(), seg, boundaries[k] as u64);
            let (read, err) = read_all(dir.path());
            prop_assert!(err.is_none(), "{:?}", err);
            prop_assert_eq!(&read[..], &recs[..first_in_seg + k.min(complete)]);
        }

        let strict = JournalWriter::open(dir.path(), config(SMALL_SEGMENT));
        let mut w = if header_kept && damage_at.is_some() {
            match strict {
                Err(JournalError::Corrupt { segment, offset, sequence, .. }) => {
                    prop_assert_eq!((segment, offset, sequence), (seg, damage_at.unwrap() as u64, survivors as u64 + 1));
                }
                other => prop_assert!(false, "strict recovery accepted damage: {:?}", other.map(|w| w.open_report())),
            }
            let cfg = qt_recorder::JournalConfig { recovery: RecoveryMode::DropDamagedTail, ..config(SMALL_SEGMENT) };
            JournalWriter::open(dir.path(), cfg).unwrap()
        } else {
            strict.unwrap()
        };
        let report = w.open_report();
        prop_assert_eq!(report.next_sequence, survivors as u64 + 1);
        prop_assert_eq!(report.segment, if sealed { seg + 1 } else { seg });
        match report.torn_tail {
            Some(t) => {
                prop_assert!(torn_bytes_remain || header_kept, "unexpected torn tail {:?}", t);
                prop_assert_eq!((t.segment, t.offset, t.sequence), (seg, damage_at.unwrap() as u64, survivors as u64 + 1));
                prop_assert_eq!(t.committed_lost, header_kept);
                prop_assert!(!t.durable_lost, "nothing was flushed");
            }
            None => {
                let damage_expected = torn_bytes_remain || (header_kept && damage_at.is_some());
                prop_assert!(!damage_expected, "torn tail not reported");
            },
        }
        let next = make(survivors as u64 + 1, 5, vec![3; 5]);
        prop_assert_eq!(w.append(next.entry()).unwrap(), next.sequence);
        w.commit().unwrap();
        drop(w);
        let (read, err) = read_all(dir.path());
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(&read[..survivors], &recs[..survivors]);
        prop_assert_eq!(read.get(survivors), Some(&next));
        // The torn bytes were zeroed: reopening again finds a clean tail.
        let w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
        prop_assert_eq!(w.open_report().torn_tail, None);
        prop_assert_eq!(w.next_sequence(), survivors as u64 + 2);
    }

    /// A flipped byte inside any frame stops the reader at that frame with its segment, offset
    /// and sequence; nothing from the damaged frame on is returned, and the error is sticky.
    #[test]
    fn a_flipped_byte_is_reported_where_it_is_and_never_returned(
        spec in stream(), pick in any::<prop::sample::Index>(), byte_pick in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let (dir, recs, lens, frames) = written_journal(&spec);
        let victim = pick.index(recs.len());
        let (seg, off, _) = frames[victim];
        // Only bytes the frame covers (alignment padding carries nothing and is not checked).
        let at = off + byte_pick.index(40 + lens[victim]);
        let mut b = util::read_bytes(dir.path(), seg, at as u64, 1);
        b[0] ^= 1 << bit;
        write_bytes(dir.path(), seg, at as u64, &b);

        let mut reader = JournalReader::open(dir.path()).unwrap();
        let mut good = 0;
        let err = loop {
            match reader.next() {
                Ok(Some(r)) => { prop_assert_eq!(r.sequence, recs[good].sequence); good += 1; }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        prop_assert_eq!(good, victim);
        match err {
            Some(JournalError::Corrupt { segment, offset, sequence, .. }) => {
                prop_assert_eq!((segment, offset, sequence), (seg, off as u64, victim as u64 + 1));
            }
            other => prop_assert!(false, "expected corruption, got {:?}", other),
        }
        prop_assert!(matches!(reader.next(), Err(JournalError::Corrupt { .. })), "error must be sticky");
    }

    /// A live writer's view: the committed position of the last segment at any frame boundary,
    /// and beyond it whatever a writer may have left there — complete frames appended but not
    /// committed, a frame cut anywhere (being written), or garbage. A reader returns exactly the
    /// records whose frames the committed position covers, then `Ok(None)` (no error: nothing
    /// past it is read), and the same reader continues with exactly the rest once the writer
    /// has finished and committed them.
    #[test]
    fn a_reader_over_a_live_prefix_returns_exactly_the_committed_records_then_the_rest(
        spec in stream(), pick in any::<prop::sample::Index>(), beyond in 0u8..3,
        cut_frac in 0.0f64..1.0, garbage_seed in any::<u64>(),
    ) {
        let (dir, recs, _, frames) = written_journal(&spec);
        let last_seg = frames.last().unwrap().0;
        let in_last: Vec<usize> = (0..recs.len()).filter(|&i| frames[i].0 == last_seg).collect();
        // Committed: the first `k` frames of the last segment.
        let k = pick.index(in_last.len() + 1);
        let committed = if k == 0 { header::LEN } else { frames[in_last[k - 1]].1 + frames[in_last[k - 1]].2 };
        let end = frames[recs.len() - 1].1 + frames[recs.len() - 1].2;
        let original = util::read_bytes(dir.path(), last_seg, 0, SMALL_SEGMENT as usize);
        match beyond {
            0 => {} // appended, not committed
            1 => {
                // The next frame is being written: only its first bytes are there.
                let cut = committed + ((end - committed) as f64 * cut_frac) as usize;
                write_bytes(dir.path(), last_seg, cut as u64, &vec![0u8; end - cut]);
            }
            _ => {
                let mut x = garbage_seed | 1;
                let garbage: Vec<u8> = (committed..(end + 64).min(SMALL_SEGMENT as usize)).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
                write_bytes(dir.path(), last_seg, committed as u64, &garbage);
            }
        }
        set_committed(dir.path(), last_seg, committed as u64);
        let visible = in_last.first().copied().unwrap_or(recs.len()) + k;

        let mut reader = JournalReader::open(dir.path()).unwrap();
        let mut read = Vec::new();
        for _ in 0..2 {
            while let Some(r) = reader.next().unwrap() {
                read.push((r.sequence, r.entry.kind, r.entry.payload.to_vec()));
            }
        }
        let expect = |range: std::ops::Range<usize>| -> Vec<_> {
            recs[range].iter().map(|r| (r.sequence, r.kind, r.payload.clone())).collect()
        };
        prop_assert_eq!(&read, &expect(0..visible));

        // The writer finishes its frames and commits them.
        write_bytes(dir.path(), last_seg, header::LEN as u64, &original[header::LEN..]);
        set_committed(dir.path(), last_seg, end as u64);
        let mut rest = Vec::new();
        while let Some(r) = reader.next().unwrap() {
            rest.push((r.sequence, r.entry.kind, r.entry.payload.to_vec()));
        }
        prop_assert_eq!(&rest, &expect(visible..recs.len()));
    }
}

#[test]
fn a_writer_refuses_to_truncate_a_damaged_committed_record_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let recs = records(&[(1, vec![1; 50]), (2, vec![2; 50]), (3, vec![3; 50])], 1);
    let every = qt_recorder::JournalConfig { persist: PersistMode::Every, ..config(SMALL_SEGMENT) };
    let mut w = JournalWriter::open(dir.path(), every).unwrap();
    for r in &recs {
        w.append(r.entry()).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let frames = layout(SMALL_SEGMENT, &[50, 50, 50]);
    write_bytes(dir.path(), 0, frames[1].1 as u64 + 45, &[0xEE]);
    let err = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap_err();
    assert!(
        matches!(err, JournalError::Corrupt { segment: 0, sequence: 2, reason: Corruption::CrcMismatch { .. }, offset }
            if offset == frames[1].1 as u64),
        "{err}"
    );
    let cfg = qt_recorder::JournalConfig { recovery: RecoveryMode::DropDamagedTail, ..config(SMALL_SEGMENT) };
    let w = JournalWriter::open(dir.path(), cfg).unwrap();
    let torn = w.open_report().torn_tail.expect("reported");
    assert!(torn.committed_lost && torn.sequence == 2 && torn.offset == frames[1].1 as u64);
    assert!(torn.durable_lost, "the frame had been msync'd: the damage happened on disk");
    assert_eq!(w.next_sequence(), 2);
}

#[test]
fn a_second_writer_is_refused_with_the_directory_named_and_readers_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    w.append(make(1, 0, b"cfg".to_vec()).entry()).unwrap();
    w.commit().unwrap();
    let err = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap_err();
    assert!(matches!(&err, JournalError::Locked { dir: d } if d == dir.path()), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");
    assert_eq!(read_all(dir.path()).0.len(), 1, "a reader works while the writer holds the lock");
    drop(w);
    JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).expect("lock released with the writer");
}

#[test]
fn another_format_version_is_refused_by_reader_and_writer_with_a_clear_message() {
    for (version, hint) in [(0u16, "older"), (2u16, "newer")] {
        let dir = tempfile::tempdir().unwrap();
        drop(JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap());
        write_bytes(dir.path(), 0, 8, &version.to_le_bytes());
        let err = JournalReader::open(dir.path()).unwrap_err();
        assert!(matches!(err, JournalError::UnsupportedVersion { found, supported: 1, .. } if found == version));
        let msg = err.to_string();
        assert!(msg.contains(&format!("version {version}")) && msg.contains(hint), "{msg}");
        let err = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap_err();
        assert!(matches!(err, JournalError::UnsupportedVersion { .. }), "{err}");
    }
}

#[test]
fn a_continued_journal_keeps_its_id_and_a_new_one_gets_another() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let id = w.journal_id();
    w.append(make(1, 0, b"cfg".to_vec()).entry()).unwrap();
    w.commit().unwrap();
    drop(w);
    let w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    assert!(w.open_report().continued);
    assert_eq!(w.journal_id(), id, "the id a restart derives its client order ids from");
    let other = tempfile::tempdir().unwrap();
    assert_ne!(JournalWriter::open(other.path(), config(SMALL_SEGMENT)).unwrap().journal_id(), id);
}

#[test]
fn records_become_visible_at_commit_not_at_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let mut reader = JournalReader::open(dir.path()).unwrap();
    w.append(make(1, 0, vec![1; 10]).entry()).unwrap();
    w.append(make(2, 1, vec![2; 10]).entry()).unwrap();
    assert_eq!(reader.poll(|_| {}).unwrap(), 0);
    w.commit().unwrap();
    let mut seen = Vec::new();
    assert_eq!(reader.poll(|r| seen.push(r.sequence)).unwrap(), 2);
    assert_eq!(seen, [1, 2]);
    assert_eq!(reader.poll(|_| {}).unwrap(), 0);
}

#[test]
fn a_tailing_reader_in_another_thread_sees_every_record_as_committed() {
    const N: u64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let path = dir.path().to_path_buf();
    let tail = std::thread::spawn(move || {
        let mut reader = JournalReader::open(&path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = 0u64;
        while seen < N && Instant::now() < deadline {
            reader
                .poll(|r| {
                    assert_eq!(r.sequence, seen + 1);
                    assert_eq!(r.entry.payload, (r.sequence as u32).to_le_bytes());
                    seen += 1;
                })
                .unwrap();
            std::thread::yield_now();
        }
        seen
    });
    for s in 1..=N {
        let payload = (s as u32).to_le_bytes();
        let e = qt_recorder::Entry {
            kind: RecordType::MarketEvent,
            payload_version: 1,
            domain_ts_ns: 0,
            mono_ts_ns: 0,
            payload: &payload,
        };
        w.append(e).unwrap();
        if s % 7 == 0 || s == N {
            w.commit().unwrap();
        }
    }
    assert!(w.segment() > 3, "the test must cross segment rolls");
    assert_eq!(tail.join().unwrap(), N);
}

#[test]
fn a_crash_between_sealing_a_segment_and_creating_the_next_is_continued() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let mut seq = 0;
    while w.segment() == 0 {
        seq += 1;
        w.append(make(seq, 2, vec![9; 100]).entry()).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    // Segment 1 holds the last record; drop it and undo that record: what is left is a sealed
    // segment 0 and no segment 1, as if the process died right after writing the seal.
    std::fs::remove_file(util::segment_file(dir.path(), 1)).unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    assert_eq!((w.segment(), w.next_sequence()), (1, seq));
    w.append(make(seq, 2, vec![9; 100]).entry()).unwrap();
    w.commit().unwrap();
    let (read, err) = read_all(dir.path());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(read.len() as u64, seq);
}

#[test]
fn flush_policies_sync_and_a_poisoned_writer_refuses_everything() {
    for persist in [PersistMode::Every, PersistMode::Interval(Duration::ZERO), PersistMode::None] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = qt_recorder::JournalConfig { persist, ..config(SMALL_SEGMENT) };
        let mut w = JournalWriter::open(dir.path(), cfg).unwrap();
        for s in 1..=200 {
            w.append(make(s, 4, vec![1; 64]).entry()).unwrap();
            w.commit().unwrap();
        }
        w.flush().unwrap();
        // After a flush the durable position equals the committed one; without any flush
        // (PersistMode::None, before this explicit one) it stayed 0.
        let word = |at: u64| u64::from_le_bytes(util::read_bytes(dir.path(), w.segment(), at, 8).try_into().unwrap());
        assert_eq!(word(header::DURABLE as u64), word(header::COMMITTED as u64), "{persist:?}");
        assert!(word(header::DURABLE as u64) > header::LEN as u64);
        w.poison_for_test();
        assert!(matches!(w.append(make(201, 4, vec![]).entry()), Err(JournalError::Poisoned { .. })));
        assert!(matches!(w.commit(), Err(JournalError::Poisoned { .. })));
        assert!(matches!(w.flush(), Err(JournalError::Poisoned { .. })));
        drop(w);
        assert_eq!(read_all(dir.path()).0.len(), 200);
    }
}

#[test]
fn a_record_larger_than_a_segment_is_refused_not_split() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let max = w.max_payload();
    let err = w.append(make(1, 0, vec![0; max + 1]).entry()).unwrap_err();
    assert!(matches!(err, JournalError::RecordTooLarge { .. }), "{err}");
    w.append(make(1, 0, vec![0; max]).entry()).unwrap();
    w.append(make(2, 0, vec![0; max]).entry()).unwrap();
    w.commit().unwrap();
    assert_eq!(read_all(dir.path()).0.len(), 2);
}

#[test]
fn a_file_that_is_not_a_segment_is_named_not_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(util::segment_file(dir.path(), 0), vec![b'x'; SMALL_SEGMENT as usize]).unwrap();
    let err = JournalReader::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, JournalError::NotAJournal { path } if path.ends_with(util::segment_file(dir.path(), 0))),
        "{err}"
    );
    let err = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap_err();
    assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");
    std::fs::write(util::segment_file(dir.path(), 0), b"QTJ").unwrap();
    let err = JournalReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { segment: 0, reason: Corruption::BadHeader(_), .. }), "{err}");
}

#[test]
fn a_missing_middle_segment_is_reported_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let seq = fill_to_segment(&mut w, 2, 200);
    w.commit().unwrap();
    drop(w);
    std::fs::remove_file(util::segment_file(dir.path(), 1)).unwrap();
    let (read, err) = read_all(dir.path());
    let in_first = layout(SMALL_SEGMENT, &vec![200; seq as usize]).iter().filter(|f| f.0 == 0).count();
    assert_eq!(read.len(), in_first);
    assert!(
        matches!(err, Some(JournalError::Corrupt { segment: 1, sequence, reason: Corruption::SegmentMismatch(_), .. })
            if sequence == in_first as u64 + 1),
        "{err:?}"
    );
}

#[test]
fn the_durable_position_moves_exactly_when_the_policy_flushes() {
    let durable = |dir: &std::path::Path| {
        u64::from_le_bytes(util::read_bytes(dir, 0, header::DURABLE as u64, 8).try_into().unwrap())
    };
    let run = |persist: PersistMode| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = qt_recorder::JournalConfig { persist, ..config(SMALL_SEGMENT) };
        let mut w = JournalWriter::open(dir.path(), cfg).unwrap();
        w.append(make(1, 0, vec![1; 30]).entry()).unwrap();
        w.commit().unwrap();
        let after_commit = durable(dir.path());
        w.flush_if_due().unwrap();
        (after_commit, durable(dir.path()))
    };
    let end = (header::LEN + qt_recorder::format::frame_span(30)) as u64;
    let (after_commit, after_due) = run(PersistMode::None);
    assert_eq!((after_commit, after_due), (0, 0));
    let (after_commit, after_due) = run(PersistMode::Interval(Duration::from_secs(3600)));
    assert_eq!((after_commit, after_due), (0, 0), "an hour has not passed");
    let (after_commit, _) = run(PersistMode::Interval(Duration::ZERO));
    assert_eq!(after_commit, end);
    let (after_commit, _) = run(PersistMode::Every);
    assert_eq!(after_commit, end);
}

#[test]
fn recovery_scans_only_the_last_segment_and_still_cuts_its_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let mut seq = fill_to_segment(&mut w, 2, 100);
    seq += 1;
    w.append(make(seq, 1, vec![6; 100]).entry()).unwrap();
    w.commit().unwrap();
    // Uncommitted and torn: a last frame whose payload was not all written when the process died.
    seq += 1;
    w.append(make(seq, 1, vec![7; 100]).entry()).unwrap();
    drop(w);
    let frames = layout(SMALL_SEGMENT, &vec![100; seq as usize]);
    let torn = frames.last().unwrap();
    assert_eq!(torn.0, 2);
    write_bytes(dir.path(), 2, torn.1 as u64 + 60, &[0; 80]);
    // Sealed segment 0 is damaged too. Recovery must not read it: the sealed segments are the
    // readers' business (reading stops there with the place named), and reading them all would
    // make a restart as slow as the journal is long.
    write_bytes(dir.path(), 0, frames[3].1 as u64 + 50, &[0xAB]);

    let w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let t = w.open_report().torn_tail.expect("the torn tail of the last segment is found");
    assert_eq!((t.segment, t.offset, t.sequence), (2, torn.1 as u64, seq));
    assert!(!t.committed_lost && matches!(t.reason, Corruption::CrcMismatch { .. }), "{t:?}");
    assert_eq!((w.segment(), w.next_sequence()), (2, seq));
    drop(w);
    let (read, err) = read_all(dir.path());
    assert_eq!(read.len(), 3);
    assert!(matches!(err, Some(JournalError::Corrupt { segment: 0, sequence: 4, .. })), "{err:?}");
}

#[test]
fn a_reader_opened_at_a_later_segment_starts_at_its_first_record_and_follows_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JournalWriter::open(dir.path(), config(SMALL_SEGMENT)).unwrap();
    let seq = fill_to_segment(&mut w, 3, 200);
    w.commit().unwrap();
    assert_eq!(JournalReader::segments(dir.path()).unwrap(), [0, 1, 2, 3]);
    let frames = layout(SMALL_SEGMENT, &vec![200; seq as usize]);
    let first_of_1 = frames.iter().position(|f| f.0 == 1).unwrap() as u64 + 1;
    let mut reader = JournalReader::open_at_segment(dir.path(), 1).unwrap();
    assert_eq!(reader.next_sequence(), first_of_1);
    let mut seen = Vec::new();
    reader.poll(|r| seen.push(r.sequence)).unwrap();
    assert_eq!(seen, (first_of_1..=seq).collect::<Vec<_>>());
    assert_eq!(reader.segment(), 3);
    assert!(matches!(JournalReader::open_at_segment(dir.path(), 9), Err(JournalError::Io { .. })));
}

#[test]
fn an_io_error_names_the_os_error_once_in_a_printed_chain() {
    let dir = tempfile::tempdir().unwrap();
    let err = JournalReader::open_at_segment(dir.path(), 9).unwrap_err();
    // What `anyhow` prints with `{:#}` or `{:?}`: the error, then each `source()` in turn.
    let mut chain = err.to_string();
    let mut next = std::error::Error::source(&err);
    while let Some(e) = next {
        chain.push_str(&format!(": {e}"));
        next = e.source();
    }
    let os = std::io::Error::from_raw_os_error(2).to_string(); // ENOENT, as the OS words it
    assert!(chain.contains("journal I/O"), "{chain}");
    assert_eq!(chain.matches(os.as_str()).count(), 1, "the OS error once: {chain}");
}
