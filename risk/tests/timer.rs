//! The gate's timer tick: the global risk level is recomputed from the portfolio (a change is
//! counted and gauged as `risk.updated`), entering CRITICAL, crossing the drawdown trigger and a
//! total outage of an account's venue chain each trip the emergency stop, which cancels every
//! account's orders, flattens every position within the slippage cap and latches.

mod util;

use qt_core::{AccountId, Nanos, PreTradeCheck, RiskAction, RiskActions, Side};
use qt_risk::ess::{EssState, TriggerSource};
use qt_risk::global_level::{GlobalRisk, GlobalRiskConfig};
use qt_risk::{GateSettings, RiskGate};
use util::*;

fn gate_settings(settings: GateSettings) -> RiskGate {
    RiskGate::new(
        vec![spec("a", relaxed(), "10000"), spec("b", relaxed(), "10000")],
        settings,
        ess(),
        // Concentration out of the way (one bucket would read 100 %): leverage and drawdown drive.
        GlobalRisk::new(GlobalRiskConfig {
            concentration_min_gross: money("1000000000"),
            ..GlobalRiskConfig::default()
        })
        .unwrap(),
    )
    .unwrap()
}

fn tick(g: &mut RiskGate, w: &World, healthy: &[bool]) -> RiskActions {
    let mut out = RiskActions::with_capacity(32);
    g.on_timer(&w.view(), healthy, &mut out);
    out
}

fn flatten_orders(out: &RiskActions) -> Vec<qt_core::OrderRequest> {
    out.as_slice()
        .iter()
        .filter_map(|a| match a {
            RiskAction::Flatten(o) => Some(*o),
            RiskAction::CancelAll(_) => None,
        })
        .collect()
}

#[test]
fn leverage_to_critical_is_a_level_change_and_trips_the_stop() {
    let mut w = World::new();
    // Max drawdown trigger out of the way: only the level should trip it.
    let mut g = gate_settings(GateSettings { max_drawdown: rate("0.99"), ..GateSettings::default() });
    w.fill(0, BTC, Side::Buy, "10000", "2"); // 20 000 gross on 20 000 equity: 1x
    let out = tick(&mut g, &w, &[true]);
    assert!(out.is_empty(), "{:?} {:?} {:?}", out.as_slice(), g.ess().state(), g.global().signals());
    assert_eq!(g.counters().level.get(), 0);
    w.fill(1, BTC, Side::Buy, "10000", "5"); // 70 000 / 20 000 = 3.5x ≥ 3 → WARNING
    assert!(tick(&mut g, &w, &[true]).is_empty());
    assert_eq!((g.counters().level.get(), g.counters().level_changes.get()), (1, 1));
    assert!(!g.ess().is_halted());
    w.fill(1, ETH, Side::Sell, "1000", "100"); // +100 000 gross: 8.5x ≥ 8 → CRITICAL
    let out = tick(&mut g, &w, &[true]);
    assert_eq!((g.counters().level.get(), g.counters().level_changes.get()), (2, 2));
    assert!(matches!(g.ess().state(), EssState::Latched { source: TriggerSource::GlobalRiskCritical, .. }));
    assert_eq!(g.counters().triggers(TriggerSource::GlobalRiskCritical).get(), 1);
    let cancels: Vec<_> = out.as_slice().iter().filter(|a| matches!(a, RiskAction::CancelAll(_))).collect();
    assert_eq!(cancels, [&RiskAction::CancelAll(AccountId(0)), &RiskAction::CancelAll(AccountId(1))]);
    let orders = flatten_orders(&out);
    assert_eq!(orders.len(), 3, "{orders:?}");
    for o in &orders {
        assert!(o.reduce_only);
        let held = w.positions.get(o.account, o.instrument).unwrap().qty();
        assert_eq!(o.qty.units(), held.units().abs());
        assert_eq!(o.side, if held.is_positive() { Side::Sell } else { Side::Buy });
    }
    // Sell BTC at bid 9999.9 × (1 − 0.5 %) rounded up to the tick = 9949.9; buy ETH at
    // ask 1000.05 × 1.005 rounded down to 0.05 = 1005.05.
    let btc = orders.iter().find(|o| o.instrument == BTC).unwrap();
    assert_eq!(btc.price, w.px(BTC, "9950"));
    let eth = orders.iter().find(|o| o.instrument == ETH).unwrap();
    assert_eq!(eth.price, w.px(ETH, "1005.05"));
    // Halted: every order blocks; no new plan on the next tick, and no flatten re-sent before
    // the retry interval.
    let r = w.req(BTC, Side::Buy, "10000", "0.01");
    assert_eq!(g.check(&r, &w.view()), qt_core::RiskDecision::Block(qt_core::BlockReason::EmergencyStop));
    assert!(tick(&mut g, &w, &[true]).is_empty());
    w.now = Nanos(w.now.0 + GateSettings::default().flatten_retry.0);
    w.set_quote(BTC, "9999.9", "10000.1");
    w.set_quote(ETH, "999.95", "1000.05");
    assert_eq!(flatten_orders(&tick(&mut g, &w, &[true])).len(), 3, "flatten re-sent while positions remain");
}

#[test]
fn a_drawdown_breach_trips_the_stop_once() {
    let mut w = World::new();
    let mut g = gate_settings(GateSettings { max_drawdown: rate("0.04"), ..GateSettings::default() });
    w.fill(0, BTC, Side::Buy, "10000", "0.5");
    assert!(tick(&mut g, &w, &[true]).is_empty());
    // Mid 9 000: −500 on 20 000 = 2.5 % drawdown; then 8 000: 5 % ≥ 4 %.
    w.set_quote(BTC, "8999.9", "9000.1");
    assert!(tick(&mut g, &w, &[true]).is_empty());
    w.set_quote(BTC, "7999.9", "8000.1");
    let out = tick(&mut g, &w, &[true]);
    assert_eq!(g.counters().triggers(TriggerSource::DrawdownBreach).get(), 1);
    assert_eq!(flatten_orders(&out).len(), 1);
    tick(&mut g, &w, &[true]);
    assert_eq!(g.counters().triggers(TriggerSource::DrawdownBreach).get(), 1, "counted on the edge only");
}

#[test]
fn every_venue_of_a_chain_down_for_the_outage_time_trips_the_stop() {
    let mut w = World::new();
    let after = Nanos(10 * Nanos::SECOND.0);
    let mut g = gate_settings(GateSettings { outage_after: after, ..GateSettings::default() });
    let t0 = w.now;
    assert!(tick(&mut g, &w, &[false]).is_empty(), "the outage starts");
    w.now = Nanos(t0.0 + after.0 - 1);
    w.set_quote(BTC, "9999.9", "10000.1");
    w.set_quote(ETH, "999.95", "1000.05");
    assert!(tick(&mut g, &w, &[false]).is_empty(), "one ns short");
    w.now = Nanos(t0.0 + after.0);
    w.set_quote(BTC, "9999.9", "10000.1");
    w.set_quote(ETH, "999.95", "1000.05");
    tick(&mut g, &w, &[false]);
    assert!(matches!(g.ess().state(), EssState::Latched { source: TriggerSource::ExchangeOutage, .. }));
}
