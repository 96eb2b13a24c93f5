//! Reconciliation: our positions against the venue's own ledger, reporting every difference.
//!
//! The core's positions are built from the execution reports it applied; the venue's ledger is
//! what the venue says it filled. A difference means a lost, duplicated or misapplied report —
//! or a position changed outside this engine — and must be looked at before trading on.
//! Quantities are exact; an entry missing on one side counts as flat there.
//!
//! Thread: whoever reconciles (the main thread at the end of a run, or a supervisor); allocates.

use qt_core::{AccountId, InstrumentId, Qty};

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

#[cfg(test)]
mod tests {
    use super::*;

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
