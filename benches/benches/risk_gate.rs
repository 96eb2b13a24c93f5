//! One full `RiskGate::check` — every check of the order: emergency stop, global level,
//! the account's equity and exposure (one pass over its positions, marked to mid) against its
//! daily/weekly loss windows, the whitelist, book validity and mark age, grid and minimums, the
//! price band, leverage after the fill, single-trade risk, order notional, position cap, open
//! positions and the order-rate window — on a realistic request: BTCUSDT, a valid 256-deep book
//! from the simulated tape, an open long, `examples/sim.toml`'s account "alpha" (medium profile).
//!
//! The gate runs inline on the core thread for every order, between the strategy's signal and
//! the order ring, so its cost adds to tick-to-order latency one for one. Target (issue 5):
//! median under 100 ns. Two requests:
//! - `allow`: buy 0.02 at the best ask holding 0.05 long — every check runs and passes;
//! - `scale_down_position`: buy 0.02 holding 0.14 long — the 10 000 USDT position cap trips and
//!   the gate sizes the order down to fit (a division more): the longest allowing path.
//!
//! Domain time advances one nanosecond per check so the order-rate window (one per ns in the
//! reference gate) is exercised but never trips.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use qt_benches::{BOOK_DEPTH, Tape, btcusdt_registry, gate, qty};
use qt_core::orders::OrderTable;
use qt_core::position::PositionBook;
use qt_core::{
    AccountId, BlockReason, InstrumentId, MarketView, Nanos, Notional, OrderRequest, OrderType, PreTradeCheck,
    RiskDecision, Side, StrategyId, TimeInForce,
};
use std::hint::black_box;
use std::time::Duration;

fn risk_gate(c: &mut Criterion) {
    let tape = Tape::standard();
    let instruments = btcusdt_registry();
    let inst = instruments.get(InstrumentId(0)).expect("instrument 0").clone();
    let books = vec![tape.book(BOOK_DEPTH)];
    let (bid, ask) = (books[0].best_bid().expect("bid"), books[0].best_ask().expect("ask"));
    let orders = OrderTable::new(4096);
    let request = OrderRequest {
        account: AccountId(0),
        strategy: StrategyId(0),
        instrument: InstrumentId(0),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Ioc,
        price: ask.price,
        qty: qty("0.02"),
        reduce_only: false,
        stop_price: None,
    };
    let cases = [("allow", "0.05"), ("scale_down_position", "0.14")];

    let mut group = c.benchmark_group("risk_gate_check");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(50);
    for (name, held) in cases {
        let mut positions = PositionBook::new(1, 1);
        positions
            .get_mut(AccountId(0), InstrumentId(0))
            .expect("account 0, instrument 0")
            .apply_fill(&inst, Side::Buy, bid.price, qty(held), Notional::ZERO)
            .expect("the opening fill fits");
        let mut view = MarketView {
            instruments: &instruments,
            books: &books,
            positions: &positions,
            orders: &orders,
            now: books[0].last_exchange_ns(),
            local_now: Nanos(0),
            siblings: &qt_core::routing::NO_SIBLINGS,
        };
        let mut gate = gate();
        // The bench measures the path its name says, or fails at set-up.
        match (name, gate.check(&request, &view)) {
            ("allow", RiskDecision::Allow) => {}
            ("scale_down_position", RiskDecision::ScaleDown(q, BlockReason::MaxPosition)) if q < request.qty => {}
            (name, other) => panic!("{name}: unexpected decision {other:?}"),
        }
        group.bench_with_input(BenchmarkId::from_parameter(name), &request, |b, request| {
            b.iter(|| {
                view.now = Nanos(view.now.0 + 1);
                gate.check(black_box(request), black_box(&view))
            })
        });
        // Still on the same path after millions of checks (the rate window never tripped).
        view.now = Nanos(view.now.0 + 1);
        assert!(!matches!(gate.check(&request, &view), RiskDecision::Block(_)), "{name}: blocked after the run");
    }
    group.finish();
}

criterion_group!(benches, risk_gate);
criterion_main!(benches);
