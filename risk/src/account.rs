//! Accounts as the risk gate sees them: a capital profile's resolved limits, an ordered venue
//! chain, a strategy whitelist, starting capital, and the per-account risk state (loss windows,
//! order-rate window, outage watch).
//!
//! Equity is computed, never stored: starting capital + Σ over the account's instruments of
//! (realized PnL incl. funding − fees + unrealized PnL marked to the book's mid). The positions
//! themselves live in the core's [`qt_core::position::PositionBook`]; [`AccountRisk::exposure`]
//! reads them through the [`MarketView`] in one pass, so equity is current at every check.
//! Risk is isolated: each account has its own state and limits; a breach of one account's
//! limits blocks only that account.
//!
//! Thread: built at start-up (allocates the whitelist and rate ring), then owned by the core
//! thread. `exposure` and every check are integer arithmetic on `Copy` values: no allocation, no
//! lock, no syscall. Settlement currency: the equity sums notionals of every instrument the
//! account holds, so an account must trade instruments settled in one currency (config checks
//! this).

use crate::ess::OutageWatch;
use crate::loss_window::{LossStatus, LossWindows};
use crate::order_rate::OrderRateWindow;
use crate::profile::{CapitalProfile, ProfileLimits};
use crate::unit_notional::UnitNotionals;
use qt_core::{AccountId, BlockReason, MarketView, Nanos, Notional, Rounding, StrategyId, VenueId};

/// One account's configuration, validated at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// Name (for logs and the summary).
    pub name: String,
    /// The capital profile its limits came from.
    pub profile: CapitalProfile,
    /// The profile's defaults with the account's overrides, resolved and validated.
    pub limits: ProfileLimits,
    /// Capital at start, in settlement currency; > 0.
    pub starting_equity: Notional,
    /// Venues the account may use, in order of preference (the outage watch needs all down).
    pub venues: Vec<VenueId>,
    /// Strategies allowed to trade for the account.
    pub strategies: Vec<StrategyId>,
    /// Optional cap on one instrument's absolute position notional (valued at mid).
    pub max_position_notional: Option<Notional>,
}

/// What an account holds right now, from one pass over its positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exposure {
    /// Starting capital + realized (incl. funding) − fees + unrealized at mid.
    pub equity: Notional,
    /// Σ |position notional at mid|.
    pub gross: Notional,
    /// Instruments with a non-zero position.
    pub open_positions: u32,
}

/// One account's risk state on the core thread.
#[derive(Debug, Clone)]
pub struct AccountRisk {
    spec: AccountSpec,
    allowed: Vec<bool>,
    loss: Option<LossWindows>,
    rate: OrderRateWindow,
    outage: OutageWatch,
}

impl AccountRisk {
    /// The state for `spec`; `outage_after` is how long every venue of the chain must be
    /// unhealthy before the outage watch fires.
    pub fn new(spec: AccountSpec, outage_after: Nanos) -> Self {
        let top = spec.strategies.iter().map(|s| s.index() + 1).max().unwrap_or(0);
        let mut allowed = vec![false; top];
        for s in &spec.strategies {
            allowed[s.index()] = true;
        }
        let rate = OrderRateWindow::new(spec.limits.max_order_rate);
        Self { spec, allowed, loss: None, rate, outage: OutageWatch::new(outage_after) }
    }

    /// The configuration.
    #[inline]
    pub fn spec(&self) -> &AccountSpec {
        &self.spec
    }

    /// Sets the capital equity and losses are measured from (a live run's venue balances when
    /// below the configured starting equity); the loss windows reopen from it at the next
    /// observation.
    pub fn set_capital(&mut self, equity: Notional) {
        self.spec.starting_equity = equity;
        self.loss = None;
    }

    /// The resolved limits.
    #[inline]
    pub fn limits(&self) -> &ProfileLimits {
        &self.spec.limits
    }

    /// Whether `strategy` is on the whitelist.
    #[inline]
    pub fn allows(&self, strategy: StrategyId) -> bool {
        self.allowed.get(strategy.index()).copied().unwrap_or(false)
    }

    /// Equity, gross exposure and open positions of `account`, marked to each book's mid.
    /// An open position whose book is invalid, one-sided or older than `max_mark_age` (domain
    /// time) makes the equity unknowable: `Err` with the reason, so the caller blocks.
    #[inline]
    pub fn exposure(
        &self,
        account: AccountId,
        view: &MarketView<'_>,
        max_mark_age: Nanos,
    ) -> Result<Exposure, BlockReason> {
        self.exposure_with(&UnitNotionals::EMPTY, account, view, max_mark_age)
    }

    /// [`AccountRisk::exposure`] valuing positions through the gate's unit-notional cache.
    #[inline]
    pub(crate) fn exposure_with(
        &self,
        units: &UnitNotionals,
        account: AccountId,
        view: &MarketView<'_>,
        max_mark_age: Nanos,
    ) -> Result<Exposure, BlockReason> {
        let mut equity = self.spec.starting_equity.units();
        let mut gross: i128 = 0;
        let mut open = 0u32;
        for inst in view.instruments.iter() {
            let Some(p) = view.positions.get(account, inst.id()) else { continue };
            if p.fills() == 0 && p.realized().is_zero() {
                continue;
            }
            equity = equity.saturating_add(p.realized().units()).saturating_sub(p.fees().units());
            if !p.is_open() {
                continue;
            }
            let mid = position_mark(view, inst.id(), max_mark_age)?;
            let value = units.notional(inst, mid, p.qty(), Rounding::Nearest).map_err(|_| BlockReason::Leverage)?;
            // Spot and linear: unrealized = value at mid − entry notional, reusing the value
            // (one notional computation fewer per position per check).
            let pnl = if inst.kind() == qt_core::InstrumentKind::InversePerpetual {
                p.unrealized(inst, mid).map_err(|_| BlockReason::Leverage)?
            } else {
                Notional::from_units(value.units().saturating_sub(p.entry_notional().units()))
            };
            equity = equity.saturating_add(pnl.units());
            gross = gross.saturating_add(value.units().saturating_abs());
            open += 1;
        }
        Ok(Exposure { equity: Notional::from_units(equity), gross: Notional::from_units(gross), open_positions: open })
    }

    /// Feeds the account's equity at `now` to its loss windows (opened at the first call) and
    /// returns the status.
    #[inline]
    pub fn observe_equity(&mut self, now: Nanos, equity: Notional) -> LossStatus {
        match &mut self.loss {
            Some(w) => w.on_equity(now, equity),
            None => {
                // The windows open with the starting capital as reference, so losses made before
                // the first observation still count.
                let mut w = LossWindows::new(&self.spec.limits, self.spec.starting_equity, now);
                let status = w.on_equity(now, equity);
                self.loss = Some(w);
                status
            }
        }
    }

    /// The loss windows, once opened.
    pub fn loss_windows(&self) -> Option<&LossWindows> {
        self.loss.as_ref()
    }

    /// The order-rate window.
    #[inline]
    pub(crate) fn rate_mut(&mut self) -> &mut OrderRateWindow {
        &mut self.rate
    }

    /// Whether one more order at `now` would exceed the rate limit.
    #[inline]
    pub fn rate_exceeded(&self, now: Nanos) -> bool {
        self.rate.would_exceed(now)
    }

    /// Feeds venue health (indexed by [`VenueId`]); returns `true` once when every venue of the
    /// chain has been unhealthy for the configured time. A venue id beyond `healthy` counts as
    /// healthy (unknown is not evidence of an outage).
    #[inline]
    pub fn observe_venues(&mut self, healthy: &[bool], now: Nanos) -> bool {
        let chain = &self.spec.venues;
        if chain.is_empty() {
            return false;
        }
        let all_down = chain.iter().all(|v| !healthy.get(v.index()).copied().unwrap_or(true));
        // OutageWatch takes a health slice; one element says "all down" or "one up".
        self.outage.on_health(&[!all_down], now)
    }
}

/// The mark of a position held in `instrument`: its own book's mid ([`mark`]), or, while that
/// book is invalid or stale (its venue down), the mid of a sibling listing's book — the same
/// canonical instrument at another venue, on the same grid (docs/FAILOVER.md): a position left
/// at a venue that went dark is still valued, so the account's other venues can trade.
#[inline]
pub(crate) fn position_mark(
    view: &MarketView<'_>,
    instrument: qt_core::InstrumentId,
    max_age: Nanos,
) -> Result<qt_core::Price, BlockReason> {
    match mark(view, instrument, max_age) {
        Ok(mid) => Ok(mid),
        Err(e) => view.siblings.of(instrument).iter().find_map(|s| mark(view, *s, max_age).ok()).ok_or(e),
    }
}

/// The mid of `instrument`'s book if it is valid, two-sided and fresh (its venue time within
/// `max_age` of the domain time; for a book without venue time, its arrival within `max_age`
/// of the loop's monotonic time).
#[inline]
pub(crate) fn mark(
    view: &MarketView<'_>,
    instrument: qt_core::InstrumentId,
    max_age: Nanos,
) -> Result<qt_core::Price, BlockReason> {
    let Some(book) = view.book(instrument) else { return Err(BlockReason::UnknownInstrument) };
    if !book.is_valid() {
        return Err(BlockReason::BookInvalid);
    }
    // A venue whose books carry no time (Firi's polled depth: `exchange_ns` 0) is judged by
    // when its last body arrived, on the loop's monotonic clock.
    let age = if book.last_exchange_ns() == Nanos::ZERO {
        view.local_now.saturating_sub(book.last_local_ns())
    } else {
        view.now.saturating_sub(book.last_exchange_ns())
    };
    if age > max_age {
        return Err(BlockReason::BookStale);
    }
    book.mid().ok_or(BlockReason::BookInvalid)
}
