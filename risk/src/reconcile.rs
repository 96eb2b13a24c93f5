//! Reconciliation: our positions and balances against the venue's own, reporting every difference.
//!
//! The core's positions are built from the execution reports it applied; the venue's ledger is
//! what the venue says it filled. A difference means a lost, duplicated or misapplied report —
//! or a position changed outside this engine — and must be looked at before trading on.
//! Quantities are exact; an entry missing on one side counts as flat there.
//!
//! Two comparisons: [`positions`] (signed quantity per instrument, against a ledger of fills such
//! as the simulated venue's) and [`balances`] (signed change per asset, against a venue's
//! balance change between two account snapshots, e.g. Binance's `GET /api/v3/account`).
//! [`spot_changes`] derives our side of [`balances`] from spot positions: the base asset moves
//! by the position, the quote asset by −entry notional + realized − fees (every buy's notional
//! paid, every sell's received, fees paid in quote); [`balance_changes`] derives the venue's.
//!
//! Thread: whoever reconciles (the main thread at the end of a run, or a supervisor); allocates.

use qt_core::position::Position;
use qt_core::{AccountId, Instrument, InstrumentId, InstrumentKind, MoneyError, Notional, Qty};

/// One (account, instrument) whose quantities disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionDiff {
    /// Account.
    pub account: AccountId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Our signed quantity.
    pub ours: Qty,
    /// The venue's signed quantity.
    pub venue: Qty,
}

/// What a reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// (account, instrument) pairs compared (present on either side).
    pub compared: usize,
    /// The differences, ordered by account then instrument.
    pub differences: Vec<PositionDiff>,
}

/// Compares `ours` with `venue`, both lists of signed (account, instrument, quantity).
pub fn positions(ours: &[(AccountId, InstrumentId, Qty)], venue: &[(AccountId, InstrumentId, Qty)]) -> Reconciliation {
    let mut keys: Vec<(AccountId, InstrumentId)> = ours.iter().chain(venue).map(|(a, i, _)| (*a, *i)).collect();
    keys.sort();
    keys.dedup();
    let sum = |list: &[(AccountId, InstrumentId, Qty)], key: (AccountId, InstrumentId)| {
        Qty::from_units(list.iter().filter(|(a, i, _)| (*a, *i) == key).map(|(_, _, q)| q.units()).sum())
    };
    let differences = keys
        .iter()
        .map(|&(account, instrument)| PositionDiff {
            account,
            instrument,
            ours: sum(ours, (account, instrument)),
            venue: sum(venue, (account, instrument)),
        })
        .filter(|d| d.ours != d.venue)
        .collect();
    Reconciliation { compared: keys.len(), differences }
}

/// One (account, asset) whose balance changes disagree. Amounts are exact ([`Notional`], 10^-18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceDiff {
    /// Account.
    pub account: AccountId,
    /// Asset, as the venue names it (`BTC`, `USDT`).
    pub asset: String,
    /// Our change.
    pub ours: Notional,
    /// The venue's change.
    pub venue: Notional,
    /// `venue − ours`.
    pub delta: Notional,
}

/// What a balance reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BalanceReconciliation {
    /// (account, asset) pairs compared (present on either side).
    pub compared: usize,
    /// The differences, ordered by account then asset.
    pub differences: Vec<BalanceDiff>,
}

/// A signed amount of one asset of one account.
pub type AssetAmount = (AccountId, String, Notional);

fn sorted_keys(lists: &[&[AssetAmount]]) -> Vec<(AccountId, String)> {
    let mut keys: Vec<(AccountId, String)> =
        lists.iter().flat_map(|l| l.iter()).map(|(a, asset, _)| (*a, asset.clone())).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn total(list: &[AssetAmount], account: AccountId, asset: &str) -> Result<Notional, MoneyError> {
    list.iter()
        .filter(|(a, s, _)| *a == account && s == asset)
        .try_fold(Notional::ZERO, |sum, (_, _, n)| sum.checked_add(*n))
}

/// Compares our balance changes with the venue's, both lists of (account, asset, signed change);
/// several entries of one (account, asset) add up.
pub fn balances(ours: &[AssetAmount], venue: &[AssetAmount]) -> Result<BalanceReconciliation, MoneyError> {
    let keys = sorted_keys(&[ours, venue]);
    let mut differences = Vec::new();
    for (account, asset) in &keys {
        let (o, v) = (total(ours, *account, asset)?, total(venue, *account, asset)?);
        if o != v {
            let delta = v.checked_sub(o)?;
            differences.push(BalanceDiff { account: *account, asset: asset.clone(), ours: o, venue: v, delta });
        }
    }
    Ok(BalanceReconciliation { compared: keys.len(), differences })
}

/// The venue's change per (account, asset): `end − start` (an asset missing on one side is 0).
pub fn balance_changes(start: &[AssetAmount], end: &[AssetAmount]) -> Result<Vec<AssetAmount>, MoneyError> {
    sorted_keys(&[start, end])
        .into_iter()
        .map(|(account, asset)| {
            let change = total(end, account, &asset)?.checked_sub(total(start, account, &asset)?)?;
            Ok((account, asset, change))
        })
        .collect()
}

/// Our change per (account, asset) from spot positions: the base asset by the position's
/// quantity, the quote asset by −entry notional + realized − fees. With `base_only`, only the
/// base assets (what a positions-vs-balances check compares). Non-spot instruments are skipped
/// (their balances move by margin and PnL, not by quantity).
pub fn spot_changes(
    positions: &[(AccountId, &Instrument, Position)],
    base_only: bool,
) -> Result<Vec<AssetAmount>, MoneyError> {
    let mut out = Vec::with_capacity(positions.len() * 2);
    for (account, inst, pos) in positions.iter().filter(|(_, i, _)| i.kind() == InstrumentKind::Spot) {
        let base = Notional::from_scaled(i128::from(pos.qty().units()), inst.qty_scale())?;
        out.push((*account, inst.base().to_string(), base));
        if !base_only {
            let cash = pos.realized().checked_sub(pos.entry_notional())?.checked_sub(pos.fees())?;
            out.push((*account, inst.quote().to_string(), cash));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentSpec, Price, Side, Venue};

    fn n(text: &str) -> Notional {
        Notional::parse(text).unwrap()
    }

    #[test]
    fn a_one_lot_balance_difference_is_reported_with_its_delta() {
        let (a, b) = (AccountId(0), AccountId(1));
        let ours = vec![(a, "BTC".to_string(), n("0.015")), (a, "USDT".to_string(), n("-975.3"))];
        let venue = vec![
            (a, "BTC".to_string(), n("0.01501")),
            (a, "USDT".to_string(), n("-975.3")),
            (b, "BNB".to_string(), n("0")),
        ];
        let r = balances(&ours, &venue).unwrap();
        assert_eq!(r.compared, 3);
        assert_eq!(
            r.differences,
            vec![BalanceDiff {
                account: a,
                asset: "BTC".into(),
                ours: n("0.015"),
                venue: n("0.01501"),
                delta: n("0.00001")
            }]
        );
        assert!(balances(&ours, &ours).unwrap().differences.is_empty());
    }

    #[test]
    fn venue_changes_are_end_minus_start_with_missing_as_zero() {
        let a = AccountId(0);
        let start = vec![(a, "BTC".to_string(), n("10")), (a, "USDT".to_string(), n("1000"))];
        let end = vec![(a, "BTC".to_string(), n("10.5")), (a, "ETH".to_string(), n("2"))];
        let c = balance_changes(&start, &end).unwrap();
        assert_eq!(
            c,
            vec![(a, "BTC".to_string(), n("0.5")), (a, "ETH".to_string(), n("2")), (a, "USDT".to_string(), n("-1000")),]
        );
    }

    #[test]
    fn spot_changes_follow_the_cash_of_every_fill() {
        let spec = InstrumentSpec::spot(Venue::Binance, "BTCUSDT", "BTC", "USDT", "0.01", "0.00001");
        let inst = Instrument::from_spec(InstrumentId(0), &spec).unwrap();
        let px = |t: &str| inst.parse_price(t).unwrap();
        let q = |t: &str| inst.parse_qty(t).unwrap();
        let mut pos = Position::default();
        // Buy 0.3 @ 100 (fee 0.03), sell 0.1 @ 110 (fee 0.011), buy 0.05 @ 90.01 (fee 0).
        pos.apply_fill(&inst, Side::Buy, px("100"), q("0.3"), n("0.03")).unwrap();
        pos.apply_fill(&inst, Side::Sell, px("110"), q("0.1"), n("0.011")).unwrap();
        pos.apply_fill(&inst, Side::Buy, Price::from_units(9001), q("0.05"), Notional::ZERO).unwrap();
        let a = AccountId(2);
        let c = spot_changes(&[(a, &inst, pos)], false).unwrap();
        // Cash: −30 − 0.03 + 11 − 0.011 − 4.5005 = −23.5415.
        assert_eq!(c, vec![(a, "BTC".to_string(), n("0.25")), (a, "USDT".to_string(), n("-23.5415"))]);
        assert_eq!(spot_changes(&[(a, &inst, pos)], true).unwrap(), vec![(a, "BTC".to_string(), n("0.25"))]);
    }

    #[test]
    fn reports_each_difference_and_treats_missing_as_flat() {
        let (a, b) = (AccountId(0), AccountId(1));
        let (x, y) = (InstrumentId(0), InstrumentId(1));
        let q = Qty::from_units;
        let ours = [(a, x, q(5)), (a, y, q(-2)), (b, x, q(0))];
        let venue = [(a, x, q(5)), (a, y, q(-3)), (b, y, q(1))];
        let r = positions(&ours, &venue);
        assert_eq!(r.compared, 4);
        assert_eq!(
            r.differences,
            vec![
                PositionDiff { account: a, instrument: y, ours: q(-2), venue: q(-3) },
                PositionDiff { account: b, instrument: y, ours: q(0), venue: q(1) },
            ]
        );
        assert!(positions(&ours[..1], &venue[..1]).differences.is_empty());
    }
}
