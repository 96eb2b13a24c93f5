//! The engine a replay drives: built from the journaled plan exactly as `qt run` builds its
//! own (same gate, strategies in the same order, one venue link per venue in the same order),
//! on a [`SimClock`], with a journal link whose records the replay reads back on this thread.
//! Nothing is sent anywhere: the order rings are drained and dropped.

use crate::config::Plan;
use qt_core::journal::{JournalEvent, JournalFullPolicy, JournalLink, JournalRings};
use qt_core::queue::{Consumer, Producer, spsc};
use qt_core::{Engine, ExecutionReport, Nanos, OrderCommand, SimClock};
use qt_recorder::payload::core_record::CoreEntry;
use qt_risk::RiskGate;
use std::collections::VecDeque;

/// Ring slots of the replay's own journal link (drained after every input).
const RING: usize = 1 << 16;

/// An engine being replayed.
pub(crate) struct ReplayEngine {
    engine: Engine<RiskGate>,
    clock: SimClock,
    rings: JournalRings,
    orders: Vec<Consumer<OrderCommand>>,
    _reports: Vec<Producer<ExecutionReport>>,
}

impl ReplayEngine {
    /// The engine of `plan`, ready for its first input.
    pub(crate) fn build(plan: &Plan) -> anyhow::Result<Self> {
        let clock = SimClock::new(Nanos(0));
        let mut engine = super::replay_engine(plan, &clock)?;
        let mut orders = Vec::new();
        let mut reports = Vec::new();
        for instruments in plan.venue_instruments() {
            let (orders_tx, orders_rx) = spsc(plan.queue_capacity);
            let (reports_tx, reports_rx) = spsc(plan.queue_capacity);
            engine.add_venue(orders_tx, reports_rx, &instruments);
            orders.push(orders_rx);
            reports.push(reports_tx);
        }
        // Routed as the recorded run was (its failover records move the router).
        engine.set_routing(plan.routing.clone());
        // Drop-and-count, never wait: this thread is also the ring's consumer. A drop is
        // reported as a failure of the replay.
        let (link, rings) = JournalLink::new(RING, JournalFullPolicy::DropAndCount);
        engine.set_journal(link);
        Ok(Self { engine, clock, rings, orders, _reports: reports })
    }

    /// Applies one recorded input.
    pub(crate) fn apply(&mut self, e: &CoreEntry) {
        self.engine.replay_input(&self.clock, &e.record, e.attachment.as_ref());
    }

    /// Moves what the engine journaled into `out`, and empties the order rings.
    pub(crate) fn drain(&mut self, out: &mut VecDeque<CoreEntry>) {
        while let Ok(record) = self.rings.records.pop() {
            let attachment =
                if record.event == JournalEvent::Attachment { self.rings.attachments.pop().ok() } else { None };
            out.push_back(CoreEntry { record, attachment });
        }
        for ring in &mut self.orders {
            while ring.pop().is_ok() {}
        }
    }

    /// A Config record: run `run` of the journal begins, as the live engine began it
    /// ([`Engine::begin_run`]).
    pub(crate) fn begin_run(&mut self, run: u64) {
        self.engine.begin_run(run);
    }

    /// The engine, as the inputs applied so far left it (`qt stress` reads its risk state).
    pub(crate) fn engine(&self) -> &Engine<RiskGate> {
        &self.engine
    }

    /// Records the engine had to drop (should be 0).
    pub(crate) fn dropped(&self) -> u64 {
        self.engine.counters().journal_dropped.get()
    }
}
