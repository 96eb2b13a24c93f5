//! Global Risk level: INFO / WARNING / CRITICAL from four signals, with hysteresis and dwell.
//!
//! Signals, recomputed on each [`GlobalRisk::update`] from the portfolio snapshot passed in and
//! from state carried between calls:
//! - **drawdown**: `(peak − equity) / peak`, the peak being the highest equity seen;
//! - **leverage**: gross notional `Σ|position notional|` / equity;
//! - **volatility**: the EWMA of squared equity returns, one return per `return_interval`
//!   (binary fixed-point `I32F32`; compared with the squared thresholds, so no square root);
//! - **concentration**: the largest share of gross notional in one correlation bucket (buckets
//!   from config; instruments without a bucket share one "unmapped" bucket, which overstates
//!   rather than hides concentration). Below `concentration_min_gross` it reads zero, since a
//!   single small position is 100 % "concentrated" but not a portfolio risk.
//!
//! The level rises as soon as any signal reaches a threshold (`value ≥ threshold`), and falls only
//! when every signal is strictly below its threshold minus its band (`value < threshold − band`)
//! and the current level has been held for `min_dwell`, so it does not flap. A change is returned
//! as a [`LevelChange`] for the engine to publish as `risk.updated` and count as a metric.
//!
//! Thread: owned by the core thread. Contract: [`GlobalRisk::update`] does not allocate, lock or
//! block (a fixed-size bucket array on the stack); [`GlobalRisk::new`] validates the config and
//! is the only allocating call.

use fixed::types::I32F32;
use qt_core::money::div_round_i128;
use qt_core::{InstrumentId, Nanos, Notional, Rate, Rounding};

/// Correlation buckets supported, including the last one, reserved for unmapped instruments.
pub const MAX_BUCKETS: usize = 32;

/// The bucket instruments without a configured bucket fall in.
pub const UNMAPPED_BUCKET: u8 = (MAX_BUCKETS - 1) as u8;

/// The global risk level. Ordered: `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum GlobalRiskLevel {
    /// Normal.
    Info = 0,
    /// Elevated; alert.
    Warning = 1,
    /// The risk gate blocks new risk and the emergency stop trips.
    Critical = 2,
}

impl GlobalRiskLevel {
    /// The name used in `risk.updated` and the metric label.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// The signal behind a level change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RiskSignal {
    /// Drawdown from peak equity.
    Drawdown = 0,
    /// Gross leverage.
    Leverage = 1,
    /// Realized volatility of equity returns.
    Volatility = 2,
    /// Largest correlation bucket's share of gross exposure.
    Concentration = 3,
}

impl RiskSignal {
    /// Number of signals.
    pub const COUNT: usize = 4;
    /// Every signal, in evaluation order (ties are reported as the first).
    pub const ALL: [RiskSignal; Self::COUNT] = [Self::Drawdown, Self::Leverage, Self::Volatility, Self::Concentration];

    /// The snake_case name used in `risk.updated`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Drawdown => "drawdown",
            Self::Leverage => "leverage",
            Self::Volatility => "volatility",
            Self::Concentration => "concentration",
        }
    }
}

/// Thresholds of one signal. Volatility thresholds are per-`return_interval` standard deviations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// At or above: WARNING.
    pub warning: Rate,
    /// At or above: CRITICAL.
    pub critical: Rate,
    /// Hysteresis: the level falls only once the value is below `threshold − band`.
    pub band: Rate,
}

/// Configuration of [`GlobalRisk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalRiskConfig {
    /// Drawdown from peak equity, as a fraction.
    pub drawdown: Thresholds,
    /// Gross notional / equity.
    pub leverage: Thresholds,
    /// Standard deviation of per-interval equity returns.
    pub volatility: Thresholds,
    /// Largest bucket share of gross notional.
    pub concentration: Thresholds,
    /// Minimum time at a level before it may fall.
    pub min_dwell: Nanos,
    /// EWMA decay λ in `(0, 1)`: `var ← λ·var + (1 − λ)·r²` (RiskMetrics uses 0.94).
    pub ewma_lambda: Rate,
    /// One return is sampled per interval.
    pub return_interval: Nanos,
    /// Below this gross notional the concentration signal reads zero.
    pub concentration_min_gross: Notional,
    /// Correlation bucket of each instrument, indexed by [`InstrumentId::index`]; missing
    /// instruments, and any bucket ≥ [`UNMAPPED_BUCKET`], count as unmapped.
    pub buckets: Vec<u8>,
}

impl Default for GlobalRiskConfig {
    /// Drawdown 5 % / 10 % (band 1 %), gross leverage 3× / 8× (band 0.5), per-second return
    /// volatility 1 % / 5 % (band 0.2 %), concentration 90 % / 100 % (band 5 %) above a gross of
    /// 50 000; dwell 5 s; RiskMetrics' λ = 0.94; one return per second; no buckets.
    fn default() -> Self {
        let t = |w: i64, c: i64, b: i64| Thresholds {
            warning: Rate::from_bps(w),
            critical: Rate::from_bps(c),
            band: Rate::from_bps(b),
        };
        Self {
            drawdown: t(500, 1_000, 100),
            leverage: t(30_000, 80_000, 5_000),
            volatility: t(100, 500, 20),
            concentration: t(9_000, 10_000, 500),
            min_dwell: Nanos(5 * Nanos::SECOND.0),
            ewma_lambda: Rate::from_bps(9_400),
            return_interval: Nanos::SECOND,
            concentration_min_gross: Notional::from_units(50_000 * 1_000_000_000_000_000_000),
            buckets: Vec::new(),
        }
    }
}

/// One problem in a [`GlobalRiskConfig`], with its field path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Field path, e.g. `global_risk.leverage.band`.
    pub field: &'static str,
    /// What was expected.
    pub expected: &'static str,
}

/// A config that cannot be used; lists every problem at once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid global risk config: {}", .problems.iter().map(|p| format!("{}: expected {}", p.field, p.expected)).collect::<Vec<_>>().join("; "))]
pub struct GlobalRiskConfigError {
    /// Every problem found.
    pub problems: Vec<ConfigProblem>,
}

/// A level change for `risk.updated` and the level metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelChange {
    /// Previous level.
    pub from: GlobalRiskLevel,
    /// New level.
    pub to: GlobalRiskLevel,
    /// On a rise, the signal that crossed; on a fall, the signal still holding the new level or,
    /// on a fall to INFO, the one that had set the previous level.
    pub reason: RiskSignal,
    /// When.
    pub at: Nanos,
}

/// The portfolio snapshot an update sees.
#[derive(Clone, Copy, Debug)]
pub struct RiskInputs<'a> {
    /// Current equity (marked to market).
    pub equity: Notional,
    /// Signed notional of each open position.
    pub positions: &'a [(InstrumentId, Notional)],
}

/// The signal values of the last update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SignalValues {
    /// Drawdown from peak, as a fraction.
    pub drawdown: Rate,
    /// Gross leverage.
    pub leverage: Rate,
    /// EWMA variance of per-interval returns.
    pub variance: I32F32,
    /// Largest bucket share of gross notional.
    pub concentration: Rate,
}

/// Thresholds of one signal, pre-squared for volatility so the comparison is on the variance.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    warning: I32F32,
    critical: I32F32,
    warning_release: I32F32,
    critical_release: I32F32,
}

impl Bounds {
    fn linear(t: &Thresholds) -> Self {
        Self {
            warning: rate_fx(t.warning),
            critical: rate_fx(t.critical),
            warning_release: rate_fx(Rate::from_units(t.warning.units().saturating_sub(t.band.units()))),
            critical_release: rate_fx(Rate::from_units(t.critical.units().saturating_sub(t.band.units()))),
        }
    }

    fn squared(t: &Thresholds) -> Self {
        // Floored at one ulp: a square that underflows to zero would make a release point no
        // variance is below, so the level could never fall.
        let sq = |r: Rate| {
            let x = rate_fx(Rate::from_units(r.units().max(0)));
            x.saturating_mul(x).max(I32F32::DELTA)
        };
        Self {
            warning: sq(t.warning),
            critical: sq(t.critical),
            warning_release: sq(Rate::from_units(t.warning.units().saturating_sub(t.band.units()))),
            critical_release: sq(Rate::from_units(t.critical.units().saturating_sub(t.band.units()))),
        }
    }

    /// The level `v` reaches on the way up.
    #[inline]
    fn rise_level(&self, v: I32F32) -> GlobalRiskLevel {
        if v >= self.critical {
            GlobalRiskLevel::Critical
        } else if v >= self.warning {
            GlobalRiskLevel::Warning
        } else {
            GlobalRiskLevel::Info
        }
    }

    /// The lowest level `v` lets the global level fall to.
    #[inline]
    fn hold_level(&self, v: I32F32) -> GlobalRiskLevel {
        if v >= self.critical_release {
            GlobalRiskLevel::Critical
        } else if v >= self.warning_release {
            GlobalRiskLevel::Warning
        } else {
            GlobalRiskLevel::Info
        }
    }
}

/// A [`Rate`] (10^-8) as `I32F32`, saturating; exact comparisons between two converted rates
/// keep their order because the conversion is monotonic.
#[inline]
fn rate_fx(r: Rate) -> I32F32 {
    let bits = (i128::from(r.units()) << 32) / i128::from(Rate::ONE.units());
    I32F32::from_bits(i64::try_from(bits).unwrap_or(if bits < 0 { i64::MIN } else { i64::MAX }))
}

/// `num / den` as a [`Rate`] rounded up (risk reads conservatively), saturating at the extremes.
#[inline]
fn ratio(num: i128, den: i128) -> Rate {
    let Some(scaled) = num.checked_mul(i128::from(Rate::ONE.units())) else {
        return Rate::from_units(if (num < 0) == (den < 0) { i64::MAX } else { i64::MIN });
    };
    match div_round_i128(scaled, den, Rounding::Up) {
        Ok(v) => Rate::from_units(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })),
        Err(_) => Rate::from_units(i64::MAX),
    }
}

/// The global risk level, updated incrementally on the core thread.
#[derive(Clone, Debug)]
pub struct GlobalRisk {
    bounds: [Bounds; RiskSignal::COUNT],
    min_dwell: Nanos,
    lambda: I32F32,
    one_minus_lambda: I32F32,
    return_interval: Nanos,
    concentration_min_gross: Notional,
    buckets: Vec<u8>,
    level: GlobalRiskLevel,
    cause: RiskSignal,
    since: Nanos,
    peak: Option<Notional>,
    last_sample: Option<(Nanos, Notional)>,
    variance: I32F32,
    values: SignalValues,
}

impl GlobalRisk {
    /// A tracker at INFO, validating `config` (all problems reported at once).
    pub fn new(config: GlobalRiskConfig) -> Result<Self, GlobalRiskConfigError> {
        let mut problems = Vec::new();
        for (t, warning, critical, band) in [
            (
                &config.drawdown,
                "global_risk.drawdown.warning",
                "global_risk.drawdown.critical",
                "global_risk.drawdown.band",
            ),
            (
                &config.leverage,
                "global_risk.leverage.warning",
                "global_risk.leverage.critical",
                "global_risk.leverage.band",
            ),
            (
                &config.volatility,
                "global_risk.volatility.warning",
                "global_risk.volatility.critical",
                "global_risk.volatility.band",
            ),
            (
                &config.concentration,
                "global_risk.concentration.warning",
                "global_risk.concentration.critical",
                "global_risk.concentration.band",
            ),
        ] {
            if t.warning <= Rate::ZERO {
                problems.push(ConfigProblem { field: warning, expected: "a value greater than zero" });
            }
            if t.critical < t.warning {
                problems.push(ConfigProblem { field: critical, expected: "a value at or above warning" });
            }
            // band = warning would put the release point at zero, and the level could never fall.
            if t.band < Rate::ZERO || t.band >= t.warning {
                problems.push(ConfigProblem { field: band, expected: "a value in [0, warning)" });
            }
        }
        if config.ewma_lambda <= Rate::ZERO || config.ewma_lambda >= Rate::ONE {
            problems.push(ConfigProblem { field: "global_risk.ewma_lambda", expected: "a value in (0, 1)" });
        }
        if config.return_interval <= Nanos::ZERO {
            problems.push(ConfigProblem { field: "global_risk.return_interval", expected: "a duration above zero" });
        }
        if config.min_dwell < Nanos::ZERO {
            problems.push(ConfigProblem { field: "global_risk.min_dwell", expected: "a duration of zero or more" });
        }
        if !problems.is_empty() {
            return Err(GlobalRiskConfigError { problems });
        }
        let lambda = rate_fx(config.ewma_lambda);
        Ok(Self {
            bounds: [
                Bounds::linear(&config.drawdown),
                Bounds::linear(&config.leverage),
                Bounds::squared(&config.volatility),
                Bounds::linear(&config.concentration),
            ],
            min_dwell: config.min_dwell,
            lambda,
            one_minus_lambda: I32F32::ONE - lambda,
            return_interval: config.return_interval,
            concentration_min_gross: config.concentration_min_gross,
            buckets: config.buckets,
            level: GlobalRiskLevel::Info,
            cause: RiskSignal::Drawdown,
            since: Nanos::ZERO,
            peak: None,
            last_sample: None,
            variance: I32F32::ZERO,
            values: SignalValues::default(),
        })
    }

    /// The current level.
    #[inline]
    pub fn level(&self) -> GlobalRiskLevel {
        self.level
    }

    /// Whether the level is CRITICAL (the risk gate's `GlobalRiskCritical` check).
    #[inline]
    pub fn is_critical(&self) -> bool {
        self.level == GlobalRiskLevel::Critical
    }

    /// The signal values computed by the last update.
    #[inline]
    pub fn signals(&self) -> SignalValues {
        self.values
    }

    /// Recomputes the signals from `inputs` at `now` and moves the level; returns the change, if
    /// any. No allocation.
    pub fn update(&mut self, now: Nanos, inputs: &RiskInputs<'_>) -> Option<LevelChange> {
        let equity = inputs.equity;
        // Drawdown from peak.
        let peak = match self.peak {
            Some(p) if p >= equity => p,
            _ => equity,
        };
        self.peak = Some(peak);
        let drawdown = if peak.units() > 0 {
            ratio(peak.units().saturating_sub(equity.units()), peak.units())
        } else if equity.units() < peak.units() {
            Rate::ONE
        } else {
            Rate::ZERO
        };

        // Gross and per-bucket exposure.
        let mut per_bucket = [0i128; MAX_BUCKETS];
        let mut gross: i128 = 0;
        for &(instrument, notional) in inputs.positions {
            let abs = notional.units().saturating_abs();
            gross = gross.saturating_add(abs);
            let bucket = self.buckets.get(instrument.index()).map_or(UNMAPPED_BUCKET, |b| (*b).min(UNMAPPED_BUCKET));
            let slot = &mut per_bucket[usize::from(bucket)];
            *slot = slot.saturating_add(abs);
        }
        let leverage = if gross == 0 {
            Rate::ZERO
        } else if equity.units() <= 0 {
            Rate::from_units(i64::MAX)
        } else {
            ratio(gross, equity.units())
        };
        let concentration = if gross == 0 || gross < self.concentration_min_gross.units() {
            Rate::ZERO
        } else {
            let largest = per_bucket.iter().copied().max().unwrap_or(0);
            ratio(largest, gross)
        };

        // Volatility: one return per interval, from the equity at the previous sample.
        match self.last_sample {
            None => self.last_sample = Some((now, equity)),
            Some((at, prev)) if now.saturating_sub(at) >= self.return_interval => {
                if prev.units() > 0 {
                    // Clamp to ±100 (10 000 %) so the square fits I32F32.
                    let r = ratio(equity.units().saturating_sub(prev.units()), prev.units());
                    let r = Rate::from_units(r.units().clamp(-100 * Rate::ONE.units(), 100 * Rate::ONE.units()));
                    let r = rate_fx(r);
                    self.variance = self
                        .lambda
                        .saturating_mul(self.variance)
                        .saturating_add(self.one_minus_lambda.saturating_mul(r * r));
                }
                self.last_sample = Some((now, equity));
            }
            Some(_) => {}
        }

        self.values = SignalValues { drawdown, leverage, variance: self.variance, concentration };
        let readings = [rate_fx(drawdown), rate_fx(leverage), self.variance, rate_fx(concentration)];

        // Rise: the highest level any signal reaches; ties go to the first signal.
        let mut rise = GlobalRiskLevel::Info;
        let mut rise_cause = self.cause;
        let mut hold = GlobalRiskLevel::Info;
        let mut hold_cause = self.cause;
        for (i, signal) in RiskSignal::ALL.into_iter().enumerate() {
            let level = self.bounds[i].rise_level(readings[i]);
            if level > rise {
                rise = level;
                rise_cause = signal;
            }
            let level = self.bounds[i].hold_level(readings[i]);
            if level > hold {
                hold = level;
                hold_cause = signal;
            }
        }
        let from = self.level;
        let (to, reason) = if rise > from {
            (rise, rise_cause)
        } else if hold < from && now.saturating_sub(self.since) >= self.min_dwell {
            (hold, if hold == GlobalRiskLevel::Info { self.cause } else { hold_cause })
        } else {
            return None;
        };
        self.level = to;
        self.cause = reason;
        self.since = now;
        Some(LevelChange { from, to, reason, at: now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GlobalRiskLevel::{Critical, Info, Warning};

    fn r(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    fn n(whole: i64) -> Notional {
        Notional::from_whole(whole)
    }

    fn t(warning: &str, critical: &str, band: &str) -> Thresholds {
        Thresholds { warning: r(warning), critical: r(critical), band: r(band) }
    }

    fn config() -> GlobalRiskConfig {
        GlobalRiskConfig {
            drawdown: t("0.05", "0.10", "0.01"),
            leverage: t("2", "3", "0.25"),
            volatility: t("0.02", "0.05", "0.005"),
            concentration: t("0.6", "0.8", "0.05"),
            min_dwell: Nanos(10 * Nanos::SECOND.0),
            ewma_lambda: r("0.5"),
            // Long enough that tests below a minute sample no return unless they mean to.
            return_interval: Nanos(60 * Nanos::SECOND.0),
            concentration_min_gross: n(1_000),
            buckets: vec![0, 0, 1, 2],
        }
    }

    fn sec(s: i64) -> Nanos {
        Nanos(s * Nanos::SECOND.0)
    }

    fn at(g: &mut GlobalRisk, s: i64, equity: i64, positions: &[(InstrumentId, Notional)]) -> Option<LevelChange> {
        g.update(sec(s), &RiskInputs { equity: n(equity), positions })
    }

    #[test]
    fn config_problems_are_all_reported() {
        let mut c = config();
        c.leverage.critical = r("1");
        c.drawdown.band = r("-0.1");
        c.ewma_lambda = Rate::ONE;
        c.concentration.band = c.concentration.warning;
        let err = GlobalRisk::new(c).unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "global_risk.drawdown.band",
                "global_risk.leverage.critical",
                "global_risk.concentration.band",
                "global_risk.ewma_lambda"
            ]
        );
        assert!(err.to_string().contains("global_risk.leverage.critical: expected a value at or above warning"));
    }

    #[test]
    fn each_signal_alone_raises_the_level() {
        let (a, b, c) = (InstrumentId(0), InstrumentId(2), InstrumentId(3));
        // (name, equity path, positions at the last step, expected changes (to, reason))
        // (name, seconds per step, equity path, positions at the last step, expected (to, reason))
        type Case<'a> =
            (&'static str, i64, &'static [i64], &'a [(InstrumentId, i64)], &'static [(GlobalRiskLevel, RiskSignal)]);
        let flat: &[(InstrumentId, i64)] = &[];
        // Steps 0 s apart sample no return, so volatility stays zero outside its own case.
        let cases: [Case; 6] = [
            // Drawdown: 100 → 95 is exactly 5 % → WARNING; 90 is 10 % → CRITICAL.
            (
                "drawdown",
                0,
                &[100_000, 95_000, 90_000],
                flat,
                &[(Warning, RiskSignal::Drawdown), (Critical, RiskSignal::Drawdown)],
            ),
            // Leverage: gross 200k on 100k equity = exactly 2.
            (
                "leverage warning",
                0,
                &[100_000, 100_000, 100_000],
                &[(a, 100_000), (b, -50_000), (c, 50_000)],
                &[(Warning, RiskSignal::Leverage)],
            ),
            (
                "leverage critical",
                0,
                &[100_000, 100_000, 100_000],
                &[(a, 150_000), (b, -100_000), (c, 50_000)],
                &[(Critical, RiskSignal::Leverage)],
            ),
            // Concentration: 70 % in bucket 0 (instruments 0 and 1), leverage 0.1.
            (
                "concentration",
                0,
                &[100_000, 100_000, 100_000],
                &[(a, 4_000), (InstrumentId(1), -3_000), (b, 3_000)],
                &[(Warning, RiskSignal::Concentration)],
            ),
            // Unmapped instruments pool into one bucket.
            (
                "unmapped",
                0,
                &[100_000, 100_000, 100_000],
                &[(InstrumentId(9), 4_500), (InstrumentId(10), 4_500), (b, 1_000)],
                &[(Critical, RiskSignal::Concentration)],
            ),
            // Volatility: +10 % per minute, λ = 0.5: var = 0.5 · 0.01 = 0.005, σ ≈ 0.071 ≥ 0.05;
            // equity only rises, so there is no drawdown.
            ("volatility", 60, &[100_000, 110_000, 121_000], flat, &[(Critical, RiskSignal::Volatility)]),
        ];
        for (name, step, path, positions, want) in cases {
            let mut g = GlobalRisk::new(config()).unwrap();
            let positions: Vec<_> = positions.iter().map(|&(i, v)| (i, n(v))).collect();
            let mut got = Vec::new();
            for (s, &equity) in path.iter().enumerate() {
                let last = s + 1 == path.len();
                if let Some(c) = at(&mut g, s as i64 * step, equity, if last { &positions } else { &[] }) {
                    got.push((c.to, c.reason));
                }
            }
            assert_eq!(got, want, "{name}: {:?}", g.signals());
        }
    }

    #[test]
    fn small_gross_is_not_concentrated() {
        let mut g = GlobalRisk::new(config()).unwrap();
        assert_eq!(at(&mut g, 0, 100_000, &[(InstrumentId(0), n(999))]), None);
        assert_eq!(g.signals().concentration, Rate::ZERO);
        assert_eq!(at(&mut g, 1, 100_000, &[(InstrumentId(0), n(1_000))]).map(|c| c.to), Some(Critical));
        assert_eq!(g.signals().concentration, Rate::ONE);
    }

    #[test]
    fn hysteresis_and_dwell_stop_flapping() {
        let a = InstrumentId(0);
        let b = InstrumentId(2);
        let c = InstrumentId(3);
        // Three legs in three buckets (concentration 1/3); leverage = 3·leg / 30k.
        let lev = |x: i64| [(a, n(x)), (b, n(x)), (c, n(x))];
        let mut g = GlobalRisk::new(config()).unwrap();
        // (second, notional per leg, expected change)
        // warning 2.0 (leg 20k), release below 1.75 (leg 17.5k); critical 3.0 (leg 30k), release < 2.75.
        type Step = (i64, i64, Option<(GlobalRiskLevel, GlobalRiskLevel)>);
        let steps: [Step; 13] = [
            (0, 19_999, None),
            (1, 20_000, Some((Info, Warning))), // exactly at the threshold rises
            (2, 19_000, None),                  // below threshold but inside the band
            (3, 20_500, None),
            (4, 17_500, None),                       // exactly threshold − band: still held
            (5, 17_000, None),                       // released but dwell (10 s from t=1) not yet over
            (11, 17_000, Some((Warning, Info))),     // dwell over
            (12, 30_000, Some((Info, Critical))),    // rises straight to CRITICAL, no dwell on the way up
            (13, 20_000, None),                      // dwell
            (22, 27_500, None),                      // exactly critical − band: still critical
            (22, 27_499, Some((Critical, Warning))), // below critical − band, dwell exactly 10 s: falls to WARNING
            (23, 17_000, None),                      // below warning − band, but WARNING only since t=22
            (32, 17_000, Some((Warning, Info))),
        ];
        for (i, (s, leg, want)) in steps.into_iter().enumerate() {
            let got = g.update(sec(s), &RiskInputs { equity: n(30_000), positions: &lev(leg) }).map(|c| (c.from, c.to));
            assert_eq!(got, want, "step {i} t={s} leg={leg} {:?}", g.signals());
        }
    }

    #[test]
    fn fall_to_warning_names_the_holding_signal() {
        let mut g = GlobalRisk::new(config()).unwrap();
        assert_eq!(at(&mut g, 0, 100_000, &[]), None);
        let c = at(&mut g, 1, 89_000, &[]).unwrap();
        assert_eq!((c.from, c.to, c.reason), (Info, Critical, RiskSignal::Drawdown));
        // Equity recovers to a 6 % drawdown: still ≥ 0.05 − 0.01, so WARNING holds.
        let c = at(&mut g, 20, 94_000, &[]).unwrap();
        assert_eq!((c.from, c.to, c.reason), (Critical, Warning, RiskSignal::Drawdown));
        assert_eq!(at(&mut g, 25, 96_001, &[]), None); // 3.999 % < 4 % but dwell from 20
        let c = at(&mut g, 30, 96_001, &[]).unwrap();
        assert_eq!((c.from, c.to, c.reason, c.at), (Warning, Info, RiskSignal::Drawdown, sec(30)));
        assert!(!g.is_critical());
    }

    #[test]
    fn exact_boundaries() {
        // (equity after a 100k peak, expected level) — drawdown thresholds 5 % / 10 %.
        let cases: [(i64, GlobalRiskLevel); 5] =
            [(95_001, Info), (95_000, Warning), (90_001, Warning), (90_000, Critical), (0, Critical)];
        for (equity, want) in cases {
            let mut g = GlobalRisk::new(config()).unwrap();
            at(&mut g, 0, 100_000, &[]);
            at(&mut g, 1, equity, &[]);
            assert_eq!(g.level(), want, "equity {equity}");
        }
        // Zero or negative equity with positions: leverage saturates, CRITICAL.
        let mut g = GlobalRisk::new(config()).unwrap();
        at(&mut g, 0, 0, &[(InstrumentId(0), n(1))]);
        assert_eq!((g.level(), g.signals().leverage), (Critical, Rate::from_units(i64::MAX)));
    }

    #[test]
    fn volatility_ewma_is_exact_in_fixed_point() {
        let mut g = GlobalRisk::new(config()).unwrap();
        at(&mut g, 0, 100_000, &[]);
        at(&mut g, 59, 101_000, &[]); // inside the interval: no return sampled
        assert_eq!(g.signals().variance, I32F32::ZERO);
        at(&mut g, 60, 101_000, &[]); // +1 % over the interval from 100k
        let ret = rate_fx(r("0.01"));
        assert_eq!(g.signals().variance, rate_fx(r("0.5")) * (ret * ret));
        assert_eq!(g.level(), Info); // σ ≈ 0.0071 < 0.02
    }
}
