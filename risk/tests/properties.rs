//! Property: for random sequences of quote moves, order requests and fills, no account ever
//! exceeds its leverage, order-notional, single-trade-risk or loss limits through an order the
//! gate allowed (or scaled down). Every allowed order fills in full at its limit price, the
//! harshest case for the limits; the invariants are checked with our own arithmetic on the
//! positions, not the gate's.

mod util;

use proptest::prelude::*;
use qt_core::{AccountId, InstrumentId, Notional, PreTradeCheck, Price, Qty, Rate, RiskDecision, Rounding, Side};
use qt_risk::profile::ProfileLimits;
use util::*;

#[derive(Debug, Clone)]
enum Op {
    /// Move an instrument's mid by `bps` basis points.
    Quote { eth: bool, bps: i64 },
    /// Ask for an order: account, instrument, side, price offset from mid in bps, lots.
    Order { account: u16, eth: bool, buy: bool, offset_bps: i64, lots: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), -300i64..=300).prop_map(|(eth, bps)| Op::Quote { eth, bps }),
        (0u16..2, any::<bool>(), any::<bool>(), -700i64..=700, 1i64..=3000)
            .prop_map(|(account, eth, buy, offset_bps, lots)| Op::Order { account, eth, buy, offset_bps, lots }),
    ]
}

fn limits() -> ProfileLimits {
    let mut l = relaxed();
    l.max_leverage = rate("3");
    l.max_single_trade_risk = rate("0.02");
    l.daily_loss_limit = rate("0.05");
    l.weekly_loss_limit = rate("0.08");
    l.max_open_positions = 2;
    l.max_order_notional = money("2000");
    l
}

/// Starting 10 000 + realized − fees + unrealized at mid, and gross notional at mid.
fn equity_and_gross(w: &World, account: AccountId) -> (i128, i128) {
    let mut equity = money("10000").units();
    let mut gross = 0;
    for inst in w.instruments.iter() {
        let p = w.positions.get(account, inst.id()).unwrap();
        let mid = w.books[inst.id().index()].mid().unwrap();
        equity += p.realized().units() - p.fees().units() + p.unrealized(inst, mid).unwrap().units();
        gross += inst.notional(mid, p.qty(), Rounding::Nearest).unwrap().units().abs();
    }
    (equity, gross)
}

fn mul_rate(v: i128, r: Rate) -> i128 {
    v * i128::from(r.units()) / i128::from(Rate::ONE.units())
}

/// Decisions seen: (allowed, scaled down, blocked).
type Seen = (u64, u64, u64);

fn run_ops(ops: Vec<Op>) -> Result<Seen, TestCaseError> {
    let mut seen = (0, 0, 0);
    {
        let mut w = World::new();
        let l = limits();
        let mut g = gate_with(
            vec![spec("a", l, "10000"), spec("b", l, "10000")],
            qt_risk::global_level::GlobalRisk::new(qt_risk::global_level::GlobalRiskConfig::default()).unwrap(),
        );
        for op in ops {
            match op {
                Op::Quote { eth, bps } => {
                    let i = if eth { ETH } else { BTC };
                    let inst = w.instruments.get(i).unwrap().clone();
                    let mid = w.books[i.index()].mid().unwrap().units();
                    let tick = inst.tick().units();
                    let new_mid = (mid + mid * bps / 10_000) / tick * tick;
                    let bid = inst.price_text(Price::from_units(new_mid - tick)).to_string();
                    let ask = inst.price_text(Price::from_units(new_mid + tick)).to_string();
                    w.set_quote(i, &bid, &ask);
                }
                Op::Order { account, eth, buy, offset_bps, lots } => {
                    let i: InstrumentId = if eth { ETH } else { BTC };
                    let inst = w.instruments.get(i).unwrap().clone();
                    let mid = w.books[i.index()].mid().unwrap().units();
                    let tick = inst.tick().units();
                    let price = Price::from_units((mid + mid * offset_bps / 10_000) / tick * tick);
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let mut r = w.req(i, side, "1", "0.001");
                    r.account = AccountId(account);
                    r.strategy = qt_core::StrategyId(0);
                    r.price = price;
                    r.qty = Qty::from_units(lots * inst.lot().units());
                    let qty = match g.check(&r, &w.view()) {
                        RiskDecision::Allow => {
                            seen.0 += 1;
                            r.qty
                        }
                        RiskDecision::ScaleDown(q, _) => {
                            seen.1 += 1;
                            prop_assert!(q < r.qty && q.is_positive() && inst.is_on_lot(q));
                            q
                        }
                        RiskDecision::Block(_) => {
                            seen.2 += 1;
                            continue;
                        }
                    };
                    let held = w.positions.get(r.account, i).unwrap().qty();
                    let reduces = held.units().signum() == -side.sign() && qty.units() <= held.units().abs();
                    let (equity, gross_before) = equity_and_gross(&w, r.account);
                    let notional = inst.notional(price, qty, Rounding::Up).unwrap();
                    prop_assert!(notional <= l.max_order_notional, "order notional {notional}");
                    if !reduces {
                        let floor = money("10000").units() - mul_rate(money("10000").units(), l.daily_loss_limit);
                        prop_assert!(
                            equity >= floor,
                            "an order adding risk was allowed below the daily loss floor: equity {equity}"
                        );
                        // Single-trade risk at the default 1 % stop.
                        let risk = mul_rate(notional.units(), Rate::from_bps(100));
                        prop_assert!(
                            risk <= mul_rate(equity, l.max_single_trade_risk),
                            "single-trade risk {risk} over {}",
                            mul_rate(equity, l.max_single_trade_risk)
                        );
                    }
                    let gross_after_mid = {
                        let mid_p = w.books[i.index()].mid().unwrap();
                        let after = Qty::from_units(held.units() + side.sign() * qty.units());
                        let before_i = inst.notional(mid_p, held, Rounding::Nearest).unwrap().units().abs();
                        let after_i = inst.notional(mid_p, after, Rounding::Nearest).unwrap().units().abs();
                        gross_before - before_i + after_i
                    };
                    if !reduces && gross_after_mid > gross_before {
                        prop_assert!(
                            gross_after_mid <= mul_rate(equity, l.max_leverage),
                            "leverage: gross {gross_after_mid} over {} × equity {equity}",
                            l.max_leverage
                        );
                    }
                    w.positions
                        .get_mut(r.account, i)
                        .unwrap()
                        .apply_fill(&inst, side, price, qty, Notional::ZERO)
                        .unwrap();
                }
            }
        }
    }
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn allowed_orders_never_breach_the_limits(ops in proptest::collection::vec(op(), 1..150)) {
        run_ops(ops)?;
    }
}

/// The property is not vacuous: over a fixed set of random sequences the gate allows, scales
/// down and blocks.
#[test]
fn random_sequences_exercise_every_decision() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut total = (0, 0, 0);
    for _ in 0..64 {
        let ops = proptest::collection::vec(op(), 100..150).new_tree(&mut runner).unwrap().current();
        let seen = run_ops(ops).unwrap();
        total = (total.0 + seen.0, total.1 + seen.1, total.2 + seen.2);
    }
    assert!(total.0 > 100 && total.1 > 100 && total.2 > 100, "allowed/scaled/blocked: {total:?}");
}
