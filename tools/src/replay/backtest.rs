//! Backtest mode of `qt replay DIR --config other.toml` (being built).

use super::ReplayArgs;
use crate::config::Plan;
use crate::run::RunOutcome;

/// Runs `plan` over the journal's market data.
pub fn run(_args: &ReplayArgs, _plan: Plan) -> anyhow::Result<RunOutcome> {
    anyhow::bail!("backtest mode is not built yet")
}
