//! The core's handlers: one record through book → strategies → risk → orders, execution
//! reports, the housekeeping timer, risk commands and actions, and what each journals.
//!
//! Every entry point (a market record, a report, a local refusal's delivery, the timer, a
//! control command) reads the domain clock once into `domain_now` and journals its input
//! first; what it decides is journaled after, in order. So a journal read back in order
//! re-drives these same functions to the same decisions ([`super::Engine::replay_input`]).

use super::*;

impl<R: PreTradeCheck> Core<R> {
    /// Copies the position of `account` in `instrument` to the position tap, if one is set
    /// (one ring push, no wait).
    #[inline]
    pub(super) fn publish_position(&mut self, account: AccountId, instrument: InstrumentId) {
        if let (Some(tap), Some(position)) = (self.position_tap.as_mut(), self.positions.get(account, instrument)) {
            tap.publish(crate::position::PositionUpdate { account, instrument, position: *position });
        }
    }

    /// Hands `event` to the journal, stamped with the current input's times (no journal: a
    /// branch). Never allocates; under backpressure may wait for room (counted).
    #[inline]
    pub(super) fn journal(&mut self, event: JournalEvent) {
        self.flush_staged();
        let Some(link) = &mut self.journal else { return };
        let record = JournalRecord { domain_ns: self.domain_now, mono_ns: self.local_now, event };
        let pushed = link.push(record);
        self.count_pushed(pushed);
    }

    /// Stages the current input's record: it is pushed with the input's first output, or when
    /// the input is done ([`Self::flush_staged`]) — so an order a market record triggers leaves
    /// before any journal push, and the journal still has the input first.
    #[inline]
    fn stage(&mut self, event: JournalEvent) {
        if self.journal.is_some() {
            self.staged = Some(JournalRecord { domain_ns: self.domain_now, mono_ns: self.local_now, event });
        }
    }

    /// Pushes a staged input record that no output has pushed yet.
    #[inline]
    fn flush_staged(&mut self) {
        if let (Some(input), Some(link)) = (self.staged.take(), &mut self.journal) {
            let pushed = link.push(input);
            self.count_pushed(pushed);
        }
    }

    #[inline]
    fn count_pushed(&self, pushed: Pushed) {
        let c = &self.counters;
        match pushed {
            Pushed::Yes => c.journal_records.incr(),
            Pushed::AfterWait => {
                c.journal_records.incr();
                c.journal_waits.incr();
            }
            Pushed::Dropped => c.journal_dropped.incr(),
        }
    }

    /// Hands a large record to the journal (control commands and answers; cold).
    #[cold]
    pub(super) fn journal_attachment(&mut self, attachment: JournalAttachment) {
        self.flush_staged();
        let Some(link) = &mut self.journal else { return };
        let pushed = link.push_attachment(self.domain_now, self.local_now, attachment);
        self.count_pushed(pushed);
    }

    /// Journals the risk component's state if it changed since last journaled.
    #[inline]
    fn note_risk_state(&mut self) {
        let state = self.risk.state();
        if state != self.risk_state {
            self.risk_state = state;
            self.journal(JournalEvent::RiskState(state));
        }
    }

    /// The stop's wind-down begins, if any account has working orders: the halt (journaled as
    /// an input; strategies' actions are dropped from here on), then a cancel-all to each such
    /// account. Returns the accounts and the orders working; `(0, 0)` changes nothing. The live
    /// loop's stop and a replay of the journaled halt both come here, so a replay produces the
    /// same cancel-alls.
    #[cold]
    pub(super) fn wind_down(&mut self) -> (usize, usize) {
        let mut accounts: Vec<AccountId> = self.orders.iter().map(|o| o.request.account).collect();
        accounts.sort_unstable();
        accounts.dedup();
        if accounts.is_empty() {
            return (0, 0);
        }
        self.domain_now = self.clock.now();
        self.journal(JournalEvent::Halt);
        self.halted = true;
        let working = self.orders.live();
        for account in &accounts {
            self.cancel_all(*account, None);
        }
        (accounts.len(), working)
    }

    /// Book → strategies → risk → orders for one record.
    #[inline]
    pub(super) fn on_market(&mut self, ev: &MarketEvent) {
        self.counters.market_events.incr();
        // One domain-time read per record, shared by every subscriber (not one per strategy).
        self.domain_now = self.clock.now();
        if self.cfg.timer_clock == TimerClock::Domain && self.domain_now >= self.next_domain_timer {
            // Simulated runs: the timer is an input placed by domain time alone.
            self.next_domain_timer = self.domain_now.saturating_add(self.cfg.housekeeping_interval);
            self.timer();
        }
        if self.domain_now >= self.next_scheduled {
            // A control scheduled at a domain time: an input of its own, before this record.
            self.run_scheduled();
        }
        self.stage(JournalEvent::Market(*ev));
        self.market_record(ev);
        self.flush_staged();
    }

    #[inline]
    fn market_record(&mut self, ev: &MarketEvent) {
        let Some(book) = self.books.get_mut(ev.instrument.index()) else {
            self.counters.unknown_instrument_events.incr();
            return;
        };
        if let Err(reason) = book.apply(ev) {
            self.journal(JournalEvent::BookRefused { instrument: ev.instrument, reason });
            // The book is invalid already (crossed, or a level it cannot hold); the feed that
            // sent the record is told after its poll, once per book.
            if reason == BookError::Crossed {
                self.counters.books_crossed.incr();
            } else {
                self.counters.book_errors.incr();
            }
            if !self.refused.iter().any(|(i, _)| *i == ev.instrument) && self.refused.len() < self.refused.capacity() {
                self.refused.push((ev.instrument, reason));
            }
        }
        if ev.is_batch_end() {
            self.counters.market_batches.incr();
        }
        for k in 0..self.subscribers[ev.instrument.index()].len() {
            let s = self.subscribers[ev.instrument.index()][k];
            let view = view!(self);
            self.strategies[s].on_market(&view, ev, &mut self.actions);
            if !self.actions.is_empty() {
                self.execute_actions(ev.local_ns);
            }
        }
    }

    /// Carries out the actions a strategy just emitted; `trigger_ns` is the monotonic receive
    /// time of what triggered them.
    #[inline]
    fn execute_actions(&mut self, trigger_ns: Nanos) {
        if self.halted {
            // Stopped: a strategy reacting to the wind-down's reports opens nothing new.
            self.actions.clear();
            return;
        }
        for i in 0..self.actions.len() {
            let action = self.actions.take(i);
            // A placement's intent is journaled by `place`, after the order has left.
            if let Some(action) = action
                && !matches!(action, StrategyAction::Place(_))
            {
                self.journal(JournalEvent::Intent(action));
            }
            match action {
                Some(StrategyAction::Place(request)) => self.place(request, trigger_ns),
                Some(StrategyAction::Cancel(id)) => self.cancel(id),
                Some(StrategyAction::CancelAll(account, instrument)) => self.cancel_all(account, Some(instrument)),
                None => {}
            }
        }
        let overflowed = self.actions.clear();
        if overflowed > 0 {
            self.counters.signal_overflow.add(overflowed as u64);
        }
    }

    #[inline]
    /// A strategy's order through the gate to its venue. Journals the intent, the decision and
    /// the command in that order — after the order has left (nothing is journaled before the
    /// send on the tick-to-order path), or before the refusal when it does not leave.
    pub(super) fn place(&mut self, mut request: OrderRequest, trigger_ns: Nanos) {
        self.counters.order_requests.incr();
        if let Some(s) = self.stats.strategies.get(request.strategy.index()) {
            s.signals.incr();
        }
        let intent = request;
        if self.journal.as_ref().is_some_and(JournalLink::failed) {
            // No audit, no trading: the journal cannot write.
            self.journal(JournalEvent::Intent(StrategyAction::Place(intent)));
            self.counters.journal_refused_orders.incr();
            self.local_reject(OrderId(0), &request, RejectReason::JournalUnavailable);
            return;
        }
        // Routed first: the gate judges the order where it will go (that venue's book and
        // position). Routing happens here, once; the order never moves to another venue.
        let venue = match self.placement(&request) {
            routing::Placement::To(venue, instrument) => {
                request.instrument = instrument;
                Some(venue)
            }
            routing::Placement::Blocked(reason) => {
                let decision = RiskDecision::Block(reason);
                self.counters.risk_block.get(reason).incr();
                self.stats.account(request.account).inspect(|a| a.block.get(reason).incr());
                self.journal_decision(&intent, decision, self.domain_now);
                self.local_reject(OrderId(0), &request, RejectReason::RiskBlocked);
                return;
            }
            routing::Placement::Unknown => None,
        };
        let view = view!(self);
        let decision = self.risk.check(&request, &view);
        let decided_at = view.now;
        // Spot has no venue-side reduce-only: the core holds the order to the position.
        let decision = self.reduce_only_on_spot(&request, decision);
        let account = self.stats.account(request.account);
        match decision {
            RiskDecision::Allow => {
                self.counters.risk_allow.incr();
                account.inspect(|a| a.allow.incr());
            }
            RiskDecision::ScaleDown(qty, reason) => {
                self.counters.risk_scale_down.get(reason).incr();
                account.inspect(|a| a.scale_down.get(reason).incr());
                request.qty = qty;
            }
            RiskDecision::Block(reason) => {
                self.counters.risk_block.get(reason).incr();
                account.inspect(|a| a.block.get(reason).incr());
                self.journal_decision(&intent, decision, decided_at);
                self.local_reject(OrderId(0), &request, RejectReason::RiskBlocked);
                return;
            }
        }
        let Some(venue) = venue else {
            self.counters.unknown_instrument_events.incr();
            self.journal_decision(&intent, decision, decided_at);
            self.local_reject(OrderId(0), &request, RejectReason::UnknownInstrument);
            return;
        };
        let Some(order_id) = self.orders.insert(request, self.local_now) else {
            self.counters.order_table_full.incr();
            self.journal_decision(&intent, decision, decided_at);
            self.local_reject(OrderId(0), &request, RejectReason::TooManyOpenOrders);
            return;
        };
        let sent = sys::mono_now();
        let command = OrderCommand::New { order_id, request, sent_local_ns: sent };
        match self.venues[venue].orders.push(command) {
            Ok(()) => {
                self.health_on_sent(venue, order_id);
                self.counters.orders_sent.incr();
                self.tick_to_order.record(sent.0 - trigger_ns.0);
                self.stats.latency.tick_to_order.record(sent.0 - trigger_ns.0);
                if let Some(v) = self.stats.venues.get(venue) {
                    v.orders.incr();
                }
                self.journal_decision(&intent, decision, decided_at);
                self.journal(JournalEvent::Command(command));
                crate::core_log!(
                    Debug, "order sent", order_id.0;
                    account = request.account.0, instrument = request.instrument.0,
                    side = if request.side == crate::order::Side::Buy { "buy" } else { "sell" },
                    price_units = request.price.units(), qty_units = request.qty.units(), venue = venue
                );
            }
            Err(PushError::Full(_)) => {
                self.orders.forget(order_id);
                self.counters.order_queue_full.incr();
                if let Some(v) = self.stats.venues.get(venue) {
                    v.order_queue_full.incr();
                }
                self.journal_decision(&intent, decision, decided_at);
                self.local_reject(order_id, &request, RejectReason::QueueFull);
            }
        }
    }

    /// Journals a placement's intent and the gate's decision on it (with the inputs of that
    /// decision: the gate's last check).
    #[inline]
    fn journal_decision(&mut self, intent: &OrderRequest, decision: RiskDecision, decided_at: Nanos) {
        if self.journal.is_none() {
            return;
        }
        self.journal(JournalEvent::Intent(StrategyAction::Place(*intent)));
        let record = DecisionRecord::new(intent, decision, &self.risk.decision_inputs(), decided_at, self.local_now);
        self.journal(JournalEvent::Decision(JournaledDecision::of(&record)));
    }

    pub(super) fn cancel(&mut self, order_id: OrderId) {
        let Some(order) = self.orders.get(order_id).copied() else { return };
        let Some(venue) = self.venue_of_instrument.get(order.request.instrument.index()).copied().flatten() else {
            return;
        };
        let command =
            OrderCommand::Cancel { order_id, account: order.request.account, instrument: order.request.instrument };
        if self.venues[venue].orders.push(command).is_ok() {
            self.journal(JournalEvent::Command(command));
            self.orders.mark_pending_cancel(order_id);
            self.counters.cancels_sent.incr();
        } else {
            self.counters.order_queue_full.incr();
        }
    }

    /// A cancel-all to every venue serving instruments (of `instrument`, as each venue lists it:
    /// an order routed to a sibling is cancelled there).
    pub(super) fn cancel_all(&mut self, account: AccountId, instrument: Option<InstrumentId>) {
        for v in 0..self.venues.len() {
            let serves = self.venue_of_instrument.contains(&Some(v));
            if !serves {
                continue;
            }
            let instrument = match instrument {
                Some(i) => match self.instrument_at(i, v) {
                    Some(at) => Some(at),
                    None => continue,
                },
                None => None,
            };
            let command = OrderCommand::CancelAll { account, instrument };
            if self.venues[v].orders.push(command).is_ok() {
                self.journal(JournalEvent::Command(command));
                self.counters.cancels_sent.incr();
            } else {
                self.counters.order_queue_full.incr();
            }
        }
    }

    #[cold]
    fn local_reject(&mut self, order_id: OrderId, request: &OrderRequest, reason: RejectReason) {
        let report = ExecutionReport::status(
            order_id,
            request,
            VenueId(u16::MAX),
            ReportKind::Rejected(reason),
            self.domain_now,
        );
        if self.local_reports.len() < self.local_reports.capacity() {
            self.local_reports.push_back((request.strategy.index(), report));
        } else {
            self.counters.signal_overflow.incr();
        }
    }

    /// Drains gateway reports, then local refusals.
    #[inline]
    pub(super) fn drain_reports(&mut self) -> usize {
        let mut work = 0;
        for v in 0..self.venues.len() {
            for _ in 0..self.cfg.max_reports_per_poll {
                let Ok(report) = self.venues[v].reports.pop() else { break };
                work += 1;
                self.on_report(&report);
                let link = &mut self.venues[v];
                link.applied += 1;
                link.reports_applied.publish(link.applied);
            }
        }
        while self.deliver_local_refusal() {
            work += 1;
        }
        work
    }

    /// Tells the strategy of the oldest local refusal; false if there is none.
    pub(super) fn deliver_local_refusal(&mut self) -> bool {
        let Some((strategy, report)) = self.local_reports.pop_front() else { return false };
        self.domain_now = self.clock.now();
        self.journal(JournalEvent::LocalRefusal(report));
        self.notify_strategy(strategy, &report);
        true
    }

    #[inline]
    pub(super) fn on_report(&mut self, report: &ExecutionReport) {
        self.counters.reports.incr();
        self.domain_now = self.clock.now();
        self.journal(JournalEvent::Report(*report));
        let Some(order) = self.orders.get(report.order_id).copied() else {
            self.counters.unmatched_reports.incr();
            return;
        };
        let venue = self.venue_of_instrument.get(order.request.instrument.index()).copied().flatten();
        self.health_on_report(&order, report.kind, venue);
        if self
            .orders
            .apply(report.order_id, report.kind, report.venue_order_id, report.last_qty, report.leaves_qty)
            .is_err()
        {
            self.counters.unmatched_reports.incr();
            return;
        }
        let venue_stats = venue.and_then(|v| self.stats.venues.get(v));
        match report.kind {
            ReportKind::Accepted => {
                self.counters.accepted.incr();
                venue_stats.inspect(|v| v.acks.incr());
                self.stats.latency.order_ack.record(self.local_now.0 - order.sent_local_ns.0);
            }
            ReportKind::Rejected(_) => {
                self.counters.venue_rejects.incr();
                venue_stats.inspect(|v| v.rejects.incr());
            }
            ReportKind::Canceled => self.counters.cancels.incr(),
            ReportKind::CancelRejected(_) => {}
            ReportKind::Fill => {
                self.counters.fills.incr();
                if let Some(t) = venue
                    .and_then(|v| self.stats.account_venue.get(v))
                    .and_then(|accounts| accounts.get(order.request.account.index()))
                {
                    t.trades.incr();
                }
                let instrument = order.request.instrument;
                let applied =
                    match (self.instruments.get(instrument), self.positions.get_mut(order.request.account, instrument))
                    {
                        (Some(inst), Some(pos)) => pos
                            .apply_fill(inst, order.request.side, report.last_price, report.last_qty, report.fee)
                            .is_ok(),
                        _ => false,
                    };
                if !applied {
                    self.counters.accounting_errors.incr();
                }
                self.publish_position(order.request.account, instrument);
                let mut h = fnv(self.fills_digest, report.order_id.0);
                h = fnv(h, order.request.side as u64);
                h = fnv(h, report.last_price.units() as u64);
                h = fnv(h, report.last_qty.units() as u64);
                h = fnv(h, report.fee.units() as u64);
                self.fills_digest = h;
            }
        }
        self.notify_strategy(order.request.strategy.index(), report);
        let view = view!(self);
        self.risk.on_report(report, &view);
        self.note_risk_state();
    }

    #[inline]
    fn notify_strategy(&mut self, strategy: usize, report: &ExecutionReport) {
        if strategy >= self.strategies.len() {
            return;
        }
        let view = view!(self);
        self.strategies[strategy].on_report(&view, report, &mut self.actions);
        if !self.actions.is_empty() {
            self.execute_actions(self.local_now);
        }
    }

    /// The housekeeping timer fired: journals it with the venues' health, then runs it.
    pub(super) fn timer(&mut self) {
        self.domain_now = self.clock.now();
        let mut healthy = 0u64;
        for (v, h) in self.venue_healthy.iter().enumerate().take(64) {
            healthy |= u64::from(*h) << v;
        }
        self.journal(JournalEvent::Timer { venue_healthy: healthy });
        self.housekeeping();
    }

    /// Periodic gauges for the stats exporter, then the risk component's timer (replay: the
    /// timer record is already journaled).
    pub(super) fn housekeeping_now(&mut self) {
        self.housekeeping();
    }

    /// Periodic gauges for the stats exporter, then the risk component's timer.
    fn housekeeping(&mut self) {
        self.counters.open_orders.set(self.orders.live() as u64);
        let view = view!(self);
        self.risk.on_timer(&view, &self.venue_healthy, &mut self.risk_actions);
        self.execute_risk_actions();
        self.note_risk_state();
    }

    /// A control command for the risk component; the reply goes back tagged with `id`.
    #[cold]
    pub(super) fn risk_command(&mut self, id: u64, command: &RiskCommand) {
        let view = view!(self);
        let reply = self.risk.on_command(command, &view, &mut self.risk_actions);
        self.execute_risk_actions();
        self.journal_attachment(JournalAttachment::ControlAnswer { id, reply });
        self.note_risk_state();
        let sent = self.replies.as_ref().is_some_and(|tx| tx.try_send((id, reply)).is_ok());
        if !sent {
            self.counters.control_replies_dropped.incr();
        }
    }

    /// Carries out the risk component's actions, in order, and empties the buffer.
    fn execute_risk_actions(&mut self) {
        if self.risk_actions.is_empty() {
            return;
        }
        for i in 0..self.risk_actions.as_slice().len() {
            match self.risk_actions.as_slice()[i] {
                RiskAction::CancelAll(account) => self.cancel_all(account, None),
                RiskAction::Flatten(order) => self.place_risk_order(order),
            }
        }
        let overflowed = self.risk_actions.clear();
        self.counters.risk_action_overflow.add(overflowed);
    }

    /// Sends a risk-originated reduce-only order past the gate, if it is sane.
    fn place_risk_order(&mut self, request: OrderRequest) {
        let position = self.positions.get(request.account, request.instrument).map(|p| p.qty());
        let on_grid = self
            .instruments
            .get(request.instrument)
            .is_some_and(|i| i.is_on_tick(request.price) && i.is_on_lot(request.qty));
        let venue = self.venue_of_instrument.get(request.instrument.index()).copied().flatten();
        let (Some(position), true, Some(venue)) = (position, on_grid, venue) else {
            self.counters.risk_orders_refused.incr();
            return;
        };
        if !is_sane_reduce_only(&request, position) {
            self.counters.risk_orders_refused.incr();
            return;
        }
        let Some(order_id) = self.orders.insert(request, self.local_now) else {
            self.counters.order_table_full.incr();
            self.counters.risk_orders_refused.incr();
            return;
        };
        let command = OrderCommand::New { order_id, request, sent_local_ns: sys::mono_now() };
        match self.venues[venue].orders.push(command) {
            Ok(()) => {
                self.health_on_sent(venue, order_id);
                self.journal(JournalEvent::Command(command));
                self.counters.risk_orders_sent.incr();
            }
            Err(PushError::Full(_)) => {
                self.orders.forget(order_id);
                self.counters.order_queue_full.incr();
                if let Some(v) = self.stats.venues.get(venue) {
                    v.order_queue_full.incr();
                }
                self.counters.risk_orders_refused.incr();
            }
        }
    }
}
