//! The simulated venue's matching engine: `MatchingEngine::submit` of a marketable IOC client
//! order, and `SimExchange::step` (one background event of the seeded flow).
//!
//! The sim venue runs on its own thread in lockstep with the core, so its per-event cost decides
//! how fast a `pace = "max"` simulation or a backtest runs. Cases:
//! - `submit_ioc_at_touch`: buy 0.02 BTC IOC at the best ask, filled in full by the first
//!   resting order there. That order is large enough never to run out, so every iteration sees
//!   the same book: accept, one (partial-maker) fill, taker done, one level update.
//! - `submit_ioc_sweep_3_then_refill`: buy IOC through three one-order ask levels, then three
//!   background GTC sells put the levels back — the sweep cannot be timed apart from its
//!   refill, so this is the cost of the pair (4 submits, 3 fills, 6 level updates).
//! - `sim_step`: one background event (limit add, cancel or marketable order) on the warmed-up
//!   BTCUSDT flow of the standard tape.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qt_benches::{SEED, btcusdt, btcusdt_flow, fees, px, qty};
use qt_core::{AccountId, Nanos, OrderId, Price, Qty, Side, TimeInForce};
use qt_venue_sim::exchange::matching::{Fill, MatchSink, MatchingEngine, NewOrder, OrderDone, Owner};
use qt_venue_sim::exchange::sim_exchange::SimExchange;
use std::hint::black_box;
use std::time::Duration;

/// Counts callbacks, so the work they report cannot be optimised away.
#[derive(Debug, Default)]
struct CountingSink {
    fills: u64,
    filled: i64,
    done: u64,
    levels: u64,
}

impl MatchSink for CountingSink {
    fn on_fill(&mut self, fill: &Fill) {
        self.fills += 1;
        self.filled += fill.qty.units();
    }
    fn on_done(&mut self, _done: &OrderDone) {
        self.done += 1;
    }
    fn on_level(&mut self, _side: Side, _price: Price, _qty: Qty) {
        self.levels += 1;
    }
}

const NOW: Nanos = Nanos(1_767_225_600_000_000_000);

fn background(side: Side, price: Price, qty: Qty) -> NewOrder {
    NewOrder::limit(Owner::Background, side, TimeInForce::Gtc, price, qty)
}

fn client_ioc(side: Side, price: Price, qty: Qty) -> NewOrder {
    NewOrder::limit(Owner::Client { account: AccountId(1), order_id: OrderId(1) }, side, TimeInForce::Ioc, price, qty)
}

/// A BTCUSDT book with 20 bid levels below 65 000.00 and, from 65 000.01 up, `asks` ask levels,
/// two background orders each; the first order at the best ask is for `first_ask`.
fn seeded_engine(asks: i64, first_ask: Qty) -> MatchingEngine {
    let mut engine = MatchingEngine::new(btcusdt(), fees());
    let mut sink = CountingSink::default();
    let mid = px("65000.00").units();
    for k in 1..=20 {
        let bid = Price::from_units(mid - k);
        engine.submit(background(Side::Buy, bid, qty("0.05")), NOW, &mut sink).expect("valid bid");
        engine.submit(background(Side::Buy, bid, qty("0.03")), NOW, &mut sink).expect("valid bid");
    }
    for k in 1..=asks {
        let ask = Price::from_units(mid + k);
        let first = if k == 1 { first_ask } else { qty("0.05") };
        engine.submit(background(Side::Sell, ask, first), NOW, &mut sink).expect("valid ask");
        engine.submit(background(Side::Sell, ask, qty("0.03")), NOW, &mut sink).expect("valid ask");
    }
    engine
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("matching");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(50);
    group.throughput(Throughput::Elements(1));

    // 10^8 BTC at the touch: 5·10^9 fills of 0.02 before it runs out.
    let mut engine = seeded_engine(20, Qty::from_units(10_000_000_000_000));
    let (best_ask, _) = engine.best_ask().expect("asks were seeded");
    let order = client_ioc(Side::Buy, best_ask, qty("0.02"));
    let mut sink = CountingSink::default();
    engine.submit(order, NOW, &mut sink).expect("the IOC is valid");
    assert_eq!((sink.fills, sink.levels), (1, 1), "one fill, one level update");
    group.bench_function("submit_ioc_at_touch", |b| {
        b.iter(|| engine.submit(black_box(order), NOW, &mut sink));
    });
    assert_eq!(engine.best_ask().map(|(p, _)| p), Some(best_ask), "the touch never ran out");

    // Three ask levels of one 0.01 order each, swept by a 0.03 IOC and refilled.
    let mut engine = MatchingEngine::new(btcusdt(), fees());
    let mut sink = CountingSink::default();
    let mid = px("65000.00").units();
    engine.submit(background(Side::Buy, Price::from_units(mid - 1), qty("0.05")), NOW, &mut sink).expect("bid");
    let levels: Vec<Price> = (1..=3).map(|k| Price::from_units(mid + k)).collect();
    let lot = qty("0.01");
    let refill = |engine: &mut MatchingEngine, sink: &mut CountingSink| {
        for &price in &levels {
            let _ = engine.submit(background(Side::Sell, price, lot), NOW, sink);
        }
    };
    refill(&mut engine, &mut sink);
    let sweep = client_ioc(Side::Buy, levels[2], qty("0.03"));
    let fills_before = sink.fills;
    engine.submit(sweep, NOW, &mut sink).expect("the sweep is valid");
    assert_eq!(sink.fills - fills_before, 3, "the IOC takes all three levels");
    refill(&mut engine, &mut sink);
    group.bench_function("submit_ioc_sweep_3_then_refill", |b| {
        b.iter(|| {
            let r = engine.submit(black_box(sweep), NOW, &mut sink);
            refill(&mut engine, &mut sink);
            r
        });
    });
    assert_eq!(engine.level_count(Side::Sell), 3, "every sweep was refilled");

    let mut exchange = SimExchange::new(btcusdt(), fees(), btcusdt_flow(), SEED).expect("valid flow parameters");
    let mut sink = CountingSink::default();
    exchange.seed_book(&mut sink);
    for _ in 0..20_000 {
        exchange.step(&mut sink);
    }
    group.bench_function("sim_step", |b| b.iter(|| exchange.step(&mut sink)));
    group.finish();
    eprintln!("matching: last sink saw {} fills, {} orders done, {} level updates", sink.fills, sink.done, sink.levels);
}

criterion_group!(benches, matching);
criterion_main!(benches);
