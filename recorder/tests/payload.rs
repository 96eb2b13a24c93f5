//! Payload encodings of the journaled core records: round trips for arbitrary values, refusal
//! of every truncation and of every undefined tag/enum byte (by field name), the documented
//! byte layout pinned by hand-written offsets, and a round trip through the real writer/reader.

mod util;

use proptest::prelude::*;
use qt_core::risk_api::DecisionRecord;
use qt_core::{ExecutionReport, MarketEvent, OrderCommand};
use qt_recorder::payload::{self, MAX_LEN, command, market, report, risk};
use qt_recorder::{Entry, JournalReader, JournalWriter, Payload, PayloadError, RecordType, decode_record};
use util::payloads::*;

/// Encode with the trait into a buffer bigger than needed; the encoded bytes.
fn encoded<T: Payload>(v: &T) -> Vec<u8> {
    let mut buf = [0xEEu8; MAX_LEN + 8];
    let n = v.encode(&mut buf).unwrap();
    assert_eq!(n, T::LEN);
    buf[..n].to_vec()
}

/// Round trip, plus every truncation, an extension and an unknown version refused by length or
/// version error (never a panic, never a value).
fn check_round_trip<T: Payload + PartialEq + std::fmt::Debug>(v: &T) -> Result<(), TestCaseError> {
    let bytes = encoded(v);
    prop_assert_eq!(&T::decode(&bytes, T::VERSION).unwrap(), v);
    for n in 0..bytes.len() {
        let err = T::decode(&bytes[..n], T::VERSION);
        prop_assert!(
            matches!(err, Err(PayloadError::Length { expected, got, .. }) if expected == T::LEN && got == n),
            "truncation to {} gave {:?}",
            n,
            err
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let err = T::decode(&longer, T::VERSION);
    prop_assert!(matches!(err, Err(PayloadError::Length { .. })), "extension gave {:?}", err);
    for version in [0, 2, u16::MAX] {
        let err = T::decode(&bytes, version);
        prop_assert!(
            matches!(err, Err(PayloadError::UnknownVersion { version: v, .. }) if v == version),
            "version {} gave {:?}",
            version,
            err
        );
    }
    Ok(())
}

/// Arbitrary bytes of the right length either decode to a value that re-encodes to a payload
/// decoding to the same value, or are refused as a bad value; never a panic.
fn check_any_bytes<T: Payload + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    match T::decode(&bytes[..T::LEN], T::VERSION) {
        Ok(v) => prop_assert_eq!(T::decode(&encoded(&v), T::VERSION).unwrap(), v),
        Err(e) => prop_assert!(matches!(e, PayloadError::BadValue { .. }), "{:?}", e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn market_event_round_trips(v in market_event()) { check_round_trip(&v)?; }

    #[test]
    fn order_command_round_trips(v in order_command()) { check_round_trip(&v)?; }

    #[test]
    fn execution_report_round_trips(v in execution_report()) { check_round_trip(&v)?; }

    #[test]
    fn decision_record_round_trips(v in decision_record()) { check_round_trip(&v)?; }

    #[test]
    fn arbitrary_bytes_decode_or_are_refused_by_field(bytes in prop::collection::vec(any::<u8>(), MAX_LEN)) {
        check_any_bytes::<MarketEvent>(&bytes)?;
        check_any_bytes::<OrderCommand>(&bytes)?;
        check_any_bytes::<ExecutionReport>(&bytes)?;
        check_any_bytes::<DecisionRecord>(&bytes)?;
    }
}

/// [`util::sweep`] through the [`Payload`] trait.
fn sweep<T: Payload + std::fmt::Debug>(valid: &[u8], at: usize, field: &str, ok: &[u8]) {
    util::sweep(valid, at, field, ok, |b| T::decode(b, T::VERSION), encoded::<T>);
}

#[test]
fn every_undefined_enum_byte_of_a_market_event_is_refused_by_name() {
    let valid = encoded(&sample_event());
    sweep::<MarketEvent>(&valid, market::at::KIND, "kind", &[1, 2, 3, 4]);
    sweep::<MarketEvent>(&valid, market::at::SIDE, "side", &[0, 1]);
}

#[test]
fn every_undefined_tag_and_enum_byte_of_an_order_command_is_refused_by_name() {
    let new = encoded(&sample_command());
    sweep::<OrderCommand>(&new, command::at::TAG, "tag", &[1, 2, 3]);
    sweep::<OrderCommand>(&new, command::at::SIDE, "side", &[0, 1]);
    sweep::<OrderCommand>(&new, command::at::ORDER_TYPE, "order_type", &[0, 1]);
    sweep::<OrderCommand>(&new, command::at::TIF, "tif", &[0, 1, 2, 3]);
    sweep::<OrderCommand>(&new, command::at::REDUCE_ONLY, "reduce_only", &[0, 1]);
    sweep::<OrderCommand>(&new, command::at::HAS_OPTION, "stop_price_set", &[0, 1]);
    let all = encoded(&OrderCommand::CancelAll { account: qt_core::AccountId(1), instrument: None });
    sweep::<OrderCommand>(&all, command::at::HAS_OPTION, "instrument_set", &[0, 1]);
}

#[test]
fn every_undefined_enum_byte_of_an_execution_report_is_refused_by_name() {
    let valid = encoded(&sample_report());
    sweep::<ExecutionReport>(&valid, report::at::KIND, "kind", &[0, 1, 2, 3, 4]);
    sweep::<ExecutionReport>(
        &valid,
        report::at::REASON,
        "reason",
        &(0..report::REASONS.len() as u8).collect::<Vec<u8>>(),
    );
    sweep::<ExecutionReport>(&valid, report::at::SIDE, "side", &[0, 1]);
    sweep::<ExecutionReport>(&valid, report::at::LIQUIDITY, "liquidity", &[0, 1]);
}

#[test]
fn every_undefined_enum_byte_of_a_decision_is_refused_by_name() {
    let scaled = encoded(&sample_decision());
    sweep::<DecisionRecord>(&scaled, risk::at::SIDE, "side", &[0, 1]);
    sweep::<DecisionRecord>(&scaled, risk::at::REASON, "reason", &(0..19).collect::<Vec<u8>>());
    sweep::<DecisionRecord>(&scaled, risk::at::REDUCE_ONLY, "reduce_only", &[0, 1]);
    // An allow carries exactly the "no reason" byte; a block or scale-down never does.
    let mut allow = scaled.clone();
    allow[risk::at::DECISION] = DecisionRecord::ALLOW;
    sweep::<DecisionRecord>(&allow, risk::at::REASON, "reason", &[risk::NO_REASON]);
    let mut decided = scaled;
    for decision in [DecisionRecord::SCALE_DOWN, DecisionRecord::BLOCK] {
        decided[risk::at::DECISION] = decision;
        let err = DecisionRecord::decode(
            &{
                let mut b = decided.clone();
                b[risk::at::REASON] = 255;
                b
            },
            1,
        );
        assert!(matches!(err, Err(PayloadError::BadValue { field: "reason", value: 255, .. })), "{err:?}");
    }
    decided[risk::at::DECISION] = 3;
    assert!(matches!(
        DecisionRecord::decode(&decided, 1),
        Err(PayloadError::BadValue { field: "decision", value: 3, .. })
    ));
}

/// Writes `bytes` at `at` into a zeroed image of `len` bytes.
fn image(len: usize, fields: &[(usize, &[u8])]) -> Vec<u8> {
    let mut b = vec![0u8; len];
    for (at, bytes) in fields {
        b[*at..*at + bytes.len()].copy_from_slice(bytes);
    }
    b
}

/// The documented layouts, with offsets written out by hand from the tables in the module docs
/// and docs/JOURNAL.md (not from the `at` constants), pinned for one sample of each type.
#[test]
fn the_documented_layouts_are_what_is_written() {
    let ev = encoded(&sample_event());
    let expected = image(
        64,
        &[
            (0, &1i64.to_le_bytes()),
            (8, &(-2i64).to_le_bytes()),
            (16, &3u64.to_le_bytes()),
            (24, &4u64.to_le_bytes()),
            (32, &101i64.to_le_bytes()),
            (40, &(-2i64).to_le_bytes()),
            (56, &7u32.to_le_bytes()),
            (60, &[3, 1]),
            (62, &3u16.to_le_bytes()),
        ],
    );
    assert_eq!(ev, expected, "MarketEvent");

    let cmd = encoded(&sample_command());
    let expected = image(
        56,
        &[
            (0, &[1, 1, 0, 3, 1, 1]),
            (6, &3u16.to_le_bytes()),
            (8, &77u64.to_le_bytes()),
            (16, &9u16.to_le_bytes()),
            (20, &0x0102_0304u32.to_le_bytes()),
            (24, &(-5i64).to_le_bytes()),
            (32, &700i64.to_le_bytes()),
            (40, &42i64.to_le_bytes()),
            (48, &123i64.to_le_bytes()),
        ],
    );
    assert_eq!(cmd, expected, "OrderCommand::New");
    let cancel = OrderCommand::Cancel {
        order_id: qt_core::OrderId(5),
        account: qt_core::AccountId(6),
        instrument: qt_core::InstrumentId(8),
    };
    let expected =
        image(56, &[(0, &[2]), (6, &6u16.to_le_bytes()), (8, &5u64.to_le_bytes()), (20, &8u32.to_le_bytes())]);
    assert_eq!(encoded(&cancel), expected, "OrderCommand::Cancel");
    let all = OrderCommand::CancelAll { account: qt_core::AccountId(6), instrument: Some(qt_core::InstrumentId(8)) };
    let expected = image(56, &[(0, &[3, 0, 0, 0, 0, 1]), (6, &6u16.to_le_bytes()), (20, &8u32.to_le_bytes())]);
    assert_eq!(encoded(&all), expected, "OrderCommand::CancelAll");

    let rep = encoded(&sample_report());
    let expected = image(
        88,
        &[
            (0, &77u64.to_le_bytes()),
            (48, &(-(1i128 << 100)).to_le_bytes()),
            (64, &99i64.to_le_bytes()),
            (72, &0x0102_0304u32.to_le_bytes()),
            (76, &2u16.to_le_bytes()),
            (78, &3u16.to_le_bytes()),
            (80, &[1, 12, 1, 0]),
        ],
    );
    assert_eq!(rep, expected, "ExecutionReport");

    let dec = encoded(&sample_decision());
    let expected = image(
        104,
        &[
            (0, &(1i128 << 70).to_le_bytes()),
            (32, &5i64.to_le_bytes()),
            (40, &6i64.to_le_bytes()),
            (48, &(-5i64).to_le_bytes()),
            (56, &700i64.to_le_bytes()),
            (64, &100i64.to_le_bytes()),
            (88, &3u16.to_le_bytes()),
            (90, &9u16.to_le_bytes()),
            (92, &0x0102_0304u32.to_le_bytes()),
            (96, &[1, 1, 16, 2, 1]),
        ],
    );
    assert_eq!(dec, expected, "DecisionRecord");
}

/// The risk decision's reason byte is the core's `BlockReason` order: pinned here by name, so a
/// reorder of the core enum (which would change the meaning of journaled decisions) fails.
#[test]
fn block_reason_codes_are_pinned_by_name() {
    let names: Vec<&str> = qt_core::risk_api::BlockReason::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "emergency_stop",
            "global_risk_critical",
            "daily_loss_limit",
            "weekly_loss_limit",
            "strategy_not_allowed",
            "unknown_instrument",
            "book_invalid",
            "book_stale",
            "price_band",
            "leverage",
            "single_trade_risk",
            "max_order_notional",
            "max_position",
            "max_open_positions",
            "order_rate",
            "below_minimum",
            "off_grid",
            "no_healthy_venue",
            "reduce_only",
        ]
    );
    for (code, reason) in qt_core::risk_api::BlockReason::ALL.iter().enumerate() {
        assert_eq!(*reason as usize, code, "{reason:?}");
    }
}

#[test]
fn payloads_are_tied_to_their_record_types_and_fit_the_common_buffer() {
    assert_eq!((market::RECORD_TYPE.id(), market::VERSION, market::LEN), (2, 1, 64));
    assert_eq!((risk::RECORD_TYPE.id(), risk::VERSION, risk::LEN), (5, 1, 104));
    assert_eq!((command::RECORD_TYPE.id(), command::VERSION, command::LEN), (6, 1, 56));
    assert_eq!((report::RECORD_TYPE.id(), report::VERSION, report::LEN), (7, 1, 88));
    assert_eq!(MAX_LEN, 288, "the control command payload is the longest");
    let mut small = [0u8; 63];
    assert_eq!(
        sample_event().encode(&mut small),
        Err(PayloadError::BufferTooSmall { record: "MarketEvent", need: 64, got: 63 })
    );
}

/// One of the journaled records.
#[derive(Debug, Clone, PartialEq)]
enum Any {
    Event(MarketEvent),
    Command(OrderCommand),
    Report(ExecutionReport),
    Decision(DecisionRecord),
}

impl Any {
    fn encode(&self, buf: &mut [u8; MAX_LEN]) -> (RecordType, u16, usize) {
        fn go<T: Payload>(v: &T, buf: &mut [u8]) -> (RecordType, u16, usize) {
            (T::RECORD_TYPE, T::VERSION, v.encode(buf).unwrap())
        }
        match self {
            Any::Event(v) => go(v, buf),
            Any::Command(v) => go(v, buf),
            Any::Report(v) => go(v, buf),
            Any::Decision(v) => go(v, buf),
        }
    }

    fn decode(record: &qt_recorder::Record<'_>) -> Result<Self, PayloadError> {
        Ok(match record.entry.kind {
            RecordType::MarketEvent => Any::Event(decode_record(record)?),
            RecordType::OrderCommand => Any::Command(decode_record(record)?),
            RecordType::ExecutionReport => Any::Report(decode_record(record)?),
            RecordType::RiskDecision => Any::Decision(decode_record(record)?),
            other => panic!("unexpected record type {other:?}"),
        })
    }
}

fn any_record() -> impl Strategy<Value = Any> {
    prop_oneof![
        market_event().prop_map(Any::Event),
        order_command().prop_map(Any::Command),
        execution_report().prop_map(Any::Report),
        decision_record().prop_map(Any::Decision),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Encoded payloads appended with their record types and versions through the real writer
    /// (across segment rolls) read back, decode to the values written, and refuse to decode as
    /// another type.
    #[test]
    fn records_round_trip_through_the_journal(records in prop::collection::vec(any_record(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::open(dir.path(), util::config(util::SMALL_SEGMENT)).unwrap();
        let mut buf = [0u8; MAX_LEN];
        for (i, r) in records.iter().enumerate() {
            let (kind, payload_version, n) = r.encode(&mut buf);
            let entry = Entry { kind, payload_version, domain_ts_ns: i as i64, mono_ts_ns: 0, payload: &buf[..n] };
            w.append(entry).unwrap();
        }
        w.commit().unwrap();
        drop(w);
        let mut reader = JournalReader::open(dir.path()).unwrap();
        let mut read = Vec::new();
        while let Some(record) = reader.next().unwrap() {
            read.push(Any::decode(&record).unwrap());
            let wrong = if record.entry.kind == RecordType::MarketEvent {
                decode_record::<OrderCommand>(&record).map(|_| ())
            } else {
                decode_record::<MarketEvent>(&record).map(|_| ())
            };
            prop_assert!(matches!(wrong, Err(PayloadError::WrongType { found, .. }) if found == record.entry.kind), "{:?}", wrong);
        }
        prop_assert_eq!(&read, &records);
        if records.len() > 60 {
            prop_assert!(reader.segment() > 0, "the stream was meant to roll segments");
        }
    }
}

#[test]
fn the_module_path_is_public() {
    // The per-type functions are reachable without the trait (the journal thread's fixed buffers).
    let mut buf = [0u8; market::LEN];
    assert_eq!(market::encode_into(&sample_event(), &mut buf), market::LEN);
    assert_eq!(payload::market::decode(&buf, market::VERSION), Ok(sample_event()));
}
