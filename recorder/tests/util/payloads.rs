//! Arbitrary values of the journaled core records (the core types have no `Arbitrary`; these
//! build them through public fields and constructors), plus one fixed sample of each.

use proptest::prelude::*;
use qt_core::engine::ControlCommand;
use qt_core::journal::{JournalAttachment, JournalEvent, JournalRecord};
use qt_core::risk_api::{BlockReason, DecisionInputs, DecisionRecord, RiskDecision, RiskState};
use qt_core::strategy::StrategyAction;
use qt_core::{
    AccountId, BookError, EventKind, ExecutionReport, InlineText, InstrumentId, Liquidity, MarketEvent, Nanos,
    Notional, OrderCommand, OrderId, OrderRequest, OrderType, Price, Qty, RejectReason, ReportKind, RiskCommand,
    RiskReply, Side, StrategyId, TimeInForce, VenueId,
};
use qt_recorder::payload::core_record::CoreEntry;

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

/// Text as the core carries it: arbitrary UTF-8 (any scalar value but controls' categories
/// mixed in), truncated by `InlineText::new` at a character boundary to at most 200 bytes —
/// long inputs land on every length near the limit.
pub fn inline_text() -> impl Strategy<Value = InlineText> {
    prop_oneof!["\\PC{0,20}", "\\PC{40,220}", ".{190,210}", Just(String::new())].prop_map(|s| InlineText::new(&s))
}

pub fn risk_command() -> impl Strategy<Value = RiskCommand> {
    prop_oneof![
        inline_text().prop_map(|reason| RiskCommand::EssTrigger { reason }),
        (inline_text(), any::<i64>(), any::<[u8; 32]>(), any::<i64>()).prop_map(
            |(operator, timestamp_ms, mac, received_unix_ms)| RiskCommand::EssReset {
                operator,
                timestamp_ms,
                mac,
                received_unix_ms
            }
        ),
        Just(RiskCommand::Status),
    ]
}

pub fn control_command() -> impl Strategy<Value = ControlCommand> {
    prop_oneof![
        Just(ControlCommand::Shutdown),
        any::<u16>().prop_map(|a| ControlCommand::CancelAll(AccountId(a))),
        (any::<u64>(), risk_command()).prop_map(|(id, command)| ControlCommand::Risk { id, command }),
        (any::<u16>(), any::<bool>())
            .prop_map(|(v, healthy)| ControlCommand::VenueHealth { venue: VenueId(v), healthy }),
        (any::<u16>(), any::<u32>(), any::<i64>(), any::<i128>()).prop_map(|(a, i, q, e)| ControlCommand::Position {
            account: AccountId(a),
            instrument: InstrumentId(i),
            qty: Qty::from_units(q),
            entry_notional: Notional::from_units(e),
        }),
        (any::<u16>(), any::<i128>())
            .prop_map(|(a, e)| ControlCommand::Capital { account: AccountId(a), equity: Notional::from_units(e) }),
        (any::<u16>(), any::<u32>(), any::<i128>()).prop_map(|(a, i, amount)| ControlCommand::Funding {
            account: AccountId(a),
            instrument: InstrumentId(i),
            amount: Notional::from_units(amount),
        }),
        (any::<u64>(), strategy_swap()).prop_map(|(id, swap)| ControlCommand::StrategySwap { id, swap }),
    ]
}

/// A strategy swap: any strategy, version and policy, each parameter set or not.
fn strategy_swap() -> impl Strategy<Value = qt_core::strategy::swap::StrategySwap> {
    use qt_core::strategy::swap::{I32F32, ParamPatch, StrategySwap, SwapPolicy};
    let params = (
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(q, m, t, levels, c, r)| ParamPatch {
            qty: q.map(Qty::from_units),
            max_position: m.map(Qty::from_units),
            threshold: t.map(I32F32::from_bits),
            levels,
            cooldown: c.map(qt_core::Nanos),
            rest_for: r.map(qt_core::Nanos),
        });
    (any::<u16>(), any::<u32>(), 0..SwapPolicy::ALL.len(), params).prop_map(|(s, version, p, params)| StrategySwap {
        strategy: qt_core::StrategyId(s),
        version,
        policy: SwapPolicy::ALL[p],
        params,
    })
}

pub fn risk_reply() -> impl Strategy<Value = RiskReply> {
    (any::<bool>(), inline_text()).prop_map(|(ok, text)| RiskReply { ok, text })
}

/// A risk state the format can hold: the stop's code is one of its three, the rest any value.
pub fn risk_state() -> impl Strategy<Value = RiskState> {
    (0..=RiskState::LATCHED, any::<u8>(), any::<u8>(), any::<i64>())
        .prop_map(|(ess, ess_source, level, since)| RiskState { ess, ess_source, level, ess_since: Nanos(since) })
}

pub fn book_error() -> impl Strategy<Value = BookError> {
    prop::sample::select(vec![
        BookError::NonPositivePrice,
        BookError::NegativeQty,
        BookError::WrongInstrument,
        BookError::Crossed,
    ])
}

pub fn strategy_action() -> impl Strategy<Value = StrategyAction> {
    prop_oneof![
        order_request().prop_map(StrategyAction::Place),
        any::<u64>().prop_map(|id| StrategyAction::Cancel(OrderId(id))),
        (any::<u16>(), any::<u32>()).prop_map(|(a, i)| StrategyAction::CancelAll(AccountId(a), InstrumentId(i))),
    ]
}

/// A failover (a venue of 65535 is "none" on disk, so venues stay below it).
pub fn failover() -> impl Strategy<Value = qt_core::routing::Failover> {
    let venue = || proptest::option::of((0..u16::MAX).prop_map(qt_core::VenueId));
    (any::<u16>(), 0..u16::MAX, venue(), venue()).prop_map(|(a, p, from, to)| qt_core::routing::Failover {
        account: qt_core::AccountId(a),
        primary: qt_core::VenueId(p),
        from,
        to,
    })
}

/// One core journal record of any kind, with its attachment when it is a marker (a control
/// command or a control answer), at arbitrary times.
pub fn core_entry() -> impl Strategy<Value = CoreEntry> {
    let plain = prop_oneof![
        market_event().prop_map(JournalEvent::Market),
        (any::<u32>(), book_error())
            .prop_map(|(i, reason)| JournalEvent::BookRefused { instrument: InstrumentId(i), reason }),
        strategy_action().prop_map(JournalEvent::Intent),
        decision_record().prop_map(|d| JournalEvent::Decision(qt_core::journal::JournaledDecision::of(&d))),
        order_command().prop_map(JournalEvent::Command),
        execution_report().prop_map(JournalEvent::Report),
        execution_report().prop_map(JournalEvent::LocalRefusal),
        any::<u64>().prop_map(|venue_healthy| JournalEvent::Timer { venue_healthy }),
        risk_state().prop_map(JournalEvent::RiskState),
        Just(JournalEvent::Halt),
        failover().prop_map(JournalEvent::Failover),
    ]
    .prop_map(|event| (event, None));
    let attached = prop_oneof![
        control_command().prop_map(JournalAttachment::Control),
        (any::<u64>(), risk_reply()).prop_map(|(id, reply)| JournalAttachment::ControlAnswer { id, reply }),
    ]
    .prop_map(|a| (JournalEvent::Attachment, Some(a)));
    (prop_oneof![3 => plain, 1 => attached], any::<i64>(), any::<i64>()).prop_map(
        |((event, attachment), domain, mono)| CoreEntry {
            record: JournalRecord { domain_ns: Nanos(domain), mono_ns: Nanos(mono), event },
            attachment,
        },
    )
}
