//! The engine's side of a strategy swap ([`crate::strategy::swap`]) and of control commands
//! scheduled at a domain time.
//!
//! A swap is carried out on the core thread between two inputs (a control command is an input
//! of its own, journaled before anything it causes): the version is checked (it must grow, so
//! a repeated command is refused), under cancel-replace a cancel goes out for each of the
//! strategy's working orders, then the strategy takes the new parameters in place
//! ([`crate::Strategy::swap`]) — no box is swapped, nothing is allocated. Positions are the
//! engine's and are not touched; the strategy keeps its id, so reports of the orders working
//! at the swap reach the new version. The answer is journaled (`ControlAnswer`, so `qt replay`
//! compares it) and sent to whoever asked; the swap is kept for the run summary.

use super::*;
use crate::money::Qty;
use crate::orders::OrderStatus;
use crate::strategy::swap::SwapPolicy;

/// "No scheduled control": later than any domain time.
pub(super) const NEVER: Nanos = Nanos(i64::MAX);

/// Swaps kept for the run summary (more are carried out, not kept).
pub const MAX_SWAP_EVENTS: usize = 64;

/// One swap carried out, for the run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapEvent {
    /// Domain time it was carried out.
    pub at: Nanos,
    /// The strategy.
    pub strategy: crate::StrategyId,
    /// Version before and after.
    pub versions: (u32, u32),
    /// The hand-over policy.
    pub policy: SwapPolicy,
    /// The strategy's working orders at the swap.
    pub working: u32,
    /// Of those, the ones the new version tracks as in flight.
    pub adopted: u32,
    /// Cancels sent by the policy (cancel-replace).
    pub cancels_sent: u32,
    /// The account's position in the strategy's instrument just before and just after.
    pub position: (Qty, Qty),
}

impl<R: PreTradeCheck> Core<R> {
    /// Carries out one control command (already stamped with `domain_now`), journaling it
    /// first. Returns true when it asks the loop to stop.
    pub(super) fn control(&mut self, cmd: ControlCommand) -> bool {
        self.journal_attachment(JournalAttachment::Control(cmd));
        match cmd {
            ControlCommand::Shutdown => return true,
            ControlCommand::CancelAll(account) => self.cancel_all(account, None),
            ControlCommand::Risk { id, command } => self.risk_command(id, &command),
            ControlCommand::StrategySwap { id, swap } => self.swap_strategy(id, &swap),
            ControlCommand::VenueHealth { venue, healthy } => {
                if let Some(h) = self.venue_reported.get_mut(venue.index()) {
                    *h = healthy;
                }
            }
            ControlCommand::Funding { account, instrument, amount } => {
                match self.positions.get_mut(account, instrument).map(|p| p.apply_funding(amount)) {
                    Some(Ok(())) => self.counters.funding_payments.incr(),
                    _ => self.counters.accounting_errors.incr(),
                }
                self.publish_position(account, instrument);
            }
            ControlCommand::Position { account, instrument, qty, entry_notional } => {
                match self.positions.get_mut(account, instrument) {
                    Some(p) => p.set_open(qty, entry_notional),
                    None => self.counters.accounting_errors.incr(),
                }
                self.publish_position(account, instrument);
            }
            ControlCommand::Capital { account, equity } => {
                if !self.risk.set_capital(account, equity) {
                    self.counters.accounting_errors.incr();
                }
            }
        }
        false
    }

    /// Carries out every scheduled control due at `domain_now` (a market record is arriving).
    #[cold]
    pub(super) fn run_scheduled(&mut self) {
        while let Some(&(at, cmd)) = self.scheduled.last() {
            if at > self.domain_now {
                break;
            }
            self.scheduled.pop();
            if self.control(cmd) {
                self.stop_requested = true;
            }
        }
        self.next_scheduled = self.scheduled.last().map_or(NEVER, |(t, _)| *t);
    }

    /// A strategy swap: checks, the policy's cancels, the strategy's own hand-over, the answer.
    #[cold]
    fn swap_strategy(&mut self, id: u64, swap: &StrategySwap) {
        let reply = self.try_swap(swap);
        self.journal_attachment(JournalAttachment::ControlAnswer { id, reply });
        if id != 0 && self.replies.as_ref().is_none_or(|tx| tx.try_send((id, reply)).is_err()) {
            self.counters.control_replies_dropped.incr();
        }
    }

    fn try_swap(&mut self, swap: &StrategySwap) -> RiskReply {
        let index = swap.strategy.index();
        let Some(strategy) = self.strategies.get(index) else {
            return RiskReply::new(false, format_args!("no strategy {} in this engine", swap.strategy.0));
        };
        let from = strategy.version();
        if swap.version <= from {
            return RiskReply::new(
                false,
                format_args!("strategy {} runs version {from}: a swap must name a later version", swap.strategy.0),
            );
        }
        let (account, instrument) = (strategy.account(), strategy.instruments().first().copied());
        let position_now =
            |core: &Self| instrument.and_then(|i| core.positions.get(account, i)).map_or(Qty::ZERO, |p| p.qty());
        let before = position_now(self);
        // Check the parameters before any cancel goes out: a refused swap changes nothing.
        let view = view!(self);
        if let Err(why) = self.strategies[index].check_swap(swap, &view) {
            return RiskReply::new(false, format_args!("strategy {}: {}", swap.strategy.0, why.text()));
        }
        let mut cancels_sent = 0u32;
        if swap.policy == SwapPolicy::CancelReplace {
            cancels_sent = self.cancel_strategy_orders(swap.strategy);
        }
        let view = view!(self);
        let applied = match self.strategies[index].swap(swap, &view) {
            Ok(applied) => applied,
            // Checked above; a strategy refusing now has changed nothing (cancels may be out).
            Err(why) => return RiskReply::new(false, format_args!("strategy {}: {}", swap.strategy.0, why.text())),
        };
        let after = position_now(self);
        if swap.policy == SwapPolicy::Drop {
            crate::core_log!(
                Warn, "strategy swapped with no hand-over (swap_policy drop: test only)", 0;
                strategy = swap.strategy.0, working = applied.working
            );
        }
        let event = SwapEvent {
            at: self.domain_now,
            strategy: swap.strategy,
            versions: (from, swap.version),
            policy: swap.policy,
            working: applied.working,
            adopted: applied.adopted,
            cancels_sent,
            position: (before, after),
        };
        if self.swaps.len() < self.swaps.capacity() {
            self.swaps.push(event);
        }
        RiskReply::new(
            true,
            format_args!(
                "strategy {} version {from} -> {} ({}): {} working order(s), {} handed over, {} cancel(s) sent; \
                 position {} units unchanged",
                swap.strategy.0,
                swap.version,
                swap.policy.name(),
                applied.working,
                applied.adopted,
                cancels_sent,
                after.units()
            ),
        )
    }

    /// Sends a cancel for each of `strategy`'s working orders without one; returns how many.
    fn cancel_strategy_orders(&mut self, strategy: crate::StrategyId) -> u32 {
        let mut sent = 0;
        let mut after = OrderId(0);
        // Oldest first, one table pass per order (cold; no allocation).
        while let Some(next) = self
            .orders
            .iter()
            .filter(|o| o.request.strategy == strategy && o.id > after && o.status != OrderStatus::PendingCancel)
            .map(|o| o.id)
            .min()
        {
            after = next;
            self.cancel(next);
            if self.orders.get(next).is_some_and(|o| o.status == OrderStatus::PendingCancel) {
                sent += 1;
            }
        }
        sent
    }
}
