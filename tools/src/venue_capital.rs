//! A live run's accounts start from their venues: each account's configured `starting_equity`
//! is a **cap** on the capital its risk limits are measured from. At start, after the venues'
//! balances are read, each account is given the smaller of the cap and what its venues hold of
//! its settlement currency ([`ControlCommand::Capital`], journaled, so a replay measures from the
//! same number, and a restart after a capped run is set back); one whose venues hold none of it is refused at start,
//! naming the account and the currency. Holdings in other assets (a spot account's base coin)
//! are not counted: there is no price for them before the books are up. An account without
//! keys at any live venue of the run keeps its configured capital (configuration already
//! refuses an account settling in two currencies).
//!
//! Open derivatives positions start from the venue too ([`position_commands`]): where a
//! venue's account query shows a position in a configured linear contract that differs from
//! the engine's (none on a fresh journal; the restored one after a restart), the engine takes
//! the venue's quantity and entry ([`ControlCommand::Position`], journaled). A spot account's
//! holdings are balances, not positions: the engine's spot position is what it traded.
//!
//! Main thread, before the core runs: allocates.

use crate::config::Plan;
use crate::gateways::VenuePosition;
use qt_core::engine::ControlCommand;
use qt_core::position::Position;
use qt_core::{AccountId, DecimalStyle, InstrumentId, InstrumentKind, Notional, Qty, Rounding, Venue};
use qt_risk::reconcile::AssetAmount;

/// What the venues' balances made of one account's capital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapitalLine {
    /// Account.
    pub account: AccountId,
    /// Its settlement currency (`None`: it has no keys at a live venue: unchanged).
    pub currency: Option<String>,
    /// Configured `starting_equity`.
    pub configured: Notional,
    /// What its venues hold of the currency (free + locked), summed over venues.
    pub venues: Notional,
    /// The capital the run measures from.
    pub capital: Notional,
}

impl CapitalLine {
    /// One summary line.
    pub fn render(&self, name: &str) -> String {
        let t = |n: Notional| n.to_text(DecimalStyle::Trimmed);
        match &self.currency {
            None => format!("capital {name}: {} as configured (no keys at a live venue)", t(self.configured)),
            Some(c) if self.capital < self.configured => format!(
                "capital {name}: {} {c}, what its venues hold (starting_equity {} is a cap)",
                t(self.capital),
                t(self.configured)
            ),
            Some(c) => {
                format!("capital {name}: {} {c} as configured (its venues hold {})", t(self.capital), t(self.venues))
            }
        }
    }
}

/// Each account's capital from `balances` (every account's balances on every live venue at
/// start). `Err` names each account whose venues hold none of its settlement currency.
pub fn from_balances(plan: &Plan, balances: &[AssetAmount]) -> Result<Vec<CapitalLine>, String> {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for (i, account) in plan.accounts.iter().enumerate() {
        let id = AccountId(i as u16);
        let mut currencies: Vec<&str> = plan
            .venues
            .iter()
            .filter(|v| v.keys.iter().any(|(a, _, _)| *a == id))
            .flat_map(|v| v.instruments.iter().filter_map(|x| plan.instruments.get(*x)).map(|x| x.quote()))
            .collect();
        currencies.sort_unstable();
        currencies.dedup();
        let configured = account.spec.starting_equity;
        let [currency] = currencies[..] else {
            out.push(CapitalLine {
                account: id,
                currency: None,
                configured,
                venues: Notional::ZERO,
                capital: configured,
            });
            continue;
        };
        let venues = balances
            .iter()
            .filter(|(a, asset, _)| *a == id && asset == currency)
            .fold(Notional::ZERO, |sum, (_, _, n)| sum.checked_add(*n).unwrap_or(sum));
        if venues <= Notional::ZERO {
            refused.push(format!(
                "accounts[{i}] ({}): its venues hold no {currency} (starting_equity {} is a cap on what they hold)",
                account.name,
                configured.to_text(DecimalStyle::Trimmed)
            ));
            continue;
        }
        let capital = if venues < configured { venues } else { configured };
        out.push(CapitalLine { account: id, currency: Some(currency.to_string()), configured, venues, capital });
    }
    if refused.is_empty() { Ok(out) } else { Err(refused.join("; ")) }
}

/// The commands that give each account its capital: every account whose currency is known,
/// capped or not — a restart replays the earlier runs' commands first, so an account capped
/// then and not now must be set back explicitly.
pub fn commands(lines: &[CapitalLine]) -> Vec<ControlCommand> {
    lines
        .iter()
        .filter(|l| l.currency.is_some())
        .map(|l| ControlCommand::Capital { account: l.account, equity: l.capital })
        .collect()
}

/// The commands that make the engine's linear positions the venues' (`venues`: each venue with
/// a positions query and what it answered), and one line for each change. `ours`: the engine's
/// positions now. A venue position off the instrument's lot grid is an error naming it.
pub fn position_commands(
    plan: &Plan,
    ours: &[(AccountId, InstrumentId, Position)],
    venues: &[(Venue, Vec<VenuePosition>)],
) -> Result<(Vec<ControlCommand>, Vec<String>), String> {
    let (mut commands, mut lines) = (Vec::new(), Vec::new());
    for (venue, held) in venues {
        let Some(v) = plan.venues.iter().find(|v| v.venue == *venue) else { continue };
        for p in held.iter().filter(|p| !v.instruments.iter().any(|i| symbol_of(plan, *i) == Some(p.symbol.as_str()))) {
            lines.push(format!(
                "position {} {} at {venue}: {} not traded by this configuration (left alone)",
                account_name(plan, p.account),
                p.symbol,
                p.size.to_text(DecimalStyle::Trimmed)
            ));
        }
        for (account, _, _) in &v.keys {
            for id in &v.instruments {
                let Some(inst) = plan.instruments.get(*id).filter(|i| i.kind() == InstrumentKind::LinearPerpetual)
                else {
                    continue;
                };
                let at_venue = held.iter().find(|p| p.account == *account && p.symbol == inst.symbol());
                let (qty, entry) = match at_venue {
                    Some(p) => {
                        let qty = Qty::parse(p.size.to_text(DecimalStyle::Trimmed).as_str(), inst.qty_scale())
                            .map_err(|_| {
                                format!(
                                    "{venue} {}: position {} is not on the lot grid",
                                    inst.symbol(),
                                    p.size.to_text(DecimalStyle::Trimmed)
                                )
                            })?;
                        let raw = i128::from(qty.units())
                            .checked_mul(p.entry_price.units())
                            .ok_or_else(|| format!("{venue} {}: position too large", inst.symbol()))?;
                        let scale = 10i128.pow(u32::from(inst.qty_scale()));
                        let entry = qt_core::money::div_round_i128(raw, scale, Rounding::Nearest)
                            .map_err(|e| format!("{venue} {}: {e}", inst.symbol()))?;
                        (qty, Notional::from_units(entry))
                    }
                    None => (Qty::ZERO, Notional::ZERO),
                };
                let engine =
                    ours.iter().find(|(a, i, _)| a == account && i == id).map(|(_, _, p)| *p).unwrap_or_default();
                if engine.qty() == qty && engine.entry_notional() == entry {
                    continue;
                }
                commands.push(ControlCommand::Position {
                    account: *account,
                    instrument: *id,
                    qty,
                    entry_notional: entry,
                });
                lines.push(format!(
                    "position {} {} at {venue}: {} with entry notional {} taken from the venue (the engine had {})",
                    account_name(plan, *account),
                    inst.symbol(),
                    qt_core::decimal::format_scaled(i128::from(qty.units()), inst.qty_scale(), DecimalStyle::Trimmed)
                        .as_str(),
                    entry.to_text(DecimalStyle::Trimmed),
                    qt_core::decimal::format_scaled(
                        i128::from(engine.qty().units()),
                        inst.qty_scale(),
                        DecimalStyle::Trimmed
                    )
                    .as_str()
                ));
            }
        }
    }
    Ok((commands, lines))
}

fn symbol_of(plan: &Plan, id: InstrumentId) -> Option<&str> {
    plan.instruments.get(id).map(|i| i.symbol())
}

fn account_name(plan: &Plan, account: AccountId) -> &str {
    plan.accounts.get(account.index()).map_or("?", |a| a.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        // The example's CA file is the simulator's; the plan is never connected here.
        let text =
            include_str!("../../examples/binance-venue-sim.toml").replace("ca_file = \"venue-sim-ca.pem\"\n", "");
        crate::config::load(&text, "binance-venue-sim.toml").unwrap()
    }

    fn usdt(n: &str) -> Vec<AssetAmount> {
        vec![
            (AccountId(0), "BTC".into(), Notional::parse("3").unwrap()),
            (AccountId(0), "USDT".into(), Notional::parse(n).unwrap()),
        ]
    }

    #[test]
    fn the_configured_equity_caps_what_the_venues_hold() {
        let plan = plan();
        let lines = from_balances(&plan, &usdt("4000.5")).unwrap();
        assert_eq!(lines[0].capital, Notional::parse("4000.5").unwrap(), "less at the venue: the venue's");
        assert_eq!(commands(&lines), [ControlCommand::Capital { account: AccountId(0), equity: lines[0].capital }]);
        assert!(lines[0].render("alpha").contains("starting_equity 10000 is a cap"), "{}", lines[0].render("alpha"));
        let lines = from_balances(&plan, &usdt("250000")).unwrap();
        assert_eq!(lines[0].capital, Notional::parse("10000").unwrap(), "more at the venue: the cap");
        // Sent all the same: a restart after a capped run must set the capital back.
        assert_eq!(commands(&lines), [ControlCommand::Capital { account: AccountId(0), equity: lines[0].capital }]);
    }

    #[test]
    fn an_account_whose_venues_hold_none_of_its_currency_is_refused_by_name() {
        let e = from_balances(&plan(), &usdt("0")).unwrap_err();
        assert!(e.contains("accounts[0] (alpha)") && e.contains("no USDT"), "{e}");
        let e = from_balances(&plan(), &[]).unwrap_err();
        assert!(e.contains("no USDT"), "{e}");
    }
}
