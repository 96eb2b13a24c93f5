//! USD-M's user stream events other than orders: `ACCOUNT_UPDATE`. Its positions (`P`, reason
//! `ORDER` and others) keep a table of which contracts each account holds, its balances (`B`)
//! each asset's last wallet balance `wb`; a `FUNDING_FEE` update's balance change (`B[].bc`,
//! "balance change except PnL and commission", developers.binance.com USD-M "Event: Balance and
//! Position Update") is the funding paid or received — or, where `bc` is zero or absent (the docs
//! do not say in so many words that funding is in `bc`), the change of `wb` since the last
//! known wallet balance (the start query's, or the last event's) — booked as
//! [`ControlCommand::Funding`] on the contract it is for —
//! the position the update names (isolated margin), else the account's one open position in a
//! contract settled in that asset (cross margin: "ACCOUNT_UPDATE will be pushed with only the
//! balance B … without any position P message", USD-M docs, NOTES-orders.md §1b). Funding that
//! cannot be attributed to one contract (several open positions settled in the asset, none, or
//! a full control channel) is logged at error and counted
//! ([`GatewayStats::funding_unbooked`]): the venue's income history
//! (`GET /fapi/v1/income?incomeType=FUNDING_FEE`) would tell them apart; the simulator does not
//! serve it, so it is not used yet.
//!
//! Runs on the gateway thread (cold: a few events per funding interval and per fill);
//! allocates per event.

use crate::binance::dialect::EventSink;
use crate::kit::stats::GatewayStats;
use crossbeam_channel::{Sender, TrySendError};
use qt_core::engine::ControlCommand;
use qt_core::{AccountId, Instrument, InstrumentId, Notional};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Deserialize)]
struct AccountUpdate {
    a: Update,
}

#[derive(Debug, Deserialize)]
struct Update {
    /// The reason: ORDER, FUNDING_FEE, DEPOSIT, ...
    m: String,
    #[serde(rename = "B", default)]
    balances: Vec<BalanceChange>,
    #[serde(rename = "P", default)]
    positions: Vec<PositionUpdate>,
}

#[derive(Debug, Deserialize)]
struct BalanceChange {
    /// Asset.
    a: String,
    /// Wallet balance.
    #[serde(default)]
    wb: Option<String>,
    /// Balance change except PnL and commission.
    #[serde(default)]
    bc: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PositionUpdate {
    /// Symbol.
    s: String,
    /// Signed position amount.
    pa: String,
}

/// The funding booked or not booked by one event (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Funding {
    /// Sent to the core.
    Booked(AccountId, InstrumentId, Notional),
    /// Not attributable (or the channel was full).
    Unbooked,
}

/// The `ACCOUNT_UPDATE` sink of one USD-M gateway.
#[derive(Debug)]
pub(crate) struct AccountEvents {
    /// Our instruments by symbol: id and settlement (quote) asset.
    symbols: HashMap<String, (InstrumentId, String)>,
    /// Open positions (account, instrument).
    open: HashSet<(AccountId, InstrumentId)>,
    /// The last wallet balance of each (account, asset).
    wallets: HashMap<(AccountId, String), Notional>,
    /// Where funding goes (the engine's control channel); `None`: counted and logged only.
    funding: Option<Sender<ControlCommand>>,
}

impl AccountEvents {
    /// A sink for `instruments`, starting from the `open` positions (account, symbol) and the
    /// `wallets` (account, asset, wallet balance) the account query found.
    pub(crate) fn new(
        instruments: &[Instrument],
        open: impl IntoIterator<Item = (AccountId, String)>,
        wallets: impl IntoIterator<Item = (AccountId, String, Notional)>,
        funding: Option<Sender<ControlCommand>>,
    ) -> Self {
        let symbols: HashMap<String, (InstrumentId, String)> =
            instruments.iter().map(|i| (i.symbol().to_string(), (i.id(), i.quote().to_string()))).collect();
        let open = open.into_iter().filter_map(|(a, s)| symbols.get(&s).map(|(id, _)| (a, *id))).collect();
        let wallets = wallets.into_iter().map(|(a, asset, wb)| ((a, asset), wb)).collect();
        Self { symbols, open, wallets, funding }
    }

    /// Applies one `ACCOUNT_UPDATE` of `account`; returns the funding it carried.
    pub(crate) fn apply(&mut self, account: AccountId, text: &str) -> Result<Vec<Funding>, String> {
        let u: AccountUpdate = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut named = Vec::new();
        for p in &u.a.positions {
            let amount = Notional::parse(&p.pa).map_err(|e| format!("P.pa {:?}: {e}", p.pa))?;
            let Some((id, _)) = self.symbols.get(&p.s) else { continue };
            named.push(*id);
            if amount.is_zero() {
                self.open.remove(&(account, *id));
            } else {
                self.open.insert((account, *id));
            }
        }
        let mut changes = Vec::with_capacity(u.a.balances.len());
        for b in &u.a.balances {
            let bc = match b.bc.as_deref() {
                Some(t) => Notional::parse(t).map_err(|e| format!("B.bc {t:?}: {e}"))?,
                None => Notional::ZERO,
            };
            let key = (account, b.a.clone());
            let wb_change = match b.wb.as_deref() {
                Some(t) => {
                    let wb = Notional::parse(t).map_err(|e| format!("B.wb {t:?}: {e}"))?;
                    let before = self.wallets.insert(key, wb);
                    before.and_then(|w| wb.checked_sub(w).ok())
                }
                None => None,
            };
            changes.push((b, if bc.is_zero() { wb_change.unwrap_or(Notional::ZERO) } else { bc }));
        }
        if u.a.m != "FUNDING_FEE" {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (b, amount) in changes {
            if amount.is_zero() {
                continue;
            }
            let settled_in = |id: &InstrumentId| self.symbols.values().any(|(i, q)| i == id && *q == b.a);
            let candidates: Vec<InstrumentId> = if named.is_empty() {
                let mut v: Vec<InstrumentId> =
                    self.open.iter().filter(|(a, id)| *a == account && settled_in(id)).map(|(_, id)| *id).collect();
                v.sort_unstable_by_key(|id| id.0);
                v
            } else {
                named.iter().copied().filter(|id| settled_in(id)).collect()
            };
            out.push(self.book(account, &b.a, amount, &candidates));
        }
        Ok(out)
    }

    fn book(&self, account: AccountId, asset: &str, amount: Notional, candidates: &[InstrumentId]) -> Funding {
        let text = amount.to_text(qt_core::DecimalStyle::Trimmed);
        let [instrument] = candidates else {
            log::error!(
                "binance-usdm gateway: funding of {text} {asset} on account {account} not booked: {} open \
                 positions settled in {asset} could be its contract",
                candidates.len()
            );
            return Funding::Unbooked;
        };
        let Some(tx) = &self.funding else {
            log::warn!("binance-usdm gateway: funding of {text} {asset} on account {account} (no funding channel)");
            return Funding::Unbooked;
        };
        match tx.try_send(ControlCommand::Funding { account, instrument: *instrument, amount }) {
            Ok(()) => {
                log::info!("binance-usdm gateway: funding of {text} {asset} on account {account}, {instrument}");
                Funding::Booked(account, *instrument, amount)
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                log::error!(
                    "binance-usdm gateway: funding of {text} {asset} on account {account} not booked: the control channel is full or closed"
                );
                Funding::Unbooked
            }
        }
    }
}

impl EventSink for AccountEvents {
    fn on_event(&mut self, account: AccountId, e: &str, text: &str, stats: &mut GatewayStats) -> Result<(), String> {
        if e != "ACCOUNT_UPDATE" {
            // TRADE_LITE (fills, also in ORDER_TRADE_UPDATE), MARGIN_CALL, ...: not ours.
            return Ok(());
        }
        for f in self.apply(account, text)? {
            match f {
                Funding::Booked(..) => stats.funding_payments += 1,
                Funding::Unbooked => stats.funding_unbooked += 1,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qt_core::{InstrumentKind, InstrumentSpec, Venue};

    fn inst(id: u32, symbol: &str) -> Instrument {
        let mut spec = InstrumentSpec::spot(Venue::BinanceUsdm, symbol, "X", "USDT", "0.1", "0.001");
        spec.kind = InstrumentKind::LinearPerpetual;
        Instrument::from_spec(InstrumentId(id), &spec).unwrap()
    }

    fn order_update(symbol: &str, pa: &str) -> String {
        format!(
            r#"{{"e":"ACCOUNT_UPDATE","E":1,"T":1,"a":{{"m":"ORDER","B":[{{"a":"USDT","wb":"10","cw":"10","bc":"0"}}],"P":[{{"s":"{symbol}","pa":"{pa}","ep":"1","bep":"1","cr":"0","up":"0","mt":"cross","iw":"0","ps":"BOTH"}}]}}}}"#
        )
    }

    const FUNDING: &str = r#"{"e":"ACCOUNT_UPDATE","E":1,"T":1,"a":{"m":"FUNDING_FEE","B":[{"a":"USDT","wb":"9.5","cw":"9.5","bc":"-0.5"}],"P":[]}}"#;

    #[test]
    fn funding_goes_to_the_one_open_position_in_its_asset() {
        let (tx, rx) = crossbeam_channel::bounded(4);
        let a = AccountId(2);
        let mut s =
            AccountEvents::new(&[inst(0, "BTCUSDT"), inst(1, "ETHUSDT")], [(a, "BTCUSDT".into())], [], Some(tx));
        let minus_half = Notional::parse("-0.5").unwrap();
        assert_eq!(s.apply(a, FUNDING).unwrap(), [Funding::Booked(a, InstrumentId(0), minus_half)]);
        assert!(matches!(rx.try_recv(), Ok(ControlCommand::Funding { instrument: InstrumentId(0), .. })));
        // Two open positions: not attributable.
        s.apply(a, &order_update("ETHUSDT", "-0.002")).unwrap();
        assert_eq!(s.apply(a, FUNDING).unwrap(), [Funding::Unbooked]);
        // Back to one (BTC closed).
        s.apply(a, &order_update("BTCUSDT", "0.000")).unwrap();
        assert_eq!(s.apply(a, FUNDING).unwrap(), [Funding::Booked(a, InstrumentId(1), minus_half)]);
        // Another account has none.
        assert_eq!(s.apply(AccountId(3), FUNDING).unwrap(), [Funding::Unbooked]);
        // Not funding, or malformed.
        assert!(s.apply(a, &order_update("BTCUSDT", "1")).unwrap().is_empty());
        assert!(s.apply(a, r#"{"e":"ACCOUNT_UPDATE","a":{"m":"FUNDING_FEE","B":[{"a":"USDT","bc":"x"}]}}"#).is_err());
        assert!(s.apply(a, "{").is_err());
    }

    #[test]
    fn without_bc_the_wallet_balance_change_is_the_funding() {
        let (tx, _rx) = crossbeam_channel::bounded(4);
        let a = AccountId(0);
        let wallets = [(a, "USDT".to_string(), Notional::parse("10").unwrap())];
        let mut s = AccountEvents::new(&[inst(0, "BTCUSDT")], [(a, "BTCUSDT".into())], wallets, Some(tx));
        let no_bc = FUNDING.replace(r#""bc":"-0.5""#, r#""bc":"0""#);
        let paid = Notional::parse("-0.5").unwrap();
        assert_eq!(s.apply(a, &no_bc).unwrap(), [Funding::Booked(a, InstrumentId(0), paid)], "9.5 - 10");
        // The fill's update moved the wallet to 10 (its wb is remembered); funding takes it to 9.5.
        s.apply(a, &order_update("BTCUSDT", "1")).unwrap();
        assert_eq!(
            s.apply(a, &no_bc.replace(r#","bc":"0""#, "")).unwrap(),
            [Funding::Booked(a, InstrumentId(0), paid)]
        );
        // Unknown before, no bc: nothing to book.
        let other = AccountId(9);
        assert!(s.apply(other, &no_bc).unwrap().is_empty());
    }
}
