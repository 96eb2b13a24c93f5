//! A live run's reconciliation: every account's balances on every live venue (queried on the
//! calling thread) against the engine's positions, the venues' balance changes since the start
//! against our position changes, and the per-account result in the stats file
//! (`reconciliation_difference`).
//!
//! Off the core thread: allocates, blocks on the venues.

use crate::config::Plan;
use crate::gateways::{Gateway, GatewaySetup};
use qt_core::position::Position;
use qt_core::stats::StatsRegion;
use qt_core::{AccountId, DecimalStyle, EngineReport, InstrumentId, InstrumentRegistry};
use qt_gateway::kit::error::GatewayError;
use qt_risk::reconcile::{self, AssetAmount, BalanceDiff, BalanceReconciliation};

/// Each account's reconciliation block in the stats file (owner: the main thread, which
/// reconciles), placed at start so `reconciliation_difference` is exported from the first scrape.
pub(crate) type ReconciliationBlocks = Vec<qt_core::stats::StatsHandle<qt_core::stats::blocks::ReconciliationBlock>>;

pub(crate) fn reconciliation_blocks(region: &StatsRegion, plan: &Plan) -> ReconciliationBlocks {
    plan.accounts
        .iter()
        .map(|a| region.block_or_private(qt_core::stats::Owner::Main, &[("account", &a.name)]))
        .collect()
}

/// Stores what a reconciliation found: per account, the number of positions and balances that
/// differed (`reconciliation_difference`, 0 when they agree) and one more run.
pub(crate) fn publish_reconciliation(
    blocks: &ReconciliationBlocks,
    differing: impl Iterator<Item = qt_core::AccountId>,
) {
    let mut counts = vec![0u64; blocks.len()];
    for a in differing {
        if let Some(c) = counts.get_mut(a.index()) {
            *c += 1;
        }
    }
    for (block, n) in blocks.iter().zip(counts) {
        block.differences.set(n);
        block.runs.incr();
    }
}

/// Our changes against the venues' balance changes over a live run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveReconciliation {
    /// Each spot position against its base asset's balance change.
    pub positions: BalanceReconciliation,
    /// Every asset: base by position, quote by −buys + sells − fees, against the venue.
    pub balances: BalanceReconciliation,
}

/// Every account's balances (free + locked) on every live venue, queried on the calling thread;
/// an error comes with the index in `queries` of the venue that failed.
pub(crate) fn venue_snapshot(queries: &[(Gateway, GatewaySetup)]) -> Result<Vec<AssetAmount>, (usize, GatewayError)> {
    let mut out = Vec::new();
    for (v, (gateway, setup)) in queries.iter().enumerate() {
        for acct in (gateway.balances)(setup).map_err(|e| (v, e))? {
            out.extend(acct.balances.iter().map(|b| (acct.account, b.asset.clone(), b.total())));
        }
    }
    Ok(out)
}

/// The largest settle-coin difference, in units of 10⁻¹⁸, taken for the rounding of a linear
/// contract's realized PnL (ours against the venue's) rather than a difference.
const LINEAR_DUST_UNITS: u128 = 1000;

/// Drops from `balances` the settle-coin differences of `settle_coins` (account, coin) within
/// [`LINEAR_DUST_UNITS`], logging each.
fn drop_linear_dust(balances: &mut BalanceReconciliation, settle_coins: &[(qt_core::AccountId, &str)]) {
    balances.differences.retain(|d| {
        let dust = d.delta.units().unsigned_abs() <= LINEAR_DUST_UNITS
            && settle_coins.iter().any(|(a, coin)| *a == d.account && *coin == d.asset);
        if dust {
            log::info!(
                "reconcile balance: account {} {} differs by {} units of 1e-18 (linear PnL rounding)",
                d.account.0,
                d.asset,
                d.delta.units()
            );
        }
        !dust
    });
}

/// The settle-coin change of each linear position in `positions` (realized PnL less fees;
/// negated when `less`): what a linear contract moves at the venue. Funding is not booked by
/// the engine, so a run across a funding time shows it as a difference.
fn linear_cash(
    positions: &[(qt_core::AccountId, &qt_core::Instrument, qt_core::position::Position)],
    less: bool,
) -> Result<Vec<AssetAmount>, String> {
    let mut out = Vec::new();
    for (account, inst, pos) in
        positions.iter().filter(|(_, i, _)| i.kind() == qt_core::InstrumentKind::LinearPerpetual)
    {
        let cash = pos.realized().checked_sub(pos.fees()).map_err(|e| e.to_string())?;
        let cash = if less { cash.checked_neg().map_err(|e| e.to_string())? } else { cash };
        out.push((*account, inst.quote().to_string(), cash));
    }
    Ok(out)
}

/// One account's position in one instrument, as the engine holds it.
pub(crate) type OurPosition = (AccountId, InstrumentId, Position);

/// Compares the engine's positions with the venue's balance change from `start` to `end`:
/// ours over the run are `ours` less `start_positions` (those restored at its start).
pub(crate) fn compare(
    instruments: &InstrumentRegistry,
    ours: &[OurPosition],
    start_positions: &[OurPosition],
    start: &[AssetAmount],
    end: &[AssetAmount],
) -> Result<LiveReconciliation, String> {
    let venue = reconcile::balance_changes(start, end).map_err(|e| e.to_string())?;
    let ours: Vec<_> = ours.iter().filter_map(|(a, i, p)| instruments.get(*i).map(|inst| (*a, inst, *p))).collect();
    let before: Vec<_> =
        start_positions.iter().filter_map(|(a, i, p)| instruments.get(*i).map(|inst| (*a, inst, *p))).collect();
    let less_start = |mut end: Vec<AssetAmount>, base_only: bool| -> Result<Vec<AssetAmount>, String> {
        for (a, asset, n) in reconcile::spot_changes(&before, base_only).map_err(|e| e.to_string())? {
            end.push((a, asset, n.checked_neg().map_err(|e| e.to_string())?));
        }
        Ok(end)
    };
    let base_ours = less_start(reconcile::spot_changes(&ours, true).map_err(|e| e.to_string())?, true)?;
    let base_venue: Vec<_> =
        venue.iter().filter(|(a, asset, _)| base_ours.iter().any(|(b, x, _)| b == a && x == asset)).cloned().collect();
    let mut all_ours = less_start(reconcile::spot_changes(&ours, false).map_err(|e| e.to_string())?, false)?;
    // Linear contracts move only the settle coin: realized PnL less fees.
    all_ours.extend(linear_cash(&ours, false)?);
    all_ours.extend(linear_cash(&before, true)?);
    let positions = reconcile::balances(&base_ours, &base_venue).map_err(|e| e.to_string())?;
    let mut balances = reconcile::balances(&all_ours, &venue).map_err(|e| e.to_string())?;
    // A linear contract's realized PnL is the venue's average-entry arithmetic against ours,
    // each rounded at 18 decimals: on its settle coin, a difference within
    // LINEAR_DUST_UNITS units of 10⁻¹⁸ is that rounding, not money (fees and prices are ≥ 10⁻⁸).
    let settle_coins: Vec<(AccountId, &str)> = ours
        .iter()
        .filter(|(_, i, _)| i.kind() == qt_core::InstrumentKind::LinearPerpetual)
        .map(|(a, i, _)| (*a, i.quote()))
        .collect();
    drop_linear_dust(&mut balances, &settle_coins);
    Ok(LiveReconciliation { positions, balances })
}

/// Logs each difference of `rec` at warn, prefixed with `what` ("reconcile", "reconcile (periodic)").
pub(crate) fn log_differences(what: &str, rec: &LiveReconciliation, keep: impl Fn(&BalanceDiff) -> bool) {
    for (kind, r) in [("position", &rec.positions), ("balance", &rec.balances)] {
        for d in r.differences.iter().filter(|d| keep(d)) {
            log::warn!(
                "{what} {kind}: account {} asset {} ours {} venue {} delta {}",
                d.account.0,
                d.asset,
                d.ours.to_text(DecimalStyle::Trimmed),
                d.venue.to_text(DecimalStyle::Trimmed),
                d.delta.to_text(DecimalStyle::Trimmed)
            );
        }
    }
}

/// The end of a live run: the engine's final positions against the venues' balance change
/// over the run, each difference logged at warn.
pub(crate) fn reconcile_live(
    plan: &Plan,
    engine: &EngineReport,
    start_positions: &[OurPosition],
    start: Result<Vec<AssetAmount>, String>,
    end: Result<Vec<AssetAmount>, String>,
) -> Result<LiveReconciliation, String> {
    let ours: Vec<OurPosition> = engine.positions.iter().map(|p| (p.account, p.instrument, p.position)).collect();
    let rec = compare(&plan.instruments, &ours, start_positions, &start?, &end?)?;
    log_differences("reconcile", &rec, |_| true);
    Ok(rec)
}

#[cfg(test)]
mod linear_dust_tests {
    use super::*;
    use qt_core::{AccountId, Notional};
    use qt_risk::reconcile::BalanceDiff;

    #[test]
    fn only_a_linear_settle_coins_rounding_is_dropped() {
        let diff = |asset: &str, delta: &str| {
            let delta = Notional::parse(delta).unwrap();
            BalanceDiff { account: AccountId(0), asset: asset.into(), ours: Notional::ZERO, venue: delta, delta }
        };
        let mut rec = BalanceReconciliation {
            compared: 3,
            differences: vec![
                diff("USDT", "0.000000000000000001"),
                diff("BTC", "0.000000000000000001"),
                diff("USDC", "0.00000001"),
            ],
        };
        drop_linear_dust(&mut rec, &[(AccountId(0), "USDT"), (AccountId(0), "USDC")]);
        let left: Vec<&str> = rec.differences.iter().map(|d| d.asset.as_str()).collect();
        assert_eq!(left, ["BTC", "USDC"], "a spot asset is exact; 1e-8 is money");
        assert_eq!(rec.compared, 3);
    }
}
