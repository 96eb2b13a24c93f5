//! The core's journal records ([`qt_core::journal`]) through the path `qt-journal` writes them
//! on: `CoreEncoder::encode` → `JournalWriter` (real mapped segments, rolling) →
//! `JournalReader` → `core_record::decode` is the identity for every `JournalEvent` variant and
//! attachment, and each is written as the record type `core_record`'s table names (checked
//! against a model of that table here, including the Ess / GlobalRiskLevel choice for a risk
//! state change). The text records (Config, Reconciliation) round-trip and a Config whose text
//! changed is refused by its hash. The new payloads (control, state, text) refuse every
//! undefined tag, flag and enum byte by field name, every truncation and unknown version; and no
//! byte string makes any decoder panic.

mod util;

use proptest::prelude::*;
use qt_core::engine::ControlCommand;
use qt_core::journal::{JournalAttachment, JournalEvent, JournalRecord};
use qt_core::risk_api::RiskState;
use qt_core::{AccountId, BookError, InlineText, InstrumentId, Nanos, OrderCommand, RiskCommand, RiskReply, VenueId};
use qt_recorder::payload::core_record::{self, CoreEncoder, CoreEntry};
use qt_recorder::payload::{MAX_LEN, control, state, text};
use qt_recorder::{Entry, JournalReader, JournalWriter, PayloadError, Record, RecordType};
use util::payloads::*;

/// The record type `core_record`'s table assigns to `e`, given the risk state last written
/// (updated here as the encoder must update its own).
fn expected_type(e: &CoreEntry, last_risk: &mut RiskState) -> RecordType {
    match (&e.record.event, &e.attachment) {
        (JournalEvent::Market(_), _) => RecordType::MarketEvent,
        (JournalEvent::BookRefused { .. }, _) => RecordType::BookInvalidation,
        (JournalEvent::Intent(_), _) => RecordType::Intent,
        (JournalEvent::Decision(_), _) => RecordType::RiskDecision,
        (JournalEvent::Command(_), _) => RecordType::OrderCommand,
        (JournalEvent::Report(_), _) => RecordType::ExecutionReport,
        (JournalEvent::LocalRefusal(_), _) => RecordType::LocalRefusal,
        (JournalEvent::Timer { .. }, _) => RecordType::Timer,
        (JournalEvent::Halt, _) => RecordType::Halt,
        (JournalEvent::Failover(_), _) => RecordType::Failover,
        (JournalEvent::RiskState(s), _) => {
            let stop_changed =
                s.ess != last_risk.ess || s.ess_source != last_risk.ess_source || s.ess_since != last_risk.ess_since;
            *last_risk = *s;
            if stop_changed { RecordType::Ess } else { RecordType::GlobalRiskLevel }
        }
        (JournalEvent::Attachment, Some(JournalAttachment::Control(ControlCommand::Funding { .. }))) => {
            RecordType::Funding
        }
        (JournalEvent::Attachment, Some(JournalAttachment::Control(_))) => RecordType::ControlCommand,
        (JournalEvent::Attachment, Some(JournalAttachment::ControlAnswer { .. })) => RecordType::ControlAnswer,
        (JournalEvent::Attachment, None) => unreachable!("the generators pair every marker with its attachment"),
    }
}

/// Writes `entries` through a fresh encoder starting from `initial` into a journal in `dir`
/// (4 KiB segments, so streams roll); the record type of each as written.
fn write(dir: &std::path::Path, initial: RiskState, entries: &[CoreEntry]) -> Vec<RecordType> {
    let mut w = JournalWriter::open(dir, util::config(util::SMALL_SEGMENT)).unwrap();
    let mut encoder = CoreEncoder::new(initial);
    let mut buf = [0u8; MAX_LEN];
    let mut kinds = Vec::new();
    for e in entries {
        let entry = encoder.encode(&e.record, e.attachment.as_ref(), &mut buf).unwrap();
        assert_eq!(
            (entry.domain_ts_ns, entry.mono_ts_ns),
            (e.record.domain_ns.0, e.record.mono_ns.0),
            "the frame carries the core's times"
        );
        kinds.push(entry.kind);
        w.append(entry).unwrap();
    }
    w.commit().unwrap();
    kinds
}

/// Reads every record back and decodes it as a core record: (record type, decoded entry).
fn read_core(dir: &std::path::Path) -> Vec<(RecordType, CoreEntry)> {
    let mut reader = JournalReader::open(dir).unwrap();
    let mut out = Vec::new();
    while let Some(record) = reader.next().unwrap() {
        let decoded = core_record::decode(&record).unwrap_or_else(|e| panic!("{:?}: {e}", record.entry.kind));
        out.push((record.entry.kind, decoded.expect("a core record type")));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_core_record_round_trips_through_the_journal(
        initial in risk_state(),
        entries in prop::collection::vec(core_entry(), 1..100),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let kinds = write(dir.path(), initial, &entries);
        let mut last = initial;
        let expected: Vec<RecordType> = entries.iter().map(|e| expected_type(e, &mut last)).collect();
        prop_assert_eq!(&kinds, &expected);
        let read = read_core(dir.path());
        prop_assert_eq!(read.len(), entries.len());
        for (i, ((kind, got), want)) in read.iter().zip(&entries).enumerate() {
            prop_assert_eq!(*kind, expected[i], "record {}", i);
            prop_assert_eq!(got, want, "record {}", i);
        }
    }

    #[test]
    fn text_records_round_trip_and_only_config_carries_the_hash(t in prop_oneof![any::<String>(), "\\PC{0,3000}"]) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = JournalWriter::open(dir.path(), util::config(16 << 10)).unwrap();
        let config = text::encode(RecordType::Config, &t);
        let recon = text::encode(RecordType::Reconciliation, &t);
        for (kind, payload) in [(RecordType::Config, &config), (RecordType::Reconciliation, &recon)] {
            w.append(Entry { kind, payload_version: text::VERSION, domain_ts_ns: 1, mono_ts_ns: 2, payload }).unwrap();
        }
        w.commit().unwrap();
        let mut reader = JournalReader::open(dir.path()).unwrap();
        for (kind, hash) in [(RecordType::Config, text::sha256(&t)), (RecordType::Reconciliation, [0; 32])] {
            let record = reader.next().unwrap().unwrap();
            prop_assert_eq!(record.entry.kind, kind);
            let decoded = text::decode(kind, record.entry.payload, record.entry.payload_version).unwrap();
            prop_assert_eq!(decoded, text::TextRecord { hash, text: t.clone() });
            // Not a core record: the core decoder passes it over rather than refusing it.
            prop_assert_eq!(core_record::decode(&record), Ok(None));
        }
    }

    /// Any bytes, as any record type and version, under both decoders: a value (which re-encodes
    /// to a payload decoding to the same value, as a record of the same type) or a typed
    /// refusal, never a panic. Half the cases are cut to each type's own length, so the field
    /// checks behind the length check are reached too.
    #[test]
    fn no_byte_string_makes_a_decoder_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        version in prop_oneof![4 => Just(1u16), 1 => any::<u16>()],
        fit in any::<bool>(),
    ) {
        for kind in RecordType::ALL {
            let len = if fit { payload_len(kind).unwrap_or(bytes.len()).min(bytes.len()) } else { bytes.len() };
            let payload = &bytes[..len];
            match core_record::decode(&record(kind, version, payload)) {
                Ok(Some(e)) => {
                    let (again_kind, again) = reencode(&e);
                    prop_assert!(same_class(again_kind, kind), "{:?} re-encoded as {:?}", kind, again_kind);
                    prop_assert_eq!(again, e);
                }
                Ok(None) => prop_assert!(matches!(kind, RecordType::Config | RecordType::Reconciliation | RecordType::RawFrame)),
                Err(e) => prop_assert!(!matches!(e, PayloadError::WrongType { .. } | PayloadError::BufferTooSmall { .. }), "{:?}", e),
            }
            if let Ok(t) = text::decode(kind, payload, version) {
                prop_assert_eq!(text::decode(kind, &text::encode(kind, &t.text), 1).unwrap().text, t.text);
            }
        }
    }
}

/// Every variant once, at its documented record type, in order, with the risk state's type
/// following what changed: a level change alone is GlobalRiskLevel; a trip, a latch, a new
/// source or a new trip time is Ess.
#[test]
fn every_event_is_written_as_its_documented_record_type() {
    let at = |event| JournalRecord { domain_ns: Nanos(10), mono_ns: Nanos(-20), event };
    let plain = |event| CoreEntry { record: at(event), attachment: None };
    let marked = |a| CoreEntry { record: at(JournalEvent::Attachment), attachment: Some(a) };
    let armed = RiskState::default();
    let level_1 = RiskState { level: 1, ..armed };
    let tripped = RiskState { ess: RiskState::TRIGGERED, ess_source: 3, ess_since: Nanos(5), ..level_1 };
    let latched = RiskState { ess: RiskState::LATCHED, ..tripped };
    let latched_level_2 = RiskState { level: 2, ..latched };
    let other_source = RiskState { ess_source: 4, ..latched_level_2 };
    let later = RiskState { ess_since: Nanos(6), ..other_source };
    let reply = RiskReply { ok: true, text: InlineText::new("done") };
    let entries = [
        plain(JournalEvent::Market(sample_event())),
        plain(JournalEvent::BookRefused { instrument: InstrumentId(1), reason: BookError::Crossed }),
        plain(JournalEvent::Intent(qt_core::strategy::StrategyAction::Place(sample_request()))),
        plain(JournalEvent::Decision(qt_core::journal::JournaledDecision::of(&sample_decision()))),
        plain(JournalEvent::Command(sample_command())),
        plain(JournalEvent::Report(sample_report())),
        plain(JournalEvent::LocalRefusal(sample_report())),
        plain(JournalEvent::Timer { venue_healthy: 0b101 }),
        plain(JournalEvent::RiskState(level_1)),
        plain(JournalEvent::RiskState(tripped)),
        plain(JournalEvent::RiskState(latched)),
        plain(JournalEvent::RiskState(latched_level_2)),
        plain(JournalEvent::RiskState(other_source)),
        plain(JournalEvent::RiskState(later)),
        plain(JournalEvent::RiskState(later)),
        plain(JournalEvent::Halt),
        plain(JournalEvent::Failover(qt_core::routing::Failover {
            account: AccountId(1),
            primary: qt_core::VenueId(0),
            from: Some(qt_core::VenueId(0)),
            to: None,
        })),
        marked(JournalAttachment::Control(ControlCommand::Shutdown)),
        marked(JournalAttachment::Control(ControlCommand::Funding {
            account: AccountId(1),
            instrument: InstrumentId(2),
            amount: qt_core::Notional::from_units(-3),
        })),
        marked(JournalAttachment::ControlAnswer { id: 9, reply }),
    ];
    use RecordType as T;
    let documented = [
        T::MarketEvent,
        T::BookInvalidation,
        T::Intent,
        T::RiskDecision,
        T::OrderCommand,
        T::ExecutionReport,
        T::LocalRefusal,
        T::Timer,
        T::GlobalRiskLevel,
        T::Ess,
        T::Ess,
        T::GlobalRiskLevel,
        T::Ess,
        T::Ess,
        T::GlobalRiskLevel,
        T::Halt,
        T::Failover,
        T::ControlCommand,
        T::Funding,
        T::ControlAnswer,
    ];
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(write(dir.path(), armed, &entries), documented);
    let read = read_core(dir.path());
    assert_eq!(read.iter().map(|(k, _)| *k).collect::<Vec<_>>(), documented);
    assert_eq!(read.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), entries);
}

#[test]
fn a_marker_without_its_attachment_is_refused() {
    let record = JournalRecord { domain_ns: Nanos(1), mono_ns: Nanos(2), event: JournalEvent::Attachment };
    let mut buf = [0u8; MAX_LEN];
    let err = CoreEncoder::default().encode(&record, None, &mut buf);
    assert_eq!(err, Err(PayloadError::BadValue { record: "Attachment", field: "attachment", value: 0 }));
}

#[test]
fn a_config_whose_text_or_hash_changed_is_refused() {
    let t = "[engine]\ncpu = 1\n";
    let good = text::encode(RecordType::Config, t);
    assert_eq!(text::decode(RecordType::Config, &good, 1).unwrap().text, t);
    let mut altered = good.clone();
    let at = text::HEADER_LEN + t.find('1').unwrap();
    altered[at] = b'2';
    assert_eq!(
        text::decode(RecordType::Config, &altered, 1),
        Err(PayloadError::BadValue { record: "Config", field: "hash", value: 0 })
    );
    let mut hash = good.clone();
    hash[5] ^= 1;
    assert_eq!(
        text::decode(RecordType::Config, &hash, 1),
        Err(PayloadError::BadValue { record: "Config", field: "hash", value: 0 })
    );
    // A reconciliation carries no hash: its text is taken as written.
    let mut recon = text::encode(RecordType::Reconciliation, t);
    recon[at] = b'2';
    assert_eq!(text::decode(RecordType::Reconciliation, &recon, 1).unwrap().text, "[engine]\ncpu = 2\n");
}

#[test]
fn text_payloads_refuse_bad_lengths_versions_and_utf8() {
    let good = text::encode(RecordType::Config, "héllo");
    for n in 0..good.len() {
        assert!(
            matches!(text::decode(RecordType::Config, &good[..n], 1), Err(PayloadError::Length { .. })),
            "truncated to {n}"
        );
    }
    let mut longer = good.clone();
    longer.push(b'!');
    assert!(matches!(text::decode(RecordType::Config, &longer, 1), Err(PayloadError::Length { .. })));
    let mut huge = good.clone();
    huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(text::decode(RecordType::Config, &huge, 1), Err(PayloadError::Length { .. })));
    for version in [0, 2, u16::MAX] {
        assert_eq!(
            text::decode(RecordType::Reconciliation, &good, version),
            Err(PayloadError::UnknownVersion { record: "Reconciliation", version })
        );
    }
    let mut bad_utf8 = text::encode(RecordType::Reconciliation, "héllo");
    bad_utf8[text::HEADER_LEN + 2] = 0xFF;
    assert_eq!(
        text::decode(RecordType::Reconciliation, &bad_utf8, 1),
        Err(PayloadError::BadValue { record: "Reconciliation", field: "text", value: 1 })
    );
}

/// A control command of each tag (texts "abc"), encoded.
fn command_bytes(cmd: &ControlCommand) -> Vec<u8> {
    let mut out = [0u8; control::COMMAND_LEN];
    control::encode_command(cmd, &mut out);
    out.to_vec()
}

fn answer_bytes(v: &(u64, RiskReply)) -> Vec<u8> {
    let mut out = [0u8; control::ANSWER_LEN];
    control::encode_answer(v.0, &v.1, &mut out);
    out.to_vec()
}

const TEXT_LEN_AT: usize = 6;
const TEXT_AT: usize = 88;
const ANSWER_TEXT_LEN_AT: usize = 9;
const ANSWER_TEXT_AT: usize = 16;

#[test]
fn every_undefined_tag_flag_and_text_length_of_a_control_payload_is_refused_by_name() {
    let decode = |b: &[u8]| control::decode_command(b, control::VERSION);
    let shutdown = command_bytes(&ControlCommand::Shutdown);
    util::sweep(&shutdown, 0, "tag", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], decode, command_bytes);
    // A strategy swap: its policy byte (the venue-health flag's place) and which parameters are set.
    let swap = command_bytes(&ControlCommand::StrategySwap {
        id: 4,
        swap: qt_core::strategy::swap::StrategySwap {
            strategy: qt_core::StrategyId(1),
            version: 2,
            policy: qt_core::strategy::swap::SwapPolicy::HandOver,
            params: Default::default(),
        },
    });
    util::sweep(&swap, 1, "swap policy", &[0, 1, 2], decode, command_bytes);
    let every_set: Vec<u8> = (0..64).collect();
    util::sweep(&swap, TEXT_AT, "swap parameters set", &every_set, decode, command_bytes);
    let venue = command_bytes(&ControlCommand::VenueHealth { venue: VenueId(3), healthy: true });
    util::sweep(&venue, 1, "healthy", &[0, 1], decode, command_bytes);
    let lens: Vec<u8> = (0..=200).collect();
    let trigger = ControlCommand::Risk { id: 7, command: RiskCommand::EssTrigger { reason: InlineText::new("abc") } };
    util::sweep(&command_bytes(&trigger), TEXT_LEN_AT, "reason", &lens, decode, command_bytes);
    let reset = ControlCommand::Risk {
        id: 8,
        command: RiskCommand::EssReset {
            operator: InlineText::new("abc"),
            timestamp_ms: 1,
            mac: [7; 32],
            received_unix_ms: 2,
        },
    };
    util::sweep(&command_bytes(&reset), TEXT_LEN_AT, "operator", &lens, decode, command_bytes);
    for (cmd, field) in [(trigger, "reason"), (reset, "operator")] {
        let mut b = command_bytes(&cmd);
        b[TEXT_AT + 1] = 0xC3; // a lead byte followed by 'c': not UTF-8
        assert_eq!(decode(&b), Err(PayloadError::BadValue { record: "ControlCommand", field, value: 3 }));
    }

    let answer = (5u64, RiskReply { ok: true, text: InlineText::new("abc") });
    let decode = |b: &[u8]| control::decode_answer(b, control::VERSION);
    let a = answer_bytes(&answer);
    util::sweep(&a, 8, "ok", &[0, 1], decode, answer_bytes);
    util::sweep(&a, ANSWER_TEXT_LEN_AT, "text", &lens, decode, answer_bytes);
    let mut b = a.clone();
    b[ANSWER_TEXT_AT] = 0x80;
    assert_eq!(decode(&b), Err(PayloadError::BadValue { record: "ControlAnswer", field: "text", value: 3 }));
}

#[test]
fn every_undefined_enum_byte_of_a_state_payload_is_refused_by_name() {
    let book = |v: &(InstrumentId, BookError)| {
        let mut out = [0u8; state::BOOK_LEN];
        state::encode_book(v.0, v.1, &mut out);
        out.to_vec()
    };
    let valid = book(&(InstrumentId(9), BookError::Crossed));
    util::sweep(&valid, 4, "reason", &[0, 1, 2, 3], |b| state::decode_book(b, state::VERSION), book);
    let risk = |s: &RiskState| {
        let mut out = [0u8; state::RISK_STATE_LEN];
        state::encode_risk_state(s, &mut out);
        out.to_vec()
    };
    let valid = risk(&RiskState { ess: 1, ess_source: 2, level: 3, ess_since: Nanos(4) });
    util::sweep(&valid, 0, "ess", &[0, 1, 2], |b| state::decode_risk_state(b, state::VERSION), risk);
    // The source and level bytes are the risk component's own codes: any value is kept.
    for at in [1, 2] {
        let mut b = valid.clone();
        for v in 0..=u8::MAX {
            b[at] = v;
            assert_eq!(risk(&state::decode_risk_state(&b, 1).unwrap())[at], v);
        }
    }
}

/// The payload length of each type's version 1 (`None`: variable or not a core payload).
fn payload_len(kind: RecordType) -> Option<usize> {
    use qt_recorder::payload::{command, market, report, risk};
    Some(match kind {
        RecordType::MarketEvent => market::LEN,
        RecordType::BookInvalidation => state::BOOK_LEN,
        RecordType::Intent | RecordType::OrderCommand => command::LEN,
        RecordType::RiskDecision => risk::LEN,
        RecordType::ExecutionReport | RecordType::LocalRefusal => report::LEN,
        RecordType::ControlCommand | RecordType::Funding => control::COMMAND_LEN,
        RecordType::ControlAnswer => control::ANSWER_LEN,
        RecordType::Ess | RecordType::GlobalRiskLevel => state::RISK_STATE_LEN,
        RecordType::Timer => state::TIMER_LEN,
        RecordType::Halt => 0,
        RecordType::Failover => state::FAILOVER_LEN,
        _ => return None,
    })
}

fn record(kind: RecordType, payload_version: u16, payload: &[u8]) -> Record<'_> {
    Record { sequence: 1, entry: Entry { kind, payload_version, domain_ts_ns: 3, mono_ts_ns: -4, payload } }
}

/// `e` encoded by a fresh encoder and decoded again: (the type written, the entry read).
fn reencode(e: &CoreEntry) -> (RecordType, CoreEntry) {
    let mut buf = [0u8; MAX_LEN];
    let entry = CoreEncoder::default().encode(&e.record, e.attachment.as_ref(), &mut buf).unwrap();
    let back = core_record::decode(&Record { sequence: 1, entry }).unwrap().unwrap();
    (entry.kind, back)
}

/// Whether a record read as `read` and written again as `written` kept its type (a risk state
/// may be either of its two types: which one depends on the state written before it).
fn same_class(written: RecordType, read: RecordType) -> bool {
    let risk = [RecordType::Ess, RecordType::GlobalRiskLevel];
    written == read || (risk.contains(&written) && risk.contains(&read))
}

#[test]
fn every_truncation_extension_and_unknown_version_of_a_core_payload_is_refused() {
    let mut last = RiskState::default();
    // At the times `record` stamps, so a decoded sample equals the sample.
    let at = |event, attachment| CoreEntry {
        record: JournalRecord { domain_ns: Nanos(3), mono_ns: Nanos(-4), event },
        attachment,
    };
    let samples = [
        at(JournalEvent::Timer { venue_healthy: 3 }, None),
        at(JournalEvent::BookRefused { instrument: InstrumentId(1), reason: BookError::NegativeQty }, None),
        at(JournalEvent::RiskState(RiskState { ess: 2, ..RiskState::default() }), None),
        at(JournalEvent::Halt, None),
        at(
            JournalEvent::Failover(qt_core::routing::Failover {
                account: AccountId(2),
                primary: qt_core::VenueId(1),
                from: None,
                to: Some(qt_core::VenueId(3)),
            }),
            None,
        ),
        at(JournalEvent::Attachment, Some(JournalAttachment::Control(ControlCommand::CancelAll(AccountId(4))))),
        at(
            JournalEvent::Attachment,
            Some(JournalAttachment::ControlAnswer {
                id: 1,
                reply: RiskReply { ok: false, text: InlineText::new("no") },
            }),
        ),
    ];
    for e in samples {
        let kind = expected_type(&e, &mut last);
        let mut buf = [0u8; MAX_LEN];
        let entry = CoreEncoder::default().encode(&e.record, e.attachment.as_ref(), &mut buf).unwrap();
        let bytes = entry.payload.to_vec();
        assert_eq!(Some(bytes.len()), payload_len(kind), "{kind:?}");
        assert_eq!(core_record::decode(&record(kind, 1, &bytes)), Ok(Some(e)), "{kind:?}");
        let mut longer = bytes.clone();
        longer.push(0);
        for cut in (0..bytes.len()).map(|n| &bytes[..n]).chain([&longer[..]]) {
            let err = core_record::decode(&record(kind, 1, cut));
            assert!(
                matches!(err, Err(PayloadError::Length { expected, got, .. }) if expected == bytes.len() && got == cut.len()),
                "{kind:?} cut to {}: {err:?}",
                cut.len()
            );
        }
        for version in [0, 2, u16::MAX] {
            let err = core_record::decode(&record(kind, version, &bytes));
            assert!(matches!(err, Err(PayloadError::UnknownVersion { version: v, .. }) if v == version), "{err:?}");
        }
    }
}

/// An intent is an order command's layout; a cancel-all for every instrument is not an intent a
/// strategy can express (it names one instrument), so it is refused.
#[test]
fn an_intent_for_every_instrument_is_refused() {
    let mut buf = [0u8; qt_recorder::payload::command::LEN];
    qt_recorder::payload::command::encode_into(
        &OrderCommand::CancelAll { account: AccountId(1), instrument: None },
        &mut buf,
    );
    assert_eq!(
        core_record::decode(&record(RecordType::Intent, 1, &buf)),
        Err(PayloadError::BadValue { record: "Intent", field: "instrument_set", value: 0 })
    );
}

/// A funding record holds a funding payment and a control command record holds anything else:
/// the encoder never writes otherwise, so a decoder seeing it is reading damage or another
/// writer's bytes.
#[test]
fn a_control_command_under_the_other_record_type_is_refused() {
    let funding = ControlCommand::Funding {
        account: AccountId(1),
        instrument: InstrumentId(2),
        amount: qt_core::Notional::from_units(3),
    };
    let shutdown = command_bytes(&ControlCommand::Shutdown);
    assert_eq!(
        core_record::decode(&record(RecordType::Funding, 1, &shutdown)),
        Err(PayloadError::BadValue { record: "Funding", field: "tag", value: u64::from(control::tag::SHUTDOWN) })
    );
    assert_eq!(
        core_record::decode(&record(RecordType::ControlCommand, 1, &command_bytes(&funding))),
        Err(PayloadError::BadValue { record: "ControlCommand", field: "tag", value: u64::from(control::tag::FUNDING) })
    );
    let ok = core_record::decode(&record(RecordType::Funding, 1, &command_bytes(&funding))).unwrap().unwrap();
    assert_eq!(ok.attachment, Some(JournalAttachment::Control(funding)));
}
