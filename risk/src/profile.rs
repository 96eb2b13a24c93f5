//! Capital profiles: the named limit sets (`micro` … `aggressive`) an account trades under.
//!
//! A [`CapitalProfile`] names a default [`ProfileLimits`] (see [`ProfileLimits::defaults`] for the
//! ladder and why); an account's config may override any limit with [`ProfileOverrides`], and
//! [`ProfileLimits::resolve`] merges the two and validates the result, reporting every problem at
//! once, each with its field name and the offending value, so a self-contradicting config is
//! refused at start-up rather than discovered in trading.
//!
//! Thread: start-up (config loading). `resolve` allocates (it parses strings and collects
//! problems); the resolved [`ProfileLimits`] is a plain `Copy` value handed to the core thread.
//! All values are exact: [`Rate`] for ratios, [`Notional`] for money, [`Nanos`] for time; never
//! `f64`.

use qt_core::{Nanos, Notional, Rate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One settlement-currency unit (e.g. 1 USDT) in [`Notional`] units (`10^-18`).
const WHOLE: i128 = 1_000_000_000_000_000_000;
/// Nanoseconds per millisecond, for `per_ms` overrides.
const NANOS_PER_MS: i64 = 1_000_000;

/// A named set of default risk limits, from the most conservative to the most permissive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapitalProfile {
    /// The go-live profile: smallest size, tightest limits.
    Micro,
    /// Small size, conservative limits.
    Low,
    /// The middle of the ladder.
    Medium,
    /// Large size, wide limits.
    High,
    /// The most permissive profile.
    Aggressive,
}

impl CapitalProfile {
    /// Every profile, from the most conservative to the most permissive.
    pub const ALL: [Self; 5] = [Self::Micro, Self::Low, Self::Medium, Self::High, Self::Aggressive];

    /// The config name (`"micro"`, …), as serde reads and writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Micro => "micro",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Aggressive => "aggressive",
        }
    }
}

impl fmt::Display for CapitalProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rate limit on order submission: at most `orders` orders in any window of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderRate {
    /// Orders allowed per window (≥ 1).
    pub orders: u32,
    /// Window length (> 0).
    pub per: Nanos,
}

/// The limits an account trades under once its profile and overrides are resolved.
///
/// Ratios are fractions (`0.02` = 2 %); money is in the settlement currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileLimits {
    /// Largest gross leverage (gross position notional / equity) after an order fills; > 0.
    pub max_leverage: Rate,
    /// Largest loss one trade may risk (distance to stop × quantity), as a fraction of equity;
    /// in (0, 1].
    pub max_single_trade_risk: Rate,
    /// Largest loss (realized + unrealized) within one UTC day, as a fraction of the equity at the
    /// start of that day; in (0, 1].
    pub daily_loss_limit: Rate,
    /// Largest loss (realized + unrealized) within one ISO week (from Monday 00:00 UTC), as a
    /// fraction of the equity at the start of that week; in (0, 1], at least the daily limit.
    pub weekly_loss_limit: Rate,
    /// Most positions open at once (instruments with a non-zero position); ≥ 1.
    pub max_open_positions: u32,
    /// Largest notional of one order, in settlement currency; > 0.
    pub max_order_notional: Notional,
    /// Order-submission rate limit.
    pub max_order_rate: OrderRate,
}

/// A whole number of settlement-currency units, as a `const`.
const fn whole(n: i128) -> Notional {
    Notional::from_units(n * WHOLE)
}

impl ProfileLimits {
    /// The defaults of `profile`.
    ///
    /// | profile    | leverage | single-trade risk | daily loss | weekly loss | open positions | order notional | order rate |
    /// |------------|---------:|------------------:|-----------:|------------:|---------------:|---------------:|-----------:|
    /// | micro      |    1.5×  |             0.5 % |        1 % |         3 % |              2 |          1 000 |    2 / s   |
    /// | low        |      2×  |               1 % |        2 % |         5 % |              3 |          5 000 |    5 / s   |
    /// | medium     |      3×  |               2 % |        3 % |         8 % |              5 |         25 000 |   10 / s   |
    /// | high       |      5×  |               3 % |        5 % |        12 % |              8 |        100 000 |   20 / s   |
    /// | aggressive |     10×  |               5 % |        8 % |        20 % |             12 |        250 000 |   25 / s   |
    ///
    /// Leverage and single-trade risk are the seed's ladder (1.5× … 10×, 0.5 % … 5 %). The other
    /// columns are our choices: the daily loss limit is always above the single-trade risk (one
    /// stopped-out trade must not end the day on its own) and about a third of the weekly limit
    /// (three bad days in a week stop the week); open positions and order notional grow with the
    /// profile's size; order notional is in settlement-currency units (e.g. USDT). The order rate
    /// stays well below the per-account order limits venues publish, so our own gate, not the
    /// venue's ban, is what throttles a runaway strategy.
    pub const fn defaults(profile: CapitalProfile) -> Self {
        let second = Nanos::SECOND;
        match profile {
            CapitalProfile::Micro => Self {
                max_leverage: Rate::from_bps(15_000),
                max_single_trade_risk: Rate::from_bps(50),
                daily_loss_limit: Rate::from_bps(100),
                weekly_loss_limit: Rate::from_bps(300),
                max_open_positions: 2,
                max_order_notional: whole(1_000),
                max_order_rate: OrderRate { orders: 2, per: second },
            },
            CapitalProfile::Low => Self {
                max_leverage: Rate::from_bps(20_000),
                max_single_trade_risk: Rate::from_bps(100),
                daily_loss_limit: Rate::from_bps(200),
                weekly_loss_limit: Rate::from_bps(500),
                max_open_positions: 3,
                max_order_notional: whole(5_000),
                max_order_rate: OrderRate { orders: 5, per: second },
            },
            CapitalProfile::Medium => Self {
                max_leverage: Rate::from_bps(30_000),
                max_single_trade_risk: Rate::from_bps(200),
                daily_loss_limit: Rate::from_bps(300),
                weekly_loss_limit: Rate::from_bps(800),
                max_open_positions: 5,
                max_order_notional: whole(25_000),
                max_order_rate: OrderRate { orders: 10, per: second },
            },
            CapitalProfile::High => Self {
                max_leverage: Rate::from_bps(50_000),
                max_single_trade_risk: Rate::from_bps(300),
                daily_loss_limit: Rate::from_bps(500),
                weekly_loss_limit: Rate::from_bps(1_200),
                max_open_positions: 8,
                max_order_notional: whole(100_000),
                max_order_rate: OrderRate { orders: 20, per: second },
            },
            CapitalProfile::Aggressive => Self {
                max_leverage: Rate::from_bps(100_000),
                max_single_trade_risk: Rate::from_bps(500),
                daily_loss_limit: Rate::from_bps(800),
                weekly_loss_limit: Rate::from_bps(2_000),
                max_open_positions: 12,
                max_order_notional: whole(250_000),
                max_order_rate: OrderRate { orders: 25, per: second },
            },
        }
    }

    /// The defaults of `profile` with `overrides` applied, validated.
    ///
    /// Checks, on the merged values: every decimal parses exactly; `max_leverage > 0`; each of
    /// `max_single_trade_risk`, `daily_loss_limit`, `weekly_loss_limit` in (0, 1];
    /// `daily_loss_limit ≤ weekly_loss_limit`; `max_single_trade_risk ≤ daily_loss_limit`;
    /// `max_open_positions ≥ 1`; `max_order_notional > 0`; `max_order_rate.orders ≥ 1`;
    /// `max_order_rate.per_ms ≥ 1` and representable in nanoseconds. A cross-field check runs
    /// only when both of its fields are valid on their own, so one bad value is reported once.
    ///
    /// Returns every problem found, in field order, each naming its field and value.
    pub fn resolve(profile: CapitalProfile, overrides: &ProfileOverrides) -> Result<Self, Vec<LimitProblem>> {
        let mut limits = Self::defaults(profile);
        let mut problems = Vec::new();

        match rate_field(&mut problems, "max_leverage", overrides.max_leverage.as_deref(), limits.max_leverage) {
            Some(v) if v > Rate::ZERO => limits.max_leverage = v,
            Some(v) => problems.push(LimitProblem::new("max_leverage", format!("must be greater than 0, got {v}"))),
            None => {}
        }

        let risk = fraction_field(
            &mut problems,
            "max_single_trade_risk",
            overrides.max_single_trade_risk.as_deref(),
            limits.max_single_trade_risk,
        );
        let daily = fraction_field(
            &mut problems,
            "daily_loss_limit",
            overrides.daily_loss_limit.as_deref(),
            limits.daily_loss_limit,
        );
        let weekly = fraction_field(
            &mut problems,
            "weekly_loss_limit",
            overrides.weekly_loss_limit.as_deref(),
            limits.weekly_loss_limit,
        );
        if let (Some(daily), Some(weekly)) = (daily, weekly)
            && daily > weekly
        {
            problems.push(LimitProblem::new(
                "daily_loss_limit",
                format!("{daily} is larger than weekly_loss_limit {weekly}; a day cannot lose more than its week"),
            ));
        }
        if let (Some(risk), Some(daily)) = (risk, daily)
            && risk > daily
        {
            problems.push(LimitProblem::new(
                "max_single_trade_risk",
                format!("{risk} is larger than daily_loss_limit {daily}; one stopped-out trade would breach the day"),
            ));
        }
        limits.max_single_trade_risk = risk.unwrap_or(limits.max_single_trade_risk);
        limits.daily_loss_limit = daily.unwrap_or(limits.daily_loss_limit);
        limits.weekly_loss_limit = weekly.unwrap_or(limits.weekly_loss_limit);

        if let Some(n) = overrides.max_open_positions {
            if n == 0 {
                problems.push(LimitProblem::new("max_open_positions", "must be at least 1, got 0".to_string()));
            }
            limits.max_open_positions = n;
        }

        if let Some(text) = overrides.max_order_notional.as_deref() {
            match Notional::parse(text) {
                Ok(v) if v > Notional::ZERO => limits.max_order_notional = v,
                Ok(v) => {
                    problems.push(LimitProblem::new("max_order_notional", format!("must be greater than 0, got {v}")))
                }
                Err(e) => {
                    problems.push(LimitProblem::new("max_order_notional", format!("expected a decimal amount: {e}")))
                }
            }
        }

        if let Some(rate) = &overrides.max_order_rate {
            if let Some(orders) = rate.orders {
                if orders == 0 {
                    problems.push(LimitProblem::new("max_order_rate.orders", "must be at least 1, got 0".to_string()));
                }
                limits.max_order_rate.orders = orders;
            }
            if let Some(per_ms) = rate.per_ms {
                match i64::try_from(per_ms).ok().and_then(|ms| ms.checked_mul(NANOS_PER_MS)) {
                    Some(0) => problems
                        .push(LimitProblem::new("max_order_rate.per_ms", "must be at least 1, got 0".to_string())),
                    Some(ns) => limits.max_order_rate.per = Nanos(ns),
                    None => problems.push(LimitProblem::new(
                        "max_order_rate.per_ms",
                        format!("{per_ms} ms does not fit in 64-bit nanoseconds"),
                    )),
                }
            }
        }

        if problems.is_empty() { Ok(limits) } else { Err(problems) }
    }
}

/// Parses an optional decimal override of a [`Rate`] field; the default when absent, `None`
/// (with the problem recorded) when it does not parse.
fn rate_field(problems: &mut Vec<LimitProblem>, field: &str, text: Option<&str>, default: Rate) -> Option<Rate> {
    let Some(text) = text else { return Some(default) };
    match Rate::parse(text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(LimitProblem::new(field, format!("expected a decimal such as \"0.02\": {e}")));
            None
        }
    }
}

/// Like [`rate_field`], and the value must be a fraction in (0, 1]; `None` if it is not.
fn fraction_field(problems: &mut Vec<LimitProblem>, field: &str, text: Option<&str>, default: Rate) -> Option<Rate> {
    let v = rate_field(problems, field, text, default)?;
    if v > Rate::ZERO && v <= Rate::ONE {
        Some(v)
    } else {
        problems.push(LimitProblem::new(field, format!("must be a fraction of equity in (0, 1], got {v}")));
        None
    }
}

/// Per-account overrides of a profile's defaults, as read from config; absent fields keep the
/// default. Ratios and money are decimal strings (`"0.02"` = 2 %, `"2500.50"`), parsed exactly by
/// [`ProfileLimits::resolve`]; a misspelt field is refused by serde.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverrides {
    /// Overrides [`ProfileLimits::max_leverage`] (e.g. `"2.5"`).
    #[serde(default)]
    pub max_leverage: Option<String>,
    /// Overrides [`ProfileLimits::max_single_trade_risk`] (fraction, e.g. `"0.01"`).
    #[serde(default)]
    pub max_single_trade_risk: Option<String>,
    /// Overrides [`ProfileLimits::daily_loss_limit`] (fraction).
    #[serde(default)]
    pub daily_loss_limit: Option<String>,
    /// Overrides [`ProfileLimits::weekly_loss_limit`] (fraction).
    #[serde(default)]
    pub weekly_loss_limit: Option<String>,
    /// Overrides [`ProfileLimits::max_open_positions`].
    #[serde(default)]
    pub max_open_positions: Option<u32>,
    /// Overrides [`ProfileLimits::max_order_notional`] (settlement currency, e.g. `"2500"`).
    #[serde(default)]
    pub max_order_notional: Option<String>,
    /// Overrides parts of [`ProfileLimits::max_order_rate`].
    #[serde(default)]
    pub max_order_rate: Option<OrderRateOverride>,
}

/// Overrides of [`OrderRate`]; absent parts keep the profile's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRateOverride {
    /// Orders allowed per window.
    #[serde(default)]
    pub orders: Option<u32>,
    /// Window length in milliseconds.
    #[serde(default)]
    pub per_ms: Option<u64>,
}

/// One problem in a profile's resolved limits: the field (a path such as
/// `max_order_rate.per_ms`) and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct LimitProblem {
    /// The offending field, as named in config.
    pub field: String,
    /// What is wrong, with the value found.
    pub message: String,
}

impl LimitProblem {
    fn new(field: &str, message: String) -> Self {
        Self { field: field.to_string(), message }
    }

    /// The same problem with its field placed under `prefix` (e.g. `accounts[2].limits`), for
    /// callers that validate many accounts.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as ValueError, MapDeserializer};

    fn rate(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    fn fields(problems: &[LimitProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn every_profile_default_resolves_and_matches_the_seed_ladder() {
        let table = [
            (CapitalProfile::Micro, "1.5", "0.005"),
            (CapitalProfile::Low, "2", "0.01"),
            (CapitalProfile::Medium, "3", "0.02"),
            (CapitalProfile::High, "5", "0.03"),
            (CapitalProfile::Aggressive, "10", "0.05"),
        ];
        for (profile, leverage, risk) in table {
            let limits = ProfileLimits::resolve(profile, &ProfileOverrides::default()).unwrap();
            assert_eq!(limits, ProfileLimits::defaults(profile), "{profile}");
            assert_eq!(limits.max_leverage, rate(leverage), "{profile}");
            assert_eq!(limits.max_single_trade_risk, rate(risk), "{profile}");
        }
    }

    #[test]
    fn defaults_grow_monotonically_along_the_ladder() {
        for pair in CapitalProfile::ALL.windows(2) {
            let (a, b) = (ProfileLimits::defaults(pair[0]), ProfileLimits::defaults(pair[1]));
            assert!(a.max_leverage < b.max_leverage, "{pair:?}");
            assert!(a.max_single_trade_risk < b.max_single_trade_risk, "{pair:?}");
            assert!(a.daily_loss_limit < b.daily_loss_limit, "{pair:?}");
            assert!(a.weekly_loss_limit < b.weekly_loss_limit, "{pair:?}");
            assert!(a.max_open_positions < b.max_open_positions, "{pair:?}");
            assert!(a.max_order_notional < b.max_order_notional, "{pair:?}");
            assert!(a.max_order_rate.orders < b.max_order_rate.orders, "{pair:?}");
        }
    }

    #[test]
    fn each_override_applies() {
        type Check = fn(&ProfileLimits) -> bool;
        let table: [(ProfileOverrides, Check); 8] = [
            (ProfileOverrides { max_leverage: Some("1.25".into()), ..Default::default() }, |l| {
                l.max_leverage == Rate::from_bps(12_500)
            }),
            (ProfileOverrides { max_single_trade_risk: Some("0.0025".into()), ..Default::default() }, |l| {
                l.max_single_trade_risk == Rate::from_bps(25)
            }),
            (ProfileOverrides { daily_loss_limit: Some("0.015".into()), ..Default::default() }, |l| {
                l.daily_loss_limit == Rate::from_bps(150)
            }),
            (ProfileOverrides { weekly_loss_limit: Some("0.04".into()), ..Default::default() }, |l| {
                l.weekly_loss_limit == Rate::from_bps(400)
            }),
            (ProfileOverrides { max_open_positions: Some(7), ..Default::default() }, |l| l.max_open_positions == 7),
            (
                ProfileOverrides { max_order_notional: Some("2500.000000000000000001".into()), ..Default::default() },
                |l| l.max_order_notional == Notional::from_units(2_500 * WHOLE + 1),
            ),
            (
                ProfileOverrides {
                    max_order_rate: Some(OrderRateOverride { orders: Some(9), per_ms: None }),
                    ..Default::default()
                },
                |l| l.max_order_rate == OrderRate { orders: 9, per: Nanos::SECOND },
            ),
            (
                ProfileOverrides {
                    max_order_rate: Some(OrderRateOverride { orders: None, per_ms: Some(250) }),
                    ..Default::default()
                },
                |l| l.max_order_rate == OrderRate { orders: 2, per: Nanos(250_000_000) },
            ),
        ];
        for (overrides, check) in table {
            let limits = ProfileLimits::resolve(CapitalProfile::Micro, &overrides).unwrap();
            assert!(check(&limits), "{overrides:?} -> {limits:?}");
            // Nothing else moved: resetting the overridden field to the default gives the defaults.
            let defaults = ProfileLimits::defaults(CapitalProfile::Micro);
            let differing = [
                limits.max_leverage != defaults.max_leverage,
                limits.max_single_trade_risk != defaults.max_single_trade_risk,
                limits.daily_loss_limit != defaults.daily_loss_limit,
                limits.weekly_loss_limit != defaults.weekly_loss_limit,
                limits.max_open_positions != defaults.max_open_positions,
                limits.max_order_notional != defaults.max_order_notional,
                limits.max_order_rate != defaults.max_order_rate,
            ];
            assert_eq!(differing.iter().filter(|d| **d).count(), 1, "{overrides:?}");
        }
    }

    #[test]
    fn each_contradiction_is_refused_naming_its_field() {
        let table: [(ProfileOverrides, &str, &str); 15] = [
            (ProfileOverrides { max_leverage: Some("0".into()), ..Default::default() }, "max_leverage", "got 0"),
            (ProfileOverrides { max_leverage: Some("-2".into()), ..Default::default() }, "max_leverage", "got -2"),
            (ProfileOverrides { max_leverage: Some("2x".into()), ..Default::default() }, "max_leverage", "2x"),
            (
                ProfileOverrides { max_single_trade_risk: Some("0".into()), ..Default::default() },
                "max_single_trade_risk",
                "(0, 1], got 0",
            ),
            (
                ProfileOverrides { weekly_loss_limit: Some("1.00000001".into()), ..Default::default() },
                "weekly_loss_limit",
                "got 1.00000001",
            ),
            (
                ProfileOverrides { daily_loss_limit: Some("0.000000001".into()), ..Default::default() },
                "daily_loss_limit",
                "0.000000001",
            ),
            (
                ProfileOverrides { daily_loss_limit: Some("0.04".into()), ..Default::default() },
                "daily_loss_limit",
                "0.04 is larger than weekly_loss_limit 0.03",
            ),
            (
                ProfileOverrides { max_single_trade_risk: Some("0.02".into()), ..Default::default() },
                "max_single_trade_risk",
                "0.02 is larger than daily_loss_limit 0.01",
            ),
            (ProfileOverrides { max_open_positions: Some(0), ..Default::default() }, "max_open_positions", "got 0"),
            (
                ProfileOverrides { max_order_notional: Some("0".into()), ..Default::default() },
                "max_order_notional",
                "got 0",
            ),
            (
                ProfileOverrides { max_order_notional: Some("-5".into()), ..Default::default() },
                "max_order_notional",
                "got -5",
            ),
            (
                ProfileOverrides { max_order_notional: Some("".into()), ..Default::default() },
                "max_order_notional",
                "empty",
            ),
            (
                ProfileOverrides {
                    max_order_rate: Some(OrderRateOverride { orders: Some(0), per_ms: None }),
                    ..Default::default()
                },
                "max_order_rate.orders",
                "got 0",
            ),
            (
                ProfileOverrides {
                    max_order_rate: Some(OrderRateOverride { orders: None, per_ms: Some(0) }),
                    ..Default::default()
                },
                "max_order_rate.per_ms",
                "got 0",
            ),
            (
                ProfileOverrides {
                    max_order_rate: Some(OrderRateOverride { orders: None, per_ms: Some(u64::MAX) }),
                    ..Default::default()
                },
                "max_order_rate.per_ms",
                "18446744073709551615 ms",
            ),
        ];
        for (overrides, field, needle) in table {
            let problems = ProfileLimits::resolve(CapitalProfile::Micro, &overrides).unwrap_err();
            assert_eq!(fields(&problems), [field], "{overrides:?}: {problems:?}");
            assert!(problems[0].message.contains(needle), "{overrides:?}: {problems:?}");
            assert!(problems[0].to_string().starts_with(field), "{}", problems[0]);
        }
    }

    #[test]
    fn all_problems_are_reported_at_once_in_field_order() {
        let overrides = ProfileOverrides {
            max_leverage: Some("0".into()),
            max_single_trade_risk: Some("1.5".into()),
            daily_loss_limit: Some("0.5".into()),
            weekly_loss_limit: Some("0.2".into()),
            max_open_positions: Some(0),
            max_order_notional: Some("-1".into()),
            max_order_rate: Some(OrderRateOverride { orders: Some(0), per_ms: Some(0) }),
        };
        let problems = ProfileLimits::resolve(CapitalProfile::Aggressive, &overrides).unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                "max_leverage",
                "max_single_trade_risk",
                "daily_loss_limit",
                "max_open_positions",
                "max_order_notional",
                "max_order_rate.orders",
                "max_order_rate.per_ms",
            ],
            "{problems:?}"
        );
        // The cross-check against an invalid single-trade risk is skipped: reported once, not twice.
        assert!(problems[2].message.contains("larger than weekly_loss_limit 0.2"), "{problems:?}");
    }

    #[test]
    fn an_override_can_fix_a_contradiction_the_other_override_would_cause() {
        // Raising daily above micro's weekly default is fine once weekly is raised too.
        let overrides = ProfileOverrides {
            daily_loss_limit: Some("0.04".into()),
            weekly_loss_limit: Some("0.04".into()),
            ..Default::default()
        };
        let limits = ProfileLimits::resolve(CapitalProfile::Micro, &overrides).unwrap();
        assert_eq!((limits.daily_loss_limit, limits.weekly_loss_limit), (rate("0.04"), rate("0.04")));
    }

    /// A config string value as a text format (TOML, JSON) presents it: a present `Option` field
    /// is `Some(text)`. serde's own string deserializer has no notion of options.
    struct ConfigStr(&'static str);

    impl<'de> serde::Deserializer<'de> for ConfigStr {
        type Error = ValueError;

        fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visitor.visit_borrowed_str(self.0)
        }

        fn deserialize_option<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visitor.visit_some(self)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
            newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
        }
    }

    impl<'de> IntoDeserializer<'de, ValueError> for ConfigStr {
        type Deserializer = Self;

        fn into_deserializer(self) -> Self {
            self
        }
    }

    #[test]
    fn overrides_deserialize_from_decimal_strings_and_refuse_unknown_fields() {
        let read = |pairs: &[(&'static str, &'static str)]| {
            let de: MapDeserializer<'_, _, ValueError> =
                MapDeserializer::new(pairs.iter().map(|(k, v)| (k.into_deserializer(), ConfigStr(v))));
            ProfileOverrides::deserialize(de)
        };
        let o = read(&[("max_leverage", "2.5"), ("max_order_notional", "1000.5")]).unwrap();
        assert_eq!(o.max_leverage.as_deref(), Some("2.5"));
        let limits = ProfileLimits::resolve(CapitalProfile::Low, &o).unwrap();
        assert_eq!(limits.max_leverage, Rate::from_bps(25_000));
        assert_eq!(limits.max_order_notional, Notional::from_units(1_000 * WHOLE + WHOLE / 2));

        let err = read(&[("max_leverge", "2.5")]).unwrap_err();
        assert!(err.to_string().contains("max_leverge"), "{err}");

        let profile: Result<CapitalProfile, ValueError> = CapitalProfile::deserialize("aggressive".into_deserializer());
        assert_eq!(profile, Ok(CapitalProfile::Aggressive));
        for p in CapitalProfile::ALL {
            let back: Result<CapitalProfile, ValueError> = CapitalProfile::deserialize(p.as_str().into_deserializer());
            assert_eq!(back, Ok(p));
        }
        let bad: Result<CapitalProfile, ValueError> = CapitalProfile::deserialize("Micro".into_deserializer());
        assert!(bad.is_err());
    }

    #[test]
    fn problems_can_be_placed_under_an_account_path() {
        let p = LimitProblem::new("max_leverage", "must be greater than 0, got 0".into()).under("accounts[1].limits");
        assert_eq!(p.to_string(), "accounts[1].limits.max_leverage: must be greater than 0, got 0");
    }
}
