//! The risk gate's own actions: the timer tick (global risk level, emergency-stop triggers,
//! flatten retries) and the control commands (`qt ess trigger|reset|status`).
//!
//! On every engine timer tick ([`RiskGate::tick`]):
//! 1. each account's equity and exposure are computed (marked to mid) and fed to its loss
//!    windows and its venue chain's outage watch — every venue of the chain unhealthy for
//!    `outage_after` trips the stop (`ExchangeOutage`);
//! 2. the global level is recomputed from the whole portfolio; a change is a `risk.updated` log
//!    line and updates the `level` gauge and `level_changes` counter; entering CRITICAL trips the
//!    stop (`GlobalRiskCritical`); crossing a drawdown from peak equity of `max_drawdown` trips it
//!    (`DrawdownBreach`) — both on the edge, so a reset is not undone by the same condition;
//! 3. while the stop is halted and positions remain, flatten orders are re-sent every
//!    `flatten_retry` (only for instruments with no flatten order still working).
//!
//! A trip runs the emergency-stop plan at once: halt (the gate's first check), cancel every
//! order of every account, flatten every open position with a reduce-only IOC limit at the touch
//! ± the slippage cap, then latch. Only an authenticated reset re-arms the stop; it is logged
//! with who and when.
//!
//! Thread: the core thread. Contract: no allocation after the first tick (the portfolio scratch
//! is sized once), no lock, no syscall; the log lines are on the cold paths of a level change, a
//! trip and a reset, which are rare by construction.

use crate::account::mark;
use crate::ess::{EssState, ResetToken, TriggerSource, capped_price, flatten_request};
use crate::gate::RiskGate;
use crate::global_level::RiskInputs;
use qt_core::log_ring::FieldValue;
use qt_core::{
    AccountId, InstrumentId, MarketView, Nanos, Notional, RiskAction, RiskActions, RiskCommand, RiskReply, Rounding,
    Side,
};

impl RiskGate {
    /// The timer tick; see the module docs.
    pub fn tick(&mut self, view: &MarketView<'_>, venue_healthy: &[bool], out: &mut RiskActions) {
        let now = view.now;
        let n = view.instruments.len() * self.accounts.len();
        if self.scratch.capacity() < n {
            // Once, on the first tick: the portfolio's size is fixed for the run.
            self.scratch.reserve(n);
        }
        self.scratch.clear();
        for inst in view.instruments.iter() {
            self.units.learn(inst);
        }
        let mut total = Notional::ZERO;
        let mut known = true;
        let mut outage = None;
        for i in 0..self.accounts.len() {
            let id = AccountId(i as u16);
            let account = &mut self.accounts[i];
            if account.observe_venues(venue_healthy, now) {
                outage = Some(i);
            }
            match account.exposure_with(&self.units, id, view, self.settings.max_mark_age) {
                Ok(e) => {
                    account.observe_equity(now, e.equity);
                    total = Notional::from_units(total.units().saturating_add(e.equity.units()));
                }
                Err(_) => known = false,
            }
            for inst in view.instruments.iter() {
                let Some(p) = view.positions.get(id, inst.id()).filter(|p| p.is_open()) else { continue };
                let Ok(mid) = mark(view, inst.id(), self.settings.max_mark_age) else { continue };
                if let Ok(v) = inst.notional(mid, p.qty(), Rounding::Nearest)
                    && self.scratch.len() < self.scratch.capacity()
                {
                    self.scratch.push((inst.id(), v));
                }
            }
        }
        if let Some(i) = outage {
            qt_core::core_log!(
                Error, "ess: every venue of an account's chain has been unhealthy", 0;
                account = FieldValue::text(&self.accounts[i].spec().name),
                unhealthy_ms = self.settings.outage_after.0 / Nanos::MILLI.0
            );
            self.trip(TriggerSource::ExchangeOutage, view, out);
        }
        if known {
            let inputs = RiskInputs { equity: total, positions: &self.scratch };
            let mut to_critical = false;
            if let Some(change) = self.global.update(now, &inputs) {
                to_critical = change.to == crate::global_level::GlobalRiskLevel::Critical;
                self.counters.level.set(change.to as u64);
                self.counters.level_changes.incr();
                let s = self.global.signals();
                qt_core::core_log!(
                    Warn, "risk.updated", 0;
                    from = change.from.name(), to = change.to.name(), signal = change.reason.name(),
                    drawdown = s.drawdown.to_text(), leverage = s.leverage.to_text(),
                    concentration = s.concentration.to_text(), equity = total.display_rounded(2)
                );
            }
            // Automatic triggers fire on the edge (entering CRITICAL, crossing the drawdown
            // limit), so a reset is not undone at once by a condition the operator has seen.
            if to_critical {
                self.trip(TriggerSource::GlobalRiskCritical, view, out);
            }
            let breached = self.global.signals().drawdown >= self.settings.max_drawdown;
            if breached && !self.drawdown_breached {
                self.trip(TriggerSource::DrawdownBreach, view, out);
            }
            self.drawdown_breached = breached;
        } else {
            self.counters.level_skipped.incr();
        }
        if self.ess.is_halted() && now.saturating_sub(self.last_flatten) >= self.settings.flatten_retry {
            self.flatten(view, out);
        }
    }

    /// Trips the stop from `source`; the first trip runs the plan (cancel all, flatten, latch).
    fn trip(&mut self, source: TriggerSource, view: &MarketView<'_>, out: &mut RiskActions) -> bool {
        self.counters.triggers(source).incr();
        let Some(actions) = self.ess.trigger(source, view.now) else { return false };
        self.counters.ess_state.set(1);
        qt_core::core_log!(
            Error, "ess: TRIGGERED — halting new orders, cancelling all, flattening", 0;
            source = actions.source.name()
        );
        for i in 0..self.accounts.len() {
            out.push(RiskAction::CancelAll(AccountId(i as u16)));
        }
        self.flatten(view, out);
        if self.ess.latch() {
            self.counters.ess_state.set(2);
        }
        true
    }

    /// One flatten round: a reduce-only IOC order per open position without a working flatten
    /// order, priced off the touch within the slippage cap.
    fn flatten(&mut self, view: &MarketView<'_>, out: &mut RiskActions) {
        self.last_flatten = view.now;
        for a in 0..self.accounts.len() {
            let account = AccountId(a as u16);
            for inst in view.instruments.iter() {
                let Some(p) = view.positions.get(account, inst.id()).filter(|p| p.is_open()) else { continue };
                if working_flatten(view, account, inst.id()) {
                    continue;
                }
                let side = if p.qty().is_positive() { Side::Sell } else { Side::Buy };
                let touch = view.book(inst.id()).and_then(|b| b.best(side.opposite())).map(|l| l.price);
                let price = touch.and_then(|t| capped_price(side, t, inst.tick(), self.settings.flatten_slippage));
                let (Some(price), Ok(qty)) = (price, p.qty().checked_abs()) else {
                    self.counters.flatten_unpriced.incr();
                    continue;
                };
                if out.push(RiskAction::Flatten(flatten_request(account, inst.id(), side, price, qty))) {
                    self.counters.flatten_orders.incr();
                }
            }
        }
    }

    /// A control command from `qt ess ...`.
    pub fn command(&mut self, command: &RiskCommand, view: &MarketView<'_>, out: &mut RiskActions) -> RiskReply {
        match command {
            RiskCommand::EssTrigger { reason } => {
                qt_core::core_log!(Error, "ess: manual trigger requested", 0; reason = reason);
                if self.trip(TriggerSource::Manual, view, out) {
                    RiskReply::new(
                        true,
                        format_args!(
                            "emergency stop TRIGGERED (manual: {reason}); cancel-all sent to {} account(s), {} flatten order(s); latched",
                            self.accounts.len(),
                            out.as_slice().iter().filter(|a| matches!(a, RiskAction::Flatten(_))).count()
                        ),
                    )
                } else {
                    RiskReply::new(true, format_args!("emergency stop was already halted; trigger counted"))
                }
            }
            RiskCommand::EssReset { operator, timestamp_ms, mac, received_unix_ms } => {
                let token = ResetToken { timestamp_ms: *timestamp_ms, mac: *mac };
                let at = Nanos(received_unix_ms.saturating_mul(Nanos::MILLI.0));
                match self.ess.reset(&token, operator.as_str(), at) {
                    Ok(record) => {
                        self.counters.ess_resets.incr();
                        self.counters.ess_state.set(0);
                        qt_core::core_log!(
                            Warn, "ess: RESET by operator; trading re-enabled", 0;
                            operator = FieldValue::text(record.operator.as_str()), at_ms = *received_unix_ms,
                            token_ms = record.token_ms, tripped_by = record.source.name()
                        );
                        RiskReply::new(
                            true,
                            format_args!(
                                "emergency stop reset by {} (tripped by {}); trading re-enabled",
                                record.operator,
                                record.source.name()
                            ),
                        )
                    }
                    Err(e) => {
                        self.counters.ess_resets_refused.incr();
                        qt_core::core_log!(
                            Warn, "ess: reset refused", 0;
                            operator = operator, why = FieldValue::display(&e)
                        );
                        RiskReply::new(false, format_args!("reset refused: {e}"))
                    }
                }
            }
            RiskCommand::Status => {
                let state = match self.ess.state() {
                    EssState::Armed => "armed",
                    EssState::Triggered { .. } => "triggered",
                    EssState::Latched { .. } => "latched",
                };
                let source = match self.ess.state() {
                    EssState::Triggered { source, .. } | EssState::Latched { source, .. } => source.name(),
                    EssState::Armed => "-",
                };
                let c = |s: TriggerSource| self.ess.trigger_count(s);
                RiskReply::new(
                    true,
                    format_args!(
                        "ess {state} (source {source}); triggers global_risk_critical {} manual {} exchange_outage {} drawdown_breach {}; resets {}; risk level {}",
                        c(TriggerSource::GlobalRiskCritical),
                        c(TriggerSource::Manual),
                        c(TriggerSource::ExchangeOutage),
                        c(TriggerSource::DrawdownBreach),
                        self.ess.reset_count(),
                        self.global.level().name()
                    ),
                )
            }
        }
    }
}

/// Whether a flatten order for (`account`, `instrument`) is still working.
fn working_flatten(view: &MarketView<'_>, account: AccountId, instrument: InstrumentId) -> bool {
    view.orders.iter().any(|o| {
        o.request.strategy == crate::ess::ESS_STRATEGY
            && o.request.account == account
            && o.request.instrument == instrument
    })
}
