//! `qt strategy swap`: the request line for a strategy swap, made by the client from the
//! engine's configuration, and its parsing on the server into the core's
//! [`ControlCommand::StrategySwap`].
//!
//! The client names the strategy (`NAME`, or `ACCOUNT/NAME` where several accounts use the
//! name) and gives the new parameters as the configuration writes them (`qty=0.02`,
//! `cooldown=50ms`, `rest_for=2s`); it resolves the name to the strategy's id and the
//! quantities to units of its instrument's lot with the same configuration the engine runs, so
//! the line on the socket is plain integers:
//!
//! ```text
//!  swap <strategy id> <version> <policy> [qty=<units>] [max_position=<units>] [threshold=<decimal>]
//!       [levels=<n>] [cooldown_ns=<ns>] [rest_for_ns=<ns>]
//! ```
//!
//! The engine checks the rest (the version must grow; the parameters on the grid) and answers.

use crate::config::Plan;
use anyhow::{Context, anyhow, bail};
use qt_core::StrategyId;
use qt_core::engine::ControlCommand;
use qt_core::strategy::swap::{I32F32, ParamPatch, StrategySwap, SwapPolicy};
use qt_core::{Nanos, Qty};

/// The parameter names `qt strategy swap --param` takes.
pub const PARAMS: [&str; 6] = ["qty", "max_position", "threshold", "levels", "cooldown", "rest_for"];

/// The strategy called `name` in `plan` (`NAME`, or `ACCOUNT/NAME`), as its id.
pub fn resolve(plan: &Plan, name: &str) -> anyhow::Result<StrategyId> {
    let (account, strategy) = match name.split_once('/') {
        Some((a, s)) => (Some(a), s),
        None => (None, name),
    };
    let matches: Vec<usize> = (0..plan.strategies.len())
        .filter(|k| plan.strategies[*k].name == strategy)
        .filter(|k| {
            account.is_none_or(|a| plan.accounts.get(plan.strategies[*k].account.index()).is_some_and(|x| x.name == a))
        })
        .collect();
    match matches.as_slice() {
        [k] => Ok(StrategyId(*k as u16)),
        [] => {
            let known: Vec<String> = plan
                .strategies
                .iter()
                .map(|s| {
                    format!("{}/{}", plan.accounts.get(s.account.index()).map_or("?", |a| a.name.as_str()), s.name)
                })
                .collect();
            bail!("no strategy {name:?} in the configuration (its strategies: {})", known.join(", "))
        }
        _ => bail!("several accounts run a strategy {name:?}: name it ACCOUNT/{strategy}"),
    }
}

/// The request line of a swap of `strategy` (by name) to `version` under `policy`, with
/// `params` (`key=value`, the configuration's units) checked against its instrument.
pub fn swap_line(
    plan: &Plan,
    strategy: &str,
    version: u32,
    policy: SwapPolicy,
    params: &[String],
) -> anyhow::Result<String> {
    let id = resolve(plan, strategy)?;
    let s = &plan.strategies[id.index()];
    let instrument = plan.instruments.get(s.instrument).context("the strategy's instrument is not configured")?;
    let mut line = format!("swap {} {version} {}", id.0, policy.name());
    for kv in params {
        let (key, value) = kv.split_once('=').with_context(|| format!("--param {kv:?}: expected KEY=VALUE"))?;
        let qty = |value: &str| -> anyhow::Result<i64> {
            let q = instrument.parse_qty(value).map_err(|e| anyhow!("--param {key}: {e}"))?;
            if !instrument.is_on_lot(q) {
                bail!("--param {key}: {value:?} is not a positive multiple of the lot size");
            }
            Ok(q.units())
        };
        let duration = |value: &str| -> anyhow::Result<i64> {
            humantime::parse_duration(value)
                .map(|d| Nanos::from_duration(d).0)
                .map_err(|e| anyhow!("--param {key}: {value:?} is not a duration like \"50ms\" ({e})"))
        };
        let encoded = match key {
            "qty" => format!("qty={}", qty(value)?),
            "max_position" => format!("max_position={}", qty(value)?),
            "threshold" => {
                I32F32::from_str(value).map_err(|_| anyhow!("--param threshold: {value:?} is not a number"))?;
                format!("threshold={value}")
            }
            "levels" => format!("levels={}", value.parse::<u32>().map_err(|_| anyhow!("--param levels: {value:?}"))?),
            "cooldown" => format!("cooldown_ns={}", duration(value)?),
            "rest_for" => format!("rest_for_ns={}", duration(value)?),
            other => bail!("--param {other:?}: the parameters are {}", PARAMS.join(", ")),
        };
        line.push(' ');
        line.push_str(&encoded);
    }
    Ok(line)
}

/// Parses the arguments of a `swap` request line (after the verb) into the core's command.
pub fn parse(rest: &str, id: u64) -> Result<ControlCommand, String> {
    let mut words = rest.split_whitespace();
    let usage = "swap needs: swap <strategy id> <version> <policy> [key=value ...]";
    let (Some(strategy), Some(version), Some(policy)) = (words.next(), words.next(), words.next()) else {
        return Err(usage.into());
    };
    let strategy = strategy.parse::<u16>().map_err(|_| format!("strategy id {strategy:?} is not an integer"))?;
    let version = version.parse::<u32>().map_err(|_| format!("version {version:?} is not an integer"))?;
    let policy = SwapPolicy::from_name(policy)
        .ok_or_else(|| format!("policy {policy:?} is not hand_over, cancel_replace or drop"))?;
    let mut params = ParamPatch::default();
    for kv in words {
        let (key, value) = kv.split_once('=').ok_or_else(|| format!("{kv:?} is not key=value"))?;
        let int = |v: &str| v.parse::<i64>().map_err(|_| format!("{key}: {v:?} is not an integer"));
        match key {
            "qty" => params.qty = Some(Qty::from_units(int(value)?)),
            "max_position" => params.max_position = Some(Qty::from_units(int(value)?)),
            "threshold" => {
                params.threshold = Some(I32F32::from_str(value).map_err(|_| format!("threshold {value:?}"))?);
            }
            "levels" => params.levels = Some(value.parse().map_err(|_| format!("levels {value:?}"))?),
            "cooldown_ns" => params.cooldown = Some(Nanos(int(value)?)),
            "rest_for_ns" => params.rest_for = Some(Nanos(int(value)?)),
            other => return Err(format!("unknown swap parameter {other:?}")),
        }
    }
    Ok(ControlCommand::StrategySwap {
        id,
        swap: StrategySwap { strategy: StrategyId(strategy), version, policy, params },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        crate::config::load(crate::config::EMBEDDED_DEFAULT, "embedded").unwrap()
    }

    #[test]
    fn a_swap_by_name_travels_as_units_and_parses_into_the_command() {
        let plan = plan();
        let params = ["qty=0.04".to_string(), "cooldown=50ms".into(), "threshold=0.65".into(), "rest_for=2s".into()];
        let line = swap_line(&plan, "alpha/btc-imbalance", 3, SwapPolicy::CancelReplace, &params).unwrap();
        assert_eq!(line, "swap 0 3 cancel_replace qty=400 cooldown_ns=50000000 threshold=0.65 rest_for_ns=2000000000");
        let rest = line.strip_prefix("swap ").unwrap();
        let ControlCommand::StrategySwap { id: 5, swap } = parse(rest, 5).unwrap() else { panic!() };
        assert_eq!((swap.strategy, swap.version, swap.policy), (StrategyId(0), 3, SwapPolicy::CancelReplace));
        assert_eq!(swap.params.qty, Some(Qty::from_units(400)));
        assert_eq!(swap.params.threshold, Some(I32F32::from_num(0.65)));
        assert_eq!((swap.params.levels, swap.params.max_position), (None, None));
    }

    #[test]
    fn bad_names_and_parameters_are_refused_naming_them() {
        let plan = plan();
        let e = swap_line(&plan, "gamma", 2, SwapPolicy::HandOver, &[]).unwrap_err().to_string();
        assert!(e.contains("gamma") && e.contains("alpha/btc-imbalance"), "{e}");
        let e = swap_line(&plan, "eth-imbalance", 2, SwapPolicy::HandOver, &["qty=0.00001".into()]).unwrap_err();
        assert!(format!("{e:#}").contains("qty"), "{e:#}");
        let e = swap_line(&plan, "eth-imbalance", 2, SwapPolicy::HandOver, &["speed=2".into()]).unwrap_err();
        assert!(e.to_string().contains("speed"), "{e}");
        assert!(parse("0 2 yolo", 1).unwrap_err().contains("policy"));
        assert!(parse("0", 1).unwrap_err().contains("swap needs"));
    }
}
