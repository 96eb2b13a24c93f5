//! Allocation counts of the journal's steady state, with a counting global allocator:
//! `append` + `commit` (with `PersistMode::None` and `Interval`) and a tailing reader's `next`
//! allocate nothing once the writer is open and the reader has seen its largest payload; the
//! payload encoders (and decoders) allocate nothing at all.
//! (No allocator is shared across the workspace's crates yet; this mirrors feed/tests/no_alloc.rs.)
//! Counting is per thread, so the test harness's threads do not disturb it.

mod util;

use qt_test_support::{CountingAllocator, allocations};
use std::time::Duration;

use qt_core::risk_api::DecisionRecord;
use qt_core::{ExecutionReport, MarketEvent, OrderCommand};
use qt_recorder::payload::{command, market, report, risk};
use qt_recorder::{Entry, JournalReader, JournalWriter, Payload, PersistMode, RecordType};
use util::payloads::{sample_command, sample_decision, sample_event, sample_report};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn append_commit_and_read_allocate_nothing_in_steady_state() {
    for persist in [PersistMode::None, PersistMode::Interval(Duration::from_secs(3600))] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = qt_recorder::JournalConfig { persist, ..util::config(1 << 20) };
        let mut w = JournalWriter::open(dir.path(), cfg).unwrap();
        let mut reader = JournalReader::open(dir.path()).unwrap();
        let payload = [0xA5u8; 56];
        let entry = |p: &'static [u8]| Entry {
            kind: RecordType::MarketEvent,
            payload_version: 1,
            domain_ts_ns: 1,
            mono_ts_ns: 2,
            payload: p,
        };
        // Warm-up: the reader's payload buffer grows to the largest payload once.
        w.append(entry(&[0; 56])).unwrap();
        w.commit().unwrap();
        assert_eq!(reader.poll(|_| {}).unwrap(), 1);

        let before = allocations();
        let mut read = 0;
        for batch in 0..100 {
            for _ in 0..50 {
                w.append(Entry { payload: &payload, ..entry(&[]) }).unwrap();
            }
            w.commit().unwrap();
            read += reader.poll(|r| assert_eq!(r.entry.payload.len(), 56)).unwrap();
            assert_eq!(w.segment(), 0, "batch {batch}: the test must stay inside one segment");
        }
        let during = allocations() - before;
        assert_eq!(read, 5000);
        assert_eq!(during, 0, "{persist:?}: {during} allocations in 5000 appends/commits/reads");
    }
}

#[test]
fn payload_encoding_and_decoding_allocate_nothing() {
    let (ev, cmd, rep, dec) = (sample_event(), sample_command(), sample_report(), sample_decision());
    let (mut b_ev, mut b_cmd, mut b_rep, mut b_dec) =
        ([0u8; market::LEN], [0u8; command::LEN], [0u8; report::LEN], [0u8; risk::LEN]);
    let before = allocations();
    for _ in 0..1000 {
        market::encode_into(&ev, &mut b_ev);
        command::encode_into(&cmd, &mut b_cmd);
        report::encode_into(&rep, &mut b_rep);
        risk::encode_into(&dec, &mut b_dec);
        assert_eq!(MarketEvent::decode(&b_ev, market::VERSION), Ok(ev));
        assert_eq!(OrderCommand::decode(&b_cmd, command::VERSION), Ok(cmd));
        assert_eq!(ExecutionReport::decode(&b_rep, report::VERSION), Ok(rep));
        assert_eq!(DecisionRecord::decode(&b_dec, risk::VERSION), Ok(dec));
        // Refusals allocate nothing either.
        assert!(MarketEvent::decode(&b_ev[..10], market::VERSION).is_err());
    }
    let during = allocations() - before;
    assert_eq!(during, 0, "{during} allocations in 4000 payload encodes/decodes");
}
