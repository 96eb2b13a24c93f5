//! `qt run` trading over real sockets against the venue simulator's Bybit v5 protocol, on
//! BTCUSDT spot and ETHUSDTPERP linear at once: TLS WebSocket market data per category, signed
//! v5 REST orders, order states and fills from the private stream — and the product's
//! reconciliation (wallet balance at start and stop) finds no difference, the linear side's
//! realized PnL and fees included.

mod util;
use util::binance::{figure_of, qt_run, reconcile_line};
use util::bybit::venue;

use qt_core::{AccountId, Notional, OrderType, Side, TimeInForce};
use qt_venue_sim::market::ClientOrderRequest;

const POSITIONS: &str = "positions vs venue base-asset balances";
const BALANCES: &str = "balances vs venue";

#[test]
fn trades_spot_and_linear_on_the_simulated_bybit_and_reconciles() {
    let (mut server, market, path) = venue("clean");
    let (mut cmd, _cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("live venues: bybit"), "{stdout}");
    assert!(figure_of(&stdout, "orders", "sent") > 0, "{stdout}");
    assert!(figure_of(&stdout, "orders", "fills") > 0, "{stdout}");
    assert_eq!(figure_of(&stdout, "orders", "rejects"), 0, "{stdout}");
    assert!(figure_of(&stdout, "gateway", "fills") > 0, "{stdout}");

    // Both instruments traded: the venue's spot BTC balance and linear position moved, and the
    // engine's positions say the same.
    let pos_of = |symbol: &str| {
        stdout
            .lines()
            .find(|l| l.contains(symbol) && l.contains(" pos "))
            .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
            .map(|t| Notional::parse(&t).unwrap())
            .unwrap_or_else(|| panic!("no position line for {symbol}: {stdout}"))
    };
    let btc = market.balances(AccountId(0)).into_iter().find(|b| b.asset == "BTC").unwrap();
    let btc_change = btc.free.checked_add(btc.locked).unwrap().checked_sub(Notional::parse("10").unwrap()).unwrap();
    assert_eq!(pos_of("BTCUSDT"), btc_change, "{stdout}");
    let linear = market.position(AccountId(0), 1);
    let inst = &market.instruments()[1];
    let venue_linear = Notional::from_scaled(i128::from(linear.qty), inst.qty_scale()).unwrap();
    assert_eq!(pos_of("ETHUSDTPERP"), venue_linear, "{stdout}");
    assert!(linear.fees > Notional::ZERO, "the linear strategy traded: {stdout}");
    // The product's reconciliation: the spot position against BTC, every asset's balance
    // (USDT carrying spot cash and linear PnL and fees) against the venue's wallet.
    assert_eq!(reconcile_line(&stdout, POSITIONS), (1, 0), "{stdout}");
    let (compared, differences) = reconcile_line(&stdout, BALANCES);
    assert!(compared >= 2 && differences == 0, "{stdout}");
    server.shutdown();
}

#[test]
fn a_linear_position_held_at_the_venue_before_the_start_is_the_engines_from_the_start() {
    let (mut server, market, path) = venue("held");
    // 0.05 ETHUSDTPERP bought outside the engine before it starts.
    let req = ClientOrderRequest {
        client_order_id: Some("before-the-engine-1".into()),
        side: Side::Buy,
        order_type: OrderType::Market,
        tif: TimeInForce::Ioc,
        price: None,
        qty: qt_core::Qty::from_units(50),
    };
    market.submit(AccountId(0), 1, req).unwrap();
    assert_eq!(market.position(AccountId(0), 1).qty, 50);
    let (mut cmd, cwd) = qt_run(&path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let taken = stdout.lines().find(|l| l.contains("ETHUSDTPERP at bybit:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(taken.contains(": 0.05 with entry notional") && taken.ends_with("(the engine had 0)"), "{taken}");
    // The engine's position at the end is the venue's, the held 0.05 included, and nothing differs.
    let linear = market.position(AccountId(0), 1);
    let inst = &market.instruments()[1];
    let venue_linear = Notional::from_scaled(i128::from(linear.qty), inst.qty_scale()).unwrap();
    let ours = stdout
        .lines()
        .find(|l| l.contains("ETHUSDTPERP") && l.contains(" pos "))
        .and_then(|l| l.split_once(" pos ").map(|x| x.1.split_whitespace().next().unwrap().to_string()))
        .map(|t| Notional::parse(&t).unwrap())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(ours, venue_linear, "{stdout}");
    let (_, differences) = reconcile_line(&stdout, BALANCES);
    assert_eq!(differences, 0, "{stdout}");
    server.shutdown();
    // Taken from the venue as a journaled input: the run replays identically.
    util::assert_replays(&cwd.0.join("journal"));
}
