//! The core's journal records ([`qt_core::journal`]) ⇄ frames: which [`RecordType`] and payload
//! each [`JournalEvent`] is written as, and back.
//!
//! | event | record type | payload |
//! |---|---|---|
//! | `Market` | MarketEvent (2) | [`super::market`] |
//! | `BookRefused` | BookInvalidation (3) | [`super::state`] |
//! | `Intent` | Intent (4) | [`super::command`]'s layout: place = `New` with order id 0, cancel = `Cancel` (account, instrument 0), cancel-all = `CancelAll` |
//! | `Decision` | RiskDecision (5) | [`super::risk`], its times the frame's |
//! | `Command` | OrderCommand (6) | [`super::command`] |
//! | `Report` | ExecutionReport (7) | [`super::report`] |
//! | `LocalRefusal` | LocalRefusal (8) | [`super::report`] |
//! | `Attachment` + `Control` | ControlCommand (9), or Funding (13) for a funding payment | [`super::control`] |
//! | `Attachment` + `ControlAnswer` | ControlAnswer (10) | [`super::control`] |
//! | `RiskState` | Ess (11) when the stop's part changed, else GlobalRiskLevel (12) | [`super::state`] |
//! | `Timer` | Timer (16) | [`super::state`] |
//! | `Halt` | Halt (17) | empty |
//! | `Failover` | Failover (18) | [`super::state`] |
//!
//! Encoding is allocation-free into a caller's [`super::MAX_LEN`] buffer (the journal thread
//! reuses one).

use qt_core::journal::{JournalAttachment, JournalEvent, JournalRecord, JournaledDecision};
use qt_core::risk_api::RiskState;
use qt_core::strategy::StrategyAction;
use qt_core::{AccountId, InstrumentId, Nanos, OrderCommand, OrderId};

use super::{MAX_LEN, PayloadError, command, control, market, report, risk, state};
use crate::format::{Entry, Record, RecordType};

/// A core record read back: the record, and for a control command or answer its attachment
/// (the record's event is then [`JournalEvent::Attachment`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoreEntry {
    /// The record.
    pub record: JournalRecord,
    /// The large record the marker stands for.
    pub attachment: Option<JournalAttachment>,
}

/// The encoder's memory: the last risk state written (to tell an emergency stop change from a
/// level change).
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreEncoder {
    last_risk: RiskState,
}

/// An intent as the order command it would be (the shared layout).
fn intent_command(action: &StrategyAction) -> OrderCommand {
    match *action {
        StrategyAction::Place(request) => OrderCommand::New { order_id: OrderId(0), request, sent_local_ns: Nanos(0) },
        StrategyAction::Cancel(order_id) => {
            OrderCommand::Cancel { order_id, account: AccountId(0), instrument: InstrumentId(0) }
        }
        StrategyAction::CancelAll(account, instrument) => {
            OrderCommand::CancelAll { account, instrument: Some(instrument) }
        }
    }
}

fn command_intent(cmd: OrderCommand) -> Result<StrategyAction, PayloadError> {
    Ok(match cmd {
        OrderCommand::New { request, .. } => StrategyAction::Place(request),
        OrderCommand::Cancel { order_id, .. } => StrategyAction::Cancel(order_id),
        OrderCommand::CancelAll { account, instrument: Some(instrument) } => {
            StrategyAction::CancelAll(account, instrument)
        }
        OrderCommand::CancelAll { instrument: None, .. } => {
            return Err(PayloadError::BadValue { record: "Intent", field: "instrument_set", value: 0 });
        }
    })
}

impl CoreEncoder {
    /// A fresh encoder (`initial`: the risk state the core started from).
    pub fn new(initial: RiskState) -> Self {
        Self { last_risk: initial }
    }

    /// Encodes `record` (with its `attachment` for a marker) into `buf`; returns the frame's
    /// entry borrowing `buf`. A marker without its attachment is refused.
    pub fn encode<'a>(
        &mut self,
        record: &JournalRecord,
        attachment: Option<&JournalAttachment>,
        buf: &'a mut [u8; MAX_LEN],
    ) -> Result<Entry<'a>, PayloadError> {
        let (kind, version, len) = match &record.event {
            JournalEvent::Market(ev) => (RecordType::MarketEvent, market::VERSION, market::encode_into(ev, front(buf))),
            JournalEvent::BookRefused { instrument, reason } => {
                (RecordType::BookInvalidation, state::VERSION, state::encode_book(*instrument, *reason, front(buf)))
            }
            JournalEvent::Intent(action) => {
                (RecordType::Intent, command::VERSION, command::encode_into(&intent_command(action), front(buf)))
            }
            JournalEvent::Decision(d) => {
                let full = d.record(record.domain_ns, record.mono_ns);
                (RecordType::RiskDecision, risk::VERSION, risk::encode_into(&full, front(buf)))
            }
            JournalEvent::Command(c) => {
                (RecordType::OrderCommand, command::VERSION, command::encode_into(c, front(buf)))
            }
            JournalEvent::Report(r) => {
                (RecordType::ExecutionReport, report::VERSION, report::encode_into(r, front(buf)))
            }
            JournalEvent::LocalRefusal(r) => {
                (RecordType::LocalRefusal, report::VERSION, report::encode_into(r, front(buf)))
            }
            JournalEvent::Timer { venue_healthy } => {
                (RecordType::Timer, state::VERSION, state::encode_timer(*venue_healthy, front(buf)))
            }
            JournalEvent::RiskState(s) => {
                let ess_changed = (s.ess, s.ess_source, s.ess_since)
                    != (self.last_risk.ess, self.last_risk.ess_source, self.last_risk.ess_since);
                self.last_risk = *s;
                let kind = if ess_changed { RecordType::Ess } else { RecordType::GlobalRiskLevel };
                (kind, state::VERSION, state::encode_risk_state(s, front(buf)))
            }
            JournalEvent::Halt => (RecordType::Halt, state::VERSION, 0),
            JournalEvent::Failover(f) => (RecordType::Failover, state::VERSION, state::encode_failover(f, front(buf))),
            JournalEvent::Attachment => match attachment {
                Some(JournalAttachment::Control(cmd)) => {
                    let kind = if control::is_funding(cmd) { RecordType::Funding } else { RecordType::ControlCommand };
                    (kind, control::VERSION, control::encode_command(cmd, front(buf)))
                }
                Some(JournalAttachment::ControlAnswer { id, reply }) => {
                    (RecordType::ControlAnswer, control::VERSION, control::encode_answer(*id, reply, front(buf)))
                }
                None => {
                    return Err(PayloadError::BadValue { record: "Attachment", field: "attachment", value: 0 });
                }
            },
        };
        Ok(Entry {
            kind,
            payload_version: version,
            domain_ts_ns: record.domain_ns.0,
            mono_ts_ns: record.mono_ns.0,
            payload: &buf[..len],
        })
    }
}

/// The fixed-size front of the encode buffer (every payload here is at most [`MAX_LEN`]).
fn front<const N: usize>(buf: &mut [u8; MAX_LEN]) -> &mut [u8; N] {
    const { assert!(N <= MAX_LEN) };
    let (head, _) = buf.split_first_chunk_mut::<N>().unwrap_or_else(|| unreachable!("N <= MAX_LEN"));
    head
}

/// Decodes a core record; `Ok(None)` for the types the core does not write (Config,
/// Reconciliation, RawFrame).
pub fn decode(record: &Record<'_>) -> Result<Option<CoreEntry>, PayloadError> {
    let e = &record.entry;
    let (bytes, v) = (e.payload, e.payload_version);
    let mut attachment = None;
    let event = match e.kind {
        RecordType::MarketEvent => JournalEvent::Market(market::decode(bytes, v)?),
        RecordType::BookInvalidation => {
            let (instrument, reason) = state::decode_book(bytes, v)?;
            JournalEvent::BookRefused { instrument, reason }
        }
        RecordType::Intent => JournalEvent::Intent(command_intent(command::decode(bytes, v)?)?),
        RecordType::RiskDecision => JournalEvent::Decision(JournaledDecision::of(&risk::decode(bytes, v)?)),
        RecordType::OrderCommand => JournalEvent::Command(command::decode(bytes, v)?),
        RecordType::ExecutionReport => JournalEvent::Report(report::decode(bytes, v)?),
        RecordType::LocalRefusal => JournalEvent::LocalRefusal(report::decode(bytes, v)?),
        RecordType::ControlCommand | RecordType::Funding => {
            let cmd = control::decode_command(bytes, v)?;
            // Each type holds only what the encoder writes under it: a funding payment is a
            // Funding record and nothing else is (so `--type funding` finds exactly those).
            let funding = e.kind == RecordType::Funding;
            if control::is_funding(&cmd) != funding {
                let record = if funding { "Funding" } else { "ControlCommand" };
                return Err(PayloadError::BadValue { record, field: "tag", value: u64::from(bytes[0]) });
            }
            attachment = Some(JournalAttachment::Control(cmd));
            JournalEvent::Attachment
        }
        RecordType::ControlAnswer => {
            let (id, reply) = control::decode_answer(bytes, v)?;
            attachment = Some(JournalAttachment::ControlAnswer { id, reply });
            JournalEvent::Attachment
        }
        RecordType::Ess | RecordType::GlobalRiskLevel => JournalEvent::RiskState(state::decode_risk_state(bytes, v)?),
        RecordType::Timer => JournalEvent::Timer { venue_healthy: state::decode_timer(bytes, v)? },
        RecordType::Halt => {
            state::decode_halt(bytes, v)?;
            JournalEvent::Halt
        }
        RecordType::Failover => JournalEvent::Failover(state::decode_failover(bytes, v)?),
        _ => return Ok(None),
    };
    let record = JournalRecord { domain_ns: Nanos(e.domain_ts_ns), mono_ns: Nanos(e.mono_ts_ns), event };
    Ok(Some(CoreEntry { record, attachment }))
}
