//! Canonical instruments and `[failover]`: which configured instruments are one instrument
//! listed at several venues, and the thresholds of the health score and the router
//! (`docs/FAILOVER.md`).
//!
//! An `[[instruments]]` entry joins a canonical instrument in one of two ways:
//! - `symbols = { bybit = "BTCUSDT", okx = "BTC-USDT" }`: the same instrument is also listed
//!   at those venues under those symbols, on the entry's grid (each becomes its own registry
//!   instrument, a sibling);
//! - `canonical = "BTC/USDT"`: entries with the same name (each with its own grid) are
//!   siblings.
//!
//! Siblings must share one grid (tick, lot, kind, multiplier): a mismatch is refused naming
//! both values and both venues ([`qt_core::routing::check_grid`] — the same check the
//! instruments endpoints will go through once they are loaded at start).

use super::{Problems, RawConfig, duration_field, parse_duration};
use qt_core::routing::{HealthSettings, RouterSettings, Siblings};
use qt_core::{InstrumentId, InstrumentRegistry, Nanos, Rate, Venue};
use serde::Deserialize;

/// `[failover]`: the health score's thresholds and the router's hysteresis.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFailover {
    /// An earlier venue of the chain must be healthy this long before orders go back, e.g. "30s".
    pub return_after: String,
    /// Length of the reject window, e.g. "10s".
    pub window: String,
    /// Answers (in this window and the one before) needed before the reject share is judged.
    pub min_answers: u32,
    /// Largest share of orders rejected, e.g. "0.5".
    pub max_reject_rate: String,
    /// Orders waiting and no answer for this long: the venue stopped answering, e.g. "5s".
    pub ack_timeout: String,
    /// Largest p99 of order → first answer, e.g. "2s".
    pub max_ack_p99: String,
    /// Largest age of the venue's freshest book, e.g. "30s"; "off": not judged.
    pub max_md_age: String,
}

impl Default for RawFailover {
    fn default() -> Self {
        Self {
            return_after: "30s".into(),
            window: "10s".into(),
            min_answers: 10,
            max_reject_rate: "0.5".into(),
            ack_timeout: "5s".into(),
            max_ack_p99: "2s".into(),
            max_md_age: "30s".into(),
        }
    }
}

/// The name of the canonical instrument `symbols` makes when no `canonical` is given.
pub(super) fn default_canonical(base: &str, quote: &str, kind: qt_core::InstrumentKind) -> String {
    match kind {
        qt_core::InstrumentKind::Spot => format!("{base}/{quote}"),
        qt_core::InstrumentKind::LinearPerpetual => format!("{base}/{quote}:linear"),
        qt_core::InstrumentKind::InversePerpetual => format!("{base}/{quote}:inverse"),
    }
}

/// One registry instrument made from `instruments[entry]`, and the canonical name it joins.
#[derive(Debug, Clone)]
pub(super) struct Listing {
    pub(super) entry: usize,
    pub(super) id: InstrumentId,
    pub(super) canonical: Option<String>,
}

/// Groups the listings by canonical name into siblings; every problem named on the entries'
/// paths.
pub(super) fn siblings(p: &mut Problems, instruments: &InstrumentRegistry, listings: &[Listing]) -> Siblings {
    let mut out = Siblings::alone(instruments);
    let mut names: Vec<&str> = listings.iter().filter_map(|l| l.canonical.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let members: Vec<&Listing> = listings.iter().filter(|l| l.canonical.as_deref() == Some(name)).collect();
        let ids: Vec<InstrumentId> = members.iter().map(|l| l.id).collect();
        if let Err(e) = out.add_group(instruments, name, &ids) {
            let path =
                members.last().map_or_else(|| "instruments".to_string(), |l| format!("instruments[{}]", l.entry));
            p.add(path, format!("canonical instrument {name:?}: {e}"));
        }
    }
    out
}

/// `[failover]`.
pub(super) fn settings(p: &mut Problems, raw: &RawConfig) -> (RouterSettings, HealthSettings) {
    let f = &raw.failover;
    let d = HealthSettings::default();
    let r = RouterSettings::default();
    let router =
        RouterSettings { return_after: duration_field(p, "failover.return_after", &f.return_after, r.return_after) };
    let rate = match Rate::parse(&f.max_reject_rate) {
        Ok(x) if x > Rate::ZERO && x <= Rate::ONE => (x.units() * 1000 / Rate::ONE.units()) as u32,
        Ok(x) => {
            p.add("failover.max_reject_rate", format!("{x} must be greater than 0 and at most 1"));
            d.max_reject_permille
        }
        Err(e) => {
            p.add("failover.max_reject_rate", e.to_string());
            d.max_reject_permille
        }
    };
    if f.min_answers == 0 {
        p.add("failover.min_answers", "0 must be at least 1");
    }
    let max_md_age = if f.max_md_age == "off" {
        None
    } else {
        match parse_duration(&f.max_md_age) {
            Ok(n) if n > Nanos::ZERO => Some(n),
            Ok(_) => {
                p.add("failover.max_md_age", format!("{:?} must be longer than zero (or \"off\")", f.max_md_age));
                d.max_md_age
            }
            Err(m) => {
                p.add("failover.max_md_age", format!("{m}, or \"off\""));
                d.max_md_age
            }
        }
    };
    let health = HealthSettings {
        window: duration_field(p, "failover.window", &f.window, d.window),
        min_answers: f.min_answers.max(1),
        max_reject_permille: rate,
        ack_timeout: duration_field(p, "failover.ack_timeout", &f.ack_timeout, d.ack_timeout),
        max_ack_p99: duration_field(p, "failover.max_ack_p99", &f.max_ack_p99, d.max_ack_p99),
        max_md_age,
    };
    (router, health)
}

/// The venues an `[[instruments]]` entry lists under `symbols`, each checked: known, once, not
/// the entry's own venue, and (live venues) with a `[[venues]]` entry.
pub(super) fn extra_listings<'a>(
    p: &mut Problems,
    path: &str,
    own: Venue,
    symbols: &'a std::collections::BTreeMap<Venue, String>,
    raw: &RawConfig,
) -> Vec<(Venue, &'a str)> {
    let mut out = Vec::new();
    for (venue, symbol) in symbols {
        let at = format!("{path}.symbols.{venue}");
        if *venue == own {
            p.add(at, format!("{venue} is the entry's own venue (its symbol is `symbol`)"));
        } else if *venue == Venue::Sim || !raw.venues.iter().any(|v| v.venue == *venue) {
            p.add(at, format!("{venue} has no [[venues]] entry saying where it is"));
        } else {
            out.push((*venue, symbol.as_str()));
        }
    }
    out
}
