//! A live restart's restore: what the caller (`qt run`, `tools/src/restore.rs`) needs beyond
//! [`Engine::replay_input`] to rebuild a live engine from its journal before it trades.
//!
//! The journal of a live configuration holds every run on it, each opening with a Config record.
//! The caller replays every recorded input of the earlier runs, in order, through the freshly
//! built engine (no journal link attached, so nothing is journaled twice; the order rings are
//! drained and discarded, no gateway is running yet) and marks each run boundary with
//! [`Engine::begin_run`]. Then it settles the orders still open ([`Engine::open_orders`],
//! [`Engine::apply_restored_report`]) with the venue, and only then starts the gateways and the
//! core thread.
//!
//! Client order ids: run `k` of a journal (the `k`-th Config record, from 0) numbers its orders
//! from `k · 2^40 + 1` ([`run_order_id_base`]). So an id is never used twice on one journal even
//! when the last records of a killed run (an order command still in the journal ring at the
//! SIGKILL) never reached the journal — which continuing after the highest id seen could not
//! promise. The replay reproduces the same ids because it marks the same boundaries.
//!
//! Thread: the caller's (before the core thread starts); allocates freely (cold).

use super::*;

/// Bits of an order id below the run number ([`run_order_id_base`]): 2^40 orders per run.
pub const RUN_ORDER_ID_BITS: u32 = 40;

/// The first order id of run `run` of a journal (run 0: 1, as an engine without a journal).
pub const fn run_order_id_base(run: u64) -> u64 {
    (run << RUN_ORDER_ID_BITS) | 1
}

impl<R: PreTradeCheck> Engine<R> {
    /// Run `run` of the journal begins (a Config record in replay, or this run after restore),
    /// as a freshly started engine would: order ids continue from
    /// [`run_order_id_base`]`(run)`, a previous run's stop wind-down ([`JournalEvent::Halt`])
    /// no longer silences the strategies, every venue counts as reported healthy again, every
    /// account's router is back on its primary with its health history cleared, and the
    /// books start empty and unsynced (an old run's last book must not be traded on; the feeds
    /// resync them). Positions, orders, the risk component and the strategies carry over.
    /// Allocates (new books).
    pub fn begin_run(&mut self, run: u64) {
        self.core.orders.skip_ids_to(run_order_id_base(run));
        self.core.halted = false;
        self.core.venue_reported.fill(true);
        self.core.routing.restart();
        let depth = self.core.cfg.book_depth;
        for book in &mut self.core.books {
            *book = Book::new(book.instrument(), depth);
        }
    }

    /// Starts this run's counts afresh after a restore (the replayed runs' market records,
    /// orders and fills are theirs, not this run's summary's). The blocks are zeroed in place,
    /// so anyone who took [`Engine::counters`] before sees the fresh counts too.
    pub fn reset_counters(&mut self) {
        // Zeroed in place: the blocks stay where readers of the stats file see them.
        self.core.counters.zero();
        self.core.stats.reset();
        self.core.tick_to_order = LatencyHistogram::new();
        self.core.fills_digest = FNV_OFFSET;
    }

    /// The id the next order gets.
    pub fn next_order_id(&self) -> u64 {
        self.core.orders.next_id()
    }

    /// The risk component, mutably (a restore that must force what the journal recorded).
    pub fn risk_mut(&mut self) -> &mut R {
        &mut self.core.risk
    }

    /// The working orders, by id (allocates; cold).
    pub fn open_orders(&self) -> Vec<crate::orders::LiveOrder> {
        let mut v: Vec<_> = self.core.orders.iter().copied().collect();
        v.sort_by_key(|o| o.id);
        v
    }

    /// Applies a report the caller obtained from the venue itself (a restart settling an order
    /// that was open when the previous run ended) exactly like a gateway's report: journaled as
    /// an input if the journal is attached, so the next restore replays it too. Local refusals
    /// it causes are delivered at once.
    pub fn apply_restored_report(&mut self, report: &ExecutionReport) {
        self.core.local_now = sys::mono_now();
        self.core.on_report(report);
        while self.core.deliver_local_refusal() {}
    }

    /// Every position with activity: `(account, instrument, position)` (allocates; cold).
    pub fn positions(&self) -> Vec<(AccountId, InstrumentId, Position)> {
        let c = &self.core;
        let mut out = Vec::new();
        for account in 0..c.positions.accounts() {
            let account = AccountId(account as u16);
            for inst in c.instruments.iter() {
                if let Some(p) = c.positions.get(account, inst.id())
                    && p.fills() > 0
                {
                    out.push((account, inst.id(), *p));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::instrument::{InstrumentSpec, Venue};
    use crate::money::Qty;
    use crate::order::Side;
    use crate::time::SimClock;

    struct Pass;

    impl PreTradeCheck for Pass {
        fn check(&mut self, _request: &OrderRequest, _view: &MarketView<'_>) -> RiskDecision {
            RiskDecision::Allow
        }
    }

    #[test]
    fn a_run_boundary_starts_books_and_venues_fresh_and_ids_in_the_runs_range() {
        let mut reg = InstrumentRegistry::new();
        let id = reg.add(&InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.001")).unwrap();
        let clock = SimClock::new(Nanos(1));
        let mut e = Engine::new(EngineConfig::default(), reg, Pass, Arc::new(clock.clone()));
        let (orders, _orders_rx) = crate::queue::spsc(8);
        let (_reports_tx, reports) = crate::queue::spsc(8);
        e.add_venue(orders, reports, &[id]);
        for (side, price) in [(Side::Buy, 100), (Side::Sell, 101)] {
            let mut ev =
                MarketEvent::new(id, EventKind::BookSnapshot, side, Price::from_units(price), Qty::from_units(1));
            ev.flags = MarketEvent::BATCH_END;
            let rec = JournalRecord { domain_ns: Nanos(2), mono_ns: Nanos(3), event: JournalEvent::Market(ev) };
            assert!(e.replay_input(&clock, &rec, None));
        }
        assert!(e.book(id).unwrap().mid().is_some());
        e.core.venue_reported[0] = false;
        e.begin_run(3);
        assert!(e.book(id).unwrap().mid().is_none() && !e.book(id).unwrap().is_valid());
        assert!(e.core.venue_reported[0]);
        assert_eq!(e.next_order_id(), run_order_id_base(3));
    }

    #[test]
    fn runs_number_orders_in_disjoint_ranges() {
        assert_eq!(run_order_id_base(0), 1);
        assert_eq!(run_order_id_base(2), (2 << 40) + 1);
        assert!(run_order_id_base(1) > run_order_id_base(0) + (1 << 39));
    }
}
