//! Several live accounts at once (issue #19 item 9): `examples/multi-venue-venue-sim.toml` —
//! two accounts, each with its own keys on Binance spot, Bybit (spot and linear) and Binance
//! USD-M — in one `qt run` against one simulator serving the three protocols. Both accounts
//! fill on every venue, the summary has each account's PnL lines, and reconciliation finds no
//! difference during the run (checked every 2 s) or at its end.

mod util;
use util::binance::{figure_of, qt_run_for, reconcile_line};
use util::multi::{KEYS, venues};

use qt_core::AccountId;

const POSITIONS: &str = "positions vs venue base-asset balances";
const BALANCES: &str = "balances vs venue";

/// The summary's `reconcile during the run: every …, N checks, F failed, at most M differences
/// found twice in a row` figures.
fn periodic_line(stdout: &str) -> (u64, u64, u64) {
    let l = stdout.lines().find(|l| l.trim_start().starts_with("reconcile during the run")).unwrap();
    let number_before = |label: &str| -> u64 {
        let head = l.split_once(label).unwrap().0.trim_end();
        head.rsplit(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    (number_before(" checks"), number_before(" failed"), number_before(" differences"))
}

#[test]
fn two_accounts_trade_on_three_venues_at_once_and_reconcile() {
    let (mut server, market, path) = venues("clean", "2s");
    let (mut cmd, _cwd) = qt_run_for(&path, "7s");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("live venues: binance, bybit, binance_usdm"), "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");

    // Every venue filled for both accounts, seen at the venue: the simulator's account behind
    // each account's keys there traded each instrument the venue lists.
    for (account, venue, sim) in KEYS {
        let symbols: &[usize] = match venue {
            "binance" => &[0],
            "bybit" => &[0, 1],
            _ => &[1],
        };
        for symbol in symbols {
            let trades = market.account_trades(AccountId(sim as u16), *symbol);
            assert!(!trades.is_empty(), "{account} did not trade symbol {symbol} on {venue}: {stdout}");
        }
    }
    // Per-account PnL: a line per account and instrument, with its venue where the symbol is
    // listed on more than one, and a total per account.
    for account in ["alpha", "beta"] {
        for name in ["BTCUSDT@binance", "BTCUSDT@bybit", "ETHUSDTPERP@bybit", "ETHUSDTPERP@binance_usdm"] {
            let line = stdout.lines().find(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(account) && w.next() == Some(name)
            });
            let line = line.unwrap_or_else(|| panic!("no PnL line for {account} {name}: {stdout}"));
            let fills: u64 = line.rsplit_once(" fills ").unwrap().1.split_whitespace().next().unwrap().parse().unwrap();
            assert!(fills > 0, "{line}");
        }
        let total = format!("{account} total net PnL");
        assert!(
            stdout.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ").starts_with(&total)),
            "{stdout}"
        );
    }

    // Reconciled during the run (every 2 s: at least two checks, none failed, no difference
    // found twice in a row) and at the end, both accounts over their three venues.
    let (checks, failed, persistent) = periodic_line(&stdout);
    assert!(checks >= 2 && failed == 0 && persistent == 0, "{stdout}");
    assert_eq!(reconcile_line(&stdout, POSITIONS), (2, 0), "{stdout}");
    let (compared, differences) = reconcile_line(&stdout, BALANCES);
    assert!(compared >= 4 && differences == 0, "{stdout}");
    server.shutdown();
}
