//! The bench probe: `qt bench --wire`'s instrument inside the simulator. It sends one designed
//! trigger frame at a time over Binance spot's market-data stream and times, on the
//! simulator's own monotonic clock, the order that frame makes the engine send back.
//!
//! How one trigger goes ([`ProbeDriver::step`]):
//! 1. *Top up*: each symbol's book is a ladder the probe's maker account laid
//!    ([`ProbeDriver::lay_books`]): `levels` prices a side, `ladder_qty` each, one tick apart
//!    around the mid, nothing else (the background flow is quiet). What the engine's earlier
//!    orders took from it is put back first, so the book is balanced again.
//! 2. *Arm, then trigger*: the probe arms on the symbol's current update id, then the maker
//!    adds `trigger_qty` at the touch of one side (a bid when the engine's account is flat, an
//!    ask when it holds its one lot), so the imbalance of the best `levels` levels crosses the
//!    strategy's threshold. That book operation is the symbol's next update; the first
//!    `depthUpdate` frame covering it is the trigger frame ([`BenchProbe::is_trigger_frame`],
//!    asked by the Binance session when it queues a diff) and the session reads the clock just
//!    before it writes that frame to the socket ([`BenchProbe::trigger_frame_writing`]).
//! 3. *Answer*: the next `POST /api/v3/order` whose request head the server parses after that
//!    is the answer ([`BenchProbe::order_head_parsed`], through
//!    [`crate::protocol::Protocol::on_request_head`]); wire-to-wire is the difference of the
//!    two clock reads. None within `answer_timeout` is a "no order" (and none written at all, a
//!    "no frame"). An order head while nothing is armed counts as a stray.
//! 4. *Restore*: the trigger order is cancelled, so the book is balanced and the next trigger
//!    triggers again.
//!
//! Both clock reads are `std::time::Instant` in one process (the bench runs the simulator and
//! the engine together), so they share `CLOCK_MONOTONIC`. The probe is closed-loop: one
//! trigger in flight, the next only after the answer (or its timeout) and not before its slot
//! on the `interval` grid; a late slot starts from now (no coordinated-omission correction: no
//! trigger waits behind another). Triggers go round the symbols, each traded by its own
//! account, so an account's order rate is `1 / (interval × symbols)`.
//!
//! Threads: the driver runs on the bench's thread; the hooks run on the session's and the
//! connection's threads, each a short lock of one mutex (never held while writing). Allocates
//! freely; the simulator side of the measurement is not the engine's hot path.

use crate::market::{ClientOrderRequest, Market, OrderRef};
use qt_core::{AccountId, Notional, OrderType, Price, Qty, Side, TimeInForce};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The trigger under way.
#[derive(Debug, Clone, Copy)]
struct Armed {
    symbol: usize,
    /// The symbol's update id before the trigger's book operation.
    after: u64,
    /// The trigger frame has been picked (one frame per trigger).
    picked: bool,
    /// The clock just before the trigger frame was written.
    written: Option<Instant>,
    /// The clock when the answer's request head was parsed.
    answered: Option<Instant>,
}

/// The stamps shared by the driver, the Binance session and the server's connections.
#[derive(Debug, Default)]
pub struct BenchProbe {
    armed: Mutex<Option<Armed>>,
    answer: Condvar,
    stray_orders: AtomicU64,
}

/// How one trigger ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer came: wire-to-wire, frame written → order head parsed.
    Answered(Duration),
    /// The trigger frame was written but no order came within the timeout.
    NoOrder,
    /// The trigger frame was never written within the timeout (no session carried it).
    NoFrame,
}

impl BenchProbe {
    /// A probe with nothing armed.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Option<Armed>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms a trigger: the first diff of `symbol` past update id `after` is its frame.
    pub fn arm(&self, symbol: usize, after: u64) {
        *self.lock() = Some(Armed { symbol, after, picked: false, written: None, answered: None });
    }

    /// Session hook: whether the diff of `symbol` ending at update id `last` is the armed
    /// trigger's frame (true for one frame per trigger).
    pub fn is_trigger_frame(&self, symbol: usize, last: u64) -> bool {
        let mut armed = self.lock();
        match armed.as_mut() {
            Some(a) if a.symbol == symbol && last > a.after && !a.picked => {
                a.picked = true;
                true
            }
            _ => false,
        }
    }

    /// Session hook: the trigger frame is about to be written (`at`: the clock read just before).
    pub fn trigger_frame_writing(&self, at: Instant) {
        if let Some(a) = self.lock().as_mut()
            && a.written.is_none()
        {
            a.written = Some(at);
        }
    }

    /// Server hook: a new order's request head was parsed at `at`.
    pub fn order_head_parsed(&self, at: Instant) {
        let mut armed = self.lock();
        match armed.as_mut() {
            Some(a) if a.written.is_some() && a.answered.is_none() => {
                a.answered = Some(at);
                self.answer.notify_all();
            }
            _ => {
                self.stray_orders.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Orders whose head arrived with no trigger frame out and unanswered.
    pub fn stray_orders(&self) -> u64 {
        self.stray_orders.load(Ordering::Relaxed)
    }

    /// Waits up to `timeout` for the armed trigger's answer, then disarms.
    fn wait(&self, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        let mut armed = self.lock();
        loop {
            if let Some(Armed { written: Some(w), answered: Some(a), .. }) = *armed {
                *armed = None;
                return Outcome::Answered(a.saturating_duration_since(w));
            }
            let now = Instant::now();
            if now >= deadline {
                let outcome = match *armed {
                    Some(Armed { written: Some(_), .. }) => Outcome::NoOrder,
                    _ => Outcome::NoFrame,
                };
                *armed = None;
                return outcome;
            }
            armed = match self.answer.wait_timeout(armed, deadline - now) {
                Ok((guard, _)) => guard,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// One symbol the probe triggers and the account whose strategy trades it.
#[derive(Debug, Clone)]
pub struct ProbeSymbol {
    /// The market's symbol index.
    pub symbol: usize,
    /// The account of the engine's strategy on it.
    pub trader: AccountId,
    /// The trader's base-asset balance before the bench (above it: the trader holds its lot).
    pub trader_start_base: Notional,
}

/// The designed book and the pace.
#[derive(Debug, Clone)]
pub struct ProbePlan {
    /// The account that lays the ladders and places the triggers.
    pub maker: AccountId,
    /// The symbols, triggered in turn.
    pub symbols: Vec<ProbeSymbol>,
    /// Mid of every ladder (on the symbols' tick grid; the symbols share one grid).
    pub mid: Price,
    /// One tick, in price units.
    pub tick: i64,
    /// Ladder prices a side (the strategy's `levels`).
    pub levels: i64,
    /// Quantity at each ladder price.
    pub ladder_qty: Qty,
    /// Quantity the trigger adds at the touch.
    pub trigger_qty: Qty,
    /// Slot grid of the triggers (1 / rate).
    pub interval: Duration,
    /// How long a trigger waits for its answer.
    pub answer_timeout: Duration,
}

/// Why the probe could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The market refused one of the probe's own orders.
    #[error("bench probe: the market refused the maker's {what} on symbol {symbol}: {reason}")]
    Refused {
        /// The order's role.
        what: &'static str,
        /// Symbol index.
        symbol: usize,
        /// The refusal.
        reason: String,
    },
}

/// Triggers the plan's symbols in turn (the bench's thread).
#[derive(Debug)]
pub struct ProbeDriver {
    probe: Arc<BenchProbe>,
    market: Arc<Market>,
    plan: ProbePlan,
    turn: usize,
    next_slot: Option<Instant>,
    placed: u64,
}

impl ProbeDriver {
    /// A driver of `plan` over `market`, stamping through `probe`.
    pub fn new(probe: Arc<BenchProbe>, market: Arc<Market>, plan: ProbePlan) -> Self {
        Self { probe, market, plan, turn: 0, next_slot: None, placed: 0 }
    }

    /// The probe's stamps.
    pub fn probe(&self) -> &Arc<BenchProbe> {
        &self.probe
    }

    /// Lays every symbol's ladder (before the engine connects).
    pub fn lay_books(&mut self) -> Result<(), ProbeError> {
        for i in 0..self.plan.symbols.len() {
            self.top_up(self.plan.symbols[i].symbol)?;
        }
        Ok(())
    }

    /// The ladder's prices on `side`, touch first.
    fn ladder(&self, side: Side) -> impl Iterator<Item = Price> + '_ {
        let mid = self.plan.mid.units();
        (1..=self.plan.levels).map(move |i| Price::from_units(mid - side.sign() * i * self.plan.tick))
    }

    /// Puts back what is missing at each ladder price of `symbol`.
    fn top_up(&mut self, symbol: usize) -> Result<(), ProbeError> {
        let depth = usize::try_from(self.plan.levels).unwrap_or(0) + 4;
        let snapshot = self.market.snapshot(symbol, depth);
        for side in [Side::Buy, Side::Sell] {
            let prices: Vec<Price> = self.ladder(side).collect();
            for price in prices {
                let resting = snapshot
                    .as_ref()
                    .and_then(|s| {
                        let levels = if side == Side::Buy { &s.bids } else { &s.asks };
                        levels.iter().find(|(p, _)| *p == price).map(|(_, q)| *q)
                    })
                    .unwrap_or(Qty::ZERO);
                let missing = self.plan.ladder_qty.units() - resting.units();
                if missing > 0 {
                    self.place(symbol, side, price, Qty::from_units(missing), "ladder")?;
                }
            }
        }
        Ok(())
    }

    fn place(
        &mut self,
        symbol: usize,
        side: Side,
        price: Price,
        qty: Qty,
        what: &'static str,
    ) -> Result<u64, ProbeError> {
        self.placed += 1;
        let req = ClientOrderRequest {
            client_order_id: Some(format!("bench-probe-{}", self.placed)),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Some(price),
            qty,
        };
        match self.market.submit(self.plan.maker, symbol, req) {
            Ok(outcome) => Ok(outcome.order.venue_order_id),
            Err(e) => Err(ProbeError::Refused { what, symbol, reason: format!("{e:?}") }),
        }
    }

    /// The side whose touch the next trigger of `s` thickens: bids (the strategy buys) while
    /// its trader is flat, asks (it sells back) while it holds its lot.
    fn trigger_side(&self, s: &ProbeSymbol) -> Side {
        let Some(inst) = self.market.instruments().get(s.symbol) else { return Side::Buy };
        let base = self
            .market
            .balances(s.trader)
            .into_iter()
            .find(|b| b.asset == inst.base())
            .and_then(|b| b.free.checked_add(b.locked).ok())
            .unwrap_or(Notional::ZERO);
        if base > s.trader_start_base { Side::Sell } else { Side::Buy }
    }

    /// One trigger of the next symbol in turn: waits for its slot, tops the book up, arms,
    /// triggers, waits for the answer, restores.
    pub fn step(&mut self) -> Result<Outcome, ProbeError> {
        let now = Instant::now();
        let slot = self.next_slot.map_or(now, |s| s.max(now));
        std::thread::sleep(slot.saturating_duration_since(now));
        self.next_slot = Some(slot + self.plan.interval);
        let s = self.plan.symbols[self.turn % self.plan.symbols.len()].clone();
        self.turn += 1;
        self.top_up(s.symbol)?;
        let side = self.trigger_side(&s);
        let touch = self.ladder(side).next().unwrap_or(self.plan.mid);
        let after = self.market.snapshot(s.symbol, 0).map_or(0, |snap| snap.update_id);
        self.probe.arm(s.symbol, after);
        let trigger = self.place(s.symbol, side, touch, self.plan.trigger_qty, "trigger")?;
        let outcome = self.probe.wait(self.plan.answer_timeout);
        // The trigger has done its work: cancelled, the book is balanced again.
        if let Err(e) = self.market.cancel(self.plan.maker, s.symbol, &OrderRef::Venue(trigger)) {
            return Err(ProbeError::Refused { what: "trigger cancel", symbol: s.symbol, reason: format!("{e:?}") });
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_per_trigger_and_the_answer_is_the_next_order_after_it() {
        let probe = BenchProbe::new();
        probe.order_head_parsed(Instant::now());
        assert_eq!(probe.stray_orders(), 1, "nothing armed: a stray");
        probe.arm(2, 10);
        assert!(!probe.is_trigger_frame(1, 11), "another symbol");
        assert!(!probe.is_trigger_frame(2, 10), "an update before the trigger's");
        probe.order_head_parsed(Instant::now());
        assert_eq!(probe.stray_orders(), 2, "no frame written yet: a stray");
        assert!(probe.is_trigger_frame(2, 11));
        assert!(!probe.is_trigger_frame(2, 12), "only the first frame");
        let written = Instant::now();
        probe.trigger_frame_writing(written);
        let answered = written + Duration::from_micros(250);
        probe.order_head_parsed(answered);
        probe.order_head_parsed(answered + Duration::from_micros(5));
        assert_eq!(probe.stray_orders(), 3, "a second order is not the answer");
        assert_eq!(probe.wait(Duration::from_millis(1)), Outcome::Answered(Duration::from_micros(250)));
    }

    #[test]
    fn a_trigger_without_an_answer_times_out_as_no_order_or_no_frame() {
        let probe = BenchProbe::new();
        probe.arm(0, 1);
        assert_eq!(probe.wait(Duration::from_millis(1)), Outcome::NoFrame);
        probe.arm(0, 1);
        assert!(probe.is_trigger_frame(0, 2));
        probe.trigger_frame_writing(Instant::now());
        assert_eq!(probe.wait(Duration::from_millis(1)), Outcome::NoOrder);
        probe.order_head_parsed(Instant::now());
        assert_eq!(probe.stray_orders(), 1, "disarmed after the timeout: a late order is a stray");
    }
}
