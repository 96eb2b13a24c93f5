//! Tests of the strategy swap: the hand-over keeps a working order in flight for the new
//! version (no second order), cancel-replace places again only after the cancel is confirmed,
//! drop (no hand-over) doubles the order, a stale version is refused, and a control scheduled at
//! a domain time is carried out (and journaled) before the first record at that time.
use super::tests::{PriceCap, registry};
use super::*;
use crate::event::EventKind;
use crate::ids::StrategyId;
use crate::journal::JournalFullPolicy;
use crate::money::Qty;
use crate::order::{Side, TimeInForce};
use crate::queue::spsc;
use crate::strategy::imbalance::{ImbalanceParams, ImbalanceTaker};
use crate::strategy::swap::{ParamPatch, SwapPolicy};
use crate::time::SimClock;
use fixed::types::I32F32;

struct Rig {
    engine: Engine<PriceCap>,
    clock: SimClock,
    orders: Consumer<OrderCommand>,
    at: i64,
}

fn rig() -> Rig {
    let clock = SimClock::new(Nanos(1_000));
    let mut engine = Engine::new(EngineConfig::default(), registry(), PriceCap(Price::MAX), Arc::new(clock.clone()));
    let (orders_tx, orders) = spsc(16);
    let (_reports_tx, reports_rx) = spsc(16);
    engine.add_venue(orders_tx, reports_rx, &[InstrumentId(0)]);
    let params = ImbalanceParams {
        qty: Qty::from_units(1),
        max_position: Qty::from_units(10),
        threshold: I32F32::from_num(0.5),
        levels: 1,
        cooldown: Nanos(0),
    };
    let taker =
        ImbalanceTaker::new(StrategyId(0), AccountId(0), InstrumentId(0), params).with_resting(Nanos(1_000_000_000));
    engine.add_strategy(Box::new(taker));
    Rig { engine, clock, orders, at: 1_000 }
}

impl Rig {
    fn input(&mut self, event: JournalEvent) {
        self.at += 10;
        let record = JournalRecord { domain_ns: Nanos(self.at), mono_ns: Nanos(self.at), event };
        assert!(self.engine.replay_input(&self.clock, &record, None));
    }

    /// A book leaning to the bid (bid 990 × 9, ask 1000 × 1): the taker wants to buy.
    fn leaning_book(&mut self) {
        let level = |side, price, qty, flags| {
            let mut ev = MarketEvent::new(
                InstrumentId(0),
                EventKind::BookSnapshot,
                side,
                Price::from_units(price),
                Qty::from_units(qty),
            );
            ev.flags = flags;
            JournalEvent::Market(ev)
        };
        self.input(level(Side::Buy, 990, 9, MarketEvent::CLEAR));
        self.input(level(Side::Sell, 1000, 1, MarketEvent::BATCH_END));
    }

    fn sent(&mut self) -> Vec<OrderCommand> {
        std::iter::from_fn(|| self.orders.pop().ok()).collect()
    }

    fn report(&mut self, order_id: OrderId, request: &OrderRequest, kind: ReportKind) {
        let report = ExecutionReport::status(order_id, request, VenueId(0), kind, Nanos(self.at));
        self.input(JournalEvent::Report(report));
    }

    fn swap(&mut self, version: u32, policy: SwapPolicy, params: ParamPatch) {
        let swap = StrategySwap { strategy: StrategyId(0), version, policy, params };
        self.engine.control_now(ControlCommand::StrategySwap { id: 0, swap });
    }

    /// The taker's first order, placed and accepted: a resting buy at the bid.
    fn working_order(&mut self) -> (OrderId, OrderRequest) {
        self.leaning_book();
        let sent = self.sent();
        let [OrderCommand::New { order_id, request, .. }] = sent.as_slice() else { panic!("{sent:?}") };
        assert_eq!((request.tif, request.price), (TimeInForce::Gtc, Price::from_units(990)), "rests at the bid");
        self.report(*order_id, request, ReportKind::Accepted);
        (*order_id, *request)
    }
}

fn bigger() -> ParamPatch {
    ParamPatch { qty: Some(Qty::from_units(2)), ..ParamPatch::default() }
}

#[test]
fn the_hand_over_keeps_the_working_order_in_flight_and_its_reports_reach_the_new_version() {
    let mut r = rig();
    let (order_id, request) = r.working_order();
    r.swap(2, SwapPolicy::HandOver, bigger());
    r.leaning_book();
    assert!(r.sent().is_empty(), "the new version knows an order is working: no second order");
    // The adopted order's terminal report reaches the new version, which then trades at its size.
    r.report(order_id, &request, ReportKind::Canceled);
    r.leaning_book();
    let sent = r.sent();
    assert!(
        matches!(sent.as_slice(), [OrderCommand::New { request, .. }] if request.qty == Qty::from_units(2)),
        "{sent:?}"
    );
    let report = r.engine.report(Pinning::NotRequested, Nanos(0));
    let swap = report.swaps[0];
    assert_eq!((swap.versions, swap.working, swap.adopted, swap.cancels_sent), ((1, 2), 1, 1, 0));
    assert_eq!(swap.position.0, swap.position.1);
}

#[test]
fn without_a_hand_over_the_new_version_sends_a_second_order_for_the_same_intent() {
    let mut r = rig();
    r.working_order();
    r.swap(2, SwapPolicy::Drop, bigger());
    r.leaning_book();
    assert_eq!(r.sent().len(), 1, "drop: a fresh instance doubles the order (what the hand-over prevents)");
    assert_eq!(r.engine.core.orders.live(), 2);
}

#[test]
fn cancel_replace_cancels_first_and_places_only_after_the_cancel_is_confirmed() {
    let mut r = rig();
    let (order_id, request) = r.working_order();
    r.swap(2, SwapPolicy::CancelReplace, bigger());
    let sent = r.sent();
    assert!(matches!(sent.as_slice(), [OrderCommand::Cancel { order_id: id, .. }] if *id == order_id), "{sent:?}");
    r.leaning_book();
    assert!(r.sent().is_empty(), "nothing new before the cancel is confirmed");
    r.report(order_id, &request, ReportKind::Canceled);
    r.leaning_book();
    assert!(matches!(r.sent().as_slice(), [OrderCommand::New { .. }]));
    assert_eq!(r.engine.core.swaps[0].cancels_sent, 1);
}

#[test]
fn a_swap_to_a_version_not_later_or_with_bad_parameters_is_refused_and_changes_nothing() {
    let mut r = rig();
    let (tx, replies) = crossbeam_channel::bounded(4);
    r.engine.set_control_replies(tx);
    let (order_id, _) = r.working_order();
    let swap = |version, params| ControlCommand::StrategySwap {
        id: 9,
        swap: StrategySwap { strategy: StrategyId(0), version, policy: SwapPolicy::CancelReplace, params },
    };
    r.engine.control_now(swap(1, bigger()));
    let bad = ParamPatch { threshold: Some(I32F32::ONE), ..ParamPatch::default() };
    r.engine.control_now(swap(2, bad));
    let texts: Vec<String> = replies
        .try_iter()
        .map(|(id, reply)| (assert!(id == 9 && !reply.ok), reply.text.as_str().to_string()).1)
        .collect();
    assert!(texts[0].contains("runs version 1"), "{texts:?}");
    assert!(texts[1].contains("threshold"), "{texts:?}");
    assert!(r.sent().is_empty(), "a refused cancel-replace sends no cancel");
    assert!(r.engine.core.orders.get(order_id).is_some() && r.engine.core.swaps.is_empty());
    assert_eq!(r.engine.core.strategies[0].version(), 1);
}

#[test]
fn a_scheduled_swap_is_carried_out_and_journaled_before_the_first_record_at_its_time() {
    let mut r = rig();
    let (link, mut rings) = JournalLink::new(256, JournalFullPolicy::Backpressure);
    r.engine.set_journal(link);
    r.working_order();
    let swap = StrategySwap { strategy: StrategyId(0), version: 2, policy: SwapPolicy::HandOver, params: bigger() };
    r.engine.schedule_control(Nanos(r.at + 15), ControlCommand::StrategySwap { id: 0, swap });
    r.leaning_book(); // at + 10: not yet; at + 20: due
    assert_eq!(r.engine.core.strategies[0].version(), 2);
    let records: Vec<JournalRecord> = std::iter::from_fn(|| rings.records.pop().ok()).collect();
    let marker = records.iter().position(|x| x.event == JournalEvent::Attachment).unwrap();
    let JournalEvent::Market(before) = records[marker - 1].event else { panic!("{:?}", records[marker - 1]) };
    let JournalEvent::Market(after) = records[marker + 2].event else { panic!("{:?}", records[marker + 2]) };
    assert!(!before.is_batch_end() && after.is_batch_end(), "between the two records of the book");
    assert_eq!(records[marker].domain_ns, Nanos(r.at));
    let attachments: Vec<JournalAttachment> = std::iter::from_fn(|| rings.attachments.pop().ok()).collect();
    assert!(
        matches!(attachments[0], JournalAttachment::Control(ControlCommand::StrategySwap { swap: s, .. }) if s == swap)
    );
    assert!(matches!(attachments[1], JournalAttachment::ControlAnswer { reply, .. } if reply.ok));
}
