//! What a run's journal says about one strategy around a swap (the `strategy_swap` scenario's
//! evidence): its orders working over time, those working at the swap and how each ended, the
//! account's position at the swap from the fills before it, and the engine's answer.
//!
//! Read in journal order from the recorded inputs and outputs only: order commands (the engine's
//! sends), execution reports (the venue's word), the control command and its answer.

use anyhow::Context;
use qt_core::engine::ControlCommand;
use qt_core::journal::{JournalAttachment, JournalEvent};
use qt_core::{AccountId, InstrumentId, Nanos, OrderCommand, OrderId, ReportKind, RiskReply, StrategyId};
use qt_recorder::payload::core_record;
use qt_recorder::{JournalReader, RecordType};
use std::collections::BTreeSet;
use std::path::Path;

/// One strategy's orders around its swap.
#[derive(Debug, Clone, Default)]
pub struct SwapTrail {
    /// Domain time of the swap command (`None`: no swap in the journal).
    pub swap_at: Option<Nanos>,
    /// The engine's answer to it.
    pub answer: Option<RiskReply>,
    /// The strategy's orders working when the swap came in.
    pub working_at_swap: Vec<OrderId>,
    /// Of those, the ones that later got their terminal report, with how they ended.
    pub closed_after_swap: Vec<(OrderId, ReportKind)>,
    /// The account's position in the instrument (units) from every fill before the swap.
    pub position_at_swap: i64,
    /// Most orders of the strategy working at once before the swap, and from the swap on.
    pub max_working: (usize, usize),
    /// Orders the strategy sent before and after the swap.
    pub sent: (u64, u64),
    /// The strategy's orders with no terminal report at the end of the journal.
    pub open_at_end: Vec<OrderId>,
}

impl SwapTrail {
    /// Reads `dir` for `strategy` (trading `instrument` for `account`).
    pub fn read(
        dir: &Path,
        strategy: StrategyId,
        account: AccountId,
        instrument: InstrumentId,
    ) -> anyhow::Result<Self> {
        let mut reader = JournalReader::open(dir).with_context(|| format!("opening the journal {}", dir.display()))?;
        let mut trail = Self::default();
        let mut working = BTreeSet::new();
        let mut position = 0i64;
        while let Some(record) = reader.next().with_context(|| format!("reading {}", dir.display()))? {
            if record.entry.kind == RecordType::Config {
                continue;
            }
            let Some(entry) = core_record::decode(&record)? else { continue };
            let after = trail.swap_at.is_some();
            match (entry.record.event, entry.attachment) {
                (JournalEvent::Command(OrderCommand::New { order_id, request, .. }), _)
                    if request.strategy == strategy =>
                {
                    working.insert(order_id);
                    if after {
                        trail.sent.1 += 1;
                    } else {
                        trail.sent.0 += 1;
                    }
                }
                (JournalEvent::Report(r), _) => {
                    if r.kind == ReportKind::Fill && r.account == account && r.instrument == instrument && !after {
                        position += r.side.sign() * r.last_qty.units();
                    }
                    let terminal = match r.kind {
                        ReportKind::Fill => r.leaves_qty.is_zero(),
                        ReportKind::Canceled | ReportKind::Rejected(_) => true,
                        ReportKind::Accepted | ReportKind::CancelRejected(_) => false,
                    };
                    if terminal && working.remove(&r.order_id) && after && trail.working_at_swap.contains(&r.order_id) {
                        trail.closed_after_swap.push((r.order_id, r.kind));
                    }
                }
                (_, Some(JournalAttachment::Control(ControlCommand::StrategySwap { swap, .. })))
                    if swap.strategy == strategy && !after =>
                {
                    trail.swap_at = Some(entry.record.domain_ns);
                    trail.working_at_swap = working.iter().copied().collect();
                    trail.position_at_swap = position;
                }
                (_, Some(JournalAttachment::ControlAnswer { reply, .. })) if after && trail.answer.is_none() => {
                    trail.answer = Some(reply);
                }
                _ => {}
            }
            let most = if after { &mut trail.max_working.1 } else { &mut trail.max_working.0 };
            *most = (*most).max(working.len());
        }
        trail.open_at_end = working.into_iter().collect();
        Ok(trail)
    }
}
