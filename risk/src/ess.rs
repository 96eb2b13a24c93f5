//! The Emergency Stop System: a latch that halts trading until an authenticated operator resets it.
//!
//! State machine: `Armed` → [`EmergencyStop::trigger`] → `Triggered { source, at }` (the engine
//! runs the returned [`EssActions`]: halt, cancel all open orders, flatten with
//! [`flatten_orders`]) → [`EmergencyStop::latch`] → `Latched { source, at }`. While triggered or
//! latched, [`EmergencyStop::is_halted`] is true and the risk gate blocks every order with
//! `BlockReason::EmergencyStop`. Further triggers only count (per [`TriggerSource`]). Only
//! [`EmergencyStop::reset`] with a valid [`ResetToken`] (HMAC-SHA256 of
//! `"ess-reset:" + operator + ":" + timestamp_ms` under the shared secret, verified in constant
//! time, timestamp within the configured window and newer than the last accepted one, so a token
//! cannot be replayed) returns to `Armed`; each reset is kept in a bounded history (who, when,
//! which source).
//!
//! Threads: the `EmergencyStop` is owned by the core thread, which calls `trigger`, `latch`,
//! `is_halted` and [`OutageWatch::on_health`]; a reset arrives from `qt ess reset` through the
//! authenticated local control channel and is applied on the core thread with `reset`.
//! Contract: nothing here allocates, locks, blocks or makes a syscall after construction —
//! `trigger`, `is_halted`, `latch`, `reset` (the HMAC runs on the stack) and `flatten_orders`
//! (writes into a caller-provided slice) included.

use hmac::{Hmac, Mac};
use qt_core::money::div_round_i128;
use qt_core::{
    AccountId, InstrumentId, Nanos, OrderCommand, OrderRequest, OrderType, Price, Qty, Rate, Rounding, Side,
    StrategyId, TimeInForce,
};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Strategy id stamped on the flatten orders the emergency stop places itself (the core's id
/// for risk-originated orders).
pub const ESS_STRATEGY: StrategyId = qt_core::RISK_STRATEGY;

/// Resets kept in [`EmergencyStop::history`]; older records are overwritten.
pub const RESET_HISTORY: usize = 16;

/// Longest operator name accepted by [`EmergencyStop::reset`], in bytes.
pub const MAX_OPERATOR_LEN: usize = 32;

/// What tripped the emergency stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TriggerSource {
    /// The global risk level reached CRITICAL.
    GlobalRiskCritical = 0,
    /// An operator ran `qt ess trigger`.
    Manual = 1,
    /// Every venue in an account's chain was unhealthy for the configured time ([`OutageWatch`]).
    ExchangeOutage = 2,
    /// The drawdown limit was breached.
    DrawdownBreach = 3,
}

impl TriggerSource {
    /// Number of sources.
    pub const COUNT: usize = 4;
    /// Every source, in discriminant order.
    pub const ALL: [TriggerSource; Self::COUNT] =
        [Self::GlobalRiskCritical, Self::Manual, Self::ExchangeOutage, Self::DrawdownBreach];

    /// The snake_case name used as the `source` label of `ess_triggers_total`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::GlobalRiskCritical => "global_risk_critical",
            Self::Manual => "manual",
            Self::ExchangeOutage => "exchange_outage",
            Self::DrawdownBreach => "drawdown_breach",
        }
    }
}

/// Where the emergency stop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EssState {
    /// Trading allowed.
    Armed,
    /// Tripped; the engine is running the [`EssActions`]. Trading is halted.
    Triggered {
        /// The first source.
        source: TriggerSource,
        /// When it tripped (Unix-epoch ns).
        at: Nanos,
    },
    /// Actions done; halted until an authenticated reset.
    Latched {
        /// The source that tripped it.
        source: TriggerSource,
        /// When it tripped (Unix-epoch ns).
        at: Nanos,
    },
}

/// The plan the engine must carry out once, in order, when the stop trips: (1) halt new orders —
/// already in effect, since [`EmergencyStop::is_halted`] is true from the trigger on; (2) send
/// [`EssActions::cancel_all`] for every account; (3) send the reduce-only IOC orders built by
/// [`flatten_orders`] past the halt check (they are reduce-only); (4) call
/// [`EmergencyStop::latch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EssActions {
    /// What tripped the stop.
    pub source: TriggerSource,
    /// When (Unix-epoch ns).
    pub at: Nanos,
}

impl EssActions {
    /// The command cancelling every open order of `account` on every instrument.
    #[inline]
    pub const fn cancel_all(&self, account: AccountId) -> OrderCommand {
        OrderCommand::CancelAll { account, instrument: None }
    }
}

/// An operator name: 1..=[`MAX_OPERATOR_LEN`] printable ASCII bytes without `:` or spaces, held
/// inline so a [`ResetRecord`] needs no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OperatorName {
    bytes: [u8; MAX_OPERATOR_LEN],
    len: u8,
}

impl OperatorName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, ResetError> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > MAX_OPERATOR_LEN || !b.iter().all(|c| c.is_ascii_graphic() && *c != b':') {
            return Err(ResetError::BadOperator);
        }
        let mut bytes = [0u8; MAX_OPERATOR_LEN];
        bytes[..b.len()].copy_from_slice(b);
        // b.len() ≤ MAX_OPERATOR_LEN = 32, checked above.
        Ok(Self { bytes, len: b.len() as u8 })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only validated ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for OperatorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for OperatorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The credential of a manual reset: the signing time and the HMAC-SHA256 of
/// `"ess-reset:" + operator + ":" + timestamp_ms` under the shared secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ResetToken {
    /// Unix-epoch milliseconds at which the operator's tool signed the token.
    pub timestamp_ms: i64,
    /// The MAC.
    pub mac: [u8; 32],
}

impl ResetToken {
    /// Signs a token (the `qt ess reset` side; also used by tests).
    pub fn sign(secret: &[u8], operator: &str, timestamp_ms: i64) -> Result<Self, ResetError> {
        let operator = OperatorName::new(operator)?;
        if timestamp_ms < 0 {
            return Err(ResetError::MalformedToken);
        }
        let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| ResetError::MalformedToken)?;
        feed_message(&mut mac, &operator, timestamp_ms);
        Ok(Self { timestamp_ms, mac: mac.finalize().into_bytes().into() })
    }

    /// A token from its wire form: the timestamp and 64 hex digits of MAC.
    pub fn from_hex(timestamp_ms: i64, mac_hex: &str) -> Result<Self, ResetError> {
        let mut mac = [0u8; 32];
        hex::decode_to_slice(mac_hex, &mut mac).map_err(|_| ResetError::MalformedToken)?;
        if timestamp_ms < 0 {
            return Err(ResetError::MalformedToken);
        }
        Ok(Self { timestamp_ms, mac })
    }

    /// The MAC as 64 lowercase hex digits (cold path: allocates).
    pub fn mac_hex(&self) -> String {
        hex::encode(self.mac)
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The MAC is a credential until it expires; do not print it.
        f.debug_struct("ResetToken").field("timestamp_ms", &self.timestamp_ms).finish_non_exhaustive()
    }
}

/// Feeds `"ess-reset:" + operator + ":" + timestamp_ms` (decimal) to `mac` without allocating.
fn feed_message(mac: &mut HmacSha256, operator: &OperatorName, timestamp_ms: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = timestamp_ms.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    mac.update(b"ess-reset:");
    mac.update(operator.as_str().as_bytes());
    mac.update(b":");
    mac.update(&digits[i..]);
}

/// Who reset the stop, when, and what had tripped it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetRecord {
    /// The authenticated operator.
    pub operator: OperatorName,
    /// When the reset was applied (Unix-epoch ns).
    pub at: Nanos,
    /// The source that had tripped the stop.
    pub source: TriggerSource,
    /// The token's signing time, for the audit log.
    pub token_ms: i64,
}

/// Why a reset was refused. Every refusal leaves the stop halted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResetError {
    /// The operator name is empty, longer than 32 bytes, or has spaces, `:` or non-ASCII.
    #[error("operator name must be 1..=32 printable ASCII bytes without ':'")]
    BadOperator,
    /// The token is not 64 hex digits of MAC with a non-negative timestamp.
    #[error("reset token is malformed: expected a timestamp >= 0 and 64 hex digits of HMAC-SHA256")]
    MalformedToken,
    /// The MAC does not match: wrong secret, operator or timestamp.
    #[error("reset token is not authenticated: HMAC-SHA256 does not match")]
    Unauthenticated,
    /// The token is older than the window allows.
    #[error("reset token expired: signed {age_ms} ms ago, window is {window_ms} ms")]
    Expired {
        /// Age of the token.
        age_ms: i64,
        /// The accepted window.
        window_ms: i64,
    },
    /// The token is dated further in the future than the window allows (clock skew or forgery).
    #[error("reset token is dated {ahead_ms} ms in the future, window is {window_ms} ms")]
    FromFuture {
        /// How far ahead.
        ahead_ms: i64,
        /// The accepted window.
        window_ms: i64,
    },
    /// The token is not newer than the last accepted one: a replay.
    #[error("reset token replayed: signed at {timestamp_ms} ms, last accepted token {last_ms} ms")]
    Replayed {
        /// The token's time.
        timestamp_ms: i64,
        /// The last accepted token's time.
        last_ms: i64,
    },
    /// The stop is armed: there is nothing to reset.
    #[error("emergency stop is not halted; nothing to reset")]
    NotHalted,
}

/// An emergency stop that cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EssConfigError {
    /// The shared secret is shorter than 16 bytes.
    #[error("ess.reset_secret must be at least 16 bytes, got {0}")]
    WeakSecret(usize),
    /// The replay window is shorter than a millisecond (tokens carry millisecond timestamps).
    #[error("ess.reset_window must be at least 1 ms, got {0} ns")]
    BadWindow(i64),
}

/// The emergency stop. See the module docs for the state machine and threading.
pub struct EmergencyStop {
    state: EssState,
    counts: [u64; TriggerSource::COUNT],
    mac: HmacSha256,
    window_ms: i64,
    last_token_ms: i64,
    history: [Option<ResetRecord>; RESET_HISTORY],
    resets: u64,
}

impl fmt::Debug for EmergencyStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmergencyStop")
            .field("state", &self.state)
            .field("counts", &self.counts)
            .field("window_ms", &self.window_ms)
            .field("resets", &self.resets)
            .finish_non_exhaustive()
    }
}

impl EmergencyStop {
    /// An armed stop whose resets are authenticated with `secret` and accepted within
    /// `window` of their signing time.
    pub fn new(secret: &[u8], window: Nanos) -> Result<Self, EssConfigError> {
        if secret.len() < 16 {
            return Err(EssConfigError::WeakSecret(secret.len()));
        }
        let window_ms = window.0 / Nanos::MILLI.0;
        if window_ms <= 0 {
            return Err(EssConfigError::BadWindow(window.0));
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| EssConfigError::WeakSecret(secret.len()))?;
        Ok(Self {
            state: EssState::Armed,
            counts: [0; TriggerSource::COUNT],
            mac,
            window_ms,
            last_token_ms: i64::MIN,
            history: [None; RESET_HISTORY],
            resets: 0,
        })
    }

    /// The current state.
    #[inline]
    pub fn state(&self) -> EssState {
        self.state
    }

    /// Whether trading is halted (triggered or latched). The risk gate's first check.
    #[inline]
    pub fn is_halted(&self) -> bool {
        !matches!(self.state, EssState::Armed)
    }

    /// Trips the stop. The first trigger returns the action plan and halts trading; a trigger
    /// while already halted only counts. Every call counts toward `source`.
    #[inline]
    pub fn trigger(&mut self, source: TriggerSource, now: Nanos) -> Option<EssActions> {
        let c = &mut self.counts[source as usize];
        *c = c.saturating_add(1);
        match self.state {
            EssState::Armed => {
                self.state = EssState::Triggered { source, at: now };
                Some(EssActions { source, at: now })
            }
            EssState::Triggered { .. } | EssState::Latched { .. } => None,
        }
    }

    /// Marks the actions as carried out: `Triggered` → `Latched` (keeping the original source and
    /// time). Returns whether the state changed.
    #[inline]
    pub fn latch(&mut self) -> bool {
        match self.state {
            EssState::Triggered { source, at } => {
                self.state = EssState::Latched { source, at };
                true
            }
            EssState::Armed | EssState::Latched { .. } => false,
        }
    }

    /// Triggers counted for `source` (the `ess_triggers_total{source}` metric).
    #[inline]
    pub fn trigger_count(&self, source: TriggerSource) -> u64 {
        self.counts[source as usize]
    }

    /// Resets accepted since start.
    #[inline]
    pub fn reset_count(&self) -> u64 {
        self.resets
    }

    /// Re-enables trading if `token` authenticates `operator`. Checks, in order: operator name,
    /// MAC (constant time, before anything that depends on state, so an unauthenticated caller
    /// learns nothing), age within the window, newer than the last accepted token (no replay),
    /// and that the stop is halted. Works from `Triggered` too, so an operator can recover when
    /// the actions could not complete.
    pub fn reset(&mut self, token: &ResetToken, operator: &str, now: Nanos) -> Result<ResetRecord, ResetError> {
        let operator = OperatorName::new(operator)?;
        let mut mac = self.mac.clone();
        feed_message(&mut mac, &operator, token.timestamp_ms);
        // `verify_slice` compares in constant time (subtle::ConstantTimeEq).
        mac.verify_slice(&token.mac).map_err(|_| ResetError::Unauthenticated)?;
        let now_ms = now.0 / Nanos::MILLI.0;
        let age_ms = now_ms.saturating_sub(token.timestamp_ms);
        if age_ms > self.window_ms {
            return Err(ResetError::Expired { age_ms, window_ms: self.window_ms });
        }
        if age_ms < -self.window_ms {
            return Err(ResetError::FromFuture { ahead_ms: -age_ms, window_ms: self.window_ms });
        }
        if token.timestamp_ms <= self.last_token_ms {
            return Err(ResetError::Replayed { timestamp_ms: token.timestamp_ms, last_ms: self.last_token_ms });
        }
        let source = match self.state {
            EssState::Armed => return Err(ResetError::NotHalted),
            EssState::Triggered { source, .. } | EssState::Latched { source, .. } => source,
        };
        // Consume the token only when it is used, so a refused reset does not burn it.
        self.last_token_ms = token.timestamp_ms;
        let record = ResetRecord { operator, at: now, source, token_ms: token.timestamp_ms };
        // u64 → usize index modulo a small constant cannot truncate meaningfully.
        self.history[(self.resets % RESET_HISTORY as u64) as usize] = Some(record);
        self.resets = self.resets.saturating_add(1);
        self.state = EssState::Armed;
        Ok(record)
    }

    /// The last [`RESET_HISTORY`] resets, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &ResetRecord> + '_ {
        let start = if self.resets > RESET_HISTORY as u64 { (self.resets % RESET_HISTORY as u64) as usize } else { 0 };
        (0..RESET_HISTORY).filter_map(move |i| self.history[(start + i) % RESET_HISTORY].as_ref())
    }
}

/// What [`flatten_orders`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlattenReport {
    /// Orders written to the front of `out`.
    pub orders: usize,
    /// Non-zero positions skipped because their instrument has no two-sided quote.
    pub no_quote: usize,
    /// Non-zero positions skipped because their instrument has no (positive) tick.
    pub no_tick: usize,
    /// Non-zero positions skipped because the capped price is not positive or overflows.
    pub unpriceable: usize,
    /// Non-zero positions skipped because `out` was full.
    pub out_full: usize,
    /// The first instrument skipped for any reason, for the alert.
    pub first_skipped: Option<InstrumentId>,
}

impl FlattenReport {
    /// Whether every non-zero position got an order.
    #[inline]
    pub fn complete(&self) -> bool {
        self.no_quote + self.no_tick + self.unpriceable + self.out_full == 0
    }
}

/// A slippage cap outside `[0, 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("flatten slippage cap must be in [0, 1), got {0}")]
pub struct SlippageOutOfRange(pub Rate);

/// The worst acceptable limit price for closing at `touch` with slippage cap `slippage`:
/// a sell at `bid × (1 − slippage)` rounded UP to the tick, a buy at `ask × (1 + slippage)`
/// rounded DOWN — both round toward the touch, so the price is never worse than the cap.
/// Exact in `i128`; `None` on overflow, a non-positive tick or a non-positive result.
#[inline]
pub fn capped_price(side: Side, touch: Price, tick: Price, slippage: Rate) -> Option<Price> {
    if tick.units() <= 0 {
        return None;
    }
    let one = i128::from(Rate::ONE.units());
    let (factor, mode) = match side {
        Side::Sell => (one - i128::from(slippage.units()), Rounding::Up),
        Side::Buy => (one + i128::from(slippage.units()), Rounding::Down),
    };
    let num = i128::from(touch.units()).checked_mul(factor)?;
    let den = i128::from(tick.units()).checked_mul(one)?;
    let ticks = div_round_i128(num, den, mode).ok()?;
    let units = ticks.checked_mul(i128::from(tick.units()))?;
    let units = i64::try_from(units).ok()?;
    (units > 0).then_some(Price::from_units(units))
}

/// Builds the flatten plan: for each non-zero `(account, instrument, signed qty)` a reduce-only
/// IOC limit order on the opposite side for the whole quantity, priced by [`capped_price`] off
/// `quotes` (bid, ask) and `tick`. Writes into `out` from the front; positions that cannot be
/// priced or do not fit are skipped and counted in the report. No allocation.
pub fn flatten_orders(
    positions: &[(AccountId, InstrumentId, Qty)],
    quotes: impl Fn(InstrumentId) -> Option<(Price, Price)>,
    tick: impl Fn(InstrumentId) -> Option<Price>,
    slippage: Rate,
    out: &mut [Option<OrderRequest>],
) -> Result<FlattenReport, SlippageOutOfRange> {
    if slippage < Rate::ZERO || slippage >= Rate::ONE {
        return Err(SlippageOutOfRange(slippage));
    }
    let mut report = FlattenReport::default();
    for &(account, instrument, qty) in positions {
        if qty.is_zero() {
            continue;
        }
        let side = if qty.is_positive() { Side::Sell } else { Side::Buy };
        let skip = |counter: &mut usize, report_first: &mut Option<InstrumentId>| {
            *counter += 1;
            report_first.get_or_insert(instrument);
        };
        let Some((bid, ask)) = quotes(instrument) else {
            skip(&mut report.no_quote, &mut report.first_skipped);
            continue;
        };
        let Some(tick) = tick(instrument).filter(|t| t.is_positive()) else {
            skip(&mut report.no_tick, &mut report.first_skipped);
            continue;
        };
        let touch = if side == Side::Sell { bid } else { ask };
        let (Some(price), Ok(qty)) = (capped_price(side, touch, tick, slippage), qty.checked_abs()) else {
            skip(&mut report.unpriceable, &mut report.first_skipped);
            continue;
        };
        let Some(slot) = out.get_mut(report.orders) else {
            skip(&mut report.out_full, &mut report.first_skipped);
            continue;
        };
        *slot = Some(flatten_request(account, instrument, side, price, qty));
        report.orders += 1;
    }
    Ok(report)
}

/// The flatten order for closing `qty` on `side` at the capped `price`: reduce-only IOC limit,
/// stamped [`ESS_STRATEGY`].
#[inline]
pub fn flatten_request(
    account: AccountId,
    instrument: InstrumentId,
    side: Side,
    price: Price,
    qty: Qty,
) -> OrderRequest {
    OrderRequest {
        account,
        strategy: ESS_STRATEGY,
        instrument,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Ioc,
        price,
        qty,
        reduce_only: true,
        stop_price: None,
    }
}

/// Watches one account's venue chain and fires once when every venue has been unhealthy for the
/// threshold. Core thread; no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutageWatch {
    threshold: Nanos,
    all_down_since: Option<Nanos>,
    fired: bool,
}

impl OutageWatch {
    /// A watch that fires after `threshold` of total outage.
    pub const fn new(threshold: Nanos) -> Self {
        Self { threshold, all_down_since: None, fired: false }
    }

    /// Feeds the health of every venue in the chain at `now`. Returns `true` exactly once per
    /// outage: on the first call at which all venues have been down for at least the threshold.
    /// Any healthy venue ends the outage; an empty chain never fires.
    #[inline]
    pub fn on_health(&mut self, venue_healthy: &[bool], now: Nanos) -> bool {
        if venue_healthy.is_empty() || venue_healthy.iter().any(|h| *h) {
            self.all_down_since = None;
            self.fired = false;
            return false;
        }
        let since = *self.all_down_since.get_or_insert(now);
        if !self.fired && now.saturating_sub(since) >= self.threshold {
            self.fired = true;
            return true;
        }
        false
    }

    /// When the current total outage began, if one is in progress.
    #[inline]
    pub fn down_since(&self) -> Option<Nanos> {
        self.all_down_since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef-test-secret";
    const T0_MS: i64 = 1_764_000_000_000;

    fn ms(v: i64) -> Nanos {
        Nanos(v * Nanos::MILLI.0)
    }

    fn ess() -> EmergencyStop {
        EmergencyStop::new(SECRET, Nanos(30 * Nanos::SECOND.0)).unwrap()
    }

    #[test]
    fn config_is_validated() {
        assert_eq!(EmergencyStop::new(b"short", Nanos::SECOND).unwrap_err(), EssConfigError::WeakSecret(5));
        assert_eq!(EmergencyStop::new(SECRET, Nanos(999)).unwrap_err(), EssConfigError::BadWindow(999));
    }

    #[test]
    fn each_source_latches_and_counts() {
        for source in TriggerSource::ALL {
            let mut e = ess();
            assert!(!e.is_halted());
            let actions = e.trigger(source, ms(T0_MS)).unwrap();
            assert_eq!(actions, EssActions { source, at: ms(T0_MS) });
            assert_eq!(
                actions.cancel_all(AccountId(3)),
                OrderCommand::CancelAll { account: AccountId(3), instrument: None }
            );
            assert!(e.is_halted());
            assert_eq!(e.state(), EssState::Triggered { source, at: ms(T0_MS) });
            assert!(e.latch());
            assert!(!e.latch());
            assert_eq!(e.state(), EssState::Latched { source, at: ms(T0_MS) });
            for other in TriggerSource::ALL {
                assert_eq!(e.trigger_count(other), u64::from(other == source), "{source:?}/{other:?}");
            }
        }
    }

    #[test]
    fn retrigger_only_counts_and_halt_holds() {
        let mut e = ess();
        assert!(e.trigger(TriggerSource::ExchangeOutage, ms(T0_MS)).is_some());
        assert!(e.trigger(TriggerSource::ExchangeOutage, ms(T0_MS + 1)).is_none()); // while Triggered
        e.latch();
        assert!(e.trigger(TriggerSource::Manual, ms(T0_MS + 2)).is_none());
        assert!(e.trigger(TriggerSource::ExchangeOutage, ms(T0_MS + 3)).is_none());
        assert_eq!(e.trigger_count(TriggerSource::ExchangeOutage), 3);
        assert_eq!(e.trigger_count(TriggerSource::Manual), 1);
        assert_eq!(e.state(), EssState::Latched { source: TriggerSource::ExchangeOutage, at: ms(T0_MS) });
        for _ in 0..100_000 {
            assert!(e.is_halted());
        }
    }

    #[test]
    fn valid_reset_rearms_and_records() {
        let mut e = ess();
        e.trigger(TriggerSource::DrawdownBreach, ms(T0_MS));
        e.latch();
        let token = ResetToken::sign(SECRET, "alice", T0_MS + 5_000).unwrap();
        // Wire round trip, as the control channel carries it.
        let token = ResetToken::from_hex(token.timestamp_ms, &token.mac_hex()).unwrap();
        let rec = e.reset(&token, "alice", ms(T0_MS + 6_000)).unwrap();
        assert_eq!(rec.operator.as_str(), "alice");
        assert_eq!(rec.at, ms(T0_MS + 6_000));
        assert_eq!(rec.source, TriggerSource::DrawdownBreach);
        assert_eq!(e.state(), EssState::Armed);
        assert!(!e.is_halted());
        assert_eq!(e.history().copied().collect::<Vec<_>>(), vec![rec]);
        // Armed again: a new trigger returns a new plan.
        assert!(e.trigger(TriggerSource::Manual, ms(T0_MS + 7_000)).is_some());
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        let now = ms(T0_MS);
        let window_ms = 30_000;
        let wrong_secret = ResetToken::sign(b"another-secret-of-16+", "alice", T0_MS).unwrap();
        let mut tampered = ResetToken::sign(SECRET, "alice", T0_MS).unwrap();
        tampered.mac[31] ^= 1;
        let cases: [(&str, ResetToken, &str, ResetError); 7] = [
            ("wrong secret", wrong_secret, "alice", ResetError::Unauthenticated),
            ("tampered mac", tampered, "alice", ResetError::Unauthenticated),
            (
                "other operator",
                ResetToken::sign(SECRET, "alice", T0_MS).unwrap(),
                "mallory",
                ResetError::Unauthenticated,
            ),
            (
                "timestamp changed",
                ResetToken { timestamp_ms: T0_MS + 1, ..ResetToken::sign(SECRET, "alice", T0_MS).unwrap() },
                "alice",
                ResetError::Unauthenticated,
            ),
            (
                "expired",
                ResetToken::sign(SECRET, "alice", T0_MS - window_ms - 1).unwrap(),
                "alice",
                ResetError::Expired { age_ms: window_ms + 1, window_ms },
            ),
            (
                "from the future",
                ResetToken::sign(SECRET, "alice", T0_MS + window_ms + 1).unwrap(),
                "alice",
                ResetError::FromFuture { ahead_ms: window_ms + 1, window_ms },
            ),
            ("bad operator", ResetToken::sign(SECRET, "alice", T0_MS).unwrap(), "al:ice", ResetError::BadOperator),
        ];
        for (name, token, operator, want) in cases {
            let mut e = ess();
            e.trigger(TriggerSource::Manual, now);
            e.latch();
            assert_eq!(e.reset(&token, operator, now), Err(want), "{name}");
            assert!(e.is_halted(), "{name}");
            assert_eq!(e.history().count(), 0, "{name}");
        }
        // Exactly at the window edge is still accepted.
        let mut e = ess();
        e.trigger(TriggerSource::Manual, now);
        let edge = ResetToken::sign(SECRET, "alice", T0_MS - window_ms).unwrap();
        assert!(e.reset(&edge, "alice", now).is_ok());
        assert_eq!(ResetToken::from_hex(T0_MS, "zz"), Err(ResetError::MalformedToken));
        assert_eq!(ResetToken::sign(SECRET, "", T0_MS), Err(ResetError::BadOperator));
    }

    #[test]
    fn replayed_token_is_refused_and_armed_reset_is_refused() {
        let mut e = ess();
        let token = ResetToken::sign(SECRET, "bob", T0_MS).unwrap();
        assert_eq!(e.reset(&token, "bob", ms(T0_MS)), Err(ResetError::NotHalted));
        e.trigger(TriggerSource::GlobalRiskCritical, ms(T0_MS));
        e.latch();
        // The NotHalted refusal did not burn the token.
        assert!(e.reset(&token, "bob", ms(T0_MS + 1)).is_ok());
        e.trigger(TriggerSource::GlobalRiskCritical, ms(T0_MS + 2));
        e.latch();
        assert_eq!(
            e.reset(&token, "bob", ms(T0_MS + 3)),
            Err(ResetError::Replayed { timestamp_ms: T0_MS, last_ms: T0_MS })
        );
        let older = ResetToken::sign(SECRET, "carol", T0_MS - 1).unwrap();
        assert_eq!(
            e.reset(&older, "carol", ms(T0_MS + 3)),
            Err(ResetError::Replayed { timestamp_ms: T0_MS - 1, last_ms: T0_MS })
        );
        assert!(e.is_halted());
        let fresh = ResetToken::sign(SECRET, "carol", T0_MS + 3).unwrap();
        assert_eq!(e.reset(&fresh, "carol", ms(T0_MS + 4)).map(|r| r.operator.as_str().len()), Ok(5));
    }

    #[test]
    fn history_is_bounded_and_ordered() {
        let mut e = ess();
        for i in 0..(RESET_HISTORY as i64 + 3) {
            e.trigger(TriggerSource::Manual, ms(T0_MS + i));
            let t = ResetToken::sign(SECRET, "ops", T0_MS + i).unwrap();
            e.reset(&t, "ops", ms(T0_MS + i)).unwrap();
        }
        let kept: Vec<i64> = e.history().map(|r| r.token_ms - T0_MS).collect();
        assert_eq!(kept, (3..RESET_HISTORY as i64 + 3).collect::<Vec<_>>());
        assert_eq!(e.reset_count(), RESET_HISTORY as u64 + 3);
    }

    #[test]
    fn capped_prices_round_toward_the_touch() {
        let p = Price::from_units;
        // (side, touch, tick, slippage bps, expected)
        let cases: [(Side, i64, i64, i64, Option<i64>); 9] = [
            // 100.00 × 0.99 = 99.00 exactly on a 0.01 tick.
            (Side::Sell, 10_000, 1, 100, Some(9_900)),
            (Side::Buy, 10_000, 1, 100, Some(10_100)),
            // 100.00 × 0.99 = 99.00 on a 0.05 tick: exact boundary, no rounding.
            (Side::Sell, 10_000, 5, 100, Some(9_900)),
            // 100.01 × 0.99 = 99.0099 → up to 99.05 (never below the cap).
            (Side::Sell, 10_001, 5, 100, Some(9_905)),
            // 100.01 × 1.01 = 101.0101 → down to 101.00 (never above the cap).
            (Side::Buy, 10_001, 5, 100, Some(10_100)),
            // Zero slippage: the touch itself.
            (Side::Sell, 10_000, 5, 0, Some(10_000)),
            (Side::Buy, 10_005, 5, 0, Some(10_005)),
            // A cap tighter than a tick on a bid: rounds up to the bid.
            (Side::Sell, 10_000, 100, 1, Some(10_000)),
            (Side::Sell, 10_000, 0, 1, None),
        ];
        for (side, touch, tick, bps, want) in cases {
            let got = capped_price(side, p(touch), p(tick), Rate::from_bps(bps));
            assert_eq!(got, want.map(p), "{side:?} {touch} tick {tick} {bps}bp");
            if let Some(got) = got {
                let cap = i128::from(touch) * i128::from(Rate::ONE.units() + side.sign() * Rate::from_bps(bps).units());
                let scaled = i128::from(got.units()) * i128::from(Rate::ONE.units());
                match side {
                    Side::Sell => assert!(scaled >= cap && scaled - i128::from(tick) * 100_000_000 < cap),
                    Side::Buy => assert!(scaled <= cap && scaled + i128::from(tick) * 100_000_000 > cap),
                }
            }
        }
    }

    #[test]
    fn flatten_orders_are_reduce_only_ioc_opposite_side() {
        let (btc, eth, sol, xrp) = (InstrumentId(1), InstrumentId(2), InstrumentId(3), InstrumentId(4));
        let quotes = |i: InstrumentId| match i.0 {
            1 => Some((Price::from_units(5_000_000), Price::from_units(5_000_010))),
            2 => Some((Price::from_units(300_003), Price::from_units(300_007))),
            4 => Some((Price::from_units(100), Price::from_units(101))),
            _ => None,
        };
        let tick = |i: InstrumentId| match i.0 {
            1 => Some(Price::from_units(10)),
            2 => Some(Price::from_units(5)),
            3 => Some(Price::from_units(1)),
            _ => None,
        };
        let positions = [
            (AccountId(0), btc, Qty::from_units(25)),
            (AccountId(1), eth, Qty::from_units(-400)),
            (AccountId(0), sol, Qty::from_units(7)),
            (AccountId(0), btc, Qty::ZERO),
            (AccountId(2), xrp, Qty::from_units(1)),
        ];
        let mut out = [None; 4];
        let r = flatten_orders(&positions, quotes, tick, Rate::from_bps(50), &mut out).unwrap();
        assert_eq!(r.orders, 2);
        assert_eq!((r.no_quote, r.no_tick, r.unpriceable, r.out_full), (1, 1, 0, 0));
        assert_eq!(r.first_skipped, Some(sol));
        assert!(!r.complete());
        let o0 = out[0].unwrap();
        // Long BTC: sell 25 at 50000.00 × 0.995 = 49750.00 (on the 0.10 tick).
        assert_eq!((o0.account, o0.instrument, o0.side), (AccountId(0), btc, Side::Sell));
        assert_eq!((o0.price, o0.qty), (Price::from_units(4_975_000), Qty::from_units(25)));
        assert!(o0.reduce_only && o0.tif == TimeInForce::Ioc && o0.order_type == OrderType::Limit);
        assert_eq!(o0.strategy, ESS_STRATEGY);
        // Short ETH: buy 400 at 3000.07 × 1.005 = 3015.07035 → down to 3015.05.
        let o1 = out[1].unwrap();
        assert_eq!(
            (o1.account, o1.side, o1.price, o1.qty),
            (AccountId(1), Side::Buy, Price::from_units(301_505), Qty::from_units(400))
        );
        assert!(o1.reduce_only && o1.tif == TimeInForce::Ioc);
        assert_eq!(out[2], None);

        let mut small = [None; 1];
        let r = flatten_orders(&positions[..2], quotes, tick, Rate::ZERO, &mut small).unwrap();
        assert_eq!((r.orders, r.out_full, r.first_skipped), (1, 1, Some(eth)));
        assert_eq!(flatten_orders(&positions, quotes, tick, Rate::ONE, &mut out), Err(SlippageOutOfRange(Rate::ONE)));
    }

    #[test]
    fn outage_watch_needs_all_venues_down_for_the_threshold() {
        let s = Nanos::SECOND.0;
        // (healthy per venue, at seconds, expected fire)
        let steps: [(&[bool], i64, bool); 9] = [
            (&[true, false], 0, false),
            (&[false, false], 1, false), // outage starts at 1
            (&[false, false], 10, false),
            (&[false, false], 11, true),  // 10 s threshold reached exactly
            (&[false, false], 12, false), // fires once per outage
            (&[false, true], 13, false),  // recovery ends it
            (&[false, false], 14, false),
            (&[false, false], 23, false),
            (&[false, false], 24, true),
        ];
        let mut w = OutageWatch::new(Nanos(10 * s));
        for (i, (health, at, want)) in steps.into_iter().enumerate() {
            assert_eq!(w.on_health(health, Nanos(at * s)), want, "step {i}");
        }
        assert_eq!(w.down_since(), Some(Nanos(14 * s)));
        assert!(!OutageWatch::new(Nanos::ZERO).on_health(&[], Nanos(0)));
    }
}
