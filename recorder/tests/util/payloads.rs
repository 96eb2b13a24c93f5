//! Arbitrary values of the journaled core records (the core types have no `Arbitrary`; these
//! build them through public fields and constructors), plus one fixed sample of each.

use proptest::prelude::*;
use qt_core::risk_api::{BlockReason, DecisionInputs, DecisionRecord, RiskDecision};
use qt_core::{
    AccountId, EventKind, ExecutionReport, InstrumentId, Liquidity, MarketEvent, Nanos, Notional, OrderCommand,
    OrderId, OrderRequest, OrderType, Price, Qty, RejectReason, ReportKind, Side, StrategyId, TimeInForce, VenueId,
};

pub fn side() -> impl Strategy<Value = Side> {
    prop::sample::select(vec![Side::Buy, Side::Sell])
}

pub fn market_event() -> impl Strategy<Value = MarketEvent> {
    let kind = prop::sample::select(vec![
        EventKind::BookSnapshot,
        EventKind::BookDelta,
        EventKind::Trade,
        EventKind::BestBidOffer,
    ]);
    (
        (any::<i64>(), any::<i64>(), any::<u64>(), any::<u64>()),
        (any::<i64>(), any::<i64>(), any::<u64>(), any::<u32>()),
        (kind, side(), any::<u16>()),
    )
        .prop_map(|((ex, local, seq, prev), (price, qty, reserved, inst), (kind, side, flags))| {
            let mut ev =
                MarketEvent::new(InstrumentId(inst), kind, side, Price::from_units(price), Qty::from_units(qty));
            ev.exchange_ns = Nanos(ex);
            ev.local_ns = Nanos(local);
            ev.seq = seq;
            ev.prev_seq = prev;
            ev.reserved = reserved;
            ev.flags = flags;
            ev
        })
}

pub fn order_request() -> impl Strategy<Value = OrderRequest> {
    let order_type = prop::sample::select(vec![OrderType::Limit, OrderType::Market]);
    let tif = prop::sample::select(vec![TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::PostOnly]);
    (
        (any::<u16>(), any::<u16>(), any::<u32>(), side(), order_type, tif),
        (any::<i64>(), any::<i64>(), any::<bool>(), proptest::option::of(any::<i64>())),
    )
        .prop_map(|((account, strategy, inst, side, order_type, tif), (price, qty, reduce_only, stop))| {
            OrderRequest {
                account: AccountId(account),
                strategy: StrategyId(strategy),
                instrument: InstrumentId(inst),
                side,
                order_type,
                tif,
                price: Price::from_units(price),
                qty: Qty::from_units(qty),
                reduce_only,
                stop_price: stop.map(Price::from_units),
            }
        })
}

pub fn order_command() -> impl Strategy<Value = OrderCommand> {
    prop_oneof![
        (any::<u64>(), order_request(), any::<i64>()).prop_map(|(id, request, sent)| OrderCommand::New {
            order_id: OrderId(id),
            request,
            sent_local_ns: Nanos(sent),
        }),
        (any::<u64>(), any::<u16>(), any::<u32>()).prop_map(|(id, a, i)| OrderCommand::Cancel {
            order_id: OrderId(id),
            account: AccountId(a),
            instrument: InstrumentId(i),
        }),
        (any::<u16>(), proptest::option::of(any::<u32>()))
            .prop_map(|(a, i)| OrderCommand::CancelAll { account: AccountId(a), instrument: i.map(InstrumentId) }),
    ]
}

pub fn report_kind() -> impl Strategy<Value = ReportKind> {
    let reason = prop::sample::select(qt_recorder::payload::report::REASONS.to_vec());
    prop_oneof![
        Just(ReportKind::Accepted),
        reason.clone().prop_map(ReportKind::Rejected),
        Just(ReportKind::Fill),
        Just(ReportKind::Canceled),
        reason.prop_map(ReportKind::CancelRejected),
    ]
}

pub fn execution_report() -> impl Strategy<Value = ExecutionReport> {
    let liquidity = prop::sample::select(vec![Liquidity::Maker, Liquidity::Taker]);
    (
        (any::<u64>(), any::<u64>(), any::<u16>(), any::<u16>(), any::<u32>(), report_kind(), side()),
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>(), any::<i128>(), liquidity, any::<i64>()),
    )
        .prop_map(
            |((id, venue_id, venue, account, inst, kind, side), (lp, lq, leaves, cum, fee, liquidity, ex))| {
                ExecutionReport {
                    order_id: OrderId(id),
                    venue_order_id: venue_id,
                    venue: VenueId(venue),
                    account: AccountId(account),
                    instrument: InstrumentId(inst),
                    kind,
                    side,
                    last_price: Price::from_units(lp),
                    last_qty: Qty::from_units(lq),
                    leaves_qty: Qty::from_units(leaves),
                    cum_qty: Qty::from_units(cum),
                    fee: Notional::from_units(fee),
                    liquidity,
                    exchange_ns: Nanos(ex),
                }
            },
        )
}

pub fn decision_record() -> impl Strategy<Value = DecisionRecord> {
    let reason = prop::sample::select(BlockReason::ALL.to_vec());
    let decision = prop_oneof![
        Just(RiskDecision::Allow),
        reason.clone().prop_map(RiskDecision::Block),
        (any::<i64>(), reason).prop_map(|(q, r)| RiskDecision::ScaleDown(Qty::from_units(q), r)),
    ];
    let inputs = (any::<i128>(), any::<i128>(), any::<i64>(), any::<i64>(), any::<u8>()).prop_map(
        |(equity, gross, mid, position, level)| DecisionInputs {
            equity: Notional::from_units(equity),
            gross: Notional::from_units(gross),
            mid: Price::from_units(mid),
            position: Qty::from_units(position),
            level,
        },
    );
    (order_request(), decision, inputs, any::<i64>(), any::<i64>()).prop_map(
        |(request, decision, inputs, ts, local)| {
            DecisionRecord::new(&request, decision, &inputs, Nanos(ts), Nanos(local))
        },
    )
}

pub fn sample_request() -> OrderRequest {
    OrderRequest {
        account: AccountId(3),
        strategy: StrategyId(9),
        instrument: InstrumentId(0x0102_0304),
        side: Side::Sell,
        order_type: OrderType::Limit,
        tif: TimeInForce::PostOnly,
        price: Price::from_units(-5),
        qty: Qty::from_units(700),
        reduce_only: true,
        stop_price: Some(Price::from_units(42)),
    }
}

pub fn sample_event() -> MarketEvent {
    let mut ev =
        MarketEvent::new(InstrumentId(7), EventKind::Trade, Side::Sell, Price::from_units(101), Qty::from_units(-2));
    ev.exchange_ns = Nanos(1);
    ev.local_ns = Nanos(-2);
    ev.seq = 3;
    ev.prev_seq = 4;
    ev.flags = MarketEvent::BATCH_END | MarketEvent::CLEAR;
    ev
}

pub fn sample_command() -> OrderCommand {
    OrderCommand::New { order_id: OrderId(77), request: sample_request(), sent_local_ns: Nanos(123) }
}

pub fn sample_report() -> ExecutionReport {
    let mut r = ExecutionReport::status(
        OrderId(77),
        &sample_request(),
        VenueId(2),
        ReportKind::Rejected(RejectReason::Other),
        Nanos(99),
    );
    r.fee = Notional::from_units(-(1i128 << 100));
    r.liquidity = Liquidity::Maker;
    r
}

pub fn sample_decision() -> DecisionRecord {
    let inputs = DecisionInputs { equity: Notional::from_units(1 << 70), level: 2, ..DecisionInputs::default() };
    DecisionRecord::new(
        &sample_request(),
        RiskDecision::ScaleDown(Qty::from_units(100), BlockReason::OffGrid),
        &inputs,
        Nanos(5),
        Nanos(6),
    )
}
