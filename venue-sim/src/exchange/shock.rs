//! A shock schedule for the simulated venue's background flow: at set simulated times, for one
//! instrument or all, the latent fair value moves by a fraction over a duration, and the flow's
//! liquidity (spread, depth, order sizes per side, replenishment) is scaled for a while.
//!
//! `qt stress` injects its market scenarios (a flash crash, a liquidity drought, a correlated
//! move) this way, through the same flow and matching engine every simulated run uses. An empty
//! schedule (the default of every `qt run`) changes nothing: the flow does not look at it, so a
//! seed's order flow stays what it was, byte for byte.
//!
//! While a shock is active (from its start until the later of its ramp's and its hold's end) the
//! background also pulls stale quotes: a background order at the best bid or ask that quotes on
//! the wrong side of the fair value (a bid above `fair − half-spread`, an ask below `fair +
//! half-spread`, the half-spread as scaled) or far from it (beyond the half-spread plus four mean
//! depths) is cancelled before anything else happens at that event — market makers requote when
//! the fair value runs away from their orders, so the book follows the move instead of lagging.
//!
//! Owned by the sim venue thread (inside each market's flow). Pure arithmetic on `f64` factors;
//! no allocation after construction.

use qt_core::{InstrumentId, Nanos};

/// One shock, as a scenario writes it: times are offsets from the run's simulated start.
#[derive(Clone, Debug, PartialEq)]
pub struct Shock {
    /// The instrument it hits; `None`: every instrument.
    pub instrument: Option<InstrumentId>,
    /// When it starts, after the run's start.
    pub at: Nanos,
    /// How long the fair value takes to move (linearly); zero: at once.
    pub ramp: Nanos,
    /// How far the fair value moves, as a fraction of its value at the start (−0.10: 10 % down).
    pub fair_move: f64,
    /// How long, from `at`, the liquidity factors below apply (zero: they do not).
    pub hold: Nanos,
    /// Factor on the half-spread and on the depth (distance behind it) of new background quotes.
    pub spread: f64,
    /// Factor on the size of background bids (resting and aggressing).
    pub bid_size: f64,
    /// Factor on the size of background asks (resting and aggressing).
    pub ask_size: f64,
    /// Factor on the weight of new background limit orders (replenishment of the book).
    pub replenish: f64,
}

impl Default for Shock {
    /// Every instrument, at the start, no move, no liquidity change.
    fn default() -> Self {
        Self {
            instrument: None,
            at: Nanos::ZERO,
            ramp: Nanos::ZERO,
            fair_move: 0.0,
            hold: Nanos::ZERO,
            spread: 1.0,
            bid_size: 1.0,
            ask_size: 1.0,
            replenish: 1.0,
        }
    }
}

impl Shock {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        let factor = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1e4 { Ok(()) } else { Err(format!("{name}: {v} must be in (0, 1e4]")) }
        };
        if self.at < Nanos::ZERO || self.ramp < Nanos::ZERO || self.hold < Nanos::ZERO {
            return Err("at, ramp and hold must not be negative".into());
        }
        if !(self.fair_move.is_finite() && self.fair_move > -0.99 && self.fair_move <= 100.0) {
            return Err(format!("fair_move: {} must be in (-0.99, 100]", self.fair_move));
        }
        factor("spread", self.spread)?;
        factor("bid_size", self.bid_size)?;
        factor("ask_size", self.ask_size)?;
        factor("replenish", self.replenish)
    }
}

/// The liquidity factors in force at one moment (all 1 when no shock holds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Liquidity {
    /// Factor on the half-spread and depth.
    pub spread: f64,
    /// Factor on bid sizes.
    pub bid_size: f64,
    /// Factor on ask sizes.
    pub ask_size: f64,
    /// Factor on the limit-order weight.
    pub replenish: f64,
    /// Whether a shock is under way (its move or its hold): stale quotes are pulled.
    pub active: bool,
}

impl Default for Liquidity {
    fn default() -> Self {
        Self { spread: 1.0, bid_size: 1.0, ask_size: 1.0, replenish: 1.0, active: false }
    }
}

/// The shocks one market's flow follows, in absolute simulated time.
#[derive(Clone, Debug, Default)]
pub struct ShockSchedule {
    shocks: Vec<(Nanos, Shock)>,
}

impl ShockSchedule {
    /// The shocks of `all` that hit `instrument`, for a run starting at `start`.
    pub fn for_market(all: &[Shock], instrument: InstrumentId, start: Nanos) -> Self {
        let shocks = all
            .iter()
            .filter(|s| s.instrument.is_none_or(|i| i == instrument))
            .map(|s| (start.saturating_add(s.at), s.clone()))
            .collect();
        Self { shocks }
    }

    /// Whether there is nothing to follow.
    pub fn is_empty(&self) -> bool {
        self.shocks.is_empty()
    }

    /// The factor the shocks have moved the fair value by at `t`: the product of each shock's
    /// `1 + fair_move × progress`, progress going linearly from 0 at its start to 1 at its
    /// ramp's end.
    pub fn fair_factor(&self, t: Nanos) -> f64 {
        self.shocks
            .iter()
            .map(|(from, s)| {
                let progress = if t < *from {
                    0.0
                } else if s.ramp <= Nanos::ZERO {
                    1.0
                } else {
                    (t.saturating_sub(*from).0 as f64 / s.ramp.0 as f64).min(1.0)
                };
                1.0 + s.fair_move * progress
            })
            .product()
    }

    /// The liquidity factors at `t`: the product over the shocks holding then.
    pub fn liquidity(&self, t: Nanos) -> Liquidity {
        let mut l = Liquidity::default();
        for (from, s) in &self.shocks {
            if t < *from {
                continue;
            }
            let since = t.saturating_sub(*from);
            if since < s.hold {
                l.spread *= s.spread;
                l.bid_size *= s.bid_size;
                l.ask_size *= s.ask_size;
                l.replenish *= s.replenish;
            }
            if since < s.hold.max(s.ramp) {
                l.active = true;
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = Nanos::SECOND.0;

    #[test]
    fn the_fair_value_moves_linearly_over_the_ramp_and_stays_moved() {
        let crash = Shock { at: Nanos(2 * S), ramp: Nanos(S), fair_move: -0.10, ..Shock::default() };
        let s = ShockSchedule::for_market(&[crash], InstrumentId(0), Nanos(100 * S));
        assert_eq!(s.fair_factor(Nanos(101 * S)), 1.0);
        assert!((s.fair_factor(Nanos(102 * S + S / 2)) - 0.95).abs() < 1e-12);
        assert!((s.fair_factor(Nanos(110 * S)) - 0.90).abs() < 1e-12);
    }

    #[test]
    fn liquidity_factors_hold_for_their_time_and_only_on_their_instrument() {
        let drought = Shock {
            instrument: Some(InstrumentId(1)),
            at: Nanos(S),
            hold: Nanos(3 * S),
            spread: 20.0,
            bid_size: 0.05,
            ask_size: 0.05,
            ..Shock::default()
        };
        let other = ShockSchedule::for_market(std::slice::from_ref(&drought), InstrumentId(0), Nanos::ZERO);
        assert!(other.is_empty());
        let s = ShockSchedule::for_market(&[drought], InstrumentId(1), Nanos::ZERO);
        assert_eq!(s.liquidity(Nanos(S / 2)), Liquidity::default());
        let during = s.liquidity(Nanos(2 * S));
        assert_eq!((during.spread, during.bid_size, during.active), (20.0, 0.05, true));
        assert_eq!(s.liquidity(Nanos(4 * S)), Liquidity::default());
    }

    #[test]
    fn validate_names_the_field() {
        assert_eq!(Shock::default().validate(), Ok(()));
        let e = Shock { spread: 0.0, ..Shock::default() }.validate().unwrap_err();
        assert!(e.starts_with("spread:"), "{e}");
        let e = Shock { fair_move: -1.0, ..Shock::default() }.validate().unwrap_err();
        assert!(e.starts_with("fair_move:"), "{e}");
    }
}
