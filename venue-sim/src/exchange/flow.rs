//! Synthetic background order flow for one simulated instrument: the "rest of the market".
//!
//! Owned by the sim venue thread (inside [`crate::exchange::sim_exchange::SimExchange`]). Seeded and
//! reproducible: the same seed, parameters and book state produce the same actions. It never
//! blocks and, once its list of live orders has grown to its working size, does not allocate.
//!
//! The model: a latent fair value follows a random walk (Gaussian increments in ticks, sampled
//! in `f64` and carried into an integer tick count; every price it emits is an exact integer
//! on the tick grid, quantities are whole lots). Events arrive as a Poisson process (exponential
//! inter-arrival times in integer nanoseconds). Each event is one of:
//! - a limit order around fair (bids below, asks above, at a half-spread plus a geometric
//!   distance, sometimes improving the touch inside the spread); the side with fewer levels is
//!   favoured, and an empty or thin side is always replenished first;
//! - a cancel of a random live background order (the farther from fair of two picks), at a rate
//!   proportional to the number of live orders over the target, which keeps the depth around it;
//! - a marketable order, more likely on the side that moves the mid toward fair, so the traded
//!   price tracks the fair value.
//!
//! A slowly mean-reverting "liquidity regime" scales the half-spread and the depth profile so
//! spread and depth vary over time. Floating point appears only inside these random processes.
//!
//! A [`ShockSchedule`] ([`crate::exchange::shock`], empty unless a scenario sets one) moves the
//! fair value and scales the liquidity at set times; with an empty schedule none of its code
//! runs and the flow is exactly the one above.

use crate::exchange::matching::{MatchingEngine, NewOrder, Owner};
use crate::exchange::shock::{Liquidity, ShockSchedule};
use qt_core::{Instrument, Nanos, Price, Qty, Rounding, Side, TimeInForce};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, StandardNormal};
use serde::Deserialize;
use std::collections::HashMap;

/// Fewer price levels than this on a side and the next event replenishes it.
const THIN_SIDE_LEVELS: usize = 3;

/// Parameters of the synthetic flow. Every field has a default; `[sim.flow]`-style config can
/// override any of them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowParams {
    /// Background events per second of simulated time (the Poisson rate λ).
    pub events_per_sec: f64,
    /// Simulated time of the first event's clock origin, Unix-epoch nanoseconds.
    pub start_time_ns: i64,
    /// Starting fair value and mid, rounded to the tick; `None`: 10 000 ticks.
    pub start_mid: Option<Price>,
    /// Volatility of the fair value, in ticks per √second.
    pub fair_vol_ticks: f64,
    /// Relative weight of limit-order adds.
    pub limit_weight: f64,
    /// Relative weight of cancels when the book holds exactly `target_orders` background orders
    /// (scaled by live / target).
    pub cancel_weight: f64,
    /// Relative weight of marketable orders.
    pub market_weight: f64,
    /// Mean half-spread around fair at which new limit orders start, in ticks.
    pub half_spread_ticks: f64,
    /// Mean extra distance behind the half-spread of new limit orders, in ticks (geometric).
    pub depth_mean_ticks: f64,
    /// Probability that a new limit order improves the touch by one tick, inside the spread.
    pub inside_spread_prob: f64,
    /// Median order size in lots (log-normal).
    pub size_median_lots: f64,
    /// Log-normal shape of order sizes (σ of the log).
    pub size_sigma: f64,
    /// Largest background order, in lots (orders are still raised to the instrument's minimum
    /// quantity and notional).
    pub size_max_lots: u32,
    /// Number of resting background orders the cancel rate steers toward.
    pub target_orders: u32,
    /// Price levels per side laid down by the initial book.
    pub seed_levels: u32,
    /// Mid–fair gap, in ticks, at which a marketable order is ~88 % likely to push toward fair.
    pub fair_pull_ticks: f64,
    /// Protection bound of background market orders: ticks through the touch they may sweep.
    pub market_slippage_ticks: u32,
    /// Volatility of the log liquidity scale (spread and depth), per √second.
    pub regime_vol: f64,
    /// Mean-reversion rate of the log liquidity scale, per second.
    pub regime_reversion: f64,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self {
            events_per_sec: 200.0,
            start_time_ns: 1_704_067_200_000_000_000, // 2024-01-01T00:00:00Z
            start_mid: None,
            fair_vol_ticks: 3.0,
            limit_weight: 0.55,
            cancel_weight: 0.35,
            market_weight: 0.10,
            half_spread_ticks: 1.0,
            depth_mean_ticks: 6.0,
            inside_spread_prob: 0.15,
            size_median_lots: 3.0,
            size_sigma: 0.9,
            size_max_lots: 200,
            target_orders: 300,
            seed_levels: 20,
            fair_pull_ticks: 2.0,
            market_slippage_ticks: 5,
            regime_vol: 0.2,
            regime_reversion: 0.05,
        }
    }
}

impl FlowParams {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        fn check(field: &str, value: f64, ok: bool, expected: &str) -> Result<(), String> {
            if value.is_finite() && ok { Ok(()) } else { Err(format!("{field}: {value} must be {expected}")) }
        }
        let p = self;
        check("events_per_sec", p.events_per_sec, p.events_per_sec > 0.0 && p.events_per_sec <= 1e8, "in (0, 1e8]")?;
        if let Some(mid) = p.start_mid
            && !mid.is_positive()
        {
            return Err(format!("start_mid: {} must be greater than zero", mid.units()));
        }
        check("fair_vol_ticks", p.fair_vol_ticks, p.fair_vol_ticks >= 0.0, ">= 0")?;
        check("limit_weight", p.limit_weight, p.limit_weight > 0.0, "> 0")?;
        check("cancel_weight", p.cancel_weight, p.cancel_weight >= 0.0, ">= 0")?;
        check("market_weight", p.market_weight, p.market_weight >= 0.0, ">= 0")?;
        check("half_spread_ticks", p.half_spread_ticks, p.half_spread_ticks >= 0.0, ">= 0")?;
        check("depth_mean_ticks", p.depth_mean_ticks, (0.0..=1e6).contains(&p.depth_mean_ticks), "in [0, 1e6]")?;
        check("inside_spread_prob", p.inside_spread_prob, (0.0..=1.0).contains(&p.inside_spread_prob), "in [0, 1]")?;
        check("size_median_lots", p.size_median_lots, p.size_median_lots >= 1.0, ">= 1")?;
        check("size_sigma", p.size_sigma, (0.0..=10.0).contains(&p.size_sigma), "in [0, 10]")?;
        if p.size_max_lots == 0 {
            return Err("size_max_lots: must be at least 1".into());
        }
        if p.target_orders == 0 {
            return Err("target_orders: must be at least 1".into());
        }
        check("fair_pull_ticks", p.fair_pull_ticks, p.fair_pull_ticks > 0.0, "> 0")?;
        check("regime_vol", p.regime_vol, (0.0..=10.0).contains(&p.regime_vol), "in [0, 10]")?;
        check("regime_reversion", p.regime_reversion, (0.0..=1e3).contains(&p.regime_reversion), "in [0, 1e3]")?;
        Ok(())
    }
}

/// What the background flow does at one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowAction {
    /// Submit a background order.
    Submit(NewOrder),
    /// Cancel a live background order by venue id.
    Cancel(u64),
}

/// Seeded synthetic order flow for one instrument.
#[derive(Debug)]
pub struct SyntheticFlow {
    params: FlowParams,
    instrument: Instrument,
    rng: ChaCha8Rng,
    inter_arrival: Exp<f64>,
    size: LogNormal<f64>,
    /// Tick and lot in units.
    tick: i64,
    lot: i64,
    /// Time of the next event and of the previous one.
    next_at: Nanos,
    last_at: Nanos,
    /// Fair value in ticks, and the sub-tick part of the walk carried between events.
    fair_ticks: i64,
    fair_carry: f64,
    /// Bounds the fair value is kept within, in ticks.
    floor_ticks: i64,
    cap_ticks: i64,
    /// Log of the liquidity scale applied to half-spread and depth.
    regime: f64,
    /// Live background orders (venue ids), and each one's slot for O(1) removal.
    live: Vec<u64>,
    live_slot: HashMap<u64, usize>,
    /// Scheduled shocks (empty: none) and the liquidity factors at the current event.
    shocks: ShockSchedule,
    liquidity: Liquidity,
}

impl SyntheticFlow {
    /// A flow for `instrument`, seeded with `seed`. Fails, naming the field, on bad parameters.
    pub fn new(instrument: &Instrument, params: FlowParams, seed: u64) -> Result<Self, String> {
        params.validate()?;
        let tick = instrument.tick().units();
        let lot = instrument.lot().units();
        let start_ticks = match params.start_mid {
            Some(mid) => (mid.units() + tick / 2) / tick,
            None => 10_000,
        };
        if start_ticks < 1 {
            return Err(format!("start_mid: {} is below one tick", params.start_mid.map_or(0, Price::units)));
        }
        // Keep every price the flow can form (fair ± a wide margin) far from i64 overflow.
        let cap_ticks = i64::MAX / tick / 4;
        if start_ticks > cap_ticks / 2 {
            return Err(format!("start_mid: {start_ticks} ticks is too large for this instrument"));
        }
        let inter_arrival = Exp::new(params.events_per_sec).map_err(|e| format!("events_per_sec: {e}"))?;
        let size =
            LogNormal::new(params.size_median_lots.ln(), params.size_sigma).map_err(|e| format!("size_sigma: {e}"))?;
        let start = Nanos(params.start_time_ns);
        let mut flow = Self {
            instrument: instrument.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            inter_arrival,
            size,
            tick,
            lot,
            next_at: start,
            last_at: start,
            fair_ticks: start_ticks,
            fair_carry: 0.0,
            floor_ticks: (start_ticks / 10).max(1),
            cap_ticks,
            regime: 0.0,
            live: Vec::with_capacity(params.target_orders as usize * 2),
            live_slot: HashMap::with_capacity(params.target_orders as usize * 2),
            shocks: ShockSchedule::default(),
            liquidity: Liquidity::default(),
            params,
        };
        flow.next_at = flow.after(start);
        Ok(flow)
    }

    /// Follows `shocks` from the next event on (see [`crate::exchange::shock`]).
    pub fn set_shocks(&mut self, shocks: ShockSchedule) {
        self.shocks = shocks;
    }

    /// The parameters.
    pub fn params(&self) -> &FlowParams {
        &self.params
    }

    /// The simulated start time (the clock origin of the first event).
    pub fn start_time(&self) -> Nanos {
        Nanos(self.params.start_time_ns)
    }

    /// When the next background event happens.
    pub fn next_event_time(&self) -> Nanos {
        self.next_at
    }

    /// The latent fair value, on the tick grid.
    pub fn fair_price(&self) -> Price {
        Price::from_units(self.fair_ticks * self.tick)
    }

    /// Number of background orders the flow believes are resting.
    pub fn live_orders(&self) -> usize {
        self.live.len()
    }

    /// Records that background order `venue_id` was accepted (it may rest).
    pub fn track_order(&mut self, venue_id: u64) {
        if !self.live_slot.contains_key(&venue_id) {
            self.live_slot.insert(venue_id, self.live.len());
            self.live.push(venue_id);
        }
    }

    /// Records that background order `venue_id` is gone (filled, cancelled, expired).
    pub fn forget_order(&mut self, venue_id: u64) {
        if let Some(slot) = self.live_slot.remove(&venue_id) {
            self.live.swap_remove(slot);
            if let Some(&moved) = self.live.get(slot) {
                self.live_slot.insert(moved, slot);
            }
        }
    }

    /// The initial book: `seed_levels` levels per side around the start mid, one or two orders
    /// each, bids and asks interleaved from the touch outward.
    pub fn seed_orders(&mut self, out: &mut Vec<NewOrder>) {
        let half = self.params.half_spread_ticks.round().max(1.0) as i64;
        for i in 0..i64::from(self.params.seed_levels) {
            for side in [Side::Buy, Side::Sell] {
                let ticks = self.fair_ticks - side.sign() * (half + i);
                if ticks < 1 {
                    continue;
                }
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(self.limit(side, ticks));
                }
            }
        }
    }

    /// Advances to the next event (its time is [`Self::next_event_time`] before the call),
    /// evolves the fair value and regime, and decides what the background does given `engine`'s
    /// book. The caller applies the action and tells the flow about accepted and finished
    /// background orders ([`Self::track_order`], [`Self::forget_order`]).
    pub fn next_action(&mut self, engine: &MatchingEngine) -> FlowAction {
        let now = self.next_at;
        self.evolve(now);
        self.next_at = self.after(now);

        let (bid, ask) = (engine.best_bid(), engine.best_ask());
        let (bid_levels, ask_levels) = (engine.level_count(Side::Buy), engine.level_count(Side::Sell));
        if bid_levels < THIN_SIDE_LEVELS || ask_levels < THIN_SIDE_LEVELS {
            let side = if bid_levels <= ask_levels { Side::Buy } else { Side::Sell };
            return FlowAction::Submit(self.passive_order(side, bid, ask));
        }
        if self.liquidity.active
            && let Some(id) = self.stale_quote(engine)
        {
            return FlowAction::Cancel(id);
        }
        let live = self.live.len() as f64;
        let (limit_weight, market_weight) =
            (self.params.limit_weight * self.liquidity.replenish, self.params.market_weight);
        let cancel = self.params.cancel_weight * live / f64::from(self.params.target_orders);
        let total = limit_weight + cancel + market_weight;
        let pick = self.rng.random::<f64>() * total;
        if pick < cancel
            && let Some(id) = self.cancel_pick(engine)
        {
            return FlowAction::Cancel(id);
        }
        if pick >= cancel + limit_weight
            && let (Some((bid, _)), Some((ask, _))) = (bid, ask)
        {
            return FlowAction::Submit(self.marketable_order(bid, ask));
        }
        // Favour the side with fewer levels.
        let p_buy = (ask_levels as f64 + 1.0) / ((bid_levels + ask_levels) as f64 + 2.0);
        let side = if self.rng.random_bool(p_buy) { Side::Buy } else { Side::Sell };
        FlowAction::Submit(self.passive_order(side, bid, ask))
    }

    /// The time of the event after `t`: an exponential gap, at least one nanosecond.
    fn after(&mut self, t: Nanos) -> Nanos {
        let gap_secs: f64 = self.inter_arrival.sample(&mut self.rng);
        let gap_ns = (gap_secs * 1e9).ceil().clamp(1.0, 1e15) as i64;
        t.saturating_add(Nanos(gap_ns))
    }

    /// Moves the fair value and the liquidity regime forward to `now`.
    fn evolve(&mut self, now: Nanos) {
        let dt = now.saturating_sub(self.last_at).as_secs_f64().max(0.0);
        let before = self.last_at;
        self.last_at = now;
        let z: f64 = StandardNormal.sample(&mut self.rng);
        let walk = self.fair_carry + self.params.fair_vol_ticks * dt.sqrt() * z;
        let step = walk.round();
        self.fair_carry = walk - step;
        let mut fair = self.fair_ticks.saturating_add(step as i64);
        if fair < self.floor_ticks {
            fair = (2 * self.floor_ticks - fair).min(self.cap_ticks); // reflect off the floor
        }
        self.fair_ticks = fair.clamp(self.floor_ticks, self.cap_ticks);
        let z: f64 = StandardNormal.sample(&mut self.rng);
        let decay = (self.params.regime_reversion * dt).min(1.0);
        self.regime = (self.regime * (1.0 - decay) + self.params.regime_vol * dt.sqrt() * z).clamp(-2.0, 2.0);
        if !self.shocks.is_empty() {
            self.shock(before, now);
        }
    }

    /// Moves the fair value by the shocks' progress from `before` to `now` and takes the
    /// liquidity factors in force at `now`.
    fn shock(&mut self, before: Nanos, now: Nanos) {
        let ratio = self.shocks.fair_factor(now) / self.shocks.fair_factor(before);
        if ratio != 1.0 {
            let moved = self.fair_ticks as f64 * ratio + self.fair_carry;
            let ticks = moved.round();
            self.fair_carry = moved - ticks;
            self.fair_ticks = (ticks as i64).clamp(self.floor_ticks, self.cap_ticks);
        }
        self.liquidity = self.shocks.liquidity(now);
    }

    /// A background order the (shocked) fair value has left behind: at the best bid or ask when
    /// it quotes on the wrong side of fair (a bid above fair minus the half-spread, an ask below
    /// fair plus it), or at the worst bid or ask when it is far on the right side (beyond the
    /// half-spread plus four mean depths) — pulled from the far end, so the touch does not walk
    /// away from fair while the old book is taken down.
    fn stale_quote(&self, engine: &MatchingEngine) -> Option<u64> {
        let spread = self.liquidity.spread;
        let half = (self.params.half_spread_ticks * spread).round().max(1.0) as i64;
        let far = half + (4.0 * self.params.depth_mean_ticks * spread).round().max(1.0) as i64;
        let ticks = |price: Price| price.units() / self.tick - self.fair_ticks;
        let background = |side: Side, price: Price| {
            engine.queue(side, price).find(|o| o.owner == Owner::Background).map(|o| o.venue_id)
        };
        let wrong_side =
            [(Side::Buy, engine.best_bid()), (Side::Sell, engine.best_ask())].into_iter().find_map(|(side, best)| {
                let (price, _) = best.filter(|(p, _)| match side {
                    Side::Buy => ticks(*p) > -half,
                    Side::Sell => ticks(*p) < half,
                })?;
                background(side, price)
            });
        wrong_side.or_else(|| {
            [Side::Buy, Side::Sell].into_iter().find_map(|side| {
                let (price, _) = engine.levels(side).last().filter(|(p, _)| match side {
                    Side::Buy => ticks(*p) < -far,
                    Side::Sell => ticks(*p) > far,
                })?;
                background(side, price)
            })
        })
    }

    /// A resting-style limit order on `side` around fair (it may still cross a stale book).
    fn passive_order(&mut self, side: Side, bid: Option<(Price, Qty)>, ask: Option<(Price, Qty)>) -> NewOrder {
        if let (Some((bid, _)), Some((ask, _))) = (bid, ask)
            && ask.units() - bid.units() > self.tick
            && self.rng.random_bool(self.params.inside_spread_prob)
        {
            let ticks = match side {
                Side::Buy => bid.units() / self.tick + 1,
                Side::Sell => ask.units() / self.tick - 1,
            };
            return self.limit(side, ticks);
        }
        let scale = self.regime.exp();
        let scale = scale * self.liquidity.spread;
        let half = self.stochastic_round(self.params.half_spread_ticks * scale);
        let depth = self.geometric(self.params.depth_mean_ticks * scale);
        let ticks = (self.fair_ticks - side.sign() * (half + depth)).max(1);
        self.limit(side, ticks)
    }

    /// A market order biased toward moving the mid to fair, bounded a few ticks through the touch.
    fn marketable_order(&mut self, bid: Price, ask: Price) -> NewOrder {
        let mid_ticks = (bid.units() + ask.units()) as f64 / (2 * self.tick) as f64;
        let gap = (self.fair_ticks as f64 - mid_ticks) / self.params.fair_pull_ticks;
        let p_buy = 0.5 + 0.5 * gap.tanh();
        let side = if self.rng.random_bool(p_buy.clamp(0.0, 1.0)) { Side::Buy } else { Side::Sell };
        let slip = i64::from(self.params.market_slippage_ticks) * self.tick;
        let (touch, bound) = match side {
            Side::Buy => (ask, ask.units().saturating_add(slip)),
            Side::Sell => (bid, (bid.units() - slip).max(self.tick)),
        };
        let qty = self.order_qty(touch, self.size_factor(side));
        NewOrder::market(Owner::Background, side, qty, Some(Price::from_units(bound)))
    }

    /// A GTC background limit order at `ticks` ticks with a sampled size.
    fn limit(&mut self, side: Side, ticks: i64) -> NewOrder {
        let price = Price::from_units(ticks.max(1) * self.tick);
        let qty = self.order_qty(price, self.size_factor(side));
        NewOrder::limit(Owner::Background, side, TimeInForce::Gtc, price, qty)
    }

    /// The farther from fair of two random live orders; forgets ids the book no longer holds.
    fn cancel_pick(&mut self, engine: &MatchingEngine) -> Option<u64> {
        let fair = self.fair_ticks * self.tick;
        let mut best: Option<(i64, u64)> = None;
        for _ in 0..2 {
            if self.live.is_empty() {
                break;
            }
            let id = self.live[self.rng.random_range(0..self.live.len())];
            match engine.order(id) {
                Some(o) => {
                    let distance = (o.price.units() - fair).abs();
                    if best.is_none_or(|(d, _)| distance > d) {
                        best = Some((distance, id));
                    }
                }
                None => self.forget_order(id),
            }
        }
        best.map(|(_, id)| id)
    }

    /// The shocks' factor on the size of `side`'s background orders (1 without a shock).
    fn size_factor(&self, side: Side) -> f64 {
        match side {
            Side::Buy => self.liquidity.bid_size,
            Side::Sell => self.liquidity.ask_size,
        }
    }

    /// A sampled size in lots times `factor`, raised to the instrument's minimum quantity and
    /// to its minimum notional at `price`.
    fn order_qty(&mut self, price: Price, factor: f64) -> Qty {
        let sampled: f64 = self.size.sample(&mut self.rng);
        let lots = (sampled * factor).ceil().clamp(1.0, f64::from(self.params.size_max_lots)) as i64;
        let mut qty = Qty::from_units(lots * self.lot).max(self.instrument.min_qty());
        let min_notional = self.instrument.min_notional();
        let below = |q: Qty| self.instrument.notional(price, q, Rounding::Down).is_ok_and(|n| n < min_notional);
        if below(qty)
            && let Ok(q) = self.instrument.qty_for_notional(price, min_notional)
        {
            qty = qty.max(q);
            if below(qty) {
                qty = Qty::from_units(qty.units().saturating_add(self.lot));
            }
        }
        qty
    }

    /// `x` rounded down or up at random, with expectation `x`.
    fn stochastic_round(&mut self, x: f64) -> i64 {
        let floor = x.floor();
        floor as i64 + i64::from(self.rng.random::<f64>() < x - floor)
    }

    /// A geometric count of failures with mean `mean`, capped at 20 × the mean.
    fn geometric(&mut self, mean: f64) -> i64 {
        if mean <= 0.0 {
            return 0;
        }
        let u: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
        let k = (u.ln() / (mean / (1.0 + mean)).ln()).floor();
        k.clamp(0.0, (mean * 20.0).ceil()) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::matching::{FeeSchedule, NullSink};
    use qt_core::{InstrumentId, InstrumentKind, InstrumentSpec, OrderType, Venue};

    fn instrument(min_notional: &str) -> Instrument {
        Instrument::from_spec(
            InstrumentId(0),
            &InstrumentSpec {
                venue: Venue::Sim,
                symbol: "ETHUSDT".into(),
                base: "ETH".into(),
                quote: "USDT".into(),
                kind: InstrumentKind::Spot,
                tick_size: "0.05".into(),
                lot_size: "0.001".into(),
                min_qty: Some("0.002".into()),
                min_notional: Some(min_notional.into()),
                multiplier: None,
                price_scale: None,
                qty_scale: None,
            },
        )
        .unwrap()
    }

    #[test]
    fn validate_names_the_field() {
        assert_eq!(FlowParams::default().validate(), Ok(()));
        let bad = |f: fn(&mut FlowParams)| {
            let mut p = FlowParams::default();
            f(&mut p);
            p.validate().unwrap_err()
        };
        assert!(bad(|p| p.events_per_sec = 0.0).starts_with("events_per_sec:"));
        assert!(bad(|p| p.fair_vol_ticks = f64::NAN).starts_with("fair_vol_ticks:"));
        assert!(bad(|p| p.start_mid = Some(Price::ZERO)).starts_with("start_mid:"));
        assert!(bad(|p| p.inside_spread_prob = 1.5).starts_with("inside_spread_prob:"));
        assert!(bad(|p| p.size_median_lots = 0.5).starts_with("size_median_lots:"));
        assert!(bad(|p| p.target_orders = 0).starts_with("target_orders:"));
        let e = SyntheticFlow::new(
            &instrument("5"),
            FlowParams { start_mid: Some(Price::from_units(1)), ..FlowParams::default() },
            1,
        )
        .unwrap_err();
        assert!(e.starts_with("start_mid:"), "{e}");
    }

    #[test]
    fn orders_are_on_the_grid_and_pass_the_filters() {
        let inst = instrument("20");
        let params = FlowParams { start_mid: Some(inst.parse_price("2500").unwrap()), ..FlowParams::default() };
        let mut flow = SyntheticFlow::new(&inst, params, 7).unwrap();
        let mut engine = MatchingEngine::new(inst.clone(), FeeSchedule::default());
        let apply = |flow: &mut SyntheticFlow, engine: &mut MatchingEngine, order: NewOrder| {
            if order.order_type == OrderType::Limit {
                assert!(inst.is_on_tick(order.price), "{order:?}");
            } else {
                assert!(order.price.is_positive() && order.price.is_multiple_of(inst.tick()), "{order:?}");
            }
            assert!(inst.is_on_lot(order.qty) && order.qty >= inst.min_qty(), "{order:?}");
            let id = engine.submit(order, Nanos::ZERO, &mut NullSink).unwrap_or_else(|e| panic!("{order:?}: {e:?}"));
            if engine.order(id).is_some() {
                flow.track_order(id);
            }
        };
        let mut seed = Vec::new();
        flow.seed_orders(&mut seed);
        assert!(seed.len() >= 40);
        for order in seed {
            apply(&mut flow, &mut engine, order);
        }
        let (mut last, mut cancels, mut markets) = (flow.next_event_time(), 0, 0);
        for _ in 0..5_000 {
            match flow.next_action(&engine) {
                FlowAction::Submit(order) => {
                    markets += usize::from(order.order_type == OrderType::Market);
                    apply(&mut flow, &mut engine, order);
                }
                FlowAction::Cancel(id) => {
                    cancels += 1;
                    engine.cancel(id, Nanos::ZERO, &mut NullSink).unwrap();
                    flow.forget_order(id);
                }
            }
            assert!(flow.next_event_time() > last);
            last = flow.next_event_time();
        }
        assert!(cancels > 500 && markets > 200, "{cancels} cancels, {markets} market orders");
    }

    #[test]
    fn same_seed_same_actions_different_seed_different() {
        let inst = instrument("5");
        let run = |seed| {
            let mut flow = SyntheticFlow::new(&inst, FlowParams::default(), seed).unwrap();
            let engine = MatchingEngine::new(inst.clone(), FeeSchedule::default());
            (0..200).map(|_| (flow.next_event_time(), flow.next_action(&engine), flow.fair_price())).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn live_order_tracking_is_o1_and_exact() {
        let mut flow = SyntheticFlow::new(&instrument("5"), FlowParams::default(), 3).unwrap();
        for id in 1..=10 {
            flow.track_order(id);
        }
        flow.track_order(3);
        flow.forget_order(3);
        flow.forget_order(10);
        flow.forget_order(42);
        flow.forget_order(1);
        assert_eq!(flow.live_orders(), 7);
        let mut live = flow.live.clone();
        live.sort_unstable();
        assert_eq!(live, vec![2, 4, 5, 6, 7, 8, 9]);
        for (slot, id) in flow.live.iter().enumerate() {
            assert_eq!(flow.live_slot[id], slot);
        }
    }
}
