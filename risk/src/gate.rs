//! [`RiskGate`]: the full pre-trade gate, run inline on the core thread for every strategy order.
//!
//! Checks, in this order, stopping at the first that blocks:
//!
//! 1. emergency stop halted → `EmergencyStop`;
//! 2. global risk level CRITICAL → `GlobalRiskCritical`;
//! 3. the account's daily / weekly loss limit (UTC day / ISO week, on equity = starting capital +
//!    realized − fees + unrealized at mid) → `DailyLossLimit` / `WeeklyLossLimit`. An unknown
//!    account → `StrategyNotAllowed`; an open position whose mark is invalid or stale makes the
//!    equity unknowable → `BookInvalid` / `BookStale` here already. Orders that only reduce a
//!    position pass a breached loss limit (stopping losses must stay possible);
//! 4. the strategy whitelist → `StrategyNotAllowed`;
//! 5. instrument known, book valid and fresh (`view.now − last update ≤ max_mark_age`) →
//!    `UnknownInstrument` / `BookInvalid` / `BookStale`; price and quantity on the grid →
//!    `OffGrid`; at least the venue minimum quantity and notional → `BelowMinimum`;
//! 6. price band: `|limit − mid| ≤ price_band × mid` → `PriceBand` (fat-finger guard);
//! 7. gross leverage after a full fill `≤ max_leverage × equity` → scale down / `Leverage`;
//! 8. single-trade risk: `|notional(price) − notional(stop)| ≤ max_single_trade_risk × equity`,
//!    the stop being the order's `stop_price` (at least one tick away) or, without one,
//!    `default_stop_distance` of the price → scale down / `SingleTradeRisk`;
//! 9. order notional `≤ max_order_notional` → scale down / `MaxOrderNotional`; the optional
//!    per-instrument position cap → scale down / `MaxPosition`; a new position beyond
//!    `max_open_positions` → `MaxOpenPositions`;
//! 10. order rate (sliding window) → `OrderRate`.
//!
//! Checks 7, 8 and the position cap apply to orders that add exposure; a reducing order (opposite
//! side, at most the open quantity) always passes them. A scale-down rounds down to the lot; no
//! room at all blocks with the check's reason, some room below the venue minimum quantity or
//! notional blocks with `BelowMinimum`. Later checks see the scaled quantity; a `ScaleDown`
//! carries the reason of the last check that reduced it.
//!
//! Thread: the core thread (the engine owns the gate). Contract: every check is exact integer
//! arithmetic (prices, quantities and notionals on their grids, ratios as [`Rate`]); no
//! allocation, no lock, no syscall — one pass over the account's positions for equity and gross
//! exposure, then constant work. The gate also owns the [`EmergencyStop`] and the [`GlobalRisk`]
//! level, so checks 1 and 2 are two loads.

use crate::account::{AccountRisk, AccountSpec, Exposure, mark};
use crate::counters::RiskCounters;
use crate::ess::{EmergencyStop, TriggerSource};
use crate::global_level::GlobalRisk;
use crate::loss_window::LossStatus;
use crate::unit_notional::UnitNotionals;
use qt_core::{
    BlockReason, DecisionInputs, Instrument, MarketView, Nanos, Notional, OrderRequest, PreTradeCheck, Price, Qty,
    Rate, RiskDecision, Rounding,
};

/// Gate-wide settings (the same for every account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSettings {
    /// Largest `|limit price − mid| / mid` accepted (fat-finger guard); in (0, 1).
    pub price_band: Rate,
    /// A book (mark price) older than this, in domain time, is stale.
    pub max_mark_age: Nanos,
    /// Stop distance assumed, as a fraction of the price, for an order without a stop price;
    /// in (0, 1).
    pub default_stop_distance: Rate,
    /// How long every venue of an account's chain must be unhealthy before the outage trigger.
    pub outage_after: Nanos,
    /// Flatten orders are priced at most this fraction through the touch; in [0, 1).
    pub flatten_slippage: Rate,
    /// While the stop is halted and positions remain, flatten orders are re-sent this often.
    pub flatten_retry: Nanos,
    /// Drawdown from peak equity (all accounts) that trips the emergency stop; in (0, 1).
    pub max_drawdown: Rate,
}

impl Default for GateSettings {
    /// 5 % price band, 5 s mark age, 1 % default stop distance, 30 s outage, 0.5 % flatten
    /// slippage re-sent every second, 15 % drawdown trigger.
    fn default() -> Self {
        Self {
            price_band: Rate::from_bps(500),
            max_mark_age: Nanos(5 * Nanos::SECOND.0),
            default_stop_distance: Rate::from_bps(100),
            outage_after: Nanos(30 * Nanos::SECOND.0),
            flatten_slippage: Rate::from_bps(50),
            flatten_retry: Nanos::SECOND,
            max_drawdown: Rate::from_bps(1_500),
        }
    }
}

/// A gate that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// No accounts.
    #[error("accounts: at least one account is required")]
    NoAccounts,
    /// A value that must be positive is not.
    #[error("{field}: must be greater than zero, got {value}")]
    NotPositive {
        /// Field path.
        field: String,
        /// The value, as text.
        value: String,
    },
    /// A fraction outside (0, 1).
    #[error("{field}: must be a fraction in (0, 1), got {value}")]
    NotFraction {
        /// Field path.
        field: &'static str,
        /// The value.
        value: Rate,
    },
}

/// The full pre-trade gate. See the module docs for the checks and their order.
#[derive(Debug)]
pub struct RiskGate {
    pub(crate) settings: GateSettings,
    pub(crate) accounts: Vec<AccountRisk>,
    pub(crate) ess: EmergencyStop,
    pub(crate) global: GlobalRisk,
    last: DecisionInputs,
    pub(crate) counters: std::sync::Arc<RiskCounters>,
    /// Portfolio snapshot for the global level, sized on the first timer tick and reused.
    pub(crate) scratch: Vec<(qt_core::InstrumentId, Notional)>,
    /// Domain time of the last flatten round.
    pub(crate) last_flatten: Nanos,
    /// Whether the drawdown was at or above the trigger at the last tick (edge detection).
    pub(crate) drawdown_breached: bool,
    pub(crate) units: UnitNotionals,
}

impl RiskGate {
    /// A gate over `accounts` (indexed by [`qt_core::AccountId`]), validating what types cannot.
    pub fn new(
        accounts: Vec<AccountSpec>,
        settings: GateSettings,
        ess: EmergencyStop,
        global: GlobalRisk,
    ) -> Result<Self, GateError> {
        if accounts.is_empty() {
            return Err(GateError::NoAccounts);
        }
        for (field, value) in [
            ("risk.price_band", settings.price_band),
            ("risk.default_stop_distance", settings.default_stop_distance),
            ("ess.max_drawdown", settings.max_drawdown),
        ] {
            if value <= Rate::ZERO || value >= Rate::ONE {
                return Err(GateError::NotFraction { field, value });
            }
        }
        if settings.flatten_slippage < Rate::ZERO || settings.flatten_slippage >= Rate::ONE {
            return Err(GateError::NotFraction { field: "ess.flatten_slippage", value: settings.flatten_slippage });
        }
        if settings.max_mark_age <= Nanos::ZERO {
            return Err(GateError::NotPositive {
                field: "risk.max_mark_age".into(),
                value: format!("{} ns", settings.max_mark_age.0),
            });
        }
        for (i, a) in accounts.iter().enumerate() {
            if a.starting_equity <= Notional::ZERO {
                return Err(GateError::NotPositive {
                    field: format!("accounts[{i}].starting_equity"),
                    value: a.starting_equity.to_string(),
                });
            }
        }
        let accounts = accounts.into_iter().map(|a| AccountRisk::new(a, settings.outage_after)).collect();
        Ok(Self {
            settings,
            accounts,
            ess,
            global,
            last: DecisionInputs::default(),
            counters: std::sync::Arc::new(RiskCounters::default()),
            scratch: Vec::new(),
            last_flatten: Nanos(i64::MIN),
            drawdown_breached: false,
            units: UnitNotionals::default(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &GateSettings {
        &self.settings
    }

    /// The accounts' risk state, indexed by account id.
    pub fn accounts(&self) -> &[AccountRisk] {
        &self.accounts
    }

    /// The emergency stop.
    pub fn ess(&self) -> &EmergencyStop {
        &self.ess
    }

    /// The emergency stop, mutably (tests and the control path).
    pub fn ess_mut(&mut self) -> &mut EmergencyStop {
        &mut self.ess
    }

    /// The global risk level.
    pub fn global(&self) -> &GlobalRisk {
        &self.global
    }

    /// Counters of the emergency stop and the global level, readable from any thread.
    pub fn counters(&self) -> std::sync::Arc<RiskCounters> {
        self.counters.clone()
    }

    /// The body of [`PreTradeCheck::check`]; `Err` is the decision when a check stops early.
    #[inline]
    fn decide(&mut self, request: &OrderRequest, view: &MarketView<'_>) -> Result<RiskDecision, RiskDecision> {
        use RiskDecision::Block;
        let now = view.now;
        self.last = DecisionInputs { level: self.global.level() as u8, ..DecisionInputs::default() };
        // 1, 2.
        if self.ess.is_halted() {
            return Err(Block(BlockReason::EmergencyStop));
        }
        if self.global.is_critical() {
            return Err(Block(BlockReason::GlobalRiskCritical));
        }
        let max_age = self.settings.max_mark_age;
        let Some(account) = self.accounts.get_mut(request.account.index()) else {
            return Err(Block(BlockReason::StrategyNotAllowed));
        };
        // 3.
        if let Some(inst) = view.instrument(request.instrument) {
            self.units.learn(inst);
        }
        let u = &self.units;
        let exposure = account.exposure_with(u, request.account, view, max_age).map_err(Block)?;
        // The canonical instrument's position (every venue listing it): routing may put the
        // account's orders in it at any of them, and the cap is per instrument, not per venue.
        let position = view.canonical_qty(request.account, request.instrument);
        self.last.equity = exposure.equity;
        self.last.gross = exposure.gross;
        self.last.position = position;
        let reduces = reduces(position, request);
        match account.observe_equity(now, exposure.equity) {
            LossStatus::Ok => {}
            _ if reduces => {}
            LossStatus::DailyBreached => return Err(Block(BlockReason::DailyLossLimit)),
            LossStatus::WeeklyBreached => return Err(Block(BlockReason::WeeklyLossLimit)),
        }
        // 4.
        if !account.allows(request.strategy) {
            return Err(Block(BlockReason::StrategyNotAllowed));
        }
        // 5.
        let Some(inst) = view.instrument(request.instrument) else {
            return Err(Block(BlockReason::UnknownInstrument));
        };
        let mid = mark(view, request.instrument, max_age).map_err(Block)?;
        self.last.mid = mid;
        if !request.price.is_positive()
            || !request.qty.is_positive()
            || !inst.is_on_tick(request.price)
            || !inst.is_on_lot(request.qty)
        {
            return Err(Block(BlockReason::OffGrid));
        }
        let requested_notional = check_minimum(u, inst, request.price, request.qty)?;
        // 6.
        let band = i128::from(self.settings.price_band.units()) * i128::from(mid.units());
        let diff = (i128::from(request.price.units()) - i128::from(mid.units())).abs();
        if diff * i128::from(Rate::ONE.units()) > band {
            return Err(Block(BlockReason::PriceBand));
        }
        let limits = *account.limits();
        let mut qty = request.qty;
        let mut reason = None;
        if !reduces {
            // 7.
            let held = value_abs(u, inst, mid, position)?;
            let others = exposure.gross.units() - held.units();
            let after = value_abs(u, inst, mid, after_fill(position, request, qty))?;
            if after > held && exceeds(others + after.units(), exposure.equity, limits.max_leverage) {
                let cap = cap_of(exposure.equity, limits.max_leverage);
                qty = fit_position(inst, position, request, qty, mid, cap.units() - others, BlockReason::Leverage)?;
                reason = Some(BlockReason::Leverage);
            }
            // 8.
            let stop = Self::stop_for(self.settings.default_stop_distance, inst, request);
            let per_lot = lot_risk(u, inst, request.price, stop)?;
            // Lots as a multiplication check (qty is on the lot grid): no division on this path.
            let lots = match inst.lot().units() {
                1 => qty.units(),
                lot => qty.units() / lot,
            };
            if exceeds(per_lot.saturating_mul(i128::from(lots)), exposure.equity, limits.max_single_trade_risk) {
                let allowed = cap_of(exposure.equity, limits.max_single_trade_risk);
                let fit = allowed.units() / per_lot;
                qty = settle(inst, request.price, lots_qty(inst, fit), BlockReason::SingleTradeRisk)?;
                reason = Some(BlockReason::SingleTradeRisk);
            }
        }
        // 9.
        // Spot and linear notionals are exact, so the one computed for the minimum serves.
        let notional = if qty == request.qty && inst.kind() != qt_core::InstrumentKind::InversePerpetual {
            requested_notional
        } else {
            u.notional(inst, request.price, qty, Rounding::Up).map_err(|_| Block(BlockReason::MaxOrderNotional))?
        };
        if notional > limits.max_order_notional {
            let fit = inst
                .qty_for_notional(request.price, limits.max_order_notional)
                .map_err(|_| Block(BlockReason::MaxOrderNotional))?;
            qty = settle(inst, request.price, fit, BlockReason::MaxOrderNotional)?;
            reason = Some(BlockReason::MaxOrderNotional);
        }
        if !reduces {
            if let Some(cap) = account.spec().max_position_notional {
                let after = value_abs(u, inst, mid, after_fill(position, request, qty))?;
                if after > cap {
                    let before = qty;
                    qty = fit_position(inst, position, request, qty, mid, cap.units(), BlockReason::MaxPosition)?;
                    if qty < before {
                        reason = Some(BlockReason::MaxPosition);
                    }
                }
            }
            if position.is_zero() && exposure.open_positions >= limits.max_open_positions {
                return Err(Block(BlockReason::MaxOpenPositions));
            }
        }
        // 10.
        if account.rate_exceeded(now) {
            return Err(Block(BlockReason::OrderRate));
        }
        account.rate_mut().record(now);
        Ok(match reason {
            Some(reason) if qty < request.qty => RiskDecision::ScaleDown(qty, reason),
            _ => RiskDecision::Allow,
        })
    }

    /// The stop price the single-trade risk is measured to: the order's own (at least one tick
    /// from the price), else `default_stop_distance` of the price on the losing side.
    #[inline]
    fn stop_for(default_stop_distance: Rate, inst: &Instrument, request: &OrderRequest) -> Price {
        let p = i128::from(request.price.units());
        let tick = i128::from(inst.tick().units()).max(1);
        let distance = match request.stop_price {
            Some(stop) => (p - i128::from(stop.units())).abs(),
            // i64 first: a division by a constant compiles to a multiply (an i128 division is a
            // library call, ~40 ns); i128 only if the product does not fit.
            None => match request.price.units().checked_mul(default_stop_distance.units()) {
                Some(d) if d <= i64::MAX - Rate::ONE.units() => {
                    i128::from((d + Rate::ONE.units() - 1) / Rate::ONE.units())
                }
                _ => {
                    let d = p * i128::from(default_stop_distance.units());
                    let one = i128::from(Rate::ONE.units());
                    (d + one - 1) / one
                }
            },
        }
        .max(tick);
        let stop = p - distance * i128::from(request.side.sign());
        Price::from_units(i64::try_from(stop.max(0)).unwrap_or(i64::MAX))
    }

    /// Account `i`'s exposure now, or why it cannot be known.
    pub fn exposure(&self, i: usize, view: &MarketView<'_>) -> Result<Exposure, BlockReason> {
        let a = self.accounts.get(i).ok_or(BlockReason::StrategyNotAllowed)?;
        a.exposure(qt_core::AccountId(i as u16), view, self.settings.max_mark_age)
    }
}

/// Whether `request` only reduces `position`: opposite side, at most the open quantity.
#[inline]
fn reduces(position: Qty, request: &OrderRequest) -> bool {
    position.units().signum() == -request.side.sign() && request.qty.units() <= position.units().saturating_abs()
}

/// The position after `qty` of `request` fills.
#[inline]
fn after_fill(position: Qty, request: &OrderRequest, qty: Qty) -> Qty {
    Qty::from_units(position.units().saturating_add(qty.units().saturating_mul(request.side.sign())))
}

/// `|notional of qty at price|`, a block on overflow.
#[inline]
fn value_abs(u: &UnitNotionals, inst: &Instrument, price: Price, qty: Qty) -> Result<Notional, RiskDecision> {
    u.notional(inst, price, qty, Rounding::Up)
        .and_then(|n| n.checked_abs())
        .map_err(|_| RiskDecision::Block(BlockReason::Leverage))
}

/// `equity × rate` rounded down; zero for non-positive equity (nothing to risk).
#[inline]
fn cap_of(equity: Notional, rate: Rate) -> Notional {
    if equity <= Notional::ZERO {
        return Notional::ZERO;
    }
    equity.checked_mul_rate(rate, Rounding::Down).unwrap_or(Notional::ZERO)
}

/// Whether `value` (notional units) is above `equity × rate`, compared by multiplication (no
/// i128 division on the common path); falls back to [`cap_of`] if the products overflow.
#[inline]
fn exceeds(value: i128, equity: Notional, rate: Rate) -> bool {
    match (value.checked_mul(i128::from(Rate::ONE.units())), equity.units().checked_mul(i128::from(rate.units()))) {
        (Some(v), Some(cap)) => v > cap.max(0),
        _ => value > cap_of(equity, rate).units(),
    }
}

/// `lots` lots as a quantity (saturating).
#[inline]
fn lots_qty(inst: &Instrument, lots: i128) -> Qty {
    Qty::from_units(i64::try_from(lots.max(0)).unwrap_or(i64::MAX).saturating_mul(inst.lot().units()))
}

/// Loss per lot if the order fills at `price` and is stopped at `stop`, rounded up.
#[inline]
fn lot_risk(u: &UnitNotionals, inst: &Instrument, price: Price, stop: Price) -> Result<i128, RiskDecision> {
    let block = |_| RiskDecision::Block(BlockReason::SingleTradeRisk);
    if inst.kind() != qt_core::InstrumentKind::InversePerpetual {
        // Linear in price: the loss per lot is the notional of the distance, exactly.
        let distance = Price::from_units(price.units().abs_diff(stop.units()).min(i64::MAX as u64) as i64);
        return Ok(u.notional(inst, distance, inst.lot(), Rounding::Up).map_err(block)?.units().max(1));
    }
    let a = inst.notional(price, inst.lot(), Rounding::Up).map_err(block)?;
    let b = inst.notional(stop, inst.lot(), Rounding::Down).map_err(block)?;
    Ok((a.units() - b.units()).abs().max(1))
}

/// Blocks with `BelowMinimum` if `qty` at `price` is under the venue's minimum quantity or
/// notional.
#[inline]
fn check_minimum(u: &UnitNotionals, inst: &Instrument, price: Price, qty: Qty) -> Result<Notional, RiskDecision> {
    let notional =
        u.notional(inst, price, qty, Rounding::Down).map_err(|_| RiskDecision::Block(BlockReason::OffGrid))?;
    if qty < inst.min_qty() || notional < inst.min_notional() {
        return Err(RiskDecision::Block(BlockReason::BelowMinimum));
    }
    Ok(notional)
}

/// A scaled quantity rounded down to the lot: no room blocks with `reason`, room below the
/// venue minimum blocks with `BelowMinimum`.
#[inline]
fn settle(inst: &Instrument, price: Price, qty: Qty, reason: BlockReason) -> Result<Qty, RiskDecision> {
    let u = &UnitNotionals::EMPTY;
    let qty = inst.round_qty(qty, Rounding::Down).map_err(|_| RiskDecision::Block(reason))?;
    if !qty.is_positive() {
        return Err(RiskDecision::Block(reason));
    }
    check_minimum(u, inst, price, qty)?;
    Ok(qty)
}

/// The largest quantity, at most `qty`, for which the position after the fill is worth at most
/// `room` (notional units) at `mid`.
#[inline]
fn fit_position(
    inst: &Instrument,
    position: Qty,
    request: &OrderRequest,
    qty: Qty,
    mid: Price,
    room: i128,
    reason: BlockReason,
) -> Result<Qty, RiskDecision> {
    let block = RiskDecision::Block(reason);
    if room <= 0 {
        return Err(block);
    }
    let max_abs = inst.qty_for_notional(mid, Notional::from_units(room)).map_err(|_| block)?.units();
    let held = position.units().saturating_abs();
    let fit = if position.units().signum() == -request.side.sign() {
        // Flipping: the part that closes is free, the rest opens against the room.
        held.saturating_add(max_abs)
    } else {
        max_abs - held
    };
    settle(inst, request.price, Qty::from_units(fit.min(qty.units())), reason)
}

impl PreTradeCheck for RiskGate {
    #[inline]
    fn check(&mut self, request: &OrderRequest, view: &MarketView<'_>) -> RiskDecision {
        match self.decide(request, view) {
            Ok(d) | Err(d) => d,
        }
    }

    #[inline]
    fn decision_inputs(&self) -> DecisionInputs {
        self.last
    }

    fn on_timer(&mut self, view: &MarketView<'_>, venue_healthy: &[bool], out: &mut qt_core::RiskActions) {
        self.tick(view, venue_healthy, out);
    }

    fn set_capital(&mut self, account: qt_core::AccountId, equity: Notional) -> bool {
        match self.accounts.get_mut(account.index()) {
            Some(a) if equity > Notional::ZERO => {
                a.set_capital(equity);
                true
            }
            _ => false,
        }
    }

    fn on_command(
        &mut self,
        command: &qt_core::RiskCommand,
        view: &MarketView<'_>,
        out: &mut qt_core::RiskActions,
    ) -> qt_core::RiskReply {
        self.command(command, view, out)
    }

    fn trigger_sources(&self) -> &'static [&'static str] {
        const NAMES: [&str; TriggerSource::COUNT] = {
            let mut n = [""; TriggerSource::COUNT];
            let mut i = 0;
            while i < TriggerSource::COUNT {
                n[i] = TriggerSource::ALL[i].name();
                i += 1;
            }
            n
        };
        &NAMES
    }

    fn publish_stats(
        &self,
        view: &MarketView<'_>,
        out: &qt_core::stats::blocks::RiskStats,
        equity: &mut dyn FnMut(qt_core::AccountId, Notional),
    ) {
        for (slot, source) in out.ess_triggers.iter().zip(TriggerSource::ALL) {
            slot.set(self.counters.triggers(source).get());
        }
        out.ess_latched.set(u64::from(matches!(self.ess().state(), crate::ess::EssState::Latched { .. })));
        out.global_risk_level.set(self.global().level() as u64);
        for i in 0..self.accounts.len() {
            if let Ok(e) = self.exposure(i, view) {
                equity(qt_core::AccountId(i as u16), e.equity);
            }
        }
    }

    fn state(&self) -> qt_core::risk_api::RiskState {
        use crate::ess::EssState;
        use qt_core::risk_api::RiskState;
        let level = self.global().level() as u8;
        match self.ess().state() {
            EssState::Armed => RiskState { level, ..RiskState::default() },
            EssState::Triggered { source, at } => {
                RiskState { ess: RiskState::TRIGGERED, ess_source: source as u8, level, ess_since: at }
            }
            EssState::Latched { source, at } => {
                RiskState { ess: RiskState::LATCHED, ess_source: source as u8, level, ess_since: at }
            }
        }
    }
}

/// A gate for benchmarks and tests: `examples/sim.toml`'s account "alpha" (medium profile,
/// 100 000 USDT, 2 500 USDT per order, 10 000 USDT per instrument, strategy 0, venue 0) with an
/// order rate of one per nanosecond, so the rate check runs but does not trip when a replay
/// sends many orders in the same millisecond. Its emergency-stop key is a fixed, public test
/// key: never trade with this gate.
pub fn sim_alpha_gate() -> RiskGate {
    use crate::profile::{CapitalProfile, OrderRate, ProfileLimits};
    let mut limits = ProfileLimits::defaults(CapitalProfile::Medium);
    limits.max_order_notional = Notional::from_whole(2_500);
    limits.max_order_rate = OrderRate { orders: 1, per: Nanos(1) };
    let spec = AccountSpec {
        name: "alpha".into(),
        profile: CapitalProfile::Medium,
        limits,
        starting_equity: Notional::from_whole(100_000),
        venues: vec![qt_core::VenueId(0)],
        strategies: vec![qt_core::StrategyId(0)],
        max_position_notional: Some(Notional::from_whole(10_000)),
    };
    let ess = EmergencyStop::new(b"public-test-key-not-for-trading", Nanos::SECOND);
    let global = GlobalRisk::new(crate::global_level::GlobalRiskConfig::default());
    match (ess, global) {
        (Ok(ess), Ok(global)) => RiskGate::new(vec![spec], GateSettings::default(), ess, global)
            .unwrap_or_else(|e| unreachable!("the reference gate is valid: {e}")),
        _ => unreachable!("the reference emergency stop and global risk config are valid"),
    }
}
