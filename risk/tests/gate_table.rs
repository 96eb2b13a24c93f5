//! Table-driven tests of every RiskGate check and every capital profile, at the boundaries:
//! exactly at a limit (allowed) and one tick or lot over (scaled down or blocked).

mod util;

use qt_core::{AccountId, BlockReason, InstrumentId, Nanos, PreTradeCheck, RiskDecision, Side, StrategyId};
use qt_risk::ess::TriggerSource;
use qt_risk::global_level::{GlobalRisk, GlobalRiskConfig, RiskInputs};
use qt_risk::profile::{CapitalProfile, OrderRate, ProfileLimits};
use qt_risk::{GateSettings, RiskGate};
use util::*;

use BlockReason as R;
use RiskDecision::{Allow, Block, ScaleDown};

/// A world set-up step before the check.
type Setup = fn(&mut World, &mut RiskGate);

fn none(_: &mut World, _: &mut RiskGate) {}

struct Case {
    name: &'static str,
    limits: ProfileLimits,
    equity: &'static str,
    setup: Setup,
    /// (instrument, side, price, qty)
    order: (InstrumentId, Side, &'static str, &'static str),
    want: fn(&World) -> RiskDecision,
}

fn with(f: impl FnOnce(&mut ProfileLimits)) -> ProfileLimits {
    let mut l = relaxed();
    f(&mut l);
    l
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let mut w = World::with(2, "0.002", "20");
        let mut g = gate(c.limits, c.equity);
        (c.setup)(&mut w, &mut g);
        let (i, side, price, qty) = c.order;
        let r = w.req(i, side, price, qty);
        let got = g.check(&r, &w.view());
        assert_eq!(got, (c.want)(&w), "{}", c.name);
    }
}

#[test]
fn each_check_at_its_boundary() {
    let btc = BTC;
    let cases = vec![
        Case {
            name: "plain allow",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Allow,
        },
        // 1. Emergency stop.
        Case {
            name: "ess halted blocks",
            limits: relaxed(),
            equity: "100000",
            setup: |w, g| {
                g.ess_mut().trigger(TriggerSource::Manual, w.now);
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::EmergencyStop),
        },
        // 3. Loss limits: 1 % of 100 000 = 1 000.
        Case {
            name: "daily loss exactly at the limit",
            limits: with(|l| l.daily_loss_limit = rate("0.01")),
            equity: "100000",
            setup: |w, _| {
                w.fill(0, BTC, Side::Buy, "10000", "1");
                w.fill(0, BTC, Side::Sell, "9000", "1");
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Allow,
        },
        Case {
            name: "daily loss one tick over",
            limits: with(|l| l.daily_loss_limit = rate("0.01")),
            equity: "100000",
            setup: |w, _| {
                w.fill(0, BTC, Side::Buy, "10000", "1");
                w.fill(0, BTC, Side::Sell, "8999.9", "1");
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::DailyLossLimit),
        },
        Case {
            name: "weekly loss one tick over",
            limits: with(|l| {
                l.daily_loss_limit = rate("0.02");
                l.weekly_loss_limit = rate("0.01");
            }),
            equity: "100000",
            setup: |w, _| {
                w.fill(0, BTC, Side::Buy, "10000", "1");
                w.fill(0, BTC, Side::Sell, "8999.9", "1");
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::WeeklyLossLimit),
        },
        Case {
            name: "a breached loss limit lets a reducing order through",
            limits: with(|l| l.daily_loss_limit = rate("0.01")),
            equity: "100000",
            setup: |w, _| {
                w.fill(0, BTC, Side::Buy, "10000", "2");
                w.fill(0, BTC, Side::Sell, "8999.9", "1");
            },
            order: (btc, Side::Sell, "10000", "1"),
            want: |_| Allow,
        },
        Case {
            name: "unrealized loss counts (marked to mid)",
            limits: with(|l| l.daily_loss_limit = rate("0.01")),
            equity: "100000",
            setup: |w, _| {
                w.fill(0, BTC, Side::Buy, "11000.1", "1");
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::DailyLossLimit),
        },
        // 5. Book, grid, minimum.
        Case {
            name: "invalid book",
            limits: relaxed(),
            equity: "100000",
            setup: |w, _| w.books[0].invalidate(),
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::BookInvalid),
        },
        Case {
            name: "mark exactly at the age limit",
            limits: relaxed(),
            equity: "100000",
            setup: |w, _| w.now = Nanos(w.now.0 + GateSettings::default().max_mark_age.0),
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Allow,
        },
        Case {
            name: "mark one ns too old",
            limits: relaxed(),
            equity: "100000",
            setup: |w, _| w.now = Nanos(w.now.0 + GateSettings::default().max_mark_age.0 + 1),
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::BookStale),
        },
        Case {
            name: "a book without venue time (Firi's polled depth) is judged by its arrival",
            limits: relaxed(),
            equity: "100000",
            setup: |w, _| {
                // Its last record carries no venue time; it arrived at the loop's time now.
                let px = w.px(BTC, "9999.9");
                let ev = qt_core::MarketEvent::new(
                    BTC,
                    qt_core::EventKind::Trade,
                    Side::Buy,
                    px,
                    qt_core::Qty::from_units(1),
                );
                w.books[0].apply(&qt_core::MarketEvent { exchange_ns: Nanos::ZERO, ..ev }).unwrap();
                w.now = Nanos(w.now.0 + 10 * GateSettings::default().max_mark_age.0);
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Allow,
        },
        Case {
            name: "stale mark of another open position blocks too",
            limits: relaxed(),
            equity: "100000",
            setup: |w, _| {
                w.fill(0, ETH, Side::Buy, "1000", "1");
                w.books[1].invalidate();
            },
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::BookInvalid),
        },
        Case {
            name: "price off tick",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (ETH, Side::Buy, "1000.01", "0.1"),
            want: |_| Block(R::OffGrid),
        },
        Case {
            name: "exactly the minimum quantity and notional",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.002"),
            want: |_| Allow,
        },
        Case {
            name: "one lot under the minimum quantity",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.001"),
            want: |_| Block(R::BelowMinimum),
        },
        Case {
            name: "one tick under the minimum notional",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "9999.9", "0.002"),
            want: |_| Block(R::BelowMinimum),
        },
        // 6. Price band 5 % of mid 10 000 = 500.
        Case {
            name: "buy exactly at the band",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10500", "0.01"),
            want: |_| Allow,
        },
        Case {
            name: "buy one tick over the band",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10500.1", "0.01"),
            want: |_| Block(R::PriceBand),
        },
        Case {
            name: "sell one tick under the band",
            limits: relaxed(),
            equity: "100000",
            setup: none,
            order: (btc, Side::Sell, "9499.9", "0.01"),
            want: |_| Block(R::PriceBand),
        },
        // 7. Leverage 2 × 1 000 = 2 000 = 0.2 BTC at mid.
        Case {
            name: "leverage exactly at the limit",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "1000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.2"),
            want: |_| Allow,
        },
        Case {
            name: "leverage one lot over scales down",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "1000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.201"),
            want: |w| ScaleDown(w.qty(BTC, "0.2"), R::Leverage),
        },
        Case {
            name: "leverage is measured from the capital the venues hold when below the configured equity",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "2000",
            setup: |_, g| assert!(g.set_capital(AccountId(0), money("1000"))),
            order: (btc, Side::Buy, "10000", "0.201"),
            want: |w| ScaleDown(w.qty(BTC, "0.2"), R::Leverage),
        },
        Case {
            name: "a capital of zero is not taken",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "2000",
            setup: |_, g| assert!(!g.set_capital(AccountId(0), money("0"))),
            order: (btc, Side::Buy, "10000", "0.4"),
            want: |_| Allow,
        },
        Case {
            name: "leverage counts other instruments",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "1000",
            setup: |w, _| w.fill(0, ETH, Side::Buy, "1000", "1"),
            order: (btc, Side::Buy, "10000", "0.2"),
            want: |w| ScaleDown(w.qty(BTC, "0.1"), R::Leverage),
        },
        Case {
            name: "no leverage room blocks",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "1000",
            setup: |w, _| w.fill(0, BTC, Side::Buy, "10000", "0.2"),
            order: (btc, Side::Buy, "10000", "0.002"),
            want: |_| Block(R::Leverage),
        },
        Case {
            name: "a reducing order passes a full leverage limit",
            limits: with(|l| l.max_leverage = rate("2")),
            equity: "1000",
            setup: |w, _| w.fill(0, BTC, Side::Buy, "10000", "0.2"),
            order: (btc, Side::Sell, "10000", "0.2"),
            want: |_| Allow,
        },
        // 8. Single-trade risk 1 % × 1 000 = 10; default stop 1 % → 0.1 per lot → 0.1 BTC.
        Case {
            name: "single-trade risk exactly at the limit",
            limits: with(|l| l.max_single_trade_risk = rate("0.01")),
            equity: "1000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.1"),
            want: |_| Allow,
        },
        Case {
            name: "single-trade risk one lot over scales down",
            limits: with(|l| l.max_single_trade_risk = rate("0.01")),
            equity: "1000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.101"),
            want: |w| ScaleDown(w.qty(BTC, "0.1"), R::SingleTradeRisk),
        },
        // 9. Order notional 1 000 = 0.1 BTC.
        Case {
            name: "order notional exactly at the limit",
            limits: with(|l| l.max_order_notional = money("1000")),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.1"),
            want: |_| Allow,
        },
        Case {
            name: "order notional one lot over scales down",
            limits: with(|l| l.max_order_notional = money("1000")),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.101"),
            want: |w| ScaleDown(w.qty(BTC, "0.1"), R::MaxOrderNotional),
        },
        Case {
            name: "order notional room below the venue minimum blocks",
            limits: with(|l| l.max_order_notional = money("15")),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::BelowMinimum),
        },
        Case {
            name: "no order notional room at all blocks with the limit",
            limits: with(|l| l.max_order_notional = money("9")),
            equity: "100000",
            setup: none,
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::MaxOrderNotional),
        },
        Case {
            name: "open positions exactly at the limit: a new one blocks",
            limits: with(|l| l.max_open_positions = 1),
            equity: "100000",
            setup: |w, _| w.fill(0, ETH, Side::Buy, "1000", "1"),
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Block(R::MaxOpenPositions),
        },
        Case {
            name: "open positions: adding to a held one passes",
            limits: with(|l| l.max_open_positions = 1),
            equity: "100000",
            setup: |w, _| w.fill(0, BTC, Side::Buy, "10000", "0.01"),
            order: (btc, Side::Buy, "10000", "0.01"),
            want: |_| Allow,
        },
    ];
    run(cases);
}

#[test]
fn unknown_instrument_account_and_strategy_block() {
    let w = World::new();
    let mut g = gate(relaxed(), "100000");
    let mut r = w.req(BTC, Side::Buy, "10000", "0.01");
    r.instrument = InstrumentId(7);
    assert_eq!(g.check(&r, &w.view()), Block(R::UnknownInstrument));
    let mut r = w.req(BTC, Side::Buy, "10000", "0.01");
    r.strategy = StrategyId(1);
    assert_eq!(g.check(&r, &w.view()), Block(R::StrategyNotAllowed));
    let mut r = w.req(BTC, Side::Buy, "10000", "0.01");
    r.account = AccountId(9);
    assert_eq!(g.check(&r, &w.view()), Block(R::StrategyNotAllowed));
}

#[test]
fn global_critical_blocks() {
    let w = World::new();
    let mut global = GlobalRisk::new(GlobalRiskConfig::default()).unwrap();
    global.update(Nanos(0), &RiskInputs { equity: money("1000"), positions: &[] });
    global.update(Nanos(1), &RiskInputs { equity: money("800"), positions: &[] });
    assert!(global.is_critical());
    let mut g = gate_with(vec![spec("a", relaxed(), "100000")], global);
    assert_eq!(g.check(&w.req(BTC, Side::Buy, "10000", "0.01"), &w.view()), Block(R::GlobalRiskCritical));
}

#[test]
fn stop_price_sets_the_single_trade_risk() {
    let w = World::new();
    let mut g = gate(with(|l| l.max_single_trade_risk = rate("0.01")), "1000");
    // Stop 50 below: 0.05 per lot, so 10 allows 0.2 exactly; 0.201 scales back to 0.2.
    let mut r = w.req(BTC, Side::Buy, "10000", "0.2");
    r.stop_price = Some(w.px(BTC, "9950"));
    assert_eq!(g.check(&r, &w.view()), Allow);
    r.qty = w.qty(BTC, "0.201");
    assert_eq!(g.check(&r, &w.view()), ScaleDown(w.qty(BTC, "0.2"), R::SingleTradeRisk));
    // A stop at the price is measured one tick away, not as zero risk.
    r.stop_price = Some(r.price);
    r.qty = w.qty(BTC, "1");
    assert_eq!(g.check(&r, &w.view()), Allow);
}

#[test]
fn position_cap_scales_and_counts_the_held_position() {
    let mut w = World::new();
    let mut s = spec("a", relaxed(), "100000");
    s.max_position_notional = Some(money("500"));
    let mut g = gate_with(vec![s], GlobalRisk::new(GlobalRiskConfig::default()).unwrap());
    w.fill(0, BTC, Side::Buy, "10000", "0.04");
    assert_eq!(
        g.check(&w.req(BTC, Side::Buy, "10000", "0.02"), &w.view()),
        ScaleDown(w.qty(BTC, "0.01"), R::MaxPosition)
    );
    assert_eq!(g.check(&w.req(BTC, Side::Sell, "10000", "0.09"), &w.view()), Allow, "flip to a short of 500");
    assert_eq!(
        g.check(&w.req(BTC, Side::Sell, "10000", "0.1"), &w.view()),
        ScaleDown(w.qty(BTC, "0.09"), R::MaxPosition)
    );
}

#[test]
fn the_position_cap_counts_the_canonical_instrument_at_every_venue() {
    let mut w = World::with_btc_sibling();
    let mut s = spec("a", relaxed(), "100000");
    s.max_position_notional = Some(money("500"));
    let mut g = gate_with(vec![s], GlobalRisk::new(GlobalRiskConfig::default()).unwrap());
    // 0.03 held at the primary, 0.01 at the sibling (after a failover): 0.04 of BTC/USDT.
    w.fill(0, BTC, Side::Buy, "10000", "0.03");
    w.fill(0, BTC_AT_BYBIT, Side::Buy, "10000", "0.01");
    assert_eq!(
        g.check(&w.req(BTC_AT_BYBIT, Side::Buy, "10000", "0.02"), &w.view()),
        ScaleDown(w.qty(BTC, "0.01"), R::MaxPosition)
    );
    assert_eq!(
        g.check(&w.req(BTC, Side::Buy, "10000", "0.02"), &w.view()),
        ScaleDown(w.qty(BTC, "0.01"), R::MaxPosition)
    );
}

#[test]
fn a_position_at_a_venue_whose_book_is_down_is_marked_at_a_sibling_so_the_others_trade() {
    let mut w = World::with_btc_sibling();
    let mut g = gate(relaxed(), "100000");
    // Held at the primary, whose feed then went down (its book invalid).
    w.fill(0, BTC, Side::Buy, "10000", "0.03");
    w.books[BTC.index()].clear();
    assert_eq!(g.check(&w.req(BTC_AT_BYBIT, Side::Buy, "10000", "0.01"), &w.view()), Allow);
    // With no valid listing anywhere the equity is unknowable, as before.
    w.books[BTC_AT_BYBIT.index()].clear();
    assert_eq!(g.check(&w.req(BTC_AT_BYBIT, Side::Buy, "10000", "0.01"), &w.view()), Block(R::BookInvalid));
}

#[test]
fn order_rate_exactly_at_the_limit_then_one_over() {
    let mut w = World::new();
    let mut g = gate(with(|l| l.max_order_rate = OrderRate { orders: 3, per: Nanos::SECOND }), "100000");
    let r = w.req(BTC, Side::Buy, "10000", "0.01");
    for _ in 0..3 {
        assert_eq!(g.check(&r, &w.view()), Allow);
    }
    assert_eq!(g.check(&r, &w.view()), Block(R::OrderRate));
    w.now = Nanos(w.now.0 + Nanos::SECOND.0 - 1);
    w.set_quote(BTC, "9999.9", "10000.1");
    assert_eq!(g.check(&r, &w.view()), Block(R::OrderRate), "one ns short of the window");
    w.now = Nanos(w.now.0 + 1);
    w.set_quote(BTC, "9999.9", "10000.1");
    assert_eq!(g.check(&r, &w.view()), Allow);
}

#[test]
fn one_accounts_breach_blocks_only_that_account() {
    let mut w = World::new();
    let mut g = gate(with(|l| l.daily_loss_limit = rate("0.01")), "100000");
    w.fill(0, BTC, Side::Buy, "10000", "1");
    w.fill(0, BTC, Side::Sell, "8000", "1");
    let a = w.req(BTC, Side::Buy, "10000", "0.01");
    let b = qt_core::OrderRequest { account: AccountId(1), ..a };
    assert_eq!(g.check(&a, &w.view()), Block(R::DailyLossLimit));
    assert_eq!(g.check(&b, &w.view()), Allow);
    // The emergency stop blocks every account.
    g.ess_mut().trigger(TriggerSource::Manual, w.now);
    assert_eq!(g.check(&b, &w.view()), Block(R::EmergencyStop));
}

/// Every profile's defaults, with all but one limit relaxed, at and one lot over that limit.
#[test]
fn each_profile_at_and_over_each_limit() {
    let w = World::new();
    for profile in CapitalProfile::ALL {
        let d = ProfileLimits::defaults(profile);
        // Leverage on 1 000 of equity: cap = leverage × 1 000 at mid 10 000.
        let lev = with(|l| l.max_leverage = d.max_leverage);
        let cap_qty = i128::from(d.max_leverage.units()) * 1000 / 10000; // in Rate units of BTC
        let lots = (cap_qty * 1000 / i128::from(qt_core::Rate::ONE.units())) as i64; // BTC lots of 0.001
        let qty = qt_core::Qty::from_units(lots * w.qty(BTC, "0.001").units());
        // Single-trade risk on 100 000: allowed = risk × 100 000, 0.1 per lot at a 1 % stop.
        let str_limits = with(|l| l.max_single_trade_risk = d.max_single_trade_risk);
        let risk_lots = (i128::from(d.max_single_trade_risk.units()) * 100_000 * 10
            / i128::from(qt_core::Rate::ONE.units())) as i64;
        let risk_qty = qt_core::Qty::from_units(risk_lots * w.qty(BTC, "0.001").units());
        // Order notional: max / 10 000 BTC.
        let on_limits = with(|l| l.max_order_notional = d.max_order_notional);
        let on_lots = (d.max_order_notional.units() / qt_core::Notional::from_whole(10).units()) as i64;
        let on_qty = qt_core::Qty::from_units(on_lots * w.qty(BTC, "0.001").units());
        for (limits, equity, at, reason) in [
            (lev, "1000", qty, R::Leverage),
            (str_limits, "100000", risk_qty, R::SingleTradeRisk),
            (on_limits, "100000", on_qty, R::MaxOrderNotional),
        ] {
            let mut g = gate(limits, equity);
            let mut r = w.req(BTC, Side::Buy, "10000", "0.001");
            r.qty = at;
            assert_eq!(g.check(&r, &w.view()), Allow, "{profile} {reason:?} at the limit");
            r.qty = qt_core::Qty::from_units(at.units() + w.qty(BTC, "0.001").units());
            assert_eq!(g.check(&r, &w.view()), ScaleDown(at, reason), "{profile} {reason:?} one lot over");
        }

        // Daily loss: exactly the limit is allowed, one tick more blocks.
        let loss_limits = with(|l| l.daily_loss_limit = d.daily_loss_limit);
        let loss = d.daily_loss_limit.units() as i128 * 100_000 / i128::from(qt_core::Rate::ONE.units()); // whole USDT
        for (exit, want) in
            [(format!("{}", 10_000 - loss), Allow), (format!("{}.9", 10_000 - loss - 1), Block(R::DailyLossLimit))]
        {
            let mut w = World::new();
            let mut g = gate(loss_limits, "100000");
            w.fill(0, BTC, Side::Buy, "10000", "1");
            w.fill(0, BTC, Side::Sell, &exit, "1");
            assert_eq!(g.check(&w.req(BTC, Side::Buy, "10000", "0.01"), &w.view()), want, "{profile} daily at {exit}");
        }

        // Open positions: exactly the limit held, a new one blocks; the rate: `orders` then one more.
        let mut g = gate(with(|l| l.max_order_rate = d.max_order_rate), "100000");
        let r = w.req(BTC, Side::Buy, "10000", "0.01");
        for k in 0..d.max_order_rate.orders {
            assert_eq!(g.check(&r, &w.view()), Allow, "{profile} order {k}");
        }
        assert_eq!(g.check(&r, &w.view()), Block(R::OrderRate), "{profile} one order over the rate");
    }
}

#[test]
fn settings_are_validated() {
    let bad = GateSettings { price_band: qt_core::Rate::ZERO, ..GateSettings::default() };
    let e = RiskGate::new(
        vec![spec("a", relaxed(), "1000")],
        bad,
        ess(),
        GlobalRisk::new(GlobalRiskConfig::default()).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("price_band"), "{e}");
    let e = RiskGate::new(
        vec![spec("a", relaxed(), "0")],
        GateSettings::default(),
        ess(),
        GlobalRisk::new(GlobalRiskConfig::default()).unwrap(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("accounts[0].starting_equity"), "{e}");
}
